"""CSV and Excel exports: numbers stay numbers, text that a spreadsheet would run as a
formula stays text (issue 14)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from cfdi_cobranza.reports.export import Column, Kind, Report, Table, to_csv, to_xlsx

FORMULAS = ["=1+1", "+52 55", "-resta", "@SUM(A1)", "\tTAB", "\rCR"]


def _report() -> Report:
    rows = [[f"Cliente {text!r}", text, -14, Decimal("-3.50"), "-14"] for text in FORMULAS]
    rows.append(["Normal", "ACME", 7, Decimal("1.00"), "15"])
    table = Table("Datos", [Column("Nombre"), Column("Texto"), Column("Días", Kind.INT), Column("Saldo", Kind.MONEY),
                            Column("Días texto", Kind.INT)], rows)
    return Report("Prueba", [("Vendedor", "=HYPERLINK(\"http://x\")")], [table])


def test_csv_quotes_only_text_that_starts_a_formula():
    text = to_csv(_report()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    for row, formula in zip(rows, FORMULAS, strict=False):
        assert row[1] == "'" + formula
        assert row[2] == "-14" and row[3] == "-3.50" and row[4] == "-14"  # numbers, not text
    assert rows[-1][1:] == ["ACME", "7", "1.00", "15"]


def test_xlsx_text_cells_are_text_without_a_visible_apostrophe():
    ws = load_workbook(io.BytesIO(to_xlsx(_report()))).active
    assert ws["B2"].value == '=HYPERLINK("http://x")' and ws["B2"].data_type == "s" and ws["B2"].quotePrefix
    by_row = {row[1].value: row for row in ws.iter_rows(min_row=5) if row[1].value is not None}
    for formula in FORMULAS:
        cell = by_row[formula][1]
        assert cell.data_type == "s" and cell.value == formula and cell.quotePrefix, formula
        assert by_row[formula][2].value == -14 and by_row[formula][2].data_type == "n"
    assert not by_row["ACME"][1].quotePrefix
