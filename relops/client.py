"""The outcome recorder services embed: relops_client.recorder, re-exported where the README first
pointed services (``from relops.client import OutcomeRecorder``) so their code keeps working.
A service should install the lean ``relops-client`` package and import ``relops_client``."""

import warnings

from relops_client.recorder import OutcomeRecorder, RecorderStats, Sender, format_minute

__all__ = ["OutcomeRecorder", "RecorderStats", "Sender", "format_minute"]

warnings.warn("relops.client is deprecated: import from relops_client", DeprecationWarning, stacklevel=2)
