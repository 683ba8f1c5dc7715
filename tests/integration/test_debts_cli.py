"""``cobranza debt ...`` and ``cobranza report cash-cut`` through the CLI: configurable types,
the instrument a cheque/card receipt creates, a returned cheque end to end, the cash cut."""

from __future__ import annotations

import csv
import io
import json

import pytest
from collections_data import generate, import_all, make_factory
from openpyxl import load_workbook

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.session import make_engine, migrate

FOMJ = "FOMJ8106119D6"


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=7)


@pytest.fixture
def db(tmp_path, monkeypatch, factory, settings, clock):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("COBRANZA_USER", "cajera1")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    migrate(engine)
    import_all(engine, settings, factory, generate(factory), clock)
    engine.dispose()
    return ["--db", url]


def run(capsys, argv):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def run_json(capsys, argv):
    code, out, err = run(capsys, [*argv, "--json"])
    assert out, err
    return code, json.loads(out)


def _cheque_payment(capsys, db, amount="800.00", when="2026-10-30T10:00:00", form="02"):
    code, data = run_json(capsys, [*db, "payment", "add", "--customer", FOMJ, "--date", when, "--amount", amount,
                                   "--form", form, "--operation", "CH-77", "--payer-bank-rfc", "BBA830831LJ2",
                                   "--box", "Caja 1"])
    assert code == 0, data
    return data


def _payment_id(data):
    return data["payment_id"]


def test_cheque_receipt_creates_its_cheque_linked_both_ways(db, capsys):
    assert run(capsys, [*db, "box", "add", "Caja 1", "--kind", "caja"])[0] == 0
    pid = _payment_id(_cheque_payment(capsys, db))
    code, data = run_json(capsys, [*db, "debt", "list", "--customer", FOMJ])
    assert code == 0
    [doc] = data["documentos"]
    assert (doc["tipo"], doc["numero"], doc["banco"], doc["importe"], doc["fecha"], doc["payment_id"],
            doc["estado"]) == ("cheque", "CH-77", "BBA830831LJ2", "800.00", "2026-10-30", pid, "en_cartera")
    code, data = run_json(capsys, [*db, "payments", "--customer", FOMJ])
    assert [p["documento_cobranza"] for p in data["payments"] if p["id"] == pid] == [doc["id"]]
    # A transfer (03) backs no instrument; a card (04) a voucher.
    run_json(capsys, [*db, "payment", "add", "--customer", FOMJ, "--date", "2026-10-30T11:00:00", "--amount", "50",
                      "--form", "03", "--box", "Caja 1"])
    _cheque_payment(capsys, db, amount="120.00", form="04")
    code, data = run_json(capsys, [*db, "debt", "list"])
    assert sorted(d["tipo"] for d in data["documentos"]) == ["cheque", "tarjeta"]


