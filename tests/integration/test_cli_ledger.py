"""The CLI contract of the ledger commands: JSON shapes, exit codes, Spanish errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cfdi_cobranza.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    return ["--db", f"sqlite:///{tmp_path / 'c.db'}"]


@pytest.fixture
def db(fresh, capsys):
    """A database created by ``cobranza init``: no other command migrates."""
    assert main([*fresh, "init"]) == 0
    capsys.readouterr()
    return fresh


def run_json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_init_is_idempotent(fresh, capsys):
    assert main([*fresh, "init"]) == 0
    assert main([*fresh, "init"]) == 0
    assert "Base de datos lista" in capsys.readouterr().out


def test_import_json_contract_and_exit_codes(db, capsys):
    code, data = run_json(capsys, [*db, "import", str(DATA / "real"), "--json"])
    assert code == 1  # cfdi32 is refused
    assert set(data) >= {"results", "summary"}
    assert data["summary"] == {"imported": 2, "duplicate": 0, "refused": 1, "ignored": 0, "total": 3}
    for r in data["results"]:
        assert set(r) >= {"file", "status", "uuid", "tipo", "code", "message"}
    code, data = run_json(capsys, [*db, "import", str(DATA / "real" / "cfdi40-real.xml"), "--json"])
    assert code == 0
    assert data["results"][0]["status"] == "duplicate"


def test_documents_and_customers_json(db, capsys):
    main([*db, "import", str(DATA / "real" / "cfdi40-real.xml")])
    capsys.readouterr()
    code, data = run_json(capsys, [*db, "documents", "--json"])
    assert code == 0
    (doc,) = data["documents"]
    assert set(doc) >= {"uuid", "serie", "folio", "fecha", "tipo", "metodo_pago", "moneda", "total", "saldo",
                        "vencimiento", "customer_rfc"}
    assert doc["uuid"] == "C2832671-DA6D-11EF-A83D-00155D012007"
    assert doc["saldo"] == doc["total"]
    code, data = run_json(capsys, [*db, "customers", "--json"])
    assert code == 0
    (cust,) = data["customers"]
    assert cust["rfc"] == doc["customer_rfc"]
    assert cust["saldo"] == {doc["moneda"]: doc["total"]}


def test_usage_errors_exit_2_in_spanish(db, capsys):
    assert main([*db, "documents", "--as-of", "2026-02-30"]) == 2
    err = capsys.readouterr().err
    assert "fecha inválida" in err and "Traceback" not in err
    assert main([*db, "nope"]) == 2
    assert "No existe el comando" in capsys.readouterr().err


def test_unknown_customer_is_a_spanish_error(db, capsys):
    main([*db, "init"])
    capsys.readouterr()
    code, data = run_json(capsys, [*db, "documents", "--customer", "AAA010101AAA", "--json"])
    assert code == 1
    assert data["error"]["code"] == "CLIENTE_NO_ENCONTRADO"


def test_company_add_validates_rfc(db, capsys):
    assert main([*db, "company", "add", "--rfc", "NOVALIDO"]) == 1
    assert "RFC inválido" in capsys.readouterr().err
    assert main([*db, "company", "add", "--rfc", "EKU9003173C9", "--nombre", "Escuela"]) == 0
    assert "Empresa registrada: EKU9003173C9" in capsys.readouterr().out
    code, data = run_json(capsys, [*db, "company", "list", "--json"])
    assert code == 0
    assert [c["rfc"] for c in data["companies"]] == ["EKU9003173C9"]


def test_console_script_never_shows_a_traceback(tmp_path):
    bad = tmp_path / "hostil.xml"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    env = {**os.environ, "COBRANZA_INSTANCE": str(tmp_path / "i")}
    env.pop("COBRANZA_DEBUG", None)
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    subprocess.run([sys.executable, "-m", "cfdi_cobranza", *db, "init"], check=True, capture_output=True, env=env,
                   timeout=60)
    proc = subprocess.run(
        [sys.executable, "-m", "cfdi_cobranza", *db, "import", str(bad)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "RECHAZADO" in proc.stdout
    assert "root:" not in proc.stdout  # /etc/passwd never read


def _revision(url):
    from alembic.runtime.migration import MigrationContext

    from cfdi_cobranza.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()


@pytest.mark.parametrize("argv", [["documents"], ["report", "aging", "--customer", "AAA010101AAA"],
                                  ["user", "list"], ["rep", "pending"]])
def test_only_init_creates_the_database(fresh, tmp_path, capsys, argv):
    assert main([*fresh, *argv]) == 1
    err = capsys.readouterr().err
    assert "BD_SIN_ACTUALIZAR" in err and "Ejecute «cobranza init»" in err and "Traceback" not in err
    assert not (tmp_path / "c.db").exists()  # not even an empty file
    code, data = run_json(capsys, [*fresh, *argv, "--json"])
    assert code == 1 and data["error"]["code"] == "BD_SIN_ACTUALIZAR"


def test_a_database_behind_is_refused_untouched_until_init(fresh, capsys):
    from alembic import command

    from cfdi_cobranza.db.session import alembic_config, make_engine

    url = fresh[1]
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0009")
    engine.dispose()
    code, data = run_json(capsys, [*fresh, "customers", "--json"])
    assert code == 1
    assert data["error"]["code"] == "BD_SIN_ACTUALIZAR"
    assert "Ejecute «cobranza init»" in data["error"]["message"]
    assert _revision(url) == ("0009",)  # nothing migrated behind the user's back
    assert main([*fresh, "init"]) == 0
    capsys.readouterr()
    code, data = run_json(capsys, [*fresh, "customers", "--json"])
    assert code == 0 and data == {"customers": []}


@pytest.mark.parametrize("argv", [
    ["payment", "apply", "2", "--oldest-first"], ["bank", "suggest"], ["bank", "apply", "--min-score", "80"],
    ["report", "aging"], ["customer", "summary", "XAXX010101000"],
])
@pytest.mark.parametrize("rate", ["USD=NaN", "USD=Infinity", "USD=0", "USD=-17", "USD=abc", "17.2"])
def test_one_rate_parser_refuses_bad_rates_with_exit_1(db, capsys, argv, rate):
    code, data = run_json(capsys, [*db, *argv, "--rate", rate, "--json"])
    assert code == 1
    assert data["error"]["code"] == "TIPO_CAMBIO_INVALIDO"
    assert "mayor que cero" in data["error"]["message"]
