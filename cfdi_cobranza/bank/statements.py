"""Bank statement parsers: turn a bank's export into deposits ready for matching.

Supported inputs:

* **Generic CSV** with a ``ColumnMapping`` (column names or 0-based indices for fecha,
  descripción, referencia, abono/cargo or a signed importe, moneda).
* **BBVA** "Consulta de movimientos" exported as text (``parse_bbva``). BBVA México
  does not publish the layout, so this is our assumption, modelled on the exports
  users send: a few header lines (one of them ``CUENTA: <número>`` and optionally
  ``MONEDA: <código>``), a column header line starting with ``FECHA``, then one line
  per movement whose fields are separated by tabs or by two or more spaces::

      FECHA       CONCEPTO / REFERENCIA                         CARGO       ABONO       SALDO
      05/03/2024  SPEI RECIBIDO BANORTE REF F-1234 ACM010101AB1             11,600.00   51,600.00

  i.e. ``fecha, concepto[, referencia], cargo, abono, saldo``; a blank cargo or abono
  may simply be absent, so the amounts are read from the right: with five fields the
  third is the referencia; with four, the positions of the header's CARGO/ABONO
  columns decide which amount is present. Dates dd/mm/aaaa or dd-mm-aaaa.
* **Banorte** CSV (``parse_banorte``): ``Cuenta, Fecha De Operación, Fecha,
  Referencia, Descripción, Cod. Transac, Sucursal, Depósitos, Retiros, Saldo,
  Movimiento, Descripción Detallada``; the payer's RFC and account (CLABE) come inside
  the detailed description (``... RFC ACM010101AB1 CTA 072180001234567891 ...``).
* **Santander** CSV (``parse_santander``): ``Cuenta, Fecha, Hora, Sucursal,
  Descripción, Cargo/Abono, Importe, Saldo, Referencia, Concepto`` with ``+`` for
  credits and ``-`` for debits.

Only credits (abonos) become deposits; debits are counted and skipped. Amounts are
Decimal ("1,234.56", "$1,234.56", "(1,234.56)"); never float. Each deposit carries a
fingerprint (SHA-256 of bank, account, date, amount, reference, description and the
occurrence index of identical rows on the same day), so importing the same movement
again is recognised. A bad row yields a Spanish per-row error and the rest of the
file is still read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from cfdi_cobranza.domain import money
from cfdi_cobranza.domain.matching import Deposit
from cfdi_cobranza.domain.period import date_in_window, window_message
from cfdi_cobranza.domain.rfc import find_in_text as rfcs_in_text
from cfdi_cobranza.domain.text import check_no_nul
from cfdi_cobranza.errors import ValidationError

_ACCOUNT_RE = re.compile(r"(?:CTA|CUENTA|CLABE|CTA\.? ORD(?:ENANTE)?)\.?[:\s]*([0-9]{10,18})")
_LONG_DIGITS = re.compile(r"(?<!\d)([0-9]{18}|[0-9]{16}|[0-9]{10,11})(?!\d)")


@dataclass(frozen=True, slots=True)
class BankMovement:
    """A credit read from a statement, with what is needed to store and match it."""

    banco: str
    cuenta: str
    fecha: date
    importe: Decimal
    moneda: str
    descripcion: str
    referencia: str
    fila: int  # 1-based line/row number in the file
    ocurrencia: int  # index among identical rows of the same day
    huella: str  # fingerprint
    rfc_ordenante: str | None = None
    cuenta_ordenante: str | None = None
    nombre_ordenante: str | None = None

    def to_deposit(self) -> Deposit:
        return Deposit(
            id=self.huella, fecha=self.fecha, importe=self.importe, moneda=self.moneda,
            descripcion=self.descripcion, referencia=self.referencia,
            rfc_ordenante=self.rfc_ordenante, cuenta_ordenante=self.cuenta_ordenante,
            nombre_ordenante=self.nombre_ordenante,
        )


@dataclass(frozen=True, slots=True)
class RowError:
    fila: int
    code: str
    mensaje: str


@dataclass(frozen=True, slots=True)
class StatementResult:
    banco: str
    cuenta: str
    depositos: tuple[BankMovement, ...]
    errores: tuple[RowError, ...] = ()
    cargos_omitidos: int = 0

    @property
    def huellas(self) -> frozenset[str]:
        return frozenset(m.huella for m in self.depositos)


class RowProblem(Exception):
    """A row that cannot be read; becomes a ``RowError``, never leaves the module."""

    def __init__(self, code: str, mensaje: str) -> None:
        super().__init__(mensaje)
        self.code = code
        self.mensaje = mensaje


# ------------------------------------------------------------------ primitives


def decode(data: bytes | str) -> str:
    """Bank exports come in UTF-8 (with or without BOM) or Windows-1252."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_bank_amount(text: str, decimal_sep: str = ".") -> Decimal | None:
    """Decimal from "1,234.56", "$1,234.56", "-1234.56", "(1,234.56)"; None when blank."""
    cleaned = text.strip().replace("$", "").replace(" ", "").replace("\u00a0", "")
    cleaned = re.sub(r"(MXN|USD|EUR|MN)$", "", cleaned, flags=re.IGNORECASE)
    if cleaned in ("", "-"):
        return None
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1]
    if cleaned.endswith("-"):
        negative, cleaned = True, cleaned[:-1]
    if cleaned.startswith("-"):
        negative, cleaned = True, cleaned[1:]
    elif cleaned.startswith("+"):
        cleaned = cleaned[1:]
    thousands = "," if decimal_sep == "." else "."
    if not re.fullmatch(rf"[0-9]{{1,3}}(\{thousands}[0-9]{{3}})*(\{decimal_sep}[0-9]+)?"
                        rf"|[0-9]+(\{decimal_sep}[0-9]+)?", cleaned):
        raise RowProblem("IMPORTE_INVALIDO", f"El importe {text.strip()!r} no es válido.")
    cleaned = cleaned.replace(thousands, "").replace(decimal_sep, ".")
    try:
        value = money.parse_amount(cleaned)
    except money.MoneyError as exc:
        raise RowProblem("IMPORTE_INVALIDO", f"El importe {text.strip()!r} no es válido.") from exc
    return -value if negative else value


