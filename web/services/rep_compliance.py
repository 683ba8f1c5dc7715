"""The Tablero's REP compliance card: payments still without REP (days left to the 5th)
and REPs that were issued, or are still missing, after their deadline.

Deadlines and the pending list come from ``services.stamping`` (``pending``,
``deadline_for``); this module only counts and orders them for the card.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Customer, Payment, Rep, RepLine
from cfdi_cobranza.services import stamping


@dataclass(frozen=True)
class LateRep:
    uuid: str | None
    serie: str
    folio: int
    customer: str
    deadline: date
    issued: date
    days_late: int


@dataclass
class RepCompliance:
    pending: list[stamping.PendingPayment] = field(default_factory=list)
    late_issued: list[LateRep] = field(default_factory=list)

    @property
    def late_pending(self) -> list[stamping.PendingPayment]:
        return [p for p in self.pending if p.late]

    @property
    def due_soon(self) -> list[stamping.PendingPayment]:
        return [p for p in self.pending if not p.late and p.days_left <= 5]

    @property
    def next_deadline(self) -> stamping.PendingPayment | None:
        upcoming = [p for p in self.pending if not p.late]
        return upcoming[0] if upcoming else None


def rep_compliance(session: Session, today: date, deadline_day: int = 5, limit: int = 200) -> RepCompliance:
    pending = stamping.pending(session, today=today, deadline_day=deadline_day)
    rows = session.execute(
        select(Rep, Customer.nombre, Customer.rfc, Payment.fecha_pago)
        .join(RepLine, RepLine.rep_id == Rep.id).join(Payment, Payment.id == RepLine.payment_id)
        .join(Customer, Customer.id == Rep.customer_id)
        .where(Rep.status.in_(("timbrado", "cancelacion_solicitada")))
        .order_by(Rep.id.desc()).limit(limit * 20)
    ).all()
    earliest: dict[int, tuple[Rep, str, date]] = {}
    paid: dict[int, date] = defaultdict(lambda: date.max)
    for rep, nombre, rfc, fecha_pago in rows:
        earliest[rep.id] = (rep, nombre or rfc, fecha_pago.date())
        paid[rep.id] = min(paid[rep.id], fecha_pago.date())
    late = []
    for rep_id, (rep, customer, _f) in earliest.items():
        deadline = stamping.deadline_for(paid[rep_id], deadline_day)
        issued = rep.fecha.date()
        if issued > deadline:
            late.append(LateRep(rep.uuid, rep.serie, rep.folio, customer, deadline, issued, (issued - deadline).days))
    late.sort(key=lambda r: (-r.days_late, r.folio))
    return RepCompliance(pending, late[:limit])
