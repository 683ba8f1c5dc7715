"""Fuzz ``rep validate``: N mutated REPs (generated and the golden ones) through ``validate_rep`` (issue 14).

Mutations from ``tests/fuzz_support.py``; the generated REP is sealed and stamped again
after half its mutations. Property: no unhandled exception; every finding carries a
code of the SAT's matrix (CRP2xxxx, CFDI40xxx), XSD or XML, a message, and never
XSD_NO_DISPONIBLE (the validator's catch-all when the schema check itself fails).
Prints the finding counts, the rate and the ratio to ``lxml.etree.fromstring`` of the
same inputs (baseline in the same run).

    .venv/bin/python bench/fuzz_rep.py --n 100000
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
from datetime import datetime
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the mutators are shared with the hypothesis tests

import fuzz_support as fz  # noqa: E402

from cfdi_cobranza.cfdi.validator import validate_rep  # noqa: E402

NOW = datetime(2026, 10, 1, 12, 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--crash-dir", type=Path, default=Path(tempfile.gettempdir()) / "fuzz-rep-crashes")
    args = ap.parse_args()

    sandbox = Path(tempfile.mkdtemp(prefix="fuzz-rep-")) / "sandbox"
    seeds = [s for s in fz.seeds(sandbox) if s.name == "generada-P.xml" or not s.name.startswith(("cfdi", "generada"))]
    factory = fz.factory(str(sandbox))
    rnd = random.Random(args.seed)
    codes: Counter[str] = Counter()
    valid = 0
    crashes: list[str] = []
    bad: list[str] = []
    t_validate = t_baseline = 0.0
    for i in range(args.n):
        seed = seeds[rnd.randrange(len(seeds))]
        data = fz.mutate(seed, rnd, factory)
        start = time.perf_counter()
        with contextlib.suppress(etree.XMLSyntaxError, ValueError):
            etree.fromstring(data)
        t_baseline += time.perf_counter() - start
        start = time.perf_counter()
        try:
            findings = validate_rep(data, now=NOW)
        except Exception as exc:
            t_validate += time.perf_counter() - start
            name = f"{i:06d}-{seed.name}"
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            args.crash_dir.mkdir(parents=True, exist_ok=True)
            (args.crash_dir / name).write_bytes(data)
            (args.crash_dir / f"{name}.txt").write_text(traceback.format_exc())
            continue
        t_validate += time.perf_counter() - start
        try:
            fz.check_findings(findings)
        except AssertionError as exc:
            bad.append(f"{i:06d}-{seed.name}: {exc}")
        if not any(f.severity.value == "ERROR" for f in findings):
            valid += 1
        codes.update({f.code for f in findings})
        if (i + 1) % 10_000 == 0:
            print(f"  {i + 1} entradas, {(i + 1) / t_validate:.0f}/s", flush=True)

    print(f"Entradas: {args.n} (semilla {args.seed}); sin errores: {valid}")
    print(f"validate_rep: {t_validate:.1f} s, {args.n / t_validate:.0f} entradas/s")
    print(f"Línea base (lxml.fromstring de las mismas entradas): {t_baseline:.2f} s; "
          f"validate_rep / línea base = {t_validate / t_baseline:.1f}x")
    print("Códigos (entradas que los tienen), los 25 más frecuentes:")
    for code, count in codes.most_common(25):
        print(f"  {count:>7}  {code}")
    print(f"Códigos distintos: {len(codes)}")
    print(f"Excepciones no manejadas: {len(crashes)}")
    for line in crashes[:20]:
        print(f"  {line}")
    print(f"Hallazgos sin código estable: {len(bad)}")
    for line in bad[:20]:
        print(f"  {line}")
    return 1 if crashes or bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