def parse_bank_date(text: str, formato: str = "auto") -> date:
    """dd/mm/aaaa, dd-mm-aaaa, dd/mm/aa, ddmmaaaa or ISO aaaa-mm-dd."""
    raw = text.strip()
    candidates: list[str]
    if formato == "iso":
        candidates = ["%Y-%m-%d", "%Y/%m/%d"]
    elif formato == "dmy":
        candidates = ["%d/%m/%Y", "%d-%m-%Y", "%d/%m/%y", "%d-%m-%y", "%d%m%Y", "%d.%m.%Y"]
    else:
        candidates = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d/%m/%y", "%d-%m-%y", "%d%m%Y",
                      "%d.%m.%Y", "%Y/%m/%d"]
    # Some exports append a time ("05/03/2024 10:31:00"); the date is what matters.
    raw = raw.split(" ")[0].split("T")[0]
    for fmt in candidates:
        try:
            parsed = datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
        if not date_in_window(parsed):
            raise RowProblem("FECHA_FUERA_DE_RANGO", window_message("La fecha", parsed))
        return parsed
    raise RowProblem("FECHA_INVALIDA", f"La fecha {text.strip()!r} no es válida "
                                       "(use dd/mm/aaaa o aaaa-mm-dd).")


def payer_hints(text: str) -> tuple[str | None, str | None]:
    """(RFC, account) of the payer found in a free-text description, if any."""
    upper = text.upper()
    rfc = next(iter(rfcs_in_text(upper)), None)
    account = None
    m2 = _ACCOUNT_RE.search(upper)
    if m2:
        account = m2.group(1)
    else:
        m3 = _LONG_DIGITS.search(upper)
        if m3:
            account = m3.group(1)
    return rfc, account


def _norm_text(text: str) -> str:
    return " ".join(text.upper().split())


