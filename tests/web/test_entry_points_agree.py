"""The CLI (``--json``) and the JSON API asked the same question give the same answer.

Both read one database (the generated portfolio of the collections tests, with payments and
credit notes before and after the fecha de corte), so any difference is a second copy of a
rule in one of the entry points.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from collections_data import AS_OF, CUSTOMERS, generate, import_all, make_factory

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import users as users_service

PAST = AS_OF.isoformat()  # 2026-10-31, three weeks before the web clock's today


@pytest.fixture
def world(app, app_config, tmp_path, monkeypatch, settings, clock) -> dict[str, Any]:
    engine = app.extensions["cobranza_engine"]
    factory = make_factory(tmp_path / "sandbox", seed=7)
    generated = generate(factory)
    import_all(engine, settings, factory, generated, clock)
    with transaction(engine) as s:
        token = users_service.create_token(s, "erp", "consulta", created_by="administrador")[1]
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "cli-instance"))
    return {"db": ["--db", app_config["DATABASE_URL"]], "auth": {"Authorization": f"Bearer {token}"},
            "generated": generated}


def cli(capsys, world: dict[str, Any], *argv: str) -> Any:
    capsys.readouterr()
    assert main([*world["db"], *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def api(client, world: dict[str, Any], url: str) -> Any:
    resp = client.get(url, headers=world["auth"])
    assert resp.status_code == 200, resp.json
    return resp.json


def _by_uuid(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["uuid"]: {k: v for k, v in r.items() if k != "dias_vencido"} for r in rows}


@pytest.mark.parametrize("cli_args,api_args", [((), ""), (("--open",), "&estado=abiertos")])
def test_documents_as_of_a_past_date(client, capsys, world, cli_args, api_args):
    from_cli = cli(capsys, world, "documents", "--as-of", PAST, *cli_args)["documents"]
    from_api = api(client, world, f"/api/v1/documents?corte={PAST}&por_pagina=500{api_args}")
    assert from_api["total"] == len(from_api["data"]) == len(from_cli)
    assert from_api["fecha_corte"] == PAST
    assert _by_uuid(from_api["data"]) == _by_uuid(from_cli)
    # The question is about the past: what was paid or issued later does not count.
    paid_later = world["generated"].invoices["CAC070627H79:1"].uuid
    row = _by_uuid(from_cli)[paid_later]
    assert row["saldo"] == row["total"]
    today_rows = _by_uuid(api(client, world, "/api/v1/documents?por_pagina=500")["data"])
    assert today_rows[paid_later]["saldo"] != row["saldo"]
    assert len(today_rows) > len(_by_uuid(from_cli)) or api_args


@pytest.mark.parametrize("rfc", [c.rfc for c in CUSTOMERS])
def test_customer_statement(client, capsys, world, rfc):
    desde = (AS_OF - timedelta(days=200)).isoformat()
    from_cli = cli(capsys, world, "report", "statement", "--customer", rfc, "--from", desde, "--to", PAST)
    from_api = api(client, world, f"/api/v1/customers/{rfc}/statement?desde={desde}&hasta={PAST}")
    assert from_api == from_cli
    assert from_cli["rfc"] == rfc and from_cli["estados"]


@pytest.mark.parametrize("rfc", ["CAC070627H79", "FOMJ8106119D6"])
def test_customer_summary_at_a_past_date(client, capsys, world, rfc):
    from_cli = cli(capsys, world, "customer", "summary", rfc, "--as-of", PAST)
    from_api = api(client, world, f"/api/v1/customers/{rfc}/summary?corte={PAST}")
    assert from_api == from_cli
    assert from_cli["rfc"] == rfc and from_cli["documentos"]


def test_payments_with_their_applications(client, capsys, app, app_config, sandbox_env, monkeypatch):
    import rep_support

    engine = app.extensions["cobranza_engine"]
    rep_support.import_files(app, rep_support.ppd_invoices(sandbox_env))
    applied = rep_support.payment(engine, "1500.00")
    rep_support.payment(engine, "100.00", apply=False)
    with transaction(engine) as s:
        token = users_service.create_token(s, "erp", "consulta", created_by="administrador")[1]
    world = {"db": ["--db", app_config["DATABASE_URL"]], "auth": {"Authorization": f"Bearer {token}"}}
    from_cli = cli(capsys, world, "payments", "--customer", rep_support.CUSTOMER_RFC)["payments"]
    from_api = api(client, world, f"/api/v1/payments?cliente={rep_support.CUSTOMER_RFC}")["data"]
    assert from_api == from_cli
    assert [p["id"] for p in from_cli if p["aplicaciones"]] == [applied] and len(from_cli) == 2
    assert main([*world["db"], "payments"]) == 0 and "1,500.00" in capsys.readouterr().out


def test_a_stamped_rep(client, capsys, app, app_config, rep_world):
    import rep_support

    engine = app.extensions["cobranza_engine"]
    with transaction(engine) as s:
        token = users_service.create_token(s, "erp", "consulta", created_by="administrador")[1]
    world = {"db": ["--db", app_config["DATABASE_URL"]], "auth": {"Authorization": f"Bearer {token}"}}
    from_cli = cli(capsys, world, "rep", "show", rep_world["rep_uuid"])
    from_api = api(client, world, f"/api/v1/reps/{rep_world['rep_uuid']}")
    assert from_cli["customer_rfc"] == from_api["customer_rfc"] == rep_support.CUSTOMER_RFC
    # Each entry point adds one field of its own: the CLI the XML, the API the sandbox flag.
    assert from_cli.pop("xml").startswith("<?xml")
    assert from_api.pop("sin_validez_fiscal") is True
    assert from_api == from_cli


@pytest.mark.parametrize("cli_args,query", [((), ""), (("--customer", CUSTOMERS[0].rfc, "--months", "6"),
                                                       f"&cliente={CUSTOMERS[0].rfc}&meses=6")])
def test_payment_trends(client, capsys, world, cli_args, query):
    from_cli = cli(capsys, world, "report", "trends", "--as-of", PAST, "--rate", "USD=17.5000", *cli_args)
    from_api = api(client, world, f"/api/v1/reports/trends?corte={PAST}{query}")
    assert from_cli == from_api
    assert from_cli["reporte"] == "tendencias" and from_cli["fecha_corte"] == PAST
    assert len(from_cli["cartera"]["meses"]) == (6 if query else 24)
    assert any(m["cobrado"] != "0.00" for m in from_cli["cartera"]["meses"])
