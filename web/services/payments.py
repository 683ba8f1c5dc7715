"""Read side of the Pagos pages: payment lists, one payment's file, and form parsing.

Writing (register, apply, reverse) goes straight to ``cfdi_cobranza.services.payments``;
what lives here only reads rows for the templates and turns form fields into the
service's inputs. The suggested allocation is the domain's own oldest-first planner
(``domain.payments.plan_oldest_first``) run on the current balances without storing
anything, so the form shows exactly what "apply oldest first" would do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza import catalogs
from cfdi_cobranza.db.models import CashBox, Company, Credit, Customer, Document, Payment
from cfdi_cobranza.domain import payments as dp
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.services import payments as pay
from cfdi_cobranza.services import rep_links
from web.services.inputs import parse_date

BANK_FIELDS = ("rfc_emisor_cta_ord", "nom_banco_ord_ext", "cta_ordenante", "rfc_emisor_cta_ben", "cta_beneficiario")
ROW_FIELDS = ("forma_pago", "moneda", "monto", "tipo_cambio", "num_operacion", "caja", *BANK_FIELDS)
MAX_ROWS = 20


def formas_pago() -> list[tuple[str, str]]:
    """c_FormaPago keys valid in a payment (never 99, never the obsolete ones)."""
    return [(k, v["descripcion"]) for k, v in sorted(catalogs.load("c_FormaPago").items())
            if k != dp.FORMA_POR_DEFINIR and catalogs.is_current_forma_pago(k)]


MONEDAS_COMUNES = ("MXN", "USD", "EUR")


def clean_amount(text: str | None) -> str:
    """What users type ("$1,500.00 ") as the plain decimal text the services parse."""
    return re.sub(r"[\s,$]", "", text or "").removesuffix("MXN").removesuffix("USD")


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class PaymentRow:
    id: int
    settlement_id: int
    fecha_pago: Any
    customer_id: int
    customer_rfc: str
    customer_nombre: str | None
    forma_pago: str
    moneda: str
    monto: Decimal
    aplicado: Decimal
    status: str
    caja: str | None

    @property
    def saldo_a_favor(self) -> Decimal:
        return self.monto - self.aplicado


def search_payments(session: Session, q: str = "", limit: int = 200) -> list[PaymentRow]:
    stmt = (select(Payment, Customer).join(Customer, Customer.id == Payment.customer_id)
            .order_by(Payment.fecha_pago.desc(), Payment.id.desc()).limit(limit))
    q = q.strip()
    if q:
        like = f"%{q.upper()}%"
        stmt = stmt.where(Customer.rfc.like(like) | Customer.nombre.ilike(f"%{q}%") | Payment.num_operacion.like(f"%{q}%"))
    out = []
    for p, c in session.execute(stmt):
        out.append(PaymentRow(p.id, p.settlement_id, p.fecha_pago, c.id, c.rfc, c.nombre, p.forma_pago, p.moneda,
                              p.monto, p.aplicado, p.status, p.cash_box.name if p.cash_box else None))
    return out


def cash_boxes(session: Session) -> list[CashBox]:
    return list(session.scalars(select(CashBox).order_by(CashBox.name)))


def companies(session: Session) -> list[Company]:
    return list(session.scalars(select(Company).order_by(Company.rfc)))


# --------------------------------------------------------------------------- the form


@dataclass
class SettlementForm:
    customer: str = ""
    company: str = ""
    fecha_pago: str = ""
    notas: str = ""
    rows: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def blank(cls, fecha: date, forma: str = "", rows: int = 1) -> SettlementForm:
        return cls(fecha_pago=fecha.strftime("%d/%m/%Y"),
                   rows=[{**dict.fromkeys(ROW_FIELDS, ""), "forma_pago": forma, "moneda": "MXN"} for _ in range(rows)])

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> SettlementForm:
        getlist = form.getlist  # type: ignore[attr-defined]
        columns = {name: [str(v)[:300] for v in getlist(name)] for name in ROW_FIELDS}
        n = min(MAX_ROWS, max((len(v) for v in columns.values()), default=0))
        rows = [{name: (columns[name][i] if i < len(columns[name]) else "").strip() for name in ROW_FIELDS}
                for i in range(n)]
        return cls(customer=str(form.get("customer", ""))[:320].strip(),
                   company=str(form.get("company", ""))[:13].strip(),
                   fecha_pago=str(form.get("fecha_pago", ""))[:20].strip(),
                   notas=str(form.get("notas", ""))[:1000].strip(), rows=rows)

    def filled_rows(self) -> list[dict[str, str]]:
        """Rows with anything typed besides the defaults; an untouched extra row is ignored."""
        return [r for r in self.rows if r.get("monto") or r.get("num_operacion") or r.get("tipo_cambio")]

    def receipts(self) -> list[dp.ReceiptInput]:
        if not self.customer:
            raise ValidationError("Seleccione el cliente que pagó.", code="CAMPO_REQUERIDO")
        fecha = parse_date(self.fecha_pago, "Fecha de pago")
        if fecha is None:
            raise ValidationError("Indique la fecha de pago (dd/mm/aaaa).", code="CAMPO_REQUERIDO")
        rows = self.filled_rows()
        if not rows:
            raise ValidationError("Capture al menos una forma de pago con su monto.", code="LIQUIDACION_VACIA")
        return [dp.ReceiptInput(
            customer=self.customer, company=self.company, fecha_pago=fecha, forma_pago=r["forma_pago"],
            moneda=(r["moneda"] or "MXN").upper(), monto=clean_amount(r["monto"]),
            tipo_cambio=clean_amount(r["tipo_cambio"]) or None, num_operacion=r["num_operacion"] or None,
            **{k: (r[k] or None) for k in BANK_FIELDS}, caja=r["caja"] or None, notas=self.notas or None,
        ) for r in rows]


def row_errors(receipts: Sequence[dp.ReceiptInput]) -> list[str]:
    """Every field problem of every row, labelled with its row (the service stops at the first bad row).

    Customer, company and a blank payment form are filled by the service later, so they
    are not judged here.
    """
    from dataclasses import replace

    out = []
    for i, r in enumerate(receipts, start=1):
        probe = replace(r, customer=r.customer or "-", company=r.company or "-", forma_pago=r.forma_pago or "03")
        _receipt, findings = dp.receipt_findings(probe)
        label = f"Forma de pago {i}: " if len(receipts) > 1 else ""
        out += [label + f.message for f in findings if f.severity == "error"]
    return out


def error_list(exc: CobranzaError) -> list[str]:
    """Every problem a refusal carries (``details['errores']``), else its one message."""
    raw = str(exc.details.get("errores", "")) if exc.details else ""
    items = [part.split(": ", 1)[-1] for part in re.split(r"; (?=[A-Z0-9_]+: )", raw) if part.strip()]
    return items or [exc.message]


# --------------------------------------------------------------------------- one payment


@dataclass(frozen=True)
class OpenDocLine:
    doc_id: int
    uuid: str
    serie_folio: str
    fecha: Any
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


@dataclass
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
        return self.payment.monto - self.payment.aplicado


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
            bool(c.requires_rep), str(rep) if rep else None, c.reversed_at is not None, c.reverse_reason, c.warning))
    docs = session.scalars(
        select(Document).where(Document.customer_id == customer.id, Document.tipo == "I", Document.saldo > 0,
                               Document.status == "vigente")
    ).all()
    open_docs = {d.uuid: pay.open_document(session, d, customer.key) for d in docs}
    suggested: dict[str, tuple[Decimal, Decimal]] = {}
    avisos: list[str] = []
    if payment.status == "activo" and payment.monto > payment.aplicado and open_docs:
        try:
            plan = dp.plan_oldest_first(pay.funds_of(payment, customer), open_docs.values(),
                                        tipos_cambio=pay.rates_for(payment, None))
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


def allocations_from_form(form: Mapping[str, Any]) -> tuple[list[tuple[str, str, str | None]], dict[str, tuple[str, str]]]:
    """``(uuid, amount, equivalence)`` for every row with an amount, plus what was typed (to re-show)."""
    getlist = form.getlist  # type: ignore[attr-defined]
    uuids: Sequence[str] = getlist("uuid")[:500]
    amounts: Sequence[str] = getlist("importe")
    eqs: Sequence[str] = getlist("equivalencia")
    typed: dict[str, tuple[str, str]] = {}
    out = []
    for i, uuid in enumerate(uuids):
        amount = clean_amount(amounts[i] if i < len(amounts) else "")
        eq = (eqs[i] if i < len(eqs) else "").strip()[:30]
        typed[uuid] = (amount, eq)
        if amount and amount not in ("0", "0.00", "0.0"):
            out.append((uuid, amount, eq or None))
    return out, typed
