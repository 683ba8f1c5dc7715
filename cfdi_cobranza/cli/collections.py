"""Collections commands: reports, follow-ups, customer conditions, credit control, letters.

``cobranza report aging|due|movement|statement|summary|projection|collectors|promises``,
``cobranza followup add|list|history|close|tasks|types``, ``cobranza customer
set|show|summary|note``, ``cobranza credit check|authorize``, ``cobranza debt
add|state|list`` and ``cobranza letters``. Every command takes ``--json`` (one JSON
document on stdout); reports also ``--format table|csv|xlsx|json`` and ``--out FILE``.
Bad usage (a date that is not a date, an unknown option) exits 2; input the business
rules refuse (unknown customer, inverted range, bad buckets, negative limit) exits 1
with the Spanish message and its stable code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.cli.common import EXIT_OK, AppContext, emit_json, json_option, pass_app, table
from cfdi_cobranza.db.session import migrate, transaction
from cfdi_cobranza.domain.money import MoneyError, fmt_money, parse_amount
from cfdi_cobranza.domain.period import DateRange, Granularity, fmt_date, parse_date
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.reports import tables
from cfdi_cobranza.reports.export import Format, Report, render
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import followups
from cfdi_cobranza.services.clock import system_clock
from cfdi_cobranza.services.ledger import find_customer, statement_letterhead
from cfdi_cobranza.services.portfolio import Filters, local_date, parse_rates

# --------------------------------------------------------------------------- option helpers


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param=param) from None


def _amount(_ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_amount(value.replace(",", ""), allow_negative=True)
    except MoneyError:
        raise click.BadParameter(f"importe inválido «{value}»; use por ejemplo 1500.00.", param=param) from None


def today() -> date:
    return local_date(system_clock())


def actor_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--user", "actor", default=lambda: os.environ.get("COBRANZA_USER", "cli"),
                        show_default="COBRANZA_USER o «cli»", help="Usuario que firma la operación.")(f)


def as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of", "as_of", callback=_date, metavar="FECHA",
                        help="Fecha de corte (dd/mm/aaaa o aaaa-mm-dd); hoy si se omite.")(f)


def range_options(required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--to", "hasta", callback=_date, required=required, metavar="FECHA", help="Fecha final.")(f)
        return click.option("--from", "desde", callback=_date, required=required, metavar="FECHA",
                            help="Fecha inicial.")(f)
    return deco


def filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for name, help_text in (("empresa", "RFC de la empresa emisora."), ("sucursal", "Sucursal."),
                            ("clasificacion", "Clasificación del cliente."), ("zona", "Zona del cliente."),
                            ("vendedor", "Vendedor.")):
        f = click.option(f"--{name}", name, metavar="TEXTO", help=f"Solo {help_text[0].lower()}{help_text[1:]}")(f)
    return click.option("--customer", "customers", multiple=True, metavar="RFC",
                        help="Solo este cliente (se puede repetir).")(f)


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO",
                     help="Escribe el reporte en este archivo.")(f)
    f = click.option("--format", "fmt", type=click.Choice([x.value for x in Format]), default=None,
                     help="Formato de salida (por omisión: table, o el de la extensión de --out).")(f)
    return json_option(f)


def _filters(session: Any, customers: tuple[str, ...], **kw: str | None) -> Filters | None:
    ids = tuple(find_customer(session, r).id for r in customers) if customers else None
    if ids is None and not any(kw.values()):
        return None
    return Filters(customer_ids=ids, **kw)


def _range(desde: date | None, hasta: date | None) -> DateRange:
    if desde is None or hasta is None:
        raise click.UsageError("indique --from y --to.")
    return DateRange(desde, hasta)  # an inverted range is a ValidationError: exit 1


def _emit(report: Report, fmt: str | None, out: Path | None, as_json: bool) -> int:
    if as_json:
        fmt = "json"
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = suffix if suffix in ("csv", "xlsx", "json") else "table"
    kind = Format.parse(fmt)
    data = render(report, kind)
    if out is None:
        if kind is Format.XLSX:
            raise click.UsageError("el formato xlsx necesita --out ARCHIVO.")
        click.echo(data.decode("utf-8-sig"), nl=False)
        return EXIT_OK
    out.write_bytes(data)
    if not as_json:
        click.echo(f"Reporte escrito en {out} ({kind.value}).", err=True)
    else:
        emit_json({"archivo": str(out), "formato": kind.value, **report.payload})
    return EXIT_OK


# --------------------------------------------------------------------------- reports


@click.group("report")
def report_group() -> None:
    """Reportes de cuentas por cobrar (antigüedad, vencimientos, movimiento ...)."""


@report_group.command("aging")
@as_of_option
@click.option("--by", "group_by", default="cliente", show_default=True,
              help="Agrupar por cliente, vendedor, zona, clasificacion, sucursal, empresa o cartera.")
@click.option("--buckets", metavar="0,30,60,90", help="Rangos de días (por omisión los configurados).")
@click.option("--rate", "rates", multiple=True, metavar="USD=17.25", help="Tipo de cambio a MXN.")
@click.option("--detail", is_flag=True, help="Incluye el detalle por documento.")
@filter_options
@output_options
@pass_app
def aging_cmd(app: AppContext, as_of: date | None, group_by: str, buckets: str | None, rates: tuple[str, ...],
              detail: bool, customers: tuple[str, ...], vendedor: str | None, zona: str | None,
              clasificacion: str | None, sucursal: str | None, empresa: str | None, fmt: str | None,
              out: Path | None, as_json: bool) -> int:
    """Antigüedad de saldos por fecha de vencimiento, con totales y porcentajes."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.aging(s, as_of or today(), buckets=buckets, group_by=group_by, filters=f,
                            rates=parse_rates(rates), detail=detail)
    return _emit(tables.aging_report(rep), fmt, out, as_json)


