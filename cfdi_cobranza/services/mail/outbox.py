"""The outbox: queue a message in the transaction of the event that causes it; read the log.

``queue`` writes one ``mail_message`` per recipient with a unique idempotency key (for a
REP: ``rep:<rep id>:<contact id>``), so the same event queued twice (a retry, a second
worker, a double click) adds nothing. Subject and body are rendered from the template now;
``{enlace}`` stays and becomes the customer's link when the message is sent (the link's
token never sits in the database). Attachments are stored bytes, or a reference to a REP's
stamped XML / PDF, read when sending so the XML is byte-identical to the stored REP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Customer, Document, Rep
from cfdi_cobranza.db.models.mail import CustomerContact, MailAttachment, MailMessage, MailTemplate
from cfdi_cobranza.domain.mail import (
    DEFAULT_TEMPLATES,
    KIND_LABELS,
    ContactRole,
    MailKind,
    Template,
    check_template,
    fill,
    header_text,
    parse_email_list,
)
from cfdi_cobranza.domain.period import fmt_date
from cfdi_cobranza.domain.states import MailStatus, RepStatus
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.mail.config import company_options
from cfdi_cobranza.services.users import record_audit

SENDABLE_REP = (RepStatus.TIMBRADO, RepStatus.CANCELACION_SOLICITADA, RepStatus.SUSTITUYENDO)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes | None = None
    rep_id: int | None = None
    rep_part: str | None = None  # xml | pdf


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None
    contact_id: int | None = None


# --- templates ---------------------------------------------------------------------------

def template(session: Session, kind: MailKind) -> Template:
    row = session.get(MailTemplate, kind.value)
    return Template(row.subject, row.body) if row else DEFAULT_TEMPLATES[kind]


def parse_kind(value: str) -> MailKind:
    try:
        return MailKind((value or "").strip().lower())
    except ValueError:
        raise ValidationError(f"Tipo de correo desconocido «{value}»: use {', '.join(k.value for k in MailKind)}.",
                              code="CORREO_TIPO_INVALIDO") from None


def set_template(session: Session, kind: str, subject: str, body: str, *, actor: str,
                 clock: Clock = system_clock) -> Template:
    k = parse_kind(kind)
    checked = check_template(k, subject, body)
    row = session.get(MailTemplate, k.value)
    if row is None:
        row = MailTemplate(kind=k.value)
        session.add(row)
    row.subject, row.body, row.updated_at, row.updated_by = checked.subject, checked.body, clock(), actor[:100]
    record_audit(session, actor, "plantilla_correo", "mail_template", k.value, checked.subject, clock=clock)
    session.flush()
    return checked


def reset_template(session: Session, kind: str, *, actor: str, clock: Clock = system_clock) -> Template:
    k = parse_kind(kind)
    row = session.get(MailTemplate, k.value)
    if row is not None:
        session.delete(row)
        record_audit(session, actor, "plantilla_correo_original", "mail_template", k.value, None, clock=clock)
    return DEFAULT_TEMPLATES[k]


# --- queueing ----------------------------------------------------------------------------

@dataclass
class Queued:
    """What ``queue`` did: message ids written, recipients skipped (already queued, opted out)."""

    ids: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"mensajes": self.ids, "ya_en_cola": self.duplicates, "omitidos": self.skipped}


def _message_row(tpl: Template, kind: MailKind, key: str, r: Recipient, values: Mapping[str, str], *, now: datetime,
                 actor: str, company_id: int | None, customer_id: int | None, rep_id: int | None, with_link: bool,
                 subject_prefix: str) -> dict[str, Any]:
    """The ``mail_message`` row for one recipient: rendered now, ``{enlace}`` kept for delivery."""
    per = {**values, "contacto": r.name or r.email, **({} if with_link else {"enlace": ""})}
    return {"kind": kind.value, "idempotency_key": f"{key}:{r.contact_id if r.contact_id is not None else r.email}"[:200],
            "company_id": company_id, "customer_id": customer_id, "contact_id": r.contact_id, "rep_id": rep_id,
            "to_addr": r.email, "to_name": header_text(r.name) or None,
            "subject": header_text(subject_prefix + fill(tpl.subject, per), 300),
            "body": fill(tpl.body, per, keep=("enlace",) if with_link else ()), "with_link": with_link,
            "status": MailStatus.EN_COLA.value, "attempts": 0, "next_attempt_at": now, "created_at": now,
            "created_by": actor[:100]}


def queue(session: Session, kind: MailKind, key: str, recipients: Sequence[Recipient], values: Mapping[str, str], *,
          now: datetime, actor: str, company_id: int | None = None, customer_id: int | None = None,
          rep_id: int | None = None, attachments: Sequence[Attachment] = (), with_link: bool = True,
          subject_prefix: str = "") -> Queued:
    """One message per recipient, keyed ``<key>:<contact id or address>``; a key already used adds nothing."""
    tpl = template(session, kind)
    out = Queued()
    for r in recipients:
        row = _message_row(tpl, kind, key, r, values, now=now, actor=actor, company_id=company_id,
                           customer_id=customer_id, rep_id=rep_id, with_link=with_link, subject_prefix=subject_prefix)
        if session.scalar(select(MailMessage.id).where(MailMessage.idempotency_key == row["idempotency_key"])) \
                is not None:
            out.duplicates.append(r.email)
            continue
        msg = MailMessage(**row)
        try:
            with session.begin_nested():  # a concurrent queue of the same key: that one stands
                session.add(msg)
                session.flush()
        except IntegrityError:
            out.duplicates.append(r.email)
            continue
        for a in attachments:
            session.add(MailAttachment(message_id=msg.id, filename=a.filename, content_type=a.content_type,
                                       content=a.content, rep_id=a.rep_id, rep_part=a.rep_part))
        out.ids.append(msg.id)
    session.flush()
    return out


def recipients_for(session: Session, customer_id: int, kind: MailKind) -> tuple[list[Recipient], list[str]]:
    """The customer's contacts whose role receives ``kind`` (and the opted-out ones, left aside)."""
    rows = session.scalars(select(CustomerContact).where(CustomerContact.customer_id == customer_id)
                           .order_by(CustomerContact.id))
    chosen, opted_out = [], []
    for c in rows:
        if not ContactRole(c.rol).receives(kind):
            continue
        if c.opt_out:
            opted_out.append(c.email)
        else:
            chosen.append(Recipient(c.email, c.nombre, c.id))
    return chosen, opted_out


