"""Questions about REPs, asked the same way by the CLI, the web and the API: which
payments still need one and by when, which REPs exist, which were issued late."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Credit, Customer, Payment, Rep, RepLine
from cfdi_cobranza.domain.period import day_of_next_month
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES, RepStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError


def deadline_for(fecha_pago: date, day: int = 5) -> date:
    """The REP is due by ``day`` of the month after the payment (RMF 2.7.1.32: the 5th)."""
    return day_of_next_month(fecha_pago, day)  # never overflows, even for 9999-12-31


def uncovered_credits(session: Session, payment_ids: Sequence[int]) -> dict[int, list[Credit]]:
    """Per payment, its live applications that need a REP and no live REP covers yet."""
    covered = (select(RepLine.id).join(Rep, Rep.id == RepLine.rep_id)
               .where(RepLine.credit_id == Credit.id, Rep.status.in_(LIVE_REP_STATUSES)))
    credits = session.scalars(
        select(Credit).where(Credit.payment_id.in_(payment_ids), Credit.kind == "pago", Credit.reversed_at.is_(None),
                             Credit.requires_rep.is_(True), ~covered.exists())
        .order_by(Credit.id)
    )
    out: dict[int, list[Credit]] = defaultdict(list)
    for c in credits:
        if c.payment_id is not None:
            out[c.payment_id].append(c)
    return out


@dataclass(frozen=True)
class PendingPayment:
    payment_id: int
    customer_id: int
    company_id: int
    customer_rfc: str
    customer_nombre: str | None
    fecha_pago: datetime
    moneda: str
    monto: Decimal
    documentos: int
    deadline: date
    days_left: int
    late: bool
    por_confirmar: int = 0  # applications paid before their invoice, waiting for a confirmation

    def to_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id, "customer_rfc": self.customer_rfc, "customer_nombre": self.customer_nombre,
            "fecha_pago": self.fecha_pago.isoformat(), "moneda": self.moneda, "monto": format(self.monto, "f"),
            "documentos": self.documentos, "deadline": self.deadline.isoformat(), "days_left": self.days_left,
            "late": self.late, "por_confirmar": self.por_confirmar,
        }


def pending(session: Session, *, today: date, deadline_day: int = 5) -> list[PendingPayment]:
    """Payments on PPD invoices without a live REP, with the deadline and days left."""
    payment_ids = session.scalars(
        select(Credit.payment_id).where(Credit.kind == "pago", Credit.reversed_at.is_(None),
                                        Credit.requires_rep.is_(True), Credit.payment_id.is_not(None)).distinct()
    ).all()
    by_payment = uncovered_credits(session, [p for p in payment_ids if p is not None])
    rows = session.execute(select(Payment, Customer).join(Customer, Customer.id == Payment.customer_id)
                           .where(Payment.id.in_(list(by_payment)))).all()
    out = []
    for payment, customer in rows:
        deadline = deadline_for(payment.fecha_pago.date(), deadline_day)
        days_left = (deadline - today).days
        out.append(PendingPayment(payment.id, customer.id, payment.company_id, customer.rfc, customer.nombre,
                                  payment.fecha_pago, payment.moneda, payment.monto, len(by_payment[payment.id]),
                                  deadline, days_left, days_left < 0,
                                  sum(1 for c in by_payment[payment.id]
                                      if c.advance_pending and c.advance_confirmed_at is None)))
    out.sort(key=lambda p: (p.deadline, p.payment_id))
    return out


# --------------------------------------------------------------------------- issued REPs


def rep_dict(rep: Rep, customer: Customer | None = None) -> dict[str, Any]:
    return {
        "id": rep.id, "uuid": rep.uuid, "serie": rep.serie, "folio": rep.folio, "status": rep.status,
        "fecha": rep.fecha.isoformat(), "pac": rep.pac, "sandbox": rep.sandbox,
        "customer_rfc": customer.rfc if customer else None, "sha256": rep.sha256,
        "fecha_timbrado": rep.fecha_timbrado.isoformat() if rep.fecha_timbrado else None,
        "pagos": sorted({line.payment_id for line in rep.lines}),
        "cancel_motivo": rep.cancel_motivo, "sustituido_por": rep.cancel_folio_sustitucion,
        "findings": json.loads(rep.findings) if rep.findings else [],
    }


def reps_with_customers(session: Session, *, newest_first: bool = False,
                        limit: int | None = None) -> list[tuple[Rep, Customer]]:
    rows = session.execute(select(Rep, Customer).join(Customer, Customer.id == Rep.customer_id)
                           .order_by(Rep.id.desc() if newest_first else Rep.id).limit(limit)).all()
    return [(rep, customer) for rep, customer in rows]


def list_reps(session: Session) -> list[dict[str, Any]]:
    return [rep_dict(r, c) for r, c in reps_with_customers(session)]


def find_rep(session: Session, uuid: str) -> Rep:
    rep = session.scalar(select(Rep).where(Rep.uuid == uuid.strip().upper()))
    if rep is None:
        raise NotFoundError(f"No hay ningún REP con folio fiscal {uuid}.", code="REP_NO_ENCONTRADO")
    return rep


def rep_files(session: Session, uuid: str) -> tuple[str, bytes, bool]:
    """(file stem, stamped XML as stored, sandbox) of a stamped REP."""
    rep = find_rep(session, uuid)
    if rep.stamped_xml is None:
        raise ConflictError(f"El REP {rep.serie}-{rep.folio} no está timbrado; no tiene XML timbrado.",
                            code="REP_SIN_TIMBRE")
    return f"REP-{rep.serie}{rep.folio}-{rep.uuid}", rep.stamped_xml, rep.sandbox


@dataclass(frozen=True)
class LateRep:
    uuid: str | None
    serie: str
    folio: int
    customer: str
    deadline: date
    issued: date
    days_late: int


def late_reps(session: Session, *, deadline_day: int = 5, limit: int = 200) -> list[LateRep]:
    """Stamped REPs issued after the deadline of their earliest payment, latest first."""
    rows = session.execute(
        select(Rep, Customer.nombre, Customer.rfc, Payment.fecha_pago)
        .join(RepLine, RepLine.rep_id == Rep.id).join(Payment, Payment.id == RepLine.payment_id)
        .join(Customer, Customer.id == Rep.customer_id)
        .where(Rep.status.in_((RepStatus.TIMBRADO, RepStatus.CANCELACION_SOLICITADA)))
        .order_by(Rep.id.desc()).limit(limit * 20)
    ).all()
    earliest: dict[int, tuple[Rep, str]] = {}
    paid: dict[int, date] = defaultdict(lambda: date.max)
    for rep, nombre, rfc, fecha_pago in rows:
        earliest[rep.id] = (rep, nombre or rfc)
        paid[rep.id] = min(paid[rep.id], fecha_pago.date())
    late = []
    for rep_id, (rep, customer) in earliest.items():
        deadline = deadline_for(paid[rep_id], deadline_day)
        issued = rep.fecha.date()
        if issued > deadline:
            late.append(LateRep(rep.uuid, rep.serie, rep.folio, customer, deadline, issued, (issued - deadline).days))
    late.sort(key=lambda r: (-r.days_late, r.folio))
    return late[:limit]
