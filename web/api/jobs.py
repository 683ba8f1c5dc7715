"""``/api/v1/jobs``: background jobs (the REP queued by applying a payment, month-end runs).

The same services as ``cobranza jobs list`` / ``jobs retry`` and the Tareas page.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from cfdi_cobranza.services import jobs
from web.api import bp
from web.api.auth import token_role
from web.clock import clock
from web.db import get_session
from web.jobs import RUNNERS
from web.security import READERS


@bp.route("/jobs", methods=["GET"])
@token_role(*READERS)
def list_jobs() -> Any:
    state = request.args.get("state") or None
    return jsonify({"data": [r.to_dict() for r in jobs.list_jobs(get_session(), state=state, limit=200)]})


@bp.route("/jobs/<int:job_id>", methods=["GET"])
@token_role(*READERS)
def get_job(job_id: int) -> Any:
    return jsonify(jobs.get_job(get_session(), job_id).to_dict())


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@token_role(*RUNNERS)
def retry_job(job_id: int) -> Any:
    db = get_session()
    row = jobs.retry(db, job_id, actor=f"api:{g.api_token.name}", clock=clock())
    db.commit()
    return jsonify(row.to_dict()), 202
