"""The REP validator's fast XSD check reports what the full cfdv40+Pagos20+TFD schema reports.

``cfdi.validator.xsd_errors`` validates against the structural schema (catalog enumerations
removed, SAT wildcards kept strict) and looks catalog keys up in Python; ``_full_rep_schema()``
is the full SAT schema set it replaced, compiled here as the reference. Both must flag the same places, including
complements and addenda outside Pagos 2.0 / TFD 1.1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from cfdi_cobranza.cfdi import schema as cfdi_schema
from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, PaidDoc
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.validator import XSD_MISSING_CODE, errors_only, validate_rep, xsd_errors
from cfdi_cobranza.domain.findings import Severity

C4 = "{http://www.sat.gob.mx/cfd/4}"
P20 = "{http://www.sat.gob.mx/Pagos20}"
P10 = "{http://www.sat.gob.mx/Pagos}"
TFD = "{http://www.sat.gob.mx/TimbreFiscalDigital}"

Mutation = Callable[[etree._Element], None]


@pytest.fixture(scope="module")
def payment(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    fac = CfdiFactory(tmp_path_factory.mktemp("sandbox"))
    inv = fac.invoice()
    return fac.payment([PaidDoc(inv.uuid, 1, Decimal("116.00"), Decimal("50.00"), IVA16)]).xml


@functools.cache
def _full_rep_schema() -> etree.XMLSchema:
    """cfdv40 + Pagos20 + TFD 1.1 exactly as the SAT publishes them (slow; reference only)."""
    return cfdi_schema._compile({}, cfdi_schema.REP_SCHEMA_FILES)


def _full(root: etree._Element) -> list[tuple[str, int]]:
    schema = _full_rep_schema()
    ok = schema.validate(root.getroottree())
    log: Any = schema.error_log
    return [] if ok else [(e.path or "/", e.line) for e in log]


def _set(path: str, attr: str, value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        el = root if path == "." else root.find(path)
        assert el is not None, path
        el.set(attr, value)

    return mutate


def _complement(tag: str, **attrs: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        comp = root.find(f"{C4}Complemento")
        assert comp is not None
        etree.SubElement(comp, tag, **attrs)

    return mutate


def _addenda(tag: str, **attrs: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        etree.SubElement(etree.SubElement(root, f"{C4}Addenda"), tag, **attrs)

    return mutate


def _many(*mutations: Mutation) -> Mutation:
    def mutate(root: etree._Element) -> None:
        for m in mutations:
            m(root)

    return mutate


CASES: dict[str, Mutation] = {
    "valid": lambda root: None,
    "forma_pago": _set(f".//{P20}Pago", "FormaDePagoP", "77"),
    "moneda": _set(f".//{P20}Pago", "MonedaP", "PES"),
    "objeto_imp": _set(f".//{P20}DoctoRelacionado", "ObjetoImpDR", "09"),
    "impuesto_dr": _set(f".//{P20}TrasladoDR", "ImpuestoDR", "009"),
    "lugar": _set(".", "LugarExpedicion", "00001"),
    "regimen": _set(f"{C4}Emisor", "RegimenFiscal", "699"),
    "regimen_collapsed": _set(f"{C4}Emisor", "RegimenFiscal", " 601 "),
    "several": _many(_set(f"{C4}Emisor", "RegimenFiscal", "699"), _set(".", "Total", "abc"),
                     _set(f".//{P20}Pago", "FormaDePagoP", "77")),
    "structural": _set(f".//{P20}DoctoRelacionado", "ImpPagado", "1.2.3"),
    "unknown_complement": _complement("{http://example.com/otro}Cosa", Libre="x"),
    "pagos10_complement": _complement(f"{P10}Pagos", Version="1.0"),
    "addenda_unknown": _addenda("{urn:x}Pedido", Numero="1"),
    "addenda_bad_catalog": _addenda(f"{P20}Pagos", Version="2.0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_findings_as_full_schema(payment: bytes, case: str) -> None:
    root = parse_xml(payment)
    CASES[case](root)
    full = _full(root)
    ours = xsd_errors(root)
    assert [(p, line) for p, line, _m in ours] == full
    if case == "valid" or case == "regimen_collapsed":
        assert ours == []
    else:
        assert ours


def test_unknown_complement_is_an_xsd_error_of_the_rep(payment: bytes) -> None:
    root = parse_xml(payment)
    _complement("{http://example.com/otro}Cosa", Libre="x")(root)
    findings = validate_rep(etree.tostring(root), now=datetime(2030, 1, 1))
    xsd = [f for f in findings if f.code == "XSD"]
    assert xsd and all(f.severity is Severity.ERROR for f in xsd)


def test_catalog_finding_is_spanish_and_located(payment: bytes) -> None:
    root = parse_xml(payment)
    _set(f".//{P20}Pago", "FormaDePagoP", "77")(root)
    findings = [f for f in validate_rep(etree.tostring(root), now=datetime(2030, 1, 1)) if f.code == "XSD"]
    assert len(findings) == 1
    assert findings[0].message.startswith('El valor "77" del atributo FormaDePagoP de Pago no está en el catálogo')
    assert findings[0].location.endswith("pago20:Pago")


def test_missing_schema_is_an_error_not_a_warning(payment: bytes, tmp_path, monkeypatch) -> None:
    """A REP nobody could check against the SAT schema must not pass the pre-sign check."""
    monkeypatch.setenv("COBRANZA_XSD_DIR", str(tmp_path / "vacio"))
    monkeypatch.setattr(cfdi_schema, "_rep_structural", None)
    findings = errors_only(validate_rep(payment, now=datetime(2030, 1, 1)))
    assert [f.code for f in findings if f.location == "/"] == [XSD_MISSING_CODE]
    assert findings[0].message.startswith("No fue posible cargar el esquema XSD del SAT")
    monkeypatch.undo()
    assert not [f for f in validate_rep(payment, now=datetime(2030, 1, 1)) if f.location == "/"]
