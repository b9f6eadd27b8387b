"""Publishing relops tasks from outside a worker: relops_client.producer (Celery's message protocol
written with kombu alone), re-exported for services that import it here (deprecated)."""

import warnings

from relops_client.producer import TaskProducer, task_message

__all__ = ["TaskProducer", "task_message"]

warnings.warn("relops.producer is deprecated: import from relops_client.producer", DeprecationWarning, stacklevel=2)
