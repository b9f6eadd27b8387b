"""Hostile config files: each is refused with one clear ConfigError naming the file and the field,
never another exception, never a hang; and a mutated config that does load is one relops can run."""

from __future__ import annotations

import copy
import math
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from relops_client.breaker_machine import State

from relops.alerting.events import validate_alert_event
from relops.breakers.alerts import breaker_event
from relops.channels.registry import check_channel_config
from relops.config import RelopsConfig, load_config, parse_config
from relops.cron.alerts import failing_alert, missed_alert, overrun_alert
from relops.cron.schedule import overrun_deadline, start_deadline
from relops.errors import ConfigError
from relops.runtime import load_checked_config
from relops.slo.alerts import slo_alert, slo_resolved
from relops.slo.burnrate import Counts, evaluate_flow, objective_fraction
from relops.store.retention import horizons
from relops.store.windows import period_start
from tests.unit.test_slo_config import REPO_CONFIG, error_of

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
#: The shipped config, plus a tuned breaker so [breakers] is mutated too.
BASE: dict[str, Any] = {
    **tomllib.loads((ROOT / REPO_CONFIG).read_text()),
    "breakers": {"webhook": {"failure_threshold": 4, "open_s": 1.5, "failure_rate": 0.5}},
}
#: Arrays of tables, and how an error names one of their items ("flow 'checkout'", "flows[2]").
ITEM_KINDS = {"flows": "flow", "jobs": "job", "windows": "window"}
#: Free-form: a channel's own options are checked when the channel is built, not here.
FREE_FORM = {("alerts", "channels", "email", "sender")}
#: What a clear message never contains: Python's words, not the config file's.
PYTHON_ISMS = re.compile(
    r"Traceback|object has no attribute|NoneType|instance of|pydantic|For further information|<class|"
    r"set_int_max_str_digits|Value error,|\b(Value|Type|Key|Index|Attribute|Recursion|OS|Unicode\w*|Validation)Error\b"
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if at:
        yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*at, index))


PATHS = sorted(_paths(BASE), key=repr)


def get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


