"""Apprise: relops' alerts to the long tail of chat and push services (Discord, Telegram, ntfy,
Matrix, Mattermost, Pushover, and about a hundred more) through the ``apprise`` library.

A ``[receivers.NAME]`` of ``type = "apprise"``; the type has no default receiver::

    [receivers.phones]
    type = "apprise"
    url_env = "RELOPS_APPRISE_URLS"     # "ntfys://tk_…@ntfy.example.com/oncall, discord://ID/TOKEN"

- **Apprise's plugins, relops' delivery:** for each URL relops builds the service's plugin
  (``Apprise.instantiate``) and calls its ``notify()`` once per attempt, itself: Apprise's own
  retries (2.x's per-service ``retry``) never run, and the receiver's ``connect_timeout_s`` and
  ``read_timeout_s`` replace whatever ``cto``/``rto`` the URL says. relops' retries with backoff,
  the receiver's breaker, its rate limit and dead letters apply as to every receiver.
- **Outcome:** a plugin answers only True or False; why it failed is read from what it logged
  (relops.channels.apprise_outcome): 4xx but 408/429 is a dead letter, 408/429/5xx and connection
  failures (timeouts included) are retried.
- **Several URLs:** each hears every message. One that failed makes the delivery retry, and the
  retry goes only to the URLs that have not taken the message yet, whichever worker process runs it:
  each URL's digest is recorded in Redis the moment it took the message (the context's
  ``delivered``, relops.state.delivered_parts). Only when all fail is it an outage of the receiver
  (its breaker counts it).
- **Secrets:** an Apprise URL holds its service's token, so it never appears in a log line, an
  error, a stored payload or destination(), which shows only the URLs' schemes ("apprise: ntfy,
  discord"); Apprise's own logger never reaches relops' logs (relops.channels.apprise_log).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import apprise
from apprise import NotifyFormat, NotifyType

from relops.channels.apprise_format import MAX_TITLE_CHARS, render_apprise
from relops.channels.apprise_log import captured
from relops.channels.apprise_outcome import failure
from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.config.routing import ReceiverConfig
from relops.settings import named_variable

__all__ = ["MAX_URLS", "AppriseChannel", "scheme_of", "split_urls"]

#: URLs one receiver sends to: a team's chat and its phones, not a broadcast list.
MAX_URLS = 10
#: Where a list of Apprise URLs splits: commas, semicolons or spaces before the next ``scheme://``,
#: so commas inside a URL's query (ntfy's ``?tags=a,b``) stay in the URL.
_SPLIT = re.compile(r"[\s,;]+(?=[A-Za-z0-9]{1,32}://)")
_SCHEME = re.compile(r"^([A-Za-z0-9]{1,32})://")


def split_urls(text: str) -> list[str]:
    """The Apprise URLs of an environment variable's value, in order, each once."""
    urls = (part.strip().strip(",;").strip() for part in _SPLIT.split(text.strip()))
    return list(dict.fromkeys(url for url in urls if url))


def scheme_of(url: str) -> str | None:
    """The service's scheme ("ntfy", "discord"), lower-case; None when ``url`` does not start
    with one. Never more of the URL than that: the rest may be a token."""
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else None


def _asset() -> apprise.AppriseAsset:
    # Persistent storage in memory only (nothing written to a worker's disk); redirects not
    # followed, as relops' own HTTP channels do not (a POST must not turn into a GET elsewhere).
    return apprise.AppriseAsset(storage_mode="memory", http_redirects=False, default_service_retry=0)


def _plugin(url: str) -> apprise.NotifyBase | None:
    """The service's plugin for ``url``, or None when Apprise cannot use it. What Apprise logs
    while parsing (the URL, whole) is captured and dropped."""
    with captured():
        try:
            return apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)
        except Exception:  # any failure to parse is "cannot use it"; its text may quote the URL
            return None


