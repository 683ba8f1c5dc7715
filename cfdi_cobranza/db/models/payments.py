"""Receipts (payments), their settlements, cash boxes, bank movements and the audit log.

A payment applied to a document is a ``Credit`` of kind ``pago`` carrying the REP
figures of that instalment (NumParcialidad, ImpSaldoAnt, ImpPagado, ImpSaldoInsoluto,
EquivalenciaDR): the ledger keeps one kind of abono whatever its source.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.models.ledger import Company
from cfdi_cobranza.db.types import Money, Rate, UtcDateTime


class CashBox(Base):
    """A caja or bank account where received funds are assigned."""

    __tablename__ = "cash_box"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="banco")  # caja | banco
    bank: Mapped[str | None] = mapped_column(String(100))
    account: Mapped[str | None] = mapped_column(String(50))
    moneda: Mapped[str] = mapped_column(String(3), default="MXN")


class Settlement(Base):
    """What the customer handed over at once; one payment per payment form."""

    __tablename__ = "settlement"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    fecha: Mapped[datetime] = mapped_column(DateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))

    payments: Mapped[list[Payment]] = relationship(back_populates="settlement", order_by="Payment.id")


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_customer_fecha", "customer_id", "fecha_pago"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlement.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    fecha_pago: Mapped[datetime] = mapped_column(DateTime)  # local time, as the REP writes it
    forma_pago: Mapped[str] = mapped_column(String(2))
    moneda: Mapped[str] = mapped_column(String(3))
    tipo_cambio: Mapped[Decimal] = mapped_column(Rate())  # MXN per unit of moneda
    monto: Mapped[Decimal] = mapped_column(Money())
    aplicado: Mapped[Decimal] = mapped_column(Money())  # in payment currency, live applications
    num_operacion: Mapped[str | None] = mapped_column(String(100))
    rfc_emisor_cta_ord: Mapped[str | None] = mapped_column(String(13))
    nom_banco_ord_ext: Mapped[str | None] = mapped_column(String(300))
    cta_ordenante: Mapped[str | None] = mapped_column(String(50))
    rfc_emisor_cta_ben: Mapped[str | None] = mapped_column(String(13))
    cta_beneficiario: Mapped[str | None] = mapped_column(String(50))
    cash_box_id: Mapped[int | None] = mapped_column(ForeignKey("cash_box.id"), index=True)
    bank_movement_id: Mapped[int | None] = mapped_column(ForeignKey("bank_movement.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="activo")  # domain.states.PaymentStatus
    # Why this payment needs a person to look at it (e.g. its invoice was cancelled at the
    # SAT and its applications came back as unapplied balance); None when nothing is pending.
    revisar: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(100))

    settlement: Mapped[Settlement] = relationship(back_populates="payments")
    cash_box: Mapped[CashBox | None] = relationship()
    company: Mapped[Company] = relationship()

    @property
    def saldo_a_favor(self) -> Decimal:
        return self.monto - self.aplicado


class BankMovement(Base):
    """A deposit read from a bank statement; ``fingerprint`` makes re-imports harmless."""

    __tablename__ = "bank_movement"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    bank: Mapped[str] = mapped_column(String(30))
    account: Mapped[str | None] = mapped_column(String(50))
    fecha: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    moneda: Mapped[str] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="pendiente")  # domain.states.DepositStatus
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source_name: Mapped[str | None] = mapped_column(String(300))


class AuditEntry(Base):
    """Who did what: imports, applications, reversals, stamps, cancellations."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
