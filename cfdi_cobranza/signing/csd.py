"""SAT certificates (CSD and e.firma/FIEL) and the RSA signer that seals CFDI.

A ``Certificate`` wraps the X.509 the SAT issues: the 20-digit NoCertificado is the
serial number written as ASCII digits, the RFC is the first half of the subject's
``x500UniqueIdentifier`` ("RFC / RFC-del-representante"), the Certificado attribute is
the base64 of the DER.

CSD versus FIEL: both are issued by the SAT to the same RFC, but only a CSD may seal a
CFDI. The SAT issues CSD with keyUsage = digitalSignature + nonRepudiation and no
extendedKeyUsage; the e.firma additionally has dataEncipherment + keyAgreement and
extendedKeyUsage emailProtection + clientAuth. We classify on those extensions (the
subject OU "sucursal" is optional and not reliable).

``load_csd`` runs every check before a key is used, each with a Spanish
``CertificateError``: CSD_PASSWORD, CSD_NO_CORRESPONDE, CSD_ES_FIEL, CSD_VENCIDO,
CSD_NO_VIGENTE, CSD_OTRO_RFC, CSD_INVALIDO.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from cfdi_cobranza.errors import CertificateError

OID_X500_UNIQUE_IDENTIFIER = ObjectIdentifier("2.5.4.45")
OID_NAME = ObjectIdentifier("2.5.4.41")

HashName = Literal["sha256", "sha1"]


def _serial_to_no_certificado(serial: int) -> str:
    raw = serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if text.isdigit():
        return text
    # Not a SAT-style serial (a foreign CA): fall back to the decimal serial.
    return str(serial)


def _subject_value(cert: x509.Certificate, oid: ObjectIdentifier) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Certificate:
    """An X.509 certificate issued by the SAT (or a sandbox imitation of one)."""

    der: bytes
    cert: x509.Certificate

    @classmethod
    def from_bytes(cls, data: bytes) -> Certificate:
        """Load a .cer in DER or PEM form."""
        try:
            if data.lstrip().startswith(b"-----BEGIN"):
                cert = x509.load_pem_x509_certificate(data)
            else:
                cert = x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise CertificateError(
                "El archivo .cer no es un certificado válido", code="CSD_INVALIDO"
            ) from exc
        return cls(der=cert.public_bytes(serialization.Encoding.DER), cert=cert)

    @classmethod
    def from_base64(cls, text: str) -> Certificate:
        """Load the ``Certificado`` attribute of a CFDI."""
        try:
            der = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError(
                "El atributo Certificado no es base64 válido", code="CSD_INVALIDO"
            ) from exc
        return cls.from_bytes(der)

    @cached_property
    def no_certificado(self) -> str:
        return _serial_to_no_certificado(self.cert.serial_number)

    @cached_property
    def rfc(self) -> str:
        """RFC of the holder ("EKU9003173C9 / VADA800927DJ3" -> "EKU9003173C9")."""
        value = _subject_value(self.cert, OID_X500_UNIQUE_IDENTIFIER) or ""
        return value.split("/")[0].strip().upper()

    @cached_property
    def name(self) -> str:
        return (
            _subject_value(self.cert, OID_NAME)
            or _subject_value(self.cert, NameOID.COMMON_NAME)
            or _subject_value(self.cert, NameOID.ORGANIZATION_NAME)
            or ""
        )

    @property
    def valid_from(self) -> datetime:
        return self.cert.not_valid_before_utc

    @property
    def valid_to(self) -> datetime:
        return self.cert.not_valid_after_utc

    @cached_property
    def certificado_b64(self) -> str:
        """Value of the CFDI ``Certificado`` attribute."""
        return base64.b64encode(self.der).decode("ascii")

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        key = self.cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise CertificateError("El certificado no tiene una llave RSA", code="CSD_INVALIDO")
        return key

    @cached_property
    def is_fiel(self) -> bool:
        try:
            ku = self.cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if ku.data_encipherment or ku.key_agreement:
                return True
        except x509.ExtensionNotFound:
            pass
        try:
            eku = self.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return False
        return ExtendedKeyUsageOID.CLIENT_AUTH in eku or ExtendedKeyUsageOID.EMAIL_PROTECTION in eku

    @cached_property
    def is_csd(self) -> bool:
        try:
            ku = self.cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return False
        return ku.digital_signature and ku.content_commitment and not self.is_fiel

    def validity_error(self, today: date) -> CertificateError | None:
        """The error for using this certificate on ``today``, or None when in force."""
        if today > self.valid_to.date():
            return CertificateError(
                f"El certificado {self.no_certificado} venció el "
                f"{self.valid_to.date().isoformat()}",
                code="CSD_VENCIDO",
                valid_to=self.valid_to.date().isoformat(),
            )
        if today < self.valid_from.date():
            return CertificateError(
                f"El certificado {self.no_certificado} aún no está vigente: inicia el "
                f"{self.valid_from.date().isoformat()}",
                code="CSD_NO_VIGENTE",
                valid_from=self.valid_from.date().isoformat(),
            )
        return None


class Signer:
    """An RSA private key that produces CFDI seals (SHA256withRSA, PKCS#1 v1.5)."""

    def __init__(self, private_key: rsa.RSAPrivateKey, certificate: Certificate | None = None):
        self._key = private_key
        self.certificate = certificate

    @classmethod
    def from_key_bytes(
        cls, key_bytes: bytes, password: str | bytes, certificate: Certificate | None = None,
        *, checked: bool = False,
    ) -> Signer:
        """Load an encrypted PKCS#8 key (the SAT's DER .key, or PEM).

        ``checked=True``: the key is one this program already loaded and checked (the
        CSD stored when it was registered, sealed with authenticated encryption), so
        OpenSSL's RSA consistency check (about 40 ms, the primes tested) is skipped. A
        key from outside is always checked.
        """
        pwd = password.encode("utf-8") if isinstance(password, str) else password
        try:
            if key_bytes.lstrip().startswith(b"-----BEGIN"):
                key = serialization.load_pem_private_key(key_bytes, pwd, unsafe_skip_rsa_key_validation=checked)
            else:
                key = serialization.load_der_private_key(key_bytes, pwd, unsafe_skip_rsa_key_validation=checked)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            # cryptography reports a wrong password and a damaged file the same way.
            raise CertificateError(
                "La contraseña de la llave privada es incorrecta o el archivo .key está dañado",
                code="CSD_PASSWORD",
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CertificateError("La llave privada no es RSA", code="CSD_INVALIDO")
        return cls(key, certificate)

    def matches(self, certificate: Certificate) -> bool:
        return self._key.public_key().public_numbers() == certificate.public_key.public_numbers()

    def sign_bytes(self, data: bytes, algorithm: HashName = "sha256") -> str:
        """Base64 RSA PKCS#1 v1.5 signature of ``data`` (the SAT web services sign XML-DSig with SHA-1)."""
        hash_alg: hashes.HashAlgorithm = hashes.SHA256() if algorithm == "sha256" else hashes.SHA1()
        return base64.b64encode(self._key.sign(data, padding.PKCS1v15(), hash_alg)).decode("ascii")

    def sign(self, cadena: str) -> str:
        """Base64 SHA256withRSA signature of ``cadena`` (UTF-8), the CFDI Sello."""
        signature = self._key.sign(cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


def verify(cert: Certificate, cadena: str, sello_b64: str, algorithm: HashName = "sha256") -> bool:
    """True when ``sello_b64`` is ``cert``'s signature of ``cadena``."""
    try:
        signature = base64.b64decode("".join(sello_b64.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    hash_alg: hashes.HashAlgorithm = hashes.SHA256() if algorithm == "sha256" else hashes.SHA1()
    try:
        cert.public_key.verify(signature, cadena.encode("utf-8"), padding.PKCS1v15(), hash_alg)
    except InvalidSignature:
        return False
    return True


def load_csd(
    cer_bytes: bytes,
    key_bytes: bytes,
    password: str | bytes,
    *,
    rfc: str | None = None,
    today: date,
    checked: bool = False,
) -> tuple[Certificate, Signer]:
    """Load a CSD for sealing, refusing a wrong password, mismatch, FIEL, expiry or RFC.

    ``checked``: see ``Signer.from_key_bytes`` (only for the CSD stored at registration).
    """
    cert = Certificate.from_bytes(cer_bytes)
    signer = Signer.from_key_bytes(key_bytes, password, cert, checked=checked)
    if not signer.matches(cert):
        raise CertificateError(
            "La llave privada no corresponde al certificado", code="CSD_NO_CORRESPONDE"
        )
    if cert.is_fiel or not cert.is_csd:
        raise CertificateError(
            "El certificado es de e.firma (FIEL), no un Certificado de Sello Digital (CSD); "
            "un CFDI solo se puede sellar con un CSD",
            code="CSD_ES_FIEL",
        )
    error = cert.validity_error(today)
    if error is not None:
        raise error
    if rfc is not None and cert.rfc != rfc.strip().upper():
        raise CertificateError(
            f"El certificado pertenece al RFC {cert.rfc}, no al emisor {rfc.strip().upper()}",
            code="CSD_OTRO_RFC",
            cert_rfc=cert.rfc,
        )
    return cert, signer
