"""Register receipts and apply them to open documents, exactly and safely.

Every write happens in one transaction that locks what it reads: the payment and the
documents it touches are locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
takes its write lock at BEGIN), balances are re-read under the lock and checked by
the pure planner (``domain.payments``), and only then are credits written. So two
concurrent applications can never push a balance below zero nor a payment past its
amount, and a failure anywhere leaves nothing applied.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import (
    AuditEntry,
    CashBox,
    Company,
    Credit,
    Customer,
    Document,
    Payment,
    Settlement,
)
from cfdi_cobranza.db.models.collections import CreditAuthorization
from cfdi_cobranza.domain import payments as dp
from cfdi_cobranza.domain.credit import DecisionLevel, payment_form_reason
from cfdi_cobranza.domain.money import currency_decimals, quantize, round_currency
from cfdi_cobranza.domain.states import AuthorizationStatus, DocumentStatus, PaymentStatus
from cfdi_cobranza.errors import CobranzaError, ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services import balances, debt_types, rates, rep_links
from cfdi_cobranza.services import collections as credit_service
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.jobs import policy as rep_jobs
from cfdi_cobranza.services.ledger import find_customer

PAYMENT_KINDS = ("complemento", "pago")


# --------------------------------------------------------------------------- receipts


def _company_for(session: Session, customer: Customer, company_rfc: str | None) -> Company:
    if company_rfc:
        company = session.scalar(select(Company).where(Company.rfc == company_rfc.strip().upper()))
        if company is None:
            raise NotFoundError(f"No hay ninguna empresa con RFC {company_rfc}.", code="EMPRESA_NO_ENCONTRADA")
        return company
    companies = list(session.scalars(
        select(Company).join(Document, Document.company_id == Company.id)
        .where(Document.customer_id == customer.id).distinct()
    ))
    if len(companies) == 1:
        return companies[0]
    every = list(session.scalars(select(Company)))
    if len(every) == 1:
        return every[0]
    raise ValidationError("Indique la empresa que recibe el pago (--company RFC): hay varias registradas.",
                          code="EMPRESA_REQUERIDA")


def _cash_box(session: Session, name: str | None) -> CashBox | None:
    if not name:
        return None
    box = session.scalar(select(CashBox).where(CashBox.name == name))
    if box is None:
        known = ", ".join(session.scalars(select(CashBox.name).order_by(CashBox.name))) or "ninguna"
        raise NotFoundError(f"No existe la caja o cuenta «{name}» (registradas: {known}). "
                            "Créela con «cobranza box add».", code="CAJA_NO_ENCONTRADA")
    return box


_IDS_PER_STATEMENT = 1000  # ids bound in one IN list; SQLite allows 32,766 parameters


def usual_formas(session: Session, customers: Sequence[Customer]) -> dict[int, str]:
    """Each customer's usual payment form, by customer id: the one on record, else the most used
    one (the lowest key on a tie); a customer with neither is absent. One query for them all."""
    usual = {c.id: c.usual_forma_pago for c in customers if c.usual_forma_pago}
    rest = [c.id for c in customers if not c.usual_forma_pago]
    if rest:
        counts = (select(Payment.customer_id, Payment.forma_pago)
                  .group_by(Payment.customer_id, Payment.forma_pago)
                  .order_by(Payment.customer_id, func.count().desc(), Payment.forma_pago))
        if len(rest) <= _IDS_PER_STATEMENT:  # a long pick list reads the grouped table once instead
            counts = counts.where(Payment.customer_id.in_(rest))
        for customer_id, forma in session.execute(counts):
            usual.setdefault(customer_id, forma)
    return usual


def suggest_forma_pago(session: Session, customer: Customer) -> str | None:
    """The customer's usual payment form (``usual_formas``), or None."""
    return usual_formas(session, [customer]).get(customer.id)


