"""Collections reports over the stored portfolio, all at a fecha de corte.

The aging and due-date reports are computed in SQL (one ``GROUP BY`` with ``CASE`` on
the due date) so they stay fast on a large portfolio; the others load the part of
the portfolio they need and call the pure domain functions, which define every
figure. Either way the semantics are the domain's (``domain.aging`` and
``domain.receivables``): a balance at a fecha de corte is the total minus the live
credits dated on or before it.

The SQL balance at a fecha de corte is the stored ``saldo`` (total minus every live
credit) plus the live credits dated after the fecha de corte. When no credit is dated
after it (the usual "today" report) the query reads only invoices with a balance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Credit, Customer, Document
from cfdi_cobranza.db.models.collections import (
    AgingSetting,
    CreditCondition,
    FollowUp,
    SaleAssignment,
)
from cfdi_cobranza.db.scope import company_filter, company_ids
from cfdi_cobranza.db.types import Money, MoneySum
from cfdi_cobranza.domain.aging import (
    SIN_ASIGNAR,
    AgingBuckets,
    AgingReport,
    GroupBy,
    GroupSums,
    aging_from_sums,
    aging_report,
    group_key,
    group_of,
)
from cfdi_cobranza.domain.debts import with_bounces
from cfdi_cobranza.domain.due_dates import DueDatesReport, due_dates
from cfdi_cobranza.domain.forecast import Projection, delay_model, project_income
from cfdi_cobranza.domain.fx import MxnRates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.movement import (
    CollectorRow,
    CollectorsReport,
    MovementReport,
    SummaryReport,
    SummaryRow,
    receivables_movement,
)
from cfdi_cobranza.domain.period import DateRange, Granularity, add_days, overdue_cutoff
from cfdi_cobranza.domain.promises import PromiseStatus, evaluate_promises
from cfdi_cobranza.domain.receivables import OpenItem
from cfdi_cobranza.domain.statement import Statement, statement
from cfdi_cobranza.domain.summary import CustomerSummary, CustomerSummaryView, customer_summary
from cfdi_cobranza.domain.trends import DEFAULT_MONTHS, TrendsReport, check_months, payment_trends
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import collections as credit
from cfdi_cobranza.services import debts, efos
from cfdi_cobranza.services.clock import system_clock
from cfdi_cobranza.services.followups import list_follow_ups
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import (
    LOCAL_TZ,
    NO_DUE_DATE,
    Filters,
    apply_filters,
    display_name,
    end_of,
    load_portfolio,
    local_date,
    rates_to_mxn,
    sucursal_expr,
    tipo_cobranza_expr,
    vendedor_expr,
)

# --------------------------------------------------------------------------- SQL pieces


def _needs(group_by: GroupBy | None, filters: Filters | None) -> set[str]:
    """Tables a query must join for its grouping and filters (fewer joins, faster scans)."""
    need: set[str] = set()
    if group_by in (GroupBy.CLIENTE,):
        need.add("customer")
    if group_by in (GroupBy.VENDEDOR, GroupBy.SUCURSAL):
        need |= {"cc", "sa"}
    if group_by in (GroupBy.ZONA, GroupBy.CLASIFICACION, GroupBy.TIPO_COBRANZA):
        need.add("cc")
    if group_by is GroupBy.EMPRESA:
        need.add("company")
    if filters is not None:
        if filters.vendedor or filters.sucursal:
            need |= {"cc", "sa"}
        if filters.zona or filters.clasificacion or filters.tipo_cobranza:
            need.add("cc")
        if filters.empresa:
            need.add("company")
    return need


def _join(stmt: Any, need: set[str]) -> Any:
    if "customer" in need:
        stmt = stmt.join(Customer, Customer.id == Document.customer_id)
    if "company" in need:
        stmt = stmt.join(Company, Company.id == Document.company_id)
    if "cc" in need:
        stmt = stmt.outerjoin(CreditCondition, CreditCondition.customer_id == Document.customer_id)
    if "sa" in need:
        stmt = stmt.outerjoin(SaleAssignment, SaleAssignment.document_id == Document.id)
    return stmt


def _group_expr(group_by: GroupBy) -> Any:
    if group_by is GroupBy.CLIENTE:
        return Document.customer_id
    if group_by is GroupBy.VENDEDOR:
        return vendedor_expr()
    if group_by is GroupBy.SUCURSAL:
        return sucursal_expr()
    if group_by is GroupBy.ZONA:
        return CreditCondition.zona
    if group_by is GroupBy.CLASIFICACION:
        return CreditCondition.clasificacion
    if group_by is GroupBy.EMPRESA:
        return Company.rfc
    if group_by is GroupBy.TIPO_COBRANZA:
        return tipo_cobranza_expr()
    return literal("*")


def _has_later_credits(session: Session, as_of: date) -> bool:
    return session.execute(
        select(Credit.id).where(Credit.fecha > end_of(as_of), Credit.reversed_at.is_(None),
                                Credit.document_id.is_not(None)).limit(1)
    ).first() is not None


def _balance(session: Session, as_of: date) -> tuple[Any, Any, list[Any]]:
    """(saldo expression, subquery to outer-join or None, WHERE conditions) at ``as_of``."""
    # Constants written into the SQL (not bound): they repeat the predicate of the partial
    # index ix_document_open_aging, which the planners can only match against literals.
    base = [Document.tipo == literal_column("'I'"), Document.status != literal_column("'cancelado'"),
            Document.fecha <= end_of(as_of)]
    if not _has_later_credits(session, as_of):
        return Document.saldo, None, [*base, Document.saldo > literal_column("0")]
    later = (
        select(Credit.document_id.label("doc_id"), func.sum(Credit.amount).label("later"))
        .where(Credit.fecha > end_of(as_of), Credit.reversed_at.is_(None), Credit.document_id.is_not(None))
        .group_by(Credit.document_id).subquery()
    )
    saldo = type_coerce(Document.saldo + func.coalesce(later.c.later, 0), Money())
    return saldo, later, [*base, saldo > 0]


def _bucket_conditions(as_of: date, buckets: AgingBuckets) -> list[Any]:
    """One condition on ``vencimiento`` per bucket, in the domain's bucket order.

    ``days = as_of - vencimiento``; bucket 0 is days <= 0, bucket i is
    ``bounds[i-2] < days <= bounds[i-1]``, the last is days > bounds[-1]. As dates:
    days <= b  <=>  vencimiento >= as_of - b. Comparing dates (not day differences)
    keeps the SQL identical on PostgreSQL and SQLite.
    """
    venc = Document.vencimiento
    edges = [as_of] + [add_days(as_of, -b) for b in buckets.bounds]
    conds: list[Any] = [or_(venc.is_(None), venc >= edges[0])]
    for upper, lower in pairwise(edges):
        conds.append(and_(venc < upper, venc >= lower))
    conds.append(venc < edges[-1])
    return conds


# --------------------------------------------------------------------------- aging


def resolve_buckets(session: Session, spec: str | Sequence[int] | AgingBuckets | None) -> AgingBuckets:
    """The user's spec, else the default stored in ``aging_setting``, else 0,30,60,90."""
    if isinstance(spec, AgingBuckets):
        return spec
    if spec is None:
        stored = session.scalar(select(AgingSetting.spec).where(AgingSetting.is_default.is_(True)))
        return AgingBuckets.parse(stored)
    return AgingBuckets.parse(spec)


