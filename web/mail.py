"""Correo: the delivery log, sending what is due, the SMTP server; per customer, its
contacts, its links and its messages (``/clientes/<id>/correo``).

Every write goes through ``cfdi_cobranza.services.mail`` (the same calls as the CLI and
the API); the SMTP password is sealed there and never echoed back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.domain.mail import KIND_LABELS, PLACEHOLDERS, ContactRole, MailKind
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import CobranzaError, NotFoundError, ValidationError
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services.customers import customer_key
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.mail import config, contacts, documents, links, outbox, portal
from cfdi_cobranza.services.mail.delivery import Mailer, deliver_due, deliver_message
from web.clock import clock, today
from web.db import engine, get_session, settings
from web.security import ADMINS, READERS, require_role
from web.services import collections as collections_view

bp = Blueprint("mail", __name__)

MAIL_EDITORS = frozenset({"administrador", "cobranza"})
STATUS_LABELS = {s.value: s.etiqueta for s in MailStatus}


def _mailer() -> Mailer:
    return Mailer.from_settings(engine(), settings().instance_path, clock=clock())


def _box() -> SecretBox:
    return SecretBox.for_instance(settings().instance_path)


@bp.route("/correo/", methods=["GET"])
@require_role(*READERS)
def index(error: str | None = None, status: int = 200) -> Any:
    db = get_session()
    db.rollback()
    estado = (request.args.get("estado") or "").strip()[:20] or None
    try:
        log = outbox.mail_log(db, status=estado, rep_uuid=(request.args.get("rep") or "")[:40] or None, limit=300)
    except CobranzaError as exc:
        log, error, status = [], exc.message, 400
    smtp = config.smtp_config(db, _box())
    is_admin = g.user.role in ADMINS
    companies = config.all_company_options(db) \
        if is_admin else []
    templates = {k: (outbox.template(db, k), sorted(PLACEHOLDERS[k])) for k in MailKind} if is_admin else {}
    return render_template("mail/index.html", log=log, smtp=smtp, error=error, estado=estado or "",
                           statuses=STATUS_LABELS, kinds=KIND_LABELS, can_send=g.user.role in MAIL_EDITORS,
                           is_admin=is_admin, companies=companies, templates=templates, active="correo"), status


@bp.route("/correo/enviar", methods=["POST"])
@require_role(*MAIL_EDITORS)
def send_pending() -> Any:
    try:
        done = deliver_due(engine(), mailer=_mailer(), company_ids=company_ids(get_session()))
    except CobranzaError as exc:
        return index(error=exc.message, status=400)
    sent = sum(1 for d in done if d.status is MailStatus.ENVIADO)
    flash(f"{len(done)} correo(s) procesados, {sent} enviados.", "ok")
    return redirect(url_for("mail.index"))


@bp.route("/correo/smtp", methods=["POST"])
@require_role(*ADMINS)
def smtp_setting() -> Any:
    db = get_session()
    try:
        config.set_smtp_setting(db, _box(), url=request.form.get("url", "")[:500],
                                from_addr=request.form.get("remitente", "")[:320], actor=g.user.username,
                                password=request.form.get("password") or None, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return index(error=exc.message, status=400)
    flash("Servidor de correo guardado (la contraseña, cifrada).", "ok")
    return redirect(url_for("mail.index"))


@bp.route("/correo/cartas", methods=["POST"])
@require_role(*MAIL_EDITORS)
def send_letters() -> Any:
    """The letters form of Seguimiento, by email (each customer's letter to its collection contacts)."""
    form = {k: request.form.get(k, "")[:120] for k in ("tipo", "corte", "cliente", "vendedor", "zona",
                                                       "clasificacion", "sucursal", "empresa", "dias_minimos",
                                                       "firmante")}
    db = get_session()
    try:
        run = collections_view.letters_by_email(db, form, today(), actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("followups.letters", cliente=form["cliente"]))
    sent = _deliver_now(run.queued)
    text = f"{run.letters} carta(s): {len(run.queued.ids)} correo(s) en cola{sent}."
    if run.queued.duplicates:
        text += f" Ya enviadas con esa fecha: {len(run.queued.duplicates)}."
    if run.without_contacts:
        text += f" Sin contacto de cobranza (no se enviaron): {', '.join(run.without_contacts)}."
    flash(text, "ok")
    return redirect(url_for("followups.letters", cliente=form["cliente"]))


@bp.route("/correo/estado-de-cuenta", methods=["POST"])
@require_role(*MAIL_EDITORS)
def send_statement_report() -> Any:
    """The statement page's "send by email": the period shown, to the customer's collection contacts."""
    form = {k: request.form.get(k, "")[:100] for k in ("cliente", "desde", "hasta")}
    back = url_for("reports.statement", cliente=form["cliente"], desde=form["desde"], hasta=form["hasta"])
    db = get_session()
    try:
        params = collections_view.parse_params(form, today())
        queued = documents.send_statement(db, form["cliente"], params.rango(), actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(f"Estado de cuenta: {len(queued.ids)} correo(s) en cola{_deliver_now(queued)}"
          + (f"; ya enviado con esa fecha a {', '.join(queued.duplicates)}" if queued.duplicates else "") + ".", "ok")
    return redirect(back)


def _deliver_now(queued: outbox.Queued) -> str:
    """Send what was just queued when a server is configured; what is queued stays queued otherwise."""
    if not queued.ids:
        return ""
    try:
        mailer = _mailer()
    except CobranzaError as exc:  # a misconfigured server: the messages wait in the queue
        return f" (quedan en cola: {exc.message})"
    if mailer.smtp is None:
        return " (sin servidor SMTP: quedan en cola)"
    sent = [deliver_message(engine(), i, mailer=mailer) for i in queued.ids]
    return f", {sum(1 for d in sent if d.status is MailStatus.ENVIADO)} enviados"


@bp.route("/correo/empresa", methods=["POST"])
@require_role(*ADMINS)
def company_options() -> Any:
    db = get_session()
    days = (request.form.get("dias_recordatorio") or "").strip()[:3]
    try:
        if days and not days.isdigit():
            raise ValidationError("Los días de anticipación del recordatorio deben ser un número.",
                                  code="RECORDATORIO_DIAS_INVALIDO")
        config.set_company_options(db, request.form.get("rfc", "")[:13], actor=g.user.username,
                                   rep_auto=request.form.get("rep_auto") == "1",
                                   reminder_days=int(days) if days else None, clear_reminder=not days,
                                   alert_emails=request.form.get("correos_alerta", "")[:1000], clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return index(error=exc.message, status=400)
    flash("Opciones de correo de la empresa guardadas.", "ok")
    return redirect(url_for("mail.index") + "#empresas")


@bp.route("/correo/plantilla", methods=["POST"])
@require_role(*ADMINS)
def template() -> Any:
    db = get_session()
    try:
        if request.form.get("original") == "1":
            outbox.reset_template(db, request.form.get("tipo", "")[:20], actor=g.user.username, clock=clock())
        else:
            outbox.set_template(db, request.form.get("tipo", "")[:20], request.form.get("asunto", "")[:300],
                                request.form.get("cuerpo", "")[:10000], actor=g.user.username, clock=clock())
        db.commit()
    except CobranzaError as exc:
        db.rollback()
        return index(error=exc.message, status=400)
    flash("Plantilla guardada.", "ok")
    return redirect(url_for("mail.index") + "#plantillas")


# --- one customer --------------------------------------------------------------------

def _customer_page(customer_id: int, *, error: str | None = None, status: int = 200,
                   new_link: str | None = None) -> Any:
    db = get_session()
    db.rollback()
    try:
        key = customer_key(db, customer_id)
    except NotFoundError:
        abort(404)
    customer = find_customer(db, key)
    return render_template(
        "mail/customer.html", customer=customer, contacts=contacts.contacts_of(db, customer),
        links=links.list_links(db, key), log=outbox.mail_log(db, rfc=key, limit=200),
        reps=portal.portal_view(db, customer, today()).reps, roles=[r.value for r in ContactRole],
        statuses=STATUS_LABELS, kinds=KIND_LABELS, can_edit=g.user.role in MAIL_EDITORS, error=error,
        new_link=new_link, now=clock()(), active="clientes"), status


@bp.route("/clientes/<int:customer_id>/correo", methods=["GET"])
@require_role(*READERS)
def customer(customer_id: int) -> Any:
    return _customer_page(customer_id)


def _write(customer_id: int, action: Callable[[str], Any], done: Callable[[Any], str], *,
           deliver: bool = False) -> Any:
    db = get_session()
    try:
        key = customer_key(db, customer_id)
        result = action(key)
        db.commit()
    except NotFoundError as exc:
        db.rollback()
        if exc.code == "CLIENTE_NO_ENCONTRADO":
            abort(404)
        return _customer_page(customer_id, error=exc.message, status=404)
    except CobranzaError as exc:
        db.rollback()
        return _customer_page(customer_id, error=exc.message, status=400)
    message = done(result)
    if deliver and isinstance(result, outbox.Queued):
        message = message.rstrip(".") + _deliver_now(result) + "."
    flash(message, "ok")
    return redirect(url_for("mail.customer", customer_id=customer_id))


def _form(name: str, limit: int = 300) -> str:
    return (request.form.get(name) or "")[:limit]


@bp.route("/clientes/<int:customer_id>/correo/contactos", methods=["POST"])
@require_role(*MAIL_EDITORS)
def add_contact(customer_id: int) -> Any:
    return _write(customer_id, lambda key: contacts.add_contact(
        get_session(), key, _form("email"), rol=_form("rol") or None, nombre=_form("nombre") or None,
        actor=g.user.username, clock=clock()), lambda c: f"Contacto {c.email} guardado.")


@bp.route("/clientes/<int:customer_id>/correo/contactos/baja", methods=["POST"])
@require_role(*MAIL_EDITORS)
def remove_contact(customer_id: int) -> Any:
    return _write(customer_id, lambda key: contacts.remove_contact(
        get_session(), key, _form("contacto"), actor=g.user.username, clock=clock()),
        lambda c: f"Contacto {c.email} eliminado.")


@bp.route("/clientes/<int:customer_id>/correo/contactos/no-enviar", methods=["POST"])
@require_role(*MAIL_EDITORS)
def opt_out(customer_id: int) -> Any:
    return _write(customer_id, lambda key: contacts.set_opt_out(
        get_session(), key, _form("contacto"), _form("no_enviar") == "1", actor=g.user.username, clock=clock()),
        lambda c: f"{c.email}: {'no recibirá correos' if c.opt_out else 'vuelve a recibir correos'}.")


@bp.route("/clientes/<int:customer_id>/correo/estado-de-cuenta", methods=["POST"])
@require_role(*MAIL_EDITORS)
def send_statement(customer_id: int) -> Any:
    hasta = today()
    return _write(customer_id, lambda key: documents.send_statement(
        get_session(), key, DateRange(hasta - timedelta(days=90), hasta), actor=g.user.username,
        again=_form("otra_vez") == "1", clock=clock()),
        lambda q: f"Estado de cuenta: {len(q.ids)} correo(s) en cola"
                  + (f"; ya enviado hoy a {', '.join(q.duplicates)}" if q.duplicates else "") + ".", deliver=True)


@bp.route("/clientes/<int:customer_id>/correo/rep", methods=["POST"])
@require_role(*MAIL_EDITORS)
def send_rep(customer_id: int) -> Any:
    return _write(customer_id, lambda _key: outbox.queue_rep(
        get_session(), _form("uuid", 40), actor=g.user.username, again=True, clock=clock()),
        lambda q: f"REP: {len(q.ids)} correo(s) en cola.", deliver=True)


@bp.route("/clientes/<int:customer_id>/correo/enlace", methods=["POST"])
@require_role(*MAIL_EDITORS)
def create_link(customer_id: int) -> Any:
    db = get_session()
    try:
        view = links.create_link(db, links.link_key(settings().instance_path), customer_key(db, customer_id),
                                 actor=g.user.username, clock=clock())
        db.commit()
    except NotFoundError:
        db.rollback()
        abort(404)
    return _customer_page(customer_id, new_link=view.url)  # shown once: the token is not stored


@bp.route("/clientes/<int:customer_id>/correo/enlace/revocar", methods=["POST"])
@require_role(*MAIL_EDITORS)
def revoke_links(customer_id: int) -> Any:
    text = _form("enlace", 12)
    return _write(customer_id, lambda key: links.revoke_links(
        get_session(), key, link_id=int(text) if text.isdigit() else None, actor=g.user.username, clock=clock()),
        lambda n: f"{n} enlace(s) revocados.")


__all__ = ["bp"]
