"""``cobranza debt add|state|list|show|types|type-set`` and ``cobranza report cash-cut``:
collection documents other than the CFDI (cheques, pagarés, vouchers) and the corte de caja."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    amount_option,
    date_option,
    emit_json,
    emit_report,
    json_option,
    output_options_for,
    pass_app,
    reply,
    table,
    today,
    write_output,
)
from cfdi_cobranza.cli.reports import report_group
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.reports.debts import cash_cut_report
from cfdi_cobranza.reports.export import Format
from cfdi_cobranza.services import debts


@click.group("debt")
def debt_group() -> None:
    """Documentos de cobranza distintos del CFDI: cheques, pagarés, vouchers."""


@debt_group.command("add")
@click.option("--customer", "rfc", required=True, metavar="RFC")
@click.option("--type", "tipo", required=True, help="Un tipo configurado (cobranza debt types).")
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
        data = debts.register_debt_document(
            s, rfc, tipo=tipo, importe=amount, moneda=currency.upper(), fecha=fecha, fecha_cobro=cobro,
            numero=numero, banco=banco, payment_id=payment_id, complement_uuid=complement, actor=actor).to_dict()
    return reply(as_json, {"documento": data},
                 f"Documento {data['id']} ({data['tipo_etiqueta']}) registrado en cartera.")


@debt_group.command("state")
@click.argument("debt_id", type=int)
@click.argument("estado")
@click.option("--date", "fecha", callback=date_option, metavar="FECHA", help="Fecha del cambio (hoy si se omite).")
@click.option("--note", "nota", help="Motivo (obligatorio para devuelto y protestado).")
@actor_option
@json_option
@pass_app
def debt_state(app: AppContext, debt_id: int, estado: str, fecha: date | None, nota: str | None, actor: str,
               as_json: bool) -> int:
    """Cambia el estado (depositado, cobrado, devuelto, protestado, cancelado)."""
    with transaction(app.engine) as s:
        data = debts.change_debt_state(s, debt_id, estado, fecha=fecha or today(), actor=actor, nota=nota).to_dict()
    if as_json:
        emit_json({"documento": data})
    else:
        extra = f"; {len(data['creditos_revertidos'])} aplicación(es) revertida(s)" if data["creditos_revertidos"] else ""
        click.echo(f"Documento {debt_id}: {data['estado_etiqueta']}{extra}.")
    return EXIT_OK


@debt_group.command("list")
@click.option("--customer", "rfc", metavar="RFC")
@click.option("--state", "estado")
@click.option("--type", "tipo")
@click.option("--due-from", "desde", callback=date_option, metavar="FECHA", help="Fecha de cobro desde.")
@click.option("--due-to", "hasta", callback=date_option, metavar="FECHA", help="Fecha de cobro hasta.")
@json_option
@pass_app
def debt_list(app: AppContext, rfc: str | None, estado: str | None, tipo: str | None, desde: date | None,
              hasta: date | None, as_json: bool) -> int:
    """Lista los documentos de cobranza con su estado (por fecha de cobro)."""
    with transaction(app.engine) as s:
        rows = [v.to_dict() for v in debts.list_debt_documents(s, rfc, estado, tipo=tipo, cobro_desde=desde,
                                                                cobro_hasta=hasta)]
    if as_json:
        emit_json({"documentos": rows})
    elif not rows:
        click.echo("No hay documentos de cobranza.")
    else:
        click.echo(table([[str(r["id"]), r["rfc"], r["tipo_etiqueta"], r["numero"] or "", r["fecha_cobro"],
                           fmt_money(Decimal(r["importe"]), r["moneda"]), r["estado_etiqueta"],
                           str(r["payment_id"] or "")] for r in rows],
                         ["Id", "Cliente", "Tipo", "Número", "Cobro", "Importe", "Estado", "Pago"], {5}))
    return EXIT_OK


@debt_group.command("show")
@click.argument("debt_id", type=int)
@json_option
@pass_app
def debt_show(app: AppContext, debt_id: int, as_json: bool) -> int:
    """Un documento con su historial de estados y los cambios que admite."""
    with transaction(app.engine) as s:
        data = debts.get_debt_document(s, debt_id).to_dict()
    if as_json:
        emit_json({"documento": data})
        return EXIT_OK
    click.echo(f"Documento {data['id']}: {data['tipo_etiqueta']} {data['numero'] or ''} de {data['rfc']}, "
               f"{fmt_money(Decimal(data['importe']), data['moneda'])}, cobro {data['fecha_cobro']}"
               f"{' (posfechado)' if data['posfechado'] else ''}; pago {data['payment_id'] or '-'}.")
    click.echo(f"Estado: {data['estado_etiqueta']}; pasa a: {', '.join(data['pasa_a']) or '—'}.")
    click.echo(table([[h["fecha"], h["estado"], h["por"], h["nota"] or ""] for h in data["historial"]],
                     ["Fecha", "Estado", "Por", "Nota"]))
    return EXIT_OK


@debt_group.command("types")
@json_option
@pass_app
def debt_types_cmd(app: AppContext, as_json: bool) -> int:
    """Los tipos de documento: nombre, si admite posfechado, estados y cambios permitidos."""
    with transaction(app.engine) as s:
        rows = [t.to_dict() for t in debts.list_types(s)]
    if as_json:
        emit_json({"tipos": rows})
        return EXIT_OK
    for r in rows:
        moves = "; ".join(f"{k} → {', '.join(v)}" for k, v in r["transiciones"].items() if v)
        click.echo(f"{r['code']}: {r['nombre']}{' (admite posfechado)' if r['posfechable'] else ''}. {moves}")
    return EXIT_OK


def _transitions(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    if not values:
        return None
    out: dict[str, list[str]] = {}
    for value in values:
        old, sep, news = value.partition(":")
        if not sep:
            raise ValidationError(f"Transición sin «:»: {value!r}. Use ESTADO:ESTADO,ESTADO.",
                                  code="TRANSICION_NO_PERMITIDA")
        out.setdefault(old.strip(), []).extend(n.strip() for n in news.split(",") if n.strip())
    return out


@debt_group.command("type-set")
@click.argument("code")
@click.option("--name", "nombre", required=True)
@click.option("--postdated/--no-postdated", "posfechable", default=False, show_default=True)
@click.option("--states", "estados", help="Estados separados por comas (por omisión: todos).")
@click.option("--transition", "transiciones", multiple=True, metavar="ESTADO:ESTADO,...",
              help="Cambios permitidos desde un estado (repetible; por omisión: los de la tabla de estados).")
@actor_option
@json_option
@pass_app
def debt_type_set(app: AppContext, code: str, nombre: str, posfechable: bool, estados: str | None,
                  transiciones: tuple[str, ...], actor: str, as_json: bool) -> int:
    """Crea o cambia un tipo de documento de cobranza (p. ej. letra de cambio)."""
    states = [x.strip() for x in estados.split(",") if x.strip()] if estados else None
    with transaction(app.engine) as s:
        kind = debts.set_type(s, code, nombre=nombre, posfechable=posfechable, estados=states,
                              transiciones=_transitions(transiciones), actor=actor).to_dict()
    return reply(as_json, {"tipo": kind}, f"Tipo {kind['code']} ({kind['nombre']}) guardado.")


_cash_cut_output = output_options_for([*(x.value for x in Format), "pdf"])


@report_group.command("cash-cut")
@click.option("--box", "caja", metavar="CAJA", help="Caja (todas si se omite).")
@click.option("--date", "fecha", callback=date_option, metavar="FECHA", help="Día del corte (hoy si se omite).")
@_cash_cut_output
@pass_app
def cash_cut_cmd(app: AppContext, caja: str | None, fecha: date | None, fmt: str | None, out: Path | None,
                 as_json: bool) -> int:
    """Corte de caja de un día: recibos por forma de pago y usuario, cheques recibidos y totales."""
    with transaction(app.engine) as s:
        report = cash_cut_report(debts.cash_cut(s, caja, fecha or today()))
    as_pdf = not as_json and (fmt == "pdf" or (fmt is None and out is not None and out.suffix.lower() == ".pdf"))
    if not as_pdf:
        return emit_report(report, fmt, out, as_json)
    if out is None:
        raise click.UsageError("el formato pdf necesita --out ARCHIVO.pdf.")
    from web.report_pdf import report_pdf  # fpdf: only for PDF output

    write_output(out, report_pdf(report))
    click.echo(f"Reporte escrito en {out} (pdf).", err=True)
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(debt_group)

