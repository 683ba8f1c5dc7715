"""The automatic REP through real Celery workers over Redis and RabbitMQ, on PostgreSQL: a worker
killed (SIGKILL) in the middle of a stamp, another worker started, still exactly one REP.

Each run uses its own queue name (and Redis key prefix; other people share the servers)
and deletes its keys or queue at the end. Skipped, with the reason, when the broker or
PostgreSQL does not answer.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine, select
from test_rep_examples import Book

from cfdi_cobranza.cfdi.factory import Line
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Job, Rep
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.states import RepStatus
from cfdi_cobranza.pac.sandbox import SandboxPac
from cfdi_cobranza.services import jobs
from cfdi_cobranza.services.jobs import policy
from cfdi_cobranza.worker import broker

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "celery_worker_for_tests.py"
REDIS = ("127.0.0.1", 6379)
RABBITMQ = ("127.0.0.1", 5672)


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["redis", "rabbitmq"])
def queue(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    run = uuid.uuid4().hex[:10]
    name, prefix = f"cobranza-test-{run}", f"cobranza-test-{run}:"
    if request.param == "redis":
        if not _answers(REDIS):
            pytest.skip("Redis no responde en 127.0.0.1:6379")
        url = "redis://127.0.0.1:6379/0"
    else:
        if not _answers(RABBITMQ):
            pytest.skip("RabbitMQ no responde en 127.0.0.1:5672")
        url = "amqp://guest:guest@127.0.0.1:5672//"
    previous = jobs.set_publisher(None)
    app = broker.make_celery(url, name, lambda: None, prefix=prefix)  # type: ignore[arg-type,return-value]
    yield url, name, prefix
    jobs.set_publisher(previous)
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(url)
        for key in [*client.scan_iter(f"{prefix}*"), *client.scan_iter(f"*{name}*")]:
            client.delete(key)
    else:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(name)
    app.amqp.producer_pool.force_close_all()  # the publisher's connections
    app.pool.force_close_all()
    app.close()


def _wait(what: str, check: Callable[[], bool], seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"no llegó: {what}")


def _reps(engine: Engine) -> list[Rep]:
    with transaction(engine) as s:
        return list(s.scalars(select(Rep)))


def _job(engine: Engine) -> Job:
    with transaction(engine) as s:
        (job,) = s.scalars(select(Job).where(Job.kind == "rep.pago"))  # the beat may queue scheduled ones too
        return job


def test_worker_killed_mid_stamp_then_another_worker_stamps_exactly_once(
        pg_engine: Engine, pg_url: str, settings: Settings, tmp_path: Path, queue: tuple[str, str, str]) -> None:
    url, name, prefix = queue
    book = Book.open(pg_engine, settings, tmp_path)
    uuids = book.invoices(F1=[Line(Decimal("10000.00"))])
    with transaction(pg_engine) as s:
        policy.set_policy(s, "EKU9003173C9", "al-aplicar", clock=book.clock)
    pid = book.pay("1000.00")
    book.apply(pid, [(uuids["F1"], "1000.00")])  # queued and published to Redis on commit
    sandbox = SandboxPac(book.sandbox_dir)

    logs: list[IO[bytes]] = []

    def worker(worker_name: str, *extra: str) -> subprocess.Popen[bytes]:
        logs.append(open(tmp_path / f"{worker_name}.log", "wb"))  # noqa: SIM115  (closed in finally)
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests' / 'integration'}"}
        return subprocess.Popen(
            [sys.executable, str(WORKER), "--db", pg_url, "--broker", url, "--queue", name, "--prefix", prefix,
             "--sandbox", str(book.sandbox_dir), "--schedule", str(tmp_path / f"beat-{worker_name}"),
             "--name", worker_name, *extra], env=env, cwd=tmp_path,
            stdout=logs[-1], stderr=subprocess.STDOUT)

    first = worker("primero", "--hang-after-stamp")
    second = None
    try:
        _wait("el PAC timbró y el trabajador espera su respuesta",
              lambda: sandbox.stamp_count() == 1 and _job(pg_engine).state == "running")
        (rep,) = _reps(pg_engine)
        assert rep.status == RepStatus.ENVIANDO  # stamped at the PAC, the answer not stored
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        second = worker("segundo", "--beat")
        _wait("la tarea terminada por el segundo trabajador", lambda: _job(pg_engine).state == "done")
        (rep,) = _reps(pg_engine)
        assert rep.status == RepStatus.TIMBRADO and sandbox.stamp_count() == 1
        assert rep.uuid == sandbox.stamped_uuids()[0].upper()
        job = _job(pg_engine)
        assert (job.attempts, job.worker) == (2, "segundo")

        # The queue delivering the same job once more: nothing runs, nothing is stamped.
        jobs.publish([job.id])
        time.sleep(3)
        assert [r.status for r in _reps(pg_engine)] == [RepStatus.TIMBRADO] and sandbox.stamp_count() == 1
        assert _job(pg_engine).attempts == 2
    except AssertionError as exc:
        text = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in tmp_path.glob("*.log"))
        raise AssertionError(f"{exc}\n{text}") from exc
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        for f in logs:
            f.close()
