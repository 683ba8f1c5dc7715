"""Read side of the ledger: documents with balances, customers with open balances, companies."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from cfdi_cobranza.db.dialects import query_plan
from cfdi_cobranza.db.models import (
    Company,
    CompanyCsd,
    Credit,
    Customer,
    Document,
    DocumentConcept,
    DocumentRelation,
    DocumentTax,
    Rep,
    RepLine,
)
from cfdi_cobranza.domain import rfc as rfc_rules
from cfdi_cobranza.domain.cfdi import TaxLine
from cfdi_cobranza.domain.money import currency_decimals, quantize
from cfdi_cobranza.domain.statement import Company as Letterhead
from cfdi_cobranza.domain.states import DocumentStatus
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
    # Who issued the sealing certificate (cfdi.authority); "pruebas": no fiscal validity.
    autoridad: str = "no verificada"

    @property
    def sin_validez_fiscal(self) -> bool:
        return self.autoridad == "pruebas"
    status: str = DocumentStatus.VIGENTE.value
    estado_sat: str | None = None  # the SAT status service's last Estado
    fecha_cancelacion: date | None = None

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
            "autoridad": self.autoridad,
            "sin_validez_fiscal": self.sin_validez_fiscal,
            "status": self.status,
            "estado_sat": self.estado_sat,
            "fecha_cancelacion": self.fecha_cancelacion.isoformat() if self.fecha_cancelacion else None,
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


ESTADOS = {"": "Todos", "abiertos": "Con saldo", "pagados": "Pagados"}
TIPOS = {"": "Todos", "I": "Ingreso", "E": "Egreso", "P": "Pago (REP)"}


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents to list. ``corte`` asks for the ledger as it stood that day: documents
    issued up to then, with the balance their credits up to then leave; without it, today's."""

    cliente: str = ""  # RFC
    estado: str = ""  # "" | abiertos | pagados
    moneda: str = ""
    tipo: str = ""
    desde: date | None = None
    hasta: date | None = None
    vencidos: bool = False
    q: str = ""
    corte: date | None = None
    pagina: int = 1
    por_pagina: int = 50

    def query_args(self, **changes: object) -> dict[str, str]:
        """The filter as query-string arguments (for pagination links)."""
        out = {
            "cliente": self.cliente, "estado": self.estado, "moneda": self.moneda, "tipo": self.tipo,
            "desde": self.desde.strftime("%d/%m/%Y") if self.desde else "",
            "hasta": self.hasta.strftime("%d/%m/%Y") if self.hasta else "",
            "vencidos": "1" if self.vencidos else "", "q": self.q,
            "corte": self.corte.strftime("%d/%m/%Y") if self.corte else "", "pagina": str(self.pagina),
        }
        out.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in out.items() if v and not (k == "pagina" and v == "1")}


def _documents(flt: DocumentFilter, today: date) -> Select[Any]:
    """Documents with customer RFC and name (and, with a ``corte``, what was credited by then)."""
    as_of = flt.corte or today
    columns: list[Any] = [Document, Customer.rfc, Customer.nombre]
    is_open: Any = Document.saldo > 0
    if flt.corte is not None:
        paid = credited_as_of(flt.corte)
        credited = func.coalesce(paid.c.paid, 0)
        columns.append(credited)
        # A document cancelled at the SAT owes nothing, whatever the date of the corte.
        is_open = and_(credited < Document.total, Document.status != DocumentStatus.CANCELADO)
    stmt = select(*columns).join(Customer, Customer.id == Document.customer_id)
    if flt.corte is not None:
        stmt = stmt.outerjoin(paid, paid.c.doc == Document.id).where(
            Document.fecha <= datetime.combine(flt.corte, time.max))
    if flt.cliente:
        stmt = stmt.where(Customer.rfc == flt.cliente)
    if flt.tipo:
        stmt = stmt.where(Document.tipo == flt.tipo)
    if flt.estado == "abiertos":
        stmt = stmt.where(Document.tipo == "I", is_open)
    elif flt.estado == "pagados":
        stmt = stmt.where(Document.tipo == "I", not_(is_open))
    if flt.moneda:
        stmt = stmt.where(Document.moneda == flt.moneda)
    if flt.desde:
        stmt = stmt.where(Document.fecha >= datetime.combine(flt.desde, time.min))
    if flt.hasta:
        stmt = stmt.where(Document.fecha <= datetime.combine(flt.hasta, time.max))
    if flt.vencidos:
        stmt = stmt.where(Document.tipo == "I", is_open, Document.vencimiento < as_of)
    if flt.q:
        text = flt.q.upper()
        compact = text.replace("-", "").replace(" ", "")
        serie_folio = func.coalesce(Document.serie, "") + func.coalesce(Document.folio, "")
        stmt = stmt.where(or_(
            Document.uuid.contains(text, autoescape=True),
            Customer.rfc.startswith(text, autoescape=True),
            func.upper(serie_folio) == compact,
            Document.folio == flt.q,
            func.upper(func.coalesce(Customer.nombre, "")).contains(text, autoescape=True),
        ))
    return stmt


