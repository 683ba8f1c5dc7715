"""Verification and collection letters: which customers get one, with which documents.

Builds ``pdf.letters.LetterData`` from the stored portfolio at a fecha de corte and
hands them to the PDF adapter. Confirmation letters go to every selected customer
with a balance; collection letters (recordatorio 1/2, prejurídica) only to customers
with documents overdue at least ``min_dias_vencido`` days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.db.models.collections import CreditCondition
from cfdi_cobranza.domain.period import fmt_date
from cfdi_cobranza.domain.statement import Company as Letterhead
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.pdf import letters as pdf_letters
from cfdi_cobranza.services import followups
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.collection_reports import open_items
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import Filters


@dataclass(frozen=True)
class LetterSent:
    """One customer's letter in a batch: how many documents it lists, how many overdue."""

    rfc: str
    nombre: str
    documentos: int
    vencidos: int

    def to_dict(self) -> dict[str, Any]:
        return {"rfc": self.rfc, "nombre": self.nombre, "documentos": self.documentos, "vencidos": self.vencidos}


@dataclass(frozen=True)
class LetterBatch:
    pdf: bytes
    letters: list[LetterSent]  # one per customer
    data: tuple[pdf_letters.LetterData, ...] = ()  # what each customer's letter says (to log them)
    keys: tuple[str, ...] = ()  # each letter's customer key


def build_letters(session: Session, kind: str, as_of: date, **kwargs: Any) -> list[pdf_letters.LetterData]:
    return [lt for _key, lt in _build_letters(session, kind, as_of, **kwargs)]


def _build_letters(
    session: Session,
    kind: str,
    as_of: date,
    *,
    filters: Filters | None = None,
    min_dias_vencido: int = 1,
    template: str | None = None,
    fecha: date | None = None,
    firmante: str | None = None,
) -> list[tuple[str, pdf_letters.LetterData]]:
    """(customer key, letter) per customer that gets one."""
    letter_kind = pdf_letters.LetterKind(pdf_letters._kind(kind))
    if template is not None:
        bad = pdf_letters.unknown_placeholders(template)
        if bad:
            raise ValidationError(
                "La plantilla contiene campos no permitidos: " + ", ".join("{" + b + "}" for b in bad)
                + ". Campos disponibles: " + ", ".join("{" + p + "}" for p in pdf_letters.PLACEHOLDERS) + ".",
                code="PLANTILLA_INVALIDA")
    if min_dias_vencido < 0:
        raise ValidationError("Los días mínimos de vencimiento no pueden ser negativos.", code="PLAZO_INVALIDO")
    items = open_items(session, as_of, filters=filters)
    by_customer: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        by_customer[item.rfc].append(item)
    if not by_customer:
        return []
    docs = {d.uuid: d for d in session.scalars(select(Document).where(Document.uuid.in_([i.doc_id for i in items])))}
    companies = {c.id: c for c in session.scalars(select(Company))}
    customers = {c.key: c for c in session.scalars(select(Customer).where(Customer.key.in_(list(by_customer))))}
    conditions = {c.customer_id: c for c in session.scalars(
        select(CreditCondition).where(CreditCondition.customer_id.in_([c.id for c in customers.values()])))}
    collection = letter_kind is not pdf_letters.LetterKind.CONFIRMACION_SALDOS
    out: list[tuple[str, pdf_letters.LetterData]] = []
    for key in sorted(by_customer, key=lambda k: (customers[k].nombre or k, k)):
        lines = []
        for item in sorted(by_customer[key], key=lambda i: (i.vencimiento, i.doc_id)):
            doc = docs[item.doc_id]
            lines.append(pdf_letters.LetterDocument(
                serie_folio=doc.serie_folio, uuid=doc.uuid, fecha=doc.fecha.date(), vencimiento=item.vencimiento,
                dias_vencidos=(as_of - item.vencimiento).days, moneda=item.moneda, total=doc.total, saldo=item.saldo))
        if collection and max(ln.dias_vencidos for ln in lines) < max(1, min_dias_vencido):
            continue
        customer = customers[key]
        company = companies[docs[by_customer[key][0].doc_id].company_id]
        cond = conditions.get(customer.id)
        out.append((key, pdf_letters.LetterData(
            company=Letterhead(nombre=company.nombre or company.rfc, rfc=company.rfc),
            customer=pdf_letters.Customer(nombre=customer.nombre or customer.rfc, rfc=customer.rfc,
                                          domicilio=cond.domicilio if cond else None,
                                          atencion=cond.contacto if cond else None),
            fecha=fecha or as_of, kind=letter_kind, documents=tuple(lines), fecha_corte=as_of,
            template=template, firmante=firmante,
        )))
    return out


def letters_pdf(session: Session, kind: str, as_of: date, **kwargs: Any) -> LetterBatch:
    pairs = _build_letters(session, kind, as_of, **kwargs)
    letters = [lt for _key, lt in pairs]
    if not letters:
        raise NotFoundError("Ningún cliente seleccionado tiene documentos para esta carta.", code="SIN_CARTAS")
    summary = [LetterSent(lt.customer.rfc, lt.customer.nombre, len(lt.documents),
                          sum(1 for d in lt.documents if d.dias_vencidos > 0)) for lt in letters]
    return LetterBatch(pdf_letters.render_letters_batch(letters), summary, tuple(letters),
                       tuple(key for key, _lt in pairs))


def record_letters(session: Session, batch: LetterBatch, kind: str, as_of: date, *, actor: str,
                   clock: Clock = system_clock) -> list[dict[str, Any]]:
    """Log each customer's letter as a follow-up of type carta with its own PDF attached.

    The whole batch is one unit: the caller commits once, so a failure anywhere leaves
    no follow-up of the batch behind. The same letter (kind and fecha de corte)
    generated again for a customer the same local day is not logged twice: the
    follow-up already there is returned with ``repetida: true`` (and its PDF kept as
    first sent). Another day, or another fecha de corte, is a new follow-up.
    """
    label = pdf_letters.KIND_TITLES[pdf_letters.LetterKind(pdf_letters._kind(kind))]
    now = clock()
    out: list[dict[str, Any]] = []
    for key, letter, sent in zip(batch.keys, batch.data, batch.letters, strict=True):
        customer = find_customer(session, key)
        existing = followups.letter_follow_up_today(session, customer.id, kind, as_of, now)
        if existing is not None:
            out.append({"rfc": sent.rfc, "seguimiento": existing, "repetida": True})
            continue
        note = (f"Carta {label} ({kind}), fecha de corte {fmt_date(as_of)}: {sent.documentos} documento(s), "
                f"{sent.vencidos} vencido(s).")
        view = followups.add_follow_up(session, key, tipo="carta", contacto=actor, notes=note,
                                       documentos=[d.uuid for d in letter.documents], clock=lambda: now)
        pdf = pdf_letters.render_letters_batch([letter])
        followups.attach_file(session, view.row.id, f"carta-{kind}-{as_of:%Y%m%d}-{sent.rfc}.pdf", pdf,
                              carta_tipo=kind, fecha_corte=as_of)
        out.append({"rfc": sent.rfc, "seguimiento": view.row.id, "repetida": False})
    return out


__all__ = ["LetterBatch", "build_letters", "letters_pdf", "record_letters"]
