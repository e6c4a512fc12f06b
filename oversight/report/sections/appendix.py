"""Appendix: the audit-trail head, every decision in the findings' history, and the two
lines a verifier checks against the embedded manifest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.platypus import KeepTogether  # type: ignore[import-untyped]

from oversight.report.layout import Context
from oversight.report.text import escape, when

__all__ = ['appendix']


def _detail(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry.get("reason"):
        parts.append(str(entry["reason"]))
    detail = entry.get("detail")
    if isinstance(detail, Mapping):
        parts += [f"{k}: {v if v is not None else '–'}" for k, v in detail.items()]
    return "; ".join(parts)


def appendix(ctx: Context) -> list[Any]:
    t, d, digest = ctx.t, ctx.data, ctx.digest
    w = t.settings["wording"]
    out: list[Any] = [ctx.heading(t.words("title_appendix"), w["title_appendix"], 0, "h1"),
                      ctx.p(t.words("appendix_intro")),
                      ctx.heading(t.words("title_chain"), w["title_chain"], 1, "h2")]
    head = d.chain_head
    rows: list[tuple[str, Any]] = [
        (t.words("label_chain_seq"), escape(head.get("seq"))),
        (t.words("label_chain_hash"), ctx.mono_markup(head.get("hash")))]
    if head.get("workspace_id"):
        rows.append((t.words("label_workspace"), ctx.mono_markup(head["workspace_id"])))
    out.append(ctx.kv(rows))
    out.append(ctx.heading(t.words("title_decisions"), w["title_decisions"], 1, "h2"))
    decisions = sorted(((h, f["id"]) for f in d.findings for h in f.get("history") or []),
                       key=lambda x: (x[0].get("seq") or 0, x[1]))
    if not decisions:
        out.append(ctx.p(t.words("decisions_none")))
    else:
        cap = int(t.num("findings", "max_decisions"))
        fractions = (0.05, 0.16, 0.13, 0.23, 0.08, 0.17, 0.18)

        def cell(markup: str, column: int) -> Any:
            return ctx.cell(markup, "cell", ctx.width * fractions[column] - 6)

        table = [ctx.head_row(t.words("col_seq"), t.words("col_time"), t.words("col_user"),
                              t.words("col_finding"), t.words("col_action"),
                              t.words("col_change"), t.words("col_detail"))]
        for h, fid in decisions[:cap]:
            change = (f"{t.label('status', str(h.get('from') or '–'))} → "
                      f"{t.label('status', str(h['to']))}" if h.get("to") else "")
            table.append([cell(escape(h.get("seq")), 0),
                          # a paragraph, not a two-line string: pdftotext reads a
                          # string's lines as a block of their own, out of the row
                          ctx.p(escape(when(h.get("ts"))).replace(" ", "<br/>", 1), "cell"),
                          cell(escape(h.get("user")), 2),
                          ctx.mono_cell(fid, ctx.width * fractions[3] - 6),
                          cell(escape(h.get("action")), 4),
                          cell(escape(change), 5), cell(escape(_detail(h)), 6)])
        out += [ctx.p(t.words("decisions_intro")),
                ctx.table(table, fractions, extra=[
                    *ctx.string_style("cell", (0, 1), (-1, -1)),
                    *ctx.string_style("cell_mono", (3, 1), (3, -1))])]
        if len(decisions) > cap:
            out.append(ctx.p(t.words("decisions_more", more=f"{len(decisions) - cap:,}")))
    # The two lines a verifier checks: fixed wording, each on one line, the digest one token.
    size = t.num("styles", "base_size")
    label = "Manifest SHA-256: "
    avail = ctx.width - pdfmetrics.stringWidth(label, ctx.regular, size) - 4
    mono_size = min(size, avail / pdfmetrics.stringWidth(digest, ctx.mono, 1))
    out += [ctx.heading(t.words("title_manifest"), w["title_manifest"], 1, "h2"),
            ctx.p(t.words("manifest_intro")),
            KeepTogether([
                ctx.p(f"Findings in this report: {len(d.findings)}", "verify"),
                ctx.p(f"{label}{ctx.mono_markup(digest, round(mono_size - 0.05, 2))}",
                      "verify")])]
    return out
