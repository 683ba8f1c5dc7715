"""Sandbox stamping: add a TimbreFiscalDigital 1.1 to a signed CFDI, without a PAC.

Used by tests, the demo, the benchmarks and the sandbox PAC. The "SAT" certificate is a
self-signed RSA-2048 certificate generated on first use and clearly named
"SANDBOX cfdi-cobranza SIN VALIDEZ FISCAL"; its serial is 20 ASCII digits starting with
``99999`` so it can never be mistaken for (or collide with) a real SAT certificate.
Pass its folder as ``extra_cert_dirs`` to ``load_cfdi`` to have SelloSAT verified.

Side effects are parameters: the UUID source and the clock are injected.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_tfd
from cfdi_cobranza.cfdi.parser import NS_CFDI_33, NS_CFDI_40
from cfdi_cobranza.cfdi.reader import NS_TFD
from cfdi_cobranza.signing.csd import (
    OID_NAME,
    OID_X500_UNIQUE_IDENTIFIER,
    Certificate,
    Signer,
)

SANDBOX_NAME = "SANDBOX cfdi-cobranza SIN VALIDEZ FISCAL"
SANDBOX_RFC = "SPR190613I52"  # the RFC of the SAT's own test PAC certificates
CERT_FILE = "sandbox-sat.cer"
KEY_FILE = "sandbox-sat.key"
PASSWORD_FILE = "sandbox-sat.password"

NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
TFD_SCHEMA_LOCATION = (
    "http://www.sat.gob.mx/TimbreFiscalDigital "
    "http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"
)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_sandbox_certificate(folder: str | Path) -> tuple[Certificate, Signer]:
    """Load the sandbox stamping certificate of ``folder``, creating it on first use."""
    folder = Path(folder)
    cer, key, pwd = folder / CERT_FILE, folder / KEY_FILE, folder / PASSWORD_FILE
    if cer.exists() and key.exists() and pwd.exists():
        cert = Certificate.from_bytes(cer.read_bytes())
        return cert, Signer.from_key_bytes(key.read_bytes(), pwd.read_bytes().strip(), cert)

    folder.mkdir(parents=True, exist_ok=True)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    digits = "99999" + "".join(secrets.choice("0123456789") for _ in range(15))
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, SANDBOX_NAME),
            x509.NameAttribute(OID_NAME, SANDBOX_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, SANDBOX_NAME),
            x509.NameAttribute(OID_X500_UNIQUE_IDENTIFIER, SANDBOX_RFC),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "SANDBOX"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(int.from_bytes(digits.encode("ascii"), "big"))
        # A fixed, wide window: the sandbox must not depend on the machine's clock.
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(private_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24).encode("ascii")
    key_der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    _write_private(pwd, password)
    _write_private(key, key_der)
    # The certificate last: its presence marks a complete set for the next caller.
    cer.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    cert = Certificate.from_bytes(cer.read_bytes())
    return cert, Signer(private_key, cert)


def _complemento(root: etree._Element) -> etree._Element:
    ns = etree.QName(root).namespace
    if ns not in (NS_CFDI_40, NS_CFDI_33):
        raise ValueError(f"not a CFDI 4.0/3.3 root: {root.tag}")
    tag = f"{{{ns}}}Complemento"
    existing = root.find(tag)
    if existing is not None:
        return existing
    comp = etree.Element(tag)
    addenda = root.find(f"{{{ns}}}Addenda")
    if addenda is not None:
        addenda.addprevious(comp)  # the schema puts Complemento before Addenda
    else:
        root.append(comp)
    return comp


def add_timbre(
    root: etree._Element,
    *,
    certificate: Certificate,
    signer: Signer,
    uuid_source: Callable[[], UUID] = uuid4,
    clock: Callable[[], datetime],
    rfc_prov_certif: str = SANDBOX_RFC,
) -> etree._Element:
    """Append a TFD 1.1 to the signed ``root`` (in place) and return the TFD element."""
    sello = root.get("Sello")
    if not sello:
        raise ValueError("the CFDI must be signed before it is stamped")
    tfd = etree.Element(f"{{{NS_TFD}}}TimbreFiscalDigital", nsmap={"tfd": NS_TFD, "xsi": NS_XSI})
    tfd.set(f"{{{NS_XSI}}}schemaLocation", TFD_SCHEMA_LOCATION)
    tfd.set("Version", "1.1")
    tfd.set("UUID", str(uuid_source()).upper())
    tfd.set("FechaTimbrado", clock().replace(microsecond=0, tzinfo=None).isoformat())
    tfd.set("RfcProvCertif", rfc_prov_certif)
    tfd.set("SelloCFD", sello)
    tfd.set("NoCertificadoSAT", certificate.no_certificado)
    tfd.set("SelloSAT", signer.sign(cadena_tfd(tfd)))
    _complemento(root).append(tfd)
    return tfd


def stamp(
    root: etree._Element,
    *,
    certificate: Certificate,
    signer: Signer,
    uuid_source: Callable[[], UUID] = uuid4,
    clock: Callable[[], datetime],
    rfc_prov_certif: str = SANDBOX_RFC,
) -> bytes:
    """Sandbox-stamp a signed CFDI tree and return the stamped document's bytes."""
    add_timbre(
        root,
        certificate=certificate,
        signer=signer,
        uuid_source=uuid_source,
        clock=clock,
        rfc_prov_certif=rfc_prov_certif,
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
