"""Issue 14, denial of service: lying ZIP directories, the write lock during parsing,
bounded chunks and the streaming package import."""

from __future__ import annotations

import copy
import io
import itertools
import sqlite3
import threading
import time
import zipfile
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cfdi_cobranza.cfdi.factory import CfdiFactory, Line, Receptor
from cfdi_cobranza.cfdi.sources import iter_upload
from cfdi_cobranza.db.models import Document, ImportLog
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.services import importing
from cfdi_cobranza.services.importing import Importer, import_package


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> CfdiFactory:
    counter = itertools.count(1)
    import uuid

    return CfdiFactory(
        tmp_path_factory.mktemp("sandbox"),
        uuid_source=lambda: uuid.UUID(int=next(counter) + 0x14D05000000),
        clock=lambda: datetime(2026, 10, 1, 12, 0, 0),
    )


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _same_document_many_times(data: bytes, copies: int) -> bytes:
    """One compressed member and a central directory listing it ``copies`` times."""
    buf = io.BytesIO(_zip({"factura.xml": data}))
    with zipfile.ZipFile(buf, "a") as zf:
        info = zf.infolist()[0]
        for _ in range(copies - 1):
            zf.filelist.append(copy.copy(info))
        zf._didModify = True  # rewrite the directory on close
    return buf.getvalue()


def test_entries_pointing_at_one_document_are_refused_whole():
    import random

    rnd = random.Random(14)  # 4.4 MB that deflates ~40:1, as a real large CFDI would
    doc = b"<a>" + b"".join(b'<b n="%08x">' % rnd.getrandbits(32) + b"x" * 300 + b"</b>" for _ in range(14_000)) + b"</a>"
    package = _same_document_many_times(doc, 20)
    assert len(package) < 150_000 and len(doc) > 4_000_000
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        assert len(zf.infolist()) == 20 and zf.read(zf.infolist()[5]) == doc  # zipfile alone would read it
    (cand,) = list(iter_upload("paquete.zip", package))
    assert cand.code == "ZIP_ENTRADAS_SUPERPUESTAS" and cand.data is None
    assert "se rechaza completo" in (cand.message or "")


def test_overlapping_entries_refused_even_when_sizes_add_up():
    import os

    package = bytearray(_zip({"a.xml": os.urandom(4000), "b.xml": os.urandom(4000)}, zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(bytes(package))) as zf:
        a, b = zf.infolist()
    # Point b's directory entry at a's local header: same total size, overlapping data.
    cd = bytes(package).index(b"PK\x01\x02", b.header_offset + 1)
    second = bytes(package).index(b"PK\x01\x02", cd + 1)
    package[second + 42:second + 46] = a.header_offset.to_bytes(4, "little")
    (cand,) = list(iter_upload("p.zip", bytes(package)))
    assert cand.code == "ZIP_ENTRADAS_SUPERPUESTAS", cand
    assert "se superpone" in (cand.message or "")


def test_expanded_bytes_are_counted_across_nested_packages():
    """Fifty identical small inner packages deflate to almost nothing in the outer one and
    every declared ratio is modest; what is really expanded is counted and stopped."""
    inner = _zip({"f.xml": b"<a>" + b"a" * 900_000 + b"</a>"})
    outer = _zip({f"p{i}.zip": inner for i in range(50)})
    assert len(outer) < 20_000
    got = list(iter_upload("o.zip", outer))
    expanded = sum(len(c.data or b"") for c in got)
    assert expanded <= len(outer) * 150 + 1_000_000  # one member past the budget at most
    refused = [c for c in got if c.code == "ZIP_BOMBA"]
    assert len(refused) >= 45 and all(c.data is None for c in refused)


def test_upload_given_as_a_file_is_read_from_the_file(factory):
    docs = [factory.invoice(folio=f"F{i}").xml for i in range(3)]
    package = _zip({f"{i}.xml": d for i, d in enumerate(docs)})
    counts: list[int] = []
    got = list(iter_upload("p.zip", io.BytesIO(package), on_count=counts.append))
    assert [c.data for c in got] == docs and counts == [3]


def _sqlite_path(engine) -> str:
    return engine.url.database


def test_parsing_holds_no_write_lock(sqlite_engine, settings, factory, clock, monkeypatch):
    """While a document is parsed and verified another connection can take the write lock
    at once (no busy wait at all): the importer only locks to store."""
    docs = [factory.invoice(folio=f"L{i}").xml for i in range(12)]
    path = _sqlite_path(sqlite_engine)
    probes: list[str] = []
    real = importing.load_cfdi

    def probing_load(data, **kwargs):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return real(data, **kwargs)

    monkeypatch.setattr(importing, "load_cfdi", probing_load)
    from cfdi_cobranza.cfdi.sources import Candidate

    result = Importer(sqlite_engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        (Candidate(f"{i}.xml", d) for i, d in enumerate(docs)), chunk_size=5)
    assert result.summary["imported"] == 12
    assert probes == ["free"] * 12


def test_other_users_read_and_write_during_a_large_import(sqlite_engine, settings, factory, clock):
    """A batch of large invoices (seconds of parsing and verifying in all) while another
    connection reads and writes: none of its statements gives up. (Before issue 14 the
    first chunk was parsed inside the write transaction.) The lock is only held to write a
    chunk (``test_parsing_holds_no_write_lock`` shows it is free while parsing, with no
    clock); the busy timeout here is generous so that a loaded machine cannot make this a
    timing test."""
    lines = [Line(Decimal("10.00") + i, descripcion=f"Partida {i} " + "x" * 40) for i in range(300)]
    big = [factory.invoice(lines, folio=f"G{i}", receptor=Receptor(nombre="CLIENTE GRANDE")).xml for i in range(40)]
    assert all(len(d) > 100_000 for d in big)
    path = _sqlite_path(sqlite_engine)
    errors: list[str] = []
    done = threading.Event()
    writes = 0

    def other_user() -> None:
        nonlocal writes
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        try:
            while not done.is_set():
                step, start = "select", time.monotonic()
                try:
                    conn.execute("SELECT count(*) FROM document").fetchone()
                    step, start = "begin", time.monotonic()
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("INSERT INTO audit_log (at, actor, action, entity) "
                                 "VALUES ('2026-12-06 00:00:00', 'otro', 'prueba', 'prueba')")
                    conn.execute("COMMIT")
                    writes += 1
                except sqlite3.OperationalError as exc:
                    errors.append(f"{step}: {exc} after {time.monotonic() - start:.2f} s")
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                done.wait(0.02)
        finally:
            conn.close()

    from cfdi_cobranza.cfdi.sources import Candidate

    thread = threading.Thread(target=other_user)
    thread.start()
    try:
        result = Importer(sqlite_engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]) \
            .import_candidates(Candidate(f"{i}.xml", d) for i, d in enumerate(big))
    finally:
        done.set()
        thread.join()
    assert result.summary["imported"] == 40
    assert errors == [] and writes > 0


