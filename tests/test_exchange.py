"""Review packages between two bodies: a round trip that arrives byte-exact, replies,
pseudonyms, openssl, and every bad input refused with a sentence and nothing written."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import io
import json
import subprocess
import unicodedata
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
import tools
from click.testing import CliRunner, Result
from exchange_support import (
    A_ADMIN,
    A_AUDITOR,
    A_INSPECTOR,
    ACTORS,
    B_ADMIN,
    B_AUDITOR,
    B_INSPECTOR,
    B_VIEWER,
    PASS,
    POLICE_PACK,
    PW,
    SUBJECTS,
    Pair,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_triage import NASTY

from db.keyslots import SlotFile
from db.store import IntegrityError
from oversight import triage
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import load_pack
from oversight.errors import AlreadyImported, OversightError, PermissionDenied, UsageError
from oversight.exchange import container, keys, payload, pseudonyms, store
from oversight.exchange.export import ExportResult, Recipient, export_package, reply_package
from oversight.exchange.receive import ImportSummary, import_package
from oversight.findings import FindingFilters, list_findings
from oversight.integrity import verify_workspace
from oversight.records import Kind, storage_columns
from oversight.report.data import collect
from oversight.retraction import retract_batch
from oversight.workspace import DB_NAME, SLOTS_NAME, Workspace

pytest_plugins = ["exchange_fixtures"]

_FINDING = ("rule_id", "part", "group_key", "severity", "message", "facts", "legal_refs",
            "record_ids", "first_ts_utc")
_DECISION = ("status", "reason", "assignee", "decided_by", "decided_at", "approved_by",
             "pending_status", "pending_reason", "pending_by")
TABLES = ("batches", "operations", "authorisations", "cases", "findings", "finding_records",
          "finding_notes", "decisions", "received_packages", "received_sources",
          "received_findings", "received_notes", "received_decisions", "received_packs",
          "pseudonyms", "audit_events", "seals", "workspace_meta")


# -- helpers --------------------------------------------------------------------------------


@functools.cache
def identity(path: Path) -> keys.Identity:
    """A key file of the session's keys, opened once (each opening derives its key with
    600,000 PBKDF2 rounds; the key files do not change during the run)."""
    return keys.load_identity(path, PASS.encode())


def to(*pems: Path) -> list[Recipient]:
    return [Recipient(c, str(p)) for p in pems for c in keys.load_certificates(p)]


def send(pair: Pair, out: Path | None = None, **kwargs: Any) -> ExportResult:
    """A's auditor sends every finding of A (or what ``kwargs`` choose) to B."""
    out = out or pair.tmp / "review.ovp"
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        if "finding_ids" not in kwargs and "rule" not in kwargs:
            kwargs["finding_ids"] = [f["id"] for f in list_findings(ws)]
        kwargs.setdefault("body", "Inspectorate A")
        return export_package(ws, out, identity(pair.keys.sender), to(pair.keys.receiver_pem),
                              **kwargs)


def receive(pair: Pair, path: Path, user: str = B_INSPECTOR, **kwargs: Any) -> ImportSummary:
    kwargs.setdefault("trust", [pair.keys.sender_ca])
    with Workspace.open(pair.b, user, PW) as ws:
        return import_package(ws, path, identity(pair.keys.receiver), **kwargs)


def rows(ws: Workspace, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in ws.conn.execute(sql, params)]


