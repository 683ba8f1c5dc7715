"""CLI contract of the collections commands: exit codes, JSON shapes, Spanish errors, no tracebacks."""

from __future__ import annotations

import json

import pytest
from collections_data import generate, import_all, make_factory
from openpyxl import load_workbook

from cfdi_cobranza.cli.main import main
from cfdi_cobranza.db.session import make_engine, migrate


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=4)


@pytest.fixture
def db(tmp_path, monkeypatch, factory, settings, clock):
    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
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
    code, out, _ = run(capsys, [*argv, "--json"])
    return code, json.loads(out)


def test_aging_json_shape(db, capsys):
    code, data = run_json(capsys, [*db, "report", "aging", "--as-of", "31/10/2026", "--rate", "USD=17.5"])
    assert code == 0
    assert data["fecha_corte"] == "2026-10-31"
    assert data["rangos"] == ["Por vencer", "1-30", "31-60", "61-90", "Más de 90"]
    assert set(data["totales"]) == {"MXN", "USD"}
    row = data["filas"][0]
    assert set(row) >= {"grupo", "nombre", "moneda", "importes", "total", "documentos", "porcentajes", "participacion"}
    assert all(isinstance(v, str) for v in row["importes"])  # money never as float


@pytest.mark.parametrize("argv,code,text", [
    (["report", "aging", "--buckets", "60,30"], 1, "BUCKETS_INVALIDOS"),
    (["report", "aging", "--as-of", "2026-13-01"], 2, "Fecha inválida"),
    (["report", "aging", "--by", "planeta"], 1, "AGRUPACION_INVALIDA"),
    (["report", "movement", "--from", "2026-10-31", "--to", "2026-01-01"], 1, "RANGO_INVALIDO"),
    (["report", "statement", "--customer", "AAA010101AAA", "--from", "2026-01-01", "--to", "2026-10-31"], 1,
     "CLIENTE_NO_ENCONTRADO"),
    (["customer", "set", "CAC070627H79", "--limit", "MXN=-100"], 1, "LIMITE_INVALIDO"),
    (["customer", "set", "CAC070627H79", "--limit", "MXN"], 2, "MONEDA=IMPORTE"),
    (["credit", "check", "--customer", "CAC070627H79", "--amount", "abc"], 2, "importe inválido"),
    (["report", "aging", "--format", "xlsx"], 2, "--out"),
    (["followup", "add", "--customer", "CAC070627H79", "--type", "paloma"], 1, "TIPO_SEGUIMIENTO_INVALIDO"),
])
def test_bad_input_is_refused_in_spanish_without_traceback(db, capsys, argv, code, text):
    got, out, err = run(capsys, [*db, *argv])
    assert got == code
    assert text in out + err
    assert "Traceback" not in out + err


def test_errors_as_json(db, capsys):
    code, data = run_json(capsys, [*db, "report", "aging", "--buckets", "0,0"])
    assert code == 1
    assert data["error"]["code"] == "BUCKETS_INVALIDOS"


def test_credit_check_json(db, capsys):
    code, data = run_json(capsys, [*db, "credit", "check", "--customer", "CAC070627H79", "--amount", "1500"])
    assert code == 0
    assert data["nivel"] in {"informacion", "advertencia", "solicitud_autorizacion", "restriccion"}
    assert {r["code"] for r in data["razones"]} >= {"SIN_LIMITE_MONEDA"}
    assert set(data) >= {"rfc", "operacion", "nivel", "razones", "disponible", "saldos", "dias_vencido_max"}


def test_customer_set_show_and_summary(db, capsys):
    code, data = run_json(capsys, [*db, "customer", "set", "CAC070627H79", "--limit", "MXN=50000",
                                   "--term", "45", "--status", "suspendido", "--salesperson", "Ana"])
    assert code == 0 and data["condiciones"]["limites"] == {"MXN": "50000.00"}
    code, data = run_json(capsys, [*db, "customer", "show", "CAC070627H79"])
    assert data["condiciones"]["estatus"] == "suspendido"
    code, data = run_json(capsys, [*db, "customer", "summary", "CAC070627H79", "--as-of", "2026-10-31"])
    assert code == 0
    assert set(data) >= {"saldo", "saldo_vencido", "documentos", "dias_atraso", "promesas_vigentes",
                         "promesas_incumplidas", "acciones", "compras", "pagos", "notas_credito", "saldo_sin_aplicar"}


def test_followup_cycle(db, capsys):
    code, data = run_json(capsys, [*db, "followup", "add", "--customer", "CAC070627H79", "--type", "llamada",
                                   "--notes", "Promete pagar", "--next-date", "2099-01-01"])
    assert code == 0 and data["seguimiento"]["estado"] == "pendiente"
    code, data = run_json(capsys, [*db, "followup", "list"])
    assert [f["id"] for f in data["seguimientos"]] == [1]
    code, data = run_json(capsys, [*db, "followup", "close", "--from", "2000-01-01", "--to", "2099-12-31"])
    assert data["cerrados"] == [1]
    code, data = run_json(capsys, [*db, "followup", "history"])
    assert data["seguimientos"][0]["estado"] == "cerrado"


