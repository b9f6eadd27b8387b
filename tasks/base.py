"""What every relops task shares: retry on infrastructure faults, never on bad input."""

from __future__ import annotations

from celery import Task
from kombu.exceptions import OperationalError as BrokerOperationalError
from sqlalchemy.exc import InterfaceError, OperationalError

#: Faults of the database or the broker that a later attempt can get past (lost connections,
#: restarts, timeouts). Not DBAPIError as a whole: a DataError or IntegrityError would fail the same
#: way on every retry. Bad input is rejected once, recorded, and acked.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)


class RelopsTask(Task):
    """Retries transient faults with exponential backoff and jitter for about an hour, then fails loudly."""

    abstract = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 60
