"""The sandbox's records: its SQLite database, folders of earlier versions, other processes.

Stamps and cancellations live in ``<folder>/sandbox.db``. Folders written before it
(one file per stamp: ``stamps/``, ``keys/``, ``sellos/``, ``cancellations/``) are still
answered from those files when the database misses.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.stamper import RFC_EMISOR, RFC_RECEPTOR, signed_cfdi
from lxml import etree

from cfdi_cobranza.cfdi.timbre import CERT_FILE, KEY_FILE, PASSWORD_FILE
from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac import sandbox
from cfdi_cobranza.pac.base import CancelRequest, StampRequest, StampResult
from cfdi_cobranza.pac.sandbox import DB_FILE, SandboxPac

NOW = datetime(2025, 1, 15, 12, 5, 0)
HAS_FORK = "fork" in multiprocessing.get_all_start_methods()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _sello(xml: bytes) -> str:
    return etree.fromstring(xml).get("Sello") or ""


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Four signed, unstamped CFDIs of one issuer (folios 1-4)."""
    issuer = tmp_path_factory.mktemp("issuer")
    return [signed_cfdi(issuer, folio=str(n)) for n in range(1, 5)]


# --------------------------------------------------------------------------- the database


def test_a_stamp_is_committed_in_the_database(tmp_path: Path, docs: list[bytes]) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    result = pac.stamp(StampRequest(docs[0], "rep-1"))
    # Another connection sees only committed rows: the stamp was durable when it returned.
    with sqlite3.connect(pac.folder / DB_FILE) as other:
        row = other.execute(
            "SELECT idempotency_key, xml_sha256, sello_sha256, rfc_emisor, xml FROM stamps WHERE uuid = ?",
            (result.uuid,),
        ).fetchone()
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert row == ("rep-1", hashlib.sha256(docs[0]).hexdigest(), _sha(_sello(docs[0])), RFC_EMISOR, result.xml)
    with pac._lock:
        assert pac._db().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # No per-stamp files any more.
    assert not any((pac.folder / d).exists() for d in ("stamps", "keys", "sellos", "cancellations"))
    assert pac.stamped_xml(result.uuid) == result.xml and pac.stamped_xml(result.uuid.lower()) == result.xml
    assert pac.stamped_xml("11111111-2222-4333-8444-555555555555") is None


