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
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum
from itertools import chain, compress, islice, pairwise, repeat
from operator import add, and_, attrgetter, eq, ge, itemgetter, mul, ne, not_, sub, truediv
from typing import Any, TypeVar

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
    CARTERA = "cartera"  # the whole portfolio in one group

    @classmethod
    def parse(cls, text: str | GroupBy) -> GroupBy:
        if isinstance(text, GroupBy):
            return text
        try:
            return cls(text.strip().lower().replace("ó", "o"))
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
            "cartera": "Cartera",
        }[self.value]


SIN_ASIGNAR = "Sin asignar"


def group_key(item: OpenItem | Receivable, group_by: GroupBy) -> tuple[str, str]:
    """(key, display name) of ``item``'s group."""
    if group_by is GroupBy.CLIENTE:
        return item.rfc, f"{item.nombre} ({item.rfc})" if item.nombre else item.rfc
    if group_by is GroupBy.CARTERA:
        return "*", "Toda la cartera"
    value: str | None = getattr(item, group_by.value)
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
class AgingRow:
    grupo: str  # stable key (RFC, salesperson code ...); "" for "Sin asignar"
    nombre: str  # what the user reads
    moneda: str
    montos: AgingAmounts
    participacion: Decimal  # % of the currency's grand total this row holds


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
    filas: tuple[AgingRow, ...]  # per group per currency, sorted by group name then currency
    totales: Mapping[str, AgingAmounts]  # per currency
    filas_mxn: tuple[AgingRow, ...]  # per group, every currency converted to MXN
    total_mxn: AgingAmounts
    tipos_cambio: Mapping[str, Decimal]  # rates used for the MXN view
    detalle: tuple[AgingLine, ...]  # documents, most overdue first

    @property
    def etiquetas(self) -> tuple[str, ...]:
        return self.buckets.labels


