"""``cobranza followup add|list|history|close|tasks|types``: the collections follow-up file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    amount_option,
    date_option,
    date_range,
    emit_json,
    emit_report,
    json_option,
    output_options,
    pass_app,
    range_options,
    reply,
    table,
    today,
    write_output,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.period import DateRange, fmt_date
from cfdi_cobranza.domain.states import FollowUpStatus
from cfdi_cobranza.reports.followups import followups_report, tasks_report
from cfdi_cobranza.services import followups


@click.group("followup")
def followup_group() -> None:
    """Seguimiento de cartera (archivo de solo lectura: no se edita ni se borra)."""


@followup_group.command("add")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--type", "tipo", required=True, help="llamada, correo, visita, carta, whatsapp, otro ...")
@click.option("--notes", help="Notas de la gestión.")
@click.option("--document", "documents", multiple=True, metavar="UUID|FOLIO", help="Documento relacionado.")
@click.option("--salesperson", "vendedor", help="Vendedor (por omisión el del cliente).")
@click.option("--promise-date", callback=date_option, metavar="FECHA", help="Fecha prometida de pago.")
@click.option("--promise-amount", callback=amount_option, metavar="IMPORTE", help="Importe prometido.")
@click.option("--promise-currency", default="MXN", show_default=True)
@click.option("--next-date", callback=date_option, metavar="FECHA", help="Fecha de la próxima tarea.")
@click.option("--next-type", help="Tipo de la próxima tarea.")
@actor_option
@json_option
@pass_app
def followup_add(app: AppContext, rfc: str, tipo: str, notes: str | None, documents: tuple[str, ...],
                 vendedor: str | None, promise_date: date | None, promise_amount: Decimal | None,
                 promise_currency: str, next_date: date | None, next_type: str | None, actor: str,
                 as_json: bool) -> int:
    """Registra una gestión de cobranza (con fecha y hora actuales)."""
    with transaction(app.engine) as s:
        view = followups.add_follow_up(
            s, rfc, tipo=tipo, contacto=actor, notes=notes, documentos=list(documents), vendedor=vendedor,
            promise_date=promise_date, promise_amount=promise_amount, promise_currency=promise_currency,
            next_task_date=next_date, next_task_type=next_type)
        data = view.to_dict()
    return reply(as_json, {"seguimiento": data},
                 f"Seguimiento {data['id']} registrado para {data['rfc']} ({data['tipo_nombre']}, "
                 f"{data['fecha_local']}).")


def _print_followups(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No hay seguimientos.")
        return
    body = [[str(r["id"]), r["fecha_local"], r["rfc"], r["tipo_nombre"], r["contacto"], r["vendedor"] or "",
             (f"{r['promesa']['importe']} {r['promesa']['moneda']} al {r['promesa']['fecha']}" if r["promesa"] else ""),
             r["proxima_tarea"] or "", (r["notas"] or "")[:40], r["estado"]] for r in rows]
    click.echo(table(body, ["Id", "Fecha", "Cliente", "Tipo", "Contacto", "Vendedor", "Promesa", "Próxima tarea",
                            "Notas", "Estado"]))


def _listing(name: str, estado: str, doc: str) -> click.Command:
    """``followup list`` or ``history``: the follow-ups in ``estado``."""

    @followup_group.command(name, help=doc)
    @click.option("--customer", "rfc", metavar="RFC")
    @range_options(required=False)
    @click.option("--type", "tipo")
    @output_options
    @pass_app
    def command(app: AppContext, rfc: str | None, desde: date | None, hasta: date | None, tipo: str | None,
                fmt: str | None, out: Path | None, as_json: bool) -> int:
        rango = DateRange(desde or date(1900, 1, 1), hasta or date(9999, 12, 31)) if (desde or hasta) else None
        with transaction(app.engine) as s:
            rows = [v.to_dict() for v in followups.list_follow_ups(s, rfc=rfc, rango=rango, tipo=tipo, estado=estado)]
        if as_json or fmt not in (None, "table") or out is not None:
            meta = [(k, v) for k, v in (("Cliente", rfc), ("Tipo", tipo),
                                        ("Del", fmt_date(desde) if desde else None),
                                        ("Al", fmt_date(hasta) if hasta else None)) if v]
            return emit_report(followups_report(rows, estado=estado, meta=meta), fmt, out, as_json)
        _print_followups(rows)
        return EXIT_OK

    return command


followup_list = _listing("list", FollowUpStatus.PENDIENTE, "Seguimientos pendientes (el archivo vigente).")
followup_history = _listing("history", FollowUpStatus.CERRADO, "Historial: seguimientos cerrados (siguen consultables).")


@followup_group.command("close")
@range_options()
@click.option("--customer", "rfc", metavar="RFC", help="Solo los de este cliente.")
@click.option("--note", help="Nota del cierre.")
@actor_option
@json_option
@pass_app
def followup_close(app: AppContext, desde: date, hasta: date, rfc: str | None, note: str | None, actor: str,
                   as_json: bool) -> int:
    """Cierra los seguimientos pendientes registrados en el rango y los pasa al historial."""
    with transaction(app.engine) as s:
        ids = followups.close_follow_ups(s, date_range(desde, hasta), actor=actor, rfc=rfc, nota=note)
    return reply(as_json, {"cerrados": ids}, f"{len(ids)} seguimiento(s) cerrado(s).")


@followup_group.command("tasks")
@click.option("--date", "on", callback=date_option, metavar="FECHA", help="Día (hoy si se omite).")
@click.option("--type", "tipo")
@click.option("--customer", "rfc", metavar="RFC")
@click.option("--salesperson", "vendedor")
@output_options
@pass_app
def followup_tasks(app: AppContext, on: date | None, tipo: str | None, rfc: str | None, vendedor: str | None,
                   fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Gestiones del día por tipo y tareas pendientes para el próximo seguimiento."""
    with transaction(app.engine) as s:
        rep = followups.tasks(s, on or today(), tipo=tipo, rfc=rfc, vendedor=vendedor)
        data = rep.to_dict()
    if as_json or fmt not in (None, "table") or out is not None:
        return emit_report(tasks_report(data), fmt, out, as_json)
    click.echo(f"Gestiones del {fmt_date(rep.fecha)} por tipo: "
               + (", ".join(f"{k}: {v}" for k, v in rep.realizados.items()) or "ninguna"))
    click.echo("Tareas pendientes por tipo: " + (", ".join(f"{k}: {v}" for k, v in rep.tareas_por_tipo.items())
                                                 or "ninguna"))
    _print_followups(data["tareas"])
    return EXIT_OK


