"""``cobranza sat status|efos``, ``cobranza document cancelled`` and ``cobranza rates``.

Each command that calls the SAT or Banxico is safe to run from cron: it takes a lock (a
second run is refused with ``EJECUCION_EN_CURSO``), stores what it got as it goes and,
run again, asks only for what is missing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import click

from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    actor_option,
    date_option,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
    today,
)
from cfdi_cobranza.db.locks import run_lock
from cfdi_cobranza.db.session import session_factory, transaction
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import efos as efos_service
from cfdi_cobranza.services import rates as rates_service
from cfdi_cobranza.services import sat_status
from cfdi_cobranza.services.clock import system_clock


@click.group("sat")
def sat_group() -> None:
    """Servicios del SAT: estado de CFDI y listado 69-B."""


@sat_group.command("status")
@click.option("--uuid", "uuids", multiple=True, metavar="UUID", help="CFDI a consultar (repetible).")
@click.option("--open", "open_only", is_flag=True, help="Todas las facturas vigentes con saldo.")
@click.option("--interval", type=float, default=1.0, show_default=True,
              help="Segundos mínimos entre consultas al SAT.")
@click.option("--resume-hours", type=float, default=12.0, show_default=True,
              help="Con --open, omite los CFDI consultados con éxito en estas últimas horas (reanudar).")
@json_option
@pass_app
def sat_status_cmd(app: AppContext, uuids: tuple[str, ...], open_only: bool, interval: float, resume_hours: float,
                   as_json: bool) -> int:
    """Consulta en el SAT el estado de los CFDI (Estado, EsCancelable, EstatusCancelacion, ValidacionEFOS)."""
    with run_lock(app.engine, "sat status"):
        with transaction(app.engine) as s:
            ids = [d.id for d in sat_status.documents_to_check(s, uuids, open_only=open_only)]
        since = system_clock() - timedelta(hours=resume_hours) if open_only and not uuids else None
        run = sat_status.check_status(session_factory(app.engine), ids, sat_status.sat_asker(),
                                      min_interval=interval, skip_checked_since=since)
    data = run.to_dict()
    if as_json:
        emit_json(data)
    else:
        rows = [[a.uuid, a.estado or "ERROR", a.es_cancelable or "", a.estatus_cancelacion or "",
                 a.validacion_efos or "", (a.error or {}).get("message", "")] for a in run.respuestas]
        if rows:
            click.echo(table(rows, ["UUID", "Estado", "EsCancelable", "EstatusCancelacion", "EFOS", "Error"]))
        for a in run.respuestas:
            if a.cancelacion:
                click.echo(f"{a.uuid}: cancelado en el SAT; {len(a.cancelacion['revertidas'])} aplicaciones "
                           f"volvieron como saldo a favor, {len(a.cancelacion['movidas'])} pasaron al sustituto.")
        click.echo(f"Consultados: {len(run.respuestas)}; omitidos (ya consultados): {run.omitidos}; "
                   f"errores: {data['errores']}.")
    return EXIT_ITEMS_FAILED if data["errores"] else EXIT_OK


@sat_group.command("reps-to-cancel")
@json_option
@pass_app
def reps_to_cancel_cmd(app: AppContext, as_json: bool) -> int:
    """REP vigentes que amparan facturas canceladas en el SAT: cancélelos o sustitúyalos."""
    with transaction(app.engine) as s:
        rows = sat_status.reps_citing_cancelled(s)
    if as_json:
        emit_json({"reps": rows})
    elif rows:
        click.echo(table([[r["rep"], r["serie_folio"], r["estado_rep"], r["factura_cancelada"], r["fecha_cancelacion"]]
                          for r in rows], ["REP", "Serie-folio", "Estado", "Factura cancelada", "Cancelada el"]))
    else:
        click.echo("Ningún REP vigente ampara una factura cancelada.")
    return EXIT_OK


@sat_group.group("efos")
def efos_group() -> None:
    """Listado de contribuyentes del artículo 69-B del CFF (EFOS)."""


def _efos_reply(as_json: bool, result: efos_service.EfosImport) -> int:
    text = (f"Listado 69-B: {result.registros} registros ({result.nuevos} nuevos, {result.cambiados} con cambios, "
            f"{result.retirados} retirados, {len(result.rechazados)} renglones ilegibles). "
            f"Clientes afectados: {result.clientes_afectados}.")
    return reply(as_json, result.to_dict(), text)


@efos_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@json_option
@pass_app
def efos_import_cmd(app: AppContext, file: Path, actor: str, as_json: bool) -> int:
    """Importa el archivo Listado_Completo_69-B.csv tal como lo publica el SAT."""
    with run_lock(app.engine, "sat efos"), transaction(app.engine) as s:
        result = efos_service.import_list(s, file.read_bytes(), source=file.name, actor=actor)
    return _efos_reply(as_json, result)


@efos_group.command("update")
@actor_option
@json_option
@pass_app
def efos_update_cmd(app: AppContext, actor: str, as_json: bool) -> int:
    """Descarga el listado 69-B del portal del SAT y lo importa."""
    with run_lock(app.engine, "sat efos"):
        data = efos_service.download_list()
        with transaction(app.engine) as s:
            result = efos_service.import_list(s, data, source="descarga", actor=actor)
    return _efos_reply(as_json, result)


@efos_group.command("report")
@json_option
@pass_app
def efos_report_cmd(app: AppContext, as_json: bool) -> int:
    """Clientes en el listado 69-B (Definitivo o Presunto) y su saldo abierto."""
    with transaction(app.engine) as s:
        rows = efos_service.affected_customers(s)
    if as_json:
        emit_json({"clientes": [r.to_dict() for r in rows]})
    elif rows:
        click.echo(table([[r.rfc, r.nombre or "", r.situacion, r.fecha.isoformat() if r.fecha else "",
                           ", ".join(f"{v} {k}" for k, v in r.to_dict()["saldo"].items())] for r in rows],
                         ["RFC", "Nombre", "Situación", "Fecha", "Saldo"]))
    else:
        click.echo("Ningún cliente aparece como Presunto o Definitivo en el listado 69-B.")
    return EXIT_OK


@click.group("document")
def document_group() -> None:
    """Un CFDI del libro."""


@document_group.command("cancelled")
@click.argument("uuid")
@click.option("--fecha", "fecha", callback=date_option, required=True, metavar="FECHA",
              help="Fecha de cancelación en el SAT (dd/mm/aaaa o aaaa-mm-dd).")
@click.option("--reason", "motivo", required=True, help="Motivo o evidencia (p. ej. acuse del SAT).")
@actor_option
@json_option
@pass_app
def document_cancelled_cmd(app: AppContext, uuid: str, fecha: date, motivo: str, actor: str, as_json: bool) -> int:
    """Registra que el SAT canceló el CFDI: sale de la cartera y sus pagos vuelven como saldo a favor."""
    with transaction(app.engine) as s:
        result = sat_status.mark_cancelled(s, uuid, fecha, fuente="usuario", motivo=motivo, actor=actor)
    if result.ya_cancelado:
        text = f"El CFDI {result.uuid} ya estaba cancelado."
    else:
        text = (f"CFDI {result.uuid} cancelado el {fecha:%d/%m/%Y}. Aplicaciones revertidas: {len(result.revertidas)}"
                f" (pagos a revisar: {', '.join(map(str, result.pagos_a_revisar)) or 'ninguno'}); trasladadas al "
                f"sustituto {result.sustituto or '-'}: {len(result.movidas)}.")
        if result.reps_por_cancelar:
            text += f"\nREP por cancelar o sustituir: {', '.join(result.reps_por_cancelar)}."
    return reply(as_json, result.to_dict(), text)


@click.group("rates")
def rates_group() -> None:
    """Tipos de cambio (FIX de Banxico) por fecha y moneda."""


@rates_group.command("update")
@click.option("--from", "desde", callback=date_option, metavar="FECHA", help="Desde (por omisión, lo que falta).")
@click.option("--to", "hasta", callback=date_option, metavar="FECHA", help="Hasta (hoy si se omite).")
@actor_option
@json_option
@pass_app
def rates_update_cmd(app: AppContext, desde: date | None, hasta: date | None, actor: str, as_json: bool) -> int:
    """Descarga del SIE de Banxico el FIX (serie SF43718) del periodo."""
    with run_lock(app.engine, "rates update"), transaction(app.engine) as s:
        token = rates_service.banxico_token(s, SecretBox.for_instance(app.settings.instance_path))
        start, end = rates_service.default_range(s, today())
        results = rates_service.update_range(s, rates_service.banxico_fetcher(token), desde or start, hasta or end,
                                             actor=actor)
    data = {"resultados": [r.to_dict() for r in results]}
    text = "\n".join(f"{r.fuente}: {r.nuevos} nuevos, {r.cambiados} cambiados, {r.sin_cambio} sin cambio."
                     for r in results)
    return reply(as_json, data, text)


@rates_group.command("token")
@click.option("--clear", is_flag=True, help="Olvida el token guardado.")
@actor_option
@pass_app
def rates_token_cmd(app: AppContext, clear: bool, actor: str) -> int:
    """Guarda (cifrado) el token del SIE de Banxico; lo pide sin mostrarlo."""
    token = "" if clear else click.prompt("Token del SIE de Banxico", hide_input=True)
    with transaction(app.engine) as s:
        rates_service.set_banxico_token(s, token, SecretBox.for_instance(app.settings.instance_path), actor=actor)
    click.echo("Token olvidado." if clear else "Token guardado.")
    return EXIT_OK


@rates_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@json_option
@pass_app
def rates_import_cmd(app: AppContext, file: Path, actor: str, as_json: bool) -> int:
    """Importa tipos de cambio de un CSV (fecha,moneda,tipo_cambio o la descarga del SIE)."""
    with transaction(app.engine) as s:
        result = rates_service.import_file(s, file.read_bytes(), source=file.name, actor=actor)
    return reply(as_json, result.to_dict(),
                 f"{result.fuente}: {result.nuevos} nuevos, {result.cambiados} cambiados, {result.sin_cambio} sin cambio.")


@rates_group.command("list")
@click.option("--currency", "moneda", metavar="MONEDA")
@click.option("--from", "desde", callback=date_option, metavar="FECHA")
@click.option("--to", "hasta", callback=date_option, metavar="FECHA")
@json_option
@pass_app
def rates_list_cmd(app: AppContext, moneda: str | None, desde: date | None, hasta: date | None, as_json: bool) -> int:
    """Lista los tipos de cambio guardados, del más reciente al más antiguo."""
    with transaction(app.engine) as s:
        rows = rates_service.list_rates(s, moneda=moneda, desde=desde, hasta=hasta)
    if as_json:
        emit_json({"tipos_de_cambio": [r.to_dict() for r in rows]})
    elif rows:
        click.echo(table([[r.fecha.isoformat(), r.moneda, _rate_text(r.tipo_cambio), r.fuente] for r in rows],
                         ["Fecha", "Moneda", "Tipo de cambio", "Fuente"], right={2}))
    else:
        click.echo("No hay tipos de cambio guardados; use «cobranza rates update» o «cobranza rates import».")
    return EXIT_OK


def _rate_text(value: Decimal) -> str:
    """At least the FIX's four decimals (20.4 -> 20.4000), more when the rate has them."""
    return f"{value:.4f}" if value == round(value, 4) else format(value, "f")


def register(cli: click.Group) -> None:
    # ``sat`` may already exist (the bulk-download commands): add to it instead of replacing it.
    existing = cli.commands.get("sat")
    if isinstance(existing, click.Group):
        for name, cmd in sat_group.commands.items():
            existing.add_command(cmd, name)
    else:
        cli.add_command(sat_group)
    for group in (document_group, rates_group):
        cli.add_command(group)


