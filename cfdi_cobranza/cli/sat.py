"""The SAT's bulk download: ``cobranza sat sync`` and ``cobranza company fiel``.

``sat sync`` is safe to run from cron: it resumes what an earlier run left (requests the
SAT accepted, packages not yet imported), never downloads or imports a package twice,
and a lock per company keeps two runs from overlapping (the second one exits 1 with
SAT_SYNC_EN_CURSO). Exit 0 when everything was imported, 1 when a CFDI was refused or
a request could not be completed (details in the output).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import click

from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    parse_date_option,
    pass_app,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import sat_sync

STATUS_ES = {"terminada": "terminada", "sin_informacion": "sin comprobantes", "dividida": "dividida",
             "solicitada": "en proceso en el SAT", "lista": "paquetes listos", "vencida": "vencida",
             "error": "rechazada", "pendiente": "pendiente"}


@click.group("sat")
def sat_group() -> None:
    """Servicios del SAT: descarga masiva (e.firma), estado de CFDI, listado 69-B."""


@sat_group.command("sync")
@click.option("--company", "rfc", required=True, help="RFC de la empresa.")
@click.option("--from", "desde", callback=parse_date_option, metavar="AAAA-MM-DD",
              help="Fecha inicial (por omisión: el último día ya sincronizado).")
@click.option("--to", "hasta", callback=parse_date_option, metavar="AAAA-MM-DD", help="Fecha final (por omisión: hoy).")
@click.option("--wait", "wait_seconds", type=click.IntRange(0, 3600), default=120, show_default=True,
              help="Segundos que se espera a que el SAT prepare los paquetes; si no están, la siguiente ejecución continúa.")
@json_option
@pass_app
def sat_sync_cmd(app: AppContext, rfc: str, desde: date | None, hasta: date | None, wait_seconds: int,
                 as_json: bool) -> int:
    """Descarga del SAT los CFDI emitidos por la empresa (y sus metadatos) y los importa."""
    result = sat_sync.sync(app.engine, app.settings, rfc, SecretBox.for_instance(app.settings.instance_path),
                           today=date.today(), desde=desde, hasta=hasta, wait_seconds=wait_seconds,
                           poll_interval=min(15.0, max(1.0, wait_seconds / 8)))
    data = result.to_dict()
    if as_json:
        emit_json(data)
    else:
        s = data["summary"]
        click.echo(f"SAT {data['rfc']} del {data['desde']} al {data['hasta']}: {s['packages']} paquete(s); "
                   f"{s['imported']} importado(s), {s['duplicate']} ya estaban, {s['refused']} rechazado(s), "
                   f"{s['ignored']} omitido(s); {s['metadata']} metadato(s).")
        if data["requests"]:
            click.echo(table([[r["kind"], r["desde"], r["hasta"], STATUS_ES.get(r["status"], r["status"]), r["nota"]]
                              for r in data["requests"]], ["Tipo", "Desde", "Hasta", "Estado", "Nota"]))
        for p in data["problems"]:
            click.echo(f"Aviso [{p['code']}] {p['kind']} {p['desde']}..{p['hasta']}: {p['message']}", err=True)
        for r in data["refused"]:
            click.echo(f"Rechazado [{r['code']}] {r['file']}: {r['message']}", err=True)
        if result.pending:
            click.echo("El SAT sigue preparando paquetes; vuelva a ejecutar «cobranza sat sync» más tarde "
                       "(continúa donde se quedó).")
    return EXIT_OK if result.ok else EXIT_ITEMS_FAILED


@click.command("fiel")
@click.option("--rfc", required=True, help="RFC de la empresa.")
@click.option("--cer", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_app
def company_fiel(app: AppContext, rfc: str, cer: Path, key_path: Path, as_json: bool) -> int:
    """Registra la e.firma (FIEL) de la empresa para la descarga masiva. La contraseña se lee de
    COBRANZA_FIEL_PASSWORD o se pide."""
    password = os.environ.get("COBRANZA_FIEL_PASSWORD")
    if password is None:
        password = click.prompt("Contraseña de la llave privada de la e.firma", hide_input=True)
    with transaction(app.engine) as session:
        row = sat_sync.register_fiel(session, rfc, cer.read_bytes()[:65536], key_path.read_bytes()[:65536], password,
                                     SecretBox.for_instance(app.settings.instance_path), today=date.today())
        data = {"rfc": rfc.strip().upper(), "no_certificado": row.no_certificado, "valid_to": row.valid_to.isoformat()}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"e.firma {data['no_certificado']} registrada para {data['rfc']} (vigente hasta {data['valid_to']}). "
                   "La llave y la contraseña se guardaron cifradas.")
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(sat_group)
    company = cli.commands.get("company")
    if isinstance(company, click.Group):
        company.add_command(company_fiel)
