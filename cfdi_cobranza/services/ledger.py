"""Read side of the ledger: documents with balances, customers with open balances, companies."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.dialects import query_plan
from cfdi_cobranza.db.models import Company, Credit, Customer, Document
from cfdi_cobranza.domain.money import currency_decimals, quantize
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock


def _money(value: Decimal, currency: str) -> str:
    return format(quantize(value, currency_decimals(currency)), "f")


@dataclass(frozen=True)
class DocumentRow:
    uuid: str
    serie: str | None
    folio: str | None
    fecha: datetime
    tipo: str
    metodo_pago: str | None
    moneda: str
    total: Decimal
    saldo: Decimal
    vencimiento: date | None
    customer_rfc: str
    customer_nombre: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "serie": self.serie,
            "folio": self.folio,
            "fecha": self.fecha.isoformat(),
            "tipo": self.tipo,
            "metodo_pago": self.metodo_pago,
            "moneda": self.moneda,
            "total": _money(self.total, self.moneda),
            "saldo": _money(self.saldo, self.moneda),
            "vencimiento": self.vencimiento.isoformat() if self.vencimiento else None,
            "customer_rfc": self.customer_rfc,
            "customer_nombre": self.customer_nombre,
        }


def find_customer(session: Session, rfc: str) -> Customer:
    rfc = rfc.strip().upper()
    customer = session.scalar(select(Customer).where(Customer.key == rfc))
    if customer is None:
        customer = session.scalar(select(Customer).where(Customer.rfc == rfc).order_by(Customer.id))
    if customer is None:
        raise NotFoundError(f"No hay ningún cliente con RFC {rfc}.", code="CLIENTE_NO_ENCONTRADO")
    return customer


def credited_as_of(as_of: date) -> Any:
    """Subquery: live credits per document dated up to ``as_of`` (for a past fecha de corte)."""
    end = datetime.combine(as_of, time.max)
    return (
        select(Credit.document_id.label("doc"), func.sum(Credit.amount).label("paid"))
        .where(Credit.document_id.is_not(None), Credit.fecha <= end, Credit.reversed_at.is_(None))
        .group_by(Credit.document_id)
        .subquery()
    )


def list_documents(
    session: Session,
    *,
    customer_rfc: str | None = None,
    open_only: bool = False,
    as_of: date | None = None,
    tipo: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[DocumentRow]:
    paid = credited_as_of(as_of) if as_of is not None else None
    columns: list[Any] = [Document, Customer.rfc, Customer.nombre]
    if paid is not None:
        columns.append(func.coalesce(paid.c.paid, 0))
    stmt = select(*columns).join(Customer, Customer.id == Document.customer_id)
    if paid is not None:
        stmt = stmt.outerjoin(paid, paid.c.doc == Document.id)
    if customer_rfc:
        stmt = stmt.where(Document.customer_id == find_customer(session, customer_rfc).id)
    if tipo:
        stmt = stmt.where(Document.tipo == tipo)
    if as_of is not None:
        stmt = stmt.where(Document.fecha <= datetime.combine(as_of, time.max))
    if open_only and as_of is None:
        stmt = stmt.where(Document.tipo == "I", Document.saldo > 0)
    stmt = stmt.order_by(Document.fecha, Document.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    for row in session.execute(stmt):
        doc, rfc, nombre = row[0], row[1], row[2]
        saldo = doc.saldo
        if paid is not None and doc.tipo == "I":
            saldo = doc.total - Decimal(row[3])
        if open_only and (doc.tipo != "I" or saldo <= 0):
            continue
        out.append(DocumentRow(doc.uuid, doc.serie, doc.folio, doc.fecha, doc.tipo, doc.metodo_pago, doc.moneda,
                               doc.total, saldo, doc.vencimiento, rfc, nombre))
    return out


@dataclass(frozen=True)
class CustomerRow:
    rfc: str
    nombre: str | None
    regimen_fiscal: str | None
    codigo_postal: str | None
    saldo: dict[str, Decimal]  # open balance per currency
    saldo_a_favor: dict[str, Decimal]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rfc": self.rfc,
            "nombre": self.nombre,
            "regimen_fiscal": self.regimen_fiscal,
            "codigo_postal": self.codigo_postal,
            "saldo": {k: _money(v, k) for k, v in sorted(self.saldo.items())},
            "saldo_a_favor": {k: _money(v, k) for k, v in sorted(self.saldo_a_favor.items())},
        }


def list_customers(session: Session) -> list[CustomerRow]:
    open_rows = session.execute(
        select(Document.customer_id, Document.moneda, func.sum(Document.saldo))
        .where(Document.tipo == "I", Document.saldo != 0)
        .group_by(Document.customer_id, Document.moneda)
    )
    owed: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for cid, moneda, total in open_rows:
        owed[cid][moneda] = Decimal(total)
    favor_rows = session.execute(
        select(Document.customer_id, Document.moneda, func.sum(Document.saldo))
        .where(Document.tipo == "E", Document.saldo > 0)
        .group_by(Document.customer_id, Document.moneda)
    )
    favor: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for cid, moneda, total in favor_rows:
        favor[cid][moneda] = Decimal(total)
    return [
        CustomerRow(c.rfc, c.nombre, c.regimen_fiscal, c.codigo_postal, owed.get(c.id, {}), favor.get(c.id, {}))
        for c in session.scalars(select(Customer).order_by(Customer.nombre, Customer.rfc))
    ]


def list_companies(session: Session) -> list[Company]:
    return list(session.scalars(select(Company).order_by(Company.rfc)))


def add_company(session: Session, rfc: str, nombre: str | None, regimen: str | None, cp: str | None,
                *, clock: Clock = system_clock) -> Company:
    from cfdi_cobranza.domain.rfc import validate_rfc

    rfc = validate_rfc(rfc)
    if session.scalar(select(Company).where(Company.rfc == rfc)) is not None:
        raise ValidationError(f"La empresa {rfc} ya está registrada.", code="EMPRESA_DUPLICADA")
    company = Company(rfc=rfc, nombre=nombre, regimen_fiscal=regimen, codigo_postal=cp, created_at=clock())
    session.add(company)
    session.flush()
    return company


__all__ = ["list_companies", "list_customers", "list_documents"]


def customer_balance(session: Session, customer_id: int) -> dict[str, Decimal]:
    """Open balance per currency of one customer: one indexed range read, no scan."""
    rows = session.execute(
        select(Document.moneda, func.sum(Document.saldo))
        .where(Document.customer_id == customer_id, Document.tipo == "I", Document.saldo != 0)
        .group_by(Document.moneda)
    )
    return {moneda: Decimal(total) for moneda, total in rows}


def balance_query_plan(session: Session, customer_id: int) -> str:
    """The database's plan for ``customer_balance`` (tests check it uses an index)."""
    stmt = (
        select(Document.moneda, func.sum(Document.saldo))
        .where(Document.customer_id == customer_id, Document.tipo == "I", Document.saldo != 0)
        .group_by(Document.moneda)
    )
    return "\n".join(query_plan(session, stmt))
