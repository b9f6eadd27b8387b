"""The route tree: Alertmanager's matching rules, inheritance, severities, and the config mistakes
refused with the route and field named."""

import pytest

from relops.alerting.routes import build_tree, explain, matching_routes, reach, targets, tree_problems
from relops.channels.registry import check_alerting_config
from relops.config import parse_config
from relops.errors import ConfigError

DEFAULTS = ["webhook", "email"]
RECEIVERS = {
    "team-a": {"type": "webhook", "url_env": "TEAM_A_WEBHOOK_URL"},
    "team-b": {"type": "webhook", "url_env": "TEAM_B_WEBHOOK_URL"},
    "lead": {"type": "email", "to": ["lead@example.com"]},
}
FLOWS = [
    {"name": "checkout", "objective_percent": 99.9, "labels": {"team": "a"}},
    {"name": "search", "objective_percent": 99.0, "labels": {"team": "b", "tier": "2"}},
]


def config(route: dict, receivers: dict | None = None):
    data = {"flows": FLOWS, "receivers": RECEIVERS if receivers is None else receivers, "route": route}
    return parse_config(data, "t.toml")


def tree(route: dict):
    return build_tree(config(route), DEFAULTS)


TEAMS = {
    "routes": [
        {"name": "team a", "matchers": ["team=a"], "receivers": ["team-a"], "repeat_interval_s": 600},
        {
            "name": "team b",
            "matchers": ["team=b"],
            "receivers": ["team-b"],
            "routes": [{"name": "b critical", "matchers": ["severity=critical"], "receivers": ["team-b", "lead"]}],
        },
    ]
}
ALL = {"webhook": ("warning", "critical"), "email": ("critical",), "team-a": ("warning", "critical")}
ALL |= {"team-b": ("warning", "critical"), "lead": ("critical",)}


def labels(**kw: str) -> dict[str, str]:
    return {"source": "slo", "severity": "critical", **kw}


def landed(route: dict, **kw: str) -> list[str]:
    return [r.label for r in matching_routes(tree(route), labels(**kw))]


def test_the_first_matching_route_wins_and_an_unmatched_alert_stays_at_the_root():
    assert landed(TEAMS, team="a") == ["route.routes[0] 'team a'"]
    assert landed(TEAMS, team="b", severity="warning") == ["route.routes[1] 'team b'"]
    assert landed(TEAMS, team="b") == ["route.routes[1].routes[0] 'b critical'"]
    assert landed(TEAMS, team="c") == ["route"]


def test_continue_lets_later_siblings_match_too():
    route = {
        "routes": [
            {"matchers": ['tier=~"1|2"'], "receivers": ["lead"], "continue": True},
            {"matchers": ["team=b"], "receivers": ["team-b"]},
            {"matchers": ['team=~".+"'], "receivers": ["team-a"]},
        ]
    }
    assert landed(route, team="b", tier="2") == ["route.routes[0]", "route.routes[1]"]
    assert landed(route, team="a", tier="3") == ["route.routes[2]"]


def test_a_route_inherits_what_it_does_not_set():
    root = tree({"receivers": ["team-a"], "repeat_interval_s": 900, "group_wait_s": 2, **TEAMS})
    b_critical = root.children[1].children[0]
    assert (b_critical.group_wait_s, b_critical.repeat_interval_s) == (2, 900)
    assert root.children[0].repeat_interval_s == 600
    assert root.receivers == ("team-a",)
    assert tree({}).receivers == ("webhook", "email") and tree({}).repeat_interval_s == 4 * 3600


def test_a_critical_opening_a_group_waits_for_nothing_unless_a_route_says_so():
    default = tree({})
    assert (default.opening_wait_s("critical"), default.opening_wait_s("warning")) == (0, 5)
    assert default.opening_wait_s("critical", status="resolved") == 5  # resolutions are not pages
    root = tree({"critical_group_wait_s": 3, "routes": [{"matchers": ["team=b"], "routes": [{"group_wait_s": 9}]}]})
    inherited = root.children[0].children[0]
    assert (inherited.opening_wait_s("critical"), inherited.opening_wait_s("warning")) == (3, 9)


