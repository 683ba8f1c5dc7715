"""Commands of the ledger: init, import, documents, customers, company."""

from __future__ import annotations

import click

from cfdi_cobranza.cfdi.sources import iter_paths
from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    parse_date_option,
    pass_app,
    reply,
    table,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.services import ledger
from cfdi_cobranza.services.importing import Importer, backfill_pagos_facts

STATUS_ES = {"imported": "importado", "duplicate": "duplicado", "refused": "rechazado", "ignored": "omitido"}


@click.command("init")
@click.option("--demo", is_flag=True, help="Carga datos de demostración.")
@json_option
@pass_app
def init_cmd(app: AppContext, demo: bool, as_json: bool) -> int:
    """Crea o actualiza la base de datos (idempotente)."""
    heads = app.migrate()
    out: dict[str, object] = {"database": app.engine.url.render_as_string(hide_password=True), "revision": heads}
    # Invoices imported before revision 0010 get what issuing their REPs reads (once).
    out["facturas_preparadas"] = prepared = backfill_pagos_facts(app.engine)
    if demo:
        # The demo signs, stamps and imports: it loads what only ``init --demo`` needs.
        from cfdi_cobranza.services.demo import seed_demo

        seeded = seed_demo(app.engine, app.settings)
        out["demo"] = seeded.to_dict()
    if as_json:
        emit_json(out)
    else:
        click.echo(f"Base de datos lista: {out['database']} (revisión {', '.join(heads)}).")
        if prepared:
            click.echo(f"{prepared} facturas importadas antes de esta versión quedaron listas para emitir sus REP "
                       "sin volver a leer su XML.")
        if demo:
            click.echo(seeded.resumen)
    return EXIT_OK


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--no-verify", is_flag=True, hidden=True, help="Solo para pruebas de rendimiento.")
@json_option
@pass_app
def import_cmd(app: AppContext, paths: tuple[str, ...], no_verify: bool, as_json: bool) -> int:
    """Importa CFDI timbrados: archivos XML, carpetas (recursivo) y paquetes ZIP."""
    settings = app.settings
    importer = Importer(app.engine, settings, verify=not no_verify,
                        extra_cert_dirs=[settings.instance_path / "sandbox"])
    result = importer.import_candidates(iter_paths(paths))
    if as_json:
        emit_json(result.to_dict())
    else:
        for r in result.results:
            label = STATUS_ES[r.status].upper()
            extra = f" [{r.code}]" if r.code and r.status != "imported" else ""
            ident = f" {r.uuid}" if r.uuid else ""
            click.echo(f"{label:<10} {r.file}{ident}{extra}: {r.message or ''}")
        for rfc in result.companies_registered:
            click.echo(f"Empresa registrada: {rfc} (primer emisor visto; sus CFDI son cuentas por cobrar).")
        s = result.summary
        click.echo(
            f"Resumen: {s['imported']} importados, {s['duplicate']} duplicados, "
            f"{s['refused']} rechazados, {s['ignored']} omitidos, de {s['total']}."
        )
    return EXIT_OK if result.ok else EXIT_ITEMS_FAILED


