"""The six worked examples (a-f) of ``pagos20-rules.md`` section 8, end to end.

Each example is run like an accountant would: invoices generated and signed with the
SAT test CSD EKU9003173C9 by ``CfdiFactory`` (deterministic UUIDs and clock), imported
through the ``Importer``, payments registered and applied through the payments service,
and the REP issued by the ``Stamper`` with the local ``SandboxPac`` (fixed clock, fixed
UUID source). Every REP must then:

- pass the SAT XSD and carry no ERROR finding of ``validate_rep``;
- have a ``Sello`` that verifies, with the certificate embedded in ``Certificado``,
  against the cadena produced by the SAT XSLT (``cadenaoriginal_4_0.xslt``);
- have a TimbreFiscalDigital whose ``SelloSAT`` verifies with the sandbox certificate;
- show every number of the example's table (the XML is parsed and each amount asserted);
- be byte-identical to its golden file under ``tests/golden/rep/``.

Golden files
------------
The sandbox "SAT" certificate that signs the timbre is normally generated at random on
first use; here it is fixed (``tests/golden/rep/sandbox-sat.*``, a self-signed key with
no fiscal validity) so that the stamped XML is fully deterministic and compared byte for
byte: nothing is normalised. A missing golden file (or sandbox certificate) FAILS the
test. To (re)generate them, review the change and run::

    COBRANZA_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_rep_examples.py

The same bytes are expected on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import difflib
import itertools
import os
import shutil
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from sqlalchemy import Engine

from cfdi_cobranza.cfdi.cadena import cadena_original, cadena_original_xslt, cadena_tfd_xslt
from cfdi_cobranza.cfdi.factory import (
    IVA16,
    IVA_EXENTO,
    RET_ISR10,
    RET_IVA_2_3,
    CfdiFactory,
    GeneratedCfdi,
    Line,
    PaidDoc,
    Receptor,
)
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cfdi.timbre import CERT_FILE, KEY_FILE, PASSWORD_FILE, ensure_sandbox_certificate
from cfdi_cobranza.cfdi.validator import errors_only, validate_rep
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.pac.base import Pac
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.services.payments import Allocation
from cfdi_cobranza.services.stamping import IssueResult, Stamper, register_csd
from cfdi_cobranza.signing.csd import Certificate

ROOT = Path(__file__).resolve().parents[2]
CERTS = ROOT / "certs_example"
GOLDEN = ROOT / "tests" / "golden" / "rep"
UPDATE_GOLDEN = os.environ.get("COBRANZA_UPDATE_GOLDEN") == "1"
SANDBOX_FILES = (CERT_FILE, KEY_FILE, PASSWORD_FILE)

NOW_UTC = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
LOCAL_NOW = datetime(2026, 11, 20, 11, 0, 0)  # the same instant in America/Mexico_City
TIMBRADO_AT = datetime(2026, 11, 20, 11, 0, 5)
INVOICE_DAY = datetime(2026, 10, 1, 10, 0)
PAGO_DAY = datetime(2026, 10, 15, 12, 0)
CUSTOMER = Receptor()  # URE180429TM6, régimen 601, CP 86991
NS = {
    "cfdi": "http://www.sat.gob.mx/cfd/4",
    "pago20": "http://www.sat.gob.mx/Pagos20",
    "tfd": "http://www.sat.gob.mx/TimbreFiscalDigital",
}
D = Decimal


# --------------------------------------------------------------------------- the book


def sandbox_folder(target: Path) -> Path:
    """A sandbox PAC folder holding the fixed certificate of the golden folder."""
    target.mkdir(parents=True, exist_ok=True)
    missing = [name for name in SANDBOX_FILES if not (GOLDEN / name).exists()]
    if missing:
        if not UPDATE_GOLDEN:
            pytest.fail(f"Falta el certificado sandbox fijo {missing} en {GOLDEN}; genérelo con "
                        "COBRANZA_UPDATE_GOLDEN=1")
        GOLDEN.mkdir(parents=True, exist_ok=True)
        ensure_sandbox_certificate(GOLDEN)
    for name in SANDBOX_FILES:
        shutil.copy(GOLDEN / name, target / name)
    return target


def counter_uuids(base: int) -> Any:
    counter = itertools.count(1)
    return lambda: uuidlib.UUID(int=base + next(counter))


class FixedClock:
    def __call__(self) -> datetime:
        return NOW_UTC


@dataclass
class Book:
    """One company's ledger: invoices, payments and the REP stamper, all deterministic."""

    engine: Engine
    settings: Settings
    sandbox_dir: Path
    factory: CfdiFactory
    stamper: Stamper
    box: SecretBox
    clock: FixedClock
    auto_csd: bool = True  # register the test CSD once the first import created the company

    @classmethod
    def open(cls, engine: Engine, settings: Settings, tmp: Path, *, pac: Pac | None = None,
             auto_csd: bool = True) -> Book:
        sandbox_dir = sandbox_folder(tmp / "sandbox-sat")
        factory = CfdiFactory(sandbox_dir, uuid_source=counter_uuids(0xC0B0_0000),
                              clock=lambda: INVOICE_DAY)
        box = SecretBox(base64.urlsafe_b64encode(b"cfdi-cobranza-rep-examples-key!!"))
        clock = FixedClock()
        pac = pac or SandboxPac(sandbox_dir, clock=lambda: TIMBRADO_AT,
                                uuid_source=counter_uuids(0x5EA1_0000))
        stamper = Stamper(engine, pac, box, clock=clock, now_local=lambda: LOCAL_NOW)
        return cls(engine, settings, sandbox_dir, factory, stamper, box, clock, auto_csd)

    def register_csd(self, cer: str = "EKU9003173C9.cer", key: str = "EKU9003173C9.key",
                     password: str = "12345678a", rfc: str = "EKU9003173C9") -> None:
        with transaction(self.engine) as s:
            register_csd(s, rfc, (CERTS / cer).read_bytes(), (CERTS / key).read_bytes(), password, self.box,
                         today=LOCAL_NOW.date(), clock=self.clock)

    def load(self, docs: dict[str, GeneratedCfdi]) -> dict[str, str]:
        res = Importer(self.engine, self.settings, clock=self.clock,
                       extra_cert_dirs=[self.sandbox_dir]).import_candidates(
            Candidate(f"{k}.xml", d.xml) for k, d in docs.items())
        assert res.ok, res.to_dict()
        if self.auto_csd:
            self.auto_csd = False
            self.register_csd()
        return {k: d.uuid for k, d in docs.items()}

    def invoices(self, **lines: Sequence[Line] | tuple[Sequence[Line], dict[str, Any]]) -> dict[str, str]:
        docs = {}
        for n, (name, spec) in enumerate(lines.items(), start=1):
            kw: dict[str, Any] = {}
            if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
                spec, kw = spec  # type: ignore[assignment]
            kw.setdefault("folio", str(100 + n))
            kw.setdefault("fecha", INVOICE_DAY)
            docs[name] = self.factory.invoice(list(spec), **kw)  # type: ignore[arg-type]
        return self.load(docs)

    def pay(self, amount: str, *, currency: str = "MXN", rate: str | None = None,
            fecha: datetime = PAGO_DAY, customer: str = CUSTOMER.rfc, form: str = "03") -> int:
        with transaction(self.engine) as s:
            st = svc.register_settlement(s, [ReceiptInput(
                customer=customer, company="", fecha_pago=fecha, forma_pago=form, moneda=currency,
                monto=amount, tipo_cambio=rate)], clock=self.clock)
            return st.payments[0].id

    def apply(self, pid: int, allocations: Sequence[tuple[str, str]], *,
              rates: dict[str, Decimal] | None = None) -> svc.ApplicationResult:
        with transaction(self.engine) as s:
            return svc.apply_payment(s, pid, [Allocation(u, a) for u, a in allocations], rates=rates,
                                     clock=self.clock)

    def issue(self, *pids: int) -> IssueResult:
        result = self.stamper.issue(list(pids))
        assert result.status == "timbrado", result.to_dict()
        assert result.xml is not None
        return result


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


