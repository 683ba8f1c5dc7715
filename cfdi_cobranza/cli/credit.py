"""``cobranza credit check|authorize``: credit control in real time and its authorizations."""

from __future__ import annotations

from decimal import Decimal

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    amount_option,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.domain.states import AuthorizationStatus
from cfdi_cobranza.services import collections as credit


@click.group("credit")
def credit_group() -> None:
    """Control de crédito: verificación en tiempo real y autorizaciones."""


@credit_group.command("check")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--amount", callback=amount_option, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--operation", "tipo", default="venta_credito", show_default=True,
              help="venta_credito, venta_contado, pedido, documento o cobro.")
@click.option("--term", "plazo", type=int, help="Plazo solicitado en días.")
@click.option("--form", "forma", metavar="FORMA", help="Forma de pago (c_FormaPago) con que pagará.")
@json_option
@pass_app
def credit_check_cmd(app: AppContext, rfc: str, amount: Decimal, currency: str, tipo: str, plazo: int | None,
                     forma: str | None, as_json: bool) -> int:
    """Verifica si el cliente puede tomar la operación: información, advertencia, autorización o restricción."""
    with transaction(app.engine) as s:
        data = credit.check_credit(s, rfc, amount, currency, tipo=tipo, plazo_dias=plazo, forma_pago=forma).to_dict()
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
@click.option("--amount", callback=amount_option, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--operation", "tipo", default="venta_credito", show_default=True)
@click.option("--term", "plazo", type=int)
@click.option("--reason", "motivo", help="Por qué se solicita.")
@click.option("--form", "forma", metavar="FORMA",
              help="Forma de pago fuera de las condiciones del cliente (con --operation cobro).")
@actor_option
@json_option
@pass_app
def authorize_request(app: AppContext, rfc: str, amount: Decimal, currency: str, tipo: str, plazo: int | None,
                      motivo: str | None, forma: str | None, actor: str, as_json: bool) -> int:
    """Registra una solicitud de autorización para una operación fuera de condiciones."""
    with transaction(app.engine) as s:
        data = credit.request_authorization(s, rfc, amount, currency, actor=actor, tipo=tipo, plazo_dias=plazo,
                                            motivo=motivo, forma_pago=forma)
    return reply(as_json, {"autorizacion": data.to_dict()}, f"Solicitud {data.id} registrada ({data.nivel}).")


def _decide(app: AppContext, request_id: int, grant: bool, actor: str, motivo: str | None, as_json: bool) -> int:
    with transaction(app.engine) as s:
        data = credit.decide_authorization(s, request_id, grant=grant, username=actor, motivo=motivo)
    return reply(as_json, {"autorizacion": data.to_dict()},
                 f"Solicitud {request_id} {data.estado} por {data.resuelta_por} ({data.rol}).")


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
@click.option("--status", "estado", type=click.Choice([s.value for s in AuthorizationStatus]))
@click.option("--customer", "rfc", metavar="RFC")
@json_option
@pass_app
def authorize_list(app: AppContext, estado: str | None, rfc: str | None, as_json: bool) -> int:
    """Lista las solicitudes de autorización."""
    with transaction(app.engine) as s:
        rows = [a.to_dict() for a in credit.list_authorizations(s, status=estado, rfc=rfc)]
    if as_json:
        emit_json({"autorizaciones": rows})
    elif not rows:
        click.echo("No hay solicitudes.")
    else:
        click.echo(table([[str(r["id"]), r["rfc"], r["operacion"], f"{r['importe']} {r['moneda']}", r["nivel"],
                           r["estado"], r["solicitada_por"], r["resuelta_por"] or ""] for r in rows],
                         ["Id", "Cliente", "Operación", "Importe", "Nivel", "Estado", "Solicitó", "Resolvió"]))
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(credit_group)
