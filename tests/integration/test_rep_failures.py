"""REP issuance under bad input and failures: refused in Spanish, nothing half-done.

"Nothing half-done" is checked the same way after every refusal (``assert_untouched``):
no REP row in a live state, the folio sequence not advanced, and the applications
still listed as pending a REP. Also here: exactly-once stamping across a timeout and
``retry``, reversal of applications against stamped and cancelled REPs, substitution
(motive 01), concurrent issuance on PostgreSQL (consecutive folios, no gaps) and the
monthly mode. The ledger builder is shared with ``test_rep_examples``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fakes.finkok import PASSWORD, USER, FinkokFake
from fakes.server import free_port_url
from sqlalchemy import Engine, func, select
from test_rep_examples import CUSTOMER, LOCAL_NOW, NS, Book, check_rep, one_pago, pagos

from cfdi_cobranza.cfdi.factory import Line, Receptor
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import (
    AuditEntry,
    CompanyCsd,
    Credit,
    Document,
    FolioSequence,
    Rep,
    RepLine,
)
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES
from cfdi_cobranza.errors import CertificateError, ConflictError, PacError
from cfdi_cobranza.pac.base import PAC_NO_DISPONIBLE, PAC_SIN_RESPUESTA, StampRequest, StampResult
from cfdi_cobranza.pac.finkok import FinkokPac
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.pac.transport import HttpTransport, RetryPolicy, Timeouts
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.stamping import RepRefused, pending

D = Decimal
OTHER = Receptor("DME980512KJ3", "DISTRIBUIDORA MEDICA DEL BAJIO", "601", "37000", "G03")
SPANISH = ("El ", "La ", "No ", "Las ", "Los ")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def book(engine: Engine, settings: Settings, tmp_path: Path) -> Book:
    return Book.open(engine, settings, tmp_path)


def ppd_payment(book: Book, amount: str = "5000.00") -> tuple[str, int]:
    """One 11,600.00 PPD invoice and a payment of ``amount`` applied to it."""
    inv = book.invoices(A=[Line(D("10000.00"))])["A"]
    pid = book.pay(amount)
    book.apply(pid, [(inv, amount)])
    return inv, pid


def next_folio(engine: Engine) -> int:
    with transaction(engine) as s:
        seq = s.scalar(select(FolioSequence).where(FolioSequence.serie == "P"))
        return seq.next_folio if seq is not None else 1


def assert_untouched(book: Book, pid: int, folio: int = 1) -> None:
    """No live REP, folio sequence where it was, the payment's applications still pending."""
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(Rep.id)).where(Rep.status.in_(LIVE_REP_STATUSES))) == 0
        pend = {p.payment_id: p for p in pending(s, today=LOCAL_NOW.date())}
    assert next_folio(book.engine) == folio
    assert pid in pend and pend[pid].documentos >= 1


def spanish(message: str) -> None:
    assert message and message.startswith(SPANISH), message


def book_with(engine: Engine, settings: Settings, tmp: Path, pac: object) -> Book:
    return Book.open(engine, settings, tmp, pac=pac)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CSD


