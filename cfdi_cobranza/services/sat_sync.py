"""The company's e.firma and ``cobranza sat sync``: the SAT's bulk download of issued CFDI.

``sync`` authenticates with the company's e.firma, asks the SAT for the **issued** CFDI
(XML) and their metadata of each calendar month of the range, verifies until the SAT has
the packages ready, downloads each package (streamed to a file) and imports every CFDI
through the same verified importer as ``cobranza import`` (same outcomes and codes).
The metadata rows (UUID, Estatus, FechaCancelacion) are stored for the cancellation
logic (``metadata_cancellations``).

State is kept per request and per package (``sat_request``, ``sat_package``) and
committed after every step, so an interrupted run resumes where it stopped: a request
the SAT already accepted is verified instead of asked again, a package already imported
is never downloaded again. A file lock per company (in the instance folder) keeps two
runs (cron, the web page) from overlapping.

The SAT's codes are handled and explained: 5003 (more than the per-request maximum) splits
the range in halves, 5004 is "nothing in the range", a request that expired (estado 6) or
whose package is gone (5007) is asked again, 5005/5002/5011 stop that request with
the explanation; authentication and connection problems stop the run (state kept).
"""

from __future__ import annotations

import fcntl
import io
import os
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Company
from cfdi_cobranza.db.models.sat_download import CompanyFiel, SatMetadata, SatPackage, SatRequest
from cfdi_cobranza.db.session import session_factory
from cfdi_cobranza.errors import ConflictError, NotFoundError, ValidationError
from cfdi_cobranza.sat.descarga import (
    ACEPTADA,
    EN_PROCESO,
    TERMINADA,
    VENCIDA,
    DescargaMasiva,
    DescargaUrls,
    SatDescargaError,
    sat_error,
)
from cfdi_cobranza.sat.descarga_http import Retry, Timeouts
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import sat_status
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.importing import BatchResult, Importer
from cfdi_cobranza.signing.csd import Certificate, Signer
from cfdi_cobranza.signing.fiel import load_fiel

KINDS = ("CFDI", "Metadata")
DONE = frozenset({"terminada", "sin_informacion"})
FATAL_CODES = frozenset({"300", "301", "302", "303", "304", "305"})
MAX_REFUSED_SHOWN = 50

ClientFactory = Callable[[Certificate, Signer], DescargaMasiva]
ImporterFactory = Callable[[], Importer]


# --- the e.firma ---------------------------------------------------------------------------


def _company(session: Session, rfc: str) -> Company:
    company = session.scalar(select(Company).where(Company.rfc == (rfc or "").strip().upper()))
    if company is None:
        raise NotFoundError(f"No hay ninguna empresa con RFC {rfc}.", code="EMPRESA_NO_ENCONTRADA")
    return company


def register_fiel(session: Session, company_rfc: str, cer: bytes, key: bytes, password: str, box: SecretBox,
                  *, today: date, clock: Clock = system_clock) -> CompanyFiel:
    """Check the e.firma (FIEL not CSD, key matches, password, in force, company's RFC) and store it sealed."""
    company = _company(session, company_rfc)
    if not password:
        raise ValidationError("Escriba la contraseña de la llave privada de la e.firma.", code="FIEL_CONTRASENA_REQUERIDA")
    cert, _signer = load_fiel(cer, key, password, rfc=company.rfc, today=today)
    for old in session.scalars(select(CompanyFiel).where(CompanyFiel.company_id == company.id, CompanyFiel.active)):
        old.active = False
    row = CompanyFiel(company_id=company.id, no_certificado=cert.no_certificado, certificate_der=cert.der,
                      key_sealed=box.seal(key), password_sealed=box.seal(password.encode("utf-8")),
                      valid_from=cert.valid_from.date(), valid_to=cert.valid_to.date(), active=True,
                      created_at=clock())
    session.add(row)
    session.flush()
    return row


def active_fiel(session: Session, company_id: int) -> CompanyFiel | None:
    return session.scalar(select(CompanyFiel).where(CompanyFiel.company_id == company_id, CompanyFiel.active)
                          .order_by(CompanyFiel.id.desc()).limit(1))


def fiel_by_company(session: Session) -> dict[int, CompanyFiel]:
    """The active e.firma of every company that has one (for Configuración → Empresas)."""
    return {f.company_id: f for f in session.scalars(select(CompanyFiel).where(CompanyFiel.active))}