def _document_row(row: Any) -> DocumentRow:
    doc, rfc, nombre = row[0], row[1], row[2]
    saldo = doc.total - Decimal(row[3]) if len(row) > 3 and doc.tipo == "I" else doc.saldo
    if doc.status == DocumentStatus.CANCELADO:
        saldo = Decimal(0)
    return DocumentRow(doc.uuid, doc.serie, doc.folio, doc.fecha, doc.tipo, doc.metodo_pago, doc.moneda,
                       doc.total, saldo, doc.vencimiento, rfc, nombre, doc.autoridad, doc.status, doc.estado_sat,
                       doc.fecha_cancelacion)


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
    """Every matching document, oldest first (the CLI's list; the same query as ``search_documents``)."""
    flt = DocumentFilter(estado="abiertos" if open_only else "", tipo=tipo or "", corte=as_of)
    stmt = _documents(flt, as_of or date.min)
    if customer_rfc:
        stmt = stmt.where(Document.customer_id == find_customer(session, customer_rfc).id)
    stmt = stmt.order_by(Document.fecha, Document.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_document_row(row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class DocumentListItem:
    row: DocumentRow
    dias_vencido: int  # > 0 when overdue at the fecha de corte

    @property
    def vencido(self) -> bool:
        return self.dias_vencido > 0 and self.row.saldo > 0

    def to_dict(self) -> dict[str, Any]:
        return self.row.to_dict() | {"dias_vencido": max(0, self.dias_vencido)}


@dataclass(frozen=True)
class DocumentPage:
    items: list[DocumentListItem]
    total: int
    pagina: int
    paginas: int
    filtro: DocumentFilter
    fecha_corte: date
    monedas: list[str] = field(default_factory=list)


def count_documents(session: Session, flt: DocumentFilter, today: date) -> int:
    return session.scalar(select(func.count()).select_from(_documents(flt, today).subquery())) or 0


def document_currencies(session: Session) -> list[str]:
    return list(session.scalars(select(Document.moneda).distinct().order_by(Document.moneda)))


def search_documents(session: Session, flt: DocumentFilter, today: date, *, total: int | None = None,
                     monedas: list[str] | None = None) -> DocumentPage:
    """One page of matching documents, newest first. ``total`` may come from a cache; ``monedas``
    (the currencies a filter form offers, ``document_currencies``) is only echoed back."""
    as_of = flt.corte or today
    total = count_documents(session, flt, today) if total is None else total
    paginas = max(1, math.ceil(total / flt.por_pagina))
    pagina = min(flt.pagina, paginas)
    rows = session.execute(
        _documents(flt, today).order_by(Document.fecha.desc(), Document.id.desc())
        .offset((pagina - 1) * flt.por_pagina).limit(flt.por_pagina)
    ).all()
    items = []
    for row in rows:
        doc_row = _document_row(row)
        venc = doc_row.vencimiento
        items.append(DocumentListItem(doc_row, (as_of - venc).days if venc and doc_row.tipo == "I" else 0))
    return DocumentPage(items, total, pagina, paginas, flt, as_of, monedas or [])


@dataclass(frozen=True)
class CreditLine:
    kind: str
    amount: Decimal
    fecha: datetime
    source_uuid: str | None
    source_serie_folio: str
    num_parcialidad: int | None
    reversed: bool
    note: str | None
    payment_id: int | None = None
    rep_uuid: str | None = None  # the REP that complements this payment, newest first
    rep_status: str | None = None


@dataclass(frozen=True)
class AppliedLine:
    """What this document (a credit note or complement) paid on other documents."""

    target_uuid: str
    target_serie_folio: str
    amount: Decimal
    moneda: str | None
    fecha: datetime
    imported: bool
    reversed: bool


@dataclass(frozen=True)
class ConceptLine:
    clave_prod_serv: str
    descripcion: str
    cantidad: Decimal
    clave_unidad: str | None
    valor_unitario: Decimal
    importe: Decimal
    descuento: Decimal | None


@dataclass(frozen=True)
class Relation:
    tipo_relacion: str
    uuid: str


@dataclass(frozen=True)
class DocumentDetail:
    row: DocumentRow
    customer_id: int
    emisor_rfc: str
    emisor_nombre: str | None
    version: str
    fecha_timbrado: datetime
    subtotal: Decimal
    descuento: Decimal | None
    total_traslados: Decimal | None
    total_retenciones: Decimal | None
    forma_pago: str | None
    uso_cfdi: str | None
    condiciones_de_pago: str | None
    tipo_cambio: Decimal | None
    status: DocumentStatus
    sello_sat: str
    sha256: str
    source_name: str | None
    imported_at: datetime
    dias_vencido: int
    pagado: Decimal
    concepts: list[ConceptLine]
    taxes: list[TaxLine]
    relations: list[Relation]
    credits: list[CreditLine]
    applied: list[AppliedLine]

    def to_dict(self) -> dict[str, object]:
        data = self.row.to_dict()
        data.update({
            "version": self.version,
            "emisor_rfc": self.emisor_rfc,
            "fecha_timbrado": self.fecha_timbrado.isoformat(),
            "status": self.status.value,
            "sello_sat": self.sello_sat,
            "sha256": self.sha256,
            "abonos": [
                {"tipo": c.kind, "importe": format(c.amount, "f"), "fecha": c.fecha.isoformat(),
                 "uuid_origen": c.source_uuid, "num_parcialidad": c.num_parcialidad, "revertido": c.reversed}
                for c in self.credits
            ],
            "relacionados": [{"tipo_relacion": r.tipo_relacion, "uuid": r.uuid} for r in self.relations],
        })
        return data


def _load(session: Session, uuid: str) -> Document:
    key = uuid.strip().upper()
    doc = session.scalar(select(Document).where(Document.uuid == key)) if len(key) <= 36 else None
    if doc is None:
        raise NotFoundError(f"No hay ningún documento con folio fiscal {key[:36]}.", code="DOCUMENTO_NO_ENCONTRADO")
    return doc


def document_detail(session: Session, uuid: str, as_of: date) -> DocumentDetail:
    doc = _load(session, uuid)
    customer = session.get(Customer, doc.customer_id)
    assert customer is not None
    source = aliased(Document)
    credit_rows = session.execute(
        select(Credit, source.uuid, source.serie, source.folio)
        .outerjoin(source, source.id == Credit.source_document_id)
        .where(Credit.document_id == doc.id).order_by(Credit.fecha, Credit.id)
    ).all()
    reps: dict[int, tuple[str | None, str]] = {}
    credit_ids = [c.id for c, *_ in credit_rows if c.kind == "pago"]
    if credit_ids:
        for credit_id, rep_uuid, rep_status in session.execute(
            select(RepLine.credit_id, Rep.uuid, Rep.status).join(Rep, Rep.id == RepLine.rep_id)
            .where(RepLine.credit_id.in_(credit_ids)).order_by(Rep.id)
        ):
            reps[credit_id] = (rep_uuid, rep_status)  # the newest REP wins (a substitute over the original)
    credits = [
        CreditLine(c.kind, c.amount, c.fecha, s_uuid, f"{s_serie or ''}{s_folio or ''}", c.num_parcialidad,
                   c.reversed_at is not None, c.note, c.payment_id, *reps.get(c.id, (None, None)))
        for c, s_uuid, s_serie, s_folio in credit_rows
    ]
    target = aliased(Document)
    applied_rows = session.execute(
        select(Credit, target.serie, target.folio, target.moneda)
        .outerjoin(target, target.id == Credit.document_id)
        .where(Credit.source_document_id == doc.id).order_by(Credit.source_line)
    ).all()
    applied = [
        AppliedLine(c.target_uuid, f"{t_serie or ''}{t_folio or ''}", c.amount, t_moneda, c.fecha,
                    c.document_id is not None, c.reversed_at is not None)
        for c, t_serie, t_folio, t_moneda in applied_rows
    ]
    concepts = [
        ConceptLine(c.clave_prod_serv, c.descripcion, c.cantidad, c.clave_unidad, c.valor_unitario, c.importe,
                    c.descuento)
        for c in session.scalars(select(DocumentConcept).where(DocumentConcept.document_id == doc.id)
                                 .order_by(DocumentConcept.idx))
    ]
    taxes = [
        TaxLine(t.kind, t.impuesto, t.tipo_factor, t.tasa_o_cuota, t.base, t.importe)
        for t in session.scalars(select(DocumentTax).where(DocumentTax.document_id == doc.id,
                                                           DocumentTax.concept_idx.is_(None)))
    ]
    relations = [
        Relation(r.tipo_relacion, r.related_uuid)
        for r in session.scalars(select(DocumentRelation).where(DocumentRelation.document_id == doc.id))
    ]
    company = doc.company
    row = _document_row((doc, customer.rfc, customer.nombre))
    dias = (as_of - doc.vencimiento).days if doc.vencimiento and doc.tipo == "I" and doc.saldo > 0 else 0
    pagado = sum((c.amount for c in credits if not c.reversed), Decimal(0))
    return DocumentDetail(
        row, customer.id, company.rfc, company.nombre, doc.version, doc.fecha_timbrado, doc.subtotal, doc.descuento,
        doc.total_traslados, doc.total_retenciones, doc.forma_pago, doc.uso_cfdi, doc.condiciones_de_pago,
        doc.tipo_cambio, DocumentStatus(doc.status), doc.sello_sat, doc.sha256, doc.source_name, doc.imported_at, dias, pagado,
        concepts, taxes, relations, credits, applied,
    )


def document_xml(session: Session, uuid: str) -> tuple[str, bytes]:
    """The original bytes as stored (evidence: never re-serialised) and a download name."""
    doc = _load(session, uuid)
    return f"{doc.uuid}.xml", doc.xml


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


def get_company(session: Session, rfc: str) -> Company:
    """The company with ``rfc`` (``EMPRESA_NO_ENCONTRADA`` when none, or when the session
    is limited to other companies)."""
    company = session.scalar(select(Company).where(Company.rfc == rfc.strip().upper()[:13]))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc.strip().upper()[:13]}.",
                            code="EMPRESA_NO_ENCONTRADA")
    return company


