"""Reads the stored portfolio into the domain's plain records (collections read side).

The collections domain (``cfdi_cobranza.domain``) defines balances, days late,
statements and projections over ``Receivable``/``Application``/``Payment``/``Promise``
records. This module builds those records from the ledger tables, with the
attributes collectors group by:

* ``vendedor`` and ``sucursal``: the sale's assignment (``sale_assignment``) or, without
  one, the customer's current salesperson/branch (``credit_condition``);
* ``zona`` and ``clasificacion``: the customer's;
* ``empresa``: the issuing company's RFC.

Documents are keyed by their folio fiscal (UUID) and customers by ``Customer.key``
(the RFC, or RFC + name for the generic RFCs). Cancelled documents and reversed
credits do not exist for the reports. A follow-up with a promise becomes a
``Promise`` dated on the local (Mexico City) day it was recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from cfdi_cobranza.db.models import Company, Credit, Customer, Document, ExternalPayment, Payment
from cfdi_cobranza.db.models.collections import (
    CreditCondition,
    FollowUp,
    FollowUpDocument,
    SaleAssignment,
)
from cfdi_cobranza.domain.credit import CollectionType
from cfdi_cobranza.domain.fx import MXN, MxnRates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.promises import Promise
from cfdi_cobranza.domain.receivables import Application, ApplicationKind, Receivable
from cfdi_cobranza.domain.receivables import Payment as PaymentRecord
from cfdi_cobranza.domain.states import DocumentStatus, PaymentStatus
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import rates as stored_rates

# CFDI dates are local; timestamps are UTC. Follow-ups are dated in the business's zone.
LOCAL_TZ = ZoneInfo("America/Mexico_City")
NO_DUE_DATE = date.max  # an invoice without vencimiento is never overdue

AnySelect = Select[*tuple[Any, ...]]


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def display_name(nombre: str | None) -> str:
    # "" (not the RFC) when there is no name: the domain then shows the RFC alone.
    return nombre or ""


@dataclass(frozen=True)
class Filters:
    """Which part of the portfolio a report covers; ``None`` means no restriction."""

    customer_ids: tuple[int, ...] | None = None
    vendedor: str | None = None
    zona: str | None = None
    clasificacion: str | None = None
    sucursal: str | None = None
    empresa: str | None = None  # company RFC
    tipo_cobranza: str | None = None  # normal, judicial, especial u otra

    def __post_init__(self) -> None:
        if self.tipo_cobranza is not None:
            value = self.tipo_cobranza.strip().lower()
            if value not in {t.value for t in CollectionType}:
                raise ValidationError(
                    f"Tipo de cobranza desconocido: {self.tipo_cobranza!r}. Opciones: "
                    + ", ".join(t.value for t in CollectionType) + ".", code="TIPO_COBRANZA_INVALIDO")
            object.__setattr__(self, "tipo_cobranza", value)


def tipo_cobranza_expr() -> ColumnElement[Any]:
    """The customer's collection type; a customer without conditions is ``normal``."""
    return func.coalesce(CreditCondition.tipo_cobranza, "normal")


def vendedor_expr() -> ColumnElement[Any]:
    return func.coalesce(SaleAssignment.vendedor, CreditCondition.vendedor)


def sucursal_expr() -> ColumnElement[Any]:
    return func.coalesce(SaleAssignment.sucursal, CreditCondition.sucursal)


def with_attributes(stmt: AnySelect) -> AnySelect:
    """Join what the grouping attributes of a ``Document`` query come from."""
    return (
        stmt.join(Customer, Customer.id == Document.customer_id)
        .join(Company, Company.id == Document.company_id)
        .outerjoin(CreditCondition, CreditCondition.customer_id == Document.customer_id)
        .outerjoin(SaleAssignment, SaleAssignment.document_id == Document.id)
    )


