"""The answer to a Slack button click, posted to the click's ``response_url``.

A response URL is a credential for the message it names (whoever holds it can rewrite the message for
30 minutes), so it goes only where relops.channels.slack_actions.response_url_problem allows, with
short timeouts, and is never written anywhere: failures are logged as "Slack response_url" and the
status, like any other receiver's (relops.channels.http).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any, Final

from relops_client.logs import log_event

from relops.channels.base import DeliveryError
from relops.channels.http import post_json
from relops.channels.slack_actions import response_url_problem
from relops.redaction import url_secrets

logger = logging.getLogger(__name__)
DESCRIBE: Final = "Slack response_url"
#: Slack answers a response URL at once; a click's outcome is not worth holding a thread longer.
TIMEOUT_S: Final = (3.0, 5.0)


def post_response(
    url: str, response: dict[str, Any], *, allowed_hosts: Collection[str], secrets: Iterable[str] = ()
) -> bool:
    """Post ``response`` to ``url``; whether Slack took it. A refusal or failure is logged, never the URL."""
    problem = response_url_problem(url, allowed_hosts)
    if problem is not None:
        log_event(logger, logging.WARNING, "slack.response_refused", reason=problem)
        return False
    try:
        post_json(url, response, timeout=TIMEOUT_S, describe=DESCRIBE, secrets=[*url_secrets(url), *secrets])
    except DeliveryError as exc:
        log_event(logger, logging.WARNING, "slack.response_failed", reason=exc.reason)
        return False
    return True