def test_a_new_instance_recovers_from_the_database(tmp_path: Path, docs: list[bytes]) -> None:
    first = SandboxPac(tmp_path / "pac", clock=lambda: NOW).stamp(StampRequest(docs[0], "rep-1"))
    restarted = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    recovered = restarted.recover(StampRequest(docs[0], "rep-1"))
    assert recovered is not None and recovered.already_stamped
    assert (recovered.uuid, recovered.xml) == (first.uuid, first.xml)
    # Same signed bytes under another key: the Sello finds the earlier stamp.
    again = restarted.stamp(StampRequest(docs[0], "rep-2"))
    assert again.uuid == first.uuid and again.already_stamped
    with pytest.raises(PacError) as info:
        restarted.stamp(StampRequest(docs[1], "rep-1"))
    assert info.value.code == "PAC_LLAVE_REUTILIZADA"
    assert restarted.stamp_count() == 1
    assert restarted.cancel(CancelRequest(first.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "02")).code == "201"
    assert SandboxPac(tmp_path / "pac").status(first.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Cancelado"


def test_a_batch_commits_once_and_keeps_each_outcome(tmp_path: Path, docs: list[bytes]) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    tampered = docs[1].replace(b'Folio="2"', b'Folio="9"')
    out = pac.stamp_batch([
        StampRequest(docs[0], "rep-1"),
        StampRequest(tampered, "rep-2"),
        StampRequest(docs[2], "rep-3"),
        StampRequest(docs[0], "rep-1"),  # repeated within the batch: sees the uncommitted stamp
        StampRequest(docs[2], "rep-3-bis"),
    ])
    first, refused, third, repeated, other_key = out
    assert isinstance(first, StampResult) and isinstance(third, StampResult)
    assert isinstance(refused, PacError) and refused.code == "CFDI40102"
    assert isinstance(repeated, StampResult) and repeated.already_stamped and repeated.uuid == first.uuid
    assert isinstance(other_key, StampResult) and other_key.uuid == third.uuid
    assert SandboxPac(pac.folder).stamped_uuids() == [first.uuid, third.uuid]


def test_a_failed_batch_commits_nothing(tmp_path: Path, docs: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    real, calls = sandbox.stamp, []

    def failing(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disco lleno")
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "stamp", failing)
    with pytest.raises(OSError):
        pac.stamp_batch([StampRequest(docs[0], "rep-1"), StampRequest(docs[1], "rep-2")])
    # The first stamp was never answered and was rolled back with the batch; the
    # connection is left usable.
    assert pac.stamp_count() == 0 and pac.recover(StampRequest(docs[0], "rep-1")) is None
    monkeypatch.setattr(sandbox, "stamp", real)
    assert not pac.stamp(StampRequest(docs[0], "rep-1")).already_stamped


# --------------------------------------------------------------------------- folders of earlier versions


def _legacy_folder(tmp_path: Path, docs: list[bytes]) -> tuple[Path, list[StampResult]]:
    """A folder as earlier versions left it, with three stamps in three formats and one
    cancellation; no ``sandbox.db``."""
    donor = SandboxPac(tmp_path / "donor", clock=lambda: NOW)
    results = [donor.stamp(StampRequest(xml, f"old-{n}")) for n, xml in enumerate(docs[:3])]
    folder = tmp_path / "old"
    for d in ("stamps", "keys", "sellos", "cancellations"):
        (folder / d).mkdir(parents=True)
    for name in (CERT_FILE, KEY_FILE, PASSWORD_FILE):
        shutil.copy(donor.folder / name, folder / name)
    for n, (xml, result) in enumerate(zip(docs, results, strict=False)):
        meta: dict[str, Any] = {"uuid": result.uuid, "key": f"old-{n}",
                                "xml_sha256": hashlib.sha256(xml).hexdigest(), "rfc_emisor": RFC_EMISOR}
        if n == 0:  # the one-fsync version: the record holds the XML; the index links to it
            meta["xml"] = result.xml.decode("utf-8")
        (folder / "stamps" / f"{result.uuid}.xml").write_bytes(result.xml)
        record = folder / "stamps" / f"{result.uuid}.json"
        record.write_text(json.dumps(meta))
        os.link(record, folder / "keys" / _sha(f"old-{n}"))
        if n == 0:
            os.link(record, folder / "sellos" / _sha(_sello(xml)))
        else:  # the first versions: the Sello entry holds the bare UUID
            (folder / "sellos" / _sha(_sello(xml))).write_text(result.uuid)
    cancelled = results[2].uuid
    (folder / "cancellations" / f"{cancelled}.acuse.xml").write_bytes(b"<Acuse Viejo='1'/>")
    (folder / "cancellations" / f"{cancelled}.json").write_text(json.dumps(
        {"uuid": cancelled, "motivo": "02", "folio_sustitucion": None, "fecha": "2025-01-15T12:05:00"}))
    return folder, results


def test_a_folder_of_files_still_answers(tmp_path: Path, docs: list[bytes]) -> None:
    folder, (a, b, c) = _legacy_folder(tmp_path, docs)
    pac = SandboxPac(folder, clock=lambda: NOW)
    # By key: the record with its XML, and the older record whose XML is <uuid>.xml.
    for n, old in enumerate((a, b)):
        found = pac.recover(StampRequest(docs[n], f"old-{n}"))
        assert found is not None and found.already_stamped and (found.uuid, found.xml) == (old.uuid, old.xml)
        assert pac.stamp(StampRequest(docs[n], f"old-{n}")).uuid == old.uuid
    with pytest.raises(PacError) as info:
        pac.stamp(StampRequest(docs[1], "old-0"))
    assert info.value.code == "PAC_LLAVE_REUTILIZADA"
    # By Sello under another key: a linked record, and a bare UUID.
    assert pac.stamp(StampRequest(docs[0], "new-0")).uuid == a.uuid
    assert pac.stamp(StampRequest(docs[1], "new-1")).uuid == b.uuid
    assert pac.stamped_xml(b.uuid) == b.xml
    # Status and cancellation: old stamps, an old cancellation, a new cancellation.
    assert pac.status(a.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Vigente"
    assert pac.status(c.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Cancelado"
    assert pac.status(a.uuid, "XAXX010101000", RFC_RECEPTOR, "0").estado == "No Encontrado"
    again = pac.cancel(CancelRequest(c.uuid, RFC_EMISOR, RFC_RECEPTOR, "0", "02"))
    assert (again.code, again.acuse) == ("202", b"<Acuse Viejo='1'/>")
    with pytest.raises(PacError) as info:
        pac.cancel(CancelRequest(a.uuid, "XAXX010101000", RFC_RECEPTOR, "0", "02"))
    assert info.value.code == "203"
    done = pac.cancel(CancelRequest(a.uuid.lower(), RFC_EMISOR, RFC_RECEPTOR, "0", "03"))
    assert done.code == "201"
    assert SandboxPac(folder).status(a.uuid, RFC_EMISOR, RFC_RECEPTOR, "0").estado == "Cancelado"
    assert not (folder / "cancellations" / f"{a.uuid}.json").exists()  # recorded in the database
    # New documents go to the database; the old files are only read.
    new = pac.stamp(StampRequest(docs[3], "new-3"))
    assert not new.already_stamped and not (folder / "stamps" / f"{new.uuid}.json").exists()
    assert pac.stamp_count() == 4
    assert set(pac.stamped_uuids()) == {a.uuid, b.uuid, c.uuid, new.uuid}


# --------------------------------------------------------------------------- other processes


def _stamp_in_child(folder: Path, xml: bytes, key: str, queue: Any) -> None:
    pac = SandboxPac(folder, clock=lambda: NOW)
    queue.put([pac.stamp(StampRequest(xml, key)).uuid, pac.stamp(StampRequest(xml, f"{key}-{os.getpid()}")).uuid])


@pytest.mark.skipif(not HAS_FORK, reason="needs fork()")
def test_processes_racing_on_one_key_stamp_once(tmp_path: Path, docs: list[bytes]) -> None:
    folder = tmp_path / "pac"
    SandboxPac(folder)  # the certificate, created once
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_stamp_in_child, args=(folder, docs[0], "rep-1", queue)) for _ in range(4)]
    for p in procs:
        p.start()
    uuids = {u for _ in procs for u in queue.get(timeout=60)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(uuids) == 1 and SandboxPac(folder).stamp_count() == 1


def test_a_connection_of_another_process_is_set_aside(tmp_path: Path, docs: list[bytes]) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    inherited = pac._conn
    assert inherited is not None
    pac._conn_pid = -1  # as a child forked while it was open would find it
    stamped = pac.stamp(StampRequest(docs[0], "rep-1"))
    assert pac._conn is not inherited and inherited in sandbox._inherited
    inherited.execute("SELECT 1")  # neither used nor closed
    sandbox._inherited.remove(inherited)
    inherited.close()
    pac.close()
    assert pac._conn is None and pac.stamped_uuids() == [stamped.uuid]


def test_a_folder_busy_past_the_timeout_is_not_available(
    tmp_path: Path, docs: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    monkeypatch.setattr(sandbox, "BUSY_TIMEOUT_S", 0.05)
    other = SandboxPac(pac.folder)  # opens its connection with the short timeout
    # ``pac`` holds the write lock, as another process's stamp would.
    with pac._write(), pytest.raises(PacError) as info:
        other.stamp(StampRequest(docs[0], "rep-1"))
    assert info.value.code == "PAC_NO_DISPONIBLE"  # nothing was stamped: safe to give folios back
    assert other.stamp_count() == 0 and not other.stamp(StampRequest(docs[0], "rep-1")).already_stamped


def test_a_database_error_while_recording_is_a_pac_error(tmp_path: Path, docs: list[bytes]) -> None:
    """A stamp the database refuses to record (here: a UUID it already holds) comes back as
    ``PAC_SIN_RESPUESTA``, never as a bare sqlite3 error: the REP stays in flight and the
    services' error handling (``retry``, batches) applies; nothing was recorded."""
    from uuid import UUID

    from cfdi_cobranza.pac.base import PAC_SIN_RESPUESTA

    same = UUID("0d5f4a8e-3333-4c2b-9a3c-123456789abc")
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW, uuid_source=lambda: same)
    pac.stamp(StampRequest(docs[0], "rep-1"))
    with pytest.raises(PacError) as err:
        pac.stamp(StampRequest(docs[1], "rep-2"))
    assert err.value.code == PAC_SIN_RESPUESTA
    assert pac.stamp_count() == 1
    assert pac.recover(StampRequest(docs[1], "rep-2")) is None
