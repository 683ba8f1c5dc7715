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


# The one window of dates any input may carry (a payment, a bank row, a report filter).
# Day and month arithmetic near year 1 or 9999 overflows (the REP deadline is the 5th
# of the next month), and no receivable is dated before 1900 or after 2999.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)


def date_in_window(day: date) -> bool:
    """Whether ``day`` (or a datetime's day) falls inside ``MIN_DATE``..``MAX_DATE``."""
    only_day = day.date() if isinstance(day, datetime) else day
    return MIN_DATE <= only_day <= MAX_DATE


def window_message(label: str, day: date) -> str:
    """Spanish refusal of a date outside the window, naming the field."""
    return (f"{label} {day.isoformat()[:10]} está fuera del rango permitido "
            f"({fmt_date(MIN_DATE)} a {fmt_date(MAX_DATE)}).")


def check_date_window(day: date, label: str = "La fecha", *, code: str = "FECHA_FUERA_DE_RANGO") -> date:
    """``day`` itself, or a ``ValidationError`` when it is outside the window."""
    if not date_in_window(day):
        raise ValidationError(window_message(label, day), code=code, fecha=day.isoformat()[:10])
    return day


def add_days(day: date, days: int) -> date:
    """``day + days``, held at ``date.min``/``date.max`` instead of overflowing.

    Stored dates came through the window above, but a rule may still add a long term or
    horizon to them; reports must never crash on arithmetic.
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def last_of_month(day: date) -> date:
    """The last day of ``day``'s month (December 9999 included)."""
    if day.month == 12:
        return day.replace(day=31)
    return day.replace(month=day.month + 1, day=1) - timedelta(days=1)


def day_of_next_month(day: date, which: int) -> date:
    """Day ``which`` of the month after ``day``; ``date.max`` past the calendar's end."""
    if day.month < 12:
        return day.replace(month=day.month + 1, day=which)
    if day.year >= date.max.year:
        return date.max
    return date(day.year + 1, 1, which)


def parse_date(text: str, *, code: str = "FECHA_INVALIDA") -> date:
    """Read ``dd/mm/aaaa`` (what users type) or ``aaaa-mm-dd`` (what APIs send)."""
    cleaned = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
        if date_in_window(parsed):
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
        start = add_days(day, -day.weekday())
        iso_year, iso_week, _ = start.isocalendar()
        # ISO year, not calendar year: 29/12/2025 belongs to 2026-S01.
        return Period(start, add_days(start, 6), f"{iso_year}-S{iso_week:02d}")
    start = day.replace(day=1)
    return Period(start, last_of_month(start), f"{start.year}-{start.month:02d}")


def periods_between(rng: DateRange, granularity: Granularity) -> Iterator[Period]:
    """Every period that touches ``rng``, in order (the first and last may be partial)."""
    current = period_of(rng.desde, granularity)
    while current.inicio <= rng.hasta:
        yield current
        if current.fin >= date.max:
            return
        current = period_of(current.fin + timedelta(days=1), granularity)