def apply_filters(stmt: AnySelect, filters: Filters | None) -> AnySelect:
    if filters is None:
        return stmt
    if filters.customer_ids is not None:
        stmt = stmt.where(Document.customer_id.in_(filters.customer_ids))
    if filters.vendedor:
        stmt = stmt.where(vendedor_expr() == filters.vendedor)
    if filters.zona:
        stmt = stmt.where(CreditCondition.zona == filters.zona)
    if filters.clasificacion:
        stmt = stmt.where(CreditCondition.clasificacion == filters.clasificacion)
    if filters.sucursal:
        stmt = stmt.where(sucursal_expr() == filters.sucursal)
    if filters.empresa:
        stmt = stmt.where(Company.rfc == filters.empresa.strip().upper())
    if filters.tipo_cobranza:
        stmt = stmt.where(tipo_cobranza_expr() == filters.tipo_cobranza.strip().lower())
    return stmt


def live_invoices() -> list[ColumnElement[bool]]:
    return [Document.tipo == "I", Document.status != DocumentStatus.CANCELADO]


@dataclass
class Portfolio:
    """Debt documents, their applications, payments and promises of part of the portfolio."""

    docs: list[Receivable] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)
    doc_ids: dict[str, int] = field(default_factory=dict)  # uuid -> document.id

    def rfcs(self) -> list[str]:
        return sorted({d.rfc for d in self.docs})


def _serie_folio(serie: str | None, folio: str | None) -> str:
    return f"{serie or ''}{'-' if serie and folio else ''}{folio or ''}"


def load_portfolio(
    session: Session,
    filters: Filters | None = None,
    *,
    until: date | None = None,
    with_payments: bool = True,
    with_promises: bool = True,
) -> Portfolio:
    """The part of the portfolio ``filters`` selects, as known up to ``until`` (all if None)."""
    out = Portfolio()
    stmt = with_attributes(
        select(
            Document.id, Document.uuid, Document.serie, Document.folio, Document.fecha,
            Document.vencimiento, Document.moneda, Document.total, Customer.key, Customer.nombre,
            vendedor_expr(), CreditCondition.zona, CreditCondition.clasificacion, sucursal_expr(),
            Company.rfc, tipo_cobranza_expr(),
        ).where(*live_invoices())
    )
    stmt = apply_filters(stmt, filters)
    if until is not None:
        stmt = stmt.where(Document.fecha <= end_of(until))
    by_id: dict[int, Receivable] = {}
    for row in session.execute(stmt.order_by(Document.fecha, Document.id)):
        (doc_id, uuid, serie, folio, fecha, venc, moneda, total, key, nombre,
         vendedor, zona, clasif, sucursal, empresa, tipo_cobranza) = row
        rec = Receivable(
            doc_id=uuid, rfc=key, nombre=display_name(nombre), moneda=moneda, total=total,
            fecha=fecha.date(), vencimiento=venc or NO_DUE_DATE, referencia=_serie_folio(serie, folio),
            vendedor=vendedor, zona=zona, clasificacion=clasif, sucursal=sucursal, empresa=empresa,
            tipo_cobranza=tipo_cobranza,
        )
        by_id[doc_id] = rec
        out.docs.append(rec)
        out.doc_ids[uuid] = doc_id
    if not by_id:
        return out
    customer_ids = _customer_ids(session, filters)
    out.applications = _applications(session, by_id, until)
    if with_payments:
        out.payments = _payments(session, customer_ids, until)
    if with_promises:
        out.promises = load_promises(session, customer_ids, until)
    return out


def end_of(day: date) -> datetime:
    # CFDI dates are naive local datetimes: the fecha de corte includes its whole day.
    return datetime.combine(day, datetime.max.time())


def _customer_ids(session: Session, filters: Filters | None) -> tuple[int, ...] | None:
    if filters is None:
        return None
    if filters.customer_ids is not None and not any(
        (filters.vendedor, filters.zona, filters.clasificacion, filters.sucursal, filters.empresa,
         filters.tipo_cobranza)
    ):
        return filters.customer_ids
    stmt = apply_filters(with_attributes(select(Document.customer_id).distinct()), filters)
    return tuple(session.scalars(stmt))