def test_returned_cheque_reopens_charges_and_agrees_on_unapplied(db, capsys):
    run(capsys, [*db, "box", "add", "Caja 1", "--kind", "caja"])
    pid = _payment_id(_cheque_payment(capsys, db))
    code, applied = run_json(capsys, [*db, "payment", "apply", str(pid), "--oldest-first"])
    assert code == 0, applied
    code, before = run_json(capsys, [*db, "customer", "summary", FOMJ, "--as-of", "2026-11-20"])
    debt_id = run_json(capsys, [*db, "debt", "list"])[1]["documentos"][0]["id"]
    assert run(capsys, [*db, "debt", "state", str(debt_id), "depositado", "--date", "2026-10-31"])[0] == 0
    code, out, err = run(capsys, [*db, "debt", "state", str(debt_id), "devuelto", "--date", "2026-11-02"])
    assert code == 1 and "MOTIVO_REQUERIDO" in out + err
    code, data = run_json(capsys, [*db, "debt", "state", str(debt_id), "devuelto", "--date", "2026-11-02",
                                   "--note", "Fondos insuficientes"])
    assert code == 0 and data["documento"]["creditos_revertidos"]
    assert [h["estado"] for h in data["documento"]["historial"]] == ["en_cartera", "depositado", "devuelto"]

    code, after = run_json(capsys, [*db, "customer", "summary", FOMJ, "--as-of", "2026-11-20"])
    owed = lambda s: sum(float(v) for v in s["saldo"].values())  # noqa: E731
    assert owed(after) == pytest.approx(owed(before) + 800)
    [charge] = after["cargos_devueltos"]
    assert "Fondos insuficientes" in charge["concepto"] and charge["fecha"] == "2026-11-02"
    assert charge["reaplicar"] == "800.00"
    # The payment list and the summary agree: the returned money is no credit balance.
    [pay] = [p for p in run_json(capsys, [*db, "payments", "--customer", FOMJ])[1]["payments"] if p["id"] == pid]
    assert pay["status"] == "devuelto" and pay["saldo_a_favor"] == "0.00"
    assert after["saldo_sin_aplicar"].get("MXN", "0.00") == before["saldo_sin_aplicar"].get("MXN", "0.00")

    code, st = run_json(capsys, [*db, "report", "statement", "--customer", FOMJ, "--from", "2026-10-01",
                                 "--to", "2026-11-30"])
    assert code == 0
    lines = [ln for s in st["estados"] for ln in s["lineas"]]
    text = json.dumps(lines, ensure_ascii=False)
    assert "Fondos insuficientes" in text
    charge_lines = [ln for ln in lines if "Fondos insuficientes" in json.dumps(ln, ensure_ascii=False)]
    # The payment on its date (it did arrive then), the charge with its reason when it bounced.
    assert sorted((ln["fecha"], ln["cargo"], ln["abono"]) for ln in charge_lines) == [
        ("2026-10-30", "0.00", "800.00"), ("2026-11-02", "800.00", "0.00")]
    # Returned twice: refused, nothing changes.
    code, out, err = run(capsys, [*db, "debt", "state", str(debt_id), "devuelto", "--note", "x"])
    assert code == 1 and "TRANSICION_INVALIDA" in out + err


def test_types_are_configurable_and_still_follow_the_state_table(db, capsys):
    code, out, err = run(capsys, [*db, "debt", "add", "--customer", FOMJ, "--type", "letra", "--amount", "100",
                                  "--date", "2026-10-01"])
    assert code == 1 and "TIPO_DOCUMENTO_INVALIDO" in out + err
    code, data = run_json(capsys, [*db, "debt", "type-set", "letra", "--name", "Letra de cambio", "--postdated",
                                   "--states", "en_cartera,cobrado,protestado,cancelado",
                                   "--transition", "en_cartera:cobrado,protestado", "--transition",
                                   "protestado:cobrado"])
    assert code == 0, data
    assert data["tipo"]["transiciones"]["en_cartera"] == ["cobrado", "protestado"]
    # A move the state table does not allow cannot be configured.
    code, out, err = run(capsys, [*db, "debt", "type-set", "raro", "--name", "Raro", "--transition",
                                  "cancelado:en_cartera"])
    assert code == 1 and "TRANSICION_NO_PERMITIDA" in out + err
    code, data = run_json(capsys, [*db, "debt", "add", "--customer", FOMJ, "--type", "letra", "--amount", "100",
                                   "--date", "2026-10-01", "--cash-date", "2026-10-20", "--number", "L-1"])
    assert code == 0, data
    did = str(data["documento"]["id"])
    # Allowed by the table (en_cartera -> cancelado) but not by this type.
    code, out, err = run(capsys, [*db, "debt", "state", did, "cancelado", "--date", "2026-10-02"])
    assert code == 1 and "TRANSICION_INVALIDA" in out + err
    # Post-dated: en cartera until its date.
    code, out, err = run(capsys, [*db, "debt", "state", did, "cobrado", "--date", "2026-10-10"])
    assert code == 1 and "DOCUMENTO_POSFECHADO" in out + err
    assert run(capsys, [*db, "debt", "state", did, "cobrado", "--date", "2026-10-20"])[0] == 0
    code, out, _ = run(capsys, [*db, "debt", "show", did])
    assert code == 0 and "en_cartera" in out and "cobrado" in out
    # A voucher cannot be post-dated.
    code, out, err = run(capsys, [*db, "debt", "add", "--customer", FOMJ, "--type", "tarjeta", "--amount", "10",
                                  "--date", "2026-10-01", "--cash-date", "2026-10-05"])
    assert code == 1 and "POSFECHADO_NO_PERMITIDO" in out + err
    # Filters: state and due (cash) date.
    run_json(capsys, [*db, "debt", "add", "--customer", FOMJ, "--type", "cheque", "--amount", "10",
                      "--date", "2026-11-01", "--cash-date", "2026-11-30"])
    code, data = run_json(capsys, [*db, "debt", "list", "--state", "en_cartera", "--due-from", "2026-11-15"])
    assert [d["fecha_cobro"] for d in data["documentos"]] == ["2026-11-30"]
    code, data = run_json(capsys, [*db, "debt", "list", "--due-to", "2026-10-31"])
    assert [d["numero"] for d in data["documentos"]] == ["L-1"]
    code, data = run_json(capsys, [*db, "debt", "types"])
    assert {"cheque", "pagare", "tarjeta", "otro", "letra"} <= {t["code"] for t in data["tipos"]}


