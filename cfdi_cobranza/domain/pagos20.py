"""Pagos 2.0 amounts: what a payment complement (REP) must say, computed from the ledger.

Pure calculator. Input: the invoices a payment touches (with their tax lines), each
invoice's state before the payment, and the payment itself. Output: immutable records
for every ``DoctoRelacionado`` (balances and ``ImpuestosDR``), every ``Pago`` (with
``ImpuestosP``) and the ``Totales`` of the complement, already rounded the way they are
written. The XML writer (``cfdi_cobranza.cfdi.rep_writer``) only formats them.

Rounding decisions are recorded in ``docs/pagos20-decisions.md``; in short:

* ``BaseDR``/``ImporteDR`` are proportional to ``ImpPagado / Total`` and rounded on the
  *cumulative* paid amount, so the instalments of an invoice add up to its taxes;
  they are kept at the decimals of ``MonedaDR``.
* ``ImpuestosP`` are ``sum(x / EquivalenciaDR)`` rounded to the decimals of ``MonedaP``.
* ``Totales`` are computed from the rounded ``ImpuestosP`` (the values a validator sees)
  times ``TipoCambioP``, summed over all ``Pago`` and rounded to 2 decimals.
* ``EquivalenciaDR`` comes from the day's rates (``TipoCambioP / rate(MonedaDR)``) or an
  explicit override, and the Monto/ImpPagado consistency rules (CRP20217, CRP20276,
  CRP20277) are checked here with the SAT formulas before anything is written, so an
  inconsistent application is refused instead of rejected by the PAC.

Only the standard library, ``money``, ``catalogs``, the plain records of
``domain.cfdi`` and the exception hierarchy are imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, localcontext
from typing import Literal, Protocol

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain import money, rfc
from cfdi_cobranza.domain.cfdi import CfdiRecord, TaxLine
from cfdi_cobranza.errors import ConflictError, ValidationError

TaxKind = Literal["traslado", "retencion"]

ISR = "001"
IVA = "002"
IEPS = "003"

TASA = "Tasa"
CUOTA = "Cuota"
EXENTO = "Exento"

# ObjetoImpDR values for which the SAT forbids ImpuestosDR (CRP20247).
OBJETO_IMP_SIN_IMPUESTOS = frozenset({"01", "03", "04", "05"})

_PRECISION = 60  # Decimal digits for intermediate products; amounts have at most 18+10.


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class InvoiceTax:
    """One tax line of the paid invoice, grouped by (kind, impuesto, tipo factor, tasa)."""

    kind: TaxKind
    impuesto: str
    tipo_factor: str
    tasa_o_cuota: Decimal | None  # None only for Exento
    base: Decimal
    importe: Decimal | None  # None only for Exento

    @property
    def key(self) -> tuple[str, str, str, Decimal | None]:
        return (self.kind, self.impuesto, self.tipo_factor, self.tasa_o_cuota)


@dataclass(frozen=True, slots=True)
class Invoice:
    """The invoice (tipo I, PPD) being paid, as the calculator needs it."""

    uuid: str
    moneda: str
    total: Decimal
    taxes: tuple[InvoiceTax, ...] = ()
    objeto_imp: str = "01"  # ObjetoImpDR to write: "02" when it has taxes
    serie: str | None = None
    folio: str | None = None

    @property
    def has_taxes(self) -> bool:
        return bool(self.taxes)


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """The invoice before this payment, counted over every system that issued REPs."""

    num_parcialidades_previas: int
    imp_saldo_ant: Decimal
    pagado_previo: Decimal  # payments only (credit notes lower the saldo, not this)

    @classmethod
    def first(cls, invoice: Invoice) -> InvoiceState:
        return cls(0, invoice.total, money.ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class CuentasPago:
    """The bank fields of a payment; the c_FormaPago columns say which a form admits."""

    rfc_emisor_cta_ord: str | None = None
    nom_banco_ord_ext: str | None = None
    cta_ordenante: str | None = None
    rfc_emisor_cta_ben: str | None = None
    cta_beneficiario: str | None = None


# The pago20:Pago attribute of each CuentasPago field, in the order the SAT writes them.
CUENTAS_XML = (
    ("RfcEmisorCtaOrd", "rfc_emisor_cta_ord"),
    ("NomBancoOrdExt", "nom_banco_ord_ext"),
    ("CtaOrdenante", "cta_ordenante"),
    ("RfcEmisorCtaBen", "rfc_emisor_cta_ben"),
    ("CtaBeneficiario", "cta_beneficiario"),
)


@dataclass(frozen=True, slots=True)
class PaymentInput(CuentasPago):
    """A payment received, as the bank or the user recorded it."""

    fecha_pago: datetime
    forma_de_pago_p: str
    moneda_p: str
    monto: Decimal
    tipo_cambio_p: Decimal | None = None  # MXN per unit of moneda_p; ignored for MXN
    num_operacion: str | None = None
    tipo_cad_pago: str | None = None
    cert_pago: str | None = None
    cad_pago: str | None = None
    sello_pago: str | None = None


@dataclass(frozen=True, slots=True)
class Application:
    """Part of a payment applied to one invoice, in the invoice's currency."""

    invoice: Invoice
    imp_pagado: Decimal
    state: InvoiceState | None = None  # None: first payment of the invoice
    equivalencia_dr: Decimal | None = None  # override of units of MonedaDR per MonedaP