# --------------------------------------------------------------------------- checks


def sandbox_certificate() -> Certificate:
    return Certificate.from_bytes((GOLDEN / CERT_FILE).read_bytes())


def _verify(cert: x509.Certificate, cadena: str, sello: str) -> bool:
    try:
        cert.public_key().verify(base64.b64decode(sello), cadena.encode("utf-8"),  # type: ignore[union-attr,call-arg]
                                 padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
    except Exception:
        return False
    return True


def check_rep(xml: bytes) -> etree._Element:
    """XSD + validator, Sello against the SAT XSLT cadena, SelloSAT with the sandbox cert."""
    findings = validate_rep(xml, now=LOCAL_NOW)
    assert not errors_only(findings), [(f.code, f.message, f.location) for f in findings]
    assert not [f for f in findings if f.code == "XSD"]
    root = etree.fromstring(xml)  # the original tree, never re-serialised before the XSLT
    assert root.get("TipoDeComprobante") == "P"
    embedded = x509.load_der_x509_certificate(base64.b64decode(root.get("Certificado") or ""))
    assert embedded.serial_number.to_bytes(20, "big").decode("ascii") == root.get("NoCertificado")
    assert root.get("NoCertificado") == "30001000000500003416"
    # The SAT's XSLT itself, not the direct writer that signed it: an independent check.
    cadena = cadena_original_xslt(root)
    assert cadena == cadena_original(root)
    assert cadena.startswith("||4.0|P|")
    assert _verify(embedded, cadena, root.get("Sello") or "")
    assert not _verify(embedded, cadena.replace("|P|", "|P|X", 1), root.get("Sello") or "")
    tfd = root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS)
    assert tfd is not None
    sat = sandbox_certificate()
    assert tfd.get("SelloCFD") == root.get("Sello")
    assert tfd.get("NoCertificadoSAT") == sat.no_certificado
    assert _verify(sat.cert, cadena_tfd_xslt(tfd), tfd.get("SelloSAT") or "")
    return root