def _self_signed(rfc: str, *, fiel: bool, password: bytes) -> tuple[bytes, bytes]:
    """A SAT-shaped certificate for ``rfc``: CSD key usages, or the e.firma ones."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMPRESA DE PRUEBA SA DE CV"),
                      x509.NameAttribute(x509.ObjectIdentifier("2.5.4.45"), f"{rfc} / VADA800927DJ3")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(int.from_bytes(b"30001000000500008888", "big"))
        .not_valid_before(start).not_valid_after(start + timedelta(days=4 * 365))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=fiel, key_agreement=fiel, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    )
    if fiel:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password))
    return cert.public_bytes(serialization.Encoding.DER), key_der


@pytest.mark.parametrize(("case", "code", "words"), [
    ("vencido", "CSD_VENCIDO", "2023-06-17"),
    ("password", "CSD_PASSWORD", "contraseña"),
    ("llave_ajena", "CSD_NO_CORRESPONDE", "llave"),
    ("fiel", "CSD_ES_FIEL", ""),
    ("otro_rfc", "CSD_OTRO_RFC", "EKU9003173C9"),
])
def test_csd_refusals_store_nothing_and_issue_nothing(engine, settings, tmp_path, case, code, words):
    certs = Path(__file__).resolve().parents[2] / "certs_example"
    cer, key = (certs / "EKU9003173C9.cer").read_bytes(), (certs / "EKU9003173C9.key").read_bytes()
    old_cer, old_key = ((certs / "EKU9003173C9_expired2023.cer").read_bytes(),
                        (certs / "EKU9003173C9_expired2023.key").read_bytes())
    password = "12345678a"
    if case == "vencido":
        cer, key = old_cer, old_key
    elif case == "password":
        password = "no-es-la-contraseña"
    elif case == "llave_ajena":
        key = old_key
    elif case == "fiel":
        cer, key = _self_signed("EKU9003173C9", fiel=True, password=b"secreto")
        password = "secreto"
    else:
        cer, key = _self_signed("XIA190128J61", fiel=False, password=b"secreto")
        password = "secreto"
    book = Book.open(engine, settings, tmp_path, auto_csd=False)
    _inv, pid = ppd_payment(book)
    with pytest.raises(CertificateError) as info, transaction(engine) as s:
        from cfdi_cobranza.services.stamping import register_csd

        register_csd(s, "EKU9003173C9", cer, key, password, book.box, today=LOCAL_NOW.date())
    assert info.value.code == code
    spanish(info.value.message)
    assert words in info.value.message
    with transaction(engine) as s:
        assert s.scalar(select(func.count(CompanyCsd.id))) == 0
    with pytest.raises(CertificateError) as refused:
        book.stamper.issue([pid])
    assert refused.value.code == "CSD_NO_REGISTRADO" and "cobranza company csd" in refused.value.message
    assert_untouched(book, pid)
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0


# --------------------------------------------------------------------------- documents


def test_payment_on_cancelled_invoice(book: Book) -> None:
    inv, pid = ppd_payment(book)
    with transaction(book.engine) as s:
        s.scalars(select(Document).where(Document.uuid == inv)).one().status = "cancelado"
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([pid])
    assert info.value.code == "DOCUMENTO_CANCELADO"
    assert inv in info.value.message and "cancelada" in info.value.message
    spanish(info.value.message)
    assert_untouched(book, pid)


def test_payment_on_pue_invoice_emits_nothing(book: Book) -> None:
    inv = book.invoices(P=([Line(D("100.00"))], {"metodo": "PUE", "forma": "03"}))["P"]
    pid = book.pay("116.00")
    applied = book.apply(pid, [(inv, "116.00")])
    assert applied.lines[0].requiere_rep is False
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([pid])
    assert info.value.code == "REP_SIN_APLICACIONES"
    assert "PUE" in info.value.message and "no requiere complemento" in info.value.message
    spanish(info.value.message)
    with transaction(book.engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0
        assert pid not in {p.payment_id for p in pending(s, today=LOCAL_NOW.date())}
    assert next_folio(book.engine) == 1


# --------------------------------------------------------------------------- PAC failures


def _finkok(url: str, *, read: float = 5.0) -> FinkokPac:
    transport = HttpTransport(timeouts=Timeouts(connect=1.0, read=read),
                              retry=RetryPolicy(attempts=2, backoff=0.0, ), sleep=lambda _s: None)
    return FinkokPac(USER, PASSWORD, base_url=url, transport=transport, recover_attempts=2, recover_delay=0.0,
                     sleep=lambda _s: None)


@pytest.fixture
def finkok(tmp_path: Path) -> Iterator[FinkokFake]:
    with FinkokFake(folder=tmp_path / "fake-finkok") as server:
        assert isinstance(server, FinkokFake)
        yield server


def test_pac_down_leaves_nothing(engine, settings, tmp_path) -> None:
    book = book_with(engine, settings, tmp_path, _finkok(free_port_url()))
    _inv, pid = ppd_payment(book)
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([pid])
    assert info.value.code == PAC_NO_DISPONIBLE
    assert "No se pudo contactar al PAC" in info.value.message
    assert [f.code for f in info.value.findings] == [PAC_NO_DISPONIBLE]
    assert_untouched(book, pid)
    with transaction(engine) as s:
        assert s.scalar(select(func.count(Rep.id))) == 0 and s.scalar(select(func.count(RepLine.id))) == 0


class _Unreachable:
    """A PAC stub that fails before sending anything."""

    name = "stub"
    is_sandbox = False

    def stamp(self, request: StampRequest) -> StampResult:
        raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code=PAC_NO_DISPONIBLE)

    def recover(self, request: StampRequest) -> StampResult | None:
        return None


def test_pac_down_stub_then_sandbox_takes_folio_1(engine, settings, tmp_path) -> None:
    book = book_with(engine, settings, tmp_path, _Unreachable())
    _inv, pid = ppd_payment(book)
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([pid])
    assert info.value.code == PAC_NO_DISPONIBLE
    assert_untouched(book, pid)
    book.stamper.pac = SandboxPac(book.sandbox_dir)
    result = book.issue(pid)
    assert result.folio == 1  # the folio taken for the failed attempt was given back


def test_pac_error_reply_is_a_finding_and_frees_the_applications(engine, settings, tmp_path, finkok) -> None:
    book = book_with(engine, settings, tmp_path, _finkok(finkok.url))
    _inv, pid = ppd_payment(book)
    finkok.reject = ("CFDI40102", "El resultado de la digestión debe ser igual al resultado de la "
                                  "desencripción del sello.")
    with pytest.raises(RepRefused) as info:
        book.stamper.issue([pid])
    assert info.value.code == "PAC_RECHAZO"
    assert "CFDI40102" in info.value.message and "digestión" in info.value.message
    spanish(info.value.message)
    (finding,) = info.value.findings
    assert (finding.code, finding.severity, finding.location) == ("CFDI40102", "ERROR", "PAC")
    assert finkok.stamper.stamps == 0
    with transaction(engine) as s:
        assert s.scalars(select(Rep)).all() == []  # it never existed fiscally: no row, no gap
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "rep_rechazado_pac")).one()
        assert "CFDI40102" in (audit.detail or "")
    assert_untouched(book, pid, folio=1)
    finkok.reject = None
    again = book.issue(pid)
    assert again.folio == 1 and finkok.stamper.stamps == 1


def test_malformed_pac_reply_stays_in_flight_and_retry_recovers(engine, settings, tmp_path, finkok) -> None:
    book = book_with(engine, settings, tmp_path, _finkok(finkok.url))
    _inv, pid = ppd_payment(book)
    finkok.malformed = True
    result = book.stamper.issue([pid])
    assert result.status == "enviando"
    assert [f.code for f in result.findings] == ["PAC_RESPUESTA_INVALIDA"]
    finkok.malformed = False
    (again,) = book.stamper.retry()
    assert again.status == "timbrado" and finkok.stamper.stamps == 1


def test_malformed_pac_reply_is_reported_in_spanish(engine, settings, tmp_path, finkok) -> None:
    """What happens today: refused with PAC_RESPUESTA_INVALIDA, the applications pending again."""
    book = book_with(engine, settings, tmp_path, _finkok(finkok.url))
    _inv, pid = ppd_payment(book)
    finkok.malformed = True
    try:
        result = book.stamper.issue([pid])
    except RepRefused as exc:
        assert [f.code for f in exc.findings] == ["PAC_RESPUESTA_INVALIDA"]
        assert "no se pudo interpretar" in exc.message
        spanish(exc.message)
    else:  # once the service treats it as ambiguous (the proposed patch)
        assert result.status == "enviando"
        assert [f.code for f in result.findings] == ["PAC_RESPUESTA_INVALIDA"]


# --------------------------------------------------------------------------- exactly once


def test_stamp_then_timeout_retry_recovers_the_same_uuid(engine, settings, tmp_path, finkok) -> None:
    book = book_with(engine, settings, tmp_path, _finkok(finkok.url))
    _inv, pid = ppd_payment(book)
    finkok.drop_after = {"stamp", "stamped"}  # stamps, then neither answer nor recovery gets through
    result = book.stamper.issue([pid])
    assert result.status == "enviando" and result.uuid is None
    assert [f.code for f in result.findings] == [PAC_SIN_RESPUESTA]
    assert "rep retry" in (result.message or "")
    assert finkok.stamper.stamps == 1
    with transaction(engine) as s:
        (rep,) = s.scalars(select(Rep)).all()
        assert rep.status == "enviando" and rep.folio == 1
        assert pid not in {p.payment_id for p in pending(s, today=LOCAL_NOW.date())}  # covered while in flight
    with pytest.raises(ConflictError) as blocked, transaction(engine) as s:
        svc.unapply(s, pid, reason="prueba")
    assert blocked.value.code == "APLICACION_CON_REP" and "en envío" in blocked.value.message
    (again,) = book.stamper.retry()
    assert again.status == "timbrado"
    stamped = next(iter(finkok.stamper.by_sello.values()))
    assert again.uuid == finkok.stamper.uuid_of(stamped).upper()
    assert finkok.stamper.stamps == 1 and finkok.calls.count("stamp") == 2
    assert book.stamper.retry() == []


class _StampThenTimeout:
    """Wraps the sandbox: the first stamp goes through but its answer is lost."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac) -> None:
        self.inner = inner
        self.calls = 0

    def stamp(self, request: StampRequest) -> StampResult:
        self.calls += 1
        result = self.inner.stamp(request)
        if self.calls == 1:
            raise PacError("El PAC no respondió a tiempo.", code=PAC_SIN_RESPUESTA)
        return result

    def recover(self, request: StampRequest) -> StampResult | None:
        return self.inner.recover(request)

    def cancel(self, request):  # type: ignore[no-untyped-def]
        return self.inner.cancel(request)


