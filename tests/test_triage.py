"""Triage: transitions and refusals, four-eyes, append-only notes, bulk marking,
re-detection keeping decisions, reproducible samples, chain tampering, CSV export."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
import sqlcipher3
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, VIEWER, VIEWER_PW, write
from test_verify import raw

from oversight import findings, triage
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.errors import PermissionDenied, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.integrity import verify_workspace
from oversight.records import Kind
from oversight.workspace import Role, Workspace

AUDITOR, AUDITOR_PW = "aurelia", "aurelia-password"
AUDITOR2, AUDITOR2_PW = "bruno", "bruno-password"

OPS = """record_id,ts,action,actor_id,case_id,justification,recipient_id,recipient_type,\
recipient_country,transfer_basis
T-1,2026-03-04T10:00:00+01:00,transfer,o1,C1,j,R1,competent_authority,US,
T-2,2026-03-05T10:00:00+01:00,transfer,o1,C1,j,R1,competent_authority,CN,
P-1,2026-03-04T23:30:00+01:00,consult,o2,C1,j,,,,
P-2,2026-03-05T23:30:00+01:00,consult,o2,C1,j,,,,
P-3,2026-03-06T23:30:00+01:00,consult,o2,C1,j,,,,
N-1,2026-03-06T10:00:00+01:00,consult,o2,,j,,,,
"""
NASTY = "<b>bold</b> & <a href=x>link</a> <font> unbalanced < tag 🙂🚔 שלום עולם مرحبا\u200f \r\n"


@pytest.fixture
def ws_path(ws_path: Path, tmp_path: Path) -> Path:
    """The template workspace with two auditors, some operations and one detection run."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user(AUDITOR, Role.AUDITOR, AUDITOR_PW)
        ws.add_user(AUDITOR2, Role.AUDITOR, AUDITOR2_PW)
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "ops.csv", OPS), Kind.OPERATIONS)
        run_detection(ws, default_pack())
    return ws_path


def open_as(path: Path, user: str, password: str) -> Workspace:
    return Workspace.open(path, user, password)


def ids(ws: Workspace, rule: str) -> list[str]:
    return [f["id"] for f in list_findings(ws, FindingFilters(rule=rule))]


def status(ws: Workspace, fid: str) -> str:
    return str(ws.conn.execute("SELECT status FROM findings WHERE finding_id = ?",
                               (fid,)).fetchone()[0])


def test_every_transition(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]  # low severity: no four-eyes
        assert status(ws, fid) == "open"
        for target, kwargs in [("in_review", {}), ("escalated", {}),
                               ("confirmed", {"note": "seen"}),
                               ("open", {}),  # reopen
                               ("dismissed", {"reason": "justified", "note": "night shift"}),
                               ("open", {"note": "reopened: rota shows no night shift"})]:
            res = triage.mark(ws, [fid], target, **kwargs)
            assert res.changed == [fid] and status(ws, fid) == target
        hist = triage.finding_detail(ws, fid)["history"]
        assert [(h["from"], h["to"]) for h in hist if h["action"] == "mark"] == [
            ("open", "in_review"), ("in_review", "escalated"), ("escalated", "confirmed"),
            ("confirmed", "open"), ("open", "dismissed"), ("dismissed", "open")]
        assert all(h["user"] == INSPECTOR for h in hist)
        # Marking with the status it already has changes nothing and records nothing.
        before = ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        assert triage.mark(ws, [fid], "open").unchanged == [fid]
        assert ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == before


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "confirmed"}, "needs a note"),
    ({"status": "confirmed", "note": "   "}, "needs a note"),
    ({"status": "dismissed", "note": "x"}, "Dismissing needs a reason"),
    ({"status": "dismissed", "note": "x", "reason": "bored"}, "Dismissing needs a reason"),
    ({"status": "escalated", "reason": "duplicate"}, "only when dismissing"),
    ({"status": "closed"}, "Unknown status 'closed'"),
])
def test_refusals_change_nothing(ws_path: Path, kwargs: dict[str, str], message: str) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        events = ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        with pytest.raises(UsageError, match=message):
            triage.mark(ws, [fid], **kwargs)
        assert status(ws, fid) == "open"
        assert ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == events


