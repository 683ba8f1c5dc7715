"""What a check says about a document or a form: one ``Finding`` type for the project.

A finding never raises: the REP validator, the payment form checks and the pre-sign
checks all report problems with a stable code, a Spanish message and where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "ERROR"  # blocks: the PAC (or the ledger) would refuse it
    WARNING = "WARNING"  # shown to the user, does not block


@dataclass(frozen=True, slots=True)
class Finding:
    """One refusal or warning: stable code, Spanish message, where it is.

    ``location`` is an XPath-like path (``cfdi:``/``pago20:`` prefixes) for a document
    and the field name for a form.
    """

    code: str
    message: str  # Spanish, shown to the user as is
    location: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "location": self.location}
