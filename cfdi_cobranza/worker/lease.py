"""Keeping a running job's lease: a thread per running job renews it (``lease_seconds``
/ 3), so another worker takes the job over only when this process died.

Process machinery, so it lives with the worker runtimes (``embedded``, ``broker``), not
in the services: ``Runtime.keep_lease`` hands it to ``services.jobs.run_job``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import update

from cfdi_cobranza.db.models.jobs import Job
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.jobs import JobState
from cfdi_cobranza.services.jobs import Runtime

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews a running job's lease while its handler works (so a slow PAC is not a dead worker)."""

    def __init__(self, runtime: Runtime, job_id: int) -> None:
        self.runtime, self.job_id = runtime, job_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"job-{job_id}-lease")

    def _run(self) -> None:
        every = max(1.0, self.runtime.lease_seconds / 3)
        while not self.stop.wait(every):
            try:
                with transaction(self.runtime.engine) as session:
                    session.execute(update(Job).where(Job.id == self.job_id, Job.worker == self.runtime.worker[:120],
                                                      Job.state == JobState.RUNNING)
                                    .values(lease_until=self.runtime.clock()
                                            + timedelta(seconds=self.runtime.lease_seconds)))
            except Exception:  # the database is briefly away: the next beat tries again
                log.exception("lease renewal failed for job %s", self.job_id)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()


def with_lease(runtime: Runtime) -> Runtime:
    """``runtime`` renewing the lease of each job it runs (set once, where a worker starts)."""
    if runtime.keep_lease is None:
        runtime.keep_lease = Heartbeat
    return runtime
