"""Reportes: every collections report with its filters, as tables, with CSV / Excel / PDF downloads.

Each page parses the filter form (fecha de corte, rango, agrupación, rangos de días,
cliente/vendedor/zona/clasificación/sucursal/empresa) and calls one helper of
``web.services.collections``, which calls ``services.collection_reports`` and turns the
result into the same ``reports.export.Report`` the CLI prints. ``?formato=csv|xlsx|pdf``
downloads that report (every row; the page shows at most ``limite`` rows per table).
Bad input re-shows the form with the Spanish message, status 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, render_template, request

from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services.customers import customers_for_select
from web.clock import today
from web.db import get_session
from web.downloads import attachment
from web.security import READERS, require_role
from web.services import collections as view

bp = Blueprint("reports", __name__, url_prefix="/reportes")

REPORTS: dict[str, dict[str, Any]] = {
    "aging": {"title": "Antigüedad de saldos", "endpoint": "reports.aging", "groups": view.GROUP_LABELS,
              "desc": "Saldos por fecha de vencimiento en rangos de días, por moneda y convertidos a MXN."},
    "due": {"title": "Vencimientos", "endpoint": "reports.due", "groups": None,
            "desc": "Documentos que vencen en un rango de fechas (por omisión los próximos 7 días)."},
    "movement": {"title": "Movimiento de cartera", "endpoint": "reports.movement", "groups": view.GROUP_LABELS,
                 "desc": "Saldo inicial, cargos, abonos y saldo final de un periodo."},
    "statement": {"title": "Estado de cuenta", "endpoint": "reports.statement", "groups": None,
                  "desc": "Historial de un cliente: cargos, abonos y saldo, con PDF para enviarlo."},
    "summary": {"title": "Resumen por nivel", "endpoint": "reports.summary",
                "groups": {k: view.GROUP_LABELS[k] for k in ("empresa", "sucursal", "vendedor", "cartera")},
                "desc": "Cuentas por cobrar por empresa, sucursal o vendedor en un periodo."},
    "collectors": {"title": "Reporte de cobradores", "endpoint": "reports.collectors",
                   "groups": {k: view.GROUP_LABELS[k] for k in ("vendedor", "zona", "clasificacion", "sucursal")},
                   "desc": "Saldo, vencido, cobrado, gestiones y promesas por vendedor, zona, clasificación o sucursal."},
    "projection": {"title": "Proyección de ingresos", "endpoint": "reports.projection", "groups": None,
                   "desc": "Cobros esperados por semana o mes según el comportamiento de pago, junto a la fecha de vencimiento."},
    "cashcut": {"title": "Corte de caja", "endpoint": "debts.cash_cut", "groups": None,
                "desc": "Recibos de una caja en un día por forma de pago y usuario, cheques recibidos y totales."},
    "trends": {"title": "Patrones y tendencias", "endpoint": "reports.trends", "groups": None,
               "desc": "Mes a mes: facturado, cobrado, días de atraso promedio y ponderado, % pagado a tiempo "
                       "y la tendencia (mejorando, estable o empeorando)."},
}
DEFAULT_GROUP = {"aging": "cliente", "movement": "cliente", "summary": "empresa", "collectors": "vendedor"}


def _download(page: Any, fmt: str, stem: str) -> Any:
    data, mimetype, ext = view.download(page.report, fmt)
    return current_app.response_class(data, mimetype=mimetype,
                                      headers=attachment(f"{stem}.{ext}"))


def _run(kind: str, build: Callable[..., view.ReportPage], stem: str) -> Any:
    meta = REPORTS[kind]
    fmt = request.args.get("formato", "")[:10]
    params = None
    try:
        params = view.parse_params(request.args, today(), default_group=DEFAULT_GROUP.get(kind, "cliente"))
        if fmt:
            return _download(build(get_session(), params, for_download=True), fmt, f"{stem}-{params.as_of:%Y%m%d}")
        page = build(get_session(), params)
    except CobranzaError as exc:
        get_session().rollback()
        form = params.form if params else {k: request.args.get(k, "")[:100] for k in request.args}
        return render_template("reports/report.html", kind=kind, meta=meta, reports=REPORTS, page=None, form=form,
                               error=exc.message, hoy=today()), 404 if isinstance(exc, NotFoundError) else 400
    return render_template("reports/report.html", kind=kind, meta=meta, reports=REPORTS, page=page, form=params.form,
                           params=params, error=None, hoy=today())


@bp.route("/", methods=["GET"])
@require_role(*READERS)
def index() -> Any:
    return render_template("reports/index.html", reports=REPORTS)


@bp.route("/antiguedad", methods=["GET"])
@require_role(*READERS)
def aging() -> Any:
    return _run("aging", view.aging_page, "antiguedad-de-saldos")


@bp.route("/vencimientos", methods=["GET"])
@require_role(*READERS)
def due() -> Any:
    return _run("due", view.due_page, "vencimientos")


@bp.route("/movimiento", methods=["GET"])
@require_role(*READERS)
def movement() -> Any:
    return _run("movement", view.movement_page, "movimiento-cartera")


@bp.route("/resumen", methods=["GET"])
@require_role(*READERS)
def summary() -> Any:
    return _run("summary", view.summary_page, "resumen-cartera")


@bp.route("/cobradores", methods=["GET"])
@require_role(*READERS)
def collectors() -> Any:
    return _run("collectors", view.collectors_page, "reporte-cobradores")


@bp.route("/proyeccion", methods=["GET"])
@require_role(*READERS)
def projection() -> Any:
    return _run("projection", view.projection_page, "proyeccion-ingresos")


@bp.route("/tendencias", methods=["GET"])
@require_role(*READERS)
def trends() -> Any:
    return _run("trends", view.trends_page, "tendencias-de-pago")


@bp.route("/estado-de-cuenta", methods=["GET"])
@require_role(*READERS)
def statement() -> Any:
    meta = REPORTS["statement"]
    fmt = request.args.get("formato", "")[:10]
    params = None
    try:
        params = view.parse_params(request.args, today())
        result = view.statement_page(get_session(), params, pdf=fmt == "pdf")
        if fmt and result.report is not None:
            if fmt == "pdf":
                assert result.pdf is not None
                return current_app.response_class(result.pdf, mimetype="application/pdf",
                                                  headers=attachment(f"{result.stem}.pdf"))
            return _download(result, fmt, result.stem)
    except CobranzaError as exc:
        get_session().rollback()
        form = params.form if params else {k: request.args.get(k, "")[:100] for k in request.args}
        return render_template("reports/report.html", kind="statement", meta=meta, reports=REPORTS, page=None,
                               form=form, error=exc.message, hoy=today()), 404 if isinstance(exc, NotFoundError) else 400
    return render_template("reports/report.html", kind="statement", meta=meta, reports=REPORTS,
                           page=result if result.report else None, form=params.form, params=params, error=None,
                           hoy=today(), customers=customers_for_select(get_session(), limit=2000))
