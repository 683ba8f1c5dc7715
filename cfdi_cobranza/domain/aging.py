"""Antigüedad de saldos: open balances classified by days past their due date.

A document is classified by ``as_of - vencimiento`` in whole days: 0 or less is
"Por vencer" (a document due today is not late yet), 1-30, 31-60 and so on; the last
bucket is open ("Más de 90"). Buckets are configurable with a spec such as
``"0,30,60,90"`` (upper bounds) or ``"1-30,31-60,61-90"`` (ranges); bad specs are
refused with code ``BUCKETS_INVALIDOS`` and a Spanish message saying why.

The report groups by customer, salesperson, zone, classification, branch or company;
each group has one row per currency plus an MXN-converted row. Amounts and
percentages are exact Decimals; percentages are quantized only for display.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import partial
from itertools import pairwise
from operator import add, eq, is_not, itemgetter
from typing import Any, overload

from cfdi_cobranza.domain.fx import MXN, MxnRates, as_rates
from cfdi_cobranza.domain.money import ZERO, quantize
from cfdi_cobranza.domain.receivables import OpenItem, Receivable
from cfdi_cobranza.errors import ValidationError

DEFAULT_SPEC = "0,30,60,90"
MAX_BOUNDS = 12
MAX_DAYS = 3650  # ten years: a larger bound is a typo, not a bucket
_HUNDRED = Decimal(100)
_RANGE_RE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_INT_RE = re.compile(r"^-?\d+$")


def _refuse(reason: str, spec: str) -> ValidationError:
    return ValidationError(
        f"Rangos de antigüedad inválidos ({spec!r}): {reason}", code="BUCKETS_INVALIDOS"
    )


def days_overdue(vencimiento: date, as_of: date) -> int:
    """Whole days past due at ``as_of``; zero or negative means not yet overdue."""
    return (as_of - vencimiento).days


@dataclass(frozen=True, slots=True)
class AgingBuckets:
    """Upper bounds of the overdue ranges; ``(30, 60, 90)`` gives five buckets.

    Bucket 0 is "Por vencer" (days <= 0); bucket i covers ``bounds[i-2]+1 ..
    bounds[i-1]`` days; the last bucket is "Más de ``bounds[-1]``".
    """

    bounds: tuple[int, ...] = (30, 60, 90)

    def __post_init__(self) -> None:
        spec = ",".join(str(b) for b in self.bounds)
        _check_bounds(list(self.bounds), spec)

    @classmethod
    def parse(cls, spec: str | Sequence[int] | None = None) -> AgingBuckets:
        """Read ``"0,30,60,90"``, ``"30,60,90"``, ``"1-30,31-60,61-90"`` or a list of ints.

        A leading 0 only names the "Por vencer" boundary and may be omitted.
        """
        if spec is None:
            spec = DEFAULT_SPEC
        if not isinstance(spec, str):
            if any(isinstance(v, bool) or not isinstance(v, int) for v in spec):
                raise _refuse("los límites deben ser números enteros de días.", str(spec))
            values = list(spec)
            text = ",".join(str(v) for v in values)
        else:
            text = spec.strip()
            tokens = [t.strip() for t in text.split(",")]
            if not text or any(not t for t in tokens):
                raise _refuse("la lista está vacía o tiene elementos vacíos.", text)
            if any(_RANGE_RE.match(t) for t in tokens):
                values = _bounds_from_ranges(tokens, text)
            else:
                bad = [t for t in tokens if not _INT_RE.match(t)]
                if bad:
                    raise _refuse(
                        f"'{bad[0]}' no es un número entero de días ni un rango como 1-30.",
                        text,
                    )
                values = [int(t) for t in tokens]
        if values and values[0] == 0:
            values = values[1:]
        if any(v < 0 for v in values):
            raise _refuse("los días no pueden ser negativos.", text)
        _check_bounds(values, text)
        return cls(tuple(values))

    @property
    def labels(self) -> tuple[str, ...]:
        out = ["Por vencer"]
        low = 1
        for bound in self.bounds:
            out.append(str(low) if low == bound else f"{low}-{bound}")
            low = bound + 1
        out.append(f"Más de {self.bounds[-1]}")
        return tuple(out)

    def __len__(self) -> int:
        return len(self.bounds) + 2

    def index_for(self, days: int) -> int:
        """Bucket index for ``days`` overdue (see class docstring)."""
        if days <= 0:
            return 0
        return bisect_left(self.bounds, days) + 1

    def spec(self) -> str:
        return "0," + ",".join(str(b) for b in self.bounds)


def _check_bounds(values: list[int], spec: str) -> None:
    if not values:
        raise _refuse("indique al menos un límite mayor que cero, por ejemplo 30.", spec)
    if any(v < 0 for v in values):
        raise _refuse("los días no pueden ser negativos.", spec)
    if values[0] == 0:
        raise _refuse("el 0 solo puede ir al principio.", spec)
    for prev, cur in pairwise(values):
        if cur <= prev:
            raise _refuse(
                f"los límites deben ir en orden creciente y sin repetirse ({prev} seguido de {cur}).",
                spec,
            )
    if len(values) > MAX_BOUNDS:
        raise _refuse(f"se permiten como máximo {MAX_BOUNDS} límites.", spec)
    if values[-1] > MAX_DAYS:
        raise _refuse(f"el límite mayor no puede pasar de {MAX_DAYS} días.", spec)


def _bounds_from_ranges(tokens: list[str], spec: str) -> list[int]:
    """Ranges must start at day 1 and follow each other with no gap and no overlap."""
    bounds: list[int] = []
    expected_low = 1
    for token in tokens:
        if token in {"0", "por vencer", "Por vencer"} and not bounds:
            continue
        match = _RANGE_RE.match(token)
        if match is None:
            raise _refuse(f"'{token}' no es un rango como 31-60.", spec)
        low, high = int(match.group(1)), int(match.group(2))
        if high < low:
            raise _refuse(f"el rango {token} está invertido.", spec)
        if low < expected_low and not bounds:
            raise _refuse(
                f"el rango {token} debe empezar en el día 1 (el día 0 es Por vencer).", spec
            )
        if low < expected_low:
            raise _refuse(f"el rango {token} se traslapa con el anterior.", spec)
        if low > expected_low:
            raise _refuse(
                f"falta cubrir del día {expected_low} al {low - 1} antes de {token}.", spec
            )
        bounds.append(high)
        expected_low = high + 1
    return bounds


class GroupBy(StrEnum):
    CLIENTE = "cliente"
    VENDEDOR = "vendedor"
    ZONA = "zona"
    CLASIFICACION = "clasificacion"
    SUCURSAL = "sucursal"
    EMPRESA = "empresa"
    TIPO_COBRANZA = "tipo_cobranza"  # normal, judicial, especial, otra
    CARTERA = "cartera"  # the whole portfolio in one group

    @classmethod
    def parse(cls, text: str | GroupBy) -> GroupBy:
        if isinstance(text, GroupBy):
            return text
        try:
            return cls(text.strip().lower().replace("ó", "o").replace(" ", "_").replace("-", "_"))
        except ValueError:
            options = ", ".join(g.value for g in cls)
            raise ValidationError(
                f"Agrupación desconocida: {text!r}. Opciones: {options}.",
                code="AGRUPACION_INVALIDA",
            ) from None

    @property
    def titulo(self) -> str:
        return {
            "cliente": "Cliente",
            "vendedor": "Vendedor",
            "zona": "Zona",
            "clasificacion": "Clasificación",
            "sucursal": "Sucursal",
            "empresa": "Empresa",
            "tipo_cobranza": "Tipo de cobranza",
            "cartera": "Cartera",
        }[self.value]


SIN_ASIGNAR = "Sin asignar"


def group_key(item: OpenItem | Receivable, group_by: GroupBy) -> tuple[str, str]:
    """(key, display name) of ``item``'s group."""
    if group_by is GroupBy.CLIENTE:
        return item.rfc, f"{item.nombre} ({item.rfc})" if item.nombre else item.rfc
    return group_of(None if group_by is GroupBy.CARTERA else getattr(item, group_by.value), group_by)


