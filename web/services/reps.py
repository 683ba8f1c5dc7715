"""REP pages helpers: the configured Stamper, the PAC shown to users, REP rows to show.

Issuing, cancelling and every question about REPs are ``cfdi_cobranza.services.stamping``; the
PAC is ``services.settings.pac_for`` (``COBRANZA_PAC_*`` when set in the environment,
else the one chosen in Configuración, else the sandbox) and the secret box comes from
the instance folder, exactly as the CLI builds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Customer, Rep
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services import stamping
from cfdi_cobranza.services.clock import Clock
from cfdi_cobranza.services.settings import PAC_LABELS, pac_for
from web.db import get_session

STATUS_LABELS: dict[str, str] = {
    RepStatus.ENVIANDO: "En envío al PAC",
    RepStatus.TIMBRADO: "Timbrado",
    RepStatus.RECHAZADO: "Rechazado",
    RepStatus.SUSTITUYENDO: "Sustituyendo",
    RepStatus.CANCELACION_SOLICITADA: "Cancelación solicitada",
    RepStatus.CANCELADO: "Cancelado",
    RepStatus.SUSTITUIDO: "Sustituido",
}
STATUS_CSS: dict[str, str] = {RepStatus.TIMBRADO: "imported", RepStatus.RECHAZADO: "refused", RepStatus.CANCELADO: "refused",
              RepStatus.SUSTITUIDO: "refused", RepStatus.ENVIANDO: "duplicate", RepStatus.SUSTITUYENDO: "duplicate",
              RepStatus.CANCELACION_SOLICITADA: "duplicate"}
MOTIVOS = (
    ("01", "01 - Comprobante emitido con errores con relación (se emite uno sustituto)"),
    ("02", "02 - Comprobante emitido con errores sin relación"),
    ("03", "03 - No se llevó a cabo la operación"),
    ("04", "04 - Operación nominativa relacionada en una factura global"),
)
SIN_VALIDEZ = "SIN VALIDEZ FISCAL"


def stamper(engine: Engine, settings: Settings, clock: Clock, actor: str,
            company_ids: tuple[int, ...] | None = None) -> stamping.Stamper:
    """Call with no open transaction on ``engine`` (SQLite: the PAC setting is read in its own).
    ``company_ids``: the request user's companies (``db.scope.company_ids`` of its session)."""
    return stamping.configured_stamper(engine, settings, actor=actor, clock=clock, company_ids=company_ids)


@dataclass(frozen=True)
class PacInfo:
    name: str
    label: str
    environment: str
    sandbox: bool
    error: str | None = None
    origin: str = "predeterminado"  # "entorno" (COBRANZA_PAC_*), "configuracion" (stored) or "predeterminado"


def pac_info(settings: Settings, session: Session | None = None) -> PacInfo:
    """Which PAC the app would use now and where it comes from; credentials are never shown.

    ``session`` defaults to the request's session (the PAC chosen in Configuración).
    """
    if session is None:
        session = get_session()
    if app_settings.pac_env_override():
        origin = "entorno"
        name = (os.environ.get("COBRANZA_PAC") or "sandbox").strip().lower()
        env = (os.environ.get("COBRANZA_PAC_ENV") or "test").strip().lower()
    else:
        stored = app_settings.get_pac_setting(session)
        origin = "configuracion" if stored.stored else "predeterminado"
        name, env = stored.name, stored.env
    try:
        pac = pac_for(session, SecretBox.for_instance(settings.instance_path), settings.instance_path)
    except CobranzaError as exc:
        return PacInfo(name, PAC_LABELS.get(name, name), "producción" if env == "production" else "pruebas",
                       name == "sandbox", exc.message, origin)
    name = getattr(pac, "name", name)
    sandbox = bool(getattr(pac, "is_sandbox", False))
    environment = "producción" if env == "production" and not sandbox else "pruebas"
    return PacInfo(name, PAC_LABELS.get(name, name), environment, sandbox, None, origin)


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
    return [_row(r, c) for r, c in stamping.reps_with_customers(session, newest_first=True, limit=limit)]


def rep_row(session: Session, uuid: str) -> RepRow:
    rep = stamping.find_rep(session, uuid)
    customer = session.get(Customer, rep.customer_id)
    assert customer is not None
    return _row(rep, customer)
