"""The ops dashboard and JSON API (``relops web``): admins only."""
