"""Debt documents (cheques, pagarés, vouchers): state changes, listing, bounces, cash cut.

A state change passes ``DebtStatus``'s table and then its type's narrower moves
(``domain.debts.DebtType.check_move``); a post-dated instrument stays en cartera until
its date. A bounce (``devuelto``/``protestado``) reverses the applications of the
receipt it funded through ``payments.unapply`` (REP checks, instalment renumbering,
audit) and marks the receipt ``devuelto``, all in the caller's transaction: a refusal
leaves nothing half-done. A receipt already covered by a live REP is refused with the
REPs listed: that REP must be cancelled (or substituted) first, or the SAT would keep a
payment that never arrived.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import (
    AuditEntry,
    CashBox,
    Credit,
    Customer,
    Document,
    Payment,
    Rep,
    RepLine,
)
from cfdi_cobranza.db.models.collections import DebtDocument, DebtDocumentState
from cfdi_cobranza.domain.debts import (
    Bounce,
    BouncedCredit,
    CashCut,
    CashCutCheque,
    CashReceipt,
    check_cash_date,
)
from cfdi_cobranza.domain.debts import cash_cut as summarize_cash_cut
from cfdi_cobranza.domain.money import ZERO, round_currency
from cfdi_cobranza.domain.states import BOUNCED, LIVE_REP_STATUSES, DebtStatus, PaymentStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import balances, payments
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.debt_types import (
    DebtDocumentView,
    get_type,
    list_types,
    register_debt_document,
    set_type,
)
from cfdi_cobranza.services.ledger import find_customer


def _audit(session: Session, clock: Clock, actor: str, action: str, entity: str, entity_id: Any,
           detail: dict[str, Any]) -> None:
    session.add(AuditEntry(at=clock(), actor=actor[:100], action=action[:50], entity=entity[:50],
                           entity_id=str(entity_id)[:64], detail=json.dumps(detail, default=str)))


def _state(value: str) -> DebtStatus:
    try:
        return DebtStatus(value.strip().lower())
    except ValueError:
        options = ", ".join(s.value for s in DebtStatus)
        raise ValidationError(f"Estado desconocido: {value!r}. Opciones: {options}.", code="ESTADO_INVALIDO") from None


def _view(session: Session, row: DebtDocument, reversed_ids: list[int] | None = None) -> DebtDocumentView:
    key = session.scalar(select(Customer.key).where(Customer.id == row.customer_id)) or ""
    return DebtDocumentView(row, key, get_type(session, row.tipo), reversed_ids or [])


def get_debt_document(session: Session, debt_id: int) -> DebtDocumentView:
    row = session.get(DebtDocument, debt_id)
    if row is None:
        raise NotFoundError(f"No existe el documento de cobranza {debt_id}.", code="DOCUMENTO_NO_ENCONTRADO")
    return _view(session, row)


def reps_covering_payment(session: Session, payment_id: int) -> list[str]:
    """Live REPs (UUID, or serie-folio while in flight) that include the receipt's live applications."""
    rows = session.execute(
        select(Rep.uuid, Rep.serie, Rep.folio).distinct()
        .join(RepLine, RepLine.rep_id == Rep.id).join(Credit, Credit.id == RepLine.credit_id)
        .where(RepLine.payment_id == payment_id, Credit.reversed_at.is_(None), Rep.status.in_(LIVE_REP_STATUSES))
        .order_by(Rep.serie, Rep.folio)).all()
    return [uuid or f"{serie}-{folio} (en envío)" for uuid, serie, folio in rows]


