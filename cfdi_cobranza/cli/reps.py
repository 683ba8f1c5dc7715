"""Commands for payment complements: rep issue/validate/cancel/show/pdf/pending/retry, reps, company csd."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.cfdi.validator import validate_rep
from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
    write_output,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.domain.period import date_in_window, window_message
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import settings as app_settings
from cfdi_cobranza.services import stamping

SANDBOX_NOTE = "SIN VALIDEZ FISCAL: timbrado por el PAC sandbox local."


def _stamper(app: AppContext) -> stamping.Stamper:
    return stamping.configured_stamper(app.engine, app.settings, actor="cli")


def _write_outputs(app: AppContext, result: stamping.IssueResult, out: Path | None) -> dict[str, Any]:
    data = result.to_dict()
    data["xml_path"] = data["pdf_path"] = None
    if out is not None and result.status == RepStatus.TIMBRADO and result.xml is not None:
        stem = f"REP-{result.serie}{result.folio}-{result.uuid}"
        xml_path, pdf_path = out / f"{stem}.xml", out / f"{stem}.pdf"
        write_output(xml_path, result.xml, mkdir=True)
        from cfdi_cobranza.pdf.rep import render_rep_pdf  # fpdf: 0.2 s, only with --out

        write_output(pdf_path, render_rep_pdf(result.xml, sandbox=result.sandbox))
        data["xml_path"], data["pdf_path"] = str(xml_path), str(pdf_path)
    return data


def _echo_result(data: dict[str, Any]) -> None:
    if data["status"] == RepStatus.TIMBRADO:
        click.echo(f"REP {data['serie']}-{data['folio']} timbrado: {data['uuid']}")
        if data.get("sandbox"):
            click.echo(f"  {SANDBOX_NOTE}")
        for key, label in (("xml_path", "XML"), ("pdf_path", "PDF")):
            if data.get(key):
                click.echo(f"  {label}: {data[key]}")
    else:
        click.echo(f"REP no timbrado ({data['status']}): {data.get('message') or ''}")
    for f in data.get("findings", []):
        click.echo(f"  [{f['code']}] {f['message']}" + (f" ({f['location']})" if f.get("location") else ""))


@click.group("rep")
def rep_group() -> None:
    """Complementos de pago (REP): emitir, validar, cancelar, imprimir."""


@rep_group.command("issue")
@click.argument("payment_ids", nargs=-1, type=int)
@click.option("--all-pending", is_flag=True, help="Emite para todos los pagos pendientes de REP.")
@click.option("--monthly", is_flag=True, help="Un REP por cliente y mes (con --all-pending).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Carpeta para el XML y el PDF.")
@json_option
@pass_app
def rep_issue(app: AppContext, payment_ids: tuple[int, ...], all_pending: bool, monthly: bool, out: Path | None,
              as_json: bool) -> int:
    """Emite, firma y timbra el REP de un pago (o de varios pagos del mismo cliente)."""
    if bool(payment_ids) == all_pending:
        raise click.UsageError("Indique PAYMENT_ID(s) o --all-pending.")
    stamper = _stamper(app)
    results = stamper.issue_all_pending(monthly=monthly) if all_pending else [stamper.issue(list(payment_ids))]
    outputs = [_write_outputs(app, r, out) for r in results]
    if as_json:
        emit_json(outputs[0] if not all_pending else {"results": outputs})
    else:
        if not outputs:
            click.echo("No hay pagos pendientes de REP.")
        for data in outputs:
            _echo_result(data)
    return EXIT_OK if all(r.status == RepStatus.TIMBRADO for r in results) else EXIT_ITEMS_FAILED


@rep_group.command("retry")
@json_option
@pass_app
def rep_retry(app: AppContext, as_json: bool) -> int:
    """Reenvía los REP que quedaron en envío (mismos bytes y llave: nunca timbra dos veces)."""
    results = _stamper(app).retry()
    if as_json:
        emit_json({"results": [r.to_dict() for r in results]})
    else:
        if not results:
            click.echo("No hay REP en envío.")
        for r in results:
            _echo_result(_write_outputs(app, r, None))
    return EXIT_OK if all(r.status == RepStatus.TIMBRADO for r in results) else EXIT_ITEMS_FAILED


@rep_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def rep_validate(files: tuple[Path, ...], as_json: bool) -> int:
    """Valida REP de cualquier origen: XSD y reglas CRP del SAT verificables sin conexión."""
    report: list[dict[str, Any]] = []
    for path in files:
        findings = validate_rep(path.read_bytes())
        report.append({"file": str(path), "valid": not any(f.severity.value == "ERROR" for f in findings),
                       "findings": [{"code": f.code, "severity": f.severity.value, "message": f.message,
                                     "location": f.location} for f in findings]})
    if as_json:
        emit_json({"results": report})
    else:
        for r in report:
            click.echo(f"{'VÁLIDO' if r['valid'] else 'CON ERRORES'}: {r['file']}")
            for f in r["findings"]:
                click.echo(f"  {f['severity']:<7} [{f['code']}] {f['message']} ({f['location']})")
    return EXIT_OK if all(r["valid"] for r in report) else EXIT_ITEMS_FAILED


@rep_group.command("cancel")
@click.argument("uuid")
@click.option("--motive", type=click.Choice(["01", "02", "03", "04"]), required=True, help="Motivo de cancelación.")
@click.option("--replace", is_flag=True, help="Motivo 01: emite primero el REP sustituto (TipoRelacion 04).")
@json_option
@pass_app
def rep_cancel(app: AppContext, uuid: str, motive: str, replace: bool, as_json: bool) -> int:
    """Cancela un REP timbrado (con sustitución para el motivo 01)."""
    data = _stamper(app).cancel(uuid, motive, replace=replace).to_dict()
    if as_json:
        emit_json(data)
    else:
        click.echo(f"REP {data['uuid']}: {data['status']} (motivo {motive}).")
        if data["sustituto"]:
            click.echo(f"  Sustituido por {data['sustituto']['uuid']} ({data['sustituto']['serie']}-"
                       f"{data['sustituto']['folio']}).")
    return EXIT_OK


@rep_group.command("show")
@click.argument("uuid")
@json_option
@pass_app
def rep_show(app: AppContext, uuid: str, as_json: bool) -> int:
    """Muestra un REP."""
    with transaction(app.engine) as session:
        rep = stamping.find_rep(session, uuid)
        data = stamping.rep_dict(rep, rep.customer)
        xml = rep.stamped_xml
    if as_json:
        data["xml"] = xml.decode("utf-8") if xml else None
        emit_json(data)
        return EXIT_OK
    for key in ("uuid", "serie", "folio", "status", "fecha", "fecha_timbrado", "pac", "pagos", "sustituido_por"):
        click.echo(f"{key:>15}: {data[key]}")
    if data["sandbox"]:
        click.echo(f"{'':>15}  {SANDBOX_NOTE}")
    return EXIT_OK


@rep_group.command("pdf")
@click.argument("uuid")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--html", "as_html", is_flag=True, help="Genera HTML en lugar de PDF.")
@pass_app
def rep_pdf(app: AppContext, uuid: str, out: Path, as_html: bool) -> int:
    """Genera la representación impresa (PDF o HTML) de un REP timbrado."""
    with transaction(app.engine) as session:
        rep = stamping.find_rep(session, uuid)
        xml, sandbox = rep.stamped_xml, rep.sandbox
    assert xml is not None
    from cfdi_cobranza.pdf.rep import (  # fpdf: 0.2 s, only this command
        render_rep_html,
        render_rep_pdf,
    )

    if as_html:
        write_output(out, render_rep_html(xml, sandbox=sandbox))
    else:
        write_output(out, render_rep_pdf(xml, sandbox=sandbox))
    click.echo(f"Escrito {out}" + (f" — {SANDBOX_NOTE}" if sandbox else ""))
    return EXIT_OK


@rep_group.command("pending")
@click.option("--as-of", "as_of", metavar="AAAA-MM-DD", help="Fecha para contar los días restantes (hoy).")
@json_option
@pass_app
def rep_pending(app: AppContext, as_of: str | None, as_json: bool) -> int:
    """Pagos sobre facturas PPD sin REP, con su fecha límite (día 5 del mes siguiente)."""
    try:
        today = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise click.BadParameter(f"fecha inválida «{as_of}»; use AAAA-MM-DD.", param_hint="--as-of") from None
    if not date_in_window(today):
        raise click.BadParameter(window_message("la fecha", today), param_hint="--as-of")
    with transaction(app.engine) as session:
        rows = stamping.pending(session, today=today, deadline_day=app.settings.rep_deadline_day)
    if as_json:
        emit_json({"as_of": today.isoformat(), "pending": [r.to_dict() for r in rows]})
        return EXIT_OK
    if not rows:
        click.echo("No hay pagos pendientes de REP.")
        return EXIT_OK
    body = [[str(r.payment_id), r.fecha_pago.strftime("%d/%m/%Y"), r.customer_rfc, fmt_money(r.monto, r.moneda),
             str(r.documentos), r.deadline.strftime("%d/%m/%Y"),
             "VENCIDO" if r.late else f"{r.days_left} días"] for r in rows]
    click.echo(table(body, ["Pago", "Fecha", "Cliente", "Monto", "Docs", "Límite", "Restan"], {3, 4}))
    waiting = [str(r.payment_id) for r in rows if r.por_confirmar]
    if waiting:
        click.echo(f"Pagos anteriores a su factura: su REP no se emite hasta confirmarlos: {', '.join(waiting)} "
                   "(cobranza payment confirm-advance PAYMENT_ID).")
    return EXIT_OK


@click.command("reps")
@json_option
@pass_app
def reps_cmd(app: AppContext, as_json: bool) -> int:
    """Lista los REP emitidos."""
    with transaction(app.engine) as session:
        rows = stamping.list_reps(session)
    if as_json:
        emit_json({"reps": rows})
    elif rows:
        click.echo(table([[f"{r['serie']}-{r['folio']}", r["uuid"] or "", r["customer_rfc"] or "", r["status"],
                           r["fecha"][:10], "sandbox" if r["sandbox"] else r["pac"]] for r in rows],
                         ["Serie-Folio", "Folio fiscal", "Cliente", "Estado", "Fecha", "PAC"]))
    else:
        click.echo("No hay REP emitidos.")
    return EXIT_OK


@click.command("csd")
@click.option("--rfc", required=True, help="RFC de la empresa.")
@click.option("--cer", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_app
def company_csd(app: AppContext, rfc: str, cer: Path, key_path: Path, as_json: bool) -> int:
    """Registra el CSD de la empresa. La contraseña se lee de COBRANZA_CSD_PASSWORD o se pide."""
    password = os.environ.get("COBRANZA_CSD_PASSWORD")
    if password is None:
        password = click.prompt("Contraseña de la llave privada", hide_input=True)
    with transaction(app.engine) as session:
        csd = stamping.register_csd(session, rfc, cer.read_bytes(), key_path.read_bytes(), password,
                                    SecretBox.for_instance(app.settings.instance_path), today=date.today())
        data = {"rfc": rfc.upper(), "no_certificado": csd.no_certificado, "valid_to": csd.valid_to.isoformat()}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"CSD {data['no_certificado']} registrado para {data['rfc']} (vigente hasta {data['valid_to']}). "
                   "La llave se guardó cifrada.")
    return EXIT_OK


@click.command("pac")
@click.option("--rfc", required=True, help="RFC de la empresa.")
@click.option("--name", "pac_name", type=click.Choice(["sandbox", "finkok", "sw"]), help="PAC de la cuenta propia.")
@click.option("--env", "pac_env", type=click.Choice(["test", "production"]), default="test", show_default=True,
              help="Ambiente de la cuenta.")
@click.option("--user", "pac_user", help="Usuario de la cuenta en el PAC.")
@click.option("--url", "pac_url", help="Servidor del PAC, si no es el de siempre.")
@click.option("--default", "use_default", is_flag=True,
              help="Borra la cuenta propia: la empresa timbra con el PAC de la instalación.")
@json_option
@pass_app
def company_pac(app: AppContext, rfc: str, pac_name: str | None, pac_env: str, pac_user: str | None,
                pac_url: str | None, use_default: bool, as_json: bool) -> int:
    """La cuenta de PAC propia de la empresa RFC (cada empresa puede timbrar con la suya).

    La contraseña se lee de COBRANZA_PAC_PASSWORD y el token de COBRANZA_PAC_TOKEN (nunca
    como argumento); se guardan cifrados. Sin --name ni --default muestra la cuenta.
    """
    with transaction(app.engine) as session:
        if use_default:
            removed = app_settings.clear_company_pac(session, rfc, actor="cli")
            return reply(as_json, {"rfc": rfc.upper(), "propia": False, "borrada": removed},
                         f"{rfc.upper()} timbra con el PAC de la instalación.")
        if pac_name is not None:
            view = app_settings.set_pac_setting(
                session, SecretBox.for_instance(app.settings.instance_path), name=pac_name, env=pac_env,
                user=pac_user, password=os.environ.get("COBRANZA_PAC_PASSWORD"),
                token=os.environ.get("COBRANZA_PAC_TOKEN"), url=pac_url, actor="cli", company_rfc=rfc)
        else:
            view = app_settings.get_pac_setting(session, company_rfc=rfc)
    data = {"rfc": rfc.upper(), "propia": view.stored, "pac": view.name, "ambiente": view.env, "usuario": view.user,
            "url": view.url, "contrasena_guardada": view.password_set, "token_guardado": view.token_set}
    text = (f"{rfc.upper()} timbra con su propia cuenta: {view.label} ({view.env}), usuario {view.user or '—'}."
            if view.stored else f"{rfc.upper()} timbra con el PAC de la instalación.")
    return reply(as_json, data, text)


def register(cli: click.Group) -> None:
    cli.add_command(rep_group)
    cli.add_command(reps_cmd)
    company = cli.commands.get("company")
    if isinstance(company, click.Group):
        company.add_command(company_csd)
        company.add_command(company_pac)