# -------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class ImpuestoDR:
    kind: TaxKind
    impuesto: str
    tipo_factor: str
    tasa_o_cuota: Decimal | None
    base: Decimal
    importe: Decimal | None
    # How far BaseDR was moved from its proportional value to satisfy the SAT window
    # (CRP20254/CRP20261) or BaseDR > 0; zero in the usual case.
    ajuste_base: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class AplicacionDR:
    """What a payment does to one document (MonedaDR); ``payments.ApplicationLine`` too."""

    serie: str | None
    folio: str | None
    moneda_dr: str
    equivalencia_dr: Decimal
    num_parcialidad: int
    imp_saldo_ant: Decimal
    imp_pagado: Decimal
    imp_saldo_insoluto: Decimal


@dataclass(frozen=True, slots=True)
class DoctoRelacionado(AplicacionDR):
    id_documento: str
    objeto_imp_dr: str
    impuestos: tuple[ImpuestoDR, ...] = ()
    state_after: InvoiceState | None = None

    @property
    def traslados(self) -> tuple[ImpuestoDR, ...]:
        return tuple(t for t in self.impuestos if t.kind == "traslado")

    @property
    def retenciones(self) -> tuple[ImpuestoDR, ...]:
        return tuple(t for t in self.impuestos if t.kind == "retencion")


@dataclass(frozen=True, slots=True)
class TrasladoP:
    impuesto: str
    tipo_factor: str
    tasa_o_cuota: Decimal | None
    base: Decimal
    importe: Decimal | None


@dataclass(frozen=True, slots=True)
class RetencionP:
    impuesto: str
    importe: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Pago(PaymentInput):
    """The payment as written: TipoCambioP set, amounts at their decimals, its documents."""

    tipo_cambio_p: Decimal
    doctos: tuple[DoctoRelacionado, ...]
    traslados_p: tuple[TrasladoP, ...] = ()
    retenciones_p: tuple[RetencionP, ...] = ()


@dataclass(frozen=True, slots=True)
class Totales:
    monto_total_pagos: Decimal
    total_retenciones_iva: Decimal | None = None
    total_retenciones_isr: Decimal | None = None
    total_retenciones_ieps: Decimal | None = None
    total_traslados_base_iva16: Decimal | None = None
    total_traslados_impuesto_iva16: Decimal | None = None
    total_traslados_base_iva8: Decimal | None = None
    total_traslados_impuesto_iva8: Decimal | None = None
    total_traslados_base_iva0: Decimal | None = None
    total_traslados_impuesto_iva0: Decimal | None = None
    total_traslados_base_iva_exento: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Complemento:
    """The whole ``pago20:Pagos`` node: one or more Pago and their Totales."""

    pagos: tuple[Pago, ...]
    totales: Totales = field(default_factory=lambda: Totales(money.ZERO))


# --------------------------------------- catalog keys and amounts of a Pago, its documents


def forma_de_pago_valida(forma: str) -> bool:
    """CRP20212: a current c_FormaPago key, never 99 (Por definir)."""
    return forma != "99" and catalogs.is_current_forma_pago(forma)


def moneda_valida(moneda: str | None) -> bool:
    """CRP20213 (MonedaP) and CRP20236 (MonedaDR): a c_Moneda key other than XXX."""
    return moneda is not None and moneda != "XXX" and money.is_currency(moneda)


def monto_problems(moneda_p: str | None, tipo_cambio_p: Decimal | None,
                   monto: Decimal | None) -> list[str]:
    """The rules CRP20214 (TipoCambioP required unless MonedaP is MXN), CRP20215 (and then 1),
    CRP20218 (Monto > 0) and CRP20219 (Monto's decimals as written, MonedaP's at most)."""
    d = catalogs.currency_decimals().get(moneda_p or "")
    return [code for code, broken in (
        ("CRP20214", moneda_p not in (None, "MXN", "XXX") and tipo_cambio_p is None),
        ("CRP20215", moneda_p == "MXN" and tipo_cambio_p != 1),
        ("CRP20218", monto is None or monto <= 0),
        ("CRP20219", d is not None and monto is not None and money.decimals_in(monto) > d),
    ) if broken]


@dataclass(frozen=True, slots=True)
class ImportesDR:
    """A DoctoRelacionado's currencies and amounts as written (None: absent)."""

    moneda_p: str | None = None
    moneda_dr: str | None = None
    equivalencia_dr: Decimal | None = None
    imp_saldo_ant: Decimal | None = None
    imp_pagado: Decimal | None = None
    imp_saldo_insoluto: Decimal | None = None


