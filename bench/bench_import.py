"""Benchmark: how fast we take CFDI in, compared with satcfdi in the same run.

Generates N signed, sandbox-stamped invoices in memory with the factory, then times
(a) satcfdi ``CFDI.from_string`` (baseline), (b) our ``parse_xml`` + ``read_cfdi`` and
(c) our full ``load_cfdi`` (parse + structural XSD + catalogs + both seals) and
(d) the full import into a fresh SQLite database (parse, verify, store: documents,
concepts, taxes, customers), i.e. what ``cobranza import`` does.
Invoices go to 200 different customers, as a real portfolio would.

    .venv/bin/python bench/bench_import.py --n 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from cfdi_cobranza.cfdi import schema
from cfdi_cobranza.cfdi.factory import IVA16, RET_ISR10, CfdiFactory, Line, Receptor
from cfdi_cobranza.cfdi.loader import load_cfdi
from cfdi_cobranza.cfdi.parser import parse_xml
from cfdi_cobranza.cfdi.reader import read_cfdi
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import make_engine, migrate
from cfdi_cobranza.services.importing import Importer


def _time(fn: Callable[[bytes], object], docs: list[bytes]) -> float:
    start = time.perf_counter()
    for d in docs:
        fn(d)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Path(tmp) / "sandbox"
        start = time.perf_counter()
        schema.structural_validator()
        print(f"schema + catalogs load: {time.perf_counter() - start:.3f} s")

        factory = CfdiFactory(sandbox)
        lines = [
            Line(Decimal("1234.56"), cantidad=Decimal("2"), taxes=(IVA16, RET_ISR10)),
            Line(Decimal("99.90")),
            Line(Decimal("15.00"), cantidad=Decimal("4")),
        ]
        start = time.perf_counter()
        receptors = [Receptor(rfc=f"CAC{(i % 9) + 10:02d}{(i % 12) + 1:02d}{(i % 28) + 1:02d}H79",
                              nombre=f"CLIENTE {i:03d}") for i in range(200)]
        docs = [factory.invoice(lines, folio=str(i), receptor=receptors[i % 200]).xml for i in range(args.n)]
        gen_s = time.perf_counter() - start
        print(
            f"generated {args.n} signed+stamped invoices in {gen_s:.2f} s "
            f"({args.n / gen_s:,.0f} docs/s), avg {sum(map(len, docs)) // len(docs)} bytes"
        )

        from satcfdi.cfdi import CFDI

        cert_dirs = [sandbox]
        rows: list[tuple[str, float]] = [
            ("satcfdi CFDI.from_string", _time(CFDI.from_string, docs)),
            ("parse_xml + read_cfdi", _time(lambda d: read_cfdi(parse_xml(d)), docs)),
            (
                "load_cfdi (XSD+catalogs+seals)",
                _time(lambda d: load_cfdi(d, extra_cert_dirs=cert_dirs), docs),
            ),
        ]
        db = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        importer = Importer(engine, Settings(f"sqlite:///{db}", Path(tmp)), extra_cert_dirs=cert_dirs)
        start = time.perf_counter()
        result = importer.import_candidates(Candidate(f"{i}.xml", d) for i, d in enumerate(docs))
        rows.append(("full import into SQLite", time.perf_counter() - start))
        assert result.summary["imported"] == args.n, result.summary
        base = rows[0][1]
        print(f"\n{'step':<34}{'docs/s':>12}{'ms/doc':>10}{'vs satcfdi':>12}")
        for name, secs in rows:
            print(
                f"{name:<34}{args.n / secs:>12,.0f}{secs / args.n * 1000:>10.3f}"
                f"{base / secs:>11.2f}x"
            )


if __name__ == "__main__":
    main()
