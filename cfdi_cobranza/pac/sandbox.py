"""The embedded sandbox PAC: stamps and cancels locally, with no fiscal validity.

It lets the whole product run (demo, tests, a first look before contracting a PAC)
without network or credentials. It behaves like a PAC where that matters to callers:

- it checks that the CFDI is well formed and that its Sello verifies (as the PAC's
  CFDI40102 / 302 checks do) and adds a TimbreFiscalDigital 1.1 signed by the sandbox
  "SAT" certificate of its folder (generated on first use, see ``cfdi.timbre``), with
  ``RfcProvCertif`` = ``SPR190613I52``;
- it keeps its stamps in a SQLite database of its folder (``sandbox.db``), indexed by
  idempotency key and by Sello: the same key returns the same stamped CFDI, and the same
  signed bytes under another key return the earlier stamp (a real PAC answers 307), so
  retries after a crash never stamp twice;
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
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from lxml import etree

from cfdi_cobranza.cfdi.cadena import cadena_original_xslt
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import find_stamp_element
from cfdi_cobranza.cfdi.timbre import SANDBOX_RFC, ensure_sandbox_certificate, stamp
from cfdi_cobranza.errors import CobranzaError, PacError
from cfdi_cobranza.pac.base import (
    PAC_LLAVE_REUTILIZADA,
    PAC_NO_DISPONIBLE,
    PAC_SIN_RESPUESTA,
    CancelRequest,
    CancelResult,
    SatStatus,
    StampOutcome,
    StampRequest,
    StampResult,
    rejected,
    stamp_each,
    stamp_result_from_tree,
    stamp_result_from_xml,
)
from cfdi_cobranza.signing.csd import Certificate, verify

# FechaTimbrado is the local time of central Mexico, as the SAT writes it.
MEXICO = ZoneInfo("America/Mexico_City")

log = logging.getLogger(__name__)

LABEL = "sandbox"
SIN_VALIDEZ = "SIN VALIDEZ FISCAL"

DB_FILE = "sandbox.db"
# How long a stamp waits for another process (a web worker, the CLI, a batch's worker)
# that is writing to the same folder.
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stamps (
    uuid            TEXT PRIMARY KEY,       -- upper case, as in the TFD
    idempotency_key TEXT NOT NULL UNIQUE,
    xml_sha256      TEXT NOT NULL,          -- of the request's signed XML
    sello_sha256    TEXT NOT NULL UNIQUE,   -- of the CFDI's Sello: same document, same stamp
    rfc_emisor      TEXT NOT NULL,
    xml             BLOB NOT NULL,          -- the stamped CFDI, as answered
    created         TEXT NOT NULL           -- UTC, ISO 8601
);
CREATE TABLE IF NOT EXISTS cancellations (
    uuid              TEXT PRIMARY KEY,
    motivo            TEXT NOT NULL,
    folio_sustitucion TEXT,
    fecha             TEXT NOT NULL,
    acuse             BLOB NOT NULL
);
PRAGMA user_version = 1;
"""

# Folders written before the database kept one file per stamp in these; see _Legacy.
_LEGACY_DIRS = ("stamps", "keys", "sellos", "cancellations")

# SQLite connections must not cross fork(): besides the connection, the child would
# inherit SQLite's record of the locks its parent holds, and trust it. So every idle
# connection is closed just before this process forks (``_close_before_fork``; each
# sandbox reopens its own when next used), and a child that still finds one from its
# parent (forked mid-operation by another thread) sets it aside unused and unclosed.
_instances: weakref.WeakSet[SandboxPac] = weakref.WeakSet()
_inherited: list[sqlite3.Connection] = []


def _close_before_fork() -> None:
    for pac in list(_instances):
        pac._close_if_idle()


def _close_owned(conn: sqlite3.Connection, pid: int) -> None:
    if os.getpid() == pid:
        conn.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=32)
def _issuer_certificate(cert_b64: str) -> Certificate:
    # The same CSD signs every REP of a run: parse its ``Certificado`` once.
    return Certificate.from_base64(cert_b64)


