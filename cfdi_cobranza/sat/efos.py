"""The SAT's list of taxpayers under article 69-B of the CFF (EFOS), as the SAT publishes it.

``Listado_Completo_69-B.csv`` (http://omawww.sat.gob.mx/cifras_sat/Documents/) is Latin-1
text: a quoted preamble line, a title line, then the header ``No,RFC,Nombre del
Contribuyente,Situación del contribuyente,...`` and one row per taxpayer, names quoted.
After the situation come eight columns in pairs, "number and date of the global notice"
then "publication date (dd/mm/yyyy)", for the SAT page and the DOF, of each stage:
presunto, desvirtuado, definitivo, sentencia favorable.

satcfdi downloads it with ``requests`` and no timeout, keeping only RFC -> situation;
this module parses the file (with the stage dates) and downloads it over our transport
with timeouts and retries.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from cfdi_cobranza.errors import SatServiceError, ValidationError
from cfdi_cobranza.pac.transport import HttpTransport
from cfdi_cobranza.sat import readonly_http
from cfdi_cobranza.sat.readonly_http import ReadPolicy

URL = "http://omawww.sat.gob.mx/cifras_sat/Documents/Listado_Completo_69-B.csv"
LABEL = "el portal del SAT (listado 69-B)"

SITUACIONES = ("Presunto", "Desvirtuado", "Definitivo", "Sentencia Favorable")
_BY_KEY = {s.lower(): s for s in SITUACIONES}
_RFC = re.compile(r"^[A-Z&Ñ]{3,4}[0-9A-Z]{8,9}$")
# Publication-date columns (0-based) of each stage: (SAT page, DOF).
_DATE_COLUMNS = {"Presunto": (5, 7), "Desvirtuado": (9, 11), "Definitivo": (13, 15),
                 "Sentencia Favorable": (17, 19)}
EFOS_ARCHIVO_INVALIDO = "EFOS_ARCHIVO_INVALIDO"


@dataclass(frozen=True)
class EfosRow:
    rfc: str
    nombre: str
    situacion: str  # one of SITUACIONES
    fecha_presunto: date | None
    fecha_desvirtuado: date | None
    fecha_definitivo: date | None
    fecha_sentencia: date | None

    @property
    def fecha(self) -> date | None:
        """The publication date of the current situation."""
        return {"Presunto": self.fecha_presunto, "Desvirtuado": self.fecha_desvirtuado,
                "Definitivo": self.fecha_definitivo, "Sentencia Favorable": self.fecha_sentencia}[self.situacion]


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True)
class EfosList:
    rows: tuple[EfosRow, ...]
    rejected: tuple[RejectedRow, ...]
    preamble: str  # "Información actualizada al ..." as published


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")  # a copy re-saved as UTF-8
    except UnicodeDecodeError:
        return data.decode("latin-1")  # as the SAT publishes it


def _date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _stage_date(row: list[str], situacion: str) -> date | None:
    sat_col, dof_col = _DATE_COLUMNS[situacion]
    padded = [*row, *([""] * 20)]
    return _date(padded[sat_col]) or _date(padded[dof_col])


def _is_header(row: list[str]) -> bool:
    return len(row) >= 4 and row[0].strip().lower() == "no" and row[1].strip().upper() == "RFC"


def parse(data: bytes) -> EfosList:
    """Every row of the list; rows that cannot be read are returned in ``rejected`` with the
    line and reason. A file without the SAT's header row is refused as a whole."""
    text = _text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=",", quotechar='"')
    preamble = ""
    rows: list[EfosRow] = []
    rejected: list[RejectedRow] = []
    header_seen = False
    seen: set[str] = set()
    for record in reader:
        line = reader.line_num
        if not header_seen:
            if _is_header(record):
                header_seen = True
            elif not preamble and record and record[0].strip():
                preamble = record[0].strip()[:500]
            continue
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < 4:
            rejected.append(RejectedRow(line, "faltan columnas"))
            continue
        rfc = record[1].strip().upper()
        situacion = _BY_KEY.get(" ".join(record[3].split()).lower())
        if not _RFC.match(rfc):
            rejected.append(RejectedRow(line, f"RFC inválido «{rfc[:20]}»"))
            continue
        if situacion is None:
            rejected.append(RejectedRow(line, f"situación desconocida «{record[3].strip()[:40]}»"))
            continue
        if rfc in seen:
            rejected.append(RejectedRow(line, f"RFC {rfc} repetido"))
            continue
        seen.add(rfc)
        rows.append(EfosRow(
            rfc=rfc, nombre=" ".join(record[2].split())[:300], situacion=situacion,
            fecha_presunto=_stage_date(record, "Presunto"), fecha_desvirtuado=_stage_date(record, "Desvirtuado"),
            fecha_definitivo=_stage_date(record, "Definitivo"),
            fecha_sentencia=_stage_date(record, "Sentencia Favorable"),
        ))
    if not header_seen:
        raise ValidationError(
            "El archivo no es el listado 69-B del SAT: no se encontró el encabezado "
            "«No,RFC,Nombre del Contribuyente,Situación del contribuyente».", code=EFOS_ARCHIVO_INVALIDO)
    return EfosList(tuple(rows), tuple(rejected), preamble)


def download(transport: HttpTransport, url: str = URL, *, policy: ReadPolicy | None = None,
             sleep: Callable[[float], None] | None = None) -> bytes:
    """The published file's bytes; ``SatServiceError`` when it cannot be had."""
    response = readonly_http.call(transport, "GET", url, label=LABEL, headers={"Accept": "text/csv"},
                                  policy=policy, sleep=sleep)
    if response.status != 200:
        raise SatServiceError(f"El portal del SAT respondió HTTP {response.status} al pedir el listado 69-B.",
                              code=readonly_http.SAT_ERROR_HTTP, codigo_servicio=str(response.status))
    return response.body