@pytest.mark.parametrize("report", [
    ["report", "due", "--from", "2026-10-01", "--to", "2026-11-30", "--as-of", "2026-10-31"],
    ["report", "movement", "--from", "2026-01-01", "--to", "2026-10-31"],
    ["report", "statement", "--customer", "CAC070627H79", "--from", "2026-01-01", "--to", "2026-10-31"],
    ["report", "summary", "--from", "2026-01-01", "--to", "2026-10-31", "--by", "empresa"],
    ["report", "collectors", "--from", "2026-01-01", "--to", "2026-10-31", "--by", "sucursal"],
    ["report", "projection", "--as-of", "2026-10-31", "--period", "mes", "--rate", "USD=17.5"],
])
def test_every_report_exports_csv_xlsx_and_json(db, capsys, tmp_path, report):
    code, data = run_json(capsys, [*db, *report])
    assert code == 0 and "reporte" in data
    for ext in ("csv", "xlsx"):
        out = tmp_path / f"r.{ext}"
        code, _, err = run(capsys, [*db, *report, "--out", str(out)])
        assert code == 0, err
        assert out.stat().st_size > 0
    assert (tmp_path / "r.csv").read_bytes().startswith("\ufeff".encode())
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames


def test_aging_xlsx_money_format_and_sheet_per_currency(db, capsys, tmp_path):
    out = tmp_path / "aging.xlsx"
    code, _, _ = run(capsys, [*db, "report", "aging", "--as-of", "2026-10-31", "--rate", "USD=17.5", "--out", str(out)])
    assert code == 0
    wb = load_workbook(out)
    assert "Antigüedad MXN" in wb.sheetnames and "Antigüedad USD" in wb.sheetnames
    ws = wb["Antigüedad MXN"]
    header = next(r for r in ws.iter_rows(min_row=1, max_row=10) if r[0].value == "Cliente")
    assert all(c.font.bold for c in header if c.value is not None)
    money = ws.cell(row=header[0].row + 1, column=4)
    assert "#,##0.00" in money.number_format


def test_letters_command_writes_a_pdf(db, capsys, tmp_path):
    out = tmp_path / "cartas.pdf"
    code, data = run_json(capsys, [*db, "letters", "--kind", "recordatorio_2", "--as-of", "2026-10-31",
                                   "--customer", "CAC070627H79", "--out", str(out)])
    assert code == 0 and [c["rfc"] for c in data["cartas"]] == ["CAC070627H79"]
    assert out.read_bytes().startswith(b"%PDF")


def test_collection_type_filters_and_groups_the_reports_and_selects_letters(db, capsys, tmp_path):
    """Collection type (normal, judicial, especial, otra) filters and groups aging,
    collectors and the summary, and picks the customers of a letter batch."""
    judicial = "CAC070627H79"
    assert main([*db, "customer", "set", judicial, "--collection-type", "judicial"]) == 0
    capsys.readouterr()
    base = [*db, "report", "aging", "--as-of", "31/10/2026", "--rate", "USD=17.5"]
    _, everyone = run_json(capsys, base)
    _, only = run_json(capsys, [*base, "--tipo-cobranza", "judicial"])
    assert {r["grupo"] for r in only["filas"]} == {judicial}
    assert len({r["grupo"] for r in everyone["filas"]}) > 1
    _, grouped = run_json(capsys, [*base, "--by", "tipo_cobranza"])
    groups = {r["grupo"]: r for r in grouped["filas"]}
    assert set(groups) == {"judicial", "normal"}
    judicial_total = sum(float(r["total"]) for r in only["filas"] if r["moneda"] == "MXN")
    assert float(next(r["total"] for r in grouped["filas"]
                      if r["grupo"] == "judicial" and r["moneda"] == "MXN")) == judicial_total
    code, collectors = run_json(capsys, [*db, "report", "collectors", "--from", "2026-09-01", "--to", "2026-10-31",
                                         "--by", "tipo_cobranza"])
    assert code == 0 and {r["grupo"] for r in collectors["filas"]} <= {"judicial", "normal"}
    code, summary = run_json(capsys, [*db, "report", "summary", "--from", "2026-09-01", "--to", "2026-10-31",
                                      "--by", "tipo_cobranza", "--tipo-cobranza", "judicial"])
    assert code == 0 and {r["grupo"] for r in summary["filas"]} == {"judicial"}
    out = tmp_path / "prejuridicas.pdf"
    code, letters = run_json(capsys, [*db, "letters", "--kind", "prejuridica", "--as-of", "2026-10-31",
                                      "--tipo-cobranza", "judicial", "--out", str(out)])
    assert code == 0 and {c["rfc"] for c in letters["cartas"]} == {judicial}
    code, _out, err = run(capsys, [*base, "--tipo-cobranza", "planeta"])
    assert code == 1 and "TIPO_COBRANZA_INVALIDO" in err


def test_trends_report_and_summary_line(db, capsys):
    code, out, _ = run(capsys, [*db, "report", "trends", "--as-of", "31/10/2026", "--months", "3",
                                "--rate", "USD=17.5"])
    assert code == 0
    assert "Patrones y tendencias de pago" in out and "2026-08" in out and "2026-10" in out
    assert "Sin datos suficientes" in out and "Días ponderados" in out
    code, data = run_json(capsys, [*db, "report", "trends", "--as-of", "31/10/2026", "--customer", "CAC070627H79"])
    assert code == 0 and [c["rfc"] for c in data["clientes"]] == ["CAC070627H79"]
    assert len(data["cartera"]["meses"]) == 24
    code, _, err = run(capsys, [*db, "report", "trends", "--customer", "NOEXISTE"])
    assert code == 1 and "CLIENTE_NO_ENCONTRADO" in err
    code, out, _ = run(capsys, [*db, "customer", "summary", "CAC070627H79", "--as-of", "31/10/2026"])
    assert code == 0 and "Tendencia de pago: Sin datos suficientes" in out
