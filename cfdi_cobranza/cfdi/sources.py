"""Turn what the user hands over (files, folders, ZIP packages) into named byte blobs.

Every input gets an outcome: a readable CFDI candidate or a refusal with a code.
ZIP packages (the SAT bulk download is one) are read member by member, refusing
path traversal, archives nested deeper than one level and absurd expansion
(zip bombs) before anything is decompressed.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


def iter_upload(name: str, data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Candidate]:
    """An uploaded blob (web or API): a ZIP is opened, anything else is a CFDI candidate."""
    if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
        yield from iter_zip(io.BytesIO(data), name, depth=0, max_bytes=max_bytes)
    elif len(data) > max_bytes:
        yield _too_big(name, len(data), max_bytes)
    else:
        yield Candidate(name=name, data=data)


def _safe_member_name(member: str) -> bool:
    if "\\" in member or member.startswith("/") or ":" in member.split("/")[0]:
        return False
    return ".." not in PurePosixPath(member).parts


def iter_zip(fh: io.BufferedIOBase | io.BytesIO | object, name: str, *, depth: int, max_bytes: int) -> Iterator[Candidate]:
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
        for info in infos:
            member = f"{name}!{info.filename}"
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
                yield from iter_zip(io.BytesIO(archive.read(info)), member, depth=depth + 1, max_bytes=max_bytes)
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
            if len(data) > max_bytes:  # header lied about the size
                yield _too_big(member, len(data), max_bytes)
                continue
            yield Candidate(name=member, data=data)