TABLE_PATHS = [(), *(p for p in PATHS if isinstance(get(BASE, p), dict))]


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def toml_value(value: Any) -> str:
    """TOML for a value; inline tables everywhere, so any nesting fits on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"TOML has no {type(value).__name__}")


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_string(key)} = {toml_value(value)}\n" for key, value in data.items())


def has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(has_none(v) for v in value)
    return value is None


def assert_clear(message: str, source: str) -> None:
    """Names the file on every line, speaks TOML rather than Python, and stays readable."""
    lines = message.split("\n")
    assert lines[0] == "invalid config:" or lines[0].startswith(f"{source}: "), message
    for line in lines[1:]:
        assert line.startswith((f"  {source}: ", "  ... and ")), message
    assert source in message
    assert len(message) < 6000 and all(len(line) < 600 for line in lines), message[:2000]
    assert not PYTHON_ISMS.search(message), message


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-config") / "relops.toml"


def load_or_error(data: dict[str, Any], path: Path) -> RelopsConfig | str:
    """Through a real file when TOML can say it (it has no null); else through parse_config."""
    if has_none(data):
        source = "none.toml"
        try:
            config = parse_config(data, source)
            check_channel_config(config.alerts, source)
            return config
        except ConfigError as exc:
            assert_clear(str(exc), source)
            return str(exc)
    path.write_text(toml_document(data), encoding="utf-8")
    assert tomllib.loads(path.read_text(encoding="utf-8")).keys() == data.keys()
    try:
        return load_checked_config(path)
    except ConfigError as exc:
        assert_clear(str(exc), str(path))
        return str(exc)


# -- what a loaded config must be ------------------------------------------------------------------


def assert_taken_as_written(raw: Any, loaded: Any, path: tuple[Any, ...] = ()) -> None:
    """Every value in the file arrives with its TOML type: no "300" for 300, no true for 1."""
    if path in FREE_FORM:
        return
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(loaded, dict):
                assert key in loaded, path
                assert_taken_as_written(value, loaded[key], (*path, key))
            elif key in type(loaded).model_fields:
                assert_taken_as_written(value, getattr(loaded, key), (*path, key))
            else:  # a channel's own option
                assert key in (loaded.model_extra or {}), (path, key)
        return
    if isinstance(raw, list):
        assert isinstance(loaded, tuple) and len(loaded) == len(raw), path
        for index, (value, item) in enumerate(zip(raw, loaded, strict=True)):
            assert_taken_as_written(value, item, (*path, index))
        return
    if raw is None or isinstance(raw, bool | str):
        assert type(loaded) is type(raw) and loaded == raw, (path, raw, loaded)
    elif isinstance(raw, int):
        assert type(loaded) in (int, float, Decimal) and loaded == raw, (path, raw, loaded)
    elif isinstance(raw, float):
        assert type(loaded) in (float, Decimal) and float(loaded) == raw, (path, raw, loaded)
    else:
        raise AssertionError(f"{path}: a {type(raw).__name__} loaded as {loaded!r}")


def assert_runnable(config: RelopsConfig) -> None:
    """What the workers compute from the config works, and every alert it can raise is accepted."""
    horizons(config, NOW)
    windows = config.evaluation.windows
    everything_bad = {w.name: Counts(bad=10**9) for w in windows}
    for flow in config.flows:
        period_start(NOW, flow)
        result = evaluate_flow(
            flow=flow.name,
            objective=objective_fraction(flow.objective_percent),
            period_s=flow.period_s,
            rules=windows,
            window_counts=everything_bad,
            confirm_counts=everything_bad,
            period_counts=Counts(bad=10**9),
            budget_min_events=config.evaluation.budget_min_events,
        )
        runbook = config.runbook_url(flow)
        validate_alert_event(slo_alert(result, flow, NOW, runbook).as_kwargs())
        validate_alert_event(slo_resolved(result, flow, NOW, runbook).as_kwargs())
    for job in config.jobs:
        runbook = config.runbook_url(job)
        start_deadline(job, NOW)
        overrun_deadline(job, NOW)
        validate_alert_event(missed_alert(job, NOW, NOW, runbook).as_kwargs())
        validate_alert_event(overrun_alert(job, "run-1", NOW, NOW, runbook).as_kwargs())
        validate_alert_event(failing_alert(job, 2, ["boom"], NOW, runbook).as_kwargs())
    for name in config.breaker_settings():
        for before, after in ((State.CLOSED, State.OPEN), (State.HALF_OPEN, State.CLOSED)):
            event = breaker_event(name, before, after, int(NOW.timestamp() * 1000))
            assert event is not None
            validate_alert_event(event.as_kwargs())


def assert_names(message: str, *words: str) -> None:
    assert any(word in message for word in words), (words, message)


def field_word(path: tuple[Any, ...]) -> str:
    """The word an error about ``path`` must contain: its key, or the kind of item it is in."""
    key = next(step for step in reversed(path) if isinstance(step, str))
    return ITEM_KINDS.get(key, key)


# -- hostile values --------------------------------------------------------------------------------

scalars = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "None",
            "null",
            "nan",
            "-1",
            "99.9",
            "true",
            "ü",
            "日本語",
            "a\nb",
            "\x00",
            "\x1b[31m",
            "\u202e",
            "\x85",
            "x" * 5000,
            "Europe/Riga",
            "America",
            "a" * 300,
            "0 9 * * 1",
            "*/0 * * * *",
            "* * * * * *",
            "login",
            "1h",
            "https://runbooks.example/x",
        ]
    ),
    st.text(max_size=40),
    st.sampled_from([0, -1, 1, 59, 60, 3600, 10**6, 2**31, 2**63, 2**64, 10**30, -(10**30)]),
    st.integers(min_value=-(10**6), max_value=10**7),
    st.sampled_from([0.0, -0.0, -1.5, 0.5, 1e-300, 1e308, 5e-324, math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([date(1979, 5, 27), datetime(1979, 5, 27, 7, 32, tzinfo=UTC), time(7, 32)]),
)
values = st.one_of(
    scalars,
    st.just(None),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    st.sampled_from([[], {}, [{}], [[]], {"name": "x"}]),
)


def near(original: Any) -> st.SearchStrategy[Any]:
    """Values near the original: of its own type (often valid), or it in another type ("300" for
    300, 300.0, true for 1), which lax parsing would take."""
    if isinstance(original, bool):
        return st.sampled_from([not original, str(original).lower(), int(original)])
    if isinstance(original, int | float):
        same_type = [original * 2, original + 1, original - 1, -original, original * 60, original / 2, 0]
        return st.sampled_from([*same_type, str(original), float(original), int(original), original == 1])
    if isinstance(original, str):
        return st.sampled_from([original + "x", original.upper(), original[:1], "é" + original, original * 3])
    if isinstance(original, list):
        return st.sampled_from([original[:1], original[::-1], original * 2])
    return st.just({})


unknown_keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).map(lambda k: "x_" + k)


@st.composite
def mutations(draw: st.DrawFn, kind: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    data = copy.deepcopy(BASE)
    if kind == "replace":
        path = draw(st.sampled_from(PATHS))
        get(data, path[:-1])[path[-1]] = draw(values | near(get(BASE, path)))
    elif kind == "delete":
        path = draw(st.sampled_from(PATHS))
        del get(data, path[:-1])[path[-1]]
    elif kind == "unknown_key":
        table = draw(st.sampled_from(TABLE_PATHS))
        key = draw(unknown_keys)
        get(data, table)[key] = draw(values)
        path = (*table, key)
    elif kind == "duplicate":
        path = draw(st.sampled_from([("flows",), ("jobs",), ("evaluation", "windows")]))
        items = get(data, path)
        items.append(copy.deepcopy(items[draw(st.integers(0, len(items) - 1))]))
        draw(st.randoms()).shuffle(items)
    else:
        path = draw(st.sampled_from([p for p in TABLE_PATHS if p]))
        table = get(data, path)
        get(data, path[:-1])[path[-1]] = draw(st.sampled_from([[], [table], [1, 2], [[table]]]))
    return path, data


# -- 1. any bytes -----------------------------------------------------------------------------------

toml_tokens = st.sampled_from(
    [
        "\n",
        " ",
        "=",
        ",",
        ".",
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        '"',
        "'",
        '"""',
        "\\",
        "\\u0000",
        "#",
        "\x00",
        "\x7f",
        "\r",
        "é",
        "0",
        "1",
        "-1",
        "1e999",
        "inf",
        "nan",
        "true",
        "1979-05-27",
        "07:32:00",
        "0x7f",
        "name",
        '"checkout"',
        "objective_percent",
        "99.9",
        "[[flows]]",
        "[[jobs]]",
        "[[evaluation.windows]]",
        "[evaluation]",
        "[alerts.channels.webhook]",
        "[breakers.x]",
        "window_s",
        "schedule",
        '"0 9 * * 1"',
        "timezone",
        "period_s",
        "flows",
        "evaluation",
    ]
)
documents = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8")),
    st.lists(toml_tokens, max_size=60).map(lambda ts: "".join(ts).encode("utf-8")),
    st.tuples(st.sampled_from(["[", "{a=", "[{a=", "a.", "[[a", "{"]), st.integers(1, 3000)).map(
        lambda t: (f"a = {t[0] * t[1]}" if t[0] != "a." else f"{t[0] * t[1]}b = 1").encode()
    ),
    st.integers(4290, 4400).map(lambda n: f"evaluation = {{chunk_size = {'9' * n}}}".encode()),
    st.integers(0, 200_000).map(lambda n: f'[[flows]]\nname = "{"x" * n}"\nobjective_percent = 99\n'.encode()),
)