def test_each_receiver_once_and_only_for_the_severities_it_takes():
    root = tree(TEAMS)
    reached = targets(root, labels(team="b"), "critical", ALL)
    assert [(t.receiver, t.route.name) for t in reached] == [("team-b", "b critical"), ("lead", "b critical")]
    # lead takes only critical (an email receiver's default); the route may say otherwise.
    assert [t.receiver for t in targets(root, labels(team="b", severity="warning"), "warning", ALL)] == ["team-b"]
    loud = tree({"routes": [{"matchers": ["team=b"], "receivers": ["lead"], "severities": ["warning", "critical"]}]})
    assert [t.receiver for t in targets(loud, labels(team="b", severity="warning"), "warning", ALL)] == ["lead"]
    assert targets(root, labels(team="a"), "critical", ALL)[0].route.repeat_interval_s == 600


def test_a_route_whose_receivers_cannot_deliver_falls_back_to_the_root():
    root = tree(TEAMS)
    without_team_a = {k: v for k, v in ALL.items() if k != "team-a"}
    got = reach(root, labels(team="a"), "critical", without_team_a)
    assert [t.receiver for t in got.targets] == ["webhook", "email"] and got.fell_back_from == ["team-a"]
    assert reach(root, labels(team="a"), "critical", ALL).fell_back_from == []
    # A severity the route does not take is not a fallback: nobody was meant to hear it.
    quiet = tree({"routes": [{"matchers": ["team=a"], "receivers": ["team-a"], "severities": ["critical"]}]})
    assert reach(quiet, labels(team="a", severity="warning"), "warning", ALL).targets == []


def test_explain_says_why_a_receiver_is_passed_over():
    found = explain(tree(TEAMS), labels(team="b", severity="warning"), "warning", ALL)
    assert [t.receiver for t in found.reached] == ["team-b"]
    assert found.landed[0][1][0].label == "route"


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ({"routes": [{"matchers": ["team=a"], "receivers": ["team-z"]}]}, "unknown receiver 'team-z'"),
        ({"routes": [{"matchers": ["team=a"], "escalate_after_s": 60, "escalate_to": "nobody"}]}, "unknown receiver"),
        (
            {"routes": [{"receivers": ["team-a"]}, {"name": "late", "matchers": ["team=b"]}]},
            "route.routes[1] 'late': unreachable: route.routes[0] before it matches every alert",
        ),
        ({"routes": [{"matchers": ["team=a", "team=b"]}]}, "unreachable: team cannot be both 'a' and 'b'"),
        (
            {"routes": [{"matchers": ["team=a"], "routes": [{"name": "never", "matchers": ["team=b"]}]}]},
            "'never': unreachable: team cannot be both",
        ),
        ({"routes": [{"matchers": ["severity=info"]}]}, "unreachable: severity=info"),
    ],
)
def test_tree_mistakes_name_the_route(route, words):
    problems = tree_problems(tree(route), [*DEFAULTS, *RECEIVERS])
    assert any(words in p for p in problems), problems


def config_error(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        check_alerting_config(parse_config({"flows": FLOWS, **data}, "bad.toml"), "bad.toml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"route": {"matchers": ["team=a"]}}, "the root route matches every alert"),
        ({"route": {"routes": [{"matchers": ["colour=red"]}]}}, "label 'colour' is not one relops sets"),
        ({"route": {"routes": [{"matchers": ['team=~"("']}]}}, "is not a regular expression"),
        ({"route": {"routes": [{"escalate_after_s": 60}]}}, "escalate_after_s and escalate_to go together"),
        (
            {"route": {"escalation": [{"after_s": 600, "to": "lead"}, {"after_s": 60, "to": "lead"}]}},
            "in order of after_s",
        ),
        ({"receivers": {"x": {"type": "pager", "url_env": "X"}}}, "receivers.x field 'type': unknown channel 'pager'"),
        ({"receivers": {"x": {"type": "webhook"}}}, "needs url_env"),
        ({"receivers": {"x": {"type": "webhook", "url_env": "lower-case"}}}, "not an environment variable name"),
        ({"receivers": {"x": {"type": "webhook", "url_env": "X", "to": ["a@b.co"]}}}, "'to': not a key of a webhook"),
        ({"receivers": {"x": {"type": "email"}}}, "needs 'to'"),
        ({"receivers": {"x": {"type": "email", "to": ["not-an-address"]}}}, "is not an email address"),
        ({"receivers": {"webhook": {"type": "webhook", "url_env": "X"}}}, "is the default receiver of the webhook"),
        ({"receivers": {"x": {"type": "webhook", "url_env": "X", "rate_per_sec": 2}}}, "unknown key 'rate_per_sec'"),
        ({"receivers": {"x": {"type": "webhook", "url_env": "X", "max_attempts": 0}}}, "receiver 'x' field"),
        ({"route": {"receivers": ["nope"]}}, "route field 'receivers': unknown receiver 'nope'"),
        (
            {"flows": [{"name": "booking", "objective_percent": 99, "depends_on": ["inventroy"]}]},
            "flow 'booking' field 'depends_on': 'inventroy' is not a dependency ([breakers.NAME])",
        ),
    ],
)
def test_config_mistakes_are_refused_naming_the_receiver_or_route(data, words):
    assert words in config_error(data)


