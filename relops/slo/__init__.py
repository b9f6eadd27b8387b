"""SLOs: burn-rate math, chunk evaluation, outcome batches and the alerts a burning flow raises."""
