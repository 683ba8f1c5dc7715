"""Finkok adapter (SOAP): stamp, recover with ``stamped``, cancel, SAT status.

Wire protocol (Finkok's stamp and cancel web services, SOAP 1.1):

- ``/servicios/soap/stamp``: ``stamp(xml, username, password)`` with the signed CFDI in
  base64; the reply's ``stampResult`` holds ``xml`` (the stamped CFDI, as text),
  ``UUID``, ``Fecha``, ``CodEstatus``, ``NoCertificadoSAT`` and ``Incidencias``
  (``Incidencia/CodigoError`` + ``MensajeIncidencia``: the SAT/PAC error).
  ``stamped`` takes the same arguments and returns the CFDI Finkok already stamped for
  those exact bytes, or incidence ``603`` when there is none.
- ``/servicios/soap/cancel``: ``cancel_signature(xml, username, password, store_pending)``
  with a cancellation request signed by the issuer's CSD (built with satcfdi's
  ``Cancelacion``), and ``get_sat_status(username, password, taxpayer_id, rtaxpayer_id,
  uuid, total)``.

Why not satcfdi's ``Finkok`` client itself: it needs ``requests`` (not a dependency of
this project), has no timeout, cannot tell "not sent" from "sent, no answer", and
treats a 307 without data as an error instead of recovering. Its envelope shapes are
what we follow.

Exactly once: Finkok deduplicates by the CFDI's Sello (same bytes -> incidence 307), and
``stamped`` returns the earlier stamp. After an ambiguous failure the adapter polls
``stamped`` (Finkok may answer 603 for a few seconds right after a stamp) and only
sends ``stamp`` again when Finkok positively says it has no stamp for these bytes;
even then a duplicate is impossible because Finkok answers 307.
"""

from __future__ import annotations

import base64
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from html import unescape

from lxml import etree
from satcfdi.create.cancela import cancelacion
from satcfdi.models import Signer as SatcfdiSigner

from cfdi_cobranza.errors import PacError
from cfdi_cobranza.pac import soap
from cfdi_cobranza.pac.base import (
    PAC_CSD_REQUERIDO,
    PAC_NO_DISPONIBLE,
    PAC_SIN_RESPUESTA,
    CancelRequest,
    CancelResult,
    CancelStatus,
    SatStatus,
    StampRequest,
    StampResult,
    after_sending,
    invalid_reply,
    rejected,
    stamp_result_from_xml,
)
from cfdi_cobranza.pac.transport import (
    AmbiguousError,
    HttpResponse,
    HttpTransport,
    NotSentError,
)

log = logging.getLogger(__name__)

NS_STAMP = "http://facturacion.finkok.com/stamp"
NS_CANCEL = "http://facturacion.finkok.com/cancel"

HOSTS = {
    "test": "https://demo-facturacion.finkok.com",
    "production": "https://facturacion.finkok.com",
}

LABEL = "Finkok"
CODE_TIMBRE_PREVIO = "307"
CODE_SIN_TIMBRE_PREVIO = "603"
_OK_STATUS = "Comprobante timbrado satisfactoriamente"


class _Unreadable(Exception):
    """A reply we cannot interpret; becomes PAC_RESPUESTA_INVALIDA."""


@dataclass(frozen=True)
class _Incidence:
    code: str | None
    message: str


@dataclass(frozen=True)
class _StampReply:
    xml: bytes | None
    incidences: tuple[_Incidence, ...]

    def has(self, code: str) -> bool:
        return any(i.code == code for i in self.incidences)