def _chunks(ids: list[int], size: int = 5000) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _applications(
    session: Session, docs: Mapping[int, Receivable], until: date | None
) -> list[Application]:
    source = aliased(Document)
    rows: list[Any] = []
    for chunk in _chunks(sorted(docs)):
        stmt = (
            select(Credit.document_id, Credit.kind, Credit.amount, Credit.fecha, Credit.payment_id,
                   Credit.amount_p, Credit.source_document_id, Credit.source_line, source.serie,
                   source.folio)
            .outerjoin(source, source.id == Credit.source_document_id)
            .where(Credit.document_id.in_(chunk), Credit.reversed_at.is_(None), Credit.amount > 0)
        )
        if until is not None:
            stmt = stmt.where(Credit.fecha <= end_of(until))
        rows.extend(session.execute(stmt.order_by(Credit.fecha, Credit.id)).all())
    complements = sorted({r.source_document_id for r in rows if r.kind == "complemento"})
    rates = _complement_rates(session, complements)
    apps: list[Application] = []
    for doc_id, kind, amount, fecha, payment_id, amount_p, src_id, src_line, serie, folio in rows:
        doc = docs[doc_id]
        if kind == "nota_credito":
            apps.append(Application(doc.doc_id, fecha.date(), amount, ApplicationKind.NOTA_CREDITO,
                                    referencia=_serie_folio(serie, folio) or "Nota de crédito"))
        elif kind == "pago":
            apps.append(Application(doc.doc_id, fecha.date(), amount, ApplicationKind.PAGO,
                                    payment_id=f"P{payment_id}", importe_pago=amount_p,
                                    referencia=f"Pago {payment_id}"))
        else:  # complemento imported from another system
            rate = rates.get((src_id, src_line), Decimal(1))
            apps.append(Application(doc.doc_id, fecha.date(), amount, ApplicationKind.PAGO,
                                    payment_id=f"REP{src_id}", importe_pago=amount / rate,
                                    referencia=_serie_folio(serie, folio) or "REP"))
    return apps


def _complement_rates(session: Session, complement_ids: list[int]) -> dict[tuple[int, int], Decimal]:
    """EquivalenciaDR of each imported complement line, keyed like its Credit.

    The importer writes a complement's ExternalPayment rows and Credits in the same
    order, so the n-th ExternalPayment of a complement is Credit ``source_line`` n.
    """
    out: dict[tuple[int, int], Decimal] = {}
    for chunk in _chunks(complement_ids):
        grouped: dict[int, list[ExternalPayment]] = defaultdict(list)
        for ext in session.scalars(
            select(ExternalPayment).where(ExternalPayment.complement_id.in_(chunk))
            .order_by(ExternalPayment.complement_id, ExternalPayment.id)
        ):
            grouped[ext.complement_id].append(ext)
        for complement_id, lines in grouped.items():
            for line, ext in enumerate(lines):
                if ext.equivalencia_dr:
                    out[(complement_id, line)] = ext.equivalencia_dr
    return out


def _external_payments(
    session: Session, until: date | None, customer_ids: tuple[int, ...] | None
) -> dict[int, tuple[str, list[ExternalPayment]]]:
    """Imported complements' lines with the customer key, per complement."""
    stmt = (
        select(ExternalPayment, Customer.key)
        .join(Document, Document.id == ExternalPayment.complement_id)
        .join(Customer, Customer.id == Document.customer_id)
        .where(Document.status != DocumentStatus.CANCELADO)
    )
    if customer_ids is not None:
        stmt = stmt.where(Document.customer_id.in_(customer_ids))
    if until is not None:
        stmt = stmt.where(ExternalPayment.fecha_pago <= end_of(until))
    grouped: dict[int, tuple[str, list[ExternalPayment]]] = {}
    for ext, key in session.execute(stmt.order_by(ExternalPayment.complement_id, ExternalPayment.id)):
        grouped.setdefault(ext.complement_id, (key, []))[1].append(ext)
    return grouped


def _payments(
    session: Session, customer_ids: tuple[int, ...] | None, until: date | None
) -> list[PaymentRecord]:
    """Money received: receipts registered here and imported complements.

    A complement's amount is the sum of its DoctoRelacionado amounts in payment
    currency (ImpPagado / EquivalenciaDR), computed exactly like the applications'
    ``importe_pago`` so a fully applied complement leaves nothing sin aplicar; what it
    pays to invoices not imported yet shows as saldo sin aplicar.
    """
    out: list[PaymentRecord] = []
    stmt = select(Payment.id, Payment.fecha_pago, Payment.moneda, Payment.monto, Customer.key).join(
        Customer, Customer.id == Payment.customer_id
    ).where(Payment.status == PaymentStatus.ACTIVO)
    if customer_ids is not None:
        stmt = stmt.where(Payment.customer_id.in_(customer_ids))
    if until is not None:
        stmt = stmt.where(Payment.fecha_pago <= end_of(until))
    for pid, fecha, moneda, monto, key in session.execute(stmt):
        out.append(PaymentRecord(f"P{pid}", key, fecha.date(), moneda, monto, f"Pago {pid}"))
    for complement_id, (key, lines) in _external_payments(session, until, customer_ids).items():
        total = sum(
            ((ext.imp_pagado or ZERO) / (ext.equivalencia_dr or Decimal(1)) for ext in lines), ZERO
        )
        if total > 0:
            first = lines[0]
            out.append(PaymentRecord(f"REP{complement_id}", key, first.fecha_pago.date(),
                                     first.moneda_p, total, "REP"))
    return out


