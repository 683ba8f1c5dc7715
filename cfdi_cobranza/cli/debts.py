"""``cobranza debt add|state|list``: collection documents other than the CFDI (cheques, pagarés)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    amount_option,
    date_option,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
    today,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.services import collections as credit


@click.group("debt")
def debt_group() -> None:
    """Documentos de cobranza distintos del CFDI: cheques, pagarés, vouchers."""


@debt_group.command("add")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--type", "tipo", required=True, help="cheque, pagare, tarjeta u otro.")
@click.option("--amount", callback=amount_option, required=True, metavar="IMPORTE")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--date", "fecha", callback=date_option, required=True, metavar="FECHA", help="Fecha de recepción.")
@click.option("--cash-date", "cobro", callback=date_option, metavar="FECHA", help="Fecha de cobro (posfechado).")
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
    with transaction(app.engine) as s:
        data = credit.register_debt_document(
            s, rfc, tipo=tipo, importe=amount, moneda=currency.upper(), fecha=fecha, fecha_cobro=cobro,
            numero=numero, banco=banco, payment_id=payment_id, complement_uuid=complement, actor=actor).to_dict()
    return reply(as_json, {"documento": data},
                 f"Documento {data['id']} ({data['tipo_etiqueta']}) registrado en cartera.")


@debt_group.command("state")
@click.argument("debt_id", type=int)
@click.argument("estado")
@click.option("--date", "fecha", callback=date_option, metavar="FECHA", help="Fecha del cambio (hoy si se omite).")
@click.option("--note", "nota")
@actor_option
@json_option
@pass_app
def debt_state(app: AppContext, debt_id: int, estado: str, fecha: date | None, nota: str | None, actor: str,
               as_json: bool) -> int:
    """Cambia el estado (depositado, cobrado, devuelto, protestado, cancelado)."""
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


def register(cli: click.Group) -> None:
    cli.add_command(debt_group)
