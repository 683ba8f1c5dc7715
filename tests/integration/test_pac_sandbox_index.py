"""The sandbox's idempotency index: entries are hard links to the stamp's fsynced metadata."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

from fakes.stamper import signed_cfdi
from lxml import etree

from cfdi_cobranza.pac.base import StampRequest
from cfdi_cobranza.pac.sandbox import SandboxPac

NOW = datetime(2025, 1, 15, 12, 5, 0)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def test_index_entries_name_the_complete_metadata(tmp_path: Path) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    xml = signed_cfdi(tmp_path / "issuer")
    result = pac.stamp(StampRequest(xml, "rep-1"))
    meta = pac.folder / "stamps" / f"{result.uuid}.json"
    sello = etree.fromstring(xml).get("Sello") or ""
    key_entry = pac.folder / "keys" / _sha("rep-1")
    sello_entry = pac.folder / "sellos" / _sha(sello)
    assert os.path.samefile(key_entry, meta) and os.path.samefile(sello_entry, meta)
    assert json.loads(key_entry.read_bytes())["uuid"] == result.uuid
    assert not list(pac.folder.rglob("*.tmp"))
    # Same bytes under another key: the Sello entry finds the earlier stamp.
    again = pac.stamp(StampRequest(xml, "rep-2"))
    assert again.uuid == result.uuid and again.already_stamped


def test_sello_entries_of_older_folders_hold_the_uuid(tmp_path: Path) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    xml = signed_cfdi(tmp_path / "issuer")
    result = pac.stamp(StampRequest(xml, "rep-1"))
    sello_entry = pac.folder / "sellos" / _sha(etree.fromstring(xml).get("Sello") or "")
    sello_entry.unlink()
    sello_entry.write_text(result.uuid)  # the format written before the hard links
    again = SandboxPac(pac.folder, clock=lambda: NOW).stamp(StampRequest(xml, "rep-other"))
    assert again.uuid == result.uuid and again.already_stamped


def test_the_fsynced_record_alone_answers_a_retry(tmp_path: Path) -> None:
    """``<uuid>.xml`` is written without fsync: a crash may lose it, the record holds the XML."""
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    xml = signed_cfdi(tmp_path / "issuer")
    result = pac.stamp(StampRequest(xml, "rep-1"))
    copy = pac.folder / "stamps" / f"{result.uuid}.xml"
    assert copy.read_bytes() == result.xml
    copy.unlink()
    again = SandboxPac(pac.folder, clock=lambda: NOW).stamp(StampRequest(xml, "rep-1"))
    assert again.already_stamped and again.uuid == result.uuid and again.xml == result.xml
    other_key = SandboxPac(pac.folder, clock=lambda: NOW).stamp(StampRequest(xml, "rep-2"))
    assert other_key.uuid == result.uuid and other_key.xml == result.xml


def test_records_written_before_carry_no_xml(tmp_path: Path) -> None:
    pac = SandboxPac(tmp_path / "pac", clock=lambda: NOW)
    xml = signed_cfdi(tmp_path / "issuer")
    result = pac.stamp(StampRequest(xml, "rep-1"))
    meta_path = pac.folder / "stamps" / f"{result.uuid}.json"
    meta = json.loads(meta_path.read_bytes())
    del meta["xml"]
    meta_path.write_text(json.dumps(meta))  # same inode: the index links see the old format
    again = SandboxPac(pac.folder, clock=lambda: NOW).stamp(StampRequest(xml, "rep-1"))
    assert again.already_stamped and again.xml == result.xml
