"""What the SAT and Banxico told us: CFDI status answers, the 69-B list and exchange rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import Rate, UtcDateTime


class SatStatusCheck(Base):
    """One answer of the SAT's CFDI status service (or the error that came instead), kept
    with its time; the newest per document is its ``estado_sat``."""

    __tablename__ = "sat_status_check"
    __table_args__ = (Index("ix_sat_status_check_document_at", "document_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    estado: Mapped[str | None] = mapped_column(String(30))  # Vigente | Cancelado | No Encontrado
    codigo_estatus: Mapped[str | None] = mapped_column(String(200))
    es_cancelable: Mapped[str | None] = mapped_column(String(60))
    estatus_cancelacion: Mapped[str | None] = mapped_column(String(60))
    validacion_efos: Mapped[str | None] = mapped_column(String(10))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(500))


class EfosEntry(Base):
    """A taxpayer on the SAT's 69-B list, as of the last import (one row per RFC)."""

    __tablename__ = "efos_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    rfc: Mapped[str] = mapped_column(String(13), unique=True)
    nombre: Mapped[str] = mapped_column(String(300))
    situacion: Mapped[str] = mapped_column(String(30))  # Presunto | Desvirtuado | Definitivo | Sentencia Favorable
    fecha_presunto: Mapped[date | None] = mapped_column(Date)
    fecha_desvirtuado: Mapped[date | None] = mapped_column(Date)
    fecha_definitivo: Mapped[date | None] = mapped_column(Date)
    fecha_sentencia: Mapped[date | None] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ExchangeRate(Base):
    """Pesos per unit of a currency on a date: for USD the FIX of that date of determination."""

    __tablename__ = "exchange_rate"
    __table_args__ = (UniqueConstraint("moneda", "fecha", name="uq_exchange_rate_moneda_fecha"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fecha: Mapped[date] = mapped_column(Date)
    moneda: Mapped[str] = mapped_column(String(3))
    tipo_cambio: Mapped[Decimal] = mapped_column(Rate())
    fuente: Mapped[str] = mapped_column(String(40))  # "banxico:SF43718" | "archivo:<name>"
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BanxicoSetting(Base):
    """The SIE API token entered in Configuración: one row, the token only sealed
    (:class:`~cfdi_cobranza.secrets.SecretBox`); ``COBRANZA_BANXICO_TOKEN`` wins over it."""

    __tablename__ = "banxico_setting"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    token_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:  # never the sealed token
        return f"BanxicoSetting(updated_by={self.updated_by!r})"
