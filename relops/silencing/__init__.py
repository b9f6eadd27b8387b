"""Silences and maintenance windows: matchers on alert labels, the silences operators add, the
recurring windows of the config file, and the per-process index the alert router asks."""
