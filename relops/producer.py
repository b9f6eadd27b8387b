"""Publishing relops tasks from outside a worker: relops_client.producer (Celery's message protocol
written with kombu alone), re-exported for relops' own code and for services that import it here."""

from relops_client.producer import TaskProducer, task_message

__all__ = ["TaskProducer", "task_message"]
