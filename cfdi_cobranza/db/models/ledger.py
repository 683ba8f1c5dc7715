"""The ledger: companies, customers, imported CFDI and every credit (abono) against them.

A document's ``saldo`` is stored (so aging and balance queries are one indexed read)
and is always recomputed from its ``total`` minus the live credits in the same
transaction that changes them: credit notes, payment complements imported from
other systems and payments applied here. A credit that names a UUID not imported
yet waits with ``document_id`` NULL and takes effect when that invoice arrives.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import Money, Rate, UtcDateTime


class Company(Base):
    """An issuer whose receivables this instance keeps (the user's own RFC)."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    rfc: Mapped[str] = mapped_column(String(13), unique=True)
    nombre: Mapped[str | None] = mapped_column(String(300))
    regimen_fiscal: Mapped[str | None] = mapped_column(String(3))
    codigo_postal: Mapped[str | None] = mapped_column(String(5))
    rep_serie: Mapped[str] = mapped_column(String(25), default="P")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Customer(Base):
    """A receptor of the company's invoices.

    ``key`` is the RFC, except for the generic RFCs (público en general, extranjero),
    where it is RFC plus the name, since many different customers share them.
    """

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(320), unique=True)
    rfc: Mapped[str] = mapped_column(String(13), index=True)
    nombre: Mapped[str | None] = mapped_column(String(300))
    regimen_fiscal: Mapped[str | None] = mapped_column(String(3))
    codigo_postal: Mapped[str | None] = mapped_column(String(5))
    uso_cfdi: Mapped[str | None] = mapped_column(String(4))
    credit_days: Mapped[int | None] = mapped_column(Integer)
    usual_forma_pago: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Document(Base):
    """A stamped CFDI of the company: invoice (I), credit note (E) or payment complement (P)."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_customer_open", "customer_id", "moneda", "saldo"),
        Index("ix_document_company_vencimiento", "company_id", "vencimiento"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    version: Mapped[str] = mapped_column(String(5))
    tipo: Mapped[str] = mapped_column(String(1), index=True)
    serie: Mapped[str | None] = mapped_column(String(25))
    folio: Mapped[str | None] = mapped_column(String(40))
    # CFDI dates carry no zone: local time of the LugarExpedicion, kept as written.
    fecha: Mapped[datetime] = mapped_column(DateTime, index=True)
    fecha_timbrado: Mapped[datetime] = mapped_column(DateTime)
    moneda: Mapped[str] = mapped_column(String(3))
    tipo_cambio: Mapped[Decimal | None] = mapped_column(Rate())
    subtotal: Mapped[Decimal] = mapped_column(Money())
    descuento: Mapped[Decimal | None] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    total_traslados: Mapped[Decimal | None] = mapped_column(Money())
    total_retenciones: Mapped[Decimal | None] = mapped_column(Money())
    metodo_pago: Mapped[str | None] = mapped_column(String(3))
    forma_pago: Mapped[str | None] = mapped_column(String(2))
    condiciones_de_pago: Mapped[str | None] = mapped_column(String(1000))
    uso_cfdi: Mapped[str | None] = mapped_column(String(4))
    exportacion: Mapped[str | None] = mapped_column(String(2))
    lugar_expedicion: Mapped[str | None] = mapped_column(String(5))
    pagos_version: Mapped[str | None] = mapped_column(String(3))
    vencimiento: Mapped[date | None] = mapped_column(Date)
    saldo: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(20), default="vigente")  # domain.states.DocumentStatus
    # The SAT's last word on it (services/sat_status.py): the status service's Estado and,
    # once cancelled (by that service, the bulk download's metadata or a user), the date.
    estado_sat: Mapped[str | None] = mapped_column(String(30))
    fecha_cancelacion: Mapped[date | None] = mapped_column(Date)
    sello_sat: Mapped[str] = mapped_column(String(20))  # verificado | no verificado
    # Who issued the sealing certificate (cfdi.authority): verificada | no verificada |
    # pruebas (SAT test certificate: no fiscal validity). Rows before 0011: no verificada.
    autoridad: Mapped[str] = mapped_column(String(20), server_default="no verificada")
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    # What issuing a REP reads of this invoice, as JSON tagged with the XML's SHA-256
    # (domain.invoice_facts); None before revision 0010 and for other types.
    pagos_facts: Mapped[str | None] = mapped_column(Text)
    source_name: Mapped[str | None] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())

    customer: Mapped[Customer] = relationship()
    company: Mapped[Company] = relationship()
    concepts: Mapped[list[DocumentConcept]] = relationship(
        back_populates="document", order_by="DocumentConcept.idx", cascade="all, delete-orphan"
    )
    taxes: Mapped[list[DocumentTax]] = relationship(
        back_populates="document", order_by="DocumentTax.id", cascade="all, delete-orphan"
    )
    relations: Mapped[list[DocumentRelation]] = relationship(
        back_populates="document", cascade="all, delete-orphan"
    )

    @property
    def sin_validez_fiscal(self) -> bool:
        return self.autoridad == "pruebas"

    @property
    def serie_folio(self) -> str:
        return f"{self.serie or ''}{'-' if self.serie and self.folio else ''}{self.folio or ''}"


class DocumentConcept(Base):
    __tablename__ = "document_concept"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    clave_prod_serv: Mapped[str] = mapped_column(String(8))
    cantidad: Mapped[Decimal] = mapped_column(Money())
    clave_unidad: Mapped[str | None] = mapped_column(String(3))
    descripcion: Mapped[str] = mapped_column(Text)
    valor_unitario: Mapped[Decimal] = mapped_column(Money())
    importe: Mapped[Decimal] = mapped_column(Money())
    descuento: Mapped[Decimal | None] = mapped_column(Money())
    objeto_imp: Mapped[str | None] = mapped_column(String(2))

    document: Mapped[Document] = relationship(back_populates="concepts")


class DocumentTax(Base):
    """A traslado or retención; ``concept_idx`` NULL means the document's Impuestos node."""

    __tablename__ = "document_tax"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    concept_idx: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # traslado | retencion
    impuesto: Mapped[str] = mapped_column(String(3))
    tipo_factor: Mapped[str | None] = mapped_column(String(6))
    tasa_o_cuota: Mapped[Decimal | None] = mapped_column(Money())
    base: Mapped[Decimal | None] = mapped_column(Money())
    importe: Mapped[Decimal | None] = mapped_column(Money())

    document: Mapped[Document] = relationship(back_populates="taxes")


