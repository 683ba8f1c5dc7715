"""Importar → Desde el SAT: the descarga masiva of the company's issued CFDI, from the browser.

The page runs the same ``services.sat_sync.sync`` as ``cobranza sat sync`` (same lock,
state and outcomes), waiting at most ``SAT_WEB_WAIT`` seconds for the SAT to prepare the
packages; when they are not ready the page says so and the next run (this page or cron)
continues where it stopped. Until background jobs land the request waits for the import.
``SAT_CLIENT_FACTORY`` in the app config replaces the SAT (tests use the loopback fake).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request

from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import ledger, sat_sync
from cfdi_cobranza.services.users import record_audit
from web.clock import clock, today
from web.db import engine, get_session, settings
from web.security import IMPORTERS, require_role

bp = Blueprint("sat", __name__, url_prefix="/importar/sat")


def _date(name: str) -> date | None:
    raw = (request.form.get(name) or "").strip()[:10]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"Fecha inválida «{raw}»; use AAAA-MM-DD.", code="FECHA_INVALIDA") from None


def _page(result: Any = None, error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> Any:
    db = get_session()
    companies = ledger.list_companies(db)
    fiel = sat_sync.fiel_by_company(db)
    history = {c.rfc: sat_sync.requests_of(db, c.rfc, limit=12) for c in companies}
    last = {c.rfc: sat_sync.last_synced(db, c.id) for c in companies}
    return render_template("imports_sat.html", companies=companies, fiel=fiel, history=history, last=last,
                           result=result, error=error, form=form or {}, hoy=today()), status


@bp.route("/", methods=["GET"])
@require_role(*IMPORTERS)
def index() -> Any:
    return _page()


@bp.route("/", methods=["POST"])
@require_role(*IMPORTERS)
def run() -> Any:
    form = {k: (request.form.get(k) or "").strip()[:20] for k in ("rfc", "desde", "hasta")}
    try:
        db = get_session()
        ledger.get_company(db, form["rfc"])  # another company's RFC is not found (a user limited to some)
        db.commit()  # no open transaction while the sync writes (SQLite: one writer)
        desde, hasta = _date("desde"), _date("hasta")
        result = sat_sync.sync(
            engine(), settings(), form["rfc"], SecretBox.for_instance(settings().instance_path), today=today(),
            desde=desde, hasta=hasta, clock=clock(), client_factory=current_app.config.get("SAT_CLIENT_FACTORY"),
            wait_seconds=float(current_app.config.get("SAT_WEB_WAIT", 20)), poll_interval=5.0)
    except NotFoundError:
        abort(404)
    except CobranzaError as exc:
        return _page(error=f"[{exc.code}] {exc.message}", status=400, form=form)
    db = get_session()
    s = result.to_dict()["summary"]
    record_audit(db, g.user.username, "sincronizar_sat", "company", result.rfc,
                 f"{result.desde}..{result.hasta}: {s['imported']} importados, {s['packages']} paquetes", clock=clock())
    db.commit()
    return _page(result=result.to_dict(), form=form)
