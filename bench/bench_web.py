"""Benchmark: page latency under load, gunicorn on loopback with 8 concurrent clients.

Seeds a database with N documents (default 100,000) over N/20 customers with bulk
inserts, starts gunicorn (``web:create_app()``, 4 workers) on 127.0.0.1, logs in 8
clients and has each fetch the pages below in a loop for a fixed number of rounds.
Prints p50/p95/max per page. The baseline in the same run is ``/login`` (a page that
touches no ledger data): the ratio shows what the ledger queries cost on top of
Flask, sessions and templates. It is fetched without the session cookie: a signed-in
client asking for ``/login`` is redirected to the Tablero (and urllib follows the
redirect), which measured the Tablero twice under the baseline's name.

    .venv/bin/python bench/bench_web.py [--n 100000] [--rounds 25] [--pg URL | --sqlite]

Traffic goes only to 127.0.0.1; loops are bounded in count and the server is stopped
at the end.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

from cfdi_cobranza.db.models import Company, Customer, Document
from cfdi_cobranza.db.session import make_engine, migrate, session_factory
from cfdi_cobranza.services.users import add_user

BASELINE = "login (baseline)"
PAGES = {
    BASELINE: "/login",
    "tablero": "/",
    "documentos": "/documentos/",
    "antigüedad": "/reportes/antiguedad",
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)
PASSWORD = "bench-Passw0rd!"


def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    customers = max(1, n // 20)
    with session_factory(engine)() as s, s.begin():
        s.add(Company(rfc="EKU9003173C9", nombre="ESCUELA KEMPER URGATE SA DE CV", created_at=NOW))
        s.execute(insert(Customer), [{"key": f"CLI{i:06d}XX1", "rfc": f"CLI{i:06d}XX1", "nombre": f"CLIENTE {i}",
                                      "created_at": NOW, "updated_at": NOW} for i in range(customers)])
        add_user(s, "bench", PASSWORD, "administrador", hash_method="pbkdf2:sha256:1000")
    with engine.connect() as c:
        ids = [r[0] for r in c.execute(text("select id from customer order by id"))]
    today = date(2026, 11, 1)
    with session_factory(engine)() as s, s.begin():
        batch = []
        for i in range(n):
            amount = Decimal(500 + i % 9000) + Decimal("0.50")
            fecha = today - timedelta(days=i % 200)
            batch.append({"uuid": f"{i:08X}-0000-4000-8000-{i:012X}", "company_id": 1, "customer_id": ids[i % customers],
                          "version": "4.0", "tipo": "I", "serie": "A", "folio": str(i), "fecha": datetime.combine(fecha, datetime.min.time()),
                          "fecha_timbrado": datetime.combine(fecha, datetime.min.time()),
                          "moneda": "USD" if i % 10 == 0 else "MXN", "subtotal": amount, "total": amount,
                          "tipo_cambio": Decimal("17.2345") if i % 10 == 0 else None,
                          "saldo": amount if i % 3 else Decimal(0), "metodo_pago": "PPD",
                          "vencimiento": fecha + timedelta(days=30), "sello_sat": "verificado", "sha256": "0" * 64,
                          "xml": b"", "imported_at": NOW, "status": "vigente"})
            if len(batch) == 5000:
                s.execute(insert(Document), batch)
                batch = []
        if batch:
            s.execute(insert(Document), batch)
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.anonymous = urllib.request.build_opener()  # no cookies: /login renders its form

    def get(self, path: str, *, anonymous: bool = False) -> tuple[int, float]:
        opener = self.anonymous if anonymous else self.opener
        start = time.perf_counter()
        try:
            with opener.open(self.base + path, timeout=30) as resp:
                resp.read()
                return resp.status, time.perf_counter() - start
        except urllib.error.HTTPError as exc:
            return exc.code, time.perf_counter() - start

    def login(self) -> None:
        with self.opener.open(self.base + "/login", timeout=30) as resp:
            html = resp.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert token, "no CSRF token on the login page"
        data = urllib.parse.urlencode({"csrf_token": token.group(1), "username": "bench", "password": PASSWORD}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=30) as resp:
            resp.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    admin = None
    if args.sqlite:
        url = f"sqlite:///{tmp / 'web.db'}"
    else:
        admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "cobranza_bench_web" WITH (FORCE)'))
            c.execute(text('CREATE DATABASE "cobranza_bench_web"'))
        url = args.pg.rsplit("/", 1)[0] + "/cobranza_bench_web"
    t = time.perf_counter()
    seed(url, args.n)
    print(f"seeded {args.n:,} documents in {time.perf_counter() - t:.1f} s ({'SQLite' if args.sqlite else 'PostgreSQL'})")
    port = free_port()
    env = {**os.environ, "COBRANZA_DATABASE_URL": url, "COBRANZA_INSTANCE": str(tmp / "instance"),
           "COBRANZA_SECRET_KEY": "bench-secret"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen([str(gunicorn), "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "web:create_app()"],
                              env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        clients = [Client(base) for _ in range(args.clients)]
        for c in clients:
            c.login()
        pages = {}
        for name, path in PAGES.items():  # warm up; a page this version lacks is left out
            status, _ = clients[0].get(path, anonymous=name == BASELINE)
            if status == 200:
                pages[name] = path
            else:
                print(f"{name} ({path}): HTTP {status}, not measured")
        for c in clients:
            for name, path in pages.items():
                c.get(path, anonymous=name == BASELINE)
        timings: dict[str, list[float]] = {name: [] for name in pages}
        errors: list[str] = []
        lock = threading.Lock()

        def work(client: Client) -> None:
            for _ in range(args.rounds):
                for name, path in pages.items():
                    try:
                        status, secs = client.get(path, anonymous=name == BASELINE)
                    except Exception as exc:  # recorded, the run goes on
                        with lock:
                            errors.append(f"{path}: {exc}")
                        continue
                    with lock:
                        if status == 200:
                            timings[name].append(secs)
                        else:
                            errors.append(f"{path}: HTTP {status}")

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - start
        base_p95 = None
        print(f"\n{args.clients} clients x {args.rounds} rounds, {args.workers} gunicorn workers, {wall:.1f} s")
        print(f"{'page':<20}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'p95 vs login':>14}")
        for name, values in timings.items():
            if not values:
                print(f"{name:<20} no successful requests")
                continue
            values.sort()
            p95 = values[int(len(values) * 0.95) - 1] * 1000
            base_p95 = base_p95 or p95
            print(f"{name:<20}{len(values):>6}{statistics.median(values) * 1000:>10.1f}{p95:>10.1f}"
                  f"{values[-1] * 1000:>10.1f}{p95 / base_p95:>13.1f}x")
        if errors:
            print(f"{len(errors)} errors, e.g. {errors[:3]}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        if admin is not None:
            with admin.connect() as c:
                c.execute(text('DROP DATABASE IF EXISTS "cobranza_bench_web" WITH (FORCE)'))


if __name__ == "__main__":
    main()
