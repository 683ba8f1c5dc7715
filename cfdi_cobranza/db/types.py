"""Exact column types for money, rates and timestamps on SQLite and PostgreSQL.

PostgreSQL stores NUMERIC and gives Decimal back. SQLite has no decimal type: its
NUMERIC affinity turns values into floats, so there we store a scaled integer
(value x 10^scale) which SQL can still SUM and compare exactly. A value with more
decimals than the column scale is refused rather than silently rounded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class _ScaledDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True
    scale = 6
    precision = 24
    quantum = Decimal("1e-6")

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("floats are not stored as money; use Decimal")
        dec = Decimal(value)
        scaled = dec.scaleb(self.scale)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimals")
        if dialect.name == "sqlite":
            return int(scaled)
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        # Called for every value a query reads (a report reads hundreds of thousands).
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):
                raise TypeError("unexpected float from SQLite for an exact column")
            # An integer scaled by 10^-scale already carries exactly ``scale`` decimals.
            return Decimal(value).scaleb(-self.scale)
        # NUMERIC(p, scale) columns come with ``scale`` decimals; an expression may not.
        return (value if isinstance(value, Decimal) else Decimal(value)).quantize(self.quantum)

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class Money(_ScaledDecimal):
    """Amounts: up to 6 decimals (BaseDR/ImporteDR scale), exact on both databases."""

    cache_ok = True
    scale = 6
    precision = 24
    quantum = Decimal("1e-6")


class Rate(_ScaledDecimal):
    """Exchange rates and equivalences: up to 10 decimals (EquivalenciaDR)."""

    cache_ok = True
    scale = 10
    precision = 28
    quantum = Decimal("1e-10")


class _ScaledInteger(BigInteger):
    """How SQLite stores a ``_ScaledDecimal``: read back as its Decimal, as Money reads it."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        exponent = -self.scale

        def process(value: Any) -> Decimal | None:
            if value is None:
                return None
            if isinstance(value, float):
                raise TypeError("unexpected float from SQLite for an exact column")
            return Decimal(value).scaleb(exponent)

        return process


class MoneySum(TypeDecorator[Decimal]):
    """The SUM of Money values, for a report that reads hundreds of thousands of them.

    SQLite sums Money's scaled integers: read back as Money reads a value. PostgreSQL's
    SUM of NUMERIC(24, 6) has those 6 decimals: the driver's Decimal as it comes, with no
    conversion per value (Money normalizes the scale of any expression).
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _ScaledInteger(Money.scale)
        return dialect.type_descriptor(Numeric(Money.precision, Money.scale, asdecimal=True))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite drops the zone)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored as a timestamp; pass an aware one")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return result
