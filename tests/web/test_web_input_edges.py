"""Extreme input through the web and the API (issue 14), on SQLite and PostgreSQL: dates
out of the window, odd exchange rates, deeply nested JSON, NUL characters. Each gets its
own code and a Spanish message, never a 500, and nothing is written."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime
from typing import Any

import pytest
import rep_support
from sqlalchemy import text, update
from web_support import FAST_HASH

from cfdi_cobranza.db.models import Base, Payment
from cfdi_cobranza.db.session import make_engine, transaction
from cfdi_cobranza.services import users as users_service


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_config(request, tmp_path, sqlite_template, web_clock) -> dict[str, Any]:
    """The web app on a fresh SQLite file or on the session's emptied PostgreSQL database."""
    if request.param == "sqlite":
        db = tmp_path / "web.db"
        shutil.copy(sqlite_template, db)
        url = f"sqlite:///{db}"
    else:
        url = request.getfixturevalue("pg_url")
        eng = make_engine(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        eng.dispose()
    return {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "clave-de-pruebas",
            "TESTING": True, "PASSWORD_HASH": FAST_HASH, "CLOCK": web_clock}


def _headers(engine, role="administrador"):
    with transaction(engine) as s:
        token = users_service.create_token(s, f"api-{role}-{uuid.uuid4().hex[:6]}", role, created_by=users_service.CLI_CREATOR)[1]
    return {"Authorization": f"Bearer {token}"}


def _error(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.data[:300])
    assert resp.json["error"]["code"] == code, resp.json
    return resp.json["error"]["message"]


# --------------------------------------------------------------------------- dates


def test_api_refuses_a_payment_dated_9999(client, app, engine, sandbox_env, count):
    rep_support.import_files(app, rep_support.ppd_invoices(sandbox_env))
    body = {"customer": rep_support.CUSTOMER_RFC, "fecha_pago": "9999-12-31",
            "pagos": [{"forma_pago": "03", "moneda": "MXN", "monto": "10.00"}]}
    message = _error(client.post("/api/v1/payments", json=body, headers=_headers(engine)), 400,
                     "FECHA_FUERA_DE_RANGO")
    assert "31/12/2999" in message
    assert count(Payment) == 0


def test_a_stored_payment_of_9999_breaks_no_page(client, app, engine, rep_world, login):
    """Saved before the check existed: the dashboard, the REP page, the pending list of the API
    and issuing every pending REP all keep working."""
    with transaction(engine) as s:
        s.execute(update(Payment).where(Payment.id == rep_world["payment_id"])
                  .values(fecha_pago=datetime(9999, 12, 31, 12, 0)))
    login(client, "administrador")
    for page in ("/", "/rep/"):
        resp = client.get(page)
        assert resp.status_code == 200, (page, resp.status_code)
    resp = client.post("/api/v1/reps", json={"todos": True}, headers=_headers(engine, "contabilidad"))
    assert resp.status_code == 207, resp.json  # the 9999 payment is refused, the run goes on
    assert any(r["status"] != "timbrado" for r in resp.json["results"]), resp.json


# --------------------------------------------------------------------------- exchange rates


@pytest.mark.parametrize("rate", ["NaN", "sNaN", "Infinity", "-Infinity", "1e309", "1E+999999", "1e-30", "0", "-3",
                                  "17.2.3", "1e309 as a JSON number"])
def test_api_rates_validated_like_the_cli(client, app, engine, sandbox_env, rate):
    rep_support.import_files(app, rep_support.ppd_invoices(sandbox_env))
    pid = rep_support.payment(engine, "100.00", apply=False)
    value = "1e309" if rate.endswith("JSON number") else json.dumps(rate)  # 1e309 parses as float("inf")
    resp = client.post(f"/api/v1/payments/{pid}/apply", data='{"mas_antiguas_primero": true, "tipos_cambio": '
                       '{"USD": ' + value + "}}", content_type="application/json", headers=_headers(engine))
    _error(resp, 400, "TIPO_CAMBIO_INVALIDO")


def test_api_json_nan_literal_is_not_json(client, engine):
    resp = client.post("/api/v1/payments/1/apply", data='{"tipos_cambio": {"USD": NaN}}',
                       content_type="application/json", headers=_headers(engine))
    _error(resp, 400, "JSON_INVALIDO")


# --------------------------------------------------------------------------- JSON depth and size


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/payments/1/apply", "/api/v1/followups",
                                  "/api/v1/reps"])
def test_deep_json_is_refused_before_parsing(client, engine, path):
    deep = "[" * 1000 + "]" * 1000
    for body in (deep, '{"pagos": ' + deep + "}"):
        resp = client.post(path, data=body, content_type="application/json", headers=_headers(engine))
        _error(resp, 400, "JSON_DEMASIADO_PROFUNDO")
    # Brackets inside strings are text, not depth.
    resp = client.post(path, json={"notas": "[" * 1000}, headers=_headers(engine))
    assert resp.status_code != 500 and resp.json["error"]["code"] != "JSON_DEMASIADO_PROFUNDO"


def test_huge_json_is_refused(client, engine):
    resp = client.post("/api/v1/payments", data='{"notas": "' + "x" * (2 * 1024 * 1024) + '"}',
                       content_type="application/json", headers=_headers(engine))
    _error(resp, 413, "JSON_DEMASIADO_GRANDE")


# --------------------------------------------------------------------------- NUL


def test_nul_in_report_filters_and_forms(client, engine, login):
    headers = _headers(engine)
    message = _error(client.get("/api/v1/reports/aging?vendedor=a%00b", headers=headers), 400, "CARACTER_NULO")
    assert "vendedor" in message
    _error(client.get("/api/v1/customers/URE18%00/summary", headers=headers), 400, "CARACTER_NULO")
    resp = client.post("/api/v1/followups", json={"cliente": "URE180429TM6\x00", "tipo": "llamada"}, headers=headers)
    _error(resp, 400, "CARACTER_NULO")
    login(client, "administrador")
    resp = client.get("/reportes/antiguedad?vendedor=a%00b")
    assert resp.status_code == 400 and b"CARACTER_NULO" in resp.data
    assert client.get("/reportes/antiguedad?vendedor=ab").status_code == 200


# --------------------------------------------------------------------------- CLI output paths


@pytest.mark.parametrize("target", ["/proc/self/mem", "/nonexistent-dir/rep.pdf"])
def test_rep_pdf_to_an_unwritable_path_is_a_user_error(app, rep_world, capsys, target):
    from cfdi_cobranza.cli.main import main

    url = app.extensions["cobranza_engine"].url.render_as_string(hide_password=False)
    code = main(["--db", url, "rep", "pdf", rep_world["rep_uuid"], "--out", target])
    err = capsys.readouterr().err
    assert code == 1 and "SALIDA_NO_ESCRIBIBLE" in err and target in err, err
    assert not (target.startswith("/nonexistent") and __import__("os").path.exists(target))


def test_json_depth_ignores_brackets_inside_strings():
    from web.input_guard import json_depth

    assert json_depth(b'"x"') == 0 and json_depth(b"[[]]") == 2
    assert json_depth(b'{"a": "[[[[\\"[["}') == 1
    assert json_depth(b'{"a\\\\": [[1]]}') == 3  # an escaped backslash ends the key
    assert json_depth(b'[1, [2, {"a": [3]}]]') == 4
