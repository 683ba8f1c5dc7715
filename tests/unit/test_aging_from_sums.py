"""``aging_from_sums`` (the report from SQL's per-group sums) against two independent computations.

* ``aging_report`` over the documents themselves: the same figures (Decimal ``==``).
* The row-by-row construction the SQL service used before (``_row_by_row`` below): the
  very same Decimals, digit for digit and exponent for exponent (``str``), since the
  CLI, CSV, Excel and JSON print what they get.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import FrozenInstanceError
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain import aging
from cfdi_cobranza.domain.aging import (
    AgingAmounts,
    AgingBuckets,
    AgingRow,
    AgingSums,
    GroupBy,
    _many_amounts,
    _many_rows,
    aging_from_sums,
    aging_report,
    group_key,
    pct,
)
from cfdi_cobranza.domain.fx import MxnRates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.receivables import OpenItem

AS_OF = date(2026, 5, 31)
RATES = {"USD": D("17.2345"), "EUR": D("19.80")}


def _items(seed: int, n: int = 300) -> list[OpenItem]:
    rnd = random.Random(seed)
    # One name per customer; some share a name, some have none.
    names = {f"R{c:03d}": rnd.choice([f"Cliente {c % 7}", "", f"Zeta {c}"]) for c in range(40)}
    out = []
    for i in range(n):
        rfc = rnd.choice(sorted(names))
        out.append(OpenItem(
            doc_id=f"D{i}", rfc=rfc, nombre=names[rfc], moneda=rnd.choice(["MXN", "MXN", "USD", "EUR"]),
            saldo=D(rnd.randrange(1, 10**9)).scaleb(-rnd.choice([2, 6])),
            vencimiento=AS_OF - timedelta(days=rnd.randrange(-60, 200)),
            vendedor=rnd.choice(["Ana", "Beto", "", None]),
        ))
    return out


def _sums(items, buckets, group_by, empty):
    """What the SQL GROUP BY returns: (key, name, currency, count, per-bucket sums)."""
    acc: dict[tuple[str, str], list] = {}
    names = {}
    for it in items:
        key, name = group_key(it, group_by)
        names.setdefault(key, name)
        row = acc.setdefault((key, it.moneda), [0] + [None] * len(buckets))
        row[0] += 1
        b = 1 + buckets.index_for((AS_OF - it.vencimiento).days)
        row[b] = it.saldo if row[b] is None else row[b] + it.saldo
    out = [(k, names[k], m, r[0], *(empty if v is None else v for v in r[1:])) for (k, m), r in acc.items()]
    random.Random(len(out)).shuffle(out)  # the database's order is no order
    return out


def _row_by_row(sums, buckets, rates):
    """The service's construction before ``aging_from_sums`` (one row at a time)."""
    rates = MxnRates(rates)
    names = {s[0]: s[1] for s in sums}
    per_row = {(s[0], s[2]): ([ZERO if a is None else a for a in s[4:]], s[3]) for s in sums}
    by_cur, docs_cur, mxn_acc, mxn_docs = defaultdict(list), defaultdict(int), {}, defaultdict(int)
    for (key, cur), (values, count) in per_row.items():
        by_cur[cur].append(values)
        docs_cur[cur] += count
        rate = rates.rate(cur)
        in_mxn = values if cur == "MXN" and rate == 1 and rate.as_tuple().exponent == 0 else [v * rate for v in values]
        prev = mxn_acc.get(key)
        mxn_acc[key] = in_mxn if prev is None else [a + v for a, v in zip(prev, in_mxn, strict=True)]
        mxn_docs[key] += count
    totales = {c: AgingAmounts(tuple(sum(col, ZERO) for col in zip(*rows, strict=True)), docs_cur[c])
               for c, rows in sorted(by_cur.items())}
    filas, pesos = [], {}
    for (key, cur), (values, count) in sorted(per_row.items(), key=lambda kv: (names[kv[0][0]], kv[0])):
        amounts, total = AgingAmounts(tuple(values), count), sum(values, ZERO)
        if cur == "MXN":
            pesos[key] = (values, amounts, total)
        filas.append(AgingRow(key, names[key], cur, amounts, pct(total, totales[cur].total)))
    grand = [sum(col, ZERO) for col in zip(*mxn_acc.values(), strict=True)] if mxn_acc else [ZERO] * len(buckets)
    total_mxn = AgingAmounts(tuple(grand), sum(mxn_docs.values()))
    filas_mxn = []
    for key in dict.fromkeys(r.grupo for r in filas):
        values = mxn_acc[key]
        same = pesos.get(key)
        if same is not None and same[0] is values:
            amounts, total = same[1], same[2]
        else:
            amounts, total = AgingAmounts(tuple(values), mxn_docs[key]), sum(values, ZERO)
        filas_mxn.append(AgingRow(key, names[key], "MXN", amounts, pct(total, total_mxn.total)))
    return tuple(filas), totales, tuple(filas_mxn), total_mxn