def docto_dr_problems(dr: ImportesDR) -> list[tuple[str, str]]:
    """The rules CRP20237-44 a DoctoRelacionado breaks, as (SAT code, attribute), in the
    order a caller that raises takes them. Planner, pre-sign check and validator word them."""
    d = catalogs.currency_decimals().get(dr.moneda_dr or "")
    ant, pagado, insoluto = dr.imp_saldo_ant, dr.imp_pagado, dr.imp_saldo_insoluto
    out: list[tuple[str, str]] = []
    for attr, value, positive, decimals in (("ImpPagado", pagado, "CRP20241", "CRP20242"),
                                            ("ImpSaldoAnt", ant, "CRP20239", "CRP20240"),
                                            ("ImpSaldoInsoluto", insoluto, "", "CRP20243")):
        if positive and (value is None or value <= 0):
            out.append((positive, attr))
        if d is not None and value is not None and money.decimals_in(value) > d:
            out.append((decimals, attr))
    if insoluto is None or insoluto < 0 or (ant is not None and pagado is not None
                                            and insoluto != ant - pagado):
        out.append(("CRP20244", "ImpSaldoInsoluto"))
    if dr.moneda_dr != dr.moneda_p and dr.equivalencia_dr is None:
        out.append(("CRP20237", "EquivalenciaDR"))
    elif dr.moneda_dr == dr.moneda_p and dr.equivalencia_dr != 1:
        out.append(("CRP20238", "EquivalenciaDR"))
    return out


# ------------------------------------------------------------------ bank fields


@dataclass(frozen=True, slots=True)
class BankProblem:
    """A CRP20221-CRP20235 rule a Pago breaks: SAT code, the attribute (XML name) and why."""

    code: str
    attribute: str
    field: str  # the attribute's name in the records (rfc_emisor_cta_ord ...)
    message: str
    pattern: str | None = None  # the c_FormaPago pattern an account fails (CRP20225/26)


_CUENTAS = (
    # (attribute, record field, code when not allowed, code when off-pattern, catalog column)
    ("RfcEmisorCtaOrd", "rfc_emisor_cta_ord", "CRP20221", None, "rfc_emisor_cta_ord"),
    ("CtaOrdenante", "cta_ordenante", "CRP20224", "CRP20225", "patron_cta_ordenante"),
    ("RfcEmisorCtaBen", "rfc_emisor_cta_ben", "CRP20227", None, "rfc_emisor_cta_ben"),
    ("CtaBeneficiario", "cta_beneficiario", "CRP20228", "CRP20226", "patron_cta_beneficiario"),
)


def bank_field_problems(forma: str | None, cuentas: CuentasPago) -> list[BankProblem]:
    """The rules CRP20221-CRP20228 a Pago breaks, read from the c_FormaPago columns.

    A bank field is allowed only when its column is set for the payment form; an account
    must match the column's pattern whole. NomBancoOrdExt is required with the foreign
    RfcEmisorCtaOrd XEXX010101000 (CRP20223). One predicate for the payment form, the
    pre-sign check and the XML validator.
    """
    forma = forma or ""
    columns = catalogs.forma_pago_accounts(forma) or {}
    out: list[BankProblem] = []
    for attribute, name, code_forbidden, code_pattern, column in _CUENTAS:
        value: str | None = getattr(cuentas, name)
        if value is None:
            continue
        allowed = columns.get(column)
        if not allowed:
            out.append(BankProblem(code_forbidden, attribute, name,
                                   f"El campo {attribute} no se debe registrar con la forma de pago {forma}."))
        elif code_pattern is not None and not re.fullmatch(f"(?:{allowed})", value):
            out.append(BankProblem(code_pattern, attribute, name,
                                   f"El campo {attribute} ({value}) no cumple el patrón {allowed}.",
                                   str(allowed)))
    if cuentas.rfc_emisor_cta_ord == rfc.GENERICO_EXTRANJERO and cuentas.nom_banco_ord_ext is None:
        out.append(BankProblem("CRP20223", "NomBancoOrdExt", "nom_banco_ord_ext",
                               "Falta NomBancoOrdExt: el banco ordenante es extranjero."))
    return out


CADENA_PAGO = (  # (attribute, field, code when missing, code when not allowed)
    ("CertPago", "cert_pago", "CRP20230", "CRP20231"),
    ("CadPago", "cad_pago", "CRP20232", "CRP20233"),
    ("SelloPago", "sello_pago", "CRP20234", "CRP20235"),
)


def cadena_pago_problems(forma: str | None, tipo: str | None, cert_pago: str | None,
                         cad_pago: str | None, sello_pago: str | None) -> list[BankProblem]:
    """The rules CRP20229-CRP20235: TipoCadPago only where c_FormaPago admits it, and
    CertPago, CadPago and SelloPago exactly when TipoCadPago is there."""
    values = {"cert_pago": cert_pago, "cad_pago": cad_pago, "sello_pago": sello_pago}
    out: list[BankProblem] = []
    if tipo is not None and not (catalogs.forma_pago_accounts(forma or "") or {}).get("tipo_cad_pago"):
        out.append(BankProblem("CRP20229", "TipoCadPago", "tipo_cad_pago",
                               f"El campo TipoCadPago no se debe registrar con la forma de pago {forma}."))
    for attribute, name, code_required, code_forbidden in CADENA_PAGO:
        present = values[name] is not None
        if tipo is not None and not present:
            out.append(BankProblem(code_required, attribute, name,
                                   f"Falta {attribute}: se registró TipoCadPago."))
        elif tipo is None and present:
            out.append(BankProblem(code_forbidden, attribute, name,
                                   f"El campo {attribute} no se debe registrar sin TipoCadPago."))
    return out


# ------------------------------------------------------------ building the inputs


