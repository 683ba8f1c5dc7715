"""Fuzz the importer: N mutated real and generated CFDI through ``Importer`` (issue 14).

Mutations come from ``tests/fuzz_support.py`` (attributes, amounts, dates, structure,
encodings; generated documents are sealed and stamped again after half their tree
mutations, so mutated amounts reach the reader, the rules and the database). Inputs go
in batches of 500 to a fresh SQLite ledger, alternating the PAC environment (test,
production) per batch. Property: no unhandled exception; every outcome a known status
with a stable UPPER_SNAKE code. A batch that raises is re-run file by file and every
crashing input is written to ``--crash-dir``.

Prints the outcome counts, the rate, and the ratio to a baseline in the same run
(``lxml.etree.fromstring`` of the same inputs: how much of the time is the importer).

    .venv/bin/python bench/fuzz_import.py --n 100000
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the mutators are shared with the hypothesis tests

import fuzz_support as fz  # noqa: E402

from cfdi_cobranza.cfdi.sources import Candidate  # noqa: E402
from cfdi_cobranza.config import Settings  # noqa: E402
from cfdi_cobranza.db.session import make_engine, migrate  # noqa: E402
from cfdi_cobranza.services.importing import Importer  # noqa: E402

BATCH = 500


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--crash-dir", type=Path, default=Path(tempfile.gettempdir()) / "fuzz-import-crashes")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fuzz-import-"))
    sandbox = work / "sandbox"
    seeds = fz.seeds(sandbox)
    factory = fz.factory(str(sandbox))
    engine = make_engine(f"sqlite:///{work / 'fuzz.db'}")
    migrate(engine)
    settings = Settings(database_url=f"sqlite:///{work / 'fuzz.db'}", instance_path=work / "instance")
    rnd = random.Random(args.seed)

    outcomes: Counter[str] = Counter()
    crashes: list[str] = []
    bad_outcomes: list[str] = []
    t_import = t_baseline = t_generate = 0.0
    done = 0
    while done < args.n:
        size = min(BATCH, args.n - done)
        start = time.perf_counter()
        batch = []
        for i in range(size):
            seed = seeds[rnd.randrange(len(seeds))]
            batch.append((f"{done + i:06d}-{seed.name}", fz.mutate(seed, rnd, factory)))
        t_generate += time.perf_counter() - start

        start = time.perf_counter()
        for _name, data in batch:
            with contextlib.suppress(etree.XMLSyntaxError, ValueError):
                etree.fromstring(data)
        t_baseline += time.perf_counter() - start

        environment = "production" if (done // BATCH) % 2 else "test"
        importer = Importer(engine, settings, extra_cert_dirs=[sandbox], environment=environment)
        start = time.perf_counter()
        try:
            result = importer.import_candidates([Candidate(name=n, data=d) for n, d in batch])
        except Exception:
            result = None
        t_import += time.perf_counter() - start
        if result is None:  # find the input(s) that raise
            args.crash_dir.mkdir(parents=True, exist_ok=True)
            for name, data in batch:
                try:
                    single = importer.import_candidates([Candidate(name=name, data=data)])
                    outcomes[f"{single.results[0].status}:{single.results[0].code or '-'}"] += 1
                except Exception as exc:
                    outcomes["EXCEPCION"] += 1
                    crashes.append(f"{name}: {type(exc).__name__}: {exc}")
                    (args.crash_dir / name).write_bytes(data)
                    (args.crash_dir / f"{name}.txt").write_text(traceback.format_exc())
        else:
            for r in result.results:
                try:
                    fz.check_import_outcome(r)
                except AssertionError:
                    bad_outcomes.append(f"{r.file}: {r}")
                outcomes[f"{r.status}:{r.code or '-'}"] += 1
        done += size
        if done % 10_000 == 0:
            print(f"  {done} entradas, {done / max(t_import, 1e-9):.0f}/s en el importador", flush=True)

    print(f"Entradas: {done} (semilla {args.seed}); lotes de {BATCH}, ambientes test/production alternados")
    print(f"Generación de entradas: {t_generate:.1f} s")
    print(f"Importador: {t_import:.1f} s, {done / t_import:.0f} entradas/s")
    print(f"Línea base (lxml.fromstring de las mismas entradas): {t_baseline:.2f} s; "
          f"importador / línea base = {t_import / t_baseline:.1f}x")
    print("Resultados:")
    for key, count in outcomes.most_common():
        print(f"  {count:>7}  {key}")
    print(f"Excepciones no manejadas: {len(crashes)}")
    for line in crashes[:20]:
        print(f"  {line}")
    print(f"Resultados sin código estable: {len(bad_outcomes)}")
    for line in bad_outcomes[:20]:
        print(f"  {line}")
    return 1 if crashes or bad_outcomes else 0


if __name__ == "__main__":
    raise SystemExit(main())
