"""Executive summary: counts by severity and status, the charts, findings per rule."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import CondPageBreak  # type: ignore[import-untyped]

from oversight.criteria.pack import SEVERITIES
from oversight.report.charts import summary_charts
from oversight.report.layout import Context
from oversight.report.order import rule_order, status_order
from oversight.report.text import escape

__all__ = ['summary']


def summary(ctx: Context) -> list[Any]:
    t, d = ctx.t, ctx.data
    counts = d.counts()
    sev = counts["severity"]
    out: list[Any] = [ctx.heading(t.words("title_summary"),
                                  t.settings["wording"]["title_summary"], 0, "h1")]
    if not d.findings:
        out.append(ctx.p(t.words("summary_none")))
    out.append(ctx.p(t.words("summary_counts", count=f"{len(d.findings):,}",
                             **{s: f"{sev.get(s, 0):,}" for s in SEVERITIES})))
    if counts["status"]:
        statuses = ", ".join(f"{t.label('status', s)} {n:,}"
                             for s, n in status_order(counts["status"]))
        out.append(ctx.p(t.words("summary_statuses", statuses=statuses)))
    if not d.findings:
        return out
    charts = summary_charts(ctx, counts)
    out += charts
    rows = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_severity"),
                         t.words("col_findings"), t.words("col_confirmed"))]
    confirmed: dict[str, int] = {}
    for f in d.findings:
        if f["status"] == "confirmed":
            confirmed[f["rule_id"]] = confirmed.get(f["rule_id"], 0) + 1
    for rule_id in rule_order(ctx.data.rules, counts["rule"]):
        rule = d.rules.get(rule_id, {})
        rows.append([ctx.p(escape(rule_id), "cell"), ctx.p(escape(rule.get("title")), "cell"),
                     ctx.p(escape(t.label("severity", str(rule.get("severity", "")))), "cell"),
                     ctx.p(f"{counts['rule'][rule_id]:,}", "cell"),
                     ctx.p(f"{confirmed.get(rule_id, 0):,}", "cell")])
    out += [CondPageBreak(40 * mm), ctx.p(t.words("summary_rules_intro")),
            ctx.table(rows, (0.12, 0.54, 0.12, 0.11, 0.11))]
    return out