def test_sandbox_stamp_then_timeout_is_stamped_exactly_once(book: Book) -> None:
    inner = book.stamper.pac
    assert isinstance(inner, SandboxPac)
    wrapper = _StampThenTimeout(inner)
    book.stamper.pac = wrapper  # type: ignore[assignment]
    _inv, pid = ppd_payment(book)
    first = book.stamper.issue([pid])
    assert first.status == "enviando"
    (again,) = book.stamper.retry()
    assert again.status == "timbrado" and again.folio == 1
    (stamped_uuid,) = inner.stamped_uuids()  # stamped exactly once
    assert again.uuid == stamped_uuid
    check_rep(again.xml or b"")


# --------------------------------------------------------------------------- reversal, cancel, substitute


def test_unapply_refused_while_stamped_then_allowed_after_cancel(book: Book) -> None:
    inv, pid = ppd_payment(book)
    rep = book.issue(pid)
    with pytest.raises(ConflictError) as info, transaction(book.engine) as s:
        svc.unapply(s, pid, inv, reason="Depósito mal identificado")
    assert info.value.code == "APLICACION_CON_REP" and (rep.uuid or "") in info.value.message
    spanish(info.value.message)
    out = book.stamper.cancel(rep.uuid or "", "02").to_dict()
    assert out["status"] == "cancelado" and out["sustituto"] is None
    with transaction(book.engine) as s:
        assert svc.unapply(s, pid, inv, reason="Depósito mal identificado")
        assert s.scalars(select(Document).where(Document.uuid == inv)).one().saldo == D("11600.00")
        assert s.scalars(select(Rep)).one().status == "cancelado"


