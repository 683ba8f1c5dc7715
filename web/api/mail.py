"""Email through the API: a customer's contacts, sending a REP, the delivery log, sending what is due."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from cfdi_cobranza.db.scope import company_ids
from cfdi_cobranza.domain.states import MailStatus
from cfdi_cobranza.errors import CobranzaError, ValidationError
from cfdi_cobranza.services.mail import contacts, outbox
from cfdi_cobranza.services.mail.delivery import Mailer, deliver_due, deliver_message
from web.api import bp
from web.api.auth import token_role
from web.api.payments import json_body
from web.clock import clock
from web.db import engine, get_session, settings
from web.mail import MAIL_EDITORS
from web.security import READERS


def _text(body: dict[str, Any], name: str, limit: int = 300) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"«{name}» debe ser texto.", code="VALIDACION")
    return value[:limit]


def _actor() -> str:
    return f"api:{g.api_token.name}"


@bp.route("/customers/<rfc>/contacts", methods=["GET"])
@token_role(*READERS)
def list_contacts(rfc: str) -> Any:
    return jsonify({"data": [c.to_dict() for c in contacts.list_contacts(get_session(), rfc)]})


@bp.route("/customers/<rfc>/contacts", methods=["POST"])
@token_role(*MAIL_EDITORS)
def add_contact(rfc: str) -> Any:
    body = json_body()
    db = get_session()
    view = contacts.add_contact(db, rfc, _text(body, "email") or "", rol=_text(body, "rol"),
                                nombre=_text(body, "nombre"), actor=_actor(), clock=clock())
    if body.get("no_enviar") is not None:
        view = contacts.set_opt_out(db, rfc, str(view.id), bool(body["no_enviar"]), actor=_actor(), clock=clock())
    db.commit()
    return jsonify(view.to_dict()), 201


@bp.route("/customers/<rfc>/contacts/remove", methods=["POST"])
@token_role(*MAIL_EDITORS)
def remove_contact(rfc: str) -> Any:
    body = json_body()
    db = get_session()
    view = contacts.remove_contact(db, rfc, _text(body, "contacto") or "", actor=_actor(), clock=clock())
    db.commit()
    return jsonify(view.to_dict())


def _deliver(queued: outbox.Queued) -> list[dict[str, Any]]:
    """Send now when a server is configured; otherwise (or misconfigured) the messages wait queued."""
    try:
        mailer = Mailer.from_settings(engine(), settings().instance_path, clock=clock())
    except CobranzaError:
        return []
    if mailer.smtp is None:
        return []
    return [deliver_message(engine(), i, mailer=mailer).to_dict() for i in queued.ids]


@bp.route("/reps/<rep_uuid>/send", methods=["POST"])
@token_role(*MAIL_EDITORS)
def send_rep(rep_uuid: str) -> Any:
    body = json_body()
    db = get_session()
    queued = outbox.queue_rep(db, rep_uuid, actor=_actor(), to=_text(body, "to", 1000),
                              again=bool(body.get("again") or body.get("otra_vez")), clock=clock())
    db.commit()
    return jsonify({**queued.to_dict(), "envios": _deliver(queued)}), 202


@bp.route("/mail/log", methods=["GET"])
@token_role(*READERS)
def mail_log() -> Any:
    args = request.args
    entries = outbox.mail_log(get_session(), rfc=(args.get("cliente") or "")[:320] or None,
                              rep_uuid=(args.get("rep") or "")[:40] or None,
                              status=(args.get("estado") or "")[:20] or None, limit=500)
    return jsonify({"data": [e.to_dict() for e in entries]})


@bp.route("/mail/send-pending", methods=["POST"])
@token_role(*MAIL_EDITORS)
def send_pending() -> Any:
    scope = company_ids(get_session())
    get_session().commit()
    done = deliver_due(engine(), mailer=Mailer.from_settings(engine(), settings().instance_path, clock=clock()),
                       company_ids=scope)
    return jsonify({"data": [d.to_dict() for d in done],
                    "enviados": sum(1 for d in done if d.status is MailStatus.ENVIADO)})
