"""Tablero: receivable and overdue per currency, aging chart, REP compliance, today's follow-ups,
broken promises and the projected income of the next 12 weeks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.services.dashboard import dashboard_summary, worsening_customers
from web.cache import cached
from web.charts import aging_chart
from web.clock import today
from web.db import get_session, settings
from web.security import READERS, require_role
from web.services.collections import dashboard_panel
from web.services.inputs import parse_date
from web.services.rep_compliance import rep_compliance

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@require_role(*READERS)
def index() -> Any:
    error = None
    as_of = today()
    try:
        as_of = parse_date(request.args.get("corte"), "Fecha de corte") or as_of
    except CobranzaError as exc:
        error = exc.message
    # Cached per process for the current ledger version (web.cache): every input (documents,
    # credits, the default buckets) is a tracked table. Shared by requests: read-only.
    summary = cached(get_session(), "dashboard_summary", as_of, lambda: dashboard_summary(get_session(), as_of))
    charts = [aging_chart(m.etiquetas, m.importes, m.moneda) for m in summary.monedas]
    # REP deadlines count from today, whatever fecha de corte the balances use.
    reps = rep_compliance(get_session(), today(), settings().rep_deadline_day)
    panel = dashboard_panel(get_session(), today())
    # Same cache as the summary: documents and credits are tracked tables (web.cache).
    worse = cached(get_session(), "worsening_customers", as_of, lambda: worsening_customers(get_session(), as_of))
    return render_template("dashboard.html", summary=summary, charts=charts, error=error, reps=reps, panel=panel,
                           hoy=today(), worse=worse), (400 if error else 200)