@report_group.command("due")
@as_of_option
@range_options(required=False)
@filter_options
@output_options
@pass_app
def due_cmd(app: AppContext, as_of: date | None, desde: date | None, hasta: date | None,
            customers: tuple[str, ...], vendedor: str | None, zona: str | None, clasificacion: str | None,
            sucursal: str | None, empresa: str | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Vencimientos en un rango de fechas (por omisión: los próximos 7 días)."""
    from datetime import timedelta

    migrate(app.engine)
    cut = as_of or today()
    rango = DateRange(desde or cut, hasta or (desde or cut) + timedelta(days=7))
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.due_report(s, rango, cut, filters=f)
    return _emit(tables.due_report(rep), fmt, out, as_json)


@report_group.command("movement")
@range_options()
@click.option("--by", "group_by", default="cliente", show_default=True, help="Agrupación.")
@filter_options
@output_options
@pass_app
def movement_cmd(app: AppContext, desde: date, hasta: date, group_by: str, customers: tuple[str, ...],
                 vendedor: str | None, zona: str | None, clasificacion: str | None, sucursal: str | None,
                 empresa: str | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Movimiento: saldo inicial, cargos, abonos y saldo final del periodo."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.movement(s, _range(desde, hasta), group_by=group_by, filters=f)
    return _emit(tables.movement_report(rep), fmt, out, as_json)


def _statement_output(f: Callable[..., Any]) -> Callable[..., Any]:
    """``output_options`` plus ``pdf`` (the printable estado de cuenta)."""
    f = click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO",
                     help="Escribe el reporte en este archivo.")(f)
    f = click.option("--format", "fmt", type=click.Choice([*(x.value for x in Format), "pdf"]), default=None,
                     help="Formato de salida (por omisión: table, o el de la extensión de --out).")(f)
    return json_option(f)


@report_group.command("statement")
@click.option("--customer", "rfc", required=True, metavar="RFC", help="Cliente.")
@range_options()
@_statement_output
@pass_app
def statement_cmd(app: AppContext, rfc: str, desde: date, hasta: date, fmt: str | None, out: Path | None,
                  as_json: bool) -> int:
    """Estado de cuenta (historial) de un cliente en un periodo, por moneda (también en PDF)."""
    migrate(app.engine)
    rango = _range(desde, hasta)
    as_pdf = fmt == "pdf" or (fmt is None and out is not None and out.suffix.lower() == ".pdf")
    if as_pdf and out is None:
        raise click.UsageError("el formato pdf necesita --out ARCHIVO.pdf.")
    with transaction(app.engine) as s:
        customer = find_customer(s, rfc)
        key = customer.key
        sts = reports.customer_statement(s, key, rango)
        empresa = statement_letterhead(s, customer.id) if as_pdf else None
    if as_pdf and out is not None and empresa is not None:
        from cfdi_cobranza.pdf.statement import render_statement_pdf

        out.write_bytes(render_statement_pdf(sts, empresa=empresa, fecha_corte=rango.hasta))
        if as_json:
            emit_json({"archivo": str(out), "formato": "pdf", "rfc": key, "monedas": [st.moneda for st in sts]})
        else:
            click.echo(f"Estado de cuenta escrito en {out} (pdf).", err=True)
        return EXIT_OK
    return _emit(tables.statement_report(key, sts, rango.desde, rango.hasta), fmt, out, as_json)


@report_group.command("summary")
@range_options()
@click.option("--by", "group_by", default="empresa", show_default=True,
              help="Nivel: empresa, sucursal, vendedor o cartera.")
@filter_options
@output_options
@pass_app
def summary_cmd(app: AppContext, desde: date, hasta: date, group_by: str, customers: tuple[str, ...],
                vendedor: str | None, zona: str | None, clasificacion: str | None, sucursal: str | None,
                empresa: str | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Resumen de cuentas por cobrar por empresa, sucursal o vendedor en un periodo."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.summary(s, _range(desde, hasta), group_by=group_by, filters=f)
    return _emit(tables.summary_report(rep), fmt, out, as_json)


@report_group.command("collectors")
@range_options()
@click.option("--by", "group_by", default="vendedor", show_default=True,
              help="vendedor, zona, clasificacion o sucursal (la sucursal de la venta).")
@filter_options
@output_options
@pass_app
def collectors_cmd(app: AppContext, desde: date, hasta: date, group_by: str, customers: tuple[str, ...],
                   vendedor: str | None, zona: str | None, clasificacion: str | None, sucursal: str | None,
                   empresa: str | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Reporte para cobradores: saldo, vencido, cobrado, seguimientos y promesas por grupo."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.collectors(s, _range(desde, hasta), group_by=group_by, filters=f)
    return _emit(tables.collectors_report(rep), fmt, out, as_json)


@report_group.command("projection")
@as_of_option
@click.option("--period", "granularity", default="semana", show_default=True, help="semana o mes.")
@click.option("--to", "hasta", callback=_date, metavar="FECHA", help="Fin de la proyección (90 días si se omite).")
@click.option("--rate", "rates", multiple=True, metavar="USD=17.25", help="Tipo de cambio a MXN.")
@filter_options
@output_options
@pass_app
def projection_cmd(app: AppContext, as_of: date | None, granularity: str, hasta: date | None,
                   rates: tuple[str, ...], customers: tuple[str, ...], vendedor: str | None, zona: str | None,
                   clasificacion: str | None, sucursal: str | None, empresa: str | None, fmt: str | None,
                   out: Path | None, as_json: bool) -> int:
    """Proyección de ingresos por semana o mes: por comportamiento y por vencimiento."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        rep = reports.projection(s, as_of or today(), granularity=Granularity.parse(granularity), hasta=hasta,
                                 filters=f, rates=parse_rates(rates))
    return _emit(tables.projection_report(rep), fmt, out, as_json)