def open_fiel(session: Session, company: Company, box: SecretBox, *, today: date) -> tuple[Certificate, Signer]:
    row = active_fiel(session, company.id)
    if row is None:
        raise ValidationError(f"La empresa {company.rfc} no tiene e.firma registrada; regístrela con "
                              "«cobranza company fiel» o en Configuración → Empresas.", code="FIEL_NO_REGISTRADA")
    key = box.open(row.key_sealed)
    password = box.open(row.password_sealed).decode("utf-8")
    # Checked and sealed at registration: no RSA re-check; validity today and RFC again.
    return load_fiel(row.certificate_der, key, password, rfc=company.rfc, today=today, checked=True)


def client_factory_from_env(environ: Mapping[str, str] | None = None) -> ClientFactory:
    """The real SAT, or ``COBRANZA_SAT_DESCARGA_URL`` (one base for the four services, e.g. a fake)."""
    env = os.environ if environ is None else environ
    base = (env.get("COBRANZA_SAT_DESCARGA_URL") or "").strip()
    urls = DescargaUrls.under(base) if base else DescargaUrls.production()
    timeouts = Timeouts(connect=float(env.get("COBRANZA_SAT_CONNECT_TIMEOUT", "10")),
                        read=float(env.get("COBRANZA_SAT_TIMEOUT", "120")))
    retry = Retry(attempts=int(env.get("COBRANZA_SAT_RETRIES", "4")), backoff=float(env.get("COBRANZA_SAT_BACKOFF", "1")))

    def make(cert: Certificate, signer: Signer) -> DescargaMasiva:
        return DescargaMasiva(cert, signer, urls=urls, timeouts=timeouts, retry=retry)

    return make


# --- ranges --------------------------------------------------------------------------------


def month_windows(desde: date, hasta: date) -> list[tuple[date, date]]:
    """``desde..hasta`` cut at calendar months: each request stays well under the SAT's maximum
    (200,000 CFDI); a month that still exceeds it (5003) is halved when the SAT says so."""
    out: list[tuple[date, date]] = []
    start = desde
    while start <= hasta:
        next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(hasta, next_month - timedelta(days=1))
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def _halves(desde: date, hasta: date) -> list[tuple[date, date]]:
    mid = desde + (hasta - desde) // 2
    return [(desde, mid), (mid + timedelta(days=1), hasta)]


def last_synced(session: Session, company_id: int) -> date | None:
    """The last day covered by a finished request for the issued CFDI."""
    return session.scalar(select(SatRequest.fecha_final).where(
        SatRequest.company_id == company_id, SatRequest.kind == "CFDI", SatRequest.status.in_(DONE))
        .order_by(SatRequest.fecha_final.desc()).limit(1))


# --- the result ----------------------------------------------------------------------------


@dataclass
class SyncResult:
    rfc: str
    desde: date
    hasta: date
    counts: Counter[str] = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    pending: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.refused

    def to_dict(self) -> dict[str, Any]:
        keys = ("imported", "duplicate", "refused", "ignored", "packages", "metadata", "cancelled")
        return {"rfc": self.rfc, "desde": self.desde.isoformat(), "hasta": self.hasta.isoformat(),
                "summary": {k: self.counts.get(k, 0) for k in keys}, "pending": self.pending,
                "requests": self.requests, "problems": self.problems, "refused": self.refused}


# --- the lock ------------------------------------------------------------------------------


@contextmanager
def sync_lock(instance_path: Path, rfc: str) -> Iterator[None]:
    """One ``sat sync`` per company at a time (released by the OS if the process dies)."""
    folder = instance_path / "sat-descarga"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{rfc}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConflictError(f"Ya hay una sincronización con el SAT en curso para {rfc}; espere a que termine.",
                                code="SAT_SYNC_EN_CURSO") from exc
        yield
    finally:
        os.close(fd)


# --- the sync ------------------------------------------------------------------------------


def import_package(importer: Importer, path: Path, name: str) -> BatchResult:
    """Import a downloaded package through the verified importer, streamed member by member
    (``Importer.import_stream``: bounded memory whatever the package's size)."""
    with path.open("rb") as fh:
        return importer.import_stream(fh, name)


def _parse_fecha(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("T", " ")[:19])
    except ValueError:
        return None


