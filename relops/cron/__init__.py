"""Cron health: cron-run events, schedules, run tracking for jobs, and the alerts of failing,
missed and overrunning jobs."""
