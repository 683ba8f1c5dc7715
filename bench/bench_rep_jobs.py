"""Benchmark: a month-end REP run through the job queue, against the ideal and the run without it.

Run: ``.venv/bin/python bench/bench_rep_jobs.py [N] [THREADS]`` (default 400 payments,
4 threads per worker). Needs PostgreSQL and Redis on 127.0.0.1 (own database, own Redis
key prefix and queue name).

N payments, each on its own PPD invoice, in a PostgreSQL ledger; the PAC is the
sandbox behind a fake that waits 300 ms per stamp (``time.sleep``: the wait of a remote
PAC, no CPU) and refuses 2 % of the connections (``PAC_NO_DISPONIBLE``: a transient
failure before anything was sent). Three runs on the same ledger, reset between them:

- without the queue: ``Stamper.issue_each`` in this process (what ``rep issue
  --all-pending`` does), concurrency 1;
- one worker process: ``cobranza.run_job`` over Redis, THREADS threads;
- two worker processes sharing the queue (as two machines would), THREADS threads each.

For the queued runs one ``rep.pago`` job per payment is queued in one transaction and
the clock stops when every job is done. Printed per run: seconds, REPs/s, the ideal
``N x 0.3 s / concurrency`` and the ratio to it, and the checks: duplicate stamps
(REPs stamped per payment > 1, or PAC stamps > REPs stored), REPs lost (payments
without a stamped REP) and REPs that fail the validator.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, Line
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cfdi.validator import errors_only, validate_rep
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Credit, Job, Rep, RepLine
from cfdi_cobranza.db.session import make_engine, migrate, transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac.base import StampRequest, StampResult
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import jobs, stamping
from cfdi_cobranza.services import payments as svc
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.services.jobs import Runtime
from cfdi_cobranza.services.payments import Allocation
from cfdi_cobranza.warmup import warm_up
from cfdi_cobranza.worker import broker

ROOT = Path(__file__).resolve().parents[1]
CERTS = ROOT / "certs_example"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
NOW_UTC = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
LOCAL_NOW = datetime(2026, 11, 20, 11, 0, 0)
PAGO_DAY = datetime(2026, 10, 15, 12, 0)
LOGS = ROOT / "bench" / "out"  # the workers' logs (ignored by git)
LATENCY = 0.3
FAIL_RATE = 0.02
BOX = SecretBox(base64.urlsafe_b64encode(b"cfdi-cobranza-bench-jobs-secret!"))


class SlowPac:
    """The sandbox behind a remote PAC's wait and its occasional refused connection."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, inner: SandboxPac, seed: int) -> None:
        self.inner = inner
        self.random = random.Random(seed)

    def stamp(self, request: StampRequest) -> StampResult:
        if self.random.random() < FAIL_RATE:
            time.sleep(0.01)
            raise PacError("No se pudo conectar con el PAC (conexión rechazada).", code="PAC_NO_DISPONIBLE")
        time.sleep(LATENCY)
        return self.inner.stamp(request)

    def recover(self, request: StampRequest) -> StampResult | None:
        time.sleep(LATENCY)
        return self.inner.recover(request)


class QuickSandbox(SandboxPac):
    """The sandbox without its fsync per stamp: a remote PAC's durability is its own
    business, and on this shared disk an fsync costs more than the 300 ms being modelled.
    Its stamps are still recorded by idempotency key, shared by every worker process,
    so a second stamp of one REP would show."""

    def _db(self) -> Any:
        conn = super()._db()
        conn.execute("PRAGMA synchronous=OFF")
        return conn


def sandbox(sandbox_dir: Path) -> SandboxPac:
    return QuickSandbox(sandbox_dir, clock=lambda: datetime(2026, 11, 20, 11, 0, 5))


def stamper_for(engine: Any, pac_sandbox: SandboxPac, seed: int) -> stamping.Stamper:
    pac = SlowPac(pac_sandbox, seed)
    return stamping.Stamper(engine, pac, BOX, clock=lambda: NOW_UTC, now_local=lambda: LOCAL_NOW)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the ledger