def load_promises(
    session: Session, customer_ids: tuple[int, ...] | None, until: date | None = None
) -> list[Promise]:
    stmt = (
        select(FollowUp, Customer.key)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.promise_date.is_not(None), FollowUp.promise_amount > 0)
    )
    if customer_ids is not None:
        stmt = stmt.where(FollowUp.customer_id.in_(customer_ids))
    follow_ups = session.execute(stmt.order_by(FollowUp.id)).all()
    if not follow_ups:
        return []
    ids = [f.id for f, _ in follow_ups]
    docs: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for fid, uuid in session.execute(
            select(FollowUpDocument.follow_up_id, Document.uuid)
            .join(Document, Document.id == FollowUpDocument.document_id)
            .where(FollowUpDocument.follow_up_id.in_(chunk))
            .order_by(Document.id)
        ):
            docs[fid].append(uuid)
    out: list[Promise] = []
    for fu, key in follow_ups:
        registered = local_date(fu.at)
        if until is not None and registered > until:
            continue
        if not docs.get(fu.id) or fu.promise_date is None or fu.promise_amount is None:
            continue
        out.append(Promise(
            promise_id=str(fu.id), rfc=key, fecha_registro=registered,
            fecha_promesa=max(fu.promise_date, registered), importe=fu.promise_amount,
            moneda=fu.promise_currency or MXN, doc_ids=tuple(docs[fu.id]), nota=fu.notes or "",
        ))
    return out


def rates_to_mxn(
    session: Session, currencies: Iterable[str], as_of: date,
    overrides: Mapping[str, Decimal] | None = None,
) -> MxnRates:
    """Rates for the MXN view: the user's, else the stored DOF rate of ``as_of``, else the
    latest one the ledger saw by ``as_of``.

    The stored rate is the one the DOF publishes for the fecha de corte, from the FIX that
    ``cobranza rates update|import`` keep (``services.rates.dof_rate``). Without one: the
    latest TipoCambio of an invoice or receipt in that currency dated on or before the
    fecha de corte; a currency never seen with a rate must be given by the user (the
    domain then refuses with ``TIPO_CAMBIO_FALTANTE``).
    """
    rates: dict[str, Decimal] = {}
    end = end_of(as_of)
    for currency in sorted(set(currencies) - {MXN}):
        if overrides and currency in overrides:
            rates[currency] = overrides[currency]
            continue
        stored = stored_rates.dof_rate(session, currency, as_of)
        if stored is not None:
            rates[currency] = stored.tipo_cambio
            continue
        found = session.execute(
            select(Document.tipo_cambio).where(
                Document.moneda == currency, Document.tipo_cambio.is_not(None), Document.fecha <= end
            ).order_by(Document.fecha.desc(), Document.id.desc()).limit(1)
        ).scalar()
        if found is None:
            found = session.execute(
                select(Payment.tipo_cambio).where(
                    Payment.moneda == currency, Payment.fecha_pago <= end
                ).order_by(Payment.fecha_pago.desc(), Payment.id.desc()).limit(1)
            ).scalar()
        if found is not None and found > 0:
            rates[currency] = found
    for currency, rate in (overrides or {}).items():
        rates.setdefault(currency, rate)
    return MxnRates(rates)


__all__ = [
    "LOCAL_TZ",
    "Filters",
    "Portfolio",
    "apply_filters",
    "load_portfolio",
    "load_promises",
    "local_date",
    "rates_to_mxn",
    "with_attributes",
]
