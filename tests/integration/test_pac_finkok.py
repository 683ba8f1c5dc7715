"""Finkok adapter against a loopback fake speaking Finkok's SOAP protocol."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.finkok import NS_TNS_STAMP, PASSWORD, USER, FinkokFake
from fakes.server import free_port_url
from fakes.stamper import RFC_EMISOR, RFC_RECEPTOR, signed_cfdi
from lxml import etree

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import CancelRequest, CsdCredentials, StampRequest
from cfdi_cobranza.pac.config import pac_from_config
from cfdi_cobranza.pac.finkok import FinkokPac
from cfdi_cobranza.pac.transport import HttpTransport, RetryPolicy, Timeouts

CERTS = Path(__file__).resolve().parents[2] / "certs_example"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FinkokFake]:
    with FinkokFake(folder=tmp_path / "fake-sat") as server:
        assert isinstance(server, FinkokFake)
        yield server


@pytest.fixture
def xml(tmp_path: Path) -> bytes:
    return signed_cfdi(tmp_path / "issuer")


def make_pac(url: str, *, read: float = 5.0, attempts: int = 2) -> FinkokPac:
    transport = HttpTransport(
        timeouts=Timeouts(connect=2.0, read=read),
        retry=RetryPolicy(attempts=attempts, backoff=0.01),
    )
    return FinkokPac(USER, PASSWORD, base_url=url, transport=transport, recover_attempts=3, recover_delay=0.0)


def test_stamp_request_shape_and_success(fake: FinkokFake, xml: bytes) -> None:
    result = make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))

    sent = fake.requests[0]
    assert sent.method == "POST" and sent.path == "/servicios/soap/stamp"
    assert sent.headers["content-type"].startswith("text/xml")
    env = etree.fromstring(sent.body)
    op = env.find(f"{{http://schemas.xmlsoap.org/soap/envelope/}}Body/{{{NS_TNS_STAMP}}}stamp")
    assert op is not None
    assert [etree.QName(c).localname for c in op] == ["xml", "username", "password"]
    assert base64.b64decode(op[0].text or "") == xml
    assert op[1].text == USER and op[2].text == PASSWORD

    assert result.already_stamped is False
    assert result.uuid == fake.stamper.uuid_of(result.xml)
    assert result.no_certificado_sat == fake.stamper.certificate.no_certificado
    assert fake.stamper.stamps == 1


def test_sat_error_code_becomes_finding(fake: FinkokFake, xml: bytes) -> None:
    fake.reject = ("CFDI40102", "El resultado de la digestión debe ser igual al resultado de la desencripción del sello.")
    with pytest.raises(PacError) as info:
        make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))
    assert info.value.code == "CFDI40102"
    assert "rechazó" in info.value.message and "digestión" in info.value.message
    assert fake.stamper.stamps == 0


def test_bad_credentials_fault_is_reported(fake: FinkokFake, xml: bytes) -> None:
    pac = FinkokPac(USER, "wrong", base_url=fake.url, recover_delay=0.0)
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(xml, "rep-1"))
    assert "Invalid username or password" in info.value.message
    assert "wrong" not in str(info.value) and "wrong" not in repr(pac)


def test_malformed_reply(fake: FinkokFake, xml: bytes) -> None:
    fake.malformed = True
    with pytest.raises(PacError) as info:
        make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))
    assert info.value.code == "PAC_RESPUESTA_INVALIDA"


def test_timeout(fake: FinkokFake, xml: bytes) -> None:
    fake.hang = 1.0
    with pytest.raises(PacError) as info:
        make_pac(fake.url, read=0.2).stamp(StampRequest(xml, "rep-1"))
    assert info.value.code == "PAC_SIN_RESPUESTA"


def test_pac_down_is_retried_then_reported(xml: bytes) -> None:
    slept: list[float] = []
    transport = HttpTransport(
        timeouts=Timeouts(connect=1.0, read=1.0),
        retry=RetryPolicy(attempts=3, backoff=0.01),
        sleep=slept.append,
    )
    pac = FinkokPac(USER, PASSWORD, base_url=free_port_url(), transport=transport)
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(xml, "rep-1"))
    assert info.value.code == "PAC_NO_DISPONIBLE"
    assert slept == [0.01, 0.02]  # two backoffs between three attempts


def test_exactly_once_when_connection_drops_after_stamping(fake: FinkokFake, xml: bytes) -> None:
    fake.drop_after = {"stamp"}
    result = make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))

    assert fake.stamper.stamps == 1
    assert fake.calls == ["stamp", "stamped"]
    assert result.already_stamped is True
    assert result.uuid == fake.stamper.uuid_of(next(iter(fake.stamper.by_sello.values())))


def test_stamped_lag_is_polled(fake: FinkokFake, xml: bytes) -> None:
    fake.drop_after = {"stamp"}
    fake.stamped_not_found_first = 2  # Finkok may say 603 right after stamping
    result = make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))
    assert result.already_stamped and fake.stamper.stamps == 1
    assert fake.calls == ["stamp", "stamped", "stamped", "stamped"]


def test_retry_after_crash_returns_same_uuid(fake: FinkokFake, xml: bytes) -> None:
    pac = make_pac(fake.url)
    first = pac.stamp(StampRequest(xml, "rep-1"))
    # A process that crashed before saving the answer sends the same request again:
    # Finkok answers 307 without data and the adapter fetches it with `stamped`.
    again = pac.stamp(StampRequest(xml, "rep-1"))
    assert again.uuid == first.uuid and again.already_stamped
    assert fake.stamper.stamps == 1
    assert pac.recover(StampRequest(xml, "rep-1")) is not None


def test_recover_when_never_stamped(fake: FinkokFake, xml: bytes) -> None:
    assert make_pac(fake.url).recover(StampRequest(xml, "rep-1")) is None


@pytest.mark.parametrize(
    ("motivo", "folio"),
    [("01", "11111111-2222-4333-8444-555555555555"), ("02", None), ("03", None), ("04", None)],
)
def test_cancel_motives(fake: FinkokFake, xml: bytes, motivo: str, folio: str | None) -> None:
    pac = make_pac(fake.url)
    stamped = pac.stamp(StampRequest(xml, "rep-1"))
    csd = CsdCredentials(
        (CERTS / "EKU9003173C9.cer").read_bytes(), (CERTS / "EKU9003173C9.key").read_bytes(), "12345678a"
    )
    result = pac.cancel(
        CancelRequest(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", motivo, folio, csd=csd)
    )
    assert result.status == "cancelado" and result.code == "201"
    assert result.acuse is not None and stamped.uuid.encode() in result.acuse
    assert fake.stamper.cancelled[stamped.uuid] == (motivo, folio)
    assert pac.status(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Cancelado"


def test_cancel_unknown_uuid_is_sat_code(fake: FinkokFake) -> None:
    csd = CsdCredentials(
        (CERTS / "EKU9003173C9.cer").read_bytes(), (CERTS / "EKU9003173C9.key").read_bytes(), "12345678a"
    )
    with pytest.raises(PacError) as info:
        make_pac(fake.url).cancel(
            CancelRequest("11111111-2222-4333-8444-555555555555", RFC_EMISOR, RFC_RECEPTOR, "0", "02", csd=csd)
        )
    assert info.value.code == "205"


def test_cancel_needs_csd(fake: FinkokFake) -> None:
    with pytest.raises(PacError) as info:
        make_pac(fake.url).cancel(
            CancelRequest("11111111-2222-4333-8444-555555555555", RFC_EMISOR, RFC_RECEPTOR, "0", "02")
        )
    assert info.value.code == "PAC_CSD_REQUERIDO"


def test_config_builds_finkok_against_override_url(fake: FinkokFake, xml: bytes) -> None:
    pac = pac_from_config(
        {
            "COBRANZA_PAC": "finkok",
            "COBRANZA_PAC_ENV": "test",
            "COBRANZA_PAC_USER": USER,
            "COBRANZA_PAC_PASSWORD": PASSWORD,
            "COBRANZA_PAC_URL": fake.url,
            "COBRANZA_PAC_TIMEOUT": "5",
        }
    )
    assert isinstance(pac, FinkokPac) and not pac.is_sandbox
    assert PASSWORD not in repr(pac)
    assert pac.stamp(StampRequest(xml, "k")).uuid