def group_of(value: str | None, group_by: GroupBy) -> tuple[str, str]:
    """(key, display name) of the group whose value is ``value``, grouping by anything but
    the customer: a blank or missing value is the unassigned group."""
    if group_by is GroupBy.CARTERA:
        return "*", "Toda la cartera"
    if value is None or not value.strip():
        return "", SIN_ASIGNAR
    return value, value


def pct(part: Decimal, whole: Decimal) -> Decimal:
    """Exact-as-Decimal percentage; 0 when the whole is 0."""
    if whole == 0:
        return ZERO
    return part * _HUNDRED / whole


def pct_display(value: Decimal) -> Decimal:
    return quantize(value, 2)


def shares_to_100(values: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    """Percentages of non-negative ``values`` in hundredths that sum to 100.00.

    Each share is truncated to 0.01 and the missing hundredths go, one each, to the
    shares with the largest truncated remainder (ties: the earlier bucket).
    """
    total = sum(values, ZERO)
    if total <= 0 or any(v < 0 for v in values):
        return tuple(pct_display(pct(v, total)) for v in values)
    exact = [v * 10000 / total for v in values]  # in hundredths of a percent
    floors = [int(x) for x in exact]
    missing = 10000 - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:missing]:
        floors[i] += 1
    return tuple(Decimal(f).scaleb(-2) for f in floors)


