"""logfmt-style log lines (``event=ingest.rejected flow=checkout batch_id=...``) for grep and jq-less
ops; one implementation, shared with the client (relops_client.logs)."""

from relops_client.logs import kv, log_event

__all__ = ["kv", "log_event"]