def group_taxes(lines: Iterable[TaxLine]) -> tuple[InvoiceTax, ...]:
    """Group CFDI tax lines by (kind, impuesto, tipo factor, tasa), summing base and importe.

    Lines without a base (document-level retenciones) are skipped: they cannot give a
    proportional base, the concept lines must be used instead.
    """
    order: list[tuple[str, str, str, Decimal | None]] = []
    bases: dict[tuple[str, str, str, Decimal | None], Decimal] = {}
    importes: dict[tuple[str, str, str, Decimal | None], Decimal | None] = {}
    for line in lines:
        if line.base is None or line.tipo_factor is None:
            continue
        kind = "retencion" if line.kind == "retencion" else "traslado"
        tasa = None if line.tipo_factor == EXENTO else line.tasa_o_cuota
        key = (kind, line.impuesto, line.tipo_factor, _norm_tasa(tasa))
        if key not in bases:
            order.append(key)
            bases[key] = money.ZERO
            importes[key] = None
        bases[key] += line.base
        if line.importe is not None and line.tipo_factor != EXENTO:
            importes[key] = (importes[key] or money.ZERO) + line.importe
    result: list[InvoiceTax] = []
    for key in order:
        kind_s, impuesto, tipo_factor, tasa = key
        importe = importes[key]
        if tipo_factor != EXENTO and importe is None:
            importe = money.ZERO
        result.append(
            InvoiceTax(
                kind="retencion" if kind_s == "retencion" else "traslado",
                impuesto=impuesto,
                tipo_factor=tipo_factor,
                tasa_o_cuota=tasa,
                base=bases[key],
                importe=importe,
            )
        )
    return tuple(result)


def invoice_taxes(
    document_taxes: Sequence[TaxLine], concept_taxes: Sequence[TaxLine]
) -> tuple[InvoiceTax, ...]:
    """Tax lines of an invoice for Pagos 2.0.

    Traslados come from the document-level ``Impuestos`` node when it has them (CFDI 4.0
    writes Base there); otherwise, and always for retenciones (the document node carries
    no base or rate for them), from the concept lines.
    """
    doc_traslados = [t for t in document_taxes if t.kind != "retencion" and t.base is not None]
    traslados = doc_traslados or [t for t in concept_taxes if t.kind != "retencion"]
    retenciones = [t for t in concept_taxes if t.kind == "retencion"]
    if not retenciones:
        retenciones = [t for t in document_taxes if t.kind == "retencion" and t.base is not None]
    return group_taxes(traslados) + group_taxes(retenciones)


def derive_objeto_imp(concept_objeto_imp: Iterable[str | None], has_taxes: bool) -> str:
    """ObjetoImpDR for an invoice: 02 when it breaks taxes down, else its concepts' value."""
    if has_taxes:
        return "02"
    values = [v for v in concept_objeto_imp if v]
    for preferred in ("03", "04", "05", "06", "07", "08"):
        if preferred in values:
            return preferred
    return "01"


@dataclass(frozen=True, slots=True)
class InvoiceParts:
    """What the calculator reads of an invoice, as written in it (nothing derived yet):
    its identity, its document-level tax lines and each concept's (ObjetoImp, tax lines).
    ``invoice()`` derives the calculator's view, ``Invoice``."""

    uuid: str
    serie: str | None
    folio: str | None
    moneda: str
    total: Decimal
    document_taxes: tuple[TaxLine, ...]
    concepts: tuple[tuple[str | None, tuple[TaxLine, ...]], ...]

    @classmethod
    def of_record(cls, record: CfdiRecord) -> InvoiceParts:
        return cls(uuid=record.uuid, serie=record.serie, folio=record.folio, moneda=record.moneda,
                   total=record.total, document_taxes=tuple(record.taxes),
                   concepts=tuple((c.objeto_imp, tuple(c.taxes)) for c in record.concepts))

    def invoice(self) -> Invoice:
        return invoice_from_parts(uuid=self.uuid, serie=self.serie, folio=self.folio, moneda=self.moneda,
                                  total=self.total, document_taxes=self.document_taxes, concepts=self.concepts)


def invoice_from_record(record: CfdiRecord) -> Invoice:
    """The calculator's view of an imported invoice (CFDI 4.0 or 3.3)."""
    return InvoiceParts.of_record(record).invoice()


def invoice_from_parts(
    *,
    uuid: str,
    serie: str | None,
    folio: str | None,
    moneda: str,
    total: Decimal,
    document_taxes: Sequence[TaxLine],
    concepts: Iterable[tuple[str | None, Sequence[TaxLine]]],
) -> Invoice:
    """``invoice_from_record`` from just the parts it reads: the invoice's identity, its
    document-level tax lines and each concept's (ObjetoImp, tax lines)."""
    concepts = list(concepts)
    concept_lines = [t for objeto, lines in concepts if objeto in (None, "02") for t in lines]
    taxes = invoice_taxes(document_taxes, concept_lines)
    return Invoice(
        uuid=uuid.upper(),
        serie=serie,
        folio=folio,
        moneda=moneda,
        total=total,
        taxes=taxes,
        objeto_imp=derive_objeto_imp((objeto for objeto, _lines in concepts), bool(taxes)),
    )


# ------------------------------------------------------------- shared SAT formulas


