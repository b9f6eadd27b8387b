"""SQL for each table family, one module each. Functions take a Connection inside the caller's
transaction, so a task decides what commits together."""
