"""What the stamping services answer: results as frozen values, refusals as one error.

The CLI, the web and the API serialise these (``to_dict``); none of them parses a result back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cfdi_cobranza.domain.findings import Finding
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import CobranzaError, PacError


@dataclass(frozen=True)
class IssueResult:
    """One REP asked for: stamped, still in flight (``enviando``) or refused (``rechazado``,
    ``rep_id`` None when no row of it is kept)."""

    rep_id: int | None
    status: RepStatus
    uuid: str | None = None
    serie: str | None = None
    folio: int | None = None
    sandbox: bool = False
    findings: tuple[Finding, ...] = ()
    xml: bytes | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "status": self.status.value, "uuid": self.uuid, "serie": self.serie,
                "folio": self.folio, "sandbox": self.sandbox, "message": self.message,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class CancelResult:
    """A cancellation asked of the PAC: the REP's state after it and its replacement, if any."""

    uuid: str
    status: RepStatus
    motivo: str
    sustituto: IssueResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "status": self.status.value, "motivo": self.motivo,
                "sustituto": self.sustituto.to_dict() if self.sustituto else None}


class RepRefused(CobranzaError):
    """The REP cannot leave: validation findings, PAC rejection, nothing to complement."""

    code = "REP_RECHAZADO"

    def __init__(self, message: str, findings: Sequence[Finding] = (), *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.findings = list(findings)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["findings"] = [f.to_dict() for f in self.findings]
        return data


def pac_finding(exc: PacError) -> Finding:
    """The PAC's error as the finding shown beside a REP."""
    return Finding(exc.code, exc.message, "PAC")


def refused(exc: CobranzaError, prefix: str = "") -> IssueResult:
    """A REP that could not be issued or stamped, as a result in its place of a run."""
    return IssueResult(None, RepStatus.RECHAZADO, findings=tuple(getattr(exc, "findings", ())),
                       message=f"{prefix}{exc.message}")
