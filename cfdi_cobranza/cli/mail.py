"""Email: ``customer contact``, ``customer link``, ``rep send`` and the ``mail`` group
(log, send-pending, resend, config, company, template, statement, letter, remind)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from cfdi_cobranza.cli.common import (
    EXIT_ITEMS_FAILED,
    EXIT_OK,
    AppContext,
    actor_option,
    as_of_option,
    date_option,
    date_range,
    json_option,
    pass_app,
    reply,
    table,
    today,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.mail import PLACEHOLDERS
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.mail import alerts, config, contacts, documents, links, outbox
from cfdi_cobranza.services.mail.delivery import Delivery, Mailer, deliver_due, deliver_message


def _mailer(app: AppContext) -> Mailer:
    return Mailer.from_settings(app.engine, app.settings.instance_path)


def _deliver_now(app: AppContext, queued: outbox.Queued) -> list[Delivery]:
    """Send what was just queued when a server is configured; else it waits for ``mail send-pending``."""
    mailer = _mailer(app)
    if mailer.smtp is None or not queued.ids:
        return []
    return [deliver_message(app.engine, i, mailer=mailer) for i in queued.ids]


def _queued_text(queued: outbox.Queued, sent: list[Delivery]) -> str:
    lines = [f"{len(queued.ids)} correo(s) en cola."]
    if queued.duplicates:
        lines.append(f"Ya estaban en cola o enviados: {', '.join(queued.duplicates)}")
    if queued.skipped:
        lines.append(f"No se envía a (pidieron no recibir correos): {', '.join(queued.skipped)}")
    for d in sent:
        lines.append(f"  correo {d.message_id}: {d.status or 'pendiente'}" + (f" — {d.answer}" if d.answer else ""))
    if queued.ids and not sent:
        lines.append("Sin servidor SMTP configurado: se enviarán con «cobranza mail send-pending».")
    return "\n".join(lines)


def _queued_reply(app: AppContext, queued: outbox.Queued, as_json: bool) -> int:
    sent = _deliver_now(app, queued)
    reply(as_json, {**queued.to_dict(), "envios": [d.to_dict() for d in sent]}, _queued_text(queued, sent))
    failed = any(d.status in (MailStatus.RECHAZADO, MailStatus.FALLIDO) for d in sent)
    return EXIT_ITEMS_FAILED if failed else EXIT_OK


# --- customer contact ------------------------------------------------------------------

@click.group("contact")
def contact_group() -> None:
    """Contactos de correo del cliente (pagos, cobranza o ambos)."""


@contact_group.command("add")
@click.argument("rfc")
@click.option("--email", required=True, help="Dirección de correo.")
@click.option("--rol", default="ambos", show_default=True, help="pagos (recibe REP), cobranza o ambos.")
@click.option("--nombre", help="Nombre del contacto.")
@actor_option
@json_option
@pass_app
def contact_add(app: AppContext, rfc: str, email: str, rol: str, nombre: str | None, actor: str,
                as_json: bool) -> int:
    """Agrega (o actualiza) un contacto de correo del cliente."""
    with transaction(app.engine) as s:
        c = contacts.add_contact(s, rfc, email, rol=rol, nombre=nombre, actor=actor)
    return reply(as_json, {"contacto": c.to_dict()}, f"Contacto {c.id}: {c.email} ({c.rol}) de {c.customer_rfc}.")


def _contacts_table(items: list[contacts.ContactView]) -> str:
    return table([[str(c.id), c.email, c.rol.value, c.nombre or "", "no enviar" if c.opt_out else ""] for c in items],
                 ["Id", "Correo", "Rol", "Nombre", ""])


@contact_group.command("list")
@click.argument("rfc")
@json_option
@pass_app
def contact_list(app: AppContext, rfc: str, as_json: bool) -> int:
    """Lista los contactos de correo del cliente."""
    with transaction(app.engine) as s:
        items = contacts.list_contacts(s, rfc)
    return reply(as_json, {"contactos": [c.to_dict() for c in items]},
                 _contacts_table(items) if items else "El cliente no tiene contactos de correo.")


@contact_group.command("remove")
@click.argument("rfc")
@click.argument("contacto")
@actor_option
@json_option
@pass_app
def contact_remove(app: AppContext, rfc: str, contacto: str, actor: str, as_json: bool) -> int:
    """Elimina un contacto (CONTACTO: su correo o su id); sus correos en cola no se envían."""
    with transaction(app.engine) as s:
        c = contacts.remove_contact(s, rfc, contacto, actor=actor)
    return reply(as_json, {"eliminado": c.to_dict()}, f"Contacto {c.email} eliminado.")


@contact_group.command("opt-out")
@click.argument("rfc")
@click.argument("contacto")
@click.option("--undo", is_flag=True, help="Vuelve a enviarle correos.")
@actor_option
@json_option
@pass_app
def contact_opt_out(app: AppContext, rfc: str, contacto: str, undo: bool, actor: str, as_json: bool) -> int:
    """El contacto pidió no recibir correos (sus correos en cola se cancelan)."""
    with transaction(app.engine) as s:
        c = contacts.set_opt_out(s, rfc, contacto, not undo, actor=actor)
    return reply(as_json, {"contacto": c.to_dict()},
                 f"{c.email}: {'no recibirá correos' if c.opt_out else 'vuelve a recibir correos'}.")


@contact_group.command("import")
@click.argument("archivo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option
@json_option
@pass_app
def contact_import(app: AppContext, archivo: Path, actor: str, as_json: bool) -> int:
    """Importa contactos de un CSV con columnas rfc,email[,rol][,nombre]; todo o nada."""
    with transaction(app.engine) as s:
        res = contacts.import_contacts(s, archivo.read_bytes(), actor=actor)
    return reply(as_json, res.to_dict(), f"{len(res.added)} contacto(s) importados.")


# --- customer link ---------------------------------------------------------------------

@click.group("link")
def link_group() -> None:
    """Enlace de consulta para el cliente (sin cuenta): crear, listar, revocar."""


@link_group.command("create")
@click.argument("rfc")
@click.option("--days", type=int, help="Vigencia en días (60 por omisión, COBRANZA_LINK_DAYS).")
@actor_option
@json_option
@pass_app
def link_create(app: AppContext, rfc: str, days: int | None, actor: str, as_json: bool) -> int:
    """Crea un enlace firmado de solo lectura para el cliente y lo imprime."""
    key = links.link_key(app.settings.instance_path)
    with transaction(app.engine) as s:
        view = links.create_link(s, key, rfc, actor=actor, days=days)
    return reply(as_json, {"enlace": view.to_dict()},
                 f"Enlace {view.id} para {view.customer_rfc}, vence {view.expires_at:%Y-%m-%d}:\n{view.url}")


@link_group.command("list")
@click.argument("rfc")
@json_option
@pass_app
def link_list(app: AppContext, rfc: str, as_json: bool) -> int:
    """Enlaces del cliente (el token no se guarda: solo se ve al crearlo o en el correo)."""
    with transaction(app.engine) as s:
        items = links.list_links(s, rfc)
    rows = [[str(v.id), f"{v.created_at:%Y-%m-%d}", f"{v.expires_at:%Y-%m-%d}",
             f"{v.revoked_at:%Y-%m-%d}" if v.revoked_at else "",
             f"{v.last_used_at:%Y-%m-%d %H:%M}" if v.last_used_at else ""] for v in items]
    return reply(as_json, {"enlaces": [v.to_dict() for v in items]},
                 table(rows, ["Id", "Creado", "Vence", "Revocado", "Último uso"]) if items else "Sin enlaces.")


@link_group.command("revoke")
@click.argument("rfc")
@click.option("--id", "link_id", type=int, help="Solo este enlace (todos si se omite).")
@actor_option
@json_option
@pass_app
def link_revoke(app: AppContext, rfc: str, link_id: int | None, actor: str, as_json: bool) -> int:
    """Revoca los enlaces del cliente (o uno): dejan de abrir su página al instante."""
    with transaction(app.engine) as s:
        count = links.revoke_links(s, rfc, link_id=link_id, actor=actor)
    return reply(as_json, {"revocados": count}, f"{count} enlace(s) revocados.")


# --- rep send --------------------------------------------------------------------------

@click.command("send")
@click.argument("uuid")
@click.option("--to", "to", metavar="CORREO[,CORREO]", help="Enviar a estas direcciones en lugar de los contactos.")
@click.option("--again", is_flag=True, help="Reenviar aunque ya se haya enviado a esos contactos.")
@actor_option
@json_option
@pass_app
def rep_send(app: AppContext, uuid: str, to: str | None, again: bool, actor: str, as_json: bool) -> int:
    """Envía (o reenvía con --again) el REP con su XML y PDF a los contactos de pagos del cliente."""
    with transaction(app.engine) as s:
        queued = outbox.queue_rep(s, uuid, actor=actor, to=to, again=again)
    return _queued_reply(app, queued, as_json)


# --- mail ------------------------------------------------------------------------------

@click.group("mail")
def mail_group() -> None:
    """Correo: bitácora de envíos, envío de pendientes, servidor SMTP, plantillas."""


def _log_rows(entries: list[outbox.LogEntry]) -> str:
    return table([[str(e.id), f"{e.created_at:%Y-%m-%d %H:%M}", e.kind, e.status, e.to_addr, str(e.attempts),
                   (e.last_answer or "")[:60]] for e in entries],
                 ["Id", "Creado (UTC)", "Tipo", "Estado", "Para", "Int.", "Respuesta del servidor"], {5})


@mail_group.command("log")
@click.option("--customer", "rfc", metavar="RFC", help="Solo los correos de este cliente.")
@click.option("--rep", "rep_uuid", metavar="UUID", help="Solo los correos de este REP.")
@click.option("--status", metavar="ESTADO", help="en_cola, enviando, enviado, rechazado, fallido, incierto, cancelado.")
@click.option("--limit", type=int, default=200, show_default=True)
@json_option
@pass_app
def mail_log(app: AppContext, rfc: str | None, rep_uuid: str | None, status: str | None, limit: int,
             as_json: bool) -> int:
    """Bitácora de envíos: un renglón por correo, con su estado y la última respuesta del servidor."""
    with transaction(app.engine) as s:
        entries = outbox.mail_log(s, rfc=rfc, rep_uuid=rep_uuid, status=status, limit=limit)
    return reply(as_json, {"correos": [e.to_dict() for e in entries]},
                 _log_rows(entries) if entries else "Sin correos.")


@mail_group.command("send-pending")
@json_option
@pass_app
def mail_send_pending(app: AppContext, as_json: bool) -> int:
    """Envía ahora los correos en cola cuyo intento ya toca (lo que hará el trabajador de fondo)."""
    done = deliver_due(app.engine, mailer=_mailer(app))
    counts: dict[str, int] = {}
    for d in done:
        key = d.status.value if d.status else "tomado_por_otro"
        counts[key] = counts.get(key, 0) + 1
    text = (f"{len(done)} correo(s) procesados: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            if done else "No hay correos pendientes.")
    reply(as_json, {"envios": [d.to_dict() for d in done], "resumen": counts}, text)
    return EXIT_ITEMS_FAILED if counts.get("rechazado") or counts.get("fallido") else EXIT_OK


@mail_group.command("resend")
@click.argument("message_id", type=int)
@actor_option
@json_option
@pass_app
def mail_resend(app: AppContext, message_id: int, actor: str, as_json: bool) -> int:
    """Vuelve a poner en cola un correo fallido o incierto (mismo Message-ID) y lo envía."""
    with transaction(app.engine) as s:
        entry = outbox.resend(s, message_id, actor=actor)
    return _queued_reply(app, outbox.Queued(ids=[entry.id]), as_json)


@mail_group.command("config")
@click.option("--url", help="smtp://usuario:contraseña@servidor:587?starttls=1 (o smtps://...:465).")
@click.option("--from", "from_addr", help="Remitente (correo).")
@click.option("--password-prompt", is_flag=True, help="Pide la contraseña en la terminal (no la deje en el historial).")
@actor_option
@json_option
@pass_app
def mail_config(app: AppContext, url: str | None, from_addr: str | None, password_prompt: bool, actor: str,
                as_json: bool) -> int:
    """Muestra o guarda el servidor SMTP (la contraseña se guarda cifrada; COBRANZA_SMTP_URL manda)."""
    box = SecretBox.for_instance(app.settings.instance_path)
    with transaction(app.engine) as s:
        if url or from_addr:
            if not (url and from_addr):
                raise click.UsageError("indique --url y --from juntos.")
            password = click.prompt("Contraseña SMTP", hide_input=True) if password_prompt else None
            config.set_smtp_setting(s, box, url=url, from_addr=from_addr, actor=actor, password=password)
        current = config.smtp_config(s, box)
    if current is None:
        return reply(as_json, {"smtp": None}, "Sin servidor SMTP: defina COBRANZA_SMTP_URL o use --url y --from.")
    d = current.to_dict()
    return reply(as_json, {"smtp": d}, f"{d['seguridad']}://{d['usuario'] or '-'}@{d['host']}:{d['puerto']}, "
                                       f"remitente {d['remitente']}, contraseña "
                                       f"{'guardada' if d['contrasena_guardada'] else 'no'}.")


@mail_group.command("company")
@click.argument("rfc")
@click.option("--rep-auto/--no-rep-auto", default=None, help="Enviar cada REP a los contactos de pagos al timbrar.")
@click.option("--reminder-days", type=int, help="Recordar N días antes del vencimiento.")
@click.option("--no-reminder", is_flag=True, help="Sin recordatorios.")
@click.option("--alert-emails", metavar="CORREOS", help="Quién recibe la alerta de REP por vencer (separados por coma).")
@actor_option
@json_option
@pass_app
def mail_company(app: AppContext, rfc: str, rep_auto: bool | None, reminder_days: int | None, no_reminder: bool,
                 alert_emails: str | None, actor: str, as_json: bool) -> int:
    """Opciones de correo de la empresa (sin opciones: las muestra)."""
    with transaction(app.engine) as s:
        if rep_auto is None and reminder_days is None and not no_reminder and alert_emails is None:
            view = config.get_company_options(s, rfc)
        else:
            view = config.set_company_options(s, rfc, actor=actor, rep_auto=rep_auto, reminder_days=reminder_days,
                                              clear_reminder=no_reminder, alert_emails=alert_emails)
    d = view.to_dict()
    return reply(as_json, {"opciones": d},
                 f"{d['empresa']}: REP al timbrar {'sí' if d['enviar_rep_al_timbrar'] else 'no'}; recordatorio "
                 f"{str(d['dias_recordatorio']) + ' días antes' if d['dias_recordatorio'] else 'no'}; alertas a "
                 f"{', '.join(d['correos_alerta']) or 'nadie'}.")


@mail_group.command("template")
@click.argument("kind")
@click.option("--subject", help="Nuevo asunto.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Nuevo cuerpo.")
@click.option("--reset", is_flag=True, help="Vuelve a la plantilla original.")
@actor_option
@json_option
@pass_app
def mail_template(app: AppContext, kind: str, subject: str | None, body_file: Path | None, reset: bool, actor: str,
                  as_json: bool) -> int:
    """Muestra o cambia la plantilla de un tipo de correo (rep, estado_cuenta, carta, recordatorio, alerta_rep)."""
    k = outbox.parse_kind(kind)
    with transaction(app.engine) as s:
        if reset:
            tpl = outbox.reset_template(s, k.value, actor=actor)
        elif subject or body_file:
            current = outbox.template(s, k)
            body = body_file.read_text(encoding="utf-8") if body_file else current.body
            tpl = outbox.set_template(s, k.value, subject or current.subject, body, actor=actor)
        else:
            tpl = outbox.template(s, k)
    fields = sorted(PLACEHOLDERS[k])
    return reply(as_json, {"tipo": k.value, "asunto": tpl.subject, "cuerpo": tpl.body, "campos": fields},
                 f"Asunto: {tpl.subject}\n\n{tpl.body}\nCampos: {', '.join('{' + f + '}' for f in fields)}")


@mail_group.command("statement")
@click.argument("rfc")
@click.option("--from", "desde", callback=date_option, metavar="FECHA", help="Inicio (90 días antes si se omite).")
@click.option("--to", "hasta", callback=date_option, metavar="FECHA", help="Fecha de corte (hoy si se omite).")
@click.option("--again", is_flag=True, help="Enviar aunque ya se haya enviado el de esa fecha.")
@actor_option
@json_option
@pass_app
def mail_statement(app: AppContext, rfc: str, desde: date | None, hasta: date | None, again: bool, actor: str,
                   as_json: bool) -> int:
    """Envía el estado de cuenta en PDF a los contactos de cobranza del cliente."""
    hasta = hasta or today()
    rango = date_range(desde or hasta - timedelta(days=90), hasta)
    with transaction(app.engine) as s:
        queued = documents.send_statement(s, rfc, rango, actor=actor, again=again)
    return _queued_reply(app, queued, as_json)


@mail_group.command("letter")
@click.argument("rfc")
@click.option("--kind", required=True, help="Tipo de carta, como en «cobranza letters».")
@as_of_option
@click.option("--again", is_flag=True, help="Enviar aunque ya se haya enviado la de esa fecha.")
@actor_option
@json_option
@pass_app
def mail_letter(app: AppContext, rfc: str, kind: str, as_of: date | None, again: bool, actor: str,
                as_json: bool) -> int:
    """Envía una carta de cobranza en PDF a los contactos de cobranza del cliente."""
    with transaction(app.engine) as s:
        queued = documents.send_letter(s, rfc, kind, as_of or today(), actor=actor, again=again)
    return _queued_reply(app, queued, as_json)


@mail_group.command("remind")
@as_of_option
@json_option
@pass_app
def mail_remind(app: AppContext, as_of: date | None, as_json: bool) -> int:
    """Pone en cola los recordatorios de pago de las empresas que los tienen activos (una vez al día)."""
    with transaction(app.engine) as s:
        run = documents.queue_reminders(s, as_of or today(), actor="cli")
    data: dict[str, Any] = run.to_dict()
    return reply(as_json, data, f"{len(run.queued)} recordatorio(s) en cola para {run.customers} cliente(s).")


@mail_group.command("alert")
@as_of_option
@click.option("--within", "within_days", type=int, default=3, show_default=True,
              help="Avisar cuando falten N días o menos para el límite del REP.")
@json_option
@pass_app
def mail_alert(app: AppContext, as_of: date | None, within_days: int, as_json: bool) -> int:
    """Pone en cola la alerta de pagos sin REP cerca del día límite (a los correos de alerta de la empresa)."""
    with transaction(app.engine) as s:
        queued = alerts.queue_deadline_alerts(s, as_of or today(), within_days=within_days,
                                              deadline_day=app.settings.rep_deadline_day, actor="cli")
    return _queued_reply(app, queued, as_json)


def register(cli: click.Group) -> None:
    cli.add_command(mail_group)
    for group, command in (("customer", contact_group), ("customer", link_group), ("rep", rep_send)):
        parent = cli.commands.get(group)
        assert isinstance(parent, click.Group), f"register {group} before mail"
        parent.add_command(command)