def test_cancel_01_with_replacement(book: Book) -> None:
    _inv, pid = ppd_payment(book)
    old = book.issue(pid)
    out = book.stamper.cancel(old.uuid or "", "01", replace=True).to_dict()
    new = out["sustituto"]
    assert out["status"] == "sustituido" and new["status"] == "timbrado" and new["folio"] == 2
    with transaction(book.engine) as s:
        reps = {r.uuid: r for r in s.scalars(select(Rep))}
        assert reps[old.uuid].status == "sustituido"
        assert reps[old.uuid].cancel_folio_sustitucion == new["uuid"]
        replacement = reps[new["uuid"]]
        assert replacement.status == "timbrado" and replacement.replaces_id == reps[old.uuid].id
        credit_ids = [c.id for c in s.scalars(select(Credit).where(Credit.payment_id == pid))]
        covering = {line.rep_id for line in s.scalars(select(RepLine).where(RepLine.credit_id.in_(credit_ids)))}
        live = {r.id for r in reps.values() if r.status in LIVE_REP_STATUSES}
        assert covering & live == {replacement.id}
        xml = replacement.stamped_xml
    root = check_rep(xml or b"")
    rel = root.find("cfdi:CfdiRelacionados", NS)
    assert rel is not None and rel.get("TipoRelacion") == "04"
    assert [r.get("UUID") for r in rel.findall("cfdi:CfdiRelacionado", NS)] == [old.uuid]
    assert one_pago(root).get("Monto") == "5000.00"
    with pytest.raises(ConflictError) as info:
        book.stamper.cancel(old.uuid or "", "02")
    assert info.value.code == "REP_NO_CANCELABLE"


