"""``aging_from_sums`` (the report from SQL's per-group sums) against two independent computations.

* ``aging_report`` over the documents themselves: the same figures (Decimal ``==``).
* The row-by-row construction the SQL service used before (``_row_by_row`` below): the
  very same Decimals, digit for digit and exponent for exponent (``str``), since the
  CLI, CSV, Excel and JSON print what they get.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from cfdi_cobranza.domain.aging import (
    AgingAmounts,
    AgingBuckets,
    AgingRow,
    AgingRows,
    GroupBy,
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
        filas.append(AgingRow(amounts.importes, amounts.documentos, key, names[key], cur,
                              pct(total, totales[cur].total)))
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
        filas_mxn.append(AgingRow(amounts.importes, amounts.documentos, key, names[key], "MXN",
                                  pct(total, total_mxn.total)))
    return tuple(filas), totales, tuple(filas_mxn), total_mxn


def _text(value):
    """Every Decimal as its str (digits and exponent), recursively."""
    if isinstance(value, D):
        return str(value)
    if isinstance(value, AgingRow):
        return (value.grupo, value.nombre, value.moneda, ("amounts", _text(value.importes), value.documentos),
                _text(value.participacion))
    if isinstance(value, AgingAmounts):
        return ("amounts", _text(value.importes), value.documentos)
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, AgingRows)):
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
    assert [(r.grupo, r.nombre, r.importes, r.documentos, r.participacion) for r in got.filas_mxn] == [
        (r.grupo, r.nombre, r.importes, r.documentos, r.participacion) for r in expected.filas_mxn]
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
    assert [(r.grupo, r.importes, r.documentos) for r in got.filas_mxn] == [
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


@pytest.mark.parametrize("order", ["shuffled", "sorted", "reversed"])
@pytest.mark.parametrize("group_by", [GroupBy.CLIENTE, GroupBy.VENDEDOR])
def test_sums_in_any_order_give_the_same_report(order, group_by):
    """The sums come from the database in any order: the very same Decimals."""
    buckets = AgingBuckets.parse("0,30,60,90")
    sums = _sums(_items(11, n=400), buckets, group_by, empty=None)
    shuffled = aging_from_sums(sums, AS_OF, buckets, group_by, RATES)
    if order != "shuffled":
        sums.sort(key=lambda s: (s[1], s[0], s[2]), reverse=order == "reversed")
    got = aging_from_sums(sums, AS_OF, buckets, group_by, RATES)
    assert _text(got) == _text(shuffled)
    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, RATES)
    assert (_text(got.filas), _text(got.filas_mxn)) == (_text(filas), _text(filas_mxn))
    assert (_text(got.totales), _text(got.total_mxn)) == (_text(totales), _text(total_mxn))


def test_a_group_with_rows_in_three_currencies_and_one_only_abroad():
    buckets = AgingBuckets((30,))
    sums = [("A", "A", "EUR", 1, D("1.5"), None, None), ("A", "A", "MXN", 2, None, D("2.25"), None),
            ("A", "A", "USD", 3, None, None, D("4")), ("B", "B", "USD", 4, D("1"), None, None)]
    got = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, {"USD": D("20"), "EUR": D("21.5")})
    assert [(r.grupo, r.importes, r.documentos) for r in got.filas_mxn] == [
        ("A", (D("32.25"), D("2.25"), D("80")), 6), ("B", (D("20"), D("0"), D("0")), 4)]
    filas, totales, filas_mxn, total_mxn = _row_by_row(sums, buckets, {"USD": D("20"), "EUR": D("21.5")})
    assert _text(got.filas_mxn) == _text(filas_mxn) and _text(got.total_mxn) == _text(total_mxn)
    assert _text(got.filas) == _text(filas) and _text(got.totales) == _text(totales)


def test_rows_are_made_when_read_and_behave_as_a_sequence():
    buckets = AgingBuckets.parse("0,30,60,90")
    sums = _sums(_items(3), buckets, GroupBy.CLIENTE, empty=None)
    got = aging_from_sums(sums, AS_OF, buckets, GroupBy.CLIENTE, RATES)
    filas, _, filas_mxn, _ = _row_by_row(sums, buckets, RATES)
    for rows, expected in ((got.filas, filas), (got.filas_mxn, filas_mxn)):
        assert isinstance(rows, AgingRows) and len(rows) == len(expected)
        assert rows == expected and expected == rows and list(rows) == list(expected)
        assert rows[0] == expected[0] and rows[-1] == expected[-1] and rows[2:5] == expected[2:5]
        assert rows[::-7] == expected[::-7] and rows[:0] == ()
        assert tuple(rows) == tuple(rows)  # read twice, the same rows
        with pytest.raises(IndexError):
            rows[len(expected)]
        with pytest.raises(IndexError):
            rows[-len(expected) - 1]
    assert got.filas != got.filas_mxn and got.filas != "text"