@dataclass(frozen=True)
class CompanyRow:
    company: Company
    csd: CompanyCsd | None  # the newest active CSD


def companies_with_csd(session: Session) -> list[CompanyRow]:
    """Configuración → Empresas: every company with its active CSD, in one query."""
    rows: dict[int, CompanyRow] = {}
    for company, csd in session.execute(
        select(Company, CompanyCsd).outerjoin(CompanyCsd, (CompanyCsd.company_id == Company.id) & CompanyCsd.active)
        .order_by(Company.rfc, CompanyCsd.id.desc())
    ):
        rows.setdefault(company.id, CompanyRow(company, csd))
    return list(rows.values())


def statement_letterhead(session: Session, customer_id: int) -> Letterhead:
    """The company printed on a customer's estado de cuenta (CLI and web alike): the one that
    invoiced the customer most, the earliest-invoicing one on a tie; with no invoice, the first
    company registered; with no company at all, a neutral title."""
    company = session.scalar(
        select(Company).join(Document, Document.company_id == Company.id).where(Document.customer_id == customer_id)
        .group_by(Company.id).order_by(func.count().desc(), func.min(Document.id)).limit(1)
    ) or session.scalar(select(Company).order_by(Company.id).limit(1))
    if company is None:
        return Letterhead(nombre="Cuentas por cobrar", rfc="")
    return Letterhead(nombre=company.nombre or company.rfc, rfc=company.rfc)


