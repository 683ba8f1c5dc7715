"""Background jobs and the companies' automatic-REP policy.

``Job`` is the durable record of one piece of background work: the source of truth for
``cobranza jobs list`` and the Jobs page. The queue (Celery over Redis or RabbitMQ, or
the worker thread of ``cobranza serve``) carries only its id; a worker claims the row
(``state`` and ``lease_until``) before it runs, so a message delivered twice runs the
job once at a time, and a job whose worker died is taken again once its lease ends.
``key`` is unique: enqueuing the same work twice returns the first job.

``RepPolicy`` says when a company's REPs are issued without anyone pressing a button
(``domain.jobs.RepMode``); a company without a row follows the default (``diario``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    args: Mapped[str] = mapped_column(Text)  # JSON object
    key: Mapped[str] = mapped_column(String(200), unique=True)
    label: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(12))  # domain.jobs.JobState
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # JSON summary written by the job
    worker: Mapped[str | None] = mapped_column(String(120))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    run_after: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RepPolicy(Base):
    __tablename__ = "rep_policy"

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(12))  # domain.jobs.RepMode
    hora: Mapped[str] = mapped_column(String(5))  # HH:MM, Mexico City
    dia: Mapped[int] = mapped_column(Integer)  # mensual: issued by this day of the next month
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))
