"""The HTTP intake (``relops intake``): services in any language report flow outcomes and cron runs
over HTTP with a report-only key; the intake validates them with the tasks' own code and hands them
to the same Celery queues."""