def snapshot(folder: Path, user: str) -> dict[str, Any]:
    """Every table an import touches, as it stands (to show nothing was written)."""
    with Workspace.open(folder, user, PW, read_only=True) as ws:
        return {t: rows(ws, f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}


def problems(folder: Path, user: str) -> list[str]:
    with Workspace.open(folder, user, PW, read_only=True) as ws:
        return verify_workspace(ws.conn).problems


def cli(args: list[str], user: str, passphrase: str = PASS) -> Result:
    return CliRunner().invoke(main, args, env={
        "OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": PW, "OVERSIGHT_P12_PASSWORD": passphrase},
        catch_exceptions=False)


def one_sentence(res: Result) -> str:
    """The error a refused command printed: exactly one line, exit 2."""
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def opened_payload(pair: Pair, data: bytes) -> bytes:
    """The decrypted payload of a package for B (the program's own decryption)."""
    env = entries(data)
    meta = json.loads(env["metadata.json"])
    return container.decrypt(env["payload.p7m"], identity(pair.keys.receiver),
                             meta["recipients"], "test")


def rebuilt(pair: Pair, data: bytes, signer: Path | None = None, kind: str = "package",
            edit_package: Any = None) -> bytes:
    """The package re-made: payload edited (package.json through ``edit_package``),
    encrypted for B again and signed by ``signer`` (default: A's key)."""
    plain = opened_payload(pair, data)
    inner = container.read_zip(plain, payload.ENTRIES[kind], "test")
    if edit_package is not None:
        doc = json.loads(inner["package.json"])
        edit_package(doc)
        inner["package.json"] = json.dumps(doc).encode()
    p7m = container.encrypt(container.write_zip(list(inner.items())),
                            keys.load_certificates(pair.keys.receiver_pem))
    meta = json.loads(entries(data)["metadata.json"])
    return container.write_container(meta, p7m, identity(signer or pair.keys.sender))


# -- the round trip -------------------------------------------------------------------------


def test_round_trip_arrives_byte_exact_and_a_reply_comes_back(pair: Pair) -> None:
    sent = send(pair, note="For the joint review — SUBJ data inside.")
    assert sent.findings >= 20 and sent.register_entries == 2 and sent.sources == 4
    assert problems(pair.a, A_ADMIN) == []
    got = receive(pair, sent.path)
    assert got.kind == "package" and got.label == "R1" and got.trusted
    assert got.sender == f"Inspectorate A/{A_AUDITOR}"
    with Workspace.open(pair.a, A_ADMIN, PW) as a, Workspace.open(pair.b, B_ADMIN, PW) as b:
        ids = [f["id"] for f in list_findings(a)]
        assert sorted(got.findings) == sorted(f"{i}@R1" for i in ids)
        for fid in ids:
            local = f"{fid}@R1"
            cols = ", ".join(_FINDING)
            (mine,) = rows(a, f"SELECT {cols}, pack_id FROM findings WHERE finding_id = ?", fid)
            (theirs,) = rows(b, f"SELECT {cols}, pack_id, status, first_run, last_run,"
                                " matching FROM findings WHERE finding_id = ?", local)
            assert theirs[:len(_FINDING)] == mine[:len(_FINDING)]  # byte-exact
            assert theirs[len(_FINDING):] == (f"{mine[-1]}@R1", "open", None, None, 1)
            # The sender's decision, notes and history, as the sender's, read-only.
            dcols = ", ".join(_DECISION)
            assert rows(b, f"SELECT {dcols}, matching, stale_reason FROM received_findings"
                           " WHERE finding_id = ?", local) == rows(
                a, f"SELECT {dcols}, matching, stale_reason FROM findings WHERE finding_id = ?",
                fid)
            assert rows(b, "SELECT note_id, user, ts, text, refers_to FROM received_notes"
                           " WHERE finding_id = ? ORDER BY note_id", local) == rows(
                a, "SELECT note_id, user, ts, text, refers_to FROM finding_notes WHERE"
                   " finding_id = ? ORDER BY note_id", fid)
            assert rows(b, "SELECT seq, ts, user, action, from_status, to_status, reason,"
                           " note_id, detail FROM received_decisions WHERE finding_id = ?"
                           " ORDER BY position", local) == rows(
                a, "SELECT seq, ts, user, action, from_status, to_status, reason, note_id,"
                   " detail FROM decisions WHERE finding_id = ? ORDER BY decision_id", fid)
            # Every stored column of every record it rests on.
            ops = ", ".join(["line", "record_id", *storage_columns(Kind.OPERATIONS)])
            link = (f"SELECT {ops} FROM operations o JOIN finding_records r ON r.rid = o.rid"
                    " WHERE r.finding_id = ? ORDER BY o.line")
            assert rows(b, link, local) == rows(a, link, fid)
        # The nasty note arrived as written (markup, emoji, RTL, CR LF).
        assert rows(b, "SELECT count(*) FROM received_notes WHERE text = ?", NASTY) == [(1,)]
        # The register entries consulted, every column.
        for kind, key in ((Kind.AUTHORISATIONS, "W-1"), (Kind.CASES, "C-77")):
            cols = ", ".join(["line", "record_id", *storage_columns(kind)])
            assert rows(b, f"SELECT {cols} FROM {kind.value}") == rows(
                a, f"SELECT {cols} FROM {kind.value} WHERE record_id = ?", key)
        # Each source batch's provenance, field by field.
        for (provenance,) in rows(b, "SELECT provenance FROM received_sources"):
            doc = json.loads(provenance)
            (row,) = rows(a, "SELECT file_name, file_size, sha256, format, profile_sha256,"
                             " columns, rows_read, rows_imported, rows_rejected, rows_digest,"
                             " imported_by, imported_at, warnings, missing_markers, kind"
                             " FROM batches WHERE batch_id = ?", doc["batch_id"])
            assert (doc["file"], doc["size"], doc["sha256"], doc["format"],
                    doc["profile_sha256"], json.dumps(doc["columns"]), doc["rows_read"],
                    doc["rows_imported"], doc["rows_rejected"], doc["rows_digest"],
                    doc["imported_by"], doc["imported_at"], doc["warnings"],
                    doc["missing_markers"], doc["kind"]) == (
                *row[:5], row[5], *row[6:12], json.loads(row[12]), json.loads(row[13]),
                row[14])
        # The detail names the origin and shows the rule from the sender's pack.
        pro = next(f"{i}@R1" for i in ids if i.startswith("PRO-01"))
        detail = triage.finding_detail(b, pro)
        assert detail["rule"]["title"] == "One person looked up again and again"
        (origin,) = detail["origin"]
        assert origin["attribution"] == f"sender: Inspectorate A/{A_AUDITOR}"
        assert origin["status"] == "in_review" and origin["notes"][0]["text"] == NASTY
        aut = next(f"{i}@R1" for i in ids if i.startswith("AUT-04"))
        assert [r["record_id"] for r in triage.finding_detail(b, aut)["registers"][
            "authorisations"]] == ["W-1"]
    assert problems(pair.b, B_ADMIN) == []

    # B triages with its own statuses and notes, then answers.
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws:
        triage.mark(ws, [pro], "confirmed", note="Confirmed here too. " + NASTY)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        triage.add_note(ws, aut, "Asked the force for W-2.")
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        before = {t: rows(ws, f"SELECT * FROM {t} ORDER BY 1")
                  for t in ("findings", "finding_notes", "decisions")}
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws:
        answer = reply_package(ws, sent.path, pair.tmp / "reply.ovp",
                               identity(pair.keys.receiver), body="Authority B")
    assert answer.findings == len(got.findings)
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        back = import_package(ws, answer.path, identity(pair.keys.sender),
                              [pair.keys.receiver_ca])
    assert back.kind == "reply" and back.sender == f"Authority B/{B_AUDITOR}"
    with Workspace.open(pair.a, A_ADMIN, PW) as a, Workspace.open(pair.b, B_ADMIN, PW) as b:
        # A's own findings, notes and history are as they were: nothing overwritten.
        assert {t: rows(a, f"SELECT * FROM {t} ORDER BY 1") for t in before} == before
        for local in (pro, aut):
            fid = local.removesuffix("@R1")
            (reply,) = [o for o in triage.finding_detail(a, fid)["origin"]]
            assert reply["attribution"] == f"reply from: Authority B/{B_AUDITOR}"
            assert tuple(reply[k] for k in _DECISION) == rows(
                b, f"SELECT {', '.join(_DECISION)} FROM findings WHERE finding_id = ?",
                local)[0]
            assert [(n["note_id"], n["user"], n["ts"], n["text"], n["refers_to"])
                    for n in reply["notes"]] == rows(
                b, "SELECT note_id, user, ts, text, refers_to FROM finding_notes WHERE"
                   " finding_id = ? ORDER BY note_id", local)
            assert rows(a, "SELECT seq, ts, user, action, from_status, to_status, reason,"
                           " note_id, detail FROM received_decisions WHERE finding_id = ?"
                           " ORDER BY position", fid) == rows(
                b, "SELECT seq, ts, user, action, from_status, to_status, reason, note_id,"
                   " detail FROM decisions WHERE finding_id = ? ORDER BY decision_id", local)
        assert triage.finding_detail(a, pro.removesuffix("@R1"))["origin"][0]["status"] == \
            "confirmed"
    assert problems(pair.a, A_ADMIN) == []
    assert problems(pair.b, B_ADMIN) == []


def test_the_receivers_detection_never_touches_received_findings(pair: Pair) -> None:
    got = receive(pair, send(pair).path)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        received = {f: rows(ws, "SELECT * FROM findings WHERE finding_id = ?", f)[0]
                    for f in got.findings}
        # The same pack, over the received records: findings of B's own, beside them.
        run_detection(ws, load_pack(POLICE_PACK))
        run_detection(ws, load_pack(POLICE_PACK), ["OBJ-01"])
        for fid, row in received.items():
            assert rows(ws, "SELECT * FROM findings WHERE finding_id = ?", fid)[0] == row
        own = [f for f in list_findings(ws) if not f["id"].endswith("@R1")]
        assert own and all(f["pack"] == "police-uk-stop-and-search" for f in own)
        assert all(f["last_run"] is not None for f in own)
    assert problems(pair.b, B_ADMIN) == []


def test_the_audit_chains_record_export_and_import_with_the_package_sha256(
        pair: Pair) -> None:
    sent = send(pair, rule="TRF-01")
    file_sha = hashlib.sha256(sent.path.read_bytes()).hexdigest()
    got = receive(pair, sent.path)
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        (out,) = [e for e in triage.history(ws) if e["action"] == "package.export"]
        (fid,) = [f["id"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))]
    assert out["user"] == A_AUDITOR
    assert out["payload"]["sha256"] == file_sha == sent.sha256
    assert out["payload"]["package_id"] == sent.package_id
    assert out["payload"]["findings"] == [fid]
    with Workspace.open(pair.b, B_ADMIN, PW) as ws:
        (into,) = [e for e in triage.history(ws) if e["action"] == "package.import"]
    assert into["user"] == B_INSPECTOR
    assert into["payload"]["sha256"] == file_sha and into["payload"]["package_id"] == \
        sent.package_id
    assert list(into["payload"]["findings"]) == got.findings == [f"{fid}@R1"]
    assert [b["batch_id"] for b in into["payload"]["batches"]] == got.batches