def register_settlement(
    session: Session,
    parts: Sequence[dp.ReceiptInput],
    *,
    actor: str = "sistema",
    clock: Clock = system_clock,
    bank_movement_id: int | None = None,
) -> Settlement:
    """Validate and store what a customer paid at once (one payment per payment form)."""
    if not parts:
        raise ValidationError("La liquidación no tiene pagos.", code="LIQUIDACION_VACIA")
    customer = find_customer(session, parts[0].customer)
    company = _company_for(session, customer, parts[0].company or None)
    filled = []
    rate_sources: list[dict[str, str]] = []
    for part in parts:
        part = replace(part, customer=customer.key, company=company.rfc)
        if not part.forma_pago:
            usual = suggest_forma_pago(session, customer)
            if usual is None:
                raise ValidationError("Indique la forma de pago (c_FormaPago): el cliente no tiene una habitual.",
                                      code="FORMA_PAGO_REQUERIDA")
            part = replace(part, forma_pago=usual)
        part, rate_source = _default_rate(session, part)
        filled.append(part)
        rate_sources.append(rate_source)
    settlement_in = dp.validate_settlement(filled)
    authorizations = _allowed_forms(session, customer, settlement_in.receipts)
    now = clock()
    settlement = Settlement(customer_id=customer.id, fecha=settlement_in.receipts[0].fecha_pago,
                            notes=parts[0].notas, created_at=now, created_by=actor)
    session.add(settlement)
    session.flush()
    for authorization in authorizations:
        authorization.settlement_id = settlement.id
        _audit(session, clock, actor, "autorizacion_usada", "credit_authorization", authorization.id,
               {"forma": authorization.forma_pago, "liquidacion": settlement.id})
    for receipt, rate_source in zip(settlement_in.receipts, rate_sources, strict=True):
        box = _cash_box(session, receipt.caja)
        payment = Payment(
            settlement_id=settlement.id, company_id=company.id, customer_id=customer.id,
            fecha_pago=receipt.fecha_pago, forma_pago=receipt.forma_pago, moneda=receipt.moneda,
            tipo_cambio=receipt.tipo_cambio, monto=receipt.monto, aplicado=Decimal(0),
            num_operacion=receipt.num_operacion, rfc_emisor_cta_ord=receipt.rfc_emisor_cta_ord,
            nom_banco_ord_ext=receipt.nom_banco_ord_ext, cta_ordenante=receipt.cta_ordenante,
            rfc_emisor_cta_ben=receipt.rfc_emisor_cta_ben, cta_beneficiario=receipt.cta_beneficiario,
            cash_box_id=box.id if box else None, bank_movement_id=bank_movement_id, notes=receipt.notas,
            status=PaymentStatus.ACTIVO, created_at=now, created_by=actor,
        )
        session.add(payment)
        session.flush()
        _audit(session, clock, actor, "registrar_pago", "payment", payment.id,
               {"monto": str(payment.monto), "moneda": payment.moneda, "forma": payment.forma_pago,
                "cliente": customer.rfc, "tipo_cambio": str(payment.tipo_cambio), **rate_source})
        # A cheque (02) or card (04, 28) receipt is backed by its instrument, same data.
        debt_types.record_for_payment(session, payment, customer, actor=actor, clock=clock)
    if customer.usual_forma_pago is None:
        customer.usual_forma_pago = settlement_in.receipts[0].forma_pago
    return settlement


def _allowed_forms(session: Session, customer: Customer,
                   receipts: Sequence[dp.Receipt]) -> list[CreditAuthorization]:
    """Each receipt's payment form against the customer's conditions (``payment_form_reason``):
    restricción refuses it (``FORMA_PAGO_NO_PERMITIDA``); solicitud de autorización needs an
    authorized request for that form, currency and at least that amount, not used yet
    (``FORMA_PAGO_REQUIERE_AUTORIZACION``), which this settlement then uses up;
    información and advertencia let it through. Returns the authorizations to use."""
    conditions = credit_service.conditions_of(session, customer.id)
    used: list[CreditAuthorization] = []
    for receipt in receipts:
        reason = payment_form_reason(conditions, receipt.forma_pago)
        if reason is None or reason.nivel in (DecisionLevel.INFORMACION, DecisionLevel.ADVERTENCIA):
            continue
        if reason.nivel is DecisionLevel.RESTRICCION:
            raise ConflictError(f"{reason.mensaje} No se registró el pago.", code="FORMA_PAGO_NO_PERMITIDA")
        authorization = session.scalar(
            select(CreditAuthorization).where(
                CreditAuthorization.customer_id == customer.id,
                CreditAuthorization.status == AuthorizationStatus.AUTORIZADA,
                CreditAuthorization.forma_pago == receipt.forma_pago,
                CreditAuthorization.moneda == receipt.moneda,
                CreditAuthorization.importe >= receipt.monto,
                CreditAuthorization.settlement_id.is_(None),
                CreditAuthorization.id.not_in([a.id for a in used]),
            ).order_by(CreditAuthorization.importe, CreditAuthorization.id).limit(1).with_for_update())
        if authorization is None:
            raise ConflictError(
                f"{reason.mensaje} Pida una autorización («cobranza credit authorize request --customer "
                f"{customer.key} --operation cobro --form {receipt.forma_pago} --amount {receipt.monto}» o la "
                "página del cliente) y registre el pago cuando esté autorizada.",
                code="FORMA_PAGO_REQUIERE_AUTORIZACION")
        used.append(authorization)
    return used


def _default_rate(session: Session, part: dp.ReceiptInput) -> tuple[dp.ReceiptInput, dict[str, str]]:
    """A foreign-currency payment without a rate takes the DOF rate of its date (the SAT's
    rule for TipoCambioP, ``services.rates.dof_rate``); a rate the user typed stands, and
    when it differs from the DOF one the audit records both (the override)."""
    moneda = (part.moneda or "").strip().upper()
    if moneda in ("", "MXN"):
        return part, {}
    day = part.fecha_pago.date() if isinstance(part.fecha_pago, datetime) else part.fecha_pago
    dof = rates.dof_rate(session, moneda, day)
    typed = part.tipo_cambio if not (isinstance(part.tipo_cambio, str) and not part.tipo_cambio.strip()) else None
    if typed is None:
        if dof is None:
            return part, {}
        return (replace(part, tipo_cambio=dof.tipo_cambio),
                {"tipo_cambio_fuente": "dof", "fecha_fix": dof.fecha_fix.isoformat(), "serie": dof.fuente})
    source = {"tipo_cambio_fuente": "usuario"}
    if dof is not None:
        source["tipo_cambio_dof"] = format(dof.tipo_cambio, "f")
    return part, source