def _text(value):
    """Every Decimal as its str (digits and exponent), recursively."""
    if isinstance(value, D):
        return str(value)
    if isinstance(value, AgingAmounts):
        return ("amounts", _text(value.importes), value.documentos)
    if isinstance(value, AgingRow):
        return (value.grupo, value.nombre, value.moneda, _text(value.montos), _text(value.participacion))
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(_text(v) for v in value)
    return value


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spec", ["0,30,60,90", "15,45", "1-7,8-30,31-60,61-90,91-120"])
@pytest.mark.parametrize("group_by", [GroupBy.CLIENTE, GroupBy.VENDEDOR, GroupBy.CARTERA])
def test_from_sums_equals_the_documents_and_the_row_by_row_construction(seed, spec, group_by):
    buckets = AgingBuckets.parse(spec)
    items = _items(seed)
    sums = _sums(items, buckets, group_by, empty=None if seed % 2 else D(0))
    got = aging_from_sums(sums, AS_OF, buckets, group_by, RATES)

    expected = aging_report(items, AS_OF, buckets, group_by, RATES)
    assert got.filas == expected.filas
    assert got.totales == expected.totales
    assert [(r.grupo, r.nombre, r.montos.importes, r.montos.documentos, r.participacion) for r in got.filas_mxn] == [
        (r.grupo, r.nombre, r.montos.importes, r.montos.documentos, r.participacion) for r in expected.filas_mxn]
    assert got.total_mxn == expected.total_mxn
    assert got.tipos_cambio == expected.tipos_cambio
    assert (got.fecha_corte, got.buckets, got.agrupacion, got.detalle) == (AS_OF, buckets, group_by, ())

    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, RATES)
    assert _text(got.filas) == _text(filas)
    assert _text(got.totales) == _text(totales)
    assert _text(got.filas_mxn) == _text(filas_mxn)
    assert _text(got.total_mxn) == _text(total_mxn)


def test_a_peso_rate_written_with_decimals_converts_like_any_other():
    # MXN's rate is always 1, but 1.00 (accepted) gives amounts with two more decimals.
    buckets = AgingBuckets()
    rates = {**RATES, "MXN": D("1.00")}
    sums = _sums(_items(7), buckets, GroupBy.CLIENTE, None)
    got = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, rates)
    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, rates)
    assert _text(got.filas_mxn) == _text(filas_mxn) and _text(got.total_mxn) == _text(total_mxn)
    assert _text(got.filas) == _text(filas) and _text(got.totales) == _text(totales)


def test_no_sums_is_an_empty_report():
    got = aging_from_sums([], AS_OF, AgingBuckets(), GroupBy.CLIENTE, RATES)
    assert got.filas == () and got.filas_mxn == () and got.totales == {} and got.tipos_cambio == {}
    assert got.total_mxn == AgingAmounts((ZERO,) * 5, 0)