class AppriseChannel(Channel):
    """Sends each message through Apprise to every URL the receiver's variable lists."""

    name = "apprise"
    #: Unused: every apprise receiver is a [receivers.NAME] with a breaker of its own.
    default_breaker = "apprise"
    has_default_receiver = False
    destination_keys = frozenset({"url_env"})
    default_severities = ("warning", "critical")
    # Chat services throttle hard (Telegram about one message a second per chat, Discord five per
    # two seconds per webhook); grouping keeps a storm to a few messages anyway.
    default_rate_per_s = 1.0

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.url_env is None:
            return (
                "field 'url_env': an apprise receiver needs the environment variable that holds its Apprise URLs "
                "(comma-separated)"
            )
        return None

    def _variable(self) -> str:
        return self.spec.url_env if self.spec is not None and self.spec.url_env else "(unset)"

    def _urls(self) -> list[str]:
        value = named_variable(self._variable())
        return split_urls(value.get_secret_value()) if value is not None else []

    def _where(self, index: int, count: int) -> str:
        return f"url_env {self._variable()}" + (f" (URL {index} of {count})" if count > 1 else "")

    def missing_configuration(self) -> str | None:
        if self.spec is None:
            return 'an apprise receiver needs a [receivers.NAME] entry of type "apprise"'
        urls = self._urls()
        if not urls:
            return f"url_env {self._variable()} is not set"
        if len(urls) > MAX_URLS:
            return f"url_env {self._variable()} lists {len(urls)} URLs; at most {MAX_URLS}"
        for index, url in enumerate(urls, 1):
            if _plugin(url) is None:
                scheme = scheme_of(url)
                what = f"this {scheme}:// URL" if scheme else "it (no scheme:// at its start)"
                return (
                    f"{self._where(index, len(urls))}: Apprise cannot use {what}: an unknown scheme, or a part "
                    "the service needs is missing or malformed (the URL is not shown: it holds a token)"
                )
        return None

    def destination(self) -> str:
        schemes = [scheme_of(url) or "?" for url in self._urls()]
        if not schemes:
            return "apprise (not configured)"
        return "apprise: " + ", ".join(dict.fromkeys(schemes))

    def rate_limit_key(self) -> str:
        # Two receivers of the same services read the same; a digest of the URLs tells them apart.
        digest = hashlib.sha256(",".join(self._urls()).encode()).hexdigest()[:16]
        return f"{self.destination()}#{digest}"

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        if problem is not None:
            raise DeliveryError(problem, retryable=False)
        urls = self._urls()
        # One URL needs no record: a retry goes to it whatever happened.
        record = context.delivered if len(urls) > 1 else None
        took = record.taken() if record is not None else frozenset()
        failures: list[DeliveryError] = []
        for index, url in enumerate(urls, 1):
            digest = hashlib.sha256(url.encode()).hexdigest()
            if digest in took:
                continue
            describe = f"apprise {scheme_of(url)}" + (f" (URL {index} of {len(urls)})" if len(urls) > 1 else "")
            error = self._send_one(url, describe, notifications, context)
            if error is not None:
                failures.append(error)
            elif record is not None:
                # Before the next URL: a worker killed during it must not send here again on retry.
                record.took(digest)
        if failures:
            raise _combined(failures, len(urls) - len(failures), len(urls))
        if record is not None:
            record.finished()

    def _send_one(
        self, url: str, describe: str, notifications: Sequence[Notification], context: MessageContext
    ) -> DeliveryError | None:
        """One attempt at one URL: None when the service took the message."""
        plugin = _plugin(url)
        if plugin is None:
            return DeliveryError(f"{describe}: Apprise cannot use the URL", retryable=False)
        # The receiver's timeouts bound every request, whatever cto/rto the URL says; a fresh plugin
        # per attempt carries no throttle wait or "already delivered" memory of Apprise's own.
        plugin.socket_connect_timeout = self.config.connect_timeout_s
        plugin.socket_read_timeout = self.config.read_timeout_s
        markdown = plugin.resolve_format(NotifyFormat.MARKDOWN) == NotifyFormat.MARKDOWN
        max_title, max_body = _limits(plugin)
        message = render_apprise(
            notifications, context, markdown=markdown, max_title_chars=max_title, max_body_chars=max_body
        )
        crashed: str | None = None
        with captured() as lines:
            try:
                delivered = plugin.notify(
                    body=message.body,
                    title=message.title,
                    notify_type=NotifyType(message.notify_type),
                    body_format=NotifyFormat.MARKDOWN if markdown else NotifyFormat.TEXT,
                )
            except Exception as exc:  # a plugin's bug is a failed attempt, not a crashed worker
                crashed, delivered = type(exc).__name__, False
        # Raised outside the except block: the plugin's exception (its text may quote the URL) is
        # not chained into the DeliveryError.
        if crashed is not None:
            return DeliveryError(f"{describe}: Apprise's plugin raised {crashed}", retryable=True)
        return None if delivered else failure(describe, lines)


def _limits(plugin: apprise.NotifyBase) -> tuple[int, int]:
    """(title, body) characters the service takes. Where its title counts against its body's limit
    (Discord's 2,000 characters hold both: overflow_amalgamate_title), the body leaves the title room."""
    title = min(int(plugin.title_maxlen), MAX_TITLE_CHARS)
    body = int(plugin.body_maxlen)
    if getattr(plugin, "overflow_amalgamate_title", False) and title > 0:
        body -= title + 2
    return title, body


def _combined(failures: Sequence[DeliveryError], took: int, urls: int) -> DeliveryError:
    """One error for a message some of a receiver's URLs did not take: retried if any failure is
    worth retrying (those that took it are skipped), partial (no outage) when some took it."""
    if urls == 1:
        return failures[0]
    retryable = [f for f in failures if f.retryable]
    first = retryable[0] if retryable else failures[0]
    return DeliveryError(
        "; ".join(f.reason for f in failures) + f" ({took} of {urls} URLs took it)",
        retryable=bool(retryable),
        retry_after_s=max((f.retry_after_s or 0 for f in retryable), default=0) or None,
        status=first.status,
        partial=took > 0,
    )
