"""Silences: what they are, how a new one is checked, and the index the alert router asks. Pure.

A silence mutes the alerts whose labels satisfy every one of its matchers while it is active
(from ``starts_at`` until ``ends_at`` or until someone expires it). A maintenance window from the
config file is a silence that recurs; both are asked the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relops.errors import InputRejected
from relops.matchers import Matcher, all_match

MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class Silence:
    #: "silence:<id>" for an operator's silence, "maintenance:<name>" for a configured window.
    key: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str
    #: No matchers: mutes everything (only when asked for explicitly).
    match_all: bool = False

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.match_all or all_match(self.matchers, labels)

    @property
    def silence_id(self) -> int | None:
        kind, _, ident = self.key.partition(":")
        return int(ident) if kind == "silence" else None

    def describe(self) -> str:
        return "everything" if self.match_all else " ".join(str(m) for m in self.matchers)


def silence_key(silence_id: int) -> str:
    return f"silence:{silence_id}"


def check_new_silence(
    matchers: Sequence[Matcher],
    *,
    match_all: bool,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
    max_duration: timedelta,
    known_labels: Collection[str],
    max_matchers: int,
) -> None:
    """Refuse a silence that cannot be what its author meant; each refusal names its field."""
    check_matcher_count(len(matchers), max_matchers)
    if not reason or not reason.strip():
        raise InputRejected("reason", "is required: say why (a deploy, a known incident, a maintenance)")
    if len(reason) > MAX_REASON_CHARS:
        raise InputRejected("reason", f"is {len(reason)} characters, more than {MAX_REASON_CHARS}")
    if any(ord(c) < 32 and c not in "\t" for c in reason):
        raise InputRejected("reason", "must be one line of printable text")
    if not matchers and not match_all:
        raise InputRejected("matchers", 'none given: to mute every alert, say so explicitly (--all, or "all": true)')
    if matchers and match_all:
        raise InputRejected("matchers", "give matchers or ask for all, not both")
    for m in matchers:
        if m.name not in known_labels:
            known = ", ".join(sorted(known_labels))
            raise InputRejected("matchers", f"label {m.name!r} is not one relops sets or the config declares ({known})")
    if ends_at <= starts_at:
        raise InputRejected("ends_at", f"{ends_at.isoformat()} is not after the start, {starts_at.isoformat()}")
    if ends_at <= now:
        raise InputRejected("ends_at", f"{ends_at.isoformat()} is in the past")
    if ends_at - max(starts_at, now) > max_duration:
        hours = max_duration.total_seconds() / 3600
        raise InputRejected(
            "ends_at", f"the silence would last more than the maximum {hours:g} h (silences.max_duration_s)"
        )


def check_matcher_count(count: int, max_matchers: int) -> None:
    """Refuse more matchers than a silence may have (asked before parsing them, too, so a long list
    costs nothing to refuse)."""
    if count > max_matchers:
        raise InputRejected(
            "matchers", f"{count} given, more than the {max_matchers} a silence may have (silences.max_matchers)"
        )


def check_room_for_silence(unfinished: int, max_silences: int) -> None:
    """Refuse a silence beyond the cap on silences active or pending at once."""
    if unfinished >= max_silences:
        raise InputRejected(
            "silences",
            f"{unfinished} silences are active or pending, the most allowed (silences.max_silences = "
            f"{max_silences}): expire some first (relops silence list, relops silence expire ID)",
        )


class SilenceIndex:
    """The silences active at one moment, indexed so that an alert is checked against the few that
    could match it: a silence is filed under one of its ``name=value`` matchers, and only those
    without any equality matcher are checked for every alert. 1,000 active silences cost about as
    much as one."""

    def __init__(self, silences: Iterable[Silence]) -> None:
        self._by_label: dict[tuple[str, str], list[Silence]] = defaultdict(list)
        self._unindexed: list[Silence] = []
        self.silences = tuple(silences)
        for silence in self.silences:
            equality = next((m for m in silence.matchers if m.is_equality), None)
            if equality is None:
                self._unindexed.append(silence)
            else:
                self._by_label[(equality.name, equality.value)].append(silence)

    def __len__(self) -> int:
        return len(self.silences)

    def first_match(self, labels: Mapping[str, str], now: datetime) -> Silence | None:
        """The silence that mutes an alert with ``labels`` at ``now``, or None (the oldest first,
        so the same alert keeps naming the same silence)."""
        candidates = [s for item in labels.items() for s in self._by_label.get(item, ())]
        candidates += self._unindexed
        matching = [s for s in candidates if s.active_at(now) and s.matches(labels)]
        return min(matching, key=lambda s: (s.starts_at, s.key), default=None)
