"""Property-based check of /api/v1 against its own OpenAPI document (schemathesis).

Every documented operation gets generated requests (valid and invalid ones); none may
answer with a server error. A token with the administrador role makes every
operation reachable. (Driven through hypothesis directly: schemathesis' own pytest
plugin does not load under this pytest.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service


def test_api_never_fails_with_a_server_error(app, imported):  # type: ignore[no-untyped-def]
    with transaction(app.extensions["cobranza_engine"]) as session:
        _row, token = users_service.create_token(session, "fuzz", "administrador", created_by="administrador")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        _check(operation, headers)


def _check(operation, headers):  # type: ignore[no-untyped-def]
    @given(case=operation.as_strategy())
    # derandomize: CI sees the same cases every run (random runs found the 2**63 id below).
    @settings(max_examples=6, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()


def test_ids_too_big_for_the_database_are_a_400(app, client):  # type: ignore[no-untyped-def]
    with transaction(app.extensions["cobranza_engine"]) as session:
        _row, token = users_service.create_token(session, "fuzz", "administrador", created_by="administrador")
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.post("/api/v1/reps", json={"mensual": False, "payment_ids": [2**63]}, headers=headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "VALOR_FUERA_DE_RANGO"
    resp = client.post(f"/api/v1/payments/{2**63}/apply", json={"mas_antiguas_primero": True}, headers=headers)
    assert resp.status_code in (400, 404)