def check_golden(name: str, xml: bytes) -> None:
    path = GOLDEN / f"{name}.xml"
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_bytes(xml)
        return
    if not path.exists():
        pytest.fail(f"Falta el archivo dorado {path}; revise el REP y genérelo con COBRANZA_UPDATE_GOLDEN=1")
    expected = path.read_bytes()
    if expected != xml:
        def pretty(b: bytes) -> list[str]:
            return etree.tostring(etree.fromstring(b), pretty_print=True).decode().replace("\" ", "\"\n ").splitlines()
        diff = "\n".join(itertools.islice(difflib.unified_diff(pretty(expected), pretty(xml), "golden", "got",
                                                               lineterm=""), 60))
        pytest.fail(f"El REP difiere de {path.name}:\n{diff}")


def issued(book: Book, name: str, *pids: int) -> etree._Element:
    result = book.issue(*pids)
    assert result.xml is not None
    root = check_rep(result.xml)
    check_golden(name, result.xml)
    return root


def totales(root: etree._Element) -> dict[str, str]:
    el = root.find("cfdi:Complemento/pago20:Pagos/pago20:Totales", NS)
    assert el is not None
    return dict(el.attrib)


def pagos(root: etree._Element) -> list[etree._Element]:
    return root.findall("cfdi:Complemento/pago20:Pagos/pago20:Pago", NS)


def one_pago(root: etree._Element) -> etree._Element:
    (pago,) = pagos(root)
    return pago


def docs_of(pago: etree._Element) -> list[dict[str, str]]:
    return [dict(d.attrib) for d in pago.findall("pago20:DoctoRelacionado", NS)]


