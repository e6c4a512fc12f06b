"""Cover: logo, title, issuing body, classification banner, report id, date, author,
the period covered, the scope, template and generator."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Image,
    Spacer,
    Table,
    TableStyle,
)

from oversight.report.layout import Context
from oversight.report.text import Markup, day, escape, when

__all__ = ['cover', 'period', 'scope_text']


def scope_text(ctx: Context) -> str:
    t, scope = ctx.t, ctx.data.scope
    parts = []
    if scope.only_confirmed:
        parts.append(t.words("scope_only_confirmed"))
    if scope.rules:
        parts.append(t.words("scope_rules", rules=", ".join(scope.rules)))
    if scope.severities:
        parts.append(t.words("scope_severities", severities=", ".join(
            t.label("severity", s) for s in scope.severities)))
    if scope.period_from:
        parts.append(t.words("scope_from", date=scope.period_from))
    if scope.period_to:
        parts.append(t.words("scope_to", date=scope.period_to))
    if ctx.data.left_out_untimed:
        parts.append(t.words("scope_left_out", count=f"{ctx.data.left_out_untimed:,}"))
    if not parts:
        return t.words("scope_all")
    return t.words("scope_filtered", filters=Markup("; ".join(parts)))


def period(ctx: Context) -> str:
    """The period the findings' records cover, in words that are true when some or all
    of them carry no usable time."""
    d, t = ctx.data, ctx.t
    start, end = d.period
    count = len(d.findings)
    if not count:
        return t.words("period_none")
    if not start or not end:
        key = "period_unusable" if d.any_record_time else "period_untimed"
        return t.words(key, count=f"{count:,}")
    if d.untimed:
        return t.words("period_partly", start=day(start), end=day(end),
                       untimed=f"{d.untimed:,}", count=f"{count:,}")
    return t.words("period", start=day(start), end=day(end))


def cover(ctx: Context) -> list[Any]:
    t, d = ctx.t, ctx.data
    logo_w = t.num("logo", "cover_width_mm") * mm
    out: list[Any] = [Spacer(1, 12 * mm),
                      Image(io.BytesIO(ctx.logo), logo_w, logo_w, mask="auto", hAlign="LEFT"),
                      Spacer(1, 10 * mm), ctx.p(t.words("cover_kicker"), "kicker"),
                      ctx.heading(escape(d.title), d.title, 0, "title")]
    if d.body:
        out.append(ctx.p(t.words("cover_issued_by", body=d.body), "kicker"))
    banner = Table([[ctx.p(escape(ctx.classification), "banner")]], colWidths=[ctx.width],
                   style=TableStyle([("FONT", (0, 0), (-1, -1), ctx.regular),
                                     ("BACKGROUND", (0, 0), (-1, -1),
                                      t.colour("classification", "background")),
                                     ("TOPPADDING", (0, 0), (-1, -1), 6),
                                     ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))
    out += [Spacer(1, 6 * mm), banner, Spacer(1, 8 * mm)]
    rows = [(t.words("cover_report_id"), ctx.mono_markup(d.report_id)),
            (t.words("cover_date"), escape(when(d.created_at))),
            (t.words("cover_author"), escape(d.author)),
            (t.words("cover_period"), period(ctx)),
            (t.words("cover_scope"), scope_text(ctx)),
            (t.words("cover_template"), escape(t.name)),
            (t.words("cover_generator"), escape(d.generator))]
    out += [ctx.kv(rows, 0.22), Spacer(1, 10 * mm), ctx.p(t.words("cover_note"), "muted")]
    return out