def test_package_json_states_sender_scope_packs_and_chain_head(pair: Pair) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    sent = send(pair, rule="TRF-01", note="Please check the basis.")
    inner = container.read_zip(opened_payload(pair, sent.path.read_bytes()),
                               payload.ENTRIES["package"], "test")
    doc = json.loads(inner["package.json"])
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        (fid,) = [f["id"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))]
        (pack,) = rows(ws, "SELECT p.pack_id, p.version, p.pack_sha256 FROM findings f"
                           " JOIN runs r ON r.run_id = f.last_run JOIN packs p"
                           " ON p.pack_sha256 = r.pack_sha256 WHERE f.finding_id = ?", fid)
        (export,) = [e for e in triage.history(ws) if e["action"] == "package.export"]
        before = rows(ws, "SELECT seq, hash FROM audit_events WHERE seq < ? ORDER BY seq"
                          " DESC LIMIT 1", export["seq"])[0]
        workspace_id = ws.workspace_id
    assert (doc["format"], doc["format_version"], doc["kind"], doc["package_id"]) == (
        "oversight-review-package", 1, "package", sent.package_id)
    assert {k: doc["sender"][k] for k in ("body", "user", "workspace_id")} == {
        "body": "Inspectorate A", "user": A_AUDITOR, "workspace_id": workspace_id}
    assert "Aurelia Auditor" in doc["sender"]["certificate"]["subject"]
    assert [r["subject"] for r in doc["recipients"]] == sent.recipients
    assert "Bruno Auditor" in sent.recipients[0]
    assert started <= datetime.fromisoformat(doc["created"]) <= datetime.now(UTC)
    assert doc["scope"] == {"filter": {"rule": "TRF-01", "status": None, "severity": None},
                            "findings": [fid]}
    assert doc["note"] == "Please check the basis." and doc["pseudonymised"] == []
    assert doc["criteria_packs"] == [{"id": pack[0], "version": pack[1], "sha256": pack[2]}]
    # The head of the sender's chain as it stood just before the export was recorded.
    assert doc["chain_head"] == {"seq": before[0], "hash": before[1]} == \
        export["payload"]["chain_head"]
    # The counts are those of what the payload holds: T-1, the case C-77 it cites (from
    # the cases batch), the confirming and the approving note.
    held = [json.loads(line) for line in inner["records.jsonl"].splitlines()]
    assert [(r["kind"], r["record_id"]) for r in held] == [("operations", "T-1"),
                                                            ("cases", "C-77")]
    assert doc["counts"] == {"findings": 1, "records": 1, "register_entries": 1,
                             "notes": 2, "sources": 2} == json.loads(
        entries(sent.path.read_bytes())["metadata.json"])["counts"]
    assert len(inner["sources.jsonl"].splitlines()) == 2
    # The receiver keeps package.json exactly as it arrived.
    receive(pair, sent.path)
    with Workspace.open(pair.b, B_ADMIN, PW) as ws:
        assert rows(ws, "SELECT package_json FROM received_packages") == [
            (inner["package.json"].decode("utf-8"),)]


def _raw(folder: Path, user: str) -> Any:
    """The workspace's database as anyone holding its key could edit it."""
    key = SlotFile.load(folder / SLOTS_NAME).unlock(user, PW)
    conn = sqlcipher3.connect(str(folder / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def test_verify_names_received_rows_and_pseudonyms_edited_afterwards(pair: Pair) -> None:
    sent = send(pair, rule="TRF-01", pseudonymise=("subjects", "actors"))
    receive(pair, sent.path)
    assert problems(pair.a, A_ADMIN) == [] and problems(pair.b, B_ADMIN) == []
    # The triggers refuse an edit through the program, as what it is (not as a
    # read-only file).
    with Workspace.open(pair.b, B_ADMIN, PW) as ws, pytest.raises(
            IntegrityError, match=r"^the sender's notes are read-only$"), ws.write() as conn:
        conn.execute("UPDATE received_notes SET text = 'rewritten'")
    b = _raw(pair.b, B_ADMIN)
    b.execute("DROP TRIGGER received_notes_read_only_update")
    b.execute("UPDATE received_notes SET text = 'rewritten' WHERE note_id = "
              "(SELECT min(note_id) FROM received_notes)")
    b.close()
    assert problems(pair.b, B_ADMIN) == [
        "Received package R1: its sender's notes differ from what its import recorded "
        "(edited, added or deleted since)."]
    a = _raw(pair.a, A_ADMIN)
    a.execute("DROP TRIGGER pseudonyms_read_only_update")
    a.execute("UPDATE pseudonyms SET value = 'SUBJ-SOMEONE-ELSE' WHERE value = ?",
              (SUBJECTS[1],))
    a.close()
    found = problems(pair.a, A_ADMIN)
    assert any(p.startswith("Pseudonym PS-") and "edited since" in p for p in found), found
    assert any("differ from what it recorded" in p for p in found), found


@pytest.mark.parametrize(("table", "column", "value", "named"), [
    ("received_notes", "text", b"\x00", "its sender's notes differ"),
    ("received_decisions", "detail", b"\xff", "differ from what its import recorded"),
    ("received_findings", "reason", b"\x01", "differ from what its import recorded"),
    ("received_notes", "package_no", "[" * 50_000 + "]" * 50_000,
     "Rows of received_notes name package '[[["),
    ("received_sources", "batch_id", b"\x02", "differ from what its import recorded"),
])
def test_received_rows_holding_what_no_import_wrote_are_named_not_a_crash(
        pair: Pair, table: str, column: str, value: object, named: str) -> None:
    """A BLOB, or a package number that is not a number, written into a received row
    (its read-only triggers dropped) once raised TypeError or ValueError out of verify
    and out of the received packages list; now verify names the package."""
    receive(pair, send(pair).path)
    b = _raw(pair.b, B_ADMIN)
    for (trigger,) in b.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                " AND tbl_name = ?", (table,)).fetchall():
        b.execute(f'DROP TRIGGER "{trigger}"')
    b.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT max(rowid) FROM {table})",
              (value,))
    b.close()
    found = problems(pair.b, B_ADMIN)
    assert [p for p in found if named in p], found
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        assert store.received_packages(ws)
        for f in list_findings(ws):
            triage.finding_detail(ws, f["id"])


