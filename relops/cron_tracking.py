"""The import path the README gave services before relops.cron existed; kept so their code keeps
working. New code: ``from relops_client.cron import with_cron_tracking``."""

import warnings

from relops_client.cron import broker_sender, with_cron_tracking

__all__ = ["broker_sender", "with_cron_tracking"]

warnings.warn("relops.cron_tracking is deprecated: import from relops_client.cron", DeprecationWarning, stacklevel=2)
