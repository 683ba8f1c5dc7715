"""The reader turns real CFDI 4.0/3.3 and Pagos 1.0/2.0 trees into CfdiRecord."""

from __future__ import annotations

import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from lxml import etree

from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import NS_TFD, read_cfdi, read_invoice_for_pagos
from cfdi_cobranza.cfdi.timbre import add_timbre, ensure_sandbox_certificate
from cfdi_cobranza.domain.pagos20 import invoice_from_record
from cfdi_cobranza.errors import ImportRefused

DATA = Path(__file__).resolve().parents[1] / "data"


def _read(rel: str):  # type: ignore[no-untyped-def]
    return read_cfdi(parse_xml((DATA / rel).read_bytes()))


def _stamped_sample(rel: str, tmp_path: Path) -> etree._Element:
    """A SAT sample given a sandbox TFD so the reader accepts it (seal not checked)."""
    return _stamped(parse_xml((DATA / rel).read_bytes()), tmp_path)


def _stamped(root: etree._Element, tmp_path: Path) -> etree._Element:
    root.set("Sello", root.get("Sello") or "c2VsbG8=")
    cert, signer = ensure_sandbox_certificate(tmp_path / "sandbox")
    add_timbre(
        root,
        certificate=cert,
        signer=signer,
        uuid_source=lambda: UUID("0d5f4a8e-1111-4c2b-9a3c-123456789abc"),
        clock=lambda: datetime(2024, 5, 1, 10, 0, 0),
    )
    return root


def test_real_cfdi40() -> None:
    rec = _read("real/cfdi40-real.xml")
    assert rec.version == "4.0"
    assert rec.tipo == "I"
    assert rec.uuid == "C2832671-DA6D-11EF-A83D-00155D012007"
    assert rec.total == Decimal("1000.00")
    assert isinstance(rec.total, Decimal)
    assert rec.subtotal == Decimal("862.07")
    assert rec.fecha == datetime(2025, 1, 24, 10, 10, 41)
    assert rec.emisor.rfc == "ISD950921HE5"
    assert rec.emisor.regimen_fiscal == "601"
    assert rec.receptor.rfc == "COSC8001137NA"
    assert rec.receptor.codigo_postal == "52176"
    assert rec.receptor.uso_cfdi == "G03"
    assert rec.metodo_pago == "PUE"
    assert rec.forma_pago == "04"
    assert rec.no_certificado == "00001000000510877575"
    assert rec.stamp.no_certificado_sat == "00001000000708361114"
    assert rec.stamp.rfc_prov_certif == "TBN040609RKA"
    assert rec.stamp.fecha_timbrado == datetime(2025, 1, 24, 10, 10, 42)
    assert len(rec.concepts) == 2
    c = rec.concepts[0]
    assert c.clave_prod_serv == "80141628"
    assert c.objeto_imp == "02"
    assert c.taxes[0].kind == "traslado"
    assert c.taxes[0].impuesto == "002"
    assert c.taxes[0].tasa_o_cuota == Decimal("0.160000")
    assert c.taxes[0].base == Decimal("8.620690")
    assert rec.total_traslados is not None
    assert rec.subtotal + rec.total_traslados == rec.total
    assert rec.complements == ("http://www.sat.gob.mx/TimbreFiscalDigital",)


def test_real_cfdi33() -> None:
    rec = _read("real/cfdi33-real.xml")
    assert rec.version == "3.3"
    assert rec.uuid == "CEE4BE01-ADFA-4DEB-8421-ADD60F0BEDAC"
    assert rec.total == Decimal("2010.01")
    assert rec.receptor.regimen_fiscal is None
    assert rec.exportacion is None
    assert "http://www.sat.gob.mx/implocal" in rec.complements
    assert all(c.objeto_imp is None for c in rec.concepts)


def test_uuid_upper_cased(tmp_path: Path) -> None:
    root = _stamped_sample("sat-samples/40/cfdv40-min.xml", tmp_path)
    assert read_cfdi(root).uuid == "0D5F4A8E-1111-4C2B-9A3C-123456789ABC"