class DocumentRelation(Base):
    """A CfdiRelacionado: kept by UUID text since the related CFDI may arrive later."""

    __tablename__ = "document_relation"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    tipo_relacion: Mapped[str] = mapped_column(String(2))
    related_uuid: Mapped[str] = mapped_column(String(36), index=True)

    document: Mapped[Document] = relationship(back_populates="relations")


class ExternalPayment(Base):
    """A DoctoRelacionado of a payment complement issued by another system (imported)."""

    __tablename__ = "external_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    complement_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    pago_idx: Mapped[int] = mapped_column(Integer)
    fecha_pago: Mapped[datetime] = mapped_column(DateTime)
    forma_de_pago: Mapped[str] = mapped_column(String(2))
    moneda_p: Mapped[str] = mapped_column(String(3))
    tipo_cambio_p: Mapped[Decimal | None] = mapped_column(Rate())
    monto: Mapped[Decimal] = mapped_column(Money())
    related_uuid: Mapped[str] = mapped_column(String(36), index=True)
    moneda_dr: Mapped[str] = mapped_column(String(3))
    equivalencia_dr: Mapped[Decimal | None] = mapped_column(Rate())
    num_parcialidad: Mapped[int | None] = mapped_column(Integer)
    imp_saldo_ant: Mapped[Decimal | None] = mapped_column(Money())
    imp_pagado: Mapped[Decimal | None] = mapped_column(Money())
    imp_saldo_insoluto: Mapped[Decimal | None] = mapped_column(Money())


class Credit(Base):
    """An abono against a document: what lowers its saldo.

    kind: ``nota_credito`` (an imported E related to the invoice), ``complemento``
    (an imported payment complement's DoctoRelacionado) or ``pago`` (a payment
    applied here). ``document_id`` is NULL while the target invoice is not imported.
    ``reversed_at`` set means the credit no longer counts.
    """

    __tablename__ = "credit"
    __table_args__ = (
        Index("ix_credit_document_live", "document_id", "reversed_at"),
        UniqueConstraint("source_document_id", "target_uuid", "source_line", name="uq_credit_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_uuid: Mapped[str] = mapped_column(String(36), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    source_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), index=True)
    source_line: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Money())  # in the target document's currency
    fecha: Mapped[datetime] = mapped_column(DateTime)  # local date of the payment or note
    num_parcialidad: Mapped[int | None] = mapped_column(Integer)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(String(500))
    # Payments applied here (kind "pago"): the REP figures of this instalment.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_p: Mapped[Decimal | None] = mapped_column(Money())  # consumed, in payment currency
    equivalencia_dr: Mapped[Decimal | None] = mapped_column(Rate())
    imp_saldo_ant: Mapped[Decimal | None] = mapped_column(Money())
    imp_saldo_insoluto: Mapped[Decimal | None] = mapped_column(Money())
    requires_rep: Mapped[bool | None] = mapped_column(Boolean)
    warning: Mapped[str | None] = mapped_column(String(300))
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reverse_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(100))
    # Paid before the invoice (domain.advances): no REP covers it until a user confirms.
    advance_pending: Mapped[bool | None] = mapped_column(Boolean)
    advance_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    advance_confirmed_by: Mapped[str | None] = mapped_column(String(100))
    advance_note: Mapped[str | None] = mapped_column(String(500))


class ImportLog(Base):
    """One row per file handed to the importer, whatever its outcome (audit trail)."""

    __tablename__ = "import_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(36), index=True)
    file: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))
    uuid: Mapped[str | None] = mapped_column(String(36))
    tipo: Mapped[str | None] = mapped_column(String(1))
    code: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
