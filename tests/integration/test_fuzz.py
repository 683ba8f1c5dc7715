"""Fuzzing, short budget (issue 14): mutated real and generated CFDI and REPs through the importer and ``rep validate``.

Property: no unhandled exception, and every outcome is a known status with a stable
UPPER_SNAKE code. ``bench/fuzz_import.py`` and ``bench/fuzz_rep.py`` run the same
mutations 100,000 times (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import fuzz_support as fz
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfdi_cobranza.cfdi.loader import load_cfdi
from cfdi_cobranza.cfdi.sources import Candidate
from cfdi_cobranza.cfdi.validator import validate_rep
from cfdi_cobranza.cli.main import main
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.session import make_engine
from cfdi_cobranza.errors import ImportRefused
from cfdi_cobranza.services.importing import Importer

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path):
    base = tmp_path_factory.mktemp("fuzz")
    sandbox = base / "sandbox"
    seeds = fz.seeds(sandbox)
    db = base / "fuzz.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    cfg = Settings(database_url=f"sqlite:///{db}", instance_path=base / "instance")
    yield seeds, fz.factory(str(sandbox)), sandbox, engine, cfg
    engine.dispose()


def test_seeds_are_importable_before_mutation(world) -> None:
    seeds, _f, sandbox, _engine, _cfg = world
    loaded = {s.name: load_cfdi(s.xml, extra_cert_dirs=[sandbox]) for s in seeds
              if s.name.startswith(("cfdi", "generada"))}
    assert len(loaded) == 6
    assert loaded["cfdi40-real.xml"].autoridad == "verificada"
    assert loaded["generada-P.xml"].autoridad == "pruebas"


@FUZZ
@given(rnd=st.randoms(use_true_random=False), which=st.integers(min_value=0, max_value=99),
       env=st.sampled_from(["test", "production"]))
def test_importer_gives_every_mutated_file_a_coded_outcome(world, rnd, which, env) -> None:
    seeds, f, sandbox, engine, cfg = world
    data = fz.mutate(seeds[which % len(seeds)], rnd, f)
    try:
        load_cfdi(data, extra_cert_dirs=[sandbox], environment=env)
    except ImportRefused as exc:
        assert fz.STABLE_CODE.match(exc.code) and exc.message
    importer = Importer(engine, cfg, extra_cert_dirs=[sandbox], environment=env)
    batch = importer.import_candidates([Candidate(name="fuzz.xml", data=data)])
    assert len(batch.results) == 1
    fz.check_import_outcome(batch.results[0])


@FUZZ
@given(rnd=st.randoms(use_true_random=False), which=st.integers(min_value=0, max_value=99))
def test_rep_validate_gives_every_mutated_rep_coded_findings(world, rnd, which) -> None:
    seeds, f, _sandbox, _engine, _cfg = world
    reps = [s for s in seeds if s.name == "generada-P.xml" or not s.name.startswith(("cfdi", "generada"))]
    data = fz.mutate(reps[which % len(reps)], rnd, f)
    fz.check_findings(validate_rep(data, now=datetime(2026, 10, 1, 12, 0)))


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(rnd=st.randoms(use_true_random=False))
def test_rep_validate_command_answers_json_for_mutated_reps(world, rnd, tmp_path_factory) -> None:
    seeds, f, _sandbox, _engine, _cfg = world
    path = tmp_path_factory.mktemp("rep") / "rep.xml"
    path.write_bytes(fz.mutate(next(s for s in seeds if s.name == "generada-P.xml"), rnd, f))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["rep", "validate", str(path), "--json"])
    data = json.loads(out.getvalue())
    assert code in (0, 1)
    for finding in data["results"][0]["findings"]:
        assert fz.FINDING_CODE.match(finding["code"])
