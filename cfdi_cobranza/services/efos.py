"""The SAT's 69-B list (EFOS) kept in the database, and the customers it affects.

``import_list`` replaces the stored list with the published one (the file is the whole
list, so an RFC no longer on it is removed); a file that is not the list changes
nothing. Customers are matched by RFC.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import AuditEntry, Customer, Document
from cfdi_cobranza.db.models.sat import EfosEntry
from cfdi_cobranza.domain.credit import EfosStanding
from cfdi_cobranza.domain.money import round_currency
from cfdi_cobranza.domain.states import DocumentStatus
from cfdi_cobranza.pac.transport import Timeouts
from cfdi_cobranza.sat import efos as sat_efos
from cfdi_cobranza.sat import readonly_http
from cfdi_cobranza.sat.readonly_http import ReadPolicy
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.ledger import find_customer

# The situations that matter for credit and the report; Desvirtuado / Sentencia Favorable
# are kept (history) but affect nothing.
AFFECTING = ("Definitivo", "Presunto")


@dataclass(frozen=True)
class EfosImport:
    archivo: str
    preambulo: str
    registros: int
    nuevos: int
    cambiados: int
    retirados: int
    rechazados: list[dict[str, Any]] = field(default_factory=list)
    clientes_afectados: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def import_list(session: Session, data: bytes, *, source: str, actor: str = "sistema",
                clock: Clock = system_clock) -> EfosImport:
    parsed = sat_efos.parse(data)  # raises before anything is written
    now = clock()
    existing = {e.rfc: e for e in session.scalars(select(EfosEntry))}
    new = changed = 0
    for row in parsed.rows:
        entry = existing.pop(row.rfc, None)
        values = {"nombre": row.nombre, "situacion": row.situacion, "fecha_presunto": row.fecha_presunto,
                  "fecha_desvirtuado": row.fecha_desvirtuado, "fecha_definitivo": row.fecha_definitivo,
                  "fecha_sentencia": row.fecha_sentencia}
        if entry is None:
            session.add(EfosEntry(rfc=row.rfc, imported_at=now, **values))
            new += 1
        elif any(getattr(entry, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(entry, k, v)
            entry.imported_at = now
            changed += 1
    if existing:
        session.execute(delete(EfosEntry).where(EfosEntry.rfc.in_(list(existing))))
    session.flush()
    affected = len(affected_customers(session))
    result = EfosImport(source, parsed.preamble, len(parsed.rows), new, changed, len(existing),
                        [{"linea": r.line, "motivo": r.reason} for r in parsed.rejected], affected)
    session.add(AuditEntry(at=now, actor=actor, action="importar_efos", entity="efos", entity_id=None,
                           detail=json.dumps({k: v for k, v in result.to_dict().items() if k != "rechazados"}
                                             | {"rechazados": len(parsed.rejected)}, ensure_ascii=False)))
    return result


def standing(session: Session, rfc: str) -> EfosStanding | None:
    entry = session.scalar(select(EfosEntry).where(EfosEntry.rfc == rfc.strip().upper()))
    if entry is None:
        return None
    return EfosStanding(entry.situacion, _fecha(entry))


def _fecha(entry: EfosEntry) -> date | None:
    return {"Presunto": entry.fecha_presunto, "Desvirtuado": entry.fecha_desvirtuado,
            "Definitivo": entry.fecha_definitivo, "Sentencia Favorable": entry.fecha_sentencia}.get(entry.situacion)


def standing_dict(value: EfosStanding | None) -> dict[str, str | None] | None:
    if value is None:
        return None
    return {"situacion": value.situacion, "fecha": value.fecha.isoformat() if value.fecha else None}


@dataclass(frozen=True)
class AffectedCustomer:
    rfc: str
    nombre: str | None
    situacion: str
    fecha: date | None
    saldo: dict[str, Decimal]

    def to_dict(self) -> dict[str, Any]:
        return {"rfc": self.rfc, "nombre": self.nombre, "situacion": self.situacion,
                "fecha": self.fecha.isoformat() if self.fecha else None,
                "saldo": {k: format(round_currency(v, k), "f") for k, v in sorted(self.saldo.items())}}


def affected_customers(session: Session) -> list[AffectedCustomer]:
    """Customers whose RFC is Presunto or Definitivo, Definitivo first, with their open balance."""
    rows = session.execute(select(Customer, EfosEntry).join(EfosEntry, EfosEntry.rfc == Customer.rfc)
                           .where(EfosEntry.situacion.in_(AFFECTING)).order_by(Customer.rfc, Customer.id)).all()
    if not rows:
        return []
    ids = [c.id for c, _ in rows]
    saldos: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for cid, moneda, total in session.execute(
            select(Document.customer_id, Document.moneda, func.sum(Document.saldo))
            .where(Document.customer_id.in_(ids), Document.tipo == "I", Document.saldo > 0,
                   Document.status != DocumentStatus.CANCELADO)
            .group_by(Document.customer_id, Document.moneda)):
        saldos[cid][moneda] = Decimal(total)
    out = [AffectedCustomer(c.key, c.nombre, e.situacion, _fecha(e), saldos.get(c.id, {})) for c, e in rows]
    return sorted(out, key=lambda a: (a.situacion != "Definitivo", a.rfc))


URL_ENV = "COBRANZA_EFOS_URL"


def download_list(url: str | None = None, *, policy: ReadPolicy | None = None) -> bytes:
    """The published list (``COBRANZA_EFOS_URL`` overrides the SAT's address)."""
    policy = policy or ReadPolicy(timeouts=Timeouts(connect=10.0, read=120.0))  # a ~2 MB file
    return sat_efos.download(readonly_http.transport_for(policy), url or os.environ.get(URL_ENV) or sat_efos.URL,
                             policy=policy)


def customer_standing(session: Session, rfc_or_key: str) -> dict[str, str | None] | None:
    """``{situacion, fecha}`` of a customer (by RFC or key) on the 69-B list, or None."""
    return standing_dict(standing(session, find_customer(session, rfc_or_key).rfc))
