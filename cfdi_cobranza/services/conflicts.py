"""UUIDs in conflict: list them and, by an explicit and audited action, replace the stored document.

The importer refuses a file whose UUID is stored with other bytes (``UUID_EN_CONFLICTO``)
and keeps it in ``import_conflict``. Nothing replaces a stored document on its own: the
user (a role that may import) replaces it, and only with a file that verifies better —
both seals and the issuer certificate's authority verified — than the stored one, which
does not. The file is verified again at that moment, under the PAC environment then
configured. The row keeps its id, so payments, follow-ups and assignments stay with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cfdi_cobranza.cfdi.loader import load_cfdi
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Document
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.scope import limit_to_companies
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ConflictError, NotFoundError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.importing import Importer, is_verified, verification_label
from cfdi_cobranza.services.settings import pac_environment
from cfdi_cobranza.services.users import normalize_username, record_audit

# Who may replace a stored document: the roles that may import (web.security.IMPORTERS).
REPLACER_ROLES = ("administrador", "facturacion", "contabilidad")


@dataclass(frozen=True)
class ConflictView:
    id: int
    uuid: str
    file: str
    created_at: datetime
    status: str
    incoming_sello_sat: str
    incoming_autoridad: str
    stored_sello_sat: str | None
    stored_autoridad: str | None
    stored_file: str | None
    replaceable: bool
    resolved_at: datetime | None
    resolved_by: str | None

    @property
    def incoming_label(self) -> str:
        return verification_label(self.incoming_sello_sat, self.incoming_autoridad)

    @property
    def stored_label(self) -> str:
        if self.stored_sello_sat is None or self.stored_autoridad is None:
            return "ya no está en el libro"
        return verification_label(self.stored_sello_sat, self.stored_autoridad)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["resolved_at"] = self.resolved_at.isoformat() if self.resolved_at else None
        data["incoming_label"] = self.incoming_label
        data["stored_label"] = self.stored_label
        return data


def list_conflicts(session: Session, *, include_resolved: bool = False) -> list[ConflictView]:
    stmt = (
        select(ImportConflict, Document.sello_sat, Document.autoridad, Document.source_name)
        .outerjoin(Document, Document.uuid == ImportConflict.uuid)
        .order_by(ImportConflict.id)
    )
    if not include_resolved:
        stmt = stmt.where(ImportConflict.status == "pendiente")
    views = []
    for c, sello_sat, autoridad, source_name in session.execute(stmt):
        stored_ok = sello_sat is not None and is_verified(sello_sat, autoridad)
        views.append(ConflictView(
            id=c.id, uuid=c.uuid, file=c.file, created_at=c.created_at, status=c.status,
            incoming_sello_sat=c.sello_sat, incoming_autoridad=c.autoridad, stored_sello_sat=sello_sat,
            stored_autoridad=autoridad, stored_file=source_name,
            replaceable=c.status == "pendiente" and sello_sat is not None
            and is_verified(c.sello_sat, c.autoridad) and not stored_ok,
            resolved_at=c.resolved_at, resolved_by=c.resolved_by,
        ))
    return views


@dataclass(frozen=True)
class ReplaceResult:
    conflict_id: int
    uuid: str
    old_sha256: str
    new_sha256: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def replace_with_conflict(
    engine: Engine,
    settings: Settings,
    conflict_id: int,
    *,
    actor: str,
    clock: Clock = system_clock,
    environment: str | None = None,
    company_ids: tuple[int, ...] | None = None,
) -> ReplaceResult:
    """Replace the stored document with conflict ``conflict_id``'s file; audited.

    ``actor`` must be an active user with a role in ``REPLACER_ROLES`` (``USUARIO_NO_ENCONTRADO``,
    ``PERMISO_DENEGADO``). Refused (nothing written): ``CONFLICTO_NO_ENCONTRADO``, ``CONFLICTO_RESUELTO``,
    ``CONFLICTO_NO_REEMPLAZABLE`` (the file does not verify better than the stored
    document), ``CONFLICTO_CON_PAGOS``, or the importer's own refusal of the file now.
    """
    with transaction(engine) as session:
        # A user limited to some companies: another company's conflict or document is not found.
        limit_to_companies(session, company_ids)
        user = session.scalar(select(User).where(User.username == normalize_username(actor)))
        if user is None or not user.active:
            raise NotFoundError(f"No existe un usuario activo «{actor}».", code="USUARIO_NO_ENCONTRADO")
        if user.role not in REPLACER_ROLES:
            raise ConflictError(
                f"El rol «{user.role}» no puede reemplazar documentos importados "
                f"(roles permitidos: {', '.join(REPLACER_ROLES)}).", code="PERMISO_DENEGADO")
        conflict = session.scalar(select(ImportConflict).where(ImportConflict.id == conflict_id).with_for_update())
        if conflict is None:
            raise NotFoundError(f"No existe el conflicto {conflict_id}.", code="CONFLICTO_NO_ENCONTRADO")
        if conflict.status != "pendiente":
            raise ConflictError(
                f"El conflicto {conflict_id} ya se resolvió ({conflict.status}, {conflict.resolved_by}).",
                code="CONFLICTO_RESUELTO")
        doc = session.scalar(select(Document).where(Document.uuid == conflict.uuid).with_for_update())
        if doc is None:
            raise ConflictError(
                f"El documento {conflict.uuid} ya no está en el libro: importe el archivo de nuevo.",
                code="CONFLICTO_NO_REEMPLAZABLE")
        env = environment or pac_environment(session)
        loaded = load_cfdi(conflict.xml, extra_cert_dirs=[settings.instance_path / "sandbox"],
                           environment="production" if env == "production" else "test")
        stored_label = verification_label(doc.sello_sat, doc.autoridad)
        new_label = verification_label(loaded.sello_sat, loaded.autoridad)
        if not is_verified(loaded.sello_sat, loaded.autoridad) or is_verified(doc.sello_sat, doc.autoridad):
            raise ConflictError(
                f"Solo un documento verificado (sello del SAT y autoridad) reemplaza a uno que no lo está. "
                f"Guardado: {stored_label}. Archivo en conflicto: {new_label}.",
                code="CONFLICTO_NO_REEMPLAZABLE")
        old_sha = doc.sha256
        importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[settings.instance_path / "sandbox"],
                            environment=env, company_ids=company_ids)
        importer.replace_document(session, doc, loaded, conflict.file)
        conflict.status = "reemplazado"
        conflict.resolved_at = clock()
        conflict.resolved_by = actor[:100]
        record_audit(session, actor, "cfdi_reemplazado", "cfdi", conflict.uuid,
                     f"conflicto={conflict_id}; sha256 {old_sha} -> {loaded.sha256}; "
                     f"antes: {stored_label}; ahora: {new_label}; archivo={conflict.file[:200]}", clock=clock)
        return ReplaceResult(conflict_id, conflict.uuid, old_sha, loaded.sha256,
                             f"Documento {conflict.uuid} reemplazado por el archivo {conflict.file} ({new_label}).")