def taxes_dr(doc: etree._Element, kind: str) -> list[dict[str, str]]:
    tag = {"traslado": "pago20:ImpuestosDR/pago20:TrasladosDR/pago20:TrasladoDR",
           "retencion": "pago20:ImpuestosDR/pago20:RetencionesDR/pago20:RetencionDR"}[kind]
    return [dict(t.attrib) for t in doc.findall(tag, NS)]


def taxes_p(pago: etree._Element, kind: str) -> list[dict[str, str]]:
    tag = {"traslado": "pago20:ImpuestosP/pago20:TrasladosP/pago20:TrasladoP",
           "retencion": "pago20:ImpuestosP/pago20:RetencionesP/pago20:RetencionP"}[kind]
    return [dict(t.attrib) for t in pago.findall(tag, NS)]


def dr_elements(pago: etree._Element) -> list[etree._Element]:
    return pago.findall("pago20:DoctoRelacionado", NS)


IVA16_DR = {"ImpuestoDR": "002", "TipoFactorDR": "Tasa", "TasaOCuotaDR": "0.160000"}
IVA16_P = {"ImpuestoP": "002", "TipoFactorP": "Tasa", "TasaOCuotaP": "0.160000"}


def fixed_cfdi_values(root: etree._Element) -> None:
    """Section 1 of the rules: the CFDI around the complement."""
    attrs = root.attrib
    assert (attrs["Version"], attrs["TipoDeComprobante"], attrs["Exportacion"]) == ("4.0", "P", "01")
    assert (attrs["SubTotal"], attrs["Total"], attrs["Moneda"]) == ("0", "0", "XXX")
    for absent in ("FormaPago", "MetodoPago", "CondicionesDePago", "Descuento", "TipoCambio"):
        assert absent not in attrs
    assert attrs["Serie"] == "P" and attrs["Fecha"] == "2026-11-20T10:59:59"
    (concepto,) = root.findall("cfdi:Conceptos/cfdi:Concepto", NS)
    assert dict(concepto.attrib) == {"ClaveProdServ": "84111506", "Cantidad": "1", "ClaveUnidad": "ACT",
                                     "Descripcion": "Pago", "ValorUnitario": "0", "Importe": "0",
                                     "ObjetoImp": "01"}
    receptor = root.find("cfdi:Receptor", NS)
    assert receptor is not None and receptor.get("UsoCFDI") == "CP01"


# --------------------------------------------------------------------------- a


def test_example_a_three_partial_payments(book: Book) -> None:
    """a. 11,600.00 MXN paid 5,000 / 4,000 / 2,600, one payment and one REP each."""
    inv = book.invoices(A=[Line(D("10000.00"))])["A"]
    table = [
        ("5000.00", "11600.00", "6600.00", "4310.34", "689.66"),
        ("4000.00", "6600.00", "2600.00", "3448.28", "551.72"),
        ("2600.00", "2600.00", "0.00", "2241.38", "358.62"),
    ]
    bases, importes, uuids = D(0), D(0), set()
    for n, (paid, before, after, base, iva) in enumerate(table, start=1):
        pid = book.pay(paid, fecha=datetime(2026, 10, 5 * n, 12, 0))
        book.apply(pid, [(inv, paid)])
        root = issued(book, f"a{n}", pid)
        fixed_cfdi_values(root)
        assert root.get("Folio") == str(n)
        uuids.add(root.find("cfdi:Complemento/tfd:TimbreFiscalDigital", NS).get("UUID"))  # type: ignore[union-attr]
        pago = one_pago(root)
        assert dict(pago.attrib) == {"FechaPago": f"2026-10-{5 * n:02d}T12:00:00", "FormaDePagoP": "03",
                                     "MonedaP": "MXN", "TipoCambioP": "1", "Monto": paid}
        (doc,) = docs_of(pago)
        assert doc == {"IdDocumento": inv, "Serie": "A", "Folio": "101", "MonedaDR": "MXN", "EquivalenciaDR": "1",
                       "NumParcialidad": str(n), "ImpSaldoAnt": before, "ImpPagado": paid,
                       "ImpSaldoInsoluto": after, "ObjetoImpDR": "02"}
        (dr,) = dr_elements(pago)
        assert taxes_dr(dr, "traslado") == [{"BaseDR": base, **IVA16_DR, "ImporteDR": iva}]
        assert taxes_dr(dr, "retencion") == []
        assert taxes_p(pago, "traslado") == [{"BaseP": base, **IVA16_P, "ImporteP": iva}]
        assert totales(root) == {"TotalTrasladosBaseIVA16": base, "TotalTrasladosImpuestoIVA16": iva,
                                 "MontoTotalPagos": paid}
        bases += D(base)
        importes += D(iva)
    assert (bases, importes) == (D("10000.00"), D("1600.00"))
    assert len(uuids) == 3


