"""The import path the README gave services before relops.cron existed; kept so their code keeps
working. New code: ``from relops.cron.tracking import with_cron_tracking``."""

from relops.cron.tracking import broker_sender, with_cron_tracking

__all__ = ["broker_sender", "with_cron_tracking"]
