"""Benchmark: a SAT-sized ZIP package through the streaming, verified import.

Issue 14 (denial of service) and issue 15 (SAT bulk download) need a package of 50,000
CFDI (the SAT's hold up to 200,000) imported with peak RSS under 300 MB and at 1,000
documents per second or more. This script

1. writes a ZIP of N signed, sandbox-stamped invoices (200 customers, 3 concepts each),
   one member at a time (``--zip PATH`` keeps it and reuses it on the next run);
2. in a fresh child process, so that generating does not count toward its memory:
   (a) the baseline: every member read from the ZIP and parsed by bare
   ``lxml.etree.fromstring`` (no checks, nothing stored), the same process;
   (b) ``import_package`` on the ZIP into a fresh SQLite database: strict parse, XSD,
   catalogs, both seals, store; peak RSS (``ru_maxrss``) read before and after;
   (c) satcfdi's ``CFDI.from_string`` on the first ``--sample`` members, after the
   import so that its catalogs do not count toward the import's peak memory.

    .venv/bin/python bench/bench_import_package.py --n 50000 --zip /tmp/sat-50000.zip
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from decimal import Decimal
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def write_package(path: Path, n: int, sandbox: Path, concepts: int) -> None:
    from cfdi_cobranza.cfdi.factory import IVA16, RET_ISR10, CfdiFactory, Line, Receptor

    factory = CfdiFactory(sandbox)
    lines = [
        Line(Decimal("1234.56"), cantidad=Decimal("2"), taxes=(IVA16, RET_ISR10)),
        Line(Decimal("99.90")),
        Line(Decimal("15.00"), cantidad=Decimal("4")),
    ]
    if concepts:  # large documents: ``concepts`` lines each (11,000 make ~4.4 MB)
        lines = [Line(Decimal("10.00") + i % 1000, descripcion=f"Partida {i} de un pedido grande", taxes=(IVA16,))
                 for i in range(concepts)]
    receptors = [Receptor(rfc=f"CAC{(i % 9) + 10:02d}{(i % 12) + 1:02d}{(i % 28) + 1:02d}H79",
                          nombre=f"CLIENTE {i:03d}") for i in range(200)]
    start = time.perf_counter()
    tmp = path.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n):
            doc = factory.invoice(lines, folio=str(i), receptor=receptors[i % 200])
            zf.writestr(f"{doc.uuid}.xml", doc.xml)
            if (i + 1) % 10_000 == 0 or concepts:
                print(f"  generated {i + 1:,} ({(i + 1) / (time.perf_counter() - start):,.0f} docs/s)", flush=True)
    tmp.rename(path)
    (path.parent / (path.name + ".sandbox")).write_text(str(sandbox))


def measure(zip_path: Path, sandbox: Path, sample: int, chunk_size: int,
            chunk_bytes: int, via: str) -> dict[str, float | int | str]:
    """Runs in its own process: baseline, import, satcfdi; returns the figures."""
    from lxml import etree

    from cfdi_cobranza.cfdi import schema
    from cfdi_cobranza.config import Settings
    from cfdi_cobranza.db.session import make_engine, migrate
    from cfdi_cobranza.services import importing

    schema.structural_validator()
    out: dict[str, float | int | str] = {"rss_start_mb": _rss_mb()}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    start = time.perf_counter()
    n = 0
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            etree.fromstring(zf.read(info), parser)
            n += 1
    out["n"] = n
    out["lxml_s"] = time.perf_counter() - start
    out["rss_after_lxml_mb"] = _rss_mb()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        settings = Settings(f"sqlite:///{db}", Path(tmp))
        marks: list[int] = []

        def progress(done: int, total: int | None) -> None:
            if total and done * 10 // total > len(marks):
                marks.append(done)
                print(f"  {done:,}/{total:,}  peak RSS {_rss_mb():.0f} MB", flush=True)

        start = time.perf_counter()
        if via == "paths":  # what ``cobranza import x.zip`` runs; exists before issue 14 too
            result = importing.import_paths(engine, settings, [str(zip_path)], extra_cert_dirs=[sandbox])
        else:
            result = importing.import_package(engine, settings, zip_path, progress=progress, chunk_size=chunk_size,
                                              chunk_bytes=chunk_bytes or importing.CHUNK_BYTES,
                                              extra_cert_dirs=[sandbox])
        out["import_s"] = time.perf_counter() - start
        out["rss_after_import_mb"] = _rss_mb()
        out["summary"] = json.dumps(result.summary)
        assert result.summary["imported"] == n, result.summary
        engine.dispose()

    from satcfdi.cfdi import CFDI

    with zipfile.ZipFile(zip_path) as zf:
        docs = [zf.read(info) for info in zf.infolist()[:sample]]
    start = time.perf_counter()
    for d in docs:
        CFDI.from_string(d)
    out["satcfdi_n"] = len(docs)
    out["satcfdi_s"] = time.perf_counter() - start
    return out


def overhead(n: int) -> None:
    """Memory a package's size costs by itself: N one-line members, every one refused.

    What remains is zipfile's directory and one outcome per member, the part of the peak
    that grows with a SAT package of 200,000 CFDI. Runs in a child process."""
    import uuid

    from cfdi_cobranza.cfdi import schema
    from cfdi_cobranza.config import Settings
    from cfdi_cobranza.db.session import make_engine, migrate
    from cfdi_cobranza.services.importing import import_package

    step = os.environ.get("BENCH_OVERHEAD_STEP")
    if step is None:  # each step in a fresh process: Linux keeps ru_maxrss across fork + exec
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("write", "measure"):
                env = os.environ | {"BENCH_OVERHEAD_STEP": name, "BENCH_OVERHEAD_ZIP": str(Path(tmp) / "p.zip")}
                subprocess.run([sys.executable, __file__, "--overhead", str(n)], check=True, env=env)
        return
    if step == "write":
        with zipfile.ZipFile(os.environ["BENCH_OVERHEAD_ZIP"], "w", zipfile.ZIP_DEFLATED) as zf:
            for _ in range(n):
                zf.writestr(f"{str(uuid.uuid4()).upper()}.xml", b"<cfdi:Comprobante")
        return
    with tempfile.TemporaryDirectory() as tmp:
        schema.structural_validator()
        db = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        before = _rss_mb()
        start = time.perf_counter()
        result = import_package(engine, Settings(f"sqlite:///{db}", Path(tmp)), os.environ["BENCH_OVERHEAD_ZIP"])
        print(f"{n:,} refused members in {time.perf_counter() - start:.1f} s: {result.summary}")
        print(f"peak RSS {before:.0f} MB before the import, {_rss_mb():.0f} MB after (limit 300 MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--zip", type=Path, help="keep the generated package here and reuse it if it exists")
    ap.add_argument("--sample", type=int, default=3_000, help="members parsed by satcfdi")
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--chunk-bytes", type=int, default=0, help="0: the importer's default (CHUNK_BYTES)")
    ap.add_argument("--concepts", type=int, default=0, help="large invoices of this many concepts")
    ap.add_argument("--via", choices=("package", "paths"), default="package",
                    help="paths: import_paths, to measure code from before import_package existed")
    ap.add_argument("--write", nargs=2, metavar=("ZIP", "SANDBOX"), help=argparse.SUPPRESS)
    ap.add_argument("--measure", nargs=2, metavar=("ZIP", "SANDBOX"), help=argparse.SUPPRESS)
    ap.add_argument("--overhead", type=int, default=0, metavar="N",
                    help="only the memory of N members that are all refused (directory + outcomes)")
    args = ap.parse_args()

    if args.overhead:
        overhead(args.overhead)
        return
    if args.write:
        write_package(Path(args.write[0]), args.n, Path(args.write[1]), args.concepts)
        return
    if args.measure:
        print("RESULT " + json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), args.sample,
                                             args.chunk_size, args.chunk_bytes, args.via)), flush=True)
        return

    with tempfile.TemporaryDirectory() as tmp:
        zip_path = args.zip or Path(tmp) / f"sat-{args.n}.zip"
        sandbox_note = zip_path.parent / (zip_path.name + ".sandbox")
        if zip_path.exists() and sandbox_note.exists():
            sandbox = Path(sandbox_note.read_text())
            print(f"reusing {zip_path}")
        else:
            sandbox = (zip_path.parent / (zip_path.stem + "-sandbox")) if args.zip else Path(tmp) / "sandbox"
            print(f"writing {args.n:,} invoices to {zip_path} ...", flush=True)
            # In a child of its own: Linux keeps a process's peak RSS across fork + exec,
            # so the measuring child must not be forked from a process that held 50,000
            # ZipInfo while writing.
            subprocess.run([sys.executable, __file__, "--write", str(zip_path), str(sandbox), "--n", str(args.n),
                            "--concepts", str(args.concepts)], check=True)
        size = zip_path.stat().st_size
        print(f"package: {size / 1048576:.1f} MB", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(zip_path), str(sandbox), "--sample", str(args.sample),
             "--chunk-size", str(args.chunk_size), "--chunk-bytes", str(args.chunk_bytes), "--via", args.via],
            check=True, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        lines = proc.stdout.splitlines()
        print("\n".join(line for line in lines if not line.startswith("RESULT ")))
        r = json.loads(next(line for line in lines if line.startswith("RESULT "))[7:])

    n = int(r["n"])
    rows = [
        ("bare lxml parse, member by member (baseline)", n, r["lxml_s"]),
        (f"satcfdi CFDI.from_string (first {r['satcfdi_n']:,})", r["satcfdi_n"], r["satcfdi_s"]),
        (f"import_{args.via}: verify + store in SQLite", n, r["import_s"]),
    ]
    base = n / r["lxml_s"]
    sat = r["satcfdi_n"] / r["satcfdi_s"]
    print(f"\n{n:,} CFDI, {r['summary']}")
    print(f"{'step':<48}{'docs/s':>10}{'vs lxml':>10}{'vs satcfdi':>12}")
    for name, count, secs in rows:
        rate = count / secs
        print(f"{name:<48}{rate:>10,.{0 if rate >= 100 else 2}f}{rate / base:>9.2f}x{rate / sat:>11.2f}x")
    print(f"\npeak RSS: {r['rss_start_mb']:.0f} MB after start-up, {r['rss_after_lxml_mb']:.0f} MB after the "
          f"lxml pass, {r['rss_after_import_mb']:.0f} MB after the import (limit 300 MB)")


if __name__ == "__main__":
    main()
