"""The timeline judges operations with the rules themselves (AUT-02/AUT-04 on the demo).

The timeline of an authorisation must never contradict detection: an operation it draws
as covered is one no rule flags, and the other way round. These tests build the demo,
run the built-in pack, and compare every operation that cites an authorisation.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from oversight.criteria.engine import run_detection
from oversight.criteria.pack import Pack, default_pack, parse_pack
from oversight.criteria.versions import save_version
from oversight.demo_data import DemoFiles, generate
from oversight.importing import import_file
from oversight.records import Kind
from oversight.timeline import authorisation_timeline, case_timeline, place_of
from oversight.workspace import Workspace

ADMIN, PASSWORD = "admin", "demo-password"


@dataclass(frozen=True)
class Demo:
    folder: Path
    files: DemoFiles


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("timeline-demo")
    files = generate(root / "src", operations=3000, seed=20261128)
    with Workspace.create(root / "ws", ADMIN, PASSWORD) as ws:
        for path, kind in ((files.cases, Kind.CASES), (files.authorisations,
                                                       Kind.AUTHORISATIONS),
                           (files.operations, Kind.OPERATIONS)):
            import_file(ws, path, kind)
        run_detection(ws, default_pack())
    return Demo(root / "ws", files)


@pytest.fixture
def demo(demo_template: Demo, tmp_path: Path) -> Demo:
    target = tmp_path / "ws"
    shutil.copytree(demo_template.folder, target)
    return Demo(target, demo_template.files)


@pytest.fixture(scope="module")
def pack() -> Pack:
    return default_pack()


def _flagged_by_findings(ws: Workspace, rule_id: str) -> set[int]:
    """Operations (row ids) that the stored, still-matching findings of a rule rest on."""
    return {int(r[0]) for r in ws.conn.execute(
        "SELECT r.rid FROM finding_records r JOIN findings f USING (finding_id)"
        " WHERE f.rule_id = ? AND f.matching = 1", (rule_id,))}


def _cited(ws: Workspace) -> list[str]:
    return [str(r[0]) for r in ws.conn.execute(
        "SELECT DISTINCT authorisation_id FROM operations"
        " WHERE trim(coalesce(authorisation_id, '')) != '' ORDER BY 1")]


def test_every_verdict_agrees_with_aut02_and_aut04(demo_template: Demo, pack: Pack) -> None:
    with Workspace.open(demo_template.folder, ADMIN, PASSWORD) as ws:
        expected = {rule: _flagged_by_findings(ws, rule) for rule in ("AUT-02", "AUT-04")}
        cited = _cited(ws)
        seen = 0
        flagged = {"AUT-02": 0, "AUT-04": 0}
        standings: set[str] = set()
        for aid in cited:
            tl = authorisation_timeline(ws, aid, pack)
            assert tl.total == len(tl.marks), aid  # every operation is listed
            assert {r.id for r in tl.rules} >= {"AUT-02", "AUT-04"}
            standings.add(tl.standing)
            for mark in tl.marks:
                seen += 1
                for rule in ("AUT-02", "AUT-04"):
                    assert (rule in mark.rules) == (mark.rid in expected[rule]), (aid, mark)
                    flagged[rule] += rule in mark.rules
                # The place on the axis uses AUT-02's boundaries: outside the window
                # (cancellation included) is flagged, inside an approved one is not.
                if mark.place in ("before", "after", "cancelled"):
                    assert "AUT-02" in mark.rules, (aid, mark)
                if mark.place == "inside" and tl.standing in ("valid", "pending"):
                    assert "AUT-02" not in mark.rules, (aid, mark)
                if tl.standing in ("refused", "not imported"):
                    assert "AUT-02" in mark.rules, (aid, mark)
        total = int(ws.conn.execute(
            "SELECT count(*) FROM operations"
            " WHERE trim(coalesce(authorisation_id, '')) != ''").fetchone()[0])
    # Every operation citing an authorisation was compared, and the demo exercises both
    # rules and every kind of window.
    assert seen == total > 0
    assert flagged["AUT-02"] == len(expected["AUT-02"]) > 0
    assert flagged["AUT-04"] == len(expected["AUT-04"]) > 0
    assert standings >= {"valid", "pending", "refused", "not imported"}


def test_the_second_of_the_cancellation_is_after_it(demo_template: Demo, pack: Pack) -> None:
    planted = next(p for p in demo_template.files.planted
                   if "very second" in p.description)
    with Workspace.open(demo_template.folder, ADMIN, PASSWORD) as ws:
        aid = ws.conn.execute("SELECT authorisation_id FROM operations WHERE record_id = ?",
                              (planted.record_ids[0],)).fetchone()[0]
        tl = authorisation_timeline(ws, aid, pack)
    mark = next(m for m in tl.marks if m.record_id == planted.record_ids[0])
    assert mark.ts_utc == tl.cancelled
    assert mark.place == "cancelled" and not mark.inside
    assert "AUT-02" in mark.rules
    assert place_of(10, 1, 20, 10) == "cancelled"
    assert place_of(9, 1, 20, 10) == "inside"


def test_refused_and_pending_are_said_in_words(demo_template: Demo, pack: Pack) -> None:
    with Workspace.open(demo_template.folder, ADMIN, PASSWORD) as ws:
        approvals = dict(ws.conn.execute(
            "SELECT authorisation_id, approval FROM authorisations"
            " WHERE approval IN ('refused', 'pending')").fetchall())
        cited = set(_cited(ws))
        refused = next(a for a, v in approvals.items() if v == "refused" and a in cited)
        pending = next(a for a, v in approvals.items() if v == "pending" and a in cited)
        tl_refused = authorisation_timeline(ws, refused, pack)
        tl_pending = authorisation_timeline(ws, pending, pack)
    assert tl_refused.standing == "refused" and tl_refused.approval == "refused"
    assert tl_refused.marks and all("AUT-02" in m.rules for m in tl_refused.marks)
    assert tl_pending.standing == "pending"


def test_a_pack_that_changes_the_rule_changes_the_timeline(demo: Demo) -> None:
    planted = next(p for p in demo.files.planted if "very second" in p.description)
    source = default_pack().source
    assert "ts >= authorisation.cancelled_at" in source
    version = default_pack().version
    lenient = source.replace("ts >= authorisation.cancelled_at",
                             "ts > authorisation.cancelled_at").replace(
        f'version: "{version}"', f'version: "{version}+lenient"')
    parse_pack(lenient, "lenient")  # valid
    with Workspace.open(demo.folder, ADMIN, PASSWORD) as ws:
        aid = ws.conn.execute("SELECT authorisation_id FROM operations WHERE record_id = ?",
                              (planted.record_ids[0],)).fetchone()[0]
        before = authorisation_timeline(ws, aid)  # the active pack: built in
        save_version(ws, lenient, "cancellation second counts as covered")
        after = authorisation_timeline(ws, aid)  # the active pack is now the lenient one
    mark_before = next(m for m in before.marks if m.record_id == planted.record_ids[0])
    mark_after = next(m for m in after.marks if m.record_id == planted.record_ids[0])
    assert "AUT-02" in mark_before.rules and before.pack == f"led-baseline {version}"
    assert "AUT-02" not in mark_after.rules and after.pack.endswith("+lenient")


def test_rules_not_evaluated_are_named(tmp_path: Path, pack: Pack) -> None:
    ops = tmp_path / "ops.csv"
    ops.write_text("record_id,ts,action,actor_id,authorisation_id,case_id\n"
                   "OP-1,2026-03-01T10:00:00+00:00,interception,o-1,W-1,C-1\n")
    with Workspace.create(tmp_path / "ws", ADMIN, PASSWORD) as ws:
        import_file(ws, ops, Kind.OPERATIONS)
        tl = authorisation_timeline(ws, "W-1", pack)
        case = case_timeline(ws, "C-1", pack)
    # No register is imported: a run would not evaluate the register rules, and says why.
    assert not tl.found and tl.rules == ()
    assert "AUT-02" in tl.not_evaluated and "none is imported" in tl.not_evaluated["AUT-02"]
    assert not tl.marks[0].rules and tl.standing == "not imported"
    assert case.kind == "case" and case.marks[0].rules == ()