# --------------------------------------------------------------------------- b


def _usd_invoice(book: Book) -> str:
    return book.invoices(USD=([Line(D("1000.00"))], {"moneda": "USD", "tipo_cambio": D("17.2345")}))["USD"]


def test_example_b_usd_invoice_paid_in_mxn(book: Book) -> None:
    """b. 1,160.00 USD paid with 19,992.02 MXN at 17.2345: EquivalenciaDR 0.0580231512."""
    inv = _usd_invoice(book)
    pid = book.pay("19992.02")
    book.apply(pid, [(inv, "1160.00")], rates={"USD": D("17.2345")})
    root = issued(book, "b_mxn", pid)
    fixed_cfdi_values(root)
    pago = one_pago(root)
    assert (pago.get("MonedaP"), pago.get("TipoCambioP"), pago.get("Monto")) == ("MXN", "1", "19992.02")
    (doc,) = docs_of(pago)
    assert (doc["MonedaDR"], doc["EquivalenciaDR"], doc["NumParcialidad"]) == ("USD", "0.0580231512", "1")
    assert (doc["ImpSaldoAnt"], doc["ImpPagado"], doc["ImpSaldoInsoluto"]) == ("1160.00", "1160.00", "0.00")
    (dr,) = dr_elements(pago)
    assert taxes_dr(dr, "traslado") == [{"BaseDR": "1000.00", **IVA16_DR, "ImporteDR": "160.00"}]
    # ImpuestosP are in the payment's currency: the USD amounts divided by EquivalenciaDR.
    (tp,) = taxes_p(pago, "traslado")
    assert D(tp["BaseP"]).quantize(D("0.01")) == D("17234.50")
    assert D(tp["ImporteP"]).quantize(D("0.01")) == D("2757.52")
    assert totales(root) == {"TotalTrasladosBaseIVA16": "17234.50", "TotalTrasladosImpuestoIVA16": "2757.52",
                             "MontoTotalPagos": "19992.02"}


def test_example_b_usd_invoice_paid_in_usd(book: Book) -> None:
    """b. The same invoice paid in USD: TipoCambioP 17.2345, EquivalenciaDR 1, Totales in MXN."""
    inv = _usd_invoice(book)
    pid = book.pay("1160.00", currency="USD", rate="17.2345")
    book.apply(pid, [(inv, "1160.00")])
    root = issued(book, "b_usd", pid)
    fixed_cfdi_values(root)
    pago = one_pago(root)
    assert (pago.get("MonedaP"), pago.get("TipoCambioP"), pago.get("Monto")) == ("USD", "17.2345", "1160.00")
    (doc,) = docs_of(pago)
    assert (doc["MonedaDR"], doc["EquivalenciaDR"], doc["ImpPagado"]) == ("USD", "1", "1160.00")
    assert (doc["ImpSaldoAnt"], doc["ImpSaldoInsoluto"]) == ("1160.00", "0.00")
    (dr,) = dr_elements(pago)
    assert taxes_dr(dr, "traslado") == [{"BaseDR": "1000.00", **IVA16_DR, "ImporteDR": "160.00"}]
    (tp,) = taxes_p(pago, "traslado")
    assert (D(tp["BaseP"]), D(tp["ImporteP"])) == (D("1000.00"), D("160.00"))
    assert totales(root) == {"TotalTrasladosBaseIVA16": "17234.50", "TotalTrasladosImpuestoIVA16": "2757.52",
                             "MontoTotalPagos": "19992.02"}