def test_chunks_are_bounded_by_bytes(sqlite_engine, settings, factory, clock, monkeypatch):
    """Large documents do not all wait in one chunk: a chunk holds about ``chunk_bytes``."""
    docs = [factory.invoice(folio=f"B{i}").xml for i in range(10)]
    sizes: list[int] = []
    real = Importer._store_chunk

    def spy(self, session, chunk, *args):
        sizes.append(sum(len(loaded.raw) for _, _, loaded in chunk))
        return real(self, session, chunk, *args)

    monkeypatch.setattr(Importer, "_store_chunk", spy)
    from cfdi_cobranza.cfdi.sources import Candidate

    limit = 3 * len(docs[0])
    result = Importer(sqlite_engine, settings, clock=clock, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        (Candidate(f"{i}.xml", d) for i, d in enumerate(docs)), chunk_bytes=limit)
    assert result.summary["imported"] == 10
    assert len(sizes) >= 3 and max(sizes) < limit + max(map(len, docs))


def test_import_package_streams_a_zip_with_progress(engine, settings, factory, clock, tmp_path):
    docs = [factory.invoice(folio=f"P{i}").xml for i in range(23)]
    path = tmp_path / "sat.zip"
    path.write_bytes(_zip({f"{i}.xml": d for i, d in enumerate(docs)} | {"leeme.txt": b"hola"}))
    seen: list[tuple[int, int | None]] = []
    result = import_package(engine, settings, path, chunk_size=10, progress=lambda d, t: seen.append((d, t)),
                            clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    assert result.summary == {"imported": 23, "duplicate": 0, "refused": 0, "ignored": 1, "total": 24}
    assert seen[-1] == (24, 24) and len(set(seen)) == len(seen)  # each step reported once
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 3
    assert all(t == 24 for _, t in seen)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 23
        assert set(s.scalars(select(ImportLog.batch))) == {result.batch_id}
    # The same package again, as an open file: every CFDI a duplicate, nothing written.
    with path.open("rb") as fh:
        again = import_package(engine, settings, fh, clock=clock, extra_cert_dirs=[factory.sandbox_dir])
    assert again.summary["duplicate"] == 23 and again.results[0].file.startswith("sat.zip!")


def test_progress_counts_refusals_too(sqlite_engine, settings, factory, clock):
    """A package of mostly unreadable members still reports progress per chunk."""
    package = _zip({f"{i}.xml": b"<roto" for i in range(30)} | {"ok.xml": factory.invoice(folio="OK").xml})
    seen: list[tuple[int, int | None]] = []
    result = import_package(sqlite_engine, settings, io.BytesIO(package), name="lote.zip", chunk_size=10,
                            progress=lambda d, t: seen.append((d, t)), clock=clock,
                            extra_cert_dirs=[factory.sandbox_dir])
    assert result.summary["refused"] == 30 and result.summary["imported"] == 1
    assert seen == [(10, 31), (20, 31), (30, 31), (31, 31)]