# --------------------------------------------------------------------------- applying


@dataclass(frozen=True)
class Allocation:
    """What to apply to one document: the amount in its currency and, optionally, the
    EquivalenciaDR (None: derived from the exchange rates)."""

    uuid: str
    importe: Decimal | str
    equivalencia: Decimal | str | None = None


@dataclass
class AppliedLine:
    uuid: str
    serie_folio: str
    moneda_dr: str
    equivalencia_dr: Decimal
    num_parcialidad: int
    imp_saldo_ant: Decimal
    imp_pagado: Decimal
    imp_saldo_insoluto: Decimal
    importe_moneda_pago: Decimal
    requiere_rep: bool
    avisos: list[dict[str, str]] = field(default_factory=list)
    credit_id: int | None = None
    requiere_confirmacion: bool = False  # paid before the invoice: its REP waits (domain.advances)

    def to_dict(self) -> dict[str, Any]:
        d = currency_decimals(self.moneda_dr)
        return {
            "credit_id": self.credit_id, "uuid": self.uuid, "serie_folio": self.serie_folio,
            "moneda_dr": self.moneda_dr, "equivalencia_dr": format(self.equivalencia_dr, "f"),
            "num_parcialidad": self.num_parcialidad,
            "imp_saldo_ant": format(quantize(self.imp_saldo_ant, d), "f"),
            "imp_pagado": format(quantize(self.imp_pagado, d), "f"),
            "imp_saldo_insoluto": format(quantize(self.imp_saldo_insoluto, d), "f"),
            "importe_moneda_pago": format(self.importe_moneda_pago, "f"),
            "requiere_rep": self.requiere_rep, "avisos": self.avisos,
            "requiere_confirmacion": self.requiere_confirmacion,
        }


@dataclass
class ApplicationResult:
    payment_id: int
    lines: list[AppliedLine]
    aplicado: Decimal
    saldo_a_favor: Decimal
    moneda: str
    rep_job_id: int | None = None  # the REP job queued under the «al aplicar» policy
    skipped: tuple[dict[str, str], ...] = ()  # documents the planner left out, with why

    def to_dict(self) -> dict[str, Any]:
        d = currency_decimals(self.moneda)
        out = {
            "payment_id": self.payment_id, "moneda": self.moneda,
            "aplicado": format(quantize(self.aplicado, d), "f"),
            "saldo_a_favor": format(quantize(self.saldo_a_favor, d), "f"),
            "lines": [ln.to_dict() for ln in self.lines],
            "warnings": self.warnings,
        }
        if self.rep_job_id is not None:
            out["rep_job_id"] = self.rep_job_id
        return out

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Every line's warnings, each with its code and the invoice it is about."""
        return [{**a, "uuid": ln.uuid} for ln in self.lines for a in ln.avisos] + list(self.skipped)


def _lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                             .execution_options(populate_existing=True))
    if payment is None:
        raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
    if payment.status != PaymentStatus.ACTIVO:
        raise ConflictError(f"El pago {payment_id} está {payment.status}; no se puede aplicar.",
                            code="PAGO_NO_ACTIVO")
    return payment


def prior_parcialidades(session: Session, doc_id: int) -> int:
    """How many payments (from any system) this document received before: the last NumParcialidad."""
    rows = session.execute(
        select(Credit.num_parcialidad).where(
            Credit.document_id == doc_id, Credit.kind.in_(PAYMENT_KINDS), Credit.reversed_at.is_(None)
        )
    ).scalars().all()
    numbered = [n for n in rows if n is not None]
    return max([len(rows), *numbered]) if rows else 0


def open_document(session: Session, doc: Document, customer_key: str) -> dp.OpenDocument:
    """The planner's view of an invoice: balance, earlier instalments, issuer."""
    return dp.OpenDocument(
        uuid=doc.uuid, serie=doc.serie, folio=doc.folio, customer=customer_key, moneda=doc.moneda,
        total=doc.total, saldo=doc.saldo, fecha=doc.fecha, vencimiento=doc.vencimiento,
        metodo_pago=doc.metodo_pago or dp.METODO_PPD,
        num_parcialidades_previas=prior_parcialidades(session, doc.id), cancelado=doc.status == DocumentStatus.CANCELADO,
        company=doc.company.rfc,
    )



def _open_instalment_of(session: Session, payment_id: int, doc_ids: Sequence[int]) -> set[int]:
    """Documents that already hold an application of this payment not yet covered by a REP.

    A second application of the same payment to the same invoice would need a second
    DoctoRelacionado with its own NumParcialidad inside one Pago, which the SAT
    refuses; the user reverses the first and applies the whole amount instead.
    """
    if not doc_ids:
        return set()
    credits = session.scalars(select(Credit).where(
        Credit.payment_id == payment_id, Credit.document_id.in_(list(doc_ids)), Credit.reversed_at.is_(None)))
    return {c.document_id for c in credits
            if c.document_id is not None and rep_links.stamped_rep_covering(session, c) is None}


