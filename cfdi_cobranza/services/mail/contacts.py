"""A customer's email contacts: add, list, remove, opt out, import from CSV (audited)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Customer
from cfdi_cobranza.db.models.mail import CustomerContact, MailMessage
from cfdi_cobranza.domain.mail import ContactRole, header_text, normalize_email, parse_role
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import NotFoundError, ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.users import record_audit


@dataclass(frozen=True)
class ContactView:
    id: int
    customer_rfc: str
    rol: ContactRole
    nombre: str | None
    email: str
    opt_out: bool
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cliente": self.customer_rfc, "rol": self.rol.value, "nombre": self.nombre,
                "email": self.email, "no_enviar": self.opt_out, "alta": self.created_at.isoformat()}


def _view(c: CustomerContact, rfc: str) -> ContactView:
    return ContactView(c.id, rfc, ContactRole(c.rol), c.nombre, c.email, c.opt_out, c.created_at)


def add_contact(session: Session, rfc: str, email: str, *, rol: str | None = None, nombre: str | None = None,
                actor: str, clock: Clock = system_clock) -> ContactView:
    """Add (or update the role and name of) the customer's contact with this address."""
    customer = find_customer(session, rfc)
    address = normalize_email(email)
    role = parse_role(rol)
    name = header_text(nombre) or None
    row = session.scalar(select(CustomerContact).where(CustomerContact.customer_id == customer.id,
                                                       CustomerContact.email == address))
    if row is None:
        row = CustomerContact(customer_id=customer.id, email=address, rol=role.value, nombre=name, opt_out=False,
                              created_at=clock(), created_by=actor[:100])
        session.add(row)
        action = "alta_contacto"
    else:
        row.rol = role.value
        if name:
            row.nombre = name
        action = "cambio_contacto"
    session.flush()
    record_audit(session, actor, action, "customer_contact", str(row.id), f"{customer.rfc} {address} {role}",
                 clock=clock)
    return _view(row, customer.rfc)


def list_contacts(session: Session, rfc: str) -> list[ContactView]:
    customer = find_customer(session, rfc)
    return contacts_of(session, customer)


def contacts_of(session: Session, customer: Customer) -> list[ContactView]:
    rows = session.scalars(select(CustomerContact).where(CustomerContact.customer_id == customer.id)
                           .order_by(CustomerContact.id))
    return [_view(c, customer.rfc) for c in rows]


def _contact(session: Session, customer: Customer, email_or_id: str) -> CustomerContact:
    text = email_or_id.strip()
    query = select(CustomerContact).where(CustomerContact.customer_id == customer.id)
    row = session.scalar(query.where(CustomerContact.id == int(text)) if text.isdigit()
                         else query.where(CustomerContact.email == normalize_email(text)))
    if row is None:
        raise NotFoundError(f"El cliente {customer.rfc} no tiene el contacto «{text}».", code="CONTACTO_NO_ENCONTRADO")
    return row


def _cancel_queued(session: Session, contact_id: int, why: str) -> int:
    """Messages still queued for this contact are not sent (the opt-out is honoured at once)."""
    result = session.execute(update(MailMessage).where(MailMessage.contact_id == contact_id,
                                                       MailMessage.status == MailStatus.EN_COLA)
                             .values(status=MailStatus.CANCELADO, last_answer=why))
    return int(getattr(result, "rowcount", 0) or 0)


def remove_contact(session: Session, rfc: str, email_or_id: str, *, actor: str,
                   clock: Clock = system_clock) -> ContactView:
    customer = find_customer(session, rfc)
    row = _contact(session, customer, email_or_id)
    view = _view(row, customer.rfc)
    _cancel_queued(session, row.id, "Contacto eliminado.")
    session.delete(row)  # the log keeps the address (mail_message.to_addr); contact_id goes NULL
    session.flush()
    record_audit(session, actor, "baja_contacto", "customer_contact", str(view.id), f"{customer.rfc} {view.email}",
                 clock=clock)
    return view


def set_opt_out(session: Session, rfc: str, email_or_id: str, opt_out: bool, *, actor: str,
                clock: Clock = system_clock) -> ContactView:
    """The contact asked not to receive email (or asked again): queued messages to it are cancelled."""
    customer = find_customer(session, rfc)
    row = _contact(session, customer, email_or_id)
    row.opt_out = opt_out
    if opt_out:
        _cancel_queued(session, row.id, "El contacto pidió no recibir correos.")
    record_audit(session, actor, "contacto_no_enviar" if opt_out else "contacto_enviar", "customer_contact",
                 str(row.id), f"{customer.rfc} {row.email}", clock=clock)
    session.flush()
    return _view(row, customer.rfc)


@dataclass(frozen=True)
class ImportResult:
    added: list[ContactView]
    errors: list[tuple[int, str]]  # (line, Spanish message)

    def to_dict(self) -> dict[str, Any]:
        return {"agregados": [c.to_dict() for c in self.added],
                "errores": [{"linea": n, "mensaje": m} for n, m in self.errors]}


def import_contacts(session: Session, data: bytes, *, actor: str, clock: Clock = system_clock) -> ImportResult:
    """CSV with a header ``rfc,email[,rol][,nombre]`` (comma or semicolon). All or nothing: every bad
    line is reported with its number in one ``CSV_CONTACTOS_INVALIDO`` and the caller's transaction
    rolls back."""
    text = data.decode("utf-8-sig", errors="replace")
    dialect = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=dialect)
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"rfc", "email"} <= fields:
        raise ValidationError("El CSV necesita las columnas rfc y email (y opcionalmente rol y nombre).",
                              code="CSV_COLUMNAS")
    added: list[ContactView] = []
    errors: list[tuple[int, str]] = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            with session.begin_nested():
                added.append(add_contact(session, row["rfc"], row["email"], rol=row.get("rol") or None,
                                         nombre=row.get("nombre") or None, actor=actor, clock=clock))
        except (ValidationError, NotFoundError) as exc:
            errors.append((number, exc.message))
    if errors:
        shown = "; ".join(f"línea {n}: {m}" for n, m in errors[:10])
        raise ValidationError(f"No se importó ningún contacto: {len(errors)} línea(s) con error. {shown}",
                              code="CSV_CONTACTOS_INVALIDO")
    return ImportResult(added, errors)
