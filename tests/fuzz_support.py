"""Mutations of real and generated CFDI and REPs for the fuzz harness (issue 14).

Every mutation takes a ``random.Random``: the hypothesis tests pass ``st.randoms()``
(so hypothesis drives and shrinks the choices), the ``bench/fuzz_*.py`` scripts a seeded
``random.Random`` (100,000 inputs without hypothesis's per-example overhead).

Mutation kinds: attribute values (any attribute, set/deleted/added), amounts, dates,
structure (delete, duplicate, move, unknown element, reorder), encodings (re-encode,
wrong declaration, BOM, truncation, junk bytes, DTD). A generated document can be
sealed and stamped again after its tree is mutated (``reseal``), so mutated amounts
and dates get past the seals into the reader, the rules and the database.
"""

from __future__ import annotations

import copy
import functools
import itertools
import random
import re
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, PaidDoc
from cfdi_cobranza.cfdi.timbre import stamp

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
STABLE_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")  # errors.py: UPPER_SNAKE
FINDING_CODE = re.compile(r"^(CRP2\d{4}|CFDI40\d{3}|CFDI40-P-[A-Z]+|XSD|XML)$")  # the SAT's matrix, XSD, XML
OUTCOMES = {"imported", "duplicate", "refused", "ignored"}

AMOUNT_ATTRS = {
    "Total", "SubTotal", "Descuento", "Importe", "Monto", "ImpPagado", "ImpSaldoAnt", "ImpSaldoInsoluto",
    "Base", "TasaOCuota", "ValorUnitario", "Cantidad", "TipoCambio", "TipoCambioP", "EquivalenciaDR",
    "TotalImpuestosTrasladados", "TotalImpuestosRetenidos", "MontoTotalPagos", "NumParcialidad",
    "TotalTrasladosBaseIVA16", "TotalTrasladosImpuestoIVA16", "ImporteP", "BaseP", "ImporteDR", "BaseDR",
}
DATE_ATTRS = {"Fecha", "FechaPago", "FechaTimbrado"}

AMOUNTS = [
    "0", "0.00", "-1.00", "1e5", "1E-2", "NaN", "Infinity", "-0", "0.000001", "999999999999999999.999999",
    "1" * 40, "12.345", "1,000.00", " 100.00", "100.00 ", "+5", ".5", "5.", "0x10", "١٢٣", "100.001",
    "79228162514264337593543950336", "0.1234567", "",
]
DATES = [
    "2025-02-30T10:00:00", "2025-13-01T00:00:00", "2025-01-01", "2025-01-01T24:00:00", "9999-12-31T23:59:59",
    "0001-01-01T00:00:00", "1900-01-01T00:00:00", "2025-01-01T10:00:00Z", "2025-01-01T10:00:00-06:00",
    "2025-1-1T1:0:0", "ayer", "", "2030-01-01T00:00:00", "2024-02-29T12:00:00", "2025-01-01T10:00:00.123",
]
TEXTS = [
    "", " ", "A" * 300, "ÑÁÉÍÓÚ ñ ü", "\u202e", "\U0001F600", "<&>'\"", "XAXX010101000", "EKU9003173C9",
    "01", "99", "MXN", "USD", "XXX", "PPD", "PUE", "I", "E", "P", "N", "T", "4.0", "3.3", "2.0", "1.0",
    "C2832671-DA6D-11EF-A83D-00155D012007", "not-a-uuid", "%fecha-timbrado%",
]


def _choice(rnd: random.Random, seq: list[Any]) -> Any:
    return seq[rnd.randrange(len(seq))]


def _random_text(rnd: random.Random) -> str:
    alphabet = "0123456789.-+eE ABCXYZñÑ/\\:T\u00a0\u200b&<>'\""
    return "".join(_choice(rnd, list(alphabet)) for _ in range(rnd.randrange(0, 24)))


def _value(rnd: random.Random, name: str) -> str:
    roll = rnd.random()
    if name in AMOUNT_ATTRS and roll < 0.6:
        return _amount(rnd)
    if name in DATE_ATTRS and roll < 0.6:
        return _choice(rnd, DATES)
    if roll < 0.3:
        return _amount(rnd)
    if roll < 0.7:
        return str(_choice(rnd, TEXTS))
    return _random_text(rnd)


