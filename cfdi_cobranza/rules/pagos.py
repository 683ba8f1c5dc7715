"""Rules of the Pagos 2.0 complement itself (CRP20201-CRP20277) checkable offline.

Amount formulas shared with the calculator (ImporteDR window, Monto margin) come from
``cfdi_cobranza.domain.pagos20`` so that what we write and what we check cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain import money, rfc
from cfdi_cobranza.domain.findings import Finding, Severity
from cfdi_cobranza.domain.pagos20 import (
    CADENA_PAGO,
    CUENTAS_XML,
    CuentasPago,
    ImportesDR,
    PaidAmount,
    RetencionP,
    Totales,
    TrasladoP,
    bank_field_problems,
    cadena_pago_problems,
    compute_totales,
    docto_dr_problems,
    forma_de_pago_valida,
    importe_window,
    moneda_valida,
    monto_consistency_error,
    monto_problems,
)
from cfdi_cobranza.rules.core import (
    Context,
    Node,
    Rule,
    rule,
    to_decimal,
    written_decimals,
)

IMPUESTOS = {"001": "ISR", "002": "IVA", "003": "IEPS"}
# c_TipoFactor: the JSON shipped in catalogs/data is empty (reported), so the three
# keys of the SAT catalog are spelled out here.
TIPOS_FACTOR = frozenset({"Tasa", "Cuota", "Exento"})

# c_TasaOCuota of CFDI 4.0: (impuesto, factor) -> fixed values and ranges, per kind.
_IEPS_TASAS = tuple(
    Decimal(v) for v in ("0.265000", "0.300000", "0.530000", "0.500000", "1.600000",
                         "0.304000", "0.250000", "0.090000", "0.080000", "0.070000",
                         "0.060000", "0.030000", "0.000000")
)
_TASAS: dict[tuple[str, str, str], tuple[tuple[Decimal, ...], tuple[tuple[Decimal, Decimal], ...]]] = {
    ("traslado", "002", "Tasa"): ((Decimal("0.000000"), Decimal("0.160000"),
                                   Decimal("0.080000")), ()),
    ("retencion", "002", "Tasa"): ((), ((Decimal("0.000000"), Decimal("0.160000")),)),
    ("retencion", "001", "Tasa"): ((), ((Decimal("0.000000"), Decimal("0.350000")),)),
    ("traslado", "003", "Tasa"): (_IEPS_TASAS, ()),
    ("retencion", "003", "Tasa"): (_IEPS_TASAS, ()),
    ("traslado", "003", "Cuota"): ((), ((Decimal("0.000000"), Decimal("59.144900")),)),
    ("retencion", "003", "Cuota"): ((), ((Decimal("0.000000"), Decimal("59.144900")),)),
}


def tasa_in_catalog(kind: str, impuesto: str | None, factor: str | None,
                    tasa: Decimal | None) -> bool:
    if tasa is None or impuesto is None or factor is None:
        return False
    entry = _TASAS.get((kind, impuesto, factor))
    if entry is None:
        return False
    fixed, ranges = entry
    return tasa in fixed or any(lo <= tasa <= hi for lo, hi in ranges)


def _tc(pago: Node) -> Decimal | None:
    """TipoCambioP to use in sums: as written, or 1 for MXN when absent."""
    value = pago.dec("TipoCambioP")
    if value is None and pago.get("MonedaP") == "MXN":
        return money.ONE
    return value


# -------------------------------------------------------------------------- Totales


@dataclass(frozen=True, slots=True)
class _Importes:
    """The amounts of an XML Pago that Totales are computed from (``pagos20.PagoImportes``)."""

    tipo_cambio_p: Decimal
    monto: Decimal
    traslados_p: tuple[TrasladoP, ...]
    retenciones_p: tuple[RetencionP, ...]


def _importes(ctx: Context, pago: Node) -> _Importes | None:
    tc = _tc(pago)
    if tc is None:
        return None
    # A missing amount adds zero: the same total as leaving it out.
    return _Importes(
        tc, pago.dec("Monto") or money.ZERO,
        tuple(TrasladoP(t.get("ImpuestoP") or "", t.get("TipoFactorP") or "", t.dec("TasaOCuotaP"),
                        t.dec("BaseP") or money.ZERO, t.dec("ImporteP"))
              for t in ctx.p_taxes(pago, "Traslado")),
        tuple(RetencionP(t.get("ImpuestoP") or "", t.dec("ImporteP") or money.ZERO)
              for t in ctx.p_taxes(pago, "Retencion")),
    )


def _expected_totales(ctx: Context) -> Totales:
    """What Totales should say, computed once per document (eleven rules ask); the Pagos
    without a usable TipoCambioP are left out."""
    hit = ctx.extra.get("_expected_totales")
    if not isinstance(hit, Totales):
        hit = ctx.extra["_expected_totales"] = compute_totales(
            i for i in (_importes(ctx, pago) for pago in ctx.pago_list()) if i is not None)
    return hit


def _totales_rule(code: str, attr: str, name: str, what: str) -> None:
    def check(r: Rule, ctx: Context) -> list[Finding]:
        totales = ctx.totales()
        if totales is None:
            return []
        expected: Decimal | None = getattr(_expected_totales(ctx), name)
        written_text = totales.get(attr)
        if written_text is None:
            if expected is not None and expected != 0:
                return [r.finding(f"Falta {attr}; debe ser {expected} ({what}).",
                                  totales.at(attr))]
            return []
        written = to_decimal(written_text)
        exp = expected if expected is not None else money.ZERO
        if written is None or money.quantize(written, 2) != exp or written_decimals(
            written_text
        ) > 2:
            return [r.finding(
                f"{attr} vale {written_text} y debe ser {exp}: redondeo a 2 decimales de la "
                f"suma de {what} por TipoCambioP.", totales.at(attr))]
        return []

    rule(code, f"{attr} igual a la suma de {what} por TipoCambioP")(check)


for _code, _attr, _name, _what in (
    ("CRP20201", "TotalRetencionesIVA", "total_retenciones_iva", "ImporteP de las retenciones de IVA"),
    ("CRP20202", "TotalRetencionesISR", "total_retenciones_isr", "ImporteP de las retenciones de ISR"),
    ("CRP20203", "TotalRetencionesIEPS", "total_retenciones_ieps", "ImporteP de las retenciones de IEPS"),
    ("CRP20204", "TotalTrasladosBaseIVA16", "total_traslados_base_iva16", "BaseP de los traslados de IVA 16%"),
    ("CRP20205", "TotalTrasladosImpuestoIVA16", "total_traslados_impuesto_iva16",
     "ImporteP de los traslados de IVA 16%"),
    ("CRP20206", "TotalTrasladosBaseIVA8", "total_traslados_base_iva8", "BaseP de los traslados de IVA 8%"),
    ("CRP20207", "TotalTrasladosImpuestoIVA8", "total_traslados_impuesto_iva8",
     "ImporteP de los traslados de IVA 8%"),
    ("CRP20208", "TotalTrasladosBaseIVA0", "total_traslados_base_iva0", "BaseP de los traslados de IVA 0%"),
    ("CRP20209", "TotalTrasladosImpuestoIVA0", "total_traslados_impuesto_iva0",
     "ImporteP de los traslados de IVA 0%"),
    ("CRP20210", "TotalTrasladosBaseIVAExento", "total_traslados_base_iva_exento",
     "BaseP de los traslados exentos de IVA"),
):
    _totales_rule(_code, _attr, _name, _what)


@rule("CRP20211", "MontoTotalPagos igual a la suma de Monto por TipoCambioP")
def monto_total(r: Rule, ctx: Context) -> list[Finding]:
    totales = ctx.totales()
    if totales is None:
        return []
    if any(p.dec("Monto") is None or _tc(p) is None for p in ctx.pago_list()):
        return []
    expected = _expected_totales(ctx).monto_total_pagos
    written = totales.dec("MontoTotalPagos")
    if written is None or written != expected:
        return [r.finding(f"MontoTotalPagos vale {totales.get('MontoTotalPagos')} y debe ser "
                          f"{expected}.", totales.at("MontoTotalPagos"))]
    return []


# ----------------------------------------------------------------------------- Pago


def _pago_rule(code: str, title: str) -> Callable[[Callable[[Rule, Context, Node], list[Finding]]],
                                                  Rule]:
    def decorate(fn: Callable[[Rule, Context, Node], list[Finding]]) -> Rule:
        def check(r: Rule, ctx: Context) -> list[Finding]:
            out: list[Finding] = []
            for pago in ctx.pago_list():
                out.extend(fn(r, ctx, pago))
            return out

        return rule(code, title)(check)

    return decorate


@_pago_rule("CRP20212", 'FormaDePagoP distinta de "99"')
def forma_99(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    forma = pago.get("FormaDePagoP")
    if forma == "99":
        return [r.finding('La forma de pago de un pago recibido no puede ser "99 Por definir".',
                          pago.at("FormaDePagoP"))]
    if forma is not None and not forma_de_pago_valida(forma):
        return [r.finding(f"La forma de pago {forma} no es vigente en el catálogo c_FormaPago.",
                          pago.at("FormaDePagoP"))]
    return []


@_pago_rule("CRP20213", 'MonedaP distinta de "XXX"')
def moneda_xxx(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    moneda = pago.get("MonedaP")
    if not moneda_valida(moneda):
        return [r.finding(f'La moneda del pago "{moneda}" no es válida (no puede ser XXX).',
                          pago.at("MonedaP"))]
    return []


def _monto_rule(code: str, title: str) -> None:
    """CRP20214, CRP20215, CRP20218, CRP20219: ``pagos20.monto_problems`` with this code."""

    def check(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
        moneda = pago.get("MonedaP")
        if code not in monto_problems(moneda, pago.dec("TipoCambioP"), pago.dec("Monto")):
            return []
        if code in ("CRP20214", "CRP20215"):
            return [r.finding("Falta TipoCambioP: el pago no está en MXN." if code == "CRP20214" else
                              'Con MonedaP MXN, TipoCambioP debe registrarse con el valor "1".',
                              pago.at("TipoCambioP"))]
        return [r.finding("El Monto del pago debe ser mayor que cero." if code == "CRP20218" else
                          f"El Monto {pago.get('Monto')} tiene más de "
                          f"{money.currency_decimals(moneda or '')} decimales.", pago.at("Monto"))]

    _pago_rule(code, title)(check)


_monto_rule("CRP20214", "TipoCambioP requerido si MonedaP no es MXN")


_monto_rule("CRP20215", 'TipoCambioP debe ser "1" si MonedaP es MXN')


@_pago_rule("CRP20216", "TipoCambioP dentro de los límites (o Confirmacion)")
def tc_limites(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    moneda = pago.get("MonedaP")
    value = pago.dec("TipoCambioP")
    if moneda in (None, "MXN", "XXX") or value is None:
        return []
    if ctx.comprobante.has("Confirmacion"):
        return []
    limits = ctx.extra.get("tipo_cambio_limits")
    if isinstance(limits, dict) and moneda in limits:
        low, high = limits[moneda]
        if not low <= value <= high:
            return [r.finding(f"TipoCambioP {value} fuera de los límites para {moneda} "
                              f"({low} a {high}); requiere Confirmacion.", pago.at("TipoCambioP"))]
        return []
    # Offline, without the day's rates, only the impossible case is certain: a foreign
    # currency quoted at exactly one peso.
    if value == 1:
        return [r.finding(f"TipoCambioP 1 para {moneda} está fuera de los límites; requiere "
                          "Confirmacion.", pago.at("TipoCambioP"))]
    return []


@_pago_rule("CRP20217", "Suma de ImpPagado no mayor que Monto (misma moneda)")
def suma_pagado(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    return _consistency(r, ctx, pago, {"CRP20217"})


@_pago_rule("CRP20276", "Monto dentro de los límites de ImpPagado / EquivalenciaDR")
def monto_limites(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    return _consistency(r, ctx, pago, {"CRP20276"})


@_pago_rule("CRP20277", "Monto dentro de los límites con EquivalenciaDR 1 a 10 decimales")
def monto_limites_mixto(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    return _consistency(r, ctx, pago, {"CRP20277"})


def _consistency(r: Rule, ctx: Context, pago: Node, codes: set[str]) -> list[Finding]:
    moneda_p = pago.get("MonedaP")
    monto = pago.dec("Monto")
    if moneda_p is None or monto is None:
        return []
    rows: list[PaidAmount] = []
    for docto in ctx.doctos(pago):
        moneda_dr = docto.get("MonedaDR")
        pagado = docto.dec("ImpPagado")
        eq_text = docto.get("EquivalenciaDR")
        eq = to_decimal(eq_text)
        if moneda_dr is None or pagado is None:
            return []
        if eq is None:
            if moneda_dr != moneda_p:
                return []  # CRP20237 reports it
            eq, eq_text = money.ONE, "1"
        rows.append(PaidAmount(moneda_dr, pagado, eq, written_decimals(docto.get("ImpPagado")),
                               written_decimals(eq_text)))
    code = monto_consistency_error(moneda_p, monto, rows)
    if code in codes:
        if code == "CRP20217":
            msg = (f"La suma de ImpPagado excede el Monto del pago ({pago.get('Monto')} "
                   f"{moneda_p}).")
        else:
            msg = ("El Monto no cubre la suma de ImpPagado / EquivalenciaDR de los documentos "
                   "relacionados, ni dentro del margen de redondeo.")
        return [r.finding(msg, pago.at("Monto"))]
    return []


_monto_rule("CRP20218", "Monto mayor que cero")
_monto_rule("CRP20219", "Monto con los decimales de MonedaP")


def _cuentas(pago: Node) -> CuentasPago:
    """The bank fields of a ``pago20:Pago`` as the typed record the domain predicate reads."""
    return CuentasPago(**{name: pago.get(attr) for attr, name in CUENTAS_XML})


def _bank_rule(code: str, title: str) -> None:
    """CRP20221-28: the findings of ``pagos20.bank_field_problems`` with this code."""

    def check(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
        return [r.finding(p.message, pago.at(p.attribute))
                for p in bank_field_problems(pago.get("FormaDePagoP"), _cuentas(pago))
                if p.code == code]

    _pago_rule(code, title)(check)


_bank_rule("CRP20221", "RfcEmisorCtaOrd solo con formas de pago bancarizadas")


@_pago_rule("CRP20222", "RfcEmisorCtaOrd en la lista de RFC (verificado: dígito)")
def rfc_ord_lista(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    value = pago.get("RfcEmisorCtaOrd")
    if not value or value == "XEXX010101000":
        return []
    # The list of registered RFCs is online only; a wrong check digit means the RFC
    # cannot be in it. Some old RFCs carry a wrong digit, hence a warning.
    if len(value) == 13:
        # Accounts are issued by banks and other financial entities: personas morales.
        return [r.finding(f"El RFC {value} es de persona física; el emisor de la cuenta "
                          "ordenante debe ser una entidad financiera de la lista del SAT.",
                          pago.at("RfcEmisorCtaOrd"), Severity.WARNING)]
    if not rfc.is_valid(value, validate_check_digits=True):
        return [r.finding(f"El RFC {value} no parece válido (dígito verificador); el SAT lo "
                          "rechazará si no está en su lista de RFC.", pago.at("RfcEmisorCtaOrd"),
                          Severity.WARNING)]
    return []


_bank_rule("CRP20223", "NomBancoOrdExt requerido con RfcEmisorCtaOrd XEXX010101000")
_bank_rule("CRP20224", "CtaOrdenante solo con las formas de pago que lo admiten")
_bank_rule("CRP20225", "CtaOrdenante con el patrón de la forma de pago")
_bank_rule("CRP20228", "CtaBeneficiario solo con las formas de pago que lo admiten")
_bank_rule("CRP20226", "CtaBeneficiario con el patrón de la forma de pago")
_bank_rule("CRP20227", "RfcEmisorCtaBen solo con las formas de pago que lo admiten")


def _cadena_rule(code: str, title: str) -> None:
    """CRP20229-35: the findings of ``pagos20.cadena_pago_problems`` with this code."""

    def check(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
        problems = cadena_pago_problems(*(pago.get(a) for a in (
            "FormaDePagoP", "TipoCadPago", "CertPago", "CadPago", "SelloPago")))
        return [r.finding(p.message, pago.at(p.attribute)) for p in problems if p.code == code]

    _pago_rule(code, title)(check)


_cadena_rule("CRP20229", "TipoCadPago solo con forma de pago 03")
for _attr, _name, _required, _forbidden in CADENA_PAGO:
    _cadena_rule(_required, f"{_attr} requerido con TipoCadPago")
    _cadena_rule(_forbidden, f"{_attr} solo con TipoCadPago")


# ------------------------------------------------------------------ DoctoRelacionado


def _docto_rule(code: str, title: str) -> Callable[
    [Callable[[Rule, Context, Node, Node], list[Finding]]], Rule
]:
    def decorate(fn: Callable[[Rule, Context, Node, Node], list[Finding]]) -> Rule:
        def check(r: Rule, ctx: Context) -> list[Finding]:
            out: list[Finding] = []
            for pago, docto in ctx.all_doctos():
                out.extend(fn(r, ctx, pago, docto))
            return out

        return rule(code, title)(check)

    return decorate


@_docto_rule("CRP20236", 'MonedaDR distinta de "XXX"')
def moneda_dr(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
    value = docto.get("MonedaDR")
    if not moneda_valida(value):
        return [r.finding(f'La moneda del documento relacionado "{value}" no es válida.',
                          docto.at("MonedaDR"))]
    return []


def _importes_rule(code: str, title: str) -> None:
    """CRP20237-44: the problems of ``pagos20.docto_dr_problems`` with this code."""

    def check(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
        moneda = docto.get("MonedaDR")
        ant, pagado, ins = (docto.dec(a) for a in ("ImpSaldoAnt", "ImpPagado", "ImpSaldoInsoluto"))
        attr = dict(docto_dr_problems(ImportesDR(
            pago.get("MonedaP"), moneda, docto.dec("EquivalenciaDR"), ant, pagado, ins))).get(code)
        if attr is None:
            return []
        if code == "CRP20237":
            msg = "Falta EquivalenciaDR: la moneda del documento difiere de la del pago."
        elif code == "CRP20238":
            msg = ('Con la misma moneda en pago y documento, EquivalenciaDR debe registrarse '
                   'con el valor "1".')
        elif code in ("CRP20239", "CRP20241"):
            msg = f"{attr} debe ser mayor que cero."
        elif code != "CRP20244":
            msg = (f"{attr} ({docto.get(attr)}) tiene más de {money.currency_decimals(moneda or '')} "
                   f"decimales, los que admite {moneda}.")
        elif ins is None or ins < 0:
            msg = "ImpSaldoInsoluto debe ser mayor o igual a cero."
        else:
            msg = (f"ImpSaldoInsoluto ({docto.get(attr)}) debe ser ImpSaldoAnt menos ImpPagado "
                   f"({(ant or money.ZERO) - (pagado or money.ZERO)}).")
        return [r.finding(msg, docto.at(attr))]

    _docto_rule(code, title)(check)


_importes_rule("CRP20237", "EquivalenciaDR requerida si MonedaDR difiere de MonedaP")
_importes_rule("CRP20238", 'EquivalenciaDR "1" si MonedaDR es igual a MonedaP')
_importes_rule("CRP20239", "ImpSaldoAnt mayor que cero")
_importes_rule("CRP20240", "ImpSaldoAnt con los decimales de MonedaDR")
_importes_rule("CRP20241", "ImpPagado mayor que cero")
_importes_rule("CRP20242", "ImpPagado con los decimales de MonedaDR")
_importes_rule("CRP20243", "ImpSaldoInsoluto con los decimales de MonedaDR")
_importes_rule("CRP20244", "ImpSaldoInsoluto = ImpSaldoAnt - ImpPagado, no negativo")


@_docto_rule("CRP20245", "ObjetoImpDR del catálogo c_ObjetoImp")
def objeto_cat(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
    value = docto.get("ObjetoImpDR")
    if value not in catalogs.keys("c_ObjetoImp"):
        return [r.finding(f"ObjetoImpDR {value} no está en el catálogo c_ObjetoImp.",
                          docto.at("ObjetoImpDR"))]
    return []


@_docto_rule("CRP20246", "ImpuestosDR requerido con ObjetoImpDR 02")
def objeto_02(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
    if docto.get("ObjetoImpDR") == "02" and ctx.impuestos_dr(docto) is None:
        return [r.finding("Con ObjetoImpDR 02 debe existir ImpuestosDR.",
                          f"{docto.path}/pago20:ImpuestosDR")]
    return []


@_docto_rule("CRP20247", "Sin ImpuestosDR con ObjetoImpDR 01, 03, 04 o 05")
def objeto_sin(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
    if docto.get("ObjetoImpDR") in ("01", "03", "04", "05") and ctx.impuestos_dr(docto) is not None:
        return [r.finding(f"Con ObjetoImpDR {docto.get('ObjetoImpDR')} no debe existir "
                          "ImpuestosDR.", f"{docto.path}/pago20:ImpuestosDR")]
    return []


@_docto_rule("CRP20248", "ImpuestosDR con al menos un traslado o retención")
def impuestos_vacios(r: Rule, ctx: Context, pago: Node, docto: Node) -> list[Finding]:
    imp = ctx.impuestos_dr(docto)
    if imp is None:
        return []
    if not ctx.dr_taxes(docto, "Traslado") and not ctx.dr_taxes(docto, "Retencion"):
        return [r.finding("ImpuestosDR debe incluir traslados y/o retenciones.", imp.path)]
    return []


def _dr_tax_rule(code: str, title: str, kind: str) -> Callable[
    [Callable[[Rule, Node], list[Finding]]], Rule
]:
    def decorate(fn: Callable[[Rule, Node], list[Finding]]) -> Rule:
        def check(r: Rule, ctx: Context) -> list[Finding]:
            out: list[Finding] = []
            for _pago, docto in ctx.all_doctos():
                for tax in ctx.dr_taxes(docto, kind):
                    out.extend(fn(r, tax))
            return out

        return rule(code, title)(check)

    return decorate


def _base_positive(r: Rule, tax: Node) -> list[Finding]:
    value = tax.dec("BaseDR")
    if value is None or value <= 0:
        return [r.finding("BaseDR debe ser mayor que cero.", tax.at("BaseDR"))]
    return []


def _impuesto_cat(r: Rule, tax: Node) -> list[Finding]:
    value = tax.get("ImpuestoDR")
    if value not in IMPUESTOS:
        return [r.finding(f"ImpuestoDR {value} no está en el catálogo c_Impuesto.",
                          tax.at("ImpuestoDR"))]
    return []


def _factor_cat(r: Rule, tax: Node) -> list[Finding]:
    value = tax.get("TipoFactorDR")
    if value not in TIPOS_FACTOR:
        return [r.finding(f"TipoFactorDR {value} no está en el catálogo c_TipoFactor.",
                          tax.at("TipoFactorDR"))]
    return []


def _window(r: Rule, tax: Node) -> list[Finding]:
    base_text, imp_text = tax.get("BaseDR"), tax.get("ImporteDR")
    base, tasa, imp = tax.dec("BaseDR"), tax.dec("TasaOCuotaDR"), tax.dec("ImporteDR")
    if base is None or tasa is None or imp is None or tax.get("TipoFactorDR") == "Exento":
        return []
    low, high = importe_window(base, tasa, written_decimals(base_text), written_decimals(imp_text))
    if not low <= imp <= high:
        return [r.finding(f"ImporteDR {imp_text} fuera de los límites {low} a {high} para "
                          f"BaseDR {base_text} por TasaOCuotaDR {tax.get('TasaOCuotaDR')}.",
                          tax.at("ImporteDR"))]
    return []


_dr_tax_rule("CRP20249", "BaseDR de retención mayor que cero", "Retencion")(_base_positive)
_dr_tax_rule("CRP20250", "ImpuestoDR de retención del catálogo", "Retencion")(_impuesto_cat)
_dr_tax_rule("CRP20251", "TipoFactorDR de retención del catálogo", "Retencion")(_factor_cat)


@_dr_tax_rule("CRP20252", "TipoFactorDR de retención distinto de Exento", "Retencion")
def ret_exento(r: Rule, tax: Node) -> list[Finding]:
    if tax.get("TipoFactorDR") == "Exento":
        return [r.finding("Una retención no puede tener TipoFactorDR Exento.",
                          tax.at("TipoFactorDR"))]
    return []


@_dr_tax_rule("CRP20253", "TasaOCuotaDR de retención del catálogo c_TasaOCuota", "Retencion")
def ret_tasa(r: Rule, tax: Node) -> list[Finding]:
    if tax.get("TipoFactorDR") == "Exento":
        return []
    if not tasa_in_catalog("retencion", tax.get("ImpuestoDR"), tax.get("TipoFactorDR"),
                           tax.dec("TasaOCuotaDR")) or written_decimals(
                               tax.get("TasaOCuotaDR")) != 6:
        return [r.finding(f"TasaOCuotaDR {tax.get('TasaOCuotaDR')} de la retención no está en el "
                          "catálogo c_TasaOCuota (o no tiene 6 decimales).",
                          tax.at("TasaOCuotaDR"))]
    return []


_dr_tax_rule("CRP20254", "ImporteDR de retención dentro de los límites", "Retencion")(_window)
_dr_tax_rule("CRP20255", "BaseDR de traslado mayor que cero", "Traslado")(_base_positive)
_dr_tax_rule("CRP20256", "ImpuestoDR de traslado del catálogo", "Traslado")(_impuesto_cat)
_dr_tax_rule("CRP20257", "TipoFactorDR de traslado del catálogo", "Traslado")(_factor_cat)


@_dr_tax_rule("CRP20258", "Traslado Exento sin TasaOCuotaDR ni ImporteDR", "Traslado")
def tra_exento(r: Rule, tax: Node) -> list[Finding]:
    if tax.get("TipoFactorDR") == "Exento" and (tax.has("TasaOCuotaDR") or tax.has("ImporteDR")):
        return [r.finding("Un traslado Exento no lleva TasaOCuotaDR ni ImporteDR.", tax.path)]
    return []


@_dr_tax_rule("CRP20259", "Traslado Tasa o Cuota con TasaOCuotaDR e ImporteDR", "Traslado")
def tra_requeridos(r: Rule, tax: Node) -> list[Finding]:
    if tax.get("TipoFactorDR") in ("Tasa", "Cuota") and not (
        tax.has("TasaOCuotaDR") and tax.has("ImporteDR")
    ):
        return [r.finding("Un traslado Tasa o Cuota debe registrar TasaOCuotaDR e ImporteDR.",
                          tax.path)]
    return []


@_dr_tax_rule("CRP20260", "TasaOCuotaDR de traslado del catálogo c_TasaOCuota", "Traslado")
def tra_tasa(r: Rule, tax: Node) -> list[Finding]:
    if tax.get("TipoFactorDR") not in ("Tasa", "Cuota") or not tax.has("TasaOCuotaDR"):
        return []
    if not tasa_in_catalog("traslado", tax.get("ImpuestoDR"), tax.get("TipoFactorDR"),
                           tax.dec("TasaOCuotaDR")) or written_decimals(
                               tax.get("TasaOCuotaDR")) != 6:
        return [r.finding(f"TasaOCuotaDR {tax.get('TasaOCuotaDR')} del traslado no está en el "
                          "catálogo c_TasaOCuota (o no tiene 6 decimales).",
                          tax.at("TasaOCuotaDR"))]
    return []


_dr_tax_rule("CRP20261", "ImporteDR de traslado dentro de los límites", "Traslado")(_window)


# ------------------------------------------------------------------------ ImpuestosP


def _p_sum_tolerance(ctx: Context, pago: Node, written_text: str | None) -> Decimal:
    """Half a unit of the written value, plus a cent when conversions are involved."""
    tol = Decimal(1).scaleb(-written_decimals(written_text)) / 2
    if any((d.dec("EquivalenciaDR") or money.ONE) != 1 for d in ctx.doctos(pago)):
        tol += Decimal("0.01")
    return tol


def _dr_sums(ctx: Context, pago: Node, kind: str, attr: str,
             match: Callable[[Node], bool]) -> Decimal:
    total = money.ZERO
    with localcontext() as c:
        c.prec = 60
        for docto in ctx.doctos(pago):
            eq = docto.dec("EquivalenciaDR") or money.ONE
            if eq <= 0:
                continue
            for tax in ctx.dr_taxes(docto, kind):
                value = tax.dec(attr)
                if value is not None and match(tax):
                    total += value / eq
    return total


def _same_impuesto(impuesto: str | None, factor: str | None = None) -> Callable[[Node], bool]:
    def match(t: Node) -> bool:
        return t.get("ImpuestoDR") == impuesto and (factor is None
                                                     or t.get("TipoFactorDR") == factor)

    return match


@_pago_rule("CRP20262", "ImpuestoP del catálogo c_Impuesto")
def impuesto_p(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Retencion") + ctx.p_taxes(pago, "Traslado"):
        if tax.get("ImpuestoP") not in IMPUESTOS:
            out.append(r.finding(f"ImpuestoP {tax.get('ImpuestoP')} no está en el catálogo "
                                 "c_Impuesto.", tax.at("ImpuestoP")))
    for _p, docto in ((pago, d) for d in ctx.doctos(pago)):
        for kind in ("Retencion", "Traslado"):
            for tax in ctx.dr_taxes(docto, kind):
                if tax.get("ImpuestoDR") not in IMPUESTOS:
                    out.append(r.finding(f"ImpuestoDR {tax.get('ImpuestoDR')} no está en el "
                                         "catálogo c_Impuesto; no puede sumarse en ImpuestosP.",
                                         tax.at("ImpuestoDR")))
    return out


@_pago_rule("CRP20263", "Un solo registro por impuesto retenido")
def ret_unica(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str | None] = set()
    for tax in ctx.p_taxes(pago, "Retencion"):
        key = tax.get("ImpuestoP")
        if key in seen:
            out.append(r.finding(f"RetencionP repetida para el impuesto {key}.", tax.path))
        seen.add(key)
    for docto in ctx.doctos(pago):
        seen_dr: set[tuple[str | None, ...]] = set()
        for tax in ctx.dr_taxes(docto, "Retencion"):
            key_dr = (tax.get("ImpuestoDR"), tax.get("TipoFactorDR"),
                      str(tax.dec("TasaOCuotaDR")))
            if key_dr in seen_dr:
                out.append(r.finding(f"RetencionDR repetida para el impuesto {key_dr[0]}.",
                                     tax.path))
            seen_dr.add(key_dr)
    return out


@rule("CRP20264", "Con retenciones debe existir algún TotalRetenciones")
def total_ret_existe(r: Rule, ctx: Context) -> list[Finding]:
    totales = ctx.totales()
    if totales is None:
        return []
    has_ret = any(ctx.p_taxes(p, "Retencion") for p in ctx.pago_list()) or any(
        ctx.dr_taxes(d, "Retencion") for _p, d in ctx.all_doctos())
    present = any(totales.has(a) for a in ("TotalRetencionesIVA", "TotalRetencionesISR",
                                           "TotalRetencionesIEPS"))
    if has_ret and not present:
        return [r.finding("Hay retenciones y no se registró TotalRetencionesIVA, ISR ni IEPS.",
                          totales.path)]
    return []


@_pago_rule("CRP20265", "ImporteP de retención igual a la suma de los documentos")
def ret_p_suma(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Retencion"):
        impuesto = tax.get("ImpuestoP")
        written = tax.dec("ImporteP")
        expected = _dr_sums(ctx, pago, "Retencion", "ImporteDR", _same_impuesto(impuesto))
        tol = _p_sum_tolerance(ctx, pago, tax.get("ImporteP"))
        if written is None or abs(written - expected) > tol:
            out.append(r.finding(f"ImporteP {tax.get('ImporteP')} de la retención {impuesto} "
                                 f"no es la suma de los documentos ({money.quantize(expected, 6)}).",
                                 tax.at("ImporteP")))
    # Retentions in the documents with no RetencionP for their tax.
    listed = {t.get("ImpuestoP") for t in ctx.p_taxes(pago, "Retencion")}
    missing = {t.get("ImpuestoDR") for d in ctx.doctos(pago) for t in ctx.dr_taxes(d, "Retencion")}
    for impuesto in sorted(i for i in missing - listed if i):
        out.append(r.finding(f"Falta RetencionP del impuesto {impuesto} retenido en los "
                             "documentos relacionados.", f"{pago.path}/pago20:ImpuestosP"))
    return out


@_pago_rule("CRP20266", "TrasladoP con BaseP, ImpuestoP y TipoFactorP")
def tra_p_campos(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Traslado"):
        missing = [a for a in ("BaseP", "ImpuestoP", "TipoFactorP") if not tax.has(a)]
        if missing:
            out.append(r.finding(f"Al TrasladoP le faltan {', '.join(missing)}.", tax.path))
    return out


@rule("CRP20267", "Con traslados de IVA debe existir algún TotalTrasladosBase")
def total_tra_base(r: Rule, ctx: Context) -> list[Finding]:
    totales = ctx.totales()
    if totales is None:
        return []
    has_iva = any(t.get("ImpuestoP") == "002" for p in ctx.pago_list()
                  for t in ctx.p_taxes(p, "Traslado")) or any(
        t.get("ImpuestoDR") == "002" for _p, d in ctx.all_doctos()
        for t in ctx.dr_taxes(d, "Traslado"))
    present = any(totales.has(a) for a in ("TotalTrasladosBaseIVA16", "TotalTrasladosBaseIVA8",
                                           "TotalTrasladosBaseIVA0",
                                           "TotalTrasladosBaseIVAExento"))
    if has_iva and not present:
        return [r.finding("Hay traslados de IVA y no se registró ningún TotalTrasladosBase.",
                          totales.path)]
    return []


def _same_tras(tax_p: Node) -> Callable[[Node], bool]:
    impuesto, factor, tasa = (tax_p.get("ImpuestoP"), tax_p.get("TipoFactorP"),
                              tax_p.dec("TasaOCuotaP"))

    def match(t: Node) -> bool:
        return (t.get("ImpuestoDR") == impuesto and t.get("TipoFactorDR") == factor
                and t.dec("TasaOCuotaDR") == tasa)

    return match


@_pago_rule("CRP20268", "BaseP de traslado igual a la suma de BaseDR")
def tra_base_suma(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Traslado"):
        if tax.get("TipoFactorP") == "Exento" or not tax.has("BaseP"):
            continue
        expected = _dr_sums(ctx, pago, "Traslado", "BaseDR", _same_tras(tax))
        written = tax.dec("BaseP")
        if written is None or abs(written - expected) > _p_sum_tolerance(ctx, pago,
                                                                        tax.get("BaseP")):
            out.append(r.finding(f"BaseP {tax.get('BaseP')} no es la suma de BaseDR de los "
                                 f"documentos ({money.quantize(expected, 6)}).", tax.at("BaseP")))
    return out


@_pago_rule("CRP20269", "BaseP de traslado exento igual a la suma de BaseDR")
def tra_base_exento(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Traslado"):
        factor = tax.get("TipoFactorP") or tax.get("TipoFactor")
        if factor != "Exento" or not tax.has("BaseP"):
            continue
        impuesto = tax.get("ImpuestoP")
        expected = _dr_sums(ctx, pago, "Traslado", "BaseDR", _same_impuesto(impuesto, "Exento"))
        written = tax.dec("BaseP")
        if written is None or abs(written - expected) > _p_sum_tolerance(ctx, pago,
                                                                        tax.get("BaseP")):
            out.append(r.finding(f"BaseP {tax.get('BaseP')} del traslado exento no es la suma de "
                                 f"BaseDR de los documentos ({money.quantize(expected, 6)}).",
                                 tax.at("BaseP")))
    return out


@_pago_rule("CRP20270", "ImpuestoP de traslado del catálogo c_Impuesto")
def tra_impuesto_p(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    return [r.finding(f"ImpuestoP {t.get('ImpuestoP')} del traslado no está en el catálogo.",
                      t.at("ImpuestoP"))
            for t in ctx.p_taxes(pago, "Traslado") if t.get("ImpuestoP") not in IMPUESTOS]


@_pago_rule("CRP20271", "Un solo TrasladoP por impuesto, factor y tasa")
def tra_unico(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[str | None, str | None, str]] = set()
    for tax in ctx.p_taxes(pago, "Traslado"):
        key = (tax.get("ImpuestoP"), tax.get("TipoFactorP"), str(tax.dec("TasaOCuotaP")))
        if key in seen:
            out.append(r.finding("TrasladoP repetido para la misma combinación de impuesto, "
                                 "factor y tasa.", tax.path))
        seen.add(key)
    for docto in ctx.doctos(pago):
        seen_dr: set[tuple[str | None, str | None, str]] = set()
        for tax in ctx.dr_taxes(docto, "Traslado"):
            key = (tax.get("ImpuestoDR"), tax.get("TipoFactorDR"), str(tax.dec("TasaOCuotaDR")))
            if key in seen_dr:
                out.append(r.finding("TrasladoDR repetido para la misma combinación de impuesto, "
                                     "factor y tasa.", tax.path))
            seen_dr.add(key)
    return out


@_pago_rule("CRP20272", "TasaOCuotaP del catálogo para su impuesto y factor")
def tra_tasa_p(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Traslado"):
        factor = tax.get("TipoFactorP")
        if factor == "Exento" or factor is None:
            continue
        if not tasa_in_catalog("traslado", tax.get("ImpuestoP"), factor, tax.dec("TasaOCuotaP")):
            out.append(r.finding(f"TasaOCuotaP {tax.get('TasaOCuotaP')} no corresponde al "
                                 f"catálogo para el impuesto {tax.get('ImpuestoP')} y factor "
                                 f"{factor}.", tax.at("TasaOCuotaP")))
    return out


@rule("CRP20273", "Con traslados de IVA no exentos debe existir algún TotalTrasladosImpuesto")
def total_tra_imp(r: Rule, ctx: Context) -> list[Finding]:
    totales = ctx.totales()
    if totales is None:
        return []
    has_iva = any(t.get("ImpuestoP") == "002" and t.get("TipoFactorP") not in ("Exento", None)
                  for p in ctx.pago_list() for t in ctx.p_taxes(p, "Traslado")) or any(
        t.get("ImpuestoDR") == "002" and t.get("TipoFactorDR") not in ("Exento", None)
        for _p, d in ctx.all_doctos() for t in ctx.dr_taxes(d, "Traslado"))
    present = any(totales.has(a) for a in ("TotalTrasladosImpuestoIVA16",
                                           "TotalTrasladosImpuestoIVA8",
                                           "TotalTrasladosImpuestoIVA0"))
    if has_iva and not present:
        return [r.finding("Hay traslados de IVA no exentos y no se registró ningún "
                          "TotalTrasladosImpuesto.", totales.path)]
    return []


@_pago_rule("CRP20274", "ImporteP de traslado igual a la suma de ImporteDR")
def tra_imp_suma(r: Rule, ctx: Context, pago: Node) -> list[Finding]:
    out: list[Finding] = []
    for tax in ctx.p_taxes(pago, "Traslado"):
        if tax.get("TipoFactorP") == "Exento":
            continue
        expected = _dr_sums(ctx, pago, "Traslado", "ImporteDR", _same_tras(tax))
        written = tax.dec("ImporteP")
        if written is None:
            out.append(r.finding("Falta ImporteP en un traslado Tasa o Cuota.", tax.at("ImporteP")))
        elif abs(written - expected) > _p_sum_tolerance(ctx, pago, tax.get("ImporteP")):
            out.append(r.finding(f"ImporteP {tax.get('ImporteP')} no es la suma de ImporteDR de "
                                 f"los documentos ({money.quantize(expected, 6)}).",
                                 tax.at("ImporteP")))
    # Taxed documents whose combination has no TrasladoP.
    listed = {(t.get("ImpuestoP"), t.get("TipoFactorP"), t.dec("TasaOCuotaP"))
              for t in ctx.p_taxes(pago, "Traslado")}
    for docto in ctx.doctos(pago):
        for t in ctx.dr_taxes(docto, "Traslado"):
            key = (t.get("ImpuestoDR"), t.get("TipoFactorDR"), t.dec("TasaOCuotaDR"))
            if key not in listed:
                out.append(r.finding("Un traslado de los documentos no tiene su TrasladoP.",
                                     t.path))
                listed.add(key)
    return out
