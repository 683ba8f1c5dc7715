"""Document search (filters, text search, pages), detail with balances and the original XML."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from cfdi_cobranza.db.models import (
    Credit,
    Customer,
    Document,
    DocumentConcept,
    DocumentRelation,
    DocumentTax,
    Rep,
    RepLine,
)
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.ledger import DocumentRow
from web.cache import cached
from web.services.inputs import parse_date, parse_positive_int

ESTADOS = {"": "Todos", "abiertos": "Con saldo", "pagados": "Pagados"}
TIPOS = {"": "Todos", "I": "Ingreso", "E": "Egreso", "P": "Pago (REP)"}
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class DocumentFilter:
    cliente: str = ""  # RFC
    estado: str = ""  # "" | abiertos | pagados
    moneda: str = ""
    tipo: str = ""
    desde: date | None = None
    hasta: date | None = None
    vencidos: bool = False
    q: str = ""
    pagina: int = 1
    por_pagina: int = 50

    @classmethod
    def parse(cls, args: Mapping[str, str], *, page_size: int = 50) -> DocumentFilter:
        """Read query-string filters; bad values raise a Spanish ValidationError."""
        estado = (args.get("estado") or "").strip()
        if estado not in ESTADOS:
            raise ValidationError("Estado desconocido; use abiertos o pagados.", code="VALIDACION")
        tipo = (args.get("tipo") or "").strip().upper()
        if tipo not in TIPOS:
            raise ValidationError("Tipo de comprobante desconocido; use I, E o P.", code="VALIDACION")
        moneda = (args.get("moneda") or "").strip().upper()
        if moneda and (len(moneda) != 3 or not moneda.isalpha()):
            raise ValidationError("La moneda debe ser un código de 3 letras, p. ej. MXN o USD.", code="VALIDACION")
        cliente = (args.get("cliente") or "").strip().upper()
        if len(cliente) > 13:
            raise ValidationError("El RFC tiene como máximo 13 caracteres.", code="RFC_INVALIDO")
        desde = parse_date(args.get("desde"), "Fecha desde")
        hasta = parse_date(args.get("hasta"), "Fecha hasta")
        if desde and hasta and desde > hasta:
            raise ValidationError("La fecha «desde» es posterior a la fecha «hasta».", code="FECHA_INVALIDA")
        q = (args.get("q") or "").strip()[:100]
        pagina = parse_positive_int(args.get("pagina"), "La página", 1, 1_000_000)
        por_pagina = parse_positive_int(args.get("por_pagina"), "Por página", page_size, MAX_PAGE_SIZE)
        vencidos = (args.get("vencidos") or "") in {"1", "si", "sí", "true", "on"}
        return cls(cliente, estado, moneda, tipo, desde, hasta, vencidos, q, pagina, por_pagina)

    def query_args(self, **changes: object) -> dict[str, str]:
        """The filter as query-string arguments (for pagination links)."""
        out = {
            "cliente": self.cliente, "estado": self.estado, "moneda": self.moneda, "tipo": self.tipo,
            "desde": self.desde.strftime("%d/%m/%Y") if self.desde else "",
            "hasta": self.hasta.strftime("%d/%m/%Y") if self.hasta else "",
            "vencidos": "1" if self.vencidos else "", "q": self.q, "pagina": str(self.pagina),
        }
        out.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in out.items() if v and not (k == "pagina" and v == "1")}


@dataclass(frozen=True)
class DocumentListItem:
    row: DocumentRow
    dias_vencido: int  # > 0 when overdue at the fecha de corte

    @property
    def vencido(self) -> bool:
        return self.dias_vencido > 0 and self.row.saldo > 0


@dataclass(frozen=True)
class DocumentPage:
    items: list[DocumentListItem]
    total: int
    pagina: int
    paginas: int
    filtro: DocumentFilter
    fecha_corte: date
    monedas: list[str] = field(default_factory=list)


def _filtered(flt: DocumentFilter, as_of: date) -> Select[Document, str, str | None]:
    stmt = select(Document, Customer.rfc, Customer.nombre).join(Customer, Customer.id == Document.customer_id)
    if flt.cliente:
        stmt = stmt.where(Customer.rfc == flt.cliente)
    if flt.tipo:
        stmt = stmt.where(Document.tipo == flt.tipo)
    if flt.estado == "abiertos":
        stmt = stmt.where(Document.tipo == "I", Document.saldo > 0)
    elif flt.estado == "pagados":
        stmt = stmt.where(Document.tipo == "I", Document.saldo <= 0)
    if flt.moneda:
        stmt = stmt.where(Document.moneda == flt.moneda)
    if flt.desde:
        stmt = stmt.where(Document.fecha >= datetime.combine(flt.desde, time.min))
    if flt.hasta:
        stmt = stmt.where(Document.fecha <= datetime.combine(flt.hasta, time.max))
    if flt.vencidos:
        stmt = stmt.where(Document.tipo == "I", Document.saldo > 0, Document.vencimiento < as_of)
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


def _count(session: Session, flt: DocumentFilter, as_of: date) -> int:
    """Documents matching the filter: a COUNT over the filtered set, cached per process for the
    current ledger version (``web.cache``; documents and customers are tracked tables)."""
    key_filter = replace(flt, pagina=1, por_pagina=1)
    key = (key_filter, as_of if flt.vencidos else None)  # only «vencidos» depends on the fecha de corte
    return cached(session, "documents_count", key,
                  lambda: session.scalar(select(func.count()).select_from(_filtered(flt, as_of).subquery())) or 0)


def _currencies(session: Session) -> list[str]:
    return cached(session, "documents_currencies", (), lambda: list(
        session.scalars(select(Document.moneda).distinct().order_by(Document.moneda))))


def search_documents(session: Session, flt: DocumentFilter, as_of: date) -> DocumentPage:
    base = _filtered(flt, as_of)
    total = _count(session, flt, as_of)
    paginas = max(1, math.ceil(total / flt.por_pagina))
    pagina = min(flt.pagina, paginas)
    rows = session.execute(
        base.order_by(Document.fecha.desc(), Document.id.desc())
        .offset((pagina - 1) * flt.por_pagina).limit(flt.por_pagina)
    ).all()
    items = []
    for doc, rfc, nombre in rows:
        row = DocumentRow(doc.uuid, doc.serie, doc.folio, doc.fecha, doc.tipo, doc.metodo_pago, doc.moneda,
                          doc.total, doc.saldo, doc.vencimiento, rfc, nombre)
        dias = (as_of - doc.vencimiento).days if doc.vencimiento and doc.tipo == "I" else 0
        items.append(DocumentListItem(row, dias))
    return DocumentPage(items, total, pagina, paginas, flt, as_of, list(_currencies(session)))


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
class TaxLine:
    kind: str
    impuesto: str
    tipo_factor: str | None
    tasa_o_cuota: Decimal | None
    base: Decimal | None
    importe: Decimal | None


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
    status: str
    sello_sat: str
    sha256: str
    source_name: str | None
    imported_at: datetime
    dias_vencido: int
    pagado: Decimal
    concepts: list[ConceptLine]
    taxes: list[TaxLine]
    relations: list[tuple[str, str]]
    credits: list[CreditLine]
    applied: list[AppliedLine]

    def to_dict(self) -> dict[str, object]:
        data = self.row.to_dict()
        data.update({
            "version": self.version,
            "emisor_rfc": self.emisor_rfc,
            "fecha_timbrado": self.fecha_timbrado.isoformat(),
            "status": self.status,
            "sello_sat": self.sello_sat,
            "sha256": self.sha256,
            "abonos": [
                {"tipo": c.kind, "importe": format(c.amount, "f"), "fecha": c.fecha.isoformat(),
                 "uuid_origen": c.source_uuid, "num_parcialidad": c.num_parcialidad, "revertido": c.reversed}
                for c in self.credits
            ],
            "relacionados": [{"tipo_relacion": t, "uuid": u} for t, u in self.relations],
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
        (r.tipo_relacion, r.related_uuid)
        for r in session.scalars(select(DocumentRelation).where(DocumentRelation.document_id == doc.id))
    ]
    company = doc.company
    row = DocumentRow(doc.uuid, doc.serie, doc.folio, doc.fecha, doc.tipo, doc.metodo_pago, doc.moneda,
                      doc.total, doc.saldo, doc.vencimiento, customer.rfc, customer.nombre)
    dias = (as_of - doc.vencimiento).days if doc.vencimiento and doc.tipo == "I" and doc.saldo > 0 else 0
    pagado = sum((c.amount for c in credits if not c.reversed), Decimal(0))
    return DocumentDetail(
        row, customer.id, company.rfc, company.nombre, doc.version, doc.fecha_timbrado, doc.subtotal, doc.descuento,
        doc.total_traslados, doc.total_retenciones, doc.forma_pago, doc.uso_cfdi, doc.condiciones_de_pago,
        doc.tipo_cambio, doc.status, doc.sello_sat, doc.sha256, doc.source_name, doc.imported_at, dias, pagado,
        concepts, taxes, relations, credits, applied,
    )


def document_xml(session: Session, uuid: str) -> tuple[str, bytes]:
    """The original bytes as stored (evidence: never re-serialised) and a download name."""
    doc = _load(session, uuid)
    return f"{doc.uuid}.xml", doc.xml