def _rep_attachments(rep: Rep) -> list[Attachment]:
    stem = f"REP-{rep.serie}{rep.folio}-{rep.uuid}"
    return [Attachment(f"{stem}.xml", "application/xml", rep_id=rep.id, rep_part="xml"),
            Attachment(f"{stem}.pdf", "application/pdf", rep_id=rep.id, rep_part="pdf")]


def _sandbox(rep: Rep) -> str:
    """A REP stamped by the sandbox PAC says so in the subject, as in its PDF."""
    return "[SIN VALIDEZ FISCAL] " if rep.sandbox else ""


def _rep_values(session: Session, rep: Rep, company: Company | None = None,
                customer: Customer | None = None) -> dict[str, str]:
    company = company or session.get(Company, rep.company_id)
    customer = customer or session.get(Customer, rep.customer_id)
    return {"cliente": (customer.nombre or customer.rfc) if customer else "", "serie": rep.serie,
            "folio": str(rep.folio), "uuid": rep.uuid or "",
            "empresa": (company.nombre or company.rfc) if company else ""}


def _existing_keys(session: Session, keys: Sequence[str]) -> set[str]:
    return set(session.scalars(select(MailMessage.idempotency_key).where(MailMessage.idempotency_key.in_(keys))))


def queue_stamped_reps(session: Session, rep_ids: Sequence[int], *, now: datetime, actor: str = "sistema") -> int:
    """Inside the stamp's transaction: each REP just stamped, to its customer's ``pagos`` contacts,
    when its company sends REPs on stamping (the default). Returns how many messages were queued.

    A batch of REPs is queued with a handful of statements (contacts, names and existing keys read
    at once, messages and attachments inserted with one executemany each) inside a savepoint: a
    key queued meanwhile by a concurrent ``rep send`` makes it fall back to one message at a time,
    never fail the stamp."""
    if not rep_ids:
        return 0
    reps = session.scalars(select(Rep).where(Rep.id.in_(list(rep_ids)),
                                             Rep.customer_id.in_(select(CustomerContact.customer_id)))
                           .order_by(Rep.id)).all()
    if not reps:
        return 0
    options: dict[int, bool] = {}
    companies = {c.id: c for c in session.scalars(select(Company).where(Company.id.in_({r.company_id for r in reps})))}
    for company in companies.values():
        options[company.id] = company_options(session, company).rep_auto
    reps = [r for r in reps if options.get(r.company_id)]
    if not reps:
        return 0
    people: dict[int, list[Recipient]] = {}
    for c in session.scalars(select(CustomerContact).where(CustomerContact.customer_id.in_({r.customer_id for r in reps}),
                                                           CustomerContact.opt_out.is_(False))
                             .order_by(CustomerContact.id)):
        if ContactRole(c.rol).receives(MailKind.REP):
            people.setdefault(c.customer_id, []).append(Recipient(c.email, c.nombre, c.id))
    tpl = template(session, MailKind.REP)
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(list(people))))}
    rows: list[dict[str, Any]] = []
    files: dict[str, list[Attachment]] = {}
    for rep in reps:
        if rep.customer_id not in people:
            continue
        values = _rep_values(session, rep, companies.get(rep.company_id), customers.get(rep.customer_id))
        for r in people.get(rep.customer_id, []):
            row = _message_row(tpl, MailKind.REP, f"rep:{rep.id}", r, values, now=now, actor=actor,
                               company_id=rep.company_id, customer_id=rep.customer_id, rep_id=rep.id, with_link=True,
                               subject_prefix=_sandbox(rep))
            rows.append(row)
            files[row["idempotency_key"]] = _rep_attachments(rep)
    if not rows:
        return 0
    existing = _existing_keys(session, list(files))
    rows = [row for row in rows if row["idempotency_key"] not in existing]
    if not rows:
        return 0
    try:
        with session.begin_nested():
            ids: dict[str, int] = {key: mid for key, mid in session.execute(
                insert(MailMessage).returning(MailMessage.idempotency_key, MailMessage.id), rows)}
    except IntegrityError:  # queued meanwhile by another sender: one at a time, duplicates skipped
        return sum(len(queue(session, MailKind.REP, f"rep:{rep.id}", people.get(rep.customer_id, []),
                             _rep_values(session, rep), now=now, actor=actor, company_id=rep.company_id,
                             customer_id=rep.customer_id, rep_id=rep.id, attachments=_rep_attachments(rep),
                             subject_prefix=_sandbox(rep)).ids) for rep in reps)
    session.execute(insert(MailAttachment), [
        {"message_id": ids[key], "filename": a.filename, "content_type": a.content_type, "content": a.content,
         "rep_id": a.rep_id, "rep_part": a.rep_part} for key in ids for a in files[key]])
    return len(ids)


