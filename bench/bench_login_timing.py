"""Benchmark: does a failed sign-in for an unknown username cost what one for a real user costs?

Issue 14 measured 6 ms for an unknown username against 100 ms for a real one (the
dummy hash was a cheap pbkdf2 while real hashes are scrypt), which told an attacker
which usernames exist. This script signs in with a wrong password through
``services.users.authenticate`` (the code path of ``POST /login``), alternating an
unknown username and a real one with a scrypt hash, on a migrated SQLite database,
and prints the medians and the ratio unknown / real (1.00 is the goal). The baseline
in the same run is a check against the old dummy hash (``pbkdf2:sha256:1000``), to show
the gap that was there. Each attempt uses a new client address and username pair so
no delay kicks in.

    .venv/bin/python bench/bench_login_timing.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from cfdi_cobranza.db.session import make_engine, migrate, transaction
from cfdi_cobranza.services import users as users_service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        with transaction(engine) as s:
            users_service.add_user(s, "real-user", "clave-de-prueba-123", "consulta", hash_method="scrypt")
        users_service.dummy_hash("scrypt")  # built once per process, as in a web worker
        old_dummy = generate_password_hash("cfdi-cobranza-no-user", method="pbkdf2:sha256:1000")

        def attempt(username: str, i: int) -> float:
            start = time.perf_counter()
            with transaction(engine) as s:
                out = users_service.authenticate(s, username, "mala-clave-99", hash_method="scrypt",
                                                 remote=f"10.1.{i // 250}.{i % 250}")
            elapsed = time.perf_counter() - start
            assert out.code == "CREDENCIALES_INVALIDAS", out
            return elapsed

        unknown, real, old = [], [], []
        for i in range(args.rounds):
            unknown.append(attempt("no-existe", 2 * i))
            real.append(attempt("real-user", 2 * i + 1))
            start = time.perf_counter()
            check_password_hash(old_dummy, "mala-clave-99")
            old.append(time.perf_counter() - start)
        engine.dispose()
    mu, mr, mo = (statistics.median(v) * 1000 for v in (unknown, real, old))
    print(f"failed sign-in, unknown username: {mu:7.1f} ms (median of {args.rounds})")
    print(f"failed sign-in, real username:    {mr:7.1f} ms")
    print(f"old dummy hash check alone:       {mo:7.1f} ms")
    print(f"ratio unknown / real: {mu / mr:.2f}   (old dummy check / real sign-in: {mo / mr:.2f})")


if __name__ == "__main__":
    main()
