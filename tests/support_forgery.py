"""Forged CFDI for the trust tests: certificates made here, documents re-sealed with them.

A forger can make any certificate (self-signed, or signed by a CA of their own whose
name copies an SAT authority's) carrying the company's RFC, and seal any document with
it: the ``Sello`` then verifies perfectly against the embedded certificate. Only the
certificate's issuer gives the forgery away.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import find_stamp_element
from cfdi_cobranza.signing.csd import OID_X500_UNIQUE_IDENTIFIER

ROOT = Path(__file__).resolve().parents[1]
REAL40 = ROOT / "tests" / "data" / "real" / "cfdi40-real.xml"
REAL33 = ROOT / "tests" / "data" / "real" / "cfdi33-real.xml"
SAT_CA_DIR = ROOT / "cfdi_cobranza" / "cfdi" / "sat_ca"

@functools.cache
def ca_key() -> rsa.RSAPrivateKey:
    """The fake CA's key (RSA generation is the slow part: one per run)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def holder_key() -> rsa.RSAPrivateKey:
    """The key of every forged holder certificate."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sat_authority_name(file: str = "AC5_SAT.crt") -> x509.Name:
    """The subject of a real SAT authority, to copy into a fake CA."""
    data = (SAT_CA_DIR / file).read_bytes()
    cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_certificate(data))
    return cert.subject


def unknown_sat_authority_name() -> x509.Name:
    """Named like an SAT authority, but none in the package's store has this name."""
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "AC DEL SERVICIO DE ADMINISTRACION TRIBUTARIA 9"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SERVICIO DE ADMINISTRACION TRIBUTARIA"),
        x509.NameAttribute(OID_X500_UNIQUE_IDENTIFIER, "SAT970701NN3"),
    ])


def holder_name(rfc: str, nombre: str = "EMPRESA FALSA SA DE CV") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, nombre),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, nombre),
        x509.NameAttribute(OID_X500_UNIQUE_IDENTIFIER, f"{rfc} / VADA800927DJ3"),
    ])


@dataclass(frozen=True)
class Forged:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def no_certificado(self) -> str:
        raw = self.cert.serial_number.to_bytes(20, "big")
        return raw.decode("ascii")

    @property
    def b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def make_certificate(
    rfc: str,
    *,
    issuer: x509.Name | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    not_before: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2030, 1, 1, tzinfo=UTC),
    serial: str = "00001000000799999001",
) -> Forged:
    """A CSD-looking certificate for ``rfc``; self-signed when ``issuer`` is None."""
    key = holder_key()
    subject = holder_name(rfc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(serial.encode("ascii"), "big"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    )
    cert = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    return Forged(cert, key)


def reseal(xml: bytes, forged: Forged, *, no_certificado_sat: str = "00001000000799999999",
           total: str | None = None) -> bytes:
    """``xml`` sealed again with ``forged``: valid Sello, a timbre whose SAT certificate is unknown."""
    root = parse_xml(xml)
    if total is not None:
        root.set("Total", total)
    root.set("NoCertificado", forged.no_certificado)
    root.set("Certificado", forged.b64)
    root.set("Sello", "")
    signature = forged.key.sign(cadena_original(root).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    sello = base64.b64encode(signature).decode("ascii")
    root.set("Sello", sello)
    tfd = find_stamp_element(root)
    assert tfd is not None
    tfd.set("SelloCFD", sello)
    tfd.set("NoCertificadoSAT", no_certificado_sat)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def self_signed_forgery(xml: bytes, rfc: str) -> bytes:
    return reseal(xml, make_certificate(rfc))


def copied_sat_name_forgery(xml: bytes, rfc: str, authority: str = "AC5_SAT.crt") -> bytes:
    """Signed by a fake CA whose subject copies a real SAT authority's name."""
    return reseal(xml, make_certificate(rfc, issuer=sat_authority_name(authority), issuer_key=ca_key()))


def unknown_sat_authority_document(xml: bytes, rfc: str, **kwargs: object) -> bytes:
    """Signed by a CA named like an SAT authority that is not in the local store."""
    return reseal(xml, make_certificate(rfc, issuer=unknown_sat_authority_name(), issuer_key=ca_key(),
                                        **kwargs))  # type: ignore[arg-type]
