"""Label matchers against hostile patterns and text: regular expressions run on RE2, so a pattern that
makes a backtracking engine take exponential time matches in linear time, and what only
backtracking can do (backreferences, lookaround) is refused with the reason, for silences and for
the config's routes and maintenance windows alike.

The timeout marks are hang guards, not timing assertions: with a backtracking engine these tests
would not finish at all."""

from datetime import UTC, datetime, timedelta

import pytest

from relops.config import parse_config
from relops.errors import ConfigError, InputRejected
from relops.labels import label_problem, validate_labels
from relops.matchers import MAX_MATCHER_CHARS, parse_matcher, stored_matcher
from relops.silencing.silences import Silence, check_new_silence

#: From the review: 0.58 s for a 56-character value with Python's re, four times more per 2 more characters.
EXPLOIT = "(.*-)*eu-west"
#: The longest label value relops accepts, built to make a backtracking engine try every split.
HOSTILE_VALUE = "a-" * 128


@pytest.mark.timeout(10)
def test_the_backtracking_exploit_matches_the_longest_label_value_at_once():
    matches, refuses = parse_matcher(f'flow=~"{EXPLOIT}"'), parse_matcher(f'flow!~"{EXPLOIT}"')
    for _ in range(100):  # as many alerts, each fully matched
        assert not matches.matches({"flow": HOSTILE_VALUE})
        assert refuses.matches({"flow": HOSTILE_VALUE})
    assert matches.matches({"flow": "shop-eu-west"}) and matches.matches({"flow": "a-b-eu-west"})
    assert not matches.matches({"flow": "eu-west-1"})  # anchored at both ends, as in Alertmanager


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a+)\1", "backreferences are not supported"),
        (r"(?=checkout).*", "lookahead and lookbehind are not supported"),
        (r"(?!test-).*", "lookahead and lookbehind are not supported"),
        (r".*(?<=-eu)", "lookahead and lookbehind are not supported"),
        (r"a{1001}", "invalid repetition size"),
        (r"(unclosed", "missing )"),
    ],
)
def test_what_only_backtracking_can_do_is_refused_saying_why(pattern, why):
    with pytest.raises(InputRejected) as refused:
        parse_matcher(f'flow=~"{pattern}"', "--match")
    assert refused.value.field == "--match"
    assert "is not a regular expression relops accepts" in refused.value.reason
    assert why in refused.value.reason and "RE2 syntax, as Alertmanager's" in refused.value.reason


def test_re2_reads_what_alertmanager_users_write():
    assert parse_matcher(r'job=~"nightly-\d+"').matches({"job": "nightly-42"})
    assert parse_matcher('flow=~"(?i)CHECK.*"').matches({"flow": "checkout"})
    assert parse_matcher('flow=~"check(?P<rest>.*)"').matches({"flow": "checkout"})
    assert parse_matcher('team!~".+"').matches({})  # a missing label has the empty value
    assert parse_matcher('flow=~"zürich|örebro"').matches({"flow": "örebro"})


@pytest.mark.timeout(10)
def test_matcher_text_longer_than_any_matcher_is_refused_unread():
    # The old syntax pattern backtracked quadratically on spaces inside a long value: minutes for this.
    text = "flow=" + " " * 200_000 + "x" + " " * 200_000 + "y"
    with pytest.raises(InputRejected, match=f"longer than {MAX_MATCHER_CHARS}"):
        parse_matcher(text)
    assert parse_matcher('  flow  =~  "check.*"  ').value == "check.*"
    assert parse_matcher("flow=a b").value == "a b"


def test_a_stored_pattern_re2_refuses_matches_nothing_and_still_says_what_it_was():
    # A silence stored before relops used RE2: it must mute nothing rather than fail every alert.
    matcher = stored_matcher({"name": "flow", "op": "!~", "value": "(?!x).*"})
    assert matcher.refused and "lookahead" in matcher.refused
    assert not matcher.matches({"flow": "checkout"}) and not matcher.matches({})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    silence = Silence("silence:7", (matcher,), start, start + timedelta(hours=1), "old")
    assert not silence.matches({"flow": "checkout"}) and silence.describe() == 'flow!~"(?!x).*"'


def test_a_silence_with_more_matchers_than_allowed_is_refused():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec = {
        "match_all": False,
        "starts_at": now,
        "ends_at": now + timedelta(hours=1),
        "reason": "deploy",
        "now": now,
        "max_duration": timedelta(days=7),
        "known_labels": {"flow"},
        "max_matchers": 3,
    }
    check_new_silence([parse_matcher("flow=~a.*")] * 3, **spec)
    with pytest.raises(InputRejected, match="4 given, more than the 3 a silence may have") as refused:
        check_new_silence([parse_matcher("flow=~a.*")] * 4, **spec)
    assert refused.value.field == "matchers"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        (
            {"route": {"routes": [{"matchers": ['flow=~"(?!check).*"'], "receivers": ["webhook"]}]}},
            "lookahead and lookbehind are not supported",
        ),
        (
            {
                "maintenance": [
                    {"name": "db", "schedule": "0 3 * * *", "duration_s": 3600, "matchers": [r'job=~"(a)\1"']}
                ]
            },
            "backreferences are not supported",
        ),
    ],
)
def test_the_config_takes_the_same_matchers_and_refuses_the_same_patterns(section, words):
    flows = [{"name": "checkout", "objective_percent": 99.9}]
    with pytest.raises(ConfigError, match=words):
        parse_config({"flows": flows, **section}, "t.toml")


def test_the_silence_limits_are_config_keys_with_defaults():
    flows = [{"name": "checkout", "objective_percent": 99.9}]
    assert parse_config({"flows": flows}, "t.toml").silences.max_silences == 1000
    assert parse_config({"flows": flows}, "t.toml").silences.max_matchers == 20
    tight = parse_config({"flows": flows, "silences": {"max_silences": 5, "max_matchers": 2}}, "t.toml")
    assert (tight.silences.max_silences, tight.silences.max_matchers) == (5, 2)
    with pytest.raises(ConfigError, match="max_matchers"):
        parse_config({"flows": flows, "silences": {"max_matchers": 0}}, "t.toml")


def test_a_label_value_no_utf_8_engine_can_read_is_refused():
    assert label_problem("flow", "checkout\ud800") == (
        "label 'flow' has unpaired surrogates in its value: it must be valid Unicode text"
    )
    with pytest.raises(InputRejected, match="unpaired surrogates"):
        validate_labels({"flow": "\udfff"})
    assert label_problem("flow", "zürich-😀") is None
    with pytest.raises(InputRejected, match="printable characters"):
        parse_matcher('flow=~"a\ud800"')
