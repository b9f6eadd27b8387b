"""Alert channels: every module here that defines ``CHANNEL`` is one (see base.py)."""
