"""Banxico's SIE API (series of exchange rates), and the CSV file used when it cannot be reached.

``GET /SieAPIRest/service/v1/series/<serie>/datos/<aaaa-mm-dd>/<aaaa-mm-dd>`` with the
``Bmx-Token`` header answers ``{"bmx": {"series": [{"idSerie", "titulo", "datos":
[{"fecha": "dd/mm/aaaa", "dato": "17.1234"}]}]}}`` ("N/E" where there is no figure);
an error answers ``{"error": {"mensaje", "detalle"}}`` with a 4xx status. Request shape as
satcfdi's ``SieAPIRest.obten_rango_datos_series_using_get``, which has no timeout; this is
a thin client over our transport with timeouts and retries. The token is never logged.

SF43718 is the FIX (pesos per US dollar, by date of determination): the rate the DOF
publishes the next banking day (see docs/pagos20-decisions.md for ``TipoCambioP``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from cfdi_cobranza.errors import SatServiceError, ValidationError
from cfdi_cobranza.pac.transport import HttpTransport
from cfdi_cobranza.sat import readonly_http
from cfdi_cobranza.sat.readonly_http import SAT_RESPUESTA_INVALIDA, ReadPolicy

BASE_URL = "https://www.banxico.org.mx"
LABEL = "el servicio SIE de Banxico"
SERIES = {"USD": "SF43718"}  # FIX
BANXICO_TOKEN = "BANXICO_TOKEN_INVALIDO"
TIPO_CAMBIO_ARCHIVO_INVALIDO = "TIPO_CAMBIO_ARCHIVO_INVALIDO"


@dataclass(frozen=True)
class RatePoint:
    fecha: date
    moneda: str
    tipo_cambio: Decimal  # MXN per unit
    serie: str


def _rate(text: str) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text or text.upper() in ("N/E", "N/D"):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def fetch_series(
    transport: HttpTransport,
    token: str,
    moneda: str,
    desde: date,
    hasta: date,
    *,
    base_url: str = BASE_URL,
    policy: ReadPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> list[RatePoint]:
    serie = SERIES.get(moneda.upper())
    if serie is None:
        raise ValidationError(f"No hay serie de Banxico configurada para {moneda}.", code="MONEDA_SIN_SERIE")
    url = (f"{base_url.rstrip('/')}/SieAPIRest/service/v1/series/{serie}/datos/"
           f"{desde.isoformat()}/{hasta.isoformat()}")
    response = readonly_http.call(transport, "GET", url, label=LABEL,
                                  headers={"Bmx-Token": token, "Accept": "application/json"},
                                  policy=policy, sleep=sleep)
    return parse(response.status, response.body, moneda.upper(), serie)


def parse(status: int, data: bytes, moneda: str, serie: str) -> list[RatePoint]:
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SatServiceError(f"La respuesta de Banxico no se puede leer (HTTP {status}).",
                              code=SAT_RESPUESTA_INVALIDA) from exc
    if not isinstance(payload, dict):
        raise SatServiceError("La respuesta de Banxico no tiene la forma esperada.", code=SAT_RESPUESTA_INVALIDA)
    error = payload.get("error")
    if status >= 400 or error is not None:
        mensaje = (error or {}).get("mensaje") if isinstance(error, dict) else None
        detalle = (error or {}).get("detalle") if isinstance(error, dict) else None
        code = BANXICO_TOKEN if status == 401 else readonly_http.SAT_ERROR_HTTP
        text = "; ".join(str(t) for t in (mensaje, detalle) if t) or "sin detalle"
        raise SatServiceError(f"Banxico rechazó la consulta (HTTP {status}): {text}.", code=code,
                              codigo_servicio=str(status))
    try:
        series = payload["bmx"]["series"]
        datos = next(s for s in series if s.get("idSerie") == serie).get("datos") or []
    except (KeyError, TypeError, StopIteration) as exc:
        raise SatServiceError(f"La respuesta de Banxico no trae la serie {serie}.",
                              code=SAT_RESPUESTA_INVALIDA) from exc
    points = []
    for item in datos:
        try:
            fecha = datetime.strptime(str(item["fecha"]), "%d/%m/%Y").date()
            value = _rate(str(item["dato"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SatServiceError("La respuesta de Banxico trae un dato ilegible.",
                                  code=SAT_RESPUESTA_INVALIDA) from exc
        if value is not None:
            points.append(RatePoint(fecha, moneda, value, serie))
    return points


def parse_csv(data: bytes) -> list[RatePoint]:
    """The offline fallback: ``fecha,moneda,tipo_cambio`` (dates dd/mm/aaaa or aaaa-mm-dd), or
    Banxico's own SIE download (``Fecha,SF43718`` after its title lines). Any bad line
    refuses the whole file, naming the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    points: list[RatePoint] = []
    for record in reader:
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if header is None:
            low = [c.lower() for c in cells]
            if low and low[0] == "fecha" and len(low) >= 2:
                header = low
            continue
        line = reader.line_num
        if header[1] in ("moneda",):
            if len(cells) < 3:
                raise ValidationError(f"Línea {line}: faltan columnas.", code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
            moneda, raw, serie = cells[1].upper(), cells[2], "archivo"
        else:
            serie = header[1].upper()
            moneda = next((m for m, s in SERIES.items() if s == serie), "")
            if not moneda:
                raise ValidationError(f"Serie desconocida «{serie}» en el encabezado.",
                                      code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
            raw = cells[1] if len(cells) > 1 else ""
        fecha = None
        for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
            try:
                fecha = datetime.strptime(cells[0], fmt).date()
                break
            except ValueError:
                continue
        if fecha is None:
            raise ValidationError(f"Línea {line}: fecha inválida «{cells[0][:20]}».",
                                  code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
        if len(moneda) != 3 or not moneda.isalpha() or moneda == "MXN":
            raise ValidationError(f"Línea {line}: moneda inválida «{moneda[:10]}».", code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
        if raw.upper() in ("N/E", ""):
            continue
        value = _rate(raw)
        if value is None:
            raise ValidationError(f"Línea {line}: tipo de cambio inválido «{raw[:20]}».",
                                  code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
        points.append(RatePoint(fecha, moneda, value, serie))
    if header is None:
        raise ValidationError("El archivo no tiene el encabezado «fecha,moneda,tipo_cambio» ni «Fecha,SF43718».",
                              code=TIPO_CAMBIO_ARCHIVO_INVALIDO)
    return points
