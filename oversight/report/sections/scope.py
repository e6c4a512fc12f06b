"""Scope and method: filters, sources with their SHA-256 and import warnings, the criteria
pack and its runs, rules not (or only partly) evaluated, and the sample statement."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]

from oversight.report.layout import Context
from oversight.report.sections.cover import scope_text
from oversight.report.text import escape, integer, when

__all__ = ['scan_lines', 'scanned_files', 'scope', 'source_warnings']


def scope(ctx: Context) -> list[Any]:
    t, d = ctx.t, ctx.data
    title = t.settings["wording"]["title_scope"]
    out: list[Any] = [ctx.heading(t.words("title_scope"), title, 0, "h1"),
                      ctx.p(t.words("scope_intro")), ctx.p(scope_text(ctx))]
    out.append(ctx.heading(t.words("title_sources"), t.settings["wording"]["title_sources"],
                           1, "h2"))
    if not d.sources:
        out.append(ctx.p(t.words("sources_none")))
    else:
        rows = [ctx.head_row(t.words("col_batch"), t.words("col_file"), t.words("col_kind"),
                             t.words("col_read"), t.words("col_imported"),
                             t.words("col_rejected"), t.words("col_imported_by"))]
        extra: list[tuple[Any, ...]] = []
        stripe = t.colour("styles", "colours", "table_stripe")
        scanned = scanned_files(d.scans)
        for i, s in enumerate(d.sources):
            r = len(rows)
            scan_file = scanned.get(s.get("batch_id"))
            kind = escape(s.get("kind")) if scan_file is None else t.words(
                "kind_scanned", kind=s.get("kind"))
            sha = t.words("sha256_not_computed") if scan_file is not None and \
                scan_file.get("sha256") is None else ctx.mono_markup(s.get("sha256"))
            rows.append([ctx.p(escape(s.get("batch_id")), "cell"),
                         ctx.p(f"<b>{escape(s.get('file'))}</b>", "cell"),
                         ctx.p(kind, "cell"),
                         ctx.p(escape(integer(s.get("rows_read"))), "cell"),
                         ctx.p(escape(integer(s.get("rows_imported"))), "cell"),
                         ctx.p(escape(integer(s.get("rows_rejected"))), "cell"),
                         ctx.p(escape(f"{s.get('imported_by') or ''}, "
                                      f"{when(s.get('imported_at'))}"), "cell")])
            rows.append(["", ctx.p(f"{t.words('label_sha256')} {sha}", "cell"),
                         "", "", "", "", ""])
            extra += [("SPAN", (1, r + 1), (-1, r + 1)), ("NOSPLIT", (0, r), (-1, r + 1)),
                      ("LINEBELOW", (0, r), (-1, r), 0, colors.white)]
            warned = source_warnings(ctx, s.get("warnings"))
            if warned:
                rows.append(["", ctx.p(warned, "cell"), "", "", "", "", ""])
                extra += [("SPAN", (1, r + 2), (-1, r + 2)), ("NOSPLIT", (0, r), (-1, r + 2)),
                          ("LINEBELOW", (0, r + 1), (-1, r + 1), 0, colors.white)]
            if i % 2:
                extra.append(("BACKGROUND", (0, r), (-1, len(rows) - 1), stripe))
        out.append(ctx.table(rows, (0.07, 0.25, 0.14, 0.09, 0.1, 0.1, 0.25), extra=extra,
                             stripes=False))
    out += [ctx.p(line) for line in scan_lines(ctx)]
    out.append(ctx.heading(t.words("title_pack"), t.settings["wording"]["title_pack"], 1,
                           "h2"))
    if d.pack is None:
        out.append(ctx.p(t.words("pack_none")))
    else:
        runs = "<br/>".join(t.words("run_line", run_id=r.get("run_id"), pack=r.get("pack"),
                                    version=r.get("version"), started_at=when(
                                        r.get("started_at")), user=r.get("user"),
                                    hits=r.get("hits")) for r in d.runs)
        rows2: list[tuple[str, Any]] = [
            (t.words("label_pack"), escape(d.pack.get("id"))),
            (t.words("label_version"), escape(d.pack.get("version"))),
            (t.words("label_pack_title"), escape(d.pack.get("title"))),
            (t.words("label_sha256"), ctx.mono_markup(d.pack.get("sha256")))]
        if runs:
            rows2.append((t.words("label_runs"), runs))
        out.append(ctx.kv(rows2))
    out.append(ctx.heading(t.words("title_not_evaluated"),
                           t.settings["wording"]["title_not_evaluated"], 1, "h2"))
    if not d.not_evaluated:
        out.append(ctx.p(t.words("not_evaluated_none")))
    else:
        rows3 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_reason"))]
        for ne in d.not_evaluated:
            rule = d.rules.get(ne.get("rule_id", ""), {})
            rows3.append([ctx.p(escape(ne.get("rule_id")), "cell"),
                          ctx.p(escape(rule.get("title", "")), "cell"),
                          ctx.p(escape(ne.get("reason")), "cell")])
        out += [ctx.p(t.words("not_evaluated_intro")),
                ctx.table(rows3, (0.12, 0.4, 0.48))]
    if d.partly_evaluated:
        rows4 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_note"))]
        for pe in d.partly_evaluated:
            rule = d.rules.get(pe.get("rule_id", ""), {})
            rows4.append([ctx.p(escape(pe.get("rule_id")), "cell"),
                          ctx.p(escape(rule.get("title", "")), "cell"),
                          ctx.p(escape(pe.get("note")), "cell")])
        out += [ctx.p(t.words("partly_evaluated_intro")), ctx.table(rows4, (0.12, 0.4, 0.48))]
    out.append(ctx.heading(t.words("title_sample"), t.settings["wording"]["title_sample"], 1,
                           "h2"))
    statement = (d.sample or {}).get("statement")
    out.append(ctx.p(escape(statement) if statement else t.words("sample_none")))
    return out


def source_warnings(ctx: Context, warnings: list[dict[str, Any]] | None) -> str:
    """The warnings a source raised at import, for its row in the sources table."""
    t = ctx.t
    if warnings is None:
        return f"{t.words('label_warnings')}: {t.words('warnings_unchecked')}"
    if not warnings:
        return ""
    items = "; ".join(f"{ctx.mono_markup(w.get('code'))} ({escape(integer(w.get('count')))})"
                      for w in warnings)
    return f"{t.words('label_warnings')}: {items}"


_HASHES = {"computed": "hashes_computed", "not computed": "hashes_not_computed",
           "partly computed": "hashes_partly"}


def scanned_files(scans: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Batch id -> the latest scan's entry of its file."""
    return {f.get("batch_id"): f for s in scans for f in s.get("files", [])
            if f.get("batch_id") is not None}


def scan_lines(ctx: Context) -> list[str]:
    """One sentence per scan in place: "3 files, 200,000,000 rows scanned in place by
    DuckDB 2.0.1; hashes: computed" (oversight.scans)."""
    t = ctx.t
    out = []
    for s in ctx.data.scans:
        files = s.get("files", [])
        out.append(t.words(
            "scan_line_one_file" if len(files) == 1 else "scan_line",
            files=integer(len(files)), rows=integer(s.get("rows_read")),
            engine=s.get("engine_name"), version=s.get("engine_version"),
            hashes=t.settings["wording"][_HASHES.get(str(s.get("hashes")),
                                                     "hashes_partly")],
            at=when(s.get("at")), user=s.get("user"),
            rejected=integer(s.get("rows_rejected"))))
        skipped = s.get("not_evaluated") or {}
        if skipped:
            out.append(t.words("scan_not_evaluated", rules="; ".join(
                f"{rule}: {why}" for rule, why in skipped.items())))
    return out
