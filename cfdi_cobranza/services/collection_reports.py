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

import gc
import json
import queue
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from itertools import groupby, pairwise
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Numeric,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from cfdi_cobranza.db.models import Company, Credit, Customer, Document
from cfdi_cobranza.db.models.collections import (
    CreditCondition,
    FollowUp,
    SaleAssignment,
)
from cfdi_cobranza.db.types import Money
from cfdi_cobranza.domain.aging import (
    SIN_ASIGNAR,
    AgingBuckets,
    AgingReport,
    AgingSums,
    GroupBy,
    GroupSums,
    aging_report,
    group_key,
)
from cfdi_cobranza.domain.due_dates import DueDatesReport, due_dates
from cfdi_cobranza.domain.forecast import Projection, delay_model, project_income
from cfdi_cobranza.domain.fx import MxnRates
from cfdi_cobranza.domain.money import ZERO
from cfdi_cobranza.domain.movement import MovementAmounts, MovementReport, receivables_movement
from cfdi_cobranza.domain.period import DateRange, Granularity
from cfdi_cobranza.domain.receivables import OpenItem
from cfdi_cobranza.domain.statement import Statement, statement
from cfdi_cobranza.domain.summary import CustomerSummary, customer_summary
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services.ledger import find_customer
from cfdi_cobranza.services.portfolio import (
    LOCAL_TZ,
    NO_DUE_DATE,
    Filters,
    apply_filters,
    display_name,
    end_of,
    load_portfolio,
    rates_to_mxn,
    sucursal_expr,
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
    if group_by in (GroupBy.ZONA, GroupBy.CLASIFICACION):
        need.add("cc")
    if group_by is GroupBy.EMPRESA:
        need.add("company")
    if filters is not None:
        if filters.vendedor or filters.sucursal:
            need |= {"cc", "sa"}
        if filters.zona or filters.clasificacion:
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
    return literal("*")


def _has_later_credits(session: Session, as_of: date) -> bool:
    return session.execute(
        select(Credit.id).where(Credit.fecha > end_of(as_of), Credit.reversed_at.is_(None),
                                Credit.document_id.is_not(None)).limit(1)
    ).first() is not None


def _balance(session: Session, as_of: date, later_credits: bool | None = None) -> tuple[Any, Any, list[Any]]:
    """(saldo expression, subquery to outer-join or None, WHERE conditions) at ``as_of``.

    ``later_credits``: whether live credits are dated after ``as_of``, if the caller
    knows (``_has_later_credits``)."""
    # Constants written into the SQL (not bound): they repeat the predicate of the partial
    # index ix_document_open_aging, which the planners can only match against literals.
    base = [Document.tipo == literal_column("'I'"), Document.status != literal_column("'cancelado'"),
            Document.fecha <= end_of(as_of)]
    if later_credits is None:
        later_credits = _has_later_credits(session, as_of)
    if not later_credits:
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
    edges = [as_of] + [as_of - timedelta(days=b) for b in buckets.bounds]
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
        from cfdi_cobranza.db.models.collections import AgingSetting

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
    """Antigüedad de saldos computed in SQL; equal to ``domain.aging.aging_report``.

    ``detail`` adds the document lines (one more query); without it ``detalle`` is empty.
    """
    with _no_gc():
        return _aging(session, as_of, buckets, group_by, filters, rates, detail)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report builds its rows.

    A report by customer creates a few hundred thousand tuples, lists and row objects,
    none of them in a reference cycle; with the collector on, every few thousand
    allocations it re-scans everything alive (the session, the rows read so far), which
    cost more than building the report (bench/bench_collections.py). Reference counting
    still frees everything; the collector resumes as it was when the report is done.

    Resuming it as such, its next young-generation pass would walk every object the
    report created (~100 ms for a report by customer of 100,000 customers) to find no
    garbage. ``gc.freeze()`` then ``gc.unfreeze()`` moves every tracked object to the
    oldest generation without walking them: the report's objects are examined, if still
    alive, by the next full collection, as any long-lived object is; cycles made before
    the report wait for that collection too (they are not lost). Measured on that report:
    1,001-1,027 ms before, 948-986 ms after. Skipped where objects are frozen already
    (``warm_up``), which the pair would unfreeze.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # Not where warm_up() froze the start-up objects (the web server, a month-end
            # run): unfreeze() would release those too, for good.
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _aging(
    session: Session,
    as_of: date,
    buckets: str | Sequence[int] | AgingBuckets | None,
    group_by: GroupBy | str,
    filters: Filters | None,
    rates: Mapping[str, Decimal] | None,
    detail: bool,
) -> AgingReport:
    spec = resolve_buckets(session, buckets)
    grouping = GroupBy.parse(group_by)
    postgres = session.get_bind().dialect.name == "postgresql"
    later = _has_later_credits(session, as_of)  # live credits dated after the fecha de corte
    if grouping is GroupBy.CLIENTE and not postgres:
        # Customer keys are unique: one row per (key, currency), as the domain takes them.
        # SQLite: by customer-id ranges, each computed in a helper thread while this one
        # builds the rows of the previous, their MXN view included, with the rates looked
        # up first (see _sqlite_ranges); closed on any error, which stops the helper
        # before the session goes on.
        acc = AgingSums(spec, rates_to_mxn(session, (), as_of, rates))  # the user's, no query
        asked: Future[MxnRates] | None = None
        asked_for: set[str] = set()  # a currency with no rate in the ledger is asked for once
        requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        with closing(_sqlite_ranges(session, as_of, spec, filters, later, requests)) as ranges:
            for columns in ranges:
                acc.add_columns(*columns)
                if asked is not None and asked.done():
                    acc.set_rates(asked.result())
                    asked = None
                known = acc.rates
                missing = {cur for cur in acc.currencies if known is not None and not known.has(cur)}
                if asked is None and missing - asked_for:
                    # Rates for the currencies seen so far, looked up by the helper
                    # between two ranges (it holds the connection).
                    asked_for |= missing
                    asked = Future()
                    requests.put((partial(rates_to_mxn, session, acc.currencies, as_of, rates), asked))
        if asked is not None:  # asked too late for the helper: the connection is free now
            acc.set_rates(asked.result() if asked.done() else rates_to_mxn(session, acc.currencies, as_of, rates))
        return _finish(session, acc, as_of, grouping, filters, rates, detail)
    ranged = (
        _pg_ranges_statement(session, as_of, spec, filters)
        if grouping is GroupBy.CLIENTE and _can_stream(session) and not later
        else None
    )
    if ranged is not None:
        # PostgreSQL: one statement with a part per customer-id range, streamed; the server
        # computes a range while this process builds the one before (see _pg_ranges). The
        # MXN view is built at the end, as the stream keeps this process busy already
        # (looking the rates up first and building it range by range gained nothing).
        acc = AgingSums(spec)
        with closing(_pg_ranges(session, ranged)) as ranges:
            for columns in ranges:
                acc.add_columns(*columns)
        return _finish(session, acc, as_of, grouping, filters, rates, detail)
    acc = AgingSums(spec)
    stmt = aging_statement(session, as_of, spec, grouping, filters, later_credits=later)
    if grouping is GroupBy.CLIENTE:
        if _can_stream(session):
            # Streamed: the rows are built into the report as PostgreSQL sends them, while
            # it computes the next ones (one query, one snapshot; see _stream).
            acc.add(_stream(session, stmt))
        else:
            acc.add(session.connection().execute(stmt).all())  # Core rows: no ORM result layer
        return _finish(session, acc, as_of, grouping, filters, rates, detail)
    raw = session.connection().execute(stmt).all()
    merged: dict[tuple[str, str], tuple[str, int, list[Decimal]]] = {}
    for grp, moneda, count, *amounts in raw:
        if grouping is GroupBy.CARTERA:
            gkey, gname = "*", "Toda la cartera"
        else:
            value = (grp or "").strip()
            gkey, gname = (grp, grp) if value else ("", SIN_ASIGNAR)
        values = [ZERO if a is None else a if postgres else Decimal(a).scaleb(-Money.scale) for a in amounts]
        prev = merged.get((gkey, moneda))
        if prev is not None:  # "" and NULL both mean unassigned
            values = [a + b for a, b in zip(prev[2], values, strict=True)]
            count += prev[1]
        merged[(gkey, moneda)] = (gname, count, values)
    sums: Sequence[GroupSums] = [
        (gkey, gname, moneda, count, *values) for (gkey, moneda), (gname, count, values) in merged.items()]
    acc.add(sums)
    return _finish(session, acc, as_of, grouping, filters, rates, detail)


def aging_statement(
    session: Session, as_of: date, spec: AgingBuckets, grouping: GroupBy, filters: Filters | None,
    *, later_credits: bool | None = None, ids: tuple[Any, Any] | None = None,
) -> Any:
    """The aging query: per group and currency, the documents and one sum per bucket.

    By customer its rows are what ``domain.aging.AgingSums`` takes: (key, display name,
    currency, documents, sums...); by other groupings (group value, currency, documents,
    sums...), merged in ``_aging``. ``ids`` (by customer) limits it to the customers with
    ``lo <= id < hi``, each bound a number, a bound parameter or None (no bound): a range
    of ix_document_open_aging, whose leading column is the customer. ``later_credits``:
    see ``_balance``.
    """
    saldo, later, where = _balance(session, as_of, later_credits)
    key = _group_expr(grouping).label("grp")
    postgres = session.get_bind().dialect.name == "postgresql"
    # One sum per bucket, of the balances that fall in it (FILTER: the rows of other
    # buckets are skipped, not added as zeros). An empty bucket is NULL: most buckets of
    # most customers are empty, and None costs the driver nothing where a Decimal zero
    # costs a Decimal (the domain reads None as Decimal(0)). PostgreSQL sums NUMERIC(24,6)
    # into Decimals of that scale and psycopg builds them as they come; SQLite sums the
    # scaled integers of Money, read below.
    amount = Numeric(24, 6) if postgres else BigInteger()
    cols = [type_coerce(func.sum(saldo).filter(c), amount).label(f"b{i}")
            for i, c in enumerate(_bucket_conditions(as_of, spec))]
    stmt = select(key, Document.moneda.label("moneda"), func.count().label("n"), *cols).select_from(Document)
    if later is not None:
        stmt = stmt.outerjoin(later, later.c.doc_id == Document.id)
    need = _needs(grouping, filters) - {"customer"}  # customers are joined after grouping
    stmt = apply_filters(_join(stmt, need), filters).where(*where)
    if ids is not None:
        if grouping is not GroupBy.CLIENTE:
            raise ValueError("ids is only for the report by customer")
        stmt = stmt.where(*_in_range(Document.customer_id, ids))
    stmt = stmt.group_by(key, Document.moneda)
    if grouping is GroupBy.CLIENTE:
        # One row per customer and currency: name the customers in the same query, with the
        # name the domain gives them (domain.aging.group_key): "NOMBRE (RFC)", or the RFC.
        agg = stmt.subquery()
        named = case((func.coalesce(Customer.nombre, "") == "", Customer.key),
                     else_=Customer.nombre + " (" + Customer.key + ")")
        stmt = (select(Customer.key.label("clave"), named.label("nombre"), agg.c.moneda, agg.c.n,
                       *(agg.c[f"b{i}"] for i in range(len(cols))))
                .select_from(agg).join(Customer, Customer.id == agg.c.grp))
        if ids is not None:  # the same range of customers: PostgreSQL's merge join starts there
            stmt = stmt.where(*_in_range(Customer.id, ids))
        # In the report's order (name, key, currency; in code-point order, as Python
        # compares str: PostgreSQL's "C" collation, SQLite's BINARY): the database sorts
        # in C and the report's rows are built in that order, instead of being sorted in
        # Python afterwards (which also scatters them in memory for the passes that follow).
        binary = "C" if postgres else "BINARY"
        stmt = stmt.order_by(named.collate(binary), Customer.key.collate(binary), agg.c.moneda.collate(binary))
    return stmt


def _in_range(column: Any, ids: tuple[Any, Any]) -> list[Any]:
    """``lo <= column < hi`` for the bounds that are not None (numbers bound as BIGINT)."""
    lo, hi = (literal(v, BigInteger()) if isinstance(v, int) else v for v in ids)
    return ([] if lo is None else [column >= lo]) + ([] if hi is None else [column < hi])


def _finish(
    session: Session, acc: AgingSums, as_of: date, grouping: GroupBy, filters: Filters | None,
    rates: Mapping[str, Decimal] | None, detail: bool,
) -> AgingReport:
    """The report from its sums, with the rates of the currencies they have."""
    currencies = acc.currencies
    mx = rates_to_mxn(session, currencies, as_of, rates)
    mx.require(currencies)
    report = acc.report(as_of, grouping, mx)
    if detail:
        lines = aging_report(open_items(session, as_of, filters=filters), as_of, acc.buckets, grouping, mx).detalle
        report = replace(report, detalle=lines)
    return report


STREAM_ROWS = 2048
"""Rows psycopg reads from the server at a time when streaming the aging query."""


def _can_stream(session: Session) -> bool:
    """Whether the connection can stream rows in chunks: psycopg 3.2+ on libpq 17+
    (``capabilities.has_stream_chunked``). Otherwise the report reads the whole result
    first, as before, with the same figures."""
    driver = session.connection().connection.driver_connection
    try:
        import psycopg
    except ImportError:  # pragma: no cover - another driver
        return False
    capabilities = getattr(psycopg, "capabilities", None)  # psycopg 3.2+
    return (isinstance(driver, psycopg.Connection) and capabilities is not None
            and bool(capabilities.has_stream_chunked()))


def _driver_statement(session: Session, stmt: Any) -> tuple[str, Any]:
    """``stmt`` as the driver takes it on the session's connection: the SQL, with the
    expanding parameters (IN lists of the filters) written out as ``execute()`` would,
    and each parameter through its type's bind processor (Money's, for one); positional
    for a driver that takes ``?`` (sqlite3)."""
    sql, params, order = _driver_parts(session, stmt)
    if order is not None:
        return sql, [params[name] for name in order]
    return sql, params


def _driver_parts(session: Session, stmt: Any) -> tuple[str, dict[str, Any], list[str] | None]:
    """``_driver_statement``'s SQL and processed parameters by name, and for a positional
    driver the parameters' names in the order of its ``?``."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    for name, value in params.items():
        bind = compiled.binds.get(name)
        if bind is None:  # one value of an expanded IN list: "<its bind's name>_<n>"
            base = compiled.binds.get(name.rpartition("_")[0])
            bind = base if base is not None and base.expanding else None
        # The processor SQLAlchemy itself would use: the type's dialect implementation's
        # (a TypeDecorator's bind_processor alone would go through the generic Numeric,
        # which sends floats).
        process = None if bind is None else bind.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if process is not None:
            params[name] = process(value)
    order = list(compiled.positiontup or ()) if compiled.positional else None
    return str(compiled), params, order


def _stream(session: Session, stmt: Any) -> Generator[tuple[Any, ...], None, None]:
    """The rows of ``stmt`` as PostgreSQL sends them, on the session's connection.

    psycopg's ``Cursor.stream`` (libpq's chunked rows mode): the server executes the
    query once and sends its rows as it produces them; the caller turns each chunk into
    report rows while the server computes the next. It is one statement in the session's
    transaction, so it reads one snapshot, like ``execute``. SQLAlchemy's
    ``stream_results`` would use a server-side cursor instead, which computes rows only
    when asked for them (``FETCH``), so nothing would overlap.
    """
    sql, params = _driver_statement(session, stmt)
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cur:  # type: ignore[union-attr]
        yield from cur.stream(sql, params, size=STREAM_ROWS)


RANGE_IDS = 6_250
"""Customer ids per range of the aging report by customer (16 ranges for 100,000)."""
MAX_RANGES = 64
"""At most this many ranges, however far apart the customer ids are."""


def _sqlite_ranges(
    session: Session, as_of: date, spec: AgingBuckets, filters: Filters | None, later: bool | None = None,
    requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None,
) -> Generator[_Columns, None, None]:
    """The rows of the aging report by customer on SQLite, one customer-id range at a time,
    by column (``AgingSums.add_columns``).

    sqlite3 lets other Python threads run while SQLite computes a statement, and the two
    halves of this report cost about the same: SQLite's grouping, joining and sorting
    (~0.7 s for 1,000,000 documents) and building the report's objects in Python
    (~0.7 s). So a helper thread runs the query for one range of customer ids after
    another (``aging_statement(ids=...)``, a range of ix_document_open_aging), while
    this thread builds the rows of the range before, and their MXN view once the helper
    has looked up the rates (``requests``, see ``_aging``): docs/benchmarks.md.

    The helper uses the session's own connection: one transaction, one snapshot, and
    this thread does not touch the connection until the helper is done. Each range comes
    back as one JSON text (``_json_rows``): computing it is one step of SQLite, with
    Python's lock released throughout, where fetching its 8,000 rows one by one would
    take that lock back from this thread for every row. A range's rows are in the
    report's order; ``AgingSums`` merges the ranges.
    """
    if later is None:
        later = _has_later_credits(session, as_of)
    ids = (bindparam("desde_id", 0, type_=BigInteger()), bindparam("hasta_id", 0, type_=BigInteger()))
    stmt = aging_statement(session, as_of, spec, GroupBy.CLIENTE, filters, later_credits=later, ids=ids)
    sql, params, order = _driver_parts(session, stmt)
    if order is None:  # pragma: no cover - sqlite3 is positional
        raise RuntimeError("sqlite3 takes positional parameters")
    bounds = _id_ranges(session)
    if not bounds:
        return
    driver = session.connection().connection.driver_connection

    def values(lo: int, hi: int) -> list[Any]:
        return [lo if name == "desde_id" else hi if name == "hasta_id" else params[name] for name in order]

    if later:
        # At a past fecha de corte each range would sum the later credits of the whole
        # ledger again (the subquery of _balance): one statement, read here, row by row.
        cur = driver.cursor()  # type: ignore[union-attr]
        try:
            yield _sqlite_columns(cur.execute(sql, values(bounds[0][0], bounds[-1][1])).fetchall(), len(spec))
        finally:
            cur.close()
        return
    ranges = [values(lo, hi) for lo, hi in bounds]
    with closing(_in_helper_thread(driver, _json_rows(sql, len(spec)), ranges, requests)) as texts:
        for text in texts:
            yield _sqlite_columns(json.loads(text, parse_float=_not_exact), len(spec))


def _json_rows(sql: str, buckets: int) -> str:
    """A statement giving all the rows of the aging ``sql`` as one JSON array of arrays
    [key, name, currency, documents, sums...], in the rows' order as SQLite feeds a
    subquery's ORDER BY to an aggregate (expected, not documented before SQLite 3.44's
    ORDER BY in aggregates: ``AgingSums`` sorts each chunk anyway, so another order would
    only cost time). A sum of Money is an integer of millionths, an empty bucket null; a
    float (never written by this program) would be a JSON number with a point, which
    ``_not_exact`` refuses as Money's reader does."""
    sums = ", ".join(f"b{i}" for i in range(buckets))
    return f"SELECT json_group_array(json_array(clave, nombre, moneda, n, {sums})) FROM ({sql})"