def importe_window(
    base: Decimal, tasa: Decimal, base_decimals: int, importe_decimals: int
) -> tuple[Decimal, Decimal]:
    """Limits of ImporteDR the SAT accepts for ``base`` x ``tasa`` (CRP20254, CRP20261).

    lower = (base - 10^-d/2) x tasa truncated, upper = (base + 10^-d/2 - 10^-12) x tasa
    rounded up; d = decimals of the base, truncation/rounding at the importe's decimals.
    """
    half = Decimal(1).scaleb(-base_decimals) / 2
    unit = Decimal(1).scaleb(-importe_decimals)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        low = ((base - half) * tasa).quantize(unit, rounding=ROUND_DOWN)
        high = ((base + half - Decimal("1e-12")) * tasa).quantize(unit, rounding=ROUND_CEILING)
    return max(low, money.ZERO), high


def converted_limits(
    imp_pagado: Decimal, equivalencia: Decimal, pagado_decimals: int, eq_decimals: int
) -> tuple[Decimal, Decimal]:
    """Lower and upper value of ImpPagado in MonedaP given the rounding of both (CRP20276)."""
    half_p = Decimal(1).scaleb(-pagado_decimals) / 2
    half_e = Decimal(1).scaleb(-eq_decimals) / 2
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        low = (imp_pagado - half_p) / (equivalencia + half_e)
        denom = equivalencia - half_e
        high = (imp_pagado + half_p) / denom if denom > 0 else Decimal("Infinity")
    return low, high


@dataclass(frozen=True, slots=True)
class PaidAmount:
    """One DoctoRelacionado as the Monto checks read it, with the decimals as written."""

    moneda_dr: str
    imp_pagado: Decimal
    equivalencia_dr: Decimal
    decimales_pagado: int
    decimales_equivalencia: int


def monto_consistency_error(moneda_p: str, monto: Decimal, doctos: Sequence[PaidAmount]) -> str | None:
    """Which of CRP20217/CRP20276 a Pago breaks, or None.

    CRP20277: with more than one document and at least one in MonedaP, an
    EquivalenciaDR of 1 counts as written with 10 decimals.
    """
    if not doctos:
        return None
    if all(d.moneda_dr == moneda_p for d in doctos):
        total = sum((d.imp_pagado for d in doctos), money.ZERO)
        return "CRP20217" if total > monto else None
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        converted = sum((d.imp_pagado / d.equivalencia_dr for d in doctos if d.equivalencia_dr > 0), money.ZERO)
        if converted <= monto:
            return None
        any_same = any(d.moneda_dr == moneda_p for d in doctos)
        low_sum = money.ZERO
        high_sum = money.ZERO
        for d in doctos:
            eq, d_eq = d.equivalencia_dr, d.decimales_equivalencia
            if eq <= 0:
                continue
            if len(doctos) > 1 and any_same and eq == 1:
                d_eq = money.SCALE_EQUIVALENCIA_DR
            if d.moneda_dr == moneda_p and eq == 1:
                low_sum += d.imp_pagado
                high_sum += d.imp_pagado
                continue
            low, high = converted_limits(d.imp_pagado, eq, d.decimales_pagado, d_eq)
            low_sum += low
            high_sum += high
    if low_sum <= monto <= high_sum:
        return None
    return "CRP20277" if any_same and len(doctos) > 1 else "CRP20276"


# -------------------------------------------------------------------- calculation


def _norm_tasa(tasa: Decimal | None) -> Decimal | None:
    return None if tasa is None else money.quantize(tasa, 6)


def _cumulative(value: Decimal, before: Decimal, after: Decimal, total: Decimal, d: int) -> Decimal:
    """round(value x after/total) - round(value x before/total): telescoping instalments."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        upto_after = money.quantize(value * after / total, d)
        upto_before = money.quantize(value * before / total, d)
    return upto_after - upto_before


def _fit_base_to_window(base: Decimal, importe: Decimal, tasa: Decimal, d: int) -> Decimal:
    """The base closest to ``base`` for which ImporteDR lies in the SAT window.

    Needed only when the invoice's own importe is not base x tasa to the cent (many
    concept lines each rounded): ImporteDR keeps telescoping exactly and the base,
    which nothing else ties to the invoice, absorbs the difference.
    """
    if tasa <= 0:
        return base
    low, high = importe_window(base, tasa, d, d)
    if low <= importe <= high:
        return base
    unit = Decimal(1).scaleb(-d)
    half = unit / 2
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        # importe in window <=> (base - half) * tasa < importe + unit
        #                   and (base + half - 1e-12) * tasa > importe - unit
        upper = (importe + unit) / tasa + half
        lower = (importe - unit) / tasa - half + Decimal("1e-12")
    if base > upper:
        candidate = upper.quantize(unit, rounding=ROUND_DOWN)
        steps = (-1, -2, 0)
    else:
        candidate = lower.quantize(unit, rounding=ROUND_CEILING)
        steps = (1, 2, 0)
    for delta in (0, *steps):
        trial = candidate + unit * delta
        if trial <= 0:
            continue
        low, high = importe_window(trial, tasa, d, d)
        if low <= importe <= high:
            return trial
    return base


def _taxes_for(invoice: Invoice, before: Decimal, after: Decimal, d: int) -> tuple[ImpuestoDR, ...]:
    result: list[ImpuestoDR] = []
    unit = Decimal(1).scaleb(-d)
    for tax in invoice.taxes:
        base = _cumulative(tax.base, before, after, invoice.total, d)
        importe: Decimal | None = None
        ajuste = money.ZERO
        if tax.tipo_factor != EXENTO:
            importe = _cumulative(tax.importe or money.ZERO, before, after, invoice.total, d)
            if tax.tasa_o_cuota is not None and base > 0:
                fitted = _fit_base_to_window(base, importe, tax.tasa_o_cuota, d)
                ajuste, base = fitted - base, fitted
        if base <= 0:
            # A tiny instalment of a small tax line: the SAT wants BaseDR > 0.
            ajuste, base = ajuste + unit - base, unit
        result.append(
            ImpuestoDR(
                kind=tax.kind,
                impuesto=tax.impuesto,
                tipo_factor=tax.tipo_factor,
                tasa_o_cuota=None if tax.tipo_factor == EXENTO else tax.tasa_o_cuota,
                base=base,
                importe=importe,
                ajuste_base=ajuste,
            )
        )
    return tuple(result)


def equivalencia_from_rates(
    moneda_p: str,
    tipo_cambio_p: Decimal,
    moneda_dr: str,
    rates: Mapping[str, Decimal] | None,
) -> Decimal:
    """Units of MonedaDR per unit of MonedaP, 10 decimals (1 when both are equal)."""
    if moneda_dr == moneda_p:
        return money.ONE
    if moneda_dr == "MXN":
        rate_dr = money.ONE
    else:
        found = (rates or {}).get(moneda_dr)
        if found is None or found <= 0:
            raise ValidationError(
                f"Falta el tipo de cambio de {moneda_dr} a la fecha del pago para calcular "
                "la EquivalenciaDR.",
                code="PAGOS20_SIN_TIPO_CAMBIO",
                moneda=moneda_dr,
            )
        rate_dr = found
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        eq = tipo_cambio_p / rate_dr
    return normalize_decimal(money.quantize(eq, money.SCALE_EQUIVALENCIA_DR))


def normalize_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (``1.50`` -> ``1.5``)."""
    if value == value.to_integral_value():
        return value.quantize(money.ONE)
    return value.normalize()


