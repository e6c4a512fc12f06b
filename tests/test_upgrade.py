"""Upgrading a workspace written by the previous schema (tests/data/workspaces/schema-5,
made by make_fixture.py before events were signed): always from a copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlcipher3
from click.testing import CliRunner
from test_accountability import forge

from db import migrations
from db.keyslots import SlotFile
from oversight import audit, triage
from oversight.cli import main
from oversight.errors import PermissionDenied
from oversight.findings import FindingFilters, list_findings
from oversight.integrity import verify_workspace
from oversight.seals import new_seed, signer_from_seed
from oversight.workspace import DB_NAME, SLOTS_NAME, Workspace

FIXTURE = Path(__file__).parent / "data" / "workspaces" / "schema-5"
REPORT = FIXTURE / "reports" / "demo-report.pdf"
PASSWORD = "fixture-password"
ADMIN, INSPECTOR, AUDITOR, VIEWER = "admin", "ines.garcia", "aurelia.novak", "victor"
TABLES = ("batches", "operations", "authorisations", "cases", "findings", "finding_records",
          "finding_notes", "decisions", "samples", "runs", "packs", "users")


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    target = tmp_path / "schema-5"
    shutil.copytree(FIXTURE, target)
    return target


def raw(folder: Path, user: str) -> sqlcipher3.Connection:
    key = SlotFile.load(folder / SLOTS_NAME).unlock(user, PASSWORD)
    conn = sqlcipher3.connect(str(folder / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def snapshot(conn: sqlcipher3.Connection) -> dict[str, object]:
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    statuses = conn.execute("SELECT finding_id, status, reason, decided_by, approved_by,"
                            " pending_status, assignee FROM findings ORDER BY finding_id"
                            ).fetchall()
    notes = conn.execute("SELECT * FROM finding_notes ORDER BY note_id").fetchall()
    return {"counts": counts, "statuses": statuses, "notes": notes}


def cli(args: list[str], user: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, args, env={"OVERSIGHT_USER": user,
                                              "OVERSIGHT_PASSWORD": PASSWORD},
                             catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_fixture_is_from_the_previous_schema(legacy: Path) -> None:
    assert int((legacy / "SCHEMA").read_text()) < migrations.SCHEMA_VERSION
    assert json.loads((legacy / SLOTS_NAME).read_text())["version"] == 1
    keys = SlotFile.load(legacy / SLOTS_NAME).unlock_keys(ADMIN, PASSWORD)
    assert keys.signing_seed is None and len(keys.database_key) == 32


def test_upgrade_by_the_admin_keeps_everything_and_vouches_for_it(legacy: Path) -> None:
    conn = raw(legacy, ADMIN)
    before = snapshot(conn)
    events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    conn.close()

    # A non-admin opening first migrates the schema but may not vouch: read-only.
    with Workspace.open(legacy, INSPECTOR, PASSWORD) as ws:
        assert ws.read_only and ws.divergence is None
        assert ws.read_only_reason is not None
        assert ws.read_only_reason.startswith("This workspace was written before audit "
                                              "events were signed; an admin must open it")
        with pytest.raises(PermissionDenied, match="an admin must open it once"):
            triage.mark(ws, [list_findings(ws)[0]["id"]], "in_review")
        assert ws.conn.execute("SELECT count(*) FROM seals").fetchone()[0] == 0

    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        assert not ws.read_only
        last = ws.conn.execute("SELECT seq, user, action, payload FROM audit_events"
                               " ORDER BY seq DESC LIMIT 1").fetchone()
        report = verify_workspace(ws.conn)
    assert last[:3] == (events + 1, ADMIN, "workspace.upgrade")
    payload = json.loads(last[3])
    seed = SlotFile.load(legacy / SLOTS_NAME).unlock_keys(ADMIN, PASSWORD).signing_seed
    assert seed is not None and payload["public_key"] == signer_from_seed(seed).public_key
    assert payload["legacy_events"] == events
    assert sorted(payload["pending"]) == [AUDITOR, INSPECTOR, VIEWER]
    assert [u["name"] for u in payload["users"]] == [ADMIN, AUDITOR, INSPECTOR, VIEWER]
    assert len(payload["findings"]) == before["counts"]["findings"]  # type: ignore[index]
    assert report.ok, report.problems
    assert report.accountability is not None
    upgraded = report.accountability["upgrade"]
    assert upgraded["seq"] == events + 1 and upgraded["user"] == ADMIN
    assert report.accountability["statement"] == (
        f"Events 1-{events} were written before signing existed; admin {ADMIN} vouched for "
        f"them on {upgraded['ts'][:10]} (event {events + 1}).")
    conn = raw(legacy, ADMIN)
    assert snapshot(conn) == before  # nothing recorded was lost or changed
    assert migrations.schema_version(conn) == migrations.SCHEMA_VERSION
    conn.close()
    assert json.loads((legacy / SLOTS_NAME).read_text())["version"] == 2

    # The others enrol at their next sign-in with write access, then work as before.
    with Workspace.open(legacy, INSPECTOR, PASSWORD) as ws:
        assert not ws.read_only
        enrol = ws.conn.execute("SELECT user, action FROM audit_events ORDER BY seq DESC"
                                " LIMIT 1").fetchone()
        assert enrol == (INSPECTOR, "user.enrol")
        pending = next(f["id"] for f in list_findings(ws, FindingFilters(rule="PRO-03"))
                       if f["status"] == "open")
        triage.mark(ws, [pending], "in_review")
    code, out, _ = cli(["verify", str(legacy), "--against", str(REPORT)], AUDITOR)
    assert code == 0, out
    assert f"admin {ADMIN} vouched for them on" in out
    assert "Report demo-report.pdf: the audit trail still holds its head, event 18" in out
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        enrolled = [r[0] for r in ws.conn.execute(
            "SELECT user FROM audit_events WHERE action = 'user.enrol' ORDER BY seq")]
        assert enrolled == [INSPECTOR, AUDITOR]  # the CLI's verify enrolled the auditor
        assert verify_workspace(ws.conn).ok


def test_upgrade_refused_when_a_row_disagrees_with_the_older_events(legacy: Path) -> None:
    """A viewer made admin by a row edit before the upgrade: the older events say
    viewer, so nobody may vouch until the row is put right."""
    conn = raw(legacy, VIEWER)
    conn.execute("UPDATE users SET role = 'admin' WHERE name = ?", (VIEWER,))
    conn.close()
    sentence = (f"The users table gives {VIEWER} the admin role, but the audit trail gives "
                f"{VIEWER} the viewer role.")
    with Workspace.open(legacy, VIEWER, PASSWORD) as ws:
        assert ws.read_only and ws.divergence == sentence
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        assert ws.read_only and ws.divergence == sentence
        assert ws.conn.execute("SELECT count(*) FROM seals").fetchone()[0] == 0
        report = verify_workspace(ws.conn)
    assert report.problems == [sentence]
    assert report.accountability is not None
    assert report.accountability["statement"] == (
        "Events 1-20 were written before signing existed; no admin has vouched for them "
        "yet.")


def test_upgrade_refused_when_a_note_was_edited(legacy: Path) -> None:
    conn = raw(legacy, VIEWER)
    conn.execute("DROP TRIGGER finding_notes_append_only_update")
    conn.execute("UPDATE finding_notes SET text = 'nothing to report' WHERE note_id = 1")
    conn.close()
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        assert ws.read_only
        assert ws.read_only_reason == (
            "This workspace was written before audit events were signed, and it cannot be "
            "upgraded: Note 1 differs from what the audit trail recorded. It opens "
            "read-only.")


def test_legacy_rows_edited_after_the_upgrade_are_detected(legacy: Path) -> None:
    with Workspace.open(legacy, ADMIN, PASSWORD):
        pass
    conn = raw(legacy, VIEWER)
    conn.execute("UPDATE decisions SET ts = '2020-01-01T00:00:00+00:00' WHERE decision_id = 1")
    conn.execute("UPDATE findings SET message = 'edited' WHERE finding_id ="
                 " (SELECT min(finding_id) FROM findings)")
    fid = conn.execute("SELECT min(finding_id) FROM findings").fetchone()[0]
    written = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
    conn.close()
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        report = verify_workspace(ws.conn)
    assert report.problems == [
        f"The decisions written before the upgrade are not the {written} the upgrade "
        "recorded (edited, added or deleted since).",
        f"Finding {fid} differs from what detection recorded (its rule, message, records or "
        "facts were edited).",
    ]


def test_history_rewritten_before_the_upgrade_is_caught_by_the_report(legacy: Path) -> None:
    """Anyone holding the key can rewrite an unkeyed chain whole; the admin then vouches
    for the rewrite without knowing. The signed report, outside the workspace, still
    holds the old head."""
    conn = raw(legacy, VIEWER)
    conn.execute("DROP TRIGGER finding_notes_append_only_update")
    conn.execute("UPDATE finding_notes SET text = 'all fine' WHERE note_id = 1")
    seq = conn.execute("SELECT seq FROM audit_events WHERE payload LIKE '%\"note_id\":1,%'"
                       " ORDER BY seq LIMIT 1").fetchone()[0]
    row = conn.execute("SELECT payload FROM audit_events WHERE seq = ?", (seq,)).fetchone()
    doc = json.loads(row[0])
    doc["note"] = "all fine"
    conn.execute("UPDATE audit_events SET payload = ? WHERE seq = ?",
                 (audit.canonical_json(doc), seq))
    prev = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq - 1,)).fetchone()[0]
    for s, ts, user, action, payload in conn.execute(
            "SELECT seq, ts, user, action, payload FROM audit_events WHERE seq >= ?"
            " ORDER BY seq", (seq,)).fetchall():
        digest = audit.event_hash(s, ts, user, action, payload, prev)
        conn.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, s))
        last = f"{s}:{digest}"
        prev = digest
    conn.execute("UPDATE workspace_meta SET value = ? WHERE key = 'audit_head'", (last,))
    conn.close()
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        assert not ws.read_only  # upgraded: the rewrite is consistent
        assert verify_workspace(ws.conn).ok
    code, out, _ = cli(["verify", str(legacy), "--against", str(REPORT), "--json"], ADMIN)
    doc = json.loads(out)
    assert code == 1 and not doc["ok"]
    assert doc["problems"] == [
        "Audit event 18 is not the one the report demo-report.pdf (written "
        "2026-11-30T12:18:28+00:00) records as the head of the audit trail: the trail up to "
        "that event was rewritten since."]


def test_enrolment_taken_by_someone_else_is_noticed_by_the_user(legacy: Path) -> None:
    """Until a listed user enrols, anyone with the key could enrol in their name; the user
    then finds the workspace read-only, and an admin's password reset gives them back a
    key of their own."""
    with Workspace.open(legacy, ADMIN, PASSWORD):
        pass
    conn = raw(legacy, VIEWER)
    public = signer_from_seed(seed := new_seed()).public_key
    forge(conn, INSPECTOR, seed, "user.enrol", {"name": INSPECTOR, "public_key": public})
    conn.execute("UPDATE users SET public_key = ? WHERE name = ?", (public, INSPECTOR))
    conn.close()
    with Workspace.open(legacy, INSPECTOR, PASSWORD) as ws:
        assert ws.read_only
        assert ws.divergence is not None and ws.divergence.startswith(
            f"The signing key in the key slot of {INSPECTOR} is not the one the audit trail "
            "gives them")
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        ws.reset_password(INSPECTOR, "a fresh passphrase")
    with Workspace.open(legacy, INSPECTOR, "a fresh passphrase") as ws:
        assert not ws.read_only
        triage.add_note(ws, list_findings(ws)[0]["id"], "back in")
        assert verify_workspace(ws.conn).ok


def test_enrolment_only_for_users_the_upgrade_listed(legacy: Path) -> None:
    with Workspace.open(legacy, ADMIN, PASSWORD):
        pass
    with Workspace.open(legacy, INSPECTOR, PASSWORD):
        pass  # enrolled
    conn = raw(legacy, VIEWER)
    seq = forge(conn, INSPECTOR, seed := new_seed(), "user.enrol",
                {"name": INSPECTOR, "public_key": signer_from_seed(seed).public_key})
    conn.close()
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        report = verify_workspace(ws.conn)
    assert report.problems[0].startswith(
        f"The seal of audit event {seq} (user.enrol by {INSPECTOR}) is not a valid signature")


def test_a_second_upgrade_or_enrolment_racing_the_first_writes_nothing(legacy: Path) -> None:
    """Two sessions opened before either wrote: the second finds the event already there
    (checked inside its own write transaction) and stays read-only."""
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        events = audit.head(ws.conn)[0]
        ws._upgrade(PASSWORD)  # what a second admin session opened at the same time does
        assert ws.read_only and ws.read_only_reason == (
            "Another admin upgraded this workspace just now; open the workspace again to "
            "work in it.")
        assert audit.head(ws.conn)[0] == events
    with Workspace.open(legacy, INSPECTOR, PASSWORD) as ws:
        ws._enrol(PASSWORD)
        assert ws.read_only_reason == ("This user enrolled in another session just now; "
                                       "open the workspace again to work in it.")
        assert [r[0] for r in ws.conn.execute(
            "SELECT user FROM audit_events WHERE action = 'user.enrol'")] == [INSPECTOR]
    with Workspace.open(legacy, ADMIN, PASSWORD) as ws:
        assert verify_workspace(ws.conn).ok
