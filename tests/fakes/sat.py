"""Loopback fakes of the SAT's CFDI status service, the 69-B list download and Banxico's SIE API.

Each speaks the real protocol: ConsultaCFDIService answers SOAP 1.1 envelopes with the
``ConsultaResult`` shape the SAT returns (as recorded in satcfdi's tests: ``a:`` data
contract namespace, ``CodigoEstatus`` "S - ..." / "N - 601: ..." / "N - 602: ..."),
the SIE API answers ``{"bmx": {"series": [...]}}`` or ``{"error": {...}}`` with its
status, and the 69-B list is served as the SAT's Latin-1 CSV. ``fail_first`` makes the
next answers HTTP errors (transient faults); ``hang`` / ``malformed`` come from FakePac.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs

from lxml import etree

from fakes.server import FakePac, Reply

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = '"http://tempuri.org/IConsultaCFDIService/Consulta"'
_DC = "http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio"


def consulta_response(codigo: str, estado: str, es_cancelable: str | None = None,
                      estatus_cancelacion: str | None = None, efos: str | None = "200") -> bytes:
    def el(name: str, value: str | None) -> str:
        return f"<a:{name}/>" if value is None else f"<a:{name}>{value}</a:{name}>"
    return (f'<s:Envelope xmlns:s="{SOAPENV}"><s:Body><ConsultaResponse xmlns="http://tempuri.org/">'
            f'<ConsultaResult xmlns:a="{_DC}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
            f'{el("CodigoEstatus", codigo)}{el("EsCancelable", es_cancelable)}{el("Estado", estado)}'
            f'{el("EstatusCancelacion", estatus_cancelacion)}{el("ValidacionEFOS", efos)}'
            f"</ConsultaResult></ConsultaResponse></s:Body></s:Envelope>").encode()


def soap_fault(code: str, text: str) -> bytes:
    return (f'<s:Envelope xmlns:s="{SOAPENV}"><s:Body><s:Fault><faultcode>{code}</faultcode>'
            f"<faultstring>{text}</faultstring></s:Fault></s:Body></s:Envelope>").encode()


@dataclass
class SatConsultaFake(FakePac):
    """``estados``: UUID -> (Estado, EsCancelable, EstatusCancelacion); unknown UUIDs are
    "No Encontrado" (N - 602); an expression without re/rr/tt/id is N - 601."""

    estados: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)
    efos: str = "200"
    fail_first: list[int] = field(default_factory=list)
    fault: tuple[str, str] | None = None
    asked: list[str] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)  # UUID -> tt as received

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or not path.endswith("/ConsultaCFDIService.svc"):
            return Reply(404, b"Not found", "text/plain")
        if headers.get("soapaction") != SOAP_ACTION:
            return Reply(500, soap_fault("a:ActionNotSupported", "ContractFilter mismatch"))
        if self.fail_first:
            return Reply(self.fail_first.pop(0), b"<html><body>Service Unavailable</body></html>", "text/html")
        if self.fault is not None:
            return Reply(500, soap_fault(*self.fault))
        root = etree.fromstring(body)
        expr = root.findtext(".//{http://tempuri.org/}expresionImpresa") or ""
        params = {k: v[0] for k, v in parse_qs(expr.lstrip("?")).items()}
        if not all(k in params for k in ("re", "rr", "tt", "id")) or not re.fullmatch(r"[0-9A-F-]{36}", params["id"]):
            return Reply(200, consulta_response("N - 601: La expresión impresa proporcionada no es válida.",
                                                "No Encontrado", None, None, None))
        self.asked.append(params["id"])
        self.totals[params["id"]] = params["tt"]
        known = self.estados.get(params["id"])
        if known is None:
            return Reply(200, consulta_response("N - 602: Comprobante no encontrado.", "No Encontrado",
                                                None, None, None))
        estado, cancelable, estatus = known
        return Reply(200, consulta_response("S - Comprobante obtenido satisfactoriamente.", estado, cancelable,
                                            estatus, self.efos))


@dataclass
class BanxicoFake(FakePac):
    """``datos``: series id -> {date: "17.1234" or "N/E"}; ``token`` must come in Bmx-Token."""

    token: str = "token-de-prueba"
    datos: dict[str, dict[date, str]] = field(default_factory=dict)
    fail_first: list[int] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        m = re.fullmatch(r"/SieAPIRest/service/v1/series/(\w+)/datos/(\d{4}-\d\d-\d\d)/(\d{4}-\d\d-\d\d)", path)
        if method != "GET" or m is None:
            return Reply(404, json.dumps({"error": {"mensaje": "Recurso no encontrado"}}).encode(), "application/json")
        if self.fail_first:
            return Reply(self.fail_first.pop(0), b"Bad gateway", "text/plain")
        if headers.get("bmx-token") != self.token:
            return Reply(401, json.dumps({"error": {"mensaje": "Token inválido",
                                                    "detalle": "El token no es válido"}}).encode(),
                         "application/json")
        serie, desde, hasta = m.group(1), date.fromisoformat(m.group(2)), date.fromisoformat(m.group(3))
        points = [{"fecha": f"{d:%d/%m/%Y}", "dato": v} for d, v in sorted(self.datos.get(serie, {}).items())
                  if desde <= d <= hasta]
        payload = {"bmx": {"series": [{"idSerie": serie, "titulo": "Tipo de cambio Pesos por dólar E.U.A. "
                                       "Tipo de cambio para solventar obligaciones denominadas en moneda "
                                       "extranjera Fecha de determinación (FIX)", "datos": points}]}}
        return Reply(200, json.dumps(payload).encode(), "application/json")


@dataclass
class FileFake(FakePac):
    """Serves ``content`` at any GET (the SAT's 69-B list)."""

    content: bytes = b""
    fail_first: list[int] = field(default_factory=list)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.fail_first:
            return Reply(self.fail_first.pop(0), b"error", "text/plain")
        return Reply(200, self.content, "text/csv")


HEADER_69B = ("No,RFC,Nombre del Contribuyente,Situación del contribuyente,"
              "Número y fecha de oficio global de presunción SAT,Publicación página SAT presuntos,"
              "Número y fecha de oficio global de presunción DOF,Publicación DOF presuntos,"
              "Número y fecha de oficio global de contribuyentes que desvirtuaron SAT,"
              "Publicación página SAT desvirtuados,"
              "Número y fecha de oficio global de contribuyentes que desvirtuaron DOF,Publicación DOF desvirtuados,"
              "Número y fecha de oficio global de definitivos SAT,Publicación página SAT definitivos,"
              "Número y fecha de oficio global de definitivos DOF,Publicación DOF definitivos,"
              "Número y fecha de oficio global de sentencia favorable SAT,"
              "Publicación página SAT sentencia favorable,"
              "Número y fecha de oficio global de sentencia favorable DOF,Publicación DOF sentencia favorable")


def listado_69b(rows: list[tuple[str, str, str, dict[str, str]]]) -> bytes:
    """The SAT's Listado_Completo_69-B.csv: Latin-1, preamble, title, header, quoted names.
    ``rows``: (RFC, name, situation, {stage: "dd/mm/aaaa"}) with stages presunto,
    desvirtuado, definitivo, sentencia."""
    cols = {"presunto": 5, "desvirtuado": 9, "definitivo": 13, "sentencia": 17}
    lines = ['"Información actualizada al 31 de marzo de 2024; los listados a que se hace mención, son de '
             'carácter público, y pueden ser consultados en el Portal del Servicio de Administración '
             'Tributaria."' + "," * 19,
             "Listado completo de contribuyentes (Artículo 69-B del CFF)" + "," * 19,
             HEADER_69B]
    for n, (rfc, name, situacion, dates) in enumerate(rows, start=1):
        cells = [""] * 20
        cells[0], cells[1], cells[2], cells[3] = str(n), rfc, f'"{name}"', situacion
        for stage, value in dates.items():
            cells[cols[stage] - 1] = f"500-05-2018-16632 de fecha {value}"
            cells[cols[stage]] = value
            cells[cols[stage] + 2] = value
        lines.append(",".join(cells))
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
