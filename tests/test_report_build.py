"""The report PDF: sections, numbers, escaping, Unicode, outline, fonts, templates, scale.

The demo workspace is built once for the module; its PDFs are read back with poppler's
pdftotext and pdffonts (as a reader or verifier would) and with pypdf.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from test_demo_data import demo_finding_count
from tools import require

from oversight import triage
from oversight.criteria.pack import SEVERITIES
from oversight.demo import AUDITOR, INSPECTOR, build_demo
from oversight.errors import Cancelled, UsageError
from oversight.findings import list_findings
from oversight.progress import CancelToken
from oversight.report.build import (
    MANIFEST_NAME,
    BuiltReport,
    available_templates,
    build_pdf,
    escape,
    load_template,
)
from oversight.report.charts import nice_axis
from oversight.report.data import ReportData, ReportScope, collect, manifest, manifest_digest
from oversight.workspace import Workspace

PASSWORD = "admin-password"
MARKUP_NOTE = "<b>&<a href=x> stays literal </font> <i>unclosed &amp; <font color=red>"
NAMES = {
    "cyrillic": "Дмитрий Соколов",
    "greek": "Νικόλαος Παπαδόπουλος",
    "arabic": "محمد عبد الله",
    "hebrew": "שלום",
    "latin": "Łukasz Żółć, François Müller, Ana Núñez",
}


def pdftotext(path: Path, first: int | None = None, last: int | None = None,
              *extra: str) -> str:
    args = [require("pdftotext"), "-enc", "UTF-8", *extra]
    if first is not None:
        args += ["-f", str(first), "-l", str(last or first)]
    out = subprocess.run([*args, str(path), "-"], capture_output=True, check=True)
    return unicodedata.normalize("NFKC", out.stdout.decode("utf-8"))


def flat(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Built:
    data: ReportData
    report: BuiltReport
    path: Path
    text: str
    counts: dict[str, int]
    folder: Path


def _write(tmp: Path, name: str, report: BuiltReport) -> Path:
    path = tmp / name
    path.write_bytes(report.pdf)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    tmp = tmp_path_factory.mktemp("report")
    folder = tmp / "ws"
    build_demo(folder, "admin", PASSWORD, 3000, 20261128)
    with Workspace.open(folder, INSPECTOR, PASSWORD) as ws:
        ids = [f["id"] for f in list_findings(ws)]
        triage.add_note(ws, ids[0], MARKUP_NOTE)
        for i, (script, name) in enumerate(NAMES.items()):
            triage.add_note(ws, ids[1 + i], f"Spoke to {name} ({script}).")
    with Workspace.open(folder, "admin", PASSWORD) as ws:
        data = collect(ws, body="Commissioner for Oversight of Police Data")
        severity = Counter(f["severity"] for f in list_findings(ws))
    out = {}
    for template in ("full", "summary"):
        report = build_pdf(data, template)
        path = _write(tmp, f"{template}.pdf", report)
        out[template] = Built(data, report, path, pdftotext(path),
                              {s: severity.get(s, 0) for s in SEVERITIES}, folder)
    return out


def small_data(findings: list[dict[str, Any]] | None = None, **kw: Any) -> ReportData:
    """A hand-made ReportData, no workspace needed."""
    findings = findings or []
    rules = {f["rule_id"]: {"id": f["rule_id"], "title": f"Title of {f['rule_id']}",
                            "severity": f["severity"], "legal_refs": ["Art. 1"],
                            "rationale": "Because."} for f in findings}
    base: dict[str, Any] = dict(
        title="Test report", body="Test body", classification="RESTRICTED",
        report_id="R-test", created_at="2026-11-28T10:00:00+00:00", author="auditor",
        scope=ReportScope(), period=(None, None), sources=[], pack=None, runs=[],
        not_evaluated=[], rules=rules, findings=findings, sample=None,
        chain_head={"seq": 0, "hash": "0" * 64, "workspace_id": "ws-test"})
    base.update(kw)
    return ReportData(**base)


def finding(i: int, rule: str = "R-01", severity: str = "high", status: str = "open",
            **kw: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "id": f"{rule}-{i:016x}", "rule_id": rule, "severity": severity, "status": status,
        "reason": None, "matching": True,
        "message": f"consult number {i} by officer {i % 97} without a recorded case",
        "record_ids": [f"OP-{i:07d}"], "legal_refs": [], "facts": {},
        "first_ts": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T10:00:00+00:00",
        "first_ts_utc": None, "assignee": None, "decided_by": None, "decided_at": None,
        "approved_by": None, "pending_status": None, "pending_by": None, "notes": [],
        "history": []}
    f.update(kw)
    return f


# -- the full report of the demo workspace ------------------------------------------------


def test_every_finding_message_is_printed(demo: dict[str, Built]) -> None:
    full = demo["full"]
    text = flat(full.text)
    assert len(full.data.findings) == demo_finding_count(3000, 20261128)
    missing = [f["id"] for f in full.data.findings if flat(f["message"]) not in text]
    assert not missing
    for f in full.data.findings:
        assert f["id"] in text


def test_counts_match_the_workspace(demo: dict[str, Built]) -> None:
    full = demo["full"]
    c = full.counts
    n = sum(c.values())
    assert n == len(full.data.findings)
    assert (f"{n} findings in this report: {c['critical']} critical, {c['high']} high, "
            f"{c['medium']} medium and {c['low']} low.") in flat(full.text)
    assert f"Findings in this report: {n}" in full.text.splitlines()


def test_manifest_digest_line_matches_embedded_manifest(demo: dict[str, Built]) -> None:
    full = demo["full"]
    digest = manifest_digest(manifest(full.data))
    assert full.report.manifest_digest == digest
    assert f"Manifest SHA-256: {digest}" in full.text.splitlines()
    embedded = PdfReader(io.BytesIO(full.report.pdf)).attachments[MANIFEST_NAME][0]
    assert hashlib.sha256(embedded).hexdigest() == digest
    # What travels inside the PDF says what the workspace holds, read back independently.
    doc = json.loads(embedded)
    with Workspace.open(full.folder, INSPECTOR, PASSWORD) as ws:
        listed = list_findings(ws)
        head = ws.conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
                               ).fetchone()
    assert sorted(f["id"] for f in doc["findings"]) == sorted(f["id"] for f in listed)
    assert {f["id"]: f["status"] for f in doc["findings"]} == {
        f["id"]: f["status"] for f in listed}
    assert (doc["chain_head"]["seq"], doc["chain_head"]["hash"]) == (head[0], head[1])
    assert sum(doc["counts"]["severity"].values()) == len(listed)


def test_markup_in_a_note_prints_literally_and_is_no_link(demo: dict[str, Built]) -> None:
    full = demo["full"]
    assert "<b>&<a href=x>" in full.text
    assert flat(MARKUP_NOTE) in flat(full.text)
    for page in PdfReader(io.BytesIO(full.report.pdf)).pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A") or {}
            assert "/URI" not in action


def test_names_in_other_scripts_are_printed(demo: dict[str, Built]) -> None:
    text = demo["full"].text
    for script in ("cyrillic", "greek", "latin"):
        assert f"Spoke to {NAMES[script]} ({script})." in text, script
    # Right-to-left names are drawn in visual order (Arabic letters joined); pdftotext
    # turns them back into logical order but wraps them in bidi controls and guesses where
    # the neighbouring punctuation goes, so only the name itself is compared.
    plain = re.sub("[\u202a-\u202e\u2066-\u2069]", "", text)
    for script in ("arabic", "hebrew"):
        assert NAMES[script] in plain, script
        assert NAMES[script][::-1] not in plain, script


def test_page_numbers_and_classification_on_every_page(demo: dict[str, Built]) -> None:
    full = demo["full"]
    pages = len(PdfReader(io.BytesIO(full.report.pdf)).pages)
    assert full.report.pages == pages > 10
    marking = full.data.classification
    for page in range(1, pages + 1):
        text = pdftotext(full.path, page)
        assert f"page {page} of {pages}" in text
        assert text.count(marking) >= 2, f"page {page}: marking not in header and footer"
        assert full.data.report_id in text


def test_outline_has_sections_and_rules(demo: dict[str, Built]) -> None:
    full = demo["full"]
    wording = load_template("full").settings["wording"]
    children: dict[str, list[str]] = {}
    last = ""
    for item in PdfReader(io.BytesIO(full.report.pdf)).outline:
        if isinstance(item, list):
            children[last] = [c.title for c in item if not isinstance(c, list)]
        else:
            last = item.title
            children[last] = []
    assert list(children) == [full.data.title, wording["title_scope"],
                              wording["title_log_quality"],
                              wording["title_summary"], wording["title_indicators"],
                              wording["title_findings"], wording["title_appendix"],
                              wording["title_signature"]]
    assert children[wording["title_indicators"]] == [
        wording[k] for k in ("title_ind_agency", "title_ind_channel", "title_ind_rule",
                             "title_ind_month")]
    assert children[wording["title_scope"]] == [
        wording[k] for k in ("title_sources", "title_pack", "title_not_evaluated",
                             "title_sample")]
    rules = sorted({f["rule_id"] for f in full.data.findings})
    assert sorted(t.split(":")[0] for t in children[wording["title_findings"]]) == rules
    assert children[wording["title_appendix"]] == [
        wording[k] for k in ("title_chain", "title_decisions", "title_manifest")]
    assert children[wording["title_log_quality"]] == [
        wording[k] for k in ("title_import_warnings", "title_dq")]


def test_fonts_are_embedded(demo: dict[str, Built]) -> None:
    out = subprocess.run([require("pdffonts"), str(demo["full"].path)], capture_output=True,
                         text=True, check=True).stdout.splitlines()[2:]
    assert len(out) >= 3
    for line in out:
        assert "DejaVuSans" in line, line
        assert re.search(r"\byes\s+yes\s+yes\b", line), f"not embedded: {line}"


def test_sources_pack_and_sample_are_stated(demo: dict[str, Built]) -> None:
    full = demo["full"]
    text = flat(full.text)
    for s in full.data.sources:
        assert s["file"] in text
        assert s["sha256"] in text
        assert f"{s['rows_imported']:,}" in text
    assert full.data.pack is not None
    assert full.data.pack["sha256"] in text
    assert full.data.sample is not None
    assert full.data.sample["statement"] in text
    assert full.data.chain_head["hash"] in text


def test_decisions_and_reviewers_are_printed(demo: dict[str, Built]) -> None:
    text = flat(demo["full"].text)
    assert f"decided by {INSPECTOR}" in text
    assert f"approved by {AUDITOR}" in text
    assert "awaiting a second reviewer: Confirmed proposed by ines.garcia" in text
    assert "Night-shift rota for that date confirms the officer was on duty." in text
    assert "Dismissed (reason: justified)" in text


def test_signature_box_is_empty_and_on_the_last_page(demo: dict[str, Built]) -> None:
    full = demo["full"]
    reader = PdfReader(io.BytesIO(full.report.pdf))
    box = reader.pages[-1].mediabox
    x1, y1, x2, y2 = full.report.signature_box
    assert 0 <= x1 < x2 <= float(box.width) and 0 <= y1 < y2 <= float(box.height)
    assert x2 - x1 > 150 and y2 - y1 > 60
    last = full.report.pages
    assert "Signature" in pdftotext(full.path, last)
    inside = pdftotext(full.path, last, None, "-x", str(int(x1) + 1),
                       "-y", str(int(float(box.height) - y2) + 1),
                       "-W", str(int(x2 - x1) - 2), "-H", str(int(y2 - y1) - 2))
    assert inside.strip() == ""


# -- templates ----------------------------------------------------------------------------


def test_summary_template_is_interchangeable_and_shorter(demo: dict[str, Built]) -> None:
    full, summary = demo["full"], demo["summary"]
    assert summary.data is full.data
    assert summary.report.pages < full.report.pages
    assert summary.report.manifest_digest == full.report.manifest_digest
    assert f"Manifest SHA-256: {full.report.manifest_digest}" in summary.text.splitlines()
    confirmed = [f for f in full.data.findings if f["status"] == "confirmed"]
    others = [f for f in full.data.findings if f["status"] != "confirmed"]
    assert confirmed and others
    text = flat(summary.text)
    # The findings section (before the appendix, which lists every decision) shows only
    # the confirmed findings.
    section = text.split("Only confirmed findings are listed")[1].split(
        "Appendix: audit trail and manifest")[0]
    assert all(f["id"] in section for f in confirmed)
    assert not any(f["id"] in section for f in others)
    outline = [o.title for o in PdfReader(io.BytesIO(summary.report.pdf)).outline
               if not isinstance(o, list)]
    assert "Confirmed findings" in outline and "Findings by rule" not in outline
    full_section = flat(full.text).split("Findings are grouped by rule")[1].split(
        "Appendix: audit trail and manifest")[0]
    assert all(f["id"] in full_section for f in others)


def test_templates_are_listed_and_unknown_ones_refused() -> None:
    assert {"full", "summary"} <= set(available_templates())
    for bad in ("nonexistent", "../full", "fonts"):
        with pytest.raises(UsageError) as err:
            build_pdf(small_data(), bad)
        assert "full" in err.value.message and "summary" in err.value.message


# -- escaping, edge cases, scale ----------------------------------------------------------


def test_escape() -> None:
    assert escape("<b>&<a href=x>") == "&lt;b&gt;&amp;&lt;a href=x&gt;"
    assert escape(escape("a & b")) == "a &amp; b"
    assert escape("one\ntwo") == "one<br/>two"
    assert escape("bell\x07") == "bell\ufffd"
    assert escape(None) == ""
    # Logical order: lines are put in visual order after they are broken (text.Para).
    assert escape("שלום") == "שלום"


def test_hostile_text_everywhere_builds_and_prints_literally(tmp_path: Path) -> None:
    nasty = "<a href='http://evil'>x</a> & <para> <b> </unclosed> &#x26; \x00"
    long_word = "X" * 3000
    f = finding(1, message=nasty + " " + long_word, record_ids=[f"R{i}" for i in range(400)],
                notes=[{"note_id": 1, "user": "<i>eve</i>", "ts": "2026-11-28T10:00:00+00:00",
                        "text": nasty + "\n" + "lorem ipsum " * 900, "refers_to": None}])
    data = small_data([f], title=nasty, body=nasty, author="<eve>",
                      sources=[{"batch_id": 1, "kind": "operations", "file": "<b>ops</b>.csv",
                                "sha256": "a" * 64, "rows_read": 1, "rows_imported": 1,
                                "rows_rejected": 0, "imported_by": "<eve>",
                                "imported_at": "2026-11-28T10:00:00+00:00"}])
    report = build_pdf(data)
    path = _write(tmp_path, "nasty.pdf", report)
    text = flat(pdftotext(path))
    assert "<a href='http://evil'>x</a> & <para> <b> </unclosed> &#x26;" in text
    assert "<b>ops</b>.csv" in text and "<i>eve</i>" in text
    assert "and 200 more" in text
    assert not any("/URI" in str(a.get_object())
                   for p in PdfReader(io.BytesIO(report.pdf)).pages
                   for a in p.get("/Annots") or [])
    # Nothing is drawn outside the page's frame (long words and tables are wrapped).
    width = float(PdfReader(io.BytesIO(report.pdf)).pages[0].mediabox.width)
    bbox = subprocess.run([require("pdftotext"), "-bbox", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    right_edges = [float(x) for x in re.findall(r'xMax="([\d.]+)"', bbox)]
    assert right_edges and max(right_edges) <= width - 17 * 2.8346


def test_zero_findings_builds(tmp_path: Path) -> None:
    report = build_pdf(small_data())
    text = pdftotext(_write(tmp_path, "empty.pdf", report))
    assert "Findings in this report: 0" in text.splitlines()
    assert "There are no findings in the scope of this report." in text
    assert "There are no findings to list." in text
    assert f"page {report.pages} of {report.pages}" in text
    assert 4 <= report.pages <= 8


def test_five_thousand_findings(tmp_path: Path) -> None:
    findings = [finding(i, rule=f"R-{i % 17:02d}", severity=SEVERITIES[i % 4],
                        status=("open", "confirmed", "dismissed")[i % 3]) for i in range(5000)]
    seen: list[tuple[int, int, str]] = []
    report = build_pdf(small_data(findings), progress=lambda d, t, s: seen.append((d, t, s)))
    assert 500 <= report.pages <= 2500
    path = _write(tmp_path, "big.pdf", report)
    tail = pdftotext(path, report.pages - 3, report.pages)
    assert "Findings in this report: 5000" in tail.splitlines()
    assert f"page {report.pages} of {report.pages}" in tail
    assert findings[4999]["message"] in flat(pdftotext(path, 1, report.pages))
    stages = [s for _, _, s in seen]
    assert {"writing findings", "laying out pages"} <= set(stages)
    layout = [d for d, _, s in seen if s == "laying out pages"]
    assert layout == sorted(layout) and len(layout) > 10


def test_cancel_stops_the_build() -> None:
    token = CancelToken()

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "laying out pages":
            token.cancel()

    findings = [finding(i) for i in range(400)]
    with pytest.raises(Cancelled):
        build_pdf(small_data(findings), progress=progress, cancel=token)


def test_scope_and_classification_come_from_the_data(tmp_path: Path) -> None:
    data = small_data([finding(1, status="confirmed")], classification="",
                      scope=ReportScope(only_confirmed=True, severities=("high",),
                                        period_from="2026-01-01"))
    report = build_pdf(data, "summary")
    text = flat(pdftotext(_write(tmp_path, "scoped.pdf", report)))
    default = load_template("summary").settings["classification"]["default"]
    assert text.count(default) >= 2 * report.pages
    assert ("restricted to: confirmed findings only; severities High; first record on or "
            "after 2026-01-01") in text
    # A body's own marking replaces the template's default on every page.
    marked = build_pdf(replace(data, classification="SECRET-TEST-MARK"), "summary")
    text = flat(pdftotext(_write(tmp_path, "marked.pdf", marked)))
    assert text.count("SECRET-TEST-MARK") >= marked.pages and default not in text


def test_no_rule_with_findings_reads_as_zero_per_1000(demo: dict[str, Built],
                                                      tmp_path: Path) -> None:
    """A few findings per rule among many operations (here the demo's counts over a
    hundred times its operations: 0.003 to 0.05 per 1,000). The bar chart labels rates
    to one place, and a label "0.0" would say the rule found nothing."""
    full = demo["full"]
    assert full.data.indicators is not None
    ind = json.loads(json.dumps(full.data.indicators))
    # Only rules that found something (a rule with none is rightly 0.00).
    rows = ind["tables"]["rule"]["rows"] = [
        r for r in ind["tables"]["rule"]["rows"] if r["findings"] > 0]
    assert len(rows) >= 5
    for r in [*rows, ind["tables"]["rule"]["total"]]:
        r["operations"] *= 100
        r["per_1000"] = r["findings"] * 1000 / r["operations"]
    assert all(r["per_1000"] < 0.05 for r in rows)  # each one place: "0.0"
    report = build_pdf(replace(full.data, indicators=ind), "full")
    text = flat(pdftotext(_write(tmp_path, "rates.pdf", report)))
    wording = load_template("full").settings["wording"]
    start = text.index(wording["title_ind_rule"], text.index(wording["title_ind_agency"]))
    section = text[start:text.index(wording["title_ind_month"], start)]
    assert wording["chart_ind_bars"] in section
    labels = re.findall(r"(?<![\d.,%])\d[\d,]*\.\d+(?![\d%])", section)
    assert len(labels) >= 2 * len(rows)  # a bar label and a table cell per rule
    assert all(float(v.replace(",", "")) > 0 for v in labels), labels


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False), st.booleans())
def test_a_chart_axis_fits_its_longest_bar(top: float, whole: bool) -> None:
    """The axis ends at or just past the longest bar: a rate of 0.08 per 1,000 on an
    axis to 1 was a sliver, as every rule's bar in the demo report was."""
    if whole:
        top = float(max(1, round(top)))
    vmax, step = nice_axis(top, whole)
    # (a bar past the end by float noise, 1e-9 of it, is not an extra tick)
    assert top <= vmax * (1 + 1e-9) and vmax <= 2.5 * top
    assert 1 <= round(vmax / step) <= 10
    assert abs(vmax / step - round(vmax / step)) < 1e-6  # whole ticks up to the end
    if whole:
        assert float(step).is_integer() and float(vmax).is_integer()