# --------------------------------------------------------------------------- c


def _check_example_c(root: etree._Element, uuids: dict[str, str]) -> None:
    fixed_cfdi_values(root)
    pago = one_pago(root)
    assert (pago.get("MonedaP"), pago.get("Monto")) == ("MXN", "20000.00")
    docs = docs_of(pago)
    got = [(d["IdDocumento"], d["NumParcialidad"], d["ImpSaldoAnt"], d["ImpPagado"], d["ImpSaldoInsoluto"])
           for d in docs]
    assert got == [(uuids["A"], "1", "11600.00", "11600.00", "0.00"),
                   (uuids["B"], "1", "5800.00", "5800.00", "0.00"),
                   (uuids["C"], "2", "2600.00", "2600.00", "0.00")]
    assert sum(D(d["ImpPagado"]) for d in docs) == D(pago.get("Monto") or "")
    trs = [taxes_dr(dr, "traslado") for dr in dr_elements(pago)]
    assert trs == [[{"BaseDR": "10000.00", **IVA16_DR, "ImporteDR": "1600.00"}],
                   [{"BaseDR": "5000.00", **IVA16_DR, "ImporteDR": "800.00"}],
                   [{"BaseDR": "2241.38", **IVA16_DR, "ImporteDR": "358.62"}]]
    (tp,) = taxes_p(pago, "traslado")
    assert (D(tp["BaseP"]), D(tp["ImporteP"])) == (D("17241.38"), D("2758.62"))
    assert totales(root) == {"TotalTrasladosBaseIVA16": "17241.38", "TotalTrasladosImpuestoIVA16": "2758.62",
                             "MontoTotalPagos": "20000.00"}


def _three_invoices(book: Book) -> dict[str, str]:
    return book.invoices(A=[Line(D("10000.00"))], B=[Line(D("5000.00"))], C=[Line(D("4000.00"))])


def test_example_c_earlier_payment_from_an_imported_complement(book: Book) -> None:
    """c. C had 2,040.00 paid by a REP issued elsewhere (imported): parcialidad 2."""
    uuids = _three_invoices(book)
    earlier = book.factory.payment([PaidDoc(uuids["C"], 1, D("4640.00"), D("2040.00"), IVA16)],
                                   fecha_pago=datetime(2026, 10, 5, 12, 0), folio="900",
                                   fecha=datetime(2026, 10, 6, 9, 0))
    book.load({"rep-externo": earlier})
    pid = book.pay("20000.00")
    book.apply(pid, [(uuids["A"], "11600.00"), (uuids["B"], "5800.00"), (uuids["C"], "2600.00")])
    root = issued(book, "c", pid)
    assert root.get("Folio") == "1"
    _check_example_c(root, uuids)


def test_example_c_earlier_payment_of_ours(book: Book) -> None:
    """c. C had 2,040.00 paid by an earlier payment of ours, with its own REP."""
    uuids = _three_invoices(book)
    early = book.pay("2040.00", fecha=datetime(2026, 10, 5, 12, 0))
    book.apply(early, [(uuids["C"], "2040.00")])
    first = issued(book, "c_previo", early)
    (doc,) = docs_of(one_pago(first))
    assert (doc["NumParcialidad"], doc["ImpSaldoAnt"], doc["ImpSaldoInsoluto"]) == ("1", "4640.00", "2600.00")
    (tr,) = taxes_dr(dr_elements(one_pago(first))[0], "traslado")
    assert (tr["BaseDR"], tr["ImporteDR"]) == ("1758.62", "281.38")  # + 2241.38 / 358.62 = 4000 / 640
    pid = book.pay("20000.00")
    book.apply(pid, [(uuids["A"], "11600.00"), (uuids["B"], "5800.00"), (uuids["C"], "2600.00")])
    root = issued(book, "c_propio", pid)
    assert root.get("Folio") == "2"
    _check_example_c(root, uuids)


