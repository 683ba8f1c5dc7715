"""Server-side SVG bar chart of the aging buckets (no JavaScript, nothing fetched).

The geometry is computed here and the template only writes the numbers into
``<rect>``/``<text>`` elements, so the chart works under a strict CSP and prints well.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from web.filters import money

WIDTH = 640
HEIGHT = 260
TOP = 28
BOTTOM = 44
LEFT = 16
RIGHT = 16


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    css: str
    label_x: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    title: str
    empty: bool


def aging_chart(labels: tuple[str, ...], values: tuple[Decimal, ...], currency: str) -> BarChart:
    n = max(1, len(labels))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar_w = slot * 0.62
    top_value = max(values, default=Decimal(0))
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        share = float(value / top_value) if top_value > 0 else 0.0
        h = round(plot_h * share, 1)
        if value > 0:
            h = max(h, 2.0)  # a tiny balance still shows as a sliver, not as nothing
        x = LEFT + i * slot + (slot - bar_w) / 2
        css = "bucket-0" if i == 0 else f"bucket-{min(i, 4)}"
        bars.append(Bar(round(x, 1), round(TOP + plot_h - h, 1), round(bar_w, 1), h, label,
                        money(value, currency), css, round(x + bar_w / 2, 1)))
    return BarChart(WIDTH, HEIGHT, TOP + plot_h, bars, f"Antigüedad de saldos en {currency}", top_value <= 0)