def aging(
    session: Session,
    as_of: date,
    *,
    buckets: str | Sequence[int] | AgingBuckets | None = None,
    group_by: GroupBy | str = GroupBy.CLIENTE,
    filters: Filters | None = None,
    rates: Mapping[str, Decimal] | None = None,
    detail: bool = False,
) -> AgingReport:
    """Antigüedad de saldos: one query sums the balances per group, currency and bucket,
    and ``domain.aging.aging_from_sums`` builds the report from those sums, as
    ``domain.aging.aging_report`` does from the documents.

    ``detail`` adds the document lines (one more query); without it ``detalle`` is empty.
    """
    spec = resolve_buckets(session, buckets)
    grouping = GroupBy.parse(group_by)
    rows = session.connection().execute(aging_statement(session, as_of, spec, grouping, filters)).all()
    sums = rows if grouping is GroupBy.CLIENTE else _named_groups(rows, grouping)
    currencies = {s[2] for s in sums}
    mx = rates_to_mxn(session, currencies, as_of, rates)
    report = aging_from_sums(sums, as_of, spec, grouping, mx)  # refuses a currency without a rate
    if detail:
        lines = aging_report(open_items(session, as_of, filters=filters), as_of, spec, grouping, mx).detalle
        report = replace(report, detalle=lines)
    return report