@dataclass(frozen=True, slots=True)
class AgingAmounts:
    """Amounts per bucket of one row (or of a total), in one currency."""

    importes: tuple[Decimal, ...]
    documentos: int

    @property
    def total(self) -> Decimal:
        return sum(self.importes, ZERO)

    @property
    def porcentajes(self) -> tuple[Decimal, ...]:
        total = self.total
        return tuple(pct(v, total) for v in self.importes)

    def porcentajes_display(self) -> tuple[Decimal, ...]:
        """Bucket shares with 2 decimals that add up to exactly 100.00 (largest remainder).

        Rounding each share on its own can print 99.99 or 100.01 under a 100.00 total.
        """
        return shares_to_100(self.importes)


@dataclass(frozen=True, slots=True)
class AgingRow(AgingAmounts):
    """One group in one currency: its amounts (one object per row, not two), who it is and its share."""

    grupo: str  # stable key (RFC, salesperson code ...); "" for "Sin asignar"
    nombre: str  # what the user reads
    moneda: str
    participacion: Decimal  # % of the currency's grand total this row holds


class AgingRows(Sequence[AgingRow]):
    """A report's rows, each made when read (index, slice, iteration) from the sums it comes from.

    A report by customer has a few hundred thousand rows; a page shows a hundred and an
    export writes each as it goes, so none needs them all alive at once (nor the collector
    to walk them). Equal to any sequence of the same rows, a tuple included.
    """

    __slots__ = ("_count", "_make")

    def __init__(self, count: int, make: Callable[[int], AgingRow]) -> None:
        self._count = count
        self._make = make

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> AgingRow: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[AgingRow, ...]: ...

    def __getitem__(self, index: int | slice) -> AgingRow | tuple[AgingRow, ...]:
        if isinstance(index, slice):
            return tuple(map(self._make, range(self._count)[index]))
        return self._make(range(self._count)[index])  # range refuses an index out of range

    def __iter__(self) -> Iterator[AgingRow]:
        return map(self._make, range(self._count))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(other) == self._count and all(map(eq, self, other))


@dataclass(frozen=True, slots=True)
class AgingLine:
    """One document in the detail of the report."""

    item: OpenItem
    dias_vencido: int
    bucket: int


@dataclass(frozen=True, slots=True)
class AgingReport:
    fecha_corte: date
    buckets: AgingBuckets
    agrupacion: GroupBy
    filas: Sequence[AgingRow]  # per group per currency, sorted by group name then currency
    totales: Mapping[str, AgingAmounts]  # per currency
    filas_mxn: Sequence[AgingRow]  # per group, every currency converted to MXN
    total_mxn: AgingAmounts
    tipos_cambio: Mapping[str, Decimal]  # rates used for the MXN view
    detalle: tuple[AgingLine, ...]  # documents, most overdue first

    @property
    def etiquetas(self) -> tuple[str, ...]:
        return self.buckets.labels


GroupSums = Sequence[Any]
"""One group in one currency, as a SQL ``GROUP BY`` gives it:
``(key, display name, currency, documents, amount of bucket 0, amount of bucket 1, ...)``;
an empty bucket is ``None`` (SQL's NULL sum) or ``Decimal(0)``."""

_REPORT_ORDER = itemgetter(1, 0, 2)  # rows sort by group name, then key, then currency


_present = partial(is_not, None)  # an amount, not an empty bucket (NULL); a zero adds nothing


def _amounts(sums: GroupSums) -> tuple[Decimal, ...]:
    """The amounts per bucket of one entry of ``sums``, an empty bucket as zero."""
    return tuple([ZERO if v is None else v for v in sums[4:]])