# --------------------------------------------------------------------------- d, e, f


def test_example_d_retentions(book: Book) -> None:
    """d. 15,390.30 + IVA 2,462.45 - ISR 1,539.03 - IVA ret 1,641.64 = 14,672.08, paid in full."""
    inv = book.invoices(D=[Line(D("15390.30"), taxes=(IVA16, RET_ISR10, RET_IVA_2_3))])["D"]
    pid = book.pay("14672.08")
    book.apply(pid, [(inv, "14672.08")])
    root = issued(book, "d", pid)
    fixed_cfdi_values(root)
    pago = one_pago(root)
    (doc,) = docs_of(pago)
    assert (doc["ImpSaldoAnt"], doc["ImpPagado"], doc["ImpSaldoInsoluto"]) == ("14672.08", "14672.08", "0.00")
    (dr,) = dr_elements(pago)
    assert taxes_dr(dr, "traslado") == [{"BaseDR": "15390.30", **IVA16_DR, "ImporteDR": "2462.45"}]
    assert taxes_dr(dr, "retencion") == [
        {"BaseDR": "15390.30", "ImpuestoDR": "001", "TipoFactorDR": "Tasa", "TasaOCuotaDR": "0.100000",
         "ImporteDR": "1539.03"},
        {"BaseDR": "15390.30", "ImpuestoDR": "002", "TipoFactorDR": "Tasa", "TasaOCuotaDR": "0.106667",
         "ImporteDR": "1641.64"},
    ]
    ret = {r["ImpuestoP"]: D(r["ImporteP"]) for r in taxes_p(pago, "retencion")}
    assert ret == {"001": D("1539.03"), "002": D("1641.64")}
    (tp,) = taxes_p(pago, "traslado")
    assert (D(tp["BaseP"]), D(tp["ImporteP"])) == (D("15390.30"), D("2462.45"))
    assert totales(root) == {"TotalRetencionesIVA": "1641.64", "TotalRetencionesISR": "1539.03",
                             "TotalTrasladosBaseIVA16": "15390.30", "TotalTrasladosImpuestoIVA16": "2462.45",
                             "MontoTotalPagos": "14672.08"}


def test_example_e_exempt(book: Book) -> None:
    """e. 1,000 at IVA 16% plus 500 exempt (1,660.00), paid 830.00: half of each line."""
    inv = book.invoices(E=[Line(D("1000.00")), Line(D("500.00"), taxes=(IVA_EXENTO,))])["E"]
    pid = book.pay("830.00")
    book.apply(pid, [(inv, "830.00")])
    root = issued(book, "e", pid)
    fixed_cfdi_values(root)
    pago = one_pago(root)
    (doc,) = docs_of(pago)
    assert (doc["ImpSaldoAnt"], doc["ImpPagado"], doc["ImpSaldoInsoluto"]) == ("1660.00", "830.00", "830.00")
    (dr,) = dr_elements(pago)
    assert sorted(taxes_dr(dr, "traslado"), key=lambda t: t["TipoFactorDR"]) == [
        {"BaseDR": "250.00", "ImpuestoDR": "002", "TipoFactorDR": "Exento"},
        {"BaseDR": "500.00", **IVA16_DR, "ImporteDR": "80.00"},
    ]
    tps = {t["TipoFactorP"]: t for t in taxes_p(pago, "traslado")}
    assert set(tps["Exento"]) == {"BaseP", "ImpuestoP", "TipoFactorP"}
    assert D(tps["Exento"]["BaseP"]) == D("250.00")
    assert (D(tps["Tasa"]["BaseP"]), D(tps["Tasa"]["ImporteP"])) == (D("500.00"), D("80.00"))
    assert totales(root) == {"TotalTrasladosBaseIVA16": "500.00", "TotalTrasladosImpuestoIVA16": "80.00",
                             "TotalTrasladosBaseIVAExento": "250.00", "MontoTotalPagos": "830.00"}


