"""The SAT's public CFDI status service (ConsultaCFDIService), for PACs without one.

SW Sapien offers no SOAP status call of its own in the services we use, and the SAT's
answer is the authoritative one anyway: ``Consulta(expresionImpresa)`` with the QR
expression ``?re=<emisor>&rr=<receptor>&tt=<total>&id=<uuid>`` returns Estado,
EsCancelable and EstatusCancelacion.
"""

from __future__ import annotations

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac import soap
from cfdi_cobranza.pac.base import (
    PAC_NO_DISPONIBLE,
    PAC_SIN_RESPUESTA,
    SatStatus,
    invalid_reply,
)
from cfdi_cobranza.pac.transport import AmbiguousError, HttpTransport, NotSentError

NS_TEMPURI = "http://tempuri.org/"
SOAP_ACTION = "http://tempuri.org/IConsultaCFDIService/Consulta"
URLS = {
    "production": "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc",
    # The SAT's test instance, the one PACs' SDKs point their test environments at.
    "test": "https://pruebacfdiconsultaqr.cloudapp.net/ConsultaCFDIService.svc",
}
LABEL = "SAT (consulta de estado)"


def consulta(
    transport: HttpTransport, url: str, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str
) -> SatStatus:
    expresion = f"?re={rfc_emisor}&rr={rfc_receptor}&tt={total}&id={uuid.upper()}"
    body = soap.envelope(NS_TEMPURI, "Consulta", [("expresionImpresa", expresion)])
    try:
        response = transport.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SOAP_ACTION}"'},
        )
    except NotSentError as exc:
        raise PacError(
            "No se pudo conectar con el servicio de consulta del SAT", code=PAC_NO_DISPONIBLE
        ) from exc
    except AmbiguousError as exc:
        raise PacError(
            "El servicio de consulta del SAT no respondió a tiempo", code=PAC_SIN_RESPUESTA
        ) from exc
    try:
        payload = soap.parse_reply(response.body)
    except (ValueError, soap.SoapFault) as exc:
        raise invalid_reply(LABEL, f"HTTP {response.status}") from exc
    estado = soap.text(payload, "Estado")
    if not estado:
        raise invalid_reply(LABEL, "sin Estado")
    return SatStatus(
        estado=estado,
        es_cancelable=soap.text(payload, "EsCancelable"),
        estatus_cancelacion=soap.text(payload, "EstatusCancelacion"),
        codigo_estatus=soap.text(payload, "CodigoEstatus"),
    )