class SandboxPac:
    """Local PAC keeping its certificate and, in ``sandbox.db``, its stamps and
    cancellations under ``folder``."""

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
        # One connection per process, shared by its threads under this lock (reentrant:
        # a batch's ``stamp`` calls run inside ``stamp_batch``'s transaction).
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = 0
        self._closer: weakref.finalize[Any, Any] | None = None
        self._batch_open = False
        self.folder.mkdir(parents=True, exist_ok=True)
        self.certificate, self._signer = ensure_sandbox_certificate(self.folder)
        self._legacy = _Legacy.of(self.folder)
        with self._lock:
            self._db()  # create the database now: errors show at start-up, not mid-batch
        _instances.add(self)

    def __repr__(self) -> str:
        return f"SandboxPac(folder={str(self.folder)!r})"

    # --- the database -----------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.folder / DB_FILE

    def _db(self) -> sqlite3.Connection:
        """This process's connection (the caller holds ``_lock``), opened on first use.

        A connection is tied to the process that opened it: in a child forked from this
        one (a pre-forking web server) the inherited one is set aside
        and a new one opened.
        """
        pid = os.getpid()
        if self._conn is not None and self._conn_pid == pid:
            return self._conn
        if self._conn is not None:  # the parent's: never used nor closed here
            _inherited.append(self._conn)
            if self._closer is not None:
                self._closer.detach()
        conn = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # A commit returns once the WAL is fsynced: a stamp is durable before it leaves.
            conn.execute("PRAGMA synchronous=FULL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
                conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
        except BaseException:
            conn.close()
            raise
        self._conn, self._conn_pid = conn, pid
        self._closer = weakref.finalize(self, _close_owned, conn, pid)
        return conn

    def close(self) -> None:
        """Close this process's database connection; the next operation opens a new one."""
        with self._lock:
            self._close_if_idle()

    def _close_if_idle(self) -> None:
        # Without waiting: a thread in the middle of an operation keeps its connection.
        if not self._lock.acquire(blocking=False):
            return
        try:
            conn = self._conn
            if conn is None or self._conn_pid != os.getpid() or conn.in_transaction:
                return
            self._conn = None
            if self._closer is not None:
                self._closer()  # closes conn
        finally:
            self._lock.release()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, atomic across threads (the lock) and processes (SQLite's
        write lock, taken up front by ``BEGIN IMMEDIATE``: another writer waits up to
        ``BUSY_TIMEOUT_S``), committed durably when the block ends and rolled back if it
        raises. Inside ``stamp_batch`` it joins the batch's transaction instead."""
        with self._lock:
            db = self._db()
            if self._batch_open:
                yield db
                return
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # busy past the timeout: nothing done
                raise PacError(f"El PAC sandbox está ocupado por otro proceso: {exc}",
                               code=PAC_NO_DISPONIBLE, pac=LABEL) from exc
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db()

    # --- stamping ---------------------------------------------------------------------

    def stamp(self, request: StampRequest) -> StampResult:
        try:
            return self._stamp(request)
        except sqlite3.Error as exc:
            # Disk, lock or constraint trouble while recording: it may or may not have been
            # committed, so the REP stays in flight and a retry by its key settles it.
            raise PacError(f"El PAC sandbox no pudo registrar el timbre: {exc}", code=PAC_SIN_RESPUESTA,
                           pac=LABEL) from exc

    def _stamp(self, request: StampRequest) -> StampResult:
        root, error = _parsed(request.xml)
        sello = None if root is None else root.get("Sello")
        with self._write() as db:
            # Looked up and recorded in one transaction: two stamps of one key (or of one
            # document) can never both miss and stamp twice.
            found = self._lookup(db, request, sello)
            if found is not None:
                return found
            root = self._checked(root, error)
            xml = stamp(
                root,
                certificate=self.certificate,
                signer=self._signer,
                uuid_source=self._uuid_source,
                clock=self._clock,
                rfc_prov_certif=SANDBOX_RFC,
            )
            result = stamp_result_from_tree(root, xml, already_stamped=False)  # root: the stamped tree
            db.execute(
                "INSERT INTO stamps (uuid, idempotency_key, xml_sha256, sello_sha256, rfc_emisor,"
                " xml, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (result.uuid, request.idempotency_key, _sha256(request.xml),
                 _sha256((root.get("Sello") or "").encode("ascii")), _emisor_rfc(root), xml,
                 datetime.now(UTC).isoformat(timespec="seconds")),
            )
        # Committed (durable) here, or by ``stamp_batch`` before the batch's answers leave.
        log.info("sandbox stamped uuid=%s key=%s", result.uuid, request.idempotency_key)
        return result

    def stamp_batch(self, requests: Sequence[StampRequest]) -> list[StampOutcome]:
        """``stamp_each`` with one commit for the whole batch (group commit).

        Its stamps become durable together when it returns, and none of them is given
        to anyone before: if the commit fails, or the process dies, none of them exists
        and no answer left, so a retry by key stamps each once. Within the batch, a
        repeated key or document sees the stamp made earlier in it.
        """
        with self._write():
            self._batch_open = True
            try:
                return stamp_each(self, requests)
            finally:
                self._batch_open = False

    def recover(self, request: StampRequest) -> StampResult | None:
        root, _error = _parsed(request.xml)
        with self._read() as db:
            return self._lookup(db, request, None if root is None else root.get("Sello"))

    def _lookup(self, db: sqlite3.Connection, request: StampRequest,
                sello: str | None) -> StampResult | None:
        """The earlier stamp for this key, or for these signed bytes (``sello``; ``None``:
        none or unreadable) under another key."""
        row = db.execute("SELECT xml_sha256, xml FROM stamps WHERE idempotency_key = ?",
                         (request.idempotency_key,)).fetchone()
        if row is None and self._legacy:
            row = self._legacy.by_key(request.idempotency_key)
        if row is not None:
            if row[0] != _sha256(request.xml):
                raise PacError(
                    "La llave de idempotencia ya se usó para timbrar otro XML; cada intento "
                    "de timbrado debe reenviar exactamente el mismo XML con la misma llave",
                    code=PAC_LLAVE_REUTILIZADA,
                    pac=LABEL,
                )
            return stamp_result_from_xml(row[1], already_stamped=True)
        # Same signed document under another key: a PAC answers 307 and returns it.
        if sello:
            sello_sha = _sha256(sello.encode("ascii"))
            found = db.execute("SELECT xml FROM stamps WHERE sello_sha256 = ?", (sello_sha,)).fetchone()
            xml = found[0] if found is not None else self._legacy.by_sello(sello_sha) if self._legacy else None
            if xml is not None:
                return stamp_result_from_xml(xml, already_stamped=True)
        return None

    def stamped_xml(self, uuid: str) -> bytes | None:
        """The stamped CFDI of ``uuid`` as it was answered, or ``None``."""
        uuid = uuid.upper()
        with self._read() as db:
            row = db.execute("SELECT xml FROM stamps WHERE uuid = ?", (uuid,)).fetchone()
        if row is not None:
            return bytes(row[0])
        return self._legacy.xml_of(uuid) if self._legacy else None

    def stamped_uuids(self) -> list[str]:
        """The UUIDs this sandbox stamped, oldest first (folders of earlier versions: theirs
        first, in name order)."""
        with self._read() as db:
            rows = db.execute("SELECT uuid FROM stamps ORDER BY rowid").fetchall()
        return [*(self._legacy.uuids() if self._legacy else []), *(r[0] for r in rows)]

    def stamp_count(self) -> int:
        """How many documents this sandbox stamped (each exactly once)."""
        with self._read() as db:
            n: int = db.execute("SELECT count(*) FROM stamps").fetchone()[0]
        return n + (len(self._legacy.uuids()) if self._legacy else 0)

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
            cert = _issuer_certificate(cert_b64)
        except CobranzaError as exc:
            raise rejected(LABEL, "CFDI40103", "El certificado del CFDI no se puede leer") from exc
        # The SAT's XSLT, as a PAC checks with its own implementation: not the direct writer
        # (cfdi.cadena_directa) that computed the cadena this seal signs.
        if not verify(cert, cadena_original_xslt(root), sello, "sha256"):
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
        with self._write() as db:
            rfc = self._rfc_emisor(db, uuid)
            if rfc is None:
                raise rejected(LABEL, "205", "UUID no encontrado")
            if rfc.upper() != request.rfc_emisor.upper():
                raise rejected(
                    LABEL, "203", "No corresponde el RFC del emisor y de quien solicita la cancelación"
                )
            earlier = self._acuse_of(db, uuid)
            if earlier is not None:
                return CancelResult("cancelado", earlier, "202", "Petición de cancelación realizada previamente")
            fecha = self._clock().replace(microsecond=0, tzinfo=None).isoformat()
            acuse = _acuse(request, fecha)
            folio = request.folio_sustitucion.upper() if request.folio_sustitucion else None
            db.execute(
                "INSERT INTO cancellations (uuid, motivo, folio_sustitucion, fecha, acuse)"
                " VALUES (?, ?, ?, ?, ?)",
                (uuid, request.motivo, folio, fecha, acuse),
            )
        log.info("sandbox cancelled uuid=%s motivo=%s", uuid, request.motivo)
        return CancelResult("cancelado", acuse, "201", "Cancelado sin aceptación")

    def status(self, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> SatStatus:
        uuid = uuid.upper()
        with self._read() as db:
            rfc = self._rfc_emisor(db, uuid)
            cancelled = rfc is not None and self._acuse_of(db, uuid) is not None
        if rfc is None or rfc.upper() != rfc_emisor.upper():
            return SatStatus(estado="No Encontrado", codigo_estatus="N - 602: Comprobante no encontrado.")
        if cancelled:
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

    def _rfc_emisor(self, db: sqlite3.Connection, uuid: str) -> str | None:
        """The issuer of the stamp ``uuid``, or ``None`` if this sandbox never stamped it."""
        row = db.execute("SELECT rfc_emisor FROM stamps WHERE uuid = ?", (uuid,)).fetchone()
        if row is not None:
            return str(row[0])
        meta = self._legacy.meta(uuid) if self._legacy else None
        return None if meta is None else str(meta.get("rfc_emisor", ""))

    def _acuse_of(self, db: sqlite3.Connection, uuid: str) -> bytes | None:
        """The acuse of the cancellation of ``uuid``, or ``None`` if it is not cancelled."""
        row = db.execute("SELECT acuse FROM cancellations WHERE uuid = ?", (uuid,)).fetchone()
        if row is not None:
            return bytes(row[0])
        return self._legacy.acuse(uuid) if self._legacy else None


class _Legacy:
    """The per-file records of folders written before ``sandbox.db``, read on a miss.

    They are never imported nor written: the database takes every new stamp and
    cancellation, and a lookup that misses in it asks these files exactly as the earlier
    versions did (their index entries decide which record a key or a Sello names, which
    an import would have to reproduce). Only folders that hold such files pay for it
    (``of`` returns ``None`` otherwise); no version writes them any more.

    - ``stamps/<uuid>.json``: the record (uuid, key, xml_sha256, rfc_emisor and, since
      the one-fsync version, ``xml``); older records have the XML in ``<uuid>.xml``;
    - ``keys/<sha256(key)>``: the record (a hard link to it, or a copy);
    - ``sellos/<sha256(Sello)>``: the record, or (oldest) the bare UUID;
    - ``cancellations/<uuid>.json`` and ``<uuid>.acuse.xml``.
    """

    def __init__(self, folder: Path) -> None:
        self.stamps = folder / "stamps"
        self.keys = folder / "keys"
        self.sellos = folder / "sellos"
        self.cancels = folder / "cancellations"

    @classmethod
    def of(cls, folder: Path) -> _Legacy | None:
        for name in _LEGACY_DIRS:
            with suppress(OSError), os.scandir(folder / name) as entries:
                if any(True for _ in entries):
                    return cls(folder)
        return None

    def by_key(self, key: str) -> tuple[str, bytes] | None:
        """(xml_sha256, stamped xml) of the stamp of ``key``."""
        try:
            meta = json.loads((self.keys / _sha256(key.encode())).read_bytes())
        except FileNotFoundError:
            return None
        return meta["xml_sha256"], self._xml(meta)

    def by_sello(self, sello_sha256: str) -> bytes | None:
        try:
            entry = (self.sellos / sello_sha256).read_text().strip()
        except FileNotFoundError:
            return None
        return self._xml(json.loads(entry) if entry.startswith("{") else {"uuid": entry})

    def meta(self, uuid: str) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = json.loads((self.stamps / f"{uuid}.json").read_bytes())
        except FileNotFoundError:
            return None
        return meta

    def xml_of(self, uuid: str) -> bytes | None:
        meta = self.meta(uuid)
        if meta is None:
            return None
        try:
            return self._xml(meta)
        except FileNotFoundError:
            return None

    def uuids(self) -> list[str]:
        return sorted(p.stem for p in self.stamps.glob("*.json"))

    def acuse(self, uuid: str) -> bytes | None:
        if not (self.cancels / f"{uuid}.json").exists():
            return None
        return (self.cancels / f"{uuid}.acuse.xml").read_bytes()

    def _xml(self, meta: dict[str, Any]) -> bytes:
        text = meta.get("xml")
        if isinstance(text, str):
            return text.encode("utf-8")
        return (self.stamps / f"{meta['uuid']}.xml").read_bytes()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_before_fork)


def _emisor_rfc(root: etree._Element) -> str:
    emisor = root.find(f"{{{etree.QName(root).namespace}}}Emisor")
    return (emisor.get("Rfc") or "") if emisor is not None else ""


def _parsed(xml: bytes) -> tuple[etree._Element | None, CobranzaError | None]:
    try:
        return parse_xml(xml), None
    except CobranzaError as exc:
        return None, exc


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