def test_the_month_line_has_no_point_for_operations_without_a_time(
        demo: dict[str, Built], monkeypatch: pytest.MonkeyPatch) -> None:
    """Operations with no plausible time are in no month: their row is in the table, but
    not a point after December on the line over time (it was, and being 30 operations
    it dwarfed every month). The workstation's line leaves them out too."""
    import importlib

    section = importlib.import_module("oversight.report.sections.indicators")
    full = demo["full"]
    assert full.data.indicators is not None
    rows = full.data.indicators["tables"]["month"]["rows"]
    assert any(r["group"]["month"] is None for r in rows)  # the demo has some
    drawn: list[tuple[list[str], list[float]]] = []
    real = section.line_chart

    def spy(ctx: Any, title: str, labels: list[str], values: list[float], *rest: Any) -> Any:
        drawn.append((labels, values))
        return real(ctx, title, labels, values, *rest)

    monkeypatch.setattr(section, "line_chart", spy)
    build_pdf(full.data, "full")
    timed = [r for r in rows if r["group"]["month"] is not None]
    assert drawn == [([r["group"]["month"] for r in timed],
                      [float(r["per_1000"] or 0) for r in timed])]
    # One month (or none with a time) is no line: the table alone, and the build ends.
    drawn.clear()
    one = json.loads(json.dumps(full.data.indicators))
    one["tables"]["month"]["rows"] = timed[:1] + [r for r in rows if r not in timed]
    report = build_pdf(replace(full.data, indicators=one), "full")
    assert drawn == [] and report.pages > 0
