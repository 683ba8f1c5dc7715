"""``cobranza import`` shows a UUID conflict (text and --json); ``cobranza conflicts`` lists and replaces it."""

from __future__ import annotations

import json

import pytest
from support_forgery import REAL40, unknown_sat_authority_document

from cfdi_cobranza.cli.main import main

UUID = "C2832671-DA6D-11EF-A83D-00155D012007"


@pytest.fixture
def db(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    for key in ("COBRANZA_PAC", "COBRANZA_PAC_ENV", "COBRANZA_PAC_CONFIG", "COBRANZA_USER"):
        monkeypatch.delenv(key, raising=False)
    argv = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main([*argv, "init"]) == 0
    monkeypatch.setenv("COBRANZA_USER_PASSWORD", "una-clave-larga-1")
    assert main([*argv, "user", "add", "--username", "ana", "--role", "facturacion"]) == 0
    assert main([*argv, "user", "add", "--username", "memo", "--role", "cobranza"]) == 0
    capsys.readouterr()
    return argv


def _json(capsys, argv):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_conflict_in_import_output_and_replace(db, tmp_path, capsys):
    forged = tmp_path / "falsa.xml"
    forged.write_bytes(unknown_sat_authority_document(REAL40.read_bytes(), "ISD950921HE5"))
    code, data = _json(capsys, [*db, "import", str(forged), "--json"])
    assert code == 0 and data["results"][0]["autoridad"] == "no verificada"

    code, data = _json(capsys, [*db, "import", str(REAL40), "--json"])
    r = data["results"][0]
    assert code == 1 and (r["status"], r["code"]) == ("refused", "UUID_EN_CONFLICTO")
    assert r["conflict"]["replaceable"] is True
    assert r["conflict"]["stored"]["autoridad"] == "no verificada"
    assert r["conflict"]["incoming"]["autoridad"] == "verificada"
    conflict_id = r["conflict"]["id"]

    assert main([*db, "import", str(REAL40)]) == 1
    out = capsys.readouterr().out
    assert "[UUID_EN_CONFLICTO]" in out and f"cobranza conflicts replace {conflict_id}" in out
    assert "Guardado: sello del SAT no verificado, autoridad no verificada" in out

    code, data = _json(capsys, [*db, "conflicts", "list", "--json"])
    assert [(c["id"], c["uuid"], c["replaceable"]) for c in data["conflicts"]] == [(conflict_id, UUID, True)]
    assert main([*db, "conflicts"]) == 0
    assert "Reemplazable" in capsys.readouterr().out

    # A role that may not import may not replace; nothing changes.
    code, data = _json(capsys, [*db, "conflicts", "replace", str(conflict_id), "--user", "memo", "--json"])
    assert code == 1 and data["error"]["code"] == "PERMISO_DENEGADO"

    code, data = _json(capsys, [*db, "conflicts", "replace", str(conflict_id), "--user", "ana", "--json"])
    assert code == 0 and data["replaced"]["uuid"] == UUID

    code, data = _json(capsys, [*db, "conflicts", "list", "--json"])
    assert data["conflicts"] == []
    code, data = _json(capsys, [*db, "import", str(REAL40), "--json"])
    assert data["results"][0]["status"] == "duplicate"  # the genuine bytes are the stored ones now


def test_documents_mark_test_certificates_without_fiscal_validity(db, tmp_path, capsys):
    from datetime import datetime
    from decimal import Decimal

    from cfdi_cobranza.cfdi.factory import CfdiFactory, Line

    factory = CfdiFactory(tmp_path / "instance" / "sandbox", clock=lambda: datetime(2026, 10, 1, 12, 0))
    inv = factory.invoice(lines=[Line(Decimal("100.00"))], fecha=datetime(2026, 9, 1, 10, 0))
    path = tmp_path / "prueba.xml"
    path.write_bytes(inv.xml)
    assert main([*db, "import", str(path)]) == 0
    assert "SIN VALIDEZ FISCAL" in capsys.readouterr().out
    assert _json(capsys, [*db, "documents", "--json"])[1]["documents"][0]["sin_validez_fiscal"] is True
    assert main([*db, "documents"]) == 0
    assert "SIN VALIDEZ FISCAL" in capsys.readouterr().out
