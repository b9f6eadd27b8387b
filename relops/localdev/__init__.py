"""What shipped ``relops`` commands need on a developer's machine, and nothing else: the test and
benchmark harness lives in tests/support/, outside the wheel.

Each module ships because a command of the installed ``relops`` imports it when it runs:

- ``local_servers``: ``relops services check|up|down`` (relops.cli.services, and ``make run`` /
  ``make test`` through it) checks the Redis, PostgreSQL and RabbitMQ the environment names, starts
  a private Redis or PostgreSQL under ``var/`` when one on this machine is down, and stops only
  those. The tests reuse its ``endpoints`` and ``rabbitmq_problem``.
- ``sink``: ``relops demo`` (relops.cli.demo) listens with ``HttpSink`` on the port ``make demo``
  points the webhook at, and prints every alert that arrives. The tests and benchmarks use the same
  receiver for their webhook and Resend stand-ins.
"""
