"""Tareas: background jobs with their progress, the failed ones with their reason and a retry button.

The list and the retry call ``services.jobs`` (the same as ``cobranza jobs list`` and
``jobs retry``); the page refreshes itself while something is queued or running.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from cfdi_cobranza.domain.jobs import JobState
from cfdi_cobranza.errors import CobranzaError, NotFoundError
from cfdi_cobranza.services import jobs
from web.clock import clock
from web.db import get_session
from web.security import READERS, require_role

bp = Blueprint("jobs", __name__, url_prefix="/tareas")

RUNNERS = frozenset({"administrador", "contabilidad", "cobranza"})


@bp.route("/")
@require_role(*READERS)
def index() -> Any:
    state = request.args.get("estado") or None
    try:
        rows = jobs.list_jobs(get_session(), state=state, limit=200)
    except CobranzaError as exc:
        return render_template("jobs/index.html", rows=[], state=None, error=exc.message, busy=False), 400
    busy = any(r.state in (JobState.QUEUED, JobState.RUNNING) for r in rows)
    return render_template("jobs/index.html", rows=rows, state=state, error=None, busy=busy)


@bp.route("/<int:job_id>.json")
@require_role(*READERS)
def detail_json(job_id: int) -> Any:
    try:
        return jsonify(jobs.get_job(get_session(), job_id).to_dict())
    except NotFoundError:
        abort(404)


@bp.route("/<int:job_id>/reintentar", methods=["POST"])
@require_role(*RUNNERS)
def retry(job_id: int) -> Any:
    db = get_session()
    try:
        row = jobs.retry(db, job_id, actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("jobs.index"))
    flash(f"Tarea {row.id} ({row.label}) en cola de nuevo.", "ok")
    return redirect(url_for("jobs.index"))


def connect_job_publisher() -> bool:
    """Under gunicorn: send the jobs pages queue to the broker when one is configured
    (``COBRANZA_BROKER_URL``); without one they wait in the table for ``cobranza worker``."""
    import os

    from cfdi_cobranza.config import Settings
    from cfdi_cobranza.db.session import engine_for
    from cfdi_cobranza.services.jobs import Runtime
    from cfdi_cobranza.worker import broker

    url = broker.broker_url()
    if url is None:
        return False
    settings = Settings.from_env()
    broker.make_celery(url, broker.queue_name(),
                       lambda: Runtime(engine_for(settings.database_url), settings.instance_path),
                       prefix=os.environ.get("COBRANZA_BROKER_PREFIX"))
    return True
