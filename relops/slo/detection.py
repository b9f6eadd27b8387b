"""How soon the configured rules can see a burn: the SRE Workbook's detection time, exactly. Pure.

With steady traffic and a window that was healthy before, t seconds of errors at error ratio e fill
a window of W seconds to an error ratio of e * t / W. The rule fires once that burns above its
threshold: e * t / (W * (1 - objective)) > threshold, that is after

    t = (1 - objective) / e * W * threshold

seconds, and never when even a whole window of it burns no faster (e / (1 - objective) <= threshold).
A confirmation window must cross too, and a floor of bad events must be reached. The bench
(``python -m bench time-to-page``) and the README's table both read these figures from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from relops.config import WindowRule

Level = Literal["warning", "critical"]
LEVELS: tuple[Level, ...] = ("warning", "critical")


@dataclass(frozen=True, slots=True)
class Detection:
    """The rule and level that fire first, and after how many seconds of errors."""

    rule: str
    level: Level
    seconds: Fraction

    def describe(self) -> str:
        return f"{self.rule} {self.level} after {float(self.seconds):.1f} s"


def threshold(rule: WindowRule, level: Level) -> Fraction:
    return Fraction(rule.critical_burn if level == "critical" else rule.warning_burn)


def crossing_s(window_s: int, objective: Fraction, error_ratio: Fraction, burn: Fraction) -> Fraction | None:
    """Seconds of errors at ``error_ratio`` until a ``window_s`` window burns above ``burn``."""
    if error_ratio <= 0 or error_ratio / (1 - objective) <= burn:
        return None
    return (1 - objective) / error_ratio * window_s * burn


def detection_s(
    rule: WindowRule, level: Level, objective: Fraction, error_ratio: Fraction, events_per_s: Fraction
) -> Fraction | None:
    """When ``rule`` reaches ``level`` for a flow with steady ``events_per_s`` that starts failing
    at ``error_ratio``; None when it never does (the burn stays at or below its threshold, or the
    window never holds ``min_events``)."""
    if events_per_s * rule.window_s < rule.min_events:
        return None
    limit = threshold(rule, level)
    times = [crossing_s(rule.window_s, objective, error_ratio, limit)]
    if rule.confirm_window_s is not None:
        times.append(crossing_s(rule.confirm_window_s, objective, error_ratio, limit))
    if None in times:
        return None
    # The bad-event floor: min_bad_events errors take min_bad_events / (rate * e) seconds.
    times.append(Fraction(rule.min_bad_events) / (events_per_s * error_ratio))
    return max(t for t in times if t is not None)


def first_detection(
    rules: tuple[WindowRule, ...],
    objective: Fraction,
    error_ratio: Fraction,
    events_per_s: Fraction,
    levels: tuple[Level, ...] = LEVELS,
) -> Detection | None:
    """The earliest rule and level of ``levels`` to fire (at the same second, the higher level)."""
    found = [
        Detection(rule.name, level, seconds)
        for rule in rules
        for level in levels
        if (seconds := detection_s(rule, level, objective, error_ratio, events_per_s)) is not None
    ]
    return min(found, key=lambda d: (d.seconds, d.level != "critical"), default=None)


def first_critical(
    rules: tuple[WindowRule, ...], objective: Fraction, error_ratio: Fraction, events_per_s: Fraction
) -> Detection | None:
    """The earliest rule to reach CRITICAL."""
    return first_detection(rules, objective, error_ratio, events_per_s, levels=("critical",))


def single_error_detection(
    rules: tuple[WindowRule, ...], objective: Fraction, events_per_s: Fraction
) -> Detection | None:
    """One bad event among steady good ones: the worst level any rule reaches at once, if any.

    A window of W seconds then holds one bad event in events_per_s * W, a burn of
    1 / (events_per_s * W * (1 - objective)); low-traffic flows cross with a single error, which is
    what ``min_bad_events`` is for."""
    found = []
    for rule in rules:
        events = events_per_s * rule.window_s
        if events < rule.min_events or rule.min_bad_events > 1:
            continue
        windows = [rule.window_s] + ([rule.confirm_window_s] if rule.confirm_window_s is not None else [])
        for level in reversed(LEVELS):
            if all(1 / (events_per_s * w * (1 - objective)) > threshold(rule, level) for w in windows):
                found.append(Detection(rule.name, level, Fraction(0)))
                break
    return max(found, key=lambda d: d.level == "critical", default=None)