# --------------------------------------------------------------------------- concurrency, monthly


@pytest.mark.postgres
def test_concurrent_issuance_gets_consecutive_folios(pg_engine: Engine, settings: Settings, tmp_path: Path) -> None:
    book = Book.open(pg_engine, settings, tmp_path)
    n = 6
    uuids = book.invoices(**{f"I{i}": [Line(D("1000.00"))] for i in range(n)})
    pids = []
    for i in range(n):
        pid = book.pay("1160.00")
        book.apply(pid, [(uuids[f"I{i}"], "1160.00")])
        pids.append(pid)
    barrier = threading.Barrier(n)
    results: list[object] = []

    def worker(pid: int) -> None:
        barrier.wait()
        try:
            results.append(book.stamper.issue([pid]))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(getattr(r, "status", None) == "timbrado" for r in results), results
    assert sorted(r.folio for r in results) == list(range(1, n + 1))  # type: ignore[attr-defined]
    assert len({r.uuid for r in results}) == n  # type: ignore[attr-defined]
    assert next_folio(pg_engine) == n + 1
    with transaction(pg_engine) as s:
        assert sorted(s.scalars(select(Rep.folio))) == list(range(1, n + 1))


def test_monthly_mode_one_rep_per_customer_and_month(book: Book) -> None:
    uuids = book.invoices(A=[Line(D("10000.00"))], B=([Line(D("1000.00"))], {"receptor": OTHER}))
    oct1 = book.pay("1000.00", fecha=datetime(2026, 10, 3, 12, 0))
    oct2 = book.pay("2000.00", fecha=datetime(2026, 10, 28, 12, 0))
    nov = book.pay("3000.00", fecha=datetime(2026, 11, 10, 12, 0))
    other = book.pay("1160.00", fecha=datetime(2026, 10, 20, 12, 0), customer=OTHER.rfc)
    for pid, amount in ((oct1, "1000.00"), (oct2, "2000.00"), (nov, "3000.00")):
        book.apply(pid, [(uuids["A"], amount)])
    book.apply(other, [(uuids["B"], "1160.00")])
    results = book.stamper.issue_all_pending(monthly=True)
    assert [r.status for r in results] == ["timbrado"] * 3
    by_shape = {}
    for r in results:
        root = check_rep(r.xml or b"")
        receptor = root.find("cfdi:Receptor", NS)
        assert receptor is not None
        months = {p.get("FechaPago", "")[:7] for p in pagos(root)}
        assert len(months) == 1
        by_shape[(receptor.get("Rfc"), months.pop())] = [
            (p.get("Monto"), [d.get("NumParcialidad") for d in p.findall("pago20:DoctoRelacionado", NS)])
            for p in pagos(root)]
    assert by_shape == {
        (CUSTOMER.rfc, "2026-10"): [("1000.00", ["1"]), ("2000.00", ["2"])],
        (CUSTOMER.rfc, "2026-11"): [("3000.00", ["3"])],
        (OTHER.rfc, "2026-10"): [("1160.00", ["1"])],
    }
    assert sorted(r.folio for r in results) == [1, 2, 3]  # type: ignore[type-var]
    assert book.stamper.issue_all_pending(monthly=True) == []
    with transaction(book.engine) as s:
        assert pending(s, today=LOCAL_NOW.date()) == []