def test_a_received_batch_is_retracted_like_an_import(pair: Pair) -> None:
    got = receive(pair, send(pair).path)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        (ops_batch,) = [b for b in got.batches if rows(
            ws, "SELECT file_name FROM batches WHERE batch_id = ?", b)[0][0].startswith(
            "ops.csv (received in R1 from Inspectorate A)")]
        done = retract_batch(ws, ops_batch, "Sent to us by mistake")
        assert done.findings_labelled and all(f.endswith("@R1") for f in done.findings_labelled)
        label = rows(ws, "SELECT stale_reason FROM findings WHERE finding_id = ?",
                     done.findings_labelled[0])[0][0]
        assert label.startswith("source retracted")
    assert problems(pair.b, B_ADMIN) == []


# -- pseudonyms -----------------------------------------------------------------------------


def test_pseudonyms_are_stable_and_identifiers_leave_no_trace(pair: Pair) -> None:
    one = send(pair, pair.tmp / "one.ovp", pseudonymise=("subjects", "actors"))
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        some = [f["id"] for f in list_findings(ws, FindingFilters(rule="PRO-01"))]
    two = send(pair, pair.tmp / "two.ovp", finding_ids=some,
               pseudonymise=("subjects", "actors"))
    assert one.pseudonyms_new > 0 and two.pseudonyms_new == 0  # nothing new the second time
    texts = []
    for result in (one, two):
        data = result.path.read_bytes()
        plain = opened_payload(pair, data)
        inner = container.read_zip(plain, payload.ENTRIES["package"], "test")
        for blob in (data, plain, *inner.values()):
            for ident in (*SUBJECTS, *ACTORS):
                assert ident.encode() not in blob, ident
            for fid in result.ids:  # a finding id hashes what it groups by
                assert fid.encode() not in blob
        texts.append(plain.decode("utf-8", "replace"))
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        given = dict(rows(ws, "SELECT value, pseudonym FROM pseudonyms"))
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        (secret,) = rows(ws, "SELECT value FROM workspace_meta WHERE key = 'pseudonym_secret'")
        (made,) = [e for e in triage.history(ws) if e["action"] == "pseudonym_key.create"]
    key = bytes.fromhex(secret[0])
    assert len(key) == 32
    # The chain names the secret by its SHA-256, never the secret itself.
    assert made["payload"] == {"sha256": hashlib.sha256(key).hexdigest()}
    for ident in (*SUBJECTS, *ACTORS):
        # PS- and the first 10 hex digits of HMAC-SHA-256 under the workspace's secret.
        keyed = hmac.new(key, ident.encode("utf-8"), hashlib.sha256).hexdigest()
        assert given[ident] == "PS-" + keyed[:10]
        assert given[ident] in texts[0]  # everywhere the identifier was
    anna = given[SUBJECTS[0]]
    assert anna in texts[1]  # the same pseudonym in the second package
    # The receiver correlates without identifying.
    got = receive(pair, one.path)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        pro = next(f for f in got.findings if f.startswith("PRO-01"))
        detail = triage.finding_detail(ws, pro)
        assert anna in detail["message"] and SUBJECTS[0] not in json.dumps(detail)
        assert rows(ws, "SELECT count(*) FROM operations WHERE subject_ids LIKE ?",
                    f"%{anna}%") == [(12,)]
        # Another workspace's key gives other pseudonyms.
        assert pseudonyms.Pseudonymiser.of(ws).pseudonym(SUBJECTS[0], "subject") != anna
    assert problems(pair.a, A_ADMIN) == [] and problems(pair.b, B_ADMIN) == []

    # Only the sender reveals, with a reason, and the audit trail keeps it.
    res = cli(["reveal", str(pair.a), anna, "--reason", "Prosecutor's request 2026/17"],
              A_AUDITOR)
    assert res.exit_code == 0 and SUBJECTS[0] in res.stdout
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        (event,) = [e for e in triage.history(ws) if e["action"] == "pseudonym.reveal"]
    assert event["user"] == A_AUDITOR and event["payload"]["reason"] == \
        "Prosecutor's request 2026/17" and event["payload"]["pseudonym"] == anna
    assert "refused" not in one_sentence(cli(["reveal", str(pair.b), anna, "--reason", "x"],
                                             B_AUDITOR))
    assert "--reason" in one_sentence(cli(["reveal", str(pair.a), anna, "--reason", "  "],
                                          A_AUDITOR))
    assert "auditor" in one_sentence(cli(["reveal", str(pair.a), anna, "--reason", "x"],
                                         A_INSPECTOR))
    assert problems(pair.a, A_ADMIN) == []


def test_a_reply_to_a_pseudonymised_package_lands_on_the_senders_own_finding(
        pair: Pair) -> None:
    sent = send(pair, rule="TRF-01", pseudonymise=("subjects", "actors"))
    ((own, alias),) = sent.ids.items()
    assert alias != own and alias.startswith("TRF-01-PS")
    got = receive(pair, sent.path)
    assert got.findings == [f"{alias}@R1"]
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws:
        triage.mark(ws, got.findings, "in_review", note="Asked about " + alias)
        answer = reply_package(ws, sent.path, pair.tmp / "reply.ovp",
                               identity(pair.keys.receiver), body="Authority B")
    decisions = container.read_zip(opened_payload_for(pair, answer.path.read_bytes()),
                                   payload.ENTRIES["reply"], "test")["decisions.jsonl"]
    assert [json.loads(line)["id"] for line in decisions.splitlines()] == [alias]
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        back = import_package(ws, answer.path, identity(pair.keys.sender),
                              [pair.keys.receiver_ca])
        assert back.findings == [own]
        (reply,) = triage.finding_detail(ws, own)["origin"]
        assert reply["status"] == "in_review"
        assert reply["notes"][0]["text"] == "Asked about " + alias
    assert problems(pair.a, A_ADMIN) == []