@report_group.command("promises")
@as_of_option
@click.option("--customer", "rfc", metavar="RFC", help="Solo este cliente.")
@click.option("--broken", is_flag=True, help="Solo promesas incumplidas.")
@json_option
@pass_app
def promises_cmd(app: AppContext, as_of: date | None, rfc: str | None, broken: bool, as_json: bool) -> int:
    """Promesas de pago y su estado (vigente, cumplida, incumplida)."""
    migrate(app.engine)
    cut = as_of or today()
    with transaction(app.engine) as s:
        rows = [followups.outcome_dict(o) for o in followups.promise_outcomes(s, cut, rfc=rfc, only_broken=broken)]
    if as_json:
        emit_json({"fecha_corte": cut, "promesas": rows})
        return EXIT_OK
    if not rows:
        click.echo("No hay promesas de pago.")
        return EXIT_OK
    click.echo(table([[r["rfc"], r["fecha_promesa"], r["moneda"], r["importe"], r["pagado"], r["faltante"],
                       r["estado"], str(r["dias_incumplida"])] for r in rows],
                     ["Cliente", "Fecha promesa", "Moneda", "Prometido", "Pagado", "Faltante", "Estado", "Días"],
                     {3, 4, 5, 7}))
    return EXIT_OK


# --------------------------------------------------------------------------- follow-ups


@click.group("followup")
def followup_group() -> None:
    """Seguimiento de cartera (archivo de solo lectura: no se edita ni se borra)."""


