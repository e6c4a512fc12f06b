"""The example criteria pack for data.police.uk stop-and-search files, run on the real files.

Every expected finding is computed here from the CSV files with the csv module and the
rule definitions written out again in plain Python, never by asking the engine; record
ids are rebuilt from the documented scheme (file SHA-256 prefix + line number).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import POLICE_UK, ROOT

from oversight import queries
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import Pack, default_pack, load_pack, parse_pack
from oversight.findings import FindingFilters, list_findings
from oversight.importing.service import import_file
from oversight.workspace import Workspace

PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"
PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"

Row = dict[str, Any]

# -- the rules again, in plain Python over the published columns ---------------------------


def is_s60(row: Row) -> bool:
    return "(section 60)" in row["Legislation"]


def s60_01(blank_fires: bool) -> Callable[[Row], bool]:
    def rule(row: Row) -> bool:
        flag = row["Part of a policing operation"]
        if not is_s60(row) or flag == "True":
            return False
        return blank_fires or flag.strip() != ""
    return rule


def strip_01(row: Row) -> bool:
    return (row["Removal of more than just outer clothing"] == "True"
            and row["Object of search"] == "Controlled drugs")


def leg_01(row: Row) -> bool:
    return row["Legislation"].strip() == ""


def obj_01(row: Row) -> bool:
    return row["Object of search"].strip() == ""


RECORD_RULES: dict[str, Callable[[Row], bool]] = {
    "S60-01": s60_01(blank_fires=True), "STRIP-01": strip_01, "LEG-01": leg_01,
    "OBJ-01": obj_01,
}


def s60_bursts(rows: list[Row], gap: timedelta = timedelta(hours=24)) -> list[list[str]]:
    """Section 60 searches in time order, cut wherever two are more than `gap` apart."""
    hits = sorted((r for r in rows if is_s60(r)), key=lambda r: (r["_utc"], r["_record_id"]))
    bursts: list[list[Row]] = []
    for row in hits:
        if bursts and row["_utc"] - bursts[-1][-1]["_utc"] <= gap:
            bursts[-1].append(row)
        else:
            bursts.append([row])
    return [[r["_record_id"] for r in b] for b in bursts]


def source_rows() -> list[Row]:
    """Every row of the three files, with the record id the import gives it."""
    rows: list[Row] = []
    for path in sorted(POLICE_UK.glob("*.csv")):
        prefix = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                rows.append({**row, "_record_id": f"{prefix}:{reader.line_num:09d}",
                             "_utc": datetime.fromisoformat(row["Date"])})
    return rows


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    found = source_rows()
    assert len(found) == 5903
    return found


@pytest.fixture
def police_ws(admin_ws: Workspace) -> Workspace:
    files = sorted(POLICE_UK.glob("*.csv"))
    assert len(files) == 3
    for path in files:
        res = import_file(admin_ws, path, profile_path=PROFILE)
        assert res.rows_rejected == 0
    return admin_ws


def findings_by_rule(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in list_findings(ws):
        out.setdefault(f["rule_id"], []).append(f)
    return out


# -- tests --------------------------------------------------------------------------------


def test_pack_validates() -> None:
    pack = load_pack(PACK)
    assert pack.id == "police-uk-stop-and-search"
    assert [r.id for r in pack.rules] == ["S60-01", "S60-02", "STRIP-01", "LEG-01", "OBJ-01"]
    assert all(r.rationale and r.legal_refs and r.enabled for r in pack.rules)
    # Written against the published headers only: no canonical field but ts and action.
    for r in pack.rules:
        assert {f.name for f in r.facts if f.source == "record"} <= {"ts", "action"}, r.id
        assert r.needs == frozenset()
    res = CliRunner().invoke(main, ["criteria", "validate", str(PACK)])
    assert res.exit_code == 0, res.output
    assert "5 rules, valid" in res.output


def test_each_rule_finds_exactly_the_rows_its_definition_selects(
        police_ws: Workspace, rows: list[Row]) -> None:
    summary = run_detection(police_ws, load_pack(PACK))
    outcome = {o.rule_id: o for o in summary.rules}
    assert all(o.evaluated for o in outcome.values()), [o.reason for o in summary.rules]
    found = findings_by_rule(police_ws)

    expected = {rule_id: {r["_record_id"] for r in rows if test(r)}
                for rule_id, test in RECORD_RULES.items()}
    bursts = s60_bursts(rows)
    counts = {rule_id: len(ids) for rule_id, ids in expected.items()} | {"S60-02": len(bursts)}
    # The real January 2020 files (the numbers come from the definitions above).
    assert counts == {"S60-01": 9, "S60-02": 3, "STRIP-01": 125, "LEG-01": 243, "OBJ-01": 208}

    for rule_id, want in counts.items():
        assert outcome[rule_id].hits == want, rule_id
        assert outcome[rule_id].new == want, rule_id
        assert len(found.get(rule_id, [])) == want, rule_id
    for rule_id, ids in expected.items():
        got = [f["record_ids"] for f in found[rule_id]]
        assert all(len(g) == 1 for g in got), rule_id  # one finding per record
        assert {g[0] for g in got} == ids, rule_id
    assert sorted(f["record_ids"] for f in found["S60-02"]) == sorted(bursts)
    assert sum(len(b) for b in bursts) == len([r for r in rows if is_s60(r)]) == 9


def test_findings_point_at_stored_rows_that_satisfy_the_rule(
        police_ws: Workspace, rows: list[Row]) -> None:
    run_detection(police_ws, load_pack(PACK))
    stored = {rec["record_id"]: rec for rec in queries.records(police_ws, limit=None)}
    assert len(stored) == len(rows)
    by_id = {r["_record_id"]: r for r in rows}
    for rule_id, found in findings_by_rule(police_ws).items():
        for f in found:
            for record_id in f["record_ids"]:
                extra = stored[record_id]["extra"]
                # the profile's missing marker "" applies to kept columns: null
                assert {k: (None if v == "" else v) for k, v in by_id[record_id].items()
                        if not k.startswith("_") and k != "Date"} == extra
                source = by_id[record_id]  # the reference rules read the published file
                if rule_id == "S60-02":
                    assert is_s60(source)
                else:
                    assert RECORD_RULES[rule_id](source), (rule_id, record_id)
            if f["part"] == "record":
                # The facts are the values the rule read, under their backticked names.
                fields = f["facts"]["fields"]
                for name, value in fields.items():
                    if name.startswith("`"):
                        assert value == extra[name[1:-1]]
                assert fields["ts"] == stored[f["record_ids"][0]]["fields"]["ts"]


def test_messages_show_blank_values_and_the_published_text(police_ws: Workspace) -> None:
    run_detection(police_ws, load_pack(PACK))
    found = findings_by_rule(police_ws)
    merseyside = [f for f in found["S60-01"]
                  if f["facts"]["fields"]["`Part of a policing operation`"] is None]
    assert len(merseyside) == 3
    assert all("part of a policing operation (blank)" in f["message"] for f in merseyside)
    essex = [f for f in found["S60-01"] if f not in merseyside]
    assert all("part of a policing operation False" in f["message"] for f in essex)
    assert all(f["facts"]["parameters"] == {"blank_operation_flag_fires": True}
               for f in found["S60-01"])
    burst = max(found["S60-02"], key=lambda f: len(f["record_ids"]))
    assert burst["message"].startswith("6 section 60 search(es) from 2020-01-20 21:01 to "
                                       "2020-01-20 21:01")
    assert burst["facts"]["group"] == {"action": "search"}
    assert burst["facts"]["records"] == 6
    assert all(f["legal_refs"] for fs in found.values() for f in fs)


def test_blank_policing_operation_can_be_left_out(police_ws: Workspace, rows: list[Row]) -> None:
    text = PACK.read_text(encoding="utf-8")
    old = "blank_operation_flag_fires:\n    value: true"
    assert old in text
    pack = parse_pack(text.replace(old, "blank_operation_flag_fires:\n    value: false"),
                      "police.yaml")
    summary = run_detection(police_ws, pack, ["S60-01"])
    want = {r["_record_id"] for r in rows if s60_01(blank_fires=False)(r)}
    assert len(want) == 6
    assert summary.rules[0].hits == len(want)
    found = list_findings(police_ws, FindingFilters(rule="S60-01"))
    assert {f["record_ids"][0] for f in found} == want


def test_rerun_keeps_finding_ids_and_adds_nothing(police_ws: Workspace) -> None:
    pack: Pack = load_pack(PACK)
    run_detection(police_ws, pack)
    first = {f["id"] for f in list_findings(police_ws)}
    again = run_detection(police_ws, pack)
    assert sum(o.new for o in again.rules) == 0
    assert sum(o.stale for o in again.rules) == 0
    assert {f["id"] for f in list_findings(police_ws)} == first
    assert len(first) == 9 + 3 + 125 + 243 + 208


def test_rule_on_a_column_no_file_has_is_not_evaluated(police_ws: Workspace) -> None:
    text = PACK.read_text(encoding="utf-8")
    old = "when: blank(`Object of search`)"
    assert text.count(old) == 1
    pack = parse_pack(text.replace(old, "when: blank(`Object searched`)"), "renamed.yaml")
    outcome = {o.rule_id: o for o in run_detection(police_ws, pack).rules}
    assert not outcome["OBJ-01"].evaluated and outcome["OBJ-01"].hits == 0
    assert outcome["OBJ-01"].reason == "no imported operation has a column 'Object searched'"
    assert outcome["LEG-01"].evaluated and outcome["LEG-01"].hits == 243
    assert list_findings(police_ws, FindingFilters(rule="OBJ-01")) == []


# -- the user documentation shows this pack and the built-in one as they are -------------


DOCS = ROOT / "docs" / "criteria.md"


def test_docs_print_this_pack_as_shipped() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    start = docs.index("```yaml\n# Criteria for the monthly stop-and-search files")
    block = docs[start + len("```yaml\n"):docs.index("\n```", start)] + "\n"
    assert block == PACK.read_text(encoding="utf-8")


def test_docs_table_of_led_baseline_rules_matches_the_pack() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    table = docs[docs.index("## The led-baseline rules"):]
    rows = [line.split(" | ") for line in table.splitlines()
            if line.startswith("| ") and not line.startswith(("| id ", "| parameter "))
            and not line.startswith("| `")]
    pack = default_pack()
    assert [(r[0][2:], r[1]) for r in rows] == [(r.id, r.severity) for r in pack.rules]
    for row, rule in zip(rows, pack.rules, strict=True):
        assert row[-1].rstrip(" |") == "; ".join(rule.legal_refs)
        assert f"**{rule.title}.**" in row[2]
        if rule.when_text:
            assert f"`{' '.join(rule.when_text.split())}`" in row[2]