def _lock_documents(session: Session, uuids: Sequence[str]) -> dict[str, Document]:
    wanted = sorted({u.strip().upper() for u in uuids})
    docs = session.scalars(
        select(Document).where(Document.uuid.in_(wanted)).order_by(Document.id).with_for_update()
        .execution_options(populate_existing=True)  # a row read earlier in this session may be stale
    ).all()
    found = {d.uuid: d for d in docs}
    for uuid in wanted:
        if uuid not in found:
            raise NotFoundError(f"No existe el documento {uuid}.", code="DOCUMENTO_NO_ENCONTRADO", uuid=uuid)
        if found[uuid].tipo != "I":
            raise ConflictError(f"El documento {uuid} no es una factura (tipo {found[uuid].tipo}); "
                                "solo se aplican pagos a facturas.", code="DOCUMENTO_NO_APLICABLE")
    return found


def apply_payment(
    session: Session,
    payment_id: int,
    allocations: Sequence[Allocation],
    *,
    rates: Mapping[str, Decimal] | None = None,
    actor: str = "sistema",
    clock: Clock = system_clock,
) -> ApplicationResult:
    """Apply a payment to documents, one ``Allocation`` each."""
    payment = _lock_payment(session, payment_id)
    docs = _lock_documents(session, [a.uuid for a in allocations])
    customer = session.get(Customer, payment.customer_id)
    assert customer is not None
    again = _open_instalment_of(session, payment.id, [d.id for d in docs.values()])
    if again:
        doc = next(d for d in docs.values() if d.id in again)
        raise ConflictError(
            f"El pago {payment.id} ya está aplicado a la factura {doc.serie_folio or doc.uuid} y su REP no se ha "
            "emitido: revierta esa aplicación y aplique el importe completo en una sola línea.",
            code="DOCUMENTO_YA_APLICADO_EN_PAGO", uuid=doc.uuid)
    requests = []
    for a in allocations:
        doc = docs[a.uuid.strip().upper()]
        owner = customer.key if doc.customer_id == customer.id else f"otro:{doc.customer_id}"
        requests.append(dp.ApplicationRequest(open_document(session, doc, owner), a.importe, a.equivalencia))
    plan = dp.plan_application(funds_of(payment, customer), requests, tipos_cambio=rates_for(payment, rates))
    return _store_plan(session, payment, plan, docs, actor, clock)


def apply_oldest_first(
    session: Session,
    payment_id: int,
    *,
    rates: Mapping[str, Decimal] | None = None,
    actor: str = "sistema",
    clock: Clock = system_clock,
) -> ApplicationResult:
    payment = _lock_payment(session, payment_id)
    customer = session.get(Customer, payment.customer_id)
    assert customer is not None
    docs = session.scalars(
        select(Document).where(Document.customer_id == customer.id, Document.company_id == payment.company_id,
                               Document.tipo == "I", Document.saldo > 0, Document.status == DocumentStatus.VIGENTE)
        .order_by(Document.id).with_for_update().execution_options(populate_existing=True)
    ).all()
    skip = _open_instalment_of(session, payment.id, [d.id for d in docs])
    docs = [d for d in docs if d.id not in skip]
    by_uuid = {d.uuid: d for d in docs}
    plan = dp.plan_oldest_first(funds_of(payment, customer),
                                [open_document(session, d, customer.key) for d in docs],
                                tipos_cambio=rates_for(payment, rates))
    return _store_plan(session, payment, plan, by_uuid, actor, clock)


def funds_of(payment: Payment, customer: Customer) -> dp.PaymentFunds:
    """What the planner needs of a stored payment (what is left of it, its company)."""
    company = payment.company
    return dp.PaymentFunds(customer=customer.key, moneda=payment.moneda, monto=payment.monto,
                           tipo_cambio=payment.tipo_cambio, fecha_pago=payment.fecha_pago,
                           consumido=payment.aplicado, payment_id=str(payment.id), company=company.rfc)