def opened_payload_for(pair: Pair, data: bytes) -> bytes:
    """The decrypted payload of a reply for A."""
    env = entries(data)
    meta = json.loads(env["metadata.json"])
    return container.decrypt(env["payload.p7m"], identity(pair.keys.sender),
                             meta["recipients"], "test")


def test_replacer_replaces_whole_words_only() -> None:
    rep = pseudonyms.Replacer({"S1": "PS-1", "Anna K": "PS-2", "#7": "PS-3"})
    assert rep.text("S1 and S10, xS1, S1_x, (S1). Anna K; Anna Kx #7 a#7") == \
        "PS-1 and S10, xS1, S1_x, (PS-1). PS-2; Anna Kx PS-3 aPS-3"
    assert rep.json_text('{"S1": ["S1", 3, "a S1"]}') == '{"PS-1": ["PS-1", 3, "a PS-1"]}'
    assert rep.json_text('["S1","S2"]') == '["PS-1","S2"]'  # compact stays compact


_IDENT = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{2,10}", fullmatch=True).filter(
    lambda t: not t.startswith("PS"))


@given(st.lists(_IDENT, min_size=1, max_size=6, unique=True),
       st.lists(st.from_regex(r"[a-z0-9 .,;:()/-]{0,12}", fullmatch=True), max_size=8),
       st.randoms())
def test_no_identifier_survives_as_a_word(idents: list[str], fillers: list[str],
                                          rnd: Any) -> None:
    mapping = {i: f"PS-{n:010d}" for n, i in enumerate(idents)}
    tokens = [*idents, *idents, *fillers]
    rnd.shuffle(tokens)
    out = pseudonyms.Replacer(mapping).text(" ".join(tokens)).split(" ")
    assert not set(out) & set(idents)
    assert sum(t in mapping.values() for t in out) == 2 * len(idents)


def test_a_report_that_leaves_the_body_is_pseudonymised(pair: Pair) -> None:
    out = pair.tmp / "public.pdf"
    res = cli(["report", str(pair.a), "--out", str(out), "--pseudonymise", "subjects,actors",
               "--json"], A_AUDITOR)
    assert res.exit_code == 0, res.stderr
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        given = dict(rows(ws, "SELECT value, pseudonym FROM pseudonyms"))
        (event,) = [e for e in triage.history(ws) if e["action"] == "report.create"]
        plain = collect(ws)
        hidden, _pseudo = pseudonyms.pseudonymise_report(ws, plain, ("subjects", "actors"))
    assert event["payload"]["pseudonymised"] == ["subjects", "actors"]
    before, after = (json.dumps(dataclasses.asdict(d), ensure_ascii=False)
                     for d in (plain, hidden))
    for ident in (*SUBJECTS, *ACTORS):
        if ident in before:  # what the report would have named, it names by pseudonym
            assert ident not in after and given[ident] in after, ident
    assert SUBJECTS[0] in before and SUBJECTS[0] not in after
    assert all(f["id"] not in after for f in plain.findings)
    # The PDF itself, as a reader extracts it (words joined again across line breaks).
    text = subprocess.run([tools.require("pdftotext"), "-enc", "UTF-8", str(out), "-"],
                          capture_output=True, check=True, text=True).stdout
    joined = "".join(text.split())
    assert given[SUBJECTS[0]] in joined
    for ident in (*SUBJECTS, *ACTORS):
        assert ident not in joined, ident
    # The same identifier keeps its pseudonym in a package sent later.
    sent = send(pair, pair.tmp / "later.ovp", pseudonymise=("subjects", "actors"))
    inner = container.read_zip(opened_payload(pair, sent.path.read_bytes()),
                               payload.ENTRIES["package"], "test")
    assert given[SUBJECTS[0]].encode() in inner["records.jsonl"]
    assert "subjects, actors or both" in one_sentence(cli(
        ["report", str(pair.a), "--out", str(pair.tmp / "x.pdf"), "--pseudonymise", "names"],
        A_AUDITOR))
    assert problems(pair.a, A_ADMIN) == []


# -- openssl --------------------------------------------------------------------------------


def test_openssl_verifies_and_decrypts_a_package(pair: Pair) -> None:
    openssl = tools.require("openssl")
    sent = send(pair, pseudonymise=("subjects",))
    folder = pair.tmp / "unpacked"
    with zipfile.ZipFile(sent.path) as zf:  # as `unzip review.ovp -d unpacked` does
        zf.extractall(folder)
    env = {"P12PASS": PASS, "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([openssl, *args], cwd=folder, env=env, capture_output=True,
                              check=False)

    # The commands of docs/exchange.md, word for word.
    ok = run("cms", "-verify", "-binary", "-inform", "DER",
             "-in", "META-INF/signature001.p7s", "-content", "META-INF/ASiCManifest.xml",
             "-CAfile", str(pair.keys.sender_ca), "-purpose", "any", "-out", "/dev/null")
    assert ok.returncode == 0 and b"Verification successful" in ok.stderr, ok.stderr
    for name in ("metadata.json", "payload.p7m"):
        digest = run("dgst", "-sha256", "-binary", name).stdout
        assert base64.b64encode(digest).decode() in (folder / "META-INF" /
                                                     "ASiCManifest.xml").read_text()
    key = run("pkcs12", "-in", str(pair.keys.receiver), "-nocerts", "-nodes",
              "-passin", "env:P12PASS", "-out", "key.pem")
    assert key.returncode == 0, key.stderr
    plain = run("cms", "-decrypt", "-binary", "-inform", "DER", "-in", "payload.p7m",
                "-inkey", "key.pem", "-out", "payload.zip")
    assert plain.returncode == 0, plain.stderr
    assert (folder / "payload.zip").read_bytes() == opened_payload(pair,
                                                                   sent.path.read_bytes())
    with zipfile.ZipFile(folder / "payload.zip") as zf:
        assert json.loads(zf.read("package.json"))["package_id"] == sent.package_id
    # A changed manifest no longer verifies.
    manifest = folder / "META-INF" / "ASiCManifest.xml"
    manifest.write_bytes(manifest.read_bytes().replace(b"payload.p7m", b"payload.p7x"))
    bad = run("cms", "-verify", "-binary", "-inform", "DER",
              "-in", "META-INF/signature001.p7s", "-content", "META-INF/ASiCManifest.xml",
              "-CAfile", str(pair.keys.sender_ca), "-purpose", "any", "-out", "/dev/null")
    assert bad.returncode != 0


