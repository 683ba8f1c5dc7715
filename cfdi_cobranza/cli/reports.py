"""``cobranza report aging|due|movement|statement|summary|projection|collectors|promises|trends`` and
``cobranza letters`` (balance confirmation and collection letters over the same portfolio).

Every report takes ``--json`` (one JSON document on stdout), ``--format table|csv|xlsx|json``
and ``--out FILE``; those over the portfolio take the filters (``--customer``, ``--vendedor`` ...).
Bad usage (a date that is not a date, an unknown option) exits 2; input the business rules
refuse (unknown customer, inverted range, bad buckets) exits 1 with the Spanish message and
its stable code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    as_of_option,
    date_option,
    date_range,
    emit_json,
    emit_report,
    filters_option,
    json_option,
    output_options,
    output_options_for,
    pass_app,
    range_options,
    table,
    today,
    write_output,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.fx import parse_rates
from cfdi_cobranza.domain.period import DateRange, Granularity
from cfdi_cobranza.reports import tables
from cfdi_cobranza.reports.export import Format, Report
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import followups
from cfdi_cobranza.services.ledger import find_customer, statement_letterhead
from cfdi_cobranza.services.portfolio import Filters


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
@filters_option
@output_options
@pass_app
def aging_cmd(app: AppContext, as_of: date | None, group_by: str, buckets: str | None, rates: tuple[str, ...],
              detail: bool, filters: Filters | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Antigüedad de saldos por fecha de vencimiento, con totales y porcentajes."""
    with transaction(app.engine) as s:
        rep = reports.aging(s, as_of or today(), buckets=buckets, group_by=group_by, filters=filters,
                            rates=parse_rates(rates), detail=detail)
    return emit_report(tables.aging_report(rep), fmt, out, as_json)


