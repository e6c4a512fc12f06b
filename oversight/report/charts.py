"""Charts of the report (ReportLab graphics): bars of counts, and a line per month."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from reportlab.graphics.charts.barcharts import (  # type: ignore[import-untyped]
    HorizontalBarChart,
    VerticalBarChart,
)
from reportlab.graphics.charts.linecharts import (  # type: ignore[import-untyped]
    HorizontalLineChart,
)
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.platypus import Spacer, Table, TableStyle  # type: ignore[import-untyped]

from oversight.criteria.pack import SEVERITIES
from oversight.indicators import label_places, rate_text
from oversight.report.layout import Context
from oversight.report.order import rule_order, status_order
from oversight.report.text import plain

__all__ = ["bar_chart", "line_chart", "months_of", "nice_axis", "summary_charts"]


def nice_axis(top: float, whole: bool = True) -> tuple[float, float]:
    """Axis maximum and step up to `top`, about five ticks: whole steps for counts, and
    for rates (``whole`` False) steps as fine as they need (0.02 for rates under 0.1,
    where an axis to 1 would draw every bar a sliver)."""
    if top <= 0 or (whole and top < 1):
        top = 1
    raw = top / 5
    mag = 10.0 ** math.floor(math.log10(raw))
    if whole:
        mag = max(mag, 1)
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    if whole:
        step = max(int(step), 1)
    ticks = math.ceil(top / step - 1e-9)
    return (step * ticks, step) if whole else (float(f"{step * ticks:.12g}"), step)


def _tick_text(value: float) -> str:
    """A rate axis tick as written: 0.06, not 0.060000000000000005 nor %d's 0."""
    return f"{value:.12g}"


def bar_chart(ctx: Context, title: str, labels: list[str], values: list[int] | list[float],
               fills: list[Any], width: float, height: float, horizontal: bool = False,
               angle: int = 0, rates: bool = False) -> Any:
    """Bars of counts, or (``rates``) of rates such as findings per 1,000: an axis as
    fine as they need and labels that never write a rate which is not zero as zero."""
    t = ctx.t
    size = t.num("styles", "small_size")
    drawing = Drawing(width, height)
    drawing.initialFontName, drawing.initialFontSize = ctx.regular, size
    drawing.add(String(0, height - size - 2, plain(title), fontName=ctx.bold,
                       fontSize=size + 1, fillColor=t.colour("styles", "colours", "accent")))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    label_space = max((pdfmetrics.stringWidth(s, ctx.regular, size) for s in labels),
                      default=0)
    if horizontal:
        chart.x, chart.y = label_space + 8, 14
        chart.width, chart.height = width - label_space - 24, height - size - 24
    else:
        drop = label_space * math.sin(math.radians(angle)) + 4 if angle else size + 6
        chart.x, chart.y = 26, drop + 4
        chart.width, chart.height = width - 34, height - size - drop - 18
    chart.data = [values]
    vmax, step = nice_axis(max(values, default=0), whole=not rates)
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, vmax
    chart.valueAxis.valueStep = step
    chart.valueAxis.labelTextFormat = _tick_text if rates else "%d"
    chart.valueAxis.labels.fontName = ctx.regular
    chart.valueAxis.labels.fontSize = size
    chart.valueAxis.strokeColor = t.colour("styles", "colours", "rule")
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = t.colour("styles", "colours", "rule")
    chart.valueAxis.gridStrokeWidth = 0.25
    chart.categoryAxis.categoryNames = [plain(s) for s in labels]
    chart.categoryAxis.labels.fontName = ctx.regular
    chart.categoryAxis.labels.fontSize = size
    chart.categoryAxis.strokeColor = t.colour("styles", "colours", "rule")
    if horizontal:
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
    elif angle:
        chart.categoryAxis.labels.angle = angle
        chart.categoryAxis.labels.boxAnchor = "ne"
        chart.categoryAxis.labels.dx, chart.categoryAxis.labels.dy = 3, -3
    chart.barSpacing = 1
    chart.groupSpacing = 3 if len(values) > 12 else 8
    chart.bars.strokeColor = None
    for i, fill in enumerate(fills):
        chart.bars[(0, i)].fillColor = fill
    # Drawn later, so each chart keeps its own places (0.04, never "0.0").
    chart.barLabelFormat = (partial(rate_text, decimals=label_places(values)) if rates
                            else "%d")
    chart.barLabels.fontName = ctx.regular
    chart.barLabels.fontSize = size - 0.5
    chart.barLabels.fillColor = t.colour("styles", "colours", "text")
    if horizontal:
        chart.barLabels.boxAnchor, chart.barLabels.dx = "w", 2
    else:
        chart.barLabels.boxAnchor, chart.barLabels.dy = "s", 1
    drawing.add(chart)
    return drawing


