"""The title and body of an alert message sent through Apprise. Pure: no I/O, no clock.

Apprise delivers one title and one body to every service it knows, each service rendering them its
own way; the body is Markdown where the target renders Markdown (Discord, Telegram, Matrix,
Mattermost, or ntfy with ``?format=markdown``) and plain text elsewhere (the caller asks the target,
relops.channels.apprise). In Markdown every piece of text that came from an event is escaped, so a
flow named ``**[click](http://evil)**`` shows as written instead of becoming a link; only http(s)
URLs (facts.safe_link) become links.

Bounded: the title to what the target takes (a target without titles gets it as the body's first
line), the body to the target's limit and at most MAX_BODY_CHARS, a readable page. A grouped
message shows the worst ``max_full`` alerts in full, as many as fit, and counts the rest in its
last line, as the Slack and email messages do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from relops.channels import facts
from relops.channels.base import MessageContext, Notification, ordered

#: Our own bound on a body (Discord takes 2,000 characters, Telegram 4,096, ntfy 4,096 bytes
#: before it turns the message into an attachment): a page read on a phone.
MAX_BODY_CHARS = 4000
MAX_TITLE_CHARS = 250
#: What a body may be cut to at the least: a target with a tighter limit still gets a headline.
MIN_BODY_CHARS = 200
MAX_SUMMARY_CHARS = 1000
MAX_LABELS_CHARS = 400
#: A runbook "URL" that cannot be a link is shown as text, cut to this.
MAX_UNLINKED_CHARS = 200
#: Apprise's notification types (apprise.NotifyType values): the colour or icon a target shows.
NOTIFY_TYPES = {"critical": "failure", "warning": "warning", "resolved": "success", "notice": "info"}
#: Characters Markdown (CommonMark, Discord, Telegram's MarkdownV2) reads as markup.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class AppriseMessage:
    title: str
    body: str
    #: True: ``body`` is Markdown; False: plain text.
    markdown: bool
    #: Apprise's notification type ("failure", "warning", "success", "info").
    notify_type: str


def escape_markdown(text: str) -> str:
    """``text`` with every character Markdown reads as markup backslash-escaped and control
    characters replaced."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", facts.printable(text))


def _one_line(text: str) -> str:
    return _ONE_LINE.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, never ending inside a backslash escape."""
    if len(text) <= limit:
        return text
    kept = text[: max(limit - 1, 0)]
    trailing = len(kept) - len(kept.rstrip("\\"))
    if trailing % 2:
        kept = kept[:-1]
    return kept + facts.ELLIPSIS


class _Writer:
    """Text in the target's format: Markdown (escaped, bold, links) or plain."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown

    def text(self, value: str) -> str:
        return escape_markdown(value) if self.markdown else facts.printable(value)

    def bold(self, value: str) -> str:
        return f"**{self.text(value)}**" if self.markdown else self.text(value)

    def link(self, url: str, label: str) -> str | None:
        safe = facts.safe_link(url)
        if safe is None:
            return None
        if self.markdown:
            # Parentheses would end a Markdown link early.
            return f"[{label}]({safe.replace('(', '%28').replace(')', '%29')})"
        return f"{label}: {safe}"


def _fact_lines(n: Notification, out: _Writer) -> list[str]:
    windows = facts.window_facts(n.details)
    lines = [f"- {out.text(w.name)} burn rate: {out.text(w.burn)}, {out.text(w.counts)}" for w in windows]
    listed = facts.slo_facts(n.details) if facts.is_slo(n) else facts.generic_facts(n.details)
    lines += [f"- {out.text(f.label)}: {out.text(f.value)}" for f in listed]
    lines.append(f"- Occurred: {out.text(facts.format_time(n.occurred_at))}")
    if n.labels:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items()))
        lines.append(f"- Labels: {out.text(facts.truncate(_one_line(shown), MAX_LABELS_CHARS))}")
    return lines


