"""Keeps each document's stored ``saldo`` equal to its total minus its live credits.

Every service that adds, resolves or reverses a credit calls ``refresh_saldo`` in the
same transaction, so readers (aging, statements, the API) read one indexed column.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Credit, Document, DocumentRelation
from cfdi_cobranza.domain.states import DocumentStatus

CREDIT_NOTE_RELATIONS = ("01", "03")  # nota de crédito, devolución


def live_credits(session: Session, document_id: int, *, exclude_source: int | None = None) -> Decimal:
    stmt = select(func.coalesce(func.sum(Credit.amount), 0)).where(
        Credit.document_id == document_id, Credit.reversed_at.is_(None)
    )
    if exclude_source is not None:
        stmt = stmt.where((Credit.source_document_id.is_(None)) | (Credit.source_document_id != exclude_source))
    return Decimal(session.execute(stmt).scalar_one())


def refresh_saldo(session: Session, doc: Document) -> None:
    if doc.status == DocumentStatus.CANCELADO:
        doc.saldo = Decimal(0)  # cancelled at the SAT: owes nothing and leaves nothing to apply
    elif doc.tipo == "I":
        doc.saldo = doc.total - live_credits(session, doc.id)
    elif doc.tipo == "E":
        applied = session.execute(
            select(func.coalesce(func.sum(Credit.amount), 0)).where(
                Credit.source_document_id == doc.id, Credit.reversed_at.is_(None)
            )
        ).scalar_one()
        doc.saldo = doc.total - Decimal(applied)  # what is left of the note: saldo a favor
    else:
        doc.saldo = Decimal(0)


def attach_waiting_credits(session: Session, invoice: Document) -> None:
    """Credits that named this UUID before it was imported now count."""
    session.execute(
        update(Credit)
        .where(Credit.target_uuid == invoice.uuid, Credit.document_id.is_(None))
        .values(document_id=invoice.id)
    )


def allocate_credit_note(session: Session, note: Document) -> None:
    """Spread a credit note over the invoices it relates to, in the order it names them.

    Each imported related invoice receives at most its balance before this note;
    what is not allocated stays as the note's saldo (saldo a favor of the customer).
    Re-run whenever one of the related invoices arrives, so the outcome does not
    depend on the order in which the files were imported. A related invoice in
    another currency is left alone (the note cannot say the rate); it shows as
    saldo a favor for the user to apply by hand.
    """
    relations = session.scalars(
        select(DocumentRelation)
        .where(DocumentRelation.document_id == note.id, DocumentRelation.tipo_relacion.in_(CREDIT_NOTE_RELATIONS))
        .order_by(DocumentRelation.id)
    ).all()
    existing = {
        c.target_uuid: c
        for c in session.scalars(select(Credit).where(Credit.source_document_id == note.id))
    }
    remaining = note.total
    for line, rel in enumerate(relations):
        target = session.scalar(select(Document).where(Document.uuid == rel.related_uuid))
        credit = existing.get(rel.related_uuid)
        if target is None:
            # Unknown yet: reserve the remainder so the note takes effect on arrival.
            amount = remaining
        elif (target.tipo != "I" or target.moneda != note.moneda or target.customer_id != note.customer_id
              or target.status == DocumentStatus.CANCELADO):  # a cancelled invoice owes nothing to credit
            amount = Decimal(0)
        else:
            available = target.total - live_credits(session, target.id, exclude_source=note.id)
            amount = max(Decimal(0), min(remaining, available))
        if credit is None:
            credit = Credit(
                kind="nota_credito",
                target_uuid=rel.related_uuid,
                document_id=target.id if target else None,
                source_document_id=note.id,
                source_line=line,
                amount=amount,
                fecha=note.fecha,
            )
            session.add(credit)
        else:
            credit.amount = amount
            credit.document_id = target.id if target else None
        if target is not None:
            remaining -= amount
            session.flush()
            refresh_saldo(session, target)
    session.flush()
    refresh_saldo(session, note)


def notes_relating(session: Session, uuid: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .join(DocumentRelation, DocumentRelation.document_id == Document.id)
            .where(
                DocumentRelation.related_uuid == uuid,
                Document.tipo == "E",
                DocumentRelation.tipo_relacion.in_(CREDIT_NOTE_RELATIONS),
            )
        )
    )
