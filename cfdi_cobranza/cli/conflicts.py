"""``cobranza conflicts [list|replace]``: UUIDs imported twice with different content.

``cobranza import`` refuses a file whose UUID is stored with other bytes
(``UUID_EN_CONFLICTO``) and keeps it; these commands show both documents' verification
status and, by an explicit action of a user with an importing role, replace the stored
document with the verified file (audited).
"""

from __future__ import annotations

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    actor_option,
    emit_json,
    json_option,
    pass_app,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import conflicts as svc


@click.group("conflicts", invoke_without_command=True)
@click.pass_context
def conflicts_group(ctx: click.Context) -> None:
    """Folios fiscales (UUID) en conflicto: el mismo UUID importado con contenido distinto."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@conflicts_group.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Incluye los ya resueltos.")
@json_option
@pass_app
def list_cmd(app: AppContext, include_resolved: bool = False, as_json: bool = False) -> int:
    """Lista los conflictos pendientes, con la verificación de ambos documentos."""
    with transaction(app.engine) as session:
        rows = svc.list_conflicts(session, include_resolved=include_resolved)
    if as_json:
        emit_json({"conflicts": [r.to_dict() for r in rows]})
        return EXIT_OK
    if not rows:
        click.echo("No hay conflictos pendientes.")
        return EXIT_OK
    body = [[str(r.id), r.uuid, r.status, r.stored_label, r.incoming_label, r.file,
             "sí" if r.replaceable else "no"] for r in rows]
    click.echo(table(body, ["Id", "Folio fiscal", "Estado", "Guardado", "Archivo en conflicto", "Archivo",
                            "Reemplazable"]))
    if any(r.replaceable for r in rows):
        click.echo("Reemplace con «cobranza conflicts replace ID --user USUARIO» (rol administrador, "
                   "facturación o contabilidad).")
    return EXIT_OK


@conflicts_group.command("replace")
@click.argument("conflict_id", type=int)
@actor_option
@json_option
@pass_app
def replace_cmd(app: AppContext, conflict_id: int, actor: str, as_json: bool) -> int:
    """Reemplaza el documento guardado por el archivo verificado del conflicto (queda en la bitácora)."""
    result = svc.replace_with_conflict(app.engine, app.settings, conflict_id, actor=actor)
    if as_json:
        emit_json({"replaced": result.to_dict()})
    else:
        click.echo(result.message)
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(conflicts_group)