def _link_line(n: Notification, context: MessageContext, out: _Writer) -> str:
    links = []
    runbook = out.link(n.runbook_url, "Runbook")
    if runbook:
        links.append(runbook)
    elif n.runbook_url.strip():
        links.append("Runbook: " + out.text(facts.truncate(_one_line(n.runbook_url), MAX_UNLINKED_CHARS)))
    dashboard = out.link(context.dashboard_url, "Dashboard")
    if dashboard:
        links.append(dashboard)
    links.append("relops · " + out.text(facts.truncate(n.fingerprint, MAX_UNLINKED_CHARS)))
    return " · ".join(links)


def _block(n: Notification, context: MessageContext, out: _Writer, *, with_headline: bool, limit: int) -> str:
    """One notification in full, within ``limit`` characters: the summary gives way first."""
    head = []
    if with_headline:
        head.append(f"{facts.emoji(n)} " + out.bold(facts.headline(n)))
    head.append(out.bold(facts.truncate(_one_line(facts.plain_title(n)), MAX_TITLE_CHARS)))
    tail = ["", *_fact_lines(n, out), _link_line(n, context, out)]
    fixed = len("\n".join([*head, *tail])) + 1
    summary = out.text(facts.truncate(n.summary.strip(), MAX_SUMMARY_CHARS))
    if summary:
        room = limit - fixed
        if room < 40:
            summary = ""
        elif len(summary) > room:
            summary = _cut(summary, room)
    return _cut("\n".join([*head, *([summary] if summary else []), *tail]), limit)


def _rest_line(rest: Sequence[Notification], context: MessageContext, out: _Writer) -> str:
    dashboard = out.link(context.dashboard_url, "see the dashboard")
    return out.bold(facts.rest_line(rest)) + " — " + (dashboard or "see the dashboard")


def render_apprise(
    notifications: Sequence[Notification],
    context: MessageContext,
    *,
    markdown: bool,
    max_title_chars: int = MAX_TITLE_CHARS,
    max_body_chars: int = MAX_BODY_CHARS,
) -> AppriseMessage:
    """The message for ``notifications`` (one in full; several grouped, worst first). A target that
    takes no title (``max_title_chars`` 0) gets the title as the body's first line."""
    if not notifications:
        raise ValueError("a message needs at least one notification")
    out = _Writer(markdown)
    worst = ordered(notifications)
    first = worst[0]
    if len(worst) == 1:
        title = f"{facts.emoji(first)} {facts.labelled_title(first)}"
    else:
        title = f"{facts.group_emoji(worst)} {facts.group_title(worst)}"
    title = _one_line(facts.printable(title))
    limit = max(min(max_body_chars, MAX_BODY_CHARS), MIN_BODY_CHARS)
    lead = ""
    if max_title_chars <= 0:
        lead = out.bold(facts.truncate(title, MAX_TITLE_CHARS)) + "\n\n"
        title = ""
    else:
        title = facts.truncate(title, min(max_title_chars, MAX_TITLE_CHARS))
    room = limit - len(lead)
    if len(worst) == 1:
        body = _block(first, context, out, with_headline=False, limit=room)
    else:
        # The count line is written last but its room is kept from the start: the most it can say
        # is every alert but the first.
        room -= len(_rest_line(worst[1:], context, out)) + 2
        blocks: list[str] = []
        for n in worst[: max(1, context.max_full)]:
            block = _block(n, context, out, with_headline=True, limit=max(room, MIN_BODY_CHARS // 2))
            if blocks and len(block) + 2 > room:
                break
            blocks.append(block)
            room -= len(block) + 2
        rest = worst[len(blocks) :]
        body = "\n\n".join(blocks)
        if rest:
            body += "\n\n" + _rest_line(rest, context, out)
    kind = "notice" if facts.is_notice(first) else "resolved" if not facts.is_firing(first) else first.severity
    return AppriseMessage(
        title=title,
        body=_cut(lead + body, limit),
        markdown=markdown,
        notify_type=NOTIFY_TYPES.get(kind, "info"),
    )