# -- inspect --------------------------------------------------------------------------------


def test_inspect_needs_no_key_and_the_gateway_sees_nothing_personal(pair: Pair) -> None:
    sent = send(pair, note="joint review")
    res = cli(["package", "inspect", str(sent.path), "--trust", str(pair.keys.sender_ca),
               "--json"], "nobody")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["trusted"] is True and doc["sha256"] == sent.sha256
    meta = doc["metadata"]
    assert set(meta) == {"format", "format_version", "kind", "package_id", "created",
                         "sender", "recipients", "counts"}
    assert "Bruno Auditor" in meta["recipients"][0] and "Aurelia Auditor" in meta["sender"]
    assert meta["counts"]["findings"] == sent.findings
    gateway = entries(sent.path.read_bytes())["metadata.json"].decode()
    with Workspace.open(pair.a, A_ADMIN, PW) as ws:
        secret_words = [*SUBJECTS, *ACTORS, *(f["id"] for f in list_findings(ws)),
                        "joint review", "Inspectorate A", A_AUDITOR]
    for word in secret_words:
        assert word not in gateway
    plain = cli(["package", "inspect", str(sent.path)], "nobody")
    assert plain.exit_code == 0 and "untrusted: no trust root was given" in plain.stdout


# -- bad input: a sentence, exit 2, nothing written ------------------------------------------


def _refused(pair: Pair, path: Path, *extra: str, user: str = B_INSPECTOR,
             passphrase: str = PASS, key: Path | None = None) -> str:
    before = snapshot(pair.b, B_ADMIN)
    res = cli(["package", "import", str(pair.b), str(path), "--key",
               str(key or pair.keys.receiver), *extra], user, passphrase)
    line = one_sentence(res)
    assert snapshot(pair.b, B_ADMIN) == before
    return line


def test_a_package_for_another_recipient_is_refused(pair: Pair) -> None:
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        fid = list_findings(ws)[0]["id"]
        sent = export_package(ws, pair.tmp / "c.ovp", identity(pair.keys.sender),
                              to(pair.keys.other_pem), finding_ids=[fid])
    line = _refused(pair, sent.path, "--trust", str(pair.keys.sender_ca))
    assert "not encrypted for you" in line and "Carla Other" in line
    assert "Bruno Auditor" in line


def test_a_wrong_pkcs12_passphrase_is_refused(pair: Pair) -> None:
    sent = send(pair)
    line = _refused(pair, sent.path, "--trust", str(pair.keys.sender_ca),
                    passphrase="not-the-passphrase")
    assert "passphrase does not open receiver.p12" in line


def test_an_untrusted_sender_is_refused_unless_accepted_and_recorded(pair: Pair) -> None:
    sent = send(pair)
    line = _refused(pair, sent.path)
    assert "Aurelia Auditor" in line and "not trusted" in line and "--trust" in line
    line = _refused(pair, sent.path, "--trust", str(pair.keys.other_ca))
    assert "not trusted" in line
    res = cli(["package", "import", str(pair.b), str(sent.path), "--key",
               str(pair.keys.receiver), "--accept-untrusted", "--json"], B_INSPECTOR)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["trusted"] is False
    with Workspace.open(pair.b, B_ADMIN, PW) as ws:
        (event,) = [e for e in triage.history(ws) if e["action"] == "package.import"]
        assert rows(ws, "SELECT trusted FROM received_packages") == [(0,)]
    assert event["payload"]["trusted"] is False
    assert event["payload"]["accepted_untrusted"] is True
    assert problems(pair.b, B_ADMIN) == []


def test_an_expired_sender_certificate_is_refused(pair: Pair) -> None:
    good = send(pair).path.read_bytes()
    path = pair.tmp / "expired.ovp"
    path.write_bytes(rebuilt(pair, good, signer=pair.keys.expired))
    line = _refused(pair, path, "--accept-untrusted")
    assert "Expired Sender" in line and "expired on" in line
    # and the program never signs with it
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws, pytest.raises(UsageError,
                                                                   match="expired on"):
        export_package(ws, pair.tmp / "x.ovp", identity(pair.keys.expired),
                       to(pair.keys.receiver_pem), rule="TRF-01")


def test_a_manifest_digest_that_does_not_match_is_refused(pair: Pair) -> None:
    data = send(pair).path.read_bytes()
    parts = entries(data)
    parts["payload.p7m"] = container.encrypt(opened_payload(pair, data),
                                             keys.load_certificates(pair.keys.receiver_pem))
    path = pair.tmp / "digest.ovp"
    path.write_bytes(container.write_zip(list(parts.items())))
    line = _refused(pair, path, "--trust", str(pair.keys.sender_ca))
    assert "payload.p7m does not match the SHA-256 its signed manifest gives it" in line


def test_a_changed_manifest_breaks_the_signature(pair: Pair) -> None:
    data = send(pair).path.read_bytes()
    parts = entries(data)
    parts["META-INF/ASiCManifest.xml"] = parts["META-INF/ASiCManifest.xml"].replace(
        b"application/json", b"application/xml")
    path = pair.tmp / "manifest.ovp"
    path.write_bytes(container.write_zip(list(parts.items())))
    assert "does not cover its manifest" in _refused(pair, path, "--accept-untrusted")


