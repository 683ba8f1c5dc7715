"""Benchmark of deposit matching: precision and recall of the top suggestion.

Run: ``.venv/bin/python bench/bench_matching.py [--deposits 560] [--customers 220]``.

Top-1 is *correct* when the best suggestion names the right customer and exactly the
right documents with the right amounts (for foreign-currency cases the documents).
Precision = correct / deposits that got a suggestion (at or above the threshold);
recall = correct / deposits of the case that have a truth. Noise deposits (nothing to
match) count against precision when they receive a suggestion.

The baseline, measured in the same run, is the rule most reconciliation tools start
with: "the first open invoice whose balance equals the deposit".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_statement import CASES, Scenario, Truth, generate

from cfdi_cobranza.domain.matching import Matcher, SuggestedApplication, Suggestion
from cfdi_cobranza.domain.payments import OpenDocument

Row = tuple[str, int, int, int, float, float]


def is_correct(s: Suggestion | None, t: Truth) -> bool:
    if s is None or t.customer is None or s.customer != t.customer:
        return False
    got = {(a.doc.uuid, a.importe) for a in s.aplicaciones}
    if t.case == "moneda_extranjera":
        return {u for u, _ in got} == {u for u, _ in t.apps}
    return got == set(t.apps)


def baseline(scn: Scenario) -> dict[str, Suggestion | None]:
    by_amount: dict[tuple[str, Decimal], OpenDocument] = {}
    for d in scn.docs:
        by_amount.setdefault((d.moneda, d.saldo), d)
    out: dict[str, Suggestion | None] = {}
    for dep in scn.deposits:
        doc = by_amount.get((dep.moneda, dep.importe))
        out[dep.id] = (Suggestion(dep.id, doc.customer, (SuggestedApplication(doc, doc.saldo),),
                                  50, ()) if doc is not None else None)
    return out


def table(scn: Scenario, top: dict[str, Suggestion | None], min_score: int) -> list[Row]:
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, suggested, correct
    for dep in scn.deposits:
        t = scn.truth[dep.id]
        s = top[dep.id]
        if s is not None and s.score < min_score:
            s = None
        row = stats[t.case]
        row[0] += 1
        if s is not None:
            row[1] += 1
            row[2] += is_correct(s, t)
    rows: list[Row] = []
    total = [0, 0, 0, 0]  # n with truth, suggested, correct, noise suggested
    for case in CASES:
        n, sug, ok = stats.get(case, [0, 0, 0])
        prec = ok / sug if sug else float("nan")
        rec = ok / n if n and case != "ruido" else float("nan")
        rows.append((case, n, sug, ok, prec, rec))
        if case == "ruido":
            total[1] += sug
        else:
            total[0] += n
            total[1] += sug
            total[2] += ok
    rows.append(("TOTAL", total[0] + stats["ruido"][0], total[1], total[2],
                 total[2] / total[1] if total[1] else float("nan"),
                 total[2] / total[0] if total[0] else float("nan")))
    return rows


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"| {'caso':<20} | {'n':>4} | {'sugeridos':>9} | {'correctos':>9} | "
          f"{'precisión top-1':>15} | {'recall top-1':>12} |")
    print(f"|{'-' * 22}|{'-' * 6}|{'-' * 11}|{'-' * 11}|{'-' * 17}|{'-' * 14}|")
    for case, n, sug, ok, prec, rec in rows:
        p = "   -" if prec != prec else f"{prec:6.1%}"
        r = "   -" if rec != rec else f"{rec:6.1%}"
        print(f"| {case:<20} | {n:>4} | {sug:>9} | {ok:>9} | {p:>15} | {r:>12} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deposits", type=int, default=560)
    ap.add_argument("--customers", type=int, default=220)
    ap.add_argument("--seed", type=int, default=20240301)
    ap.add_argument("--show-errors", type=int, default=0)
    args = ap.parse_args()

    scn = generate(args.customers, args.deposits, args.seed)
    print(f"{len(scn.deposits)} depósitos, {len(scn.profiles)} clientes, "
          f"{len(scn.docs)} documentos abiertos")

    t0 = time.perf_counter()
    matcher = Matcher(scn.profiles, scn.docs, tipos_cambio=scn.rate)
    build = time.perf_counter() - t0
    times: list[float] = []
    top: dict[str, Suggestion | None] = {}
    for dep in scn.deposits:
        t1 = time.perf_counter()
        ranked = matcher.suggest(dep)
        times.append(time.perf_counter() - t1)
        top[dep.id] = ranked[0] if ranked else None
    t2 = time.perf_counter()
    base = baseline(scn)
    base_time = time.perf_counter() - t2

    print_table("Matcher, cualquier puntaje (top-1):", table(scn, top, 0))
    print_table("Matcher, puntaje >= 80 (aplicación automática):", table(scn, top, 80))
    print_table("Línea base (primer saldo igual al importe):", table(scn, base, 0))

    bands = [(80, 101), (60, 80), (35, 60), (0, 35)]
    print("\nCalibración por banda de puntaje (top-1):")
    print("| banda | sugerencias | correctas | precisión |")
    print("|-------|-------------|-----------|-----------|")
    for lo, hi in bands:
        inside = [(d, s) for d, s in top.items() if s is not None and lo <= s.score < hi]
        ok = sum(is_correct(s, scn.truth[d]) for d, s in inside)
        prec = f"{ok / len(inside):.1%}" if inside else "-"
        print(f"| {lo}-{min(hi, 100)} | {len(inside)} | {ok} | {prec} |")

    times.sort()
    mean = sum(times) / len(times)
    print(f"\nÍndice: {build * 1000:.1f} ms; por depósito: media {mean * 1000:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms, máx {times[-1] * 1000:.2f} ms; "
          f"línea base {base_time / len(times) * 1000:.3f} ms/depósito "
          f"(razón {mean / max(base_time / len(times), 1e-9):.0f}x)")

    if args.show_errors:
        shown = 0
        for dep in scn.deposits:
            t = scn.truth[dep.id]
            s = top[dep.id]
            if t.customer is not None and not is_correct(s, t) and shown < args.show_errors:
                shown += 1
                print(f"\n[{t.case}] {dep.id} {dep.importe} {dep.descripcion!r} ref={dep.referencia!r}")
                print(f"  verdad: {t.customer} {sorted(t.apps)}")
                if s:
                    print(f"  top-1 : {s.customer} {s.score} {s.codes} "
                          f"{[(a.doc.uuid[:8], a.importe) for a in s.aplicaciones]}")


if __name__ == "__main__":
    main()
