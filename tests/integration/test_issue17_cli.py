"""Issue 17 through the CLI: salesperson on follow-ups, follow-up and task exports,
``document assign``, and letters logged in the follow-up file with their PDF."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from collections_data import generate, import_all, make_factory
from openpyxl import load_workbook

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.session import make_engine, migrate

CAC, DME = "CAC070627H79", "DME980512KJ3"


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=5)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


@pytest.fixture
def db(tmp_path, monkeypatch, factory, generated, settings, clock):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    migrate(engine)
    import_all(engine, settings, factory, generated, clock)
    engine.dispose()
    argv = ["--db", url]
    assert main([*argv, "customer", "set", CAC, "--salesperson", "Ana", "--branch", "Norte"]) == 0
    assert main([*argv, "customer", "set", DME, "--salesperson", "Beto", "--branch", "Sur"]) == 0
    return argv


def run(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def run_json(capsys, argv):
    code, out, err = run(capsys, [*argv, "--json"])
    assert out, err
    return code, json.loads(out)


def test_followup_salesperson_and_exports(db, capsys, tmp_path):
    code, data = run_json(capsys, [*db, "followup", "add", "--customer", CAC, "--type", "llamada",
                                   "--salesperson", "Zoe", "--notes", "Promete pagar"])
    assert code == 0 and data["seguimiento"]["vendedor"] == "Zoe"
    code, data = run_json(capsys, [*db, "followup", "add", "--customer", CAC, "--type", "visita"])
    assert code == 0 and data["seguimiento"]["vendedor"] == "Ana"  # the customer's
    out = tmp_path / "seg.csv"
    code, _, err = run(capsys, [*db, "followup", "list", "--out", str(out)])
    assert code == 0, err
    text = out.read_bytes()
    assert text.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    header = next(r for r in rows if r and r[0] == "Id")
    body = rows[rows.index(header) + 1:]
    assert [r[header.index("Vendedor")] for r in body] == ["Zoe", "Ana"]
    assert body[0][header.index("Notas")] == "Promete pagar"
    xlsx = tmp_path / "seg.xlsx"
    code, _, err = run(capsys, [*db, "followup", "history", "--out", str(xlsx)])
    assert code == 0, err
    assert load_workbook(xlsx).sheetnames
    code, data = run_json(capsys, [*db, "followup", "list"])
    assert [r["vendedor"] for r in data["seguimientos"]] == ["Zoe", "Ana"]  # --json unchanged in shape
    tasks = tmp_path / "tareas.xlsx"
    code, _, err = run(capsys, [*db, "followup", "tasks", "--out", str(tasks)])
    assert code == 0, err
    wb = load_workbook(tasks)
    assert wb.sheetnames[:1] == ["Tareas"] and "Realizados por tipo" in wb.sheetnames
    code, out_text, _ = run(capsys, [*db, "followup", "tasks", "--format", "csv"])
    assert code == 0 and "Realizados por tipo" in out_text and "llamada" in out_text


def test_document_assign_moves_one_sale_in_the_branch_reports(db, capsys, generated):
    uuid = generated.invoices[f"{CAC}:60"].uuid
    aging = [*db, "report", "aging", "--as-of", "2026-10-31", "--rate", "USD=17.5", "--by", "sucursal"]
    _, before = run_json(capsys, aging)
    code, data = run_json(capsys, [*db, "document", "assign", uuid, "--branch", "Centro", "--salesperson",
                                   "Carla", "--user", "jefe"])
    assert code == 0
    assert data["asignacion"]["sucursal"] == "Centro" and data["asignacion"]["vendedor"] == "Carla"
    assert data["asignacion"]["anterior"] == {"sucursal": "Norte", "vendedor": "Ana"}
    _, after = run_json(capsys, aging)
    groups = {(r["grupo"], r["moneda"]): r for r in after["filas"]}
    old = {(r["grupo"], r["moneda"]): r for r in before["filas"]}
    assert ("Centro", "MXN") not in old and groups[("Centro", "MXN")]["documentos"] == 1
    moved = float(groups[("Centro", "MXN")]["total"])
    assert moved > 0
    assert float(old[("Norte", "MXN")]["total"]) - float(groups[("Norte", "MXN")]["total"]) == pytest.approx(moved)
    code, rep = run_json(capsys, [*db, "report", "collectors", "--from", "2026-01-01", "--to", "2026-10-31",
                                  "--by", "sucursal"])
    assert code == 0 and any(r["grupo"] == "Centro" and float(r["saldo"]) == pytest.approx(moved)
                             for r in rep["filas"])
    code, text, _ = run(capsys, [*db, "document", "assign", uuid, "--branch", "Sur"])
    assert code == 0 and "Centro -> Sur" in text
    code, _, err = run(capsys, [*db, "document", "assign", "NO-EXISTE", "--branch", "Sur"])
    assert code == 1 and "DOCUMENTO_NO_ENCONTRADO" in err
    code, _, err = run(capsys, [*db, "document", "assign", uuid])
    assert code == 2 and "--branch" in err


def test_letters_are_logged_and_their_pdf_downloaded(db, capsys, tmp_path):
    out = tmp_path / "cartas.pdf"
    base = [*db, "letters", "--kind", "recordatorio_2", "--as-of", "2026-10-31", "--out", str(out), "--user", "ana"]
    code, data = run_json(capsys, base)
    assert code == 0 and len(data["cartas"]) >= 2
    assert not any(c["repetida"] for c in data["cartas"])
    ids = [c["seguimiento"] for c in data["cartas"]]
    code, listing = run_json(capsys, [*db, "followup", "list", "--type", "carta"])
    assert [f["id"] for f in listing["seguimientos"]] == ids
    first = listing["seguimientos"][0]
    assert first["contacto"] == "ana" and "31/10/2026" in first["notas"] and "recordatorio_2" in first["notas"]
    assert first["rfc"] == data["cartas"][0]["rfc"] and first["adjunto"]["nombre"].endswith(f"{first['rfc']}.pdf")
    code, shown = run_json(capsys, [*db, "followup", "show", str(ids[0])])
    assert code == 0 and shown["seguimiento"]["adjunto"] == first["adjunto"]
    pdf = tmp_path / "una.pdf"
    code, got = run_json(capsys, [*db, "followup", "attachment", str(ids[0]), "--out", str(pdf)])
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == first["adjunto"]["sha256"] == got["sha256"]
    # Same letter again today: written again, not logged twice.
    code, text, _ = run(capsys, base)
    assert code == 0 and "ya registrada(s) hoy" in text
    code, listing = run_json(capsys, [*db, "followup", "list", "--type", "carta"])
    assert [f["id"] for f in listing["seguimientos"]] == ids
    code, _, err = run(capsys, [*db, "followup", "attachment", "999", "--out", str(pdf)])
    assert code == 1 and "ADJUNTO_NO_ENCONTRADO" in err


def test_letters_that_cannot_be_written_log_nothing(db, capsys, tmp_path):
    target = tmp_path / "carpeta"
    target.mkdir()  # a directory: the PDF cannot be written there
    code, _, err = run(capsys, [*db, "letters", "--kind", "confirmacion_saldos", "--as-of", "2026-10-31",
                                "--out", str(target)])
    assert code != 0 and "Traceback" not in err
    code, listing = run_json(capsys, [*db, "followup", "list", "--type", "carta"])
    assert listing["seguimientos"] == []
