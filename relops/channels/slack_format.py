"""Slack Block Kit messages for alert notifications. Pure: no I/O, no clock.

Every piece of text that came from an event is escaped (``&``, ``<``, ``>``) so a hostile flow name
such as ``<!channel>`` or ``<http://evil|click>`` can neither ping anyone nor forge a link, and
every mrkdwn text object is ``verbatim`` so Slack does not auto-link or auto-mention plain text.
Only http(s) URLs become links. Slack's limits are respected: at most 50 blocks, header text
≤ 150 characters, section text ≤ 3,000, field text ≤ 2,000 (cut with "…").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relops.channels import facts
from relops.channels.base import MessageContext, Notification, ordered

MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_CHARS = 3000
#: Of a section's text, what a title may take at most (the summary gets the rest).
MAX_TITLE_CHARS = 400
#: A runbook "URL" that cannot be a link is shown as text, cut to this.
MAX_UNLINKED_CHARS = 200


def escape(text: str) -> str:
    """Slack's three control characters as entities: the only escaping mrkdwn needs."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = MAX_SECTION_CHARS) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": facts.truncate_escaped(text or " ", limit), "verbatim": True}


def _link(url: str, text: str) -> str:
    return f"<{escape(url)}|{text}>"


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": facts.truncate_escaped(text, MAX_HEADER_CHARS), "emoji": True},
    }


def _fields(n: Notification) -> list[dict[str, Any]]:
    pairs: list[tuple[str, str]] = []
    if facts.is_slo(n):
        tail = [
            ("Budget remaining", facts.budget_text(n.details)),
            ("Time to exhaustion", facts.exhaustion_text(n.details)),
        ]
        room = MAX_FIELDS - len(tail) - 2
        pairs += [(f"{w.name} burn rate", w.burn) for w in facts.window_facts(n.details)[:room]]
        pairs += tail
    else:
        pairs += [(f.label, f.value) for f in facts.generic_facts(n.details, limit=MAX_FIELDS - 2)]
    pairs += [("Occurred", facts.format_time(n.occurred_at)), ("Source", n.source)]
    return [_mrkdwn(f"*{escape(label)}*\n{escape(value)}", MAX_FIELD_CHARS) for label, value in pairs]


def _section(n: Notification, *, with_headline: bool) -> dict[str, Any]:
    lines = []
    if with_headline:
        lines.append(f"{facts.emoji(n)} *{escape(facts.truncate(facts.headline(n), MAX_HEADER_CHARS))}*")
    lines.append(f"*{facts.truncate_escaped(escape(facts.plain_title(n)) or '(no title)', MAX_TITLE_CHARS)}*")
    head = "\n".join(lines)
    summary = escape(n.summary)
    text = head + ("\n" + facts.truncate_escaped(summary, MAX_SECTION_CHARS - len(head) - 1) if summary else "")
    return {"type": "section", "text": _mrkdwn(text), "fields": _fields(n)}


def _context(n: Notification, context: MessageContext) -> dict[str, Any]:
    elements = []
    runbook = facts.safe_link(n.runbook_url)
    if runbook:
        elements.append(_mrkdwn("📖 " + _link(runbook, "Runbook")))
    elif n.runbook_url.strip():
        elements.append(_mrkdwn("📖 Runbook: " + escape(facts.truncate(n.runbook_url, MAX_UNLINKED_CHARS))))
    dashboard = facts.safe_link(context.dashboard_url)
    if dashboard:
        elements.append(_mrkdwn("📊 " + _link(dashboard, "Dashboard")))
    elements.append(_mrkdwn("relops · " + escape(facts.truncate(n.fingerprint, MAX_UNLINKED_CHARS))))
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def _rest(rest: Sequence[Notification], context: MessageContext) -> dict[str, Any]:
    text = escape(facts.rest_line(rest))
    dashboard = facts.safe_link(context.dashboard_url)
    text += (" — " + _link(dashboard, "see the dashboard")) if dashboard else " — see the dashboard"
    return {"type": "section", "text": _mrkdwn(text)}


def render_slack(notifications: Sequence[Notification], context: MessageContext) -> dict[str, Any]:
    """The incoming-webhook payload for one message: a ``text`` fallback (notifications, screen
    readers) and Block Kit ``blocks``. One notification is shown in full; several are grouped:
    a count by severity, the worst ``context.max_full`` in full, one line counting the rest."""
    if not notifications:
        raise ValueError("a message needs at least one notification")
    worst = ordered(notifications)
    first = worst[0]
    if len(worst) == 1:
        fallback = f"{facts.emoji(first)} {facts.labelled_title(first)}"
        blocks = [
            _header(f"{facts.emoji(first)} {escape(facts.headline(first))}"),
            _section(first, with_headline=False),
            _context(first, context),
        ]
    else:
        title = f"{facts.group_emoji(worst)} {facts.group_title(worst)}"
        fallback = f"{title} — worst: {facts.labelled_title(first)}"
        blocks = [_header(escape(title))]
        # Each alert in full takes a section, a context and a divider; the last line takes one.
        room = (MAX_BLOCKS - len(blocks) - 1) // 3
        shown = worst[: max(1, min(context.max_full, room))]
        for n in shown:
            blocks += [_section(n, with_headline=True), _context(n, context), {"type": "divider"}]
        rest = worst[len(shown) :]
        if rest:
            blocks.append(_rest(rest, context))
        else:
            blocks.pop()  # no trailing divider
    return {
        "text": facts.truncate_escaped(escape(fallback), MAX_FALLBACK_CHARS),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
