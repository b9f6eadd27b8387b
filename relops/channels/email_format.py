"""Email (subject, HTML, plain text) for alert notifications. Pure: no I/O, no clock.

Every field that came from an event is HTML-escaped (quotes included), in text and in attributes;
only absolute http(s) URLs become links, anything else (``javascript:``, ``data:``) is shown as
escaped text. The plain-text part carries the same facts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from relops.channels import facts
from relops.channels.base import MessageContext, Notification, ordered

SUBJECT_PREFIX = "[relops]"
MAX_SUBJECT_CHARS = 250
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 4000
MAX_UNLINKED_CHARS = 300
MAX_GENERIC_FACTS = 12
COLORS = {"critical": "#b91c1c", "warning": "#c2410c", "resolved": "#15803d", "notice": "#4b5563"}
_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f]+")
_CELL = "padding:4px 10px;border:1px solid #ddd;text-align:left"


def _h(text: str) -> str:
    """Event text for the HTML part: escaped (quotes included), control characters replaced."""
    return html.escape(facts.printable(text), quote=True)


def _one_line(text: str) -> str:
    return _ONE_LINE.sub(" ", text).strip()


def _plain(text: str) -> str:
    """Event text for the plain-text part: no control characters except newlines and tabs."""
    return facts.printable(text)


def _color(n: Notification) -> str:
    if facts.is_notice(n):
        return COLORS["notice"]
    return COLORS["resolved"] if not facts.is_firing(n) else COLORS.get(n.severity, "#555")


def render_subject(notifications: Sequence[Notification]) -> str:
    """ "[relops] CRITICAL: checkout burning …", "[relops] 12 alerts: 10 critical, 2 warning" """
    if not notifications:
        raise ValueError("a message needs at least one notification")
    worst = ordered(notifications)
    body = facts.labelled_title(worst[0]) if len(worst) == 1 else facts.group_title(worst)
    return facts.truncate(_one_line(f"{SUBJECT_PREFIX} {body}"), MAX_SUBJECT_CHARS)


def _facts_of(n: Notification) -> list[facts.Fact]:
    listed = facts.slo_facts(n.details) if facts.is_slo(n) else facts.generic_facts(n.details, MAX_GENERIC_FACTS)
    return [*listed, facts.Fact("Occurred", facts.format_time(n.occurred_at)), facts.Fact("Source", n.source)]


def _html_link(url: str, text: str) -> str:
    return f'<a href="{_h(url)}" style="color:#1d4ed8">{_h(text)}</a>'


def _html_links(n: Notification, context: MessageContext) -> str:
    parts = []
    runbook = facts.safe_link(n.runbook_url)
    if runbook:
        parts.append(_html_link(runbook, "Runbook"))
    elif n.runbook_url.strip():
        parts.append(f"Runbook: <code>{_h(facts.truncate(n.runbook_url, MAX_UNLINKED_CHARS))}</code>")
    dashboard = facts.safe_link(context.dashboard_url)
    if dashboard:
        parts.append(_html_link(dashboard, "Dashboard"))
    return f'<p style="margin:8px 0">{" · ".join(parts)}</p>' if parts else ""


def _html_notification(n: Notification, context: MessageContext) -> str:
    color = _color(n)
    out = [
        f'<div style="border-left:4px solid {color};padding:4px 12px;margin:16px 0">',
        f'<h2 style="margin:0 0 6px;font-size:18px;color:{color}">{facts.emoji(n)} {_h(facts.headline(n))}</h2>',
        f'<p style="margin:4px 0"><strong>{_h(facts.truncate(facts.plain_title(n), MAX_TITLE_CHARS))}</strong></p>',
    ]
    if n.summary.strip():
        out.append(f'<p style="margin:4px 0">{_h(facts.truncate(n.summary, MAX_SUMMARY_CHARS))}</p>')
    windows = facts.window_facts(n.details)
    if windows:
        out.append('<table style="border-collapse:collapse;margin:8px 0">')
        out.append(
            "<tr>"
            + "".join(f'<th style="{_CELL}">{h}</th>' for h in ("Window", "Burn rate", "Status", "Bad / events"))
            + "</tr>"
        )
        for w in windows:
            cells = (w.name, w.rate, w.status, w.counts)
            out.append("<tr>" + "".join(f'<td style="{_CELL}">{_h(c)}</td>' for c in cells) + "</tr>")
        out.append("</table>")
    out.append('<table style="border-collapse:collapse;margin:8px 0">')
    for fact in _facts_of(n):
        out.append(f'<tr><th style="{_CELL}">{_h(fact.label)}</th><td style="{_CELL}">{_h(fact.value)}</td></tr>')
    out.append("</table>")
    out.append(_html_links(n, context))
    out.append(f'<p style="margin:4px 0;color:#888;font-size:12px">relops · {_h(n.fingerprint)}</p>')
    out.append("</div>")
    return "\n".join(part for part in out if part)


def _text_notification(n: Notification, context: MessageContext) -> str:
    lines = [facts.headline(n), facts.truncate(facts.plain_title(n), MAX_TITLE_CHARS)]
    if n.summary.strip():
        lines.append(facts.truncate(n.summary, MAX_SUMMARY_CHARS))
    lines.append("")
    windows = facts.window_facts(n.details)
    if windows:
        width = max(len("Window"), *(len(w.name) for w in windows))
        burn_width = max(len("Burn rate"), *(len(w.burn) for w in windows))
        lines.append(f"  {'Window':<{width}}  {'Burn rate':<{burn_width}}  Bad / events")
        lines += [f"  {w.name:<{width}}  {w.burn:<{burn_width}}  {w.counts}" for w in windows]
    lines += [f"  {fact.label}: {fact.value}" for fact in _facts_of(n)]
    if n.runbook_url.strip():
        runbook = facts.safe_link(n.runbook_url)
        shown = runbook or facts.truncate(_one_line(n.runbook_url), MAX_UNLINKED_CHARS) + " (not a web link)"
        lines.append(f"  Runbook: {shown}")
    dashboard = facts.safe_link(context.dashboard_url)
    if dashboard:
        lines.append(f"  Dashboard: {dashboard}")
    lines.append(f"  relops · {n.fingerprint}")
    return _plain("\n".join(lines))


def render_email(notifications: Sequence[Notification], context: MessageContext) -> tuple[str, str, str]:
    """(subject, html, text) of one message. One notification in full; several: a count by
    severity, the worst ``context.max_full`` in full, then one line counting the rest."""
    subject = render_subject(notifications)
    worst = ordered(notifications)
    shown, rest = worst[: max(context.max_full, 1)], worst[max(context.max_full, 1) :]
    dashboard = facts.safe_link(context.dashboard_url)

    html_parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{_h(subject)}</title></head>",
        '<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#111">',
    ]
    text_parts = []
    if len(worst) > 1:
        group = f"{facts.group_emoji(worst)} {facts.group_title(worst)}"
        html_parts.append(f'<h1 style="font-size:20px;margin:0 0 8px">{_h(group)}</h1>')
        text_parts.append(facts.group_title(worst) + "\n")
    for n in shown:
        html_parts.append(_html_notification(n, context))
        text_parts.append(_text_notification(n, context) + "\n")
    if rest:
        line = facts.rest_line(rest)
        see = f" — {_html_link(dashboard, 'see the dashboard')}" if dashboard else " — see the dashboard"
        html_parts.append(f'<p style="margin:16px 0;font-weight:bold">{_h(line)}{see}</p>')
        text_parts.append(line + (f" — see the dashboard: {dashboard}" if dashboard else " — see the dashboard"))
    html_parts.append("</body></html>")
    return subject, "\n".join(html_parts), "\n".join(text_parts).rstrip() + "\n"
