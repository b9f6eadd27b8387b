"""Alert channels: a module per channel type (listed in registry.CHANNEL_TYPES), and their rendering."""
