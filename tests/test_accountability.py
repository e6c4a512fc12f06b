"""Signed, attributable events: what a hostile user of the workspace can no longer do
unseen. Every tamper goes through a raw SQLCipher connection keyed with the key from the
tamperer's own slot, as a user of the workspace would do it with any SQLCipher tool."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, VIEWER, VIEWER_PW, write
from hypothesis import given
from hypothesis import strategies as st
from test_triage import OPS

from db.keyslots import SlotFile
from oversight import (
    audit,
    chainstate,
    indicators,
    log_quality,
    queries,
    triage,
    verify_worker,
)
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.errors import AuthenticationError, OversightError, PermissionDenied, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.importing.quality import describe_warnings
from oversight.integrity import verify_workspace
from oversight.records import Kind
from oversight.seals import signer_from_seed
from oversight.settings import auto_lock_minutes, set_auto_lock_minutes
from oversight.workspace import DB_NAME, SLOTS_NAME, Role, Workspace

AUDITOR, AUDITOR_PW = "aurelia", "aurelia-password"
CRITICAL = "TRF-01"  # the two transfers of OPS are critical findings
LOW = "PRO-03"


@pytest.fixture
def ws_path(ws_path: Path, tmp_path: Path) -> Path:
    """The template (admin, inspector, viewer) with an auditor, operations and a run."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user(AUDITOR, Role.AUDITOR, AUDITOR_PW)
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "ops.csv", OPS), Kind.OPERATIONS)
        run_detection(ws, default_pack())
    return ws_path


