"""Deposit-to-invoice matching: ranked suggestions with a score and the reasons shown.

Given the deposits of a bank statement, the customers' open documents and what we
know of each customer (RFC, bank accounts, name, payment history), ``Matcher.suggest``
proposes who paid and which documents the money settles, best first.

Score calibration (0-100). Each piece of evidence adds points; the total is capped at
100. The weights were chosen so that the *bands* mean something, and
``bench/bench_matching.py`` measures the precision per band on a generated statement
with known truth:

* identity of the payer (who): ``RFC_EN_DESCRIPCION`` 45, ``CUENTA_CONOCIDA`` 40,
  ``NOMBRE_EN_DESCRIPCION`` 25; a second identity signal adds 10 (max 55), because two
  identity signals are rarely independent (the same SPEI line carries both);
* which document: ``UUID_EN_REFERENCIA`` 40, ``FOLIO_EN_REFERENCIA`` 30 with serie,
  20 folio alone (folio numbers repeat across series);
* how much: ``MONTO_EXACTO`` 35 (one open balance to the centavo),
  ``SUMA_EXACTA_SUBCONJUNTO`` 30 (several balances; -10 ``SUBCONJUNTO_AMBIGUO`` when
  other combinations also add up), ``MONTO_EQUIVALENTE`` 25/20 (a balance in another
  currency within 0.3%/1% at the day's rate);
* habits: ``MONTO_HABITUAL`` 10, ``DIA_HABITUAL`` 5;
* ``AMBIGUO`` -10 per other customer (max -20) when the amount is the only evidence
  and fits several customers.

Bands: **80 and up** needs two independent strong signals (who + how much, or who +
which document + how much): meant for ``--min-score 80`` automatic application.
**60-79**: one identity or document signal plus something weaker (a partial payment
of a referenced invoice). **35-59**: a single signal, usually the amount alone: review
by hand. **Below 35**: habits only. Amount coincidences are worth less than an RFC
because a centavo-exact total over hundreds of open invoices still collides now and
then, while an RFC in a SPEI description is almost never someone else's.

Subset sums are bounded: per customer the 20 oldest documents in the deposit's
currency, meet in the middle on integer centavos (2 x 2^10 sums); customers with no
identity evidence are found through a precomputed index of subsets of 2-4 of their 12
oldest documents, so one deposit costs a few dictionary look-ups plus the candidates.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from itertools import combinations
from statistics import median

from cfdi_cobranza.domain import money
from cfdi_cobranza.domain.payments import (
    MXN,
    OpenDocument,
    consumption_in_payment_currency,
    max_payable,
    oldest_first,
)
from cfdi_cobranza.domain.rfc import IN_TEXT as RFC_IN_TEXT
from cfdi_cobranza.domain.rfc import find_in_text as rfcs_in_text

_ZERO = Decimal(0)
_EQ_STEP = Decimal(1).scaleb(-money.SCALE_EQUIVALENCIA_DR)

PTS_RFC = 45
PTS_CUENTA = 40
PTS_NOMBRE = 25
PTS_IDENTIDAD_EXTRA = 10
PTS_IDENTIDAD_MAX = 55
PTS_UUID = 40
PTS_SERIE_FOLIO = 30
PTS_FOLIO = 20
PTS_MONTO_EXACTO = 35
PTS_SUBCONJUNTO = 30
PTS_SUBCONJUNTO_AMBIGUO = -10
PTS_EQUIVALENTE_CERCA = 25
PTS_EQUIVALENTE = 20
PTS_MONTO_HABITUAL = 10
PTS_DIA_HABITUAL = 5
PTS_AMBIGUO_POR_CLIENTE = -10
PTS_AMBIGUO_MAX = -20

MAX_DOCS_SUBSET = 20
MAX_DOCS_SUBSET_INDEX = 12
MAX_SUBSET_SIZE_INDEX = 4


@dataclass(frozen=True, slots=True)
class Deposit:
    """A credit on a bank statement, as the bank adapters produce it."""

    id: str  # the movement's fingerprint
    fecha: date
    importe: Decimal
    moneda: str = MXN
    descripcion: str = ""
    referencia: str = ""
    rfc_ordenante: str | None = None
    cuenta_ordenante: str | None = None
    nombre_ordenante: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    customer: str
    rfc: str
    nombre: str = ""
    cuentas: tuple[str, ...] = ()
    pagos_previos: tuple[tuple[date, Decimal], ...] = ()  # (fecha, importe) of past payments


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    mensaje: str
    puntos: int


@dataclass(frozen=True, slots=True)
class SuggestedApplication:
    doc: OpenDocument
    importe: Decimal  # in the document's currency
    equivalencia: Decimal | None = None  # EquivalenciaDR override when currencies differ


@dataclass(frozen=True, slots=True)
class Suggestion:
    deposit_id: str
    customer: str
    aplicaciones: tuple[SuggestedApplication, ...]
    score: int
    razones: tuple[Reason, ...]
    remanente: Decimal = _ZERO  # deposit amount left as saldo a favor

    @property
    def pairs(self) -> list[tuple[OpenDocument, Decimal]]:
        return [(a.doc, a.importe) for a in self.aplicaciones]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.razones)


RateSource = Mapping[str, Decimal] | Callable[[str, date], Decimal | None]

# ------------------------------------------------------------------ text evidence

_DIGITS = re.compile(r"(?<!\d)\d{10,18}(?!\d)")
_HEX = re.compile(r"(?<![0-9A-F])[0-9A-F][0-9A-F-]{7,35}(?![0-9A-F])")
_AMOUNT_TEXT = re.compile(r"\$?\d{1,3}(?:,\d{3})+(?:\.\d{2})?|\$?\d+\.\d{2}(?!\d)")
_DATE_TEXT = re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")
_FOLIO_TOKEN = re.compile(r"(?<![A-Z0-9])([A-Z]{1,5})?[\s#_-]{0,2}(\d{1,10})(?![0-9])")
_LEGAL_SUFFIX = re.compile(
    r"\b(S\.?\s?A\.?\s?P\.?\s?I\.?|S\.?\s?A\.?|S\.?\s?DE\s?R\.?\s?L\.?|S\.?\s?C\.?|A\.?\s?C\.?|"
    r"DE\s+C\.?\s?V\.?|C\.?\s?V\.?)(?=\s|$)"
)


def _fold(text: str) -> str:
    """Upper case without accents (banks strip them, users do not); Ñ stays (RFCs)."""
    out: list[str] = []
    for char in text.upper():
        if char == "Ñ":
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def _name_key(name: str) -> str:
    folded = _fold(name)
    folded = _LEGAL_SUFFIX.sub(" ", folded)
    folded = re.sub(r"[^A-Z0-9 ]", " ", folded)
    return " ".join(folded.split())


def _digits_only(text: str) -> str:
    return re.sub(r"\D", "", text)


def _cents(value: Decimal, decimals: int) -> int:
    return int(value.scaleb(decimals).to_integral_value())


@dataclass(slots=True)
class _Evidence:
    text: str
    rfcs: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    hex_tokens: set[str] = field(default_factory=set)
    folio_tokens: set[tuple[str, str]] = field(default_factory=set)  # (serie, folio)


def _evidence(deposit: Deposit) -> _Evidence:
    parts = [deposit.descripcion, deposit.referencia, deposit.nombre_ordenante or ""]
    text = _fold(" ".join(parts))
    ev = _Evidence(text=text)
    ev.rfcs.update(rfcs_in_text(text))
    if deposit.rfc_ordenante:
        ev.rfcs.add(deposit.rfc_ordenante.strip().upper())
    ev.numbers.update(_DIGITS.findall(text))
    if deposit.cuenta_ordenante:
        ev.numbers.add(_digits_only(deposit.cuenta_ordenante))
    for m in _HEX.finditer(text):
        token = m.group(0).replace("-", "")
        if len(token) >= 8:
            ev.hex_tokens.add(token)
    # Folio tokens: drop amounts, dates, RFCs and long numbers first, whose digit
    # groups would otherwise read as folios ("1,234.56" -> folio 234).
    scrub = _AMOUNT_TEXT.sub(" ", text)
    scrub = _DATE_TEXT.sub(" ", scrub)
    scrub = RFC_IN_TEXT.sub(" ", scrub)  # RFC-shaped, valid or not: never a folio
    scrub = re.sub(r"\d{9,}", " ", scrub)
    for m in _FOLIO_TOKEN.finditer(scrub):
        serie = m.group(1) or ""
        ev.folio_tokens.add((serie, m.group(2).lstrip("0") or "0"))
    return ev


# ----------------------------------------------------------------------- subsets


def subset_sums_matching(amounts: Sequence[int], target: int, *, limit: int = 8) -> list[tuple[int, ...]]:
    """Index tuples (size >= 2) of ``amounts`` adding up to ``target``, meet in the middle.

    ``amounts`` are positive integers (centavos); at most 2^(n/2) sums per half.
    """
    n = len(amounts)
    if n < 2 or target <= 0:
        return []
    half = n // 2

    def enumerate_half(offset: int, items: Sequence[int]) -> list[tuple[int, int]]:
        sums: list[tuple[int, int]] = [(0, 0)]
        for i, value in enumerate(items):
            bit = 1 << (offset + i)
            sums += [(s + value, mask | bit) for s, mask in sums if s + value <= target]
        return sums

    left = enumerate_half(0, amounts[:half])
    right = enumerate_half(half, amounts[half:])
    by_sum: dict[int, list[int]] = defaultdict(list)
    for s, mask in left:
        by_sum[s].append(mask)
    found: list[tuple[int, ...]] = []
    for s, rmask in right:
        for lmask in by_sum.get(target - s, ()):
            mask = lmask | rmask
            if mask.bit_count() >= 2:
                found.append(tuple(i for i in range(n) if mask >> i & 1))
                if len(found) >= limit:
                    return found
    return found


# ----------------------------------------------------------------------- matcher


@dataclass(slots=True)
class _Option:
    apps: list[SuggestedApplication]
    reasons: list[Reason]
    consumed: Decimal
    closeness: Decimal = _ZERO  # tie-break: minus the relative amount difference

    @property
    def points(self) -> int:
        return sum(r.puntos for r in self.reasons)


class Matcher:
    """Indexes open documents and profiles once; ``suggest`` per deposit."""

    def __init__(
        self,
        profiles: Iterable[CustomerProfile],
        open_docs: Iterable[OpenDocument],
        *,
        tipos_cambio: RateSource | None = None,
        tolerancia_cambio: Decimal = Decimal("0.01"),
    ) -> None:
        self.profiles: dict[str, CustomerProfile] = {p.customer: p for p in profiles}
        self._rates = tipos_cambio
        self._tol = tolerancia_cambio
        docs_by_customer: dict[str, list[OpenDocument]] = defaultdict(list)
        for doc in open_docs:
            if not doc.cancelado and doc.saldo > 0:
                docs_by_customer[doc.customer].append(doc)
        self.docs: dict[str, list[OpenDocument]] = {
            c: oldest_first(ds) for c, ds in docs_by_customer.items()
        }
        self._by_rfc: dict[str, str] = {}
        self._accounts: list[tuple[str, str]] = []
        self._names: list[tuple[str, str]] = []
        for p in self.profiles.values():
            self._by_rfc[p.rfc.strip().upper()] = p.customer
            for account in p.cuentas:
                digits = _digits_only(account)
                if len(digits) >= 10:
                    self._accounts.append((digits, p.customer))
            key = _name_key(p.nombre)
            if len(key) >= 6:
                self._names.append((key[:24], p.customer))
        self._uuid_parts: dict[str, list[OpenDocument]] = defaultdict(list)
        self._serie_folio: dict[tuple[str, str], list[OpenDocument]] = defaultdict(list)
        self._folio: dict[str, list[OpenDocument]] = defaultdict(list)
        self._exact: dict[tuple[str, int], list[OpenDocument]] = defaultdict(list)
        self._sorted_by_currency: dict[str, list[tuple[Decimal, str]]] = defaultdict(list)
        self._doc_by_uuid: dict[str, OpenDocument] = {}
        self._subset_index: dict[tuple[str, int], list[tuple[str, tuple[str, ...]]]] = (
            defaultdict(list))
        self._habit_amounts: dict[int, list[str]] = defaultdict(list)
        for customer, docs in self.docs.items():
            for doc in docs:
                u = doc.uuid.upper().replace("-", "")
                self._doc_by_uuid[doc.uuid] = doc
                for part in (u, u[:8], u[-12:]):
                    self._uuid_parts[part].append(doc)
                folio = (doc.folio or "").strip().upper().lstrip("0") or "0"
                if doc.folio:
                    serie = re.sub(r"[^A-Z]", "", _fold(doc.serie or ""))
                    if serie:
                        self._serie_folio[(serie, folio)].append(doc)
                    self._folio[folio].append(doc)
                d = money.currency_decimals(doc.moneda)
                self._exact[(doc.moneda, _cents(doc.saldo, d))].append(doc)
                self._sorted_by_currency[doc.moneda].append((doc.saldo, doc.uuid))
            self._index_subsets(customer, docs)
        for items in self._sorted_by_currency.values():
            items.sort()
        for p in self.profiles.values():
            for amount in {a for _, a in p.pagos_previos[-12:]}:
                self._habit_amounts[_cents(amount, 2)].append(p.customer)

    def _index_subsets(self, customer: str, docs: list[OpenDocument]) -> None:
        by_currency: dict[str, list[OpenDocument]] = defaultdict(list)
        for doc in docs:
            by_currency[doc.moneda].append(doc)
        for currency, group in by_currency.items():
            d = money.currency_decimals(currency)
            oldest = group[:MAX_DOCS_SUBSET_INDEX]
            for size in range(2, min(MAX_SUBSET_SIZE_INDEX, len(oldest)) + 1):
                for combo in combinations(oldest, size):
                    total = sum(_cents(x.saldo, d) for x in combo)
                    self._subset_index[(currency, total)].append(
                        (customer, tuple(x.uuid for x in combo)))

    # -------------------------------------------------------------- rates

    def _rate(self, currency: str, day: date) -> Decimal | None:
        if currency == MXN:
            return Decimal(1)
        if self._rates is None:
            return None
        if callable(self._rates):
            return self._rates(currency, day)
        return self._rates.get(currency)

    def _equivalence(self, doc: OpenDocument, deposit: Deposit) -> Decimal | None:
        """Doc currency per deposit unit at the deposit date's rates (None if unknown)."""
        if doc.moneda == deposit.moneda:
            return Decimal(1)
        r_doc = self._rate(doc.moneda, deposit.fecha)
        r_dep = self._rate(deposit.moneda, deposit.fecha)
        if not r_doc or not r_dep:
            return None
        return money.quantize(r_dep / r_doc, money.SCALE_EQUIVALENCIA_DR)

    # -------------------------------------------------------------- suggest

    def suggest(self, deposit: Deposit, *, limit: int = 3) -> list[Suggestion]:
        """Ranked suggestions for ``deposit`` (best first, at most ``limit``)."""
        if deposit.importe <= 0:
            return []
        ev = _evidence(deposit)
        identity: dict[str, list[Reason]] = defaultdict(list)
        doc_refs: dict[str, dict[str, Reason]] = defaultdict(dict)
        self._identity_evidence(ev, identity)
        self._document_evidence(ev, doc_refs)
        amount_only = self._amount_candidates(deposit)

        candidates = set(identity) | set(doc_refs) | set(amount_only)
        for cents_key in (_cents(deposit.importe, 2),):
            for customer in self._habit_amounts.get(cents_key, ()):
                candidates.add(customer)
        # Amount-only customers compete with each other: penalise the ambiguity. An
        # exact fit only competes with other exact fits; an approximate one with all.
        weak = {c: exact for c, exact in amount_only.items()
                if c not in identity and c not in doc_refs}
        weak_exact = sum(weak.values())
        suggestions: list[Suggestion] = []
        for customer in candidates:
            id_reasons = self._combine_identity(identity.get(customer, []))
            refs = doc_refs.get(customer, {})
            option = self._best_option(customer, deposit, refs)
            if option is None:
                continue
            reasons = id_reasons + option.reasons + self._habit_reasons(customer, deposit)
            rivals = (weak_exact if weak.get(customer) else len(weak)) - 1
            if customer in weak and rivals > 0:
                penalty = max(PTS_AMBIGUO_MAX, PTS_AMBIGUO_POR_CLIENTE * rivals)
                reasons.append(Reason("AMBIGUO",
                                      f"Otros {rivals} clientes tienen saldos que coinciden "
                                      "con el importe.", penalty))
            score = max(0, min(100, sum(r.puntos for r in reasons)))
            remanente = deposit.importe - option.consumed
            if remanente > 0 and option.apps:
                reasons.append(Reason("SALDO_A_FAVOR",
                                      f"Sobran {money.fmt_money(remanente, deposit.moneda)}, "
                                      "que quedarían como saldo a favor.", 0))
            suggestions.append(Suggestion(deposit.id, customer, tuple(option.apps), score,
                                          tuple(reasons), remanente))
        suggestions.sort(key=lambda s: (-s.score, -len(s.razones), s.customer))
        return suggestions[:limit]

    def _identity_evidence(self, ev: _Evidence, out: dict[str, list[Reason]]) -> None:
        for rfc in ev.rfcs:
            customer = self._by_rfc.get(rfc)
            if customer is not None:
                out[customer].append(Reason("RFC_EN_DESCRIPCION",
                                            f"El RFC {rfc} del cliente aparece en el depósito.",
                                            PTS_RFC))
        for number in ev.numbers:
            for account, customer in self._accounts:
                # A CLABE (18 digits) embeds the 11-digit account: accept containment.
                if account == number or (len(account) >= 10 and len(number) >= 10
                                         and (account in number or number in account)):
                    masked = "*" * max(0, len(number) - 4) + number[-4:]
                    out[customer].append(Reason("CUENTA_CONOCIDA",
                                                f"La cuenta ordenante {masked} está registrada "
                                                "para el cliente.", PTS_CUENTA))
                    break
        for name, customer in self._names:
            if re.search(rf"(?<![A-Z0-9]){re.escape(name)}", ev.text):
                out[customer].append(Reason("NOMBRE_EN_DESCRIPCION",
                                            "El nombre del cliente aparece en la descripción.",
                                            PTS_NOMBRE))

    @staticmethod
    def _combine_identity(reasons: list[Reason]) -> list[Reason]:
        if not reasons:
            return []
        unique: dict[str, Reason] = {}
        for r in reasons:
            unique.setdefault(r.code, r)
        ordered = sorted(unique.values(), key=lambda r: -r.puntos)
        total = ordered[0].puntos + PTS_IDENTIDAD_EXTRA * (len(ordered) - 1)
        total = min(total, PTS_IDENTIDAD_MAX)
        result = [ordered[0]]
        remaining = total - ordered[0].puntos
        for r in ordered[1:]:
            pts = min(PTS_IDENTIDAD_EXTRA, remaining)
            remaining -= pts
            result.append(Reason(r.code, r.mensaje, pts))
        return result

    def _document_evidence(self, ev: _Evidence, out: dict[str, dict[str, Reason]]) -> None:
        for token in ev.hex_tokens:
            hits: list[OpenDocument] = []
            for part in {token, token[:8], token[-12:]}:
                hits.extend(self._uuid_parts.get(part, ()))
            for doc in hits:
                out[doc.customer][doc.uuid] = Reason(
                    "UUID_EN_REFERENCIA",
                    f"La referencia contiene el folio fiscal {doc.uuid[:8]}… de la factura "
                    f"{doc.serie_folio}.", PTS_UUID)
        for serie, folio in ev.folio_tokens:
            serie_hits = self._serie_folio.get((serie, folio), []) if serie else []
            for doc in serie_hits:
                out[doc.customer].setdefault(doc.uuid, Reason(
                    "FOLIO_EN_REFERENCIA", f"La referencia menciona la factura {doc.serie_folio}.",
                    PTS_SERIE_FOLIO))
            # A bare number is a folio only when it is long enough not to be noise.
            if not serie_hits and len(folio) >= 3:
                for doc in self._folio.get(folio, []):
                    out[doc.customer].setdefault(doc.uuid, Reason(
                        "FOLIO_EN_REFERENCIA",
                        f"La referencia menciona el folio {doc.folio} (factura "
                        f"{doc.serie_folio}).", PTS_FOLIO))

    def _amount_candidates(self, deposit: Deposit) -> dict[str, bool]:
        """Customers whose open balances fit the amount: ``{customer: exact?}``.

        Exact = one balance or a subset to the centavo in the deposit's currency;
        not exact = a balance in another currency within the tolerance.
        """
        found: dict[str, bool] = {}
        d = money.currency_decimals(deposit.moneda)
        key = (deposit.moneda, _cents(deposit.importe, d))
        for doc in self._exact.get(key, ()):
            if doc.fecha.date() <= deposit.fecha:
                found[doc.customer] = True
        for customer, _uuids in self._subset_index.get(key, ()):
            found[customer] = True
        for currency, items in self._sorted_by_currency.items():
            if currency == deposit.moneda:
                continue
            r_doc = self._rate(currency, deposit.fecha)
            r_dep = self._rate(deposit.moneda, deposit.fecha)
            if not r_doc or not r_dep:
                continue
            target = deposit.importe * r_dep / r_doc
            lo = bisect_left(items, (target * (1 - self._tol), ""))
            hi = bisect_right(items, (target * (1 + self._tol), "\uffff"))
            for _saldo, uuid in items[lo:hi]:
                found.setdefault(self._doc_by_uuid[uuid].customer, False)
        return found

    # -------------------------------------------------------------- options

    def _best_option(self, customer: str, deposit: Deposit, refs: Mapping[str, Reason]
                     ) -> _Option | None:
        docs = [d for d in self.docs.get(customer, []) if d.fecha.date() <= deposit.fecha
                or d.uuid in refs]
        if not docs:
            return None
        options: list[_Option] = []
        same = [d for d in docs if d.moneda == deposit.moneda]
        d_p = money.currency_decimals(deposit.moneda)
        target = _cents(deposit.importe, d_p)

        if refs:
            referenced = [d for d in docs if d.uuid in refs]
            options.append(self._referenced_option(deposit, referenced, docs, refs))
        exact = [d for d in same if _cents(d.saldo, d_p) == target]
        if exact:
            doc = exact[0]
            reasons = [Reason("MONTO_EXACTO",
                              f"El importe coincide exactamente con el saldo de la factura "
                              f"{doc.serie_folio}.", PTS_MONTO_EXACTO)]
            if doc.uuid in refs:
                reasons.insert(0, refs[doc.uuid])
            options.append(_Option([SuggestedApplication(doc, doc.saldo)], reasons, doc.saldo))
        pool = same[:MAX_DOCS_SUBSET]
        matches = subset_sums_matching([_cents(d.saldo, d_p) for d in pool], target, limit=8)
        if matches:
            best = min(matches, key=lambda idx: (sum(idx), len(idx)))
            chosen = [pool[i] for i in best]
            names = ", ".join(d.serie_folio for d in chosen)
            reasons = [Reason("SUMA_EXACTA_SUBCONJUNTO",
                              f"El importe es la suma exacta de los saldos de {len(chosen)} "
                              f"facturas: {names}.", PTS_SUBCONJUNTO)]
            reasons += [refs[d.uuid] for d in chosen if d.uuid in refs]
            if len(matches) > 1:
                reasons.append(Reason("SUBCONJUNTO_AMBIGUO",
                                      "Otras combinaciones de facturas también suman el importe; "
                                      "se sugieren las más antiguas.", PTS_SUBCONJUNTO_AMBIGUO))
            options.append(_Option([SuggestedApplication(d, d.saldo) for d in chosen], reasons,
                                   sum((d.saldo for d in chosen), _ZERO)))
        for doc in docs:
            if doc.moneda == deposit.moneda:
                continue
            option = self._foreign_option(doc, deposit, refs)
            if option is not None:
                options.append(option)
        if not options:
            # Identity or habit without an amount match: oldest-first, as a partial.
            options.append(self._oldest_first_option(deposit, docs, []))
        best_option = max(options, key=lambda o: (o.points, o.closeness, -len(o.apps)))
        return best_option if best_option.apps else None

    def _referenced_option(self, deposit: Deposit, referenced: list[OpenDocument],
                           docs: list[OpenDocument], refs: Mapping[str, Reason]) -> _Option:
        option = self._oldest_first_option(deposit, docs, referenced)
        reasons = [refs[d.uuid] for d in referenced]
        paid = {a.doc.uuid: a.importe for a in option.apps}
        ref_full = all(paid.get(d.uuid) == d.saldo for d in referenced)
        if ref_full and len(option.apps) == len(referenced) and option.consumed == deposit.importe:
            code, pts = (("MONTO_EXACTO", PTS_MONTO_EXACTO) if len(referenced) == 1
                         else ("SUMA_EXACTA_SUBCONJUNTO", PTS_SUBCONJUNTO))
            if all(d.moneda == deposit.moneda for d in referenced):
                reasons.append(Reason(code, "El importe coincide exactamente con el saldo de las "
                                            "facturas referidas.", pts))
        elif not ref_full:
            reasons.append(Reason("PAGO_PARCIAL", "El importe cubre solo parte del saldo de la "
                                                  "factura referida; se sugiere como parcialidad.",
                                  0))
        option.reasons = reasons + option.reasons
        return option

    def _foreign_option(self, doc: OpenDocument, deposit: Deposit, refs: Mapping[str, Reason]
                        ) -> _Option | None:
        eq_rate = self._equivalence(doc, deposit)
        if eq_rate is None:
            return None
        converted = deposit.importe * eq_rate
        diff = abs(converted - doc.saldo) / doc.saldo
        if diff > self._tol:
            return None
        pts = PTS_EQUIVALENTE_CERCA if diff <= Decimal("0.003") else PTS_EQUIVALENTE
        # The suggestion settles the balance in full and records the equivalence the
        # bank really applied (override), so the document does not keep a few centavos.
        eq = money.quantize(doc.saldo / deposit.importe, money.SCALE_EQUIVALENCIA_DR)
        consumed = consumption_in_payment_currency(doc.saldo, doc.moneda, eq, deposit.moneda)
        if consumed > deposit.importe:
            eq += _EQ_STEP
            consumed = consumption_in_payment_currency(doc.saldo, doc.moneda, eq, deposit.moneda)
        if consumed > deposit.importe:
            return None
        reasons = [Reason("MONTO_EQUIVALENTE",
                          f"Al tipo de cambio del día, {money.fmt_money(deposit.importe, deposit.moneda)}"
                          f" equivalen al saldo de la factura {doc.serie_folio} "
                          f"({money.fmt_money(doc.saldo, doc.moneda)}; diferencia "
                          f"{(diff * 100).quantize(Decimal('0.01'))}%).", pts)]
        if doc.uuid in refs:
            reasons.insert(0, refs[doc.uuid])
        return _Option([SuggestedApplication(doc, doc.saldo, eq)], reasons, consumed, -diff)

    def _oldest_first_option(self, deposit: Deposit, docs: list[OpenDocument],
                             first: list[OpenDocument]) -> _Option:
        available = deposit.importe
        apps: list[SuggestedApplication] = []
        ordered = first + [d for d in docs if d not in first]
        for doc in ordered:
            if available <= 0:
                break
            eq = self._equivalence(doc, deposit)
            if eq is None:
                continue
            amount = max_payable(doc, available, deposit.moneda, eq)
            if amount <= 0:
                continue
            d_dr = money.currency_decimals(doc.moneda)
            amount = amount.quantize(Decimal(1).scaleb(-d_dr), rounding=ROUND_FLOOR)
            apps.append(SuggestedApplication(doc, amount,
                                             None if doc.moneda == deposit.moneda else eq))
            available -= consumption_in_payment_currency(amount, doc.moneda, eq, deposit.moneda)
        reasons: list[Reason] = []
        if apps and not first and apps[-1].importe < apps[-1].doc.saldo:
            reasons.append(Reason("PAGO_PARCIAL", "El importe no coincide con ningún saldo; se "
                                                  "sugiere aplicarlo a las facturas más antiguas.",
                                  0))
        return _Option(apps, reasons, deposit.importe - available)

    def _habit_reasons(self, customer: str, deposit: Deposit) -> list[Reason]:
        profile = self.profiles.get(customer)
        if profile is None or len(profile.pagos_previos) < 3:
            return []
        reasons: list[Reason] = []
        amounts = [a for _, a in profile.pagos_previos]
        typical = Decimal(median(amounts))
        if typical > 0 and abs(deposit.importe - typical) / typical <= Decimal("0.01"):
            reasons.append(Reason("MONTO_HABITUAL",
                                  f"El importe es similar a los pagos habituales del cliente "
                                  f"({money.fmt_money(typical, deposit.moneda)}).",
                                  PTS_MONTO_HABITUAL))
        day = int(median(d.day for d, _ in profile.pagos_previos))
        if abs(deposit.fecha.day - day) <= 2:
            reasons.append(Reason("DIA_HABITUAL",
                                  f"El cliente suele pagar alrededor del día {day} del mes.",
                                  PTS_DIA_HABITUAL))
        return reasons


