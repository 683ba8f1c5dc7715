"""Which stamped REP covers an application (a Credit of kind ``pago``).

Kept apart so the payments service can ask without importing the stamping
machinery. Until the REP tables exist nothing is covered.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Credit


def stamped_rep_covering(session: Session, credit: Credit) -> str | None:
    """UUID of the live (stamped, not cancelled) REP that includes ``credit``, if any."""
    return None
