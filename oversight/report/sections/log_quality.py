"""Log quality: whether the log itself is complete (Directive (EU) 2016/680 Art. 25):
warnings raised at import and the log-completeness rules with their findings."""

from __future__ import annotations

from typing import Any

from oversight.report.layout import Context
from oversight.report.text import escape, integer

__all__ = ['log_quality']


def log_quality(ctx: Context) -> list[Any]:
    """The log itself: warnings raised at import and the log-completeness findings."""
    t, d = ctx.t, ctx.data
    lq = d.log_quality
    title = t.settings["wording"]["title_log_quality"]
    out: list[Any] = [ctx.heading(t.words("title_log_quality"), title, 0, "h1"),
                      ctx.p(t.words("log_quality_intro"))]
    out.append(ctx.heading(t.words("title_import_warnings"),
                           t.settings["wording"]["title_import_warnings"], 1, "h2"))
    rows = [ctx.head_row(t.words("col_batch"), t.words("col_file"), t.words("col_warning"),
                         t.words("col_rows"), t.words("col_meaning"))]
    for b in lq.get("batches", []):
        warnings = b.get("warnings")
        if warnings is None:
            rows.append([ctx.p(escape(b.get("batch_id")), "cell"),
                         ctx.p(escape(b.get("file")), "cell"), ctx.p("–", "cell"), "",
                         ctx.p(t.words("warnings_unchecked"), "cell")])
        for w in warnings or []:
            lines = ", ".join(str(n) for n in (w.get("lines") or [])[:10])
            meaning = escape(w.get("message")) + (
                f" ({escape('lines ' + lines)}{'…' if len(w.get('lines') or []) > 10 else ''})"
                if lines else "")
            rows.append([ctx.p(escape(b.get("batch_id")), "cell"),
                         ctx.p(escape(b.get("file")), "cell"),
                         ctx.p(ctx.mono_markup(w.get("code")), "cell"),
                         ctx.p(escape(integer(w.get("count"))), "cell"), ctx.p(meaning, "cell")])
    if len(rows) == 1:
        out.append(ctx.p(t.words("import_warnings_none")))
    else:
        out.append(ctx.table(rows, (0.06, 0.17, 0.25, 0.07, 0.45)))
    out.append(ctx.heading(t.words("title_dq"), t.settings["wording"]["title_dq"], 1, "h2"))
    if lq.get("run_id") is None:
        out.append(ctx.p(t.words("dq_no_run")))
        return out
    if not lq.get("rules"):
        out.append(ctx.p(t.words("dq_none_in_pack")))
        return out
    rows2 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_result"))]
    for r in lq["rules"]:
        if r.get("evaluated"):
            n = int(r.get("findings") or 0)
            result = (t.words("dq_result_one") if n == 1
                      else t.words("dq_result_count", count=f"{n:,}") if n
                      else t.words("dq_result_nothing"))
            if r.get("note"):
                result += f"; {escape(r['note'])}"
        else:
            result = t.words("dq_result_not_evaluated", reason=r.get("reason") or "")
        rows2.append([ctx.p(escape(r.get("id")), "cell"), ctx.p(escape(r.get("title")), "cell"),
                      ctx.p(result, "cell")])
    out.append(ctx.table(rows2, (0.1, 0.4, 0.5)))
    found = lq.get("findings", [])
    if found:
        rows3 = [ctx.head_row(t.words("col_rule"), t.words("col_status"), t.words("label_reason"))]
        for f in found:
            rows3.append([ctx.p(escape(f.get("rule_id")), "cell"),
                          ctx.p(escape(t.label("status", str(f.get("status")))), "cell"),
                          ctx.p(escape(f.get("message")), "cell")])
        out += [ctx.p(t.words("dq_findings_intro")), ctx.table(rows3, (0.1, 0.15, 0.75))]
    return out
