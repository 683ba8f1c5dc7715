"""Background jobs: worker, scheduler, jobs list/run/retry, company rep-policy."""

from __future__ import annotations

import os
import socket
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    pass_app,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.jobs import JobState
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.services import jobs
from cfdi_cobranza.services.jobs import Runtime, policy
from cfdi_cobranza.worker import broker
from cfdi_cobranza.worker.lease import with_lease


def runtime(app: AppContext) -> Runtime:
    return with_lease(Runtime(app.engine, instance_path=app.settings.instance_path))


def connect_publisher(app: AppContext) -> Any:
    """With a broker configured, jobs this command queues are sent to it; the Celery app."""
    url = broker.broker_url()
    if url is None:
        return None
    celery = broker.make_celery(url, broker.queue_name(), lambda: runtime(app),
                                prefix=os.environ.get("COBRANZA_BROKER_PREFIX"))
    return celery


@click.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Tareas a la vez en este proceso (hilos: el timbrado espera a la red).")
@click.option("--beat", is_flag=True, help="Además, el programador (REP diarios y mensuales) en este proceso.")
@pass_app
def worker_cmd(app: AppContext, concurrency: int, beat: bool) -> int:
    """Ejecuta las tareas en segundo plano (con COBRANZA_BROKER_URL: Celery sobre Redis o RabbitMQ)."""
    celery = connect_publisher(app)
    if celery is None:
        from cfdi_cobranza.worker.embedded import (
            EmbeddedWorker,  # only this command runs the poller
        )

        click.echo(f"Trabajador sin broker: toma las tareas de la base de datos ({concurrency} a la vez"
                   + (", con programador" if beat else "") + "). Ctrl+C para terminar.")
        EmbeddedWorker(runtime(app), threads=concurrency, scheduler=beat).start().join()
        return EXIT_OK
    argv = ["worker", "-Q", broker.queue_name(), "-c", str(concurrency), "-P", "threads", "-l", "INFO",
            "-n", f"cobranza-{os.getpid()}@{socket.gethostname()}", "--without-gossip", "--without-mingle"]
    if beat:
        argv += ["-B", "-s", str(app.settings.instance_path / "celerybeat-schedule")]
    celery.worker_main(argv)
    return EXIT_OK


@click.command("scheduler")
@pass_app
def scheduler_cmd(app: AppContext) -> int:
    """Programador: emite los REP de las políticas diario/mensual a su hora (Celery beat con broker)."""
    celery = connect_publisher(app)
    if celery is None:
        from cfdi_cobranza.worker.embedded import EmbeddedWorker  # only this command beats

        click.echo("Programador sin broker: encola las corridas de REP en la base de datos. Ctrl+C para terminar.")
        EmbeddedWorker(runtime(app)).start_scheduler_only().join()
        return EXIT_OK
    app.settings.instance_path.mkdir(parents=True, exist_ok=True)
    celery.Beat(schedule=str(app.settings.instance_path / "celerybeat-schedule"), loglevel="INFO").run()
    return EXIT_OK


@click.group("jobs")
def jobs_group() -> None:
    """Tareas en segundo plano: listar, ejecutar, reintentar."""


def _progress(row: jobs.JobRow) -> str:
    if row.progress_total:
        return f"{row.progress_done}/{row.progress_total}"
    return ""


@jobs_group.command("list")
@click.option("--state", type=click.Choice([s.value for s in JobState]), help="Solo las tareas en este estado.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_app
def jobs_list(app: AppContext, state: str | None, limit: int, as_json: bool) -> int:
    """Tareas: en cola, en proceso, terminadas y las que fallaron (con el motivo)."""
    with transaction(app.engine) as session:
        rows = jobs.list_jobs(session, state=state, limit=limit)
    if as_json:
        emit_json({"jobs": [r.to_dict() for r in rows]})
        return EXIT_OK
    if not rows:
        click.echo("No hay tareas.")
        return EXIT_OK
    click.echo(table([[str(r.id), r.label, r.state_label, _progress(r), str(r.attempts),
                       r.created_at.strftime("%Y-%m-%d %H:%M"),
                       f"[{r.error_code}] {r.error_message}" if r.error_code else ""] for r in rows],
                     ["Id", "Tarea", "Estado", "Avance", "Intentos", "Creada", "Error"]))
    return EXIT_OK


@jobs_group.command("run")
@click.option("--until-empty", is_flag=True, required=True, help="Ejecuta en este proceso todo lo que esté en cola.")
@json_option
@pass_app
def jobs_run(app: AppContext, until_empty: bool, as_json: bool) -> int:
    """Ejecuta aquí las tareas pendientes (útil para cron y pruebas) y termina."""
    done = jobs.run_until_empty(runtime(app))
    with transaction(app.engine) as session:
        rows = [jobs.get_job(session, job_id) for job_id, _state in done]
    if as_json:
        emit_json({"ran": [r.to_dict() for r in rows]})
    elif not rows:
        click.echo("No había tareas en cola.")
    else:
        for r in rows:
            click.echo(f"Tarea {r.id} ({r.label}): {r.state_label}"
                       + (f" — [{r.error_code}] {r.error_message}" if r.error_code else ""))
    return EXIT_OK if all(r.state == JobState.DONE for r in rows) else EXIT_ITEMS_FAILED


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@json_option
@pass_app
def jobs_retry(app: AppContext, job_id: int, as_json: bool) -> int:
    """Vuelve a poner en cola una tarea que falló."""
    connect_publisher(app)
    with transaction(app.engine) as session:
        row = jobs.retry(session, job_id, actor="cli")
    if as_json:
        emit_json(row.to_dict())
    else:
        click.echo(f"Tarea {row.id} ({row.label}) en cola de nuevo.")
    return EXIT_OK


@click.command("rep-policy")
@click.option("--rfc", required=True, help="RFC de la empresa.")
@click.option("--mode", type=click.Choice(["manual", "al-aplicar", "diario", "mensual"]),
              help="Cuándo se emiten sus REP (sin --mode: muestra la política).")
@click.option("--hora", metavar="HH:MM", help="Hora (Ciudad de México) de la corrida diaria o mensual.")
@click.option("--dia", type=int, help="Mensual: día del mes siguiente (1 a 5) en que se emiten.")
@json_option
@pass_app
def company_rep_policy(app: AppContext, rfc: str, mode: str | None, hora: str | None, dia: int | None,
                       as_json: bool) -> int:
    """Política de emisión automática de REP de la empresa."""
    with transaction(app.engine) as session:
        if mode is None:
            found = [p for p in policy.policies(session) if p.rfc == rfc.strip().upper()]
            if not found:
                raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
            cp = found[0]
        else:
            cp = policy.set_policy(session, rfc, mode, hora, dia, actor="cli")
    if as_json:
        emit_json(cp.to_dict())
    else:
        click.echo(f"{cp.rfc}: {cp.policy.describe()}" + (" (predeterminada)" if not cp.stored else "."))
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(worker_cmd)
    cli.add_command(scheduler_cmd)
    cli.add_command(jobs_group)
    company = cli.commands.get("company")
    if isinstance(company, click.Group):
        company.add_command(company_rep_policy)
