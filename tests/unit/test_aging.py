"""Aging (antigüedad de saldos): buckets, boundaries and a report checked independently."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfdi_cobranza.domain.aging import (
    AgingBuckets,
    GroupBy,
    aging_report,
    days_overdue,
    pct_display,
)
from cfdi_cobranza.domain.receivables import (
    Application,
    ApplicationKind,
    OpenItem,
    Receivable,
    open_items,
)
from cfdi_cobranza.errors import ValidationError

AS_OF = date(2026, 5, 31)
RATES = {"USD": D("17.25"), "EUR": D("19.80")}
DEFAULT_LABELS = ("Por vencer", "1-30", "31-60", "61-90", "Más de 90")


def item(
    days: int, saldo: str = "100.00", *, rfc: str = "AAA010101AAA", moneda: str = "MXN", **kw: str
) -> OpenItem:
    return OpenItem(
        doc_id=f"{rfc}-{days}-{saldo}",
        rfc=rfc,
        nombre=kw.pop("nombre", "Cliente A"),
        moneda=moneda,
        saldo=D(saldo),
        vencimiento=AS_OF - timedelta(days=days),
        **kw,
    )


# --- bucket specs -----------------------------------------------------------------


def test_default_labels():
    assert AgingBuckets.parse().labels == DEFAULT_LABELS
    assert AgingBuckets().labels == DEFAULT_LABELS


@pytest.mark.parametrize(
    "spec", ["0,30,60,90", "30,60,90", " 0, 30 ,60,90 ", "1-30,31-60,61-90", "0,1-30,31-60,61-90"]
)
def test_equivalent_specs(spec):
    assert AgingBuckets.parse(spec) == AgingBuckets((30, 60, 90))


def test_spec_from_list_and_custom_labels():
    assert AgingBuckets.parse([0, 15, 45]).labels == ("Por vencer", "1-15", "16-45", "Más de 45")
    assert AgingBuckets.parse("1,7").labels == ("Por vencer", "1", "2-7", "Más de 7")
    assert AgingBuckets.parse("0,30,60,90").spec() == "0,30,60,90"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "vacía"),
        ("30,,60", "vacía"),
        ("30,30,60", "creciente"),
        ("0,60,30,90", "creciente"),
        ("-5,30", "negativos"),
        ("0,-30", "negativos"),
        ("30,abc", "abc"),
        ("30.5,60", "30.5"),
        ("1-30,25-60", "traslapa"),
        ("1-30,40-60", "falta cubrir"),
        ("0-30,31-60", "día 1"),
        ("1-30,60-31", "invertido"),
        ("0,0,30", "0 solo"),
        ("0", "al menos"),
        ("30,31-60", "no es un rango"),
        (",".join(str(i * 10) for i in range(1, 15)), "máximo"),
        ("99999", "no puede pasar"),
    ],
)
def test_bad_specs_are_refused_in_spanish(spec, fragment):
    with pytest.raises(ValidationError) as err:
        AgingBuckets.parse(spec)
    assert err.value.code == "BUCKETS_INVALIDOS"
    assert "Rangos de antigüedad inválidos" in err.value.message
    assert fragment in err.value.message


@pytest.mark.parametrize("bad", [[30, 20], [True, 30], [], [0]])
def test_bad_bound_lists_are_refused(bad):
    with pytest.raises(ValidationError) as err:
        AgingBuckets.parse(bad)
    assert err.value.code == "BUCKETS_INVALIDOS"


def test_direct_construction_is_validated_too():
    with pytest.raises(ValidationError) as err:
        AgingBuckets((60, 30))
    assert err.value.code == "BUCKETS_INVALIDOS"


# --- boundaries -------------------------------------------------------------------


def test_days_overdue():
    assert days_overdue(date(2026, 5, 31), AS_OF) == 0
    assert days_overdue(date(2026, 5, 1), AS_OF) == 30
    assert days_overdue(date(2026, 6, 10), AS_OF) == -10


@pytest.mark.parametrize(
    ("days", "label"),
    [
        (-45, "Por vencer"),
        (-1, "Por vencer"),
        (0, "Por vencer"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "Más de 90"),
        (4000, "Más de 90"),
    ],
)
def test_exact_boundaries_in_the_report(days, label):
    report = aging_report([item(days)], AS_OF)
    (row,) = report.filas
    amounts = dict(zip(report.etiquetas, row.importes, strict=True))
    assert amounts[label] == D("100.00")
    assert sum(amounts.values()) == D("100.00")
    assert report.detalle[0].dias_vencido == days


@given(st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True), st.integers(-50, 900))
def test_index_for_matches_a_linear_scan(bounds, days):
    bounds = sorted(bounds)
    spec = AgingBuckets(tuple(bounds))
    if days <= 0:
        expected = 0
    else:
        expected = len(bounds) + 1
        for i, bound in enumerate(bounds):
            if days <= bound:
                expected = i + 1
                break
    assert spec.index_for(days) == expected


# --- report against an independent computation --------------------------------------


def _generate(seed: int):
    """Documents in every bucket, partial payments, credit notes, three currencies."""
    rng = random.Random(seed)
    customers = [
        (f"C{i:02d}0101AB{i % 10}", f"Cliente {i}", rng.choice(["V1", "V2", None]), f"Z{i % 3}")
        for i in range(12)
    ]
    docs: list[Receivable] = []
    apps: list[Application] = []
    for n in range(300):
        rfc, nombre, vendedor, zona = rng.choice(customers)
        moneda = rng.choice(["MXN", "MXN", "MXN", "USD", "EUR"])
        total = D(rng.randint(100, 500_000)) / 100
        due = AS_OF + timedelta(days=rng.randint(-200, 60))
        fecha = due - timedelta(days=rng.choice([0, 15, 30]))
        doc_id = f"D{n}"
        docs.append(
            Receivable(doc_id, rfc, nombre, moneda, total, fecha, due, vendedor=vendedor, zona=zona)
        )
        left = total
        for _ in range(rng.randint(0, 3)):
            if left <= D("0.01") or rng.random() < 0.3:
                break
            part = D(rng.randint(1, int(left * 100))) / 100
            kind = ApplicationKind.NOTA_CREDITO if rng.random() < 0.25 else ApplicationKind.PAGO
            when = fecha + timedelta(days=rng.randint(0, 250))  # some after the cutoff
            apps.append(Application(doc_id, when, part, kind))
            left -= part
        if left > 0 and rng.random() < 0.1:  # fully paid before the cutoff
            apps.append(Application(doc_id, min(fecha, AS_OF), left))
    return docs, apps


def _expected(docs, apps, key):
    """Straightforward aging: loops and an if-chain, no shared helpers."""
    out: dict[tuple[str, str], list[D]] = {}
    for doc in docs:
        if doc.fecha > AS_OF:
            continue
        paid = D(0)
        for app in apps:
            if app.doc_id == doc.doc_id and app.fecha <= AS_OF:
                paid += app.importe
        balance = doc.total - paid
        if balance == 0:
            continue
        late = AS_OF.toordinal() - doc.vencimiento.toordinal()
        if late <= 0:
            col = 0
        elif late <= 30:
            col = 1
        elif late <= 60:
            col = 2
        elif late <= 90:
            col = 3
        else:
            col = 4
        row = out.setdefault((key(doc), doc.moneda), [D(0)] * 5)
        row[col] += balance
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_matches_independent_computation(seed):
    docs, apps = _generate(seed)
    report = aging_report(open_items(docs, apps, AS_OF), AS_OF, "0,30,60,90", "cliente", RATES)
    expected = _expected(docs, apps, lambda d: d.rfc)

    got = {(r.grupo, r.moneda): list(r.importes) for r in report.filas}
    assert got == expected
    # every bucket and every currency is exercised
    assert all(any(v[i] for v in expected.values()) for i in range(5))
    assert {cur for _, cur in expected} == {"MXN", "USD", "EUR"}

    for cur, totals in report.totales.items():
        cols = [sum((v[i] for (_, c), v in expected.items() if c == cur), D(0)) for i in range(5)]
        assert list(totals.importes) == cols
        assert sum(r.participacion for r in report.filas if r.moneda == cur) == pytest.approx(
            D(100)
        )

    rate = {"MXN": D(1), **RATES}
    mxn_cols = [sum((v[i] * rate[c] for (_, c), v in expected.items()), D(0)) for i in range(5)]
    assert list(report.total_mxn.importes) == mxn_cols
    assert sum((r.total for r in report.filas_mxn), D(0)) == sum(mxn_cols)
    assert report.tipos_cambio == {"EUR": D("19.80"), "MXN": D(1), "USD": D("17.25")}
    assert len(report.filas) == len(expected)


def test_group_by_salesperson_with_unassigned():
    docs, apps = _generate(4)
    report = aging_report(open_items(docs, apps, AS_OF), AS_OF, None, GroupBy.VENDEDOR, RATES)
    expected = _expected(docs, apps, lambda d: d.vendedor or "")
    assert {(r.grupo, r.moneda): list(r.importes) for r in report.filas} == expected
    assert "Sin asignar" in {r.nombre for r in report.filas}


def test_percentages_are_exact_and_quantized_only_for_display():
    report = aging_report([item(0, "1.00"), item(10, "1.00"), item(40, "1.00")], AS_OF)
    row = report.filas[0]
    assert row.porcentajes[0] == D(100) / 3
    # Displayed shares add up to 100.00: the hundredth left over goes to the first bucket.
    assert row.porcentajes_display() == (
        D("33.34"),
        D("33.33"),
        D("33.33"),
        D("0.00"),
        D("0.00"),
    )
    assert pct_display(D("66.665")) == D("66.67")
    assert row.documentos == 3


def test_zero_balances_skipped_and_grand_totals():
    items = [
        item(5, "0"),
        item(5, "10.00", rfc="BBB010101BBB", nombre="Beta"),
        item(95, "5.00", moneda="USD"),
    ]
    report = aging_report(items, AS_OF, rates_to_mxn={"USD": D("17")})
    assert [(r.nombre, r.moneda) for r in report.filas] == [
        ("Beta (BBB010101BBB)", "MXN"),
        ("Cliente A (AAA010101AAA)", "USD"),
    ]
    assert report.total_mxn.importes == (D(0), D("10.00"), D(0), D(0), D("85.00"))
    assert report.total_mxn.total == D("95.00")


def test_whole_portfolio_group():
    report = aging_report([item(1), item(2, rfc="X")], AS_OF, group_by="cartera")
    assert len(report.filas) == 1
    assert report.filas[0].total == D("200.00")


def test_refusals():
    with pytest.raises(ValidationError) as err:
        aging_report([item(1, moneda="USD")], AS_OF)
    assert err.value.code == "TIPO_CAMBIO_FALTANTE"
    with pytest.raises(ValidationError) as err:
        aging_report([item(1)], AS_OF, rates_to_mxn={"USD": D("-1")})
    assert err.value.code == "TIPO_CAMBIO_INVALIDO"
    with pytest.raises(ValidationError) as err:
        aging_report([item(1, "-5.00")], AS_OF)
    assert err.value.code == "SALDO_NEGATIVO"
    with pytest.raises(ValidationError) as err:
        aging_report([item(1)], AS_OF, group_by="region")
    assert err.value.code == "AGRUPACION_INVALIDA"
    with pytest.raises(ValidationError) as err:
        aging_report([item(1)], AS_OF, buckets="60,30")
    assert err.value.code == "BUCKETS_INVALIDOS"


def test_over_applied_document_is_refused():
    doc = Receivable("D1", "AAA010101AAA", "A", "MXN", D("10"), AS_OF, AS_OF)
    with pytest.raises(ValidationError) as err:
        open_items([doc], [Application("D1", AS_OF, D("11"))], AS_OF)
    assert err.value.code == "SOBREAPLICADO"


def test_bucket_shares_add_up_to_exactly_one_hundred():
    from decimal import Decimal as D

    from cfdi_cobranza.domain.aging import AgingAmounts

    # Rounded one by one these print 33.33 + 33.33 + 33.33 = 99.99.
    shares = AgingAmounts((D("1.00"), D("1.00"), D("1.00"), D("0"), D("0")), 3).porcentajes_display()
    assert sum(shares) == D("100.00")
    assert shares == (D("33.34"), D("33.33"), D("33.33"), D("0.00"), D("0.00"))
    odd = AgingAmounts((D("6.97"), D("14.35"), D("18.2"), D("31.54"), D("28.935")), 5).porcentajes_display()
    assert sum(odd) == D("100.00")
    assert AgingAmounts((D(0),) * 5, 0).porcentajes_display() == (D("0.00"),) * 5