@report_group.command("due")
@as_of_option
@range_options(required=False)
@filters_option
@output_options
@pass_app
def due_cmd(app: AppContext, as_of: date | None, desde: date | None, hasta: date | None,
            filters: Filters | None, fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Vencimientos en un rango de fechas (por omisión: los próximos 7 días)."""
    cut = as_of or today()
    rango = DateRange(desde or cut, hasta or (desde or cut) + timedelta(days=7))
    with transaction(app.engine) as s:
        rep = reports.due_report(s, rango, cut, filters=filters)
    return emit_report(tables.due_report(rep), fmt, out, as_json)


def _grouped_period_report(name: str, default_group: str, group_help: str, doc: str,
                           build: Callable[..., Any], to_table: Callable[[Any], Report]) -> click.Command:
    """``report NAME --from --to [--by GRUPO]``, filters and output options: ``build`` over the period."""

    @report_group.command(name, help=doc)
    @range_options()
    @click.option("--by", "group_by", default=default_group, show_default=True, help=group_help)
    @filters_option
    @output_options
    @pass_app
    def command(app: AppContext, desde: date, hasta: date, group_by: str, filters: Filters | None,
                fmt: str | None, out: Path | None, as_json: bool) -> int:
        with transaction(app.engine) as s:
            rep = build(s, date_range(desde, hasta), group_by=group_by, filters=filters)
        return emit_report(to_table(rep), fmt, out, as_json)

    return command


movement_cmd = _grouped_period_report(
    "movement", "cliente", "Agrupación.", "Movimiento: saldo inicial, cargos, abonos y saldo final del periodo.",
    reports.movement, tables.movement_report)
summary_cmd = _grouped_period_report(
    "summary", "empresa", "Nivel: empresa, sucursal, vendedor o cartera.",
    "Resumen de cuentas por cobrar por empresa, sucursal o vendedor en un periodo.",
    reports.summary, tables.summary_report)
collectors_cmd = _grouped_period_report(
    "collectors", "vendedor", "vendedor, zona, clasificacion o sucursal (la sucursal de la venta).",
    "Reporte para cobradores: saldo, vencido, cobrado, seguimientos y promesas por grupo.",
    reports.collectors, tables.collectors_report)


# The printable estado de cuenta adds pdf to the formats of every report.
_statement_output = output_options_for([*(x.value for x in Format), "pdf"])


@report_group.command("statement")
@click.option("--customer", "rfc", required=True, metavar="RFC", help="Cliente.")
@range_options()
@_statement_output
@pass_app
def statement_cmd(app: AppContext, rfc: str, desde: date, hasta: date, fmt: str | None, out: Path | None,
                  as_json: bool) -> int:
    """Estado de cuenta (historial) de un cliente en un periodo, por moneda (también en PDF)."""
    rango = date_range(desde, hasta)
    as_pdf = fmt == "pdf" or (fmt is None and out is not None and out.suffix.lower() == ".pdf")
    if as_pdf and out is None:
        raise click.UsageError("el formato pdf necesita --out ARCHIVO.pdf.")
    with transaction(app.engine) as s:
        customer = find_customer(s, rfc)
        key = customer.key
        sts = reports.customer_statement(s, key, rango)
        empresa = statement_letterhead(s, customer.id) if as_pdf else None
    if as_pdf and out is not None and empresa is not None:
        from cfdi_cobranza.pdf.statement import render_statement_pdf  # fpdf: 0.2 s, only PDF output

        write_output(out, render_statement_pdf(sts, empresa=empresa, fecha_corte=rango.hasta))
        if as_json:
            emit_json({"archivo": str(out), "formato": "pdf", "rfc": key, "monedas": [st.moneda for st in sts]})
        else:
            click.echo(f"Estado de cuenta escrito en {out} (pdf).", err=True)
        return EXIT_OK
    return emit_report(tables.statement_report(key, sts, rango.desde, rango.hasta), fmt, out, as_json)


@report_group.command("projection")
@as_of_option
@click.option("--period", "granularity", default="semana", show_default=True, help="semana o mes.")
@click.option("--to", "hasta", callback=date_option, metavar="FECHA", help="Fin de la proyección (90 días si se omite).")
@click.option("--rate", "rates", multiple=True, metavar="USD=17.25", help="Tipo de cambio a MXN.")
@filters_option
@output_options
@pass_app
def projection_cmd(app: AppContext, as_of: date | None, granularity: str, hasta: date | None,
                   rates: tuple[str, ...], filters: Filters | None, fmt: str | None, out: Path | None,
                   as_json: bool) -> int:
    """Proyección de ingresos por semana o mes: por comportamiento y por vencimiento."""
    with transaction(app.engine) as s:
        rep = reports.projection(s, as_of or today(), granularity=Granularity.parse(granularity), hasta=hasta,
                                 filters=filters, rates=parse_rates(rates))
    return emit_report(tables.projection_report(rep), fmt, out, as_json)


@report_group.command("trends")
@as_of_option
@click.option("--months", type=click.IntRange(1, 120), default=24, show_default=True,
              help="Meses hacia atrás desde la fecha de corte.")
@click.option("--rate", "rates", multiple=True, metavar="USD=17.25", help="Tipo de cambio a MXN.")
@filters_option
@output_options
@pass_app
def trends_cmd(app: AppContext, as_of: date | None, months: int, rates: tuple[str, ...], filters: Filters | None,
               fmt: str | None, out: Path | None, as_json: bool) -> int:
    """Patrones y tendencias de pago mes a mes: facturado, cobrado, días de atraso, % a tiempo y tendencia."""
    with transaction(app.engine) as s:
        rep = reports.trends(s, as_of or today(), months=months, filters=filters, rates=parse_rates(rates))
    one = filters is not None and filters.customer_ids is not None and len(filters.customer_ids) == 1
    customer = rep.clientes[0].rfc if one and rep.clientes else None
    return emit_report(tables.trends_report(rep, customer=customer), fmt, out, as_json)


@report_group.command("promises")
@as_of_option
@click.option("--customer", "rfc", metavar="RFC", help="Solo este cliente.")
@click.option("--broken", is_flag=True, help="Solo promesas incumplidas.")
@json_option
@pass_app
def promises_cmd(app: AppContext, as_of: date | None, rfc: str | None, broken: bool, as_json: bool) -> int:
    """Promesas de pago y su estado (vigente, cumplida, incumplida)."""
    cut = as_of or today()
    with transaction(app.engine) as s:
        rows = [tables.promise_payload(o) for o in followups.promise_outcomes(s, cut, rfc=rfc, only_broken=broken)]
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
@filters_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="ARCHIVO.pdf")
@actor_option
@json_option
@pass_app
def letters_cmd(app: AppContext, kind: str, as_of: date | None, min_days: int, template: Path | None,
                firmante: str | None, filters: Filters | None, out: Path, actor: str, as_json: bool) -> int:
    """Genera cartas de confirmación de saldos o de cobranza en PDF, una por cliente.

    Cada carta queda en el seguimiento del cliente (tipo carta, con su PDF adjunto); la
    misma carta generada otra vez el mismo día no se registra dos veces.
    """
    cut = as_of or today()
    text = template.read_text("utf-8") if template else None
    from cfdi_cobranza.services.letters import (  # fpdf: 0.2 s, only this command
        letters_pdf,
        record_letters,
    )

    with transaction(app.engine) as s:
        batch = letters_pdf(s, kind, cut, filters=filters, min_dias_vencido=min_days, template=text, firmante=firmante)
        logged = record_letters(s, batch, kind, cut, actor=actor)
        # Written before the commit: a file that cannot be written leaves no follow-up behind.
        write_output(out, batch.pdf)
    repeated = sum(1 for r in logged if r["repetida"])
    if as_json:
        emit_json({"archivo": str(out), "tipo": kind, "fecha_corte": cut,
                   "cartas": [lt.to_dict() | {"seguimiento": r["seguimiento"], "repetida": r["repetida"]}
                              for lt, r in zip(batch.letters, logged, strict=True)]})
    else:
        click.echo(f"{len(batch.letters)} carta(s) escritas en {out}; {len(logged) - repeated} registrada(s) en el "
                   f"seguimiento" + (f", {repeated} ya registrada(s) hoy (no se duplican)." if repeated else "."))
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(report_group)
    cli.add_command(letters_cmd)