def rates_for(payment: Payment, rates: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
    out = dict(rates or {})
    out.setdefault(payment.moneda, payment.tipo_cambio)
    out["MXN"] = Decimal(1)
    return out


def _store_plan(session: Session, payment: Payment, plan: dp.ApplicationPlan, docs: Mapping[str, Document],
                actor: str, clock: Clock) -> ApplicationResult:
    lines = []
    for line in plan.lines:
        doc = docs[line.uuid]
        avisos = [{"code": a.code, "message": a.message} for a in line.avisos]
        credit = Credit(
            kind="pago", target_uuid=doc.uuid, document_id=doc.id, source_document_id=None, source_line=0,
            amount=line.imp_pagado, fecha=payment.fecha_pago, num_parcialidad=line.num_parcialidad,
            payment_id=payment.id, amount_p=line.importe_moneda_pago, equivalencia_dr=line.equivalencia_dr,
            imp_saldo_ant=line.imp_saldo_ant, imp_saldo_insoluto=line.imp_saldo_insoluto,
            requires_rep=line.requiere_rep, warning="; ".join(a["message"] for a in avisos)[:300] or None,
            created_by=actor, advance_pending=line.requiere_confirmacion or None,
        )
        session.add(credit)
        session.flush()
        balances.refresh_saldo(session, doc)
        if doc.saldo < 0:  # defence in depth: the planner already refused this
            raise ConflictError(f"El saldo de {doc.uuid} quedaría negativo.", code="EXCEDE_SALDO")
        lines.append(AppliedLine(
            uuid=line.uuid, serie_folio=doc.serie_folio, moneda_dr=line.moneda_dr,
            equivalencia_dr=line.equivalencia_dr, num_parcialidad=line.num_parcialidad,
            imp_saldo_ant=line.imp_saldo_ant, imp_pagado=line.imp_pagado,
            imp_saldo_insoluto=line.imp_saldo_insoluto, importe_moneda_pago=line.importe_moneda_pago,
            requiere_rep=line.requiere_rep, avisos=avisos, credit_id=credit.id,
            requiere_confirmacion=line.requiere_confirmacion,
        ))
    payment.aplicado = payment.aplicado + plan.consumido
    if payment.aplicado > payment.monto:
        raise ConflictError(f"El pago {payment.id} quedaría sobreaplicado.", code="EXCEDE_PAGO")
    _audit(session, clock, actor, "aplicar_pago", "payment", payment.id,
           {"lineas": [ln.to_dict() for ln in lines]})
    # Under the company's «al aplicar» policy its REP is queued in this same transaction.
    # A payment received before its invoice waits for confirm_advance, which queues it then.
    waiting = any(ln.requiere_confirmacion for ln in lines)
    job_id = None if waiting else rep_jobs.after_apply(
        session, payment, [ln.credit_id for ln in lines if ln.credit_id is not None],
        any(ln.requiere_rep for ln in lines), actor=actor, clock=clock)
    in_lines = {a for line in plan.lines for a in line.avisos}
    skipped = tuple({"code": a.code, "message": a.message} for a in plan.avisos if a not in in_lines)
    return ApplicationResult(payment.id, lines, payment.aplicado, payment.monto - payment.aplicado, payment.moneda,
                             job_id, skipped)


# ------------------------------------------------------------- paid before the invoice

ADVANCE_PENDING = "por_confirmar"
ADVANCE_CONFIRMED = "confirmado"


def advance_state(credit: Credit) -> str | None:
    """``por_confirmar`` while an application paid before its invoice waits, ``confirmado`` after."""
    if not credit.advance_pending:
        return None
    return ADVANCE_CONFIRMED if credit.advance_confirmed_at is not None else ADVANCE_PENDING


def confirm_advance(session: Session, payment_id: int, *, actor: str = "sistema", note: str | None = None,
                    clock: Clock = system_clock) -> list[int]:
    """Confirm that this payment's applications paid before their invoices document an
    operation already agreed when the money came (not an anticipo): their REP may issue.
    Audited; returns the credit ids confirmed."""
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                             .execution_options(populate_existing=True))
    if payment is None:
        raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
    credits = session.scalars(select(Credit).where(
        Credit.payment_id == payment.id, Credit.reversed_at.is_(None), Credit.advance_pending.is_(True),
        Credit.advance_confirmed_at.is_(None)).order_by(Credit.id).with_for_update()).all()
    if not credits:
        raise ConflictError(f"El pago {payment.id} no tiene aplicaciones anteriores a su factura por confirmar.",
                            code="SIN_PAGO_ANTERIOR_POR_CONFIRMAR")
    cleaned = (note or "").strip()[:500] or None
    now = clock()
    for credit in credits:
        credit.advance_confirmed_at = now
        credit.advance_confirmed_by = actor
        credit.advance_note = cleaned
    session.flush()
    _audit(session, clock, actor, "confirmar_pago_anterior", "payment", payment.id,
           {"creditos": [c.id for c in credits], "facturas": [c.target_uuid for c in credits], "nota": cleaned})
    # Under the «al aplicar» policy the REP held back at apply time is queued now.
    rep_jobs.after_apply(session, payment, [c.id for c in credits], any(bool(c.requires_rep) for c in credits),
                         actor=actor, clock=clock)
    return [c.id for c in credits]


# --------------------------------------------------------------------------- reversing


