"""Table-driven: every route in app.url_map with every role (and anonymous)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from cfdi_cobranza.db.models import AuditEntry, Customer
from cfdi_cobranza.db.models.users import ApiToken, User
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import debts, followups, jobs
from cfdi_cobranza.services import users as users_service

ROLES = list(users_service.ROLES)
ADMIN_ONLY = frozenset({"administrador"})
EVERYONE = frozenset(ROLES)

# Who may use each account and user-administration route: checked against the views'
# declarations, and every entry must be exercised by the walk below.
ROLE_TABLE: dict[str, frozenset[str]] = {
    "auth.account": EVERYONE,
    "auth.change_password": EVERYONE,
    "settings.users": ADMIN_ONLY,
    "settings.add_user": ADMIN_ONLY,
    "settings.user_detail": ADMIN_ONLY,
    "settings.reset_password": ADMIN_ONLY,
    "settings.set_role": ADMIN_ONLY,
    "settings.toggle_user": ADMIN_ONLY,
    "settings.tokens": ADMIN_ONLY,
    "settings.create_token": ADMIN_ONLY,
    "settings.revoke_token": ADMIN_ONLY,
    # Replacing a stored CFDI by a conflicting verified file (issue 14): the roles that import.
    "imports.replace": frozenset({"administrador", "facturacion", "contabilidad"}),
    "mail.index": EVERYONE,
    "mail.customer": EVERYONE,
    "mail.smtp_setting": ADMIN_ONLY,
    "mail.send_pending": frozenset({"administrador", "cobranza"}),
    "mail.add_contact": frozenset({"administrador", "cobranza"}),
    "mail.create_link": frozenset({"administrador", "cobranza"}),
}


# API reads that need a query parameter to be a valid question.
REQUIRED_QUERY = {"api.credit_check": "?amount=10.00"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule


def _url(rule, params):
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<{arg}>", str(params[arg])).replace(f"<int:{arg}>", str(params[arg]))
    return url


@pytest.fixture
def params(app, imported, rep_world):
    eng = app.extensions["cobranza_engine"]
    with transaction(eng) as session:
        customer_id = session.scalar(select(Customer.id))
        token, _ = users_service.create_token(session, "ERP", "consulta", created_by="administrador")
        job = jobs.enqueue(session, "rep.pendientes", {"monthly": False}, key="roles-job")
        debt = debts.register_debt_document(session, "URE180429TM6", tipo="cheque", importe=Decimal("1"),
                                            fecha=date(2026, 11, 1), actor="pruebas")
        rfc = session.scalar(select(Customer.key).order_by(Customer.id))
        follow_up = followups.add_follow_up(session, rfc, tipo="carta", contacto="cobranza")  # with a letter attached
        followups.attach_file(session, follow_up.row.id, "carta.pdf", b"%PDF-1.4 carta")
        return {"job_id": job.id, "uuid": imported, "customer_id": customer_id, "username": "consulta",
                "token_id": token.id, "authorization_id": 1, "debt_id": debt.row.id, "code": "cheque",
                "follow_up_id": follow_up.row.id,
                "payment_id": rep_world["payment_id"], "rep_uuid": rep_world["rep_uuid"],
                "rfc": session.scalar(select(Customer.key).order_by(Customer.id)),
                "conflict_id": 1}  # none recorded: the walk checks who may post, not the outcome


@pytest.fixture
def users_state(app):
    """Each user's password hash, role, active flag and session epoch."""
    def do():
        with transaction(app.extensions["cobranza_engine"]) as session:
            return sorted((u.username, u.password_hash, u.role, u.active, u.session_epoch)
                          for u in session.scalars(select(User)))
    return do


def test_every_view_declares_access(app):
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "required_roles") and not getattr(view, "public_route", False):
            missing.append(rule.endpoint)
    assert missing == []


def test_role_table_matches_the_views(app):
    declared = {endpoint: getattr(app.view_functions[endpoint], "required_roles", None) for endpoint in ROLE_TABLE}
    assert declared == ROLE_TABLE


def test_every_route_every_role(app, login, params, count, users_state):
    checked = 0
    seen: set[str] = set()
    for role in ROLES:
        client = app.test_client()
        token = login(client, role)
        for rule in _routes(app):
            view = app.view_functions[rule.endpoint]
            allowed = getattr(view, "required_roles", None)
            if allowed is None or rule.endpoint.startswith("api.") or rule.endpoint == "auth.logout":
                continue
            url = _url(rule, params)
            seen.add(rule.endpoint)
            if "GET" in rule.methods:
                resp = client.get(url)
                expected = 200 if role in allowed else 403
                assert resp.status_code == expected, (role, url, resp.status_code)
                if expected == 403:
                    assert b"Sin permiso" in resp.data
            if "POST" in rule.methods and role not in allowed:
                before = (count(AuditEntry), count(User), count(ApiToken), users_state())
                resp = client.post(url, data={"csrf_token": token, "username": "nuevo", "password": "clave-nueva-12",
                                              "password2": "clave-nueva-12", "role": "administrador", "name": "x",
                                              "activo": "0", "actual": "x", "nueva": "y", "nueva2": "y"})
                assert resp.status_code == 403, (role, url)
                assert (count(AuditEntry), count(User), count(ApiToken), users_state()) == before
            checked += 1
    assert checked > 40
    assert set(ROLE_TABLE) <= seen


def test_anonymous_is_sent_to_login(app, params):
    client = app.test_client()
    for rule in _routes(app):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "public_route", False) or "GET" not in rule.methods:
            continue
        resp = client.get(_url(rule, params))
        if rule.endpoint.startswith("api."):
            assert resp.status_code == 401 and resp.json["error"]["code"] == "NO_AUTENTICADO"
        else:
            assert resp.status_code == 302 and "/login" in resp.headers["Location"], rule.rule


def test_api_every_route_every_token_role(app, params):
    eng = app.extensions["cobranza_engine"]
    tokens = {}
    with transaction(eng) as session:
        for role in ROLES:
            tokens[role] = users_service.create_token(session, f"sistema-{role}", role, created_by="administrador")[1]
    client = app.test_client()
    for rule in _routes(app):
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "required_roles", None)
        if allowed is None:
            continue
        url = _url(rule, params) + REQUIRED_QUERY.get(rule.endpoint, "")
        for role, tok in tokens.items():
            headers = {"Authorization": f"Bearer {tok}"}
            method = "GET" if "GET" in rule.methods else "POST"
            resp = client.open(url, method=method, headers=headers, data=b"<x/>" if method == "POST" else None,
                               content_type="application/xml" if method == "POST" else None)
            if role in allowed and method == "POST":
                # A junk body passes the role gate and is refused (or handled) with a JSON answer.
                assert resp.status_code not in (401, 403, 500), (role, url, resp.status_code)
                assert resp.is_json, (role, url)
            elif role in allowed:
                assert resp.status_code == 200, (role, url, resp.json)
            else:
                assert resp.status_code == 403 and resp.json["error"]["code"] == "PERMISO_DENEGADO"