def test_a_worked_three_team_config_is_accepted():
    check_alerting_config(config({**TEAMS, "escalation": [{"after_s": 900, "to": "lead"}]}), "ok.toml")


def test_the_three_team_example_in_the_docs_is_valid_and_routes_as_it_says():
    from pathlib import Path

    from relops.config import load_config

    path = Path(__file__).parents[2] / "docs" / "examples" / "three-teams.toml"
    example = load_config(path)
    check_alerting_config(example, str(path))
    root = build_tree(example, DEFAULTS)
    everyone = {name: ("warning", "critical") for name in [*DEFAULTS, *example.receivers]}
    everyone["email"] = everyone["payments-lead"] = everyone["platform-oncall"] = ("critical",)

    def reached(severity: str, **kw: str) -> list[str]:
        return [t.receiver for t in targets(root, {"severity": severity, **kw}, severity, everyone)]

    assert reached("critical", flow="checkout", team="payments", tier="1") == ["webhook", "payments-slack"]
    assert reached("warning", flow="refunds", team="payments") == ["payments-slack"]
    assert reached("warning", flow="search", team="search") == []
    assert reached("critical", job="nightly-export", team="platform") == ["platform-slack", "platform-oncall"]
    assert reached("critical", flow="other") == ["webhook", "email"]
    payments = root.children[1]
    assert [(s.after_s, s.to) for s in payments.escalation] == [(900, "payments-lead"), (3600, "platform-oncall")]


def test_config_check_validates_a_file_without_starting_anything(monkeypatch):
    from pathlib import Path

    from click.testing import CliRunner

    from relops.cli import cli

    for name in ("PAYMENTS_WEBHOOK_URL", "SEARCH_WEBHOOK_URL", "PLATFORM_WEBHOOK_URL", "PLATFORM_ONCALL_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAYMENTS_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B1/s3cr3tvalue")
    example = str(Path(__file__).parents[2] / "docs" / "examples" / "three-teams.toml")
    checked = CliRunner().invoke(cli, ["config", "check", example])
    assert checked.exit_code == 0, checked.output
    assert (
        "receiver payments-slack (webhook): delivers to https://hooks.slack.com/services/***/***/***" in checked.output
    )
    assert "receiver search-slack (webhook): skipped here: SEARCH_WEBHOOK_URL is not set" in checked.output
    assert "s3cr3tvalue" not in checked.output
    strict = CliRunner().invoke(cli, ["config", "check", "--strict", example])
    assert strict.exit_code == 1 and "cannot deliver in this environment" in strict.output


def test_routes_test_says_where_an_alert_lands_and_why():
    from pathlib import Path

    from click.testing import CliRunner

    from relops.cli import cli

    example = str(Path(__file__).parents[2] / "docs" / "examples" / "three-teams.toml")
    args = ["routes", "test", "--config", example, "-l", "team=search", "-l", "flow=search"]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    assert (
        "severity=warning:\n  lands on route.routes[2] 'search' (via route > route.routes[2] 'search')" in shown.output
    )
    assert "-- search-slack: warning is not among route.routes[2] 'search' severities (critical)" in shown.output
    assert "severity=critical:" in shown.output and "-> search-slack (by route.routes[2] 'search'" in shown.output
    bad = CliRunner().invoke(cli, ["routes", "test", "--config", example, "-l", "nonsense"])
    assert bad.exit_code == 2 and "is not name=value" in bad.output
