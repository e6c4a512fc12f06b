"""Log-completeness rules DQ-01..DQ-05 of led-baseline (issue 10, part 3), each firing
and at its nearest case that must not fire; {record_id} in messages; the period of a
report whose records carry no time; the Log quality section; and that the DQ rules
change nothing the other rules find.

Rows are named for what they show; each DQ rule is run alone, as a person checking it
would."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ADMIN, BUILT_REPORTS, says_no_findings_falsely, write
from pypdf import PdfReader
from test_rules import consult, load, op, pack_text

from oversight import log_quality
from oversight.criteria.engine import preview_hits, run_detection
from oversight.criteria.pack import default_pack, parse_pack
from oversight.demo import AUDITOR, build_demo
from oversight.errors import ValidationError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.report.data import ReportScope
from oversight.report.service import produce_report
from oversight.workspace import Role, Workspace

DQ = ("DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05")
DAY0 = date(2025, 3, 1)


def found(ws: Workspace, rule: str) -> list[dict[str, Any]]:
    run_detection(ws, default_pack(), [rule])
    return list_findings(ws, FindingFilters(rule=rule, matching=True))


def day_ops(agency: str, day: int, n: int, prefix: str = "") -> list[dict[str, Any]]:
    """``n`` operations of ``agency`` on day ``day`` (1 = 2025-03-01), 10:00 UTC onward."""
    d = DAY0 + timedelta(days=day - 1)
    return [op(f"{prefix or agency or 'blank'}-d{day}-{i:02d}",
               f"{d}T10:{i:02d}:00+00:00", action="consult", agency=agency)
            for i in range(n)]


# -- DQ-01 --------------------------------------------------------------------------------


def test_dq01_empty_days(admin_ws: Workspace, tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = []
    for day in (1, 2, 5, 6):
        rows += day_ops("A", day, 20)  # median exactly min_daily_volume: checked
        rows += day_ops("B", day, 19)  # median one below: not checked
    for day in (3, 4, 5, 6):
        rows += day_ops("C", day, 20)  # nothing before its first day: not a gap
    for day in (1, 2):
        rows += day_ops("D", day, 20)
    rows += [op("D-placeholder", "1900-01-01T00:00:00+00:00", action="consult", agency="D"),
             op("D-untimed", None, action="consult", agency="D")]
    for day in (1, 3):
        rows += day_ops("", day, 20)  # a blank agency is the agency named ""
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    got = {(f["facts"]["agency"], f["facts"]["first_day"]): f for f in found(admin_ws, "DQ-01")}
    assert set(got) == {("A", "2025-03-03"), ("", "2025-03-02")}
    a = got[("A", "2025-03-03")]
    assert (a["facts"]["last_day"], a["facts"]["days"]) == ("2025-03-04", 2)
    assert a["facts"]["median_per_day"] == 20 and a["facts"]["min_daily_volume"] == 20
    assert a["record_ids"] == ["A-d2-19", "A-d5-00"]  # the last entry before, first after
    assert a["message"] == ("A logged no operation on 2 day(s) from 2025-03-03 to "
                            "2025-03-04 (UTC), although its median day holds 20 operations "
                            "(threshold 20)")
    assert a["severity"] == "medium" and a["legal_refs"] == [
        "Directive (EU) 2016/680, Art. 25"]
    blank = got[("", "2025-03-02")]
    assert blank["facts"]["days"] == 1 and blank["message"].startswith("(blank) logged")


def test_dq01_days_are_utc_days(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = day_ops("A", 1, 20) + day_ops("A", 3, 20)
    # 2025-03-02 23:30 in UTC+02:00 is 21:30 UTC: it fills the UTC day 2025-03-02
    rows += [op(f"A-late-{i}", "2025-03-02T23:30:00+02:00", action="consult", agency="A")
             for i in range(2)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    assert found(admin_ws, "DQ-01") == []
    rows2 = [{**r, "record_id": "x" + r["record_id"], "agency": "B"} for r in
             day_ops("A", 1, 20) + day_ops("A", 3, 20)]
    rows2 += [op("B-early", "2025-03-03T00:30:00+02:00", action="consult", agency="B")]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows2)  # 22:30 UTC on 2025-03-02
    assert [f["facts"]["agency"] for f in found(admin_ws, "DQ-01")] == []


def test_dq01_not_evaluated_without_any_time(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [{"record_id": "x", "action": "consult"}])
    (outcome,) = run_detection(admin_ws, default_pack(), ["DQ-01"]).rules
    assert not outcome.evaluated
    assert outcome.reason == "no imported operation has a ts (date and time), which it counts by"


# -- DQ-02 --------------------------------------------------------------------------------


def test_dq02_one_finding_per_batch_with_every_implausible_record(admin_ws: Workspace,
                                                                  tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        op("ok", "2025-05-01T10:00:00+00:00", action="collect"),
        op("before-1970", "1969-12-31T23:59:59+00:00", action="collect"),
        op("epoch", "1970-01-01T00:00:00+00:00", action="collect"),  # plausible: the bound
        op("typo", "2205-05-01T10:00:00+00:00", action="collect"),
        op("untimed", None, action="collect"),                         # missing, not wrong
    ])
    load(admin_ws, tmp_path, Kind.OPERATIONS, [op("clean", "2025-05-01T10:00:00+00:00")])
    (f,) = found(admin_ws, "DQ-02")
    assert f["record_ids"] == ["before-1970", "typo"]  # in time order
    assert f["facts"]["count"] == 2 and f["facts"]["batch_id"] == 1
    assert (f["facts"]["earliest"], f["facts"]["latest"]) == (
        "1969-12-31T23:59:59+00:00", "2205-05-01T10:00:00+00:00")
    assert f["severity"] == "low" and f["legal_refs"] == [
        "Directive (EU) 2016/680, Art. 25", "Directive (EU) 2016/680, Art. 4(1)(d)"]
    assert "2 operations of batch 1" in f["message"]


# -- DQ-03 --------------------------------------------------------------------------------


def test_dq03_sequence_gaps(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = [op(f"A{n}", action="consult", agency="A", sequence=n) for n in (1, 2, 3, 5, 6, 9)]
    rows += [op(f"B{i}", action="consult", agency="B", sequence=n)  # repeats are no gap,
             for i, n in enumerate((10, 11, 11, 12))]              # nor is 1..9 below 10
    rows += [op(f"blank{n}", action="consult", sequence=n) for n in (1, 3)]
    rows += [op("C-unnumbered", action="consult", agency="C")]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    got = {(f["facts"]["agency"], f["facts"]["first_missing"]): f
           for f in found(admin_ws, "DQ-03")}
    assert set(got) == {("A", 4), ("A", 7), ("", 2)}
    assert got[("A", 4)]["record_ids"] == ["A3", "A5"]
    assert (got[("A", 7)]["facts"]["last_missing"], got[("A", 7)]["facts"]["count"]) == (8, 2)
    assert got[("A", 7)]["message"] == ("A's log skips sequence numbers 7 to 8 (2 missing, "
                                        "between 6 and 9)")


def test_dq03_not_evaluated_without_sequence_numbers(admin_ws: Workspace,
                                                     tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [op("x", action="consult")])
    (outcome,) = run_detection(admin_ws, default_pack(), ["DQ-03"]).rules
    assert not outcome.evaluated and outcome.reason == "no imported operation has a sequence"


# -- DQ-04 --------------------------------------------------------------------------------


ART25 = ("collect", "alter", "consult", "disclose", "transfer", "combine", "erase")


def test_dq04_kinds_never_logged(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = [op(f"A-{k}", action=k, agency="A") for k in ART25]           # every kind
    rows += [op(f"B-{k}", action=k, agency="B") for k in ART25 if k != "erase"]
    rows += [op("blank-consult", action="consult")]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    got = {(f["facts"]["agency"], f["facts"]["action"]): f for f in found(admin_ws, "DQ-04")}
    assert set(got) == {("B", "erase")} | {("", k) for k in ART25 if k != "consult"}
    b = got[("B", "erase")]
    assert b["record_ids"] == [] and b["facts"]["records"] == 6
    assert b["message"] == ("B logged 6 operations but not one erase (its log holds: alter, "
                            "collect, combine, consult, disclose, transfer)")


def test_dq04_required_actions_is_a_pack_parameter(admin_ws: Workspace,
                                                   tmp_path: Path) -> None:
    text = pack_text().replace("value: [collect, alter, consult, disclose, transfer, "
                               "combine, erase]", "value: [consult, erase]")
    pack = parse_pack(text, "edited.yaml")
    load(admin_ws, tmp_path, Kind.OPERATIONS, [op("x", action="consult", agency="A")])
    run_detection(admin_ws, pack, ["DQ-04"])
    got = [(f["facts"]["agency"], f["facts"]["action"])
           for f in list_findings(admin_ws, FindingFilters(rule="DQ-04"))]
    assert got == [("A", "erase")]


# -- DQ-05 --------------------------------------------------------------------------------


def twenty(agency: str, blank_justification: int = 0, untimed: int = 0,
           **extra: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(20):
        row = consult(f"{agency}-{i:02d}", f"2025-03-04T10:{i:02d}:00+00:00", agency=agency,
                      **extra)
        if i < blank_justification:
            row["justification"] = None
        if i >= 20 - untimed:
            row["ts"] = None
        out.append(row)
    return out


def test_dq05_fill_rates(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = twenty("A", blank_justification=1)        # 19 of 20: exactly 95 %, no finding
    rows += [op(f"A-erase-{i}", action="erase", agency="A") for i in range(5)]  # not access
    rows += twenty("B", blank_justification=2)       # 18 of 20: 90 %
    rows += twenty("E", untimed=2)                   # ts on 18 of 20
    rows += [consult("C-1", action="disclose", agency="C", recipient_id="CPS"),
             consult("C-2", action="disclose", agency="C")]  # recipient on 1 of 2
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    got = {(f["facts"]["agency"], f["facts"]["field"]): f for f in found(admin_ws, "DQ-05")}
    assert set(got) == {("B", "justification"), ("E", "ts"), ("C", "recipient_id")}
    b = got[("B", "justification")]
    assert (b["facts"]["filled"], b["facts"]["total"], b["facts"]["fill_rate"]) == (18, 20, 0.9)
    assert b["record_ids"] == ["B-00", "B-01"]  # the accesses that lack it
    assert b["message"] == ("B recorded justification on 18 of 20 consultations, "
                            "disclosures and transfers (90.0%; at least 95% required)")
    assert got[("E", "ts")]["record_ids"] == ["E-18", "E-19"]
    assert got[("C", "recipient_id")]["facts"]["filled"] == 1


def test_dq05_missing_markers_count_as_empty(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = "record_id,ts,action,actor_id,agency,justification\n" + "".join(
        f"D-{i},2025-03-04T10:{i:02d}:00Z,consult,o1,D,{'NULL' if i < 2 else 'enquiry'}\n"
        for i in range(20))
    fields = ("record_id: record_id\nfields:\n" + "".join(
        f"  {f}: {f}\n" for f in ("ts", "action", "actor_id", "agency", "justification")))
    prof = write(tmp_path / "p.yaml", fields + "missing: ['', 'NULL']\n")
    plain = write(tmp_path / "plain.yaml", fields + "missing: ['']\n")
    import_file(admin_ws, write(tmp_path / "d.csv", rows), profile_path=prof)
    import_file(admin_ws, write(tmp_path / "d2.csv", rows.replace("D", "F")),
                profile_path=plain)
    got = {(f["facts"]["agency"], f["facts"]["field"]) for f in found(admin_ws, "DQ-05")}
    assert got == {("D", "justification")}  # without the marker, "NULL" is a value


# -- the pack language of these kinds -----------------------------------------------------


def test_completeness_kinds_are_validated_with_their_place() -> None:
    text = pack_text().replace("        field: sequence\n", "        field: agency\n")
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "bad.yaml")
    (issue,) = info.value.issues
    assert "field: give a whole-number field such as sequence" in issue.message
    assert issue.line is not None
    text = pack_text().replace("        min_fill: min_fill\n", "        min_fill: 1.5\n", 1)
    with pytest.raises(ValidationError, match="problem"):
        parse_pack(text, "bad.yaml")
    text = pack_text().replace("kind: empty_days", "kind: empty_weeks")
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "bad.yaml")
    assert "aggregate kind 'empty_weeks' is unknown" in info.value.issues[0].message


def test_record_id_and_any_field_in_messages(admin_ws: Workspace, tmp_path: Path) -> None:
    pack = parse_pack("""pack: p