def queue_rep(session: Session, uuid: str, *, actor: str, to: str | None = None, again: bool = False,
              clock: Clock = system_clock) -> Queued:
    """``cobranza rep send``: the REP to its ``pagos`` contacts (or to ``to``). A REP already queued
    for a contact is not queued again unless ``again`` (a resend: a new message, a new key)."""
    rep = session.scalar(select(Rep).where(Rep.uuid == uuid.strip().upper()))
    if rep is None:
        raise NotFoundError(f"No hay ningún REP con UUID {uuid}.", code="REP_NO_ENCONTRADO")
    if rep.status not in SENDABLE_REP or rep.stamped_xml is None:
        raise ConflictError(f"El REP {rep.serie}-{rep.folio} está {rep.status}: solo se envía un REP timbrado.",
                            code="REP_NO_ENVIABLE")
    now = clock()
    skipped: list[str] = []
    if to:
        recipients = [Recipient(e) for e in parse_email_list(to)]
    else:
        recipients, skipped = recipients_for(session, rep.customer_id, MailKind.REP)
    if not recipients:
        raise ValidationError("El cliente no tiene contactos de pagos que reciban correo: agregue uno con "
                              "«cobranza customer contact add RFC --email ... --rol pagos».", code="SIN_CONTACTOS")
    key = f"rep:{rep.id}" + (f":reenvio:{now.strftime('%Y%m%d%H%M%S%f')}" if again else "")
    out = queue(session, MailKind.REP, key, recipients, _rep_values(session, rep), now=now, actor=actor,
                company_id=rep.company_id, customer_id=rep.customer_id, rep_id=rep.id,
                attachments=_rep_attachments(rep), subject_prefix=_sandbox(rep))
    out.skipped.extend(skipped)
    record_audit(session, actor, "enviar_rep_correo", "rep", str(rep.id), f"{len(out.ids)} mensaje(s)", clock=clock)
    return out