def iter_metadata(path: Path) -> Iterator[tuple[str, str, str, datetime | None]]:
    """(uuid, rfc_receptor, estatus, fecha_cancelacion) of each row of a metadata package, streamed."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".txt"):
                continue
            with zf.open(info) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                header = next(text, "").strip().split("~")
                cols = {name.strip().lower(): i for i, name in enumerate(header)}
                if "uuid" not in cols or "estatus" not in cols:
                    raise SatDescargaError("El paquete de metadatos del SAT no tiene las columnas Uuid y Estatus.",
                                           code="SAT_RESPUESTA_INVALIDA")
                for line in text:
                    parts = line.rstrip("\r\n").split("~")
                    if len(parts) <= cols["estatus"]:
                        continue
                    fc = cols.get("fechacancelacion")
                    rr = cols.get("rfcreceptor")
                    yield (parts[cols["uuid"]].strip().upper(), parts[rr].strip() if rr is not None else "",
                           parts[cols["estatus"]].strip(), _parse_fecha(parts[fc]) if fc is not None and fc < len(parts) else None)


def _store_metadata(session: Session, company_id: int, path: Path, now: datetime, batch: int = 1000) -> int:
    count = 0
    rows: list[tuple[str, str, str, datetime | None]] = []

    def flush() -> None:
        existing = {m.uuid: m for m in session.scalars(select(SatMetadata).where(
            SatMetadata.company_id == company_id, SatMetadata.uuid.in_([r[0] for r in rows])))}
        for uuid, rfc_receptor, estatus, fecha in rows:
            row = existing.get(uuid)
            if row is None:
                row = SatMetadata(company_id=company_id, uuid=uuid)
                session.add(row)
                existing[uuid] = row
            row.rfc_receptor, row.estatus, row.fecha_cancelacion, row.updated_at = (
                rfc_receptor[:13] or None, estatus[:1] or "1", fecha, now)
        session.flush()
        rows.clear()

    for row in iter_metadata(path):
        rows.append(row)
        count += 1
        if len(rows) >= batch:
            flush()
    if rows:
        flush()
    return count


def metadata_cancellations(session: Session, company: Company | int) -> list[tuple[str, datetime | None]]:
    """(uuid, fecha_cancelacion) of the company's CFDI the SAT's metadata reports cancelled (Estatus 0)."""
    company_id = company if isinstance(company, int) else company.id
    return [(m.uuid, m.fecha_cancelacion) for m in session.scalars(
        select(SatMetadata).where(SatMetadata.company_id == company_id, SatMetadata.estatus == "0")
        .order_by(SatMetadata.uuid))]


class _Sync:
    def __init__(self, engine: Engine, settings: Settings, client: DescargaMasiva, company: Company, result: SyncResult,
                 *, clock: Clock, importer_factory: ImporterFactory, wait_seconds: float, poll_interval: float,
                 sleep: Callable[[float], None]) -> None:
        self.sessions = session_factory(engine)
        self.settings = settings
        self.client = client
        self.company = company
        self.result = result
        self.clock = clock
        self.importer_factory = importer_factory
        self._importer: Importer | None = None
        self.wait_seconds = wait_seconds
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.tmp = settings.instance_path / "sat-descarga"

    @property
    def importer(self) -> Importer:
        if self._importer is None:
            self._importer = self.importer_factory()
        return self._importer

    def run(self, windows: list[tuple[date, date]]) -> None:
        for desde, hasta in windows:
            for kind in KINDS:
                self.window(kind, desde, hasta)

    def _latest(self, session: Session, kind: str, desde: date, hasta: date) -> SatRequest | None:
        return session.scalar(select(SatRequest).where(
            SatRequest.company_id == self.company.id, SatRequest.kind == kind, SatRequest.fecha_inicial == desde,
            SatRequest.fecha_final == hasta).order_by(SatRequest.id.desc()).limit(1))

    def window(self, kind: str, desde: date, hasta: date) -> None:
        with self.sessions() as session:
            req = self._latest(session, kind, desde, hasta)
            if req is not None and req.status in DONE:
                self._note(req, "ya sincronizado")
                return
            if req is not None and req.status == "dividida":
                session.close()
                for a, b in _halves(desde, hasta):
                    self.window(kind, a, b)
                return
            if req is None or req.status in ("vencida", "error"):
                now = self.clock()
                req = SatRequest(company_id=self.company.id, kind=kind, fecha_inicial=desde, fecha_final=hasta,
                                 status="pendiente", created_at=now, updated_at=now)
                session.add(req)
                session.commit()
            self.process(session, req)

    def _save(self, session: Session, req: SatRequest, status: str, cod: str | None = None,
              mensaje: str | None = None) -> None:
        req.status, req.updated_at = status, self.clock()
        if cod is not None:
            req.cod_estatus = cod
        if mensaje is not None:
            req.mensaje = mensaje[:500]
        session.commit()

    def _note(self, req: SatRequest, what: str) -> None:
        self.result.requests.append({"kind": req.kind, "desde": req.fecha_inicial.isoformat(),
                                     "hasta": req.fecha_final.isoformat(), "id_solicitud": req.id_solicitud,
                                     "status": req.status, "cod_estatus": req.cod_estatus, "nota": what})

    def _problem(self, req: SatRequest, error: SatDescargaError) -> None:
        self.result.problems.append({"kind": req.kind, "desde": req.fecha_inicial.isoformat(),
                                     "hasta": req.fecha_final.isoformat(), "code": error.code,
                                     "sat_code": str(error.details.get("sat_code", "")), "message": error.message})

    def process(self, session: Session, req: SatRequest) -> None:
        if req.status == "pendiente":
            sol = self.client.solicitar(req.kind, req.fecha_inicial, req.fecha_final)
            if sol.cod_estatus == "5000" and sol.id_solicitud:
                req.id_solicitud = sol.id_solicitud
                self._save(session, req, "solicitada", sol.cod_estatus, sol.mensaje)
            elif sol.cod_estatus == "5004":
                self._save(session, req, "sin_informacion", sol.cod_estatus, sol.mensaje)
                self._note(req, "sin comprobantes en el rango")
                return
            elif sol.cod_estatus == "5003":
                self._split(session, req, sol.cod_estatus, sol.mensaje)
                return
            else:
                error = sat_error(sol.cod_estatus, sol.mensaje, operation="la solicitud")
                self._save(session, req, "error", sol.cod_estatus, error.message)
                if sol.cod_estatus in FATAL_CODES:
                    raise error
                self._problem(req, error)
                self._note(req, "rechazada por el SAT")
                return
        if req.status == "solicitada":
            self._verify(session, req)
        if req.status == "lista":
            self._packages(session, req)

    def _split(self, session: Session, req: SatRequest, cod: str, mensaje: str) -> None:
        desde, hasta = req.fecha_inicial, req.fecha_final
        if desde == hasta:
            error = sat_error(cod, mensaje, operation="la solicitud")
            self._save(session, req, "error", cod, error.message)
            self._problem(req, error)
            return
        self._save(session, req, "dividida", cod, mensaje)
        self._note(req, "dividida en dos por el tope del SAT")
        session.close()
        for a, b in _halves(desde, hasta):
            self.window(req.kind, a, b)

    def _verify(self, session: Session, req: SatRequest) -> None:
        assert req.id_solicitud is not None
        deadline = time.monotonic() + self.wait_seconds
        while True:
            ver = self.client.verificar(req.id_solicitud)
            if ver.cod_estatus and ver.cod_estatus != "5000":
                error = sat_error(ver.cod_estatus, ver.mensaje, operation="la verificación")
                if ver.cod_estatus in FATAL_CODES:
                    raise error
                self._problem(req, error)
                return
            if ver.estado in (ACEPTADA, EN_PROCESO):
                if time.monotonic() >= deadline:
                    self.result.pending = True
                    self._note(req, "el SAT sigue preparando los paquetes")
                    return
                self.sleep(self.poll_interval)
                continue
            break
        if ver.estado == TERMINADA and (ver.codigo_estado == "5004" or not ver.paquetes):
            self._save(session, req, "sin_informacion", ver.codigo_estado or "5004", ver.mensaje)
            self._note(req, "sin comprobantes en el rango")
            return
        if ver.estado == TERMINADA:
            req.numero_cfdis = ver.numero_cfdis
            known = {p.package_id for p in session.scalars(select(SatPackage).where(SatPackage.request_id == req.id))}
            for pid in ver.paquetes:
                if pid not in known:
                    session.add(SatPackage(request_id=req.id, package_id=pid, status="pendiente", documents=0,
                                           imported=0, duplicates=0, refused=0, ignored=0))
            self._save(session, req, "lista", ver.codigo_estado or "5000", ver.mensaje)
            return
        if ver.estado == VENCIDA:
            self._save(session, req, "vencida", ver.codigo_estado, ver.mensaje or "Solicitud vencida")
            self._note(req, "vencida en el SAT; se pide de nuevo")
            session.close()
            self.window(req.kind, req.fecha_inicial, req.fecha_final)
            return
        if ver.codigo_estado == "5003":
            self._split(session, req, "5003", ver.mensaje)
            return
        error = sat_error(ver.codigo_estado, ver.mensaje, operation="la solicitud")
        if ver.codigo_estado is None or ver.codigo_estado == "5000":
            error = SatDescargaError(f"El SAT rechazó la solicitud (estado {ver.estado}): «{ver.mensaje}».",
                                     code="SAT_SOLICITUD_RECHAZADA", sat_code=str(ver.estado))
        self._save(session, req, "error", ver.codigo_estado, error.message)
        self._problem(req, error)

    def _packages(self, session: Session, req: SatRequest) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        pending = list(session.scalars(select(SatPackage).where(SatPackage.request_id == req.id,
                                                                 SatPackage.status != "importado")
                                       .order_by(SatPackage.package_id)))
        session.commit()  # no transaction held while downloading and importing (SQLite's single writer)
        for pkg in pending:
            path = self.tmp / f"{pkg.package_id}.zip"
            try:
                self.client.descargar(pkg.package_id, path)
            except SatDescargaError as exc:
                if exc.code == "SAT_PAQUETE_NO_DISPONIBLE":
                    self._save(session, req, "vencida", "5007", exc.message)
                    self._problem(req, exc)
                    self._note(req, "paquete no disponible; se pedirá de nuevo el rango")
                    return
                raise
            try:
                self.result.counts["packages"] += 1
                if req.kind == "CFDI":
                    session.commit()
                    batch = import_package(self.importer, path, pkg.package_id)
                    summary = batch.summary
                    pkg.documents, pkg.imported, pkg.duplicates = summary["total"], summary["imported"], summary["duplicate"]
                    pkg.refused, pkg.ignored = summary["refused"], summary["ignored"]
                    for key in ("imported", "duplicate", "refused", "ignored"):
                        self.result.counts[key] += summary[key]
                    room = MAX_REFUSED_SHOWN - len(self.result.refused)
                    if room > 0:
                        self.result.refused.extend(r.to_dict() for r in batch.results if r.status == "refused")
                        del self.result.refused[MAX_REFUSED_SHOWN:]
                else:
                    n = _store_metadata(session, self.company.id, path, self.clock())
                    pkg.documents = n
                    self.result.counts["metadata"] += n
                pkg.status, pkg.done_at = "importado", self.clock()
                session.commit()
            finally:
                path.unlink(missing_ok=True)
        self._save(session, req, "terminada")
        self._note(req, "terminada")


def sync(
    engine: Engine,
    settings: Settings,
    rfc: str,
    box: SecretBox,
    *,
    today: date,
    desde: date | None = None,
    hasta: date | None = None,
    clock: Clock = system_clock,
    client_factory: ClientFactory | None = None,
    importer_factory: ImporterFactory | None = None,
    wait_seconds: float = 120.0,
    poll_interval: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Download and import the company's issued CFDI of ``desde..hasta`` (default: since the last sync)."""
    with session_factory(engine)() as session:
        company = _company(session, rfc)
        hasta = min(hasta or today, today)
        if desde is None:
            desde = last_synced(session, company.id)
            if desde is None:
                raise ValidationError("Es la primera sincronización de esta empresa: indique desde qué fecha "
                                      "(--from AAAA-MM-DD).", code="SAT_SYNC_SIN_FECHA")
        if desde > hasta:
            raise ValidationError("La fecha inicial es posterior a la final.", code="RANGO_INVALIDO")
        cert, signer = open_fiel(session, company, box, today=today)
        session.expunge(company)
    factory = client_factory or client_factory_from_env()
    client = factory(cert, signer)
    result = SyncResult(company.rfc, desde, hasta)
    with sync_lock(settings.instance_path, company.rfc):
        runner = _Sync(engine, settings, client, company, result, clock=clock,
                       importer_factory=importer_factory or (lambda: Importer(engine, settings, clock=clock)),
                       wait_seconds=wait_seconds, poll_interval=poll_interval, sleep=sleep)
        runner.run(month_windows(desde, hasta))
        # The metadata's Estatus 0 rows cancel the imported documents they name (the one
        # cancellation rule, services.sat_status.mark_cancelled; documents not in the
        # ledger are skipped, and one cancelled before is only re-reported).
        with session_factory(engine)() as session, session.begin():
            pairs = [(u, f.date() if f else None) for u, f in metadata_cancellations(session, company.id)]
            done = sat_status.mark_cancelled_from_metadata(session, pairs, actor=f"sat-sync:{company.rfc}",
                                                           clock=clock)
        result.counts["cancelled"] += sum(1 for c in done if not c.ya_cancelado)
    return result


def requests_of(session: Session, rfc: str, limit: int = 50) -> list[SatRequest]:
    """The company's latest requests to the SAT (newest first), for the Importar → Desde el SAT page."""
    company = _company(session, rfc)
    return list(session.scalars(select(SatRequest).where(SatRequest.company_id == company.id)
                                .order_by(SatRequest.id.desc()).limit(limit)))


__all__ = ["SyncResult", "active_fiel", "client_factory_from_env", "fiel_by_company", "import_package",
           "iter_metadata", "last_synced", "metadata_cancellations", "month_windows", "open_fiel", "register_fiel",
           "requests_of", "sync", "sync_lock"]
