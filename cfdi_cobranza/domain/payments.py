"""Payments received and their application to open documents: the pure rules.

What lives here:

* ``validate_receipt`` turns what a user typed (``ReceiptInput``) into a normalised
  ``Receipt`` or refuses it with a Spanish message and a stable code (the Pago node
  rules of Pagos 2.0: c_FormaPago never 99, c_Moneda, TipoCambioP, Monto decimals,
  bank fields allowed and patterned per payment form).
* ``validate_settlement`` groups several receipts of one customer (a settlement paid
  with several payment forms: part cash, part transfer ...).
* ``compute_equivalence`` gives EquivalenciaDR (document currency per payment unit).
* ``plan_application`` checks and computes the DoctoRelacionado amounts of applying a
  payment to documents (NumParcialidad, ImpSaldoAnt, ImpPagado, ImpSaldoInsoluto and
  the amount consumed in the payment currency), all or nothing.
* ``plan_oldest_first`` spreads what is left of a payment over the oldest documents.

Rounding between currencies. A line paying ``ImpPagado`` (document currency) with an
``EquivalenciaDR`` consumes ``ImpPagado / EquivalenciaDR`` of the payment. That quotient
has to be stored at the payment currency's decimals, and the SAT (CRP20276) accepts the
payment only if ``Monto`` is at least the sum of the per-line *lower limits*
``(ImpPagado - 10^-d/2) / (EquivalenciaDR + 10^-10/2)``. We therefore store each line's
consumption as ``max(round_half_up(exact), ceil(lower limit))``: never less than the
lower limit (so a payment whose consumptions fit in ``Monto`` always passes CRP20276),
and the ordinary half-up value when the tolerance is wide (a USD invoice paid in MXN:
1,160.00 USD at 17.2345 consumes 19,992.02 MXN, not 19,992.03). Same currency lines
consume exactly ``ImpPagado``. The ledger then only has to keep
``sum(consumption) <= Monto`` to never over-consume a payment by a centavo.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from cfdi_cobranza import catalogs
from cfdi_cobranza.domain import advances, money, pagos20, period, rfc
from cfdi_cobranza.domain.findings import Finding, Severity
from cfdi_cobranza.errors import ConflictError, ValidationError

MXN = "MXN"
FORMA_POR_DEFINIR = "99"
METODO_PUE = "PUE"
METODO_PPD = "PPD"
MAX_PARCIALIDAD = 999
_ONE = Decimal(1)
_ZERO = Decimal(0)
_EQ_DECIMALS = money.SCALE_EQUIVALENCIA_DR
_EQ_HALF_UNIT = Decimal(1).scaleb(-_EQ_DECIMALS) / 2

# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True, slots=True)
class ReceiptInput(pagos20.CuentasPago):
    """A payment as captured (text or Decimal amounts, optional bank fields)."""

    customer: str
    company: str
    fecha_pago: datetime | date
    forma_pago: str
    moneda: str
    monto: str | Decimal
    tipo_cambio: str | Decimal | None = None
    num_operacion: str | None = None
    caja: str | None = None
    notas: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt(ReceiptInput):
    """A validated payment: Decimal amounts, TipoCambioP always set (1 for MXN)."""

    fecha_pago: datetime
    monto: Decimal
    tipo_cambio: Decimal

    @property
    def monto_mxn(self) -> Decimal:
        return money.quantize(self.monto * self.tipo_cambio, 2)

    def funds(self, consumido: Decimal = _ZERO, payment_id: str | None = None) -> PaymentFunds:
        """What the application planner needs of this receipt."""
        return PaymentFunds(
            customer=self.customer,
            moneda=self.moneda,
            monto=self.monto,
            tipo_cambio=self.tipo_cambio,
            fecha_pago=self.fecha_pago,
            consumido=consumido,
            payment_id=payment_id,
        )


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    stripped = text.strip()
    return stripped or None


def _clean_account(text: str | None) -> str | None:
    # Users paste accounts as "0123 4567 89" or "012-180-..."; the SAT pattern has neither.
    cleaned = _clean(text)
    return re.sub(r"[\s-]", "", cleaned).upper() if cleaned else None


def _parse_money_field(
    value: str | Decimal, field_name: str, label: str, findings: list[Finding]
) -> Decimal | None:
    try:
        amount = money.parse_amount(value, allow_negative=True)
    except money.MoneyError:
        findings.append(
            Finding("MONTO_INVALIDO", f"{label} no es un importe válido: {value!r}.", field_name)
        )
        return None
    if amount <= 0:
        findings.append(
            Finding("MONTO_INVALIDO", f"{label} debe ser mayor que cero (se recibió {amount}).",
                    field_name)
        )
        return None
    return amount


def receipt_findings(inp: ReceiptInput) -> tuple[Receipt | None, list[Finding]]:
    """Check every field of ``inp``; return the normalised receipt when there is no error.

    All problems are collected (a form shows them all at once); warnings do not block.
    """
    findings: list[Finding] = []

    if not inp.customer.strip():
        findings.append(Finding("CAMPO_REQUERIDO", "Falta el cliente.", "customer"))
    if not inp.company.strip():
        findings.append(Finding("CAMPO_REQUERIDO", "Falta la empresa.", "company"))

    fecha: datetime | None
    if isinstance(inp.fecha_pago, datetime):
        fecha = inp.fecha_pago
        if fecha.tzinfo is not None:
            # FechaPago has no zone in Pagos 2.0; a zoned value would be ambiguous.
            findings.append(Finding("FECHA_INVALIDA",
                                    "La fecha de pago debe ser hora local, sin zona horaria.",
                                    "fecha_pago"))
            fecha = None
    else:
        # Unknown time of day: the SAT guidance is 12:00:00.
        fecha = datetime.combine(inp.fecha_pago, time(12, 0, 0))
    if fecha is not None and not period.date_in_window(fecha):
        # One rule for the web form, the CLI, the API and bank deposits.
        findings.append(Finding("FECHA_FUERA_DE_RANGO", period.window_message("La fecha de pago", fecha),
                                "fecha_pago"))
        fecha = None

    forma = inp.forma_pago.strip()
    forma_ok = False
    if forma == FORMA_POR_DEFINIR:
        findings.append(Finding("FORMA_PAGO_99",
                                "La forma de pago 99 (Por definir) no se permite en un pago; "
                                "indique la forma real en que se recibió.", "forma_pago"))
    elif not pagos20.forma_de_pago_valida(forma):
        findings.append(Finding("FORMA_PAGO_INVALIDA",
                                f"La forma de pago {forma!r} no existe en el catálogo c_FormaPago "
                                "vigente.", "forma_pago"))
    else:
        forma_ok = True

    moneda = inp.moneda.strip().upper()
    moneda_ok = pagos20.moneda_valida(moneda)
    if not moneda_ok:
        findings.append(Finding("MONEDA_DESCONOCIDA",
                                f"La moneda {inp.moneda!r} no existe en el catálogo c_Moneda o no "
                                "se permite en un pago.", "moneda"))

    monto = _parse_money_field(inp.monto, "monto", "El monto", findings)
    # Trailing zeros ("100.000") are harmless; real extra digits are refused (CRP20219).
    if monto is not None and moneda_ok and "CRP20219" in pagos20.monto_problems(
            moneda, _ONE, monto.normalize()):
        findings.append(Finding("DECIMALES_EXCEDIDOS", f"El monto {monto} tiene más decimales de "
                                f"los que permite {moneda} ({money.currency_decimals(moneda)}).",
                                "monto"))

    tipo_cambio: Decimal | None = None
    if moneda_ok:
        if inp.tipo_cambio is None or (isinstance(inp.tipo_cambio, str)
                                       and not inp.tipo_cambio.strip()):
            if "CRP20214" not in pagos20.monto_problems(moneda, None, None):  # MXN needs none
                tipo_cambio = _ONE
            else:
                findings.append(Finding("TIPO_CAMBIO_REQUERIDO",
                                        f"Indique el tipo de cambio a MXN del pago en {moneda}.",
                                        "tipo_cambio"))
        else:
            try:
                tipo_cambio = money.parse_amount(inp.tipo_cambio)
            except money.MoneyError:
                tipo_cambio = None
            if tipo_cambio is None or tipo_cambio <= 0:
                findings.append(Finding("TIPO_CAMBIO_INVALIDO",
                                        f"El tipo de cambio {inp.tipo_cambio!r} no es válido; debe "
                                        "ser mayor que cero.", "tipo_cambio"))
                tipo_cambio = None
            elif tipo_cambio != money.quantize(tipo_cambio, money.SCALE_TIPO_CAMBIO_P):
                findings.append(Finding("DECIMALES_EXCEDIDOS",
                                        "El tipo de cambio admite como máximo 6 decimales.",
                                        "tipo_cambio"))
                tipo_cambio = None
            elif "CRP20215" in pagos20.monto_problems(moneda, tipo_cambio, None):
                findings.append(Finding("TIPO_CAMBIO_INVALIDO",
                                        "Un pago en MXN lleva tipo de cambio 1.", "tipo_cambio"))
                tipo_cambio = None

    bank = {
        "rfc_emisor_cta_ord": _clean(inp.rfc_emisor_cta_ord),
        "nom_banco_ord_ext": _clean(inp.nom_banco_ord_ext),
        "cta_ordenante": _clean_account(inp.cta_ordenante),
        "rfc_emisor_cta_ben": _clean(inp.rfc_emisor_cta_ben),
        "cta_beneficiario": _clean_account(inp.cta_beneficiario),
    }
    for key in ("rfc_emisor_cta_ord", "rfc_emisor_cta_ben"):
        value = bank[key]
        if value is not None:
            bank[key] = rfc.compact(value)
    if forma_ok:
        findings.extend(_bank_field_findings(forma, bank))

    num_operacion = _clean(inp.num_operacion)
    if num_operacion is not None and len(num_operacion) > 100:
        findings.append(Finding("CAMPO_INVALIDO",
                                "El número de operación admite como máximo 100 caracteres.",
                                "num_operacion"))

    if any(f.is_error for f in findings):
        return None, findings
    assert fecha is not None and monto is not None and tipo_cambio is not None
    receipt = Receipt(
        customer=inp.customer.strip(),
        company=inp.company.strip(),
        fecha_pago=fecha.replace(microsecond=0),
        forma_pago=forma,
        moneda=moneda,
        monto=money.quantize(monto, money.currency_decimals(moneda)),
        tipo_cambio=tipo_cambio,
        num_operacion=num_operacion,
        caja=_clean(inp.caja),
        notas=_clean(inp.notas),
        **bank,
    )
    return receipt, findings


_BANK_LABELS = {
    "rfc_emisor_cta_ord": "RFC del banco ordenante",
    "nom_banco_ord_ext": "Nombre del banco ordenante extranjero",
    "cta_ordenante": "Cuenta ordenante",
    "rfc_emisor_cta_ben": "RFC del banco beneficiario",
    "cta_beneficiario": "Cuenta beneficiaria",
}


_FORM_CODES = {"CRP20223": "CAMPO_REQUERIDO", "CRP20225": "CUENTA_INVALIDA",
               "CRP20226": "CUENTA_INVALIDA"}  # the other CRP2022x: CAMPO_NO_PERMITIDO
# Findings come grouped by kind, each group in document order (CUENTAS_XML).
_FORM_ORDER = {"CAMPO_NO_PERMITIDO": 0, "BANCO_EXTRANJERO_NO_PERMITIDO": 0, "RFC_INVALIDO": 1,
               "CUENTA_INVALIDA": 2, "CAMPO_REQUERIDO": 3}
_FIELD_ORDER = {name: i for i, (_attr, name) in enumerate(pagos20.CUENTAS_XML)}


def _bank_field_findings(forma: str, bank: Mapping[str, str | None]) -> list[Finding]:
    """Bank fields per the c_FormaPago columns (CRP20221-28, ``pagos20.bank_field_problems``);
    a foreign bank where NomBancoOrdExt is forbidden: docs/pagos20-decisions.md section 8."""
    descr = catalogs.describe("c_FormaPago", forma)
    row = catalogs.forma_pago_accounts(forma) or {}
    foreign_bank_admitted = bool(row.get("nom_banco_ord_ext"))
    findings: list[Finding] = []
    for problem in pagos20.bank_field_problems(forma, pagos20.CuentasPago(**bank)):
        key = problem.field
        code = _FORM_CODES.get(problem.code, "CAMPO_NO_PERMITIDO")
        if code == "CAMPO_NO_PERMITIDO":
            message = f"{_BANK_LABELS[key]} no se permite con la forma de pago {descr}."
        elif code == "CUENTA_INVALIDA":
            message = (f"{_BANK_LABELS[key]} {bank[key]!r} no tiene el formato que exige la forma "
                       f"de pago {descr} ({problem.pattern}).")
        elif foreign_bank_admitted:
            message = ("Con RFC de banco extranjero (XEXX010101000) indique el nombre del banco "
                       "ordenante.")
        else:
            continue  # never ask for a field this form refuses: the foreign RFC is refused
        findings.append(Finding(code, message, key))
    if not foreign_bank_admitted:
        if bank["rfc_emisor_cta_ord"] == rfc.GENERICO_EXTRANJERO and row.get("rfc_emisor_cta_ord"):
            findings.append(Finding(
                "BANCO_EXTRANJERO_NO_PERMITIDO",
                f"Con la forma de pago {descr} no se admite un banco ordenante extranjero: con el "
                "RFC XEXX010101000 el SAT exige el nombre del banco, y esta forma de pago no lo "
                "admite. Deje vacío el RFC del banco ordenante.", "rfc_emisor_cta_ord"))
        elif bank["nom_banco_ord_ext"] is not None:
            findings.append(Finding("CAMPO_NO_PERMITIDO", f"{_BANK_LABELS['nom_banco_ord_ext']} no "
                                    f"se permite con la forma de pago {descr}.", "nom_banco_ord_ext"))
    refused = {f.location for f in findings}
    for key in ("rfc_emisor_cta_ord", "rfc_emisor_cta_ben"):
        value = bank[key]
        if value is not None and key not in refused and not rfc.is_valid(value):
            findings.append(Finding("RFC_INVALIDO",
                                    f"{_BANK_LABELS[key]} {value!r} no es un RFC válido (12 "
                                    "caracteres personas morales, 13 personas físicas, o "
                                    "XAXX010101000 / XEXX010101000).", key))
    return sorted(findings, key=lambda f: (_FORM_ORDER[f.code], _FIELD_ORDER[f.location or ""]))


def _raise_first(findings: Sequence[Finding]) -> None:
    errors = [f for f in findings if f.is_error]
    if errors:
        first = errors[0]
        raise ValidationError(
            first.message,
            code=first.code,
            campo=first.location or "",
            errores="; ".join(f"{f.code}: {f.message}" for f in errors),
        )


def validate_receipt(inp: ReceiptInput) -> Receipt:
    """Normalised receipt, or ``ValidationError`` carrying the first error's code.

    ``details['errores']`` lists every problem found, for forms that show them all.
    """
    receipt, findings = receipt_findings(inp)
    _raise_first(findings)
    assert receipt is not None
    return receipt


@dataclass(frozen=True, slots=True)
class Settlement:
    """One settlement paid with several payment forms: one Pago node per receipt."""

    customer: str
    company: str
    receipts: tuple[Receipt, ...]

    @property
    def total_mxn(self) -> Decimal:
        return sum((r.monto_mxn for r in self.receipts), _ZERO)


def validate_settlement(inputs: Sequence[ReceiptInput]) -> Settlement:
    """Validate every part of a combined settlement; all must share customer and company."""
    if not inputs:
        raise ValidationError("La liquidación no tiene ningún pago.", code="LIQUIDACION_VACIA")
    receipts = tuple(validate_receipt(i) for i in inputs)
    customers = {r.customer for r in receipts}
    companies = {r.company for r in receipts}
    if len(customers) > 1 or len(companies) > 1:
        raise ValidationError(
            "Todos los pagos de una liquidación deben ser del mismo cliente y la misma empresa.",
            code="LIQUIDACION_MIXTA",
        )
    return Settlement(receipts[0].customer, receipts[0].company, receipts)


# ------------------------------------------------------------------- open documents


@dataclass(frozen=True, slots=True)
class OpenDocument:
    """An invoice that can receive payments, with its balance as of now.

    ``saldo`` already reflects earlier payments (from any system) and credit notes;
    ``num_parcialidades_previas`` counts the payments applied to it before.
    """

    uuid: str
    serie: str | None
    folio: str | None
    customer: str
    moneda: str
    total: Decimal
    saldo: Decimal
    fecha: datetime
    vencimiento: date | None
    metodo_pago: str
    num_parcialidades_previas: int = 0
    cancelado: bool = False
    company: str | None = None  # issuer; a payment applies only to its company's documents

    @property
    def serie_folio(self) -> str:
        return f"{self.serie or ''}{'-' if self.serie and self.folio else ''}{self.folio or ''}" \
            or self.uuid[:8]

    @property
    def requiere_rep(self) -> bool:
        return self.metodo_pago == METODO_PPD

    def after(self, line: ApplicationLine) -> OpenDocument:
        """The document once ``line`` is applied (for planning successive payments)."""
        return replace(self, saldo=line.imp_saldo_insoluto,
                       num_parcialidades_previas=line.num_parcialidad)


@dataclass(frozen=True, slots=True)
class PaymentFunds:
    """A payment as the planner sees it: what it is worth and what is already used."""

    customer: str
    moneda: str
    monto: Decimal
    tipo_cambio: Decimal  # MXN per unit of ``moneda`` (1 for MXN)
    fecha_pago: datetime
    consumido: Decimal = _ZERO  # already applied, in ``moneda``
    payment_id: str | None = None
    company: str | None = None  # the company that received the payment

    @property
    def disponible(self) -> Decimal:
        return self.monto - self.consumido


@dataclass(frozen=True, slots=True)
class ApplicationRequest:
    """Apply ``importe`` (in the document's currency) of a payment to ``doc``."""

    doc: OpenDocument
    importe: Decimal | str
    equivalencia: Decimal | str | None = None  # override of EquivalenciaDR


@dataclass(frozen=True, slots=True)
class ApplicationLine(pagos20.AplicacionDR):
    """One DoctoRelacionado to be stored (and written in the REP when ``requiere_rep``)."""

    uuid: str
    importe_moneda_pago: Decimal  # what this line consumes of the payment
    requiere_rep: bool
    avisos: tuple[Finding, ...] = ()
    # Paid before the invoice (domain.advances): the REP waits for a user's confirmation.
    requiere_confirmacion: bool = False


@dataclass(frozen=True, slots=True)
class ApplicationPlan:
    """Lines to store plus what the payment keeps as saldo a favor afterwards."""

    lines: tuple[ApplicationLine, ...]
    consumido: Decimal  # sum of the lines, payment currency
    remanente: Decimal  # payment amount still unapplied after the lines (saldo a favor)
    avisos: tuple[Finding, ...] = field(default=())

    @property
    def requiere_rep(self) -> bool:
        return any(line.requiere_rep for line in self.lines)


def compute_equivalence(
    moneda_dr: str,
    moneda_p: str,
    tipo_cambio_dr_to_mxn: Decimal | None,
    tipo_cambio_p: Decimal | None,
) -> Decimal:
    """EquivalenciaDR: units of ``moneda_dr`` per unit of ``moneda_p``, 10 decimals.

    Both rates are MXN per unit on the payment date (MXN is 1 and may be passed as None).
    """
    if moneda_dr == moneda_p:
        return _ONE
    rate_dr = _ONE if moneda_dr == MXN else tipo_cambio_dr_to_mxn
    rate_p = _ONE if moneda_p == MXN else tipo_cambio_p
    if rate_dr is None or rate_p is None or rate_dr <= 0 or rate_p <= 0:
        missing = moneda_dr if rate_dr is None or rate_dr <= 0 else moneda_p
        raise ConflictError(
            f"No se puede calcular la equivalencia {moneda_dr}/{moneda_p}: falta el tipo de "
            f"cambio de {missing}. Indíquelo o capture la equivalencia.",
            code="MONEDA_SIN_EQUIVALENCIA",
            moneda_dr=moneda_dr,
            moneda_p=moneda_p,
        )
    return money.quantize(rate_p / rate_dr, _EQ_DECIMALS)


def _step(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def consumption_in_payment_currency(
    imp_pagado: Decimal, moneda_dr: str, equivalencia: Decimal, moneda_p: str
) -> Decimal:
    """What paying ``imp_pagado`` consumes of a payment in ``moneda_p`` (see module doc)."""
    d_p = money.currency_decimals(moneda_p)
    if moneda_dr == moneda_p:
        return imp_pagado
    exact = imp_pagado / equivalencia
    half_dr = _step(money.currency_decimals(moneda_dr)) / 2
    lower = (imp_pagado - half_dr) / (equivalencia + _EQ_HALF_UNIT)
    lower_ceil = lower.quantize(_step(d_p), rounding=ROUND_CEILING)
    return max(money.quantize(exact, d_p), lower_ceil)


def _as_decimal(value: Decimal | str, label: str, code: str = "MONTO_INVALIDO") -> Decimal:
    try:
        return money.parse_amount(value, allow_negative=True)
    except money.MoneyError as exc:
        raise ValidationError(f"{label} no es un número válido: {value!r}.", code=code) from exc


def _pue_notices(doc: OpenDocument, fecha_pago: datetime) -> tuple[Finding, ...]:
    if doc.metodo_pago != METODO_PUE:
        return ()
    notices = [Finding("PUE_NO_REQUIERE_REP",
                       f"La factura {doc.serie_folio} es PUE: el pago se registra pero no "
                       "requiere complemento de pago (REP).", "uuid", Severity.WARNING)]
    if (fecha_pago.year, fecha_pago.month) > (doc.fecha.year, doc.fecha.month):
        notices.append(Finding("PUE_PAGO_TARDIO",
                               f"La factura {doc.serie_folio} es PUE y se pagó después del mes de "
                               "su emisión; debió emitirse como PPD.", "uuid", Severity.WARNING))
    return tuple(notices)


def plan_application(
    payment: PaymentFunds,
    requests: Sequence[ApplicationRequest | tuple[OpenDocument, Decimal | str, Decimal | str | None]],
    *,
    tipos_cambio: Mapping[str, Decimal] | None = None,
) -> ApplicationPlan:
    """Check and compute the application of ``payment`` to documents, all or nothing.

    ``tipos_cambio`` gives MXN per unit, on the payment date, of the documents'
    currencies; it is needed only for lines whose currency differs from the payment's
    and that carry no equivalence override. Raises ``ValidationError`` for bad input
    (amount, decimals, equivalence) and ``ConflictError`` for clashes with the state
    (EXCEDE_SALDO, EXCEDE_PAGO, DOCUMENTO_OTRO_CLIENTE, DOCUMENTO_CANCELADO,
    MONEDA_SIN_EQUIVALENCIA, PARCIALIDAD_EXCEDIDA, ANTICIPO_REQUERIDO). A line paid before
    its invoice carries ``requiere_confirmacion`` and a PAGO_ANTERIOR_A_FACTURA warning
    (``domain.advances``).
    """
    reqs = [r if isinstance(r, ApplicationRequest) else ApplicationRequest(*r) for r in requests]
    if not reqs:
        raise ValidationError("Indique al menos un documento a pagar.", code="SIN_DOCUMENTOS")
    rates = dict(tipos_cambio or {})
    seen: set[str] = set()
    lines: list[ApplicationLine] = []
    total = _ZERO
    d_p = money.currency_decimals(payment.moneda)
    for req in reqs:
        doc = req.doc
        key = doc.uuid.upper()
        if key in seen:
            raise ValidationError(f"La factura {doc.serie_folio} aparece dos veces en la "
                                  "aplicación; junte los importes en una sola línea.",
                                  code="DOCUMENTO_DUPLICADO", uuid=doc.uuid)
        seen.add(key)
        if doc.customer != payment.customer:
            raise ConflictError(f"La factura {doc.serie_folio} es de otro cliente.",
                                code="DOCUMENTO_OTRO_CLIENTE", uuid=doc.uuid)
        if doc.company is not None and payment.company is not None and doc.company != payment.company:
            # The REP must be issued by the invoice's issuer: a payment received by
            # another company cannot settle it.
            raise ConflictError(f"La factura {doc.serie_folio} la emitió la empresa {doc.company}; el pago "
                                f"lo recibió {payment.company}.", code="DOCUMENTO_OTRA_EMPRESA", uuid=doc.uuid)
        if doc.cancelado:
            raise ConflictError(f"La factura {doc.serie_folio} está cancelada; no admite pagos.",
                                code="DOCUMENTO_CANCELADO", uuid=doc.uuid)
        importe = _as_decimal(req.importe, f"El importe para {doc.serie_folio}")
        d_dr = money.currency_decimals(doc.moneda)
        # CRP20239-44 in the planner's words (CRP20240/43, the balance's decimals: the ledger's)
        problem = next((c for c, _ in pagos20.docto_dr_problems(pagos20.ImportesDR(
            moneda_dr=doc.moneda, imp_saldo_ant=doc.saldo, imp_pagado=importe.normalize(),
            imp_saldo_insoluto=doc.saldo - importe))
            if c in ("CRP20241", "CRP20242", "CRP20239", "CRP20244")), None)
        if problem is not None:
            error, code, message = {
                "CRP20241": (ValidationError, "MONTO_INVALIDO",
                             f"El importe para {doc.serie_folio} debe ser mayor que cero."),
                "CRP20242": (ValidationError, "DECIMALES_EXCEDIDOS",
                             f"El importe {importe} para {doc.serie_folio} tiene más decimales "
                             f"de los que permite {doc.moneda} ({d_dr})."),
                "CRP20239": (ConflictError, "DOCUMENTO_SIN_SALDO",
                             f"La factura {doc.serie_folio} no tiene saldo pendiente."),
                "CRP20244": (ConflictError, "EXCEDE_SALDO",
                             f"El importe {money.fmt_money(money.quantize(importe, d_dr), doc.moneda)} "
                             f"excede el saldo de la factura {doc.serie_folio} "
                             f"({money.fmt_money(doc.saldo, doc.moneda)})."),
            }[problem]
            raise error(message, code=code, uuid=doc.uuid)
        importe = money.quantize(importe, d_dr)
        num = doc.num_parcialidades_previas + 1
        if num > MAX_PARCIALIDAD:
            raise ConflictError(f"La factura {doc.serie_folio} ya tiene {MAX_PARCIALIDAD} "
                                "parcialidades.", code="PARCIALIDAD_EXCEDIDA", uuid=doc.uuid)
        advance = advances.classify(payment.fecha_pago, doc.fecha, doc.metodo_pago, doc.serie_folio)
        if advance.refused:
            raise ConflictError(advance.message or "", code=advance.code, uuid=doc.uuid)
        notices = _pue_notices(doc, payment.fecha_pago)
        if advance.needs_confirmation:
            notices += (Finding(advance.code or "", advance.message or "", "uuid", Severity.WARNING),)
        eq = _equivalence_for(doc, payment, req.equivalencia, rates)
        consumed = consumption_in_payment_currency(importe, doc.moneda, eq, payment.moneda)
        total += consumed
        saldo_ant = money.quantize(doc.saldo, d_dr)
        lines.append(ApplicationLine(
            uuid=doc.uuid, serie=doc.serie, folio=doc.folio, moneda_dr=doc.moneda,
            equivalencia_dr=eq, num_parcialidad=num, imp_saldo_ant=saldo_ant,
            imp_pagado=importe, imp_saldo_insoluto=saldo_ant - importe,
            importe_moneda_pago=money.quantize(consumed, d_p),
            requiere_rep=doc.requiere_rep, avisos=notices,
            requiere_confirmacion=advance.needs_confirmation))
    if total > payment.disponible:
        raise ConflictError(
            f"La aplicación consume {money.fmt_money(total, payment.moneda)} y el pago solo tiene "
            f"disponible {money.fmt_money(payment.disponible, payment.moneda)}.",
            code="EXCEDE_PAGO", consumo=total, disponible=payment.disponible)
    avisos = tuple(a for line in lines for a in line.avisos)
    return ApplicationPlan(tuple(lines), total, payment.disponible - total, avisos)


def _equivalence_for(
    doc: OpenDocument,
    payment: PaymentFunds,
    override: Decimal | str | None,
    rates: Mapping[str, Decimal],
) -> Decimal:
    if override is not None and not (isinstance(override, str) and not override.strip()):
        eq = _as_decimal(override, "La equivalencia", "EQUIVALENCIA_INVALIDA")
        if eq <= 0:
            raise ValidationError("La equivalencia debe ser mayor que cero.",
                                  code="EQUIVALENCIA_INVALIDA", uuid=doc.uuid)
        if eq != money.quantize(eq, _EQ_DECIMALS):
            raise ValidationError("La equivalencia admite como máximo 10 decimales.",
                                  code="EQUIVALENCIA_INVALIDA", uuid=doc.uuid)
        if ("CRP20238", "EquivalenciaDR") in pagos20.docto_dr_problems(pagos20.ImportesDR(
                moneda_p=payment.moneda, moneda_dr=doc.moneda, equivalencia_dr=eq)):
            raise ValidationError(f"La factura {doc.serie_folio} está en la moneda del pago: su "
                                  "equivalencia es 1.", code="EQUIVALENCIA_INVALIDA",
                                  uuid=doc.uuid)
        return money.quantize(eq, _EQ_DECIMALS) if doc.moneda != payment.moneda else _ONE
    rate_dr = rates.get(doc.moneda)
    if doc.moneda == payment.moneda:
        return _ONE
    return compute_equivalence(doc.moneda, payment.moneda, rate_dr, payment.tipo_cambio)


def _age_key(doc: OpenDocument) -> tuple[date, datetime, str, str, str]:
    due = doc.vencimiento or doc.fecha.date()
    return (due, doc.fecha, doc.serie or "", (doc.folio or "").zfill(20), doc.uuid)


def oldest_first(docs: Iterable[OpenDocument]) -> list[OpenDocument]:
    """Documents ordered as collections settles them: due date, then issue date."""
    return sorted(docs, key=_age_key)


def max_payable(
    doc: OpenDocument, available: Decimal, moneda_p: str, eq: Decimal
) -> Decimal:
    """Largest ImpPagado (doc currency) whose consumption fits in ``available``."""
    if doc.moneda == moneda_p:
        return min(doc.saldo, available)
    d_dr = money.currency_decimals(doc.moneda)
    full = consumption_in_payment_currency(doc.saldo, doc.moneda, eq, moneda_p)
    if full <= available:
        return doc.saldo
    step = _step(d_dr)
    guess = min(doc.saldo, (available * eq).quantize(step, rounding=ROUND_FLOOR))
    # The consumption is monotone in ImpPagado; a few steps down absorb the rounding.
    while guess > 0 and consumption_in_payment_currency(guess, doc.moneda, eq, moneda_p) > available:
        guess -= step
    return max(guess, _ZERO)


def plan_oldest_first(
    payment: PaymentFunds,
    open_docs: Iterable[OpenDocument],
    *,
    tipos_cambio: Mapping[str, Decimal] | None = None,
) -> ApplicationPlan:
    """Apply what is left of ``payment`` to the customer's oldest documents first.

    Documents of other customers, cancelled or without balance are skipped; a document
    in a currency without a rate is skipped with a warning (MONEDA_SIN_EQUIVALENCIA).
    What cannot be applied stays in ``remanente`` as saldo a favor.
    """
    rates = dict(tipos_cambio or {})
    available = payment.disponible
    requests: list[ApplicationRequest] = []
    avisos: list[Finding] = []
    candidates = [d for d in open_docs
                  if d.customer == payment.customer and not d.cancelado and d.saldo > 0
                  and (d.company is None or payment.company is None or d.company == payment.company)]
    for doc in oldest_first(candidates):
        if available <= 0:
            break
        advance = advances.classify(payment.fecha_pago, doc.fecha, doc.metodo_pago, doc.serie_folio)
        if advance.refused:  # the SAT expects the anticipo procedure: the money stays unapplied
            avisos.append(Finding(advance.code or "", advance.message or "", "uuid", Severity.WARNING))
            continue
        try:
            eq = _equivalence_for(doc, payment, None, rates)
        except ConflictError as exc:
            avisos.append(Finding(exc.code, exc.message, "uuid", Severity.WARNING))
            continue
        amount = max_payable(doc, available, payment.moneda, eq)
        if amount <= 0:
            continue
        requests.append(ApplicationRequest(doc, amount, None))
        available -= consumption_in_payment_currency(amount, doc.moneda, eq, payment.moneda)
    if not requests:
        return ApplicationPlan((), _ZERO, payment.disponible, tuple(avisos))
    plan = plan_application(payment, requests, tipos_cambio=rates)
    return replace(plan, avisos=plan.avisos + tuple(avisos))
