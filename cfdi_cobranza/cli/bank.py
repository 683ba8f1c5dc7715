"""Commands for bank statements: import, suggest, apply."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.bank.statements import ColumnMapping
from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    pass_app,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.fx import parse_rates
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.services import banking


def _mapping(spec: str | None) -> ColumnMapping | None:
    """``fecha=Fecha,descripcion=Concepto,abono=Abono,referencia=Referencia`` -> ColumnMapping."""
    if not spec:
        return None
    fields: dict[str, str | int] = {}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"«{item}»: use campo=columna.", param_hint="--mapping")
        key = key.strip().lower()
        if key not in ColumnMapping.__dataclass_fields__:
            raise click.BadParameter(f"campo desconocido «{key}».", param_hint="--mapping")
        fields[key] = int(value) if value.strip().isdecimal() else value.strip()
    if "fecha" not in fields:
        raise click.BadParameter("falta la columna de fecha (fecha=...).", param_hint="--mapping")
    return ColumnMapping(**fields)  # type: ignore[arg-type]


@click.group("bank")
def bank_group() -> None:
    """Estados de cuenta bancarios: importar depósitos, sugerir y aplicar."""


@bank_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "bbva", "banorte", "santander"]), required=True)
@click.option("--mapping", help="Para csv: fecha=COL,descripcion=COL,referencia=COL,abono=COL[,cargo=COL|importe=COL].")
@click.option("--account", default="", help="Cuenta bancaria del estado de cuenta.")
@click.option("--currency", default="MXN", show_default=True)
@json_option
@pass_app
def bank_import(app: AppContext, file: Path, fmt: str, mapping: str | None, account: str, currency: str,
                as_json: bool) -> int:
    """Importa los depósitos de un estado de cuenta (idempotente)."""
    preset = "generico" if fmt == "csv" else fmt
    with transaction(app.engine) as session:
        result = banking.import_statement(session, file.read_bytes(), preset, cuenta=account,
                                          moneda=currency.upper(), mapping=_mapping(mapping),
                                          source_name=file.name)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"{result.nuevos} depósitos nuevos, {result.repetidos} ya importados, "
                   f"{result.cargos_omitidos} cargos omitidos, {len(result.errores)} filas con error.")
        for e in result.errores:
            click.echo(f"  Fila {e['fila']} [{e['code']}]: {e['message']}")
    return EXIT_ITEMS_FAILED if result.errores else EXIT_OK


@bank_group.command("suggest")
@click.option("--rate", "rates", multiple=True, metavar="MONEDA=TC")
@json_option
@pass_app
def bank_suggest(app: AppContext, rates: tuple[str, ...], as_json: bool) -> int:
    """Sugiere, para cada depósito pendiente, qué facturas paga (con puntaje y razones)."""
    with transaction(app.engine) as session:
        ranked = banking.suggest(session, rates=parse_rates(rates))
        data: list[dict[str, Any]] = [{"deposit_id": m.id, "fecha": m.fecha.isoformat(), "importe": format(m.amount, "f"),
                 "moneda": m.moneda, "descripcion": m.description, "referencia": m.reference,
                 "sugerencias": [banking.suggestion_dict(s) for s in sugg]} for m, sugg in ranked]
    if as_json:
        emit_json({"deposits": data})
        return EXIT_OK
    if not data:
        click.echo("No hay depósitos pendientes.")
    for d in data:
        click.echo(f"Depósito {d['deposit_id']} del {d['fecha']}: {fmt_money(Decimal(d['importe']), d['moneda'])} "
                   f"— {d['descripcion'] or ''}")
        if not d["sugerencias"]:
            click.echo("   sin sugerencias")
        for s in d["sugerencias"]:
            docs = ", ".join(f"{a['serie_folio']} {fmt_money(Decimal(a['importe']), a['moneda'])}" for a in s["aplicaciones"])
            click.echo(f"   [{s['score']:>3}] {s['customer']}: {docs}")
            for r in s["razones"]:
                click.echo(f"         · {r['message']}")
    return EXIT_OK


@bank_group.command("apply")
@click.option("--min-score", type=click.IntRange(0, 100), required=True, help="Aplica las sugerencias con puntaje >= S.")
@click.option("--rate", "rates", multiple=True, metavar="MONEDA=TC")
@json_option
@pass_app
def bank_apply(app: AppContext, min_score: int, rates: tuple[str, ...], as_json: bool) -> int:
    """Aplica los depósitos cuya mejor sugerencia alcanza el puntaje mínimo."""
    with transaction(app.engine) as session:
        out = banking.apply_above(session, min_score, actor="cli", rates=parse_rates(rates))
    if as_json:
        emit_json({"applied": [o.to_dict() for o in out]})
    else:
        if not out:
            click.echo(f"Ningún depósito tiene una sugerencia con puntaje >= {min_score}.")
        for o in out:
            if o.applied is not None:
                click.echo(f"Depósito {o.deposit_id}: aplicado como pago {o.payment_id} (puntaje {o.score}).")
            else:
                click.echo(f"Depósito {o.deposit_id}: rechazado [{o.code}] {o.message}")
    return EXIT_ITEMS_FAILED if any(o.applied is None for o in out) else EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(bank_group)
