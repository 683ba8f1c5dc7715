"""Client of the SAT's descarga masiva (bulk download of CFDI and metadata), version 1.5.

Four SOAP services, the request shapes of satcfdi's ``pacs/sat_templates`` (not its
``requests`` client: no timeouts there):

1. ``Autentica``: a WS-Security header (Timestamp signed with the e.firma, RSA-SHA1,
   exclusive c14n; the certificate as BinarySecurityToken) returns a token, sent
   afterwards as ``Authorization: WRAP access_token="…"`` (valid about 5 minutes).
2. ``SolicitaDescargaEmitidos``: the ``solicitud`` (RfcEmisor, RfcSolicitante,
   FechaInicial/Final, TipoSolicitud CFDI or Metadata) with an enveloped XML-DSig
   signature (inclusive c14n, RSA-SHA1, X509 certificate) returns ``IdSolicitud``.
3. ``VerificaSolicitudDescarga``: EstadoSolicitud (1 aceptada, 2 en proceso,
   3 terminada, 4 error, 5 rechazada, 6 vencida) and the package ids.
4. ``Descargar``: the package as base64 in ``<Paquete>``, status in the SOAP header
   ``respuesta``. The answer is streamed to a file and decoded to a ZIP on disk, so a
   package of 200,000 CFDI never sits in memory.

Every failure reaches the user as :class:`SatDescargaError`: a Spanish explanation and
the SAT's own code (``sat_code`` in ``details``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import pyexpat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from lxml import etree

from cfdi_cobranza.errors import CobranzaError
from cfdi_cobranza.pac.soap import SoapFault, first, parse_reply
from cfdi_cobranza.sat.descarga_http import Answer, HttpFailure, Retry, SoapHttp, Timeouts
from cfdi_cobranza.signing.csd import Certificate, Signer

NS_S = "http://schemas.xmlsoap.org/soap/envelope/"
NS_O = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_U = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_AUTH = "http://DescargaMasivaTerceros.gob.mx"
NS_DES = "http://DescargaMasivaTerceros.sat.gob.mx"
X509_TOKEN = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_ENC = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# Default-namespace maps as the SAT's templates write them (<Signature xmlns="…xmldsig#">).
_DS_DEFAULT: Any = {None: NS_DS}
_AUTH_DEFAULT: Any = {None: NS_AUTH}

ACTION_AUTH = "http://DescargaMasivaTerceros.gob.mx/IAutenticacion/Autentica"
ACTION_EMITIDOS = "http://DescargaMasivaTerceros.sat.gob.mx/ISolicitaDescargaService/SolicitaDescargaEmitidos"
ACTION_VERIFICA = "http://DescargaMasivaTerceros.sat.gob.mx/IVerificaSolicitudDescargaService/VerificaSolicitudDescarga"
ACTION_DESCARGA = "http://DescargaMasivaTerceros.sat.gob.mx/IDescargaMasivaTercerosService/Descargar"

# EstadoSolicitud
ACEPTADA, EN_PROCESO, TERMINADA, ERROR, RECHAZADA, VENCIDA = 1, 2, 3, 4, 5, 6

# The SAT's codes (documentation of the service, v1.5) -> our code and the explanation.
SAT_CODES: dict[str, tuple[str, str]] = {
    "300": ("SAT_USUARIO_INVALIDO", "El SAT no reconoce al usuario: revise que la e.firma sea la de la empresa."),
    "301": ("SAT_XML_MAL_FORMADO", "El SAT rechazó la petición por XML mal formado."),
    "302": ("SAT_SELLO_MAL_FORMADO", "El SAT rechazó la firma de la petición (sello mal formado)."),
    "303": ("SAT_SELLO_NO_CORRESPONDE", "La firma no corresponde con el RFC solicitante: la e.firma es de otro RFC."),
    "304": ("SAT_CERTIFICADO_REVOCADO", "El SAT indica que la e.firma está revocada o caducada; renuévela."),
    "305": ("SAT_CERTIFICADO_INVALIDO", "El SAT no acepta el certificado: use la e.firma (no el CSD)."),
    "404": ("SAT_ERROR_NO_CONTROLADO", "Error no controlado del SAT; vuelva a intentar más tarde."),
    "5002": ("SAT_LIMITE_DE_POR_VIDA", "Se agotaron las solicitudes de por vida para este mismo rango de fechas "
             "(el SAT limita las solicitudes con los mismos parámetros); pida un rango distinto."),
    "5003": ("SAT_TOPE_MAXIMO", "El rango excede el tope de documentos por solicitud del SAT; se divide el rango."),
    "5004": ("SAT_SIN_INFORMACION", "El SAT no encontró comprobantes en el rango."),
    "5005": ("SAT_SOLICITUD_DUPLICADA", "Ya existe una solicitud vigente con los mismos parámetros en el SAT "
             "(hecha fuera de este sistema o perdida); espere a que venza (72 horas) o pida otro rango."),
    "5006": ("SAT_ERROR_INTERNO", "Error interno del SAT al procesar la solicitud; vuelva a intentar más tarde."),
    "5007": ("SAT_PAQUETE_NO_DISPONIBLE", "El paquete ya no está disponible en el SAT (vencido o inexistente); "
             "se pedirá de nuevo el rango."),
    "5008": ("SAT_DESCARGAS_AGOTADAS", "Se alcanzó el máximo de descargas permitidas de este paquete."),
    "5011": ("SAT_LIMITE_DIARIO", "Se alcanzó el límite diario de descargas del SAT; vuelva a intentar mañana."),
}


class SatDescargaError(CobranzaError):
    """The descarga masiva failed; ``details['sat_code']`` is the SAT's code when it gave one."""

    code = "SAT_ERROR"