def raw(ws_path: Path, user: str, password: str) -> tuple[sqlcipher3.Connection, bytes | None]:
    """A user's own key slot opened by hand: the database key and their signing seed."""
    keys = SlotFile.load(ws_path / SLOTS_NAME).unlock_keys(user, password)
    conn = sqlcipher3.connect(str(ws_path / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{keys.database_key.hex()}'\"")
    return conn, keys.signing_seed


def forge(conn: sqlcipher3.Connection, user: str, seed: bytes, action: str,
          payload: dict[str, object]) -> int:
    """Append an event as ``user`` and seal it with ``seed``, as the program would."""
    wsid = conn.execute("SELECT value FROM workspace_meta WHERE key = 'workspace_id'"
                        ).fetchone()[0]
    start = audit.head(conn)[0]
    ev = audit.append(conn, user, action, payload)
    chainstate.seal_command(conn, wsid, user, signer_from_seed(seed), start)
    return ev.seq


def problems(ws_path: Path) -> list[str]:
    """verify's problems, checked in one process and on two (oversight.verify_worker),
    the findings' digests computed by the helper and by the main process: all must say
    the same, sentence for sentence."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
        original, check = verify_worker.PARALLEL_FROM, verify_worker.check_audit
        used: list[object] = []

        def spy(*args: Any) -> Any:
            used.append(check(*args))
            return used[-1]

        verify_worker.PARALLEL_FROM, verify_worker.check_audit = 0, spy
        on_two = []
        try:
            for in_helper in (True, False):
                verify_worker.DIGESTS_IN_HELPER = in_helper
                on_two.append(verify_workspace(ws.conn, helper=ws.helper_access()))
        finally:
            verify_worker.PARALLEL_FROM, verify_worker.check_audit = original, check
            verify_worker.DIGESTS_IN_HELPER = None
    assert report.ok is (not report.problems)
    assert len(used) == 2 and None not in used, "the helper process did not do its half"
    for other in on_two:
        assert other.to_json() == report.to_json()
    return report.problems


def ids(ws: Workspace, rule: str) -> list[str]:
    return [f["id"] for f in list_findings(ws, FindingFilters(rule=rule))]


def cli(args: list[str], user: str, password: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, args, env={
        "OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": password,
        "OVERSIGHT_NEW_PASSWORD": "mallory-password"}, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


# -- the intact workspace --------------------------------------------------------------------


def test_every_command_is_sealed_and_verify_checks_the_seals(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        triage.mark(ws, ids(ws, LOW), "dismissed", reason="justified", note="rota")
        events = ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        seals = ws.conn.execute("SELECT seq, user FROM seals ORDER BY seq").fetchall()
        report = verify_workspace(ws.conn)
    # one seal per command (a bulk mark of three findings is one seal), none per event
    assert [s[1] for s in seals] == [ADMIN, ADMIN, ADMIN, ADMIN, INSPECTOR, INSPECTOR,
                                     INSPECTOR]
    assert seals[-1][0] == events
    assert report.ok, report.problems
    assert report.accountability is not None
    assert report.accountability["seals"] == len(seals)
    assert report.accountability["signed_events"] == events
    assert report.accountability["legacy_events"] == 0


def test_user_keys_are_in_the_slot_the_table_and_the_event(ws_path: Path) -> None:
    keys = SlotFile.load(ws_path / SLOTS_NAME).unlock_keys(VIEWER, VIEWER_PW)
    assert keys.signing_seed is not None and len(keys.signing_seed) == 32
    public = signer_from_seed(keys.signing_seed).public_key
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        row = ws.conn.execute("SELECT public_key FROM users WHERE name = ?", (VIEWER,)
                              ).fetchone()
        added = [json.loads(p) for (p,) in ws.conn.execute(
            "SELECT payload FROM audit_events WHERE action = 'user.add'")]
    assert row[0] == public
    assert {"name": VIEWER, "role": "viewer", "public_key": public} in added
    doc = json.loads((ws_path / SLOTS_NAME).read_text())
    assert doc["version"] == 2
    assert public not in (ws_path / SLOTS_NAME).read_text()  # the private half is wrapped


# -- the role-escalation scenario, end to end through the command line ------------------------


def test_viewer_made_admin_by_a_row_edit_can_change_nothing(ws_path: Path) -> None:
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE users SET role = 'admin' WHERE name = ?", (VIEWER,))
    conn.close()
    sentence = (f"The users table gives {VIEWER} the admin role, but the audit trail gives "
                f"{VIEWER} the viewer role.")
    with Workspace.open(ws_path, VIEWER, VIEWER_PW) as ws:
        assert ws.read_only and ws.role is Role.VIEWER
        assert ws.divergence == sentence
    before = problems(ws_path)
    code, _, err = cli(["user", "add", str(ws_path), "mallory", "--role", "auditor"],
                       VIEWER, VIEWER_PW)
    assert code == 2 and f"error: {sentence}" in err
    code, _, err = cli(["four-eyes", str(ws_path), "off"], VIEWER, VIEWER_PW)
    assert code == 2 and f"error: {sentence}" in err
    # An admin's writes are refused too until the row is put right: nobody builds on it.
    code, _, err = cli(["four-eyes", str(ws_path), "off"], ADMIN, ADMIN_PW)
    assert code == 2 and sentence in err
    code, out, _ = cli(["verify", str(ws_path)], VIEWER, VIEWER_PW)
    assert code == 1 and sentence in out
    assert problems(ws_path) == before == [sentence]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        assert [u.name for u in ws.users()] == [ADMIN, AUDITOR, INSPECTOR, VIEWER]
        assert triage.four_eyes(ws).value == "critical"


def test_forged_event_by_a_user_without_the_role(ws_path: Path) -> None:
    """The viewer signs, with their own key, a settings change only admins may make."""
    conn, seed = raw(ws_path, VIEWER, VIEWER_PW)
    assert seed is not None
    conn.execute("UPDATE workspace_meta SET value = 'off' WHERE key = 'four_eyes'")
    seq = forge(conn, VIEWER, seed, "settings.four_eyes", {"from": "critical", "to": "off"})
    conn.close()
    found = problems(ws_path)
    assert found[0] == (f"Audit event {seq} (settings.four_eyes by {VIEWER}): {VIEWER} then "
                        "had the viewer role, which may not do that.")
    assert "The workspace setting four_eyes is 'off', but the audit trail set it to " \
           "'critical'." in found
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.read_only and ws.divergence == found[0]
        with pytest.raises(PermissionDenied, match="may not do that"):
            triage.mark(ws, ids(ws, LOW)[:1], "in_review")


def test_forged_user_event_does_not_make_an_admin(ws_path: Path) -> None:
    conn, seed = raw(ws_path, VIEWER, VIEWER_PW)
    assert seed is not None
    conn.execute("INSERT INTO users(name, role, active, created_at, created_by, public_key)"
                 " VALUES ('mallory', 'admin', 1, 'now', ?, NULL)", (VIEWER,))
    seq = forge(conn, VIEWER, seed, "user.add", {"name": "mallory", "role": "admin",
                                                 "public_key": None})
    conn.close()
    found = problems(ws_path)
    assert found[0] == (f"Audit event {seq} (user.add by {VIEWER}): {VIEWER} then had the "
                        "viewer role, which may not do that.")
    assert "User mallory is in the users table, but no event of the audit trail adds them." \
        in found


def test_event_resigned_by_another_user(ws_path: Path) -> None:
    """The auditor replaces the inspector's seal with their own: the events still name
    the inspector, so the seal is not the actor's."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        triage.mark(ws, [fid], "in_review")
        seq = audit.head(ws.conn)[0]
    conn, seed = raw(ws_path, AUDITOR, AUDITOR_PW)
    assert seed is not None
    wsid, = conn.execute("SELECT value FROM workspace_meta WHERE key = 'workspace_id'"
                         ).fetchone()
    head_hash = audit.head(conn)[1]
    seal = signer_from_seed(seed).seal(wsid, seq, head_hash, AUDITOR)
    conn.execute("UPDATE seals SET user = ?, key_id = ?, signature = ? WHERE seq = ?",
                 (AUDITOR, seal.key_id, seal.signature, seq))
    conn.close()
    assert problems(ws_path)[0] == (f"Audit event {seq} (finding.mark) names {INSPECTOR} as "
                                    f"its actor but is sealed by {AUDITOR}.")


def test_seal_claimed_for_another_user_fails_the_signature(ws_path: Path) -> None:
    """Relabelling a seal as the inspector's does not make the auditor's signature theirs."""
    with Workspace.open(ws_path, AUDITOR, AUDITOR_PW) as ws:
        triage.mark(ws, ids(ws, LOW)[:1], "in_review")
        seq = audit.head(ws.conn)[0]
    conn, _ = raw(ws_path, AUDITOR, AUDITOR_PW)
    conn.execute("UPDATE audit_events SET user = ? WHERE seq = ?", (INSPECTOR, seq))
    conn.execute("UPDATE seals SET user = ? WHERE seq = ?", (INSPECTOR, seq))
    _rehash(conn, seq)
    conn.close()
    assert problems(ws_path)[0].startswith(
        f"The seal of audit event {seq} (finding.mark by {INSPECTOR}) is not a valid "
        f"signature of {INSPECTOR}'s key")


def test_removed_users_later_event(ws_path: Path) -> None:
    """The inspector kept their slot (key and seed) and acts after their removal."""
    keep = (ws_path / SLOTS_NAME).read_bytes()
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.remove_user(INSPECTOR)
        removed = audit.head(ws.conn)[0]
    (ws_path / "old-slots.json").write_bytes(keep)
    keys = SlotFile.load(ws_path / "old-slots.json").unlock_keys(INSPECTOR, INSPECTOR_PW)
    assert keys.signing_seed is not None
    conn = sqlcipher3.connect(str(ws_path / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{keys.database_key.hex()}'\"")
    fid = conn.execute("SELECT finding_id FROM findings WHERE rule_id = ?", (LOW,)
                       ).fetchone()[0]
    conn.execute("UPDATE findings SET status = 'in_review' WHERE finding_id = ?", (fid,))
    seq = forge(conn, INSPECTOR, keys.signing_seed, "finding.mark", {
        "finding_id": fid, "from": "open", "to": "in_review", "reason": None,
        "note_id": None, "note": None})
    conn.close()
    found = problems(ws_path)
    assert found[0] == (f"Audit event {seq} (finding.mark by {INSPECTOR}): {INSPECTOR} was "
                        f"removed from the workspace at event {removed}.")
    assert f"Finding {fid} is in_review but its decisions in the audit trail leave it open." \
        in found


def test_events_after_the_last_seal(ws_path: Path) -> None:
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    seq = audit.append(conn, INSPECTOR, "sample.draw", {}).seq
    conn.close()
    assert problems(ws_path)[0] == (
        f"Audit event {seq} (sample.draw by {INSPECTOR}) come after the last seal: nobody "
        "signed them.")
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.read_only
        assert ws.divergence == (f"Audit events {seq}-{seq} come after the last seal: nobody "
                                 "signed them.")


def test_unknown_action_is_a_divergence(ws_path: Path) -> None:
    conn, seed = raw(ws_path, ADMIN, ADMIN_PW)
    assert seed is not None
    seq = forge(conn, ADMIN, seed, "user.promote", {"name": VIEWER, "role": "admin"})
    conn.close()
    assert problems(ws_path)[0] == (f"Audit event {seq} records an action this program does "
                                    "not know ('user.promote'); it cannot be accepted.")


def _rehash(conn: sqlcipher3.Connection, start: int) -> None:
    """Recompute every hash from ``start`` on and the stored head: what anyone with the
    database key can do to an unkeyed chain."""
    prev = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (start - 1,)
                        ).fetchone()[0]
    rows = conn.execute("SELECT seq, ts, user, action, payload FROM audit_events"
                        " WHERE seq >= ? ORDER BY seq", (start,)).fetchall()
    for seq, ts, user, action, payload in rows:
        digest = audit.event_hash(seq, ts, user, action, payload, prev)
        conn.execute("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                     (prev, digest, seq))
        prev = digest
    conn.execute("UPDATE workspace_meta SET value = ? WHERE key = 'audit_head'",
                 (f"{rows[-1][0]}:{prev}",))


def test_chain_rewritten_whole_breaks_the_seals(ws_path: Path) -> None:
    """The chain itself is consistent again after the rewrite; the seals are not."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        triage.mark(ws, [fid], "dismissed", reason="justified", note="rota")
        seq = audit.head(ws.conn)[0]
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE audit_events SET payload = replace(payload, 'justified',"
                 " 'duplicate') WHERE seq = ?", (seq,))
    conn.execute("UPDATE findings SET reason = 'duplicate' WHERE finding_id = ?", (fid,))
    conn.execute("UPDATE decisions SET reason = 'duplicate' WHERE seq = ?", (seq,))
    _rehash(conn, seq)
    conn.close()
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
    assert report.chain is not None and report.chain.ok
    assert report.problems == [
        f"The seal of audit event {seq} (finding.mark by {INSPECTOR}) is not a valid "
        f"signature of {INSPECTOR}'s key: the command was altered or signed by someone else.",
        f"Finding {fid} is dismissed but its decisions in the audit trail leave it open.",
    ]


# -- every edit the review made, now detected ------------------------------------------------


def test_severity_lowered_lets_one_inspector_confirm_but_verify_names_both(
        ws_path: Path) -> None:
    """critical -> low in the findings row: the service then asks nobody for approval;
    the chain still says critical, so the confirmation broke four-eyes."""
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    fid = conn.execute("SELECT finding_id FROM findings WHERE rule_id = ? ORDER BY"
                       " finding_id", (CRITICAL,)).fetchone()[0]
    conn.execute("UPDATE findings SET severity = 'low' WHERE finding_id = ?", (fid,))
    conn.close()
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        result = triage.mark(ws, [fid], "confirmed", note="alone")
        seq = audit.head(ws.conn)[0]
    assert result.changed == [fid]  # the table said low: no approval was asked
    assert problems(ws_path) == [
        f"Audit event {seq} (finding.mark by {INSPECTOR}): finding {fid} is critical and "
        "four-eyes (critical) required a second reviewer, but it was confirmed without "
        "approval.",
        f"Finding {fid} is low, but detection recorded it as critical.",
        f"Finding {fid} is confirmed but its decisions in the audit trail leave it open.",
    ]


@pytest.mark.parametrize("tamper, expected", [
    ("DELETE FROM finding_records WHERE finding_id = '{fid}'",
     "Finding {fid} differs from what detection recorded (its rule, message, records or "
     "facts were edited)."),
    ("UPDATE findings SET message = 'Nothing to see here.' WHERE finding_id = '{fid}'",
     "Finding {fid} differs from what detection recorded (its rule, message, records or "
     "facts were edited)."),
    ("UPDATE findings SET facts = '{{}}' WHERE finding_id = '{fid}'",
     "Finding {fid} differs from what detection recorded (its rule, message, records or "
     "facts were edited)."),
    ("UPDATE findings SET matching = 0 WHERE finding_id = '{fid}'",
     "Finding {fid}'s runs (first, last, or whether it still matches) differ from what "
     "detection recorded."),
    ("UPDATE findings SET assignee = 'victor' WHERE finding_id = '{fid}'",
     "Finding {fid}'s decision (reason, assignee, who decided or approved, or what waits "
     "for approval) differs from the audit trail."),
])
def test_finding_row_edits(ws_path: Path, tamper: str, expected: str) -> None:
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    fid = conn.execute("SELECT finding_id FROM findings WHERE rule_id = ? ORDER BY"
                       " finding_id", (LOW,)).fetchone()[0]
    conn.execute(tamper.format(fid=fid))
    conn.close()
    assert problems(ws_path) == [expected.format(fid=fid)]


def test_deleted_finding(ws_path: Path) -> None:
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    fid = conn.execute("SELECT finding_id FROM findings WHERE rule_id = ?", (CRITICAL,)
                       ).fetchone()[0]
    conn.execute("DELETE FROM finding_records WHERE finding_id = ?", (fid,))
    conn.execute("DELETE FROM findings WHERE finding_id = ?", (fid,))
    conn.close()
    assert problems(ws_path) == [f"Finding {fid} is missing (the audit trail records it)."]


def test_finding_added_outside_detection(ws_path: Path) -> None:
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("INSERT INTO findings(finding_id, pack_id, rule_id, part, severity, message,"
                 " facts, legal_refs, record_ids, first_run, last_run)"
                 " VALUES ('PRO-03-feedfacefeedface', 'led-baseline', 'PRO-03', 'record',"
                 " 'low', 'planted', '{}', '[]', '[]', 1, 1)")
    conn.close()
    assert problems(ws_path) == ["Finding PRO-03-feedfacefeedface is not in the audit trail "
                                 "(no detection run recorded it)."]


def test_deleted_decision_and_edited_note(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        triage.mark(ws, [fid], "in_review")
        marked = audit.head(ws.conn)[0]
        note = triage.add_note(ws, fid, "first look")
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("DELETE FROM decisions WHERE seq = ?", (marked,))
    conn.execute("DROP TRIGGER finding_notes_append_only_update")
    conn.execute("UPDATE finding_notes SET ts = '2020-01-01T00:00:00+00:00'"
                 " WHERE note_id = ?", (note,))
    conn.close()
    assert problems(ws_path) == [
        f"Note {note} differs from what the audit trail recorded.",
        f"The decision recorded by audit event {marked} is missing from the findings' "
        "history.",
    ]


def test_decision_time_is_vouched_for(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        triage.mark(ws, [fid], "in_review")
        seq = audit.head(ws.conn)[0]
        ts = ws.conn.execute("SELECT ts FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0]
        row = ws.conn.execute("SELECT decided_at FROM findings WHERE finding_id = ?", (fid,)
                              ).fetchone()
        assert row[0] == ts  # the event carries the decision's time
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE decisions SET ts = '2020-01-01T00:00:00+00:00' WHERE seq = ?", (seq,))
    conn.close()
    assert problems(ws_path) == [
        f"The decision row of audit event {seq} differs from what the audit trail recorded."]


def test_four_eyes_turned_off_by_a_row_edit(ws_path: Path) -> None:
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE workspace_meta SET value = 'off' WHERE key = 'four_eyes'")
    conn.close()
    sentence = "The workspace setting four_eyes is 'off', but the audit trail set it to " \
               "'critical'."
    assert problems(ws_path) == [sentence]
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.divergence == sentence
        with pytest.raises(PermissionDenied, match="four_eyes is 'off'"):
            triage.mark(ws, ids(ws, CRITICAL)[:1], "confirmed", note="alone")


def test_four_eyes_changed_through_the_service_is_replayed(ws_path: Path) -> None:
    """The chain's policy decides: with four-eyes off (an admin's sealed event) one
    inspector's confirmation of a critical finding is valid."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        triage.set_four_eyes(ws, "off")
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert triage.mark(ws, ids(ws, CRITICAL)[:1], "confirmed", note="ok").changed
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        triage.set_four_eyes(ws, "high")
    assert problems(ws_path) == []


def test_edited_stored_criteria_pack(ws_path: Path) -> None:
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    sha = conn.execute("SELECT pack_sha256 FROM packs").fetchone()[0]
    conn.execute("UPDATE packs SET source = replace(source, 'severity: critical',"
                 " 'severity: low')")
    conn.close()
    assert problems(ws_path) == [f"Criteria pack led-baseline {default_pack().version} "
                                 f"(sha256 {sha[:16]}…) has been edited: its stored text no "
                                 "longer has that SHA-256."]


def test_pack_swapped_with_its_hash(ws_path: Path) -> None:
    """Editing a pack and re-keying it under its new SHA-256 leaves the chain's pack
    missing and a pack nobody stored."""
    import hashlib

    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("PRAGMA foreign_keys = OFF")
    sha, source = conn.execute("SELECT pack_sha256, source FROM packs").fetchone()
    edited = source.replace("severity: critical", "severity: low")
    new = hashlib.sha256(edited.encode()).hexdigest()
    conn.execute("UPDATE packs SET source = ?, pack_sha256 = ?", (edited, new))
    conn.execute("UPDATE runs SET pack_sha256 = ?", (new,))
    conn.close()
    found = problems(ws_path)
    assert f"Criteria pack led-baseline {default_pack().version} (sha256 {new[:16]}…) is " \
           "stored, but no event of the audit trail stores or runs it." in found
    assert f"Criteria pack {sha[:16]}…, stored or run according to the audit trail, is " \
           "missing." in found
    assert "Detection run 1 differs from what the audit trail recorded (pack, rules or " \
           "user)." in found


def test_detection_reruns_keep_the_chain_and_the_findings_in_step(ws_path: Path,
                                                                  tmp_path: Path) -> None:
    """New, unchanged, stale and matching-again findings across runs all re-derive."""
    from oversight.criteria.pack import parse_pack

    pack = default_pack()
    without = parse_pack(pack.source.replace("id: PRO-03", "id: PRO-03X"), "edited")
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        run_detection(ws, pack)  # unchanged: nothing in its payload
        payload = json.loads(ws.conn.execute(
            "SELECT payload FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()[0])
        assert payload["findings"] == {} and payload["no_longer_matching"] == []
        run_detection(ws, without)  # another pack id? same id: PRO-03 findings dropped
        run_detection(ws, pack, ["PRO-03"])  # matching again
        import_file(ws, write(tmp_path / "more.csv", OPS.replace("T-", "U-")), Kind.OPERATIONS)
        run_detection(ws, pack)
    assert problems(ws_path) == []


# -- opening ---------------------------------------------------------------------------------


def test_role_comes_from_the_chain_when_the_table_is_edited(ws_path: Path) -> None:
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE users SET role = 'viewer' WHERE name = ?", (INSPECTOR,))
    conn.close()
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.role is Role.INSPECTOR and ws.read_only


def test_reactivated_user_is_still_refused(ws_path: Path) -> None:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        slots = (ws_path / SLOTS_NAME).read_bytes()
        ws.remove_user(INSPECTOR)
    (ws_path / SLOTS_NAME).write_bytes(slots)  # an old copy of the slot file
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE users SET active = 1 WHERE name = ?", (INSPECTOR,))
    conn.close()
    with pytest.raises(AuthenticationError, match="has been removed"):
        Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW)


def test_password_change_rotates_the_signing_key(ws_path: Path) -> None:
    """Whoever set the old password (an admin) no longer holds the user's key."""
    old = SlotFile.load(ws_path / SLOTS_NAME).unlock_keys(INSPECTOR, INSPECTOR_PW)
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        ws.change_password("a new passphrase")
    new = SlotFile.load(ws_path / SLOTS_NAME).unlock_keys(INSPECTOR, "a new passphrase")
    assert old.signing_seed != new.signing_seed
    assert problems(ws_path) == []
    conn, _ = raw(ws_path, INSPECTOR, "a new passphrase")
    assert old.signing_seed is not None
    seq = forge(conn, INSPECTOR, old.signing_seed, "sample.draw", {"sample_id": 9})
    conn.close()
    assert problems(ws_path)[0].startswith(
        f"The seal of audit event {seq} (sample.draw by {INSPECTOR}) is not a valid "
        f"signature of {INSPECTOR}'s key")


def test_reset_password_gives_a_new_key(ws_path: Path) -> None:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.reset_password(INSPECTOR, "reset-passphrase")
        event = json.loads(ws.conn.execute(
            "SELECT payload FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()[0])
    keys = SlotFile.load(ws_path / SLOTS_NAME).unlock_keys(INSPECTOR, "reset-passphrase")
    assert keys.signing_seed is not None
    assert event == {"name": INSPECTOR,
                     "public_key": signer_from_seed(keys.signing_seed).public_key}
    with Workspace.open(ws_path, INSPECTOR, "reset-passphrase") as ws:
        assert not ws.read_only
        triage.mark(ws, ids(ws, LOW)[:1], "in_review")
    assert problems(ws_path) == []


def test_slot_restored_from_before_a_password_change_cannot_sign(ws_path: Path) -> None:
    slots = (ws_path / SLOTS_NAME).read_bytes()
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        ws.change_password("a new passphrase")
    (ws_path / SLOTS_NAME).write_bytes(slots)
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.read_only
        assert ws.divergence is not None and ws.divergence.startswith(
            f"The signing key in the key slot of {INSPECTOR} is not the one the audit trail "
            "gives them")


# -- settings --------------------------------------------------------------------------------


def test_auto_lock_is_a_workspace_setting_in_the_chain(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert auto_lock_minutes(ws) is None
        with pytest.raises(PermissionDenied, match="change workspace settings"):
            set_auto_lock_minutes(ws, 5)
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        with pytest.raises(UsageError, match="1 to 240 minutes"):
            set_auto_lock_minutes(ws, 0)
        set_auto_lock_minutes(ws, 5)
        set_auto_lock_minutes(ws, 3)
        assert auto_lock_minutes(ws) == 3
    assert problems(ws_path) == []
    code, out, _ = cli(["auto-lock", str(ws_path)], VIEWER, VIEWER_PW)
    assert code == 0 and "after 3 idle minutes" in out
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE workspace_meta SET value = '240' WHERE key = 'auto_lock_minutes'")
    conn.close()
    assert problems(ws_path) == ["The workspace setting auto_lock_minutes is '240', but the "
                                 "audit trail set it to '3'."]


# -- external anchors ------------------------------------------------------------------------


def test_verify_against_a_report_of_another_workspace(ws_path: Path) -> None:
    report = Path(__file__).parent / "data" / "workspaces" / "schema-5" / "reports" / \
        "demo-report.pdf"
    code, out, _ = cli(["verify", str(ws_path), "--against", str(report), "--json"],
                       ADMIN, ADMIN_PW)
    doc = json.loads(out)
    assert code == 1
    assert doc["against"][0]["problems"][0].startswith(
        "The report demo-report.pdf is of another workspace (49c53f1c54f74a9ebf5914c05d0c19e9)")


def test_many_rows_differing_are_named_five_then_counted(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        run_detection(ws, default_pack())
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    fids = [r[0] for r in conn.execute("SELECT finding_id FROM findings ORDER BY finding_id")]
    conn.execute("UPDATE findings SET message = message || '.'")
    conn.close()
    found = problems(ws_path)
    assert len(fids) > 5
    assert found == [f"Finding {fid} differs from what detection recorded (its rule, message, "
                     "records or facts were edited)." for fid in fids[:5]] + [
        f"… and {len(fids) - 5} more findings that differ from the audit trail."]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # storable: no surrogates


@given(st.integers(min_value=0, max_value=2**62), _TEXT, _TEXT, _TEXT, _TEXT, _TEXT)
def test_event_hash_is_the_documented_json_array(seq: int, ts: str, user: str, action: str,
                                                 payload: str, prev: str) -> None:
    """The hand-written encoding hashes the same bytes as json.dumps of the array."""
    import hashlib

    material = json.dumps([seq, ts, user, action, payload, prev], separators=(",", ":"),
                          ensure_ascii=False)
    expected = hashlib.sha256(material.encode("utf-8")).hexdigest()
    assert audit.event_hash(seq, ts, user, action, payload, prev) == expected


def test_a_command_that_cannot_be_sealed_writes_nothing(ws_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The seal is written in the same transaction as the change it vouches for."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        before = audit.head(ws.conn)

        def broken(*args: object) -> None:
            raise KeyboardInterrupt  # as if the process stopped while sealing

        monkeypatch.setattr(chainstate, "seal_command", broken)
        with pytest.raises(KeyboardInterrupt):
            triage.mark(ws, [fid], "in_review")
        assert audit.head(ws.conn) == before
        assert ws.conn.execute("SELECT status FROM findings WHERE finding_id = ?", (fid,)
                               ).fetchone()[0] == "open"
        assert ws.conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0


def test_a_slot_file_that_cannot_be_written_undoes_the_user_change(
        ws_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from db import keyslots

    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        before = audit.head(ws.conn)

        def full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(keyslots, "write_atomic", full)
        with pytest.raises(Exception, match="could not be written: No space left"):
            ws.add_user("mallory", Role.AUDITOR, "mallory-password")
        assert audit.head(ws.conn) == before
        assert ws.conn.execute("SELECT count(*) FROM seals WHERE seq > ?", (before[0],)
                               ).fetchone()[0] == 0
        assert "mallory" not in [u.name for u in ws.users()]
        monkeypatch.undo()
        ws.add_user("nadia", Role.AUDITOR, "nadia-password")  # no stale slot goes with it
    assert not SlotFile.load(ws_path / SLOTS_NAME).has_user("mallory")
    assert problems(ws_path) == []


# -- actions added beside signing: return, retraction, the escalation setting ---------------


def test_a_return_is_replayed_and_its_rows_checked(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, CRITICAL)[0]
        triage.mark(ws, [fid], "confirmed", note="transfer without a basis")
    with Workspace.open(ws_path, AUDITOR, AUDITOR_PW) as ws:
        triage.return_decision(ws, [fid], "ask the force for the adequacy file first")
        assert verify_workspace(ws.conn).ok
    # The returned finding quietly set back to pending (as if never returned): named.
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE findings SET status = 'pending_approval', pending_status ="
                 " 'confirmed', pending_by = ? WHERE finding_id = ?", (INSPECTOR, fid))
    conn.close()
    assert f"Finding {fid} is pending_approval but its decisions in the audit trail leave " \
           "it in_review." in problems(ws_path)


def test_a_return_decision_row_edited_is_named(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, CRITICAL)[0]
        triage.mark(ws, [fid], "confirmed", note="transfer without a basis")
    with Workspace.open(ws_path, AUDITOR, AUDITOR_PW) as ws:
        triage.return_decision(ws, [fid], "not proven")
        seq = audit.head(ws.conn)[0]
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE decisions SET detail = json_set(detail, '$.proposed_by', 'victor')"
                 " WHERE seq = ?", (seq,))
    conn.close()
    assert f"The decision row of audit event {seq} differs from what the audit trail " \
           "recorded." in problems(ws_path)


def test_a_return_forged_by_an_inspector_is_refused(ws_path: Path) -> None:
    """Only a second reviewer (approve permission) may return; an inspector signing a
    return with their own key is named and its effect not accepted."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, CRITICAL)[0]
        triage.mark(ws, [fid], "confirmed", note="sure")
    conn, seed = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    assert seed is not None
    conn.execute("UPDATE findings SET status = 'in_review', pending_status = NULL,"
                 " pending_by = NULL WHERE finding_id = ?", (fid,))
    seq = forge(conn, INSPECTOR, seed, "finding.return", {
        "finding_id": fid, "from": "pending_approval", "to": "in_review",
        "returned": {"status": "confirmed", "reason": None}, "proposed_by": INSPECTOR,
        "note_id": None, "note": "x"})
    conn.close()
    found = problems(ws_path)
    assert found[0] == (f"Audit event {seq} (finding.return by {INSPECTOR}): {INSPECTOR} "
                        "then had the inspector role, which may not do that.")


def test_retraction_is_replayed_and_who_may_retract_checked(ws_path: Path) -> None:
    from oversight.retraction import retract_batch

    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        retract_batch(ws, 1, "sent to us by mistake")
        assert verify_workspace(ws.conn).ok
        labelled = ws.conn.execute("SELECT finding_id FROM findings WHERE matching = 0"
                                   " ORDER BY finding_id").fetchall()
    assert labelled  # the batch's findings stopped matching ...
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE findings SET matching = 1, stale_reason = NULL WHERE finding_id = ?",
                 (labelled[0][0],))  # ... and one quietly made to match again is named
    conn.close()
    assert f"Finding {labelled[0][0]}'s runs (first, last, or whether it still matches) " \
           "differ from what detection recorded." in problems(ws_path)


def test_a_retraction_forged_by_a_viewer_is_refused(ws_path: Path) -> None:
    conn, seed = raw(ws_path, VIEWER, VIEWER_PW)
    assert seed is not None
    sha = conn.execute("SELECT sha256 FROM batches WHERE batch_id = 1").fetchone()[0]
    seq = forge(conn, VIEWER, seed, "batch.retract", {
        "batch_id": 1, "sha256": sha, "reason": "I do not like it", "findings_labelled": [],
        "retracted_at": "2026-11-30T00:00:00+00:00"})
    conn.close()
    assert problems(ws_path)[0] == (
        f"Audit event {seq} (batch.retract by {VIEWER}): only an admin or the user who "
        f"imported batch 1 may retract it, and {VIEWER} then had the viewer role.")


def test_the_escalation_recipient_is_checked_against_the_chain(ws_path: Path) -> None:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        triage.set_escalation_to(ws, "Data Protection Officer")
        assert verify_workspace(ws.conn).ok
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE workspace_meta SET value = 'nobody' WHERE key = 'escalation_to'")
    conn.close()
    assert "The workspace setting escalation_to is 'nobody', but the audit trail set it to " \
           "'Data Protection Officer'." in problems(ws_path)


def test_an_import_warning_removed_from_its_batch_is_named(ws_path: Path,
                                                           tmp_path: Path) -> None:
    """What an import could not vouch for (here: rows without a time) is bound to the
    chain: deleting the warning from the batch row, to make the data look clean, is named."""
    rows = "record_id,ts,action,actor_id\nU-1,,consult,o1\nU-2,2026-03-01T10:00:00+01:00," \
           "consult,o1\n"
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        res = import_file(ws, write(tmp_path / "untimed.csv", rows), Kind.OPERATIONS)
        assert [w.code for w in res.warnings] == ["no_timestamp"]
        assert verify_workspace(ws.conn).ok
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE batches SET warnings = '[]' WHERE batch_id = ?", (res.batch_id,))
    conn.close()
    assert f"Batch {res.batch_id}: its data-quality warnings or missing markers differ from " \
           "what its import recorded." in problems(ws_path)


def test_the_workspace_timezone_is_checked_against_the_chain(ws_path: Path) -> None:
    from oversight.periods import set_timezone

    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        set_timezone(ws, "Europe/Berlin")
        assert verify_workspace(ws.conn).ok
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE workspace_meta SET value = 'UTC' WHERE key = 'timezone'")
    conn.close()
    assert "The workspace setting timezone is 'UTC', but the audit trail set it to " \
           "'Europe/Berlin'." in problems(ws_path)


# -- names and words outside ASCII ----------------------------------------------------------

JOSE, JOSE_PW = "José Müller", "jose-password"
AISHA, AISHA_PW = "عائشة", "aisha-password"


def _session_in_other_scripts(ws_path: Path) -> tuple[str, str]:
    """Every decision that writes a detail, by users whose names are not ASCII."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user(JOSE, Role.INSPECTOR, JOSE_PW)
        ws.add_user(AISHA, Role.AUDITOR, AISHA_PW)
    with Workspace.open(ws_path, JOSE, JOSE_PW) as ws:
        first, second = ids(ws, CRITICAL)[:2]
        triage.assign(ws, [first, second], AISHA)
        triage.assign(ws, [second], JOSE)
        triage.mark(ws, [first, second], "confirmed", note="Übermittlung ohne Grundlage")
    with Workspace.open(ws_path, AISHA, AISHA_PW) as ws:
        triage.return_decision(ws, [first], "يرجى إرفاق ملف الكفاية")
        triage.approve(ws, [second], note="موافق")
    with Workspace.open(ws_path, JOSE, JOSE_PW) as ws:
        note = triage.add_note(ws, first, "Nachweis angefordert — 😀")
        triage.add_note(ws, first, "Nachweis liegt vor", refers_to=note)
        triage.mark(ws, [first], "dismissed", reason="justified", note="geklärt")
    return first, second


def test_users_named_outside_ascii_leave_a_workspace_that_verifies(ws_path: Path) -> None:
    """Assignments, approvals and returns copy user names into each decision row's
    detail; a name such as "José Müller" or "عائشة" once made verify call those rows
    edited (the detail was written with ASCII escapes, SQLite's json() keeps them)."""
    _session_in_other_scripts(ws_path)
    assert problems(ws_path) == []


def test_details_written_with_ascii_escapes_verify_and_edits_to_them_are_named(
        ws_path: Path) -> None:
    """Rows written before 1 December 2026 hold their detail as json.dumps wrote it by
    default (ASCII escapes, keys in the writer's order): still what the chain says. A
    name changed inside such a detail is still named."""
    _session_in_other_scripts(ws_path)
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    rows = conn.execute("SELECT decision_id, seq, detail FROM decisions"
                        " WHERE detail IS NOT NULL").fetchall()
    escaped = {did: json.dumps(json.loads(detail)) for did, _seq, detail in rows}
    assert any("\\u" in text for text in escaped.values())
    for did, text in escaped.items():
        conn.execute("UPDATE decisions SET detail = ? WHERE decision_id = ?", (text, did))
    conn.close()
    assert problems(ws_path) == []
    did, seq, _detail = next(r for r in rows if JOSE in r[2] and "proposed_by" not in r[2])
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute("UPDATE decisions SET detail = ? WHERE decision_id = ?",
                 (escaped[did].replace("Jos\\u00e9", "Jos\\u00e8"), did))
    conn.close()
    assert problems(ws_path) == [f"The decision row of audit event {seq} differs from what "
                                 "the audit trail recorded."]


# -- payloads no program wrote --------------------------------------------------------------


@pytest.mark.parametrize(("user", "password", "action"), [
    (INSPECTOR, INSPECTOR_PW, "finding.note"), (ADMIN, ADMIN_PW, "user.add"),
    (ADMIN, ADMIN_PW, "batch.retract")])
def test_a_payload_nested_past_pythons_stack_is_named_not_a_crash(
        ws_path: Path, user: str, password: str, action: str) -> None:
    """A user with SQLCipher tools appends an event whose payload nests 100,000 arrays
    deep (hash recomputed, sealed with their own key). Reading it once raised
    RecursionError out of verify, and, for an event about users, out of every sign-in:
    now the event is one that says nothing, named as such."""
    conn, seed = raw(ws_path, user, password)
    assert seed is not None
    wsid = conn.execute("SELECT value FROM workspace_meta WHERE key = 'workspace_id'"
                        ).fetchone()[0]
    start, prev = audit.head(conn)
    seq, ts = start + 1, "2026-12-01T00:00:00.000000+00:00"
    body = '{"finding_id":' + "[" * 100_000 + "]" * 100_000 + "}"
    digest = audit.event_hash(seq, ts, user, action, body, prev)
    conn.execute("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (seq, ts, user, action, body, prev, digest))
    conn.execute("UPDATE workspace_meta SET value = ? WHERE key = 'audit_head'",
                 (f"{seq}:{digest}",))
    chainstate.seal_command(conn, wsid, user, signer_from_seed(seed), start)
    conn.close()
    named = f"Audit event {seq} ({action} by {user}): "
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        # an event about users that says nothing stops every write until resolved
        reason = ws.read_only_reason
        assert (reason is None) if action != "user.add" else reason.startswith(named)
    assert [line for line in problems(ws_path) if line.startswith(named)]


@pytest.mark.parametrize("value", [None, b"\x00victor"])
def test_a_user_name_edited_to_null_or_a_blob(ws_path: Path, value: object) -> None:
    """The users table's name column edited to NULL or a BLOB once raised TypeError out
    of every sign-in (names of two types could not be sorted)."""
    conn, _ = raw(ws_path, VIEWER, VIEWER_PW)
    conn.execute("UPDATE users SET name = ? WHERE name = ?", (value, VIEWER))
    conn.close()
    missing = (f"User {VIEWER} is missing from the users table (the audit trail adds "
               "them).")
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.read_only_reason is not None
        assert ws.read_only_reason.startswith(missing)
    assert problems(ws_path)[:2] == [
        missing, f"User {value} is in the users table, but no event of the audit trail "
                 "adds them."]


_DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(("sql", "value", "named"), [
    ("UPDATE findings SET facts = ? WHERE finding_id = :fid", _DEEP, "Finding {fid} differs"),
    ("UPDATE findings SET facts = ? WHERE finding_id = :fid", "{", "Finding {fid} differs"),
    ("UPDATE findings SET legal_refs = ? WHERE finding_id = :fid", b"\x00",
     "Finding {fid} differs"),
    ("UPDATE findings SET record_ids = ? WHERE finding_id = :fid", "{}",
     "Finding {fid} differs"),
    ("UPDATE findings SET message = ? WHERE finding_id = :fid", b"\xff",
     "Finding {fid} differs"),
    ("UPDATE findings SET finding_id = ? WHERE finding_id = :fid", None,
     "Finding {fid} is missing"),
    ("UPDATE packs SET source = ?", b"\x00", "has been edited"),
    ("UPDATE packs SET pack_sha256 = ?", None, "Criteria pack"),
    ("UPDATE decisions SET seq = ? WHERE decision_id = (SELECT max(decision_id)"
     " FROM decisions)", "{}", "A decision row names audit event {{}}"),
    ("UPDATE runs SET rules = ?", _DEEP, "Detection run 1 differs"),
    ("UPDATE runs SET summary = ?", "{", "Detection run 1"),
    ("UPDATE batches SET warnings = ?", _DEEP, "data-quality warnings"),
    ("UPDATE batches SET warnings = ?", b"\xff", "data-quality warnings"),
    ("UPDATE batches SET missing_markers = ?", "[", "missing markers"),
])
def test_cells_a_user_fills_with_what_no_program_wrote(ws_path: Path, sql: str,
                                                       value: object, named: str) -> None:
    """A user with SQLCipher tools writes into a column a value of another type, JSON
    nested past Python's stack, or text that is not JSON. Each once raised an exception
    out of verify or out of listing and showing findings (found by trying every column
    of a demo workspace so); now verify names the row and the workstation shows the
    value as unreadable."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        fid = ids(ws, LOW)[0]
        triage.mark(ws, [fid], "in_review", note="looking")
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute(sql.replace(":fid", "?"), (value, fid) if ":fid" in sql else (value,))
    conn.close()
    assert [line for line in problems(ws_path) if named.format(fid=fid) in line]
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        for batch in queries.batches(ws, include_retracted=True):
            describe_warnings(batch["warnings"])
        log_quality.overview(ws)
        try:
            indicators.report_indicators(ws)
        except OversightError as exc:  # a sentence (the stored pack cannot be read)
            assert "criteria pack" in str(exc)
        shown = list_findings(ws, FindingFilters())
        for f in shown:
            if f["id"] is None:  # the edited id: refused with a sentence
                with pytest.raises(UsageError):
                    triage.finding_detail(ws, f["id"])
            else:
                triage.finding_detail(ws, f["id"])
    if "SET finding_id" not in sql and "UPDATE findings" in sql:
        row = next(f for f in shown if f["id"] == fid)
        column = sql.split()[3]
        if column in ("facts", "legal_refs", "record_ids"):
            assert "unreadable" in json.dumps(row[column])


@pytest.mark.parametrize("edit", [
    "json_set(summary, '$.rules[0].hits', 0, '$.hits', 0)",
    "json_set(summary, '$.rules[0].evaluated', json('false'), '$.rules[0].reason', 'x')",
    "json_remove(summary, '$.rules[0]')",
])
def test_a_runs_summary_edited_is_named(ws_path: Path, edit: str) -> None:
    """What a run found per rule (hits, whether evaluated and why not) is shown in the
    runs list, the report's scope and the indicators' coverage; it was not checked, so
    a user could rewrite it unseen."""
    assert problems(ws_path) == []
    conn, _ = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    conn.execute(f"UPDATE runs SET summary = {edit}")
    conn.close()
    assert problems(ws_path) == [
        "Detection run 1's summary (which rules were evaluated, why not, and their hits) "
        "differs from what the audit trail recorded."]


def test_a_user_name_typed_with_combining_accents_names_the_same_user(
        ws_path: Path) -> None:
    """Sign-in and `user add` take "José" typed as an e and a combining accent (NFD, as
    text pasted from a macOS file name is) as the same user; `assign --to` refused him
    ("no active user named 'José Müller'", the very name) and `history --user` listed
    none of his events, as if he had done nothing."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user(JOSE, Role.INSPECTOR, JOSE_PW)
        fid = ids(ws, CRITICAL)[0]
    typed = unicodedata.normalize("NFD", JOSE)
    assert typed != JOSE
    code, out, err = cli(["assign", str(ws_path), fid, "--to", typed], typed, JOSE_PW)
    assert code == 0, err
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        (finding,) = [f for f in list_findings(ws) if f["id"] == fid]
    assert finding["assignee"] == JOSE
    code, out, err = cli(["history", str(ws_path), "--user", typed, "--json"], ADMIN,
                         ADMIN_PW)
    assert code == 0, err
    events = json.loads(out)
    assert [(e["user"], e["action"]) for e in events] == [(JOSE, "finding.assign")]
    assert events[0]["payload"]["to"] == JOSE
    assert problems(ws_path) == []



def test_a_user_name_that_differs_from_another_only_by_case_or_width_is_refused(
        ws_path: Path) -> None:
    """Reports, exports and the audit trail name who decided and who approved: two
    accounts "José Müller" and "josé müller" (or "ines" and the full-width "ｉｎｅｓ")
    read there as one person, so a four-eyes approval could look like a second reviewer's
    or like the first one's own. Such a name is refused, also after the other user was
    removed (the trail still names them); the same name may be added again."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user(JOSE, Role.INSPECTOR, JOSE_PW)
    for twin, other in (("josé müller", JOSE), ("JOSÉ MÜLLER", JOSE), ("Ines", INSPECTOR),
                        ("ｉｎｅｓ", INSPECTOR)):
        code, _, err = cli(["user", "add", str(ws_path), twin, "--role", "auditor"], ADMIN,
                           ADMIN_PW)
        assert code == 2, (twin, err)
        assert err.strip() == (f"error: The user name {twin!r} differs from the existing "
                               f"user {other!r} only by capitals or character width; choose "
                               "a name that reads differently.")
    code, _, err = cli(["user", "remove", str(ws_path), JOSE], ADMIN, ADMIN_PW)
    assert code == 0, err
    code, _, err = cli(["user", "add", str(ws_path), "josé müller", "--role", "auditor"],
                       ADMIN, ADMIN_PW)
    assert code == 2 and "only by capitals" in err
    code, _, err = cli(["user", "add", str(ws_path), JOSE, "--role", "auditor"], ADMIN,
                       ADMIN_PW)
    assert code == 0, err
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        names = [u.name for u in ws.users()]
    assert names.count(JOSE) == 1 and "josé müller" not in names and "Ines" not in names
    assert problems(ws_path) == []


def test_a_run_forged_with_hits_that_are_not_numbers_is_named_not_a_crash(
        ws_path: Path) -> None:
    """An inspector re-records run 1 with their own key, its first rule's hits "many",
    and writes the same into the stored summary: the summary's totals cannot be that
    run's sums (verify once raised ValueError adding them up)."""
    conn, seed = raw(ws_path, INSPECTOR, INSPECTOR_PW)
    assert seed is not None
    (text,) = conn.execute("SELECT payload FROM audit_events WHERE action = 'detection.run'"
                           ).fetchone()
    payload = json.loads(text)
    payload["rules"][0]["hits"] = "many"
    forge(conn, INSPECTOR, seed, "detection.run", payload)
    conn.execute("UPDATE runs SET summary = json_set(summary, '$.rules[0].hits', 'many')")
    conn.close()
    assert "Detection run 1's summary (which rules were evaluated, why not, and their hits) " \
           "differs from what the audit trail recorded." in problems(ws_path)
