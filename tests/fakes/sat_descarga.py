"""A fake SAT descarga masiva (v1.5) on loopback: the four SOAP services, the real checks.

- ``Autentica``: the WS-Security Timestamp digest (exclusive c14n, SHA-1) and the RSA-SHA1
  signature are checked with the BinarySecurityToken's certificate, which must be one of
  ``certificates`` (the requesters the fake knows) and must not be expired by the
  Timestamp; otherwise HTTP 500 with the WCF fault ``a:InvalidSecurity``, as the SAT does.
- The other three need ``Authorization: WRAP access_token="…"`` with a token the fake
  issued (else CodEstatus 300), and an enveloped XML-DSig signature (inclusive c14n,
  SHA-1) by the same certificate (else 302), whose RFC is RfcSolicitante (else 303).
- ``SolicitaDescargaEmitidos``: 5005 for a second live request with the same parameters,
  ``solicitud_codes`` forces the next answers (5002, 5011…).
- ``VerificaSolicitudDescarga``: ``polls_before_ready`` answers EstadoSolicitud 2 first,
  then 3 with the packages (``package_size`` CFDI each) or 5004 when there is nothing,
  or 5 with 5003 when the range holds more than ``tope``. ``expire`` makes a request 6.
- ``Descargar``: the ZIP as base64 in ``Paquete``, CodEstatus in the header ``respuesta``;
  5007 for an unknown package, 5008 after ``max_downloads``. ``package_faults`` makes a
  package answer a bare HTTP 500 (``"500"``), hang (``"hang"``), or garbage (``"malformed"``).

Response shapes follow the SAT's documentation and satcfdi's recorded answers
(``tests/pac_sat_responses``); no code is copied.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid as uuidlib
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from cfdi_cobranza.signing.csd import Certificate

from .server import FakePac, Reply

NS_S = "http://schemas.xmlsoap.org/soap/envelope/"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_DES = "http://DescargaMasivaTerceros.sat.gob.mx"
NS_AUTH = "http://DescargaMasivaTerceros.gob.mx"
NS_U = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

META_HEADER = ("Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
               "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion")


@dataclass
class FakeCfdi:
    fecha: date
    uuid: str
    xml: bytes
    rfc_receptor: str = "XAXX010101000"
    estatus: str = "1"  # 1 vigente, 0 cancelado
    fecha_cancelacion: str = ""  # "2026-03-02 10:11:12" as the SAT writes it


@dataclass
class FakeRequest:
    id: str
    rfc: str
    kind: str
    desde: str
    hasta: str
    polls: int = 0
    expired: bool = False
    packages: list[str] = field(default_factory=list)


def _b64_sha1(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def _envelope(body_xml: str, header_xml: str = "") -> bytes:
    return (f'<s:Envelope xmlns:s="{NS_S}"><s:Header>{header_xml}</s:Header>'
            f'<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body_xml}</s:Body></s:Envelope>').encode()


def _fault(code: str, text: str) -> Reply:
    body = (f'<s:Envelope xmlns:s="{NS_S}"><s:Body><s:Fault><faultcode xmlns:a="http://docs.oasis-open.org/wss/'
            f'2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">{code}</faultcode>'
            f'<faultstring xml:lang="en-US">{text}</faultstring></s:Fault></s:Body></s:Envelope>').encode()
    return Reply(500, body, operation="fault")


@dataclass
class SatDescargaFake(FakePac):
    certificates: list[Certificate] = field(default_factory=list)
    cfdi: list[FakeCfdi] = field(default_factory=list)
    package_size: int = 1000
    tope: int = 200_000
    polls_before_ready: int = 0
    max_downloads: int = 2
    solicitud_codes: list[str] = field(default_factory=list)
    package_faults: dict[str, str] = field(default_factory=dict)
    bare_500_times: int = 0  # the next N requests (any operation) get a bare HTTP 500
    now: datetime | None = None  # the fake's clock (UTC); None: the real one
    tokens: dict[str, Certificate] = field(default_factory=dict)
    requests_made: dict[str, FakeRequest] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _zips: dict[str, bytes] = field(default_factory=dict)
    zip_cache: dict[tuple[str, str, str], bytes] = field(default_factory=dict)  # (kind, desde, hasta): prebuilt (bench)

    def _now(self) -> datetime:
        return self.now or datetime.now(UTC)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.bare_500_times > 0:
            self.bare_500_times -= 1
            self.calls.append("500")
            return Reply(500, b"<html><body>500 - Internal server error.</body></html>", content_type="text/html")
        try:
            env = etree.fromstring(body)
        except etree.XMLSyntaxError:
            return _fault("a:DeserializationFailed", "The formatter threw an exception")
        if path.endswith("/Autenticacion/Autenticacion.svc"):
            self.calls.append("autentica")
            return self._autentica(env)
        token = headers.get("authorization", "")
        prefix = 'WRAP access_token="'
        cert = self.tokens.get(token[len(prefix):-1]) if token.startswith(prefix) and token.endswith('"') else None
        soap_body = env.find(f"{{{NS_S}}}Body")
        op = soap_body[0] if soap_body is not None and len(soap_body) else None
        if op is None:
            return _fault("a:DeserializationFailed", "Empty body")
        name = etree.QName(op).localname
        self.calls.append(name)
        result = {"SolicitaDescargaEmitidos": "SolicitaDescargaEmitidosResult",
                  "VerificaSolicitudDescarga": "VerificaSolicitudDescargaResult"}.get(name)
        sol = op[0] if len(op) else None
        if cert is None:
            return self._coded(name, result, "300", "Usuario No Válido")
        if sol is None:
            return self._coded(name, result, "301", "XML Mal Formado")
        problem = self._check_signature(op, sol, cert)
        if problem is not None:
            return self._coded(name, result, *problem)
        if name == "SolicitaDescargaEmitidos":
            return self._solicita(sol, cert)
        if name == "VerificaSolicitudDescarga":
            return self._verifica(sol)
        if name == "PeticionDescargaMasivaTercerosEntrada":
            return self._descarga(sol)
        return _fault("a:ActionNotSupported", f"Unknown operation {name}")

    # --- checks -----------------------------------------------------------------------

    def _autentica(self, env: etree._Element) -> Reply:
        sec = env.find(f"{{{NS_S}}}Header/{{*}}Security")
        invalid = _fault("a:InvalidSecurity", "An error occurred when verifying security for the message.")
        if sec is None:
            return invalid
        ts = sec.find(f"{{{NS_U}}}Timestamp")
        bst = sec.find("{*}BinarySecurityToken")
        sig = sec.find(f"{{{NS_DS}}}Signature")
        if ts is None or bst is None or sig is None:
            return invalid
        try:
            cert = Certificate.from_base64(bst.text or "")
        except Exception:
            return invalid
        info = sig.find(f"{{{NS_DS}}}SignedInfo")
        digest = sig.findtext(f".//{{{NS_DS}}}DigestValue")
        value = sig.findtext(f"{{{NS_DS}}}SignatureValue") or ""
        if info is None or digest != _b64_sha1(etree.tostring(ts, method="c14n", exclusive=True)):
            return invalid
        if not self._verify(cert, etree.tostring(info, method="c14n", exclusive=True), value):
            return invalid
        if not any(c.der == cert.der for c in self.certificates):
            return invalid
        now = self._now()
        if cert.valid_to < now:
            return invalid
        expires = ts.findtext(f"{{{NS_U}}}Expires") or ""
        try:
            if datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) < now:
                return invalid
        except ValueError:
            return invalid
        token = base64.b64encode(uuidlib.uuid4().bytes * 2).decode()
        self.tokens[token] = cert
        created = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        until = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        header = (f'<o:Security s:mustUnderstand="1" xmlns:o="http://docs.oasis-open.org/wss/2004/01/'
                  f'oasis-200401-wss-wssecurity-secext-1.0.xsd"><u:Timestamp u:Id="_0" xmlns:u="{NS_U}">'
                  f"<u:Created>{created}</u:Created><u:Expires>{until}</u:Expires></u:Timestamp></o:Security>")
        body = f'<AutenticaResponse xmlns="{NS_AUTH}"><AutenticaResult>{token}</AutenticaResult></AutenticaResponse>'
        return Reply(200, _envelope(body, header), operation="autentica")

    @staticmethod
    def _verify(cert: Certificate, data: bytes, value_b64: str) -> bool:
        try:
            cert.public_key.verify(base64.b64decode(value_b64), data, padding.PKCS1v15(), hashes.SHA1())
        except (InvalidSignature, ValueError):
            return False
        return True

    def _check_signature(self, op: etree._Element, sol: etree._Element, cert: Certificate) -> tuple[str, str] | None:
        sig = sol.find(f"{{{NS_DS}}}Signature")
        if sig is None:
            return "302", "Sello Mal Formado"
        info = sig.find(f"{{{NS_DS}}}SignedInfo")
        x509 = sig.findtext(f".//{{{NS_DS}}}X509Certificate") or ""
        if info is None or "".join(x509.split()) != cert.certificado_b64:
            return "302", "Sello Mal Formado"
        exclusive = info.find(f"{{{NS_DS}}}CanonicalizationMethod").get("Algorithm", "").endswith("exc-c14n#")
        signed_info = etree.tostring(info, method="c14n", exclusive=exclusive)
        value = sig.findtext(f"{{{NS_DS}}}SignatureValue") or ""
        digest = sig.findtext(f".//{{{NS_DS}}}DigestValue")
        sol.remove(sig)  # the enveloped-signature transform
        try:
            ok_digest = digest == _b64_sha1(etree.tostring(op, method="c14n", exclusive=exclusive))
        finally:
            sol.append(sig)
        if not ok_digest or not self._verify(cert, signed_info, value):
            return "302", "Sello Mal Formado"
        if (sol.get("RfcSolicitante") or "") != cert.rfc:
            return "303", "Sello no corresponde con RfcSolicitante"
        return None

    def _coded(self, name: str, result: str | None, cod: str, mensaje: str) -> Reply:
        if result is None:  # Descargar: the status goes in the header
            return self._package_reply(cod, mensaje, None)
        extra = ' EstadoSolicitud="0" NumeroCFDIs="0"' if name == "VerificaSolicitudDescarga" else ""
        body = (f'<{name}Response xmlns="{NS_DES}"><{result} CodEstatus="{cod}" Mensaje="{mensaje}"{extra}/>'
                f"</{name}Response>")
        return Reply(200, _envelope(body), operation=name)

    # --- operations -------------------------------------------------------------------

    def _solicita(self, sol: etree._Element, cert: Certificate) -> Reply:
        name, result = "SolicitaDescargaEmitidos", "SolicitaDescargaEmitidosResult"
        if self.solicitud_codes:
            cod = self.solicitud_codes.pop(0)
            return self._coded(name, result, cod, {"5002": "Se agotó las solicitudes de por vida",
                                                   "5005": "Solicitud duplicada"}.get(cod, "Error"))
        if sol.get("RfcEmisor") != cert.rfc:
            return self._coded(name, result, "300", "Usuario No Válido")
        kind = sol.get("TipoSolicitud") or ""
        if kind not in ("CFDI", "Metadata"):
            return self._coded(name, result, "301", "XML Mal Formado")
        if kind == "CFDI" and sol.get("EstadoComprobante") not in ("Vigente", "1"):
            return self._coded(name, result, "301", "XML Mal Formado")
        desde, hasta = (sol.get("FechaInicial") or ""), (sol.get("FechaFinal") or "")
        for req in self.requests_made.values():
            if (req.rfc, req.kind, req.desde, req.hasta) == (cert.rfc, kind, desde, hasta) and not req.expired:
                return self._coded(name, result, "5005", "Solicitud duplicada")
        req = FakeRequest(str(uuidlib.uuid4()), cert.rfc, kind, desde, hasta)
        self.requests_made[req.id] = req
        body = (f'<{name}Response xmlns="{NS_DES}"><{result} IdSolicitud="{req.id}" CodEstatus="5000" '
                f'Mensaje="Solicitud Aceptada"/></{name}Response>')
        return Reply(200, _envelope(body), operation=name)

    def _in_range(self, req: FakeRequest) -> list[FakeCfdi]:
        desde = date.fromisoformat(req.desde[:10])
        hasta = date.fromisoformat(req.hasta[:10])
        return [c for c in self.cfdi if desde <= c.fecha <= hasta and (req.kind == "Metadata" or c.estatus == "1")]

    def _verifica(self, sol: etree._Element) -> Reply:
        name = "VerificaSolicitudDescarga"
        req = self.requests_made.get(sol.get("IdSolicitud") or "")
        if req is None:
            return self._verify_reply("5000", 5, "5004", 0, "Solicitud Aceptada", [])
        if req.expired:
            return self._verify_reply("5000", 6, "5000", 0, "Solicitud vencida", [])
        req.polls += 1
        if req.polls <= self.polls_before_ready:
            return self._verify_reply("5000", 2, "5000", 0, "Solicitud Aceptada", [])
        docs = self._in_range(req)
        if len(docs) > self.tope:
            return self._verify_reply("5000", 5, "5003", 0, "Tope máximo", [])
        if not docs:
            return self._verify_reply("5000", 3, "5004", 0, "No se encontró la información", [])
        if not req.packages:
            size = self.package_size if req.kind == "CFDI" else 1_000_000
            for n, start in enumerate(range(0, len(docs), size), start=1):
                pid = f"{req.id.upper()}_{n:02d}"
                cached = self.zip_cache.get((req.kind, req.desde, req.hasta)) if len(docs) <= size else None
                self._zips[pid] = cached or self._zip(req, docs[start:start + size])
                req.packages.append(pid)
        del name
        return self._verify_reply("5000", 3, "5000", len(docs), "Solicitud Aceptada", req.packages)

    def _verify_reply(self, cod: str, estado: int, codigo: str, numero: int, mensaje: str, ids: list[str]) -> Reply:
        pkgs = "".join(f"<IdsPaquetes>{p}</IdsPaquetes>" for p in ids)
        body = (f'<VerificaSolicitudDescargaResponse xmlns="{NS_DES}"><VerificaSolicitudDescargaResult '
                f'CodEstatus="{cod}" EstadoSolicitud="{estado}" CodigoEstadoSolicitud="{codigo}" '
                f'NumeroCFDIs="{numero}" Mensaje="{mensaje}">{pkgs}</VerificaSolicitudDescargaResult>'
                "</VerificaSolicitudDescargaResponse>")
        return Reply(200, _envelope(body), operation="VerificaSolicitudDescarga")

    def prebuild(self, kind: str, desde: date, hasta: date) -> None:
        """Build the one package of a range now, so a benchmark does not time the fake's ZIP."""
        req = FakeRequest("prebuilt", "", kind, f"{desde}T00:00:00", f"{hasta}T23:59:59")
        req.rfc = self.certificates[0].rfc if self.certificates else ""
        self.zip_cache[(kind, req.desde, req.hasta)] = self._zip(req, self._in_range(req))

    @staticmethod
    def _zip(req: FakeRequest, docs: list[FakeCfdi]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            if req.kind == "CFDI":
                for d in docs:
                    zf.writestr(f"{d.uuid}.xml", d.xml)
            else:
                lines = [META_HEADER] + [
                    f"{d.uuid}~{req.rfc}~EMISOR~{d.rfc_receptor}~RECEPTOR~SAT970701NN3~{d.fecha} 10:00:00~"
                    f"{d.fecha} 10:00:05~100.00~I~{d.estatus}~{d.fecha_cancelacion}" for d in docs]
                zf.writestr(f"{req.id}_01.txt", "\r\n".join(lines) + "\r\n")
        return buf.getvalue()

    def _descarga(self, sol: etree._Element) -> Reply:
        pid = sol.get("IdPaquete") or ""
        fault = self.package_faults.get(pid)
        if fault == "500":
            return Reply(500, b"<html>Service Unavailable</html>", content_type="text/html", operation="descarga")
        if fault == "malformed":
            return Reply(200, b"<s:Envelope><s:Body>truncated", operation="descarga")
        if fault == "hang":
            time.sleep(5)
        if pid not in self._zips:
            return self._package_reply("5007", "No existe el paquete solicitado", None)
        count = self.downloads.get(pid, 0) + 1
        self.downloads[pid] = count
        if count > self.max_downloads:
            return self._package_reply("5008", "Máximo de descargas permitidas", None)
        return self._package_reply("5000", "Solicitud Aceptada", self._zips[pid])

    @staticmethod
    def _package_reply(cod: str, mensaje: str, data: bytes | None) -> Reply:
        header = f'<h:respuesta CodEstatus="{cod}" Mensaje="{mensaje}" xmlns:h="{NS_DES}" xmlns="{NS_DES}"/>'
        paquete = f"<Paquete>{base64.b64encode(data).decode()}</Paquete>" if data is not None else "<Paquete/>"
        body = f'<RespuestaDescargaMasivaTercerosSalida xmlns="{NS_DES}">{paquete}</RespuestaDescargaMasivaTercerosSalida>'
        return Reply(200, _envelope(body, header), operation="descarga")
