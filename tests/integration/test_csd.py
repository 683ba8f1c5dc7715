"""CSD loading: every refusal has its code; signatures verify; FIEL is told apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cfdi_cobranza.errors import CertificateError
from cfdi_cobranza.signing.csd import (
    OID_X500_UNIQUE_IDENTIFIER,
    Certificate,
    Signer,
    load_csd,
    verify,
)

CERTS = Path(__file__).resolve().parents[2] / "certs_example"
CER = (CERTS / "EKU9003173C9.cer").read_bytes()
KEY = (CERTS / "EKU9003173C9.key").read_bytes()
OLD_CER = (CERTS / "EKU9003173C9_expired2023.cer").read_bytes()
OLD_KEY = (CERTS / "EKU9003173C9_expired2023.key").read_bytes()
PWD = "12345678a"
TODAY = date(2025, 6, 1)


def test_certificate_fields() -> None:
    cert = Certificate.from_bytes(CER)
    assert cert.no_certificado == "30001000000500003416"
    assert cert.rfc == "EKU9003173C9"
    assert cert.name == "ESCUELA KEMPER URGATE SA DE CV"
    assert cert.valid_from.date() == date(2023, 5, 18)
    assert cert.valid_to.date() == date(2027, 5, 18)
    assert cert.is_csd and not cert.is_fiel
    assert Certificate.from_base64(cert.certificado_b64).der == CER


def test_pem_certificate() -> None:
    cert = Certificate.from_bytes(CER)
    pem = cert.cert.public_bytes(serialization.Encoding.PEM)
    assert Certificate.from_bytes(pem).no_certificado == cert.no_certificado


def test_load_csd_sign_and_verify() -> None:
    cert, signer = load_csd(CER, KEY, PWD, rfc="eku9003173c9", today=TODAY)
    sello = signer.sign("||4.0|A|1|cadena de prueba áé||")
    assert verify(cert, "||4.0|A|1|cadena de prueba áé||", sello)
    assert not verify(cert, "||4.0|A|2|cadena de prueba áé||", sello)
    assert not verify(cert, "x", "no es base64!!")


def test_wrong_password() -> None:
    with pytest.raises(CertificateError) as info:
        load_csd(CER, KEY, "wrong", today=TODAY)
    assert info.value.code == "CSD_PASSWORD"
    assert "contraseña" in info.value.message


def test_key_does_not_match() -> None:
    with pytest.raises(CertificateError) as info:
        load_csd(CER, OLD_KEY, PWD, today=TODAY)
    assert info.value.code == "CSD_NO_CORRESPONDE"


def test_expired_certificate() -> None:
    with pytest.raises(CertificateError) as info:
        load_csd(OLD_CER, OLD_KEY, PWD, today=TODAY)
    assert info.value.code == "CSD_VENCIDO"
    assert "2023-06-17" in info.value.message


def test_not_yet_valid() -> None:
    with pytest.raises(CertificateError) as info:
        load_csd(CER, KEY, PWD, today=date(2023, 1, 1))
    assert info.value.code == "CSD_NO_VIGENTE"


def test_other_rfc() -> None:
    with pytest.raises(CertificateError) as info:
        load_csd(CER, KEY, PWD, rfc="XAXX010101000", today=TODAY)
    assert info.value.code == "CSD_OTRO_RFC"


def test_production_sat_cert_is_csd_shape() -> None:
    cert = Certificate.from_bytes((CERTS / "00001000000708361114.cer").read_bytes())
    assert cert.no_certificado == "00001000000708361114"
    assert cert.rfc == "SAT970701NN3"
    assert cert.is_csd


def _fiel(tmp_password: bytes) -> tuple[bytes, bytes]:
    """A FIEL-like certificate: the e.firma key usages and extended key usages."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "ESCUELA KEMPER URGATE SA DE CV"),
            x509.NameAttribute(OID_X500_UNIQUE_IDENTIFIER, "EKU9003173C9 / VADA800927DJ3"),
        ]
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(b"30001000000500009999", "big"))
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=4 * 365))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=True,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(tmp_password),
    )
    return cert.public_bytes(serialization.Encoding.DER), key_der


def test_fiel_is_refused() -> None:
    cer, key = _fiel(b"secreto")
    cert = Certificate.from_bytes(cer)
    assert cert.is_fiel and not cert.is_csd
    assert cert.no_certificado == "30001000000500009999"
    with pytest.raises(CertificateError) as info:
        load_csd(cer, key, "secreto", today=TODAY)
    assert info.value.code == "CSD_ES_FIEL"


def test_garbage_certificate() -> None:
    with pytest.raises(CertificateError) as info:
        Certificate.from_bytes(b"not a certificate")
    assert info.value.code == "CSD_INVALIDO"


def test_signer_from_pem_key() -> None:
    signer = Signer.from_key_bytes(KEY, PWD)
    cert = Certificate.from_bytes(CER)
    assert signer.matches(cert)
