"""The development and test harness, not part of any relops process: a recording HTTP receiver
(sink), real Celery processes started and stopped by PID (celery_process), throwaway databases and
Redis indexes (scratch), and the local Redis and PostgreSQL servers `relops services` starts
(local_servers). The test suite, the benchmarks and `relops demo` use them."""
