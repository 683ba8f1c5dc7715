"""The company's e.firma and the state of the SAT's bulk download (descarga masiva).

- ``CompanyFiel``: the e.firma, key and password only as SecretBox (Fernet) tokens.
- ``SatRequest``: one request to the SAT (company, kind CFDI or Metadata, date range):
  its IdSolicitud, status and the SAT's last code, so an interrupted sync resumes it
  instead of asking again (the SAT refuses a duplicate, 5005, and limits requests).
- ``SatPackage``: each package of a request; ``status`` ``importado`` is never downloaded
  again.
- ``SatMetadata``: one row per UUID from the metadata packages (Estatus and
  FechaCancelacion), read by the cancellation logic (``services.sat_sync.metadata_cancellations``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime


class CompanyFiel(Base):
    """The e.firma a company authenticates with at the SAT. Never stored in clear."""

    __tablename__ = "company_fiel"

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

    def __repr__(self) -> str:  # never the sealed secrets
        return f"CompanyFiel(company_id={self.company_id!r}, no_certificado={self.no_certificado!r})"


class SatRequest(Base):
    """One descarga masiva request. ``status``: pendiente, solicitada, lista, terminada,
    sin_informacion, dividida, vencida, error."""

    __tablename__ = "sat_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # CFDI | Metadata
    fecha_inicial: Mapped[date] = mapped_column(Date)
    fecha_final: Mapped[date] = mapped_column(Date)
    id_solicitud: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    cod_estatus: Mapped[str | None] = mapped_column(String(10))
    mensaje: Mapped[str | None] = mapped_column(String(500))
    numero_cfdis: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SatPackage(Base):
    """A package of a request: ``pendiente`` until downloaded and imported (``importado``)."""

    __tablename__ = "sat_package"
    __table_args__ = (UniqueConstraint("request_id", "package_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("sat_request.id"), index=True)
    package_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # pendiente | importado
    documents: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SatMetadata(Base):
    """A metadata row of a company's issued CFDI: its status at the SAT and cancellation date."""

    __tablename__ = "sat_metadata"
    __table_args__ = (UniqueConstraint("company_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    uuid: Mapped[str] = mapped_column(String(36))
    rfc_receptor: Mapped[str | None] = mapped_column(String(13))
    estatus: Mapped[str] = mapped_column(String(1))  # 1 vigente, 0 cancelado
    fecha_cancelacion: Mapped[datetime | None] = mapped_column()  # local time, as the SAT writes it
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


__all__ = ["CompanyFiel", "SatMetadata", "SatPackage", "SatRequest"]
