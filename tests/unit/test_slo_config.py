"""The config file: valid examples load, every mistake names the file, the item and the field."""

import pytest

from relops.channels.registry import check_channel_config
from relops.config import load_config, parse_config
from relops.errors import ConfigError

REPO_CONFIG = "relops.toml"


def test_the_shipped_config_loads():
    from pathlib import Path

    config = load_config(Path(__file__).parents[2] / REPO_CONFIG)
    assert {f.name for f in config.flows} >= {"checkout", "login", "signup"}
    assert [w.name for w in config.evaluation.windows] == ["1h", "6h", "24h"]


def test_defaults_are_the_design_windows():
    config = parse_config({"flows": [{"name": "a", "objective_percent": 99.5}]}, "t.toml")
    assert [(w.window_s, w.min_events, w.warning_burn, w.critical_burn) for w in config.evaluation.windows] == [
        (3600, 3, 7, 14),
        (21600, 10, 3, 6),
        (86400, 30, 1.5, 3),
    ]
    assert config.flows[0].period_days == 30


def error_of(data) -> str:
    """The message a process would stop with: the file's own rules, then its channel sections."""
    with pytest.raises(ConfigError) as caught:
        check_channel_config(parse_config(data, "bad.toml").alerts, "bad.toml")
    return str(caught.value)


def test_bad_objective_names_file_flow_and_field():
    message = error_of({"flows": [{"name": "ok", "objective_percent": 99}, {"name": "pay", "objective_percent": 120}]})
    assert "bad.toml" in message
    assert "flow 'pay'" in message
    assert "objective_percent" in message


def test_unknown_field_is_refused():
    message = error_of({"flows": [{"name": "pay", "objective_percent": 99, "objectiv": 3}]})
    assert "flow 'pay'" in message and "objectiv" in message


def test_duplicate_flow_names_are_refused():
    assert "more than once" in error_of(
        {"flows": [{"name": "a", "objective_percent": 99}, {"name": "a", "objective_percent": 99}]}
    )


def test_threshold_that_can_never_fire_is_refused_with_the_reason():
    message = error_of({"flows": [{"name": "batch", "objective_percent": 90}]})
    assert "flow 'batch'" in message
    assert "critical_burn=14 can never fire" in message
    assert "cannot exceed 10x" in message


def test_bad_window_names_the_window():
    message = error_of(
        {
            "evaluation": {
                "windows": [{"name": "1h", "window_s": 3600, "min_events": 3, "warning_burn": 14, "critical_burn": 7}]
            },
            "flows": [],
        }
    )
    assert "window '1h'" in message and "below warning_burn" in message


def test_control_characters_in_names_are_refused():
    assert "printable" in error_of({"flows": [{"name": "a\nb", "objective_percent": 99}]})


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[flows\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_group_max_full_is_bounded_by_what_a_message_can_show():
    assert "alerts.group_max_full" in error_of({"alerts": {"group_max_full": 17}})
    assert parse_config({"alerts": {"group_max_full": 16}}, "ok.toml").alerts.group_max_full == 16


def test_email_may_not_wait_longer_than_resend_remembers_an_idempotency_key():
    message = error_of({"alerts": {"channels": {"email": {"max_outage_wait_s": 86400}}}})
    assert "alerts.channels.email: max_outage_wait_s=86400 is longer than Resend keeps an idempotency key" in message
    ok = parse_config({"alerts": {"channels": {"email": {"max_outage_wait_s": 82800}}}}, "ok.toml")
    check_channel_config(ok.alerts, "ok.toml")
    webhook = parse_config({"alerts": {"channels": {"webhook": {"max_outage_wait_s": 86400}}}}, "ok.toml")
    check_channel_config(webhook.alerts, "ok.toml")  # a webhook has no idempotency key to outlive
