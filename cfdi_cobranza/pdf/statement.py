"""Estado de cuenta per customer as PDF.

Prints the domain's ``Statement`` records (one per currency): saldo inicial, every
cargo and abono with the running balance the domain computed, totals and saldo final,
all under a "Fecha de corte". The PDF adds no arithmetic of its own, so what it shows
is what the ledger says.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fpdf.enums import XPos, YPos

from cfdi_cobranza.domain.statement import Company, Statement, StatementLine
from cfdi_cobranza.pdf import formatting as f
from cfdi_cobranza.pdf.layout import (
    ACCENT,
    FONT,
    INK,
    MUTED,
    RULE,
    Column,
    PrintedDocument,
    pdf_text,
)

_SIZE = 7.2
_COLUMNS = (
    Column("Fecha", 18, "C"),
    Column("Documento", 34),
    Column("Concepto", 49.9),
    Column("Cargo", 30, "R"),
    Column("Abono", 30, "R"),
    Column("Saldo", 30, "R"),
)


def _concepto(line: StatementLine) -> str:
    entry = line.entry
    text = entry.concepto
    if entry.abono and entry.referencia and entry.referencia != entry.document.referencia:
        text += f" {entry.referencia}"
    return text


def _draw_statement(pdf: PrintedDocument, st: Statement, empresa: Company, corte: date) -> None:
    pdf.set_font(FONT, "B", 13)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(120, 6, pdf_text(empresa.nombre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 3.8, pdf_text(f"RFC: {empresa.rfc}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if empresa.domicilio:
        pdf.multi_cell(120, 3.8, pdf_text(empresa.domicilio), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    top_right = pdf.t_margin
    pdf.set_xy(pdf.w - pdf.r_margin - 70, top_right)
    pdf.set_font(FONT, "B", 12)
    pdf.cell(70, 6, "ESTADO DE CUENTA", align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8)
    pdf.cell(70, 4.4, pdf_text(f"Fecha de corte: {f.fecha(corte)}"), align="R",
             new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.cell(70, 4.4, pdf_text(f"Periodo: {f.fecha(st.periodo.desde)} al {f.fecha(st.periodo.hasta)}"),
             align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.cell(70, 4.4, pdf_text(f"Moneda: {f.catalog('c_Moneda', st.moneda)}"), align="R")
    pdf.set_y(max(pdf.get_y(), top_right + 22))
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.5)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(3)

    pdf.set_font(FONT, "", 6.5)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 3, "Cliente", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 5, pdf_text(st.nombre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8.5)
    pdf.cell(0, 4.4, pdf_text(f"RFC: {st.rfc}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    _summary(pdf, st)
    pdf.ln(3)
    pdf.section("Movimientos")
    pdf.table_header(_COLUMNS, _SIZE)
    pdf.table_row(
        _COLUMNS,
        (f.fecha(st.periodo.desde), "", "Saldo inicial", "", "", f.money(st.saldo_inicial, st.moneda)),
        size=_SIZE,
        bold=True,
    )
    for i, line in enumerate(st.lineas):
        entry = line.entry
        pdf.table_row(
            _COLUMNS,
            (
                f.fecha(line.fecha),
                entry.document.referencia or entry.doc_id,
                _concepto(line),
                f.money(line.cargo, st.moneda) if line.cargo else "",
                f.money(line.abono, st.moneda) if line.abono else "",
                f.money(line.saldo, st.moneda),
            ),
            size=_SIZE,
            zebra=i % 2 == 1,
        )
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.table_row(
        _COLUMNS,
        (
            f.fecha(st.periodo.hasta),
            "",
            "Totales y saldo final",
            f.money(st.total_cargos, st.moneda),
            f.money(st.total_abonos, st.moneda),
            f.money(st.saldo_final, st.moneda),
        ),
        size=_SIZE,
        bold=True,
    )


def _summary(pdf: PrintedDocument, st: Statement) -> None:
    boxes = (
        ("Saldo inicial", st.saldo_inicial),
        ("Cargos", st.total_cargos),
        ("Abonos", st.total_abonos),
        ("Saldo final", st.saldo_final),
        ("Saldo vencido", st.saldo_vencido),
    )
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(boxes)
    y = pdf.get_y()
    pdf.set_draw_color(*RULE)
    for i, (label, value) in enumerate(boxes):
        x = pdf.l_margin + i * width
        pdf.rect(x, y, width - 2, 12)
        pdf.set_xy(x + 1.5, y + 1.5)
        pdf.set_font(FONT, "", 6.8)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 5, 3.5, pdf_text(label))
        pdf.set_xy(x + 1.5, y + 5.6)
        pdf.set_font(FONT, "B", 9)
        pdf.set_text_color(*INK)
        pdf.cell(width - 5, 5, pdf.fit(f.money(value, st.moneda), width - 5))
    pdf.set_xy(pdf.l_margin, y + 13)


def render_statement_pdf(
    statements: Sequence[Statement],
    *,
    empresa: Company,
    fecha_corte: date | None = None,
    compress: bool = True,
) -> bytes:
    """The estados de cuenta (one customer's currencies, or several customers) in one PDF.

    Each statement starts on its own page. ``fecha_corte`` defaults to the end of each
    statement's period.
    """
    pdf = PrintedDocument(
        footer_note=f"{empresa.nombre} · Estado de cuenta",
        compress=compress,
        title="Estado de cuenta",
    )
    if not statements:
        pdf.add_page()
        pdf.paragraph("Sin movimientos ni saldo en el periodo.")
    for st in statements:
        pdf.add_page()
        # Set after add_page(): it closes the previous page with the previous footer.
        pdf.footer_note = f"{empresa.nombre} · Estado de cuenta · {st.nombre} · {st.moneda}"
        _draw_statement(pdf, st, empresa, fecha_corte or st.periodo.hasta)
    return bytes(pdf.output())