def test_cash_cut_report_in_every_format(db, capsys, tmp_path):
    run(capsys, [*db, "box", "add", "Caja 1", "--kind", "caja"])
    _cheque_payment(capsys, db)
    run_json(capsys, [*db, "payment", "add", "--customer", FOMJ, "--date", "2026-10-30T12:00:00", "--amount", "50.50",
                      "--form", "01", "--box", "Caja 1"])
    run_json(capsys, [*db, "payment", "add", "--customer", FOMJ, "--date", "2026-10-31T12:00:00", "--amount", "999",
                      "--form", "01", "--box", "Caja 1"])  # another day
    code, data = run_json(capsys, [*db, "report", "cash-cut", "--box", "Caja 1", "--date", "2026-10-30"])
    assert code == 0, data
    assert [(ln["forma_pago"], ln["usuario"], ln["recibos"], ln["importe"]) for ln in data["lineas"]] == [
        ("01", "cli", 1, "50.50"), ("02", "cli", 1, "800.00")]  # «payment add» signs as cli
    assert [(c["numero"], c["importe"]) for c in data["cheques"]] == [("CH-77", "800.00")]
    assert data["totales"] == {"MXN": "850.50"}
    code, out, _ = run(capsys, [*db, "report", "cash-cut", "--box", "Caja 1", "--date", "2026-10-30"])
    assert code == 0 and "Corte de caja" in out and "$850.50" in out
    code, out, _ = run(capsys, [*db, "report", "cash-cut", "--box", "Caja 1", "--date", "2026-10-30",
                                "--format", "csv"])
    rows = list(csv.reader(io.StringIO(out)))
    assert ["TOTAL", "MXN", "850.50", "0.00"] in rows
    xlsx = tmp_path / "corte.xlsx"
    assert run(capsys, [*db, "report", "cash-cut", "--box", "Caja 1", "--date", "2026-10-30", "--out", str(xlsx)])[0] == 0
    assert "Recibos" in load_workbook(xlsx).sheetnames
    pdf = tmp_path / "corte.pdf"
    assert run(capsys, [*db, "report", "cash-cut", "--box", "Caja 1", "--date", "2026-10-30", "--out", str(pdf)])[0] == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    code, out, err = run(capsys, [*db, "report", "cash-cut", "--box", "Nada"])
    assert code == 1 and "CAJA_NO_ENCONTRADA" in out + err
