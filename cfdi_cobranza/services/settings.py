"""Application settings users change from Configuración: aging buckets and the REP serie.

Each setter validates before it writes and leaves an audit entry (who, what, old ->
new); the web and the CLI call these instead of touching the rows themselves.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.models.collections import AgingSetting
from cfdi_cobranza.domain.aging import AgingBuckets
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.users import record_audit

DEFAULT_AGING_NAME = "estandar"
# Serie in CFDI 4.0: 1 to 25 characters, no "|" (the cadena original separator).
_SERIE_RE = re.compile(r"^[^|\s][^|]{0,24}$")


def aging_buckets(session: Session) -> AgingBuckets:
    """The default aging buckets (``aging_setting`` flagged default), else 0,30,60,90."""
    stored = session.scalar(select(AgingSetting.spec).where(AgingSetting.is_default.is_(True))
                            .order_by(AgingSetting.name).limit(1))
    return AgingBuckets.parse(stored)


def set_aging_buckets(session: Session, spec: str, *, actor: str, clock: Clock = system_clock) -> AgingBuckets:
    """Make ``spec`` (``30,60,90`` or ``1-30,31-60,61-90``) the default buckets of every aging report.

    Overlapping, unordered or negative bounds are refused with a Spanish message
    (``AgingBuckets.parse``) before anything is written.
    """
    text = (spec or "").strip()
    if not text:
        raise ValidationError("Capture los rangos de días, por ejemplo 30,60,90.", code="RANGOS_INVALIDOS")
    buckets = AgingBuckets.parse(text[:200])
    old = aging_buckets(session).spec()
    session.execute(update(AgingSetting).where(AgingSetting.name != DEFAULT_AGING_NAME).values(is_default=False))
    row = session.get(AgingSetting, DEFAULT_AGING_NAME)
    now = clock()
    if row is None:
        row = AgingSetting(name=DEFAULT_AGING_NAME, spec=buckets.spec(), is_default=True, updated_at=now,
                           updated_by=actor)
        session.add(row)
    else:
        row.spec, row.is_default, row.updated_at, row.updated_by = buckets.spec(), True, now, actor
    record_audit(session, actor, "rangos_antiguedad", "aging_setting", DEFAULT_AGING_NAME,
                 f"{old} -> {buckets.spec()}", clock=clock)
    session.flush()
    return buckets


def set_rep_serie(session: Session, rfc: str, serie: str, *, actor: str, clock: Clock = system_clock) -> Company:
    """The serie printed on the company's next REP (audited)."""
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


__all__ = ["aging_buckets", "set_aging_buckets", "set_rep_serie"]
