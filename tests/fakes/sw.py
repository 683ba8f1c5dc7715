"""A fake SW Sapien speaking its REST services (and the SAT status SOAP) on loopback.

Like the real one: ``/v2/security/authenticate`` hands out expiring tokens, stamp v4
takes a multipart ``xml`` part and a ``customid`` header, and a CFDI stamped before
(same Sello or same customid) answers ``307. El comprobante contiene un timbre
previo.`` with the earlier stamp in ``data``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from .server import FakePac, Reply
from .stamper import FakeStamper

USER = "user@example.com"
PASSWORD = "sw-s3cret"
FIXED_TOKEN = "fixed-account-token"


def _json(status: int, doc: object, op: str = "") -> Reply:
    return Reply(status, json.dumps(doc).encode("utf-8"), "application/json", op)


def _error(status: int, message: str, op: str = "", data: object = None) -> Reply:
    return _json(status, {"status": "error", "message": message, "messageDetail": "detalle", "data": data}, op)


def _multipart_xml(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, sep, content = part.partition(b"\r\n\r\n")
        if sep and b'name="xml"' in head:
            return content.rsplit(b"\r\n", 1)[0] if content.endswith(b"\r\n") else content
    raise AssertionError("no xml part")


@dataclass
class SwFake(FakePac):
    folder: Path = Path(".")
    reject: str | None = None  # message of the next stamp's error, e.g. "CFDI40102 - ..."
    token_lifetime: float = 7200.0
    tokens: set[str] = field(default_factory=lambda: {FIXED_TOKEN})
    logins: int = 0
    by_customid: dict[str, bytes] = field(default_factory=dict)
    customids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stamper = FakeStamper(self.folder)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path == "/ConsultaCFDIService.svc":
            return self._consulta(body)
        if path == "/v2/security/authenticate":
            return self._login(body)
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "AU4101 - El token proporcionado no es válido o expiró", "auth")
        if path == "/v4/cfdi33/stamp/v4":
            return self._stamp(headers, body)
        if path.startswith("/cfdi33/cancel/"):
            return self._cancel(path, body)
        return _error(404, f"ruta desconocida {path}")

    def _login(self, body: bytes) -> Reply:
        doc = json.loads(body)
        if doc.get("user") != USER or doc.get("password") != PASSWORD:
            return _error(401, "AU2000 - El usuario y/o contraseña son inválidos, no se puede autenticar el servicio.", "login")
        self.logins += 1
        token = f"token-{self.logins}"
        self.tokens.add(token)
        data = {"token": token, "expires_in": int(time.time() + self.token_lifetime), "tokeny_type": "bearer"}
        return _json(200, {"data": data, "status": "success"}, "login")

    def _stamp(self, headers: dict[str, str], body: bytes) -> Reply:
        xml = _multipart_xml(headers["content-type"], body)
        customid = headers.get("customid")
        if customid:
            self.customids.append(customid)
        if self.reject is not None:
            message, self.reject = self.reject, None
            return _error(400, message, "stamp")
        if customid and customid in self.by_customid:
            return _error(400, "307. El comprobante contiene un timbre previo.", "stamp", self._data(self.by_customid[customid]))
        stamped, before = self.stamper.stamp(xml)
        if customid:
            self.by_customid[customid] = stamped
        if before:
            return _error(400, "307. El comprobante contiene un timbre previo.", "stamp", self._data(stamped))
        return _json(200, {"data": self._data(stamped), "status": "success"}, "stamp")

    @staticmethod
    def _data(stamped: bytes) -> dict[str, str]:
        tfd = etree.fromstring(stamped).find(".//{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital")
        assert tfd is not None
        return {
            "cadenaOriginalSAT": "||1.1|...||",
            "noCertificadoSAT": tfd.get("NoCertificadoSAT") or "",
            "noCertificadoCFDI": "30001000000500003416",
            "uuid": tfd.get("UUID") or "",
            "selloSAT": tfd.get("SelloSAT") or "",
            "selloCFDI": tfd.get("SelloCFD") or "",
            "fechaTimbrado": tfd.get("FechaTimbrado") or "",
            "qrCode": "iVBORw0KGgo=",
            "cfdi": stamped.decode("utf-8"),
        }

    def _cancel(self, path: str, body: bytes) -> Reply:
        if path == "/cfdi33/cancel/csd":
            doc = json.loads(body)
            assert doc["b64Cer"] and doc["b64Key"] and doc["password"]
            rfc, uuid, motivo, folio = doc["rfc"], doc["uuid"], doc["motivo"], doc.get("foliosustitucion")
        else:
            parts = [unquote(p) for p in path[len("/cfdi33/cancel/") :].split("/")]
            rfc, uuid, motivo = parts[:3]
            folio = parts[3] if len(parts) > 3 else None
        uuid = uuid.upper()
        if uuid not in self.stamper.by_uuid:
            return _error(400, "CA1000 - El UUID no existe o no pertenece al emisor", "cancel")
        code = "202" if uuid in self.stamper.cancelled else "201"
        self.stamper.cancelled[uuid] = (motivo, folio)
        acuse = f'<Acuse RfcEmisor="{rfc}"><Folios><UUID>{uuid}</UUID><EstatusUUID>{code}</EstatusUUID></Folios></Acuse>'
        return _json(200, {"data": {"acuse": acuse, "uuid": {uuid: code}}, "status": "success"}, "cancel")

    def _consulta(self, body: bytes) -> Reply:
        expr = etree.fromstring(body).findtext(".//{http://tempuri.org/}expresionImpresa") or ""
        uuid = expr.rsplit("id=", 1)[-1].upper()
        if uuid not in self.stamper.by_uuid:
            estado, cancelacion = "No Encontrado", ""
        elif uuid in self.stamper.cancelled:
            estado, cancelacion = "Cancelado", "Cancelado sin aceptación"
        else:
            estado, cancelacion = "Vigente", ""
        reply = (
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            '<ConsultaResponse xmlns="http://tempuri.org/"><ConsultaResult '
            'xmlns:a="http://schemas.datacontract.org/2004/07/Sat.Cfdi.Negocio.ConsultaCfdi.Servicio">'
            "<a:CodigoEstatus>S - Comprobante obtenido satisfactoriamente.</a:CodigoEstatus>"
            "<a:EsCancelable>Cancelable sin aceptación</a:EsCancelable>"
            f"<a:Estado>{estado}</a:Estado><a:EstatusCancelacion>{cancelacion}</a:EstatusCancelacion>"
            "</ConsultaResult></ConsultaResponse></s:Body></s:Envelope>"
        ).encode()
        return Reply(200, reply, operation="consulta")
