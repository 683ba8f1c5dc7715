"""The ledger-based collections reports through the services, on SQLite and PostgreSQL.

Movement, summaries by company/branch/salesperson, the collectors report, one
customer's summary and the income projection are each compared with a plain
computation written here over what ``collections_data`` says it generated (its own
record of totals and of every credit with its date), not with the domain functions
the services call. Branches and salespeople come from the customers' conditions and
from sale assignments, so "collections follow the sale" is exercised too. Last, a
cheque registered here as a payment bounces and re-opens the invoice it paid.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from collections_data import AS_OF, USD_RATE, generate, import_all, make_factory
from sqlalchemy import select

from cfdi_cobranza.db.models import Document, Payment
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.domain.payments import ReceiptInput
from cfdi_cobranza.domain.period import DateRange
from cfdi_cobranza.domain.receivables import ApplicationKind
from cfdi_cobranza.errors import ConflictError
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import debts
from cfdi_cobranza.services import payments as pay_svc
from cfdi_cobranza.services.followups import add_follow_up
from cfdi_cobranza.services.payments import Allocation

RATES = {"USD": USD_RATE}
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
ZERO = Decimal(0)
CAC, DME, FOMJ = "CAC070627H79", "DME980512KJ3", "FOMJ8106119D6"


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return make_factory(tmp_path_factory.mktemp("sandbox"), seed=7)


@pytest.fixture(scope="module")
def generated(factory):
    return generate(factory)


# Who each sale belongs to, written down independently of the services:
# CAC's 60-day invoice was sold by Carla for Centro (a sale assignment); CAC's other
# invoices follow its current conditions (Ana, Norte). DME's invoices were frozen on
# Beto/Sur when DME moved to Oriente. FOMJ has no conditions: "Sin asignar".
def _attrs(generated, doc):
    if doc.doc_id == generated.invoices[f"{CAC}:60"].uuid:
        return {"vendedor": "Carla", "sucursal": "Centro"}
    return {CAC: {"vendedor": "Ana", "sucursal": "Norte"}, DME: {"vendedor": "Beto", "sucursal": "Sur"},
            FOMJ: {"vendedor": "", "sucursal": ""}}[doc.rfc]


@pytest.fixture
def loaded(engine, settings, factory, generated):
    import_all(engine, settings, factory, generated, clock)
    with transaction(engine) as s:
        credit.assign_sale(s, generated.invoices[f"{CAC}:60"].uuid, sucursal="Centro", vendedor="Carla",
                           clock=clock)
        credit.set_conditions(s, CAC, actor="jefe", vendedor="Ana", sucursal="Norte", zona="Centro",
                              clasificacion="A", clock=clock)
        credit.set_conditions(s, DME, actor="jefe", vendedor="Beto", sucursal="Sur", zona="Bajio",
                              clasificacion="B", clock=clock)
        credit.set_conditions(s, DME, actor="jefe", sucursal="Oriente", clock=clock)  # earlier sales stay Sur
    return engine


# --------------------------------------------------------------------------- independent computation


def _key(generated, doc, group_by):
    if group_by == "cliente":
        return doc.rfc
    if group_by == "empresa":
        return doc.empresa
    if group_by == "cartera":
        return "*"
    return _attrs(generated, doc)[group_by]


def _balance(generated, doc, day):
    """What ``doc`` owes at the end of ``day`` (total minus credits dated up to it)."""
    paid = sum((a.importe for a in generated.applications if a.doc_id == doc.doc_id and a.fecha <= day), ZERO)
    return doc.total - paid


def _movement(generated, periodo, group_by):
    """(group, currency) -> [saldo inicial, cargos, pagos, notas de crédito], rows with movement."""
    acc = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO])
    docs = {d.doc_id: d for d in generated.docs}
    for d in generated.docs:
        if d.fecha > periodo.hasta:
            continue
        row = acc[(_key(generated, d, group_by), d.moneda)]
        row[0 if d.fecha < periodo.desde else 1] += d.total
    for a in generated.applications:
        d = docs[a.doc_id]
        if a.fecha > periodo.hasta:
            continue
        row = acc[(_key(generated, d, group_by), d.moneda)]
        if a.fecha < periodo.desde:
            row[0] -= a.importe
        elif a.tipo is ApplicationKind.NOTA_CREDITO:
            row[3] += a.importe
        else:
            row[2] += a.importe
    return {k: v for k, v in acc.items() if any(v)}


def _open(generated, day):
    """(doc, balance) of every invoice dated up to ``day`` that still owes at its end."""
    return [(d, b) for d in generated.docs if d.fecha <= day and (b := _balance(generated, d, day)) > 0]


def _got_movement(report):
    return {(r.grupo, r.moneda): [r.montos.saldo_inicial, r.montos.cargos, r.montos.pagos, r.montos.notas_credito]
            for r in report.filas}


PERIODS = [DateRange(AS_OF - timedelta(days=45), AS_OF), DateRange(AS_OF - timedelta(days=120), AS_OF + timedelta(days=5))]


# --------------------------------------------------------------------------- movement and summaries


@pytest.mark.parametrize("periodo", PERIODS, ids=["45d", "120d+5"])
def test_movement_equals_plain_computation(loaded, generated, periodo):
    with transaction(loaded) as s:
        got = reports.movement(s, periodo, group_by="cliente")
    expected = _movement(generated, periodo, "cliente")
    assert _got_movement(got) == expected
    for cur, t in got.totales.items():
        rows = [v for (_, c), v in expected.items() if c == cur]
        assert [t.saldo_inicial, t.cargos, t.pagos, t.notas_credito] == [sum(col, ZERO) for col in zip(*rows, strict=True)]
        closing = sum((b for d, b in _open(generated, periodo.hasta) if d.moneda == cur), ZERO)
        assert t.saldo_final == closing  # saldo inicial + cargos - abonos = what is still owed


@pytest.mark.parametrize("periodo", PERIODS, ids=["45d", "120d+5"])
@pytest.mark.parametrize("group_by", ["empresa", "sucursal", "vendedor"])
def test_summary_by_level_equals_plain_computation(loaded, generated, periodo, group_by):
    with transaction(loaded) as s:
        got = reports.summary(s, periodo, group_by=group_by)
    expected = _movement(generated, periodo, group_by)
    assert {(r.grupo, r.moneda): [r.montos.saldo_inicial, r.montos.cargos, r.montos.pagos, r.montos.notas_credito]
            for r in got.filas} == expected
    overdue = defaultdict(lambda: ZERO)
    for d, b in _open(generated, periodo.hasta):
        if d.vencimiento < periodo.hasta:
            overdue[(_key(generated, d, group_by), d.moneda)] += b
    assert {(r.grupo, r.moneda): r.vencido for r in got.filas} == {k: overdue.get(k, ZERO) for k in expected}
    by_cur = defaultdict(lambda: ZERO)
    for (_, cur), v in overdue.items():
        by_cur[cur] += v
    assert got.vencido == dict(by_cur)
    if group_by == "sucursal":
        # DME moved to Oriente after its sales: they stay with Sur; Centro has Carla's sale.
        assert {r.grupo for r in got.filas} <= {"Norte", "Centro", "Sur", ""}
        assert "Oriente" not in {r.grupo for r in got.filas}


@pytest.mark.parametrize("group_by", ["vendedor", "sucursal"])
def test_collectors_report_equals_plain_computation(loaded, generated, group_by):
    periodo = DateRange(AS_OF - timedelta(days=60), date(2026, 11, 30))
    with transaction(loaded) as s:
        add_follow_up(s, CAC, tipo="llamada", contacto="cobrador", notes="Promete pago",
                      documentos=[generated.invoices[f"{CAC}:91"].uuid], promise_date=date(2027, 1, 15),
                      promise_amount=Decimal("100.00"), clock=clock)
        add_follow_up(s, FOMJ, tipo="correo", contacto="cobrador", clock=clock)
        got = reports.collectors(s, periodo, group_by=group_by)
    mov = _movement(generated, periodo, group_by)
    saldo, vencido, clientes = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO), defaultdict(set)
    for d, b in _open(generated, periodo.hasta):
        k = (_key(generated, d, group_by), d.moneda)
        saldo[k] += b
        clientes[k].add(d.rfc)
        if d.vencimiento < periodo.hasta:
            vencido[k] += b
    groups_of = defaultdict(set)  # a customer's follow-ups count for every group it has sales in
    for d in generated.docs:
        groups_of[d.rfc].add(_key(generated, d, group_by))
    actions = defaultdict(int)
    for rfc in (CAC, FOMJ):
        for g in groups_of[rfc]:
            actions[g] += 1
    promised_group = _key(generated, next(d for d in generated.docs
                                          if d.doc_id == generated.invoices[f"{CAC}:91"].uuid), group_by)
    keys = set(saldo) | set(mov)
    assert {(r.grupo, r.moneda) for r in got.filas} == keys
    for r in got.filas:
        k = (r.grupo, r.moneda)
        m = mov.get(k, [ZERO] * 4)
        assert (r.saldo, r.vencido, r.cobrado, r.notas_credito, r.clientes) == (
            saldo.get(k, ZERO), vencido.get(k, ZERO), m[2], m[3], len(clientes.get(k, ()))), k
        assert r.seguimientos == actions.get(r.grupo, 0), k
        assert (r.promesas_vigentes, r.promesas_incumplidas) == ((1 if r.grupo == promised_group else 0), 0), k
    if group_by == "vendedor":
        assert {"Ana", "Carla", "Beto", ""} <= {r.grupo for r in got.filas}


# --------------------------------------------------------------------------- one customer, projection


@pytest.mark.parametrize("rfc", [CAC, DME, FOMJ])
def test_customer_summary_equals_plain_computation(loaded, generated, rfc):
    periodo = DateRange(AS_OF - timedelta(days=60), AS_OF)
    with transaction(loaded) as s:
        view = reports.customer_overview(s, rfc, AS_OF, periodo=periodo, rates=RATES)
    got = view.summary
    own = [(d, b) for d, b in _open(generated, AS_OF) if d.rfc == rfc]
    saldo, vencido = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for d, b in own:
        saldo[d.moneda] += b
        if d.vencimiento < AS_OF:
            vencido[d.moneda] += b
    assert got.saldo == dict(saldo)
    assert got.saldo_vencido == dict(vencido)
    assert sorted((o.item.doc_id, o.item.saldo, o.dias_vencido) for o in got.documentos) == sorted(
        (d.doc_id, b, (AS_OF - d.vencimiento).days) for d, b in own)
    assert [o.dias_vencido for o in got.documentos] == sorted((o.dias_vencido for o in got.documentos), reverse=True)
    docs = {d.doc_id: d for d in generated.docs}
    notas, pagos = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for a in generated.applications:
        d = docs[a.doc_id]
        if d.rfc == rfc and periodo.desde <= a.fecha <= periodo.hasta:
            (notas if a.tipo is ApplicationKind.NOTA_CREDITO else pagos)[d.moneda] += a.importe
    assert got.notas_credito == dict(notas)
    assert got.pagos == dict(pagos)  # every complement here pays one invoice in its own currency
    compras = defaultdict(lambda: ZERO)
    for d in generated.docs:
        if d.rfc == rfc and d.fecha in periodo:
            compras[(d.fecha.year, d.fecha.month, d.moneda)] += d.total
    assert {(p.inicio.year, p.inicio.month, cur): v for p, m in got.compras.items() for cur, v in m.items()} == compras
    assert view.conditions["rfc"] == rfc
    assert view.conditions["vendedor"] == {CAC: "Ana", DME: "Beto", FOMJ: None}[rfc]


def test_projection_due_date_view_equals_plain_computation(loaded, generated):
    with transaction(loaded) as s:
        got = reports.projection(s, AS_OF, granularity="mes", rates=RATES)
    start, end = AS_OF + timedelta(days=1), AS_OF + timedelta(days=90)
    by_due, later, owed = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for d, b in _open(generated, AS_OF):
        owed[d.moneda] += b
        due = max(d.vencimiento, start)
        if due > end:
            later[d.moneda] += b
        else:
            by_due[(due.year, due.month, d.moneda)] += b
    assert {(r.periodo.inicio.year, r.periodo.inicio.month, r.moneda): r.por_vencimiento
            for r in got.filas if r.por_vencimiento} == by_due
    for cur, total in owed.items():
        # The behavioural projection moves money in time, never creates or loses it.
        behaviour = sum((r.por_comportamiento for r in got.filas if r.moneda == cur), ZERO)
        assert behaviour + got.posterior[cur][0] == total
        assert got.posterior[cur][1] == later[cur]
    assert all(e.fecha_esperada >= start for e in got.esperados)


# --------------------------------------------------------------------------- bounced cheque


def test_bounced_cheque_paid_here_reopens_the_invoice(loaded, generated, factory):
    inv = generated.invoices[f"{FOMJ}:30"]
    with transaction(loaded) as s:
        before = {i.doc_id: i.saldo for i in reports.open_items(s, AS_OF)}
        aging_before = reports.aging(s, AS_OF, rates=RATES).total_mxn
        settlement = pay_svc.register_settlement(s, [ReceiptInput(
            customer=FOMJ, company=factory.issuer.rfc, fecha_pago=datetime(2026, 10, 30, 12), forma_pago="02",
            moneda="MXN", monto="800.00", num_operacion="CH-77")], actor="caja", clock=clock)
        pid = settlement.payments[0].id
        pay_svc.apply_payment(s, pid, [Allocation(inv.uuid, "800.00")], actor="caja", clock=clock)
    with transaction(loaded) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv.uuid)) == before[inv.uuid] - 800
        assert {i.doc_id: i.saldo for i in reports.open_items(s, AS_OF)}[inv.uuid] == before[inv.uuid] - 800
        # The cheque receipt registered its cheque (form 02); a second one for it is refused.
        [cheque] = debts.list_debt_documents(s, FOMJ)
        assert (cheque.row.payment_id, cheque.row.numero, cheque.row.importe) == (pid, "CH-77", Decimal("800.00"))
        with pytest.raises(ConflictError):
            debts.register_debt_document(s, FOMJ, tipo="cheque", importe=Decimal("800.00"), fecha=date(2026, 10, 30),
                                         payment_id=pid, actor="caja", clock=clock)
        debts.change_debt_state(s, cheque.row.id, "depositado", fecha=date(2026, 10, 31), actor="caja", clock=clock)
        view = debts.change_debt_state(s, cheque.row.id, "devuelto", fecha=date(2026, 11, 2), actor="caja",
                                        nota="Fondos insuficientes", clock=clock)
        assert len(view.reversed_credits) == 1
    with transaction(loaded) as s:
        assert s.scalar(select(Document.saldo).where(Document.uuid == inv.uuid)) == before[inv.uuid]
        assert {i.doc_id: i.saldo for i in reports.open_items(s, AS_OF)} == before
        assert reports.aging(s, AS_OF, rates=RATES).total_mxn == aging_before
        assert s.get(Payment, pid).aplicado == 0
        summary = reports.customer_overview(s, FOMJ, AS_OF, rates=RATES).summary
    assert inv.uuid in {o.item.doc_id for o in summary.documentos}


# --------------------------------------------------------------------------- statement PDF through the CLI


def test_statement_pdf_from_the_cli(loaded, generated, tmp_path, monkeypatch, capsys):
    import json
    import shutil
    import subprocess

    import cfdi_cobranza.cli.common as cli_common
    from cfdi_cobranza.cli.main import main as cli_main

    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    # The CLI never disposes its engine (a process exits); here the pool must be closed
    # after each command or PostgreSQL connections outlive the test.
    engines = []
    make = cli_common.make_engine
    monkeypatch.setattr(cli_common, "make_engine", lambda url, **kw: engines.append(make(url, **kw)) or engines[-1])

    def main(argv):
        try:
            return cli_main(argv)
        finally:
            while engines:
                engines.pop().dispose()

    db = ["--db", loaded.url.render_as_string(hide_password=False)]
    periodo = ["--from", "2026-06-01", "--to", "2026-10-31"]
    out = tmp_path / "estado.pdf"
    code = main([*db, "report", "statement", "--customer", CAC, *periodo, "--format", "pdf", "--out", str(out),
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["formato"] == "pdf" and data["rfc"] == CAC and data["monedas"] == ["MXN"]
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    by_suffix = tmp_path / "por_extension.pdf"  # the extension of --out is enough
    assert main([*db, "report", "statement", "--customer", DME, *periodo, "--out", str(by_suffix)]) == 0
    assert by_suffix.read_bytes().startswith(b"%PDF")
    assert main([*db, "report", "statement", "--customer", CAC, *periodo, "--format", "pdf"]) == 2  # needs --out
    assert "--out" in capsys.readouterr().err
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                              check=True).stdout.decode()
        with transaction(loaded) as s:
            st = reports.customer_statement(s, CAC, DateRange(date(2026, 6, 1), AS_OF))[0]
        assert "Estado de cuenta" in text and CAC in text
        assert f"{st.saldo_final:,.2f}" in text  # the saldo final the service computed is what is printed


def test_collectors_report_dated_in_the_future_counts_overdue_as_of_today(loaded, generated):
    """The period ends after today: what falls due between today and then is not overdue yet."""
    periodo = DateRange(AS_OF - timedelta(days=60), date(2026, 11, 30))
    with transaction(loaded) as s:
        got = reports.collectors(s, periodo, group_by="vendedor", today=AS_OF)
        naive = reports.collectors(s, periodo, group_by="vendedor", today=periodo.hasta)
    vencido = defaultdict(lambda: ZERO)
    for d, b in _open(generated, periodo.hasta):
        if d.vencimiento < AS_OF:
            vencido[(_key(generated, d, "vendedor"), d.moneda)] += b
    assert {(r.grupo, r.moneda): r.vencido for r in got.filas if r.vencido} == {k: v for k, v in vencido.items() if v}
    # The generated portfolio has invoices due in November: the naive cut counted them.
    assert sum(r.vencido for r in naive.filas) > sum(r.vencido for r in got.filas)
