"""Slack Block Kit messages for alert notifications. Pure: no I/O, no clock.

Every piece of text that came from an event is escaped (``&``, ``<``, ``>``, and control
characters replaced) so a hostile flow name such as ``<!channel>`` or ``<http://evil|click>`` can
neither ping anyone nor forge a link, and every mrkdwn text object is ``verbatim`` so Slack does
not auto-link or auto-mention plain text. Only http(s) URLs become links, and a link is never cut:
one too long to fit is shown as text.

Slack's limits are respected, counted the way Slack counts them (UTF-16 code units, after
escaping): at most 50 blocks, header text ≤ 150, section text ≤ 3,000, field text ≤ 2,000, and
the whole message's block text under 12,000 (Slack answers ``msg_blocks_too_long`` somewhere
above that). A grouped message shows as many alerts in full as fit (at most 16, the block limit;
12 with buttons) and counts the rest in its last line.

With ``buttons`` (a Slack app's signing secret is configured), each firing alert of an incident
gets an ``actions`` block of Acknowledge, Resolve and Silence 1 h (relops.channels.slack_actions),
which the Slack app sends back to the intake's ``/api/v1/slack/interactions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relops.channels import facts
from relops.channels.base import MessageContext, Notification, ordered
from relops.channels.slack_actions import actions_block, block_id, episode_key

MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_CHARS = 3000
#: Slack refuses a message whose blocks hold roughly 12,000-13,000 characters of text in total.
MAX_MESSAGE_TEXT = 12_000
#: Each alert shown in full takes a section, a context and a divider.
BLOCKS_PER_ALERT = 3
#: What a message can show in full: the header and the count line leave 48 blocks.
MAX_SHOWN = (MAX_BLOCKS - 2) // BLOCKS_PER_ALERT
#: Of a section's text, what a title may take at most (the summary gets the rest).
MAX_TITLE_CHARS = 400
#: Our own bound on a field (Slack allows 2,000): ten of them must leave room for the rest.
MAX_OWN_FIELD_CHARS = 400
#: The longest link we write (escaped); a longer URL is shown as text instead of a cut link.
MAX_LINK_CHARS = 1000
#: A runbook "URL" that cannot be a link is shown as text, cut to this.
MAX_UNLINKED_CHARS = 200
ELLIPSIS = facts.ELLIPSIS


def slack_length(text: str) -> int:
    """Length as Slack counts it: UTF-16 code units (an emoji like 🔴 is two)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Slack's three control characters as entities, the only escaping mrkdwn needs; control
    characters (bell, escape sequences) become spaces."""
    return facts.printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate_escaped(text: str, limit: int) -> str:
    """``text`` (already escaped) cut to at most ``limit`` UTF-16 code units, ending in "…" when cut,
    never inside an &entity;."""
    if slack_length(text) <= limit:
        return text
    budget, cut = limit - 1, []
    for char in text:
        budget -= 2 if ord(char) > 0xFFFF else 1
        if budget < 0:
            break
        cut.append(char)
    kept = "".join(cut)
    amp = kept.rfind("&")
    if amp != -1 and ";" not in kept[amp:]:
        kept = kept[:amp]
    return kept + ELLIPSIS


def _mrkdwn(text: str, limit: int = MAX_SECTION_CHARS) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate_escaped(text or " ", limit), "verbatim": True}


def _link(url: str, text: str) -> str | None:
    """``<url|text>``, or None when the escaped link is too long to write whole."""
    link = f"<{escape(url)}|{text}>"
    return link if slack_length(link) <= MAX_LINK_CHARS else None


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate_escaped(text, MAX_HEADER_CHARS), "emoji": True},
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
    return [_mrkdwn(f"*{escape(label)}*\n{escape(value)}", MAX_OWN_FIELD_CHARS) for label, value in pairs]


def _section(n: Notification, *, with_headline: bool) -> dict[str, Any]:
    lines = []
    if with_headline:
        lines.append(f"{facts.emoji(n)} *{escape(facts.truncate(facts.headline(n), MAX_HEADER_CHARS))}*")
    lines.append(f"*{truncate_escaped(escape(facts.plain_title(n)) or '(no title)', MAX_TITLE_CHARS)}*")
    head = "\n".join(lines)
    summary = escape(n.summary)
    text = head + ("\n" + truncate_escaped(summary, MAX_SECTION_CHARS - slack_length(head) - 1) if summary else "")
    return {"type": "section", "text": _mrkdwn(text), "fields": _fields(n)}


def _context(n: Notification, context: MessageContext) -> dict[str, Any]:
    elements = []
    runbook = facts.safe_link(n.runbook_url)
    runbook_link = _link(runbook, "Runbook") if runbook else None
    if runbook_link:
        elements.append(_mrkdwn("📖 " + runbook_link))
    elif n.runbook_url.strip():
        elements.append(_mrkdwn("📖 Runbook: " + escape(facts.truncate(n.runbook_url, MAX_UNLINKED_CHARS))))
    dashboard = _dashboard_link(context, "Dashboard")
    if dashboard:
        elements.append(_mrkdwn("📊 " + dashboard))
    elements.append(_mrkdwn("relops · " + escape(facts.truncate(n.fingerprint, MAX_UNLINKED_CHARS))))
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def _dashboard_link(context: MessageContext, text: str) -> str | None:
    dashboard = facts.safe_link(context.dashboard_url)
    return _link(dashboard, text) if dashboard else None


def _rest(rest: Sequence[Notification], context: MessageContext) -> dict[str, Any]:
    link = _dashboard_link(context, "see the dashboard")
    return {"type": "section", "text": _mrkdwn(escape(facts.rest_line(rest)) + " — " + (link or "see the dashboard"))}


def block_text_length(blocks: Sequence[dict[str, Any]]) -> int:
    """The text of ``blocks`` as Slack totals it for its message limit: every text object's text (a
    button's label too)."""
    total = 0
    for block in blocks:
        texts = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        for t in texts:
            inner = t.get("text") if isinstance(t, dict) else None
            inner = inner.get("text") if isinstance(inner, dict) else inner
            total += slack_length(inner) if isinstance(inner, str) else 0
    return total


