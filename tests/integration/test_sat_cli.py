"""The CLI of issue 15 on both databases: JSON shapes, exit codes, the cron lock."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fakes.sat import SatConsultaFake, listado_69b
from sqlalchemy import Engine
from test_rep_examples import CUSTOMER, Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.cli.main import main
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.locks import run_lock

D = Decimal


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


@pytest.fixture
def db(book: Book, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    return ["--db", book.engine.url.render_as_string(hide_password=False)]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_sat_status_document_cancelled_and_documents_json(book, db, capsys, monkeypatch):
    invs = book.invoices(A=[Line(D("10000.00"))], B=[Line(D("1000.00"))])
    pid = book.pay("500.00")
    book.apply(pid, [(invs["B"], "500.00")])
    with SatConsultaFake(estados={invs["A"]: ("Vigente", "Cancelable con aceptación", None),
                                  invs["B"]: ("Cancelado", "Cancelable sin aceptación", "Cancelado sin aceptación")},
                         efos="100") as fake:
        monkeypatch.setenv("COBRANZA_SAT_CONSULTA_URL", fake.url + "/ConsultaCFDIService.svc")
        code, data = run_json(capsys, [*db, "sat", "status", "--open", "--interval", "0"])
        assert code == 0 and data["errores"] == 0
        assert {a["uuid"]: (a["estado"], a["validacion_efos"]) for a in data["respuestas"]} == {
            invs["A"]: ("Vigente", "100"), invs["B"]: ("Cancelado", "100")}
        # A second cron run the same day asks nothing: B is cancelled, A was answered.
        code, again = run_json(capsys, [*db, "sat", "status", "--open", "--interval", "0"])
        assert (code, again["respuestas"], len(fake.asked)) == (0, [], 2)
        # Two runs never overlap.
        with run_lock(book.engine, "sat status"):
            code, refused = run_json(capsys, [*db, "sat", "status", "--open"])
        assert code == 1 and refused["error"]["code"] == "EJECUCION_EN_CURSO"
    code, docs = run_json(capsys, [*db, "documents"])
    by_uuid = {d["uuid"]: d for d in docs["documents"]}
    assert (by_uuid[invs["B"]]["status"], by_uuid[invs["B"]]["estado_sat"], by_uuid[invs["B"]]["saldo"]) == (
        "cancelado", "Cancelado", "0.00")
    assert by_uuid[invs["B"]]["fecha_cancelacion"] and by_uuid[invs["A"]]["estado_sat"] == "Vigente"
    code, pays = run_json(capsys, [*db, "payments"])
    (p,) = pays["payments"]
    assert p["saldo_a_favor"] == "500.00" and invs["B"] in p["revisar"]
    code, err = run_json(capsys, [*db, "payment", "reviewed", str(p["id"]), "--note", " "])
    assert code == 1 and err["error"]["code"] == "NOTA_REQUERIDA"
    code, done = run_json(capsys, [*db, "payment", "reviewed", str(p["id"]), "--note", "Se devolvió al cliente"])
    assert code == 0 and done["revisar"] is None
    code, pays = run_json(capsys, [*db, "payments"])
    assert pays["payments"][0]["revisar"] is None
    code, err = run_json(capsys, [*db, "payment", "reviewed", str(p["id"]), "--note", "otra vez"])
    assert code == 1 and err["error"]["code"] == "PAGO_SIN_REVISION"
    code, cancelled = run_json(capsys, [*db, "document", "cancelled", invs["A"], "--fecha", "02/11/2026",
                                        "--reason", "Acuse SAT"])
    assert code == 0 and cancelled["fecha_cancelacion"] == "2026-11-02" and cancelled["fuente"] == "usuario"
    code, err = run_json(capsys, [*db, "document", "cancelled", "00000000-0000-4000-8000-000000000000",
                                  "--fecha", "02/11/2026", "--reason", "x"])
    assert code == 1 and err["error"]["code"] == "DOCUMENTO_NO_ENCONTRADO"


def test_efos_import_credit_check_and_rates(book, db, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("COBRANZA_BANXICO_TOKEN", raising=False)
    book.invoices(A=[Line(D("1000.00"))])
    listado = tmp_path / "Listado_Completo_69-B.csv"
    listado.write_bytes(listado_69b([(CUSTOMER.rfc, "UNIVERSIDAD ROBOTICA ESPAÑOLA", "Definitivo",
                                      {"presunto": "16/12/2022", "definitivo": "13/10/2023"})]))
    code, data = run_json(capsys, [*db, "sat", "efos", "import", str(listado)])
    assert code == 0 and (data["registros"], data["clientes_afectados"]) == (1, 1)
    code, check = run_json(capsys, [*db, "credit", "check", "--customer", CUSTOMER.rfc, "--amount", "100"])
    assert code == 0 and check["nivel"] == "restriccion" and check["razones"][0]["code"] == "EFOS_DEFINITIVO"
    code, show = run_json(capsys, [*db, "customer", "show", CUSTOMER.rfc])
    assert show["efos"] == {"situacion": "Definitivo", "fecha": "2023-10-13"}
    code, summary = run_json(capsys, [*db, "customer", "summary", CUSTOMER.rfc, "--as-of", "2026-11-20"])
    assert summary["efos"]["situacion"] == "Definitivo"
    code, report = run_json(capsys, [*db, "sat", "efos", "report"])
    assert report["clientes"][0]["saldo"] == {"MXN": "1160.00"}
    bad = tmp_path / "otro.csv"
    bad.write_bytes(b"RFC;Nombre\n")
    code, err = run_json(capsys, [*db, "sat", "efos", "import", str(bad)])
    assert code == 1 and err["error"]["code"] == "EFOS_ARCHIVO_INVALIDO"

    rates = tmp_path / "fix.csv"
    rates.write_text("fecha,moneda,tipo_cambio\n2026-10-13,USD,19.1234\n2026-10-14,USD,19.1500\n")
    code, data = run_json(capsys, [*db, "rates", "import", str(rates)])
    assert code == 0 and data["nuevos"] == 2 and data["fuente"] == "archivo:fix.csv"
    code, data = run_json(capsys, [*db, "rates", "import", str(rates)])
    assert data["nuevos"] == 0 and data["sin_cambio"] == 2  # idempotent
    code, listed = run_json(capsys, [*db, "rates", "list"])
    assert listed["tipos_de_cambio"][0] == {"fecha": "2026-10-14", "moneda": "USD", "tipo_cambio": "19.15",
                                            "fuente": "archivo:fix.csv"}
    code, err = run_json(capsys, [*db, "rates", "update"])
    assert code == 1 and err["error"]["code"] == "BANXICO_TOKEN_REQUERIDO"
