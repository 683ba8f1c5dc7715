"""``cobranza letters``: balance confirmation and collection letters in PDF, one per customer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    as_of_option,
    emit_json,
    filters_option,
    json_option,
    pass_app,
    today,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services.portfolio import Filters


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
@json_option
@pass_app
def letters_cmd(app: AppContext, kind: str, as_of: date | None, min_days: int, template: Path | None,
                firmante: str | None, filters: Filters | None, out: Path, as_json: bool) -> int:
    """Genera cartas de confirmación de saldos o de cobranza en PDF, una por cliente."""
    from cfdi_cobranza.services.letters import letters_pdf

    cut = as_of or today()
    text = template.read_text("utf-8") if template else None
    with transaction(app.engine) as s:
        batch = letters_pdf(s, kind, cut, filters=filters, min_dias_vencido=min_days, template=text, firmante=firmante)
    out.write_bytes(batch.pdf)
    if as_json:
        emit_json({"archivo": str(out), "tipo": kind, "fecha_corte": cut, "cartas": batch.letters})
    else:
        click.echo(f"{len(batch.letters)} carta(s) escritas en {out}.")
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(letters_cmd)
