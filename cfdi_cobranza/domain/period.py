"""Date ranges and reporting periods (ISO week, month) for the receivables reports.

Every report that takes a range (vencimientos, movimiento, estado de cuenta,
proyección) validates it here, so an inverted range is refused the same way
everywhere with code ``RANGO_INVALIDO``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from cfdi_cobranza.errors import ValidationError


def fmt_date(value: date) -> str:
    """Dates as users read them: dd/mm/aaaa."""
    return value.strftime("%d/%m/%Y")


def parse_date(text: str, *, code: str = "FECHA_INVALIDA") -> date:
    """Read ``dd/mm/aaaa`` (what users type) or ``aaaa-mm-dd`` (what APIs send)."""
    cleaned = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
        if 1900 <= parsed.year <= 2999:  # day arithmetic near year 1 or 9999 overflows
            return parsed
        break
    raise ValidationError(
        f"Fecha inválida: {text!r}. Use dd/mm/aaaa, por ejemplo 31/01/2026.", code=code
    )


def overdue_cutoff(as_of: date, today: date | None) -> date:
    """The day a document must be due before to count as overdue in a report as of
    ``as_of``: ``as_of`` itself, but never a day after ``today`` (a report dated in the
    future must not call overdue what is not due yet)."""
    return as_of if today is None else min(as_of, today)


@dataclass(frozen=True, slots=True)
class DateRange:
    """Closed range ``[desde, hasta]``: both days included."""

    desde: date
    hasta: date

    def __post_init__(self) -> None:
        if not isinstance(self.desde, date) or not isinstance(self.hasta, date):
            raise ValidationError(
                "El rango de fechas debe tener fecha inicial y fecha final.",
                code="RANGO_INVALIDO",
            )
        if self.desde > self.hasta:
            raise ValidationError(
                f"Rango de fechas inválido: la fecha inicial {fmt_date(self.desde)} "
                f"es posterior a la fecha final {fmt_date(self.hasta)}.",
                code="RANGO_INVALIDO",
                desde=self.desde,
                hasta=self.hasta,
            )

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.desde <= day <= self.hasta

    @classmethod
    def parse(cls, desde: str, hasta: str) -> DateRange:
        """Range typed by a user; any bad date is a bad range (``RANGO_INVALIDO``)."""
        return cls(
            parse_date(desde, code="RANGO_INVALIDO"), parse_date(hasta, code="RANGO_INVALIDO")
        )

    @property
    def days(self) -> int:
        return (self.hasta - self.desde).days + 1


class Granularity(StrEnum):
    SEMANA = "semana"
    MES = "mes"

    @classmethod
    def parse(cls, text: str) -> Granularity:
        aliases = {"semana": cls.SEMANA, "week": cls.SEMANA, "mes": cls.MES, "month": cls.MES}
        found = aliases.get(text.strip().lower())
        if found is None:
            raise ValidationError(
                f"Periodo desconocido: {text!r}. Use 'semana' o 'mes'.",
                code="PERIODO_INVALIDO",
            )
        return found


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One reporting period: an ISO week (Monday to Sunday) or a calendar month."""

    inicio: date
    fin: date
    etiqueta: str  # "2026-S48" for ISO week 48, "2026-11" for November


def period_of(day: date, granularity: Granularity) -> Period:
    if granularity is Granularity.SEMANA:
        start = day - timedelta(days=day.weekday())
        iso_year, iso_week, _ = start.isocalendar()
        # ISO year, not calendar year: 29/12/2025 belongs to 2026-S01.
        return Period(start, start + timedelta(days=6), f"{iso_year}-S{iso_week:02d}")
    start = day.replace(day=1)
    next_month = (start + timedelta(days=32)).replace(day=1)
    return Period(start, next_month - timedelta(days=1), f"{start.year}-{start.month:02d}")


def periods_between(rng: DateRange, granularity: Granularity) -> Iterator[Period]:
    """Every period that touches ``rng``, in order (the first and last may be partial)."""
    current = period_of(rng.desde, granularity)
    while current.inicio <= rng.hasta:
        yield current
        current = period_of(current.fin + timedelta(days=1), granularity)
