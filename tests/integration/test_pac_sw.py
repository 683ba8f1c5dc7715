"""SW Sapien adapter against a loopback fake speaking SW's REST protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.server import free_port_url
from fakes.stamper import RFC_EMISOR, RFC_RECEPTOR, signed_cfdi
from fakes.sw import FIXED_TOKEN, PASSWORD, USER, SwFake

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import CancelRequest, CsdCredentials, StampRequest
from cfdi_cobranza.pac.config import pac_from_config
from cfdi_cobranza.pac.sw import SwPac
from cfdi_cobranza.pac.transport import HttpTransport, RetryPolicy, Timeouts

CERTS = Path(__file__).resolve().parents[2] / "certs_example"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[SwFake]:
    with SwFake(folder=tmp_path / "fake-sat") as server:
        assert isinstance(server, SwFake)
        yield server


@pytest.fixture
def xml(tmp_path: Path) -> bytes:
    return signed_cfdi(tmp_path / "issuer")


def make_pac(url: str, *, read: float = 5.0, token: str | None = None, **kw: object) -> SwPac:
    transport = HttpTransport(
        timeouts=Timeouts(connect=2.0, read=read), retry=RetryPolicy(attempts=2, backoff=0.01)
    )
    if token:
        return SwPac(token=token, base_url=url, sat_status_url=url + "/ConsultaCFDIService.svc", transport=transport)
    return SwPac(
        user=USER, password=PASSWORD, base_url=url,
        sat_status_url=url + "/ConsultaCFDIService.svc", transport=transport, **kw,  # type: ignore[arg-type]
    )


def test_login_and_stamp_request_shape(fake: SwFake, xml: bytes) -> None:
    result = make_pac(fake.url).stamp(StampRequest(xml, "rep-1"))

    login, stamp = fake.requests
    assert login.path == "/v2/security/authenticate"
    assert json.loads(login.body) == {"user": USER, "password": PASSWORD}
    assert stamp.path == "/v4/cfdi33/stamp/v4"
    assert stamp.headers["authorization"] == "Bearer token-1"
    assert stamp.headers["customid"] == "rep-1"
    assert stamp.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="xml"' in stamp.body and xml in stamp.body

    assert not result.already_stamped and fake.stamper.stamps == 1
    assert result.uuid == fake.stamper.uuid_of(result.xml)


def test_token_is_reused_until_expiry(fake: SwFake, tmp_path: Path) -> None:
    import time

    now = [time.time()]
    pac = make_pac(fake.url, clock=lambda: now[0])
    pac.stamp(StampRequest(signed_cfdi(tmp_path / "a", "1"), "k1"))
    pac.stamp(StampRequest(signed_cfdi(tmp_path / "b", "2"), "k2"))
    assert fake.logins == 1
    now[0] += 7200  # past SW's expires_in: log in again before calling
    pac.stamp(StampRequest(signed_cfdi(tmp_path / "c", "3"), "k3"))
    assert fake.logins == 2


def test_expired_token_is_renewed_once(fake: SwFake, xml: bytes) -> None:
    pac = make_pac(fake.url)
    pac.stamp(StampRequest(xml, "k1"))
    fake.tokens.discard("token-1")  # SW revoked or expired the session
    again = pac.stamp(StampRequest(xml, "k1"))
    assert fake.logins == 2 and again.already_stamped


def test_fixed_token(fake: SwFake, xml: bytes) -> None:
    make_pac(fake.url, token=FIXED_TOKEN).stamp(StampRequest(xml, "k1"))
    assert fake.logins == 0
    assert fake.requests[0].headers["authorization"] == f"Bearer {FIXED_TOKEN}"


def test_bad_password(fake: SwFake, xml: bytes) -> None:
    pac = SwPac(user=USER, password="nope", base_url=fake.url)
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(xml, "k1"))
    assert info.value.code == "AU2000"
    assert "nope" not in str(info.value) and "nope" not in repr(pac)


def test_sat_error_code_from_message(fake: SwFake, xml: bytes) -> None:
    fake.reject = "CFDI40102 - El resultado de la digestión debe ser igual al resultado de la desencripción del sello."
    with pytest.raises(PacError) as info:
        make_pac(fake.url).stamp(StampRequest(xml, "k1"))
    assert info.value.code == "CFDI40102"
    assert "digestión" in info.value.message
    assert fake.stamper.stamps == 0


def test_malformed_reply(fake: SwFake, xml: bytes) -> None:
    fake.malformed = True
    with pytest.raises(PacError) as info:
        make_pac(fake.url, token=FIXED_TOKEN).stamp(StampRequest(xml, "k1"))
    assert info.value.code == "PAC_RESPUESTA_INVALIDA"


def test_timeout(fake: SwFake, xml: bytes) -> None:
    fake.hang = 1.0
    with pytest.raises(PacError) as info:
        make_pac(fake.url, read=0.2, token=FIXED_TOKEN).stamp(StampRequest(xml, "k1"))
    assert info.value.code == "PAC_SIN_RESPUESTA"


def test_pac_down(xml: bytes) -> None:
    with pytest.raises(PacError) as info:
        make_pac(free_port_url(), token=FIXED_TOKEN).stamp(StampRequest(xml, "k1"))
    assert info.value.code == "PAC_NO_DISPONIBLE"


def test_exactly_once_when_connection_drops_after_stamping(fake: SwFake, xml: bytes) -> None:
    fake.drop_after = {"stamp"}
    result = make_pac(fake.url, token=FIXED_TOKEN).stamp(StampRequest(xml, "rep-1"))
    assert fake.stamper.stamps == 1
    assert fake.customids == ["rep-1", "rep-1"]  # the recovery reuses the customid
    assert result.already_stamped
    assert result.uuid == fake.stamper.uuid_of(fake.by_customid["rep-1"])


def test_recover_after_crash(fake: SwFake, xml: bytes) -> None:
    pac = make_pac(fake.url, token=FIXED_TOKEN)
    first = pac.stamp(StampRequest(xml, "rep-1"))
    recovered = pac.recover(StampRequest(xml, "rep-1"))
    assert recovered is not None and recovered.uuid == first.uuid and recovered.already_stamped
    assert fake.stamper.stamps == 1


@pytest.mark.parametrize(
    ("motivo", "folio"),
    [("01", "11111111-2222-4333-8444-555555555555"), ("02", None), ("03", None), ("04", None)],
)
def test_cancel_by_uuid(fake: SwFake, xml: bytes, motivo: str, folio: str | None) -> None:
    pac = make_pac(fake.url, token=FIXED_TOKEN)
    stamped = pac.stamp(StampRequest(xml, "rep-1"))
    result = pac.cancel(CancelRequest(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", motivo, folio))
    expected = f"/cfdi33/cancel/{RFC_EMISOR}/{stamped.uuid}/{motivo}" + (f"/{folio}" if folio else "")
    assert fake.requests[1].path == expected
    assert result.status == "cancelado" and result.code == "201"
    assert fake.stamper.cancelled[stamped.uuid] == (motivo, folio)


def test_cancel_with_csd(fake: SwFake, xml: bytes) -> None:
    pac = make_pac(fake.url, token=FIXED_TOKEN)
    stamped = pac.stamp(StampRequest(xml, "rep-1"))
    csd = CsdCredentials(
        (CERTS / "EKU9003173C9.cer").read_bytes(), (CERTS / "EKU9003173C9.key").read_bytes(), "12345678a"
    )
    result = pac.cancel(CancelRequest(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "02", csd=csd))
    assert fake.requests[1].path == "/cfdi33/cancel/csd"
    body = json.loads(fake.requests[1].body)
    assert body["motivo"] == "02" and body["rfc"] == RFC_EMISOR and "foliosustitucion" not in body
    assert result.status == "cancelado"


def test_cancel_error_has_pac_code(fake: SwFake) -> None:
    with pytest.raises(PacError) as info:
        make_pac(fake.url, token=FIXED_TOKEN).cancel(
            CancelRequest("11111111-2222-4333-8444-555555555555", RFC_EMISOR, RFC_RECEPTOR, "0", "02")
        )
    assert info.value.code == "CA1000"


def test_config_builds_sw(fake: SwFake, xml: bytes) -> None:
    pac = pac_from_config(
        {
            "COBRANZA_PAC": "sw",
            "COBRANZA_PAC_USER": USER,
            "COBRANZA_PAC_PASSWORD": PASSWORD,
            "COBRANZA_PAC_URL": fake.url,
        }
    )
    assert isinstance(pac, SwPac) and PASSWORD not in repr(pac)
    assert pac.stamp(StampRequest(xml, "k")).uuid
