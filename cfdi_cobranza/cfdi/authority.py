"""Who issued the certificate that sealed a CFDI: an SAT authority, the SAT's test one, or nobody we trust.

The issuer's ``Sello`` proves the document matches the certificate in ``Certificado``;
it says nothing about who made that certificate. Anyone can make one carrying a
company's RFC in its subject. This module checks the certificate itself:

* valid on the invoice's date (``Fecha``, local time of Mexico: UTC-5 to UTC-8), else
  ``CERTIFICADO_NO_VIGENTE``;
* issued by the SAT's **test** authority (issuer ``ACDMA-SAT`` / ``AC UAT``): accepted
  only while the ledger works in a test environment, as ``"pruebas"`` (the document
  has no fiscal validity, so its dates are not checked); refused in production with
  ``CERTIFICADO_DE_PRUEBAS``;
* issuer named like an SAT authority in the local store (package ``sat_ca/``): the
  certificate's signature must verify with that authority's key -> ``"verificada"``;
  a certificate that copies an authority's name but does not verify is a forgery,
  refused with ``CERTIFICADO_NO_SAT``;
* issuer claims to be the SAT (organisation "Servicio de Administración Tributaria" or
  RFC SAT970701NN3) but no local authority has that name: the SAT has newer
  authorities than any local copy, so the document imports with ``"no verificada"``,
  like an unverified SelloSAT;
* any other issuer (self-signed, another CA): refused with ``CERTIFICADO_NO_SAT``.
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from cfdi_cobranza.errors import ImportRefused
from cfdi_cobranza.signing.csd import OID_X500_UNIQUE_IDENTIFIER, Certificate

log = logging.getLogger(__name__)

PACKAGE_CA_DIR = Path(__file__).resolve().parent / "sat_ca"

AutoridadStatus = Literal["verificada", "no verificada", "pruebas"]
Environment = Literal["test", "production"]

SAT_RFC = "SAT970701NN3"
SAT_ORGANIZATION = "SERVICIO DE ADMINISTRACION TRIBUTARIA"
# The test authority signs as "responsable: ACDMA-SAT" (older ones "ACDMA", CN "A.C. 2 de
# pruebas(4096)"); the current one is CN "AC UAT".
TEST_AUTHORITY_MARKS = ("ACDMA",)
TEST_AUTHORITY_NAMES = ("AC UAT",)

# CFDI dates are local time of the LugarExpedicion; Mexico spans UTC-5 (Quintana Roo)
# to UTC-8 (Baja California in summer). A date is outside a validity period only when
# it is outside in every one of those zones.
_EARLIEST_OFFSET = timedelta(hours=5)
_LATEST_OFFSET = timedelta(hours=8)


@dataclass(frozen=True)
class AuthorityResult:
    status: AutoridadStatus
    authority: str  # the issuer's common name, as the certificate says it
    warnings: tuple[str, ...] = field(default=())

    @property
    def sin_validez_fiscal(self) -> bool:
        return self.status == "pruebas"


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.upper().split())


def _value(attr: x509.NameAttribute[str | bytes]) -> str:
    value = attr.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def name_key(name: x509.Name) -> tuple[tuple[str, str], ...]:
    """A distinguished name compared by content: attribute types and accent-, case- and
    space-insensitive values, in any order (encodings of the same name differ)."""
    return tuple(sorted((a.oid.dotted_string, _norm(_value(a))) for a in name))


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    attrs = name.get_attributes_for_oid(oid)
    return _value(attrs[0]) if attrs else ""


def is_test_authority(name: x509.Name) -> bool:
    values = [_norm(_value(a)) for a in name]
    if any(mark in v for v in values for mark in TEST_AUTHORITY_MARKS):
        return True
    common_name = _norm(_attr(name, NameOID.COMMON_NAME))
    return common_name in TEST_AUTHORITY_NAMES or (claims_sat(name) and "PRUEBAS" in common_name)


def claims_sat(name: x509.Name) -> bool:
    if SAT_ORGANIZATION in _norm(_attr(name, NameOID.ORGANIZATION_NAME)):
        return True
    return SAT_RFC in _norm(_attr(name, OID_X500_UNIQUE_IDENTIFIER))


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when ``ca``'s key verifies the signature of ``cert``."""
    key = ca.public_key()
    algorithm = cert.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def _load_ca(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


class AuthorityStore:
    """SAT certificate authorities read from ``*.crt`` / ``*.cer`` files, by subject name."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        self._lock = threading.Lock()
        self._by_name: dict[tuple[tuple[str, str], ...], list[x509.Certificate]] | None = None

    def _load(self) -> dict[tuple[tuple[str, str], ...], list[x509.Certificate]]:
        index: dict[tuple[tuple[str, str], ...], list[x509.Certificate]] = {}
        for d in self.dirs:
            paths = sorted([*d.glob("*.crt"), *d.glob("*.cer")]) if d.is_dir() else []
            for path in paths:
                try:
                    ca = _load_ca(path.read_bytes())
                except (OSError, ValueError) as exc:
                    log.warning("ignoring unreadable authority certificate %s: %s", path, exc)
                    continue
                index.setdefault(name_key(ca.subject), []).append(ca)
        return index

    def candidates(self, issuer: x509.Name) -> list[x509.Certificate]:
        if self._by_name is None:
            with self._lock:
                if self._by_name is None:
                    self._by_name = self._load()
        return list(self._by_name.get(name_key(issuer), ()))


_stores: dict[tuple[str, ...], AuthorityStore] = {}
_stores_lock = threading.Lock()


def authority_store(dirs: Iterable[str | Path] | None = None) -> AuthorityStore:
    """The (cached) store of ``dirs``; by default the package's ``sat_ca/``."""
    if dirs is None:
        return _default_store()
    key = tuple(str(Path(d).resolve()) for d in dirs)
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(key, AuthorityStore(map(Path, key)))
    return store


@functools.cache
def _default_store() -> AuthorityStore:
    return authority_store([PACKAGE_CA_DIR])


def _check_validity(cert: Certificate, fecha: datetime) -> None:
    local = fecha.replace(tzinfo=UTC) if fecha.tzinfo is None else fecha.astimezone(UTC)
    if local + _LATEST_OFFSET < cert.valid_from or local + _EARLIEST_OFFSET > cert.valid_to:
        raise ImportRefused(
            f"El certificado {cert.no_certificado} del emisor no estaba vigente en la fecha del CFDI "
            f"({fecha:%Y-%m-%d %H:%M}): vigencia del {cert.valid_from:%Y-%m-%d} al {cert.valid_to:%Y-%m-%d}.",
            code="CERTIFICADO_NO_VIGENTE",
        )


@dataclass(frozen=True)
class _Issuer:
    kind: Literal["pruebas", "sat", "otro"]
    authority: str
    # "sat" only: True signed by a store authority of its issuer's name, False named like
    # one that does not verify it, None no authority of that name in the store.
    verified: bool | None = None


@functools.lru_cache(maxsize=512)
def _classify(der: bytes, store: AuthorityStore) -> _Issuer:
    """The issuer's kind, once per certificate: issuers repeat across a batch, and the
    name normalisation and the authority's RSA check cost more than the rest of a load."""
    cert = x509.load_der_x509_certificate(der)
    issuer = cert.issuer
    authority = _attr(issuer, NameOID.COMMON_NAME) or issuer.rfc4514_string()[:120]
    if is_test_authority(issuer):
        return _Issuer("pruebas", authority)
    if not claims_sat(issuer):
        return _Issuer("otro", authority)
    candidates = store.candidates(issuer)
    if not candidates:
        return _Issuer("sat", authority)
    return _Issuer("sat", authority, any(signed_by(cert, ca) for ca in candidates))


def check_issuer_certificate(
    cert: Certificate,
    fecha: datetime,
    *,
    environment: Environment = "test",
    store: AuthorityStore | None = None,
) -> AuthorityResult:
    """Classify the certificate that sealed a CFDI dated ``fecha``; raise ImportRefused when it
    cannot be trusted (see the module docstring for the policy)."""
    issuer = _classify(cert.der, store or authority_store())
    authority = issuer.authority
    if issuer.kind == "pruebas":
        if environment != "test":
            raise ImportRefused(
                f"El CFDI está sellado con un certificado de pruebas del SAT ({authority}, ACDMA-SAT): "
                "no tiene validez fiscal y el sistema trabaja con el PAC en producción.",
                code="CERTIFICADO_DE_PRUEBAS",
            )
        # No validity check: a test certificate gives no fiscal validity at all, and the
        # SAT's own published examples are sealed after their test certificate expired.
        return AuthorityResult(
            "pruebas", authority,
            ("Certificado de pruebas del SAT (ACDMA-SAT): el CFDI no tiene validez fiscal.",),
        )
    if issuer.kind == "otro":
        raise ImportRefused(
            f"El certificado {cert.no_certificado} no fue emitido por el SAT (emisor: {authority}): "
            "un CFDI solo puede sellarse con un CSD que expide el SAT.",
            code="CERTIFICADO_NO_SAT",
        )
    if issuer.verified is not None:
        if not issuer.verified:
            raise ImportRefused(
                f"El certificado {cert.no_certificado} dice haber sido emitido por la autoridad del SAT "
                f"«{authority}», pero la firma de esa autoridad no lo verifica: el certificado es falso.",
                code="CERTIFICADO_NO_SAT",
            )
        _check_validity(cert, fecha)
        return AuthorityResult("verificada", authority)
    _check_validity(cert, fecha)
    return AuthorityResult(
        "no verificada", authority,
        (f"Autoridad no verificada: el certificado del emisor lo expidió «{authority}», una autoridad "
         "del SAT que no está en el almacén local.",),
    )
