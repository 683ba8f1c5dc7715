"""``cobranza document assign UUID --branch SUC [--salesperson V]``: move one sale to another branch."""

from __future__ import annotations

import click

from cfdi_cobranza.cli.common import AppContext, actor_option, json_option, pass_app, reply
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import collections as credit


@click.group("document")
def document_group() -> None:
    """Una venta (factura): su sucursal y su vendedor."""


@document_group.command("assign")
@click.argument("uuid")
@click.option("--branch", "sucursal", required=True, metavar="SUCURSAL", help="Sucursal a la que pasa la venta.")
@click.option("--salesperson", "vendedor", metavar="VENDEDOR", help="Vendedor (por omisión, el que ya tenía).")
@actor_option
@json_option
@pass_app
def document_assign(app: AppContext, uuid: str, sucursal: str, vendedor: str | None, actor: str,
                    as_json: bool) -> int:
    """Asigna una sola venta a otra sucursal (y vendedor); los reportes por sucursal la siguen."""
    with transaction(app.engine) as s:
        data = credit.reassign_sale(s, uuid, sucursal=sucursal, vendedor=vendedor, actor=actor)
    before = data["anterior"]
    return reply(as_json, {"asignacion": data},
                 f"Venta {data['serie_folio'] or data['uuid']}: sucursal {before['sucursal'] or '(sin asignar)'} -> "
                 f"{data['sucursal']}, vendedor {data['vendedor'] or '(sin asignar)'}.")


def register(cli: click.Group) -> None:
    # ``document`` may already exist (``document cancelled``): add to it instead of replacing it.
    existing = cli.commands.get("document")
    if isinstance(existing, click.Group):
        for name, cmd in document_group.commands.items():
            existing.add_command(cmd, name)
    else:
        cli.add_command(document_group)
