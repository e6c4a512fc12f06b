"""Indicators per agency, channel, rule and month (`oversight.indicators`), with what
they rest on; optional (`indicators.include`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import CondPageBreak, Spacer  # type: ignore[import-untyped]

from oversight.indicators import percent_text, rate_text
from oversight.report.charts import bar_chart, line_chart
from oversight.report.layout import Context
from oversight.report.text import escape, integer

__all__ = ['indicators']


_IND_TABLES = (("agency", "title_ind_agency"), ("channel", "title_ind_channel"),
               ("rule", "title_ind_rule"), ("month", "title_ind_month"))


def _pct(value: object) -> str:
    return percent_text(float(value)) if isinstance(value, (int, float)) else ""


def _ind_table(ctx: Context, key: str, table: Mapping[str, Any]) -> list[Any]:
    t = ctx.t
    rows_in = list(table.get("rows") or [])
    cap = int(t.num("indicators", "max_rows"))
    head = ctx.head_row(t.words("col_group"), t.words("col_operations"),
                        t.words("col_findings"), t.words("col_confirmed"),
                        t.words("col_dismissed"), t.words("col_open"),
                        t.words("col_per_1000"), t.words("col_decided"), t.words("col_rate"))
    rows = [head]
    for r in [*rows_in[:cap], table.get("total") or {}]:
        total = r is table.get("total")
        label = t.settings["wording"]["ind_total"] if total else \
            (r.get("group") or {}).get(key) or "–"
        rate = (f"{_pct(r.get('confirmed_rate'))} ({_pct(r.get('ci_low'))}–"
                f"{_pct(r.get('ci_high'))})" if r.get("confirmed_rate") is not None else "–")
        per = r.get("per_1000")
        cells = [label, integer(r.get("operations")), integer(r.get("findings")),
                 integer(r.get("confirmed")), integer(r.get("dismissed")), integer(r.get("open")),
                 "–" if per is None else rate_text(float(per)), integer(r.get("decided")), rate]
        style = "h3" if total else "cell"
        rows.append([ctx.p(escape(c), style if i == 0 else "cell")
                     for i, c in enumerate(cells)])
    out: list[Any] = [ctx.table(rows, (0.15, 0.12, 0.1, 0.115, 0.115, 0.065, 0.085, 0.095,
                                       0.155))]
    if len(rows_in) > cap:
        out.append(ctx.p(t.words("indicators_more", more=f"{len(rows_in) - cap:,}"), "muted"))
    return out


def indicators(ctx: Context) -> list[Any]:
    """Indicators per agency, channel, rule and month, with what they rest on; nothing
    when the template leaves the section out or the data has no indicators."""
    t, d = ctx.t, ctx.data
    ind = d.indicators
    if not t.get("indicators", "include") or not ind:
        return []
    w = t.settings["wording"]
    filters = ind.get("filters") or {}
    period = (t.words("period", start=filters.get("from") or "…", end=filters.get("to") or "…")
              if filters.get("from") or filters.get("to") else t.words("ind_period_all"))
    pack = ind.get("pack") or {}
    out: list[Any] = [ctx.heading(t.words("title_indicators"), w["title_indicators"], 0, "h1"),
                      ctx.p(t.words("indicators_intro")),
                      ctx.p(t.words("indicators_basis", pack=pack.get("id", ""),
                                    version=pack.get("version", ""),
                                    runs=", ".join(str(r) for r in ind.get("runs") or []),
                                    timezone=ind.get("timezone", ""), period=period,
                                    status=filters.get("status", "any")))]
    left = {k: v for k, v in (ind.get("left_out") or {}).items() if v}
    if left:
        out.append(ctx.p(t.words("indicators_left_out", count=f"{sum(left.values()):,}",
                                 detail="; ".join(f"{k.replace('_', ' ')}: {v:,}"
                                                  for k, v in left.items()))))
    review = ind.get("review") or {}
    samples = "; ".join(f"{s.get('size')} of {s.get('population_size')}, seed {s.get('seed')}"
                        for s in ind.get("samples") or []) or "–"
    out.append(ctx.p(t.words("indicators_review", decided=f"{review.get('decided', 0):,}",
                             sampled=f"{review.get('decided_in_a_sample', 0):,}",
                             samples=samples)))
    height = t.num("charts", "height_mm") * mm
    bar = t.colour("styles", "colours", "chart_bar")
    for key, title_key in _IND_TABLES:
        table = (ind.get("tables") or {}).get(key) or {}
        rows = [r for r in table.get("rows") or []]
        out.append(CondPageBreak(60 * mm))
        out.append(ctx.heading(t.words(title_key), w[title_key], 1, "h2"))
        if not rows:
            out.append(ctx.p(t.words("ind_none")))
            continue
        labels = [str((r.get("group") or {}).get(key) or "–") for r in rows]
        values = [float(r.get("per_1000") or 0) for r in rows]
        if key == "month":
            # A line over time: operations with no (plausible) time are in no month, so
            # not a point on it (the table below has their row), as in the workstation.
            # A line needs two months; with fewer, the table alone says it.
            timed = [i for i, r in enumerate(rows) if (r.get("group") or {}).get(key)]
            if len(timed) >= 2:
                out.append(line_chart(ctx, t.settings["wording"]["chart_ind_month"],
                                      [labels[i] for i in timed],
                                      [values[i] for i in timed], ctx.width, height))
        else:
            shown = labels[:40]
            chart_h = len(shown) * t.num("charts", "rule_bar_mm") * mm + 14 * mm
            out.append(bar_chart(ctx, w["chart_ind_bars"], shown[::-1], values[:40][::-1],
                                 [bar] * len(shown), ctx.width, chart_h, horizontal=True,
                                 rates=True))
        out += [Spacer(1, 3 * mm), *_ind_table(ctx, key, table)]
    return out
