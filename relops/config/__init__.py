"""The config file (RELOPS_CONFIG, TOML): flows, evaluation rules, alert channels, cron jobs and
breakers. ``models`` defines every key, ``loader`` reads and validates a file, ``messages`` turns
validation errors into lines that name the file, the item and the field."""

from relops.config.loader import load_config, parse_config
from relops.config.messages import quoted
from relops.config.models import (
    DEFAULT_BREAKERS,
    DEFAULT_WINDOWS,
    MAX_URL_CHARS,
    AlertsConfig,
    BreakerSettings,
    ChannelSettings,
    CronConfig,
    EvaluationConfig,
    FlowConfig,
    JobConfig,
    MaintenanceConfig,
    MetricsConfig,
    RelopsConfig,
    SilencesConfig,
    WindowRule,
    unreachable_thresholds,
)

__all__ = [
    "DEFAULT_BREAKERS",
    "DEFAULT_WINDOWS",
    "MAX_URL_CHARS",
    "AlertsConfig",
    "BreakerSettings",
    "ChannelSettings",
    "CronConfig",
    "EvaluationConfig",
    "FlowConfig",
    "JobConfig",
    "MaintenanceConfig",
    "MetricsConfig",
    "RelopsConfig",
    "SilencesConfig",
    "WindowRule",
    "load_config",
    "parse_config",
    "quoted",
    "unreachable_thresholds",
]
