"""Customers for the collector: balances with a risk colour, one customer's file, the pick list.

Risk (a traffic light for collectors, not a credit score): ``rojo`` when some open
invoice is more than ``RED_DAYS`` days past due, ``ambar`` when something is past due,
``verde`` otherwise, ``sin_saldo`` when nothing is owed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Customer, Document
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.services.ledger import DocumentFilter, DocumentPage, search_documents
from cfdi_cobranza.services.payments import usual_formas

RED_DAYS = 60
RISK_LABELS = {
    "rojo": f"Alto: más de {RED_DAYS} días vencido",
    "ambar": "Medio: saldo vencido",
    "verde": "Al corriente",
    "sin_saldo": "Sin saldo",
}
_RISK_ORDER = {"rojo": 0, "ambar": 1, "verde": 2, "sin_saldo": 3}


def risk(saldo: dict[str, Decimal], max_dias_vencido: int) -> str:
    if not any(v > 0 for v in saldo.values()):
        return "sin_saldo"
    if max_dias_vencido > RED_DAYS:
        return "rojo"
    if max_dias_vencido > 0:
        return "ambar"
    return "verde"


@dataclass(frozen=True)
class CustomerOverview:
    id: int
    rfc: str
    nombre: str | None
    saldo: dict[str, Decimal]
    vencido: dict[str, Decimal]
    documentos_abiertos: int
    max_dias_vencido: int
    riesgo: str

    @property
    def riesgo_texto(self) -> str:
        return RISK_LABELS[self.riesgo]


def _overviews(session: Session, as_of: date, customer_id: int | None = None) -> list[CustomerOverview]:
    saldo: dict[int, dict[str, Decimal]] = defaultdict(dict)
    vencido: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    docs: dict[int, int] = defaultdict(int)
    worst: dict[int, int] = defaultdict(int)
    open_stmt = select(Document.customer_id, Document.moneda, Document.saldo, Document.vencimiento).where(
        Document.tipo == "I", Document.saldo > 0
    )
    cust_stmt = select(Customer).order_by(Customer.nombre, Customer.rfc)
    if customer_id is not None:
        open_stmt = open_stmt.where(Document.customer_id == customer_id)
        cust_stmt = cust_stmt.where(Customer.id == customer_id)
    # Summing in Python keeps Decimal exact on SQLite's scaled integers too.
    for cid, moneda, amount, venc in session.execute(open_stmt):
        saldo[cid][moneda] = saldo[cid].get(moneda, Decimal(0)) + amount
        docs[cid] += 1
        if venc is not None and venc < as_of:
            vencido[cid][moneda] += amount
            worst[cid] = max(worst[cid], (as_of - venc).days)
    return [
        CustomerOverview(c.id, c.rfc, c.nombre, dict(sorted(saldo[c.id].items())), dict(sorted(vencido[c.id].items())),
                         docs[c.id], worst[c.id], risk(saldo[c.id], worst[c.id]))
        for c in session.scalars(cust_stmt)
    ]


def customers_by_risk(session: Session, as_of: date, q: str = "") -> list[CustomerOverview]:
    """Every customer (or those whose RFC or name contains ``q``), riskiest first."""
    rows = _overviews(session, as_of)
    text = q.strip().upper()
    if text:
        rows = [r for r in rows if text in r.rfc or text in (r.nombre or "").upper()]
    return sorted(rows, key=lambda r: (_RISK_ORDER[r.riesgo], -r.max_dias_vencido, r.nombre or r.rfc))


@dataclass(frozen=True)
class CustomerDetail:
    overview: CustomerOverview
    regimen_fiscal: str | None
    codigo_postal: str | None
    uso_cfdi: str | None
    credit_days: int | None
    documentos: DocumentPage


def customer_detail(session: Session, customer_id: int, as_of: date, pagina: int = 1) -> CustomerDetail:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("No existe ese cliente.", code="CLIENTE_NO_ENCONTRADO")
    overview = _overviews(session, as_of, customer_id)[0]
    page = search_documents(session, DocumentFilter(cliente=customer.rfc, pagina=pagina), as_of)
    return CustomerDetail(overview, customer.regimen_fiscal, customer.codigo_postal, customer.uso_cfdi,
                          customer.credit_days, page)


def customer_key(session: Session, customer_id: int) -> str:
    key = session.scalar(select(Customer.key).where(Customer.id == customer_id))
    if key is None:
        raise NotFoundError("No existe ese cliente.", code="CLIENTE_NO_ENCONTRADO")
    return key


@dataclass(frozen=True)
class CustomerChoice:
    """One entry of a customer pick list, with the payment form the customer usually pays with."""

    key: str
    rfc: str
    nombre: str | None
    forma: str  # "" when the customer has no usual form and no payment yet

    @property
    def label(self) -> str:
        return f"{self.nombre or self.key} ({self.key})"


def customers_for_select(session: Session, limit: int | None = None) -> list[CustomerChoice]:
    """Customers by name (the first ``limit``), each with its usual payment form, in two queries."""
    return _choices(session, session.scalars(select(Customer).order_by(Customer.nombre, Customer.key).limit(limit)))


def customer_choice(session: Session, key_or_rfc: str) -> CustomerChoice | None:
    """The pick-list entry of the customer with this key or RFC (the first by name), or None."""
    wanted = key_or_rfc.strip().upper()
    found = session.scalar(select(Customer).where(or_(Customer.key == wanted, Customer.rfc == wanted))
                           .order_by(Customer.nombre, Customer.key).limit(1))
    return None if found is None else _choices(session, [found])[0]


def _choices(session: Session, customers: Iterable[Customer]) -> list[CustomerChoice]:
    listed = list(customers)
    usual = usual_formas(session, listed)
    return [CustomerChoice(c.key, c.rfc, c.nombre, usual.get(c.id, "")) for c in listed]
