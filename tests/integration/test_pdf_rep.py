"""The printed REP: PDF and HTML from stamped Pagos 2.0 XML."""

from __future__ import annotations

import html
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, PaidDoc, Receptor
from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.pdf.rep import (
    LEYENDA,
    parse_rep,
    qr_total,
    render_rep_html,
    render_rep_pdf,
    verification_url,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "pdf"
UUID = "5FB2822E-396D-4725-8521-CDC4BDD20CCF"


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) no está instalado")
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return out.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def usd_xml() -> bytes:
    return (DATA / "rep-usd.xml").read_bytes()


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> CfdiFactory:
    return CfdiFactory(tmp_path_factory.mktemp("sandbox"))


def test_pdf_has_header_uuid_amounts_and_legend(usd_xml: bytes) -> None:
    pdf = render_rep_pdf(usd_xml)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in (
        UUID,
        "EKU9003173C9",
        "ESCUELA KEMPER URGATE SA DE CV",
        "COMERCIALIZADORA PEÑA Y ASOCIADOS",  # Ñ survives the core font
        "Régimen fiscal",
        "601 - General de Ley Personas Morales",
        "CP01 - Pagos",
        "Lugar de expedición (CP): 42501",
        "P-1",
        "15/01/2025 12:00:00",
        "10/01/2025 10:30:00",
        "03 - Transferencia electrónica de fondos",
        "$8,120.00 MXN",
        "$1,500.00 USD",
        "20.345600",
        "SPEI-0001234",
        "WIRE-88213",
        "WELLS FARGO BANK N.A.",
        "012180001234567891",
        "C9D3A4B1-1111-4A2B-9C3D-000000000001",
        "7A1C2E33-4B5D-4E6F-8A9B-0C1D2E3F4A5B",  # lower-case IdDocumento printed upper
        "A-1021",
        "$11,600.00 MXN",
        "$5,800.00 MXN",
        "20.3456",
        "$6,917.50 MXN",
        "Retención 001 - ISR",
        "Monto total de pagos",
        "$38,638.40 MXN",
        "No. de certificado del SAT",
        "Sello digital del SAT",
        "Cadena original del complemento de certificación digital del SAT",
        LEYENDA,
    ):
        assert expected in text, expected
    assert "SIN VALIDEZ FISCAL" not in text


def test_pdf_text_without_a_pdf_parser(usd_xml: bytes) -> None:
    # With compression off the page streams carry the Windows-1252 text as written.
    pdf = render_rep_pdf(usd_xml, compress=False)
    assert UUID.encode() in pdf
    assert "PEÑA".encode("cp1252") in pdf
    assert b"$38,638.40 MXN" in pdf


def test_sandbox_marks_every_page(factory: CfdiFactory) -> None:
    xml = _many_documents(factory, 60)
    text = pdf_text(render_rep_pdf(xml, sandbox=True))
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2
    for page in pages:
        assert "SIN VALIDEZ FISCAL — timbrado de prueba (sandbox)" in page


def test_cadena_and_qr_url(usd_xml: bytes) -> None:
    rep = parse_rep(usd_xml)
    assert rep.cadena_tfd.startswith(f"||1.1|{UUID}|2025-01-15T12:00:00|SPR190613I52|")
    assert rep.cadena_tfd.endswith(f"|{rep.no_certificado_sat}||")
    assert rep.sello_cfd in rep.cadena_tfd
    url = rep.verification_url
    assert url == (
        "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
        f"?id={UUID}&re=EKU9003173C9&rr=URE180429TM6&tt=0.0&fe={rep.sello[-8:]}"
    )


@pytest.mark.parametrize(
    ("total", "expected"),
    [("0", "0.0"), ("1500.50", "1500.5"), ("1000.00", "1000.0"), ("123.456789", "123.456789")],
)
def test_qr_total_format(total: str, expected: str) -> None:
    assert qr_total(total) == expected


def test_qr_url_escapes_ampersand_in_rfc() -> None:
    url = verification_url(UUID, "A&B010101AB1", "XAXX010101000", "0", "x" * 20)
    assert "re=A&amp;B010101AB1&rr=" in url


def test_html_is_self_contained_and_has_qr_url(usd_xml: bytes) -> None:
    page = render_rep_html(usd_xml)
    rep = parse_rep(usd_xml)
    assert html.escape(rep.verification_url) in page
    assert "<svg" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for tag in ("<script", "<link", "<img", "@import"):
        assert tag not in page
    assert UUID in page
    assert "$1,500.00 USD" in page
    assert LEYENDA in page
    assert "SIN VALIDEZ FISCAL" not in page
    assert "SIN VALIDEZ FISCAL — timbrado de prueba (sandbox)" in render_rep_html(
        usd_xml, sandbox=True
    )


def test_html_escapes_hostile_text(factory: CfdiFactory) -> None:
    hostile = '<script>alert("x")</script> & Ñandú ¿Sí? áéíóú'
    xml = factory.payment(
        [("11111111-2222-4333-8444-555555555555", 1, Decimal("100.00"), Decimal("100.00"))],
        receptor=Receptor(nombre=hostile, uso="CP01"),
        num_operacion='"><img src=x onerror=alert(1)>',
    ).xml
    page = render_rep_html(xml)
    assert "<script>" not in page
    assert "<img" not in page
    assert html.escape(hostile) in page
    text = pdf_text(render_rep_pdf(xml))
    assert "Ñandú ¿Sí? áéíóú" in text
    assert '<script>alert("x")</script>' in text  # printed literally, harmless on paper


def test_sixty_documents_span_pages_with_all_uuids(factory: CfdiFactory) -> None:
    xml = _many_documents(factory, 60)
    pdf = render_rep_pdf(xml)
    text = pdf_text(pdf)
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) >= 3
    for i in range(60):
        assert f"AAAAAAAA-0000-4000-8000-{i:012d}" in text
    assert "Página 1 de" in pages[0]
    assert "(continuación)" in pages[1]
    assert "Folio fiscal (UUID)" in pages[1]  # the table header repeats


def test_not_a_rep_is_refused(factory: CfdiFactory) -> None:
    invoice = factory.invoice().xml
    with pytest.raises(CobranzaError) as err:
        render_rep_pdf(invoice)
    assert err.value.code == "NO_ES_REP"


def test_doctype_is_refused(usd_xml: bytes) -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + usd_xml.split(b"?>", 1)[1]
    with pytest.raises(CobranzaError):
        render_rep_html(evil)


def _many_documents(factory: CfdiFactory, n: int) -> bytes:
    docs = [
        PaidDoc(f"AAAAAAAA-0000-4000-8000-{i:012d}", 1, Decimal("1160.00"), Decimal("1160.00"), IVA16)
        for i in range(n)
    ]
    return factory.payment(docs, num_operacion="LOTE-60").xml