def fingerprint(banco: str, cuenta: str, fecha: date, importe: Decimal, referencia: str,
                descripcion: str, ocurrencia: int) -> str:
    """Stable id of a movement: same row in a later export gives the same value."""
    parts = [banco.upper(), re.sub(r"\D", "", cuenta) or cuenta.strip(), fecha.isoformat(),
             money.fmt_amount(importe, 2), _norm_text(referencia), _norm_text(descripcion),
             str(ocurrencia)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Builder:
    """Collects rows, numbers identical same-day rows and fingerprints them."""

    banco: str
    cuenta: str
    movements: list[BankMovement] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    debits: int = 0
    _seen: dict[tuple[str, str, date, Decimal, str, str], int] = field(default_factory=dict)

    def add(self, *, fila: int, fecha: date, importe: Decimal, moneda: str, descripcion: str,
            referencia: str, cuenta: str | None = None, rfc: str | None = None,
            cuenta_ordenante: str | None = None, nombre: str | None = None) -> None:
        try:
            check_no_nul([("descripción", descripcion), ("referencia", referencia), ("cuenta", cuenta),
                          ("RFC", rfc), ("cuenta ordenante", cuenta_ordenante), ("nombre", nombre)])
        except ValidationError as exc:
            raise RowProblem(exc.code, exc.message) from None
        account = (cuenta or self.cuenta).strip()
        if not money.is_currency(moneda):
            raise RowProblem("MONEDA_DESCONOCIDA", f"La moneda {moneda!r} no existe en c_Moneda.")
        allowed = money.currency_decimals(moneda)
        if importe != money.quantize(importe, allowed):
            raise RowProblem("DECIMALES_EXCEDIDOS",
                             f"El importe {importe} tiene más de {allowed} decimales.")
        importe = money.quantize(importe, allowed)
        key = (account, _norm_text(referencia), fecha, importe, _norm_text(descripcion), moneda)
        occurrence = self._seen.get(key, 0)
        self._seen[key] = occurrence + 1
        hint_rfc, hint_account = payer_hints(f"{descripcion} {referencia}")
        self.movements.append(BankMovement(
            banco=self.banco, cuenta=account, fecha=fecha, importe=importe, moneda=moneda,
            descripcion=descripcion.strip(), referencia=referencia.strip(), fila=fila,
            ocurrencia=occurrence,
            huella=fingerprint(self.banco, account, fecha, importe, referencia, descripcion,
                               occurrence),
            rfc_ordenante=rfc or hint_rfc, cuenta_ordenante=cuenta_ordenante or hint_account,
            nombre_ordenante=nombre,
        ))

    def fail(self, fila: int, problem: RowProblem) -> None:
        self.errors.append(RowError(fila, problem.code, f"Fila {fila}: {problem.mensaje}"))

    def result(self) -> StatementResult:
        account = self.cuenta or (self.movements[0].cuenta if self.movements else "")
        return StatementResult(self.banco, account, tuple(self.movements), tuple(self.errors),
                               self.debits)


# ------------------------------------------------------------------ generic CSV

Column = str | int | None


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Where each field is in a CSV: a header name (case/accents-insensitive) or index.

    Either ``abono`` (and optionally ``cargo``) or ``importe`` (signed: positive is a
    credit, unless ``tipo`` names a column whose value says credit/debit).
    """

    fecha: Column
    descripcion: Column = None
    referencia: Column = None
    abono: Column = None
    cargo: Column = None
    importe: Column = None
    tipo: Column = None  # column with "+"/"-", "ABONO"/"CARGO", "C"/"D"...
    moneda: Column = None
    cuenta: Column = None
    rfc: Column = None
    cuenta_ordenante: Column = None
    nombre_ordenante: Column = None
    formato_fecha: str = "auto"  # "auto" | "dmy" | "iso"
    separador_decimal: str = "."
    delimitador: str | None = None  # None: sniff "," ";" "\t" "|"
    encabezado: bool = True
    filas_a_omitir: int = 0  # lines before the header (bank banners)


_CREDIT_WORDS = {"+", "ABONO", "A", "C", "CR", "CREDITO", "CRÉDITO", "DEPOSITO", "DEPÓSITO", "H"}
_DEBIT_WORDS = {"-", "CARGO", "D", "DR", "DEBITO", "DÉBITO", "RETIRO"}


def _key(text: str) -> str:
    table = str.maketrans("ÁÉÍÓÚÜÑáéíóúüñ", "AEIOUUNaeiouun")
    return re.sub(r"[^a-z0-9]", "", text.translate(table).lower())


def _sniff(sample: str) -> str:
    first = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_csv(data: bytes | str, mapping: ColumnMapping, *, banco: str = "GENERICO",
              cuenta: str = "", moneda: str = "MXN") -> StatementResult:
    """Read a CSV statement with ``mapping``; only credits become deposits."""
    text = decode(data)
    lines = text.splitlines()[mapping.filas_a_omitir:]
    body = "\n".join(lines)
    delimiter = mapping.delimitador or _sniff(body)
    rows = list(csv.reader(io.StringIO(body), delimiter=delimiter))
    builder = _Builder(banco.upper(), cuenta)
    start = 0
    index: dict[str, int] = {}
    if mapping.encabezado:
        while start < len(rows) and not any(c.strip() for c in rows[start]):
            start += 1
        if start >= len(rows):
            return builder.result()
        index = {_key(name): i for i, name in enumerate(rows[start])}
        start += 1

    def resolve(col: Column) -> int | None:
        if col is None:
            return None
        if isinstance(col, int):
            return col
        pos = index.get(_key(col))
        if pos is None:
            raise RowProblem("COLUMNA_FALTANTE", f"El archivo no tiene la columna {col!r}.")
        return pos

    try:
        pos = {name: resolve(getattr(mapping, name)) for name in (
            "fecha", "descripcion", "referencia", "abono", "cargo", "importe", "tipo", "moneda",
            "cuenta", "rfc", "cuenta_ordenante", "nombre_ordenante")}
    except RowProblem as problem:
        builder.fail(mapping.filas_a_omitir + 1, problem)
        return builder.result()
    if pos["abono"] is None and pos["importe"] is None:
        builder.fail(0, RowProblem("COLUMNA_FALTANTE",
                                   "La configuración no indica la columna de abono ni de importe."))
        return builder.result()

    def cell(row: Sequence[str], name: str) -> str:
        p = pos[name]
        if p is None:
            return ""
        if p >= len(row):
            raise RowProblem("FILA_INCOMPLETA", f"La fila no tiene la columna {p + 1}.")
        return row[p].strip()

    for offset, row in enumerate(rows[start:], start=start + 1):
        fila = offset + mapping.filas_a_omitir
        if not any(c.strip() for c in row):
            continue
        try:
            fecha = parse_bank_date(cell(row, "fecha"), mapping.formato_fecha)
            credit = _credit_amount(row, pos, cell, mapping.separador_decimal)
            if credit is None:
                builder.debits += 1
                continue
            if credit == 0:
                continue
            builder.add(fila=fila, fecha=fecha, importe=credit,
                        moneda=(cell(row, "moneda") or moneda).upper(),
                        descripcion=cell(row, "descripcion"), referencia=cell(row, "referencia"),
                        cuenta=cell(row, "cuenta") or None, rfc=cell(row, "rfc").upper() or None,
                        cuenta_ordenante=cell(row, "cuenta_ordenante") or None,
                        nombre=cell(row, "nombre_ordenante") or None)
        except RowProblem as problem:
            builder.fail(fila, problem)
    return builder.result()


def _credit_amount(row: Sequence[str], pos: dict[str, int | None],
                   cell: Callable[[Sequence[str], str], str], sep: str) -> Decimal | None:
    """The credit amount of a row; None for a debit (or a row with no credit)."""
    if pos["abono"] is not None:
        abono = parse_bank_amount(cell(row, "abono"), sep)
        cargo = parse_bank_amount(cell(row, "cargo"), sep) if pos["cargo"] is not None else None
        if abono is not None and abono != 0:
            if abono < 0:
                raise RowProblem("IMPORTE_INVALIDO", "El abono es negativo.")
            return abono
        if cargo is not None and cargo != 0:
            return None
        raise RowProblem("IMPORTE_FALTANTE", "La fila no tiene abono ni cargo.")
    amount = parse_bank_amount(cell(row, "importe"), sep)
    if amount is None:
        raise RowProblem("IMPORTE_FALTANTE", "La fila no tiene importe.")
    if pos["tipo"] is not None:
        kind = cell(row, "tipo").upper()
        if kind in _CREDIT_WORDS:
            return abs(amount)
        if kind in _DEBIT_WORDS:
            return None
        raise RowProblem("TIPO_MOVIMIENTO_INVALIDO",
                         f"No se reconoce el tipo de movimiento {kind!r} (abono/cargo).")
    return amount if amount > 0 else None


# ------------------------------------------------------------------ presets

BANORTE_MAPPING = ColumnMapping(
    fecha="Fecha De Operación", descripcion="Descripción Detallada", referencia="Referencia",
    abono="Depósitos", cargo="Retiros", cuenta="Cuenta", formato_fecha="dmy", delimitador=",",
)

SANTANDER_MAPPING = ColumnMapping(
    fecha="Fecha", descripcion="Descripción", referencia="Referencia", importe="Importe",
    tipo="Cargo/Abono", cuenta="Cuenta", formato_fecha="dmy", delimitador=",",
)


def parse_banorte(data: bytes | str, *, cuenta: str = "", moneda: str = "MXN"
                  ) -> StatementResult:
    """Banorte CSV; RFC and account of the payer are read from the detailed description."""
    return parse_csv(data, BANORTE_MAPPING, banco="BANORTE", cuenta=cuenta, moneda=moneda)


def parse_santander(data: bytes | str, *, cuenta: str = "", moneda: str = "MXN"
                    ) -> StatementResult:
    """Santander CSV with a Cargo/Abono sign column; Concepto is appended to the text."""
    text = decode(data)
    rows = list(csv.reader(io.StringIO(text)))
    if rows:
        header = [_key(h) for h in rows[0]]
        if "concepto" in header and "descripcion" in header:
            # Santander splits the free text in two columns; matching wants both.
            i_desc, i_conc = header.index("descripcion"), header.index("concepto")
            for row in rows[1:]:
                if len(row) > max(i_desc, i_conc) and row[i_conc].strip():
                    row[i_desc] = f"{row[i_desc].strip()} {row[i_conc].strip()}"
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            text = buffer.getvalue()
    return parse_csv(text, SANTANDER_MAPPING, banco="SANTANDER", cuenta=cuenta, moneda=moneda)


_BBVA_SPLIT = re.compile(r"\t+|\s{2,}")
_BBVA_ACCOUNT = re.compile(r"CUENTA\s*:?\s*([0-9*]{4,20})", re.IGNORECASE)
_BBVA_CURRENCY = re.compile(r"MONEDA\s*:?\s*([A-Z]{3})", re.IGNORECASE)


def parse_bbva(data: bytes | str, *, cuenta: str = "", moneda: str = "MXN") -> StatementResult:
    """BBVA movements text export (layout assumed; see the module docstring)."""
    text = decode(data)
    lines = text.splitlines()
    account = cuenta
    currency = moneda
    header_at = None
    for i, line in enumerate(lines):
        if header_at is None:
            if m := _BBVA_ACCOUNT.search(line):
                account = account or m.group(1)
            if m2 := _BBVA_CURRENCY.search(line):
                currency = m2.group(1).upper()
            if line.strip().upper().startswith(("FECHA", "DÍA", "DIA")):
                header_at = i
                break
    builder = _Builder("BBVA", account)
    if header_at is None:
        builder.fail(1, RowProblem("FORMATO_DESCONOCIDO",
                                   "No se encontró el encabezado de movimientos (FECHA ...)."))
        return builder.result()
    header = lines[header_at].upper()
    col_cargo = header.find("CARGO")
    col_abono = header.find("ABONO")
    for number, line in enumerate(lines[header_at + 1:], start=header_at + 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in _BBVA_SPLIT.split(line.strip()) if f.strip()]
        try:
            if len(fields) < 4:
                raise RowProblem("FILA_INCOMPLETA", "La línea no tiene fecha, concepto e importes.")
            fecha = parse_bank_date(fields[0], "dmy")
            saldo_text = fields[-1]
            parse_bank_amount(saldo_text)  # a row must end with its balance
            if len(fields) >= 6:
                concepto, referencia = fields[1], " ".join(fields[2:-3])
                cargo_text, abono_text = fields[-3], fields[-2]
            elif len(fields) == 5:
                # fecha, concepto, referencia?, one amount, saldo -- or both amounts.
                if _looks_amount(fields[2]):
                    concepto, referencia = fields[1], ""
                    cargo_text, abono_text = fields[2], fields[3]
                else:
                    concepto, referencia = fields[1], fields[2]
                    cargo_text, abono_text = _by_position(line, fields[3], saldo_text,
                                                          col_cargo, col_abono)
            else:
                concepto, referencia = fields[1], ""
                cargo_text, abono_text = _by_position(line, fields[2], saldo_text,
                                                      col_cargo, col_abono)
            abono = parse_bank_amount(abono_text)
            cargo = parse_bank_amount(cargo_text)
            if abono is None or abono == 0:
                if cargo is None or cargo == 0:
                    raise RowProblem("IMPORTE_FALTANTE", "La línea no tiene abono ni cargo.")
                builder.debits += 1
                continue
            builder.add(fila=number, fecha=fecha, importe=abono, moneda=currency,
                        descripcion=concepto, referencia=referencia)
        except RowProblem as problem:
            builder.fail(number, problem)
    return builder.result()


def _looks_amount(text: str) -> bool:
    return bool(re.fullmatch(r"-?\$?[0-9][0-9,]*\.[0-9]{2}|-", text.strip()))


def _by_position(line: str, amount: str, saldo: str, col_cargo: int, col_abono: int
                 ) -> tuple[str, str]:
    """One amount on the line: CARGO or ABONO according to where it sits under the header."""
    saldo_at = line.rstrip().rfind(saldo)
    at = line.rfind(amount, 0, saldo_at)
    end = at + len(amount)
    if col_cargo < 0 or col_abono < 0:
        return "", amount
    # Amounts are right-aligned: compare the end of the text with the column ends.
    return (amount, "") if abs(end - (col_cargo + 5)) < abs(end - (col_abono + 5)) else ("", amount)


PRESETS: dict[str, Callable[..., StatementResult]] = {
    "bbva": parse_bbva,
    "banorte": parse_banorte,
    "santander": parse_santander,
}


def parse_statement(data: bytes | str, preset: str, *, cuenta: str = "", moneda: str = "MXN",
                    mapping: ColumnMapping | None = None) -> StatementResult:
    """Entry point for ``cobranza bank import``: a preset name or ``generico`` + mapping."""
    name = preset.lower()
    if name in ("generico", "genérico", "csv"):
        if mapping is None:
            raise ValidationError("El formato genérico requiere indicar las columnas.",
                                  code="MAPEO_REQUERIDO")
        return parse_csv(data, mapping, cuenta=cuenta, moneda=moneda)
    parser = PRESETS.get(name)
    if parser is None:
        raise ValidationError(f"Formato de banco desconocido: {preset!r} (use bbva, banorte, "
                              "santander o generico).", code="FORMATO_DESCONOCIDO")
    return parser(data, cuenta=cuenta, moneda=moneda)


def new_movements(result: StatementResult, known: frozenset[str] | set[str]
                  ) -> tuple[list[BankMovement], list[BankMovement]]:
    """Split into (new, already imported) by fingerprint."""
    fresh = [m for m in result.depositos if m.huella not in known]
    repeated = [m for m in result.depositos if m.huella in known]
    return fresh, repeated