@FUZZ
@given(documents)
def test_any_bytes_load_or_raise_a_clear_config_error(config_file, raw):
    config_file.write_bytes(raw)
    try:
        load_config(config_file)
    except ConfigError as exc:
        assert_clear(str(exc), str(config_file))


def test_deep_nesting_and_long_integers_are_config_errors(config_file):
    for raw, reason in (
        (
            b"a = " + b"[" * 5000 + b"]" * 5000,
            "nested too deeply",
        ),
        (
            b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000,
            "nested too deeply",
        ),
        (
            b"[evaluation]\nchunk_size = 1" + b"0" * 5000,
            "too many digits",
        ),
        (b"a = '\xff'", "not UTF-8"),
    ):
        config_file.write_bytes(raw)
        with pytest.raises(ConfigError, match=reason) as caught:
            load_config(config_file)
        assert_clear(str(caught.value), str(config_file))


# -- 2. a valid config, mutated --------------------------------------------------------------------


def test_the_unmutated_base_loads_and_runs(config_file):
    loaded = load_or_error(BASE, config_file)
    assert isinstance(loaded, RelopsConfig), loaded
    assert_taken_as_written(BASE, loaded)
    assert_runnable(loaded)


@pytest.mark.parametrize("kind", ["replace", "delete", "unknown_key", "duplicate", "table_to_array"])
@settings(FUZZ, max_examples=80)
@given(st.data())
def test_a_mutated_config_loads_as_written_or_names_the_field(config_file, kind, draws):
    path, data = draws.draw(mutations(kind), label="path, data")
    outcome = load_or_error(data, config_file)
    event(f"{kind}: {'loads' if isinstance(outcome, RelopsConfig) else 'refused'}")
    if isinstance(outcome, RelopsConfig):
        assert kind not in ("duplicate", "table_to_array"), f"{kind} {path} loaded"
        assert kind != "unknown_key" or path[0] == "breakers", f"unknown key {path} loaded"
        assert_taken_as_written(data, outcome)
        assert_runnable(outcome)
    elif kind == "duplicate":
        assert_names(outcome, "more than once", "must be unique")
    elif kind == "unknown_key":
        assert_names(outcome, path[-1])
    else:
        assert_names(outcome, field_word(path))