def _named_groups(rows: Sequence[Sequence[Any]], grouping: GroupBy) -> list[GroupSums]:
    """Rows (group value, currency, documents, sums...) as ``GroupSums``, named as the
    domain names groups; values with one name ("" and NULL: unassigned) added up."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for value, moneda, count, *amounts in rows:
        key, name = group_of(value, grouping)
        sums = [ZERO if a is None else a for a in amounts]
        prev = merged.get((key, moneda))
        if prev is None:
            merged[(key, moneda)] = [key, name, moneda, count, *sums]
        else:
            prev[3] += count
            prev[4:] = [a + b for a, b in zip(prev[4:], sums, strict=True)]
    return list(merged.values())


def aging_statement(
    session: Session, as_of: date, spec: AgingBuckets, grouping: GroupBy, filters: Filters | None,
) -> Any:
    """The aging query: per group and currency, the documents and one sum per bucket.

    By customer its rows are ``domain.aging.GroupSums`` (key, display name, currency,
    documents, sums...), in the report's order; by other groupings (group value,
    currency, documents, sums...), named by ``_named_groups``.
    """
    saldo, later, where = _balance(session, as_of)
    key = _group_expr(grouping).label("grp")
    # One sum per bucket, of the balances that fall in it; an empty bucket is NULL.
    cols = [type_coerce(func.sum(saldo).filter(c), MoneySum()).label(f"b{i}")
            for i, c in enumerate(_bucket_conditions(as_of, spec))]
    stmt = select(key, Document.moneda.label("moneda"), func.count().label("n"), *cols).select_from(Document)
    if later is not None:
        stmt = stmt.outerjoin(later, later.c.doc_id == Document.id)
    need = _needs(grouping, filters) - {"customer"}  # customers are joined after grouping
    stmt = apply_filters(_join(stmt, need), filters).where(*where).group_by(key, Document.moneda)
    scope = company_ids(session)
    if scope is not None:  # run on the raw connection below, so the ORM's company criteria do not apply
        stmt = stmt.where(company_filter(Document.company_id, scope))
    if grouping is not GroupBy.CLIENTE:
        return stmt
    # One row per customer and currency, named as domain.aging.group_key names a
    # customer: "NOMBRE (RFC)", or the RFC. In the report's order, so that sorting them
    # again costs little.
    agg = stmt.subquery()
    named = case((func.coalesce(Customer.nombre, "") == "", Customer.key),
                 else_=Customer.nombre + " (" + Customer.key + ")")
    return (select(Customer.key.label("clave"), named.label("nombre"), agg.c.moneda, agg.c.n,
                   *(agg.c[f"b{i}"] for i in range(len(cols))))
            .select_from(agg).join(Customer, Customer.id == agg.c.grp)
            .order_by(named, Customer.key, agg.c.moneda))


def open_items(
    session: Session, as_of: date, *, filters: Filters | None = None, due: DateRange | None = None,
) -> list[OpenItem]:
    """Documents with a balance at ``as_of`` (optionally due in ``due``), from SQL."""
    saldo, later, where = _balance(session, as_of)
    stmt = select(
        Document.uuid, Document.serie, Document.folio, Customer.key, Customer.nombre, Document.moneda,
        saldo, Document.vencimiento, vendedor_expr(), CreditCondition.zona, CreditCondition.clasificacion,
        sucursal_expr(), Company.rfc, tipo_cobranza_expr(),
    ).select_from(Document)
    if later is not None:
        stmt = stmt.outerjoin(later, later.c.doc_id == Document.id)
    stmt = apply_filters(_join(stmt, {"customer", "company", "cc", "sa"}), filters).where(*where)
    if due is not None:
        stmt = stmt.where(Document.vencimiento >= due.desde, Document.vencimiento <= due.hasta)
    out = []
    for uuid, serie, folio, key, nombre, moneda, bal, venc, vend, zona, clas, suc, emp, tipo in session.execute(
        stmt.order_by(Document.vencimiento, Document.id)
    ):
        ref = f"{serie or ''}{'-' if serie and folio else ''}{folio or ''}"
        out.append(OpenItem(uuid, key, display_name(nombre), moneda, bal, venc or NO_DUE_DATE, ref,
                            vend, zona, clas, suc, emp, tipo))
    return out


def due_report(session: Session, rango: DateRange, as_of: date, *, filters: Filters | None = None) -> DueDatesReport:
    return due_dates(open_items(session, as_of, filters=filters, due=rango), rango, as_of)


# --------------------------------------------------------------------------- ledger-based reports


def movement(
    session: Session, periodo: DateRange, *, group_by: GroupBy | str = GroupBy.CLIENTE,
    filters: Filters | None = None,
) -> MovementReport:
    portfolio = load_portfolio(session, filters, until=periodo.hasta, with_payments=False, with_promises=False)
    return receivables_movement(portfolio.docs, portfolio.applications, periodo, group_by)


def customer_statement(session: Session, rfc: str, periodo: DateRange, *,
                       today: date | None = None) -> list[Statement]:
    customer = find_customer(session, rfc)
    portfolio = load_portfolio(session, Filters(customer_ids=(customer.id,)), until=periodo.hasta,
                               with_payments=False, with_promises=False)
    # A returned cheque: its payment on its date, then a charge with the reason.
    docs, apps = with_bounces(portfolio.docs, portfolio.applications, debts.bounces_of(session, customer.id),
                              periodo.hasta)
    return statement(customer.key, docs, apps, periodo, today=today or local_date(system_clock()))


SUMMARY_LEVELS = (GroupBy.EMPRESA, GroupBy.SUCURSAL, GroupBy.VENDEDOR, GroupBy.TIPO_COBRANZA, GroupBy.CARTERA)


def summary(
    session: Session, periodo: DateRange, *, group_by: GroupBy | str = GroupBy.EMPRESA,
    filters: Filters | None = None,
) -> SummaryReport:
    """Receivables summary at company, branch or salesperson level for a time range."""
    grouping = GroupBy.parse(group_by)
    if grouping not in SUMMARY_LEVELS:
        raise ValidationError("El resumen se agrupa por empresa, sucursal, vendedor, tipo de cobranza o cartera.",
                              code="AGRUPACION_INVALIDA")
    mov = movement(session, periodo, group_by=grouping, filters=filters)
    overdue: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for item in open_items(session, periodo.hasta, filters=filters):
        if item.vencimiento < periodo.hasta:
            overdue[(group_key(item, grouping)[0], item.moneda)] += item.saldo
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (_, cur), v in overdue.items():
        totals[cur] += v
    return SummaryReport(
        periodo=periodo, agrupacion=grouping,
        filas=tuple(SummaryRow(r.grupo, r.nombre, r.moneda, r.montos, overdue.get((r.grupo, r.moneda), ZERO))
                    for r in mov.filas),
        totales=mov.totales, vencido=dict(sorted(totals.items())),
    )


COLLECTOR_LEVELS = (GroupBy.VENDEDOR, GroupBy.ZONA, GroupBy.CLASIFICACION, GroupBy.SUCURSAL, GroupBy.TIPO_COBRANZA)


def collectors(
    session: Session, periodo: DateRange, *, group_by: GroupBy | str = GroupBy.VENDEDOR,
    filters: Filters | None = None, today: date | None = None,
) -> CollectorsReport:
    """What each collector group has to collect and what it collected in the period
    (overdue: due before the period's end, or before today when the period ends later).

    Collections follow the sale: a payment counts for the branch/salesperson the paid
    invoice was assigned to when sold (``sale_assignment``), not the customer's current one.
    """
    grouping = GroupBy.parse(group_by)
    if grouping not in COLLECTOR_LEVELS:
        raise ValidationError("El reporte de cobradores se agrupa por vendedor, zona, clasificación, sucursal o "
                              "tipo de cobranza.",
                              code="AGRUPACION_INVALIDA")
    portfolio = load_portfolio(session, filters, until=periodo.hasta, with_payments=False)
    mov = receivables_movement(portfolio.docs, portfolio.applications, periodo, grouping)
    by_doc = {d.doc_id: d for d in portfolio.docs}
    saldo: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    vencido: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    customers: dict[tuple[str, str], set[str]] = defaultdict(set)
    cutoff = overdue_cutoff(periodo.hasta, today or local_date(system_clock()))
    for item in open_items(session, periodo.hasta, filters=filters):
        k = (group_key(item, grouping)[0], item.moneda)
        saldo[k] += item.saldo
        customers[k].add(item.rfc)
        if item.vencimiento < cutoff:
            vencido[k] += item.saldo
    # Customer -> groups (a customer's follow-ups count for each group it has debt in).
    cust_groups: dict[str, set[str]] = defaultdict(set)
    for d in portfolio.docs:
        cust_groups[d.rfc].add(group_key(d, grouping)[0])
    actions: Counter[str] = Counter()
    start = datetime.combine(periodo.desde, time.min, LOCAL_TZ)
    end = datetime.combine(periodo.hasta, time.max, LOCAL_TZ)
    for (key,) in session.execute(
        select(Customer.key).select_from(FollowUp).join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.at >= start, FollowUp.at <= end)
    ):
        for g in cust_groups.get(key, ()):
            actions[g] += 1
    vig: Counter[str] = Counter()
    inc: Counter[str] = Counter()
    for o in evaluate_promises(portfolio.promises, portfolio.applications, periodo.hasta):
        doc = by_doc.get(o.promise.doc_ids[0])
        if doc is None:
            continue
        g = group_key(doc, grouping)[0]
        if o.estado is PromiseStatus.VIGENTE:
            vig[g] += 1
        elif o.estado is PromiseStatus.INCUMPLIDA:
            inc[g] += 1
    names = {r.grupo: r.nombre for r in mov.filas}
    keys = set(saldo) | {(r.grupo, r.moneda) for r in mov.filas}
    movs = {(r.grupo, r.moneda): r.montos for r in mov.filas}
    for d in portfolio.docs:
        names.setdefault(*group_key(d, grouping))
    rows = []
    for g, cur in sorted(keys, key=lambda k: (names.get(k[0], k[0]), k)):
        m = movs.get((g, cur))
        rows.append(CollectorRow(
            g, names.get(g, g or SIN_ASIGNAR), cur, saldo.get((g, cur), ZERO), vencido.get((g, cur), ZERO),
            m.pagos if m else ZERO, m.notas_credito if m else ZERO, len(customers.get((g, cur), ())),
            actions.get(g, 0), vig.get(g, 0), inc.get(g, 0),
        ))
    return CollectorsReport(periodo, grouping, tuple(rows))


MAX_PROJECTION_DAYS = 3 * 365


def projection(
    session: Session, as_of: date, *, granularity: Granularity | str = Granularity.SEMANA,
    hasta: date | None = None, filters: Filters | None = None, rates: Mapping[str, Decimal] | None = None,
) -> Projection:
    """Projected income: due-date projection beside the behavioural one (with promises)."""
    gran = granularity if isinstance(granularity, Granularity) else Granularity.parse(granularity)
    if hasta is not None and hasta <= as_of:
        DateRange(as_of + timedelta(days=1), hasta)  # refuses the inverted range in Spanish
    if hasta is not None and hasta > as_of + timedelta(days=MAX_PROJECTION_DAYS):
        # Each period is a row per currency: a horizon of centuries is minutes of work.
        raise ValidationError(f"La proyección llega como máximo a {MAX_PROJECTION_DAYS // 365} años después de "
                              "la fecha de corte.", code="RANGO_INVALIDO")
    portfolio = load_portfolio(session, filters, until=as_of, with_payments=False)
    model = delay_model(portfolio.docs, portfolio.applications, as_of)
    items = open_items(session, as_of, filters=filters)
    mx = rates_to_mxn(session, {i.moneda for i in items}, as_of, rates)
    return project_income(items, as_of, model, promises=portfolio.promises,
                          applications=portfolio.applications, granularity=gran, hasta=hasta,
                          rates_to_mxn=mx)


# --------------------------------------------------------------------------- customer summary


def customer_overview(
    session: Session, rfc: str, as_of: date, *, periodo: DateRange | None = None,
    granularity: Granularity = Granularity.MES, rates: Mapping[str, Decimal] | None = None,
    actions_limit: int = 20,
) -> CustomerSummaryView:
    """Everything a collector needs about one customer (one indexed read per table)."""
    customer = find_customer(session, rfc)
    rango = periodo or DateRange(as_of.replace(month=1, day=1), as_of)
    portfolio = load_portfolio(session, Filters(customer_ids=(customer.id,)), until=as_of)
    currencies = {d.moneda for d in portfolio.docs} | {p.moneda for p in portfolio.payments}
    mx: MxnRates = rates_to_mxn(session, currencies, as_of, rates)
    result = customer_summary(
        customer.key, portfolio.docs, portfolio.applications, portfolio.payments, portfolio.promises,
        rango, as_of, granularity=granularity, rates_to_mxn=mx,
    )
    if not portfolio.docs:
        result = _with_name(result, customer.nombre)
    follow = list_follow_ups(session, rfc=customer.key, estado=None)
    acciones = [f.to_dict() for f in reversed(follow[-actions_limit:])]
    trend = payment_trends(portfolio.docs, portfolio.applications, as_of, rates_to_mxn=mx)
    return CustomerSummaryView(
        summary=result,
        conditions=credit.get_conditions(session, customer.key).to_dict(),
        acciones=acciones,
        notas=[n.to_dict() for n in credit.list_notes(session, customer.key)],
        documentos_cobranza=[v.to_dict() for v in debts.list_debt_documents(session, customer.key)],
        extra={"acciones_total": len(follow), "efos": efos.standing_dict(efos.standing(session, customer.rfc)),
               "cargos_devueltos": debts.bounced_charges(session, customer.id)},
        tendencia=trend.clientes[0] if trend.clientes else None,
    )


# --------------------------------------------------------------------------- trends


def trends(
    session: Session, as_of: date, *, months: int = DEFAULT_MONTHS, customer: str | None = None,
    filters: Filters | None = None, rates: Mapping[str, Decimal] | None = None, with_months: bool = True,
) -> TrendsReport:
    """Patrones y tendencias de pago (``domain.trends``): month by month over ``months``
    months up to ``as_of``, per customer and for the part of the portfolio selected.

    The trend's previous window reaches back 9 months whatever ``months`` says; documents
    are read up to ``as_of`` (older open ones still count as overdue in the recent window).
    """
    check_months(months)
    if customer is not None:
        found = find_customer(session, customer)
        ids = (found.id,) if filters is None or filters.customer_ids is None else tuple(
            i for i in filters.customer_ids if i == found.id)
        filters = replace(filters or Filters(), customer_ids=ids)
    portfolio = load_portfolio(session, filters, until=as_of, with_payments=False, with_promises=False)
    mx = rates_to_mxn(session, {d.moneda for d in portfolio.docs}, as_of, rates)
    return payment_trends(portfolio.docs, portfolio.applications, as_of, months=months, rates_to_mxn=mx,
                          with_months=with_months)


def _with_name(result: CustomerSummary, nombre: str | None) -> CustomerSummary:
    return replace(result, nombre=nombre or result.rfc)


__all__ = [
    "CollectorsReport",
    "CustomerSummaryView",
    "SummaryReport",
    "aging",
    "collectors",
    "customer_overview",
    "customer_statement",
    "due_report",
    "movement",
    "open_items",
    "projection",
    "resolve_buckets",
    "summary",
    "trends",
]


def open_counts(session: Session, as_of: date) -> tuple[dict[str, int], int]:
    """Overdue open invoices per currency and customers with an open balance, at ``as_of``.

    Same balance rule as the aging report (``_balance``): the stored saldo when no
    credit is dated after ``as_of`` (an index-only read of the open-invoice index),
    else the saldo with the later credits added back.
    """
    _saldo, later, where = _balance(session, as_of)

    def base(*cols: Any) -> Any:
        stmt = select(*cols).select_from(Document)
        if later is not None:
            stmt = stmt.outerjoin(later, later.c.doc_id == Document.id)
        return stmt.where(*where)

    overdue: dict[Any, Any] = dict(session.execute(
        base(Document.moneda, func.count()).where(Document.vencimiento < as_of).group_by(Document.moneda)
    ).all())
    customers = session.scalar(base(func.count(distinct(Document.customer_id)))) or 0
    return {str(k): int(v) for k, v in overdue.items()}, int(customers)


def open_currencies(session: Session) -> set[str]:
    """Currencies that have open invoices."""
    return set(session.scalars(select(Document.moneda).where(Document.tipo == "I", Document.saldo > 0).distinct()))
