"""Turn what the user hands over (files, folders, ZIP packages) into named byte blobs.

Every input gets an outcome: a readable CFDI candidate or a refusal with a code.
ZIP packages (the SAT bulk download is one) are read member by member, refusing
path traversal, archives nested deeper than one level and absurd expansion
(zip bombs) before anything is decompressed: a central directory whose entries
overlap or declare more than the archive holds is refused whole, and the bytes
really expanded are counted while reading.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

MAX_FILE_BYTES = 5 * 1024 * 1024  # a CFDI of 5 MB is already extraordinary
MAX_ZIP_TOTAL = 2 * 1024 * 1024 * 1024
MAX_ZIP_RATIO = 150  # XML compresses ~10-20x; hundreds means a bomb
MAX_INNER_ZIP = 64 * 1024 * 1024  # a nested package is read into memory: keep it bounded
MAX_ZIP_MEMBERS = 200_000
XML_SUFFIXES = {".xml"}
ZIP_SUFFIXES = {".zip"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One input: ``data`` when it could be read, else ``code`` and ``message``."""

    name: str
    data: bytes | None = None
    code: str | None = None
    message: str | None = None
    ignored: bool = False


def _refused(name: str, code: str, message: str) -> Candidate:
    return Candidate(name=name, code=code, message=message)


def iter_paths(paths: Iterable[str | os.PathLike[str]], *, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Candidate]:
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            yield _refused(str(path), "ARCHIVO_NO_ENCONTRADO", f"No existe el archivo o carpeta «{path}».")
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in XML_SUFFIXES | ZIP_SUFFIXES:
                    yield from _file(child, max_bytes)
        else:
            yield from _file(path, max_bytes)


def _file(path: Path, max_bytes: int) -> Iterator[Candidate]:
    name = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            yield _refused(name, "ARCHIVO_ILEGIBLE", "No es un archivo regular.")
            return
        if path.suffix.lower() in ZIP_SUFFIXES:
            with path.open("rb") as fh:
                yield from iter_zip(fh, name, depth=0, max_bytes=max_bytes)
            return
        if st.st_size > max_bytes:
            yield _too_big(name, st.st_size, max_bytes)
            return
        yield Candidate(name=name, data=path.read_bytes())
    except OSError as exc:
        yield _refused(name, "ARCHIVO_ILEGIBLE", f"No se pudo leer el archivo: {exc.strerror or exc}.")


def _too_big(name: str, size: int, max_bytes: int) -> Candidate:
    return _refused(
        name,
        "ARCHIVO_DEMASIADO_GRANDE",
        f"El archivo mide {size / 1048576:.1f} MB; el máximo para un CFDI es "
        f"{max_bytes / 1048576:.0f} MB.",
    )


def iter_upload(name: str, data: bytes | IO[bytes], *, max_bytes: int = MAX_FILE_BYTES,
                on_count: Callable[[int], None] | None = None, _expansion: _Expansion | None = None) -> Iterator[Candidate]:
    """An uploaded blob (web or API): a ZIP is opened, anything else is a CFDI candidate.

    ``data`` may be the bytes or a seekable binary file (the spooled upload itself): a
    ZIP is then read member by member from the file, never copied whole into memory.
    """
    if isinstance(data, bytes | bytearray):
        fh: IO[bytes] = io.BytesIO(data)
    else:
        fh = data
    head = fh.read(4)
    fh.seek(0)
    if name.lower().endswith(".zip") or head == b"PK\x03\x04":
        yield from iter_zip(fh, name, depth=0, max_bytes=max_bytes, on_count=on_count)
        return
    blob = data if isinstance(data, bytes) else fh.read(max_bytes + 1)
    if on_count is not None:
        on_count(1)
    if len(blob) > max_bytes:
        size = len(blob) if isinstance(data, bytes) else (_archive_size(fh) or len(blob))
        yield _too_big(name, size, max_bytes)
    else:
        yield Candidate(name=name, data=bytes(blob))


def _safe_member_name(member: str) -> bool:
    if "\\" in member or member.startswith("/") or ":" in member.split("/")[0]:
        return False
    return ".." not in PurePosixPath(member).parts


def _archive_size(fh: Any) -> int | None:
    try:
        here = fh.tell()
        size = int(fh.seek(0, os.SEEK_END))
        fh.seek(here)
        return size
    except (AttributeError, OSError, ValueError):
        return None


def _size_text(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(n, 1) / 1024:.0f} KB"


# The smallest a stored member can take: its 30-byte local header plus its compressed data.
_LOCAL_HEADER = 30


def _layout_problem(infos: list[zipfile.ZipInfo], data_end: int) -> str | None:
    """Why the central directory cannot describe a real archive, or ``None``.

    Every member's bytes must lie inside the archive, one after the other: a directory
    whose entries overlap (twenty names for one compressed document) or declare more
    compressed data than the file holds would make a small upload expand many times over.
    """
    packed = sum(i.compress_size for i in infos)
    if packed > data_end:
        return (f"los archivos declaran {_size_text(packed)} comprimidos y el paquete solo tiene "
                f"{_size_text(data_end)}")
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            return f"«{info.filename[:100]}» se superpone con otro archivo del mismo ZIP"
        end = info.header_offset + _LOCAL_HEADER + len(info.orig_filename) + info.compress_size
        if end > data_end:
            return f"«{info.filename[:100]}» declara más datos de los que caben en el paquete"
    return None


@dataclass(slots=True)
class _Expansion:
    """Bytes decompressed so far from one uploaded package, and how many it may give."""

    limit: int
    used: int = 0


