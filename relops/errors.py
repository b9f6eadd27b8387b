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


class DegradedError(RelopsError):
    """A dependency's circuit breaker is open: the call was not made."""

    def __init__(self, dependency: str, retry_in_s: float | None = None) -> None:
        when = f"; next trial in {retry_in_s:.1f} s" if retry_in_s else ""
        super().__init__(f"{dependency} is degraded (circuit open){when}")
        self.dependency = dependency
        self.retry_in_s = retry_in_s

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (DegradedError, (self.dependency, self.retry_in_s))