@pytest.mark.parametrize("cut", [1, 22, 1000, "half", "all-but-1"])
def test_a_truncated_file_is_refused(pair: Pair, cut: Any) -> None:
    data = send(pair).path.read_bytes()
    keep = {"half": len(data) // 2, "all-but-1": len(data) - 1}.get(cut, cut)
    path = pair.tmp / "cut.ovp"
    path.write_bytes(data[:keep])
    line = _refused(pair, path, "--trust", str(pair.keys.sender_ca))
    assert "cut.ovp" in line


@pytest.mark.parametrize("extra", ["../x", "/etc/passwd", "notes.txt", "META-INF/../../x"])
def test_zip_with_extra_or_path_traversing_entries_is_refused(pair: Pair, extra: str) -> None:
    data = send(pair).path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in entries(data).items():
            zf.writestr(name, blob)
        zf.writestr(extra, b"owned")
    path = pair.tmp / "extra.ovp"
    path.write_bytes(buf.getvalue())
    line = _refused(pair, path, "--trust", str(pair.keys.sender_ca))
    assert repr(extra) in line
    assert not (pair.tmp.parent / "x").exists()


def test_a_payload_declaring_a_newer_format_is_refused(pair: Pair) -> None:
    data = send(pair).path.read_bytes()
    path = pair.tmp / "newer.ovp"
    path.write_bytes(rebuilt(pair, data, edit_package=lambda d: d.update(format_version=2)))
    line = _refused(pair, path, "--trust", str(pair.keys.sender_ca))
    assert "declares package format version 2, newer than this program reads (1)" in line
    assert "package.json" in line


def test_the_same_package_twice_is_refused_naming_the_batch(pair: Pair) -> None:
    sent = send(pair)
    got = receive(pair, sent.path)
    line = _refused(pair, sent.path, "--trust", str(pair.keys.sender_ca))
    assert "already imported: received package R1" in line
    assert f"batches {', '.join(map(str, got.batches))}" in line
    # nor under another name
    copy = pair.tmp / "copy.ovp"
    copy.write_bytes(sent.path.read_bytes())
    assert "already imported" in _refused(pair, copy, "--trust", str(pair.keys.sender_ca))


def test_flipped_bytes_in_every_part_are_refused(pair: Pair) -> None:
    data = send(pair, rule="TRF-01").path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        starts = [i.header_offset for i in zf.infolist()]
    positions = sorted({0, 5, 30, 31, 40, *(s + 35 for s in starts), *(s + 200 for s in
                       starts), len(data) // 2, len(data) - 60, len(data) - 22, len(data) - 5,
                        len(data) - 1})
    before = snapshot(pair.b, B_ADMIN)
    who = identity(pair.keys.receiver)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        for pos in positions:
            path = pair.tmp / f"flip-{pos}.ovp"
            path.write_bytes(data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:])
            with pytest.raises(OversightError) as refused:
                import_package(ws, path, who, [pair.keys.sender_ca])
            assert "\n" not in refused.value.message and refused.value.exit_code == 2
    assert snapshot(pair.b, B_ADMIN) == before


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_one_flipped_byte_anywhere_is_refused(pair: Pair, data: st.DataObject) -> None:
    path = pair.tmp / "review.ovp"
    if not path.exists():
        send(pair, path, rule="TRF-01")
    blob = path.read_bytes()
    pos = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]))
    flipped = pair.tmp / "flipped.ovp"
    flipped.write_bytes(blob[:pos] + bytes([blob[pos] ^ bit]) + blob[pos + 1:])
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        head = rows(ws, "SELECT max(seq) FROM audit_events")
        with pytest.raises(OversightError):
            import_package(ws, flipped, identity(pair.keys.receiver), [pair.keys.sender_ca])
        assert rows(ws, "SELECT max(seq) FROM audit_events") == head


def test_who_may_send_and_receive(pair: Pair) -> None:
    line = one_sentence(cli(["package", "export", str(pair.a), "--out",
                             str(pair.tmp / "p.ovp"), "--sign", str(pair.keys.sender), "--to",
                             str(pair.keys.receiver_pem), "--filter-rule", "TRF-01"],
                            A_INSPECTOR))
    assert "may not write reports" in line and not (pair.tmp / "p.ovp").exists()
    sent = send(pair)
    assert "may not mark findings" in _refused(pair, sent.path, "--trust",
                                               str(pair.keys.sender_ca), user=B_VIEWER)
    assert "may not mark findings" in _refused(pair, sent.path, "--trust",
                                               str(pair.keys.sender_ca), user=B_ADMIN)


def test_export_refuses_what_it_cannot_send(pair: Pair) -> None:
    def refused(*args: str) -> str:
        return one_sentence(cli(["package", "export", str(pair.a), "--out",
                                 str(pair.tmp / "p.ovp"), "--sign", str(pair.keys.sender),
                                 *args], A_AUDITOR))

    recipient = ["--to", str(pair.keys.receiver_pem)]
    assert "Choose the findings" in refused(*recipient)
    assert "No finding NOPE-1" in refused(*recipient, "--finding", "NOPE-1")
    assert "not meant for encryption" in refused("--to", str(pair.keys.signing_only_pem),
                                                 "--filter-rule", "TRF-01")
    assert "--pseudonymise takes subjects, actors" in refused(
        *recipient, "--filter-rule", "TRF-01", "--pseudonymise", "names")
    assert "No finding matches" in refused(*recipient, "--filter-rule", "NOPE-99")
    got = receive(pair, send(pair).path)
    # B cannot forward what it received; it answers with a reply.
    line = one_sentence(cli(["package", "export", str(pair.b), "--out",
                             str(pair.tmp / "f.ovp"), "--sign", str(pair.keys.receiver),
                             "--to", str(pair.keys.other_pem), "--finding", got.findings[0]],
                            B_AUDITOR))
    assert "was received from another body" in line
    assert not (pair.tmp / "p.ovp").exists() and not (pair.tmp / "f.ovp").exists()


def test_a_reply_to_a_package_this_workspace_did_not_send_is_refused(pair: Pair) -> None:
    sent = send(pair)
    receive(pair, sent.path)
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws:
        answer = reply_package(ws, sent.path, pair.tmp / "reply.ovp",
                               identity(pair.keys.receiver), to(pair.keys.other_pem))
    # Carla receives it, but never sent the package it answers: B's own workspace plays
    # her part (it never exported that package).
    before = snapshot(pair.b, B_ADMIN)
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws, pytest.raises(
            OversightError, match="which this workspace did not send"):
        import_package(ws, answer.path, identity(pair.keys.other), [pair.keys.receiver_ca])
    assert snapshot(pair.b, B_ADMIN) == before
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws, pytest.raises(
            UsageError, match="has not been imported"):
        reply_package(ws, answer.path, pair.tmp / "r2.ovp", identity(pair.keys.receiver))