def suggest(
    deposit: Deposit,
    profiles: Iterable[CustomerProfile],
    open_docs: Iterable[OpenDocument],
    *,
    tipos_cambio: RateSource | None = None,
    limit: int = 3,
) -> list[Suggestion]:
    """One-shot helper; for a whole statement build one ``Matcher`` and reuse it."""
    return Matcher(profiles, open_docs, tipos_cambio=tipos_cambio).suggest(deposit, limit=limit)


def assign(
    ranked: Mapping[str, Sequence[Suggestion]], *, min_score: int = 80
) -> dict[str, Suggestion]:
    """One suggestion per deposit for ``bank apply --min-score``, no balance used twice.

    The ``Matcher`` looks at each deposit on its own, so two deposits may propose the
    same invoice. Suggestions are taken by descending score; one whose documents no
    longer have the balance it needs is skipped and the deposit's next one is tried.
    """
    pool = sorted(
        ((s, rank) for suggestions in ranked.values()
         for rank, s in enumerate(suggestions) if s.score >= min_score),
        key=lambda item: (-item[0].score, item[1], item[0].deposit_id),
    )
    left: dict[str, Decimal] = {}
    chosen: dict[str, Suggestion] = {}
    for s, _rank in pool:
        if s.deposit_id in chosen:
            continue
        need: dict[str, Decimal] = defaultdict(Decimal)
        for a in s.aplicaciones:
            need[a.doc.uuid] += a.importe
        if all(left.get(u, next(a.doc.saldo for a in s.aplicaciones if a.doc.uuid == u)) >= amt
               for u, amt in need.items()):
            for a in s.aplicaciones:
                left[a.doc.uuid] = left.get(a.doc.uuid, a.doc.saldo) - a.importe
            chosen[s.deposit_id] = s
    return chosen
