"""Statements, collection letters and payment reminders by email, to the ``cobranza`` contacts.

The PDF is rendered when the message is queued (what the user saw is what is sent) and
stored with the message; the same customer, kind and date is queued once per contact
unless asked ``again``. Reminders go N days before a due date (company option
``reminder_days``), once per customer, company and due date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.domain.mail import MailKind
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.domain.period import DateRange, fmt_date
from cfdi_cobranza.domain.states import DocumentStatus
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services import collection_reports
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer, statement_letterhead
from cfdi_cobranza.services.mail.config import company_options
from cfdi_cobranza.services.mail.outbox import Queued, queue, queue_document, recipients_for
from cfdi_cobranza.services.portfolio import Filters


def send_statement(session: Session, rfc: str, periodo: DateRange, *, actor: str, again: bool = False,
                   clock: Clock = system_clock) -> Queued:
    """The customer's statement for ``periodo`` (PDF) to its ``cobranza`` contacts."""
    # fpdf loads only when a PDF is made.
    from cfdi_cobranza.pdf.statement import render_statement_pdf

    customer = find_customer(session, rfc)
    statements = collection_reports.customer_statement(session, customer.key, periodo)
    pdf = render_statement_pdf(statements, empresa=statement_letterhead(session, customer.id),
                               fecha_corte=periodo.hasta)
    return queue_document(session, customer.key, MailKind.ESTADO_CUENTA, pdf,
                          f"estado-de-cuenta-{customer.rfc}-{periodo.hasta.isoformat()}.pdf", as_of=periodo.hasta,
                          actor=actor, again=again, clock=clock)


def send_letter(session: Session, rfc: str, kind: str, as_of: date, *, actor: str, again: bool = False,
                min_dias_vencido: int = 1, clock: Clock = system_clock) -> Queued:
    """One collection letter (``cobranza letters`` kinds) for this customer, to its ``cobranza`` contacts."""
    customer = find_customer(session, rfc)
    run = send_letters(session, kind, as_of, filters=Filters(customer_ids=(customer.id,)), actor=actor,
                       again=again, min_dias_vencido=min_dias_vencido, clock=clock)
    if not run.letters:
        raise NotFoundError(f"El cliente {customer.rfc} no tiene documentos para esta carta.", code="SIN_CARTAS")
    if run.without_contacts:
        raise ValidationError(f"El cliente {customer.rfc} no tiene contactos de cobranza que reciban correo: "
                              "agregue uno con «cobranza customer contact add RFC --email ... --rol cobranza».",
                              code="SIN_CONTACTOS")
    return run.queued


@dataclass(frozen=True)
class LetterMailRun:
    letters: int  # customers with a letter
    queued: Queued
    without_contacts: list[str]  # RFCs with a letter but no collection contact: not sent

    def to_dict(self) -> dict[str, Any]:
        return {"cartas": self.letters, **self.queued.to_dict(), "sin_contactos": self.without_contacts}


def send_letters(session: Session, kind: str, as_of: date, *, filters: Filters | None, actor: str,
                 again: bool = False, min_dias_vencido: int = 1, firmante: str | None = None,
                 clock: Clock = system_clock) -> LetterMailRun:
    """The letters ``cobranza letters`` would print, each by email to its customer's ``cobranza``
    contacts; customers without one are listed, not sent."""
    # fpdf loads only when a PDF is made (services.letters imports the letters' PDF module).
    from cfdi_cobranza.pdf.letters import render_letter_pdf
    from cfdi_cobranza.services.letters import build_letters

    letters = build_letters(session, kind, as_of, filters=filters, min_dias_vencido=min_dias_vencido,
                            firmante=firmante)
    out, missing = Queued(), []
    for letter in letters:
        customer = find_customer(session, letter.customer.rfc)
        if not recipients_for(session, customer.id, MailKind.CARTA)[0]:
            missing.append(customer.rfc)
            continue
        done = queue_document(session, customer.key, MailKind.CARTA, render_letter_pdf(letter),
                              f"carta-{kind}-{customer.rfc}-{as_of.isoformat()}.pdf", as_of=as_of, actor=actor,
                              again=again, clock=clock, subkind=kind)
        out.ids.extend(done.ids)
        out.duplicates.extend(done.duplicates)
        out.skipped.extend(done.skipped)
    return LetterMailRun(len(letters), out, missing)


@dataclass(frozen=True)
class ReminderRun:
    as_of: date
    customers: int
    queued: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"fecha": self.as_of.isoformat(), "clientes": self.customers, "mensajes": self.queued}


def queue_reminders(session: Session, as_of: date, *, actor: str = "sistema", clock: Clock = system_clock) -> ReminderRun:
    """For each company with ``reminder_days`` N: the invoices with a balance due on ``as_of + N``,
    one message per customer to its ``cobranza`` contacts. Running it twice a day queues nothing new."""
    queued: list[int] = []
    customers = 0
    now = clock()
    for company in session.scalars(select(Company).order_by(Company.id)):
        days = company_options(session, company).reminder_days
        if not days:
            continue
        due = as_of + timedelta(days=days)
        docs = session.scalars(select(Document).where(
            Document.company_id == company.id, Document.tipo == "I", Document.vencimiento == due,
            Document.saldo > 0, Document.status == DocumentStatus.VIGENTE).order_by(Document.customer_id,
                                                                                    Document.id)).all()
        by_customer: dict[int, list[Document]] = defaultdict(list)
        for d in docs:
            by_customer[d.customer_id].append(d)
        for customer_id, items in by_customer.items():
            recipients, _ = recipients_for(session, customer_id, MailKind.RECORDATORIO)
            if not recipients:
                continue
            customer = session.get(Customer, customer_id)
            assert customer is not None
            lines = "\n".join(f"- {d.serie_folio} ({d.uuid}): saldo {fmt_money(d.saldo, d.moneda)}" for d in items)
            values = {"cliente": customer.nombre or customer.rfc, "empresa": company.nombre or company.rfc,
                      "documentos": lines, "vencimiento": fmt_date(due)}
            out = queue(session, MailKind.RECORDATORIO, f"recordatorio:{company.id}:{customer_id}:{due.isoformat()}",
                        recipients, values, now=now, actor=actor, company_id=company.id, customer_id=customer_id)
            customers += 1 if out.ids else 0
            queued.extend(out.ids)
    return ReminderRun(as_of, customers, queued)
