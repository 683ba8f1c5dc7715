"""Minimal SOAP 1.1 envelopes for the PAC and SAT services that speak SOAP.

Requests are built with lxml (so values are escaped, never string-formatted) and
replies are parsed with a hostile-input-safe parser: a PAC reply is outside input too.
Replies are read by local name because the PACs' namespace prefixes vary by release.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lxml import etree

NS_SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"

_PARSER = etree.XMLParser(
    resolve_entities=False,
    load_dtd=False,
    no_network=True,
    recover=False,
    huge_tree=True,  # a stamped CFDI with many DoctoRelacionado can be large
)


class SoapFault(Exception):
    def __init__(self, faultcode: str, faultstring: str) -> None:
        super().__init__(f"{faultcode}: {faultstring}")
        self.faultcode = faultcode
        self.faultstring = faultstring


def envelope(ns: str, operation: str, fields: Iterable[tuple[str, str | None]]) -> bytes:
    """``<Envelope><Body><op><field>value</field>...</op></Body></Envelope>`` as bytes."""
    nsmap = {"soapenv": NS_SOAPENV, "ns": ns}
    env = etree.Element(f"{{{NS_SOAPENV}}}Envelope", nsmap=nsmap)
    etree.SubElement(env, f"{{{NS_SOAPENV}}}Header")
    body = etree.SubElement(env, f"{{{NS_SOAPENV}}}Body")
    op = etree.SubElement(body, f"{{{ns}}}{operation}")
    for name, value in fields:
        child = etree.SubElement(op, f"{{{ns}}}{name}")
        if value is not None:
            child.text = value
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def parse_reply(data: bytes) -> etree._Element:
    """The Body's first child; raises SoapFault for a Fault, ValueError when unreadable."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DOCTYPE in SOAP reply")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError(f"not XML: {exc}") from exc
    if etree.QName(root).localname != "Envelope":
        raise ValueError("not a SOAP envelope")
    body = first(root, "Body")
    if body is None or len(body) == 0:
        raise ValueError("empty SOAP body")
    payload = body[0]
    if etree.QName(payload).localname == "Fault":
        raise SoapFault(text(payload, "faultcode") or "", text(payload, "faultstring") or "")
    return payload


def iter_local(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in el.iter():
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            yield child


def first(el: etree._Element, name: str) -> etree._Element | None:
    return next(iter_local(el, name), None)


def text(el: etree._Element, name: str) -> str | None:
    found = first(el, name)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None
