"""Structural XSD + Python catalog checks are exactly as strict as the SAT's full schema."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from cfdi_cobranza.cfdi import schema
from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, Line, PaidDoc
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.errors import ImportRefused

C4 = "{http://www.sat.gob.mx/cfd/4}"
P20 = "{http://www.sat.gob.mx/Pagos20}"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    fac = CfdiFactory(tmp_path_factory.mktemp("sandbox"))
    inv = fac.invoice([Line(Decimal("100.00")), Line(Decimal("50.00"), descuento=Decimal("5"))])
    return {
        "invoice": inv.xml,
        "invoice33": fac.invoice(version="3.3").xml,
        "payment": fac.payment([PaidDoc(inv.uuid, 1, Decimal("161"), Decimal("100"), IVA16)]).xml,
    }


Mutation = Callable[[etree._Element], None]


def _set(path: str, attr: str, value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        el = root if path == "." else root.find(path)
        assert el is not None, path
        el.set(attr, value)

    return mutate


def _remove_attr(path: str, attr: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        el = root if path == "." else root.find(path)
        assert el is not None
        del el.attrib[attr]

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        el = root.find(path)
        assert el is not None
        el.getparent().remove(el)

    return mutate


CATALOG_CASES: list[tuple[str, str, str, str, str]] = [
    # (doc, element path, attribute, bad value, catalog)
    ("invoice", f"{C4}Conceptos/{C4}Concepto", "ClaveProdServ", "99999999", "c_ClaveProdServ"),
    ("invoice", f"{C4}Conceptos/{C4}Concepto", "ClaveUnidad", "ZZZ9", "c_ClaveUnidad"),
    ("invoice", ".", "LugarExpedicion", "00001", "c_CodigoPostal"),
    ("invoice", f"{C4}Emisor", "RegimenFiscal", "699", "c_RegimenFiscal"),
    ("invoice", f"{C4}Receptor", "RegimenFiscalReceptor", "600", "c_RegimenFiscal"),
    ("invoice", f"{C4}Receptor", "UsoCFDI", "G99", "c_UsoCFDI"),
    ("invoice", ".", "Moneda", "MXP", "c_Moneda"),
    ("invoice", ".", "FormaPago", "77", "c_FormaPago"),
    ("invoice", ".", "MetodoPago", "PPX", "c_MetodoPago"),
    ("invoice", ".", "Exportacion", "09", "c_Exportacion"),
    ("invoice", f"{C4}Conceptos/{C4}Concepto", "ObjetoImp", "09", "c_ObjetoImp"),
    ("invoice", f".//{C4}Traslado", "Impuesto", "004", "c_Impuesto"),
    (
        "invoice33",
        ".//{http://www.sat.gob.mx/cfd/3}Concepto",
        "ClaveProdServ",
        "10000000",
        "c_ClaveProdServ",
    ),
    ("payment", f".//{P20}Pago", "FormaDePagoP", "77", "c_FormaPago"),
    ("payment", f".//{P20}Pago", "MonedaP", "PES", "c_Moneda"),
    ("payment", f".//{P20}DoctoRelacionado", "ObjetoImpDR", "09", "c_ObjetoImp"),
]

STRUCTURAL_CASES: list[tuple[str, Mutation]] = [
    ("invoice", _set(".", "Total", "-1.00")),
    ("invoice", _set(".", "Total", "abc")),
    ("invoice", _set(".", "Fecha", "2025-01-15")),
    ("invoice", _set(".", "NoCertificado", "123")),
    ("invoice", _set(f"{C4}Emisor", "Rfc", "NOT-AN-RFC")),
    ("invoice", _set(f"{C4}Receptor", "DomicilioFiscalReceptor", "ABCDE")),
    ("invoice", _set(".", "Inventado", "x")),
    ("invoice", _remove_attr(f"{C4}Receptor", "UsoCFDI")),
    ("invoice", _drop(f"{C4}Emisor")),
    (
        "invoice",
        _set(".//{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital", "UUID", "nope"),
    ),
    ("payment", _set(f".//{P20}DoctoRelacionado", "ImpPagado", "1.2.3")),
    ("payment", _remove_attr(f".//{P20}Totales", "MontoTotalPagos")),
]


def _root(docs: dict[str, bytes], name: str) -> etree._Element:
    return parse_xml(docs[name])


def test_valid_documents_pass_both(docs: dict[str, bytes]) -> None:
    for name in docs:
        root = _root(docs, name)
        schema.validate(root)
        schema.validate_full_sat(root)


@pytest.mark.parametrize(("doc", "path", "attr", "value", "catalog"), CATALOG_CASES)
def test_unknown_catalog_key_refused_by_both(
    docs: dict[str, bytes], doc: str, path: str, attr: str, value: str, catalog: str
) -> None:
    root = _root(docs, doc)
    _set(path, attr, value)(root)
    with pytest.raises(ImportRefused) as full:
        schema.validate_full_sat(root)
    assert full.value.code == "XSD_INVALIDO"
    with pytest.raises(ImportRefused) as ours:
        schema.validate(root)
    assert ours.value.code == "CATALOGO_DESCONOCIDO"
    assert attr in ours.value.message and value in ours.value.message
    assert catalog in ours.value.message


@pytest.mark.parametrize(("doc", "mutate"), STRUCTURAL_CASES)
def test_structural_error_refused_by_both(
    docs: dict[str, bytes], doc: str, mutate: Mutation
) -> None:
    root = _root(docs, doc)
    mutate(root)
    with pytest.raises(ImportRefused) as full:
        schema.validate_full_sat(root)
    with pytest.raises(ImportRefused) as ours:
        schema.validate(root)
    assert full.value.code == ours.value.code == "XSD_INVALIDO"
    assert ours.value.message.startswith("El CFDI no cumple el esquema XSD del SAT")


def test_whitespace_collapse_matches_sat(docs: dict[str, bytes]) -> None:
    root = _root(docs, "invoice")
    root.find(f"{C4}Emisor").set("RegimenFiscal", " 601 ")  # type: ignore[union-attr]
    schema.validate_full_sat(root)  # the SAT collapses catalog values...
    schema.validate(root)  # ...and so do we


def test_error_message_names_attribute_and_value(docs: dict[str, bytes]) -> None:
    root = _root(docs, "invoice")
    root.set("Total", "abc")
    with pytest.raises(ImportRefused) as info:
        schema.validate(root)
    assert "Comprobante@Total" in info.value.message
    assert "'abc'" in info.value.message


def test_unknown_complement_is_skipped_addenda_too(docs: dict[str, bytes]) -> None:
    root = _root(docs, "invoice")
    comp = root.find(f"{C4}Complemento")
    assert comp is not None
    etree.SubElement(comp, "{http://example.com/otro}Cosa", Libre="x")
    etree.SubElement(etree.SubElement(root, f"{C4}Addenda"), "{urn:x}Pedido", Numero="1")
    schema.validate(root)


def test_catalogs_extracted_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sets = schema.catalog_sets()
    assert "01010101" in sets["c_ClaveProdServ"]
    assert "42501" in sets["c_CodigoPostal"]
    assert len(sets["c_CodigoPostal"]) > 90_000
    monkeypatch.setenv("COBRANZA_CACHE_DIR", str(tmp_path))
    start = time.perf_counter()
    cold = schema._load_catalog_data()
    cold_s = time.perf_counter() - start
    assert list(tmp_path.glob("catCFDI-*.json"))
    start = time.perf_counter()
    warm = schema._load_catalog_data()
    warm_s = time.perf_counter() - start
    assert warm.sets == cold.sets
    assert warm.light_xsd == cold.light_xsd
    assert b"xs:enumeration" not in warm.light_xsd
    print(f"catalog load: cold {cold_s * 1000:.0f} ms, cached {warm_s * 1000:.0f} ms")


def test_structural_validation_is_fast(docs: dict[str, bytes]) -> None:
    root = _root(docs, "invoice")
    schema.validate(root)
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        schema.validate(root)
    per_doc = (time.perf_counter() - start) / n
    # Generous bound (shared CI machine); typical is ~0.03 ms vs ~2-6 ms for the full schema.
    assert per_doc < 0.002
