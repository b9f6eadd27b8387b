"""State every relops process shares through Redis: dedup windows, token buckets, the client."""
