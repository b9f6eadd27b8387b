"""Who may report what: report keys' scopes and limits, decided without I/O."""
