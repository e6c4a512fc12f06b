"""Retracting an import batch: records leave every query, nothing is deleted, the chain
records it, verify still checks the rows, and the file may be imported again."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import sqlcipher3
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, ROOT, VIEWER, VIEWER_PW, write

from db import migrations
from db.keyslots import SlotFile
from oversight import browse, queries, triage
from oversight.cli import main
from oversight.criteria.engine import preview_hits, run_detection
from oversight.criteria.pack import parse_pack
from oversight.errors import AlreadyImported, PermissionDenied, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.integrity import verify_workspace
from oversight.records import Kind
from oversight.retraction import SOURCE_RETRACTED, retract_batch, why_not_retract
from oversight.timeline import authorisation_timeline
from oversight.workspace import DB_NAME, SLOTS_NAME, Role, Workspace

OPS_A = """record_id,ts,action,actor_id,justification,subject_ids,authorisation_id
OP-A1,2026-03-04T09:00:00+00:00,consult,officer-1,,P-1,
OP-A2,2026-03-04T10:00:00+00:00,consult,officer-1,routine check,P-9,
OP-A3,2026-03-04T10:30:00+00:00,interception,officer-1,warrant,P-5,W-1
OP-A4,not a time,consult,officer-1,bad row,P-9,
"""
OPS_B = """record_id,ts,action,actor_id,justification,subject_ids,authorisation_id
OP-B1,2026-03-04T11:00:00+00:00,consult,officer-2,,P-2,
OP-B2,2026-03-04T12:00:00+00:00,consult,officer-2,follow-up,P-1,
"""
AUTHS = """authorisation_id,regime,valid_from,valid_to,approval
W-1,interception,2026-03-01T00:00:00+00:00,2026-03-31,approved
"""
PACK = """
pack: retraction-test
version: "1"
title: Retraction test
rules:
  - id: NOJ-01
    title: Look-up without a justification
    severity: high
    legal_refs: ["Directive (EU) 2016/680, Art. 25"]
    rationale: Every look-up needs a reason.
    when: blank(justification)
    message: "{actor_id} looked up {subject_ids} without a reason"
  - id: REP-01
    title: One person looked up twice in a day
    severity: medium
    legal_refs: ["Directive (EU) 2016/680, Art. 4(1)(c)"]
    rationale: Repeated look-ups need a closer look.
    aggregates:
      - label: repeat
        group_by: [subject_ids]
        window: {days: 1}
        more_than: 1
        message: "{subject_ids} looked up {count} times"
  - id: WAR-01
    title: Interception outside its warrant
    severity: critical
    legal_refs: ["Investigatory Powers Act 2016 s.32"]
    rationale: A warrant covers its window only.
    when: >
      action = "interception" and (not authorisation.found
        or ts < authorisation.valid_from or ts > authorisation.valid_to)
    message: "{action} under {authorisation_id}"