class FinkokPac:
    """Finkok through its SOAP services; ``base_url`` overrides the environment's host."""

    name = "finkok"
    is_sandbox = False

    def __init__(
        self,
        username: str,
        password: str,
        *,
        environment: str = "test",
        base_url: str | None = None,
        transport: HttpTransport | None = None,
        recover_attempts: int = 5,
        recover_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        if environment not in HOSTS:
            raise ValueError(f"unknown Finkok environment {environment!r}")
        self._username = username
        self._password = password
        self.environment = environment
        self.base_url = (base_url or HOSTS[environment]).rstrip("/")
        self.transport = transport or HttpTransport()
        self.recover_attempts = recover_attempts
        self.recover_delay = recover_delay
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:  # never show the credentials
        return f"FinkokPac(environment={self.environment!r}, base_url={self.base_url!r})"

    # --- stamping -----------------------------------------------------------------

    def stamp(self, request: StampRequest) -> StampResult:
        log.info("finkok stamp key=%s", request.idempotency_key)
        try:
            reply = self._stamp_call("stamp", request)
        except (AmbiguousError, _Unreadable) as exc:
            log.warning("finkok stamp ambiguous (%s); recovering key=%s", exc, request.idempotency_key)
            with after_sending(partial(self._no_answer, exc)):
                return self._after_ambiguity(request, exc)
        return self._stamp_outcome(request, reply)

    def recover(self, request: StampRequest) -> StampResult | None:
        try:
            return self._poll_stamped(request)
        except (AmbiguousError, _Unreadable) as exc:
            raise self._no_answer(exc) from exc

    def _after_ambiguity(self, request: StampRequest, cause: Exception) -> StampResult:
        try:
            found = self._poll_stamped(request)
        except (AmbiguousError, _Unreadable) as exc:
            raise self._no_answer(cause) from exc
        if found is not None:
            return found
        # Finkok says it holds no stamp for these bytes: the first request never reached
        # it. Sending again cannot double-stamp: Finkok would answer 307.
        log.info("finkok has no stamp for key=%s; sending again", request.idempotency_key)
        try:
            reply = self._stamp_call("stamp", request)
        except (AmbiguousError, _Unreadable) as exc:
            raise self._no_answer(exc) from exc
        return self._stamp_outcome(request, reply)

    def _stamp_outcome(self, request: StampRequest, reply: _StampReply) -> StampResult:
        if reply.xml is not None:
            return self._result(reply.xml, already_stamped=reply.has(CODE_TIMBRE_PREVIO))
        if reply.has(CODE_TIMBRE_PREVIO):
            # Finkok documents that a 307 may come without the earlier CFDI: fetch it.
            try:
                found = self._poll_stamped(request)
            except (AmbiguousError, _Unreadable) as exc:
                raise self._no_answer(exc) from exc
            if found is not None:
                return found
        raise self._incidence_error(reply)

    def _poll_stamped(self, request: StampRequest) -> StampResult | None:
        """``stamped`` until it answers with the CFDI or the attempts run out (603)."""
        for attempt in range(1, max(1, self.recover_attempts) + 1):
            reply = self._stamp_call("stamped", request)
            if reply.xml is not None:
                return self._result(reply.xml, already_stamped=True)
            if not reply.has(CODE_SIN_TIMBRE_PREVIO):
                raise self._incidence_error(reply)
            if attempt < self.recover_attempts:
                # Right after a stamp Finkok may still answer 603 for a few seconds.
                self._sleep(self.recover_delay)
        return None

    def _stamp_call(self, operation: str, request: StampRequest) -> _StampReply:
        body = soap.envelope(
            NS_STAMP,
            operation,
            [
                ("xml", base64.b64encode(request.xml).decode("ascii")),
                ("username", self._username),
                ("password", self._password),
            ],
        )
        response = self._post("/servicios/soap/stamp", operation, body)
        payload = self._payload(response)
        return _read_stamp_reply(payload)

    def _result(self, xml: bytes, *, already_stamped: bool) -> StampResult:
        try:
            return stamp_result_from_xml(xml, already_stamped=already_stamped)
        except ValueError as exc:
            raise invalid_reply(LABEL, f"el CFDI timbrado no se puede leer: {exc}") from exc

    def _incidence_error(self, reply: _StampReply) -> PacError:
        if not reply.incidences:
            return invalid_reply(LABEL, "sin CFDI timbrado ni incidencias")
        first = reply.incidences[0]
        return rejected(
            LABEL,
            first.code,
            first.message,
            incidencias="; ".join(f"{i.code} {i.message}" for i in reply.incidences),
        )

    # --- cancelling and status --------------------------------------------------------

    def cancel(self, request: CancelRequest) -> CancelResult:
        if request.csd is None:
            raise PacError(
                "Finkok cancela con una solicitud firmada por el CSD del emisor: "
                "configure el certificado y la llave del emisor",
                code=PAC_CSD_REQUERIDO,
            )
        signed = _signed_cancellation(request, self._clock())
        body = soap.envelope(
            NS_CANCEL,
            "cancel_signature",
            [
                ("xml", base64.b64encode(signed).decode("ascii")),
                ("username", self._username),
                ("password", self._password),
                ("store_pending", "false"),
            ],
        )
        try:
            response = self._post("/servicios/soap/cancel", "cancel_signature", body)
            payload = self._payload(response)
        except (AmbiguousError, _Unreadable) as exc:
            # A repeated cancellation request is harmless (the SAT answers 202), so the
            # user can simply retry; we do not guess the outcome.
            raise self._no_answer(exc) from exc
        return _read_cancel_reply(payload, request.uuid)

    def status(self, uuid: str, rfc_emisor: str, rfc_receptor: str, total: str) -> SatStatus:
        body = soap.envelope(
            NS_CANCEL,
            "get_sat_status",
            [
                ("username", self._username),
                ("password", self._password),
                ("taxpayer_id", rfc_emisor),
                ("rtaxpayer_id", rfc_receptor),
                ("uuid", uuid),
                ("total", total),
            ],
        )
        try:
            payload = self._payload(self._post("/servicios/soap/cancel", "get_sat_status", body))
        except (AmbiguousError, _Unreadable) as exc:
            raise self._no_answer(exc) from exc
        error = soap.text(payload, "error")
        if error:
            raise rejected(LABEL, None, error)
        sat = soap.first(payload, "sat")
        estado = soap.text(sat, "Estado") if sat is not None else None
        if sat is None or not estado:
            raise invalid_reply(LABEL, "get_sat_status sin Estado")
        return SatStatus(
            estado=estado,
            es_cancelable=soap.text(sat, "EsCancelable"),
            estatus_cancelacion=soap.text(sat, "EstatusCancelacion"),
            codigo_estatus=soap.text(sat, "CodigoEstatus"),
        )

    # --- plumbing -----------------------------------------------------------------------

    def _post(self, path: str, operation: str, body: bytes) -> HttpResponse:
        try:
            return self.transport.request(
                "POST",
                self.base_url + path,
                body=body,
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": f'"{operation}"',
                },
            )
        except NotSentError as exc:
            raise PacError(
                f"No se pudo conectar con el PAC {LABEL}; la solicitud no se envió. "
                "Intente más tarde.",
                code=PAC_NO_DISPONIBLE,
                pac=LABEL,
            ) from exc

    def _payload(self, response: HttpResponse) -> etree._Element:
        try:
            return soap.parse_reply(response.body)
        except soap.SoapFault as fault:
            if response.status >= 500 and not fault.faultstring:
                raise AmbiguousError(f"HTTP {response.status}", timed_out=False) from fault
            # A SOAP fault is the service refusing the call (bad credentials, bad
            # arguments): nothing was stamped or cancelled.
            raise rejected(LABEL, None, fault.faultstring or fault.faultcode) from fault
        except ValueError as exc:
            if response.status >= 500:
                # A proxy's error page: the PAC behind it may have processed the call.
                raise AmbiguousError(f"HTTP {response.status}", timed_out=False) from exc
            raise _Unreadable(f"HTTP {response.status}: {exc}") from exc

    def _no_answer(self, cause: Exception) -> PacError:
        if isinstance(cause, _Unreadable):
            return invalid_reply(LABEL, str(cause))
        return PacError(
            f"El PAC {LABEL} no respondió a tiempo y no se pudo confirmar el resultado. "
            "Reintente más tarde: con la misma solicitud se recupera el CFDI si ya se timbró, "
            "sin timbrarlo dos veces.",
            code=PAC_SIN_RESPUESTA,
            pac=LABEL,
        )


