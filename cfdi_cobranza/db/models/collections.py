"""Collections storage: credit conditions, authorizations, notes, debt documents, follow-ups.

Append-only records (the customer's notes sheet, the follow-up file, its related
documents and its closures) are never updated or deleted: the service layer has no
code path that does it, and migration 0004 installs triggers on PostgreSQL and SQLite
that refuse a raw ``UPDATE`` or ``DELETE`` (and a follow-up dated before the newest
one). Closing a follow-up therefore does not touch it: it adds a ``FollowUpClosure``
row, and "pendiente"/"cerrado" is derived from whether that row exists.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.models.ledger import Credit, Document
from cfdi_cobranza.db.types import Money, UtcDateTime
from cfdi_cobranza.errors import ConflictError

# Tables whose rows can only be inserted (see module docstring and migration 0004).
APPEND_ONLY_TABLES = ("customer_note", "follow_up", "follow_up_document", "follow_up_closure")


class CreditCondition(Base):
    """A customer's commercial conditions and the attributes collectors group by.

    One row per customer (created on first ``customer set``); a customer without a row
    has the defaults of ``domain.credit.CreditConditions`` and no credit limit.
    """

    __tablename__ = "credit_condition"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    plazo_maximo_dias: Mapped[int] = mapped_column(Integer, default=30)
    nivel_control: Mapped[str] = mapped_column(String(15), default="autorizacion")
    estatus: Mapped[str] = mapped_column(String(12), default="activo")  # domain.states.CreditStatus
    tipo_cobranza: Mapped[str] = mapped_column(String(10), default="normal")
    dias_atraso_tolerados: Mapped[int] = mapped_column(Integer, default=0)
    vendedor: Mapped[str | None] = mapped_column(String(100), index=True)
    zona: Mapped[str | None] = mapped_column(String(100), index=True)
    clasificacion: Mapped[str | None] = mapped_column(String(100), index=True)
    sucursal: Mapped[str | None] = mapped_column(String(100), index=True)  # default for new sales
    contacto: Mapped[str | None] = mapped_column(String(200))  # accounts payable contact
    domicilio: Mapped[str | None] = mapped_column(String(500))  # printed on letters
    # Comma-separated c_FormaPago codes the customer may pay with; NULL: any form.
    formas_permitidas: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))

    limits: Mapped[list[CreditLimit]] = relationship(
        order_by="CreditLimit.moneda", cascade="all, delete-orphan"
    )


class CreditLimit(Base):
    """Credit limit of a customer in one currency (no row: no credit in that currency)."""

    __tablename__ = "credit_limit"
    __table_args__ = (UniqueConstraint("customer_id", "moneda"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("credit_condition.customer_id"))
    moneda: Mapped[str] = mapped_column(String(3))
    limite: Mapped[Decimal] = mapped_column(Money())


class CreditAuthorization(Base):
    """A request to let an operation through that the credit check did not allow."""

    __tablename__ = "credit_authorization"
    __table_args__ = (Index("ix_credit_authorization_status", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    operacion: Mapped[str] = mapped_column(String(20))
    importe: Mapped[Decimal] = mapped_column(Money())
    moneda: Mapped[str] = mapped_column(String(3))
    plazo_dias: Mapped[int | None] = mapped_column(Integer)
    nivel: Mapped[str] = mapped_column(String(25))  # level the credit check gave
    razones: Mapped[str] = mapped_column(Text)  # JSON list of {code, mensaje, nivel}
    motivo: Mapped[str | None] = mapped_column(Text)  # why the requester asks
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), default="pendiente")  # domain.states.AuthorizationStatus
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_role: Mapped[str | None] = mapped_column(String(20))
    decision_motivo: Mapped[str | None] = mapped_column(Text)
    # A payment form outside the customer's conditions, authorized for one receipt; the
    # settlement that used it (an authorization lets one payment through, not every later one).
    forma_pago: Mapped[str | None] = mapped_column(String(2))
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"))


class CustomerNote(Base):
    """The customer's notes sheet: dated, signed, append-only."""

    __tablename__ = "customer_note"
    __table_args__ = (Index("ix_customer_note_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class DebtDocument(Base):
    """A debt instrument beyond the CFDI: cheque (also post-dated), pagaré, card voucher, other.

    ``payment_id`` is the receipt the instrument funded (a cheque given as payment);
    ``complement_id`` an imported payment complement it backs. When the instrument
    bounces (``devuelto``/``protestado``) the credits of that payment or complement are
    reversed, which re-opens what it paid.
    """

    __tablename__ = "debt_document"
    __table_args__ = (Index("ix_debt_document_customer_state", "customer_id", "estado"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    tipo: Mapped[str] = mapped_column(String(12))  # cheque | pagare | tarjeta | otro
    numero: Mapped[str | None] = mapped_column(String(60))
    banco: Mapped[str | None] = mapped_column(String(100))
    moneda: Mapped[str] = mapped_column(String(3))
    importe: Mapped[Decimal] = mapped_column(Money())
    fecha: Mapped[date] = mapped_column(Date)  # received / signed
    fecha_cobro: Mapped[date] = mapped_column(Date)  # when it can be cashed; later = post-dated
    estado: Mapped[str] = mapped_column(String(12))  # domain.states.DebtStatus, the last of the history
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    complement_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))

    history: Mapped[list[DebtDocumentState]] = relationship(
        order_by="DebtDocumentState.id", cascade="all, delete-orphan"
    )

    @property
    def posfechado(self) -> bool:
        return self.fecha_cobro > self.fecha


class DebtDocumentType(Base):
    """A configured kind of debt document (``domain.debts.DebtType``), overriding or adding
    to ``domain.debts.DEFAULT_TYPES`` by ``code``. ``estados``: comma-separated
    ``DebtStatus`` values; ``transiciones``: JSON ``{estado: [estado, ...]}``, each move
    one ``TRANSITIONS[DebtStatus]`` allows (checked when saved and when read)."""

    __tablename__ = "debt_document_type"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    nombre: Mapped[str] = mapped_column(String(60))
    posfechable: Mapped[bool] = mapped_column(Boolean, default=False)
    estados: Mapped[str] = mapped_column(String(200))
    transiciones: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class DebtDocumentState(Base):
    """One state a debt document went through (the accumulated states)."""

    __tablename__ = "debt_document_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_document_id: Mapped[int] = mapped_column(ForeignKey("debt_document.id"), index=True)
    estado: Mapped[str] = mapped_column(String(12))
    fecha: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(100))
    nota: Mapped[str | None] = mapped_column(Text)
    creditos_revertidos: Mapped[int] = mapped_column(Integer, default=0)


class SaleAssignment(Base):
    """Branch and salesperson a sale (an invoice) was assigned to when it was made.

    Kept per document so moving a customer to another branch later does not move the
    collections of earlier sales. Without a row, the customer's current ones apply.
    """

    __tablename__ = "sale_assignment"

    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"), primary_key=True)
    sucursal: Mapped[str | None] = mapped_column(String(100), index=True)
    vendedor: Mapped[str | None] = mapped_column(String(100), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FollowUpType(Base):
    """Configurable kinds of collection action (llamada, correo, visita ...)."""

    __tablename__ = "follow_up_type"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    nombre: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FollowUp(Base):
    """One collection action in the follow-up file (read-only once written)."""

    __tablename__ = "follow_up"
    __table_args__ = (
        Index("ix_follow_up_customer_at", "customer_id", "at"),
        Index("ix_follow_up_next_task", "next_task_date"),
        Index("ix_follow_up_promise", "promise_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # when it was recorded
    tipo: Mapped[str] = mapped_column(ForeignKey("follow_up_type.code"))
    vendedor: Mapped[str | None] = mapped_column(String(100))
    contacto: Mapped[str] = mapped_column(String(100))  # the user who did it
    notes: Mapped[str | None] = mapped_column(Text)
    promise_date: Mapped[date | None] = mapped_column(Date)
    promise_amount: Mapped[Decimal | None] = mapped_column(Money())
    promise_currency: Mapped[str | None] = mapped_column(String(3))
    next_task_date: Mapped[date | None] = mapped_column(Date)
    next_task_type: Mapped[str | None] = mapped_column(ForeignKey("follow_up_type.code"))


class FollowUpDocument(Base):
    """A document a follow-up concerns."""

    __tablename__ = "follow_up_document"

    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"), primary_key=True, index=True)


class FollowUpClosure(Base):
    """The closing of a pending follow-up: moves it to history without touching it."""

    __tablename__ = "follow_up_closure"

    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id"), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    closed_by: Mapped[str] = mapped_column(String(100))
    nota: Mapped[str | None] = mapped_column(Text)


class FollowUpAttachment(Base):
    """A file kept with a follow-up (the PDF of a letter sent to the customer).

    Append-only like the follow-up it belongs to (ORM guard and migration 0024's
    triggers). ``carta_tipo``/``fecha_corte`` say which letter it is, so generating the
    same letter again the same day finds it instead of recording it twice.
    """

    __tablename__ = "follow_up_attachment"
    __table_args__ = (Index("ix_follow_up_attachment_letter", "carta_tipo", "fecha_corte"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(ForeignKey("follow_up.id"), unique=True)
    nombre: Mapped[str] = mapped_column(String(200))
    mimetype: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    carta_tipo: Mapped[str | None] = mapped_column(String(30))
    fecha_corte: Mapped[date | None] = mapped_column(Date)


class AgingSetting(Base):
    """Named bucket specs for the aging report; the one flagged default is used by default."""

    __tablename__ = "aging_setting"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    spec: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


__all__ = [
    "APPEND_ONLY_TABLES",
    "IMMUTABLE",
    "AgingSetting",
    "CreditAuthorization",
    "CreditCondition",
    "CreditLimit",
    "CustomerNote",
    "DebtDocument",
    "DebtDocumentState",
    "DebtDocumentType",
    "FollowUp",
    "FollowUpAttachment",
    "FollowUpClosure",
    "FollowUpDocument",
    "FollowUpType",
    "SaleAssignment",
]


IMMUTABLE = "SEGUIMIENTO_INMUTABLE"
_GUARDED = (FollowUp, FollowUpDocument, FollowUpClosure, CustomerNote, FollowUpAttachment)


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    """ORM guard: no session updates or deletes an append-only row (the triggers are the last word)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, _GUARDED) and (obj in session.deleted or session.is_modified(obj)):
            raise ConflictError(
                "El archivo de seguimiento y las notas del cliente son de solo lectura: "
                "no se pueden modificar ni borrar.", code=IMMUTABLE)


# Aging at a past fecha de corte adds back the live credits dated after it; this index
# finds those (usually none) without scanning every credit. Declared here, next to the
# report that needs it, so autogenerate keeps it in the model's metadata.
Index("ix_credit_fecha", Credit.fecha)

# The aging report and the open items read only live invoices with a balance, grouped
# by customer and currency. This partial index holds exactly those rows, ordered by
# (customer, currency) and carrying every column the aging query reads, so the GROUP BY
# is an index-only scan of the open portfolio instead of a scan of every document (with
# its XML) plus a sort. Same definition on PostgreSQL and SQLite (both have partial
# indexes); the report writes the predicate's constants into its SQL so it matches.
OPEN_AGING_WHERE = "tipo = 'I' AND saldo > 0 AND status <> 'cancelado'"
Index(
    "ix_document_open_aging",
    Document.customer_id, Document.moneda, Document.vencimiento, Document.saldo, Document.fecha,
    Document.company_id,
    postgresql_where=text(OPEN_AGING_WHERE),
    sqlite_where=text(OPEN_AGING_WHERE),
)