"""


@pytest.fixture
def two_batches(ws_path: Path, tmp_path: Path) -> Path:
    """Batch 1 (ops-a.csv) and 2 (ops-b.csv), imported by the inspector, with findings
    of the test pack and a note on one of them."""
    pack = parse_pack(PACK, "test pack")
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "ops-a.csv", OPS_A), Kind.OPERATIONS)
        import_file(ws, write(tmp_path / "ops-b.csv", OPS_B), Kind.OPERATIONS)
        run_detection(ws, pack)
        triage.add_note(ws, _finding(ws, "NOJ-01", "OP-A1")["id"], "Asked the force why.")
    return ws_path


def _finding(ws: Workspace, rule: str, record: str) -> dict:
    return next(f for f in list_findings(ws, FindingFilters(rule=rule))
                if record in f["record_ids"])


def test_retracted_records_leave_every_query_and_findings_are_labelled(
        two_batches: Path, tmp_path: Path) -> None:
    with Workspace.open(two_batches, ADMIN, ADMIN_PW) as ws:
        findings_before = {f["id"]: f for f in list_findings(ws)}
        rows_before = int(ws.conn.execute("SELECT count(*) FROM operations").fetchone()[0])
        noj_a1 = _finding(ws, "NOJ-01", "OP-A1")["id"]
        rep_p1 = _finding(ws, "REP-01", "OP-A1")["id"]
        assert browse.count(ws) == 5 and len(queries.rejects(ws)) == 1

        done = retract_batch(ws, 1, "  Wrong force's file: sent to us by mistake.  ")
        assert done.reason == "Wrong force's file: sent to us by mistake."
        assert done.findings_labelled == [noj_a1]  # rested only on batch 1
        assert done.findings_partly == 1  # REP-01 P-1 rests on A1 and B2

        # Every query, count and view leaves batch 1 out ...
        assert browse.count(ws) == 2
        assert browse.rids(ws) == [r["rid"] for r in queries.records(ws, limit=None)]
        assert {r["record_id"] for r in queries.records(ws, limit=None)} == {"OP-B1", "OP-B2"}
        assert browse.values(ws, "action") == ["consult"]
        assert browse.count(ws, browse.Filters(text="officer-1")) == 0
        assert queries.rejects(ws) == []  # batch 1's rejected row went with it
        assert len(queries.rejects(ws, 1)) == 1  # ... unless that batch is asked for
        assert [b["batch_id"] for b in queries.batches(ws)] == [2]
        listed = queries.batches(ws, include_retracted=True)
        assert listed[0]["retracted_by"] == ADMIN and listed[0]["retraction_reason"] == \
            done.reason
        # ... but nothing is deleted.
        assert int(ws.conn.execute("SELECT count(*) FROM operations").fetchone()[0]) == \
            rows_before
        after = {f["id"]: f for f in list_findings(ws)}
        assert set(after) == set(findings_before)
        labelled = after[noj_a1]
        assert not labelled["matching"]
        assert labelled["no_longer_matching_reason"].startswith(SOURCE_RETRACTED)
        assert "batch 1 (ops-a.csv)" in labelled["no_longer_matching_reason"]
        assert [n["text"] for n in triage.notes(ws, noj_a1)] == ["Asked the force why."]
        assert after[rep_p1]["matching"]  # partly on a live record: the next run decides
        detail = triage.finding_detail(ws, noj_a1)
        assert detail["records"] == []  # its record is not shown as evidence any more

        # Detection no longer sees them; the label stays on the retracted finding.
        preview = preview_hits(ws, parse_pack(PACK, "test pack"))
        assert noj_a1 not in preview["NOJ-01"] and rep_p1 not in preview["REP-01"]
        run_detection(ws, parse_pack(PACK, "test pack"))
        again = {f["id"]: f for f in list_findings(ws)}
        assert again[noj_a1]["no_longer_matching_reason"].startswith(SOURCE_RETRACTED)
        assert not again[rep_p1]["matching"]
        assert "no longer matches" in again[rep_p1]["no_longer_matching_reason"]

        # The chain holds everything needed to re-derive the retraction.
        event = triage.history(ws, limit=None)
        retract = [e for e in event if e["action"] == "batch.retract"]
        assert len(retract) == 1 and retract[0]["user"] == ADMIN
        payload = retract[0]["payload"]
        batch = ws.conn.execute("SELECT sha256, rows_digest, retracted_at FROM batches"
                                " WHERE batch_id = 1").fetchone()
        assert payload["batch_id"] == 1 and payload["sha256"] == batch[0]
        assert payload["rows_digest"] == batch[1] and payload["retracted_at"] == batch[2]
        assert payload["reason"] == done.reason and payload["findings_labelled"] == [noj_a1]
        assert payload["kind"] == "operations" and payload["file"] == "ops-a.csv"
        report = verify_workspace(ws.conn)
        assert report.ok, report.problems
        assert report.batches_checked == 2  # the retracted batch's rows are still checked

        # The same file may now be imported again, once.
        again_import = import_file(ws, tmp_path / "ops-a.csv", Kind.OPERATIONS)
        assert again_import.batch_id == 3 and again_import.sha256 == payload["sha256"]
        assert browse.count(ws) == 5
        with pytest.raises(AlreadyImported, match=r"batch 3 .*oversight retract"):
            import_file(ws, tmp_path / "ops-a.csv", Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "test pack"))
        revived = _finding(ws, "NOJ-01", "OP-A1")
        assert revived["id"] == noj_a1 and revived["matching"]  # same record, same finding
        assert [n["text"] for n in triage.notes(ws, noj_a1)] == ["Asked the force why."]
        assert verify_workspace(ws.conn).ok


def test_who_may_retract_and_the_reason(two_batches: Path) -> None:
    with Workspace.open(two_batches, ADMIN, ADMIN_PW) as ws:
        ws.add_user("ivan", Role.INSPECTOR, "ivan-password")
    with Workspace.open(two_batches, "ivan", "ivan-password") as ws:
        assert why_not_retract(ws, 1) is not None
        with pytest.raises(PermissionDenied, match="admin or the user who imported"):
            retract_batch(ws, 1, "not mine")
    with Workspace.open(two_batches, VIEWER, VIEWER_PW) as ws, \
            pytest.raises(PermissionDenied):
        retract_batch(ws, 1, "viewers read")
    with Workspace.open(two_batches, INSPECTOR, INSPECTOR_PW) as ws:
        events = ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        for reason in ("", "   \n"):
            with pytest.raises(UsageError, match="reason"):
                retract_batch(ws, 1, reason)
        with pytest.raises(UsageError, match="no batch 9"):
            retract_batch(ws, 9, "typo")
        assert ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] == events
        assert browse.count(ws) == 5  # refusals changed nothing
        assert why_not_retract(ws, 2) is None  # the importer may
        retract_batch(ws, 2, "duplicate of a later export")
        with pytest.raises(UsageError, match="already retracted by ines"):
            retract_batch(ws, 2, "again")
        assert browse.count(ws) == 3


def test_a_retracted_register_leaves_the_timeline_and_detection(ws_path: Path,
                                                                tmp_path: Path) -> None:
    pack = parse_pack(PACK, "test pack")
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "auth.csv", AUTHS), Kind.AUTHORISATIONS)
        other = AUTHS.replace("W-1", "W-2")
        import_file(ws, write(tmp_path / "auth-2.csv", other), Kind.AUTHORISATIONS)
        import_file(ws, write(tmp_path / "ops-a.csv", OPS_A), Kind.OPERATIONS)
        tl = authorisation_timeline(ws, "W-1", pack)
        assert tl.found and tl.standing == "valid" and not tl.marks[0].rules
        assert preview_hits(ws, pack)["WAR-01"] == set()
        retract_batch(ws, 1, "register of another force")
        tl = authorisation_timeline(ws, "W-1", pack)
        assert not tl.found and tl.marks[0].rules == ("WAR-01",)
        assert len(preview_hits(ws, pack)["WAR-01"]) == 1
        assert [r["fields"]["authorisation_id"] for r in
                queries.records(ws, Kind.AUTHORISATIONS)] == ["W-2"]


def test_verify_rederives_the_retraction_and_still_checks_the_rows(two_batches: Path) -> None:
    with Workspace.open(two_batches, ADMIN, ADMIN_PW) as ws:
        retract_batch(ws, 1, "wrong file")
    conn = _raw(two_batches)
    conn.execute("UPDATE batches SET retracted_at = NULL WHERE batch_id = 1")  # un-retract
    conn.execute("UPDATE operations SET actor_id = 'someone' WHERE record_id = 'OP-A2'")
    conn.close()
    with Workspace.open(two_batches, ADMIN, ADMIN_PW) as ws:
        problems = verify_workspace(ws.conn).problems
    assert "Batch 1 (ops-a.csv): stored rows have been altered since import." in problems
    assert any(p.startswith("Batch 1 is not retracted in the workspace, but the audit trail"
                            " records its retraction by alice") for p in problems)
    conn = _raw(two_batches)
    conn.execute("UPDATE batches SET retracted_at = '2026-01-01', retracted_by = 'x',"
                 " retraction_reason = 'x' WHERE batch_id = 2")
    conn.close()
    with Workspace.open(two_batches, ADMIN, ADMIN_PW) as ws:
        problems = verify_workspace(ws.conn).problems
    assert ("Batch 2 is marked retracted, but no retraction in the audit trail records it."
            in problems)


def _raw(folder: Path, user: str = ADMIN, password: str = ADMIN_PW) -> sqlcipher3.Connection:
    key = SlotFile.load(folder / SLOTS_NAME).unlock(user, password)
    conn = sqlcipher3.connect(str(folder / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def test_retract_on_the_command_line(two_batches: Path, tmp_path: Path) -> None:
    def run(*args: str, user: str = ADMIN, password: str = ADMIN_PW) -> tuple[int, str, str]:
        res = CliRunner().invoke(main, list(args), env={
            "OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": password}, catch_exceptions=False)
        return res.exit_code, res.stdout, res.stderr

    ws = str(two_batches)
    code, _, err = run("import", ws, str(tmp_path / "ops-a.csv"))
    assert code == 2 and "retract it" in err and "oversight retract WORKSPACE 1" in err
    code, _, err = run("retract", ws, "1")
    assert code == 2 and "--reason" in err
    code, out, _ = run("retract", ws, "1", "--reason", " ", "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "usage"
    code, out, _ = run("retract", ws, "1", "--reason", "x", "--json", user=VIEWER,
                       password=VIEWER_PW)
    assert code == 2 and json.loads(out)["error"]["code"] == "permission"
    code, out, _ = run("retract", ws, "1", "--reason", "Sent by mistake", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["batch_id"] == 1 and len(doc["sha256"]) == 64
    assert doc["reason"] == "Sent by mistake" and len(doc["findings_labelled"]) == 1
    code, out, _ = run("imports", ws)
    assert code == 0 and "by alice: Sent by mistake" in out
    code, out, _ = run("import", ws, str(tmp_path / "ops-a.csv"), "--json")
    assert code == 0 and json.loads(out)["batch_id"] == 3
    code, out, _ = run("verify", ws)
    assert code == 0, out


def test_the_migration_upgrades_a_schema_5_workspace(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "data" / "workspaces" / "schema-5"
    folder = tmp_path / "old"
    shutil.copytree(fixture, folder)
    conn = _raw(folder, "admin", "fixture-password")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    batches_before = conn.execute("SELECT * FROM batches ORDER BY batch_id").fetchall()
    counts_before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("operations", "authorisations", "cases", "rejects",
                               "findings", "audit_events")}
    conn.close()

    with Workspace.open(folder, "admin", "fixture-password") as ws:
        c = ws.conn
        assert c.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        width = len(batches_before[0])
        after = c.execute("SELECT * FROM batches ORDER BY batch_id").fetchall()
        assert [tuple(r[:width]) for r in after] == [tuple(r) for r in batches_before]
        retracted = c.execute("SELECT retracted_at, retracted_by, retraction_reason"
                              " FROM batches").fetchall()
        assert retracted and all(r == (None, None, None) for r in retracted)  # none retracted
        # Opening as an admin also signs the older history: one workspace.upgrade event.
        counts_before["audit_events"] += 1
        assert c.execute("SELECT action FROM audit_events ORDER BY seq DESC LIMIT 1"
                         ).fetchone()[0] == "workspace.upgrade"
        for table, n in counts_before.items():
            assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n, table
        assert browse.count(ws) == counts_before["operations"]
        schema = c.execute("SELECT sql FROM sqlite_master WHERE name = 'batches'").fetchone()[0]
        assert not re.search(r"sha256\s+TEXT\s+NOT\s+NULL\s+UNIQUE", schema)
        report = verify_workspace(c)
        assert report.ok, report.problems
        # One live batch per file: a second live row with the same SHA-256 is refused ...
        with pytest.raises(sqlcipher3.IntegrityError), ws.write() as conn:
            conn.execute("INSERT INTO batches(kind, file_name, file_size, sha256, format,"
                         " mapping, columns, rows_read, rows_imported, rows_rejected,"
                         " rows_digest, imported_by, imported_at) SELECT kind, file_name,"
                         " file_size, sha256, format, mapping, columns, 0, 0, 0, '', 'x',"
                         " 'now' FROM batches WHERE batch_id = 1")
        # ... and after a retraction the file is welcome again.
        retract_batch(ws, 1, "testing the upgrade")
        assert verify_workspace(c).ok
    # A second open does not migrate again.
    with Workspace.open(folder, "aurelia.novak", "fixture-password") as ws:
        assert ws.conn.execute("SELECT count(*) FROM schema_migrations WHERE version = 6"
                               ).fetchone()[0] == 1


def test_the_rebuild_keeps_columns_and_views_added_before_it(tmp_path: Path) -> None:
    """The rebuild copies whatever columns the batches table has (a migration merged
    before this one may have added some) and puts back views naming batches."""
    conn = sqlcipher3.connect(str(tmp_path / "t.db"), isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for statement in migrations._statements(migrations.V1 + ";" + migrations.V2):
        conn.execute(statement)
    conn.execute("ALTER TABLE batches ADD COLUMN warnings TEXT")
    conn.execute("CREATE VIEW batch_files AS SELECT batch_id, file_name FROM batches")
    conn.execute("INSERT INTO batches(kind, file_name, file_size, sha256, format, mapping,"
                 " columns, rows_read, rows_imported, rows_rejected, rows_digest, imported_by,"
                 " imported_at, warnings) VALUES ('operations', 'a.csv', 1, 'abc', 'csv', '{}',"
                 " '[]', 0, 0, 0, '', 'u', 't', 'kept')")
    conn.execute("INSERT INTO operations(batch_id, line, record_id) VALUES (1, 2, 'R')")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN")
    migrations._drop_unique_sha256(conn)
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys = ON")
    assert conn.execute("SELECT warnings FROM batches").fetchone()[0] == "kept"
    assert conn.execute("SELECT file_name FROM batch_files").fetchone()[0] == "a.csv"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.execute("INSERT INTO batches(kind, file_name, file_size, sha256, format, mapping,"
                 " columns, rows_read, rows_imported, rows_rejected, rows_digest, imported_by,"
                 " imported_at) VALUES ('operations', 'a.csv', 1, 'abc', 'csv', '{}', '[]', 0,"
                 " 0, 0, '', 'u', 't')")  # the UNIQUE constraint is gone
    with pytest.raises(sqlcipher3.IntegrityError):  # foreign keys are enforced again
        conn.execute("INSERT INTO operations(batch_id, line, record_id) VALUES (99, 1, 'X')")
    conn.close()


#: Modules that may read the record tables themselves: the importer writes them, verify
#: digests every stored row, and retraction works on the rows of one batch.
_RAW_READERS = {"oversight/importing/service.py", "oversight/integrity.py",
                "oversight/retraction.py"}


def test_no_reader_bypasses_the_live_views() -> None:
    """Every query of operations, authorisations or cases outside the allowed modules
    goes through the live_* views, so a retracted batch leaves it."""
    table = r"(operations|authorisations|cases)\b"
    direct = re.compile(rf"\b(FROM|JOIN)\s+{table}|\bFROM\s+\{{kind\.value\}}", re.IGNORECASE)
    offenders = []
    for path in sorted((ROOT / "oversight").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in _RAW_READERS:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if direct.search(code) and ('"' in code or "'" in code):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
