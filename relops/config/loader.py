"""Reading the config file: bytes to TOML to a validated RelopsConfig, every failure a ConfigError
that names the file, the item and the field."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from relops.config.messages import problem_list, quoted, validation_problems
from relops.config.models import RelopsConfig, unreachable_thresholds
from relops.errors import ConfigError


def parse_config(data: dict[str, Any], source: str) -> RelopsConfig:
    """Validate already-parsed TOML data; errors name the source, the item and the field.

    Channel names and options are not checked here: relops.channels.registry.check_channel_config
    does that where channels are assembled (relops.wiring) and in `relops config check`."""
    try:
        config = RelopsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problem_list(validation_problems(exc.errors(), data, source))) from None
    problems = [
        f"{source}: flow {quoted(flow.name)} field 'objective_percent': {problem}"
        for flow in config.flows
        for problem in unreachable_thresholds(flow, config.evaluation.windows)
    ]
    if problems:
        raise ConfigError(problem_list(problems))
    return config


def load_config(path: Path) -> RelopsConfig:
    """Read and validate the config file at ``path``."""
    try:
        mode = path.stat().st_mode
        # Reading a FIFO or /dev/zero would block or never end.
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ConfigError(f"{path}: cannot read config file: it is {what}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set RELOPS_CONFIG to its path)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (invalid byte at offset {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValueError:
        # tomllib lets int()'s limit on decimal digits (4300) through as a bare ValueError.
        raise ConfigError(f"{path}: not valid TOML: an integer has too many digits") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigError(f"{path}: not valid TOML: arrays or inline tables are nested too deeply") from None
    return parse_config(data, str(path))
