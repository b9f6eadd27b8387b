"""What an import refuses: which file, which document, which field, and why. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """One document (or one SLO of a Sloth document) relops could not turn into a flow."""

    #: The file as the caller named it.
    file: str
    #: The document: ``SLO checkout`` (kind and metadata.name), ``Sloth SLO requests-availability``.
    document: str
    #: The field's path in the document, e.g. ``spec.budgetingMethod`` or ``slos[1].sli.raw``.
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.document}: {self.field}: {self.reason}"


class Refused(ValueError):
    """Raised inside a document's conversion: the field (a path) and why. The caller adds the file
    and the document."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