def test_example_f_objeto_imp_01(book: Book) -> None:
    """f. An invoice without taxes (ObjetoImp 01): no ImpuestosDR, no ImpuestosP."""
    inv = book.invoices(F=[Line(D("1000.00"), objeto_imp="01", taxes=())])["F"]
    pid = book.pay("400.00")
    book.apply(pid, [(inv, "400.00")])
    root = issued(book, "f", pid)
    fixed_cfdi_values(root)
    pago = one_pago(root)
    (doc,) = docs_of(pago)
    assert doc["ObjetoImpDR"] == "01"
    assert (doc["ImpSaldoAnt"], doc["ImpPagado"], doc["ImpSaldoInsoluto"]) == ("1000.00", "400.00", "600.00")
    (dr,) = dr_elements(pago)
    assert dr.find("pago20:ImpuestosDR", NS) is None
    assert pago.find("pago20:ImpuestosP", NS) is None
    assert totales(root) == {"MontoTotalPagos": "400.00"}


def test_golden_files_are_all_used() -> None:
    """Every golden REP belongs to an example above (a stale file would hide a rename)."""
    expected = {"a1", "a2", "a3", "b_mxn", "b_usd", "c", "c_previo", "c_propio", "d", "e", "f"}
    if UPDATE_GOLDEN:
        pytest.skip("regenerating golden files")
    present = {p.stem for p in GOLDEN.glob("*.xml")}
    assert present == expected, f"faltan {expected - present}, sobran {present - expected}"


def test_example_d_from_the_stored_facts_without_reading_the_xml(book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    """An imported invoice's REP is computed from the facts stored at import: the XML is
    not read again, and the REP is the golden one."""
    from cfdi_cobranza.services.stamping import issuing

    def no_xml(*_a: Any) -> Any:
        raise AssertionError("the invoice's XML was read again")

    inv = book.invoices(D=[Line(D("15390.30"), taxes=(IVA16, RET_ISR10, RET_IVA_2_3))])["D"]
    monkeypatch.setattr(issuing, "read_invoice_for_pagos", no_xml)
    pid = book.pay("14672.08")
    book.apply(pid, [(inv, "14672.08")])
    issued(book, "d", pid)


@pytest.mark.parametrize("facts", ["sin datos", "de otro XML", "ilegibles"])
def test_example_d_from_the_xml_when_the_stored_facts_cannot_serve(book: Book, facts: str) -> None:
    """The importer keeps what a REP reads of each invoice beside its XML
    (``document.pagos_facts``). Rows without them (imported before), with facts of other
    bytes, or unreadable ones, are read from the XML: the very same REP, byte for byte."""
    from sqlalchemy import text, update

    from cfdi_cobranza.db.models import Document

    inv = book.invoices(D=[Line(D("15390.30"), taxes=(IVA16, RET_ISR10, RET_IVA_2_3))])["D"]
    with transaction(book.engine) as s:
        stored = s.execute(text("SELECT pagos_facts FROM document")).scalar_one()
        assert stored is not None and '"total":"14672.08"' in stored
        # Facts that would write another REP, so that using them could not go unnoticed.
        wrong = stored.replace('"total":"14672.08"', '"total":"99999.99"')
        value = {"sin datos": None, "de otro XML": wrong.replace('"sha256":"', '"sha256":"0'),
                 "ilegibles": wrong[:40]}[facts]
        s.execute(update(Document).values(pagos_facts=value))
    pid = book.pay("14672.08")
    book.apply(pid, [(inv, "14672.08")])
    issued(book, "d", pid)