def test_rows_sort_by_name_then_key_then_currency_and_groups_stay_together():
    buckets = AgingBuckets((30,))
    sums = [("B", "Igual", "USD", 1, None, D("1.00"), None), ("A", "Igual", "USD", 1, D("2.00"), None, None),
            ("B", "Igual", "MXN", 2, D("3.00"), D("4.00"), None), ("C", "Antes", "MXN", 1, None, None, D("5.00"))]
    got = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, {"USD": D("20")})
    assert [(r.grupo, r.moneda) for r in got.filas] == [("C", "MXN"), ("A", "USD"), ("B", "MXN"), ("B", "USD")]
    assert [(r.grupo, r.montos.importes, r.montos.documentos) for r in got.filas_mxn] == [
        ("C", (ZERO, ZERO, D("5.00")), 1), ("A", (D("40.00"), D("0"), D("0")), 1),
        ("B", (D("3.00"), D("24.00"), D("0")), 3)]
    assert got.total_mxn == AgingAmounts((D("43.00"), D("24.00"), D("5.00")), 5)
    assert sum((r.participacion for r in got.filas_mxn), ZERO) == 100


def test_each_sum_needs_every_bucket():
    with pytest.raises(ValueError, match="amounts"):
        aging_from_sums([("A", "A", "MXN", 1, D(1))], AS_OF, AgingBuckets(), GroupBy.CLIENTE, None)


def test_a_currency_without_a_rate_is_refused():
    from cfdi_cobranza.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        aging_from_sums([("A", "A", "JPY", 1, D(1), None, None)], AS_OF, AgingBuckets((30,)), GroupBy.CLIENTE, RATES)
    assert err.value.code == "TIPO_CAMBIO_FALTANTE"


def test_the_fast_constructors_build_the_same_frozen_objects():
    importes = [(D("1.50"), ZERO), (ZERO, D("2.000000"))]
    amounts = _many_amounts(importes, [2, 1])
    assert amounts == [AgingAmounts(importes[0], 2), AgingAmounts(importes[1], 1)]
    assert [hash(a) for a in amounts] == [hash(AgingAmounts(importes[0], 2)), hash(AgingAmounts(importes[1], 1))]
    rows = _many_rows(iter(["K", "L"]), ["Nombre (K)", "L"], ["MXN", "USD"], amounts, [D(100), D("0.5")])
    assert rows == (AgingRow("K", "Nombre (K)", "MXN", amounts[0], D(100)),
                    AgingRow("L", "L", "USD", amounts[1], D("0.5")))
    assert repr(rows[1]) == repr(AgingRow("L", "L", "USD", amounts[1], D("0.5")))
    assert _many_rows([], [], [], [], []) == ()
    with pytest.raises(FrozenInstanceError):
        rows[0].moneda = "USD"  # type: ignore[misc]


@pytest.mark.parametrize("chunk", [1, 2, 7, 50])
@pytest.mark.parametrize("order", ["shuffled", "sorted", "reversed"])
@pytest.mark.parametrize("group_by", [GroupBy.CLIENTE, GroupBy.VENDEDOR])
def test_chunks_of_any_size_and_order_give_the_same_report(monkeypatch, chunk, order, group_by):
    """``AgingSums`` takes the sums a chunk at a time (as a streamed query hands them over):
    chunks sorted or not, groups split across chunks, the very same Decimals."""
    buckets = AgingBuckets.parse("0,30,60,90")
    items = _items(11, n=400)
    sums = _sums(items, buckets, group_by, empty=None)
    if order != "shuffled":
        sums.sort(key=lambda s: (s[1], s[0], s[2]), reverse=order == "reversed")
    whole = aging_from_sums(sums, AS_OF, buckets, group_by, RATES)  # one chunk
    monkeypatch.setattr(aging, "CHUNK_ROWS", chunk)
    acc = AgingSums(buckets)
    half = len(sums) // 2
    acc.add(iter(sums[:half]))  # several calls, each any number of chunks
    acc.add(sums[half:])
    assert acc.currencies == {"MXN", "USD", "EUR"}
    got = acc.report(AS_OF, group_by, RATES)
    assert _text(got.filas) == _text(whole.filas)
    assert _text(got.totales) == _text(whole.totales)
    assert _text(got.filas_mxn) == _text(whole.filas_mxn)
    assert _text(got.total_mxn) == _text(whole.total_mxn)
    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, RATES)
    assert (_text(got.filas), _text(got.filas_mxn)) == (_text(filas), _text(filas_mxn))
    assert (_text(got.totales), _text(got.total_mxn)) == (_text(totales), _text(total_mxn))