def imp_pagado_for(monto_p: Decimal, equivalencia: Decimal, moneda_dr: str) -> Decimal:
    """Largest ImpPagado (in MonedaDR) that ``monto_p`` covers at ``equivalencia``.

    Rounded down, so ImpPagado / EquivalenciaDR never exceeds the Monto and CRP20276
    holds without relying on its margin.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = monto_p * equivalencia
    unit = Decimal(1).scaleb(-money.currency_decimals(moneda_dr))
    return value.quantize(unit, rounding=ROUND_DOWN)


def monto_for(imp_pagado: Decimal, equivalencia: Decimal, moneda_p: str) -> Decimal:
    """Smallest Monto (in MonedaP) that covers ``imp_pagado`` at ``equivalencia`` (rounded up)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = imp_pagado / equivalencia
    unit = Decimal(1).scaleb(-money.currency_decimals(moneda_p))
    return value.quantize(unit, rounding=ROUND_CEILING)


def compute_docto(
    application: Application,
    moneda_p: str,
    tipo_cambio_p: Decimal,
    rates: Mapping[str, Decimal] | None = None,
) -> DoctoRelacionado:
    """One DoctoRelacionado: balances, ImpuestosDR and EquivalenciaDR."""
    invoice = application.invoice
    state = application.state or InvoiceState.first(invoice)
    moneda_dr = invoice.moneda
    if not moneda_valida(moneda_dr):
        raise ValidationError(
            f"La moneda {moneda_dr} de la factura {invoice.uuid} no es válida para un pago.",
            code="CRP20236",
        )
    d = money.currency_decimals(moneda_dr)
    saldo_ant = money.quantize(state.imp_saldo_ant, d)
    pagado = money.quantize(application.imp_pagado, d)
    insoluto = saldo_ant - pagado
    eq_in = application.equivalencia_dr  # None: taken from the rates below, right by construction
    problems = docto_dr_problems(ImportesDR(moneda_p, moneda_dr, money.ONE if eq_in is None else
                                            eq_in, saldo_ant, application.imp_pagado.normalize(),
                                            insoluto))
    if problems:
        code = problems[0][0]
        raise (ConflictError if code in ("CRP20239", "CRP20244") else ValidationError)({
            "CRP20241": f"El importe pagado a la factura {invoice.uuid} debe ser mayor que cero.",
            "CRP20242": f"El importe pagado {application.imp_pagado} tiene más decimales de los "
                        f"que admite {moneda_dr}.",
            "CRP20239": f"La factura {invoice.uuid} no tiene saldo pendiente.",
            "CRP20244": f"El pago de {pagado} {moneda_dr} excede el saldo de {saldo_ant} "
                        f"{moneda_dr} de la factura {invoice.uuid}.",
            "CRP20238": "La EquivalenciaDR debe ser 1 cuando la factura y el pago tienen la misma "
                        "moneda.",
        }[code], code=code)
    parcialidad = state.num_parcialidades_previas + 1
    if parcialidad > 999:
        raise ConflictError(
            f"La factura {invoice.uuid} ya tiene 999 parcialidades.", code="PAGOS20_PARCIALIDAD"
        )
    if eq_in is not None:
        if eq_in <= 0:
            raise ValidationError("La EquivalenciaDR debe ser mayor que cero.", code="CRP20237")
        eq = normalize_decimal(money.quantize(eq_in, money.SCALE_EQUIVALENCIA_DR))
    else:
        eq = equivalencia_from_rates(moneda_p, tipo_cambio_p, moneda_dr, rates)

    before = state.pagado_previo
    after = before + pagado
    impuestos: tuple[ImpuestoDR, ...] = ()
    if invoice.objeto_imp == "02" and invoice.taxes and invoice.total > 0:
        impuestos = _taxes_for(invoice, before, after, d)
    objeto = invoice.objeto_imp
    if objeto == "02" and not impuestos:
        # An invoice marked 02 without tax lines cannot carry ImpuestosDR (CRP20246).
        objeto = "01"
    return DoctoRelacionado(
        id_documento=invoice.uuid,
        serie=invoice.serie,
        folio=invoice.folio,
        moneda_dr=moneda_dr,
        equivalencia_dr=eq,
        num_parcialidad=parcialidad,
        imp_saldo_ant=saldo_ant,
        imp_pagado=pagado,
        imp_saldo_insoluto=insoluto,
        objeto_imp_dr=objeto,
        impuestos=impuestos,
        state_after=InvoiceState(parcialidad, insoluto, after),
    )


