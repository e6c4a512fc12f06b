"""Findings grouped by rule, most severe rule first: the rule with its legal references
and rationale, then each finding with its reason, records, decision, reviewers and notes
(or one table row each, `findings.detail: brief`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    CondPageBreak,
    KeepTogether,
    Spacer,
)

from oversight.criteria.pack import SEVERITIES
from oversight.report.layout import Context, KeepTables, styled_table
from oversight.report.order import rule_order
from oversight.report.text import escape, when

__all__ = ['decision', 'findings', 'reviewers']


def findings(ctx: Context) -> list[Any]:
    t, d, report = ctx.t, ctx.data, ctx.report
    title = t.settings["wording"]["title_findings"]
    out: list[Any] = [ctx.heading(t.words("title_findings"), title, 0, "h1"),
                      ctx.p(t.words("findings_intro"))]
    wanted = set(t.get("findings", "statuses"))
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in d.findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    total, done = len(d.findings), 0
    listed_any = False
    for rule_id in rule_order(ctx.data.rules, by_rule):
        items = sorted(by_rule[rule_id], key=lambda f: (str(f.get("first_ts") or ""), f["id"]))
        listed = [f for f in items if not wanted or f["status"] in wanted]
        done += len(items)
        report(done, total, "writing findings")
        if not listed:
            continue
        listed_any = True
        rule = d.rules.get(rule_id, {})
        heading = t.settings["wording"]["rule_heading"].replace("{rule_id}", rule_id).replace(
            "{title}", str(rule.get("title", "")))
        severity = str(rule.get("severity", ""))
        head = [CondPageBreak(50 * mm), ctx.heading(
            t.words("rule_heading", rule_id=rule_id, title=rule.get("title", "")), heading, 1,
            "h2")]
        info = ctx.kv([(t.words("label_severity"), escape(t.label("severity", severity))),
                       (t.words("label_legal"), "<br/>".join(
                           escape(r) for r in rule.get("legal_refs") or []) or "–"),
                       (t.words("label_rationale"), escape(rule.get("rationale", "")))])
        count = (t.words("rule_count", count=f"{len(items):,}") if len(listed) == len(items)
                 else t.words("rule_count_listed", count=f"{len(items):,}",
                              listed=f"{len(listed):,}"))
        out += [KeepTogether([*head, info]), Spacer(1, 2 * mm), ctx.p(count, "muted")]
        if t.get("findings", "detail") == "brief":
            out.append(_brief_table(ctx, listed))
        else:
            for f in listed:
                out += _finding_block(ctx, f, severity)
    if not listed_any:
        out.append(ctx.p(t.words("findings_none")))
    return out


def decision(ctx: Context, f: Mapping[str, Any]) -> str:
    status = ctx.t.label("status", str(f.get("status")))
    if f.get("reason"):
        return ctx.t.words("decision_reason", status=status, reason=f["reason"])
    return escape(status)


def reviewers(ctx: Context, f: Mapping[str, Any]) -> str:
    t = ctx.t
    parts = []
    if f.get("decided_by"):
        parts.append(t.words("reviewer_decided", user=f["decided_by"],
                             time=when(f.get("decided_at"))))
    if f.get("approved_by"):
        parts.append(t.words("reviewer_approved", user=f["approved_by"]))
    if f.get("pending_status"):
        parts.append(t.words("reviewer_pending",
                             status=t.label("status", str(f["pending_status"])),
                             user=f.get("pending_by") or ""))
    return "<br/>".join(parts) or t.words("reviewer_none")


def _records(ctx: Context, f: Mapping[str, Any]) -> str:
    ids = [str(r) for r in f.get("record_ids") or []]
    cap = int(ctx.t.num("findings", "max_record_ids"))
    text = escape(", ".join(ids[:cap]))
    if len(ids) > cap:
        text += " " + ctx.t.words("records_more", more=f"{len(ids) - cap:,}")
    return text


def _finding_block(ctx: Context, f: Mapping[str, Any], rule_severity: str) -> list[Any]:
    t = ctx.t
    severity = str(f.get("severity") or rule_severity)
    sev_colour = (t.colour("styles", "severity_colours", severity) if severity in SEVERITIES
                  else t.colour("styles", "colours", "accent"))
    title = styled_table(
        [[ctx.cell(t.words("finding_heading", id=f["id"]), "h3", ctx.width * 0.62 - 9),
          ctx.cell(escape(f"{t.label('severity', severity)} · "
                          f"{t.label('status', str(f.get('status')))}"), "h3r",
                   ctx.width * 0.38 - 8)]],
        [*ctx.string_style("h3", (0, 0), (-1, -1)),
         ("ALIGN", (1, 0), (1, 0), "RIGHT"),
         ("BACKGROUND", (0, 0), (-1, -1), t.colour("styles", "colours", "finding_background")),
         ("LINEBEFORE", (0, 0), (0, 0), 3, sev_colour),
         ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
         ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
         ("VALIGN", (0, 0), (-1, -1), "MIDDLE")],
        colWidths=[ctx.width * 0.62, ctx.width * 0.38])
    rows: list[tuple[str, Any]] = [
        (t.words("label_reason"), escape(f.get("message"))),
        (t.words("label_records"), _records(ctx, f)),
        (t.words("label_first"), escape(when(f.get("first_ts")))),
        (t.words("label_decision"), decision(ctx, f)),
        (t.words("label_reviewers"), reviewers(ctx, f)),
    ]
    if f.get("assignee"):
        rows.append((t.words("label_assignee"), escape(f["assignee"])))
    notes = f.get("notes") or []
    if not notes:
        rows.append((t.words("label_notes"), t.words("notes_none")))
    for i, note in enumerate(notes):
        header = t.words("note_header", user=note.get("user"), time=when(note.get("ts")))
        if note.get("refers_to"):
            header += " " + t.words("note_correction", ref=note["refers_to"])
        rows.append((t.words("label_notes") if i == 0 else "",
                     [ctx.p(header, "small"), ctx.p(escape(note.get("text")), "cell")]))
    table = ctx.kv(rows)
    return [KeepTables([title, table]), Spacer(1, 4 * mm)]


def _brief_table(ctx: Context, listed: Sequence[Mapping[str, Any]]) -> Any:
    t = ctx.t
    rows = [ctx.head_row(t.words("col_finding"), t.words("label_reason"),
                         t.words("col_decision"), t.words("col_reviewers"))]
    for f in listed:
        rows.append([ctx.p(ctx.mono_markup(f["id"], t.num("styles", "small_size") - 0.5), "cell"),
                     ctx.p(escape(f.get("message")), "cell"),
                     ctx.p(decision(ctx, f), "cell"), ctx.p(reviewers(ctx, f), "cell")])
    return ctx.table(rows, (0.24, 0.4, 0.14, 0.22), split_in_row=True)
