"""Benchmark: ms per printed REP (PDF and HTML) against satcfdi's renderer, same XML, same run.

Run: ``.venv/bin/python bench/bench_pdf.py [N]``. The baseline is satcfdi's
``render.html_str`` (Jinja) and, when WeasyPrint and its system libraries load,
``render.pdf_bytes``; what could not be measured is printed, never assumed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from cfdi_cobranza.cfdi.factory import IVA16, CfdiFactory, PaidDoc
from cfdi_cobranza.pdf.rep import render_rep_html, render_rep_pdf


def _time(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up: imports, font metrics, compiled templates
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        factory = CfdiFactory(Path(tmp))
        docs = [
            PaidDoc(f"AAAAAAAA-0000-4000-8000-{i:012d}", 1, Decimal("1160.00"), Decimal("580.00"), IVA16)
            for i in range(3)
        ]
        xml = factory.payment(docs, num_operacion="SPEI-1").xml
        big = factory.payment(
            [PaidDoc(f"BBBBBBBB-0000-4000-8000-{i:012d}", 1, Decimal("1160.00"), Decimal("1160.00"), IVA16)
             for i in range(60)]
        ).xml

    ours_pdf = _time(lambda: render_rep_pdf(xml), n)
    ours_pdf_big = _time(lambda: render_rep_pdf(big), max(1, n // 5))
    ours_html = _time(lambda: render_rep_html(xml), n)
    print(f"REP de 3 documentos, N={n}")
    print(f"  cfdi_cobranza render_rep_pdf : {ours_pdf:8.2f} ms/PDF")
    print(f"  cfdi_cobranza render_rep_html: {ours_html:8.2f} ms/HTML")
    print(f"  cfdi_cobranza PDF con 60 documentos: {ours_pdf_big:8.2f} ms/PDF")

    try:
        from satcfdi import render
        from satcfdi.cfdi import CFDI
    except ImportError as exc:
        print(f"  satcfdi no disponible ({exc}); sin línea base")
        return
    cfdi = CFDI.from_string(xml)
    base_html = _time(lambda: render.html_str(cfdi), max(1, n // 4))
    print(f"  satcfdi render.html_str      : {base_html:8.2f} ms/HTML  "
          f"(nuestro HTML x{base_html / ours_html:.1f} más rápido; "
          f"nuestro PDF completo x{base_html / ours_pdf:.1f} frente a solo su HTML)")
    if getattr(render, "weasyprint", None) is None:
        print("  satcfdi render.pdf_bytes: WeasyPrint no carga en este entorno; "
              "la comparación de PDF se hizo solo contra su HTML")
        return
    try:
        base_pdf = _time(lambda: render.pdf_bytes(cfdi), 3)
    except Exception as exc:  # WeasyPrint present but its system libraries missing
        print(f"  satcfdi render.pdf_bytes falló ({type(exc).__name__}: {exc}); solo HTML")
        return
    print(f"  satcfdi render.pdf_bytes     : {base_pdf:8.2f} ms/PDF  "
          f"(nuestro PDF x{base_pdf / ours_pdf:.0f} más rápido)")


if __name__ == "__main__":
    main()
