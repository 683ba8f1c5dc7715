"""Import uploaded files (web form or API) and leave one audit entry per upload.

The importer owns its transactions (one per chunk, a savepoint per file where needed);
the audit entry goes in a transaction of its own right after, so a refusal is audited
as well as a success. One entry per batch, not per file: a ZIP of 200,000 members is
one action of one user, audited with its counts and the list of outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import IO

from sqlalchemy import Engine

from cfdi_cobranza.cfdi.sources import Candidate, iter_upload
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.importing import BatchResult, Importer
from cfdi_cobranza.services.users import record_audit

AUDIT_ACTION = "cfdi_importacion"
AUDIT_ENTITY = "importacion"
# The outcomes in the audit detail, one list per file, in this order.
AUDIT_FIELDS = ("archivo", "estado", "uuid", "codigo")


def display_name(filename: str | None) -> str:
    """The last path component of what the browser sent (names are only shown, never used as paths)."""
    raw = (filename or "").replace("\\", "/")
    name = PurePosixPath(raw).name.strip()
    return name[:200] or "archivo-sin-nombre"


def _candidates(files: Iterable[tuple[str, bytes | IO[bytes]]]) -> Iterator[Candidate]:
    for name, data in files:
        yield from iter_upload(display_name(name), data)


def audit_detail(batch: BatchResult) -> str:
    """The audit entry of a batch: its counts and every file's outcome (JSON)."""
    return json.dumps({
        "resumen": batch.summary,
        "empresas_registradas": batch.companies_registered,
        "campos": AUDIT_FIELDS,
        "resultados": [[r.file[:300], r.status, r.uuid, r.code] for r in batch.results],
    }, ensure_ascii=False, separators=(",", ":"))


def import_uploads(engine: Engine, settings: Settings, files: Sequence[tuple[str, bytes | IO[bytes]]], *, actor: str,
                   clock: Clock = system_clock, company_ids: tuple[int, ...] | None = None) -> BatchResult:
    """Import what was uploaded: bytes, or the uploaded files themselves (a ZIP is then
    read member by member from the spooled upload, never copied into memory whole).
    ``company_ids`` limits it to a user's companies."""
    if not files:
        raise ValidationError("Seleccione al menos un archivo XML o ZIP.", code="SIN_ARCHIVOS")
    importer = Importer(engine, settings, clock=clock, extra_cert_dirs=[settings.instance_path / "sandbox"],
                        company_ids=company_ids)
    batch = importer.import_candidates(_candidates(files))
    with transaction(engine) as session:
        record_audit(session, actor, AUDIT_ACTION, AUDIT_ENTITY, batch.batch_id, audit_detail(batch), clock=clock)
    return batch
