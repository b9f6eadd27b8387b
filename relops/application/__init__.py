"""The use cases the entry points (tasks, web, intake, CLI) call: one module each.

Each takes its parts explicitly (``deps.Deps``, or an engine and a config) and combines the domain's
pure rules with the store's SQL and the shared state in Redis. Nothing below this package imports it.
"""
