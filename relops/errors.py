"""Every relops error derives from RelopsError."""


class RelopsError(Exception):
    """Root of relops' own errors."""


class SettingsError(RelopsError):
    """An environment variable is missing or malformed."""


class ConfigError(RelopsError):
    """The config file is missing or invalid; the message names the file, the item and the field."""


class InputRejected(RelopsError):
    """An incoming payload or item failed validation."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ServiceError(RelopsError):
    """Redis or PostgreSQL could not be checked, started or stopped; the message says what to do."""