def test_a_reply_signed_by_a_body_the_package_was_not_for_is_refused(pair: Pair) -> None:
    """A reply carries decisions beside the sender's own: only a body the package was
    sent to may give them. One signed by another trusted body (Carla, whose CA A trusts)
    is refused, naming the recipients, and nothing is written; the recipient's own reply
    comes in."""
    sent = send(pair)
    receive(pair, sent.path)
    with Workspace.open(pair.b, B_AUDITOR, PW) as ws:
        forged = reply_package(ws, sent.path, pair.tmp / "forged.ovp",
                               identity(pair.keys.other), to(pair.keys.sender_pem))
        genuine = reply_package(ws, sent.path, pair.tmp / "genuine.ovp",
                                identity(pair.keys.receiver), to(pair.keys.sender_pem))
    before = snapshot(pair.a, A_ADMIN)
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws, pytest.raises(
            OversightError, match="Carla Other, who was not a recipient of package") as err:
        import_package(ws, forged.path, identity(pair.keys.sender),
                       [pair.keys.other_ca, pair.keys.receiver_ca])
    assert "a reply must come from a body the package was sent to" in str(err.value)
    assert snapshot(pair.a, A_ADMIN) == before
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        got = import_package(ws, genuine.path, identity(pair.keys.sender),
                             [pair.keys.receiver_ca])
    assert got.kind == "reply"


def test_a_reply_twice_is_refused_and_cli_round_trip(pair: Pair) -> None:
    k = pair.keys
    res = cli(["package", "export", str(pair.a), "--out", str(pair.tmp / "p.ovp"), "--sign",
               str(k.sender), "--to", str(k.receiver_pem), "--filter-rule", "TRF-01",
               "--body", "Inspectorate A", "--note", "please check", "--json"], A_AUDITOR)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["findings"] == 1
    res = cli(["package", "import", str(pair.b), str(pair.tmp / "p.ovp"), "--key",
               str(k.receiver), "--trust", str(k.sender_ca)], B_INSPECTOR)
    assert res.exit_code == 0 and "Imported package R1 from Inspectorate A/aurelia" in \
        res.stdout, res.stderr
    listed = cli(["package", "list", str(pair.b), "--json"], B_VIEWER)
    assert [p["label"] for p in json.loads(listed.stdout)] == ["R1"]
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        (received,) = [f["id"] for f in list_findings(ws)]
        triage.mark(ws, [received], "in_review", note="Asked the liaison officer.")
    shown = cli(["show", str(pair.b), received], B_VIEWER)
    assert shown.exit_code == 0, shown.stderr
    # The sender's decision and notes, attributed to the sender, beside B's own.
    assert "R1 sender: Inspectorate A/aurelia (signed by " in shown.stdout
    assert "): confirmed" in shown.stdout
    assert "note by Inspectorate A/aurelia" in shown.stdout
    assert "No basis recorded for CN." in shown.stdout
    assert "Asked the liaison officer." in shown.stdout
    res = cli(["package", "reply", str(pair.b), "--to-package", str(pair.tmp / "p.ovp"),
               "--out", str(pair.tmp / "r.ovp"), "--sign", str(k.receiver)], B_AUDITOR)
    assert res.exit_code == 0, res.stderr
    res = cli(["package", "import", str(pair.a), str(pair.tmp / "r.ovp"), "--key",
               str(k.sender), "--trust", str(k.receiver_ca)], A_AUDITOR)
    assert res.exit_code == 0 and "Imported reply R1" in res.stdout, res.stderr
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        (own,) = [f["id"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))]
    shown = cli(["show", str(pair.a), own], A_AUDITOR)
    assert shown.exit_code == 0, shown.stderr
    assert " confirmed" in shown.stdout.splitlines()[0]  # A's own status stays
    assert "R1 reply from: " in shown.stdout and "): in_review" in shown.stdout
    assert "Asked the liaison officer." in shown.stdout
    before = snapshot(pair.a, A_ADMIN)
    res = cli(["package", "import", str(pair.a), str(pair.tmp / "r.ovp"), "--key",
               str(k.sender), "--trust", str(k.receiver_ca)], A_AUDITOR)
    assert "already imported: received reply R1" in one_sentence(res)
    assert snapshot(pair.a, A_ADMIN) == before


def test_an_already_imported_package_after_retraction_comes_in_again(pair: Pair) -> None:
    sent = send(pair, rule="TRF-01")
    got = receive(pair, sent.path)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws:
        for batch in got.batches:
            retract_batch(ws, batch, "wrong package")
    again = receive(pair, sent.path)
    assert again.label == "R2" and all(f.endswith("@R2") for f in again.findings)
    with pytest.raises(AlreadyImported, match="R2"):
        receive(pair, sent.path)
    assert problems(pair.b, B_ADMIN) == []


def test_a_reply_is_written_by_an_auditor(pair: Pair) -> None:
    sent = send(pair, rule="TRF-01")
    receive(pair, sent.path)
    with Workspace.open(pair.b, B_INSPECTOR, PW) as ws, pytest.raises(PermissionDenied):
        reply_package(ws, sent.path, pair.tmp / "r.ovp", identity(pair.keys.receiver))
    assert not (pair.tmp / "r.ovp").exists()


# -- identifiers written in another Unicode form ---------------------------------------------


def test_an_identifier_written_in_another_unicode_form_is_pseudonymised_too(
        pair: Pair) -> None:
    """"É" is one character (NFC) or an E and a combining accent (NFD, as macOS file
    names and some PDF copies give it): the same identifier to a reader. A note naming
    SUBJ-ÉVA-KISS-1990 in the other form once left the body in clear in a pseudonymised
    package and report, since identifiers were looked for character by character."""
    eva = SUBJECTS[2]
    decomposed = unicodedata.normalize("NFD", eva)
    assert decomposed != eva
    with Workspace.open(pair.a, A_INSPECTOR, PW) as ws:
        fid = next(f["id"] for f in list_findings(ws, FindingFilters(rule="PRO-01")))
        triage.add_note(ws, fid, f"Rückfrage: {decomposed} war anwesend.")
        stored = triage.notes(ws, fid)[-1]["text"]
    assert decomposed in stored  # a note is kept exactly as written
    sent = send(pair, finding_ids=[fid], pseudonymise=("subjects",))
    plain = opened_payload(pair, sent.path.read_bytes())
    inner = container.read_zip(plain, payload.ENTRIES["package"], "test")
    with Workspace.open(pair.a, A_AUDITOR, PW) as ws:
        given = dict(rows(ws, "SELECT value, pseudonym FROM pseudonyms"))
        hidden, _pseudo = pseudonyms.pseudonymise_report(ws, collect(ws), ("subjects",))
    sent_text = b"\n".join(inner.values()).decode()
    assert f"Rückfrage: {given[eva]} war anwesend." in sent_text
    report = json.dumps(dataclasses.asdict(hidden), ensure_ascii=False)
    assert f"Rückfrage: {given[eva]} war anwesend." in report
    for text in (*(blob.decode() for blob in inner.values()), report):
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            assert unicodedata.normalize(form, eva) not in unicodedata.normalize(form, text)
    assert problems(pair.a, A_ADMIN) == []