def _check_payment(payment: PaymentInput) -> tuple[Decimal, Decimal]:
    """Validate the Pago-level fields; return (TipoCambioP, Monto) as they will be written."""
    forma = payment.forma_de_pago_p
    if not forma_de_pago_valida(forma):
        raise ValidationError(
            f"La forma de pago {forma} no es válida en un complemento de pago.", code="CRP20212"
        )
    moneda = payment.moneda_p
    if not moneda_valida(moneda):
        raise ValidationError(f"La moneda de pago {moneda} no es válida.", code="CRP20213")
    tc_in = payment.tipo_cambio_p  # a rate not above zero counts as missing; MXN is written 1
    problems = [c for c in monto_problems(moneda, tc_in if tc_in is None or tc_in > 0 else None,
                                          payment.monto.normalize()) if c != "CRP20215"]
    if problems:
        raise ValidationError({
            "CRP20214": f"Falta el tipo de cambio del pago en {moneda}.",
            "CRP20218": "El monto del pago debe ser mayor que cero.",
            "CRP20219": f"El monto {payment.monto} tiene más decimales de los que admite {moneda}.",
        }[problems[0]], code=problems[0])
    tipo_cambio = money.ONE if moneda == "MXN" or tc_in is None else normalize_decimal(
        money.quantize(tc_in, money.SCALE_TIPO_CAMBIO_P))
    _check_bank_fields(payment)
    return tipo_cambio, money.quantize(payment.monto, money.currency_decimals(moneda))


def _check_bank_fields(payment: PaymentInput) -> None:
    forma = payment.forma_de_pago_p
    problems = bank_field_problems(forma, payment) + cadena_pago_problems(
        forma, payment.tipo_cad_pago, payment.cert_pago, payment.cad_pago, payment.sello_pago)
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code)


def _impuestos_p(
    doctos: Sequence[DoctoRelacionado], moneda_p: str
) -> tuple[tuple[TrasladoP, ...], tuple[RetencionP, ...]]:
    d = money.currency_decimals(moneda_p)
    tras_order: list[tuple[str, str, Decimal | None]] = []
    tras_base: dict[tuple[str, str, Decimal | None], Decimal] = {}
    tras_imp: dict[tuple[str, str, Decimal | None], Decimal | None] = {}
    ret_order: list[str] = []
    ret_imp: dict[str, Decimal] = {}
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for docto in doctos:
            eq = docto.equivalencia_dr
            for tax in docto.impuestos:
                if tax.kind == "retencion":
                    if tax.impuesto not in ret_imp:
                        ret_order.append(tax.impuesto)
                        ret_imp[tax.impuesto] = money.ZERO
                    ret_imp[tax.impuesto] += (tax.importe or money.ZERO) / eq
                    continue
                key = (tax.impuesto, tax.tipo_factor, _norm_tasa(tax.tasa_o_cuota))
                if key not in tras_base:
                    tras_order.append(key)
                    tras_base[key] = money.ZERO
                    tras_imp[key] = None
                tras_base[key] += tax.base / eq
                if tax.importe is not None:
                    tras_imp[key] = (tras_imp[key] or money.ZERO) + tax.importe / eq
    traslados = tuple(
        TrasladoP(
            impuesto=k[0],
            tipo_factor=k[1],
            tasa_o_cuota=k[2],
            base=money.quantize(tras_base[k], d),
            importe=None if tras_imp[k] is None else money.quantize(tras_imp[k] or money.ZERO, d),
        )
        for k in tras_order
    )
    retenciones = tuple(
        RetencionP(impuesto=k, importe=money.quantize(ret_imp[k], d)) for k in ret_order
    )
    return traslados, retenciones