def build(url: str, tmp: Path, n: int) -> list[int]:
    engine = make_engine(url)
    migrate(engine)
    counter = itertools.count(1)
    factory = CfdiFactory(tmp / "sat", uuid_source=lambda: uuidlib.UUID(int=0xB0_0000 + next(counter)),
                          clock=lambda: datetime(2026, 10, 1, 10, 0))
    settings = Settings(database_url=url, instance_path=tmp / "instance")
    docs = {f"F{i}": factory.invoice([Line(Decimal(1000 + i) + Decimal("0.35"), taxes=(IVA16,))], folio=str(i))
            for i in range(n)}
    res = Importer(engine, settings, clock=lambda: NOW_UTC, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        Candidate(f"{k}.xml", d.xml) for k, d in docs.items())
    assert res.ok, res.to_dict()
    with transaction(engine) as s:
        stamping.register_csd(s, "EKU9003173C9", (CERTS / "EKU9003173C9.cer").read_bytes(),
                              (CERTS / "EKU9003173C9.key").read_bytes(), "12345678a", BOX, today=date(2026, 11, 20))
    pids = []
    for i in range(n):
        with transaction(engine) as s:
            st = svc.register_settlement(s, [ReceiptInput(customer="URE180429TM6", company="", fecha_pago=PAGO_DAY,
                                                          forma_pago="03", moneda="MXN", monto="500.00")],
                                         clock=lambda: NOW_UTC)
            pid = st.payments[0].id
            svc.apply_payment(s, pid, [Allocation(docs[f"F{i}"].uuid, "500.00")], clock=lambda: NOW_UTC)
        pids.append(pid)
    engine.dispose()
    return pids


def reset(engine: Any) -> None:
    """Back to «every payment pending»: no REP, no job, folios from 1."""
    with transaction(engine) as s:
        for table in ("rep_line", "rep", "job", "folio_sequence"):
            s.execute(text(f"DELETE FROM {table}"))


def check(engine: Any, pids: list[int], sandbox_dir: Path) -> dict[str, int]:
    with transaction(engine) as s:
        per_payment = dict(s.execute(
            select(Credit.payment_id, func.count(func.distinct(Rep.id)))
            .join(RepLine, RepLine.credit_id == Credit.id).join(Rep, Rep.id == RepLine.rep_id)
            .where(Rep.status == "timbrado").group_by(Credit.payment_id)).all())
        xmls = list(s.scalars(select(Rep.stamped_xml).where(Rep.status == "timbrado")))
    stamps = SandboxPac(sandbox_dir).stamp_count()
    invalid = sum(1 for x in xmls if x is None or errors_only(validate_rep(x, now=LOCAL_NOW)))
    return {"timbrados": len(xmls), "duplicados": sum(1 for c in per_payment.values() if c > 1)
            + max(0, stamps - len(xmls)), "perdidos": sum(1 for p in pids if per_payment.get(p, 0) == 0),
            "invalidos": invalid}


# --------------------------------------------------------------------------- the runs


def worker_main(url: str, queue: str, prefix: str, sandbox_dir: str, threads: int, seed: int) -> None:
    warm_up()
    engine = make_engine(url, pool_size=threads + 4)
    local: dict[int, stamping.Stamper] = {}
    shared = sandbox(Path(sandbox_dir))

    def factory() -> stamping.Stamper:
        import threading

        ident = threading.get_ident()
        if ident not in local:
            local[ident] = stamper_for(engine, shared, seed * 1000 + len(local))
        return local[ident]

    runtime = Runtime(engine, lease_seconds=60, stamper_factory=factory)
    app = broker.make_celery(url=REDIS, queue=queue, runtime=lambda: runtime, prefix=prefix)
    app.worker_main(["worker", "-Q", queue, "-c", str(threads), "-P", "threads", "-l", "INFO",
                     "-n", f"bench{seed}-{os.getpid()}@bench", "--without-gossip", "--without-mingle",
                     "--without-heartbeat"])


