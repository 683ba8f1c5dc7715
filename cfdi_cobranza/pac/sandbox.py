"""The embedded sandbox PAC: stamps and cancels locally, with no fiscal validity.

It lets the whole product run (demo, tests, a first look before contracting a PAC)
without network or credentials. It behaves like a PAC where that matters to callers:

- it checks that the CFDI is well formed and that its Sello verifies (as the PAC's
  CFDI40102 / 302 checks do) and adds a TimbreFiscalDigital 1.1 signed by the sandbox
  "SAT" certificate of its folder (generated on first use, see ``cfdi.timbre``), with
  ``RfcProvCertif`` = ``SPR190613I52``;
- it keeps an idempotency index in its folder: the same key returns the same stamped
  CFDI, and the same signed bytes under another key return the earlier stamp (a real
  PAC answers 307), so retries after a crash never stamp twice;
- it cancels with motives 01-04 and answers status queries from its own records.

Nothing in the XML says "sandbox" beyond the certificate that signed the stamp;
callers mark documents "SIN VALIDEZ FISCAL" in the PDF and the CLI through
``is_sandbox``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_original
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import find_stamp_element
from cfdi_cobranza.cfdi.timbre import SANDBOX_RFC, ensure_sandbox_certificate, stamp
from cfdi_cobranza.errors import CobranzaError, PacError
from cfdi_cobranza.pac.base import (
    PAC_LLAVE_REUTILIZADA,
    CancelRequest,
    CancelResult,
    SatStatus,
    StampRequest,
    StampResult,
    rejected,
    stamp_result_from_xml,
)
from cfdi_cobranza.signing.csd import Certificate, verify

# FechaTimbrado is the local time of central Mexico, as the SAT writes it.
MEXICO = ZoneInfo("America/Mexico_City")

log = logging.getLogger(__name__)

LABEL = "sandbox"
SIN_VALIDEZ = "SIN VALIDEZ FISCAL"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    # Write-then-rename: a crash leaves either the old file or the complete new one;
    # ``durable`` also fsyncs it before the rename.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _link_atomic(source: Path, path: Path) -> None:
    """Make ``path`` another name of the complete, already fsynced ``source``.

    An index entry needs no data of its own: a hard link carries no bytes to flush, and
    renaming it into place is as atomic as ``_write_atomic``, so a crash leaves either no
    entry or one naming a complete file. Filesystems without hard links get a copy.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
    except OSError:
        _write_atomic(path, source.read_bytes())
        return
    os.replace(tmp, path)