def test_unknown_finding_refused(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws, \
            pytest.raises(UsageError, match="No finding XX-1"):
        triage.mark(ws, ["XX-1"], "in_review")


@pytest.mark.parametrize("user, password, action", [
    (VIEWER, VIEWER_PW, "mark"), (VIEWER, VIEWER_PW, "note"), (VIEWER, VIEWER_PW, "assign"),
    (ADMIN, ADMIN_PW, "mark"), (INSPECTOR, INSPECTOR_PW, "approve"),
    (VIEWER, VIEWER_PW, "sample"), (INSPECTOR, INSPECTOR_PW, "four_eyes"),
])
def test_role_refusals(ws_path: Path, user: str, password: str, action: str) -> None:
    with open_as(ws_path, user, password) as ws:
        fid = ids(ws, "PRO-03")[0]
        calls = {
            "mark": lambda: triage.mark(ws, [fid], "in_review"),
            "note": lambda: triage.add_note(ws, fid, "x"),
            "assign": lambda: triage.assign(ws, [fid], INSPECTOR),
            "approve": lambda: triage.approve(ws, [fid]),
            "sample": lambda: triage.draw_sample(ws, 1),
            "four_eyes": lambda: triage.set_four_eyes(ws, "off"),
        }
        with pytest.raises(PermissionDenied, match=f"{user}' has the"):
            calls[action]()


def test_four_eyes_critical(ws_path: Path) -> None:
    with open_as(ws_path, AUDITOR, AUDITOR_PW) as ws:
        crit = ids(ws, "TRF-01")
        assert len(crit) == 2
        res = triage.mark(ws, crit, "confirmed", note="no basis recorded")
        assert res.pending == crit and res.changed == []
        assert {status(ws, f) for f in crit} == {"pending_approval"}
        listed = {f["id"]: f["status"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))}
        assert set(listed.values()) == {"pending_approval"}
        with pytest.raises(PermissionDenied, match="second, different reviewer"):
            triage.approve(ws, [crit[0]])
        assert status(ws, crit[0]) == "pending_approval"
    with open_as(ws_path, AUDITOR2, AUDITOR2_PW) as ws:
        res = triage.approve(ws, [crit[0]], note="agreed")
        assert res.changed == [crit[0]] and status(ws, crit[0]) == "confirmed"
        row = ws.conn.execute("SELECT decided_by, approved_by FROM findings WHERE"
                              " finding_id = ?", (crit[0],)).fetchone()
        assert row == (AUDITOR, AUDITOR2)
        with pytest.raises(UsageError, match="not waiting for approval"):
            triage.approve(ws, [crit[0]])
        # Dismissal waits too, and keeps its reason through approval.
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        triage.mark(ws, [crit[1]], "dismissed", reason="data_error", note="wrong country code")
    with open_as(ws_path, AUDITOR2, AUDITOR2_PW) as ws:
        triage.approve(ws, [crit[1]])
        assert ws.conn.execute("SELECT status, reason FROM findings WHERE finding_id = ?",
                               (crit[1],)).fetchone() == ("dismissed", "data_error")


def test_four_eyes_policy(ws_path: Path) -> None:
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        assert triage.four_eyes(ws) is triage.FourEyes.CRITICAL
        triage.set_four_eyes(ws, "high")
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        high = ids(ws, "PUR-01")  # high severity
        assert triage.mark(ws, high, "confirmed", note="n").pending == high
        low = ids(ws, "PRO-03")
        assert triage.mark(ws, low, "confirmed", note="n").changed == low
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        triage.set_four_eyes(ws, "off")
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        crit = ids(ws, "TRF-01")
        assert triage.mark(ws, crit, "confirmed", note="n").changed == crit