class _Acc:
    __slots__ = ("docs", "values")

    def __init__(self, size: int) -> None:
        self.values = [ZERO] * size
        self.docs = 0

    def add(self, index: int, amount: Decimal) -> None:
        self.values[index] += amount
        self.docs += 1

    def freeze(self) -> AgingAmounts:
        return AgingAmounts(tuple(self.values), self.docs)


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
    """
    spec = buckets if isinstance(buckets, AgingBuckets) else AgingBuckets.parse(buckets)
    grouping = GroupBy.parse(group_by)
    rates = as_rates(rates_to_mxn)
    size = len(spec)

    kept = [i for i in items if i.saldo != 0]
    for item in kept:
        if item.saldo < 0:
            raise ValidationError(
                f"El documento {item.referencia or item.doc_id} tiene saldo negativo; "
                "los saldos a favor no entran en la antigüedad de saldos.",
                code="SALDO_NEGATIVO",
                doc_id=item.doc_id,
            )
    rates.require(i.moneda for i in kept)

    names: dict[str, str] = {}
    per_row: dict[tuple[str, str], _Acc] = defaultdict(lambda: _Acc(size))
    per_currency: dict[str, _Acc] = defaultdict(lambda: _Acc(size))
    per_group_mxn: dict[str, _Acc] = defaultdict(lambda: _Acc(size))
    total_mxn = _Acc(size)
    lines: list[AgingLine] = []
    for item in kept:
        days = days_overdue(item.vencimiento, as_of)
        index = spec.index_for(days)
        key, name = group_key(item, grouping)
        names.setdefault(key, name)
        per_row[(key, item.moneda)].add(index, item.saldo)
        per_currency[item.moneda].add(index, item.saldo)
        mxn = rates.to_mxn(item.saldo, item.moneda)
        per_group_mxn[key].add(index, mxn)
        total_mxn.add(index, mxn)
        lines.append(AgingLine(item, days, index))

    totals = {cur: acc.freeze() for cur, acc in sorted(per_currency.items())}
    rows = tuple(
        AgingRow(
            grupo=key,
            nombre=names[key],
            moneda=cur,
            montos=acc.freeze(),
            participacion=pct(sum(acc.values, ZERO), totals[cur].total),
        )
        for (key, cur), acc in sorted(per_row.items(), key=lambda kv: (names[kv[0][0]], kv[0]))
    )
    grand_mxn = total_mxn.freeze()
    rows_mxn = tuple(
        AgingRow(
            grupo=key,
            nombre=names[key],
            moneda=MXN,
            montos=acc.freeze(),
            participacion=pct(sum(acc.values, ZERO), grand_mxn.total),
        )
        for key, acc in sorted(per_group_mxn.items(), key=lambda kv: (names[kv[0]], kv[0]))
    )
    used = {cur: rates.rate(cur) for cur in totals}
    lines.sort(key=lambda ln: (-ln.dias_vencido, ln.item.rfc, ln.item.doc_id))
    return AgingReport(
        fecha_corte=as_of,
        buckets=spec,
        agrupacion=grouping,
        filas=rows,
        totales=totals,
        filas_mxn=rows_mxn,
        total_mxn=grand_mxn,
        tipos_cambio=used,
        detalle=tuple(lines),
    )


GroupSums = Sequence[Any]
"""One group in one currency, as a SQL ``GROUP BY`` gives it:
``(key, name, currency, documents, amount of bucket 0, amount of bucket 1, ...)``;
an empty bucket is ``None`` (SQL's NULL sum) or ``Decimal(0)``."""

# Frozen slotted dataclasses: their generated ``__init__`` writes each slot through
# ``object.__setattr__`` (a global, an attribute lookup and a call per field). A report
# by customer creates a few hundred thousand of them, so ``aging_from_sums`` writes the
# same slots through their descriptors directly, a column at a time (``map`` in C): the
# very same objects in a fraction of the time (bench/bench_collections.py). Nothing else
# sees an object before all of its fields are set.
_AMOUNTS_FIELDS = ("importes", "documentos")
_ROW_FIELDS = ("grupo", "nombre", "moneda", "montos", "participacion")
if tuple(f.name for f in fields(AgingAmounts)) != _AMOUNTS_FIELDS or (
    tuple(f.name for f in fields(AgingRow)) != _ROW_FIELDS
):  # pragma: no cover - a new field must be set here too
    raise TypeError("aging: _many_amounts and _many_rows must set every field")
_T = TypeVar("_T")
_AMOUNTS_SETTERS = tuple(vars(AgingAmounts)[name].__set__ for name in _AMOUNTS_FIELDS)
_ROW_SETTERS = tuple(vars(AgingRow)[name].__set__ for name in _ROW_FIELDS)


def _build(
    cls: type[_T], setters: tuple[Any, ...], n: int, columns: tuple[Iterable[Any], ...]
) -> list[_T]:
    """``[cls(*values) for values in zip(*columns)]`` for ``n`` objects, field by field."""
    if any(len(col) != n for col in columns if isinstance(col, Sized)):
        raise ValueError("every field needs one value per object")
    objs = list(map(object.__new__, repeat(cls, n)))
    for setter, column in zip(setters, columns, strict=True):
        deque(map(setter, objs, column), maxlen=0)
    return objs


def _many_amounts(
    importes: Sequence[tuple[Decimal, ...]], documentos: Iterable[int]
) -> list[AgingAmounts]:
    """``AgingAmounts(i, d)`` for each pair."""
    return _build(AgingAmounts, _AMOUNTS_SETTERS, len(importes), (importes, documentos))


def _many_rows(
    grupos: Iterable[str],
    nombres: Iterable[str],
    monedas: Iterable[str],
    montos: Iterable[AgingAmounts],
    participaciones: Sequence[Decimal],
) -> tuple[AgingRow, ...]:
    """``AgingRow(g, n, m, a, p)`` for each 5-tuple."""
    columns = (grupos, nombres, monedas, montos, participaciones)
    return tuple(_build(AgingRow, _ROW_SETTERS, len(participaciones), columns))


def _is_one(rate: Decimal) -> bool:
    """``x * rate`` is ``x`` itself, same digits and exponent (``Decimal(1)``, not ``1.00``)."""
    return rate == 1 and rate.as_tuple().exponent == 0


def _sum_across(columns: Sequence[Sequence[Decimal]], n: int) -> list[Decimal]:
    """Per row, ``sum(row, ZERO)`` of the row's values in ``columns``: ZERO + c0 + c1 + ..."""
    acc: Iterable[Decimal] = repeat(ZERO, n)
    for col in columns:
        acc = map(add, acc, col)
    return list(acc)


CHUNK_ROWS = 8192
"""Sums ``AgingSums.add`` takes at a time (a streamed query hands over rows as they come)."""

_BY_NAME = itemgetter(1, 0, 2)  # the report's row order (name, key, currency) of a sum
_ROW_ORDER = attrgetter("nombre", "grupo", "moneda")  # the same, of a row
_GROUP_ORDER = attrgetter("nombre", "grupo")  # the order of the MXN view's rows
_GRUPO, _NOMBRE, _MONEDA, _MONTOS, _PARTICIPACION = (attrgetter(f) for f in _ROW_FIELDS)
_IMPORTES, _DOCUMENTOS = (attrgetter(f) for f in _AMOUNTS_FIELDS)
_SET_PARTICIPACION = _ROW_SETTERS[_ROW_FIELDS.index("participacion")]


class AgingSums:
    """The report of ``aging_from_sums``, fed a chunk of sums at a time.

    ``add`` does, chunk by chunk, all the work that needs neither the other chunks nor
    the exchange rates: the amounts of every row, its total, the row objects, the
    totals per currency. A caller reading the sums from a database as they arrive (a
    streamed query) so builds most of the report while the database still computes
    the rest. ``report`` then puts the rows in order, gives each its share of its
    currency's total and builds the MXN view with the rates (which the caller can look
    up once the currencies are known). A caller that has the rates earlier gives them
    (``set_rates``) and adds batches of whole groups (``add`` or ``add_columns`` with
    every row of a group): each batch's MXN view is then built as it comes, and
    ``report`` only merges and divides, provided it is given the same rates. The figures
    are those of ``aging_from_sums``, whatever the order and size of the chunks and
    whenever the rates come: Decimal sums of these amounts are exact, so the order of the
    additions changes neither a digit nor an exponent.
    """

    __slots__ = ("_docs", "_done", "_early", "_edges", "_mxn", "_pending", "_rows", "_subtotals", "buckets")

    def __init__(self, buckets: AgingBuckets, rates_to_mxn: MxnRates | None = None) -> None:
        """``rates_to_mxn`` (or ``set_rates``): rates known before ``report``, the same it
        will be given for the currencies they have; ``add`` then builds the MXN view of
        each batch of whole groups too (see ``_EarlyMxn``), so that ``report`` has less
        left to do."""
        self.buckets = buckets
        self._early: MxnRates | None = None
        self._mxn: _EarlyMxn | None = None
        self._pending: list[tuple[int, int, bool]] = []  # batches waiting for their rates
        # Row objects, each chunk's sorted; until ``report`` their ``participacion`` holds
        # the row's total times 100 (the currency totals it is a share of come last).
        self._rows: list[AgingRow] = []
        self._subtotals: dict[str, list[Decimal]] = {}  # per currency, per bucket
        self._docs: dict[str, int] = {}  # per currency
        self._edges: list[int] = []  # where chunks meet: the index of each side's row
        self._done = False
        if rates_to_mxn is not None:
            self.set_rates(rates_to_mxn)

    @property
    def currencies(self) -> set[str]:
        """The currencies of the sums added so far."""
        return set(self._docs)

    @property
    def rates(self) -> MxnRates | None:
        """The rates given before ``report`` (``set_rates``), if any."""
        return self._early

    def set_rates(self, rates_to_mxn: MxnRates) -> None:
        """Rates known before ``report`` (see ``__init__``), for some currencies or all: the
        batches added so far whose currencies they all have get their MXN view now, the
        others when rates that have them come."""
        if self._done:
            raise RuntimeError("AgingSums: the report was already built")
        self._early = rates_to_mxn
        if self._mxn is None:
            self._mxn = _EarlyMxn()
        pending, self._pending = self._pending, []
        for start, end, ordered in pending:
            self._early_batch(start, end, ordered)

    def add(self, sums: Iterable[GroupSums]) -> None:
        """Take ``sums`` (see ``GroupSums``), ``CHUNK_ROWS`` at a time, in any order."""
        start, edges = len(self._rows), len(self._edges)
        it = iter(sums)
        while chunk := list(islice(it, CHUNK_ROWS)):
            self._add_chunk(chunk)
        self._early_view(start, edges)

    def add_columns(
        self,
        keys: Sequence[str],
        names: Sequence[str],
        monedas: Sequence[str],
        docs: Sequence[int],
        amounts: Sequence[Sequence[Decimal]],
    ) -> None:
        """Take sums by column, as ``add`` takes them by row: one entry per (key, currency)
        in ``keys``, ``names``, ``monedas`` and ``docs``, and one column of amounts per
        bucket. An empty bucket must be ``ZERO`` itself (``domain.money.ZERO``), which a
        caller converting the amounts column by column writes at no cost."""
        n = len(keys)
        if len(amounts) != len(self.buckets) or any(
            len(col) != n for col in (names, monedas, docs, *amounts)
        ):
            raise ValueError(f"each entry needs key, name, currency, documents and {len(self.buckets)} amounts")
        if not n:
            return
        order = list(zip(names, keys, monedas, strict=True))  # _BY_NAME of each entry
        if any(map(ge, order, order[1:])):  # not in the report's order: sort the columns
            at = sorted(range(n), key=order.__getitem__)
            keys, names, monedas = ([col[i] for i in at] for col in (keys, names, monedas))
            docs = [docs[i] for i in at]
            amounts = [[col[i] for i in at] for col in amounts]
        start, edges = len(self._rows), len(self._edges)
        self._add_columns(keys, names, monedas, docs, amounts)
        self._early_view(start, edges)

    def _early_view(self, start: int, edges: int) -> None:
        """With rates given before ``report``, the MXN view of the rows added since ``start``
        (``edges``: the length of ``_edges`` then), if they hold whole groups in order."""
        if len(self._rows) == start:
            return
        end = len(self._rows)
        inner = [e for pair in zip(self._edges[edges::2], self._edges[edges + 1::2], strict=True)
                 if pair[0] >= start for e in pair]
        self._early_batch(start, end, _runs_in_order(self._rows, inner, _ROW_ORDER))

    def _early_batch(self, start: int, end: int, ordered: bool) -> None:
        """The MXN view of rows ``start:end`` if the rates have their currencies, else later."""
        if self._mxn is None or self._early is None:
            self._pending.append((start, end, ordered))
            return
        if not self._mxn.usable:
            return
        rows = self._rows[start:end]
        if not all(map(self._early.has, set(map(_MONEDA, rows)))):
            self._pending.append((start, end, ordered))
            return
        self._mxn.add(rows, self._early, ordered)

    def _add_chunk(self, chunk: list[GroupSums]) -> None:
        size = len(self.buckets)
        if set(map(len, chunk)) != {4 + size}:
            raise ValueError(f"each entry needs key, name, currency, documents and {size} amounts")
        # In the report's order: ``report`` then only merges the chunks' runs (nothing to
        # do when the chunks come in that order, as the rows of an ordered query do).
        chunk.sort(key=_BY_NAME)
        columns: list[tuple[Any, ...]] = list(zip(*chunk, strict=True))
        keys, names, monedas, docs = columns[:4]
        by_bucket = [[ZERO if v is None else v for v in col] for col in columns[4:]]
        self._add_columns(keys, names, monedas, docs, by_bucket)

    def _add_columns(
        self,
        keys: Sequence[str],
        names: Sequence[str],
        monedas: Sequence[str],
        docs: Sequence[int],
        by_bucket: Sequence[Sequence[Decimal]],
    ) -> None:
        """Rows in the report's order, an empty bucket as ZERO."""
        if self._done:
            raise RuntimeError("AgingSums: the report was already built")
        n = len(keys)
        montos = _many_amounts(list(zip(*by_bucket, strict=True)), docs)
        hundreds = map(mul, _sum_across(by_bucket, n), repeat(_HUNDRED))  # pct()'s numerator
        if self._rows:  # the last row of the previous chunk and the first of this one
            self._edges += (len(self._rows) - 1, len(self._rows))
        self._rows += _build(AgingRow, _ROW_SETTERS, n, (keys, names, monedas, montos, hundreds))
        present = set(monedas)
        for cur in present:
            cur_columns: Iterable[Iterable[Decimal]] = by_bucket
            cur_docs: Iterable[int] = docs
            if len(present) > 1:
                mask = list(map(eq, monedas, repeat(cur)))
                cur_columns = [compress(col, mask) for col in by_bucket]
                cur_docs = compress(docs, mask)
            subtotals = [sum(col, ZERO) for col in cur_columns]
            prev = self._subtotals.get(cur)
            self._subtotals[cur] = subtotals if prev is None else list(map(add, prev, subtotals))
            self._docs[cur] = self._docs.get(cur, 0) + sum(cur_docs)

    def report(
        self,
        as_of: date,
        group_by: GroupBy,
        rates_to_mxn: MxnRates | Mapping[str, Decimal] | None,
    ) -> AgingReport:
        """The report of the sums added (once: the rows become the report's)."""
        if self._done:
            raise RuntimeError("AgingSums: the report was already built")
        rates = as_rates(rates_to_mxn)
        size = len(self.buckets)
        currencies = sorted(self._docs)
        rates.require(currencies)
        self._done = True
        totales = {cur: AgingAmounts(tuple(self._subtotals[cur]), self._docs[cur]) for cur in currencies}
        whole = {cur: sum(self._subtotals[cur], ZERO) for cur in currencies}

        filas = self._rows
        self._rows = []
        early = self._mxn if self._mxn is not None and not self._pending and self._mxn.agrees(rates) else None
        # Each chunk is sorted: when each chunk's last row comes before the next one's
        # first (the chunks came in order), they already are in the report's order.
        if not _runs_in_order(filas, self._edges, _ROW_ORDER):
            filas.sort(key=_ROW_ORDER)  # the chunks' sorted runs are merged, not sorted again
        hundreds = list(map(_PARTICIPACION, filas))  # row total * 100, set by _add_chunk
        monedas = list(map(_MONEDA, filas))
        shares = _divide(hundreds, list(map(whole.__getitem__, monedas)))
        deque(map(_SET_PARTICIPACION, filas, shares), maxlen=0)

        pesos = {cur for cur in currencies if _is_one(rates.rate(cur))}
        if early is None:  # the MXN view of every row, now
            mxn = _EarlyMxn()
            mxn.add(filas, rates, True, hundreds=hundreds, monedas=monedas, pesos=pesos, early=False)
        else:
            mxn = early
        # A currency worth one peso: its rows' amounts are their own conversion.
        grand_parts = [totales[cur].importes if cur in pesos else mxn.parts[cur] for cur in currencies]
        grand = (
            tuple(sum(col, ZERO) for col in zip(*grand_parts, strict=True))
            if grand_parts
            else (ZERO,) * size
        )
        total_mxn = AgingAmounts(grand, sum(self._docs.values()))
        filas_mxn = mxn.rows
        if not _runs_in_order(filas_mxn, mxn.edges, _GROUP_ORDER):
            filas_mxn.sort(key=_GROUP_ORDER)
        g_hundreds = list(map(_PARTICIPACION, filas_mxn))  # group total * 100, set by _EarlyMxn
        deque(map(_SET_PARTICIPACION, filas_mxn, _divide(g_hundreds, [total_mxn.total] * len(g_hundreds))),
              maxlen=0)
        return AgingReport(
            fecha_corte=as_of,
            buckets=self.buckets,
            agrupacion=group_by,
            filas=tuple(filas),
            totales=totales,
            filas_mxn=tuple(filas_mxn),
            total_mxn=total_mxn,
            tipos_cambio={cur: rates.rate(cur) for cur in totales},
            detalle=(),
        )


class _EarlyMxn:
    """The MXN view of an aging report by customer, built a batch of rows at a time.

    Each batch holds whole groups in the report's order (a group's rows are consecutive);
    for each group it builds its MXN row, whose ``participacion`` holds the group's total
    times 100 until ``AgingSums.report`` knows the grand total, and it adds up, per
    currency not worth one peso, its rows' amounts in MXN. A group seen in two batches,
    a batch out of order or a currency without its rate leaves it unusable
    (``usable``): ``report`` then builds the view from all the rows at once.
    """

    __slots__ = ("edges", "groups", "parts", "rows", "usable", "used")

    def __init__(self) -> None:
        self.used: dict[str, Decimal] = {}  # the rate of each currency converted
        self.rows: list[AgingRow] = []
        self.parts: dict[str, tuple[Decimal, ...]] = {}  # per currency not worth a peso
        self.groups: set[str] = set()
        self.edges: list[int] = []  # where batches meet: the index of each side's row
        self.usable = True

    def add(
        self,
        filas: list[AgingRow],
        rates: MxnRates,
        ordered: bool,
        *,
        hundreds: list[Decimal] | None = None,
        monedas: list[str] | None = None,
        pesos: set[str] | None = None,
        early: bool = True,
    ) -> None:
        """The MXN view of ``filas`` (their ``participacion`` still the row total times 100,
        unless ``hundreds`` is given), sorted in the report's order if ``ordered``."""
        if not self.usable:
            return
        n = len(filas)
        if hundreds is None:
            hundreds = list(map(_PARTICIPACION, filas))
        if monedas is None:
            monedas = list(map(_MONEDA, filas))
        present = set(monedas)
        if not ordered or not all(map(rates.has, present)):
            self.usable = False
            return
        if pesos is None:
            pesos = {cur for cur in present if _is_one(rates.rate(cur))}
        for cur in present:
            rate = rates.rate(cur)
            if self.used.setdefault(cur, rate).as_tuple() != rate.as_tuple():  # not one rate
                self.usable = False
                return
        in_mxn = list(map(_IMPORTES, map(_MONTOS, filas)))
        for cur in sorted(present - pesos):
            rate = rates.rate(cur)
            at = list(compress(range(n), map(eq, monedas, repeat(cur))))
            zero_in_mxn = ZERO * rate  # most buckets are empty: one product serves them all
            converted = [
                [zero_in_mxn if v is ZERO else v * rate for v in col]
                for col in zip(*map(in_mxn.__getitem__, at), strict=True)
            ]
            prev = self.parts.get(cur)
            if early:
                # Batch by batch the sums are added in another order than in one pass: the
                # same digits only if no addition rounds (a rate with many decimals, huge
                # amounts); else the view is built at the end, in one pass.
                with localcontext() as ctx:
                    ctx.traps[Inexact] = True
                    try:
                        part = tuple(sum(col, ZERO) for col in converted)
                        self.parts[cur] = part if prev is None else tuple(map(add, prev, part))
                    except Inexact:
                        self.usable = False
                        return
            else:
                part = tuple(sum(col, ZERO) for col in converted)
                self.parts[cur] = part if prev is None else tuple(map(add, prev, part))
            deque(map(in_mxn.__setitem__, at, zip(*converted, strict=True)), maxlen=0)

        # One row per group. The rows of a group are consecutive (sorted by its name, then
        # its key); a group that is one peso row keeps that row's amounts.
        grupos = list(map(_GRUPO, filas))
        starts = list(compress(range(n), map(ne, grupos, chain((object(),), grupos))))
        keys = list(map(grupos.__getitem__, starts))
        if not self.groups.isdisjoint(keys):  # a group also in another batch
            self.usable = False
            return
        self.groups.update(keys)
        ends = [*starts[1:], n]
        firsts = list(map(filas.__getitem__, starts))
        g_montos = list(map(_MONTOS, firsts))
        g_hundreds = list(map(hundreds.__getitem__, starts))
        single = map(eq, map(sub, ends, starts), repeat(1))
        peso = map(pesos.__contains__, map(monedas.__getitem__, starts))
        others = list(compress(range(len(starts)), map(not_, map(and_, single, peso))))
        if others:
            sums, counts = _group_sums(in_mxn, filas, [starts[g] for g in others], [ends[g] for g in others])
            deque(map(g_montos.__setitem__, others, _many_amounts(sums, counts)), maxlen=0)
            g_totals = map(sum, sums, repeat(ZERO))
            deque(map(g_hundreds.__setitem__, others, map(mul, g_totals, repeat(_HUNDRED))), maxlen=0)
        if self.rows:
            self.edges += (len(self.rows) - 1, len(self.rows))
        self.rows += _build(AgingRow, _ROW_SETTERS, len(starts),
                            (keys, map(_NOMBRE, firsts), repeat(MXN), g_montos, g_hundreds))


    def agrees(self, rates: MxnRates) -> bool:
        """Usable, and built with the rates ``rates`` has, digit for digit."""
        return self.usable and all(
            rates.has(cur) and rates.rate(cur).as_tuple() == rate.as_tuple() for cur, rate in self.used.items())


def _runs_in_order(rows: Sequence[AgingRow], edges: Sequence[int], key: Callable[[AgingRow], Any]) -> bool:
    """Whether sorted runs of ``rows`` are in order as they stand: ``edges`` holds, for each
    place two runs meet, the index of the last row of one and of the first of the next."""
    return not any(map(ge, map(key, map(rows.__getitem__, edges[0::2])),
                       map(key, map(rows.__getitem__, edges[1::2]))))


def _divide(hundreds: Sequence[Decimal], wholes: Sequence[Decimal]) -> list[Decimal]:
    """``pct(part, whole)`` of each pair given ``part * 100``: 0 when the whole is 0."""
    if all(wholes):
        return list(map(truediv, hundreds, wholes))
    return [h / w if w else ZERO for h, w in zip(hundreds, wholes, strict=True)]


def _group_sums(
    in_mxn: Sequence[tuple[Decimal, ...]], rows: Sequence[AgingRow], starts: list[int], ends: list[int]
) -> tuple[list[tuple[Decimal, ...]], list[int]]:
    """Per group (rows ``starts[i]:ends[i]``), its rows' MXN amounts added up and its documents.

    A round per row position: round ``j`` adds row ``start + j`` of every group that has
    one (most groups have one row per currency, so two or three rounds), by ``map`` in C.
    """
    sums = list(map(in_mxn.__getitem__, starts))
    counts = list(map(_DOCUMENTOS, map(_MONTOS, map(rows.__getitem__, starts))))
    live = list(range(len(starts)))
    offset = 1
    while True:
        live = [g for g in live if starts[g] + offset < ends[g]]
        if not live:
            return sums, counts
        at = [starts[g] + offset for g in live]
        added = map(tuple, map(map, repeat(add), map(sums.__getitem__, live), map(in_mxn.__getitem__, at)))
        deque(map(sums.__setitem__, live, added), maxlen=0)
        docs = map(_DOCUMENTOS, map(_MONTOS, map(rows.__getitem__, at)))
        deque(map(counts.__setitem__, live, map(add, map(counts.__getitem__, live), docs)), maxlen=0)
        offset += 1


def aging_from_sums(
    sums: Iterable[GroupSums],
    as_of: date,
    buckets: AgingBuckets,
    group_by: GroupBy,
    rates_to_mxn: MxnRates | Mapping[str, Decimal] | None,
) -> AgingReport:
    """The report (without ``detalle``) from balances already summed per group, currency and bucket.

    ``sums`` has one entry per (group key, currency), a key always with the same name
    and ``len(buckets)`` amounts (an empty bucket as ``None`` or ``Decimal(0)``; it
    reads ``Decimal(0)``): what a SQL ``GROUP BY`` gives, in any order. The figures are
    those of ``aging_report`` on the documents summed: rows sorted by (name, key,
    currency), totals per currency, and the MXN view, which converts each currency row
    at its rate and adds up the rows of a group.

    Computed by column where it can (``map``, ``sum`` and ``compress`` over whole
    columns run in C) rather than row by row: a report by customer has ~100,000 groups.
    ``AgingSums`` does the same a chunk at a time.
    """
    acc = AgingSums(buckets)
    acc.add(sums)
    return acc.report(as_of, group_by, rates_to_mxn)
