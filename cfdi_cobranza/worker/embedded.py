"""Jobs with no broker (the demo, SQLite, one machine): the ``job`` table is the queue.

``EmbeddedWorker`` runs inside ``cobranza serve`` (or in the foreground for ``cobranza
worker`` without ``COBRANZA_BROKER_URL``): a few threads take the oldest due job with
the same conditional claim the Celery task uses (``services.jobs.run_job``), so any
number of them, in any number of processes, never run one job twice at once; one
thread beats the scheduler (``policy.tick``). A page that queues a job returns at once
and wakes the threads through the publisher hook. This is why no Celery "eager" mode
is used for the demo: an eager task would run inside the request that queued it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from cfdi_cobranza.services import jobs
from cfdi_cobranza.services.jobs import Runtime, policy, scheduled
from cfdi_cobranza.worker.lease import with_lease

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(self, runtime: Runtime, *, threads: int = 2, poll_seconds: float = 2.0,
                 tick_seconds: float = 30.0, scheduler: bool = True) -> None:
        self.runtime = with_lease(runtime)
        self.threads = max(1, threads)
        self.poll_seconds, self.tick_seconds, self.scheduler = poll_seconds, tick_seconds, scheduler
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._pending = 0
        self._workers: list[threading.Thread] = []

    def wake(self, ids: Sequence[int] = ()) -> None:
        """The publisher: committed job ids are taken at once instead of at the next poll."""
        with self._wake:
            self._pending += max(1, len(ids))
            self._wake.notify_all()

    def start(self) -> EmbeddedWorker:
        jobs.set_publisher(self.wake)
        for n in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"cobranza-jobs-{n}", daemon=True)
            t.start()
            self._workers.append(t)
        if self.scheduler:
            t = threading.Thread(target=self._beat, name="cobranza-scheduler", daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def start_scheduler_only(self) -> EmbeddedWorker:
        """Only the beat (``cobranza scheduler`` without a broker): it queues, workers run."""
        t = threading.Thread(target=self._beat, name="cobranza-scheduler", daemon=True)
        t.start()
        self._workers.append(t)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._workers:
            t.join(timeout)
        jobs.set_publisher(None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = jobs.next_claimable(self.runtime)
                if job_id is not None:
                    jobs.run_job(self.runtime, job_id)
                    continue
            except Exception:  # the database briefly away: wait and poll again
                log.exception("embedded worker loop")
            with self._wake:
                if self._pending == 0 and not self._stop.is_set():
                    self._wake.wait(self.poll_seconds)
                self._pending = 0

    def _beat(self) -> None:
        while not self._stop.is_set():
            try:
                policy.tick(self.runtime.engine, clock=self.runtime.clock)
                scheduled.tick(self.runtime.engine, clock=self.runtime.clock, instance_path=self.runtime.instance_path)
            except Exception:
                log.exception("scheduler tick")
            self._stop.wait(self.tick_seconds)

    def join(self) -> None:
        """Block (the foreground ``cobranza worker``) until Ctrl+C."""
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            self.stop()