def queue_document(session: Session, rfc: str, kind: MailKind, pdf: bytes, filename: str, *, as_of: date,
                   actor: str, again: bool = False, clock: Clock = system_clock, subkind: str = "") -> Queued:
    """A statement or collection letter (``pdf``) to the customer's ``cobranza`` contacts. The same
    kind (and letter ``subkind``) and date is sent once per contact unless ``again``."""
    if kind not in (MailKind.ESTADO_CUENTA, MailKind.CARTA):
        raise ValidationError("Solo se envían así estados de cuenta y cartas.", code="CORREO_TIPO_INVALIDO")
    customer = find_customer(session, rfc)
    recipients, skipped = recipients_for(session, customer.id, kind)
    if not recipients:
        raise ValidationError(f"El cliente {customer.rfc} no tiene contactos de cobranza que reciban correo: "
                              "agregue uno con «cobranza customer contact add RFC --email ... --rol cobranza».",
                              code="SIN_CONTACTOS")
    now = clock()
    company = _company_of(session, customer.id)
    values = {"cliente": customer.nombre or customer.rfc, "fecha": fmt_date(as_of),
              "empresa": (company.nombre or company.rfc) if company else ""}
    key = f"{kind.value}{':' + subkind if subkind else ''}:{customer.id}:{as_of.isoformat()}" \
        + (f":{now.strftime('%Y%m%d%H%M%S%f')}" if again else "")
    out = queue(session, kind, key, recipients, values, now=now, actor=actor,
                company_id=company.id if company else None, customer_id=customer.id,
                attachments=[Attachment(filename, "application/pdf", content=pdf)])
    out.skipped.extend(skipped)
    record_audit(session, actor, f"enviar_{kind.value}", "customer", customer.rfc, f"{len(out.ids)} mensaje(s)",
                 clock=clock)
    return out


def _company_of(session: Session, customer_id: int) -> Company | None:
    company_id = session.scalar(select(Document.company_id).where(Document.customer_id == customer_id).limit(1))
    if company_id is None:
        return session.scalar(select(Company).order_by(Company.id).limit(1))
    return session.get(Company, company_id)


@dataclass(frozen=True)
class PendingRepLine:
    """A payment still without REP, as the deadline alert lists it (the jobs' cockpit computes these)."""

    customer: str
    fecha_pago: date
    monto: str

    def line(self) -> str:
        return f"- {self.customer}: pago del {fmt_date(self.fecha_pago)} por {self.monto}"