def test_notes_are_append_only_and_byte_exact(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        first = triage.add_note(ws, fid, NASTY)
        second = triage.add_note(ws, fid, "correction: the link is irrelevant", refers_to=first)
        notes = triage.notes(ws, fid)
        assert [n["text"] for n in notes] == [NASTY, "correction: the link is irrelevant"]
        assert notes[1]["refers_to"] == first and second > first
        with pytest.raises(UsageError, match="is not a note of finding"):
            triage.add_note(ws, ids(ws, "PRO-03")[1], "x", refers_to=first)
        with pytest.raises(UsageError, match="cannot be empty"):
            triage.add_note(ws, fid, " \n ")
        # There is no edit or delete in the service, and the database refuses them too.
        for sql in ("UPDATE finding_notes SET text = 'changed'", "DELETE FROM finding_notes"):
            with pytest.raises(sqlcipher3.IntegrityError, match="append-only"), \
                    ws.write() as conn:
                conn.execute(sql)
        assert triage.notes(ws, fid)[0]["text"] == NASTY
        # The chain holds the exact text too.
        event = triage.history(ws, finding_id=fid)[-2]
        assert event["payload"]["note"] == NASTY


def test_one_note_on_several_findings_is_all_or_nothing(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        chosen = ids(ws, "PRO-03")[:3]
        with pytest.raises(UsageError):
            triage.add_notes(ws, [*chosen, "F-no-such-finding"], "seen together")
        assert all(triage.notes(ws, fid) == [] for fid in chosen)
        head = ws.conn.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
        note_ids = triage.add_notes(ws, chosen, "seen together")
        assert len(set(note_ids)) == 3
        assert [[n["text"] for n in triage.notes(ws, fid)] for fid in chosen] == \
            [["seen together"]] * 3
        events = ws.conn.execute("SELECT action FROM audit_events WHERE seq > ?",
                                 (head,)).fetchall()
        assert [a for (a,) in events if a == "finding.note"] == ["finding.note"] * 3
        assert verify_workspace(ws.conn).ok


def test_a_note_edited_behind_the_service_is_detected(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        triage.add_note(ws, fid, "original")
    conn = raw(ws_path)
    conn.execute("DROP TRIGGER finding_notes_append_only_update")
    conn.execute("UPDATE finding_notes SET text = 'forged'")
    conn.close()
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
    assert report.problems == ["Note 1 differs from what the audit trail recorded."]


def test_bulk_mark_by_filter(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        chosen = triage.select_ids(ws, rule="PRO-03")
        assert len(chosen) == 3
        res = triage.mark(ws, chosen, "dismissed", reason="justified", note="night shift")
        assert sorted(res.changed) == sorted(chosen)
        dismissed = list_findings(ws, FindingFilters(rule="PRO-03"))
        assert {f["status"] for f in dismissed} == {"dismissed"}
        assert {f["status"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))} == {"open"}
        with pytest.raises(UsageError, match="at least one of"):
            triage.select_ids(ws)


def test_assignment(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fids = ids(ws, "PRO-03")
        assert triage.assign(ws, fids, AUDITOR).changed == fids
        assert triage.assign(ws, fids, AUDITOR).unchanged == fids
        with pytest.raises(UsageError, match="no active user named 'ghost'"):
            triage.assign(ws, fids, "ghost")
        assert len(fids) >= 2
        assigned = {r[0] for r in ws.conn.execute(
            "SELECT finding_id FROM findings WHERE assignee = ?", (AUDITOR,))}
        assert assigned == set(fids)
        assert triage.assign(ws, fids[:1], "").changed == fids[:1]
        assignees = dict(ws.conn.execute("SELECT finding_id, assignee FROM findings"
                                         " WHERE finding_id IN (?, ?)", fids[:2]).fetchall())
        assert assignees == {fids[0]: None, fids[1]: AUDITOR}
        # Each change is in the finding's history, attributed.
        history = triage.finding_detail(ws, fids[0])["history"]
        assert [(h["action"], h["user"], h["detail"]) for h in history] == [
            ("assign", INSPECTOR, {"from": None, "to": AUDITOR}),
            ("assign", INSPECTOR, {"from": AUDITOR, "to": None})]


def test_redetection_keeps_decisions_and_notes(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        triage.mark(ws, [fid], "dismissed", reason="justified", note="night shift")
        triage.assign(ws, [fid], AUDITOR)
        run_detection(ws, default_pack())
        run_detection(ws, default_pack())
        row = ws.conn.execute("SELECT status, reason, assignee, last_run, matching FROM findings"
                              " WHERE finding_id = ?", (fid,)).fetchone()
        assert row == ("dismissed", "justified", AUDITOR, 3, 1)
        assert [n["text"] for n in triage.notes(ws, fid)] == ["night shift"]
        assert len(ids(ws, "PRO-03")) == 3


def test_sample_is_reproducible_from_its_seed(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        a = triage.draw_sample(ws, 4, by="rule", seed=7)
        b = triage.draw_sample(ws, 4, by="rule", seed=7)
        c = triage.draw_sample(ws, 4, by="rule", seed=8)
        assert a["items"] == b["items"] and a["seed"] == 7
        assert a["population_size"] == len(list_findings(ws)) and a["size"] == 4
        assert a["statement"] == f"4 of {a['population_size']} findings sampled, seed 7, " \
                                 "stratified by rule"
        assert len(set(a["items"])) == 4
        assert c["seed"] == 8 and c["population_size"] == a["population_size"]
        fresh = triage.draw_sample(ws, 3)
        again = triage.draw_sample(ws, 3, seed=fresh["seed"])
        assert fresh["items"] == again["items"]
        # Anyone can redraw an unstratified sample from its seed and the population, as
        # documented: random.Random("<seed>:") samples the sorted ids. So the seed, not
        # chance, decides the items: seeds 7 and 8 draw what that recipe says.
        population = sorted(f["id"] for f in list_findings(ws))
        for seed in (7, 8):
            drawn = triage.draw_sample(ws, 3, seed=seed)["items"]
            assert drawn == random.Random(f"{seed}:").sample(population, 3)
        rows = ws.conn.execute("SELECT seed, item_ids FROM samples ORDER BY sample_id").fetchall()
        assert rows[0] == (7, json.dumps(a["items"]))
        events = [e for e in triage.history(ws) if e["action"] == "sample.draw"]
        assert len(events) == 7 and events[0]["payload"]["seed"] == 7
        recs = triage.draw_sample(ws, 2, population="records", seed=1)
        assert recs["population_size"] == 6


def test_stratified_allocation_is_proportional() -> None:
    items = [(f"a{i}", "A") for i in range(60)] + [(f"b{i}", "B") for i in range(30)] + \
        [(f"c{i}", "C") for i in range(10)]
    chosen = triage._stratified(items, 10, 3, True)
    assert sum(c.startswith("a") for c in chosen) == 6
    assert sum(c.startswith("b") for c in chosen) == 3
    assert sum(c.startswith("c") for c in chosen) == 1


@pytest.mark.parametrize("tamper, expected", [
    ("UPDATE audit_events SET payload = replace(payload, 'justified', 'duplicate')"
     " WHERE action = 'finding.mark'", "has been altered"),
    ("DELETE FROM audit_events WHERE seq = (SELECT min(seq) FROM audit_events"
     " WHERE action = 'finding.mark')", "is missing"),
    ("UPDATE audit_events SET seq = -seq WHERE seq IN (SELECT seq FROM audit_events"
     " ORDER BY seq DESC LIMIT 2)", "does not follow|is missing"),
    ("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)",
     "ends at event"),
])
def test_chain_tampering_is_detected(ws_path: Path, tamper: str, expected: str) -> None:
    import re

    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fids = ids(ws, "PRO-03")
        triage.mark(ws, fids, "dismissed", reason="justified", note="x")
    conn = raw(ws_path)
    conn.execute(tamper)
    if "seq = -seq" in tamper:  # reorder: swap the last two events
        rows = conn.execute("SELECT seq FROM audit_events WHERE seq < 0 ORDER BY seq").fetchall()
        a, b = -rows[0][0], -rows[1][0]
        conn.execute("UPDATE audit_events SET seq = ? WHERE seq = ?", (b, -a))
        conn.execute("UPDATE audit_events SET seq = ? WHERE seq = ?", (a, -b))
    conn.close()
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
    assert not report.ok
    assert re.search(expected, report.problems[0]), report.problems


def test_export_csv_neutralises_formulas_and_keeps_notes(ws_path: Path, tmp_path: Path) -> None:
    evil = ["=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)", "\tTAB", "\rCR"]
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        for text in evil:
            triage.add_note(ws, fid, text)
        out = tmp_path / "f.csv"
        from oversight.exports import export_findings

        n = export_findings(ws, out, rule="PRO-03")
        assert n == 3 and not list(tmp_path.glob(".f.csv.*"))
        with out.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        mine = next(r for r in rows if r["id"] == fid)
        for cell in (v for r in rows for v in r.values()):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        assert "=HYPERLINK" in mine["notes"] and mine["decided_by"] == ""
        export_findings(ws, tmp_path / "f.json", rule="PRO-03")
        doc = json.loads((tmp_path / "f.json").read_text())
        exported = next(f for f in doc["findings"] if f["id"] == fid)
        assert [n["text"] for n in exported["notes"]] == evil
        with pytest.raises(UsageError, match=r"\.csv or \.json"):
            export_findings(ws, tmp_path / "f.xlsx")


def test_status_changed_behind_the_service_is_detected(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, "PRO-03")[0]
        triage.mark(ws, [fid], "in_review")
    conn = raw(ws_path)
    conn.execute("UPDATE findings SET status = 'dismissed' WHERE finding_id = ?", (fid,))
    conn.close()
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
    assert report.problems == [f"Finding {fid} is dismissed but its decisions in the audit "
                               "trail leave it in_review."]


def test_csv_cells_that_would_run_as_formulas_are_neutralised() -> None:
    from oversight.csvsafe import csv_text, neutralise

    for cell in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("plain -1") == "plain -1" and neutralise(None) == ""
    rows = list(csv.reader(io.StringIO(csv_text(["a", "b"], [["=cmd|' /C calc'!A0", "ok"]]))))
    assert rows == [["a", "b"], ["'=cmd|' /C calc'!A0", "ok"]]


def test_return_sends_a_decision_back_to_review(ws_path: Path) -> None:
    """Four-eyes can say no: the returned decision never takes effect, the finding is in
    review again, and the chain says who returned what, proposed by whom, and why."""
    with open_as(ws_path, AUDITOR, AUDITOR_PW) as ws:
        crit = ids(ws, "TRF-01")
        triage.mark(ws, [crit[0]], "dismissed", reason="justified", note="Rota covers it")
        pending = triage.pending_decisions(ws, [crit[0]])
        assert pending[0]["proposed"] == "dismissed" and pending[0]["reason"] == "justified"
        assert pending[0]["proposed_by"] == AUDITOR and pending[0]["note"] == "Rota covers it"
        with pytest.raises(PermissionDenied, match="second, different reviewer to return"):
            triage.return_decision(ws, [crit[0]], "my own")
    with open_as(ws_path, AUDITOR2, AUDITOR2_PW) as ws:
        for empty in ("", "   \n"):
            with pytest.raises(UsageError, match="needs a note"):
                triage.return_decision(ws, [crit[0]], empty)
        with pytest.raises(UsageError, match="not waiting for approval"):
            triage.return_decision(ws, [crit[1]], "not pending")
        assert status(ws, crit[0]) == "pending_approval"  # refusals changed nothing
        res = triage.return_decision(ws, [crit[0]], "The rota is for another unit.")
        assert res.changed == [crit[0]]
        row = ws.conn.execute(
            "SELECT status, reason, pending_status, pending_by, decided_by, approved_by"
            " FROM findings WHERE finding_id = ?", (crit[0],)).fetchone()
        assert row == ("in_review", None, None, None, AUDITOR2, None)
        detail = triage.finding_detail(ws, crit[0])
        last = detail["history"][-1]
        assert (last["user"], last["action"], last["from"], last["to"]) == (
            AUDITOR2, "return", "pending_approval", "in_review")
        assert last["detail"] == {"returned": {"status": "dismissed", "reason": "justified"},
                                  "proposed_by": AUDITOR}
        assert detail["notes"][-1]["text"] == "The rota is for another unit."
        event = triage.history(ws, finding_id=crit[0])[-1]
        assert event["action"] == "finding.return"
        assert event["payload"] == {
            "finding_id": crit[0], "from": "pending_approval", "to": "in_review",
            "returned": {"status": "dismissed", "reason": "justified"},
            "proposed_by": AUDITOR, "note_id": detail["notes"][-1]["note_id"],
            "note": "The rota is for another unit."}
        with pytest.raises(UsageError, match="not waiting for approval"):
            triage.approve(ws, [crit[0]])
        assert verify_workspace(ws.conn).ok
    with (open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws,
          pytest.raises(PermissionDenied, match="inspector role, which may not approve")):
        triage.return_decision(ws, [crit[0]], "x")


def test_escalation_recipient_is_an_audited_admin_setting(ws_path: Path) -> None:
    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert triage.escalation_to(ws) is None
        with pytest.raises(PermissionDenied):
            triage.set_escalation_to(ws, "DPO")
    with open_as(ws_path, ADMIN, ADMIN_PW) as ws:
        for bad in ("x" * 201, "two\nlines", "tab\there"):
            with pytest.raises(UsageError, match="one line of at most 200"):
                triage.set_escalation_to(ws, bad)
        triage.set_escalation_to(ws, "  Data protection officer (dpo@example.org) ")
        assert triage.escalation_to(ws) == "Data protection officer (dpo@example.org)"
        triage.set_escalation_to(ws, "Data protection officer (dpo@example.org)")  # same
        triage.set_escalation_to(ws, None)
        assert triage.escalation_to(ws) is None
        events = [(e["action"], e["payload"]) for e in triage.history(ws)
                  if e["action"].startswith("settings.")]
    assert events == [
        ("settings.escalation_to", {"from": None,
                                    "to": "Data protection officer (dpo@example.org)"}),
        ("settings.escalation_to", {"from": "Data protection officer (dpo@example.org)",
                                    "to": None})]


def test_finding_rows_by_month_decided_and_notes(ws_path: Path) -> None:
    """The dashboard's clickable counts: a month of first records, "decided" (confirmed
    or dismissed), and how many notes each finding carries."""

    with open_as(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        every = findings.list_findings(ws)
        march = findings.list_findings(ws, findings.FindingFilters(month="2026-03"))
        # Every record is in March 2026; findings dated by no record (the log-completeness
        # findings of missing kinds of operation) belong to no month.
        timed = [f["id"] for f in every if f["first_ts_utc"] is not None]
        assert timed and len(timed) < len(every)
        assert sorted(f["id"] for f in march) == sorted(timed)
        assert findings.list_findings(ws, findings.FindingFilters(month="2026-02")) == []
        assert findings.list_findings(ws, findings.FindingFilters(month="2025-12")) == []
        with pytest.raises(UsageError, match="is not YYYY-MM"):
            findings.list_findings(ws, findings.FindingFilters(month="March"))
        low = ids(ws, "PRO-03")
        triage.mark(ws, low[:1], "confirmed", note="one")
        triage.mark(ws, low[1:2], "dismissed", reason="justified", note="two")
        triage.add_note(ws, low[1], "three")
        triage.mark(ws, low[2:3], "escalated")
        decided = findings.list_findings(ws, findings.FindingFilters(status=findings.DECIDED))
        assert sorted(f["id"] for f in decided) == sorted(low[:2])
        notes = {f["id"]: f["notes"] for f in findings.list_findings(ws)}
        assert (notes[low[0]], notes[low[1]], notes[low[2]]) == (1, 2, 0)