@followup_group.command("add")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--type", "tipo", required=True, help="llamada, correo, visita, carta, whatsapp, otro ...")
@click.option("--notes", help="Notas de la gestión.")
@click.option("--document", "documents", multiple=True, metavar="UUID|FOLIO", help="Documento relacionado.")
@click.option("--salesperson", "vendedor", help="Vendedor (por omisión el del cliente).")
@click.option("--promise-date", callback=_date, metavar="FECHA", help="Fecha prometida de pago.")
@click.option("--promise-amount", callback=_amount, metavar="IMPORTE", help="Importe prometido.")
@click.option("--promise-currency", default="MXN", show_default=True)
@click.option("--next-date", callback=_date, metavar="FECHA", help="Fecha de la próxima tarea.")
@click.option("--next-type", help="Tipo de la próxima tarea.")
@actor_option
@json_option
@pass_app
def followup_add(app: AppContext, rfc: str, tipo: str, notes: str | None, documents: tuple[str, ...],
                 vendedor: str | None, promise_date: date | None, promise_amount: Decimal | None,
                 promise_currency: str, next_date: date | None, next_type: str | None, actor: str,
                 as_json: bool) -> int:
    """Registra una gestión de cobranza (con fecha y hora actuales)."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        view = followups.add_follow_up(
            s, rfc, tipo=tipo, contacto=actor, notes=notes, documentos=list(documents), vendedor=vendedor,
            promise_date=promise_date, promise_amount=promise_amount, promise_currency=promise_currency,
            next_task_date=next_date, next_task_type=next_type)
        data = view.to_dict()
    if as_json:
        emit_json({"seguimiento": data})
    else:
        click.echo(f"Seguimiento {data['id']} registrado para {data['rfc']} ({data['tipo_nombre']}, "
                   f"{data['fecha_local']}).")
    return EXIT_OK


def _print_followups(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No hay seguimientos.")
        return
    body = [[str(r["id"]), r["fecha_local"], r["rfc"], r["tipo_nombre"], r["contacto"], r["vendedor"] or "",
             (f"{r['promesa']['importe']} {r['promesa']['moneda']} al {r['promesa']['fecha']}" if r["promesa"] else ""),
             r["proxima_tarea"] or "", (r["notas"] or "")[:40], r["estado"]] for r in rows]
    click.echo(table(body, ["Id", "Fecha", "Cliente", "Tipo", "Contacto", "Vendedor", "Promesa", "Próxima tarea",
                            "Notas", "Estado"]))


def _list(app: AppContext, estado: str, rfc: str | None, desde: date | None, hasta: date | None,
          tipo: str | None, as_json: bool) -> int:
    migrate(app.engine)
    rango = DateRange(desde or date(1900, 1, 1), hasta or date(9999, 12, 31)) if (desde or hasta) else None
    with transaction(app.engine) as s:
        rows = [v.to_dict() for v in followups.list_follow_ups(s, rfc=rfc, rango=rango, tipo=tipo, estado=estado)]
    if as_json:
        emit_json({"estado": estado, "seguimientos": rows})
    else:
        _print_followups(rows)
    return EXIT_OK


@followup_group.command("list")
@click.option("--customer", "rfc", metavar="RFC")
@range_options(required=False)
@click.option("--type", "tipo")
@json_option
@pass_app
def followup_list(app: AppContext, rfc: str | None, desde: date | None, hasta: date | None, tipo: str | None,
                  as_json: bool) -> int:
    """Seguimientos pendientes (el archivo vigente)."""
    return _list(app, "pendiente", rfc, desde, hasta, tipo, as_json)


@followup_group.command("history")
@click.option("--customer", "rfc", metavar="RFC")
@range_options(required=False)
@click.option("--type", "tipo")
@json_option
@pass_app
def followup_history(app: AppContext, rfc: str | None, desde: date | None, hasta: date | None, tipo: str | None,
                     as_json: bool) -> int:
    """Historial: seguimientos cerrados (siguen consultables)."""
    return _list(app, "cerrado", rfc, desde, hasta, tipo, as_json)


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
    migrate(app.engine)
    with transaction(app.engine) as s:
        ids = followups.close_follow_ups(s, _range(desde, hasta), actor=actor, rfc=rfc, nota=note)
    if as_json:
        emit_json({"cerrados": ids})
    else:
        click.echo(f"{len(ids)} seguimiento(s) cerrado(s).")
    return EXIT_OK


@followup_group.command("tasks")
@click.option("--date", "on", callback=_date, metavar="FECHA", help="Día (hoy si se omite).")
@click.option("--type", "tipo")
@click.option("--customer", "rfc", metavar="RFC")
@click.option("--salesperson", "vendedor")
@json_option
@pass_app
def followup_tasks(app: AppContext, on: date | None, tipo: str | None, rfc: str | None, vendedor: str | None,
                   as_json: bool) -> int:
    """Gestiones del día por tipo y tareas pendientes para el próximo seguimiento."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        rep = followups.tasks(s, on or today(), tipo=tipo, rfc=rfc, vendedor=vendedor)
        data = rep.to_dict()
    if as_json:
        emit_json(data)
        return EXIT_OK
    click.echo(f"Gestiones del {fmt_date(rep.fecha)} por tipo: "
               + (", ".join(f"{k}: {v}" for k, v in rep.realizados.items()) or "ninguna"))
    click.echo("Tareas pendientes por tipo: " + (", ".join(f"{k}: {v}" for k, v in rep.tareas_por_tipo.items())
                                                 or "ninguna"))
    _print_followups(data["tareas"])
    return EXIT_OK


