"""The customer's page, reached by the signed link in each email: no account, read-only.

``/portal/<token>`` shows the customer's open documents, its REPs to download and its
statement. Every view resolves the token first (forged, expired and revoked links get
the same 404) and reads only that customer's rows. The token is in the URL, so the
answers are never cached and never send the token to another site in a Referer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from cfdi_cobranza.db.models import Customer
from cfdi_cobranza.errors import NotFoundError
from cfdi_cobranza.pdf.rep import render_rep_pdf
from cfdi_cobranza.services.mail import links, portal
from web.clock import clock, today
from web.db import get_session, settings
from web.downloads import attachment
from web.security import public

bp = Blueprint("portal", __name__, url_prefix="/portal")

# The app already sends "Referrer-Policy: same-origin": the token never leaves in a Referer to another site.
_PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def _customer(token: str) -> Customer:
    db = get_session()
    customer = links.resolve(db, links.link_key(settings().instance_path), token, clock=clock())
    db.commit()  # last_used_at
    return customer


def _gone(exc: NotFoundError) -> Any:
    return render_template("portal/gone.html", message=exc.message), 404, _PRIVATE


@bp.route("/<token>", methods=["GET"])
@public
def index(token: str) -> Any:
    try:
        customer = _customer(token)
    except NotFoundError as exc:
        return _gone(exc)
    page = portal.portal_view(get_session(), customer, today())
    return render_template("portal/index.html", page=page, token=token), 200, _PRIVATE


@bp.route("/<token>/rep/<rep_uuid>.<ext>", methods=["GET"])
@public
def rep_file(token: str, rep_uuid: str, ext: str) -> Any:
    try:
        customer = _customer(token)
        if ext not in ("xml", "pdf"):
            raise NotFoundError("No existe ese archivo.", code="ARCHIVO_NO_ENCONTRADO")
        stem, xml, sandbox = portal.customer_rep(get_session(), customer, rep_uuid)
    except NotFoundError as exc:
        return _gone(exc)
    if ext == "xml":
        return current_app.response_class(xml, mimetype="application/xml",
                                          headers={**attachment(f"{stem}.xml"), **_PRIVATE})
    return current_app.response_class(render_rep_pdf(xml, sandbox=sandbox), mimetype="application/pdf",
                                      headers={**attachment(f"{stem}.pdf"), **_PRIVATE})


@bp.route("/<token>/estado-de-cuenta.pdf", methods=["GET"])
@public
def statement(token: str) -> Any:
    try:
        customer = _customer(token)
    except NotFoundError as exc:
        return _gone(exc)
    data = portal.statement_pdf(get_session(), customer, today())
    return current_app.response_class(data, mimetype="application/pdf",
                                      headers={**attachment(f"estado-de-cuenta-{customer.rfc}.pdf"), **_PRIVATE})
