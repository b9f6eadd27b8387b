"""relops slo import of what relops slo export writes gives back the same flows: import ∘ export is
the identity on what relops expresses (flows pushed, pulled from Prometheus or counted from spans)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relops.config import FlowConfig
from relops.labels import RESERVED
from relops.slo_files.importing import import_files
from relops.slo_files.openslo_out import EXPORTED_KEYS, LEFT_OUT_KEYS, export_openslo, openslo_caveats

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)
_LABEL_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True).filter(lambda name: name not in RESERVED)
_LABEL_VALUES = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)
# Objectives the default burn-rate rules can page on (1 / (1 - objective) above the 1 h rule's 14x).
_OBJECTIVES = st.decimals(min_value=Decimal("93"), max_value=Decimal("99.9999"), places=4).map(
    lambda value: Decimal(format(value.normalize(), "f"))
)
_SELECTORS = st.builds(
    lambda metric, label, value, summed: (
        f"sum({metric}{{{label}={value!r}}})" if summed else f"{metric}{{{label}={value!r}}}"
    ).replace("'", '"'),
    st.from_regex(r"[a-z_][a-z0-9_]{0,20}_total", fullmatch=True),
    st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9.|()^-]{0,12}", fullmatch=True),
    st.booleans(),
)


# A flow counted from OpenTelemetry spans: its [flows.spans] rules, with conditions of each form.
_CONDITIONS = st.sampled_from(
    [
        'http.route = "/api/checkout"',
        'http.route =~ "/api/.*"',
        'rpc.method != "Ping"',
        "http.response.status_code >= 500",
        "http.response.status_code < 200",
    ]
)
_SPAN_RULES = st.fixed_dictionaries(
    {"service": st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)},
    optional={
        "names": st.lists(st.from_regex(r"(GET|POST) /[a-z]{1,10}", fullmatch=True), max_size=3, unique=True),
        "kinds": st.lists(
            st.sampled_from(["server", "consumer", "client", "producer", "internal"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "attributes": st.lists(_CONDITIONS, max_size=2, unique=True),
        "bad_when": st.lists(_CONDITIONS, max_size=2, unique=True),
    },
)


@st.composite
def _sources(draw: st.DrawFn) -> dict[str, object] | None:
    if draw(st.booleans()):
        return None  # counts pushed by services
    source: dict[str, object] = {"total": draw(_SELECTORS), draw(st.sampled_from(["good", "bad"])): draw(_SELECTORS)}
    if draw(st.booleans()):
        source["url_env"] = draw(st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True))
    if draw(st.booleans()):
        source["timeout_s"] = draw(st.floats(min_value=1, max_value=60))
    return source


@st.composite
def _flows(draw: st.DrawFn) -> list[FlowConfig]:
    names = draw(
        st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True), min_size=1, max_size=4, unique=True)
    )
    flows = []
    for name in names:
        entry: dict[str, object] = {
            "name": name,
            "objective_percent": draw(_OBJECTIVES),
            "period_days": draw(st.integers(min_value=1, max_value=365)),
            "description": draw(_TEXT),
            "labels": draw(st.dictionaries(_LABEL_NAMES | st.just("service"), _LABEL_VALUES, max_size=4)),
            "runbook": draw(_TEXT),
        }
        source = draw(_sources())
        if source is not None:
            entry["prometheus"] = source
        elif draw(st.booleans()):
            entry["spans"] = draw(_SPAN_RULES)
        flows.append(FlowConfig.model_validate(entry, strict=False))
    return flows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_flows())
def test_importing_the_openslo_export_gives_back_the_same_flows(flows: list[FlowConfig]) -> None:
    exported = export_openslo(flows)
    result = import_files([("export.yaml", exported)])

    assert result.refusals == []
    assert result.flows == flows
    assert [str(flow.objective_percent) for flow in result.flows] == [str(flow.objective_percent) for flow in flows]


def test_the_export_names_what_openslo_tools_may_refuse_and_what_it_leaves_out() -> None:
    flow = FlowConfig.model_validate(
        {"name": "Checkout flow", "objective_percent": 99.9, "depends_on": ["stripe"], "exclude_maintenance": True},
        strict=False,
    )

    assert openslo_caveats(flow) == [
        "its name is not an RFC 1123 name (lowercase letters, digits, -): OpenSLO tools may refuse it",
        "no 'service' label, so no spec.service, which OpenSLO requires: give the flow one",
        "depends_on, exclude_maintenance not exported (relops' own: OpenSLO has no field for it)",
    ]
    assert (
        openslo_caveats(
            FlowConfig.model_validate({"name": "checkout", "objective_percent": 99.9, "labels": {"service": "shop"}})
        )
        == []
    )


def test_every_flow_key_is_exported_or_named_as_left_out() -> None:
    # A key added to [[flows]] later must be exported or said to be left out, never dropped unsaid.
    assert set(FlowConfig.model_fields) == EXPORTED_KEYS | set(LEFT_OUT_KEYS)
