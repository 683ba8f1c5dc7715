"""The cadena original of a CFDI 4.0 written directly, without running the SAT XSLT.

``cadenaoriginal_4_0.xslt`` is, for the parts it covers, a fixed list per element: which
attributes to print (a *required* one always prints ``|`` and its value, an *optional*
one only when present) and which children to visit, in that order, each value passed
through XPath's ``normalize-space``. This module walks the same lists in Python for the
documents cfdi-cobranza writes and reads most (CFDI 4.0 invoices, credit notes and
payment complements: the core elements plus ``pago20:Pagos``), about five times faster
than libxslt on a REP (``bench/bench_rep.py``), which matters because every REP's
cadena is computed twice (to sign it and, by the sandbox PAC, to check the seal).

Anything the lists do not cover returns ``None`` and the caller runs the SAT XSLT
instead: another complement, a ``ComplementoConcepto``, text inside an element the
stylesheet would copy, a root other than a CFDI 4.0 ``cfdi:Comprobante``. The tests
compare both on every CFDI of the test data, on the generated REPs and on edge cases
(whitespace, missing and empty attributes, comments, unknown elements).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from operator import is_not
from typing import Any, TypeGuard, cast

from lxml import etree

CFDI = "{http://www.sat.gob.mx/cfd/4}"
PAGO20 = "{http://www.sat.gob.mx/Pagos20}"
TFD = "{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital"

Spec = tuple[tuple[str, ...], tuple[str | None, ...]]
"""The attributes in the stylesheet's order, and what each reads when missing: "" for a
required one (the stylesheet prints ``|`` alone), ``None`` for an optional one (nothing)."""

# ``v is not None`` as a C-level predicate for ``filter``.
_PRESENT = cast("Callable[[str | None], TypeGuard[str]]", partial(is_not, None))


def _spec(text: str) -> Spec:
    """``"Version Serie? Folio?"``: a name ending in ``?`` is optional."""
    names = text.split()
    return tuple(n.rstrip("?") for n in names), tuple(None if n.endswith("?") else "" for n in names)


COMPROBANTE = _spec("Version Serie? Folio? Fecha FormaPago? NoCertificado CondicionesDePago? SubTotal "
                    "Descuento? Moneda TipoCambio? Total TipoDeComprobante Exportacion MetodoPago? "
                    "LugarExpedicion Confirmacion?")
INFORMACION_GLOBAL = _spec("Periodicidad Meses Año")
EMISOR = _spec("Rfc Nombre RegimenFiscal FacAtrAdquirente?")
RECEPTOR = _spec("Rfc Nombre DomicilioFiscalReceptor ResidenciaFiscal? NumRegIdTrib? RegimenFiscalReceptor UsoCFDI")
CONCEPTO = _spec("ClaveProdServ NoIdentificacion? Cantidad ClaveUnidad Unidad? Descripcion ValorUnitario "
                 "Importe Descuento? ObjetoImp")
TRASLADO_CONCEPTO = _spec("Base Impuesto TipoFactor TasaOCuota? Importe?")
RETENCION_CONCEPTO = _spec("Base Impuesto TipoFactor TasaOCuota Importe")
A_CUENTA_TERCEROS = _spec("RfcACuentaTerceros NombreACuentaTerceros RegimenFiscalACuentaTerceros "
                          "DomicilioFiscalACuentaTerceros")
PARTE = _spec("ClaveProdServ NoIdentificacion? Cantidad Unidad? Descripcion ValorUnitario? Importe?")
RETENCION = _spec("Impuesto Importe")
TRASLADO = _spec("Base Impuesto TipoFactor TasaOCuota? Importe?")

PAGOS = _spec("Version")
TOTALES = _spec("TotalRetencionesIVA? TotalRetencionesISR? TotalRetencionesIEPS? TotalTrasladosBaseIVA16? "
                "TotalTrasladosImpuestoIVA16? TotalTrasladosBaseIVA8? TotalTrasladosImpuestoIVA8? "
                "TotalTrasladosBaseIVA0? TotalTrasladosImpuestoIVA0? TotalTrasladosBaseIVAExento? MontoTotalPagos")
PAGO = _spec("FechaPago FormaDePagoP MonedaP TipoCambioP? Monto NumOperacion? RfcEmisorCtaOrd? NomBancoOrdExt? "
             "CtaOrdenante? RfcEmisorCtaBen? CtaBeneficiario? TipoCadPago? CertPago? CadPago? SelloPago?")
DOCTO = _spec("IdDocumento Serie? Folio? MonedaDR EquivalenciaDR? NumParcialidad ImpSaldoAnt ImpPagado "
              "ImpSaldoInsoluto ObjetoImpDR")
RETENCION_DR = _spec("BaseDR ImpuestoDR TipoFactorDR TasaOCuotaDR ImporteDR")
TRASLADO_DR = _spec("BaseDR ImpuestoDR TipoFactorDR TasaOCuotaDR? ImporteDR?")
RETENCION_P = _spec("ImpuestoP ImporteP")
TRASLADO_P = _spec("BaseP ImpuestoP TipoFactorP TasaOCuotaP? ImporteP?")

TIMBRE_11 = _spec("Version UUID FechaTimbrado RfcProvCertif Leyenda? SelloCFD NoCertificadoSAT")
_PEDIMENTO = _spec("NumeroPedimento")
_PREDIAL = _spec("Numero")
_RETENIDOS = _spec("TotalImpuestosRetenidos?")
_TRASLADADOS = _spec("TotalImpuestosTrasladados?")
_TIPO_RELACION = _spec("TipoRelacion")
_UUID = _spec("UUID")

_SPACES = re.compile("[ \t\r\n]+")  # XPath's whitespace: not Python's str.split() (no NBSP)


class _Unsupported(Exception):
    """Something only the SAT XSLT covers: the caller falls back to it."""


def _put(out: list[str], el: etree._Element, spec: Spec) -> None:
    """The values of ``spec`` as they are (``cadena_40`` normalizes the spaces after):
    a required attribute that is missing as "", an optional one not at all."""
    names, defaults = spec
    out.extend(filter(_PRESENT, map(el.get, names, defaults)))


_NONE: tuple[etree._Element, ...] = ()


def _children(el: etree._Element) -> dict[Any, list[etree._Element]]:
    """``el``'s children by tag, each list in document order (one pass over them).

    The stylesheet visits children by name (all the ``Emisor``, then all the
    ``Receptor`` ...), not in document order: this is what each name selects.
    """
    by_tag: dict[Any, list[etree._Element]] = {}
    for child in el:
        got = by_tag.get(child.tag)
        if got is None:
            by_tag[child.tag] = [child]
        else:
            got.append(child)
    return by_tag


def _grandchildren(parents: Iterable[etree._Element], tag: str, leaf: str) -> Iterator[etree._Element]:
    """``parent/tag/leaf`` of each parent, in document order."""
    for parent in parents:
        for group in parent:
            if group.tag == tag:
                for item in group:
                    if item.tag == leaf:
                        yield item


def _concepto(out: list[str], c: etree._Element) -> None:
    _put(out, c, CONCEPTO)
    if len(c) == 0:
        return
    kids = _children(c)
    impuestos = kids.get(CFDI + "Impuestos", _NONE)
    for t in _grandchildren(impuestos, CFDI + "Traslados", CFDI + "Traslado"):
        _put(out, t, TRASLADO_CONCEPTO)
    for r in _grandchildren(impuestos, CFDI + "Retenciones", CFDI + "Retencion"):
        _put(out, r, RETENCION_CONCEPTO)
    for t in kids.get(CFDI + "ACuentaTerceros", _NONE):
        _put(out, t, A_CUENTA_TERCEROS)
    for a in kids.get(CFDI + "InformacionAduanera", _NONE):
        _put(out, a, _PEDIMENTO)
    for p in kids.get(CFDI + "CuentaPredial", _NONE):
        _put(out, p, _PREDIAL)
    if CFDI + "ComplementoConcepto" in kids:
        raise _Unsupported
    for parte in c.iterdescendants(CFDI + "Parte"):
        _put(out, parte, PARTE)
        for a in parte.iterdescendants(CFDI + "InformacionAduanera"):
            _put(out, a, _PEDIMENTO)


def _impuestos(out: list[str], imp: etree._Element) -> None:
    for r in _grandchildren((imp,), CFDI + "Retenciones", CFDI + "Retencion"):
        _put(out, r, RETENCION)
    _put(out, imp, _RETENIDOS)
    for t in _grandchildren((imp,), CFDI + "Traslados", CFDI + "Traslado"):
        _put(out, t, TRASLADO)
    _put(out, imp, _TRASLADADOS)


def _docto(out: list[str], d: etree._Element) -> None:
    _put(out, d, DOCTO)
    if len(d) == 0:
        return
    impuestos = _children(d).get(PAGO20 + "ImpuestosDR", _NONE)
    for r in _grandchildren(impuestos, PAGO20 + "RetencionesDR", PAGO20 + "RetencionDR"):
        _put(out, r, RETENCION_DR)
    for t in _grandchildren(impuestos, PAGO20 + "TrasladosDR", PAGO20 + "TrasladoDR"):
        _put(out, t, TRASLADO_DR)


def _pagos(out: list[str], pagos: etree._Element) -> None:
    _put(out, pagos, PAGOS)
    kids = _children(pagos)
    for t in kids.get(PAGO20 + "Totales", _NONE):
        _put(out, t, TOTALES)
    for pago in kids.get(PAGO20 + "Pago", _NONE):
        _put(out, pago, PAGO)
        of_pago = _children(pago)
        for d in of_pago.get(PAGO20 + "DoctoRelacionado", _NONE):
            _docto(out, d)
        for imp in of_pago.get(PAGO20 + "ImpuestosP", _NONE):
            for r in _grandchildren((imp,), PAGO20 + "RetencionesP", PAGO20 + "RetencionP"):
                _put(out, r, RETENCION_P)
            for t in _grandchildren((imp,), PAGO20 + "TrasladosP", PAGO20 + "TrasladoP"):
                _put(out, t, TRASLADO_P)


def _complemento(out: list[str], complemento: etree._Element) -> None:
    for child in complemento.iterchildren("*"):
        if child.tag == PAGO20 + "Pagos":
            _pagos(out, child)
        elif child.tag == TFD and len(child) == 0 and child.text is None:
            # No template matches it: XSLT's built-in rule copies its text, and it has none.
            continue
        else:  # another complement (its own template) or text the built-in rule would copy
            raise _Unsupported


def _relacionados(out: list[str], el: etree._Element) -> None:
    _put(out, el, _TIPO_RELACION)
    for r in el.iterchildren(CFDI + "CfdiRelacionado"):
        _put(out, r, _UUID)


def _conceptos(out: list[str], el: etree._Element) -> None:
    for c in el.iterchildren(CFDI + "Concepto"):
        _concepto(out, c)


_SECTIONS: tuple[tuple[str, Callable[[list[str], etree._Element], None]], ...] = (
    (CFDI + "InformacionGlobal", lambda out, el: _put(out, el, INFORMACION_GLOBAL)),
    (CFDI + "CfdiRelacionados", _relacionados),
    (CFDI + "Emisor", lambda out, el: _put(out, el, EMISOR)),
    (CFDI + "Receptor", lambda out, el: _put(out, el, RECEPTOR)),
    (CFDI + "Conceptos", _conceptos),
    (CFDI + "Impuestos", _impuestos),
    (CFDI + "Complemento", _complemento),
)


def cadena_40(root: etree._Element) -> str | None:
    """The cadena original of the CFDI 4.0 ``root``, or ``None`` when only the XSLT covers it."""
    if root.tag != CFDI + "Comprobante":
        return None
    out: list[str] = []
    _put(out, root, COMPROBANTE)
    kids = _children(root)
    try:
        for tag, write in _SECTIONS:
            for el in kids.get(tag, _NONE):
                write(out, el)
    except _Unsupported:
        return None
    return _joined(out)


def _joined(out: list[str]) -> str:
    cadena = "||" + "|".join(out) + "||"
    # normalize-space() of each value, needed only where a value has a tab, a line
    # break, two spaces in a row or a space at either end (which then touches a "|"):
    # when the whole string has none of these, no value does.
    if ("\t" in cadena or "\n" in cadena or "\r" in cadena or "  " in cadena
            or " |" in cadena or "| " in cadena):
        cadena = "||" + "|".join(_SPACES.sub(" ", v).strip(" ") for v in out) + "||"
    return cadena


def cadena_tfd_11(tfd: etree._Element) -> str | None:
    """The cadena of a TimbreFiscalDigital 1.1 (``cadenaoriginal_TFD_1_1.xslt``), or
    ``None`` for another element or version."""
    if tfd.tag != TFD or tfd.get("Version") != "1.1":
        return None
    out: list[str] = []
    _put(out, tfd, TIMBRE_11)
    return _joined(out)
