"""The route tree: which receivers an alert reaches, and why. Pure: no I/O.

Alertmanager's semantics: the root matches every alert; a matching route's children are tried in
order and the first that matches is taken, unless it says ``continue``, in which case its later
siblings are tried as well; a route none of whose children match is where the alert lands. A
route inherits what it does not set (receivers, severities, group timing, repeat interval,
escalation) from its parent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from relops.config import RelopsConfig
from relops.config.routing import MAX_ROUTE_DEPTH, EscalationStep, RouteConfig
from relops.matchers import Matcher, all_match

#: Without a route that says otherwise, an open incident is notified again every 4 hours.
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600


@dataclass(frozen=True)
class Route:
    """A route with its inherited settings resolved."""

    #: Where it is in the file: "route", "route.routes[0]", ...
    path: str
    name: str | None
    matchers: tuple[Matcher, ...]
    receivers: tuple[str, ...]
    #: None: each receiver's own severities.
    severities: tuple[str, ...] | None
    group_wait_s: float
    #: The group wait when the alert that opens the group is CRITICAL.
    critical_group_wait_s: float
    group_interval_s: float
    repeat_interval_s: int
    escalation: tuple[EscalationStep, ...]
    continue_: bool
    children: tuple[Route, ...]

    @property
    def label(self) -> str:
        """How messages name it: its name, or its place in the file."""
        return f"{self.path} {self.name!r}" if self.name else self.path

    def opening_wait_s(self, severity: str, status: str = "firing") -> float:
        """How long a group that this alert opens waits: not at all, by default, for a CRITICAL firing."""
        return self.critical_group_wait_s if status == "firing" and severity == "critical" else self.group_wait_s

    def walk(self) -> list[Route]:
        """This route and every route below it, depth first."""
        return [self, *(r for child in self.children for r in child.walk())]


def build_tree(config: RelopsConfig, default_receivers: Sequence[str]) -> Route:
    """The config's route tree, inheritance resolved; the root's receivers default to ``default_receivers``."""
    alerts = config.alerts
    root = config.route
    return _build(
        root,
        "route",
        receivers=tuple(root.receivers if root.receivers is not None else default_receivers),
        severities=root.severities,
        group_wait_s=root.group_wait_s if root.group_wait_s is not None else alerts.group_wait_s,
        critical_group_wait_s=root.critical_group_wait_s
        if root.critical_group_wait_s is not None
        else alerts.critical_group_wait_s,
        group_interval_s=root.group_interval_s if root.group_interval_s is not None else alerts.group_interval_s,
        repeat_interval_s=root.repeat_interval_s or DEFAULT_REPEAT_INTERVAL_S,
        escalation=root.escalation_steps or (),
        depth=0,
    )


_TREES: dict[tuple[int, tuple[str, ...]], tuple[RelopsConfig, Route]] = {}


def cached_tree(config: RelopsConfig, default_receivers: Sequence[str]) -> Route:
    """build_tree, once per config object: a worker builds its dependencies for every task."""
    key = (id(config), tuple(default_receivers))
    found = _TREES.get(key)
    if found is None or found[0] is not config:
        if len(_TREES) > 16:  # configs replaced in tests; a process normally has one
            _TREES.clear()
        found = _TREES[key] = (config, build_tree(config, default_receivers))
    return found[1]


def _build(
    node: RouteConfig,
    path: str,
    *,
    receivers: tuple[str, ...],
    severities: tuple[str, ...] | None,
    group_wait_s: float,
    critical_group_wait_s: float,
    group_interval_s: float,
    repeat_interval_s: int,
    escalation: tuple[EscalationStep, ...],
    depth: int,
) -> Route:
    if depth > MAX_ROUTE_DEPTH:
        raise ValueError(f"{path}: routes nest deeper than {MAX_ROUTE_DEPTH} levels")
    children = tuple(
        _build(
            child,
            f"{path}.routes[{i}]",
            receivers=child.receivers if child.receivers is not None else receivers,
            severities=child.severities if child.severities is not None else severities,
            group_wait_s=child.group_wait_s if child.group_wait_s is not None else group_wait_s,
            critical_group_wait_s=child.critical_group_wait_s
            if child.critical_group_wait_s is not None
            else critical_group_wait_s,
            group_interval_s=child.group_interval_s if child.group_interval_s is not None else group_interval_s,
            repeat_interval_s=child.repeat_interval_s or repeat_interval_s,
            escalation=child.escalation_steps if child.escalation_steps is not None else escalation,
            depth=depth + 1,
        )
        for i, child in enumerate(node.routes)
    )
    return Route(
        path=path,
        name=node.name,
        matchers=node.parsed_matchers,
        receivers=receivers,
        severities=severities,
        group_wait_s=group_wait_s,
        critical_group_wait_s=critical_group_wait_s,
        group_interval_s=group_interval_s,
        repeat_interval_s=repeat_interval_s,
        escalation=escalation,
        continue_=node.continue_,
        children=children,
    )


def matching_routes(root: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` lands on, in order (more than one only through ``continue``)."""
    return _match(root, labels) if all_match(root.matchers, labels) else []


def _match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    found: list[Route] = []
    for child in route.children:
        if not all_match(child.matchers, labels):
            continue
        found += _match(child, labels)
        if not child.continue_:
            break
    return found or [route]


