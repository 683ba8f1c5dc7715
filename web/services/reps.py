"""REP pages helpers: the configured Stamper, the PAC shown to users, REP rows to list.

Issuing, cancelling and the pending list are ``cfdi_cobranza.services.stamping``; the
PAC comes from ``COBRANZA_PAC_*`` (sandbox unless configured otherwise) and the
secret box from the instance folder, exactly as the CLI builds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Customer, Rep
from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import stamping
from cfdi_cobranza.services.clock import Clock

STATUS_LABELS = {
    "enviando": "En envío al PAC",
    "timbrado": "Timbrado",
    "rechazado": "Rechazado",
    "sustituyendo": "Sustituyendo",
    "cancelacion_solicitada": "Cancelación solicitada",
    "cancelado": "Cancelado",
    "sustituido": "Sustituido",
}
STATUS_CSS = {"timbrado": "imported", "rechazado": "refused", "cancelado": "refused", "sustituido": "refused",
              "enviando": "duplicate", "sustituyendo": "duplicate", "cancelacion_solicitada": "duplicate"}
MOTIVOS = (
    ("01", "01 - Comprobante emitido con errores con relación (se emite uno sustituto)"),
    ("02", "02 - Comprobante emitido con errores sin relación"),
    ("03", "03 - No se llevó a cabo la operación"),
    ("04", "04 - Operación nominativa relacionada en una factura global"),
)
SIN_VALIDEZ = "SIN VALIDEZ FISCAL"


def stamper(engine: object, settings: Settings, clock: Clock, actor: str) -> stamping.Stamper:
    from cfdi_cobranza.pac.config import pac_from_config

    return stamping.Stamper(engine, pac_from_config(instance_path=settings.instance_path),  # type: ignore[arg-type]
                            SecretBox.for_instance(settings.instance_path), clock=clock, actor=actor,
                            deadline_day=settings.rep_deadline_day)


@dataclass(frozen=True)
class PacInfo:
    name: str
    label: str
    environment: str
    sandbox: bool
    error: str | None = None


PAC_LABELS = {"sandbox": "Sandbox local (sin validez fiscal)", "finkok": "Finkok", "sw": "SW Sapien"}


def pac_info(settings: Settings) -> PacInfo:
    """Which PAC the app would use now; credentials are never read back or shown."""
    from cfdi_cobranza.pac.config import pac_from_config

    env = os.environ.get("COBRANZA_PAC_ENV", "test") or "test"
    try:
        pac = pac_from_config(instance_path=settings.instance_path)
    except CobranzaError as exc:
        name = (os.environ.get("COBRANZA_PAC") or "sandbox").lower()
        return PacInfo(name, PAC_LABELS.get(name, name), env, name == "sandbox", exc.message)
    name = getattr(pac, "name", "pac")
    sandbox = bool(getattr(pac, "is_sandbox", False))
    return PacInfo(name, PAC_LABELS.get(name, name), "pruebas" if sandbox else ("producción" if env == "production" else "pruebas"),
                   sandbox)


@dataclass(frozen=True)
class RepRow:
    id: int
    uuid: str | None
    serie: str
    folio: int
    status: str
    fecha: datetime
    fecha_timbrado: datetime | None
    sandbox: bool
    pac: str
    customer_id: int
    customer_rfc: str
    customer_nombre: str | None
    pagos: list[int]
    cancel_motivo: str | None
    sustituido_por: str | None
    findings: list[dict[str, str]]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def status_css(self) -> str:
        return STATUS_CSS.get(self.status, "")


def _row(rep: Rep, customer: Customer) -> RepRow:
    d = stamping.rep_dict(rep, customer)
    return RepRow(rep.id, rep.uuid, rep.serie, rep.folio, rep.status, rep.fecha, rep.fecha_timbrado, rep.sandbox,
                  rep.pac, customer.id, customer.rfc, customer.nombre, d["pagos"], rep.cancel_motivo,
                  rep.cancel_folio_sustitucion, d["findings"])


def rep_rows(session: Session, limit: int = 500) -> list[RepRow]:
    rows = session.execute(select(Rep, Customer).join(Customer, Customer.id == Rep.customer_id)
                           .order_by(Rep.id.desc()).limit(limit)).all()
    return [_row(r, c) for r, c in rows]


def rep_row(session: Session, uuid: str) -> RepRow:
    rep = stamping.find_rep(session, uuid)
    customer = session.get(Customer, rep.customer_id)
    assert customer is not None
    return _row(rep, customer)


def rep_files(session: Session, uuid: str) -> tuple[str, bytes, bool]:
    """(file stem, stamped XML as stored, sandbox) of a stamped REP."""
    rep = stamping.find_rep(session, uuid)
    if rep.stamped_xml is None:
        from cfdi_cobranza.errors import ConflictError

        raise ConflictError(f"El REP {rep.serie}-{rep.folio} no está timbrado; no tiene XML timbrado.",
                            code="REP_SIN_TIMBRE")
    return f"REP-{rep.serie}{rep.folio}-{rep.uuid}", rep.stamped_xml, rep.sandbox
