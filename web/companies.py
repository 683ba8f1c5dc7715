"""Configuración → Empresas: companies, CSD upload (sealed; the password is never echoed), PAC, REP serie.

The PAC form (administrador only) stores the choice with ``services.settings.set_pac_setting``:
the password and token are sealed, never echoed back (the page shows "guardada"), and
an empty field keeps the stored one. ``COBRANZA_PAC`` in the server's environment still
wins over what is saved here; the page says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza.domain.jobs import REP_MODE_LABELS
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import ledger, sat_sync, stamping
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services.jobs import policy as rep_policies
from cfdi_cobranza.services.users import record_audit
from web.clock import clock, today
from web.db import get_session, settings
from web.security import ADMINS, require_role
from web.services.reps import pac_info

bp = Blueprint("companies", __name__, url_prefix="/configuracion/empresas")

CSD_MANAGERS = frozenset({"administrador", "contabilidad"})
MAX_CSD_BYTES = 64 * 1024


def _page(error: str | None = None, error_rfc: str | None = None, status: int = 200, *,
          pac_error: str | None = None, pac_form: dict[str, str] | None = None) -> Any:
    db = get_session()
    stored = app_settings.get_pac_setting(db)
    form = pac_form or {"name": stored.name, "env": stored.env, "user": stored.user or "", "url": stored.url or ""}
    rows = ledger.companies_with_csd(db)
    own_pacs = {r.company.rfc: app_settings.get_pac_setting(db, company_rfc=r.company.rfc) for r in rows}
    return render_template("settings/companies.html", rows=rows, pac=pac_info(settings(), db), own_pacs=own_pacs,
                           pac_setting=stored, pac_form=form, pac_names=app_settings.PAC_LABELS,
                           can_edit_pac=g.user.role in ADMINS, pac_error=pac_error,
                           error=error, error_rfc=error_rfc, hoy=today(), fiel=sat_sync.fiel_by_company(db),
                           policies={p.rfc: p for p in rep_policies.policies(db)}, rep_modes=REP_MODE_LABELS), status


@bp.route("/", methods=["GET"])
@require_role(*CSD_MANAGERS)
def index() -> Any:
    return _page()


def _file(name: str, label: str) -> bytes:
    f = request.files.get(name)
    if f is None or not f.filename:
        raise ValidationError(f"Seleccione el archivo {label}.", code="CSD_ARCHIVO_REQUERIDO")
    data: bytes = f.read(MAX_CSD_BYTES + 1)
    if not data or len(data) > MAX_CSD_BYTES:
        raise ValidationError(f"El archivo {label} está vacío o es demasiado grande para ser un CSD.",
                              code="CSD_ARCHIVO_INVALIDO")
    return data


def _store_certificate(rfc: str, fields: tuple[str, str, str], labels: tuple[str, str],
                       register: Callable[..., Any], action: str, name: tuple[str, str],
                       missing_password: str | None) -> Any:
    """The CSD and the e.firma forms: the company (404 when not visible), both files, the
    password, the service's checks, an audit entry; the page with the refusal, or back."""
    db = get_session()
    try:
        ledger.get_company(db, rfc)  # another company's RFC is not found, whatever the form holds
        cer, key = _file(fields[0], labels[0]), _file(fields[1], labels[1])
        password = request.form.get(fields[2], "")[:256]
        if missing_password and not password:
            raise ValidationError(missing_password, code="CSD_CONTRASENA_REQUERIDA")
        row = register(db, rfc, cer, key, password, SecretBox.for_instance(settings().instance_path),
                       today=today(), clock=clock())
        record_audit(db, g.user.username, action, "company", rfc.upper()[:13],
                     f"no_certificado={row.no_certificado}", clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _page(exc.message, rfc.upper(), 400)
    flash(f"{name[0]} {row.no_certificado} {name[1]} para {rfc.upper()}; vigente hasta el {row.valid_to:%d/%m/%Y}. "
          "La llave y la contraseña se guardaron cifradas.", "ok")
    return redirect(url_for("companies.index"))


@bp.route("/<rfc>/csd", methods=["POST"])
@require_role(*CSD_MANAGERS)
def upload_csd(rfc: str) -> Any:
    return _store_certificate(rfc, ("cer", "key", "password"), (".cer", ".key"), stamping.register_csd,
                              "registrar_csd", ("CSD", "registrado"), "Escriba la contraseña de la llave privada.")


@bp.route("/<rfc>/fiel", methods=["POST"])
@require_role(*CSD_MANAGERS)
def upload_fiel(rfc: str) -> Any:
    """The company's e.firma for the SAT's bulk download: checked, then stored sealed."""
    return _store_certificate(rfc, ("fiel_cer", "fiel_key", "fiel_password"),
                              (".cer de la e.firma", ".key de la e.firma"), sat_sync.register_fiel,
                              "registrar_fiel", ("e.firma", "registrada"), None)


@bp.route("/<rfc>/serie", methods=["POST"])
@require_role(*CSD_MANAGERS)
def rep_serie(rfc: str) -> Any:
    db = get_session()
    try:
        company = app_settings.set_rep_serie(db, rfc, request.form.get("serie", "")[:40], actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _page(exc.message, rfc.upper(), 400)
    flash(f"Serie de REP de {company.rfc}: «{company.rep_serie}».", "ok")
    return redirect(url_for("companies.index"))


@bp.route("/pac", methods=["POST"])
@require_role(*ADMINS)
def pac_setting() -> Any:
    db = get_session()
    form = {k: request.form.get(k, "")[:600].strip() for k in ("name", "env", "user", "url")}
    try:
        saved = app_settings.set_pac_setting(
            db, SecretBox.for_instance(settings().instance_path), name=form["name"], env=form["env"],
            user=form["user"], password=request.form.get("password", "")[:5000],
            token=request.form.get("token", "")[:5000], url=form["url"], actor=g.user.username, clock=clock(),
            clear_password=request.form.get("clear_password") == "1", clear_token=request.form.get("clear_token") == "1")
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return _page(status=400, pac_error=exc.message, pac_form=form)
    text = f"PAC guardado: {saved.label}, ambiente {'producción' if saved.env == 'production' else 'pruebas'}."
    if saved.sandbox:
        text += " SIN VALIDEZ FISCAL: los REP del sandbox no son comprobantes válidos."
    if saved.env_override:
        text += " Aviso: COBRANZA_PAC está definido en el servidor y tiene prioridad sobre esta configuración."
    flash(text, "ok")
    return redirect(url_for("companies.index") + "#pac")


@bp.route("/<rfc>/pac", methods=["POST"])
@require_role(*ADMINS)
def company_pac(rfc: str) -> Any:
    """The company's own PAC account, or back to the installation's (``usar_instalacion``)."""
    db = get_session()
    form = {k: request.form.get(k, "")[:600].strip() for k in ("name", "env", "user", "url")}
    try:
        company = ledger.get_company(db, rfc)
        if request.form.get("usar_instalacion") == "1":
            app_settings.clear_company_pac(db, company.rfc, actor=g.user.username, clock=clock())
            db.commit()
            flash(f"{company.rfc} timbra con el PAC de la instalación.", "ok")
            return redirect(url_for("companies.index") + f"#empresa-{company.rfc}")
        saved = app_settings.set_pac_setting(
            db, SecretBox.for_instance(settings().instance_path), name=form["name"], env=form["env"],
            user=form["user"], password=request.form.get("password", "")[:5000],
            token=request.form.get("token", "")[:5000], url=form["url"], actor=g.user.username, clock=clock(),
            company_rfc=company.rfc)
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _page(exc.message, rfc.upper()[:13], 400)
    flash(f"{company.rfc} timbra con su propia cuenta: {saved.label}, ambiente "
          f"{'producción' if saved.env == 'production' else 'pruebas'}.", "ok")
    return redirect(url_for("companies.index") + f"#empresa-{company.rfc}")


@bp.route("/<rfc>/politica-rep", methods=["POST"])
@require_role(*CSD_MANAGERS)
def rep_policy(rfc: str) -> Any:
    db = get_session()
    try:
        saved = rep_policies.set_policy(db, rfc, request.form.get("mode", "")[:20], request.form.get("hora", "")[:10],
                                      request.form.get("dia", "")[:3], actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _page(exc.message, rfc.upper(), 400)
    flash(f"Emisión de REP de {saved.rfc}: {saved.policy.describe()}.", "ok")
    return redirect(url_for("companies.index") + f"#empresa-{saved.rfc}")