def _amount(rnd: random.Random) -> str:
    roll = rnd.random()
    if roll < 0.5:
        return str(_choice(rnd, AMOUNTS))
    places = rnd.randrange(0, 8)
    value = Decimal(rnd.randrange(-10**9, 10**12)).scaleb(-places)
    return f"{value:f}"


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


# --- tree mutations ------------------------------------------------------------------------


def mutate_attribute(root: etree._Element, rnd: random.Random) -> None:
    element = _choice(rnd, _elements(root))
    names = list(element.attrib)
    roll = rnd.random()
    if names and roll < 0.75:
        name = _choice(rnd, names)
        element.set(name, _value(rnd, name))
    elif names and roll < 0.9:
        del element.attrib[_choice(rnd, names)]
    else:
        element.set(_choice(rnd, ["Total", "Fecha", "Moneda", "Extra", "UUID", "Version"]), _value(rnd, "Total"))


def mutate_amount(root: etree._Element, rnd: random.Random) -> None:
    spots = [(e, a) for e in _elements(root) for a in e.attrib if a in AMOUNT_ATTRS]
    if not spots:
        return mutate_attribute(root, rnd)
    element, name = _choice(rnd, spots)
    element.set(name, _amount(rnd))
    return None


def mutate_date(root: etree._Element, rnd: random.Random) -> None:
    spots = [(e, a) for e in _elements(root) for a in e.attrib if a in DATE_ATTRS]
    if not spots:
        return mutate_attribute(root, rnd)
    element, name = _choice(rnd, spots)
    element.set(name, _choice(rnd, DATES))
    return None


def mutate_structure(root: etree._Element, rnd: random.Random) -> None:
    elements = _elements(root)[1:]  # never the root itself
    if not elements:
        return
    element = _choice(rnd, elements)
    parent = element.getparent()
    if parent is None:
        return
    roll = rnd.random()
    if roll < 0.3:
        parent.remove(element)
    elif roll < 0.5:
        parent.insert(parent.index(element), copy.deepcopy(element))
    elif roll < 0.65:
        target = _choice(rnd, _elements(root))
        if element not in list(target.iterancestors()) and target is not element:
            parent.remove(element)
            target.append(element)
    elif roll < 0.8:
        ns = etree.QName(element).namespace or "urn:desconocido"
        parent.insert(rnd.randrange(len(parent) + 1), etree.Element(f"{{{ns}}}Desconocido", Dato="x"))
    else:
        children = list(parent)
        rnd.shuffle(children)
        for child in children:
            parent.append(child)


TREE_MUTATIONS: list[Callable[[etree._Element, random.Random], None]] = [
    mutate_attribute, mutate_amount, mutate_date, mutate_structure,
]


# --- byte mutations ------------------------------------------------------------------------


def mutate_encoding(data: bytes, rnd: random.Random) -> bytes:
    roll = rnd.randrange(9)
    body = re.sub(rb"^<\?xml[^>]*\?>", b"", data).lstrip()
    if roll == 0:
        return '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + body.decode("utf-8").encode("utf-16")[2:]
    if roll == 1:
        return b'<?xml version="1.0" encoding="ISO-8859-1"?>' + body  # UTF-8 bytes read as Latin-1
    if roll == 2:
        return b"\xef\xbb\xbf" + data
    if roll == 3:
        return data[: rnd.randrange(len(data) + 1)]
    if roll == 4:
        pos = rnd.randrange(len(data) + 1)
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
        return data[:pos] + junk + data[pos:]
    if roll == 5:
        return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>' + body
    if roll == 6:
        return body.decode("utf-8").encode("utf-8").replace(b"&amp;", b"&")
    if roll == 7:
        return b'<?xml version="1.0" encoding="UTF-8"?>\n\n  ' + body + b"\n<!-- fin -->\n"
    return data.replace(b"UTF-8", b"latin-1", 1)


# --- seeds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    xml: bytes
    generated: bool  # sealed by the factory: can be sealed again after a mutation