def iter_zip(fh: io.BufferedIOBase | io.BytesIO | object, name: str, *, depth: int, max_bytes: int,
             on_count: Callable[[int], None] | None = None, _expansion: _Expansion | None = None) -> Iterator[Candidate]:
    """The members of one ZIP, one at a time: only the current member is in memory.

    The central directory is checked against the archive's real size before anything
    is decompressed, and the bytes actually expanded are counted while reading, so a
    directory that lies cannot make the server expand more than the budget.
    ``on_count`` hears how many members the directory lists (a progress total).
    """
    size = _archive_size(fh)
    try:
        archive = zipfile.ZipFile(fh)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield _refused(name, "ZIP_INVALIDO", f"El paquete ZIP está dañado o no es un ZIP: {exc}.")
        return
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS:
            yield _refused(name, "ZIP_DEMASIADOS_ARCHIVOS", f"El ZIP contiene {len(infos)} archivos; el máximo es {MAX_ZIP_MEMBERS}.")
            return
        if on_count is not None:
            on_count(len(infos))
        data_end = getattr(archive, "start_dir", None) or size
        problem = _layout_problem(infos, data_end) if data_end is not None else None
        if problem:
            yield _refused(name, "ZIP_ENTRADAS_SUPERPUESTAS",
                           f"El índice del ZIP no corresponde a su contenido: {problem}. "
                           "Así se disfraza una zip bomba; se rechaza completo sin descomprimir nada.")
            return
        total = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        if total > MAX_ZIP_TOTAL or (total > 1024 * 1024 and total / packed > MAX_ZIP_RATIO):
            yield _refused(
                name,
                "ZIP_BOMBA",
                "El ZIP se expandiría de forma desproporcionada "
                f"({total / 1048576:.0f} MB, proporción {total / packed:.0f}:1); se rechaza completo.",
            )
            return
        # What may really be expanded, counted as it is read (the directory is only a claim);
        # a nested package spends its parent's budget.
        expansion = _expansion or _Expansion(min(MAX_ZIP_TOTAL, max(1024 * 1024, (size or packed) * MAX_ZIP_RATIO)))
        # From here on each entry is let go once read: zipfile keeps one ZipInfo per member
        # (~570 bytes; 114 MB for a SAT package of 200,000) and only ``infos`` needs them.
        archive.filelist = []
        archive.NameToInfo = {}
        pending: list[zipfile.ZipInfo | None] = list(infos)
        del infos
        for index in range(len(pending)):
            info = pending[index]
            pending[index] = None
            assert info is not None
            member = f"{name}!{info.filename}"
            if expansion.used > expansion.limit:
                yield _refused(member, "ZIP_BOMBA", "El ZIP ya se expandió más de lo que su tamaño permite "
                               f"({_size_text(expansion.used)}); este archivo no se descomprime.")
                continue
            # Checked per member too: incompressible padding must not hide one bomb.
            if info.file_size > 1024 * 1024 and info.file_size / max(info.compress_size, 1) > MAX_ZIP_RATIO:
                yield _refused(member, "ZIP_BOMBA", "Este archivo del ZIP se expandiría de forma desproporcionada; "
                               "se rechaza sin descomprimirlo.")
                continue
            if not _safe_member_name(info.filename):
                yield _refused(member, "ZIP_RUTA_INSEGURA", "El nombre del archivo dentro del ZIP intenta salir de la carpeta; se rechaza.")
                continue
            suffix = PurePosixPath(info.filename).suffix.lower()
            if suffix in ZIP_SUFFIXES:
                if depth >= 1:
                    yield _refused(member, "ZIP_ANIDADO", "ZIP dentro de ZIP dentro de ZIP: solo se abre un nivel de anidación.")
                    continue
                if info.file_size > MAX_INNER_ZIP:
                    yield _refused(member, "ZIP_BOMBA", f"El ZIP interno mide más de {MAX_INNER_ZIP // 1048576} MB; "
                                   "descomprímalo e impórtelo por separado.")
                    continue
                # Spooled to disk past 1 MB: a nested package is read member by member too.
                with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as inner:
                    try:
                        copied = _copy_bounded(archive, info, inner, MAX_INNER_ZIP)
                    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                        yield _refused(member, "ZIP_INVALIDO", f"No se pudo descomprimir: {exc}.")
                        continue
                    expansion.used += copied
                    if copied > MAX_INNER_ZIP:
                        yield _refused(member, "ZIP_BOMBA", f"El ZIP interno mide más de {MAX_INNER_ZIP // 1048576} MB; "
                                       "descomprímalo e impórtelo por separado.")
                        continue
                    inner.seek(0)
                    yield from iter_zip(inner, member, depth=depth + 1, max_bytes=max_bytes, _expansion=expansion)
                continue
            if suffix not in XML_SUFFIXES:
                yield Candidate(name=member, ignored=True, code="NO_ES_XML", message="No es un archivo .xml; se omite.")
                continue
            if info.file_size > max_bytes:
                yield _too_big(member, info.file_size, max_bytes)
                continue
            try:
                with archive.open(info) as src:
                    data = src.read(max_bytes + 1)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                yield _refused(member, "ZIP_INVALIDO", f"No se pudo descomprimir: {exc}.")
                continue
            expansion.used += len(data)
            if len(data) > max_bytes:  # header lied about the size
                yield _too_big(member, len(data), max_bytes)
                continue
            yield Candidate(name=member, data=data)


def _copy_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: Any, limit: int) -> int:
    """Copy a member into ``out``; stops one chunk past ``limit``. Returns the bytes copied."""
    copied = 0
    with archive.open(info) as src:
        while copied <= limit:
            block = src.read(1024 * 1024)
            if not block:
                break
            out.write(block)
            copied += len(block)
    return copied
