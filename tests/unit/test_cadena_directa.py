"""The cadena written directly (``cadena_directa``) against the SAT XSLT, its reference.

Every CFDI 4.0 of the test data (real third-party files, SAT samples, the PAC's
rejection suite, our golden REPs) and edge cases built for it: the direct cadena is
either the XSLT's string exactly or ``None`` (then ``cadena_original`` runs the XSLT).
The stylesheets it transcribes are pinned by SHA-256: a SAT revision fails here first.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from cfdi_cobranza.cfdi.cadena import (
    cadena_original,
    cadena_original_xslt,
    cadena_tfd,
    cadena_tfd_xslt,
)
from cfdi_cobranza.cfdi.cadena_directa import CFDI, PAGO20, TFD, cadena_40, cadena_tfd_11
from cfdi_cobranza.cfdi.schema import xsd_dir

TESTS = Path(__file__).resolve().parents[1]
FILES = sorted([*TESTS.glob("data/**/*.xml"), *TESTS.glob("golden/**/*.xml")])
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _roots() -> list[tuple[str, etree._Element]]:
    out = []
    for path in FILES:
        data = path.read_bytes().replace(b"{{FECHA}}", b"2026-11-20T10:00:00")
        try:
            root = etree.fromstring(data, PARSER)
        except etree.XMLSyntaxError:
            continue  # the rejection suite has deliberately broken files
        if root.tag == CFDI + "Comprobante" and root.get("Version") == "4.0":
            out.append((str(path.relative_to(TESTS)), root))
    return out


ROOTS = _roots()

# What cadena_directa.py writes by hand, file by file (paths under xsd/, or COBRANZA_XSD_DIR).
TRANSCRIBED = {
    "4/cadenaoriginal_4_0/cadenaoriginal_4_0.xslt":  # the CFDI 4.0 nodes and which complements
        "885e497a4d68d9eb40ec3fc7c9ba36e3153122c2007158c6d4fefa22ed09e971",
    "2/cadenaoriginal_2_0/utilerias.xslt":  # Requerido, Opcional: "|" + normalize-space
        "4df421ef981d48d4a7861777f2bd30299eb0c5c3035ad27880fdb1f91cda0f6b",
    "Pagos/Pagos20.xslt":
        "f1a4166b476198d458082c2d3ad39749115bb1c859e6e85e2224c34b6397a7f9",
    "TimbreFiscalDigital/cadenaoriginal_TFD_1_1.xslt":
        "60af3e60a812e28c2a5d070d3ef0a5bca2e3726a35cc20dec62850bae56a4e1f",
}


def test_the_stylesheets_it_transcribes_are_the_pinned_ones() -> None:
    base = xsd_dir()
    changed = sorted(name for name, digest in TRANSCRIBED.items()
                     if hashlib.sha256((base / name).read_bytes()).hexdigest() != digest)
    assert not changed, (
        f"The SAT stylesheets {changed} under {base} are not the ones cfdi_cobranza/cfdi/cadena_directa.py "
        "transcribes, so imported seals could be checked (and REPs signed) against a cadena the SAT no longer "
        "computes. Compare the old and new XSLT, bring the attribute and child lists of cadena_directa.py in "
        "line (or make cadena.cadena_original/cadena_tfd run the XSLT alone until someone does), run this file "
        "against the new stylesheets and only then pin their SHA-256 here.")


def test_every_cfdi40_of_the_test_data_matches_the_xslt() -> None:
    covered = 0
    for name, root in ROOTS:
        direct = cadena_40(root)
        if direct is not None:
            covered += 1
            assert direct == cadena_original_xslt(root), name
        assert cadena_original(root) == cadena_original_xslt(root), name
    # Not vacuous: most of them (invoices and REPs) are covered, the golden REPs all are.
    assert covered >= 150, covered
    golden = [root for name, root in ROOTS if name.startswith("golden")]
    assert golden and all(cadena_40(root) is not None for root in golden)


def _rep() -> etree._Element:
    roots = [r for n, r in ROOTS if n.startswith("golden") and r.find(f".//{PAGO20}ImpuestosP") is not None]
    return copy.deepcopy(roots[0])


def _same(root: etree._Element) -> str:
    direct = cadena_40(root)
    assert direct is not None
    assert direct == cadena_original_xslt(root)
    return direct


@pytest.mark.parametrize("value", [
    "  A  B  ", "A\tB", "A\nB\r\nC", "\t", "", "A\u00a0B", "  \u00a0 ", "Ñandú | áé", "a&b<c>\"'",
])
def test_whitespace_and_special_characters_as_normalize_space(value: str) -> None:
    root = _rep()
    root.find(f"{CFDI}Receptor").set("Nombre", value)  # required
    root.set("Folio", value)  # optional
    root.find(f".//{PAGO20}Pago").set("NumOperacion", value)
    cadena = _same(root)
    assert "\t" not in cadena and "\n" not in cadena


def test_missing_required_and_empty_optional_attributes() -> None:
    root = _rep()
    del root.find(f"{CFDI}Emisor").attrib["Nombre"]  # required: "|" alone
    root.set("Serie", "")  # optional but present: "|" alone
    if "Folio" in root.attrib:
        del root.attrib["Folio"]  # optional, absent: nothing
    docto = root.find(f".//{PAGO20}DoctoRelacionado")
    del docto.attrib["ImpSaldoAnt"]
    _same(root)


def test_comments_addenda_and_elements_the_stylesheet_ignores() -> None:
    root = _rep()
    root.insert(0, etree.Comment("comentario"))
    root.find(f"{CFDI}Emisor").append(etree.Comment("x"))
    etree.SubElement(root, CFDI + "Addenda").text = "texto que no entra"
    etree.SubElement(root.find(f".//{PAGO20}Pago"), PAGO20 + "Otro").text = "ignorado"
    etree.SubElement(root, "{urn:otro}Extra", Algo="1")
    root.find(f"{CFDI}Complemento").append(etree.Comment("nota"))
    _same(root)


def test_several_pagos_documents_and_related_cfdi() -> None:
    root = _rep()
    pagos = root.find(f".//{PAGO20}Pagos")
    pagos.append(copy.deepcopy(pagos.find(f"{PAGO20}Pago")))
    pago = pagos.findall(f"{PAGO20}Pago")[-1]
    pago.set("FechaPago", "2026-10-01T00:00:00")
    pago.insert(0, copy.deepcopy(pago.find(f"{PAGO20}DoctoRelacionado")))
    rel = etree.Element(CFDI + "CfdiRelacionados", TipoRelacion="04")
    for u in ("A" * 36, "B" * 36):
        etree.SubElement(rel, CFDI + "CfdiRelacionado", UUID=u)
    root.insert(0, rel)
    root.insert(0, copy.deepcopy(rel))
    _same(root)


def test_invoice_parts_terceros_aduana_predial_global() -> None:
    root = _rep()
    concepto = root.find(f".//{CFDI}Concepto")
    etree.SubElement(concepto, CFDI + "ACuentaTerceros", RfcACuentaTerceros="AAA010101AAA",
                     NombreACuentaTerceros="T", RegimenFiscalACuentaTerceros="601",
                     DomicilioFiscalACuentaTerceros="01000")
    etree.SubElement(concepto, CFDI + "InformacionAduanera", NumeroPedimento="21  47  3807  8003832")
    etree.SubElement(concepto, CFDI + "CuentaPredial", Numero="123")
    parte = etree.SubElement(concepto, CFDI + "Parte", ClaveProdServ="01010101", Cantidad="1", Descripcion="p")
    etree.SubElement(parte, CFDI + "InformacionAduanera", NumeroPedimento="x")
    imp = etree.SubElement(concepto, CFDI + "Impuestos")
    etree.SubElement(etree.SubElement(imp, CFDI + "Retenciones"), CFDI + "Retencion", Base="1", Impuesto="001",
                     TipoFactor="Tasa", TasaOCuota="0.100000", Importe="0.10")
    etree.SubElement(etree.SubElement(imp, CFDI + "Traslados"), CFDI + "Traslado", Base="1", Impuesto="002",
                     TipoFactor="Exento")
    root.insert(0, etree.Element(CFDI + "InformacionGlobal", Periodicidad="01", Meses="01", **{"Año": "2026"}))
    total = etree.Element(CFDI + "Impuestos", TotalImpuestosTrasladados="0.16")
    etree.SubElement(etree.SubElement(total, CFDI + "Traslados"), CFDI + "Traslado", Base="1", Impuesto="002",
                     TipoFactor="Tasa", TasaOCuota="0.160000", Importe="0.16")
    root.find(f"{CFDI}Conceptos").addnext(total)
    _same(root)


def test_stamped_rep_with_its_timbre() -> None:
    root = _rep()
    etree.SubElement(root.find(f"{CFDI}Complemento"), "{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital",
                     Version="1.1", UUID="X")
    _same(root)


@pytest.mark.parametrize("change", ["otro complemento", "texto en el timbre", "complemento concepto", "cfdi 3.3"])
def test_what_only_the_xslt_covers_falls_back_to_it(change: str) -> None:
    root = _rep()
    if change == "otro complemento":
        etree.SubElement(root.find(f"{CFDI}Complemento"), "{http://www.sat.gob.mx/implocal}ImpuestosLocales",
                         version="1.0", TotaldeRetenciones="0.00", TotaldeTraslados="0.00")
    elif change == "texto en el timbre":
        tfd = etree.SubElement(root.find(f"{CFDI}Complemento"),
                               "{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital", Version="1.1")
        tfd.text = " texto "
    elif change == "complemento concepto":
        cc = etree.SubElement(root.find(f".//{CFDI}Concepto"), CFDI + "ComplementoConcepto")
        etree.SubElement(cc, "{urn:x}Algo").text = "dentro"
    else:
        root = etree.fromstring(etree.tostring(root).replace(b"http://www.sat.gob.mx/cfd/4", b"http://www.sat.gob.mx/cfd/3")
                                .replace(b'Version="4.0"', b'Version="3.3"', 1))
    assert cadena_40(root) is None
    assert cadena_original(root) == cadena_original_xslt(root)


def test_timbres_of_the_test_data_match_the_xslt() -> None:
    tfds = [tfd for _name, root in ROOTS for tfd in root.iter(TFD)]
    for path in TESTS.glob("data/sat-samples/33/*.xml"):  # CFDI 3.3 carry TFD 1.1 too
        tfds.extend(etree.parse(str(path), PARSER).getroot().iter(TFD))
    covered = [tfd for tfd in tfds if cadena_tfd_11(tfd) is not None]
    assert len(covered) >= 15, len(covered)  # the stamped files of the test data
    for tfd in tfds:
        assert cadena_tfd(tfd) == cadena_tfd_xslt(tfd)
    tfd = copy.deepcopy(covered[0])
    tfd.set("Leyenda", "  una\tleyenda \n ")
    del tfd.attrib["RfcProvCertif"]
    assert cadena_tfd_11(tfd) == cadena_tfd_xslt(tfd)
    tfd.set("Version", "1.0")
    assert cadena_tfd_11(tfd) is None
