"""Companies are boundaries: a user limited to one company walks every route and API
operation, with the ids and UUIDs of another company's objects, and never sees them.

Two companies: ISD950921HE5 (the real CFDI 4.0 invoice, customer COSC8001137NA) and
EKU9003173C9 (two PPD invoices to URE180429TM6, a payment with its stamped REP and a
second payment still without one). The limited user sees only ISD950921HE5.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from test_web_roles import REQUIRED_QUERY, _routes, _url
from web_support import FAST_HASH, PASSWORD, REAL_UUID

from cfdi_cobranza.db.models import AuditEntry, BankMovement, Customer, Payment, Rep
from cfdi_cobranza.db.models.conflicts import ImportConflict
from cfdi_cobranza.db.models.ledger import Document
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import collections as credit_service
from cfdi_cobranza.services import debts, followups, jobs
from cfdi_cobranza.services import users as users_service
from cfdi_cobranza.services.user_companies import allowed_company_ids, set_user_companies

SEEN = "ISD950921HE5"
HIDDEN = "EKU9003173C9"
HIDDEN_CUSTOMER = "URE180429TM6"
LIMITED_ROLES = [r for r in users_service.ROLES if r != "administrador"]
# Parameters naming one of the hidden company's objects: a page addressed by them must not exist.
OBJECT_ARGS = {"uuid", "customer_id", "payment_id", "rep_uuid", "rfc", "debt_id", "follow_up_id", "job_id",
               "authorization_id", "conflict_id"}
HIDDEN_DEPOSIT = "REF-OTRA-EMPRESA-9876"
HIDDEN_CHEQUE = "CHQ-OCULTO-77"


@pytest.fixture
def world(app, imported, rep_world):
    eng = app.extensions["cobranza_engine"]
    with transaction(eng) as s:
        hidden_customer = s.scalar(select(Customer).where(Customer.key == HIDDEN_CUSTOMER))
        for role in LIMITED_ROLES:
            users_service.add_user(s, f"{role}-limitado", PASSWORD, role, hash_method=FAST_HASH)
            set_user_companies(s, f"{role}-limitado", [SEEN], actor="pruebas")
        cheque = debts.register_debt_document(s, HIDDEN_CUSTOMER, tipo="cheque", importe=Decimal("15.00"),
                                              fecha=date(2026, 11, 10), numero=HIDDEN_CHEQUE,
                                              payment_id=rep_world["payment_id"], actor="pruebas")
        # A letter logged for the hidden company's customer: its PDF must not be reachable.
        letter = followups.add_follow_up(s, HIDDEN_CUSTOMER, tipo="carta", contacto="pruebas",
                                         notes=f"Carta a {HIDDEN_CUSTOMER}")
        followups.attach_file(s, letter.row.id, f"carta-{HIDDEN_CUSTOMER}.pdf", f"%PDF {HIDDEN_CUSTOMER}".encode())
        # A background job someone else queued about the hidden company, and a credit authorization.
        job = jobs.enqueue(s, "rep.pendientes", {"monthly": False}, key="boundary-job",
                           label=f"REP pendientes de {HIDDEN}", actor="administrador")
        credit_service.set_conditions(s, HIDDEN_CUSTOMER, actor="pruebas", limits={"MXN": Decimal("1.00")})
        authorization = credit_service.request_authorization(s, HIDDEN_CUSTOMER, Decimal("5000.00"), actor="pruebas")
        # An import conflict on the hidden company's invoice, and a bank deposit (no company).
        conflict = ImportConflict(uuid=rep_world["invoices"][0], sha256="a" * 64, xml=b"<x/>",
                                  file="OTRA-EMPRESA-EKU.xml", sello_sat="verificado", autoridad="verificada",
                                  existing_sha256="b" * 64, status="pendiente", created_at=datetime.now(UTC))
        s.add(conflict)
        s.add(BankMovement(fingerprint="f" * 64, bank="banorte", account="0123", fecha=date(2026, 11, 12),
                           amount=Decimal("98765.43"), moneda="MXN", description="Depósito", reference=HIDDEN_DEPOSIT,
                           status="pendiente", imported_at=datetime.now(UTC)))
        s.flush()
        hidden = {"follow_up_id": letter.row.id, "job_id": job.id, "authorization_id": authorization.id,
                  "conflict_id": conflict.id,
                  "uuid": rep_world["invoices"][0], "customer_id": hidden_customer.id, "username": "consulta",
                  "token_id": 1, "payment_id": rep_world["payment_id"], "rep_uuid": rep_world["rep_uuid"],
                  "rfc": HIDDEN_CUSTOMER, "debt_id": cheque.row.id, "code": "cheque"}
    markers = [HIDDEN, HIDDEN_CUSTOMER, rep_world["rep_uuid"], *rep_world["invoices"], HIDDEN_CHEQUE, HIDDEN_DEPOSIT,
               "OTRA-EMPRESA-EKU.xml"]
    return {"hidden": hidden, "markers": markers}


def _login(app, username):
    client = app.test_client()
    from web_support import csrf_of

    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert resp.status_code == 302, resp.data
    return client


def _leaks(body: bytes, markers, echoed=()) -> list[str]:
    """Markers of the hidden company in a response; ``echoed``: values the request itself
    carried, which a "not found" answer may repeat without revealing anything."""
    text = body.decode("utf-8", "replace").upper()
    for value in echoed:
        text = text.replace(str(value).upper(), "")
    return [m for m in markers if m.upper() in text]


def _echoed(rule, params, status):
    return [params[a] for a in rule.arguments] if status == 404 else []


def test_every_page_with_another_companys_ids(app, world):
    checked = 0
    own_seen: set[str] = set()
    for role in LIMITED_ROLES:
        client = _login(app, f"{role}-limitado")
        for rule in _routes(app):
            view = app.view_functions[rule.endpoint]
            allowed = getattr(view, "required_roles", None)
            if (allowed is None or role not in allowed or "GET" not in rule.methods
                    or rule.endpoint.startswith("api.") or rule.endpoint == "auth.logout"):
                continue
            resp = client.get(_url(rule, world["hidden"]))
            if set(rule.arguments) & OBJECT_ARGS:
                assert resp.status_code == 404, (role, rule.rule, resp.status_code)
            else:
                assert resp.status_code == 200, (role, rule.rule, resp.status_code)
            assert _leaks(resp.data, world["markers"], _echoed(rule, world["hidden"], resp.status_code)) == [], \
                (role, rule.rule)
            own_seen.update(_leaks(resp.data, [SEEN, REAL_UUID, "COSC8001137NA"]))
            checked += 1
    assert checked > 60
    assert own_seen == {SEEN, REAL_UUID, "COSC8001137NA"}  # the user's own company is there


def test_the_same_walk_unlimited_shows_the_other_company(app, world):
    """The control: without the limit the same pages do show the other company (so the
    walk above could fail)."""
    client = _login(app, "cobranza")
    leaked = set()
    for rule in _routes(app):
        view = app.view_functions[rule.endpoint]
        allowed = getattr(view, "required_roles", None)
        if allowed is None or "cobranza" not in allowed or "GET" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        resp = client.get(_url(rule, world["hidden"]))
        if resp.status_code == 200:
            leaked.update(_leaks(resp.data, world["markers"]))
    assert {HIDDEN, HIDDEN_CUSTOMER, world["markers"][2]} <= leaked


def test_api_with_a_limited_creators_token(app, world):
    eng = app.extensions["cobranza_engine"]
    client = app.test_client()
    checked = 0
    for role in LIMITED_ROLES:
        with transaction(eng) as s:
            creator = users_service.get_user(s, f"{role}-limitado")
            _token, clear = users_service.create_token(s, f"erp-{role}", role, created_by=creator.username)
            s.flush()
            _token.user_id = creator.id
        headers = {"Authorization": f"Bearer {clear}"}
        for rule in _routes(app):
            view = app.view_functions[rule.endpoint]
            allowed = getattr(view, "required_roles", None)
            if not rule.endpoint.startswith("api.") or allowed is None or role not in allowed:
                continue
            if "GET" not in rule.methods:
                continue
            resp = client.get(_url(rule, world["hidden"]) + REQUIRED_QUERY.get(rule.endpoint, ""), headers=headers)
            if set(rule.arguments) & OBJECT_ARGS:
                assert resp.status_code == 404, (role, rule.rule, resp.status_code)
                assert resp.is_json
            else:
                assert resp.status_code == 200, (role, rule.rule, resp.status_code)
            assert _leaks(resp.data, world["markers"], _echoed(rule, world["hidden"], resp.status_code)) == [], \
                (role, rule.rule)
            checked += 1
    assert checked > 10


def test_api_writes_on_another_companys_objects_are_404_and_change_nothing(app, world):
    eng = app.extensions["cobranza_engine"]
    tokens = {}
    with transaction(eng) as s:
        for role in ("facturacion", "contabilidad", "cobranza"):
            creator = users_service.get_user(s, f"{role}-limitado")
            token, tokens[role] = users_service.create_token(s, f"erp-{role}", role, created_by=creator.username)
            token.user_id = creator.id

    def state():
        with transaction(eng) as s:
            return (s.scalar(select(func.count()).select_from(Rep)),
                    s.scalar(select(func.sum(Payment.monto))), s.scalar(select(func.sum(Payment.aplicado))),
                    sorted(s.execute(select(Document.uuid, Document.saldo)).all()),
                    s.scalar(select(func.count()).select_from(AuditEntry)))

    before = state()
    client = app.test_client()
    pid = world["hidden"]["payment_id"]
    for role, url, body in [
            ("facturacion", f"/api/v1/payments/{pid}/apply", {"mas_antiguas_primero": True}),
            ("contabilidad", "/api/v1/reps", {"payment_ids": [pid]}),
            ("facturacion", "/api/v1/payments", {"cliente": HIDDEN_CUSTOMER, "empresa": HIDDEN,
                                                 "fecha_pago": "2026-11-12", "forma_pago": "03", "moneda": "MXN",
                                                 "monto": "10.00"}),
            ("cobranza", "/api/v1/followups", {"cliente": HIDDEN_CUSTOMER, "tipo": "llamada", "notas": "x"}),
            ("cobranza", f"/api/v1/debts/{world['hidden']['debt_id']}/state",
             {"estado": "cancelado", "fecha": "2026-11-12"}),
            ("cobranza", "/api/v1/debts", {"cliente": HIDDEN_CUSTOMER, "tipo": "cheque", "importe": "1.00"}),
            ("cobranza", f"/api/v1/documents/{world['hidden']['uuid']}/assignment", {"sucursal": "Centro"})]:
        resp = client.post(url, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert resp.status_code == 404, (url, resp.status_code, resp.json)
    assert state() == before


def test_a_token_of_an_unlimited_system_still_sees_everything(app, world):
    with transaction(app.extensions["cobranza_engine"]) as s:
        _token, clear = users_service.create_token(s, "erp", "consulta", created_by="cli")
    resp = app.test_client().get(f"/api/v1/documents/{world['hidden']['uuid']}",
                                 headers={"Authorization": f"Bearer {clear}"})
    assert resp.status_code == 200


def test_administrators_are_never_limited(app, world):
    with transaction(app.extensions["cobranza_engine"]) as s:
        with pytest.raises(ValidationError) as err:
            set_user_companies(s, "administrador", [SEEN], actor="pruebas")
        assert err.value.code == "ADMINISTRADOR_SIN_LIMITE"
        assert allowed_company_ids(s, users_service.get_user(s, "administrador")) is None
        assert allowed_company_ids(s, users_service.get_user(s, "cobranza-limitado")) is not None


def test_every_form_on_another_companys_objects_is_404_and_changes_nothing(app, world):
    eng = app.extensions["cobranza_engine"]

    def state():
        with transaction(eng) as s:
            return (s.scalar(select(func.count()).select_from(Rep)),
                    sorted(s.execute(select(Rep.uuid, Rep.status)).all()),
                    s.scalar(select(func.sum(Payment.aplicado))),
                    sorted(s.execute(select(Document.uuid, Document.saldo)).all()))

    before = state()
    checked = 0
    from web_support import csrf_of
    for role in LIMITED_ROLES:
        client = _login(app, f"{role}-limitado")
        token = csrf_of(client)
        for rule in _routes(app):
            view = app.view_functions[rule.endpoint]
            allowed = getattr(view, "required_roles", None)
            if (allowed is None or role not in allowed or "POST" not in rule.methods
                    or rule.endpoint.startswith("api.") or not set(rule.arguments) & OBJECT_ARGS):
                continue
            params = {**world["hidden"], "rfc": HIDDEN} if "/empresas/" in rule.rule else world["hidden"]
            resp = client.post(_url(rule, params),
                               data={"csrf_token": token, "motivo": "02", "modo": "antiguos", "tipo": "llamada",
                                     "notas": "x", "confirmar": "1"})
            assert resp.status_code == 404, (role, rule.rule, resp.status_code)
            checked += 1
    assert checked >= 3
    assert state() == before


def test_sat_sync_for_another_companys_rfc_is_404(app, world):
    import re

    client = _login(app, "facturacion-limitado")
    page = client.get("/importar/sat/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/importar/sat/", data={"csrf_token": token, "rfc": HIDDEN, "desde": "2026-01-01",
                                               "hasta": "2026-02-01"})
    assert resp.status_code == 404