@functools.cache
def factory(sandbox_dir: str) -> CfdiFactory:
    counter = itertools.count(1)
    return CfdiFactory(sandbox_dir, uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0xF022000000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0, 0))


def seeds(sandbox_dir: str | Path) -> list[Seed]:
    """Real invoices, the SAT's signed sample, golden REPs and generated I/E/P documents."""
    f = factory(str(sandbox_dir))
    out = [Seed(p.name, p.read_bytes(), False) for p in sorted((DATA / "real").glob("cfdi4*.xml"))]
    out += [Seed(p.name, p.read_bytes(), False) for p in sorted((DATA / "real").glob("cfdi33*.xml"))]
    out += [Seed(p.name, p.read_bytes(), False) for p in sorted((ROOT / "tests" / "golden" / "rep").glob("*.xml"))[:4]]
    inv = f.invoice(lines=[Line(Decimal("1000.00")), Line(Decimal("250.50"), cantidad=Decimal("3"))],
                    fecha=datetime(2026, 9, 1, 10, 0), metodo="PPD")
    usd = f.invoice(lines=[Line(Decimal("99.99"))], fecha=datetime(2026, 9, 2, 10, 0), moneda="USD",
                    tipo_cambio=Decimal("18.5"))
    note = f.credit_note(inv.uuid, fecha=datetime(2026, 9, 3, 10, 0))
    pay = f.payment([PaidDoc(inv.uuid, 1, inv.total, Decimal("500.00"))], fecha_pago=datetime(2026, 9, 5, 10, 0),
                    fecha=datetime(2026, 9, 6, 10, 0))
    out += [Seed("generada-I.xml", inv.xml, True), Seed("generada-I-usd.xml", usd.xml, True),
            Seed("generada-E.xml", note.xml, True), Seed("generada-P.xml", pay.xml, True)]
    return out


def reseal(root: etree._Element, f: CfdiFactory, rnd: random.Random) -> bytes | None:
    """Seal and stamp a mutated generated tree again; None when the tree cannot be sealed."""
    try:
        for tfd in root.iter(f"{{{TFD_NS}}}TimbreFiscalDigital"):
            parent = tfd.getparent()
            if parent is not None:
                parent.remove(tfd)
        root.set("Sello", "")
        root.set("Sello", f.issuer.signer.sign(cadena_original(root)))
        new_uuid = uuidlib.UUID(int=rnd.getrandbits(128))  # from the input's choices: reproducible
        return stamp(root, certificate=f.sat_certificate, signer=f.sat_signer, uuid_source=lambda: new_uuid,
                     clock=f.clock)
    except Exception:  # the mutated tree is beyond sealing: feed it unsealed
        return None


def mutate(seed: Seed, rnd: random.Random, f: CfdiFactory) -> bytes:
    """One fuzz input: 1-4 tree mutations, maybe a new seal (generated seeds), maybe a byte mutation."""
    try:
        root = etree.fromstring(seed.xml)
    except etree.XMLSyntaxError:
        return mutate_encoding(seed.xml, rnd)
    for _ in range(rnd.randrange(1, 5)):
        _choice(rnd, TREE_MUTATIONS)(root, rnd)
    data: bytes | None = None
    if seed.generated and rnd.random() < 0.5:
        data = reseal(root, f, rnd)
    if data is None:
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if rnd.random() < 0.25:
        data = mutate_encoding(data, rnd)
    return data


def check_import_outcome(result: Any) -> None:
    """An importer outcome: a known status; anything but an import carries a stable code and a message."""
    assert result.status in OUTCOMES, result
    if result.status != "imported":
        assert result.code and STABLE_CODE.match(result.code), result
        assert result.message, result
    elif result.code is not None:
        assert STABLE_CODE.match(result.code), result


def check_findings(findings: Iterable[Any]) -> None:
    """``rep validate`` findings: stable codes, a message, and never "the XSD could not run" (a hidden crash)."""
    for finding in findings:
        assert FINDING_CODE.match(finding.code), finding
        assert finding.message, finding
        assert finding.code != "XSD_NO_DISPONIBLE", finding