@followup_group.command("show")
@click.argument("follow_up_id", type=int, metavar="ID")
@json_option
@pass_app
def followup_show(app: AppContext, follow_up_id: int, as_json: bool) -> int:
    """Un seguimiento, con su archivo adjunto si lo tiene (p. ej. la carta enviada)."""
    with transaction(app.engine) as s:
        data = followups.get_follow_up(s, follow_up_id).to_dict()
    if as_json:
        emit_json({"seguimiento": data})
        return EXIT_OK
    _print_followups([data])
    adj = data["adjunto"]
    if adj:
        click.echo(f"Adjunto {adj['id']}: {adj['nombre']} ({adj['bytes']} bytes, sha256 {adj['sha256']}). "
                   f"Descárguelo con: cobranza followup attachment {data['id']} --out {adj['nombre']}")
    return EXIT_OK


@followup_group.command("attachment")
@click.argument("follow_up_id", type=int, metavar="ID")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO")
@json_option
@pass_app
def followup_attachment(app: AppContext, follow_up_id: int, out: Path, as_json: bool) -> int:
    """Guarda en un archivo el adjunto de un seguimiento (la carta en PDF)."""
    with transaction(app.engine) as s:
        row = followups.attachment_of(s, follow_up_id)
        nombre, content, digest = row.nombre, bytes(row.content), row.sha256
    write_output(out, content)
    return reply(as_json, {"archivo": str(out), "nombre": nombre, "bytes": len(content), "sha256": digest},
                 f"Adjunto {nombre} escrito en {out} ({len(content)} bytes).")


@followup_group.command("types")
@click.option("--add", "add", nargs=2, metavar="CODIGO NOMBRE", help="Agrega un tipo de seguimiento.")
@json_option
@pass_app
def followup_types(app: AppContext, add: tuple[str, str] | None, as_json: bool) -> int:
    """Tipos de seguimiento configurados."""
    with transaction(app.engine) as s:
        if add:
            followups.add_follow_up_type(s, add[0], add[1])
        types = followups.follow_up_types(s)
    return reply(as_json, {"tipos": types}, table([[k, v] for k, v in types.items()], ["Código", "Nombre"]))


def register(cli: click.Group) -> None:
    cli.add_command(followup_group)
