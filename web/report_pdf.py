"""A report's tables as a plain printed PDF (Reportes → PDF).

Writes the same ``reports.export.Report`` the CSV and Excel downloads come from with
the project's ``PrintedDocument`` (Letter page, numbered footer): title, the header
facts (fecha de corte, agrupación ...) and each table with its column titles repeated
on every page. No arithmetic: every figure is the report's own. Lives in ``web/``
because only the web offers a PDF of the tabular reports; it can move to
``cfdi_cobranza/pdf`` when the CLI wants one.
"""

from __future__ import annotations

from typing import Any

from fpdf.enums import XPos, YPos

from cfdi_cobranza.pdf.layout import ACCENT, FONT, INK, MUTED, Column, PrintedDocument, pdf_text
from cfdi_cobranza.reports.export import Kind, Report, Table, _text_cell

_SIZE = 6.8
_WEIGHT = {Kind.MONEY: 1.5, Kind.TEXT: 1.6, Kind.DATE: 1.0, Kind.INT: 0.8, Kind.PCT: 0.9, Kind.RATE: 0.9}


def _columns(table: Table, width: float) -> list[Column]:
    weights = [_WEIGHT.get(c.kind, 1.0) * (0.6 if c.title in ("Moneda", "Clave") else 1.0) for c in table.columns]
    total = sum(weights) or 1.0
    align = {Kind.MONEY: "R", Kind.INT: "R", Kind.PCT: "R", Kind.RATE: "R", Kind.DATE: "C"}
    return [Column(c.title, width * w / total, align.get(c.kind, "L")) for c, w in zip(table.columns, weights,
                                                                                          strict=True)]


def _cell(value: Any, kind: Kind, currency: str) -> str:
    return _text_cell(value, kind, currency)


def report_pdf(report: Report) -> bytes:
    pdf = PrintedDocument(footer_note=f"Cobranza CFDI · {report.title}", title=report.title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 14)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, pdf_text(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 4.6, pdf_text(" · ".join(f"{k}: {v}" for k, v in report.meta)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for table in report.tables:
        pdf.ln(3)
        pdf.section(table.name)
        if not table.rows:
            pdf.paragraph("Sin datos.", size=8)
            continue
        cols = _columns(table, width)
        pdf.table_header(cols, _SIZE)
        for i, row in enumerate(table.rows):
            cur = table.currency_of(row)
            values = [_cell(v, c.kind, cur) for v, c in zip(row, table.columns, strict=True)]
            pdf.table_row(cols, values, size=_SIZE, zebra=i % 2 == 1, bold=row[0] == "TOTAL")
    return bytes(pdf.output())
