"""Estado de cuenta PDF."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import Application, Receivable
from cfdi_cobranza.domain.statement import Company, statement
from cfdi_cobranza.pdf.statement import render_statement_pdf


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) no está instalado")
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


RFC = "CPA990101XY2"
NAME = "COMERCIALIZADORA PEÑA Y ASOCIADOS"


def _doc(doc_id: str, ref: str, fecha: date, total: str, moneda: str = "MXN") -> Receivable:
    return Receivable(doc_id, RFC, NAME, moneda, Decimal(total), fecha, date(fecha.year, fecha.month, 28), referencia=ref)


def test_running_balance_and_currencies() -> None:
    docs = [
        _doc("d0", "A-900", date(2024, 11, 5), "1000.00"),
        _doc("d1", "A-1000", date(2024, 12, 2), "11600.00"),
        _doc("d2", "A-1001", date(2024, 12, 10), "2320.00"),
        _doc("d3", "EXP-7", date(2024, 12, 3), "1160.00", "USD"),
    ]
    apps = [
        Application("d0", date(2024, 11, 20), Decimal("400.00"), referencia="SPEI-1"),
        Application("d1", date(2024, 12, 15), Decimal("5800.00"), referencia="SPEI-2"),
    ]
    sts = statement(RFC, docs, apps, DateRange(date(2024, 12, 1), date(2024, 12, 31)))
    pdf = render_statement_pdf(sts, empresa=Company("DISTRIBUIDORA DEL NORTE SA DE CV", "DNO010101AB1"))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Fecha de corte: 31/12/2024" in text
    assert "Periodo: 01/12/2024 al 31/12/2024" in text
    assert NAME in text
    lines = text.splitlines()

    def line_with(*parts: str) -> str:
        return next(ln for ln in lines if all(p in ln for p in parts))

    assert "$600.00 MXN" in line_with("Saldo inicial", "01/12/2024")
    assert line_with("02/12/2024", "A-1000").rstrip().endswith("$12,200.00 MXN")
    assert line_with("10/12/2024", "A-1001").rstrip().endswith("$14,520.00 MXN")
    assert line_with("15/12/2024", "Pago").rstrip().endswith("$8,720.00 MXN")
    assert "$8,720.00 MXN" in line_with("Totales y saldo final")
    assert "$1,160.00 USD" in line_with("Totales y saldo final", "USD")
    assert "Moneda: USD - Dólar americano" in text


def test_empty_statement_still_renders() -> None:
    text = pdf_text(render_statement_pdf([], empresa=Company("X SA DE CV", "XAX010101AB1")))
    assert "Sin movimientos" in text
