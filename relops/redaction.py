"""What must never reach a log, an error message, a stored payload or Flower, and how to mask it.

One module that every channel, the local-server tool and the error paths use; it imports no channel
code. A webhook URL is a credential (whoever has it can post), so are API keys and connection
passwords; receivers may echo any of them back in an error body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from relops_client.redis_connect import is_sentinel_url

from relops.settings import Settings

MASK = "***"
#: Shorter values are too likely to occur in ordinary text to mask them wherever they appear.
MIN_SECRET_CHARS = 4
_SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
#: Path segments after which every segment is a secret: Slack's /services/T…/B…/TOKEN (first
#: segment only), Mattermost's /hooks/KEY, Discord's and Rocket.Chat's /…/webhooks/ID/TOKEN.
_SECRET_AFTER_FIRST = "services"
_SECRET_AFTER_ANY = frozenset({"hooks", "webhooks"})
#: A path segment that looks like a token anywhere else: 16+ URL-safe characters mixing letters
#: and digits. Plain words ("alerts", "webhook-receiver") and numeric ids stay visible.
_TOKEN = re.compile(r"^(?=[^/]*[A-Za-z])(?=[^/]*\d)[A-Za-z0-9_\-.~=+%]{16,}$")
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def _masked_segments(host: str, path: str) -> list[bool]:
    """For each "/"-separated segment of a webhook URL's ``path``: whether it is a secret."""
    segments = path.split("/")
    named = [i for i, s in enumerate(segments) if s]
    first = named[0] if named else len(segments)
    if host in _SLACK_HOSTS or (named and segments[first].lower() == _SECRET_AFTER_FIRST):
        # Slack (and Slack-compatible receivers): /services/T…/B…/TOKEN, /triggers/…, /workflows/…
        return [i > first and bool(s) for i, s in enumerate(segments)]
    masks = []
    secret_from_here = False
    for segment in segments:
        masks.append(bool(segment) and (secret_from_here or bool(_TOKEN.match(segment))))
        secret_from_here = secret_from_here or segment.lower() in _SECRET_AFTER_ANY
    return masks


