"""Adapters to the systems a flow's counts can come from instead of services' pushes (HTTP)."""
