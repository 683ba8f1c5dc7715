"""The SAT's CFDI status service as a PAC adapter's ``status`` call (for PACs without one).

SW Sapien offers no SOAP status call of its own in the services we use, and the SAT's
answer is the authoritative one anyway. The protocol lives in
:mod:`cfdi_cobranza.sat.consulta`; this module asks it once (the PAC's caller decides
about retrying) and speaks the PAC adapters' language: ``SatStatus`` and ``PacError``.
"""

from __future__ import annotations

from cfdi_cobranza.errors import PacError, SatServiceError
from cfdi_cobranza.pac.base import (
    PAC_NO_DISPONIBLE,
    PAC_SIN_RESPUESTA,
    SatStatus,
    invalid_reply,
)
from cfdi_cobranza.pac.transport import HttpTransport
from cfdi_cobranza.sat import consulta as sat_consulta
from cfdi_cobranza.sat.readonly_http import SAT_NO_DISPONIBLE, SAT_SIN_RESPUESTA, ReadPolicy

URLS = sat_consulta.URLS
LABEL = "SAT (consulta de estado)"
_ONCE = ReadPolicy(attempts=1)


def consulta(
    transport: HttpTransport, url: str, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str
) -> SatStatus:
    try:
        answer = sat_consulta.consultar(transport, url, uuid, rfc_emisor, rfc_receptor, total, policy=_ONCE)
    except SatServiceError as exc:
        if exc.code == SAT_NO_DISPONIBLE:
            raise PacError("No se pudo conectar con el servicio de consulta del SAT",
                           code=PAC_NO_DISPONIBLE) from exc
        if exc.code == SAT_SIN_RESPUESTA:
            raise PacError("El servicio de consulta del SAT no respondió a tiempo",
                           code=PAC_SIN_RESPUESTA) from exc
        raise invalid_reply(LABEL, exc.message) from exc
    return SatStatus(
        estado=answer.estado,
        es_cancelable=answer.es_cancelable,
        estatus_cancelacion=answer.estatus_cancelacion,
        codigo_estatus=answer.codigo_estatus,
    )
