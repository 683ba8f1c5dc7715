"""Server-side SVG charts: aging buckets and projected income (no JavaScript, nothing fetched).

The geometry is computed here and the template only writes the numbers into
``<rect>``/``<text>`` elements, so the chart works under a strict CSP and prints well.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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


def aging_chart(labels: tuple[str, ...], values: tuple[Decimal, ...], currency: str,
                title: str | None = None) -> BarChart:
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
    return BarChart(WIDTH, HEIGHT, TOP + plot_h, bars, title or f"Antigüedad de saldos en {currency}", top_value <= 0)


# --------------------------------------------------------------------------- projected income

P_WIDTH = 760
P_HEIGHT = 280
P_LEFT = 64
P_BOTTOM = 48


@dataclass(frozen=True)
class PairBar:
    x: float
    y: float
    height: float
    value: str


@dataclass(frozen=True)
class PeriodGroup:
    label: str
    sublabel: str
    label_x: float
    behaviour: PairBar
    due: PairBar


@dataclass(frozen=True)
class GridLine:
    y: float
    label: str


@dataclass(frozen=True)
class ProjectionChart:
    width: int
    height: int
    baseline: float
    bar_width: float
    groups: list[PeriodGroup]
    grid: list[GridLine]
    title: str
    empty: bool
    total_behaviour: str
    total_due: str


def _short(value: Decimal) -> str:
    """Axis labels: $1.2 M, $350 k, $900."""
    v = float(value)
    if v >= 1_000_000:
        return f"${v / 1_000_000:,.1f} M"
    if v >= 1_000:
        return f"${v / 1_000:,.0f} k"
    return f"${v:,.0f}"


def projection_chart(projection: Any) -> ProjectionChart:
    """Both projections per period, in MXN: by payment behaviour (with promises) and by due date."""
    rows = list(projection.filas_mxn)
    n = max(1, len(rows))
    plot_w = P_WIDTH - P_LEFT - RIGHT
    plot_h = P_HEIGHT - TOP - P_BOTTOM
    slot = plot_w / n
    bar_w = min(26.0, slot * 0.36)
    top_value = max([r.por_comportamiento for r in rows] + [r.por_vencimiento for r in rows], default=Decimal(0))
    baseline = TOP + plot_h

    def bar(x: float, value: Decimal) -> PairBar:
        share = float(value / top_value) if top_value > 0 else 0.0
        h = round(plot_h * share, 1)
        if value > 0:
            h = max(h, 2.0)
        return PairBar(round(x, 1), round(baseline - h, 1), h, money(value, "MXN"))

    groups = []
    for i, r in enumerate(rows):
        center = P_LEFT + i * slot + slot / 2
        groups.append(PeriodGroup(
            r.periodo.etiqueta.split("-")[-1], r.periodo.inicio.strftime("%d/%m"), round(center, 1),
            bar(center - bar_w - 1, r.por_comportamiento), bar(center + 1, r.por_vencimiento)))
    grid = []
    if top_value > 0:
        for k in range(1, 5):
            value = top_value * k / 4
            grid.append(GridLine(round(baseline - plot_h * k / 4, 1), _short(value)))
    total_b = sum((r.por_comportamiento for r in rows), Decimal(0))
    total_d = sum((r.por_vencimiento for r in rows), Decimal(0))
    return ProjectionChart(P_WIDTH, P_HEIGHT, baseline, round(bar_w, 1), groups, grid,
                           "Proyección de ingresos por periodo en MXN", top_value <= 0,
                           money(total_b, "MXN"), money(total_d, "MXN"))


# --------------------------------------------------------------------------- payment trends

T_WIDTH = 760
T_HEIGHT = 260
T_LEFT = 48


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    label: str  # the month, "2026-05"
    value: str  # "12.5 días"


@dataclass(frozen=True)
class TrendSeries:
    css: str
    name: str
    segments: list[str]  # SVG polyline "x,y x,y" runs over the months with payments
    points: list[TrendPoint]


@dataclass(frozen=True)
class MonthTick:
    x: float
    label: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    baseline: float
    series: list[TrendSeries]
    grid: list[GridLine]
    ticks: list[MonthTick]
    title: str
    empty: bool
    trend: str  # "Empeorando (+18.0 días)"
    trend_css: str


def _days(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'))} días"


def trend_chart(line: Any, title: str = "Días de atraso por mes") -> TrendChart:
    """Weighted and plain days late of what was paid each month (``domain.trends``) as lines.

    A month without payments has no point (not a fake zero): the line joins the months
    that have one, and each of those shows a dot."""
    months = list(line.meses)
    n = max(1, len(months))
    plot_w = T_WIDTH - T_LEFT - RIGHT
    plot_h = T_HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    step = plot_w / n
    paid = [t for t in months if t.pagados]
    top = max([max(t.ponderado, t.promedio) for t in paid], default=Decimal(0))
    scale = top if top > 0 else Decimal(10)

    def xy(i: int, value: Decimal) -> tuple[float, float]:
        return round(T_LEFT + step * i + step / 2, 1), round(baseline - plot_h * float(value / scale), 1)

    series = []
    # The plain mean first so the weighted line, the one the trend rule reads, is drawn on top.
    for css, name, attr in (("trend-plain", "Promedio por documento", "promedio"),
                            ("trend-weighted", "Ponderado por importe", "ponderado")):
        segments: list[str] = []
        run: list[str] = []
        points = []
        for i, t in enumerate(months):
            if not t.pagados:
                continue
            value: Decimal = getattr(t, attr)
            x, y = xy(i, value)
            run.append(f"{x},{y}")
            points.append(TrendPoint(x, y, t.etiqueta, _days(value)))
        if run:
            segments.append(" ".join(run))
        series.append(TrendSeries(css, name, segments, points))
    grid = [GridLine(round(baseline - plot_h * k / 4, 1), f"{(scale * k / 4).quantize(Decimal('1'))} d")
            for k in range(1, 5)] if paid else []
    every = 1 if n <= 12 else 3
    ticks = [MonthTick(xy(i, Decimal(0))[0], f"{t.mes:%m/%y}") for i, t in enumerate(months)
             if (n - 1 - i) % every == 0]
    v = line.veredicto
    change = "" if v.cambio is None else f" ({'+' if v.cambio > 0 else ''}{v.cambio.quantize(Decimal('0.1'))} días)"
    css = {"mejorando": "good", "empeorando": "bad", "estable": "", "sin_datos": "muted"}[v.tendencia.value]
    return TrendChart(T_WIDTH, T_HEIGHT, T_LEFT, baseline, series, grid, ticks, title, not paid,
                      v.tendencia.etiqueta + change, css)