def _read_stamp_reply(payload: etree._Element) -> _StampReply:
    incidences = tuple(
        _Incidence(
            code=soap.text(inc, "CodigoError"),
            message=soap.text(inc, "MensajeIncidencia") or "",
        )
        for inc in soap.iter_local(payload, "Incidencia")
    )
    xml_text = soap.text(payload, "xml")
    xml: bytes | None = None
    if xml_text:
        # Some Finkok releases double-escape the CFDI inside the element.
        if xml_text.startswith("&lt;"):
            xml_text = unescape(xml_text)
        xml = xml_text.encode("utf-8")
    if xml is None and not incidences:
        raise _Unreadable("stamp reply without xml and without Incidencias")
    status = soap.text(payload, "CodEstatus")
    if xml is not None and status and status != _OK_STATUS and not incidences:
        log.info("finkok CodEstatus: %s", status)
    return _StampReply(xml=xml, incidences=incidences)


_CANCEL_ACCEPTED = {"201", "202"}


def _read_cancel_reply(payload: etree._Element, uuid: str) -> CancelResult:
    acuse_text = soap.text(payload, "Acuse")
    acuse = unescape(acuse_text).encode("utf-8") if acuse_text else None
    folio = None
    for candidate in soap.iter_local(payload, "Folio"):
        if (soap.text(candidate, "UUID") or "").upper() == uuid.upper():
            folio = candidate
            break
    cod_estatus = soap.text(payload, "CodEstatus")
    if folio is None:
        if cod_estatus:
            code, _, message = cod_estatus.partition(" ")
            if code.isdigit():
                raise rejected(LABEL, code, message or cod_estatus)
            raise rejected(LABEL, None, cod_estatus)
        raise invalid_reply(LABEL, "cancel_signature sin Folio del UUID")
    estatus_uuid = soap.text(folio, "EstatusUUID") or ""
    estatus_cancelacion = soap.text(folio, "EstatusCancelacion") or ""
    if estatus_uuid == "no_cancelable":
        return CancelResult(
            status="rechazado",
            acuse=acuse,
            code="no_cancelable",
            message="El CFDI no es cancelable: tiene CFDI relacionados vigentes",
        )
    if estatus_uuid not in _CANCEL_ACCEPTED:
        raise rejected(LABEL, estatus_uuid or None, estatus_cancelacion or _SAT_CANCEL_CODES.get(
            estatus_uuid, "La solicitud de cancelación fue rechazada"
        ))
    return CancelResult(
        status=_cancel_status(estatus_cancelacion),
        acuse=acuse,
        code=estatus_uuid,
        message=estatus_cancelacion or None,
    )