def change_debt_state(
    session: Session, debt_id: int, estado: str, *, fecha: date, actor: str, nota: str | None = None,
    clock: Clock = system_clock,
) -> DebtDocumentView:
    """Move a debt document to ``estado``; a bounce re-opens what it paid (audited)."""
    row = session.get(DebtDocument, debt_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFoundError(f"No existe el documento de cobranza {debt_id}.", code="DOCUMENTO_NO_ENCONTRADO")
    kind = get_type(session, row.tipo)
    new = kind.check_move(DebtStatus(row.estado), _state(estado))
    if fecha < row.fecha:
        raise ValidationError("La fecha del cambio no puede ser anterior a la del documento.", code="RANGO_INVALIDO")
    check_cash_date(new, fecha, row.fecha_cobro)
    if nota is not None:
        nota = nota.strip() or None
    if new in BOUNCED and not nota:
        raise ValidationError("Indique el motivo de la devolución (--note).", code="MOTIVO_REQUERIDO")
    reversed_ids: list[int] = []
    if new in BOUNCED:
        reversed_ids = _reopen_paid(session, row, kind.nombre, actor, nota or "", clock)
    now = clock()
    row.estado = new
    row.history.append(DebtDocumentState(estado=new, fecha=fecha, recorded_at=now, recorded_by=actor, nota=nota,
                                         creditos_revertidos=len(reversed_ids)))
    session.flush()
    _audit(session, clock, actor, f"documento_{new}", "debt_document", row.id,
           {"creditos": reversed_ids, "nota": nota, "fecha": fecha})
    return _view(session, row, reversed_ids)


def _reopen_paid(session: Session, row: DebtDocument, nombre: str, actor: str, nota: str, clock: Clock) -> list[int]:
    """Reverse the live credits of the receipt/complement the instrument funded."""
    reason = f"{nombre} {row.numero or row.id} devuelto: {nota}"[:500]
    reversed_ids: list[int] = []
    if row.payment_id is not None:
        reps = reps_covering_payment(session, row.payment_id)
        if reps:
            raise ConflictError(
                f"El pago {row.payment_id} ya está amparado por el REP {', '.join(reps)}. Cancele o sustituya ese "
                "REP («cobranza rep cancel») antes de registrar la devolución: el SAT seguiría viendo un pago que "
                "no llegó.", code="PAGO_CON_REP", reps=reps)
        payment = session.get(Payment, row.payment_id, with_for_update=True, populate_existing=True)
        assert payment is not None
        live = session.scalar(select(Credit.id).where(Credit.payment_id == payment.id, Credit.reversed_at.is_(None)))
        if live is not None:
            reversed_ids += payments.unapply(session, payment.id, reason=reason, actor=actor, clock=clock)
        if payment.status != PaymentStatus.DEVUELTO:
            payment.status = PaymentStatus(payment.status).check_move(PaymentStatus.DEVUELTO)
    if row.complement_id is not None:
        now = clock()
        credits = session.scalars(select(Credit).where(
            Credit.source_document_id == row.complement_id, Credit.kind == "complemento",
            Credit.reversed_at.is_(None)).order_by(Credit.id).with_for_update()).all()
        docs: dict[int, Document] = {}
        for credit in credits:
            credit.reversed_at = now
            credit.reversed_by = actor
            credit.reverse_reason = reason
            if credit.document_id is not None:
                doc = session.get(Document, credit.document_id, with_for_update=True)
                assert doc is not None
                docs[doc.id] = doc
        session.flush()
        for doc in docs.values():
            balances.refresh_saldo(session, doc)
        reversed_ids += [c.id for c in credits]
    session.flush()
    return reversed_ids


def list_debt_documents(session: Session, rfc: str | None = None, estado: str | None = None, *,
                        tipo: str | None = None, cobro_desde: date | None = None,
                        cobro_hasta: date | None = None) -> list[DebtDocumentView]:
    """Filtered by customer, state, type and the cash (due) date range."""
    stmt = select(DebtDocument, Customer.key).join(Customer, Customer.id == DebtDocument.customer_id)
    if rfc:
        stmt = stmt.where(DebtDocument.customer_id == find_customer(session, rfc).id)
    if estado:
        stmt = stmt.where(DebtDocument.estado == _state(estado).value)
    if tipo:
        stmt = stmt.where(DebtDocument.tipo == get_type(session, tipo).code)
    if cobro_desde and cobro_hasta and cobro_desde > cobro_hasta:
        raise ValidationError("El rango de fechas de cobro está invertido.", code="RANGO_INVALIDO")
    if cobro_desde:
        stmt = stmt.where(DebtDocument.fecha_cobro >= cobro_desde)
    if cobro_hasta:
        stmt = stmt.where(DebtDocument.fecha_cobro <= cobro_hasta)
    types = {t.code: t for t in list_types(session)}
    out = []
    for r, k in session.execute(stmt.order_by(DebtDocument.fecha_cobro, DebtDocument.id)):
        out.append(DebtDocumentView(r, k, types.get(r.tipo) or get_type(session, r.tipo)))
    return out


def bounces_of(session: Session, customer_id: int) -> list[Bounce]:
    """The customer's bounced instruments backing a receipt, with the applications they had funded."""
    rows = session.scalars(select(DebtDocument).where(
        DebtDocument.customer_id == customer_id, DebtDocument.estado.in_([s.value for s in BOUNCED]),
        DebtDocument.payment_id.is_not(None)).order_by(DebtDocument.id)).all()
    out: list[Bounce] = []
    for row in rows:
        bounced = [h for h in row.history if h.estado in BOUNCED]
        if not bounced:
            continue
        first = bounced[0]
        kind = get_type(session, row.tipo)
        credits = session.execute(
            select(Credit, Document.uuid).join(Document, Document.id == Credit.document_id)
            .where(Credit.payment_id == row.payment_id, Credit.reversed_at.is_not(None), Credit.kind == "pago")
            .order_by(Credit.id)).all()
        out.append(Bounce(
            row.id, row.tipo, first.fecha,
            f"{kind.nombre} {row.numero or row.id} devuelto" + (f": {first.nota}" if first.nota else ""),
            tuple(BouncedCredit(uuid, c.fecha.date(), c.amount, f"P{c.payment_id}", c.amount_p,
                                f"Pago {c.payment_id}") for c, uuid in credits)))
    return out


def bounced_charges(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """The summary's charges for bounced instruments: date, reference with reason, amount."""
    out = []
    for b in bounces_of(session, customer_id):
        row = session.get(DebtDocument, b.debt_id)
        assert row is not None
        out.append({"documento": b.debt_id, "fecha": b.fecha.isoformat(), "concepto": b.referencia,
                    "moneda": row.moneda, "importe": format(round_currency(row.importe, row.moneda), "f"),
                    "pago": row.payment_id,
                    "reaplicar": format(round_currency(sum((c.importe for c in b.credits), ZERO), row.moneda), "f")})
    return out


# --------------------------------------------------------------------------- cash cut


def cash_cut(session: Session, caja: str | None, fecha: date) -> CashCut:
    """A box's receipts of one (local) day: by payment form and user, the cheques received, totals.
    Without ``caja``: every box's receipts of the day (those assigned to no box are left out)."""
    start, end = datetime.combine(fecha, time.min), datetime.combine(fecha, time.max)
    stmt = (select(Payment, Customer.key).join(Customer, Customer.id == Payment.customer_id)
            .where(Payment.fecha_pago >= start, Payment.fecha_pago <= end).order_by(Payment.id))
    name = "Todas las cajas"
    if caja and caja.strip():
        box = session.scalar(select(CashBox).where(CashBox.name == caja.strip()))
        if box is None:
            names = ", ".join(session.scalars(select(CashBox.name).order_by(CashBox.name))) or "ninguna"
            raise NotFoundError(f"No existe la caja {caja!r}. Cajas: {names}.", code="CAJA_NO_ENCONTRADA")
        stmt, name = stmt.where(Payment.cash_box_id == box.id), box.name
    else:
        stmt = stmt.where(Payment.cash_box_id.is_not(None))
    pays = session.execute(stmt).all()
    keys = {p.id: key for p, key in pays}
    cheques = [
        CashCutCheque(d.id, d.payment_id or 0, keys[d.payment_id or 0], d.numero, d.banco, d.moneda, d.importe,
                      d.fecha_cobro, d.estado)
        for d in session.scalars(select(DebtDocument).where(
            DebtDocument.payment_id.in_(list(keys)), DebtDocument.tipo == "cheque").order_by(DebtDocument.id))
    ] if keys else []
    receipts = [CashReceipt(p.id, p.forma_pago, p.created_by or "", p.moneda, p.monto,
                            p.status == PaymentStatus.DEVUELTO) for p, _ in pays]
    return summarize_cash_cut(name, fecha, receipts, cheques)


__all__ = [
    "DebtDocumentView",
    "bounced_charges",
    "bounces_of",
    "cash_cut",
    "change_debt_state",
    "get_debt_document",
    "get_type",
    "list_debt_documents",
    "list_types",
    "register_debt_document",
    "reps_covering_payment",
    "set_type",
]
