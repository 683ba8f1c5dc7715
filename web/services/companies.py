"""Configuración → Empresas: companies with their active CSD, and the REP serie.

CSD registration is ``services.stamping.register_csd`` (checks and seals the key and
password). Changing the REP serie is a one-field update kept here, audited, until the
ledger service grows a setter for it (then this moves to ``cfdi_cobranza/services``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, CompanyCsd
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock
from cfdi_cobranza.services.users import record_audit

# Serie in CFDI 4.0: 1 to 25 characters, no "|" (the cadena original separator).
_SERIE_RE = re.compile(r"^[^|\s][^|]{0,24}$")


@dataclass(frozen=True)
class CompanyRow:
    company: Company
    csd: CompanyCsd | None


def company_rows(session: Session) -> list[CompanyRow]:
    out = []
    for c in session.scalars(select(Company).order_by(Company.rfc)):
        csd = session.scalar(select(CompanyCsd).where(CompanyCsd.company_id == c.id, CompanyCsd.active)
                             .order_by(CompanyCsd.id.desc()))
        out.append(CompanyRow(c, csd))
    return out


def set_rep_serie(session: Session, rfc: str, serie: str, *, actor: str, clock: Clock) -> Company:
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
    serie = serie.strip()
    if not _SERIE_RE.match(serie):
        raise ValidationError("La serie del REP debe tener de 1 a 25 caracteres, sin «|».", code="SERIE_INVALIDA")
    old = company.rep_serie
    company.rep_serie = serie
    record_audit(session, actor, "serie_rep", "company", company.rfc, f"{old} -> {serie}", clock=clock)
    return company
