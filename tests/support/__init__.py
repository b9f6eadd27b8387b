"""The test and benchmark harness, not shipped: real Celery processes started and stopped by PID
(celery_process), throwaway PostgreSQL databases and Redis indexes (scratch), throwaway RabbitMQ
vhosts made with rabbitmqctl (rabbitmq), and a Redis primary, replica and Sentinel on free ports
(redis_sentinel). The suite and ``python -m bench`` import it from the repository root; what a
shipped command needs as well (the local servers, the recording HTTP receiver) is relops.localdev."""