def redact_url(url: str, what: str = "webhook") -> str:
    """scheme://host[:port]/path of ``url`` with no user info, query or fragment, and the path's
    secret segments (webhook rules) replaced by "***"; ``what`` names a malformed one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return f"{what} (malformed URL)"
    host = (parts.hostname or "").lower()
    shown_host = f"[{host}]" if ":" in host else host
    segments = parts.path.split("/")
    masks = _masked_segments(host, parts.path)
    path = "/".join(MASK if masked else s for s, masked in zip(segments, masks, strict=True))
    return f"{parts.scheme.lower()}://{shown_host}{f':{port}' if port else ''}{path}"


def url_credentials(url: str) -> list[str]:
    """The parts of any URL that may carry a credential: password, query and fragment (of each
    entry of a sentinel:// URL, whose entries are separated by ";")."""
    if is_sentinel_url(url):
        return sorted({c for entry in url.split(";") for c in _single_url_credentials(entry)}, key=len, reverse=True)
    return _single_url_credentials(url)


def _single_url_credentials(url: str) -> list[str]:
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return [url]
    return [s for s in (password, parts.query, parts.fragment) if s]


def url_secrets(url: str) -> list[str]:
    """Every part of a webhook ``url`` an error message must not quote: the URL, its path, query,
    password and masked path segments (raw and percent-decoded)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url]
    host = (parts.hostname or "").lower()
    secrets = {url, url.strip(), *url_credentials(url)}
    if parts.query:
        secrets.add(f"{parts.path}?{parts.query}")
    segments = parts.path.split("/")
    for segment, masked in zip(segments, _masked_segments(host, parts.path), strict=True):
        if masked and len(segment) >= MIN_SECRET_CHARS:
            secrets.update({segment, unquote(segment)})
    return sorted((s for s in secrets if s), key=len, reverse=True)


def known_secrets(settings: Settings) -> list[str]:
    """Every secret value ``settings`` hold: the webhook URL's secret parts, the Resend key and every
    connection password; longest first."""
    found: set[str] = set()
    if settings.webhook_url is not None:
        found.update(url_secrets(settings.webhook_url.get_secret_value()))
    if settings.resend_api_key is not None:
        found.add(settings.resend_api_key.get_secret_value())
    if settings.redis_sentinel_password is not None:
        found.add(settings.redis_sentinel_password.get_secret_value())
    if settings.slack_signing_secret is not None:
        found.add(settings.slack_signing_secret.get_secret_value())
    if settings.pagerduty_webhook_secrets is not None:
        found.update(s.strip() for s in settings.pagerduty_webhook_secrets.get_secret_value().split(","))
    for url in (
        settings.redis_url,
        settings.celery_broker_url,
        settings.database_url,
        settings.admin_database_url,
        settings.web_database_url,
    ):
        if url and is_sentinel_url(url):
            found.update(_sentinel_passwords(url))
        elif url:
            try:
                found.add(urlsplit(url).password or "")
            except ValueError:  # an unparsable URL has no password to mask; settings validation reports it
                continue
    return sorted((s for s in found if len(s) >= MIN_SECRET_CHARS), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str], *, limit: int | None = None) -> str:
    """``text`` on one line, with every secret replaced by "***" (longest first) and cut to ``limit``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _WHITESPACE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _sentinel_passwords(url: str) -> set[str]:
    """Every password a sentinel:// URL's entries carry, raw and percent-decoded."""
    found = set()
    for entry in url.split(";"):
        try:
            password = urlsplit(entry.strip()).password
        except ValueError:
            continue
        if password:
            found.update({password, unquote(password)})
    return found


def mask_password(url: str) -> str:
    """``url`` with its password, if any, replaced by "***" (for showing a connection URL; each
    entry of a sentinel:// URL)."""
    if is_sentinel_url(url):
        return ";".join(_mask_one_password(entry) for entry in url.split(";"))
    return _mask_one_password(url)


def _mask_one_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{netloc}"))


#: Query parameters whose values are credentials whatever they look like.
SECRET_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "passwd", "session", "auth", "csrf"}
)
#: relops' own credentials: API tokens (rlp_…) and any later key with a prefix of the same shape.
_RELOPS_CREDENTIAL = re.compile(r"rl[a-z]_[A-Za-z0-9_\-]{16,}")
#: A long unbroken run of URL-safe characters: session ids (43), hex digests (64), others' API keys.
#: Shorter names (a flow like checkout-eu-west-1) stay readable in the log.
_LONG_RANDOM = re.compile(r"[A-Za-z0-9_\-]{32,}")


def _secret_value(value: str) -> bool:
    return bool(_RELOPS_CREDENTIAL.search(value) or _LONG_RANDOM.search(value))


def redact_request_target(target: str) -> str:
    """A request's path and query as an access log may show them: the values of credential-named
    parameters, and any path segment or value shaped like a credential (relops' ``rlp_…``, or 32 and
    more URL-safe characters in a row), replaced by "***"; so is the segment after ``ping``, the key of a
    ping URL (/api/v1/ping/<key>/<job>), whatever its shape."""
    path, _, query = target.partition("?")
    parts = path.split("/")
    # The segment after /ping/ is a report key whatever its shape (a mistyped one is still most of a key).
    segments = [
        MASK if _secret_value(unquote(s)) or (i > 0 and parts[i - 1] == "ping") else s for i, s in enumerate(parts)
    ]
    shown = "/".join(segments)
    if not query:
        return shown
    pairs = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        masked = name.lower() in SECRET_PARAMETERS or _secret_value(value)
        pairs.append(f"{quote(name, safe='')}={MASK if masked else quote(value, safe='')}")
    return f"{shown}?{'&'.join(pairs)}"
