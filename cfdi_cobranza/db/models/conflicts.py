"""Import conflicts: a file whose UUID is already in the ledger with different bytes.

Two documents cannot share a UUID, and the first one imported is not necessarily the
genuine one (a forgery imported first would make the real invoice a "duplicate"). The
importer refuses the second with ``UUID_EN_CONFLICTO`` and keeps it here, with its
verification status, so the user sees both and can replace the stored one explicitly
(``services.conflicts``; audited).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime


class ImportConflict(Base):
    __tablename__ = "import_conflict"
    __table_args__ = (UniqueConstraint("uuid", "sha256", name="uq_import_conflict_uuid_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[bytes] = mapped_column(LargeBinary)  # the refused file, as received
    file: Mapped[str] = mapped_column(String(500))
    sello_sat: Mapped[str] = mapped_column(String(20))  # verificado | no verificado
    autoridad: Mapped[str] = mapped_column(String(20))  # verificada | no verificada | pruebas
    existing_sha256: Mapped[str] = mapped_column(String(64))  # the stored document's, when refused
    status: Mapped[str] = mapped_column(String(12), default="pendiente")  # pendiente | reemplazado
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(100))
