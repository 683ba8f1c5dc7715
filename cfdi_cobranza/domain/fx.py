"""Conversion of report amounts to MXN with the rates the caller supplies.

Reports show every currency on its own and, beside it, an MXN view. The rates are a
parameter (the service picks the DOF rate of the fecha de corte, or the user types
one), so the same report can be rebuilt later with the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