def test_pagos20_every_pago_and_document(tmp_path: Path) -> None:
    root = _stamped_sample("sat-samples/40/cfdv40-pagos20-all.xml", tmp_path)
    rec = read_cfdi(root)
    assert rec.tipo == "P"
    assert rec.pagos_version == "2.0"
    ns = {"p": "http://www.sat.gob.mx/Pagos20"}
    pagos = root.findall(".//p:Pago", ns)
    assert len(rec.payments) == len(pagos) > 0
    for record, el in zip(rec.payments, pagos, strict=True):
        assert record.monto == Decimal(el.get("Monto"))
        doctos = el.findall("p:DoctoRelacionado", ns)
        assert len(record.documents) == len(doctos)
        for doc, d in zip(record.documents, doctos, strict=True):
            assert doc.id_documento == d.get("IdDocumento").upper()
            assert doc.equivalencia_dr == (
                Decimal(d.get("EquivalenciaDR")) if d.get("EquivalenciaDR") else None
            )
            assert len(doc.taxes) == len(d.findall("p:ImpuestosDR/*/*", ns))
        assert len(record.taxes) == len(el.findall("p:ImpuestosP/*/*", ns))


def test_pagos10_tipo_cambio_dr_maps_to_equivalencia(tmp_path: Path) -> None:
    root = _stamped_sample("sat-samples/33/cfdv33-pagos10.xml", tmp_path)
    rec = read_cfdi(root)
    assert rec.pagos_version == "1.0"
    ns = {"p": "http://www.sat.gob.mx/Pagos"}
    doctos = root.findall(".//p:DoctoRelacionado", ns)
    got = [d for p in rec.payments for d in p.documents]
    assert len(got) == len(doctos) > 0
    for doc, el in zip(got, doctos, strict=True):
        tc = el.get("TipoCambioDR")
        assert doc.equivalencia_dr == (Decimal(tc) if tc else None)


def test_related_groups_40(tmp_path: Path) -> None:
    root = _stamped_sample("sat-samples/40/cfdv40-ejemplo.xml", tmp_path)
    rec = read_cfdi(root)
    groups = root.findall("{http://www.sat.gob.mx/cfd/4}CfdiRelacionados")
    assert len(rec.related) == len(groups)
    for g, el in zip(rec.related, groups, strict=True):
        assert g.tipo_relacion == el.get("TipoRelacion")
        assert all(u == u.upper() for u in g.uuids)


def test_missing_timbre() -> None:
    root = parse_xml((DATA / "sat-samples/40/cfdv40-min.xml").read_bytes())
    with pytest.raises(ImportRefused) as info:
        read_cfdi(root)
    assert info.value.code == "SIN_TIMBRE"
    assert info.value.message == "El CFDI no está timbrado: falta el TimbreFiscalDigital"


@pytest.mark.parametrize(
    ("attr", "value"),
    [("Total", "1,000.00"), ("Total", "1e3"), ("SubTotal", "NaN"), ("Total", "-5"), ("Total", "")],
)
def test_invalid_amount(attr: str, value: str) -> None:
    root = parse_xml((DATA / "real/cfdi40-real.xml").read_bytes())
    root.set(attr, value)
    with pytest.raises(ImportRefused) as info:
        read_cfdi(root)
    assert info.value.code == "VALOR_INVALIDO"
    assert attr in info.value.message


@pytest.mark.parametrize(
    "value", ["2025-13-01T10:00:00", "2025-01-24", "2025-01-24T10:10:41Z", "24/01/2025 10:10:41"]
)
def test_invalid_date(value: str) -> None:
    root = parse_xml((DATA / "real/cfdi40-real.xml").read_bytes())
    root.set("Fecha", value)
    with pytest.raises(ImportRefused) as info:
        read_cfdi(root)
    assert info.value.code == "VALOR_INVALIDO"
    assert "Fecha" in info.value.message


def test_invalid_concept_amount_names_attribute() -> None:
    root = parse_xml((DATA / "real/cfdi40-real.xml").read_bytes())
    concept = root.find(".//{http://www.sat.gob.mx/cfd/4}Concepto")
    assert concept is not None
    concept.set("Cantidad", "uno")
    with pytest.raises(ImportRefused) as info:
        read_cfdi(root)
    assert "Concepto@Cantidad" in info.value.message


def _sample_bytes(path: Path) -> bytes:
    # The PAC's rejection suite leaves its dates as a placeholder (as its tests fill it).
    return path.read_bytes().replace(b"%fecha-timbrado%", b"2026-11-20T10:00:00")


