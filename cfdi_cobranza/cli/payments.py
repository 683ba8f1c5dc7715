"""Commands for receipts and their application: payment, payments, box, bank."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.fx import parse_rates
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.services import payments as svc


def _parse_when(value: str) -> datetime | date:
    try:
        if "T" in value or " " in value:
            return datetime.fromisoformat(value)
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"fecha inválida «{value}»; use AAAA-MM-DD o AAAA-MM-DDTHH:MM:SS.") from None


@click.group("payment")
def payment_group() -> None:
    """Registrar, aplicar y revertir pagos (recibos)."""


@payment_group.command("add")
@click.option("--customer", required=True, metavar="RFC")
@click.option("--company", metavar="RFC", help="Empresa que recibe (si hay varias).")
@click.option("--date", "when", required=True, metavar="AAAA-MM-DD[THH:MM:SS]", help="Fecha (y hora) del pago.")
@click.option("--amount", "amounts", required=True, multiple=True, metavar="IMPORTE",
              help="Importe; repita --amount/--form para una liquidación con varias formas de pago.")
@click.option("--form", "forms", multiple=True, metavar="FF", help="Forma de pago c_FormaPago (por omisión la habitual).")
@click.option("--currency", default="MXN", show_default=True)
@click.option("--rate", help="Tipo de cambio a MXN; si la moneda no es MXN y se omite, el publicado en el DOF para la fecha del pago (cobranza rates).")
@click.option("--operation", help="Número de operación.")
@click.option("--payer-bank-rfc", help="RFC del banco emisor de la cuenta ordenante.")
@click.option("--payer-account", help="Cuenta ordenante.")
@click.option("--foreign-bank", help="Nombre del banco extranjero ordenante.")
@click.option("--beneficiary-bank-rfc", help="RFC del banco de la cuenta beneficiaria.")
@click.option("--account", help="Cuenta beneficiaria.")
@click.option("--box", "boxes", multiple=True,
              help="Caja o cuenta bancaria donde se recibió; repítala como --form para dar a cada parte la suya.")
@click.option("--notes")
@json_option
@pass_app
def payment_add(app: AppContext, customer: str, company: str | None, when: str, amounts: tuple[str, ...],
                forms: tuple[str, ...], currency: str, rate: str | None, operation: str | None,
                payer_bank_rfc: str | None, payer_account: str | None, foreign_bank: str | None,
                beneficiary_bank_rfc: str | None, account: str | None, boxes: tuple[str, ...], notes: str | None,
                as_json: bool) -> int:
    """Registra un pago (o una liquidación con varias formas de pago)."""
    fecha = _parse_when(when)
    if forms and len(forms) != len(amounts):
        raise click.BadParameter("repita --form tantas veces como --amount.", param_hint="--form")
    if len(boxes) > 1 and len(boxes) != len(amounts):
        raise click.BadParameter("use una sola --box para toda la liquidación, o repítala tantas veces como "
                                 "--amount (una por parte).", param_hint="--box")
    parts = [
        ReceiptInput(customer=customer, company=company or "", fecha_pago=fecha, forma_pago=(forms[i] if forms else ""),
                     moneda=currency.upper(), monto=amount, tipo_cambio=rate, num_operacion=operation,
                     rfc_emisor_cta_ord=payer_bank_rfc, nom_banco_ord_ext=foreign_bank, cta_ordenante=payer_account,
                     rfc_emisor_cta_ben=beneficiary_bank_rfc, cta_beneficiario=account,
                     caja=(boxes[i] if len(boxes) > 1 else (boxes[0] if boxes else None)), notas=notes)
        for i, amount in enumerate(amounts)
    ]
    with transaction(app.engine) as session:
        settlement = svc.register_settlement(session, parts, actor="cli")
        data: dict[str, Any] = {"settlement_id": settlement.id, "payment_ids": [p.id for p in settlement.payments],
                "payment_id": settlement.payments[0].id,
                "forms": [p.forma_pago for p in settlement.payments]}
    if as_json:
        emit_json(data)
    else:
        ids = ", ".join(str(i) for i in data["payment_ids"])
        click.echo(f"Pago registrado: id {ids} (liquidación {data['settlement_id']}).")
    return EXIT_OK


@payment_group.command("apply")
@click.argument("payment_id", type=int)
@click.option("--invoice", "invoices", multiple=True, metavar="UUID=IMPORTE[@EQUIVALENCIA]",
              help="Documento e importe en su moneda; repetible.")
@click.option("--oldest-first", is_flag=True, help="Aplica a las facturas más antiguas del cliente.")
@click.option("--rate", "rates", multiple=True, metavar="MONEDA=TC", help="Tipo de cambio a MXN de la moneda de una factura.")
@json_option
@pass_app
def payment_apply(app: AppContext, payment_id: int, invoices: tuple[str, ...], oldest_first: bool,
                  rates: tuple[str, ...], as_json: bool) -> int:
    """Aplica un pago a facturas abiertas."""
    if bool(invoices) == oldest_first:
        raise click.UsageError("Use --invoice UUID=IMPORTE (una o más veces) o --oldest-first.")
    allocations = []
    for item in invoices:
        uuid, sep, rest = item.partition("=")
        if not sep or not uuid or not rest:
            raise click.BadParameter(f"«{item}»: use UUID=IMPORTE o UUID=IMPORTE@EQUIVALENCIA.", param_hint="--invoice")
        amount, _, eq = rest.partition("@")
        allocations.append(svc.Allocation(uuid, amount.strip(), eq.strip() or None))
    parsed_rates = parse_rates(rates)
    with transaction(app.engine) as session:
        if oldest_first:
            result = svc.apply_oldest_first(session, payment_id, rates=parsed_rates, actor="cli")
        else:
            result = svc.apply_payment(session, payment_id, allocations, rates=parsed_rates, actor="cli")
        data = result.to_dict()
    if as_json:
        emit_json(data)
        return EXIT_OK
    if not result.lines:
        click.echo("No se aplicó nada: el cliente no tiene facturas abiertas que admitan este pago.")
    for ln in result.lines:
        click.echo(f"{ln.serie_folio or ln.uuid}: parcialidad {ln.num_parcialidad}, saldo anterior "
                   f"{fmt_money(ln.imp_saldo_ant, ln.moneda_dr)}, pagado {fmt_money(ln.imp_pagado, ln.moneda_dr)}, "
                   f"saldo insoluto {fmt_money(ln.imp_saldo_insoluto, ln.moneda_dr)}"
                   + ("" if ln.requiere_rep else " (no requiere REP)"))
        for aviso in ln.avisos:
            click.echo(f"  Aviso [{aviso['code']}]: {aviso['message']}")
    for aviso in result.skipped:
        click.echo(f"Aviso [{aviso['code']}]: {aviso['message']}")
    click.echo(f"Aplicado {fmt_money(result.aplicado, result.moneda)}; saldo a favor "
               f"{fmt_money(result.saldo_a_favor, result.moneda)}.")
    return EXIT_OK


@payment_group.command("unapply")
@click.argument("payment_id", type=int)
@click.option("--invoice", "uuid", metavar="UUID", help="Solo la aplicación a este documento.")
@click.option("--reason", required=True, help="Motivo (queda en la bitácora).")
@json_option
@pass_app
def payment_unapply(app: AppContext, payment_id: int, uuid: str | None, reason: str, as_json: bool) -> int:
    """Revierte aplicaciones de un pago (auditado)."""
    with transaction(app.engine) as session:
        ids = svc.unapply(session, payment_id, uuid, reason=reason, actor="cli")
    return reply(as_json, {"payment_id": payment_id, "reversed_credit_ids": ids},
                 f"Revertidas {len(ids)} aplicaciones del pago {payment_id}.")


@payment_group.command("reviewed")
@click.argument("payment_id", type=int)
@click.option("--note", required=True, help="Qué se hizo (queda en la bitácora).")
@actor_option
@json_option
@pass_app
def payment_reviewed(app: AppContext, payment_id: int, note: str, actor: str, as_json: bool) -> int:
    """Quita la marca de revisión de un pago (p. ej. tras cancelarse su factura en el SAT)."""
    with transaction(app.engine) as session:
        svc.mark_reviewed(session, payment_id, note=note, actor=actor)
    return reply(as_json, {"payment_id": payment_id, "revisar": None}, f"Pago {payment_id} revisado.")


@payment_group.command("confirm-advance")
@click.argument("payment_id", type=int)
@click.option("--user", "user", metavar="USUARIO", default="cli", show_default=True,
              help="Quién confirma (queda en la bitácora).")
@click.option("--note", metavar="TEXTO", help="Por qué: p. ej. el pedido o contrato que ya pactaba bien y precio.")
@json_option
@pass_app
def payment_confirm_advance(app: AppContext, payment_id: int, user: str, note: str | None, as_json: bool) -> int:
    """Confirma que un pago anterior a su factura ya correspondía a una operación pactada (auditado):
    su REP puede emitirse."""
    with transaction(app.engine) as session:
        ids = svc.confirm_advance(session, payment_id, actor=user.strip() or "cli", note=note)
    return reply(as_json, {"payment_id": payment_id, "confirmed_credit_ids": ids},
                 f"Confirmadas {len(ids)} aplicaciones del pago {payment_id} anteriores a su factura; "
                 "ya puede emitirse su REP.")


@click.command("payments")
@click.option("--customer", metavar="RFC")
@json_option
@pass_app
def payments_cmd(app: AppContext, customer: str | None, as_json: bool) -> int:
    """Lista los pagos con lo aplicado y el saldo a favor."""
    with transaction(app.engine) as session:
        rows = svc.list_payments(session, customer)
    if as_json:
        emit_json({"payments": [r.to_dict() for r in rows]})
        return EXIT_OK
    if not rows:
        click.echo("No hay pagos.")
        return EXIT_OK
    body = [[str(r.id), r.fecha_pago.date().isoformat(), r.customer_rfc, r.forma_pago, fmt_money(r.monto, r.moneda),
             fmt_money(r.aplicado, r.moneda), fmt_money(r.saldo_a_favor, r.moneda), r.status] for r in rows]
    click.echo(table(body, ["Id", "Fecha", "Cliente", "Forma", "Monto", "Aplicado", "Saldo a favor", "Estado"], {4, 5, 6}))
    for r in rows:
        if r.revisar:
            click.echo(f"Revisar pago {r.id}: {r.revisar}")
    waiting = [str(r.id) for r in rows if any(a.pago_anterior == svc.ADVANCE_PENDING and not a.revertida
                                              for a in r.aplicaciones)]
    if waiting:
        click.echo(f"Pagos anteriores a su factura, REP en espera de confirmación: {', '.join(waiting)} "
                   "(cobranza payment confirm-advance PAYMENT_ID).")
    return EXIT_OK


@click.group("box")
def box_group() -> None:
    """Cajas y cuentas bancarias donde se reciben los fondos."""


@box_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["banco", "caja"]), default="banco", show_default=True)
@click.option("--bank")
@click.option("--account")
@click.option("--currency", default="MXN", show_default=True)
@pass_app
def box_add(app: AppContext, name: str, kind: str, bank: str | None, account: str | None, currency: str) -> int:
    """Registra una caja o cuenta."""
    with transaction(app.engine) as session:
        svc.add_cash_box(session, name, kind, bank, account, currency.upper())
    click.echo(f"Caja registrada: {name}.")
    return EXIT_OK


@box_group.command("list")
@json_option
@pass_app
def box_list(app: AppContext, as_json: bool) -> int:
    """Lista cajas y cuentas con lo recibido en cada una."""
    with transaction(app.engine) as session:
        rows = svc.cash_box_summary(session)
    if as_json:
        emit_json({"boxes": [r.to_dict() for r in rows]})
    elif rows:
        click.echo(table([[r.name, r.kind, r.account or "", str(r.pagos),
                           ", ".join(fmt_money(v, k) for k, v in r.recibido.items())] for r in rows],
                         ["Caja", "Tipo", "Cuenta", "Pagos", "Recibido"]))
    else:
        click.echo("No hay cajas registradas.")
    return EXIT_OK


def register(cli: click.Group) -> None:
    for cmd in (payment_group, payments_cmd, box_group):
        cli.add_command(cmd)


