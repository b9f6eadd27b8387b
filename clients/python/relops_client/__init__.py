"""relops' client for services: report flow outcomes and cron runs, and guard calls to dependencies
with circuit breakers shared through Redis. It brings kombu and redis and nothing else of relops.

    from relops_client import OutcomeRecorder, with_cron_tracking, ping, guard, is_degraded, DegradedError
"""

from relops_client.breakers import BreakerSettings, configure, guard, is_degraded
from relops_client.cron import with_cron_tracking
from relops_client.errors import DegradedError
from relops_client.intake_url import UnsafeIntakeURL
from relops_client.ping import IntakeRefused, RedirectRefused, http_sender, ping
from relops_client.recorder import OutcomeRecorder, RecorderStats

__version__ = "0.1.0"
__all__ = [
    "BreakerSettings",
    "DegradedError",
    "IntakeRefused",
    "OutcomeRecorder",
    "RecorderStats",
    "RedirectRefused",
    "UnsafeIntakeURL",
    "configure",
    "guard",
    "http_sender",
    "is_degraded",
    "ping",
    "with_cron_tracking",
]
