"""What the customer's link shows: its open documents, its REPs, its statement. Read-only.

Every query here is filtered by the customer the link resolved to (``links.resolve``);
a REP or a document of another customer is answered as not found, the same as one that
does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Customer, Document, Rep
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.states import DocumentStatus, RepStatus
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.services import collection_reports
from cfdi_cobranza.services.ledger import statement_letterhead

SHOWN_REPS = (RepStatus.TIMBRADO, RepStatus.SUSTITUYENDO, RepStatus.CANCELACION_SOLICITADA, RepStatus.CANCELADO,
              RepStatus.SUSTITUIDO)
STATEMENT_DAYS = 90


@dataclass(frozen=True)
class PortalDocument:
    serie_folio: str
    uuid: str
    fecha: date
    vencimiento: date | None
    moneda: str
    total: Decimal
    saldo: Decimal
    dias_vencido: int


@dataclass(frozen=True)
class PortalRep:
    uuid: str
    serie_folio: str
    fecha: datetime
    status: RepStatus
    sandbox: bool


@dataclass(frozen=True)
class PortalView:
    customer_rfc: str
    customer_nombre: str
    companies: tuple[str, ...]
    as_of: date
    documents: tuple[PortalDocument, ...]
    saldo: dict[str, Decimal]
    reps: tuple[PortalRep, ...]


def portal_view(session: Session, customer: Customer, as_of: date) -> PortalView:
    docs = session.scalars(select(Document).where(
        Document.customer_id == customer.id, Document.tipo == "I", Document.saldo > 0,
        Document.status == DocumentStatus.VIGENTE).order_by(Document.vencimiento, Document.id)).all()
    saldo: dict[str, Decimal] = {}
    out_docs = []
    for d in docs:
        saldo[d.moneda] = saldo.get(d.moneda, Decimal(0)) + d.saldo
        late = (as_of - d.vencimiento).days if d.vencimiento else 0
        out_docs.append(PortalDocument(d.serie_folio, d.uuid, d.fecha.date(), d.vencimiento, d.moneda, d.total,
                                       d.saldo, max(0, late)))
    reps = session.scalars(select(Rep).where(Rep.customer_id == customer.id, Rep.uuid.is_not(None),
                                             Rep.status.in_(SHOWN_REPS)).order_by(Rep.fecha.desc(), Rep.id.desc()))
    company_ids = {d.company_id for d in docs}
    companies = tuple(c.nombre or c.rfc for c in session.scalars(select(Company).where(Company.id.in_(company_ids))))
    return PortalView(customer.rfc, customer.nombre or customer.rfc, companies, as_of, tuple(out_docs), saldo,
                      tuple(PortalRep(r.uuid or "", f"{r.serie}-{r.folio}", r.fecha, RepStatus(r.status), r.sandbox)
                            for r in reps))


def customer_rep(session: Session, customer: Customer, uuid: str) -> tuple[str, bytes, bool]:
    """(file stem, stamped XML, sandbox) of one of this customer's REPs; not found otherwise."""
    rep = session.scalar(select(Rep).where(Rep.uuid == uuid.strip().upper(), Rep.customer_id == customer.id,
                                           Rep.status.in_(SHOWN_REPS)))
    if rep is None or rep.stamped_xml is None:
        raise NotFoundError("No hay ese REP en su cuenta.", code="REP_NO_ENCONTRADO")
    return f"REP-{rep.serie}{rep.folio}-{rep.uuid}", rep.stamped_xml, rep.sandbox


def statement_pdf(session: Session, customer: Customer, as_of: date) -> bytes:
    """The customer's statement of the last 90 days, as the office prints it."""
    # fpdf loads only when a PDF is asked for.
    from cfdi_cobranza.pdf.statement import render_statement_pdf

    periodo = DateRange(as_of - timedelta(days=STATEMENT_DAYS), as_of)
    statements = collection_reports.customer_statement(session, customer.key, periodo)
    return render_statement_pdf(statements, empresa=statement_letterhead(session, customer.id), fecha_corte=as_of)