@followup_group.command("types")
@click.option("--add", "add", nargs=2, metavar="CODIGO NOMBRE", help="Agrega un tipo de seguimiento.")
@json_option
@pass_app
def followup_types(app: AppContext, add: tuple[str, str] | None, as_json: bool) -> int:
    """Tipos de seguimiento configurados."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        if add:
            followups.add_follow_up_type(s, add[0], add[1])
        types = followups.follow_up_types(s)
    if as_json:
        emit_json({"tipos": types})
    else:
        click.echo(table([[k, v] for k, v in types.items()], ["Código", "Nombre"]))
    return EXIT_OK


# --------------------------------------------------------------------------- customers


@click.group("customer")
def customer_group() -> None:
    """Condiciones comerciales, notas y resumen financiero del cliente."""


@customer_group.command("set")
@click.argument("rfc")
@click.option("--limit", "limits", multiple=True, metavar="MONEDA=IMPORTE",
              help="Límite de crédito por moneda (MXN=100000). Se puede repetir.")
@click.option("--no-limit", "no_limits", multiple=True, metavar="MONEDA", help="Quita el crédito en la moneda.")
@click.option("--term", "plazo", type=int, help="Plazo máximo en días.")
@click.option("--control", help="Nivel de control: informativo, advertencia, autorizacion, restrictivo.")
@click.option("--status", "estatus", help="activo, suspendido o bloqueado.")
@click.option("--collection-type", "tipo_cobranza", help="normal, judicial, especial u otra.")
@click.option("--tolerance", "tolerancia", type=int, help="Días de atraso tolerados.")
@click.option("--salesperson", "vendedor")
@click.option("--zone", "zona")
@click.option("--classification", "clasificacion")
@click.option("--branch", "sucursal", help="Sucursal para las ventas nuevas.")
@click.option("--contact", "contacto", help="Contacto de cuentas por pagar del cliente.")
@click.option("--address", "domicilio", help="Domicilio (para las cartas).")
@click.option("--usual-payment-form", "forma", help="Forma de pago habitual (c_FormaPago).")
@actor_option
@json_option
@pass_app
def customer_set(app: AppContext, rfc: str, limits: tuple[str, ...], no_limits: tuple[str, ...], plazo: int | None,
                 control: str | None, estatus: str | None, tipo_cobranza: str | None, tolerancia: int | None,
                 vendedor: str | None, zona: str | None, clasificacion: str | None, sucursal: str | None,
                 contacto: str | None, domicilio: str | None, forma: str | None, actor: str, as_json: bool) -> int:
    """Fija las condiciones comerciales del cliente (solo lo indicado cambia)."""
    parsed: dict[str, Decimal | None] = {}
    for pair in limits:
        cur, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"«{pair}»: use MONEDA=IMPORTE, por ejemplo MXN=100000.", param_hint="--limit")
        try:
            parsed[cur.strip().upper()] = parse_amount(value.replace(",", ""), allow_negative=True)
        except MoneyError:
            raise click.BadParameter(f"importe inválido «{value}».", param_hint="--limit") from None
    for cur in no_limits:
        parsed[cur.strip().upper()] = None
    kwargs: dict[str, Any] = {}
    for name, opt_value in (("vendedor", vendedor), ("zona", zona), ("clasificacion", clasificacion),
                        ("sucursal", sucursal), ("contacto", contacto), ("domicilio", domicilio),
                        ("forma_pago_habitual", forma)):
        if opt_value is not None:
            kwargs[name] = opt_value
    migrate(app.engine)
    with transaction(app.engine) as s:
        view = credit.set_conditions(s, rfc, actor=actor, limits=parsed, plazo_maximo_dias=plazo,
                                     nivel_control=control, estatus=estatus, tipo_cobranza=tipo_cobranza,
                                     dias_atraso_tolerados=tolerancia, **kwargs)
        data = view.to_dict()
    if as_json:
        emit_json({"condiciones": data})
    else:
        _print_conditions(data)
    return EXIT_OK


def _print_conditions(d: dict[str, Any]) -> None:
    limits = ", ".join(fmt_money(Decimal(v), k) for k, v in d["limites"].items()) or "sin crédito"
    click.echo(f"Cliente: {d['nombre'] or ''} ({d['rfc']})")
    click.echo(f"Límites de crédito: {limits}")
    click.echo(f"Plazo máximo: {d['plazo_maximo_dias']} días; tolerancia de atraso: {d['dias_atraso_tolerados']} días")
    click.echo(f"Nivel de control: {d['nivel_control']}; estatus: {d['estatus']}; cobranza: {d['tipo_cobranza']}")
    click.echo(f"Vendedor: {d['vendedor'] or '-'}; zona: {d['zona'] or '-'}; clasificación: {d['clasificacion'] or '-'};"
               f" sucursal: {d['sucursal'] or '-'}")
    click.echo(f"Forma de pago habitual: {d['forma_pago_habitual'] or '-'}")


@customer_group.command("show")
@click.argument("rfc")
@json_option
@pass_app
def customer_show(app: AppContext, rfc: str, as_json: bool) -> int:
    """Muestra las condiciones comerciales y la hoja de notas del cliente."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.get_conditions(s, rfc).to_dict()
        notes = credit.list_notes(s, rfc)
    if as_json:
        emit_json({"condiciones": data, "notas": notes})
        return EXIT_OK
    _print_conditions(data)
    for n in notes:
        click.echo(f"  [{n['fecha'][:16]}] {n['autor']}: {n['texto']}")
    return EXIT_OK


