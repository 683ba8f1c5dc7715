"""``cobranza customer set|show|summary|note``: commercial conditions, notes and summary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    as_of_option,
    emit_json,
    json_option,
    pass_app,
    range_options,
    reply,
    table,
    today,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.fx import parse_rates
from cfdi_cobranza.domain.money import MoneyError, fmt_money, parse_amount
from cfdi_cobranza.domain.period import DateRange, fmt_date
from cfdi_cobranza.reports import tables
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import efos as efos_service


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
@click.option("--allowed-forms", "formas", metavar="01,03|todas",
              help="Formas de pago que el cliente puede usar (c_FormaPago); «todas» quita la restricción.")
@actor_option
@json_option
@pass_app
def customer_set(app: AppContext, rfc: str, limits: tuple[str, ...], no_limits: tuple[str, ...], plazo: int | None,
                 control: str | None, estatus: str | None, tipo_cobranza: str | None, tolerancia: int | None,
                 vendedor: str | None, zona: str | None, clasificacion: str | None, sucursal: str | None,
                 contacto: str | None, domicilio: str | None, forma: str | None, formas: str | None, actor: str,
                 as_json: bool) -> int:
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
                        ("forma_pago_habitual", forma), ("formas_permitidas", formas)):
        if opt_value is not None:
            kwargs[name] = opt_value
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
    click.echo(f"Forma de pago habitual: {d['forma_pago_habitual'] or '-'}; formas permitidas: "
               f"{', '.join(d['formas_permitidas']) if d['formas_permitidas'] else 'todas'}")


@customer_group.command("show")
@click.argument("rfc")
@json_option
@pass_app
def customer_show(app: AppContext, rfc: str, as_json: bool) -> int:
    """Muestra las condiciones comerciales y la hoja de notas del cliente."""
    with transaction(app.engine) as s:
        data = credit.get_conditions(s, rfc).to_dict()
        notes = [n.to_dict() for n in credit.list_notes(s, rfc)]
        efos = efos_service.customer_standing(s, rfc)
    if as_json:
        emit_json({"condiciones": data, "notas": notes, "efos": efos})
        return EXIT_OK
    _print_conditions(data)
    if efos:
        click.echo(f"Listado 69-B (EFOS): {efos['situacion']}" + (f" desde {efos['fecha']}" if efos["fecha"] else ""))
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
    with transaction(app.engine) as s:
        note = credit.add_note(s, rfc, text, author=actor)
    return reply(as_json, {"nota": note.to_dict()}, f"Nota {note.id} agregada.")


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
    if data["efos"]:
        click.echo(f"Listado 69-B (EFOS): {data['efos']['situacion']} ({data['efos']['fecha'] or 'sin fecha'})")
    click.echo(f"Saldo: {amounts(data['saldo'])}; vencido: {amounts(data['saldo_vencido'])}; "
               f"sin aplicar: {amounts(data['saldo_sin_aplicar'])}")
    click.echo(f"Pagos en el periodo: {amounts(data['pagos'])}; notas de crédito: {amounts(data['notas_credito'])}")
    late = data["dias_atraso"]
    click.echo(f"Días de atraso (90 días): promedio {late['reciente']['promedio']}, ponderado "
               f"{late['reciente']['ponderado']}; histórico: {late['historico']['promedio']} / "
               f"{late['historico']['ponderado']}")
    trend = data.get("tendencia")
    if trend is not None:  # domain.trends: last 3 months against the 6 before
        change = f" ({trend['cambio_dias']} días)" if trend["cambio_dias"] is not None else ""
        click.echo(f"Tendencia de pago: {trend['etiqueta']}{change}; ponderado reciente "
                   f"{trend['reciente']['ponderado']}, anterior {trend['anterior']['ponderado']}")
    for p in data["compras"]:
        click.echo(f"  Compras {p['periodo']}: {amounts(p['montos'])}")
    if data["documentos"]:
        click.echo(table([[d["referencia"], d["doc_id"], d["vencimiento"], str(d["dias_vencido"]),
                           fmt_money(Decimal(d["saldo"]), d["moneda"])] for d in data["documentos"]],
                         ["Documento", "Folio fiscal", "Vence", "Días", "Saldo"], {3, 4}))
    for c in data["cargos_devueltos"]:
        click.echo(f"  Cargo {c['fecha']}: {c['concepto']} ({fmt_money(Decimal(c['reaplicar']), c['moneda'])})")
    click.echo(f"Promesas vigentes: {len(data['promesas_vigentes'])}; incumplidas: "
               f"{len(data['promesas_incumplidas'])}; gestiones: {data['acciones_total']}")
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(customer_group)
