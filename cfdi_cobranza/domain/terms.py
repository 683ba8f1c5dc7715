"""Credit terms: when an imported invoice falls due (vencimiento).

Rule (documented in the README):
1. If CondicionesDePago states a number of days ("30 días", "NETO 45", "Crédito a 60
   dias", "15 DIAS"), the invoice is due that many days after its Fecha.
2. "Contado" / "de contado" means due on the invoice date.
3. Otherwise it is due after the customer's credit term (``credit_days`` on the
   customer record), or the instance default (30 days) when the customer has none.
"""

from __future__ import annotations

import re
from datetime import date

from cfdi_cobranza.domain.period import add_days

_DAYS_RE = re.compile(
    r"(?:(?:neto|net|cr[eé]dito(?:\s+a)?|plazo(?:\s+de)?)\s*(\d{1,3})\b)|(?:\b(\d{1,3})\s*d[ií]as?\b)",
    re.IGNORECASE,
)
_CASH_RE = re.compile(r"\bcontado\b", re.IGNORECASE)


def days_from_conditions(condiciones: str | None) -> int | None:
    """Days of credit stated in CondicionesDePago, or None when it states none."""
    if not condiciones:
        return None
    match = _DAYS_RE.search(condiciones)
    if match:
        days = int(match.group(1) or match.group(2))
        return days if days <= 365 else None
    if _CASH_RE.search(condiciones):
        return 0
    return None


def due_date(fecha: date, condiciones: str | None, customer_days: int | None, default_days: int) -> date:
    stated = days_from_conditions(condiciones)
    if stated is not None:
        return add_days(fecha, stated)
    return add_days(fecha, customer_days if customer_days is not None else default_days)