@customer_group.command("note")
@click.argument("rfc")
@click.argument("text")
@actor_option
@json_option
@pass_app
def customer_note(app: AppContext, rfc: str, text: str, actor: str, as_json: bool) -> int:
    """Agrega una nota fechada y firmada a la hoja de notas (no se edita ni se borra)."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        note = credit.add_note(s, rfc, text, author=actor)
    if as_json:
        emit_json({"nota": note})
    else:
        click.echo(f"Nota {note['id']} agregada.")
    return EXIT_OK


@customer_group.command("summary")
@click.argument("rfc")
@as_of_option
@range_options(required=False)
@click.option("--rate", "rates", multiple=True, metavar="USD=17.25")
@json_option
@pass_app
def customer_summary(app: AppContext, rfc: str, as_of: date | None, desde: date | None, hasta: date | None,
                     rates: tuple[str, ...], as_json: bool) -> int:
    """Resumen financiero del cliente: compras, pagos, adeudos, atraso, gestiones y promesas."""
    migrate(app.engine)
    cut = as_of or today()
    periodo = DateRange(desde or cut.replace(month=1, day=1), hasta or cut) if (desde or hasta) else None
    with transaction(app.engine) as s:
        view = reports.customer_overview(s, rfc, cut, periodo=periodo, rates=parse_rates(rates))
        data = tables.customer_summary_payload(view)
    if as_json:
        emit_json(data)
        return EXIT_OK

    def amounts(d: dict[str, str]) -> str:
        return ", ".join(fmt_money(Decimal(v), k) for k, v in d.items()) or "$0.00"

    click.echo(f"{data['nombre']} ({data['rfc']}) — fecha de corte {fmt_date(cut)}")
    click.echo(f"Saldo: {amounts(data['saldo'])}; vencido: {amounts(data['saldo_vencido'])}; "
               f"sin aplicar: {amounts(data['saldo_sin_aplicar'])}")
    click.echo(f"Pagos en el periodo: {amounts(data['pagos'])}; notas de crédito: {amounts(data['notas_credito'])}")
    late = data["dias_atraso"]
    click.echo(f"Días de atraso (90 días): promedio {late['reciente']['promedio']}, ponderado "
               f"{late['reciente']['ponderado']}; histórico: {late['historico']['promedio']} / "
               f"{late['historico']['ponderado']}")
    for p in data["compras"]:
        click.echo(f"  Compras {p['periodo']}: {amounts(p['montos'])}")
    if data["documentos"]:
        click.echo(table([[d["referencia"], d["doc_id"], d["vencimiento"], str(d["dias_vencido"]),
                           fmt_money(Decimal(d["saldo"]), d["moneda"])] for d in data["documentos"]],
                         ["Documento", "Folio fiscal", "Vence", "Días", "Saldo"], {3, 4}))
    click.echo(f"Promesas vigentes: {len(data['promesas_vigentes'])}; incumplidas: "
               f"{len(data['promesas_incumplidas'])}; gestiones: {data['acciones_total']}")
    return EXIT_OK


# --------------------------------------------------------------------------- credit


@click.group("credit")
def credit_group() -> None:
    """Control de crédito: verificación en tiempo real y autorizaciones."""


@credit_group.command("check")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--amount", callback=_amount, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--operation", "tipo", default="venta_credito", show_default=True,
              help="venta_credito, venta_contado, pedido, documento o cobro.")
@click.option("--term", "plazo", type=int, help="Plazo solicitado en días.")
@json_option
@pass_app
def credit_check_cmd(app: AppContext, rfc: str, amount: Decimal, currency: str, tipo: str, plazo: int | None,
                     as_json: bool) -> int:
    """Verifica si el cliente puede tomar la operación: información, advertencia, autorización o restricción."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.check_credit(s, rfc, amount, currency, tipo=tipo, plazo_dias=plazo).to_dict()
    if as_json:
        emit_json(data)
        return EXIT_OK
    click.echo(f"{data['nivel_etiqueta'].upper()}: {data['nombre'] or ''} ({data['rfc']})")
    for r in data["razones"]:
        click.echo(f"  - [{r['code']}] {r['mensaje']}")
    if data["disponible"]:
        click.echo("Disponible: " + ", ".join(fmt_money(Decimal(v), k) for k, v in data["disponible"].items()))
    return EXIT_OK


