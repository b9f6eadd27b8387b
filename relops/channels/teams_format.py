"""Microsoft Teams messages for alert notifications: an Adaptive Card (version 1.4) in the envelope a
Teams Workflows webhook ("When a Teams webhook request is received") takes. Pure: no I/O, no clock.

The envelope, as Microsoft documents it ("Send Adaptive Cards using an Incoming Webhook",
https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using)::

    {"type": "message",
     "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
                      "content": <AdaptiveCard>}]}

The card: a header coloured by severity (a Container of style ``attention`` for critical, ``warning``
for warning, ``good`` for a resolution), then each alert shown in full (title, summary, a FactSet of
its burn rates, budget and labels, its runbook and page as ``Action.OpenUrl`` buttons), the worst
``max_full`` of a grouped message and one line counting the rest, as the Slack formatter does.

Text from events is escaped: a TextBlock or a fact renders a subset of Markdown and expands
``{{DATE(...)}}``/``{{TIME(...)}}``, so every character that could start a construct (emphasis, a
link, code, a heading, a list, a date function) is backslash-escaped (CommonMark's escape of ASCII
punctuation) and control characters become spaces: a flow named ``[click](http://evil)`` shows as
written. Only http(s) URLs become buttons; one too long is left out.

Size: Teams refuses a message over 28 KB ("The message size limit is 28 KB", the page above,
"Send messages using Incoming Webhooks" limits). The card is kept under MAX_MESSAGE_BYTES of UTF-8
JSON (with room for the request's own framing): each text is bounded, and a grouped message shows
fewer alerts in full until it fits, counting the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from relops.channels import facts
from relops.channels.alertmanager_format import generator_url, incident_page
from relops.channels.base import MessageContext, Notification, ordered

#: Teams' documented limit is 28 KB; the card stays this far under it.
TEAMS_LIMIT_BYTES = 28 * 1024
MAX_MESSAGE_BYTES = 24 * 1024
CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
#: A grouped message shows at most this many alerts in full, whatever max_full says.
MAX_SHOWN = 10
MAX_HEADER_CHARS = 150
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 1500
MAX_FACTS = 16
#: An alert too big to fit alone is shown with this much of its summary and this many facts.
COMPACT_SUMMARY_CHARS = 300
COMPACT_FACTS = 6
#: ... and only the buttons whose URL is at most this long: every bound together keeps a compact
#: alert's card under MAX_MESSAGE_BYTES (about 16 KB at worst, every character four bytes).
COMPACT_LINK_CHARS = 1000
MAX_FACT_TITLE_CHARS = 60
MAX_FACT_VALUE_CHARS = 200
MAX_FALLBACK_CHARS = 500
#: Labels the card does not repeat as facts: the header and the facts already say them.
_SHOWN_ELSEWHERE = frozenset({"severity", "source"})
#: What CommonMark lets a backslash escape and a Teams TextBlock could read as Markdown or a
#: DATE/TIME function: emphasis, code, links, images, headings, quotes, lists, tables, braces.
_MARKDOWN = re.compile(r"([\\`*_~\[\](){}<>#|!])")
#: At a line's start, "- ", "+ " and "1. " open a list.
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s|$)", re.MULTILINE)
STYLES = {"critical": ("attention", "Attention"), "warning": ("warning", "Warning"), "resolved": ("good", "Good")}


def escape(text: str) -> str:
    """``text`` shown as written in a TextBlock or a fact: Markdown and date functions escaped,
    control characters replaced by spaces."""
    escaped = _MARKDOWN.sub(r"\\\1", facts.printable(text))
    return _LIST_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def _cut(text: str, limit: int) -> str:
    """``text`` cut (before escaping, so no escape is split) to ``limit`` characters."""
    return escape(facts.truncate(text, limit))


def _style(n: Notification) -> tuple[str, str]:
    """The header's container style and text colour."""
    if facts.is_notice(n):
        return "emphasis", "Default"
    if not facts.is_firing(n):
        return STYLES["resolved"]
    return STYLES.get(n.severity, STYLES["warning"])


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text or " ", "wrap": True, **extra}


def _facts(n: Notification, limit: int) -> list[dict[str, str]]:
    pairs: list[tuple[str, str]] = []
    if facts.is_slo(n):
        pairs += [(f"{w.name} burn rate", f"{w.burn}, {w.counts}") for w in facts.window_facts(n.details)]
        pairs += [
            ("Budget remaining", facts.budget_text(n.details)),
            ("Time to exhaustion", facts.exhaustion_text(n.details)),
        ]
    else:
        pairs += [(f.label, f.value) for f in facts.generic_facts(n.details, limit=8)]
    pairs += [(name, value) for name, value in sorted(n.labels.items()) if name not in _SHOWN_ELSEWHERE]
    pairs += [("Occurred", facts.format_time(n.occurred_at)), ("Source", n.source)]
    return [
        {"title": _cut(title, MAX_FACT_TITLE_CHARS), "value": _cut(value, MAX_FACT_VALUE_CHARS) or " "}
        for title, value in pairs[:limit]
    ]