version: "1"
title: t
rules:
  - id: R-1
    title: t
    severity: low
    legal_refs: [x]
    rationale: r
    when: blank(case_id)
    message: "{record_id}: {action} by {actor_id} of {agency} on {ts:%Y-%m-%d}"
""", "p.yaml")
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        op("OP-7", "2025-03-04T10:00:00+00:00", action="consult", actor_id="o1", agency="A")])
    run_detection(admin_ws, pack)
    (f,) = list_findings(admin_ws, FindingFilters(rule="R-1"))
    assert f["message"] == "OP-7: consult by o1 of A on 2025-03-04"
    with pytest.raises(ValidationError) as info:  # a group has no one record id
        parse_pack(pack_text().replace("{actor_id} logged {count} accesses",
                                       "{record_id} logged {count} accesses"), "x.yaml")
    assert "names {record_id}, which the rule cannot fill" in info.value.issues[0].message


# -- reports -----------------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(path).pages)


def test_report_of_records_without_timestamps_says_so(admin_ws: Workspace,
                                                      tmp_path: Path) -> None:
    admin_ws.add_user("aud", Role.AUDITOR, "aud-password-long")
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        {"record_id": f"R{i}", "action": "consult", "actor_id": "o1"} for i in range(3)])
    run_detection(admin_ws, default_pack(), ["PUR-01"])
    folder = admin_ws.folder
    admin_ws.close()
    with Workspace.open(folder, "aud", "aud-password-long") as ws:
        res = produce_report(ws, tmp_path / "r.pdf")
        assert res.findings == 3
    text = pdf_text(tmp_path / "r.pdf")
    assert "Period covered 3 findings; their records carry no timestamps" in text
    assert "no findings" not in text.lower()
    assert "no_timestamp (3)" in text  # the sources table shows the import's warning


def auditor_report(ws: Workspace, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """Build the full report as an auditor; its text and its manifest's period details."""
    ws.add_user("aud", Role.AUDITOR, "aud-password-long")
    run_detection(ws, default_pack(), ["PUR-01"])
    folder = ws.folder
    ws.close()
    with Workspace.open(folder, "aud", "aud-password-long") as aud:
        produce_report(aud, tmp_path / "r.pdf")
    built = BUILT_REPORTS[-1]
    return pdf_text(tmp_path / "r.pdf"), built.manifest["period_detail"]


