"""Generate a bank statement with known truth for the deposit-matching benchmark.

A seeded, reproducible world: customers (RFC, name, bank accounts, payment history),
their open invoices (MXN, some USD) and deposits whose correct application is known.
Cases:

* ``exacto``: one invoice paid in full; the payer shows itself by RFC + account,
  by name, by the invoice folio in the reference, or not at all (amount only);
* ``parcial``: part of one invoice; payer by RFC/account or name, folio 60% of times;
* ``combinado``: 2-4 invoices of one customer paid with a single transfer;
* ``referencia_erronea``: the reference cites another customer's folio (or one that
  does not exist) while RFC/account and the amount point to the true invoice;
* ``moneda_extranjera``: a USD invoice paid with pesos at the day's rate +-0.3%;
* ``ruido``: deposits that pay nothing known (interest, refunds): a good matcher
  suggests nothing, or something with a low score.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cfdi_cobranza.domain.matching import CustomerProfile, Deposit
from cfdi_cobranza.domain.payments import OpenDocument, oldest_first

CASES = ("exacto", "parcial", "combinado", "referencia_erronea", "moneda_extranjera", "ruido")
_WEIGHTS = (0.32, 0.14, 0.2, 0.12, 0.14, 0.08)
_WORDS = ("ACEROS", "ALIMENTOS", "COMERCIAL", "DISTRIBUIDORA", "SERVICIOS", "INDUSTRIAS",
          "TRANSPORTES", "GRUPO", "CONSTRUCTORA", "FARMACIAS", "LOGISTICA", "TEXTILES",
          "PAPELERA", "AGRICOLA", "MINERA", "QUIMICA", "PLASTICOS", "MUEBLES", "HOTELERA",
          "ELECTRICA", "NORTE", "SUR", "BAJIO", "PACIFICO", "GOLFO", "CENTRO", "MAYA",
          "AZTECA", "SIERRA", "VALLE", "DEL", "MAR", "SOL", "LUNA", "ROBLE", "PINO")
_FIRST = ("JUAN", "MARIA", "JOSE", "GUADALUPE", "LUIS", "ANA", "CARLOS", "ROSA", "JORGE")
_LAST = ("GOMEZ", "HERNANDEZ", "LOPEZ", "MARTINEZ", "PEREZ", "SANCHEZ", "RAMIREZ", "TORRES")
_BANKS = ("BBVA MEXICO", "BANORTE", "SANTANDER", "BANAMEX", "HSBC", "SCOTIABANK", "INBURSA")
_SERIES = ("A", "F", "FAC", "B")
_RATE = Decimal("17.05")
_COMMON_TOTALS = tuple(Decimal(x) for x in ("1160.00", "2320.00", "3480.00", "5800.00",
                                            "11600.00", "17400.00", "23200.00"))
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Truth:
    case: str
    customer: str | None
    apps: frozenset[tuple[str, Decimal]]  # (uuid, amount in doc currency)


@dataclass(slots=True)
class Scenario:
    profiles: list[CustomerProfile]
    docs: list[OpenDocument]
    deposits: list[Deposit]
    truth: dict[str, Truth]
    rates: dict[date, Decimal] = field(default_factory=dict)

    def rate(self, currency: str, day: date) -> Decimal | None:
        if currency == "MXN":
            return Decimal(1)
        if currency == "USD":
            return self.rates.get(day, _RATE)
        return None


def _money(value: float) -> Decimal:
    # Random floats are only a source of digits; the amounts are Decimal from here on.
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _rfc(rng: random.Random, moral: bool) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    head = "".join(rng.choice(letters) for _ in range(3 if moral else 4))
    ymd = f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    homo = "".join(rng.choice(letters + "0123456789") for _ in range(2)) + rng.choice("0123456789A")
    return head + ymd + homo


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _oldest_twin(doc: OpenDocument, docs: list[OpenDocument]) -> OpenDocument:
    """Among invoices of one customer with the same balance, the oldest is the truth.

    Nothing tells such twins apart but their age, and collections settles the oldest
    first (so does the matcher).
    """
    return oldest_first(x for x in docs if x.moneda == doc.moneda and x.saldo == doc.saldo)[0]


def _oldest_twins(chosen: list[OpenDocument], docs: list[OpenDocument]) -> list[OpenDocument]:
    result: list[OpenDocument] = []
    for doc in oldest_first(chosen):
        twins = oldest_first(x for x in docs if x.moneda == doc.moneda and x.saldo == doc.saldo
                             and x not in result)
        result.append(twins[0])
    return result


def generate(n_customers: int = 220, n_deposits: int = 560, seed: int = 20240301) -> Scenario:
    rng = random.Random(seed)
    start = date(2024, 1, 2)
    folio_seq = dict.fromkeys(_SERIES, 1000)
    profiles: list[CustomerProfile] = []
    docs: list[OpenDocument] = []
    by_customer: dict[str, list[OpenDocument]] = {}
    names_used: set[str] = set()
    for i in range(n_customers):
        cid = f"CLI{i:04d}"
        moral = rng.random() < 0.8
        if moral:
            while True:
                name = " ".join(rng.sample(_WORDS, 2)) + rng.choice((" SA DE CV", " SAPI DE CV",
                                                                       " S DE RL DE CV"))
                if name not in names_used:
                    break
        else:
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {rng.choice(_LAST)} {i}"
        names_used.add(name)
        accounts = tuple(_digits(rng, 18) if rng.random() < 0.7 else _digits(rng, 11)
                         for _ in range(rng.randint(1, 2)))
        history: list[tuple[date, Decimal]] = []
        usual_day = rng.randint(1, 28)
        usual_amount = _money(rng.uniform(2000, 90000))
        for k in range(rng.randint(0, 8)):
            month = 12 - k % 12
            amt = usual_amount if rng.random() < 0.6 else _money(rng.uniform(1000, 100000))
            history.append((date(2023, month, usual_day), amt))
        profiles.append(CustomerProfile(cid, _rfc(rng, moral), name, accounts, tuple(history)))
        own: list[OpenDocument] = []
        usd_customer = rng.random() < 0.18
        for _ in range(rng.randint(2, 9)):
            serie = rng.choice(_SERIES)
            folio_seq[serie] += rng.randint(1, 3)
            moneda = "USD" if usd_customer and rng.random() < 0.6 else "MXN"
            if moneda == "MXN" and rng.random() < 0.3:
                # Fixed monthly fees: the same total for many customers (and many
                # invoices of one customer), so the amount alone is ambiguous.
                total = rng.choice(_COMMON_TOTALS)
            else:
                base = _money(rng.uniform(300, 12000) if moneda == "USD"
                              else rng.uniform(800, 180000))
                total = (base * Decimal("1.16")).quantize(CENT, rounding=ROUND_HALF_UP)
            issued = start + timedelta(days=rng.randint(0, 75))
            saldo = total
            previas = 0
            if rng.random() < 0.15:  # already partly paid (elsewhere)
                saldo = (total * Decimal(str(rng.choice((0.3, 0.5, 0.6))))).quantize(CENT)
                previas = 1
            uuid = (f"{rng.getrandbits(32):08X}-{rng.getrandbits(16):04X}-"
                    f"{rng.getrandbits(16):04X}-{rng.getrandbits(16):04X}-"
                    f"{rng.getrandbits(48):012X}")
            own.append(OpenDocument(
                uuid=uuid, serie=serie, folio=str(folio_seq[serie]), customer=cid, moneda=moneda,
                total=total, saldo=saldo, fecha=datetime.combine(issued, datetime.min.time()),
                vencimiento=issued + timedelta(days=30), metodo_pago="PPD",
                num_parcialidades_previas=previas))
        docs.extend(own)
        by_customer[cid] = own

    profile_of = {p.customer: p for p in profiles}
    used: set[str] = set()
    deposits: list[Deposit] = []
    truth: dict[str, Truth] = {}
    scenario = Scenario(profiles, docs, deposits, truth)
    pay_day0 = date(2024, 3, 20)
    customer_ids = list(by_customer)
    customers_usd = [c for c, ds in by_customer.items() if any(d.moneda == "USD" for d in ds)]
    attempts = 0
    while len(deposits) < n_deposits and attempts < n_deposits * 50:
        attempts += 1
        case = rng.choices(CASES, _WEIGHTS)[0]
        pool = customers_usd if case == "moneda_extranjera" else customer_ids
        cid = rng.choice(pool)
        p = profile_of[cid]
        free = [d for d in by_customer[cid] if d.uuid not in used]
        mxn = [d for d in free if d.moneda == "MXN"]
        usd = [d for d in free if d.moneda == "USD"]
        day = pay_day0 + timedelta(days=rng.randint(0, 25))
        dep_id = f"DEP{len(deposits):05d}"
        apps: list[tuple[str, Decimal]] = []
        ref = ""
        if case == "ruido":
            amount = _money(rng.uniform(5, 400000))
            desc = rng.choice(("INTERESES GANADOS", "DEVOLUCION COMISION", "TRASPASO ENTRE CUENTAS",
                               "DEPOSITO EFECTIVO SUC 0457", "ABONO POR AJUSTE"))
            deposits.append(Deposit(dep_id, day, amount, "MXN", desc, ""))
            truth[dep_id] = Truth(case, None, frozenset())
            continue
        if case in ("exacto", "referencia_erronea") and mxn:
            d = _oldest_twin(rng.choice(mxn), by_customer[cid])
            if d.uuid in used:
                continue
            chosen = [d]
            amount = d.saldo
            apps = [(d.uuid, d.saldo)]
        elif case == "parcial" and mxn:
            with_ref = rng.random() < 0.6
            if with_ref:
                d = rng.choice(mxn)
            else:
                # An unreferenced partial payment goes to the oldest invoice.
                d = oldest_first(by_customer[cid])[0]
                if d.uuid in used or d.moneda != "MXN":
                    continue
            chosen = [d]
            amount = (d.saldo * Decimal(str(rng.uniform(0.15, 0.85)))).quantize(CENT)
            apps = [(d.uuid, amount)]
        elif case == "combinado" and len(mxn) >= 2:
            k = rng.randint(2, min(4, len(mxn)))
            # Payers mostly settle their oldest invoices, sometimes an arbitrary set.
            chosen = (oldest_first(mxn)[:k] if rng.random() < 0.6 else rng.sample(mxn, k))
            chosen = _oldest_twins(chosen, by_customer[cid])
            if any(x.uuid in used for x in chosen):
                continue
            amount = sum((x.saldo for x in chosen), Decimal(0))
            apps = [(x.uuid, x.saldo) for x in chosen]
        elif case == "moneda_extranjera" and usd:
            d = rng.choice(usd)
            chosen = [d]
            bank_rate = (_RATE * Decimal(str(1 + rng.uniform(-0.003, 0.003)))).quantize(
                Decimal("0.0001"))
            amount = (d.saldo * bank_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            apps = [(d.uuid, d.saldo)]
        else:
            continue
        for x in chosen:
            used.add(x.uuid)
        first = chosen[0]
        style = rng.random()
        ident = ""
        bank = rng.choice(_BANKS)
        if case in ("referencia_erronea",) or (case != "exacto" and style < 0.55) or (
                case == "exacto" and style < 0.4):
            acct = rng.choice(p.cuentas)
            parts = [f"SPEI RECIBIDO DE {bank}"]
            if rng.random() < 0.85:
                parts.append(f"RFC {p.rfc}")
            if rng.random() < 0.85 or len(parts) == 1:
                parts.append(f"CTA {acct}")
            ident = " ".join(parts)
        elif style < 0.75 or case == "parcial":
            ident = f"ABONO TRANSF SPEI {p.nombre[:30]}"
        else:
            ident = rng.choice(("DEPOSITO EN EFECTIVO", "TRANSFERENCIA", "PAGO"))
        if case == "referencia_erronea":
            if rng.random() < 0.6:
                other = rng.choice(docs)
                while other.customer == cid:
                    other = rng.choice(docs)
                ref = f"{other.serie}{other.folio}"
            else:
                ref = f"FAC {rng.randint(90000, 99999)}"
        elif case == "parcial":
            ref = f"{first.serie}-{first.folio}" if with_ref else "ABONO A CUENTA"
        elif case == "exacto" and (style >= 0.75 or rng.random() < 0.3):
            ref = rng.choice((f"{first.serie}{first.folio}", f"F {first.serie}-{first.folio}",
                              first.uuid[:8]))
        elif case == "combinado" and rng.random() < 0.3:
            ref = " ".join(f"{x.serie}{x.folio}" for x in chosen)
        else:
            ref = _digits(rng, 7)
        deposits.append(Deposit(dep_id, day, amount, "MXN", f"{ident} CONCEPTO PAGO", ref))
        truth[dep_id] = Truth(case, cid, frozenset(apps))
    return scenario
