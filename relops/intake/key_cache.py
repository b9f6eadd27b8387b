"""The live report keys as one intake process sees them, reloaded from PostgreSQL every second.

Checking a key is a dict lookup on the request path; a thread reloads the whole (small) table in
the background, so a new key works, and a revoked one stops working, within about a second, and a
flood of requests with made-up keys costs PostgreSQL nothing. While PostgreSQL is unreachable the
last loaded keys stay in force (a revocation made before the outage still holds); before the first
load succeeds no key is known and the intake answers 503.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from relops_client.logs import log_event
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from relops.access.report_keys import ReportKey, hash_key
from relops.store.report_keys import live_keys

logger = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """No key list was ever loaded: no key can be checked."""


class KeyCache:
    def __init__(
        self,
        engine: Engine,
        *,
        reload_s: float = 1.0,
        loader: Callable[[Engine], Mapping[str, ReportKey]] | None = None,
    ) -> None:
        self._engine = engine
        self.reload_s = reload_s
        self._loader = loader or _load
        self._keys: Mapping[str, ReportKey] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Load once now (so the first request finds the keys), then every ``reload_s``."""
        self.reload()
        self._thread = threading.Thread(target=self._run, name="relops-intake-keys", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def loaded(self) -> bool:
        """Whether a key list was ever loaded (before that, no key can be checked)."""
        return self._keys is not None

    def lookup(self, key: str) -> ReportKey | None:
        """The live key ``key`` is, or None; raises KeysUnavailable before any successful load."""
        keys = self._keys
        if keys is None:
            raise KeysUnavailable
        return keys.get(hash_key(key))

    def reload(self) -> None:
        try:
            keys = self._loader(self._engine)
        except SQLAlchemyError as exc:
            if not self._failing:
                log_event(
                    logger,
                    logging.ERROR,
                    "intake.keys_reload_failed",
                    keys_in_force=None if self._keys is None else len(self._keys),
                    error=f"{type(exc).__name__}: {str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}",
                )
            self._failing = True
            return
        if self._failing:
            log_event(logger, logging.WARNING, "intake.keys_reload_recovered", keys=len(keys))
        self._failing = False
        self._keys = keys

    def _run(self) -> None:
        while not self._stop.wait(self.reload_s):
            self.reload()


def _load(engine: Engine) -> Mapping[str, ReportKey]:
    with engine.connect() as conn:
        return live_keys(conn)