def add_company(session: Session, rfc: str, nombre: str | None, regimen: str | None, cp: str | None,
                *, clock: Clock = system_clock) -> Company:
    rfc = rfc_rules.validate(rfc)
    if session.scalar(select(Company).where(Company.rfc == rfc)) is not None:
        raise ValidationError(f"La empresa {rfc} ya está registrada.", code="EMPRESA_DUPLICADA")
    company = Company(rfc=rfc, nombre=nombre, regimen_fiscal=regimen, codigo_postal=cp, created_at=clock())
    session.add(company)
    session.flush()
    return company


def _balance(customer_id: int) -> Select[str, Decimal]:
    return (select(Document.moneda, func.sum(Document.saldo))
            .where(Document.customer_id == customer_id, Document.tipo == "I", Document.saldo != 0)
            .group_by(Document.moneda))


def customer_balance(session: Session, customer_id: int) -> dict[str, Decimal]:
    """Open balance per currency of one customer: one indexed range read, no scan."""
    return {moneda: Decimal(total) for moneda, total in session.execute(_balance(customer_id))}


def balance_query_plan(session: Session, customer_id: int) -> str:
    """The database's plan for ``customer_balance`` (tests check it uses an index)."""
    return "\n".join(query_plan(session, _balance(customer_id)))