def _buttons(n: Notification, buttons: bool, given: set[str]) -> list[dict[str, Any]]:
    """The alert's actions block, when buttons are on and it is a firing alert of an incident whose
    episode has no buttons in this message yet (``given``: their block ids). Two firings of one
    episode can meet in a message (a warning that became critical within the group wait); Block
    Kit refuses a message whose block_ids repeat, so the first (the worst) carries them."""
    if not (buttons and n.kind == "firing" and n.incident_id is not None):
        return []
    block = block_id(n.incident_id, episode_key(n.opened_at))
    if block in given:
        return []
    given.add(block)
    return [actions_block(n.incident_id, block=block)]


def render_slack(
    notifications: Sequence[Notification], context: MessageContext, *, buttons: bool = False
) -> dict[str, Any]:
    """The incoming-webhook payload for one message: a ``text`` fallback (notifications, screen
    readers) and Block Kit ``blocks``. One notification is shown in full; several are grouped:
    a count by severity, the worst ``context.max_full`` in full, one line counting the rest.
    ``buttons``: each firing alert of an incident carries Acknowledge, Resolve and Silence 1 h."""
    if not notifications:
        raise ValueError("a message needs at least one notification")
    worst = ordered(notifications)
    first = worst[0]
    given: set[str] = set()
    if len(worst) == 1:
        fallback = f"{facts.emoji(first)} {facts.labelled_title(first)}"
        blocks = [
            _header(f"{facts.emoji(first)} {escape(facts.headline(first))}"),
            _section(first, with_headline=False),
            _context(first, context),
            *_buttons(first, buttons, given),
        ]
    else:
        title = f"{facts.group_emoji(worst)} {facts.group_title(worst)}"
        fallback = f"{title} — worst: {facts.labelled_title(first)}"
        blocks = [_header(escape(title))]
        # The count line is written last but its room is kept from the start: the most it can say
        # is every alert but the first.
        room = MAX_MESSAGE_TEXT - block_text_length([*blocks, _rest(worst[1:], context)])
        shown = 0
        for n in worst[: max(1, min(context.max_full, MAX_SHOWN))]:
            offered = set(given)
            alert = [_section(n, with_headline=True), _context(n, context), *_buttons(n, buttons, offered)]
            alert.append({"type": "divider"})
            cost = block_text_length(alert)
            # The count line's block is kept too (the last alert's divider makes room for it).
            if shown and (cost > room or len(blocks) + len(alert) > MAX_BLOCKS):
                break
            given = offered
            blocks += alert
            room -= cost
            shown += 1
        rest = worst[shown:]
        if rest:
            blocks.append(_rest(rest, context))
        else:
            blocks.pop()  # no trailing divider
    return {
        "text": truncate_escaped(escape(fallback), MAX_FALLBACK_CHARS),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
