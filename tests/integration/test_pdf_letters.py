"""Collection and verification letters."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from cfdi_cobranza.domain.statement import Company
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.pdf.letters import (
    Customer,
    LetterData,
    LetterDocument,
    LetterKind,
    compose,
    default_template,
    fill_template,
    render_letter_pdf,
    render_letters_batch,
    unknown_placeholders,
)


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) no está instalado")
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


COMPANY = Company("DISTRIBUIDORA DEL NORTE SA DE CV", "DNO010101AB1", "Av. Constitución 1500", "Monterrey, N.L.")
CUSTOMER = Customer("COMERCIALIZADORA PEÑA Y ASOCIADOS", "CPA990101XY2")
DOCS = (
    LetterDocument("A-1000", "c9d3a4b1-1111-4a2b-9c3d-000000000001", date(2024, 10, 1),
                   date(2024, 10, 31), 76, "MXN", Decimal("11600.00"), Decimal("5800.00")),
    LetterDocument("A-1001", "c9d3a4b1-1111-4a2b-9c3d-000000000002", date(2024, 12, 20),
                   date(2025, 1, 19), 0, "MXN", Decimal("2320.00"), Decimal("2320.00")),
    LetterDocument("EXP-7", "c9d3a4b1-1111-4a2b-9c3d-000000000003", date(2024, 11, 1),
                   date(2024, 12, 1), 45, "USD", Decimal("1160.00"), Decimal("1160.00")),
)


def letter(kind: LetterKind | str, template: str | None = None) -> LetterData:
    return LetterData(COMPANY, CUSTOMER, date(2025, 1, 15), kind, DOCS, template=template,
                      firmante="C.P. Jorge Treviño Garza")


@pytest.mark.parametrize("kind", list(LetterKind))
def test_each_kind_renders_with_placeholders_substituted(kind: LetterKind) -> None:
    pdf = render_letter_pdf(letter(kind))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "{" not in text and "}" not in text
    assert "COMERCIALIZADORA PEÑA Y ASOCIADOS" in text
    assert "15 de enero de 2025" in text
    assert "C9D3A4B1-1111-4A2B-9C3D-000000000001" in text
    assert "$5,800.00 MXN" in text
    assert "$1,160.00 USD" in text
    assert "Treviño" in text


def test_totals_per_currency_and_overdue_values() -> None:
    data = letter(LetterKind.RECORDATORIO_2)
    totals = {t.moneda: t for t in data.totals()}
    assert totals["MXN"].saldo == Decimal("8120.00")
    assert totals["MXN"].vencido == Decimal("5800.00")  # the not-yet-due one is excluded
    assert totals["USD"].vencido == Decimal("1160.00")
    text = compose(data)
    assert "$5,800.00 MXN y $1,160.00 USD" in text.cuerpo
    assert "76 días" in text.cuerpo
    assert text.asunto == "Segundo aviso — saldo vencido de $5,800.00 MXN y $1,160.00 USD"


@pytest.mark.parametrize(
    "evil",
    [
        "Hola {__class__}",
        "Hola {cliente.__class__.__mro__}",
        "Hola {cliente[0]}",
        "Hola {cliente!r}",
        "Hola {empresa:>10}",
        "Hola {clientee}",
    ],
)
def test_hostile_or_unknown_placeholders_are_refused(evil: str) -> None:
    with pytest.raises(ValidationError) as err:
        render_letter_pdf(letter(LetterKind.RECORDATORIO_1, template=evil))
    assert err.value.code == "PLANTILLA_INVALIDA"
    assert "{cliente}" in err.value.message  # the message lists the allowed fields


def test_substitution_never_evaluates_values() -> None:
    # A value that looks like a placeholder is inserted literally, not expanded again.
    out = fill_template("{a} {{literal}} {b}", {"a": "{b}", "b": "x"})
    assert out == "{b} {literal} x"
    assert unknown_placeholders("{cliente} {x.y}") == ["x.y"]


def test_custom_template_with_table_mark() -> None:
    tpl = "# comentario\nAsunto: Saldo de {cliente}\n\nCuerpo {total_vencido}.\n---\nCierre {empresa}."
    text = pdf_text(render_letter_pdf(letter("recordatorio_1", template=tpl)))
    assert "Asunto: Saldo de COMERCIALIZADORA PEÑA Y ASOCIADOS" in text
    assert "Cierre DISTRIBUIDORA DEL NORTE SA DE CV." in text
    assert "comentario" not in text


def test_default_templates_only_use_known_fields() -> None:
    for kind in LetterKind:
        assert unknown_placeholders(default_template(kind)) == []


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        render_letter_pdf(letter("amenaza"))


def test_batch_one_pdf_and_bad_letter_does_not_stop_it() -> None:
    letters = [letter(k) for k in LetterKind] + [letter("recordatorio_1", template="{x.__class__}")]
    text = pdf_text(render_letters_batch(letters))
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) >= 5
    assert "Aviso prejurídico" in text
    assert "Confirmación del cliente" in text
    assert "CARTA NO GENERADA" in pages[-1]
    assert "Hoja 1" in pages[0]