FOUND_BY_FUZZING = {
    "huge-int-name": ({"flows": [{"name": 0x1F << 20000, "objective_percent": 99}]}, ["flows[0] field 'name'"]),
    "zone-is-a-directory": (
        {"jobs": [{"name": "j", "period_s": 600, "timezone": "America"}]},
        ["job 'j'", "unknown time zone"],
    ),
    "zone-name-too-long": (
        {"jobs": [{"name": "j", "period_s": 600, "timezone": "a" * 300}]},
        ["job 'j'", "unknown time zone"],
    ),
    "nul-in-window-name": (
        {
            "evaluation": {
                "windows": [{"name": "a\x00", "window_s": 60, "min_events": 1, "warning_burn": 1, "critical_burn": 2}]
            }
        },
        ["field 'name'", "printable"],
    ),
    "huge-window": (
        {
            "evaluation": {
                "windows": [
                    {"name": "w", "window_s": 60 * 10**30, "min_events": 1, "warning_burn": 1, "critical_burn": 2}
                ]
            }
        },
        ["window 'w' field 'window_s'"],
    ),
    "bool-for-int": ({"evaluation": {"chunk_size": True}}, ["evaluation.chunk_size", "valid integer"]),
    "string-for-int": ({"evaluation": {"tick_interval_s": "300"}}, ["evaluation.tick_interval_s", "valid integer"]),
    "string-for-decimal": (
        {"flows": [{"name": "a", "objective_percent": "99.9"}]},
        ["flow 'a' field 'objective_percent'", "number"],
    ),
    "infinite-float": (
        {"breakers": {"x": {"latency_threshold_ms": math.inf}}},
        ["breakers.x.latency_threshold_ms", "finite"],
    ),
    "control-char-breaker-name": ({"breakers": {"a\nb": {}}}, ["breakers", "printable"]),
    "unknown-channel-key": (
        {"alerts": {"channels": {"webhook": {"max_atempts": 3}}}},
        ["alerts.channels.webhook", "'max_atempts'"],
    ),
    "runbook-url-too-long": (
        {
            "runbook_base_url": "https://x/" + "r" * 3000,
            "flows": [{"name": "a", "objective_percent": 99.9, "runbook": "a.md"}],
        },
        ["flow 'a'", "runbook URL"],
    ),
    "nul-in-runbook": (
        {"flows": [{"name": "a", "objective_percent": 99.9, "runbook": "a\x00b"}]},
        ["flow 'a' field 'runbook'", "control"],
    ),
    "section-as-array": ({"evaluation": []}, ["field 'evaluation'", "must be a table"]),
    "array-as-table": ({"flows": {"name": "a"}}, ["field 'flows'", "must be an array"]),
    "hundred-problems": ({f"x{i}": i for i in range(100)}, ["... and 80 more problems"]),
}