@credit_group.group("authorize")
def authorize_group() -> None:
    """Solicitudes de autorización de crédito."""


@authorize_group.command("request")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--amount", callback=_amount, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--operation", "tipo", default="venta_credito", show_default=True)
@click.option("--term", "plazo", type=int)
@click.option("--reason", "motivo", help="Por qué se solicita.")
@actor_option
@json_option
@pass_app
def authorize_request(app: AppContext, rfc: str, amount: Decimal, currency: str, tipo: str, plazo: int | None,
                      motivo: str | None, actor: str, as_json: bool) -> int:
    """Registra una solicitud de autorización para una operación fuera de condiciones."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.request_authorization(s, rfc, amount, currency, actor=actor, tipo=tipo, plazo_dias=plazo,
                                            motivo=motivo)
    if as_json:
        emit_json({"autorizacion": data})
    else:
        click.echo(f"Solicitud {data['id']} registrada ({data['nivel']}).")
    return EXIT_OK


def _decide(app: AppContext, request_id: int, grant: bool, actor: str, motivo: str | None, as_json: bool) -> int:
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.decide_authorization(s, request_id, grant=grant, username=actor, motivo=motivo)
    if as_json:
        emit_json({"autorizacion": data})
    else:
        click.echo(f"Solicitud {request_id} {data['estado']} por {data['resuelta_por']} ({data['rol']}).")
    return EXIT_OK


@authorize_group.command("grant")
@click.argument("request_id", type=int)
@click.option("--reason", "motivo")
@actor_option
@json_option
@pass_app
def authorize_grant(app: AppContext, request_id: int, motivo: str | None, actor: str, as_json: bool) -> int:
    """Autoriza una solicitud (usuario con rol administrador o cobranza)."""
    return _decide(app, request_id, True, actor, motivo, as_json)


@authorize_group.command("deny")
@click.argument("request_id", type=int)
@click.option("--reason", "motivo", required=True)
@actor_option
@json_option
@pass_app
def authorize_deny(app: AppContext, request_id: int, motivo: str, actor: str, as_json: bool) -> int:
    """Rechaza una solicitud indicando el motivo."""
    return _decide(app, request_id, False, actor, motivo, as_json)


@authorize_group.command("list")
@click.option("--status", "estado", type=click.Choice(["pendiente", "autorizada", "denegada"]))
@click.option("--customer", "rfc", metavar="RFC")
@json_option
@pass_app
def authorize_list(app: AppContext, estado: str | None, rfc: str | None, as_json: bool) -> int:
    """Lista las solicitudes de autorización."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        rows = credit.list_authorizations(s, status=estado, rfc=rfc)
    if as_json:
        emit_json({"autorizaciones": rows})
    elif not rows:
        click.echo("No hay solicitudes.")
    else:
        click.echo(table([[str(r["id"]), r["rfc"], r["operacion"], f"{r['importe']} {r['moneda']}", r["nivel"],
                           r["estado"], r["solicitada_por"], r["resuelta_por"] or ""] for r in rows],
                         ["Id", "Cliente", "Operación", "Importe", "Nivel", "Estado", "Solicitó", "Resolvió"]))
    return EXIT_OK


# --------------------------------------------------------------------------- debt documents


@click.group("debt")
def debt_group() -> None:
    """Documentos de cobranza distintos del CFDI: cheques, pagarés, vouchers."""