def test_a_group_with_rows_in_three_currencies_and_one_only_abroad():
    buckets = AgingBuckets((30,))
    sums = [("A", "A", "EUR", 1, D("1.5"), None, None), ("A", "A", "MXN", 2, None, D("2.25"), None),
            ("A", "A", "USD", 3, None, None, D("4")), ("B", "B", "USD", 4, D("1"), None, None)]
    got = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, {"USD": D("20"), "EUR": D("21.5")})
    assert [(r.grupo, r.montos.importes, r.montos.documentos) for r in got.filas_mxn] == [
        ("A", (D("32.25"), D("2.25"), D("80")), 6), ("B", (D("20"), D("0"), D("0")), 4)]
    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, {"USD": D("20"), "EUR": D("21.5")})
    assert _text(got.filas_mxn) == _text(filas_mxn) and _text(got.total_mxn) == _text(total_mxn)
    assert _text(got.filas) == _text(filas) and _text(got.totales) == _text(totales)


def test_the_sums_make_one_report():
    acc = AgingSums(AgingBuckets((30,)))
    acc.add([("A", "A", "MXN", 1, D(1), None, None)])
    acc.report(AS_OF, GroupBy.CLIENTE, None)
    with pytest.raises(RuntimeError):
        acc.report(AS_OF, GroupBy.CLIENTE, None)
    with pytest.raises(RuntimeError):
        acc.add([("B", "B", "MXN", 1, D(1), None, None)])


def test_the_report_leaves_the_garbage_collector_as_it_found_it() -> None:
    """``collection_reports._no_gc``: the collector is paused while a report builds and
    resumed as it was; nothing stays frozen (freeze + unfreeze only ages the objects)."""
    import gc

    from cfdi_cobranza.services.collection_reports import _no_gc

    was = gc.isenabled()
    try:
        gc.enable()
        with _no_gc():
            assert not gc.isenabled()
            cycle: list[object] = []
            cycle.append(cycle)
        assert gc.isenabled() and gc.get_freeze_count() == 0
        del cycle
        assert gc.collect() >= 1  # the cycle made inside is still collected
        gc.freeze()  # as warm_up() leaves a server: that stays frozen
        frozen = gc.get_freeze_count()
        with _no_gc():
            pass
        assert gc.isenabled() and gc.get_freeze_count() >= frozen > 0
        gc.disable()
        with _no_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        if was:
            gc.enable()


def _batches_by_group(sums, n_batches, seed):
    """The sums in batches of whole groups (as ranges of customer ids give them), each
    batch sorted in the report's order, the batches in no order."""
    keys = sorted({s[0] for s in sums})
    random.Random(seed).shuffle(keys)
    where = {k: i % n_batches for i, k in enumerate(keys)}
    batches = [sorted((s for s in sums if where[s[0]] == b), key=lambda s: (s[1], s[0], s[2]))
               for b in range(n_batches)]
    return [b for b in batches if b]


def _columns(batch, size):
    cols = list(zip(*batch, strict=True)) if batch else [()] * (4 + size)
    return (*cols[:4], [[ZERO if v is None else v for v in col] for col in cols[4:]])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("when", ["start", "after one", "end", "never", "other rate", "by rows"])