def aging_report(
    items: Iterable[OpenItem],
    as_of: date,
    buckets: AgingBuckets | str | Sequence[int] | None = None,
    group_by: GroupBy | str = GroupBy.CLIENTE,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None = None,
) -> AgingReport:
    """Classify ``items`` (balances at ``as_of``) by days overdue and total them.

    Items with a zero balance are skipped; a negative balance is refused (a saldo a
    favor is reported as saldo sin aplicar, never netted against debts). Every
    currency present needs a rate in ``rates_to_mxn`` (code ``TIPO_CAMBIO_FALTANTE``).
    The documents are summed per group, currency and bucket, and the report is built
    from those sums by ``aging_from_sums``, as the SQL report is.
    """
    spec = buckets if isinstance(buckets, AgingBuckets) else AgingBuckets.parse(buckets)
    grouping = GroupBy.parse(group_by)
    kept = [i for i in items if i.saldo != 0]
    for item in kept:
        if item.saldo < 0:
            raise ValidationError(
                f"El documento {item.referencia or item.doc_id} tiene saldo negativo; "
                "los saldos a favor no entran en la antigüedad de saldos.",
                code="SALDO_NEGATIVO",
                doc_id=item.doc_id,
            )
    as_rates(rates_to_mxn).require(i.moneda for i in kept)

    sums: dict[tuple[str, str], list[Any]] = {}
    lines: list[AgingLine] = []
    for item in kept:
        days = days_overdue(item.vencimiento, as_of)
        index = spec.index_for(days)
        key, name = group_key(item, grouping)
        row = sums.get((key, item.moneda))
        if row is None:
            row = sums[(key, item.moneda)] = [key, name, item.moneda, 0, *([ZERO] * len(spec))]
        row[3] += 1
        row[4 + index] += item.saldo
        lines.append(AgingLine(item, days, index))
    lines.sort(key=lambda ln: (-ln.dias_vencido, ln.item.rfc, ln.item.doc_id))
    report = aging_from_sums(sums.values(), as_of, spec, grouping, rates_to_mxn)
    return replace(report, detalle=tuple(lines))


def aging_from_sums(
    sums: Iterable[GroupSums],
    as_of: date,
    buckets: AgingBuckets,
    group_by: GroupBy,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None,
) -> AgingReport:
    """The report (without ``detalle``) from balances summed per group, currency and bucket.

    ``sums`` has one entry per (group key, currency), a key always with the same name
    (see ``GroupSums``), in any order. Rows sort by (name, key, currency); each row's
    share is of its currency's total. The MXN view converts each row at its currency's
    rate and adds up the rows of a group; a group that is one row worth its own
    conversion (a peso row) keeps that row's amounts. Only the totals are computed here;
    the rows are made when read (``AgingRows``).
    """
    rates = as_rates(rates_to_mxn)
    size = len(buckets)
    ordered = tuple(sorted(sums, key=_REPORT_ORDER))
    if set(map(len, ordered)) - {4 + size}:
        raise ValueError(f"each entry needs key, name, currency, documents and {size} amounts")
    currencies = sorted({s[2] for s in ordered})
    rates.require(currencies)
    rate = {cur: rates.rate(cur) for cur in currencies}
    # Rates that leave an amount as it is, digits and exponent (Decimal(1), not 1.00).
    same = {cur for cur, r in rate.items() if r == 1 and r.as_tuple().exponent == 0}

    # The totals, a column at a time: per currency, then converted to MXN.
    totals: dict[str, AgingAmounts] = {}
    converted: list[tuple[Decimal, ...]] = []
    for cur in currencies:
        rows = [s for s in ordered if s[2] == cur]
        columns = [list(map(itemgetter(4 + b), rows)) for b in range(size)]
        totals[cur] = AgingAmounts(tuple([sum(filter(_present, col), ZERO) for col in columns]),
                                   sum(map(itemgetter(3), rows)))
        if cur in same:
            converted.append(totals[cur].importes)
        else:  # as each row converts: every amount, an empty bucket as zero, times the rate
            r = rate[cur]
            converted.append(tuple([sum([(ZERO if v is None else v) * r for v in col], ZERO) for col in columns]))
    total_mxn = AgingAmounts(tuple([sum(col, ZERO) for col in zip(*converted, strict=True)]) if converted
                             else (ZERO,) * size,
                             sum(t.documentos for t in totals.values()))
    whole = {cur: t.total for cur, t in totals.items()}
    grand = total_mxn.total

    def row(i: int) -> AgingRow:
        s = ordered[i]
        amounts = _amounts(s)
        return AgingRow(amounts, s[3], s[0], s[1], s[2], pct(sum(amounts, ZERO), whole[s[2]]))

    # The MXN view: one row per group; a group's rows are consecutive.
    keys = [s[0] for s in ordered]
    starts = (*(i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]), len(keys))

    def in_pesos(s: GroupSums) -> tuple[Decimal, ...]:
        amounts = _amounts(s)
        return amounts if s[2] in same else tuple([v * rate[s[2]] for v in amounts])

    def row_mxn(j: int) -> AgingRow:
        first, *others = group = ordered[starts[j]:starts[j + 1]]
        amounts = in_pesos(first)
        for other in others:
            amounts = tuple(map(add, amounts, in_pesos(other)))
        return AgingRow(amounts, sum(s[3] for s in group), first[0], first[1], MXN, pct(sum(amounts, ZERO), grand))

    return AgingReport(
        fecha_corte=as_of,
        buckets=buckets,
        agrupacion=group_by,
        filas=AgingRows(len(ordered), row),
        totales=totals,
        filas_mxn=AgingRows(len(starts) - 1, row_mxn),
        total_mxn=total_mxn,
        tipos_cambio=rate,
        detalle=(),
    )
