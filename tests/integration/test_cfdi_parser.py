"""Strict parser: hostile and broken inputs get a definite ImportRefused code."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cfdi_cobranza.cfdi.loader import load_cfdi, load_cfdi_file
from cfdi_cobranza.cfdi.parser import parse_xml, read_limited
from cfdi_cobranza.errors import ImportRefused

DATA = Path(__file__).resolve().parents[1] / "data"
REAL40 = (DATA / "real" / "cfdi40-real.xml").read_bytes()


def refused(data: bytes, **kwargs: object) -> ImportRefused:
    with pytest.raises(ImportRefused) as info:
        parse_xml(data, **kwargs)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize("data", [b"", b"   \n\t "])
def test_empty_file(data: bytes) -> None:
    assert refused(data).code == "ARCHIVO_VACIO"


def test_truncated_xml() -> None:
    err = refused(REAL40[: len(REAL40) // 2])
    assert err.code == "XML_MAL_FORMADO"
    assert "bien formado" in err.message


@pytest.mark.parametrize("data", [b"%PDF-1.4 not xml", b"hello", b"\x00\x01\x02\xff", b"{}"])
def test_not_xml(data: bytes) -> None:
    assert refused(data).code == "XML_MAL_FORMADO"


def test_wrong_root() -> None:
    err = refused(b'<?xml version="1.0"?><factura Total="1"/>')
    assert err.code == "NO_ES_CFDI"
    err = refused(b'<r:Retenciones xmlns:r="http://www.sat.gob.mx/esquemas/retencionpago/2"/>')
    assert err.code == "NO_ES_CFDI"


def test_xxe_external_entity_is_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in ("file:///etc/passwd", secret.as_uri()):
        data = (
            f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "{target}">]>'
            '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" '
            'Serie="&x;"/>'
        ).encode()
        err = refused(data)
        assert err.code == "XML_DTD_PROHIBIDO"
        assert "TOP-SECRET" not in str(err.to_dict())
        assert "root:" not in str(err.to_dict())


def test_billion_laughs() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    data = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><lolz>&lol9;</lolz>'.encode()
    assert refused(data).code == "XML_DTD_PROHIBIDO"


def test_doctype_in_utf16_is_refused() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    assert refused(text.encode("utf-16")).code == "XML_DTD_PROHIBIDO"


def test_cfdi32_refused_with_version() -> None:
    err = refused((DATA / "real" / "cfdi32-real.xml").read_bytes())
    assert err.code == "VERSION_NO_SOPORTADA"
    assert err.message == "CFDI versión 3.2 no soportado; solo se importan CFDI 4.0 y 3.3"


def test_other_version_in_40_namespace() -> None:
    data = b'<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.1"/>'
    err = refused(data)
    assert err.code == "VERSION_NO_SOPORTADA"
    assert "4.1" in err.message


def test_size_limit_on_bytes() -> None:
    assert refused(REAL40, max_bytes=1000).code == "ARCHIVO_DEMASIADO_GRANDE"
    assert parse_xml(REAL40, max_bytes=len(REAL40)).get("Version") == "4.0"


class CountingStream(io.RawIOBase):
    """A 50 MB stream that records how much was read from it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_total = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.read_total if n < 0 else min(n, self.size - self.read_total)
        self.read_total += n
        return b" " * n


def test_50mb_stream_refused_without_reading_it_all() -> None:
    stream = CountingStream(50 * 1024 * 1024)
    with pytest.raises(ImportRefused) as info:
        read_limited(stream, 5 * 1024 * 1024)  # type: ignore[arg-type]
    assert info.value.code == "ARCHIVO_DEMASIADO_GRANDE"
    assert stream.read_total <= 5 * 1024 * 1024 + 1


def test_50mb_file_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    with big.open("wb") as fh:
        fh.write(b"<a>")
        fh.truncate(50 * 1024 * 1024)  # sparse: cheap on disk
    with pytest.raises(ImportRefused) as info:
        load_cfdi_file(big)
    assert info.value.code == "ARCHIVO_DEMASIADO_GRANDE"
    with pytest.raises(ImportRefused) as info:
        load_cfdi(b"<a>" + b" " * (6 * 1024 * 1024))
    assert info.value.code == "ARCHIVO_DEMASIADO_GRANDE"


def test_parser_keeps_original_tree() -> None:
    root = parse_xml(REAL40)
    assert root.get("Total") == "1000.00"
    assert root.getroottree().docinfo.encoding.upper() == "UTF-8"
