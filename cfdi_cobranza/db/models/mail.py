"""Email: customer contacts, the outbox with its delivery log, templates, SMTP and the customer link.

``MailMessage`` is the outbox: a row is written in the same transaction as the event that
causes it (a REP stamped, a statement asked for), with a unique ``idempotency_key`` so the
same event never queues two messages; ``services.mail.delivery`` claims and sends it.
``CustomerLink`` keeps only the link's id, expiry and revocation: the token in the URL is
an HMAC of the id (``services.mail.links``), never stored.
The SMTP password (``SmtpSetting.password_sealed``) is stored only as a SecretBox token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime

SMTP_SETTING_ID = 1


class CustomerContact(Base):
    """Someone at the customer who receives email: REPs (``pagos``), collection (``cobranza``) or both."""

    __tablename__ = "customer_contact"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    rol: Mapped[str] = mapped_column(String(10))  # pagos | cobranza | ambos
    nombre: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))  # lower-cased domain
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))


class CompanyMailSetting(Base):
    """Per company: send each REP when stamped, remind N days before a due date, who gets the alerts."""

    __tablename__ = "company_mail_setting"

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), primary_key=True, autoincrement=False)
    rep_auto: Mapped[bool] = mapped_column(Boolean, default=True)
    reminder_days: Mapped[int | None] = mapped_column(Integer)
    alert_emails: Mapped[str | None] = mapped_column(String(1000))  # comma-separated billing contacts
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class SmtpSetting(Base):
    """The SMTP server chosen in Configuración (one row); ``COBRANZA_SMTP_URL`` wins over it."""

    __tablename__ = "smtp_setting"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=SMTP_SETTING_ID)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))  # starttls | ssl | none
    user: Mapped[str | None] = mapped_column(String(200))
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    from_addr: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:  # never the sealed password
        return f"SmtpSetting(host={self.host!r}, port={self.port!r}, user={self.user!r})"


class MailTemplate(Base):
    """A template edited by the user; the defaults live in ``domain.mail.DEFAULT_TEMPLATES``."""

    __tablename__ = "mail_template"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class MailMessage(Base):
    """One message to one recipient, and its delivery log (state, attempts, the server's last answer)."""

    __tablename__ = "mail_message"
    __table_args__ = (Index("ix_mail_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # domain.mail.MailKind
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("customer_contact.id", ondelete="SET NULL"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("rep.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # "{enlace}" is replaced by the customer link when sent
    with_link: Mapped[bool] = mapped_column(Boolean, default=False)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("customer_link.id"))
    status: Mapped[str] = mapped_column(String(20))  # domain.states.MailStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    data_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # DATA about to be handed to the server
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_answer: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))


class MailAttachment(Base):
    """A file of a message: stored bytes, or a reference to a REP's stamped XML or its PDF."""

    __tablename__ = "mail_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("mail_message.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("rep.id"))
    rep_part: Mapped[str | None] = mapped_column(String(3))  # xml | pdf


class CustomerLink(Base):
    """A read-only page for one customer, reached with a signed token; expires, can be revoked."""

    __tablename__ = "customer_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


__all__ = ["SMTP_SETTING_ID", "CompanyMailSetting", "CustomerContact", "CustomerLink", "MailAttachment",
           "MailMessage", "MailTemplate", "SmtpSetting"]