def _links(n: Notification, context: MessageContext, max_chars: int) -> list[dict[str, Any]]:
    found: list[tuple[str, str | None]] = [
        ("Runbook", facts.safe_link(n.runbook_url)),
        ("Open in relops", generator_url(n, context.dashboard_url) if not facts.is_notice(n) else None),
    ]
    if n.incident_id is not None and facts.is_firing(n):
        page = incident_page(n, context.dashboard_url)
        if page and page != found[1][1]:
            found.append(("Incident", page))
    return [
        {"type": "Action.OpenUrl", "title": title, "url": url} for title, url in found if url and len(url) <= max_chars
    ]


def _alert(n: Notification, context: MessageContext, *, with_headline: bool, compact: bool = False) -> dict[str, Any]:
    """One alert in full; ``compact``: fewer facts and a shorter summary, for an alert whose full
    card would not fit the message alone."""
    items = []
    if with_headline:
        _, colour = _style(n)
        items.append(
            _text(f"{facts.emoji(n)} {_cut(facts.headline(n), MAX_HEADER_CHARS)}", weight="Bolder", color=colour)
        )
    items.append(_text(_cut(facts.plain_title(n), MAX_TITLE_CHARS) or "(no title)", weight="Bolder"))
    if n.summary.strip():
        items.append(_text(_cut(n.summary, COMPACT_SUMMARY_CHARS if compact else MAX_SUMMARY_CHARS), spacing="Small"))
    items.append({"type": "FactSet", "facts": _facts(n, COMPACT_FACTS if compact else MAX_FACTS)})
    links = _links(n, context, COMPACT_LINK_CHARS if compact else facts.MAX_LINK_CHARS * 3)
    if links:
        items.append({"type": "ActionSet", "actions": links})
    return {"type": "Container", "separator": with_headline, "spacing": "Medium", "items": items}


def _header(text: str, style: tuple[str, str]) -> dict[str, Any]:
    container_style, colour = style
    heading = _text(text, weight="Bolder", size="Large", color=colour)
    return {"type": "Container", "style": container_style, "bleed": True, "items": [heading]}


def message_bytes(message: dict[str, Any]) -> int:
    """The message's size as sent (relops.channels.http.post_json: compact UTF-8 JSON)."""
    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _envelope(card: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _card(body: list[dict[str, Any]], fallback: str, context: MessageContext) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": escape(facts.truncate(fallback, MAX_FALLBACK_CHARS)),
        "body": body,
    }
    dashboard = facts.safe_link(context.dashboard_url)
    if dashboard:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "relops dashboard", "url": dashboard}]
    return card


def render_teams(notifications: Sequence[Notification], context: MessageContext) -> dict[str, Any]:
    """The Workflows webhook's payload for one message. One notification is shown in full; several are
    grouped: a count by severity, the worst ``context.max_full`` in full, one line counting the rest.
    A message that would pass MAX_MESSAGE_BYTES shows fewer alerts in full, and a single alert too
    big alone is shown compact (COMPACT_*: bounded so that it always fits)."""
    if not notifications:
        raise ValueError("a message needs at least one notification")
    worst = ordered(notifications)
    count, compact = max(1, min(context.max_full, MAX_SHOWN)), False
    while True:
        message = _envelope(_message_card(worst, count, compact, context))
        if message_bytes(message) <= MAX_MESSAGE_BYTES or (count == 1 and compact):
            return message
        if count > 1:
            count -= 1
        else:
            compact = True


def _message_card(worst: Sequence[Notification], count: int, compact: bool, context: MessageContext) -> dict[str, Any]:
    """The card showing the first ``count`` of ``worst`` in full and counting the rest."""
    first = worst[0]
    if len(worst) == 1:
        header = _header(f"{facts.emoji(first)} {_cut(facts.headline(first), MAX_HEADER_CHARS)}", _style(first))
        body = [header, _alert(first, context, with_headline=False, compact=compact)]
        return _card(body, facts.labelled_title(first), context)
    title = f"{facts.group_emoji(worst)} {facts.group_title(worst)}"
    body = [_header(escape(title), _style(first))]
    body += [_alert(n, context, with_headline=True, compact=compact) for n in worst[:count]]
    rest = worst[count:]
    if rest:
        body.append(_text(escape(facts.rest_line(rest)) + " — see the relops dashboard", isSubtle=True))
    return _card(body, f"{title} — worst: {facts.labelled_title(first)}", context)
