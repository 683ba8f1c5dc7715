"""Benchmark: ``cobranza sat sync`` end to end against the fake SAT, one package of N CFDI.

A child process generates N signed, sandbox-stamped invoices and serves them as one
package from the loopback fake descarga masiva (tests/fakes/sat_descarga.py; the ZIP is
built before timing). This process then runs the whole sync: authenticate (signed
WS-Security), request CFDI and metadata, verify, download the package (streamed to disk,
base64 decoded on the fly), import every CFDI through the verified importer, store the
metadata. Reported: wall time, documents per second, and peak RSS of this process
(``ru_maxrss``) against its RSS before the sync.

Baseline in the same process: ``cobranza import`` of the same ZIP (already on disk) into
a fresh database, i.e. the importer alone; the ratio says what the SAT path costs on top.

    PYTHONPATH=. .venv/bin/python bench/bench_sat_sync.py --n 50000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DESDE, HASTA, TODAY = date(2026, 10, 1), date(2026, 10, 31), date(2026, 12, 6)
RFC = "EKU9003173C9"


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _serve(n: int, fiel_der: bytes, folder: str, queue: mp.Queue, stop: mp.Event) -> None:  # type: ignore[type-arg]
    from cfdi_cobranza.cfdi.factory import CfdiFactory
    from cfdi_cobranza.signing.csd import Certificate
    from tests.fakes.sat_descarga import FakeCfdi, SatDescargaFake

    sandbox = Path(folder) / "sandbox"
    factory = CfdiFactory(sandbox)
    start = time.perf_counter()
    docs = [factory.invoice() for _ in range(n)]
    gen = time.perf_counter() - start
    fake = SatDescargaFake(certificates=[Certificate.from_bytes(fiel_der)], package_size=n + 1,
                           cfdi=[FakeCfdi(date(2026, 10, 5), d.uuid, d.xml) for d in docs])
    del docs
    fake.prebuild("CFDI", DESDE, HASTA)
    fake.prebuild("Metadata", DESDE, HASTA)
    zip_path = Path(folder) / "package.zip"
    zip_path.write_bytes(fake.zip_cache[("CFDI", f"{DESDE}T00:00:00", f"{HASTA}T23:59:59")])
    fake.start()
    queue.put((fake.url, str(sandbox), str(zip_path), gen, zip_path.stat().st_size))
    stop.wait()
    fake.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()

    from cfdi_cobranza.cfdi import schema
    from cfdi_cobranza.cfdi.sources import iter_paths
    from cfdi_cobranza.config import Settings
    from cfdi_cobranza.db.models import Company
    from cfdi_cobranza.db.session import make_engine, migrate, transaction
    from cfdi_cobranza.sat.descarga import DescargaMasiva, DescargaUrls
    from cfdi_cobranza.secrets import SecretBox
    from cfdi_cobranza.services import sat_sync
    from cfdi_cobranza.services.importing import Importer
    from tests.fakes.fiel import make_fiel

    with tempfile.TemporaryDirectory() as tmp:
        fiel = make_fiel(RFC)
        ctx = mp.get_context("spawn")
        queue, stop = ctx.Queue(), ctx.Event()
        child = ctx.Process(target=_serve, args=(args.n, fiel.cer, tmp, queue, stop), daemon=True)
        child.start()
        url, sandbox, zip_path, gen, zip_size = queue.get(timeout=3600)
        print(f"fake SAT: {args.n} invoices generated in {gen:.1f} s; package {zip_size / 1048576:.1f} MB "
              f"(base64 {zip_size * 4 / 3 / 1048576:.1f} MB on the wire)")

        def fresh(name: str) -> tuple[object, Settings]:
            db = Path(tmp) / f"{name}.db"
            engine = make_engine(f"sqlite:///{db}")
            migrate(engine)
            with transaction(engine) as s:
                s.add(Company(rfc=RFC, nombre="ESCUELA KEMPER URGATE SA DE CV", created_at=datetime.now(UTC)))
            return engine, Settings(f"sqlite:///{db}", Path(tmp) / f"instance-{name}")

        schema.structural_validator()
        engine, settings = fresh("sync")
        box = SecretBox.for_instance(settings.instance_path)
        with transaction(engine) as s:
            sat_sync.register_fiel(s, RFC, fiel.cer, fiel.key, fiel.password, box, today=TODAY)
        phases = {"download": 0.0, "import": 0.0}

        def timed(obj: object, name: str, phase: str) -> None:
            inner = getattr(obj, name)

            def wrapper(*a: object, **kw: object) -> object:
                t = time.perf_counter()
                try:
                    return inner(*a, **kw)
                finally:
                    phases[phase] += time.perf_counter() - t

            setattr(obj, name, wrapper)

        def client(c: object, s: object) -> DescargaMasiva:
            made = DescargaMasiva(c, s, urls=DescargaUrls.under(url))  # type: ignore[arg-type]
            timed(made, "descargar", "download")
            return made

        def importer() -> Importer:
            made = Importer(engine, settings, extra_cert_dirs=[Path(sandbox)])
            timed(made, "import_candidates", "import")
            return made

        rss_before = _rss_mb()
        start = time.perf_counter()
        result = sat_sync.sync(engine, settings, RFC, box, today=TODAY, desde=DESDE, hasta=HASTA, poll_interval=0.2,
                               client_factory=client, importer_factory=importer)
        sync_s = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        summary = result.to_dict()["summary"]
        assert summary["imported"] == args.n and summary["metadata"] == args.n, summary
        stop.set()
        child.join(timeout=30)

        engine2, settings2 = fresh("baseline")
        start = time.perf_counter()
        base = Importer(engine2, settings2, extra_cert_dirs=[Path(sandbox)]).import_candidates(iter_paths([zip_path]))
        base_s = time.perf_counter() - start
        assert base.summary["imported"] == args.n, base.summary

        print(f"\n{'step':<46}{'seconds':>9}{'docs/s':>10}{'vs import':>11}")
        print(f"{'cobranza import of the same ZIP (baseline)':<46}{base_s:>9.1f}{args.n / base_s:>10,.0f}{1:>10.2f}x")
        print(f"{'sat sync end to end (auth..import+metadata)':<46}{sync_s:>9.1f}{args.n / sync_s:>10,.0f}"
              f"{base_s / sync_s:>10.2f}x")
        rest = sync_s - phases["download"] - phases["import"]
        print(f"  of which: download + base64 decode of both packages {phases['download']:.1f} s, "
              f"import {phases['import']:.1f} s, the rest (auth, requests, verify, metadata rows) {rest:.1f} s")
        print(f"\nRSS before the sync {rss_before:.0f} MB; peak during the sync {peak:.0f} MB "
              f"(+{peak - rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