@click.command("documents")
@click.option("--customer", "customer_rfc", metavar="RFC", help="Solo los documentos de este cliente.")
@click.option("--open", "open_only", is_flag=True, help="Solo facturas con saldo pendiente.")
@click.option("--as-of", "as_of", callback=parse_date_option, metavar="AAAA-MM-DD", help="Fecha de corte.")
@json_option
@pass_app
def documents_cmd(app: AppContext, customer_rfc: str | None, open_only: bool, as_of, as_json: bool) -> int:  # type: ignore[no-untyped-def]
    """Lista los documentos con su saldo."""
    with transaction(app.engine) as session:
        rows = ledger.list_documents(session, customer_rfc=customer_rfc, open_only=open_only, as_of=as_of)
    if as_json:
        emit_json({"as_of": as_of, "documents": [r.to_dict() for r in rows]})
        return EXIT_OK
    if not rows:
        click.echo("No hay documentos.")
        return EXIT_OK
    body = [
        [r.fecha.strftime("%d/%m/%Y"), r.tipo, f"{r.serie or ''}{r.folio or ''}", r.uuid, r.customer_rfc,
         r.metodo_pago or "", fmt_money(r.total, r.moneda), fmt_money(r.saldo, r.moneda),
         _due_or_cancelled(r)]
        for r in rows
    ]
    for line, r in zip(body, rows, strict=True):
        if r.sin_validez_fiscal:  # sealed with an SAT test certificate (cfdi.authority)
            line[3] += " (SIN VALIDEZ FISCAL)"
    click.echo(table(body, ["Fecha", "Tipo", "Serie/Folio", "Folio fiscal", "Cliente", "Método", "Total", "Saldo", "Vence"], {6, 7}))
    return EXIT_OK


def _due_or_cancelled(r: ledger.DocumentRow) -> str:
    """A document cancelled at the SAT shows that (and when) instead of a due date."""
    if r.status == "cancelado":
        return "CANCELADO " + (r.fecha_cancelacion.strftime("%d/%m/%Y") if r.fecha_cancelacion else "")
    return r.vencimiento.strftime("%d/%m/%Y") if r.vencimiento else ""


@click.command("customers")
@json_option
@pass_app
def customers_cmd(app: AppContext, as_json: bool) -> int:
    """Lista los clientes con su saldo pendiente por moneda."""
    with transaction(app.engine) as session:
        rows = ledger.list_customers(session)
    if as_json:
        emit_json({"customers": [r.to_dict() for r in rows]})
        return EXIT_OK
    body = [
        [r.rfc, (r.nombre or "")[:40], r.regimen_fiscal or "", r.codigo_postal or "",
         ", ".join(fmt_money(v, k) for k, v in sorted(r.saldo.items())) or "$0.00"]
        for r in rows
    ]
    click.echo(table(body, ["RFC", "Nombre", "Régimen", "CP", "Saldo"]) if body else "No hay clientes.")
    return EXIT_OK


@click.group("company")
def company_group() -> None:
    """Empresas emisoras cuyas cuentas por cobrar se llevan aquí."""


@company_group.command("add")
@click.option("--rfc", required=True)
@click.option("--nombre")
@click.option("--regimen", help="Régimen fiscal (c_RegimenFiscal).")
@click.option("--cp", help="Código postal del lugar de expedición.")
@json_option
@pass_app
def company_add(app: AppContext, rfc: str, nombre: str | None, regimen: str | None, cp: str | None, as_json: bool) -> int:
    """Registra una empresa."""
    with transaction(app.engine) as session:
        company = ledger.add_company(session, rfc, nombre, regimen, cp)
        data = {"id": company.id, "rfc": company.rfc, "nombre": company.nombre}
    return reply(as_json, data, f"Empresa registrada: {data['rfc']} {data['nombre'] or ''}".rstrip())


@company_group.command("list")
@json_option
@pass_app
def company_list(app: AppContext, as_json: bool) -> int:
    """Lista las empresas."""
    with transaction(app.engine) as session:
        rows = [{"rfc": c.rfc, "nombre": c.nombre or "", "regimen_fiscal": c.regimen_fiscal or "",
                 "rep_serie": c.rep_serie}
                for c in ledger.list_companies(session)]
    if as_json:
        emit_json({"companies": rows})
    elif rows:
        click.echo(table([[r["rfc"], r["nombre"], r["regimen_fiscal"], r["rep_serie"]] for r in rows],
                         ["RFC", "Nombre", "Régimen", "Serie REP"]))
    else:
        click.echo("No hay empresas registradas; la primera importación registra a los emisores que vea.")
    return EXIT_OK


def register(cli: click.Group) -> None:
    for cmd in (init_cmd, import_cmd, documents_cmd, customers_cmd, company_group):
        cli.add_command(cmd)
