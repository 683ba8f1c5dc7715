"""The operations that follow the SAT and reach the customer, as scheduled background jobs.

Each is the same service the CLI command runs (the commands stay, for cron and by hand);
the scheduler's tick (``policy.tick``) queues them under keys that hold their period, so
a job is queued once per period however many ticks or schedulers there are:

- ``mail.pendientes``: deliver the email outbox's due messages (REPs as soon as they
  are stamped, statements, letters, reminders, alerts) — queued at most once a minute,
  and only while some message is due and an SMTP server is configured.
- ``sat.estado``: the SAT's CFDI status of every open document, daily (``cobranza sat
  status --open``: resumable, documents checked in the last 12 hours are skipped).
- ``sat.sincronizar``: each company with an e.firma downloads its issued CFDI and
  metadata since its last sync, daily (``cobranza sat sync``).
- ``sat.tipos_cambio``: Banxico's FIX, daily, when a token is configured
  (``cobranza rates update``).
- ``sat.efos``: the SAT's 69-B list, weekly (``cobranza sat efos update``).
- ``mail.avisos``: payment reminders and the REP day-5 deadline alert, daily.

The SAT jobs are queued only when the PAC works in production (the CFDI of a test or
sandbox installation are not at the SAT, and a demo has no network), or with
``COBRANZA_SAT_JOBS=1``; ``COBRANZA_SAT_JOBS=0`` turns them off.

Daily jobs are queued from ``DAILY_AT`` (Mexico City time) on; the run keys hold the day
(the week for the 69-B list), so a scheduler that was down queues them when it returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.locks import run_lock
from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import CobranzaError, ConfigurationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import efos as efos_service
from cfdi_cobranza.services import rates as rates_service
from cfdi_cobranza.services import sat_status, sat_sync
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.jobs import JobContext, RetryLater, Runtime, enqueue, job_kind
from cfdi_cobranza.services.jobs.policy import local_now
from cfdi_cobranza.services.mail import alerts, documents
from cfdi_cobranza.services.mail.delivery import Mailer, deliver_due, due_ids
from cfdi_cobranza.services.settings import pac_environment

DAILY_AT = time(6, 0)  # Mexico City: before the working day
STATUS_RESUME = timedelta(hours=12)


def _instance(runtime: Runtime) -> Path:
    if runtime.instance_path is None:
        raise ConfigurationError("El trabajador no tiene carpeta de instancia (COBRANZA_INSTANCE).",
                                 code="INSTANCIA_NO_CONFIGURADA")
    return Path(runtime.instance_path)


@job_kind("mail.pendientes", "Enviar correos en cola")
def send_mail(ctx: JobContext) -> Mapping[str, Any]:
    mailer = Mailer.from_settings(ctx.runtime.engine, _instance(ctx.runtime), clock=ctx.runtime.clock)
    sent = deliver_due(ctx.runtime.engine, mailer=mailer)
    return {"correos": len(sent), "enviados": sum(1 for d in sent if d.status == MailStatus.ENVIADO)}


@job_kind("mail.avisos", "Recordatorios de pago y aviso del día 5")
def notices(ctx: JobContext) -> Mapping[str, Any]:
    today = datetime.fromisoformat(ctx.args["day"]).date()
    with transaction(ctx.runtime.engine) as session:
        reminders = documents.queue_reminders(session, today, actor="programador", clock=ctx.runtime.clock)
        alerted = alerts.queue_deadline_alerts(session, today, deadline_day=Settings.from_env().rep_deadline_day,
                                               actor="programador", clock=ctx.runtime.clock)
    return {"recordatorios": len(reminders.queued), "avisos": len(alerted.ids)}


@job_kind("sat.estado", "Estado en el SAT de los documentos abiertos")
def sat_state(ctx: JobContext) -> Mapping[str, Any]:
    engine = ctx.runtime.engine
    with run_lock(engine, "sat status"):
        with transaction(engine) as session:
            ids = [d.id for d in sat_status.documents_to_check(session, (), open_only=True)]
        ctx.progress(0, len(ids))
        run = sat_status.check_status(session_factory(engine), ids, sat_status.sat_asker(),
                                      skip_checked_since=ctx.runtime.clock() - STATUS_RESUME)
    data = run.to_dict()
    return {"consultados": len(run.respuestas), "omitidos": run.omitidos, "errores": data["errores"]}


@job_kind("sat.sincronizar", "Descarga masiva del SAT de una empresa")
def sat_download(ctx: JobContext) -> Mapping[str, Any]:
    path = _instance(ctx.runtime)
    # The instance's settings (credit days for the imported invoices), in this worker's folder.
    settings = replace(Settings.from_env(ctx.runtime.engine.url.render_as_string(hide_password=False)),
                       instance_path=path)
    today = datetime.fromisoformat(ctx.args["day"]).date()
    result = sat_sync.sync(ctx.runtime.engine, settings, ctx.args["rfc"], SecretBox.for_instance(path),
                           today=today, clock=ctx.runtime.clock)
    if result.pending:  # the SAT is still preparing packages: ask again later, nothing lost
        raise RetryLater("El SAT aún prepara los paquetes; se vuelve a preguntar más tarde.")
    return dict(result.to_dict()["summary"])


@job_kind("sat.tipos_cambio", "Tipos de cambio FIX de Banxico")
def exchange_rates(ctx: JobContext) -> Mapping[str, Any]:
    path = _instance(ctx.runtime)
    today = datetime.fromisoformat(ctx.args["day"]).date()
    with run_lock(ctx.runtime.engine, "rates update"), transaction(ctx.runtime.engine) as session:
        token = rates_service.banxico_token(session, SecretBox.for_instance(path))
        start, end = rates_service.default_range(session, today)
        results = rates_service.update_range(session, rates_service.banxico_fetcher(token), start, end,
                                             actor="programador")
    return {"nuevos": sum(r.nuevos for r in results), "cambiados": sum(r.cambiados for r in results)}


@job_kind("sat.efos", "Listado 69-B del SAT")
def efos_list(ctx: JobContext) -> Mapping[str, Any]:
    with run_lock(ctx.runtime.engine, "sat efos"):
        data = efos_service.download_list()
        with transaction(ctx.runtime.engine) as session:
            result = efos_service.import_list(session, data, source="descarga", actor="programador")
    return {"registros": result.registros, "nuevos": result.nuevos, "cambiados": result.cambiados,
            "clientes_afectados": result.clientes_afectados}


def _mail_due(session: Session, now: datetime) -> bool:
    return bool(due_ids(session, now, limit=1))


def tick(engine: Engine, *, clock: Clock = system_clock, instance_path: str | Path | None = None) -> list[int]:
    """The scheduler's beat for these jobs (next to ``policy.tick``): queue what is due now."""
    with transaction(engine) as session:
        return queue_due(session, local_now(clock), clock=clock, instance_path=instance_path)