def queue_deadline_alert(session: Session, company_rfc: str, deadline: date, pending: Sequence[PendingRepLine], *,
                         actor: str = "sistema", clock: Clock = system_clock) -> Queued:
    """The alert that some REP will miss ``deadline`` (day 5), to the company's billing contacts
    (``mail company --alert-emails``). Once per company, deadline and address."""
    company = session.scalar(select(Company).where(Company.rfc == company_rfc.strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {company_rfc}.", code="EMPRESA_NO_ENCONTRADA")
    if not pending:
        return Queued()
    emails = company_options(session, company).alert_emails
    values = {"empresa": company.nombre or company.rfc, "fecha_limite": fmt_date(deadline),
              "pagos": "\n".join(p.line() for p in pending), "cantidad": str(len(pending))}
    return queue(session, MailKind.ALERTA_REP, f"alerta_rep:{company.id}:{deadline.isoformat()}",
                 [Recipient(e) for e in emails], values, now=clock(), actor=actor, company_id=company.id,
                 with_link=False)


# --- the log -----------------------------------------------------------------------------

@dataclass(frozen=True)
class LogEntry:
    id: int
    kind: str
    status: str
    to_addr: str
    subject: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_answer: str | None
    customer_rfc: str | None
    rep_uuid: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tipo": self.kind, "tipo_etiqueta": KIND_LABELS.get(MailKind(self.kind), self.kind),
                "estado": self.status, "para": self.to_addr, "asunto": self.subject, "intentos": self.attempts,
                "creado": self.created_at.isoformat(), "enviado": self.sent_at.isoformat() if self.sent_at else None,
                "siguiente_intento": self.next_attempt_at.isoformat() if self.status == MailStatus.EN_COLA else None,
                "respuesta": self.last_answer, "cliente": self.customer_rfc, "rep_uuid": self.rep_uuid}


def mail_log(session: Session, *, rfc: str | None = None, rep_uuid: str | None = None, status: str | None = None,
             message_id: int | None = None, limit: int = 200) -> list[LogEntry]:
    """The delivery log, newest first; for one customer, one REP or one state."""
    query = (select(MailMessage, Customer.rfc, Rep.uuid).outerjoin(Customer, Customer.id == MailMessage.customer_id)
             .outerjoin(Rep, Rep.id == MailMessage.rep_id))
    if rfc:
        query = query.where(MailMessage.customer_id == find_customer(session, rfc).id)
    if message_id is not None:
        query = query.where(MailMessage.id == message_id)
    if rep_uuid:
        query = query.where(Rep.uuid == rep_uuid.strip().upper())
    if status:
        try:
            query = query.where(MailMessage.status == MailStatus(status.strip().lower()))
        except ValueError:
            raise ValidationError(f"Estado desconocido «{status}»: use {', '.join(s.value for s in MailStatus)}.",
                                  code="CORREO_ESTADO_INVALIDO") from None
    rows = session.execute(query.order_by(MailMessage.id.desc()).limit(max(1, min(limit, 5000)))).all()
    return [LogEntry(m.id, m.kind, m.status, m.to_addr, m.subject, m.attempts, m.created_at, m.sent_at,
                     m.next_attempt_at, m.last_answer, crfc, ruuid) for m, crfc, ruuid in rows]


def resend(session: Session, message_id: int, *, actor: str, clock: Clock = system_clock) -> LogEntry:
    """Put a ``fallido`` or ``incierto`` message back in the queue (same Message-ID: a duplicate is
    recognisable by the recipient's mail program)."""
    msg = session.get(MailMessage, message_id, with_for_update=True)
    if msg is None:
        raise NotFoundError(f"No hay ningún correo {message_id}.", code="CORREO_NO_ENCONTRADO")
    msg.status = MailStatus(msg.status).check_move(MailStatus.EN_COLA).value
    msg.next_attempt_at, msg.data_at, msg.claimed_at = clock(), None, None
    record_audit(session, actor, "reenviar_correo", "mail_message", str(msg.id), msg.to_addr, clock=clock)
    session.flush()
    return mail_log(session, message_id=msg.id)[0]