def _not_exact(token: str) -> Any:
    raise TypeError(f"unexpected float ({token}) from SQLite for an exact column")


_Columns = tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[int], list[list[Decimal]]]


def _sqlite_columns(raw: Sequence[Sequence[Any]], buckets: int) -> _Columns:
    """Rows (key, name, currency, count, sums...) as the columns ``AgingSums.add_columns``
    takes, each of SQLite's sums of Money (integers of millionths) read as Money reads a
    value and an empty bucket (NULL) as ``ZERO``."""
    if not raw:
        return (), (), (), (), [[] for _ in range(buckets)]
    keys, names, monedas, docs, *sums = zip(*raw, strict=True)
    amounts = [[ZERO if v is None else Decimal(v).scaleb(-Money.scale) for v in col] for col in sums]
    return keys, names, monedas, docs, amounts


def _id_ranges(session: Session) -> list[tuple[int, int]]:
    """Ranges ``[lo, hi)`` of customer ids, ``RANGE_IDS`` ids each, at most ``MAX_RANGES``
    (ids far apart, of deleted or imported customers, widen the ranges rather than
    multiply them)."""
    low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
    if low is None:
        return []
    step = max(RANGE_IDS, -(-(high + 1 - low) // MAX_RANGES))
    return list(pairwise([*range(low, high + 1, step), high + 1]))


PG_MAX_PARAMETERS = 30_000
"""Above this many parameters (a long list of customers in the filters, repeated in every
range) the PostgreSQL report stays one query: psycopg sends at most 65,535."""


def _pg_ranges_statement(
    session: Session, as_of: date, spec: AgingBuckets, filters: Filters | None,
) -> Any | None:
    """The statement ``_pg_ranges`` streams, or None when it would not pay (no customer,
    one range) or would need too many parameters.

    The ranges' queries joined by ``UNION ALL``, each with its range's number first: one
    statement, so one snapshot. The first range has no lower bound and the last no upper
    one, so customers added since the bounds were read are in the report too.
    """
    bounds = _id_ranges(session)
    if len(bounds) < 2:
        return None
    parts = []
    for k, (lo, hi) in enumerate(bounds):
        ids = (None if k == 0 else lo, None if k == len(bounds) - 1 else hi)
        sub = aging_statement(session, as_of, spec, GroupBy.CLIENTE, filters, later_credits=False,
                              ids=ids).subquery()
        parts.append(select(literal(k, BigInteger()).label("r"), *sub.c))
    per_part = len(parts[1].compile(dialect=session.get_bind().dialect,
                                    compile_kwargs={"render_postcompile": True}).params)
    if per_part * len(parts) > PG_MAX_PARAMETERS:
        return None
    return union_all(*parts)


def _pg_ranges(session: Session, stmt: Any) -> Generator[_Columns, None, None]:
    """The rows of the aging report by customer on PostgreSQL (no credit dated after the
    fecha de corte), one customer-id range at a time, by column (``_pg_ranges_statement``).

    PostgreSQL runs the ranges one after the other and sends each range's rows as soon as
    it has grouped and sorted them, while this process builds the range before; as one
    query, it sends nothing before it has grouped and sorted all 100,000 customers.
    """
    import psycopg

    # Without parallel workers: the ranges one after the other, in order (a Parallel
    # Append would interleave them), on one core of the server while this process uses
    # another. Without JIT: compiling the 16 parts' expressions cost ~120 ms before the
    # first row. Local to the transaction, and put back after the statement.
    settings = {"max_parallel_workers_per_gather": "0", "jit": "off"}
    before = {name: str(session.scalar(select(func.current_setting(name)))) for name in settings}
    for name, value in settings.items():
        session.execute(select(func.set_config(name, value, True)))
    driver: Any = session.connection().connection.driver_connection
    rows = _stream(session, stmt)
    try:
        for _r, group in groupby(rows, key=_FIRST):
            _rs, keys, names, monedas, docs, *sums = zip(*group, strict=True)
            yield keys, names, monedas, docs, [[ZERO if v is None else v for v in col] for col in sums]
    finally:
        # Ended early (an error of the caller, an interrupt): the stream holds psycopg's
        # connection lock until it is closed, which also cancels the query.
        rows.close()
        if driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            for name, value in before.items():
                session.execute(select(func.set_config(name, value, True)))
        # Else the transaction failed (the caller raises its error) and its rollback
        # undoes the local settings.


_FIRST = itemgetter(0)


def _in_helper_thread(
    driver: Any, sql: str, each_params: Sequence[Sequence[Any]],
    requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None,
) -> Generator[Any, None, None]:
    """The one value of ``sql`` for each of ``each_params``, in order, computed on
    ``driver`` (a sqlite3 connection) by a helper thread that runs ahead of the caller.

    The caller must not use the connection until the iterator is exhausted or closed;
    closing it early interrupts the helper's statement in course and waits for it.
    An error of the helper is raised here. A connection bound to the thread that made it
    (``check_same_thread``) is used from this thread instead, one statement at a time.

    ``requests``: work on the connection the caller needs meanwhile, each a function and
    the future of its result; the helper runs it before its next statement (a request
    that comes after the last one is left to the caller).
    """
    results: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def one(params: Sequence[Any]) -> Any:
        cur = driver.execute(sql, params)
        try:
            return cur.fetchone()[0]
        finally:
            cur.close()

    def work() -> None:
        for params in each_params:
            if stop.is_set():
                return
            while requests is not None and not requests.empty():
                call, future = requests.get()
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(call())
                    except BaseException as exc:
                        future.set_exception(exc)
            try:
                results.put((True, one(params)))
            except BaseException as exc:  # handed to the caller, which raises it
                results.put((False, exc))
                return

    helper = threading.Thread(target=work, name="cobranza-aging-sqlite", daemon=True)
    helper.start()
    own_thread = False
    try:
        for done in range(len(each_params)):
            ok, value = results.get()
            if not ok:
                if done == 0 and isinstance(value, sqlite3.ProgrammingError) and "thread" in str(value):
                    own_thread = True
                    break
                raise value
            yield value
    finally:
        stop.set()
        if helper.is_alive():
            driver.interrupt()  # the statement in course, if any; none after: stop is set
        helper.join()
    if own_thread:
        for params in each_params:
            yield one(params)


def open_items(
    session: Session, as_of: date, *, filters: Filters | None = None, due: DateRange | None = None,
) -> list[OpenItem]:
    """Documents with a balance at ``as_of`` (optionally due in ``due``), from SQL."""
    saldo, later, where = _balance(session, as_of)
    stmt = select(
        Document.uuid, Document.serie, Document.folio, Customer.key, Customer.nombre, Document.moneda,
        saldo, Document.vencimiento, vendedor_expr(), CreditCondition.zona, CreditCondition.clasificacion,
        sucursal_expr(), Company.rfc,
    ).select_from(Document)
    if later is not None:
        stmt = stmt.outerjoin(later, later.c.doc_id == Document.id)
    stmt = apply_filters(_join(stmt, {"customer", "company", "cc", "sa"}), filters).where(*where)
    if due is not None:
        stmt = stmt.where(Document.vencimiento >= due.desde, Document.vencimiento <= due.hasta)
    out = []
    for uuid, serie, folio, key, nombre, moneda, bal, venc, vend, zona, clas, suc, emp in session.execute(
        stmt.order_by(Document.vencimiento, Document.id)
    ):
        ref = f"{serie or ''}{'-' if serie and folio else ''}{folio or ''}"
        out.append(OpenItem(uuid, key, display_name(nombre), moneda, bal, venc or NO_DUE_DATE, ref,
                            vend, zona, clas, suc, emp))
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


def customer_statement(session: Session, rfc: str, periodo: DateRange) -> list[Statement]:
    customer = find_customer(session, rfc)
    portfolio = load_portfolio(session, Filters(customer_ids=(customer.id,)), until=periodo.hasta,
                               with_payments=False, with_promises=False)
    return statement(customer.key, portfolio.docs, portfolio.applications, periodo)


SUMMARY_LEVELS = (GroupBy.EMPRESA, GroupBy.SUCURSAL, GroupBy.VENDEDOR, GroupBy.CARTERA)


@dataclass(frozen=True)
class SummaryRow:
    grupo: str
    nombre: str
    moneda: str
    montos: MovementAmounts
    vencido: Decimal  # part of saldo_final overdue at periodo.hasta


@dataclass(frozen=True)
class SummaryReport:
    periodo: DateRange
    agrupacion: GroupBy
    filas: tuple[SummaryRow, ...]
    totales: dict[str, MovementAmounts]
    vencido: dict[str, Decimal]


def summary(
    session: Session, periodo: DateRange, *, group_by: GroupBy | str = GroupBy.EMPRESA,
    filters: Filters | None = None,
) -> SummaryReport:
    """Receivables summary at company, branch or salesperson level for a time range."""
    grouping = GroupBy.parse(group_by)
    if grouping not in SUMMARY_LEVELS:
        raise ValidationError("El resumen se agrupa por empresa, sucursal, vendedor o cartera.",
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


COLLECTOR_LEVELS = (GroupBy.VENDEDOR, GroupBy.ZONA, GroupBy.CLASIFICACION, GroupBy.SUCURSAL)


@dataclass(frozen=True)
class CollectorRow:
    grupo: str
    nombre: str
    moneda: str
    saldo: Decimal
    vencido: Decimal
    cobrado: Decimal  # pagos applied in the period to documents of the group
    notas_credito: Decimal
    clientes: int
    seguimientos: int  # collection actions in the period on the group's customers
    promesas_vigentes: int
    promesas_incumplidas: int


@dataclass(frozen=True)
class CollectorsReport:
    periodo: DateRange
    agrupacion: GroupBy
    filas: tuple[CollectorRow, ...]


def collectors(
    session: Session, periodo: DateRange, *, group_by: GroupBy | str = GroupBy.VENDEDOR,
    filters: Filters | None = None,
) -> CollectorsReport:
    """What each collector group has to collect and what it collected in the period.

    Collections follow the sale: a payment counts for the branch/salesperson the paid
    invoice was assigned to when sold (``sale_assignment``), not the customer's current one.
    """
    from cfdi_cobranza.domain.promises import PromiseStatus, evaluate_promises

    grouping = GroupBy.parse(group_by)
    if grouping not in COLLECTOR_LEVELS:
        raise ValidationError("El reporte de cobradores se agrupa por vendedor, zona, clasificación o sucursal.",
                              code="AGRUPACION_INVALIDA")
    portfolio = load_portfolio(session, filters, until=periodo.hasta, with_payments=False)
    mov = receivables_movement(portfolio.docs, portfolio.applications, periodo, grouping)
    by_doc = {d.doc_id: d for d in portfolio.docs}
    saldo: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    vencido: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    customers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for item in open_items(session, periodo.hasta, filters=filters):
        k = (group_key(item, grouping)[0], item.moneda)
        saldo[k] += item.saldo
        customers[k].add(item.rfc)
        if item.vencimiento < periodo.hasta:
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


@dataclass(frozen=True)
class CustomerSummaryView:
    summary: CustomerSummary
    conditions: dict[str, Any]
    acciones: list[dict[str, Any]]  # collection actions (follow-ups), newest first
    notas: list[dict[str, Any]]
    documentos_cobranza: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


def customer_overview(
    session: Session, rfc: str, as_of: date, *, periodo: DateRange | None = None,
    granularity: Granularity = Granularity.MES, rates: Mapping[str, Decimal] | None = None,
    actions_limit: int = 20,
) -> CustomerSummaryView:
    """Everything a collector needs about one customer (one indexed read per table)."""
    from cfdi_cobranza.services import collections as credit
    from cfdi_cobranza.services.followups import list_follow_ups

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
    return CustomerSummaryView(
        summary=result,
        conditions=credit.get_conditions(session, customer.key).to_dict(),
        acciones=acciones,
        notas=[n.to_dict() for n in credit.list_notes(session, customer.key)],
        documentos_cobranza=[v.to_dict() for v in credit.list_debt_documents(session, customer.key)],
        extra={"acciones_total": len(follow)},
    )


def _with_name(result: CustomerSummary, nombre: str | None) -> CustomerSummary:
    from dataclasses import replace

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
]


def open_counts(session: Session, as_of: date) -> tuple[dict[str, int], int]:
    """Overdue open invoices per currency and customers with an open balance, at ``as_of``.

    Same balance rule as the aging report (``_balance``): the stored saldo when no
    credit is dated after ``as_of`` (an index-only read of the open-invoice index),
    else the saldo with the later credits added back.
    """
    from sqlalchemy import distinct

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
