"""Benchmark: the aging report and one customer's summary on a large portfolio.

Generates the portfolio with ``bench/gen_portfolio.py`` (1,000,000 documents and
100,000 customers on PostgreSQL by default; a smaller one on SQLite) and times,
as the median of several runs after a warm-up:

(a) the aging report grouped by customer with totals, through the service the CLI's
    ``cobranza report aging --by cliente`` calls (``collection_reports.aging``);
(b) one customer's financial summary through the service ``cobranza customer summary``
    calls (``collection_reports.customer_overview``), for a typical customer and for
    the one with thousands of documents;
(c) the baseline in the same run: a plain
    ``SELECT customer_id, moneda, SUM(saldo) FROM document WHERE tipo='I' AND saldo <> 0
    GROUP BY customer_id, moneda`` over the same table,

and prints the ratio aging / baseline (design rule 15: ratios against a baseline of the
same run, no timed assertions in the tests; the two are timed alternately and the ratio
is the median of the pairs' ratios), and how much of the aging report is its
main query alone (executed and fetched through the driver) and how much the building
of the report in Python. ``--explain`` prints EXPLAIN ANALYZE summaries of the aging
query and the baseline on PostgreSQL.

``--startup-freeze`` also times the report as a web worker would compute it, after
``warm_up()``, with the start-up objects frozen for the garbage collector (``gc.freeze()``)
against not frozen: whether a ``gc.freeze()`` after start-up is worth having.

    .venv/bin/python bench/bench_collections.py [--reuse] [--explain] [--no-sqlite] [--no-pg]
        [--startup-freeze] [--pg-db NAME] [--sqlite FILE]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_portfolio import AS_OF, fresh_pg, generate, rfc

from cfdi_cobranza.db.session import make_engine, transaction
from cfdi_cobranza.domain.aging import GroupBy
from cfdi_cobranza.services import collection_reports as reports
from cfdi_cobranza.warmup import warm_up

BASELINE = ("SELECT customer_id, moneda, SUM(saldo) FROM document WHERE tipo = 'I' AND saldo <> 0 "
            "GROUP BY customer_id, moneda")


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median milliseconds of ``runs`` calls after one warm-up call, and the last result.

    The previous call's result is released before the clock starts: freeing a report of
    a few hundred thousand rows is not part of computing the next one.
    """
    result = fn()
    times = []
    for _ in range(runs):
        result = None
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def paired(base: Callable[[], Any], fn: Callable[[], Any], runs: int) -> tuple[float, float, float, Any, Any]:
    """``base`` and ``fn`` timed alternately, ``runs`` times each after one warm-up call each:
    their median milliseconds, the median of the ratios fn/base of each pair (on a shared
    machine the load changes between pairs more than within one), and the last results."""
    b_res, f_res = base(), fn()
    b_times, f_times, ratios = [], [], []
    for _ in range(runs):
        b_res = f_res = None
        t = time.perf_counter()
        b_res = base()
        b = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        f_res = fn()
        f = (time.perf_counter() - t) * 1000
        b_times.append(b)
        f_times.append(f)
        ratios.append(f / b)
    return statistics.median(b_times), statistics.median(f_times), statistics.median(ratios), b_res, f_res


def explain(engine: Engine, sql: str, params: Any, label: str) -> None:
    with engine.connect() as c:
        raw = c.connection.driver_connection
        assert raw is not None
        cur = raw.cursor()
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
        plan = [r[0] for r in cur.fetchall()]
    keep = [ln for ln in plan if "->" in ln or ln.startswith(("Execution", "Planning"))
            or not ln.startswith(" ")]
    print(f"    EXPLAIN ANALYZE {label}:")
    for ln in keep[:14]:
        print(f"      {ln.rstrip()[:150]}")