def compute_pago(
    payment: PaymentInput,
    applications: Sequence[Application],
    *,
    rates: Mapping[str, Decimal] | None = None,
) -> Pago:
    """One ``Pago``: its DoctoRelacionado, ImpuestosP and the Monto consistency check.

    ``rates`` gives MXN per unit of a currency on the payment date; only needed when a
    document is in a currency other than MXN and MonedaP and has no explicit override.
    """
    if not applications:
        raise ValidationError(
            "Un pago del complemento debe relacionar al menos una factura.",
            code="PAGOS20_SIN_DOCUMENTOS",
        )
    tipo_cambio, monto = _check_payment(payment)
    doctos = tuple(compute_docto(a, payment.moneda_p, tipo_cambio, rates) for a in applications)
    seen: set[str] = set()
    for docto in doctos:
        if docto.id_documento.upper() in seen:
            raise ValidationError(
                f"La factura {docto.id_documento} aparece dos veces en el mismo pago.",
                code="PAGOS20_DUPLICADO",
            )
        seen.add(docto.id_documento.upper())
    error = monto_consistency_error(
        payment.moneda_p,
        monto,
        [
            PaidAmount(
                d.moneda_dr,
                d.imp_pagado,
                d.equivalencia_dr,
                money.currency_decimals(d.moneda_dr),
                money.decimals_in(d.equivalencia_dr),
            )
            for d in doctos
        ],
    )
    if error is not None:
        raise ConflictError(
            f"Lo aplicado a las facturas excede el monto del pago ({monto} {payment.moneda_p}).",
            code=error,
        )
    traslados, retenciones = _impuestos_p(doctos, payment.moneda_p)
    written = {f.name: getattr(payment, f.name) for f in fields(payment)}
    written.update(fecha_pago=payment.fecha_pago.replace(microsecond=0, tzinfo=None),
                   tipo_cambio_p=tipo_cambio, monto=monto)
    return Pago(**written, doctos=doctos, traslados_p=traslados, retenciones_p=retenciones)


_IVA16 = Decimal("0.160000")
_IVA8 = Decimal("0.080000")
_IVA0 = Decimal("0.000000")


class PagoImportes(Protocol):
    """What Totales are computed from: a ``Pago``, or the amounts an XML Pago writes."""

    @property
    def tipo_cambio_p(self) -> Decimal: ...
    @property
    def monto(self) -> Decimal: ...
    @property
    def traslados_p(self) -> Sequence[TrasladoP]: ...
    @property
    def retenciones_p(self) -> Sequence[RetencionP]: ...


def compute_totales(pagos: Iterable[PagoImportes]) -> Totales:
    """Totales in MXN from the written ImpuestosP x TipoCambioP, rounded to 2 decimals.

    The writer computes them from its ``Pago`` records and the validator (CRP20201-11)
    from the amounts the XML carries: one calculator, so they cannot drift. A total is
    None when no Pago has a tax of its kind.
    """
    sums: dict[str, Decimal] = {}

    def add(name: str, value: Decimal) -> None:
        sums[name] = sums.get(name, money.ZERO) + value

    with localcontext() as ctx:
        ctx.prec = _PRECISION
        monto_total = money.ZERO
        for pago in pagos:
            tc = pago.tipo_cambio_p
            monto_total += pago.monto * tc
            for ret in pago.retenciones_p:
                name = {IVA: "total_retenciones_iva", ISR: "total_retenciones_isr",
                        IEPS: "total_retenciones_ieps"}.get(ret.impuesto)
                if name:
                    add(name, ret.importe * tc)
            for tra in pago.traslados_p:
                if tra.impuesto != IVA:
                    continue
                if tra.tipo_factor == EXENTO:
                    add("total_traslados_base_iva_exento", tra.base * tc)
                    continue
                if tra.tipo_factor != TASA or tra.tasa_o_cuota is None:
                    continue
                suffix = {_IVA16: "iva16", _IVA8: "iva8", _IVA0: "iva0"}.get(
                    _norm_tasa(tra.tasa_o_cuota) or money.ZERO
                )
                if suffix is None:
                    continue
                add(f"total_traslados_base_{suffix}", tra.base * tc)
                add(f"total_traslados_impuesto_{suffix}", (tra.importe or money.ZERO) * tc)
    rounded = {k: money.quantize(v, money.SCALE_TOTALES) for k, v in sums.items()}
    return Totales(
        monto_total_pagos=money.quantize(monto_total, money.SCALE_TOTALES),
        **rounded,
    )


@dataclass(frozen=True, slots=True)
class PaymentGroup:
    """One payment with its applications and the day's rates (MXN per unit)."""

    payment: PaymentInput
    applications: tuple[Application, ...]
    rates: Mapping[str, Decimal] | None = None


def build_complement(payments: Sequence[PaymentGroup]) -> Complemento:
    """The complement for one or more payments (e.g. a customer's month).

    When the same invoice appears in several payments of the complement and the caller
    gave no state for a later application, it continues from the state the earlier one
    left (parcialidad, saldo and paid-to-date). A state the caller gives is kept: the
    ledger's stored figures already count credit notes and the order in which the
    instalments were applied, which the payment dates alone do not tell.
    """
    if not payments:
        raise ValidationError(
            "El complemento de pago debe contener al menos un pago.", code="PAGOS20_VACIO"
        )
    progressed: dict[str, InvoiceState] = {}
    pagos: list[Pago] = []
    for group in payments:
        adjusted = [
            replace(a, state=progressed[a.invoice.uuid.upper()])
            if a.state is None and a.invoice.uuid.upper() in progressed
            else a
            for a in group.applications
        ]
        pago = compute_pago(group.payment, adjusted, rates=group.rates)
        for docto in pago.doctos:
            if docto.state_after is not None:
                progressed[docto.id_documento.upper()] = docto.state_after
        pagos.append(pago)
    return Complemento(pagos=tuple(pagos), totales=compute_totales(pagos))