@pytest.mark.parametrize(("data", "words"), FOUND_BY_FUZZING.values(), ids=FOUND_BY_FUZZING.keys())
def test_found_by_fuzzing(data, words):
    """Each of these loaded, crashed or said something unclear before it was fixed."""
    message = error_of(data)
    assert_clear(message, "bad.toml")
    for word in words:
        assert word in message, message


# -- 3. files that are not there, not files, or not readable ---------------------------------------


def test_missing_file_directory_fifo_and_symlink_loop(tmp_path):
    fifo, loop = tmp_path / "fifo.toml", tmp_path / "loop.toml"
    os.mkfifo(fifo)
    loop.symlink_to(loop)
    cases = {
        tmp_path / "nope.toml": "not found",
        tmp_path: "is a directory",
        fifo: "not a regular file",
        loop: "cannot read config file",
        tmp_path / "nope.toml" / "x": "not found",
    }
    for path, reason in cases.items():
        with pytest.raises(ConfigError, match=reason) as caught:
            load_config(path)
        assert_clear(str(caught.value), str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_an_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text("")
    path.chmod(0)
    with pytest.raises(ConfigError, match="Permission denied"):
        load_config(path)


# -- 4. relops config check --------------------------------------------------------------------------


def test_config_check_exits_non_zero_with_the_error_on_stderr_and_no_traceback(tmp_path):
    files = {
        "deep.toml": "a = " + "[" * 3000 + "]" * 3000,
        "syntax.toml": "[flows\n",
        "field.toml": '[[flows]]\nname = "pay"\nobjective_percent = 120\n',
        "zone.toml": '[[jobs]]\nname = "j"\nperiod_s = 600\ntimezone = "America"\n',
        "good.toml": '[[flows]]\nname = "pay"\nobjective_percent = 99.9\n',
    }
    runs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, text in files.items():
            path = tmp_path / name
            path.write_text(text)
            runs[name] = subprocess.Popen(  # all at once: each one is a second of imports
                [sys.executable, "-c", "from relops.cli import main; main()", "config", "check"],
                cwd=ROOT,
                env={**os.environ, "RELOPS_CONFIG": str(path)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for name, run in runs.items():
            out, err = run.communicate(timeout=120)
            if name == "good.toml":
                assert run.returncode == 0 and "1 flows" in out, (out, err)
                continue
            assert run.returncode == 2, (name, run.returncode, out, err)
            assert err.startswith("relops: ") and str(tmp_path / name) in err, err
            assert not PYTHON_ISMS.search(err), err
    finally:
        for run in runs.values():
            run.kill()  # only a hung one is still running
            run.wait()