def sat_error(cod: str | None, mensaje: str | None, *, operation: str) -> SatDescargaError:
    code, text = SAT_CODES.get(cod or "", ("SAT_ERROR", f"El SAT respondió con un error en {operation}."))
    sat = f" (código del SAT {cod}: «{mensaje or ''}»)" if cod else ""
    return SatDescargaError(text + sat, code=code, sat_code=cod or "", sat_message=mensaje or "")


@dataclass(frozen=True)
class DescargaUrls:
    autenticacion: str
    solicitud: str
    verificacion: str
    descarga: str

    @classmethod
    def production(cls) -> DescargaUrls:
        return cls.under("https://cfdidescargamasivasolicitud.clouda.sat.gob.mx",
                         "https://cfdidescargamasiva.clouda.sat.gob.mx")

    @classmethod
    def under(cls, base: str, descarga_base: str | None = None) -> DescargaUrls:
        """The services under ``base`` (the SAT's paths; a loopback fake serves the same)."""
        base = base.rstrip("/")
        return cls(f"{base}/Autenticacion/Autenticacion.svc", f"{base}/SolicitaDescargaService.svc",
                   f"{base}/VerificaSolicitudDescargaService.svc",
                   f"{(descarga_base or base).rstrip('/')}/DescargaMasivaService.svc")


@dataclass(frozen=True)
class Solicitud:
    id_solicitud: str | None
    cod_estatus: str
    mensaje: str


@dataclass(frozen=True)
class Verificacion:
    estado: int
    cod_estatus: str
    codigo_estado: str | None
    numero_cfdis: int
    mensaje: str
    paquetes: tuple[str, ...] = field(default_factory=tuple)


def _c14n(el: etree._Element, *, exclusive: bool) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=exclusive)


def _digest(el: etree._Element, *, exclusive: bool) -> str:
    return base64.b64encode(hashlib.sha1(_c14n(el, exclusive=exclusive)).digest()).decode("ascii")


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{name}", attrs)
    if text is not None:
        el.text = text
    return el


