"""Background jobs from the web and the API: «al aplicar» through the API returns at
once with the REP's job, which the queue stamps; the Tareas page shows a failure's
reason and retries it; the JSON API reads and retries jobs."""

from __future__ import annotations

import rep_support
from sqlalchemy import select

from cfdi_cobranza.db.models import Job, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import jobs
from cfdi_cobranza.services import users as users_service
from cfdi_cobranza.services.jobs import policy


def _headers(engine, role):
    with transaction(engine) as s:
        return {"Authorization": f"Bearer {users_service.create_token(s, f'api-{role}', role, created_by=users_service.CLI_CREATOR)[1]}"}


def _runtime(app, engine):
    return jobs.Runtime(engine, instance_path=app.config["COBRANZA_SETTINGS"].instance_path)


def test_api_apply_under_al_aplicar_queues_the_rep_and_the_queue_stamps_it_once(client, app, engine, sandbox_env):
    files = rep_support.ppd_invoices(sandbox_env)
    rep_support.import_files(app, files)
    rep_support.register_csd(engine, sandbox_env)
    with transaction(engine) as s:
        policy.set_policy(s, rep_support.ISSUER_RFC, "al-aplicar")
    fact = _headers(engine, "facturacion")
    resp = client.post("/api/v1/payments", json={"customer": rep_support.CUSTOMER_RFC, "fecha_pago": "2026-11-10",
                                                 "forma_pago": "03", "monto": "1000.00"}, headers=fact)
    pid = resp.json["payments"][0]["id"]
    resp = client.post(f"/api/v1/payments/{pid}/apply",
                       json={"aplicaciones": [{"uuid": files[0][2], "importe": "1000.00"}]}, headers=fact)
    assert resp.status_code == 200
    job_id = resp.json["rep_job_id"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=fact).json["state"] == "queued"
    with transaction(engine) as s:
        assert s.scalars(select(Rep)).all() == []  # nothing stamped inside the request

    assert jobs.run_until_empty(_runtime(app, engine)) == [(job_id, "done")]
    done = client.get(f"/api/v1/jobs/{job_id}", headers=fact).json
    assert done["state"] == "done" and done["result"]["timbrados"] == 1 and done["progress"] == {"done": 1, "total": 1}
    with transaction(engine) as s:
        (rep,) = s.scalars(select(Rep)).all()
        assert rep.status == "timbrado" and rep.uuid == done["result"]["uuids"][0]
    # Delivered again: nothing more.
    assert jobs.run_job(_runtime(app, engine), job_id) is None
    listed = client.get("/api/v1/jobs?state=done", headers=fact).json["data"]
    assert [j["id"] for j in listed] == [job_id]
    assert client.get("/api/v1/jobs?state=raro", headers=fact).status_code == 404


def test_tareas_page_shows_the_reason_and_retries_a_failed_job(client, login, app, engine):
    with transaction(engine) as s:
        job_id = jobs.enqueue(s, "rep.pago", {"payment_id": 424242}, key="web-fallida").id
    assert jobs.run_until_empty(_runtime(app, engine)) == [(job_id, "failed")]
    token = login(client, "contabilidad")
    html = client.get("/tareas/?estado=failed").get_data(as_text=True)
    assert f'id="tarea-{job_id}"' in html and "PAGO_NO_ENCONTRADO" in html and "No existe el pago 424242" in html
    assert "Reintentar" in html
    board = client.get("/").get_data(as_text=True)  # the Tablero's REP card says so too
    assert 'id="rep-emision-fallida"' in board and "PAGO_NO_ENCONTRADO" in board
    resp = client.post(f"/tareas/{job_id}/reintentar", data={"csrf_token": token})
    assert resp.status_code == 302
    with transaction(engine) as s:
        job = s.get(Job, job_id)
        assert (job.state, job.attempts) == ("queued", 0)
    # A job that did not fail is not retried; the page says why.
    resp = client.post(f"/tareas/{job_id}/reintentar", data={"csrf_token": token}, follow_redirects=True)
    assert "solo se reintenta una tarea que falló" in resp.get_data(as_text=True)
    assert client.post("/tareas/999999/reintentar", data={"csrf_token": token}).status_code == 404
    # The API retries too, with the same refusal for a job that is not failed.
    conta = _headers(engine, "contabilidad")
    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=conta).json["error"]["code"] == "TAREA_NO_REINTENTABLE"
