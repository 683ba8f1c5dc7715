"""Jobs over a real queue: Celery with Redis or RabbitMQ (``COBRANZA_BROKER_URL``).

Celery carries only a job's id (``cobranza.run_job``); the ``job`` row is the truth and
``services.jobs.run_job`` claims it before running, so the broker's at-least-once
delivery (a message redelivered after a worker died, a sweep that published a job
again) never runs one job twice at once. Messages are acknowledged late
(``task_acks_late``), rejected back to the queue when a worker process is lost
(``task_reject_on_worker_lost``), and fetched one at a time (prefetch 1) so a busy
worker does not sit on jobs another machine could take.

Celery beat sends ``cobranza.tick`` every ``COBRANZA_TICK_SECONDS`` (30): it queues the
companies' policy runs that are due (``policy.tick``) and publishes again the jobs the
queue may have lost (``jobs.republish_due``: retries whose wait ended, a dead worker's).

Environment: ``COBRANZA_BROKER_URL`` (``redis://127.0.0.1:6379/0``,
``amqp://guest:guest@127.0.0.1:5672//``), ``COBRANZA_QUEUE`` (queue name, ``cobranza``),
``COBRANZA_BROKER_PREFIX`` (Redis key prefix, optional).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from cfdi_cobranza.services import jobs
from cfdi_cobranza.services.jobs import Runtime, policy, scheduled
from cfdi_cobranza.worker.lease import with_lease


def broker_url(environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return env.get("COBRANZA_BROKER_URL") or None


def queue_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("COBRANZA_QUEUE") or "cobranza"


def make_celery(url: str, queue: str, runtime: Callable[[], Runtime], *, prefix: str | None = None,
                tick_seconds: float | None = None) -> Any:
    """The Celery application: the run and tick tasks, beat's schedule, the safe settings.
    Jobs this process queues from now on (a tick's policy runs, a page's work) are sent
    to its queue (``jobs.set_publisher``)."""
    from celery import Celery  # celery: 0.3 s to import, only for the processes that use a broker

    app = Celery("cobranza", broker=url, set_as_current=False)
    transport: dict[str, Any] = {"visibility_timeout": 3600}
    if prefix:
        transport["global_keyprefix"] = prefix
    every = tick_seconds or float(os.environ.get("COBRANZA_TICK_SECONDS", "30"))
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=queue, task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_transport_options=transport, broker_connection_retry_on_startup=True, timezone="UTC",
        worker_hijack_root_logger=False, worker_cancel_long_running_tasks_on_connection_loss=False,
        beat_schedule={"cobranza-tick": {"task": "cobranza.tick", "schedule": every, "options": {"queue": queue}}},
    )

    def run_job_task(job_id: int) -> str | None:
        rt = with_lease(runtime())
        state = jobs.run_job(rt, int(job_id))
        if state == "queued":  # a transient failure: sent again for when its wait ends
            due = jobs.mark_republished(rt.engine, int(job_id))
            if due is not None:
                wait = max(0.0, (due - rt.clock()).total_seconds())
                app.send_task("cobranza.run_job", args=[int(job_id)], queue=queue, countdown=wait)
        return state

    def tick_task() -> dict[str, int]:
        rt = runtime()
        queued = policy.tick(rt.engine, clock=rt.clock)
        queued += scheduled.tick(rt.engine, clock=rt.clock, instance_path=rt.instance_path)
        again = jobs.republish_due(rt.engine, clock=rt.clock, stale_after=rt.lease_seconds)
        return {"politicas": len(queued), "republicadas": len(again)}

    app.task(name="cobranza.run_job", acks_late=True, reject_on_worker_lost=True)(run_job_task)
    app.task(name="cobranza.tick")(tick_task)
    jobs.set_publisher(publisher_for(app, queue))
    return app


def publisher_for(app: Any, queue: str) -> Callable[[Sequence[int]], None]:
    """Send committed job ids to the queue (one message each)."""
    def send(ids: Sequence[int]) -> None:
        with app.producer_or_acquire() as producer:
            for job_id in ids:
                app.send_task("cobranza.run_job", args=[int(job_id)], queue=queue, producer=producer)
    return send
