"""Import uploaded files (web form or API) and leave one audit entry per file.

The importer owns its transactions (one savepoint per file); the audit entries go in
a transaction of their own right after, so a refusal is audited as well as a success.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from sqlalchemy import Engine

from cfdi_cobranza.cfdi.sources import Candidate, iter_upload
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.importing import BatchResult, Importer
from cfdi_cobranza.services.users import record_audit

AUDIT_ACTIONS = {
    "imported": "cfdi_importado",
    "duplicate": "cfdi_duplicado",
    "refused": "cfdi_rechazado",
    "ignored": "cfdi_omitido",
}


def display_name(filename: str | None) -> str:
    """The last path component of what the browser sent (names are only shown, never used as paths)."""
    raw = (filename or "").replace("\\", "/")
    name = PurePosixPath(raw).name.strip()
    return name[:200] or "archivo-sin-nombre"


def _candidates(files: Iterable[tuple[str, bytes]]) -> Iterator[Candidate]:
    for name, data in files:
        yield from iter_upload(display_name(name), data)


def import_uploads(engine: Engine, settings: Settings, files: list[tuple[str, bytes]], *, actor: str,
                   clock: Clock = system_clock, company_ids: tuple[int, ...] | None = None) -> BatchResult:
    """Import uploaded XML/ZIP files; ``company_ids`` limits it to a user's companies."""
    if not files:
        raise ValidationError("Seleccione al menos un archivo XML o ZIP.", code="SIN_ARCHIVOS")
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[settings.instance_path / "sandbox"],
                        company_ids=company_ids)
    batch = importer.import_candidates(_candidates(files))
    with transaction(engine) as session:
        for r in batch.results:
            detail = f"archivo={r.file[:300]}" + (f"; código={r.code}" if r.code else "")
            record_audit(session, actor, AUDIT_ACTIONS.get(r.status, "cfdi_importacion"), "cfdi",
                         r.uuid or None, detail, clock=clock)
    return batch