def run_queued(url: str, pids: list[int], tmp: Path, workers: int, threads: int, tag: str) -> tuple[float, Path]:
    sandbox_dir = tmp / f"pac-{tag}"
    queue, prefix = f"bench-{uuidlib.uuid4().hex[:8]}", f"bench-{uuidlib.uuid4().hex[:8]}:"
    broker.make_celery(REDIS, queue, lambda: None, prefix=prefix)  # type: ignore[arg-type,return-value]
    SandboxPac(sandbox_dir)  # its certificate created once, before the workers share it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [open(LOGS / f"{tag}-{w}.log", "wb") for w in range(workers)]  # noqa: SIM115  (closed below)
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, queue, prefix, str(sandbox_dir),
                               str(threads), str(w + 1)], env=env, stdout=logs[w], stderr=subprocess.STDOUT)
             for w in range(workers)]
    engine = make_engine(url)
    try:
        time.sleep(6)  # the workers connected and warmed up before the clock starts
        start = time.perf_counter()
        with transaction(engine) as s:
            for pid in pids:
                jobs.enqueue(s, "rep.pago", {"payment_id": pid}, key=f"bench:{tag}:{pid}")
        deadline = time.perf_counter() + 60 + 20 * len(pids) * LATENCY / (workers * threads)
        while True:
            with transaction(engine) as s:
                left = s.scalar(select(func.count()).select_from(Job).where(Job.state.in_(("queued", "running"))))
                if left and time.perf_counter() > deadline:
                    states = s.execute(select(Job.state, Job.attempts, Job.error_code, func.count())
                                       .group_by(Job.state, Job.attempts, Job.error_code)).all()
                    raise AssertionError(f"the run did not finish: {states}")
            if not left:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        for f in logs:
            f.close()
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in [*client.scan_iter(f"{prefix}*"), *client.scan_iter(f"*{queue}*")]:
            client.delete(key)
    with transaction(engine) as s:
        failed = s.scalar(select(func.count()).select_from(Job).where(Job.state == "failed"))
        spans = s.execute(select(Job.started_at, Job.finished_at, Job.worker)).all()
    busy = sum((b - a).total_seconds() for a, b, _w in spans if a and b)
    print(f"  jobs busy {busy:.1f} s in {elapsed:.1f} s: {busy / elapsed:.1f} at once on average; "
          f"workers {sorted({w.split(':')[0] if w else '' for _a, _b, w in spans})}", flush=True)
    engine.dispose()
    assert not failed, f"{failed} jobs failed"
    return elapsed, sandbox_dir


def run_direct(url: str, pids: list[int], tmp: Path) -> tuple[float, Path]:
    sandbox_dir = tmp / "pac-direct"
    engine = make_engine(url)
    stamper = stamper_for(engine, sandbox(sandbox_dir), 7)
    start = time.perf_counter()
    results = stamper.issue_each(pids)
    # What the run could not stamp (the refused connections) is issued again, as an operator would.
    while any(r.status != "timbrado" for r in results):
        left = [p.payment_id for p in stamping.pending(stamper.session(), today=LOCAL_NOW.date())]
        results = stamper.issue_each(left)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, sandbox_dir


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else {"direct", "w1", "w2"}
    LOGS.mkdir(parents=True, exist_ok=True)
    warm_up()
    name = f"cobranza_bench_jobs_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            t0 = time.perf_counter()
            pids = build(url, tmp, n)
            print(f"ledger: {n} payments on PostgreSQL in {time.perf_counter() - t0:.1f} s")
            rows = []
            for tag, label, conc, run in (
                ("direct", "sin cola (issue_each, 1 proceso)", 1, lambda: run_direct(url, pids, tmp)),
                ("w1", f"1 trabajador x {threads} hilos", threads,
                 lambda: run_queued(url, pids, tmp, 1, threads, "w1")),
                ("w2", f"2 trabajadores x {threads} hilos", 2 * threads,
                 lambda: run_queued(url, pids, tmp, 2, threads, "w2")),
            ):
                if tag not in only:
                    continue
                engine = make_engine(url)
                reset(engine)
                elapsed, sandbox_dir = run()
                checks = check(engine, pids, sandbox_dir)
                engine.dispose()
                ideal = n * LATENCY / conc
                rows.append((label, conc, elapsed, ideal, checks))
                print(f"{label:<34} concurrency {conc:>2}: {elapsed:7.1f} s  {n / elapsed:6.1f} REP/s  "
                      f"ideal {ideal:6.1f} s  ratio {elapsed / ideal:.2f}x  {checks}", flush=True)
            if "direct" in only:
                base = rows[0][2]
                print("\nspeed-up vs the run without the queue: "
                      + ", ".join(f"{label}: {base / t:.1f}x" for label, _c, t, _i, _k in rows[1:]))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
    else:
        main()