def queue_due(session: Session, local: datetime, *, clock: Clock = system_clock,
              instance_path: str | Path | None = None) -> list[int]:
    """Queue the scheduled jobs due at ``local`` (Mexico City time); returns their ids."""
    ids: list[int] = []

    def add(kind: str, args: dict[str, Any], key: str, label: str) -> None:
        ids.append(enqueue(session, kind, args, key=key, label=label, actor="programador", clock=clock).id)

    now = clock()
    if _mail_due(session, now) and _smtp_ready(session, instance_path):
        add("mail.pendientes", {}, f"mail.pendientes:{local:%Y%m%dT%H%M}", "Enviar correos en cola")
    if local.time() < DAILY_AT:
        return ids
    day = local.date().isoformat()
    add("mail.avisos", {"day": day}, f"mail.avisos:{day}", f"Recordatorios y aviso del día 5 ({day})")
    if rates_service.has_banxico_token(session) or bool(os.environ.get("COBRANZA_BANXICO_TOKEN")):
        add("sat.tipos_cambio", {"day": day}, f"sat.tipos_cambio:{day}", f"Tipos de cambio FIX ({day})")
    if not _talks_to_the_sat(session):
        return ids
    add("sat.estado", {"day": day}, f"sat.estado:{day}", f"Estado en el SAT de los documentos abiertos ({day})")
    fiel = sat_sync.fiel_by_company(session)
    for company_id, rfc in session.execute(select(Company.id, Company.rfc).order_by(Company.rfc)):
        if company_id in fiel:
            add("sat.sincronizar", {"rfc": rfc, "day": day}, f"sat.sincronizar:{rfc}:{day}",
                f"Descarga masiva del SAT de {rfc} ({day})")
    week = local.date().isocalendar()
    add("sat.efos", {}, f"sat.efos:{week.year}-W{week.week:02d}", f"Listado 69-B ({week.year}, semana {week.week})")
    return ids


def _talks_to_the_sat(session: Session) -> bool:
    """The SAT jobs run by themselves when the PAC works in production (a test or sandbox
    installation's CFDI are not at the SAT), or when ``COBRANZA_SAT_JOBS=1`` asks for them."""
    forced = os.environ.get("COBRANZA_SAT_JOBS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return pac_environment(session) == "production"


def _smtp_ready(session: Session, instance_path: str | Path | None) -> bool:
    try:
        path = Path(instance_path) if instance_path is not None else Settings.from_env(None).instance_path
        return Mailer.from_settings(session.get_bind(), path).smtp is not None  # type: ignore[arg-type]
    except CobranzaError:
        return False


__all__ = ["DAILY_AT", "queue_due", "tick"]
