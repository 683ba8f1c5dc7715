"""The SAT's public CFDI status service, ConsultaCFDIService (SOAP 1.1).

``Consulta(expresionImpresa)`` with the QR expression ``?re=<emisor>&rr=<receptor>&tt=<total>&id=<uuid>``
answers ``ConsultaResult`` with ``CodigoEstatus`` (``S - Comprobante obtenido
satisfactoriamente.``, or ``N - 601: ...`` / ``N - 602: ...``), ``Estado`` (Vigente,
Cancelado, No Encontrado), ``EsCancelable``, ``EstatusCancelacion`` and
``ValidacionEFOS`` (200: the issuer is not on the 69-B list; 100: it is). Request shape
as in satcfdi's ``SAT.status``; satcfdi's own call has no timeout, so this is a thin
client over our transport with :mod:`cfdi_cobranza.sat.readonly_http`'s retries.

A ``N - 601`` (the expression is not valid) is the SAT refusing our question: raised as
``SatServiceError`` with the SAT's code. ``N - 602`` (not found) is an answer, returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from cfdi_cobranza.errors import SatServiceError
from cfdi_cobranza.pac import soap
from cfdi_cobranza.pac.transport import HttpTransport
from cfdi_cobranza.sat import readonly_http
from cfdi_cobranza.sat.readonly_http import SAT_RESPUESTA_INVALIDA, ReadPolicy

NS_TEMPURI = "http://tempuri.org/"
SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
URLS = {
    "production": "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc",
    # The SAT's test instance, the one PACs' SDKs point their test environments at.
    "test": "https://pruebacfdiconsultaqr.cloudapp.net/ConsultaCFDIService.svc",
}
LABEL = "el servicio de consulta de CFDI del SAT"
SAT_EXPRESION_INVALIDA = "SAT_EXPRESION_INVALIDA"  # CodigoEstatus N - 601
SAT_CONSULTA_RECHAZADA = "SAT_CONSULTA_RECHAZADA"  # another N - code

_CODIGO = re.compile(r"^\s*([SN])\s*-\s*(?:(\d+)\s*:)?\s*(.*)$", re.S)


@dataclass(frozen=True)
class EstadoCfdi:
    """One answer of the service, as the SAT wrote it."""

    estado: str  # "Vigente" | "Cancelado" | "No Encontrado"
    codigo_estatus: str | None
    es_cancelable: str | None
    estatus_cancelacion: str | None
    validacion_efos: str | None

    @property
    def cancelado(self) -> bool:
        return self.estado.strip().lower() == "cancelado"

    @property
    def encontrado(self) -> bool:
        return self.estado.strip().lower() != "no encontrado"


def expresion(uuid: str, rfc_emisor: str, rfc_receptor: str, total: Decimal | str) -> str:
    """The QR expression of a CFDI 4.0 (the total as written in the CFDI)."""
    return f"?re={rfc_emisor}&rr={rfc_receptor}&tt={total}&id={uuid.upper()}"


_XML = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True)


def total_as_written(xml: bytes) -> str | None:
    """The CFDI's ``Total`` exactly as its XML writes it: the QR expression the SAT matches
    carries that text, not a reformatted number."""
    try:
        value = etree.fromstring(xml, _XML).get("Total")
    except (etree.XMLSyntaxError, ValueError):
        return None
    return value.strip() if value else None


def consultar(
    transport: HttpTransport,
    url: str,
    uuid: str,
    rfc_emisor: str,
    rfc_receptor: str,
    total: Decimal | str,
    *,
    policy: ReadPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> EstadoCfdi:
    """Ask the SAT for one CFDI's status; ``SatServiceError`` (Spanish, the SAT's code in
    ``details['codigo_servicio']``) when it cannot be asked or refuses."""
    body = soap.envelope(NS_TEMPURI, "Consulta",
                         [("expresionImpresa", expresion(uuid, rfc_emisor, rfc_receptor, total))])
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"'}
    response = readonly_http.call(transport, "POST", url, label=LABEL, body=body, headers=headers,
                                  policy=policy, sleep=sleep)
    return parse(response.status, response.body)


def parse(status: int, data: bytes) -> EstadoCfdi:
    """A ConsultaResponse, or ``SatServiceError`` for a fault, an error code or an unreadable reply."""
    try:
        payload = soap.parse_reply(data)
    except soap.SoapFault as exc:
        raise SatServiceError(f"El SAT rechazó la consulta: {exc.faultstring or exc.faultcode}.",
                              code=SAT_CONSULTA_RECHAZADA, codigo_servicio=exc.faultcode) from exc
    except ValueError as exc:
        raise SatServiceError(f"La respuesta del SAT no se puede leer (HTTP {status}).",
                              code=SAT_RESPUESTA_INVALIDA) from exc
    if status >= 400:
        raise SatServiceError(f"El SAT respondió con un error HTTP {status}.", code=readonly_http.SAT_ERROR_HTTP,
                              codigo_servicio=str(status))
    codigo = soap.text(payload, "CodigoEstatus")
    match = _CODIGO.match(codigo or "")
    if match and match.group(1) == "N" and match.group(2) != "602":
        num, text = match.group(2) or "", match.group(3).strip()
        code = SAT_EXPRESION_INVALIDA if num == "601" else SAT_CONSULTA_RECHAZADA
        raise SatServiceError(f"El SAT rechazó la consulta ({num or 'N'}): {text}", code=code,
                              codigo_servicio=num or "N")
    estado = soap.text(payload, "Estado")
    if not estado:
        raise SatServiceError("La respuesta del SAT no trae el Estado del comprobante.",
                              code=SAT_RESPUESTA_INVALIDA)
    return EstadoCfdi(
        estado=estado,
        codigo_estatus=codigo,
        es_cancelable=soap.text(payload, "EsCancelable"),
        estatus_cancelacion=soap.text(payload, "EstatusCancelacion"),
        validacion_efos=soap.text(payload, "ValidacionEFOS"),
    )
