"""Payment complements (REP) we issue, their folio sequences and the companies' CSD.

A REP row is first saved already built, validated and signed, as ``enviando``, with its
serie/folio and idempotency key fixed; its states and the moves between them are
``domain.states.RepStatus`` and ``TRANSITIONS``. The signed bytes are saved before
the PAC is called, so a retry after a crash sends exactly the same document with the
same key. Stamped XML
is kept as evidence with its SHA-256.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.models.ledger import Customer
from cfdi_cobranza.db.types import UtcDateTime


class CompanyCsd(Base):
    """The CSD a company signs with. Key and password are Fernet tokens, never clear text."""

    __tablename__ = "company_csd"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    no_certificado: Mapped[str] = mapped_column(String(20))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FolioSequence(Base):
    """Next folio per company and serie; read and bumped under a row lock."""

    __tablename__ = "folio_sequence"
    __table_args__ = (UniqueConstraint("company_id", "serie"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"))
    serie: Mapped[str] = mapped_column(String(25))
    next_folio: Mapped[int] = mapped_column(Integer, default=1)


class Rep(Base):
    __tablename__ = "rep"
    __table_args__ = (UniqueConstraint("company_id", "serie", "folio"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    serie: Mapped[str] = mapped_column(String(25))
    folio: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30), index=True)  # domain.states.RepStatus
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    fecha: Mapped[datetime] = mapped_column()  # Fecha of the CFDI, local time
    uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    pac: Mapped[str] = mapped_column(String(20))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    stamped_xml: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    fecha_timbrado: Mapped[datetime | None] = mapped_column()
    findings: Mapped[str | None] = mapped_column(Text)  # JSON list, last validation
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("rep.id"))
    cancel_motivo: Mapped[str | None] = mapped_column(String(2))
    cancel_folio_sustitucion: Mapped[str | None] = mapped_column(String(36))
    cancel_acuse: Mapped[bytes | None] = mapped_column(LargeBinary)
    cancel_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stamped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[RepLine]] = relationship(back_populates="rep", order_by="RepLine.id")


class RepLine(Base):
    """One application (a ``Credit`` of kind pago) covered by a REP."""

    __tablename__ = "rep_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("rep.id"), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("credit.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)

    rep: Mapped[Rep] = relationship(back_populates="lines")
