"""The embedded sandbox PAC: local stamping, idempotency index, cancellation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fakes.stamper import RFC_EMISOR, RFC_RECEPTOR, signed_cfdi
from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_tfd
from cfdi_cobranza.cfdi.reader import find_stamp_element
from cfdi_cobranza.cfdi.timbre import SANDBOX_RFC, ensure_sandbox_certificate
from cfdi_cobranza.errors import ConfigurationError, PacError, ValidationError
from cfdi_cobranza.pac.base import CancelRequest, Pac, StampRequest
from cfdi_cobranza.pac.config import pac_from_config
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.signing.csd import verify

NOW = datetime(2025, 1, 15, 12, 5, 0)


@pytest.fixture
def pac(tmp_path: Path) -> SandboxPac:
    return SandboxPac(tmp_path / "sandbox-pac", clock=lambda: NOW)


@pytest.fixture
def xml(tmp_path: Path) -> bytes:
    return signed_cfdi(tmp_path / "issuer")


def test_stamp_adds_tfd_verifiable_with_sandbox_cert(pac: SandboxPac, xml: bytes) -> None:
    assert isinstance(pac, Pac) and pac.is_sandbox
    result = pac.stamp(StampRequest(xml, "rep-1"))
    tfd = find_stamp_element(etree.fromstring(result.xml))
    assert tfd is not None
    assert tfd.get("Version") == "1.1"
    assert tfd.get("RfcProvCertif") == SANDBOX_RFC
    assert tfd.get("UUID") == result.uuid
    assert result.fecha_timbrado == NOW and not result.already_stamped
    cert, _ = ensure_sandbox_certificate(pac.folder)
    assert result.no_certificado_sat == cert.no_certificado
    assert verify(cert, cadena_tfd(tfd), tfd.get("SelloSAT") or "", "sha256")
    assert "SIN VALIDEZ FISCAL" in cert.name


def test_same_key_twice_same_uuid_one_stamp(pac: SandboxPac, xml: bytes) -> None:
    first = pac.stamp(StampRequest(xml, "rep-1"))
    second = pac.stamp(StampRequest(xml, "rep-1"))
    assert second.uuid == first.uuid and second.already_stamped and second.xml == first.xml
    assert pac.stamp_count() == 1 and pac.stamped_uuids() == [first.uuid]


def test_index_survives_a_restart(tmp_path: Path, xml: bytes) -> None:
    first = SandboxPac(tmp_path / "p", clock=lambda: NOW).stamp(StampRequest(xml, "rep-1"))
    restarted = SandboxPac(tmp_path / "p", clock=lambda: NOW)
    recovered = restarted.recover(StampRequest(xml, "rep-1"))
    assert recovered is not None and recovered.uuid == first.uuid


def test_same_document_other_key_is_not_stamped_twice(pac: SandboxPac, xml: bytes) -> None:
    first = pac.stamp(StampRequest(xml, "rep-1"))
    assert pac.stamp(StampRequest(xml, "rep-1-retry")).uuid == first.uuid


def test_key_reused_for_other_xml_is_refused(pac: SandboxPac, xml: bytes, tmp_path: Path) -> None:
    pac.stamp(StampRequest(xml, "rep-1"))
    other = signed_cfdi(tmp_path / "other", folio="2")
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(other, "rep-1"))
    assert info.value.code == "PAC_LLAVE_REUTILIZADA"


def test_recover_unknown_is_none(pac: SandboxPac, xml: bytes) -> None:
    assert pac.recover(StampRequest(xml, "never")) is None


def test_tampered_document_is_refused_like_a_pac(pac: SandboxPac, xml: bytes) -> None:
    tampered = xml.replace(b'Folio="1"', b'Folio="9"')
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(tampered, "rep-1"))
    assert info.value.code == "CFDI40102"


def test_malformed_xml(pac: SandboxPac) -> None:
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(b"<cfdi:Comprobante", "rep-1"))
    assert info.value.code == "301"


@pytest.mark.parametrize(
    ("motivo", "folio"),
    [("01", "11111111-2222-4333-8444-555555555555"), ("02", None), ("03", None), ("04", None)],
)
def test_cancel_and_status(pac: SandboxPac, xml: bytes, motivo: str, folio: str | None) -> None:
    stamped = pac.stamp(StampRequest(xml, "rep-1"))
    assert pac.status(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Vigente"
    result = pac.cancel(CancelRequest(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", motivo, folio))
    assert result.status == "cancelado" and result.code == "201"
    assert result.acuse is not None and b"SIN VALIDEZ FISCAL" in result.acuse
    assert pac.status(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Cancelado"
    again = pac.cancel(CancelRequest(stamped.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", motivo, folio))
    assert again.code == "202"


def test_cancel_unknown_and_foreign(pac: SandboxPac, xml: bytes) -> None:
    with pytest.raises(PacError) as info:
        pac.cancel(CancelRequest("11111111-2222-4333-8444-555555555555", RFC_EMISOR, RFC_RECEPTOR, "0", "02"))
    assert info.value.code == "205"
    stamped = pac.stamp(StampRequest(xml, "rep-1"))
    with pytest.raises(PacError) as info:
        pac.cancel(CancelRequest(stamped.uuid, "XAXX010101000", RFC_RECEPTOR, "0", "02"))
    assert info.value.code == "203"


def test_cancel_request_rules() -> None:
    uuid = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(ValidationError) as info:
        CancelRequest(uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "01")
    assert info.value.code == "CANCELACION_FOLIO_SUSTITUCION"
    with pytest.raises(ValidationError):
        CancelRequest(uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "02", uuid)
    with pytest.raises(ValidationError) as info:
        CancelRequest(uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "05")
    assert info.value.code == "CANCELACION_MOTIVO_INVALIDO"


def test_config_defaults_to_sandbox_and_refuses_sandbox_production(tmp_path: Path) -> None:
    pac = pac_from_config({}, instance_path=tmp_path)
    assert isinstance(pac, SandboxPac) and pac.folder == tmp_path / "sandbox-pac"
    with pytest.raises(ConfigurationError):
        pac_from_config({"COBRANZA_PAC_ENV": "production"}, instance_path=tmp_path)
    with pytest.raises(ConfigurationError):
        pac_from_config({"COBRANZA_PAC": "finkok"}, instance_path=tmp_path)
    with pytest.raises(ConfigurationError):
        pac_from_config({"COBRANZA_PAC": "otro"}, instance_path=tmp_path)


def test_config_file_and_sealed_secret(tmp_path: Path) -> None:
    from cfdi_cobranza.pac.sw import SwPac
    from cfdi_cobranza.secrets import SecretBox

    sealed = SecretBox.for_instance(tmp_path).seal(b"tok-123").decode("ascii")
    conf = tmp_path / "pac.toml"
    conf.write_text(f'[pac]\nname = "sw"\nenv = "production"\ntoken_sealed = "{sealed}"\n', encoding="utf-8")
    pac = pac_from_config({"COBRANZA_PAC_CONFIG": str(conf)}, instance_path=tmp_path)
    assert isinstance(pac, SwPac) and pac.environment == "production"
    assert pac.base_url == "https://services.sw.com.mx" and "tok-123" not in repr(pac)