@debt_group.command("add")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--type", "tipo", required=True, help="cheque, pagare, tarjeta u otro.")
@click.option("--amount", callback=_amount, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--date", "fecha", callback=_date, required=True, metavar="FECHA", help="Fecha de recepción.")
@click.option("--cash-date", "cobro", callback=_date, metavar="FECHA", help="Fecha de cobro (posfechado).")
@click.option("--number", "numero")
@click.option("--bank", "banco")
@click.option("--payment", "payment_id", type=int, help="Pago (recibo) que respalda.")
@click.option("--complement", "complement", metavar="UUID", help="Complemento de pago importado que respalda.")
@actor_option
@json_option
@pass_app
def debt_add(app: AppContext, rfc: str, tipo: str, amount: Decimal, currency: str, fecha: date, cobro: date | None,
             numero: str | None, banco: str | None, payment_id: int | None, complement: str | None, actor: str,
             as_json: bool) -> int:
    """Registra un documento de cobranza (en cartera)."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.register_debt_document(
            s, rfc, tipo=tipo, importe=amount, moneda=currency.upper(), fecha=fecha, fecha_cobro=cobro,
            numero=numero, banco=banco, payment_id=payment_id, complement_uuid=complement, actor=actor).to_dict()
    if as_json:
        emit_json({"documento": data})
    else:
        click.echo(f"Documento {data['id']} ({data['tipo_etiqueta']}) registrado en cartera.")
    return EXIT_OK


@debt_group.command("state")
@click.argument("debt_id", type=int)
@click.argument("estado")
@click.option("--date", "fecha", callback=_date, metavar="FECHA", help="Fecha del cambio (hoy si se omite).")
@click.option("--note", "nota")
@actor_option
@json_option
@pass_app
def debt_state(app: AppContext, debt_id: int, estado: str, fecha: date | None, nota: str | None, actor: str,
               as_json: bool) -> int:
    """Cambia el estado (depositado, cobrado, devuelto, protestado, cancelado)."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        data = credit.change_debt_state(s, debt_id, estado, fecha=fecha or today(), actor=actor, nota=nota).to_dict()
    if as_json:
        emit_json({"documento": data})
    else:
        extra = f"; {len(data['creditos_revertidos'])} aplicación(es) revertida(s)" if data["creditos_revertidos"] else ""
        click.echo(f"Documento {debt_id}: {data['estado_etiqueta']}{extra}.")
    return EXIT_OK


@debt_group.command("list")
@click.option("--customer", "rfc", metavar="RFC")
@click.option("--state", "estado")
@json_option
@pass_app
def debt_list(app: AppContext, rfc: str | None, estado: str | None, as_json: bool) -> int:
    """Lista los documentos de cobranza con su estado."""
    migrate(app.engine)
    with transaction(app.engine) as s:
        rows = [v.to_dict() for v in credit.list_debt_documents(s, rfc, estado)]
    if as_json:
        emit_json({"documentos": rows})
    elif not rows:
        click.echo("No hay documentos de cobranza.")
    else:
        click.echo(table([[str(r["id"]), r["rfc"], r["tipo_etiqueta"], r["numero"] or "", r["fecha_cobro"],
                           fmt_money(Decimal(r["importe"]), r["moneda"]), r["estado_etiqueta"]] for r in rows],
                         ["Id", "Cliente", "Tipo", "Número", "Cobro", "Importe", "Estado"], {5}))
    return EXIT_OK


# --------------------------------------------------------------------------- letters


@click.command("letters")
@click.option("--kind", required=True,
              type=click.Choice(["confirmacion_saldos", "recordatorio_1", "recordatorio_2", "prejuridica"]),
              help="Tipo de carta.")
@as_of_option
@click.option("--min-overdue-days", "min_days", type=int, default=1, show_default=True,
              help="Cartas de cobranza: solo clientes con documentos vencidos al menos estos días.")
@click.option("--template", "template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Plantilla editada (por omisión la incluida).")
@click.option("--signer", "firmante", help="Nombre de quien firma.")
@filter_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO.pdf")
@json_option
@pass_app
def letters_cmd(app: AppContext, kind: str, as_of: date | None, min_days: int, template: Path | None,
                firmante: str | None, customers: tuple[str, ...], vendedor: str | None, zona: str | None,
                clasificacion: str | None, sucursal: str | None, empresa: str | None, out: Path,
                as_json: bool) -> int:
    """Genera cartas de confirmación de saldos o de cobranza en PDF, una por cliente."""
    from cfdi_cobranza.services.letters import letters_pdf

    migrate(app.engine)
    cut = as_of or today()
    text = template.read_text("utf-8") if template else None
    with transaction(app.engine) as s:
        f = _filters(s, customers, vendedor=vendedor, zona=zona, clasificacion=clasificacion, sucursal=sucursal,
                     empresa=empresa)
        batch = letters_pdf(s, kind, cut, filters=f, min_dias_vencido=min_days, template=text, firmante=firmante)
    out.write_bytes(batch.pdf)
    if as_json:
        emit_json({"archivo": str(out), "tipo": kind, "fecha_corte": cut, "cartas": batch.letters})
    else:
        click.echo(f"{len(batch.letters)} carta(s) escritas en {out}.")
    return EXIT_OK


def register(cli: click.Group) -> None:
    for command in (report_group, followup_group, customer_group, credit_group, debt_group, letters_cmd):
        cli.add_command(command)
