"""Every secret value this process's settings hold, so any text a receiver sends back (an error
body may echo a key or a URL) is masked before it reaches a log, a stored error or a dead letter."""

from __future__ import annotations

from urllib.parse import urlsplit

from relops.settings import get_settings

#: Shorter values are too likely to occur in ordinary text to mask them wherever they appear.
MIN_SECRET_CHARS = 4


def known_secrets() -> list[str]:
    """The webhook URL's secret parts, the Resend key and every connection password; longest first."""
    from relops.channels.webhook import url_secrets  # imported late: the channels import this module

    settings = get_settings()
    found: set[str] = set()
    if settings.webhook_url is not None:
        found.update(url_secrets(settings.webhook_url.get_secret_value()))
    if settings.resend_api_key is not None:
        found.add(settings.resend_api_key.get_secret_value())
    for url in (
        settings.redis_url,
        settings.celery_broker_url,
        settings.database_url,
        settings.admin_database_url,
        settings.web_database_url,
    ):
        if url:
            try:
                found.add(urlsplit(url).password or "")
            except ValueError:  # an unparsable URL has no password to mask; settings validation reports it
                continue
    return sorted((s for s in found if len(s) >= MIN_SECRET_CHARS), key=len, reverse=True)