def test_report_period_when_some_records_carry_no_time(admin_ws: Workspace,
                                                       tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        {"record_id": "T1", "ts": "2025-03-04T10:00:00+00:00", "action": "consult"},
        {"record_id": "T2", "ts": "2025-04-07T10:00:00+00:00", "action": "consult"},
        {"record_id": "U1", "action": "consult"}])            # no time at all
    text, detail = auditor_report(admin_ws, tmp_path)
    assert ("Period covered 2025-03-04 to 2025-04-07; 1 of the 3 findings rest on no record "
            "with a usable timestamp") in text
    assert detail["findings_without_time"] == 1 and detail["any_record_time"] is True


def test_report_period_when_every_time_is_implausible(admin_ws: Workspace,
                                                      tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        {"record_id": "P1", "ts": "1900-01-01T00:00:00+00:00", "action": "consult"},
        {"record_id": "P2", "ts": "2205-05-01T10:00:00+00:00", "action": "consult"}])
    text, detail = auditor_report(admin_ws, tmp_path)
    # no 1900 or 2205 period: those times are placeholders and typos, not a period
    assert ("Period covered 2 findings; none of their records carries a usable timestamp "
            "(missing, or before 1970, or after the import)") in text
    assert "1900-01-01 to" not in text
    assert detail["findings_without_time"] == 2 and detail["any_record_time"] is True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo") / "ws"
    summary = build_demo(folder, ADMIN, "demo-password-long", 2000, 20261128)
    return folder, summary


