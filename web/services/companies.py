"""Configuración → Empresas: companies with their active CSD.

CSD registration is ``services.stamping.register_csd`` (checks and seals the key and
password); the REP serie setter lives in ``cfdi_cobranza.services.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, CompanyCsd


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