def unapply(
    session: Session,
    payment_id: int,
    uuid: str | None = None,
    *,
    reason: str,
    actor: str = "sistema",
    clock: Clock = system_clock,
) -> list[int]:
    """Reverse a payment's applications (all, or the one to ``uuid``); audited.

    Refused while a stamped REP covers the application: cancel that REP first.
    Later instalments of the same documents are renumbered so NumParcialidad stays
    consecutive for the REPs still to be issued.
    """
    if not reason or not reason.strip():
        raise ValidationError("Indique el motivo de la reversión.", code="MOTIVO_REQUERIDO")
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                             .execution_options(populate_existing=True))
    if payment is None:
        raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
    stmt = select(Credit).where(Credit.payment_id == payment_id, Credit.reversed_at.is_(None))
    if uuid:
        stmt = stmt.where(Credit.target_uuid == uuid.strip().upper())
    credits = session.scalars(stmt.order_by(Credit.id).with_for_update()
                              .execution_options(populate_existing=True)).all()
    if not credits:
        raise NotFoundError("No hay aplicaciones vigentes que revertir para ese pago y documento.",
                            code="APLICACION_NO_ENCONTRADA")

    for credit in credits:
        rep = rep_links.stamped_rep_covering(session, credit)
        if rep is not None:
            raise ConflictError(
                f"La aplicación a {credit.target_uuid} está amparada por el REP {rep} timbrado; "
                "cancele ese REP antes de revertir.", code="APLICACION_CON_REP")
        later = session.scalars(select(Credit).where(
            Credit.document_id == credit.document_id, Credit.id > credit.id, Credit.reversed_at.is_(None),
            Credit.kind == "pago")).all()
        for other in later:
            rep = rep_links.stamped_rep_covering(session, other)
            if rep is not None:
                # That REP's ImpSaldoAnt counts this instalment as paid: removing it would
                # make the stamped figures false.
                raise ConflictError(
                    f"Una parcialidad posterior de {credit.target_uuid} ya está en el REP {rep}; cancele ese REP "
                    "antes de revertir esta aplicación.", code="APLICACION_POSTERIOR_CON_REP")
    now = clock()
    docs: dict[int, Document] = {}
    for credit in credits:
        credit.reversed_at = now
        credit.reversed_by = actor
        credit.reverse_reason = reason.strip()[:500]
        payment.aplicado = payment.aplicado - (credit.amount_p or Decimal(0))
        if credit.document_id is not None:
            doc = session.get(Document, credit.document_id, with_for_update=True, populate_existing=True)
            assert doc is not None
            docs[doc.id] = doc
    session.flush()
    for doc in docs.values():
        balances.refresh_saldo(session, doc)
        renumber_instalments(session, doc)
    _audit(session, clock, actor, "revertir_aplicacion", "payment", payment.id,
           {"creditos": [c.id for c in credits], "motivo": reason})
    return [c.id for c in credits]


def mark_reviewed(session: Session, payment_id: int, *, note: str, actor: str = "sistema",
                  clock: Clock = system_clock) -> None:
    """Clear a payment's review flag (``revisar``) once a person has dealt with it; audited
    with what the flag said and the note."""
    if not note or not note.strip():
        raise ValidationError("Indique qué se hizo con el pago (--note).", code="NOTA_REQUERIDA")
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None:
        raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
    if payment.revisar is None:
        raise ConflictError(f"El pago {payment_id} no está marcado para revisión.", code="PAGO_SIN_REVISION")
    _audit(session, clock, actor, "pago_revisado", "payment", payment.id,
           {"revisar": payment.revisar, "nota": note.strip()[:500]})
    payment.revisar = None


def renumber_instalments(session: Session, doc: Document) -> None:
    """Recompute NumParcialidad and saldos of this document's applications not yet complemented.

    Instalments already complemented are fixed: imported complements and applications
    covered by a live REP keep the number and figures they were issued with. The open
    applications are numbered after the highest fixed number, in the order they were
    applied (credit id), each starting from what is left after the fixed instalments,
    the credit notes recorded before it and the open instalments before it. So a
    complement imported from another system after we applied a payment pushes our
    instalment to the next number instead of duplicating it.
    """
    live = session.scalars(
        select(Credit).where(Credit.document_id == doc.id, Credit.reversed_at.is_(None)).order_by(Credit.id)
    ).all()
    fixed = {c.id for c in live if c.kind == "complemento"
             or (c.kind == "pago" and rep_links.stamped_rep_covering(session, c) is not None)}
    count = max((c.num_parcialidad or 0 for c in live if c.id in fixed), default=0)
    saldo = doc.total - sum((c.amount for c in live if c.id in fixed), Decimal(0))
    for credit in live:
        if credit.id in fixed:
            continue
        if credit.kind == "pago":
            count += 1
            credit.num_parcialidad = count
            credit.imp_saldo_ant = saldo
            credit.imp_saldo_insoluto = saldo - credit.amount
        saldo -= credit.amount


# --------------------------------------------------------------------------- reading
# One payment's file shows the suggested allocation: the domain's own oldest-first planner
# (``domain.payments.plan_oldest_first``) run on the current balances, storing nothing, so
# the page shows exactly what "apply oldest first" would do.

