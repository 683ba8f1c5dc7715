"""Configuración → Empresas: companies, CSD upload (sealed; the password is never echoed), PAC, REP serie."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services import stamping
from cfdi_cobranza.services.users import record_audit
from web.clock import clock, today
from web.db import get_session, settings
from web.security import require_role
from web.services import companies as view
from web.services.reps import pac_info

bp = Blueprint("companies", __name__, url_prefix="/configuracion/empresas")

CSD_MANAGERS = frozenset({"administrador", "contabilidad"})
MAX_CSD_BYTES = 64 * 1024


def _page(error: str | None = None, error_rfc: str | None = None, status: int = 200) -> Any:
    return render_template("settings/companies.html", rows=view.company_rows(get_session()), pac=pac_info(settings()),
                           error=error, error_rfc=error_rfc, hoy=today()), status


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


@bp.route("/<rfc>/csd", methods=["POST"])
@require_role(*CSD_MANAGERS)
def upload_csd(rfc: str) -> Any:
    db = get_session()
    try:
        cer, key = _file("cer", ".cer"), _file("key", ".key")
        password = request.form.get("password", "")[:256]
        if not password:
            raise ValidationError("Escriba la contraseña de la llave privada.", code="CSD_CONTRASENA_REQUERIDA")
        csd = stamping.register_csd(db, rfc, cer, key, password, SecretBox.for_instance(settings().instance_path),
                                    today=today(), clock=clock())
        record_audit(db, g.user.username, "registrar_csd", "company", rfc.upper()[:13],
                     f"no_certificado={csd.no_certificado}", clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        return _page(exc.message, rfc.upper(), 400)
    flash(f"CSD {csd.no_certificado} registrado para {rfc.upper()}; vigente hasta el {csd.valid_to:%d/%m/%Y}. "
          "La llave y la contraseña se guardaron cifradas.", "ok")
    return redirect(url_for("companies.index"))


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