def test_demo_planted_log_gaps_are_found(demo: tuple[Path, dict[str, Any]]) -> None:
    _folder, summary = demo
    planted = summary["planted"]
    assert {p["rule_id"] for p in planted} >= set(DQ)
    assert [p for p in planted if not p["found"]] == []
    rules = {r["rule_id"]: r for r in summary["run"]["rules"]}
    assert all(rules[r]["evaluated"] and rules[r]["hits"] for r in DQ)


def test_dq_rules_change_nothing_the_other_rules_find(demo: tuple[Path, dict[str, Any]],
                                                      tmp_path: Path) -> None:
    folder, _summary = demo
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    text = pack_text()
    without = parse_pack(text[:text.index("  # -- Log completeness")], "no-dq.yaml")
    assert [r.id for r in without.rules] == [r.id for r in default_pack().rules
                                             if not r.id.startswith("DQ-")]
    with Workspace.open(copy, ADMIN, "demo-password-long") as ws:
        full = preview_hits(ws, default_pack())
        alone = preview_hits(ws, without)
    assert set(alone) == set(full) - set(DQ)
    for rule, ids in alone.items():
        assert full[rule] == ids, rule
    assert all(full[r] for r in DQ)


def test_demo_report_has_a_log_quality_section(demo: tuple[Path, dict[str, Any]],
                                               tmp_path: Path) -> None:
    folder, _summary = demo
    with Workspace.open(folder, AUDITOR, "demo-password-long") as ws:
        doc = log_quality.overview(ws)
        produce_report(ws, tmp_path / "r.pdf", "full", ReportScope())
    assert [r["id"] for r in doc["rules"]] == list(DQ)
    assert {w["code"] for b in doc["batches"] for w in b["warnings"] or []} == {
        "no_timestamp", "implausible_timestamp"}
    text = pdf_text(tmp_path / "r.pdf")
    section = text[text.index("Log quality An oversight finding"):]
    assert "Warnings raised at import" in section and "implausible_timestamp" in section
    for rule in DQ:
        assert re.search(rf"{rule} .*?(\d+ findings|1 finding)", section), rule
    assert "LU-PGD logged no operation on 3 day(s) from 2025-06-09 to 2025-06-11" in section
    reader = PdfReader(tmp_path / "r.pdf")
    assert any(o.title == "Log quality" for o in reader.outline if hasattr(o, "title"))


def test_the_suite_scans_every_report_for_a_false_no_findings(
        demo: tuple[Path, dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check conftest runs on every report a test builds would have caught the old
    cover ("no findings, so no period" above a count of findings)."""
    import importlib

    cover = importlib.import_module("oversight.report.sections.cover")  # the module, not
    # the section function of the same name that oversight.report.sections exports

    folder, _summary = demo
    before = len(BUILT_REPORTS)
    with Workspace.open(folder, AUDITOR, "demo-password-long") as ws:
        produce_report(ws, tmp_path / "good.pdf")
        assert len(BUILT_REPORTS) == before + 1  # produce_report goes through the wrapper
        good = BUILT_REPORTS.pop()
        monkeypatch.setattr(cover, "period", lambda ctx: ctx.t.words("period_none"))
        produce_report(ws, tmp_path / "old.pdf")
        old = BUILT_REPORTS.pop()  # taken out of the suite-wide check: it is wrong on purpose
    assert sum(old.manifest["counts"]["severity"].values()) > 0
    assert says_no_findings_falsely(old.pdf, old.manifest)
    assert not says_no_findings_falsely(good.pdf, good.manifest)