def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class PaymentApplication:
    credit_id: int
    uuid: str
    imp_pagado: Decimal
    num_parcialidad: int | None
    imp_saldo_ant: Decimal | None
    imp_saldo_insoluto: Decimal | None
    equivalencia_dr: Decimal | None
    requiere_rep: bool
    aviso: str | None
    revertida: bool
    motivo_reversion: str | None
    # Paid before the invoice: "por_confirmar" (its REP waits), "confirmado" or None.
    pago_anterior: str | None = None
    confirmado_por: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: _text(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PaymentRow:
    id: int
    settlement_id: int
    fecha_pago: datetime
    customer_id: int
    customer_rfc: str
    customer_nombre: str | None
    forma_pago: str
    moneda: str
    tipo_cambio: Decimal
    monto: Decimal
    aplicado: Decimal
    num_operacion: str | None
    status: str
    caja: str | None
    aplicaciones: tuple[PaymentApplication, ...]
    revisar: str | None = None  # why a person must look at it (e.g. its invoice was cancelled at the SAT)

    documento_cobranza: int | None = None  # the cheque/voucher behind it (debt_document.payment_id)

    @property
    def saldo_a_favor(self) -> Decimal:
        # A returned receipt's money never arrived: nothing to apply (as the summary counts it).
        if self.status == PaymentStatus.DEVUELTO:
            return Decimal(0)
        return self.monto - self.aplicado

    def to_dict(self) -> dict[str, Any]:
        d = currency_decimals(self.moneda)
        return {
            "id": self.id, "settlement_id": self.settlement_id, "customer_rfc": self.customer_rfc,
            "customer_nombre": self.customer_nombre, "fecha_pago": self.fecha_pago.isoformat(),
            "forma_pago": self.forma_pago, "moneda": self.moneda, "tipo_cambio": _text(self.tipo_cambio),
            "monto": format(quantize(self.monto, d), "f"), "aplicado": format(quantize(self.aplicado, d), "f"),
            "saldo_a_favor": format(quantize(self.saldo_a_favor, d), "f"), "num_operacion": self.num_operacion,
            "status": self.status, "caja": self.caja, "aplicaciones": [a.to_dict() for a in self.aplicaciones],
            "revisar": self.revisar,
            "documento_cobranza": self.documento_cobranza,
        }


def list_payments(session: Session, customer_rfc: str | None = None, *, q: str = "",
                  latest: int | None = None) -> list[PaymentRow]:
    """Payments with what each applied: all, oldest first, or the ``latest`` ones, newest first.
    ``q`` finds a customer RFC or name or an operation number. Two queries."""
    stmt = select(Payment, Customer).join(Customer, Customer.id == Payment.customer_id)
    if customer_rfc:
        stmt = stmt.where(Payment.customer_id == find_customer(session, customer_rfc).id)
    q = q.strip()
    if q:
        stmt = stmt.where(Customer.rfc.like(f"%{q.upper()}%") | Customer.nombre.ilike(f"%{q}%")
                          | Payment.num_operacion.ilike(f"%{q}%"))
    if latest is None:
        stmt = stmt.order_by(Payment.fecha_pago, Payment.id)
    else:
        stmt = stmt.order_by(Payment.fecha_pago.desc(), Payment.id.desc()).limit(latest)
    applied: dict[int, list[PaymentApplication]] = defaultdict(list)
    ids = stmt.with_only_columns(Payment.id).subquery()
    for c in session.scalars(select(Credit).where(Credit.payment_id.in_(select(ids.c.id))).order_by(Credit.id)):
        assert c.payment_id is not None
        applied[c.payment_id].append(PaymentApplication(
            c.id, c.target_uuid, c.amount, c.num_parcialidad, c.imp_saldo_ant, c.imp_saldo_insoluto,
            c.equivalencia_dr, bool(c.requires_rep), c.warning, c.reversed_at is not None, c.reverse_reason,
            advance_state(c), c.advance_confirmed_by))
    rows = session.execute(stmt).all()
    instruments = debt_types.debt_ids_of_payments(session, [p.id for p, _ in rows])
    return [
        PaymentRow(p.id, p.settlement_id, p.fecha_pago, c.id, c.rfc, c.nombre, p.forma_pago, p.moneda, p.tipo_cambio,
                   p.monto, p.aplicado, p.num_operacion, p.status, p.cash_box.name if p.cash_box else None,
                   tuple(applied[p.id]), p.revisar, instruments.get(p.id))
        for p, c in rows
    ]


@dataclass(frozen=True)
class OpenDocLine:
    doc_id: int
    uuid: str
    serie_folio: str
    fecha: datetime
    vencimiento: date | None
    metodo_pago: str | None
    moneda: str
    total: Decimal
    saldo: Decimal
    sugerido: Decimal | None
    equivalencia: Decimal | None
    dias_vencido: int


@dataclass(frozen=True)
class AppliedRow:
    credit_id: int
    uuid: str
    serie_folio: str
    moneda: str
    num_parcialidad: int | None
    imp_saldo_ant: Decimal | None
    imp_pagado: Decimal
    imp_saldo_insoluto: Decimal | None
    importe_moneda_pago: Decimal | None
    equivalencia: Decimal | None
    requiere_rep: bool
    rep: str | None
    revertida: bool
    motivo: str | None
    aviso: str | None
    pago_anterior: str | None = None  # "por_confirmar", "confirmado" or None (advance_state)
    confirmado_por: str | None = None
    nota_confirmacion: str | None = None


@dataclass(frozen=True)
class PaymentDetail:
    payment: Payment
    customer: Customer
    company: Company
    caja: str | None
    aplicaciones: list[AppliedRow]
    abiertos: list[OpenDocLine]
    avisos: list[str]
    otras_formas: list[Payment]

    @property
    def disponible(self) -> Decimal:
        if self.payment.status == PaymentStatus.DEVUELTO:  # the money never arrived
            return Decimal(0)
        return self.payment.monto - self.payment.aplicado

    @property
    def por_confirmar(self) -> bool:
        """A live application paid before its invoice waits for a confirmation."""
        return any(a.pago_anterior == ADVANCE_PENDING and not a.revertida for a in self.aplicaciones)


def payment_detail(session: Session, payment_id: int, today: date) -> PaymentDetail:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFoundError(f"No existe el pago {payment_id}.", code="PAGO_NO_ENCONTRADO")
    customer = session.get(Customer, payment.customer_id)
    company = session.get(Company, payment.company_id)
    assert customer is not None and company is not None
    applied = []
    for c in session.scalars(select(Credit).where(Credit.payment_id == payment.id).order_by(Credit.id)):
        doc = session.get(Document, c.document_id) if c.document_id else None
        rep = rep_links.stamped_rep_covering(session, c) if c.reversed_at is None else None
        applied.append(AppliedRow(
            c.id, c.target_uuid, doc.serie_folio if doc else c.target_uuid[:8], doc.moneda if doc else payment.moneda,
            c.num_parcialidad, c.imp_saldo_ant, c.amount, c.imp_saldo_insoluto, c.amount_p, c.equivalencia_dr,
            bool(c.requires_rep), str(rep) if rep else None, c.reversed_at is not None, c.reverse_reason, c.warning,
            advance_state(c), c.advance_confirmed_by, c.advance_note))
    docs = session.scalars(
        select(Document).where(Document.customer_id == customer.id, Document.tipo == "I", Document.saldo > 0,
                               Document.status == DocumentStatus.VIGENTE)
    ).all()
    open_docs = {d.uuid: open_document(session, d, customer.key) for d in docs}
    suggested: dict[str, tuple[Decimal, Decimal]] = {}
    avisos: list[str] = []
    if payment.status == PaymentStatus.ACTIVO and payment.monto > payment.aplicado and open_docs:
        try:
            plan = dp.plan_oldest_first(funds_of(payment, customer), open_docs.values(),
                                        tipos_cambio=rates_for(payment, None))
            suggested = {ln.uuid: (ln.imp_pagado, ln.equivalencia_dr) for ln in plan.lines}
            avisos = [a.message for a in plan.avisos]
        except CobranzaError as exc:  # a suggestion that cannot be made is only a notice
            avisos = [exc.message]
    abiertos = []
    for od in dp.oldest_first(open_docs.values()):
        doc = next(d for d in docs if d.uuid == od.uuid)
        due = doc.vencimiento or doc.fecha.date()
        sug = suggested.get(od.uuid)
        abiertos.append(OpenDocLine(doc.id, doc.uuid, od.serie_folio, doc.fecha, doc.vencimiento, doc.metodo_pago,
                                    doc.moneda, doc.total, doc.saldo, sug[0] if sug else None,
                                    sug[1] if sug and doc.moneda != payment.moneda else None,
                                    max(0, (today - due).days)))
    others = [p for p in payment.settlement.payments if p.id != payment.id]
    return PaymentDetail(payment, customer, company, payment.cash_box.name if payment.cash_box else None,
                         applied, abiertos, avisos, others)



def add_cash_box(session: Session, name: str, kind: str = "banco", bank: str | None = None,
                 account: str | None = None, moneda: str = "MXN") -> CashBox:
    name = name.strip()
    if not name:
        raise ValidationError("El nombre de la caja es obligatorio.", code="CAMPO_REQUERIDO")
    if kind not in ("caja", "banco"):
        raise ValidationError("El tipo debe ser «caja» o «banco».", code="CAMPO_INVALIDO")
    if session.scalar(select(CashBox).where(CashBox.name == name)) is not None:
        raise ValidationError(f"Ya existe la caja «{name}».", code="CAJA_DUPLICADA")
    box = CashBox(name=name, kind=kind, bank=bank, account=account, moneda=moneda)
    session.add(box)
    session.flush()
    return box


def _audit(session: Session, clock: Clock, actor: str, action: str, entity: str, entity_id: Any,
           detail: Mapping[str, Any]) -> None:
    session.add(AuditEntry(at=clock(), actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                           detail=json.dumps(detail, ensure_ascii=False, default=str)))




@dataclass(frozen=True)
class CashBoxSummary:
    name: str
    kind: str
    bank: str | None
    account: str | None
    moneda: str
    pagos: int
    recibido: dict[str, Decimal]  # active receipts per currency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"recibido": {k: format(round_currency(v, k), "f") for k, v in self.recibido.items()}}


def cash_box_summary(session: Session) -> list[CashBoxSummary]:
    """Each cash box with the number of receipts and what it received per currency."""
    totals: dict[int, dict[str, Decimal]] = {}
    counts: Counter[int] = Counter()
    for box_id, moneda, n, total in session.execute(
        select(Payment.cash_box_id, Payment.moneda, func.count(), func.sum(Payment.monto))
        .where(Payment.cash_box_id.is_not(None), Payment.status == PaymentStatus.ACTIVO)
        .group_by(Payment.cash_box_id, Payment.moneda)
    ):
        if box_id is not None:
            totals.setdefault(box_id, {})[moneda] = Decimal(total)
            counts[box_id] += n
    return [
        CashBoxSummary(b.name, b.kind, b.bank, b.account, b.moneda, counts.get(b.id, 0),
                       dict(sorted(totals.get(b.id, {}).items())))
        for b in session.scalars(select(CashBox).order_by(CashBox.name))
    ]
