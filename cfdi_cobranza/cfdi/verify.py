"""Verification of the two seals of a stamped CFDI.

* The issuer's ``Sello`` is checked with the certificate embedded in ``Certificado``
  over the cadena original of the original tree (``cadena.cadena_original``: the direct
  writer where it covers the document, else the SAT XSLT), SHA-256 for 4.0 and 3.3.
  ``NoCertificado`` must be that certificate's serial. A failure means the document was
  altered after sealing and is refused.
* The PAC/SAT ``SelloSAT`` is checked over the TFD cadena when the certificate named by
  ``NoCertificadoSAT`` is in the local store (package ``sat_certs/`` plus directories
  the caller adds, e.g. the sandbox PAC's); otherwise it is reported "no verificado",
  which is not a refusal (the SAT publishes hundreds of stamping certificates).
* The issuer's certificate itself must come from an SAT authority and be valid on the
  invoice's date (``cfdi.authority``): a self-made certificate carrying the company's
  RFC seals a document perfectly well, so a verified Sello alone proves nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lxml import etree

from cfdi_cobranza.cfdi.authority import (
    AuthorityStore,
    AutoridadStatus,
    Environment,
    check_issuer_certificate,
)
from cfdi_cobranza.cfdi.cadena import cadena_original, cadena_tfd
from cfdi_cobranza.cfdi.reader import find_stamp_element, no_stamp
from cfdi_cobranza.domain.cfdi import CfdiRecord
from cfdi_cobranza.errors import CertificateError, ImportRefused
from cfdi_cobranza.signing.csd import Certificate, verify

log = logging.getLogger(__name__)

PACKAGE_CERT_DIR = Path(__file__).resolve().parent / "sat_certs"

SelloSatStatus = Literal["verificado", "no verificado"]


@dataclass(frozen=True)
class SealResult:
    sello_ok: bool
    sello_sat: SelloSatStatus
    warnings: tuple[str, ...] = field(default=())
    autoridad: AutoridadStatus = "no verificada"


class SatCertificateStore:
    """Stamping certificates indexed by NoCertificado, read from ``*.cer`` files.

    Rescans a directory only when a lookup misses and the directory changed, so a
    sandbox certificate generated after start-up is still found.
    """

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = tuple(Path(d) for d in dirs)
        self._lock = threading.Lock()
        self._index: dict[str, Certificate] = {}
        self._stamps: dict[Path, float] = {}

    def _scan(self) -> None:
        for d in self.dirs:
            try:
                mtime = d.stat().st_mtime
            except OSError:
                continue
            if self._stamps.get(d) == mtime:
                continue
            self._stamps[d] = mtime
            for path in sorted(d.glob("*.cer")):
                try:
                    cert = Certificate.from_bytes(path.read_bytes())
                except (OSError, CertificateError) as exc:
                    log.warning("ignoring unreadable certificate %s: %s", path, exc)
                    continue
                self._index.setdefault(cert.no_certificado, cert)

    def get(self, no_certificado: str) -> Certificate | None:
        cert = self._index.get(no_certificado)
        if cert is not None:
            return cert
        with self._lock:
            self._scan()
            return self._index.get(no_certificado)


_stores: dict[tuple[str, ...], SatCertificateStore] = {}
_stores_lock = threading.Lock()


def certificate_store(extra_dirs: Iterable[str | Path] = ()) -> SatCertificateStore:
    """The (cached) store of the package certificates plus ``extra_dirs``."""
    key = tuple(str(Path(d).resolve()) for d in extra_dirs)
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = SatCertificateStore([PACKAGE_CERT_DIR, *map(Path, key)])
                _stores[key] = store
    return store


# Issuers repeat: parsing the same embedded certificate for every invoice is waste.
_issuer_cache: OrderedDict[str, Certificate] = OrderedDict()
_ISSUER_CACHE_SIZE = 256
_issuer_lock = threading.Lock()


def _issuer_certificate(text: str) -> Certificate:
    cert = _issuer_cache.get(text)
    if cert is not None:
        return cert
    try:
        cert = Certificate.from_base64(text)
    except CertificateError as exc:
        raise ImportRefused(
            "El atributo Certificado del CFDI no contiene un certificado válido",
            code="CERTIFICADO_NO_CORRESPONDE",
        ) from exc
    with _issuer_lock:
        _issuer_cache[text] = cert
        if len(_issuer_cache) > _ISSUER_CACHE_SIZE:
            _issuer_cache.popitem(last=False)
    return cert


def verify_seals(
    root: etree._Element,
    record: CfdiRecord,
    *,
    extra_cert_dirs: Iterable[str | Path] = (),
    store: SatCertificateStore | None = None,
    environment: Environment = "test",
    authorities: AuthorityStore | None = None,
) -> SealResult:
    """Verify Sello and SelloSAT of ``root``; raise ImportRefused when one is invalid."""
    sello = root.get("Sello")
    cert_text = root.get("Certificado")
    if not sello or not cert_text:
        raise ImportRefused(
            "El CFDI no está sellado: faltan los atributos Sello o Certificado",
            code="SELLO_INVALIDO",
        )
    cert = _issuer_certificate(cert_text)
    if record.no_certificado != cert.no_certificado:
        raise ImportRefused(
            f"El NoCertificado {record.no_certificado} no corresponde al certificado "
            f"incluido en el CFDI ({cert.no_certificado})",
            code="CERTIFICADO_NO_CORRESPONDE",
        )
    if cert.rfc and cert.rfc != record.emisor.rfc.upper():
        raise ImportRefused(
            f"El certificado incluido pertenece al RFC {cert.rfc}, no al emisor "
            f"{record.emisor.rfc}",
            code="CERTIFICADO_NO_CORRESPONDE",
        )
    if not verify(cert, cadena_original(root), sello, "sha256"):
        raise ImportRefused(
            "El sello del emisor no corresponde al contenido: el CFDI fue alterado",
            code="SELLO_INVALIDO",
        )
    authority = check_issuer_certificate(cert, record.fecha, environment=environment, store=authorities)

    tfd = find_stamp_element(root)
    if tfd is None:
        raise no_stamp()
    if record.stamp.sello_cfd != sello:
        raise ImportRefused(
            "El timbre no corresponde a este CFDI: SelloCFD del TimbreFiscalDigital es "
            "distinto del Sello del comprobante",
            code="SELLO_SAT_INVALIDO",
        )
    store = store or certificate_store(extra_cert_dirs)
    sat_cert = store.get(record.stamp.no_certificado_sat)
    if sat_cert is None:
        return SealResult(
            sello_ok=True,
            sello_sat="no verificado",
            warnings=(
                *authority.warnings,
                f"No se verificó el sello del SAT: el certificado "
                f"{record.stamp.no_certificado_sat} no está en el almacén local",
            ),
            autoridad=authority.status,
        )
    if not verify(sat_cert, cadena_tfd(tfd), record.stamp.sello_sat, "sha256"):
        raise ImportRefused(
            "El sello del SAT (SelloSAT) no corresponde al timbre: el timbre fue alterado",
            code="SELLO_SAT_INVALIDO",
        )
    return SealResult(sello_ok=True, sello_sat="verificado", warnings=authority.warnings,
                      autoridad=authority.status)
