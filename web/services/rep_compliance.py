"""The Tablero's REP compliance card: payments still without REP (days left to the 5th)
and REPs that were issued, or are still missing, after their deadline.

Both questions are ``services.stamping`` (``pending``, ``late_reps``); this module only
groups their answers for the card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from cfdi_cobranza.services import jobs, stamping


@dataclass
class RepCompliance:
    pending: list[stamping.PendingPayment] = field(default_factory=list)
    late_issued: list[stamping.LateRep] = field(default_factory=list)
    failed_jobs: list[jobs.JobRow] = field(default_factory=list)  # automatic issuing that failed, with why

    @property
    def late_pending(self) -> list[stamping.PendingPayment]:
        return [p for p in self.pending if p.late]

    @property
    def due_soon(self) -> list[stamping.PendingPayment]:
        return [p for p in self.pending if not p.late and p.days_left <= 5]

    @property
    def next_deadline(self) -> stamping.PendingPayment | None:
        upcoming = [p for p in self.pending if not p.late]
        return upcoming[0] if upcoming else None


def rep_compliance(session: Session, today: date, deadline_day: int = 5, limit: int = 200) -> RepCompliance:
    return RepCompliance(stamping.pending(session, today=today, deadline_day=deadline_day),
                         stamping.late_reps(session, deadline_day=deadline_day, limit=limit),
                         [j for j in jobs.list_jobs(session, state="failed", limit=50) if j.kind.startswith("rep.")])