@dataclass(frozen=True)
class Target:
    """One receiver an alert reaches, and the route that sends it there."""

    receiver: str
    route: Route


def targets(
    root: Route,
    labels: Mapping[str, str],
    severity: str,
    receiver_severities: Mapping[str, Collection[str]],
) -> list[Target]:
    """The receivers an alert of ``severity`` reaches: those of the routes it lands on that take that
    severity (the route's severities, else the receiver's own), each once, by the first route naming it.
    ``receiver_severities`` holds the receivers this process can deliver to."""
    found: dict[str, Target] = {}
    for route in matching_routes(root, labels):
        for receiver in route.receivers:
            if receiver in found or receiver not in receiver_severities:
                continue
            allowed = route.severities if route.severities is not None else receiver_severities[receiver]
            if severity in allowed:
                found[receiver] = Target(receiver, route)
    return list(found.values())


@dataclass(frozen=True)
class Reach:
    """Where an alert goes. ``fell_back_from``: the receivers its routes named that cannot deliver
    in this process, when none of them could, so the root's receivers took it instead."""

    targets: list[Target]
    fell_back_from: list[str]


def reach(
    root: Route, labels: Mapping[str, str], severity: str, receiver_severities: Mapping[str, Collection[str]]
) -> Reach:
    """``targets``, but an alert whose routes name only receivers that cannot deliver here (their
    variable unset) goes to the root's receivers rather than nowhere: a team's missing webhook
    must not swallow its pages."""
    found = targets(root, labels, severity, receiver_severities)
    if found:
        return Reach(found, [])
    named = dict.fromkeys(r for route in matching_routes(root, labels) for r in route.receivers)
    missing = [r for r in named if r not in receiver_severities]
    if not missing:
        return Reach([], [])
    fallback = targets(replace(root, children=()), labels, severity, receiver_severities)
    return Reach(fallback, missing)


@dataclass(frozen=True)
class Explanation:
    """Why an alert reaches the receivers it reaches (`relops routes test`)."""

    severity: str
    #: The routes it lands on, each with the chain of routes above it.
    landed: list[tuple[Route, list[Route]]]
    reached: list[Target]
    #: (receiver, why not) for each receiver its routes name that it does not reach.
    passed_over: list[tuple[str, str]]


def explain(
    root: Route, labels: Mapping[str, str], severity: str, receiver_severities: Mapping[str, Collection[str]]
) -> Explanation:
    """``targets`` with its reasons; ``receiver_severities`` holds every configured receiver."""
    landed = matching_routes(root, labels)
    reached = targets(root, labels, severity, receiver_severities)
    passed_over: dict[str, str] = {}
    for route in landed:
        for receiver in route.receivers:
            if receiver in passed_over or any(t.receiver == receiver for t in reached):
                continue
            allowed = route.severities if route.severities is not None else receiver_severities.get(receiver, ())
            where = f"{route.label} severities" if route.severities is not None else "its own severities"
            passed_over[receiver] = f"{severity} is not among {where} ({', '.join(allowed) or 'none'})"
    return Explanation(severity, [(r, _ancestors(root, r)) for r in landed], reached, list(passed_over.items()))


def _ancestors(root: Route, target: Route) -> list[Route]:
    """The chain of routes from the root down to ``target``, both included."""
    if root is target:
        return [root]
    for child in root.children:
        chain = _ancestors(child, target)
        if chain:
            return [root, *chain]
    return []


def tree_problems(root: Route, known_receivers: Collection[str]) -> list[str]:
    """What makes the tree wrong: an unknown receiver, a route no alert can reach."""
    problems: list[str] = []
    pending: list[tuple[Route, tuple[Matcher, ...]]] = [(root, ())]
    while pending:
        route, above = pending.pop(0)
        for receiver in route.receivers:
            if receiver not in known_receivers:
                problems.append(
                    f"{route.label} field 'receivers': unknown receiver {receiver!r}; "
                    f"known: {', '.join(sorted(known_receivers))}"
                )
        for step in route.escalation:
            if step.to not in known_receivers:
                problems.append(f"{route.label} field 'escalation': unknown receiver {step.to!r}")
        # An alert reaches a route only through its parents: their matchers hold too.
        path_matchers = above + route.matchers
        contradictions = _contradiction(path_matchers)
        if contradictions:
            problems += [f"{route.label}: unreachable: {why}" for why in contradictions]
            continue
        for i, child in enumerate(route.children):
            pending.append((child, path_matchers))
            if not child.matchers and not child.continue_:
                problems += [
                    f"{later.label}: unreachable: {child.label} before it matches every alert and does not continue"
                    for later in route.children[i + 1 :]
                ]
                break
    return list(dict.fromkeys(problems))


def _contradiction(matchers: tuple[Matcher, ...]) -> list[str]:
    """Matchers no alert can satisfy together: two different values required of one label, or a
    severity relops never sends."""
    problems = []
    required: dict[str, str] = {}
    for matcher in matchers:
        if matcher.op != "=":
            continue
        if matcher.name == "severity" and matcher.value not in ("warning", "critical"):
            problems.append(f"severity={matcher.value} (alerts are warning or critical)")
        earlier = required.setdefault(matcher.name, matcher.value)
        if earlier != matcher.value:
            problems.append(f"{matcher.name} cannot be both {earlier!r} and {matcher.value!r}")
    return problems