def months_of(by_month: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """Every month from the first to the last (empty months count 0); years past 5 years."""
    keys = [k for k in by_month if re.fullmatch(r"\d{4}-\d{2}", k)]
    if not keys:
        return [], []
    first, last = min(keys), max(keys)
    y, m = int(first[:4]), int(first[5:])
    months = []
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if len(months) <= 60:
        return months, [by_month.get(k, 0) for k in months]
    years = sorted({k[:4] for k in months})
    return years, [sum(n for k, n in by_month.items() if k[:4] == yr) for yr in years]


def summary_charts(ctx: Context, counts: Mapping[str, Mapping[str, int]]) -> list[Any]:
    t = ctx.t
    height = t.num("charts", "height_mm") * mm
    half = ctx.width / 2 - 6
    bar = t.colour("styles", "colours", "chart_bar")
    sev = [s for s in reversed(SEVERITIES)]
    by_sev = bar_chart(ctx, t.settings["wording"]["chart_severity"],
                        [t.label("severity", s) for s in sev],
                        [counts["severity"].get(s, 0) for s in sev],
                        [t.colour("styles", "severity_colours", s) for s in sev], half, height)
    statuses = status_order(counts["status"])
    by_status = bar_chart(ctx, t.settings["wording"]["chart_status"],
                           [t.label("status", s) for s, _ in statuses],
                           [n for _, n in statuses], [bar] * len(statuses), half, height,
                           angle=30 if len(statuses) > 3 else 0)
    grid = Table([[by_sev, by_status]], colWidths=[ctx.width / 2] * 2,
                 style=TableStyle([("FONT", (0, 0), (-1, -1), ctx.regular),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    months, per_month = months_of(counts["month"])
    shown = [m if i % max(1, math.ceil(len(months) / 24)) == 0 else ""
             for i, m in enumerate(months)]
    out: list[Any] = [Spacer(1, 3 * mm), grid, Spacer(1, 4 * mm)]
    if months:
        out += [bar_chart(ctx, t.settings["wording"]["chart_month"], shown, per_month,
                           [bar] * len(months), ctx.width, height,
                           angle=45 if len(months) > 8 else 0), Spacer(1, 4 * mm)]
    rules = rule_order(ctx.data.rules, counts["rule"])
    if len(rules) > 40:
        rest = sum(counts["rule"][r] for r in rules[39:])
        labels = [*rules[:39], f"+{len(rules) - 39}"]
        values = [*(counts["rule"][r] for r in rules[:39]), rest]
    else:
        labels, values = rules, [counts["rule"][r] for r in rules]
    fills = [t.colour("styles", "severity_colours", ctx.data.rules[r]["severity"])
             if ctx.data.rules.get(r, {}).get("severity") in SEVERITIES else bar
             for r in labels]
    rule_h = len(labels) * t.num("charts", "rule_bar_mm") * mm + 14 * mm
    out.append(bar_chart(ctx, t.settings["wording"]["chart_rule"], labels[::-1],
                          values[::-1], fills[::-1], ctx.width, rule_h, horizontal=True))
    return out


def line_chart(ctx: Context, title: str, labels: list[str], values: list[float],
                width: float, height: float) -> Any:
    """Findings per 1,000 operations per month: one line (ReportLab's line chart)."""
    t = ctx.t
    size = t.num("styles", "small_size")
    drawing = Drawing(width, height)
    drawing.initialFontName, drawing.initialFontSize = ctx.regular, size
    drawing.add(String(0, height - size - 2, plain(title), fontName=ctx.bold,
                       fontSize=size + 1, fillColor=t.colour("styles", "colours", "accent")))
    chart = HorizontalLineChart()
    chart.x, chart.y = 30, size + 22
    chart.width, chart.height = width - 40, height - 2 * size - 34
    chart.data = [values]
    vmax, step = nice_axis(max(values, default=0.0), whole=False)
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, vmax
    chart.valueAxis.valueStep = step
    chart.valueAxis.labels.fontName = ctx.regular
    chart.valueAxis.labels.fontSize = size
    chart.valueAxis.labelTextFormat = _tick_text
    chart.categoryAxis.categoryNames = [plain(s) for s in labels]
    chart.categoryAxis.labels.fontName = ctx.regular
    chart.categoryAxis.labels.fontSize = size
    chart.categoryAxis.labels.angle = 45 if len(labels) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 8 else "n"
    chart.lines[0].strokeColor = t.colour("styles", "colours", "chart_bar")
    chart.lines[0].strokeWidth = 1.2
    chart.joinedLines = 1
    drawing.add(chart)
    return drawing