def _cancel_status(estatus_cancelacion: str) -> CancelStatus:
    lowered = estatus_cancelacion.lower()
    if "proceso" in lowered:
        return "en_proceso"
    if "rechaz" in lowered:
        return "rechazado"
    return "cancelado"


_SAT_CANCEL_CODES = {
    "203": "No corresponde el RFC del emisor y de quien solicita la cancelación",
    "205": "UUID no encontrado",
    "207": "Motivo de cancelación inválido",
    "208": "La fecha de solicitud de cancelación es mayor a la fecha de declaración",
}


def _signed_cancellation(request: CancelRequest, fecha: datetime) -> bytes:
    """The SAT ``Cancelacion`` request, XMLDSig-signed with the issuer's CSD (satcfdi)."""
    assert request.csd is not None
    # satcfdi still calls pyOpenSSL APIs that warn as deprecated; the warnings are
    # satcfdi's to fix and must not turn a cancellation into an error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            signer = SatcfdiSigner.load(
                certificate=request.csd.cer, key=request.csd.key, password=request.csd.password
            )
        except Exception as exc:  # satcfdi raises several types for a wrong password/key
            raise PacError(
                "No se pudo cargar el CSD del emisor para firmar la cancelación "
                "(contraseña o archivos incorrectos)",
                code="CSD_PASSWORD",
            ) from exc
        if signer.rfc.upper() != request.rfc_emisor.upper():
            raise PacError(
                f"El CSD pertenece al RFC {signer.rfc}, no al emisor {request.rfc_emisor}",
                code="CSD_OTRO_RFC",
            )
        folio = cancelacion.Folio(
            uuid=request.uuid.upper(),
            motivo=request.motivo,
            folio_sustitucion=request.folio_sustitucion.upper() if request.folio_sustitucion else None,
        )
        element = cancelacion.Cancelacion(
            emisor=signer, folios=folio, fecha=fecha.replace(microsecond=0, tzinfo=None)
        )
        return bytes(element.xml_bytes(xml_declaration=True))
