"""Which live REP covers an application (a Credit of kind ``pago``).

Kept apart so the payments service can ask without importing the stamping machinery.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Credit, Rep, RepLine
from cfdi_cobranza.domain.states import LIVE_REP_STATUSES


def stamped_rep_covering(session: Session, credit: Credit) -> str | None:
    """UUID (or serie-folio while in flight) of the live REP that includes ``credit``."""
    rep = session.scalar(select(Rep).join(RepLine, RepLine.rep_id == Rep.id)
                         .where(RepLine.credit_id == credit.id, Rep.status.in_(LIVE_REP_STATUSES)))
    if rep is None:
        return None
    return rep.uuid or f"{rep.serie}-{rep.folio} (en envío)"