def run(label: str, engine: Engine, runs: int, show_plan: bool, freeze: bool = False) -> dict[str, float]:
    with engine.connect() as c:
        docs = c.execute(text("SELECT count(*) FROM document")).scalar() or 0
        customers = c.execute(text("SELECT count(*) FROM customer")).scalar() or 0
        credits = c.execute(text("SELECT count(*) FROM credit")).scalar() or 0
    print(f"[{label}] {docs:,} documents, {customers:,} customers, {credits:,} credits; fecha de corte {AS_OF}")
    typical = rfc(2 + (customers - 1) // 2)
    big = rfc(1)
    with engine.connect() as c:
        n_typ = c.execute(text("SELECT count(*) FROM document d JOIN customer c ON c.id = d.customer_id "
                               "WHERE c.key = :k"), {"k": typical}).scalar()
        n_big = c.execute(text("SELECT count(*) FROM document d JOIN customer c ON c.id = d.customer_id "
                               "WHERE c.key = :k"), {"k": big}).scalar()

    def aging(as_of: Any = AS_OF) -> Any:
        with transaction(engine) as s:
            return reports.aging(s, as_of, group_by="cliente", rates={})

    def baseline() -> Any:
        with transaction(engine) as s:
            return s.execute(text(BASELINE)).all()

    def overview(key: str) -> Callable[[], Any]:
        def call() -> Any:
            with transaction(engine) as s:
                return reports.customer_overview(s, key, AS_OF)
        return call

    with transaction(engine) as s:  # the main query: bucket sums per customer, named
        stmt = reports.aging_statement(s, AS_OF, reports.resolve_buckets(s, None), GroupBy.CLIENTE, None)
        compiled = stmt.compile(dialect=engine.dialect)
        main_sql, main_params = str(compiled), compiled.params

    def aging_query() -> Any:
        with transaction(engine) as s:
            return s.connection().execute(stmt).all()

    out: dict[str, float] = {}
    out["baseline"], out["aging"], out["ratio"], base_rows, rep = paired(baseline, aging, runs)
    out["aging_query"], _ = timed(aging_query, runs)
    if freeze:  # as a web worker would run it, with and without gc.freeze() after start-up
        def aging_frozen() -> Any:
            gc.freeze()
            try:
                return aging()
            finally:
                gc.unfreeze()

        out["aging_unfrozen"], out["aging_frozen"], out["freeze_ratio"], _, _ = paired(aging, aging_frozen, runs)
    out["aging_past"], _ = timed(lambda: aging(AS_OF - timedelta(days=30)), max(1, runs // 2))
    out["summary"], view = timed(overview(typical), runs * 4)
    out["summary_big"], _ = timed(overview(big), max(1, runs))
    groups = len({r.grupo for r in rep.filas})
    print(f"[{label}] baseline GROUP BY: {out['baseline']:8.1f} ms ({len(base_rows):,} rows)")
    print(f"[{label}] aging by customer: {out['aging']:8.1f} ms ({groups:,} customers, {len(rep.filas):,} rows, "
          f"total MXN {rep.total_mxn.total:,.2f}) -> ratio aging/baseline {out['ratio']:.2f}x "
          f"(median of {runs} alternating pairs)")
    print(f"[{label}]   the main query alone (execute + fetch): {out['aging_query']:8.1f} ms")
    if freeze:
        print(f"[{label}]   with the start-up objects frozen (gc.freeze()): {out['aging_frozen']:8.1f} ms against "
              f"{out['aging_unfrozen']:8.1f} ms not frozen -> ratio {out['freeze_ratio']:.3f}x "
              f"({gc.get_count()} young objects; {len(gc.get_objects()):,} tracked)")
    print(f"[{label}] aging at a past fecha de corte (credits after it added back): {out['aging_past']:8.1f} ms "
          f"-> ratio {out['aging_past'] / out['baseline']:.2f}x")
    print(f"[{label}] customer summary ({n_typ} documents): {out['summary']:8.2f} ms "
          f"(saldo {dict(view.summary.saldo)})")
    print(f"[{label}] customer summary, big account ({n_big:,} documents): {out['summary_big']:8.2f} ms")
    targets = [("aging < 1 s", out["aging"] < 1000), ("summary < 50 ms", out["summary"] < 50)]
    print(f"[{label}] targets: " + ", ".join(f"{name}: {'ok' if ok else 'MISSED'}" for name, ok in targets))
    if show_plan and engine.dialect.name == "postgresql":
        explain(engine, main_sql, main_params, "aging (main query)")
        explain(engine, BASELINE, None, "baseline")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                    help="PostgreSQL server URL (admin database)")
    ap.add_argument("--pg-db", default="cobranza_bench")
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--sqlite", type=Path, default=Path("/tmp/cobranza_bench.db"))
    ap.add_argument("--sqlite-docs", type=int, default=200_000)
    ap.add_argument("--sqlite-customers", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="use the databases a previous run generated")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated databases")
    ap.add_argument("--startup-freeze", action="store_true",
                    help="after warm_up() (as in a web worker), time the aging report with the start-up "
                         "objects frozen for the garbage collector (gc.freeze()) against not frozen")
    args = ap.parse_args()
    if args.startup_freeze:
        warm_up()

    def quiet(_msg: str) -> None:
        pass

    if not args.no_pg:
        url = args.pg.rsplit("/", 1)[0] + f"/{args.pg_db}"
        if not args.reuse:
            url = fresh_pg(args.pg, args.pg_db)
            engine = make_engine(url)
            st = generate(engine, docs=args.docs, customers=args.customers, log=quiet)
            print(f"[PostgreSQL] generated (COPY) in {st.seconds:.1f} s: {st.line()}")
        else:
            engine = make_engine(url)
        try:
            run("PostgreSQL", engine, args.runs, args.explain, args.startup_freeze)
        finally:
            engine.dispose()
            if not args.keep and not args.reuse:
                admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)'))
                admin.dispose()
    if not args.no_sqlite:
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{args.sqlite}")
        if not args.reuse:
            st = generate(engine, docs=args.sqlite_docs, customers=args.sqlite_customers, log=quiet)
            print(f"[SQLite] generated (executemany) in {st.seconds:.1f} s: {st.line()}")
        try:
            run("SQLite", engine, args.runs, False, args.startup_freeze)
        finally:
            engine.dispose()
            if not args.keep and not args.reuse:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