def _invoice_samples() -> list[Path]:
    """Every CFDI 4.0/3.3 invoice or credit note among the test data that could be in the
    ledger: ``read_cfdi`` (what the import runs) accepts it, given a stamp if it has none.
    The PAC's rejection suite also holds invoices with bad dates or amounts: never imported."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(DATA.rglob("*.xml")):
            try:
                root = parse_xml(_sample_bytes(path))
                if root.get("Version") not in ("4.0", "3.3") or root.get("TipoDeComprobante") not in ("I", "E"):
                    continue
                if root.find(f".//{{{NS_TFD}}}TimbreFiscalDigital") is None:
                    root = _stamped(root, Path(tmp))
                read_cfdi(root)
            except ImportRefused:
                continue
            out.append(path)
    return out


_INVOICES = _invoice_samples()


def test_the_corpus_has_invoices_to_compare() -> None:
    assert len(_INVOICES) >= 50


@pytest.mark.parametrize("path", _INVOICES, ids=lambda p: str(p.relative_to(DATA)))
def test_read_invoice_for_pagos_equals_the_full_reading(path: Path, tmp_path: Path) -> None:
    """What a REP reads of each paid invoice: same Invoice as ``invoice_from_record(read_cfdi())``,
    down to the exponent of every amount, and the same refusal for an unstamped tree."""
    root = parse_xml(_sample_bytes(path))
    if root.find(f".//{{{NS_TFD}}}TimbreFiscalDigital") is None:
        with pytest.raises(ImportRefused) as full:
            read_cfdi(root)
        with pytest.raises(ImportRefused) as lean:
            read_invoice_for_pagos(root)
        assert lean.value.code == full.value.code == "SIN_TIMBRE"
        root = _stamped(root, tmp_path)
    expected = invoice_from_record(read_cfdi(root))
    got = read_invoice_for_pagos(root)
    assert got == expected
    assert [(str(t.base), str(t.importe), str(t.tasa_o_cuota)) for t in got.taxes] == \
        [(str(t.base), str(t.importe), str(t.tasa_o_cuota)) for t in expected.taxes]
    assert str(got.total) == str(expected.total)


@pytest.mark.parametrize("objetos", [("01",), ("03",), ("01", "03"), ("04", "01"), ("02", "01"), ("02", "03")])
@pytest.mark.parametrize("version", ["4.0", "3.3"])
def test_read_invoice_for_pagos_with_objeto_imp_mixes(objetos: tuple[str, ...], version: str, tmp_path: Path) -> None:
    """ObjetoImpDR comes from the concepts' ObjetoImp (CFDI 3.3 has none): mixes the corpus lacks."""
    from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, Line

    factory = CfdiFactory(tmp_path / "sat", uuid_source=lambda: UUID("0d5f4a8e-2222-4c2b-9a3c-123456789abc"),
                          clock=lambda: datetime(2026, 10, 1, 10, 0))
    lines = [Line(Decimal("100.00") + i, objeto_imp=o, taxes=(IVA16,) if o == "02" else ()) for i, o in enumerate(objetos)]
    root = parse_xml(factory.invoice(lines, version=version).xml)
    expected = invoice_from_record(read_cfdi(root))
    assert read_invoice_for_pagos(root) == expected
    assert expected.objeto_imp == ("02" if "02" in objetos else "03" if "03" in objetos and version == "4.0"
                                   else "04" if "04" in objetos and version == "4.0" else "01")


@pytest.mark.parametrize("path", _INVOICES, ids=lambda p: str(p.relative_to(DATA)))
def test_stored_facts_read_back_exactly(path: Path, tmp_path: Path) -> None:
    """``document.pagos_facts`` (domain.invoice_facts) gives back what the XML gives, down
    to the exponent of every amount, and only for the XML it was written for."""
    from cfdi_cobranza.cfdi.reader import read_invoice_parts
    from cfdi_cobranza.domain.invoice_facts import facts_json, invoice_from_facts, parts_from_facts
    from cfdi_cobranza.domain.pagos20 import InvoiceParts

    root = parse_xml(_sample_bytes(path))
    if root.find(f".//{{{NS_TFD}}}TimbreFiscalDigital") is None:
        root = _stamped(root, tmp_path)
    expected = read_invoice_for_pagos(root)
    parts = InvoiceParts.of_record(read_cfdi(root))  # what the importer stores
    assert repr(read_invoice_parts(root)) == repr(parts)  # what the backfill stores
    stored = facts_json(parts, "a" * 64)
    assert repr(parts_from_facts(stored, "a" * 64)) == repr(parts)
    got = invoice_from_facts(stored, "a" * 64)
    assert got is not None and repr(got) == repr(expected)
    assert invoice_from_facts(stored, "b" * 64) is None  # the XML changed
    assert invoice_from_facts(stored.replace('"v":2', '"v":1'), "a" * 64) is None  # another format
    assert invoice_from_facts(stored[:-5], "a" * 64) is None  # damaged
    assert invoice_from_facts(stored.replace('"total":"', '"total":"x'), "a" * 64) is None
    assert invoice_from_facts(None, "a" * 64) is None
