"""Conversion of report amounts to MXN with the rates the caller supplies.

Reports show every currency on its own and, beside it, an MXN view. The rates are a
parameter (the service picks the DOF rate of the fecha de corte, or the user types
one), so the same report can be rebuilt later with the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from cfdi_cobranza.domain.money import MoneyError, parse_amount
from cfdi_cobranza.errors import ValidationError

MXN = "MXN"
_ONE = Decimal(1)


def parse_rates(pairs: Iterable[str]) -> dict[str, Decimal]:
    """``["USD=17.25", "EUR=19.1"]`` as typed after ``--rate``; each rate finite and above zero."""
    out: dict[str, Decimal] = {}
    for pair in pairs:
        currency, sep, value = pair.partition("=")
        try:
            rate = parse_amount(value) if sep and currency.strip() else None
        except MoneyError:
            rate = None
        if rate is None or rate <= 0:
            raise ValidationError(
                f"Tipo de cambio inválido: {pair!r}. Use MONEDA=VALOR con un valor mayor que "
                "cero, por ejemplo USD=17.25.",
                code="TIPO_CAMBIO_INVALIDO",
            )
        out[currency.strip().upper()] = rate
    return out


class MxnRates:
    """Validated ``{currency: pesos per unit}``; MXN is always 1."""

    __slots__ = ("_rates",)

    def __init__(self, rates: Mapping[str, Decimal] | None = None) -> None:
        clean: dict[str, Decimal] = {MXN: _ONE}
        for currency, rate in (rates or {}).items():
            if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
                raise ValidationError(
                    f"Tipo de cambio inválido para {currency}: {rate}. Debe ser mayor que cero.",
                    code="TIPO_CAMBIO_INVALIDO",
                    moneda=currency,
                )
            if currency == MXN and rate != _ONE:
                raise ValidationError(
                    "El tipo de cambio de MXN siempre es 1.",
                    code="TIPO_CAMBIO_INVALIDO",
                    moneda=currency,
                )
            clean[currency] = rate
        self._rates = clean

    def require(self, currencies: Iterable[str]) -> None:
        """Refuse up front, before any work, when a currency has no rate."""
        missing = sorted({c for c in currencies if c not in self._rates})
        if missing:
            raise ValidationError(
                "Falta el tipo de cambio a MXN de: " + ", ".join(missing) + ".",
                code="TIPO_CAMBIO_FALTANTE",
                monedas=",".join(missing),
            )

    def has(self, currency: str) -> bool:
        """Whether ``currency`` has a rate."""
        return currency in self._rates

    def rate(self, currency: str) -> Decimal:
        self.require([currency])
        return self._rates[currency]

    def to_mxn(self, amount: Decimal, currency: str) -> Decimal:
        return amount * self.rate(currency)


def as_rates(rates: MxnRates | Mapping[str, Decimal] | None) -> MxnRates:
    return rates if isinstance(rates, MxnRates) else MxnRates(rates)


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def dof_rate(fix: Sequence[tuple[date, Decimal]], day: date, *,
             max_age_days: int = 10) -> tuple[date, Decimal] | None:
    """The rate the DOF publishes for ``day`` (the SAT's rule for ``TipoCambioP``), from the
    FIX series ``fix`` (``(date of determination, rate)``, any order).

    Banxico determines the FIX each banking day and the DOF publishes it the next banking
    day; on a day with no publication (weekend, holiday) the last published rate rules.
    So the rate of ``day`` is the FIX whose publication date is the latest on or before
    ``day``: a FIX is published on the next date of the series (the next banking day),
    or, for the newest one, the next weekday. ``None`` when no FIX qualifies or the one
    found was determined more than ``max_age_days`` before ``day`` (a gap in the stored
    series, not a long weekend): the caller then asks for the rate.
    """
    points = sorted(fix)
    best: tuple[date, Decimal] | None = None
    for i, (determined, rate) in enumerate(points):
        published = points[i + 1][0] if i + 1 < len(points) else _next_weekday(determined)
        if published > day:
            break
        best = (determined, rate)
    if best is None or (day - best[0]).days > max_age_days:
        return None
    return best
