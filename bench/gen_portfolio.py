"""Generate a large receivables portfolio for the collections benchmarks.

Writes straight into the ledger tables of a freshly migrated database (no CFDI XML,
no importer): companies, customers with their credit conditions, invoices (I),
receipts (settlement + payment) and the credits that lower the invoices' ``saldo``:
payments applied here (full and partial) and credit notes, some invoices in USD, a
few cancelled. Every stored ``saldo`` equals ``total`` minus its live credits, as the
ledger guarantees, so the SQL aging and the domain-based reports agree on the data.

PostgreSQL is loaded with ``COPY`` (psycopg 3 ``cursor.copy``), where money is
NUMERIC text; SQLite with ``executemany`` on the raw connection, where money is the
scaled integer of ``cfdi_cobranza.db.types`` (value x 10^6, rates x 10^10) and
datetimes the text SQLAlchemy writes. All credits are dated on or before ``AS_OF``.

    .venv/bin/python bench/gen_portfolio.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/cobranza_bench
    .venv/bin/python bench/gen_portfolio.py --sqlite /tmp/portfolio.db --docs 200000 --customers 20000
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from cfdi_cobranza.db.session import make_engine, migrate

AS_OF = date(2026, 10, 31)  # fecha de corte of the benchmark; no credit is dated after it
FIRST_DAY = date(2024, 1, 1)
NOW = "2026-11-01 12:00:00"  # created/imported timestamps (UTC)
USD_RATES = ("17.1500", "17.4825", "18.0310", "19.6000")
CHUNK = 100_000

# Column kinds: s str, i int, m money in cents, r rate (decimal text), d day offset from
# FIRST_DAY (a Date), t day offset + hour (a naive DateTime), z timestamp (UTC), b bytes.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "company": (("id", "i"), ("rfc", "s"), ("nombre", "s"), ("rep_serie", "s"), ("created_at", "z")),
    "customer": (("id", "i"), ("key", "s"), ("rfc", "s"), ("nombre", "s"), ("credit_days", "i"),
                 ("created_at", "z"), ("updated_at", "z")),
    "credit_condition": (("customer_id", "i"), ("plazo_maximo_dias", "i"), ("nivel_control", "s"),
                         ("estatus", "s"), ("tipo_cobranza", "s"), ("dias_atraso_tolerados", "i"),
                         ("vendedor", "s"), ("zona", "s"), ("clasificacion", "s"), ("sucursal", "s"),
                         ("updated_at", "z"), ("updated_by", "s")),
    "document": (("id", "i"), ("uuid", "s"), ("company_id", "i"), ("customer_id", "i"), ("version", "s"),
                 ("tipo", "s"), ("serie", "s"), ("folio", "s"), ("fecha", "t"), ("fecha_timbrado", "t"),
                 ("moneda", "s"), ("tipo_cambio", "r"), ("subtotal", "m"), ("total", "m"),
                 ("metodo_pago", "s"), ("vencimiento", "d"), ("saldo", "m"), ("status", "s"),
                 ("sello_sat", "s"), ("sha256", "s"), ("xml", "b"), ("imported_at", "z")),
    "settlement": (("id", "i"), ("customer_id", "i"), ("fecha", "t"), ("created_at", "z")),
    "payment": (("id", "i"), ("settlement_id", "i"), ("company_id", "i"), ("customer_id", "i"),
                ("fecha_pago", "t"), ("forma_pago", "s"), ("moneda", "s"), ("tipo_cambio", "r"),
                ("monto", "m"), ("aplicado", "m"), ("status", "s"), ("created_at", "z")),
    "credit": (("id", "i"), ("kind", "s"), ("target_uuid", "s"), ("document_id", "i"), ("source_line", "i"),
               ("amount", "m"), ("fecha", "t"), ("num_parcialidad", "i"), ("payment_id", "i"),
               ("amount_p", "m"), ("equivalencia_dr", "r"), ("imp_saldo_ant", "m"),
               ("imp_saldo_insoluto", "m"), ("requires_rep", "i"), ("created_by", "s")),
}
LOAD_ORDER = ("company", "customer", "credit_condition", "document", "settlement", "payment", "credit")


@dataclass
class Stats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    big_customer: str = ""  # key of the customer with many documents
    typical_customer: str = ""

    def line(self) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in self.rows.items())


def rfc(i: int) -> str:
    return f"C{i:09d}AB"  # 12 characters: a persona moral RFC shape, unique per customer


def name(i: int) -> str:
    """A customer's name, unique, in an order unrelated to its id (as real names are):
    a report sorted by name cannot take the rows in id order as they come."""
    return f"CLIENTE {(i * 48271) % 1_000_003:07d} SA DE CV"  # a bijection for i < 1,000,003


def doc_uuid(i: int) -> str:
    return f"{i:08X}-0000-4000-8000-{i:012X}"


# --------------------------------------------------------------------------- rows


class Portfolio:
    """Deterministic rows for every table, produced lazily in ``CHUNK``-sized lists."""

    def __init__(self, docs: int, customers: int, big: int, seed: int = 5) -> None:
        if customers < 2 or docs < customers:
            raise SystemExit("se necesitan al menos 2 clientes y un documento por cliente")
        self.docs, self.customers, self.big, self.seed = docs, customers, big, seed
        self.last_day = (AS_OF - FIRST_DAY).days
        self.payments: list[tuple[Any, ...]] = []
        self.settlements: list[tuple[Any, ...]] = []
        self.credits: list[tuple[Any, ...]] = []

    def company(self) -> Iterator[list[tuple[Any, ...]]]:
        yield [(1, "EKU9003173C9", "ESCUELA KEMPER URGATE SA DE CV", "P", NOW)]

    def customer(self) -> Iterator[list[tuple[Any, ...]]]:
        for start in range(1, self.customers + 1, CHUNK):
            yield [(i, rfc(i), rfc(i), name(i), 30, NOW, NOW)
                   for i in range(start, min(start + CHUNK, self.customers + 1))]

    def credit_condition(self) -> Iterator[list[tuple[Any, ...]]]:
        for start in range(1, self.customers + 1, CHUNK):
            yield [(i, 30, "autorizacion", "activo", "normal", 0, f"VEND{i % 150:03d}", f"ZONA{i % 12:02d}",
                    "ABC"[i % 3], f"SUC{i % 8}", NOW, "bench")
                   for i in range(start, min(start + CHUNK, self.customers + 1))]

    def document(self) -> Iterator[list[tuple[Any, ...]]]:
        """Invoices; the receipts and credits they get are collected for the later tables."""
        rng = random.Random(self.seed)
        last = self.last_day
        terms = (0, 15, 30, 30, 30, 45, 60, 90)
        pay_id = credit_id = 0
        batch: list[tuple[Any, ...]] = []
        for i in range(1, self.docs + 1):
            # Customer 1 is the big account; the others get the rest at random.
            cust = 1 if i <= self.big else rng.randrange(2, self.customers + 1)
            day = rng.randrange(0, last + 1)
            term = terms[rng.randrange(len(terms))]
            venc = None if rng.random() < 0.01 else day + term
            usd = rng.random() < 0.08
            moneda, rate = ("USD", USD_RATES[i % 4]) if usd else ("MXN", None)
            total = rng.randrange(50_000, 5_000_000) if not usd else rng.randrange(5_000, 300_000)
            status = "cancelado" if rng.random() < 0.01 else "vigente"
            saldo = total
            if status == "vigente":
                r = rng.random()
                due = venc if venc is not None else day + 30
                credits: list[tuple[str, int, int]] = []  # (kind, cents, day)
                if r < 0.40:  # paid in full, around the due date
                    paid_day = due + rng.randrange(-10, 60)
                    if paid_day <= last:
                        credits.append(("pago", total, max(day, paid_day)))
                elif r < 0.55:  # partial payment
                    paid_day = max(day, due + rng.randrange(-10, 40))
                    if paid_day <= last:
                        credits.append(("pago", total * rng.randrange(20, 80) // 100, paid_day))
                elif r < 0.62:  # credit note (and sometimes a partial payment too)
                    note_day = min(last, day + rng.randrange(1, 30))
                    credits.append(("nota_credito", total * rng.randrange(5, 30) // 100, note_day))
                    if r < 0.58 and note_day + 15 <= last:
                        credits.append(("pago", (total - credits[0][1]) // 2, note_day + 15))
                for seq, (kind, cents, cday) in enumerate(credits, 1):
                    if cents <= 0:
                        continue
                    credit_id += 1
                    before = saldo
                    saldo -= cents
                    pid = None
                    if kind == "pago":
                        pay_id += 1
                        pid = pay_id
                        self.settlements.append((pid, cust, (cday, 12), NOW))
                        self.payments.append((pid, pid, 1, cust, (cday, 12), "03", moneda, rate or "1",
                                              cents, cents, "activo", NOW))
                    self.credits.append((
                        credit_id, kind, doc_uuid(i), i, 0, cents, (cday, 12), seq if pid else None, pid,
                        cents if pid else None, "1" if pid else None, before if pid else None,
                        saldo if pid else None, 1 if pid else None, "bench"))
            batch.append((i, doc_uuid(i), 1, cust, "4.0", "I", "A", str(i), (day, 10), (day, 10), moneda, rate,
                          total, total, "PPD", venc, saldo, status, "verificado", "0" * 64, b"", NOW))
            if len(batch) == CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch

    def _chunks(self, rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, len(rows), CHUNK):
            yield rows[start:start + CHUNK]

    def settlement(self) -> Iterator[list[tuple[Any, ...]]]:
        return self._chunks(self.settlements)

    def payment(self) -> Iterator[list[tuple[Any, ...]]]:
        return self._chunks(self.payments)

    def credit(self) -> Iterator[list[tuple[Any, ...]]]:
        return self._chunks(self.credits)


# --------------------------------------------------------------------------- formatting


def _day_cache(days: int, fmt: Callable[[date], str]) -> list[str]:
    return [fmt(FIRST_DAY + timedelta(days=d)) for d in range(days + 200)]


def _converters(kinds: Sequence[str], dialect: str, last_day: int) -> list[Callable[[Any], Any]]:
    days = _day_cache(last_day, date.isoformat)
    micro = ".000000" if dialect == "sqlite" else ""
    hours: dict[int, list[str]] = {}

    def dt(v: tuple[int, int]) -> str:
        table = hours.get(v[1])
        if table is None:
            table = hours[v[1]] = [f"{d} {v[1]:02d}:00:00{micro}" for d in days]
        return table[v[0]]

    out: list[Callable[[Any], Any]] = []
    for k in kinds:
        if k == "m":
            out.append((lambda v: v * 10_000) if dialect == "sqlite" else (lambda v: f"{v // 100}.{v % 100:02d}"))
        elif k == "r":
            out.append((lambda v: int(v.replace(".", "").ljust(len(v.split(".")[0]) + 10, "0")))
                       if dialect == "sqlite" else (lambda v: v))
        elif k == "d":
            out.append(lambda v: days[v])
        elif k == "t":
            out.append(dt)
        elif k == "z":
            out.append((lambda v: v + micro) if dialect == "sqlite" else (lambda v: v + "+00"))
        elif k == "b":
            out.append((lambda v: v) if dialect == "sqlite" else (lambda v: ""))  # empty bytea
        else:
            out.append(lambda v: v)
    return out


def _copy_text(rows: list[tuple[Any, ...]], conv: list[Callable[[Any], Any]]) -> str:
    # The generated values hold no tab, newline or backslash: COPY text needs no escaping.
    lines = []
    for row in rows:
        lines.append("\t".join("\\N" if v is None else str(c(v)) for c, v in zip(conv, row, strict=True)))
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading


def _load(engine: Engine, portfolio: Portfolio, stats: Stats, log: Callable[[str], None]) -> None:
    dialect = engine.dialect.name
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if dialect == "sqlite":
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("BEGIN")
        for table in LOAD_ORDER:
            t = time.perf_counter()
            cols = TABLES[table]
            conv = _converters([k for _, k in cols], dialect, portfolio.last_day)
            names = ", ".join(c for c, _ in cols)
            n = 0
            for rows in getattr(portfolio, table)():
                if dialect == "postgresql":
                    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                        cp.write(_copy_text(rows, conv))
                else:
                    marks = ", ".join("?" for _ in cols)
                    cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                    [tuple(None if v is None else c(v) for c, v in zip(conv, row, strict=True))
                                     for row in rows])
                n += len(rows)
            stats.rows[table] = n
            log(f"  {table}: {n:,} rows in {time.perf_counter() - t:.1f} s")
        if dialect == "postgresql":
            for table in LOAD_ORDER:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table}))" if table != "credit_condition"
                            else "SELECT 1")
        raw.commit()
    finally:
        raw.close()


def generate(engine: Engine, *, docs: int, customers: int, big: int = 5_000, fresh: bool = True,
             log: Callable[[str], None] = print) -> Stats:
    """Migrate ``engine`` and load the portfolio; ``fresh`` requires empty tables."""
    t0 = time.perf_counter()
    migrate(engine)
    with engine.connect() as c:
        if fresh and c.execute(text("SELECT count(*) FROM document")).scalar():
            raise SystemExit("la base de datos ya tiene documentos: use una base nueva")
    stats = Stats(big_customer=rfc(1), typical_customer=rfc(2 + customers // 2))
    _load(engine, Portfolio(docs, customers, min(big, docs // 2)), stats, log)
    t = time.perf_counter()
    # Fresh statistics (and on PostgreSQL the visibility map): what a database that has
    # been running has. Outside any transaction, on the raw connection.
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            pg = raw.driver_connection
            pg.autocommit = True  # type: ignore[union-attr]
            try:
                pg.execute("VACUUM ANALYZE")  # type: ignore[union-attr]
            finally:
                pg.autocommit = False  # type: ignore[union-attr]
        else:
            raw.cursor().execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    log(f"  analyze: {time.perf_counter() - t:.1f} s")
    stats.seconds = time.perf_counter() - t0
    return stats


def fresh_pg(admin_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``admin_url``; its URL."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", metavar="ADMIN_URL", help="PostgreSQL server URL (admin database)")
    ap.add_argument("--pg-db", default="cobranza_bench", help="scratch database, dropped and recreated")
    ap.add_argument("--sqlite", type=Path, metavar="FILE", help="SQLite file (replaced)")
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--big", type=int, default=5_000, help="documents of the one big customer")
    args = ap.parse_args()
    if not args.pg and not args.sqlite:
        ap.error("indique --pg URL y/o --sqlite ARCHIVO")
    if args.pg:
        engine = make_engine(fresh_pg(args.pg, args.pg_db))
        print(f"[PostgreSQL] {args.docs:,} documents, {args.customers:,} customers")
        s = generate(engine, docs=args.docs, customers=args.customers, big=args.big)
        print(f"[PostgreSQL] generated in {s.seconds:.1f} s: {s.line()}")
        engine.dispose()
    if args.sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{args.sqlite}")
        print(f"[SQLite] {args.docs:,} documents, {args.customers:,} customers")
        s = generate(engine, docs=args.docs, customers=args.customers, big=args.big)
        print(f"[SQLite] generated in {s.seconds:.1f} s: {s.line()}")
        engine.dispose()


if __name__ == "__main__":
    main()