def test_the_mxn_view_built_batch_by_batch_is_the_same_report(seed, when):
    """With the rates given before ``report`` (``AgingSums(.., rates)`` / ``set_rates``),
    each batch of whole groups gets its MXN view as it comes; the report is the same,
    digit for digit, as the one built at the end: whenever the rates come, with rates
    for only some currencies first, and when the report is given other rates (then the
    view is built again at the end)."""
    buckets = AgingBuckets.parse("0,30,60,90")
    sums = _sums(_items(seed), buckets, GroupBy.CLIENTE, empty=None)
    expected = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, RATES)
    batches = _batches_by_group(sums, 5, seed)
    full, pesos_only = MxnRates(RATES), MxnRates({})
    acc = AgingSums(buckets, pesos_only if when == "after one" else full if when == "start" else None)
    for i, batch in enumerate(batches):
        if when == "by rows":
            acc.add(batch)
        else:
            acc.add_columns(*_columns(batch, len(buckets)))
        if when == "after one" and i == 1:
            acc.set_rates(full)
    if when == "end":
        acc.set_rates(full)
    if when == "other rate":
        acc.set_rates(MxnRates({**RATES, "USD": D("17.23450")}))  # equal, one more digit
    if when == "by rows":
        acc.set_rates(full)
    early = acc._mxn
    if when == "never":
        assert early is None
    else:  # built batch by batch, one row per group
        assert early is not None and early.usable and not acc._pending
        assert len(early.rows) == len({s[0] for s in sums})
        assert early.agrees(full) is (when != "other rate")
    got = acc.report(AS_OF, GroupBy.CLIENTE, full)
    assert _text(got) == _text(expected)
    assert got == expected


def test_batches_that_split_a_group_or_come_unsorted_leave_the_view_for_the_end():
    buckets = AgingBuckets.parse("30")  # 3 buckets
    usd, mxn = ("A", "Alfa", "USD", 1, D("2.50"), None, None), ("A", "Alfa", "MXN", 2, None, D("7.000000"), None)
    other = ("B", "Beta", "MXN", 1, D("1.00"), None, D("3"))
    expected = aging_from_sums([usd, mxn, other], AS_OF, buckets, GroupBy.CLIENTE, RATES)
    split = AgingSums(buckets, MxnRates(RATES))
    split.add([mxn])
    split.add([usd, other])  # group A in two batches
    assert split._mxn is not None and not split._mxn.usable
    assert _text(split.report(AS_OF, GroupBy.CLIENTE, MxnRates(RATES))) == _text(expected)
    unsorted = AgingSums(buckets, MxnRates(RATES))
    unsorted.add_columns(*_columns([other, usd, mxn], 1))  # sorted by add_columns
    assert _text(unsorted.report(AS_OF, GroupBy.CLIENTE, MxnRates(RATES))) == _text(expected)
    with pytest.raises(ValueError, match="amounts"):
        unsorted.add_columns(("X",), ("x",), ("MXN",), (1,), [])


def test_a_rate_with_many_decimals_that_makes_sums_round_leaves_the_view_for_the_end():
    """Batch by batch the MXN sums are added in another order: past 28 digits Decimal
    rounds, and the order would show in the last digit. Then the view is built at the
    end, in one pass: the same digits as ``aging_from_sums``."""
    buckets = AgingBuckets.parse("0,30,60,90")
    rnd = random.Random(7)
    sums = [(f"K{c:03d}", f"Cliente {c}", cur, 1,
             *(D(rnd.randrange(1, 10**15)).scaleb(-6) if rnd.random() < 0.5 else None for _ in range(5)))
            for c in range(300) for cur in ("MXN", "USD")]
    rates = {"USD": D("17.123456789012345"), "EUR": D("19.5")}
    expected = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, rates)
    acc = AgingSums(buckets, MxnRates(rates))
    for batch in _batches_by_group(sums, 8, 3):
        acc.add_columns(*_columns(batch, len(buckets)))
    assert acc._mxn is not None and not acc._mxn.usable
    assert _text(acc.report(AS_OF, GroupBy.CLIENTE, MxnRates(rates))) == _text(expected)
