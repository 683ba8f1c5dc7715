"""The alert that some REP will miss its deadline (day 5 of the next month), by email to the
company's billing people (``mail company --alert-emails``).

``queue_deadline_alerts`` reads the pending payments itself so the alert works on its own;
a scheduler (the jobs' deadline cockpit) may compute them its own way and call
``outbox.queue_deadline_alert`` per company and deadline. Either way one message goes per
company, deadline and address: running it every hour adds nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company
from cfdi_cobranza.domain.money import fmt_money
from cfdi_cobranza.services.clock import Clock, system_clock
from cfdi_cobranza.services.mail.outbox import PendingRepLine, Queued, queue_deadline_alert
from cfdi_cobranza.services.stamping.queries import pending


def queue_deadline_alerts(session: Session, today: date, *, within_days: int = 3, deadline_day: int = 5,
                          actor: str = "sistema", clock: Clock = system_clock) -> Queued:
    """Payments without REP whose deadline is at most ``within_days`` away (or passed), one
    alert per company and deadline."""
    groups: dict[tuple[int, date], list[PendingRepLine]] = defaultdict(list)
    for p in pending(session, today=today, deadline_day=deadline_day):
        if p.days_left <= within_days:
            groups[(p.company_id, p.deadline)].append(
                PendingRepLine(p.customer_nombre or p.customer_rfc, p.fecha_pago.date(), fmt_money(p.monto, p.moneda)))
    out = Queued()
    for (company_id, deadline), lines in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        company = session.get(Company, company_id)
        if company is None:
            continue
        done = queue_deadline_alert(session, company.rfc, deadline, lines, actor=actor, clock=clock)
        out.ids.extend(done.ids)
        out.duplicates.extend(done.duplicates)
    return out
