"""A test e.firma generated with ``cryptography`` in the SAT's FIEL shape.

The SAT's own test FIEL (tests/data/sat-fiel) expired in 2023; syncs run "today", so
this builds one that is valid now: subject with x500UniqueIdentifier "RFC / REP-RFC",
serialNumber, the 20-digit NoCertificado as the serial (ASCII digits), keyUsage
digitalSignature + nonRepudiation + dataEncipherment + keyAgreement, extendedKeyUsage
emailProtection + clientAuth; the key as the SAT ships it (encrypted PKCS#8, DER).
It is self-signed: the fake SAT trusts the certificates it is given, not a CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

PASSWORD = "12345678a"


@dataclass(frozen=True)
class TestFiel:
    cer: bytes
    key: bytes
    password: str = PASSWORD


def make_fiel(rfc: str = "EKU9003173C9", *, days: int = 1460, start: datetime | None = None,
              no_certificado: str = "30001000000500003999", fiel: bool = True) -> TestFiel:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = start or datetime.now(UTC) - timedelta(days=30)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "ESCUELA KEMPER URGATE SA DE CV"),
        x509.NameAttribute(ObjectIdentifier("2.5.4.41"), "ESCUELA KEMPER URGATE SA DE CV"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ESCUELA KEMPER URGATE SA DE CV"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "MX"),
        x509.NameAttribute(ObjectIdentifier("2.5.4.45"), f"{rfc} / XIQB891116QE4"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, " / XIQB891116MGRMZR05"),
    ] + ([] if fiel else [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sucursal 1")]))
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC UAT (prueba local)"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SERVICIO DE ADMINISTRACION TRIBUTARIA")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(int.from_bytes(no_certificado.encode("ascii"), "big"))
               .not_valid_before(start).not_valid_after(start + timedelta(days=days))
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                            data_encipherment=fiel, key_agreement=fiel, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=False))
    if fiel:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                               ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    der_key = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(PASSWORD.encode()))
    return TestFiel(cert.public_bytes(serialization.Encoding.DER), der_key)