class SandboxPac:
    """Local PAC keeping its certificate, stamps and cancellations under ``folder``."""

    name = "sandbox"
    is_sandbox = True
    rfc_prov_certif = SANDBOX_RFC

    def __init__(
        self,
        folder: str | Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(MEXICO),
        uuid_source: Callable[[], UUID] = uuid4,
    ) -> None:
        self.folder = Path(folder)
        self._clock = clock
        self._uuid_source = uuid_source
        self._lock = threading.Lock()
        self._stamps = self.folder / "stamps"
        self._keys = self.folder / "keys"
        self._sellos = self.folder / "sellos"
        self._cancels = self.folder / "cancellations"
        for d in (self._stamps, self._keys, self._sellos, self._cancels):
            d.mkdir(parents=True, exist_ok=True)
        self.certificate, self._signer = ensure_sandbox_certificate(self.folder)

    def __repr__(self) -> str:
        return f"SandboxPac(folder={str(self.folder)!r})"

    # --- stamping ---------------------------------------------------------------------

    def stamp(self, request: StampRequest) -> StampResult:
        with self._lock:
            root, error = _parsed(request.xml)
            found = self._lookup(request, None if root is None else root.get("Sello"), parsed=True)
            if found is not None:
                return found
            root = self._checked(root, error)
            sello = root.get("Sello") or ""
            xml = stamp(
                root,
                certificate=self.certificate,
                signer=self._signer,
                uuid_source=self._uuid_source,
                clock=self._clock,
                rfc_prov_certif=SANDBOX_RFC,
            )
            result = stamp_result_from_xml(xml, already_stamped=False)
            emisor = _emisor_rfc(root)
            # One durable write per stamp: the metadata, which carries the stamped XML too,
            # is written to a temporary file, fsynced and renamed into place. The index
            # entries (Sello, key) are hard links to it, so an entry always names a complete,
            # durable record. ``<uuid>.xml`` is a plain copy for people and tools; the record
            # is what a retry reads. See docs/pac.md.
            meta = {
                "uuid": result.uuid,
                "key": request.idempotency_key,
                "xml_sha256": _sha256(request.xml),
                "rfc_emisor": emisor,
                "xml": xml.decode("utf-8"),
            }
            meta_path = self._stamps / f"{result.uuid}.json"
            _write_atomic(meta_path, json.dumps(meta).encode())
            _write_atomic(self._stamps / f"{result.uuid}.xml", xml, durable=False)
            _link_atomic(meta_path, self._sellos / _sha256(sello.encode("ascii")))
            _link_atomic(meta_path, self._keys / _sha256(request.idempotency_key.encode()))
            log.info("sandbox stamped uuid=%s key=%s", result.uuid, request.idempotency_key)
            return result

    def recover(self, request: StampRequest) -> StampResult | None:
        with self._lock:
            return self._lookup(request)

    def _lookup(self, request: StampRequest, sello: str | None = None, *,
                parsed: bool = False) -> StampResult | None:
        """The earlier stamp for this key, or for these signed bytes under another key.

        ``parsed=True``: the caller already parsed the XML and passes its ``sello``
        (``None``: none or unreadable); otherwise it is read here.
        """
        key_file = self._keys / _sha256(request.idempotency_key.encode())
        if key_file.exists():
            meta = json.loads(key_file.read_bytes())
            if meta["xml_sha256"] != _sha256(request.xml):
                raise PacError(
                    "La llave de idempotencia ya se usó para timbrar otro XML; cada intento "
                    "de timbrado debe reenviar exactamente el mismo XML con la misma llave",
                    code=PAC_LLAVE_REUTILIZADA,
                    pac=LABEL,
                )
            return self._stored(meta)
        # Same signed document under another key: a PAC answers 307 and returns it.
        if not parsed:
            sello = _sello_of(request.xml)
        if sello:
            sello_file = self._sellos / _sha256(sello.encode("ascii"))
            if sello_file.exists():
                entry = sello_file.read_text().strip()
                # A link to the stamp's metadata (JSON); folders written before hold the UUID.
                return self._stored(json.loads(entry) if entry.startswith("{") else {"uuid": entry})
        return None

    def _stored(self, meta: dict[str, Any]) -> StampResult:
        """The stamp a record names: its own copy of the XML, or (older folders) ``<uuid>.xml``."""
        text = meta.get("xml")
        xml = text.encode("utf-8") if isinstance(text, str) else (self._stamps / f"{meta['uuid']}.xml").read_bytes()
        return stamp_result_from_xml(xml, already_stamped=True)

    def _checked(self, root: etree._Element | None, error: CobranzaError | None) -> etree._Element:
        if root is None:
            message = error.message if error is not None else ""
            raise rejected(LABEL, "301", f"XML mal formado: {message}") from error
        if find_stamp_element(root) is not None:
            raise rejected(LABEL, "307", "El CFDI contiene un timbre previo")
        sello, cert_b64 = root.get("Sello"), root.get("Certificado")
        if not sello or not cert_b64:
            raise rejected(LABEL, "302", "Sello mal formado o inválido")
        try:
            cert = Certificate.from_base64(cert_b64)
        except CobranzaError as exc:
            raise rejected(LABEL, "CFDI40103", "El certificado del CFDI no se puede leer") from exc
        if not verify(cert, cadena_original(root), sello, "sha256"):
            raise rejected(
                LABEL,
                "CFDI40102",
                "El resultado de la digestión debe ser igual al resultado de la desencripción "
                "del sello.",
            )
        return root

    # --- cancelling and status --------------------------------------------------------

    def cancel(self, request: CancelRequest) -> CancelResult:
        uuid = request.uuid.upper()
        with self._lock:
            meta = self._meta(uuid)
            if meta is None:
                raise rejected(LABEL, "205", "UUID no encontrado")
            if meta.get("rfc_emisor", "").upper() != request.rfc_emisor.upper():
                raise rejected(
                    LABEL, "203", "No corresponde el RFC del emisor y de quien solicita la cancelación"
                )
            done = self._cancels / f"{uuid}.json"
            if done.exists():
                return CancelResult(
                    "cancelado",
                    (self._cancels / f"{uuid}.acuse.xml").read_bytes(),
                    "202",
                    "Petición de cancelación realizada previamente",
                )
            fecha = self._clock().replace(microsecond=0, tzinfo=None).isoformat()
            acuse = _acuse(request, fecha)
            record = {
                "uuid": uuid,
                "motivo": request.motivo,
                "folio_sustitucion": request.folio_sustitucion.upper() if request.folio_sustitucion else None,
                "fecha": fecha,
            }
            _write_atomic(self._cancels / f"{uuid}.acuse.xml", acuse)
            _write_atomic(done, json.dumps(record).encode())
            log.info("sandbox cancelled uuid=%s motivo=%s", uuid, request.motivo)
            return CancelResult("cancelado", acuse, "201", "Cancelado sin aceptación")

    def status(self, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> SatStatus:
        uuid = uuid.upper()
        meta = self._meta(uuid)
        if meta is None or meta.get("rfc_emisor", "").upper() != rfc_emisor.upper():
            return SatStatus(estado="No Encontrado", codigo_estatus="N - 602: Comprobante no encontrado.")
        if (self._cancels / f"{uuid}.json").exists():
            return SatStatus(
                estado="Cancelado",
                es_cancelable="Cancelable sin aceptación",
                estatus_cancelacion="Cancelado sin aceptación",
                codigo_estatus="S - Comprobante obtenido satisfactoriamente.",
            )
        return SatStatus(
            estado="Vigente",
            es_cancelable="Cancelable sin aceptación",
            codigo_estatus="S - Comprobante obtenido satisfactoriamente.",
        )

    def _meta(self, uuid: str) -> dict[str, Any] | None:
        path = self._stamps / f"{uuid}.json"
        if not path.exists():
            return None
        meta: dict[str, Any] = json.loads(path.read_bytes())
        return meta


def _emisor_rfc(root: etree._Element) -> str:
    emisor = root.find(f"{{{etree.QName(root).namespace}}}Emisor")
    return (emisor.get("Rfc") or "") if emisor is not None else ""


def _parsed(xml: bytes) -> tuple[etree._Element | None, CobranzaError | None]:
    try:
        return parse_xml(xml), None
    except CobranzaError as exc:
        return None, exc


def _sello_of(xml: bytes) -> str | None:
    try:
        return parse_xml(xml).get("Sello")
    except CobranzaError:
        return None


def _acuse(request: CancelRequest, fecha: str) -> bytes:
    acuse = etree.Element("Acuse", Fecha=fecha, RfcEmisor=request.rfc_emisor)
    acuse.set("Leyenda", f"SANDBOX cfdi-cobranza {SIN_VALIDEZ}")
    folios = etree.SubElement(acuse, "Folios")
    etree.SubElement(folios, "UUID").text = request.uuid.upper()
    etree.SubElement(folios, "EstatusUUID").text = "201"
    etree.SubElement(folios, "Motivo").text = request.motivo
    if request.folio_sustitucion:
        etree.SubElement(folios, "FolioSustitucion").text = request.folio_sustitucion.upper()
    return etree.tostring(acuse, xml_declaration=True, encoding="UTF-8")
