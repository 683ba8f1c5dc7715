"""A fake Finkok speaking its SOAP stamp and cancel services on loopback.

Like the real one it answers 307 (without the earlier CFDI, as Finkok documents it may)
when the same Sello comes again, ``stamped`` returns the earlier stamp or 603, and SAT
errors come as ``Incidencias``. ``reject`` makes the next stamp fail with a SAT code.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .server import FakePac, Reply
from .stamper import FakeStamper

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_TNS_STAMP = "http://facturacion.finkok.com/stamp"
NS_TNS_CANCEL = "http://facturacion.finkok.com/cancel"
NS_S0 = "apps.services.soap.core.views"

USER = "demo@example.com"
PASSWORD = "s3cret-pass"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


@dataclass
class FinkokFake(FakePac):
    folder: Path = Path(".")
    reject: tuple[str, str] | None = None  # (CodigoError, MensajeIncidencia) for the next stamp
    stamped_not_found_first: int = 0  # answer 603 this many times before finding it
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stamper = FakeStamper(self.folder)

    # --- dispatch ---------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        env = etree.fromstring(body)
        soap_body = env.find(f"{{{NS_SOAP}}}Body")
        assert soap_body is not None and len(soap_body) == 1
        op = soap_body[0]
        name = _local(op)
        fields = {_local(c): (c.text or "") for c in op}
        self.calls.append(name)
        if fields.get("username") != USER or fields.get("password") != PASSWORD:
            return self._fault("Invalid username or password", name)
        if path == "/servicios/soap/stamp" and name in ("stamp", "stamped"):
            xml = base64.b64decode(fields["xml"])
            return self._stamp(name, xml) if name == "stamp" else self._stamped(xml)
        if path == "/servicios/soap/cancel" and name == "cancel_signature":
            return self._cancel(base64.b64decode(fields["xml"]))
        if path == "/servicios/soap/cancel" and name == "get_sat_status":
            return self._sat_status(fields)
        return self._fault(f"unknown operation {name} at {path}", name)

    # --- stamp service ----------------------------------------------------------------

    def _stamp(self, op: str, xml: bytes) -> Reply:
        if self.reject is not None:
            code, message = self.reject
            self.reject = None
            return self._stamp_reply(op, None, [(code, message)])
        stamped, before = self.stamper.stamp(xml)
        if before:
            return self._stamp_reply(op, None, [("307", "El CFDI contiene un timbre previo")])
        return self._stamp_reply(op, stamped, [])

    def _stamped(self, xml: bytes) -> Reply:
        previous = self.stamper.previously(xml)
        if previous is None or self.stamped_not_found_first > 0:
            self.stamped_not_found_first = max(0, self.stamped_not_found_first - 1)
            return self._stamp_reply("stamped", None, [("603", "El CFDI no contiene un timbre previo")])
        return self._stamp_reply("stamped", previous, [])

    def _stamp_reply(self, op: str, stamped: bytes | None, incidences: list[tuple[str, str]]) -> Reply:
        nsmap = {"senv": NS_SOAP, "tns": NS_TNS_STAMP, "s0": NS_S0}
        env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
        resp = etree.SubElement(body, f"{{{NS_TNS_STAMP}}}{op}Response")
        result = etree.SubElement(resp, f"{{{NS_TNS_STAMP}}}{op}Result")
        s0 = f"{{{NS_S0}}}"
        xml_el = etree.SubElement(result, s0 + "xml")
        if stamped is not None:
            xml_el.text = stamped.decode("utf-8")  # Finkok sends the CFDI as escaped text
            tfd = etree.fromstring(stamped).find(".//{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital")
            assert tfd is not None
            etree.SubElement(result, s0 + "UUID").text = tfd.get("UUID")
            etree.SubElement(result, s0 + "Fecha").text = tfd.get("FechaTimbrado")
            etree.SubElement(result, s0 + "CodEstatus").text = "Comprobante timbrado satisfactoriamente"
            etree.SubElement(result, s0 + "SatSeal").text = tfd.get("SelloSAT")
            etree.SubElement(result, s0 + "NoCertificadoSAT").text = tfd.get("NoCertificadoSAT")
        incs = etree.SubElement(result, s0 + "Incidencias")
        for code, message in incidences:
            inc = etree.SubElement(incs, s0 + "Incidencia")
            etree.SubElement(inc, s0 + "IdIncidencia").text = "1"
            etree.SubElement(inc, s0 + "CodigoError").text = code
            etree.SubElement(inc, s0 + "MensajeIncidencia").text = message
        return Reply(200, etree.tostring(env, xml_declaration=True, encoding="UTF-8"), operation=op)

    # --- cancel service ---------------------------------------------------------------

    def _cancel(self, request_xml: bytes) -> Reply:
        root = etree.fromstring(request_xml)
        ns = "http://cancelacfd.sat.gob.mx"
        assert root.tag == f"{{{ns}}}Cancelacion"
        assert root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None
        folio = root.find(f"{{{ns}}}Folios/{{{ns}}}Folio")
        assert folio is not None
        uuid = (folio.get("UUID") or "").upper()
        if uuid not in self.stamper.by_uuid:
            estatus, cancelacion = "205", ""
        else:
            estatus = "202" if uuid in self.stamper.cancelled else "201"
            cancelacion = "Cancelado sin aceptación"
            self.stamper.cancelled[uuid] = (folio.get("Motivo") or "", folio.get("FolioSustitucion"))
        nsmap = {"senv": NS_SOAP, "tns": NS_TNS_CANCEL, "s0": NS_S0}
        env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
        resp = etree.SubElement(body, f"{{{NS_TNS_CANCEL}}}cancel_signatureResponse")
        result = etree.SubElement(resp, f"{{{NS_TNS_CANCEL}}}cancel_signatureResult")
        s0 = f"{{{NS_S0}}}"
        folios = etree.SubElement(result, s0 + "Folios")
        f = etree.SubElement(folios, s0 + "Folio")
        etree.SubElement(f, s0 + "EstatusUUID").text = estatus
        etree.SubElement(f, s0 + "EstatusCancelacion").text = cancelacion
        etree.SubElement(f, s0 + "UUID").text = uuid
        acuse = f'<Acuse Fecha="2025-01-15T12:10:00" RfcEmisor="{root.get("RfcEmisor")}"><Folios><UUID>{uuid}</UUID><EstatusUUID>{estatus}</EstatusUUID></Folios></Acuse>'
        etree.SubElement(result, s0 + "Acuse").text = acuse
        etree.SubElement(result, s0 + "Fecha").text = "2025-01-15T12:10:00"
        etree.SubElement(result, s0 + "RfcEmisor").text = root.get("RfcEmisor")
        return Reply(200, etree.tostring(env, xml_declaration=True, encoding="UTF-8"), operation="cancel_signature")

    def _sat_status(self, fields: dict[str, str]) -> Reply:
        uuid = fields["uuid"].upper()
        if uuid not in self.stamper.by_uuid:
            estado = "No Encontrado"
        else:
            estado = "Cancelado" if uuid in self.stamper.cancelled else "Vigente"
        nsmap = {"senv": NS_SOAP, "tns": NS_TNS_CANCEL, "s0": NS_S0}
        env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
        resp = etree.SubElement(body, f"{{{NS_TNS_CANCEL}}}get_sat_statusResponse")
        result = etree.SubElement(resp, f"{{{NS_TNS_CANCEL}}}get_sat_statusResult")
        sat = etree.SubElement(result, f"{{{NS_S0}}}sat")
        etree.SubElement(sat, f"{{{NS_S0}}}CodigoEstatus").text = "S - Comprobante obtenido satisfactoriamente."
        etree.SubElement(sat, f"{{{NS_S0}}}Estado").text = estado
        etree.SubElement(sat, f"{{{NS_S0}}}EsCancelable").text = "Cancelable sin aceptación"
        etree.SubElement(sat, f"{{{NS_S0}}}EstatusCancelacion").text = ""
        return Reply(200, etree.tostring(env, xml_declaration=True, encoding="UTF-8"), operation="get_sat_status")

    def _fault(self, message: str, op: str) -> Reply:
        body = (
            f'<senv:Envelope xmlns:senv="{NS_SOAP}"><senv:Body><senv:Fault>'
            f"<faultcode>senv:Client</faultcode><faultstring>{message}</faultstring>"
            "</senv:Fault></senv:Body></senv:Envelope>"
        ).encode()
        return Reply(500, body, operation=op)
