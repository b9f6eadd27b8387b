"""Celery tasks, one module per concern. Bodies stay thin: load, call pure logic, persist."""