def _issuer_name(cert: Certificate) -> str:
    return cert.cert.issuer.rfc4514_string()


class DescargaMasiva:
    """One company's session with the descarga masiva: token cached until it expires."""

    def __init__(self, certificate: Certificate, signer: Signer, *, urls: DescargaUrls | None = None,
                 timeouts: Timeouts | None = None, retry: Retry | None = None,
                 sleep: Callable[[float], None] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.certificate = certificate
        self.signer = signer
        self.rfc = certificate.rfc
        self.urls = urls or DescargaUrls.production()
        self.http = SoapHttp(timeouts=timeouts, retry=retry, sleep=sleep or time.sleep)
        self._now = now
        self._token: tuple[str, datetime] | None = None

    # --- the four operations --------------------------------------------------------

    def autenticar(self) -> str:
        """A token for the next calls; a new one only when the cached one is about to expire."""
        now = self._now()
        if self._token is not None and self._token[1] > now + timedelta(seconds=30):
            return self._token[0]
        created = now.replace(tzinfo=None)
        expires = created + timedelta(minutes=5)
        payload = self._auth_envelope(created, expires)
        root = self._call(self.urls.autenticacion, payload, ACTION_AUTH, token=None, operation="la autenticación")
        result = first(root, "AutenticaResult")
        token = (result.text or "").strip() if result is not None else ""
        if not token:
            raise SatDescargaError("El SAT no devolvió el token de autenticación.", code="SAT_RESPUESTA_INVALIDA")
        self._token = (token, now + timedelta(minutes=5))
        return self._token[0]

    def solicitar(self, kind: str, desde: date, hasta: date) -> Solicitud:
        """Ask for the company's issued CFDI (``kind`` CFDI) or their metadata (``Metadata``)."""
        attrs = {"RfcEmisor": self.rfc, "RfcSolicitante": self.rfc, "TipoSolicitud": kind,
                 "FechaInicial": f"{desde.isoformat()}T00:00:00", "FechaFinal": f"{hasta.isoformat()}T23:59:59"}
        if kind == "CFDI":
            attrs["EstadoComprobante"] = "Vigente"  # the SAT gives the XML of current CFDI only
        payload = self._signed_envelope("SolicitaDescargaEmitidos", attrs)
        token = self.autenticar()
        root = self._call(self.urls.solicitud, payload, ACTION_EMITIDOS, token=token, operation="la solicitud",
                          idempotent=False)
        result = first(root, "SolicitaDescargaEmitidosResult")
        if result is None:
            raise SatDescargaError("La respuesta del SAT a la solicitud no tiene resultado.", code="SAT_RESPUESTA_INVALIDA")
        return Solicitud(result.get("IdSolicitud") or None, result.get("CodEstatus") or "", result.get("Mensaje") or "")

    def verificar(self, id_solicitud: str) -> Verificacion:
        payload = self._signed_envelope("VerificaSolicitudDescarga",
                                        {"IdSolicitud": id_solicitud, "RfcSolicitante": self.rfc})
        token = self.autenticar()
        root = self._call(self.urls.verificacion, payload, ACTION_VERIFICA, token=token, operation="la verificación")
        res = first(root, "VerificaSolicitudDescargaResult")
        if res is None:
            raise SatDescargaError("La respuesta del SAT a la verificación no tiene resultado.",
                                   code="SAT_RESPUESTA_INVALIDA")
        try:
            estado = int(res.get("EstadoSolicitud") or "0")
            numero = int(res.get("NumeroCFDIs") or "0")
        except ValueError as exc:
            raise SatDescargaError("La respuesta del SAT a la verificación no se puede leer.",
                                   code="SAT_RESPUESTA_INVALIDA") from exc
        paquetes = tuple((p.text or "").strip() for p in res if isinstance(p.tag, str)
                         and etree.QName(p).localname == "IdsPaquetes" and (p.text or "").strip())
        return Verificacion(estado, res.get("CodEstatus") or "", res.get("CodigoEstadoSolicitud"), numero,
                            res.get("Mensaje") or "", paquetes)

    def descargar(self, package_id: str, dest: Path) -> None:
        """Write the package (a ZIP) to ``dest``, streamed; raises SatDescargaError with the SAT's code."""
        payload = self._signed_envelope("PeticionDescargaMasivaTercerosEntrada",
                                        {"IdPaquete": package_id, "RfcSolicitante": self.rfc},
                                        child="peticionDescarga")
        token = self.autenticar()
        answer = self._post(self.urls.descarga, payload, ACTION_DESCARGA, token, "la descarga del paquete")
        try:
            with dest.open("wb") as out:
                header = decode_package(answer.body, out)
        except ValueError as exc:
            dest.unlink(missing_ok=True)
            if answer.status >= 500:
                raise SatDescargaError(f"El servicio del SAT falló (HTTP {answer.status}) en la descarga del paquete "
                                       f"{package_id}; intente más tarde.", code="SAT_NO_DISPONIBLE",
                                       http_status=answer.status) from exc
            raise SatDescargaError(f"La respuesta del SAT a la descarga del paquete {package_id} no se puede leer.",
                                   code="SAT_RESPUESTA_INVALIDA") from exc
        except SoapFault as exc:
            dest.unlink(missing_ok=True)
            raise _fault_error(exc, "la descarga del paquete") from exc
        finally:
            answer.body.close()
        cod = header.get("CodEstatus")
        if cod != "5000" or not header.get("_paquete"):
            dest.unlink(missing_ok=True)
            if cod == "5000":
                raise SatDescargaError(f"El SAT no envió el contenido del paquete {package_id}.",
                                       code="SAT_RESPUESTA_INVALIDA")
            raise sat_error(cod, header.get("Mensaje"), operation="la descarga del paquete")
        if answer.status >= 400:
            dest.unlink(missing_ok=True)
            raise SatDescargaError(f"El SAT respondió HTTP {answer.status} a la descarga.", code="SAT_NO_DISPONIBLE")

    # --- envelopes -------------------------------------------------------------------

    def _auth_envelope(self, created: datetime, expires: datetime) -> bytes:
        env = etree.Element(f"{{{NS_S}}}Envelope", nsmap={"s": NS_S, "o": NS_O, "u": NS_U})
        header = _sub(env, NS_S, "Header")
        security = _sub(header, NS_O, "Security", **{f"{{{NS_S}}}mustUnderstand": "1"})
        ts = _sub(security, NS_U, "Timestamp", **{f"{{{NS_U}}}Id": "_0"})
        _sub(ts, NS_U, "Created", created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        _sub(ts, NS_U, "Expires", expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        _sub(security, NS_O, "BinarySecurityToken", self.certificate.certificado_b64,
             **{f"{{{NS_U}}}Id": "BinarySecurityToken", "ValueType": X509_TOKEN, "EncodingType": BASE64_ENC})
        sig = etree.SubElement(security, f"{{{NS_DS}}}Signature", nsmap=_DS_DEFAULT)
        info = _sub(sig, NS_DS, "SignedInfo")
        _sub(info, NS_DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
        _sub(info, NS_DS, "SignatureMethod", Algorithm=RSA_SHA1)
        ref = _sub(info, NS_DS, "Reference", URI="#_0")
        _sub(_sub(ref, NS_DS, "Transforms"), NS_DS, "Transform", Algorithm=EXC_C14N)
        _sub(ref, NS_DS, "DigestMethod", Algorithm=SHA1)
        _sub(ref, NS_DS, "DigestValue", _digest(ts, exclusive=True))
        _sub(sig, NS_DS, "SignatureValue", self.signer.sign_bytes(_c14n(info, exclusive=True), "sha1"))
        str_ = _sub(_sub(sig, NS_DS, "KeyInfo"), NS_O, "SecurityTokenReference")
        _sub(str_, NS_O, "Reference", ValueType=X509_TOKEN, URI="#BinarySecurityToken")
        body = _sub(env, NS_S, "Body")
        etree.SubElement(body, f"{{{NS_AUTH}}}Autentica", nsmap=_AUTH_DEFAULT)
        return etree.tostring(env, xml_declaration=False, encoding="UTF-8")

    def _signed_envelope(self, operation: str, attrs: dict[str, str], *, child: str = "solicitud") -> bytes:
        """``<des:operation><des:child attrs…><Signature/></des:child></des:operation>`` signed (enveloped)."""
        env = etree.Element(f"{{{NS_S}}}Envelope", nsmap={"s": NS_S, "des": NS_DES})
        _sub(env, NS_S, "Header")
        body = _sub(env, NS_S, "Body")
        op = _sub(body, NS_DES, operation)
        sol = _sub(op, NS_DES, child, **attrs)
        digest = _digest(op, exclusive=False)  # before the Signature: the enveloped-signature transform
        sig = etree.SubElement(sol, f"{{{NS_DS}}}Signature", nsmap=_DS_DEFAULT)
        info = _sub(sig, NS_DS, "SignedInfo")
        _sub(info, NS_DS, "CanonicalizationMethod", Algorithm=C14N)
        _sub(info, NS_DS, "SignatureMethod", Algorithm=RSA_SHA1)
        ref = _sub(info, NS_DS, "Reference", URI="")
        _sub(_sub(ref, NS_DS, "Transforms"), NS_DS, "Transform", Algorithm=ENVELOPED)
        _sub(ref, NS_DS, "DigestMethod", Algorithm=SHA1)
        _sub(ref, NS_DS, "DigestValue", digest)
        _sub(sig, NS_DS, "SignatureValue", self.signer.sign_bytes(_c14n(info, exclusive=False), "sha1"))
        x509 = _sub(_sub(sig, NS_DS, "KeyInfo"), NS_DS, "X509Data")
        serial = _sub(x509, NS_DS, "X509IssuerSerial")
        _sub(serial, NS_DS, "X509IssuerName", _issuer_name(self.certificate))
        _sub(serial, NS_DS, "X509SerialNumber", str(self.certificate.cert.serial_number))
        _sub(x509, NS_DS, "X509Certificate", self.certificate.certificado_b64)
        return etree.tostring(env, xml_declaration=False, encoding="UTF-8")

    # --- transport -------------------------------------------------------------------

    def _post(self, url: str, payload: bytes, action: str, token: str | None, operation: str,
              *, idempotent: bool = True) -> Answer:
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "Accept": "text/xml", "SOAPAction": action}
        if token is not None:
            headers["Authorization"] = f'WRAP access_token="{token}"'
        try:
            return self.http.post(url, payload, headers, idempotent=idempotent)
        except HttpFailure as exc:
            if exc.kind == "no_conecta":
                raise SatDescargaError(f"No se pudo conectar con el servicio de descarga masiva del SAT "
                                       f"({operation}); intente más tarde.", code="SAT_NO_DISPONIBLE") from exc
            raise SatDescargaError(f"El SAT no respondió a tiempo ({operation}); intente más tarde. "
                                   "Lo ya descargado se conserva.", code="SAT_SIN_RESPUESTA") from exc

    def _call(self, url: str, payload: bytes, action: str, *, token: str | None, operation: str,
              idempotent: bool = True) -> etree._Element:
        answer = self._post(url, payload, action, token, operation, idempotent=idempotent)
        try:
            data = answer.read_all()
        finally:
            answer.body.close()
        try:
            root = parse_reply(data)
        except SoapFault as exc:
            raise _fault_error(exc, operation) from exc
        except ValueError as exc:
            if answer.status >= 500:
                raise SatDescargaError(f"El servicio del SAT falló (HTTP {answer.status}) en {operation}; "
                                       "intente más tarde.", code="SAT_NO_DISPONIBLE", http_status=answer.status) from exc
            raise SatDescargaError(f"La respuesta del SAT a {operation} no se puede leer.",
                                   code="SAT_RESPUESTA_INVALIDA") from exc
        if answer.status >= 400:
            raise SatDescargaError(f"El SAT respondió HTTP {answer.status} en {operation}.", code="SAT_NO_DISPONIBLE",
                                   http_status=answer.status)
        return root


def _fault_error(exc: SoapFault, operation: str) -> SatDescargaError:
    code = exc.faultcode.split(":")[-1]
    if code in ("InvalidSecurity", "FailedAuthentication", "InvalidSecurityToken"):
        return SatDescargaError(
            f"El SAT rechazó la autenticación con la e.firma en {operation} ({exc.faultcode}: {exc.faultstring}). "
            "Revise que la e.firma registrada esté vigente y sea la de la empresa.",
            code="SAT_AUTENTICACION_RECHAZADA", sat_code=code, sat_message=exc.faultstring)
    return SatDescargaError(f"El SAT respondió con una falla en {operation} ({exc.faultcode}: {exc.faultstring}).",
                            code="SAT_FALLA", sat_code=code, sat_message=exc.faultstring)


# --- the package, streamed ----------------------------------------------------------------


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def decode_package(src: IO[bytes], out: IO[bytes], *, chunk: int = 64 * 1024) -> dict[str, str]:
    """Stream a ``Descargar`` answer: the ``<Paquete>`` base64 decoded into ``out``.

    Returns the attributes of the SOAP header ``respuesta`` (CodEstatus, Mensaje) and
    ``_paquete`` ("1" when a package was written). Raises SoapFault for a Fault, and
    ValueError for anything not XML, a DOCTYPE (no entities from a reply), or bad base64.
    Memory stays at one chunk whatever the package size.
    """
    state: dict[str, str] = {}
    stack: list[str] = []
    pending = bytearray()
    fault: dict[str, str] = {}
    in_paquete = False
    wrote = False

    def flush(final: bool) -> None:
        nonlocal wrote
        usable = len(pending) if final else len(pending) - len(pending) % 4
        if usable:
            try:
                out.write(base64.b64decode(bytes(pending[:usable]), validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError("bad base64 in Paquete") from exc
            wrote = True
            del pending[:usable]

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal in_paquete
        local = _local(name)
        stack.append(local)
        if local == "respuesta":
            state.update({_local(k): v for k, v in attrs.items()})
        elif local == "Paquete":
            in_paquete = True

    def end(name: str) -> None:
        nonlocal in_paquete
        local = stack.pop()
        if local == "Paquete":
            flush(final=True)
            in_paquete = False

    def chars(data: str) -> None:
        if in_paquete:
            pending.extend(b"".join(data.encode("ascii", "replace").split()))
            if len(pending) >= chunk:
                flush(final=False)
        elif stack and stack[-1] in ("faultcode", "faultstring"):
            fault[stack[-1]] = fault.get(stack[-1], "") + data

    def no_doctype(*_args: object) -> None:
        raise ValueError("DOCTYPE in SOAP reply")

    parser = pyexpat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    try:
        while True:
            block = src.read(chunk)
            if not block:
                parser.Parse(b"", True)
                break
            parser.Parse(block, False)
    except pyexpat.ExpatError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    if fault:
        raise SoapFault(fault.get("faultcode", "").strip(), fault.get("faultstring", "").strip())
    if "CodEstatus" not in state:
        raise ValueError("no respuesta header")
    if wrote:
        state["_paquete"] = "1"
    return state


__all__ = ["DescargaMasiva", "DescargaUrls", "SatDescargaError", "Solicitud", "Verificacion", "decode_package",
           "sat_error"]
