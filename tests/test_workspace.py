"""Workspace creation, key slots, users, roles and the refusals that change nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlcipher3
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, VIEWER, VIEWER_PW, counts
from tools import require

from db.keyslots import MIN_MEMORY_KIB, SlotFile
from oversight.audit import verify_chain
from oversight.errors import (
    AuthenticationError,
    PermissionDenied,
    StorageError,
    UsageError,
)
from oversight.workspace import DB_NAME, SLOTS_NAME, Role, Workspace


def _raw(ws_path: Path) -> sqlcipher3.Connection:
    """A raw SQLCipher connection with the real key, as an attacker holding it would have."""
    slots = SlotFile.load(ws_path / SLOTS_NAME)
    key = slots.unlock(ADMIN, ADMIN_PW)
    conn = sqlcipher3.connect(str(ws_path / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def test_create_makes_encrypted_db_and_slot_file(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    with Workspace.create(folder, "Zoë Ørsted", "correct horse") as ws:
        assert ws.role is Role.ADMIN
        assert [u.name for u in ws.users()] == ["Zoë Ørsted"]
        events = ws.conn.execute("SELECT action FROM audit_events ORDER BY seq").fetchall()
        assert [e[0] for e in events] == ["workspace.create", "user.add"]
        assert ws.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ws.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert ws.conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    doc = json.loads((folder / SLOTS_NAME).read_text())
    slot = doc["slots"]["Zoë Ørsted"]
    assert slot["kdf"]["name"] == "argon2id"
    assert slot["kdf"]["memory_cost"] >= MIN_MEMORY_KIB
    assert slot["aead"] == "aes-256-gcm"
    assert (folder / SLOTS_NAME).stat().st_mode & 0o777 == 0o600
    assert not list(folder.glob(".*.tmp"))
    with Workspace.open(folder, "Zoë Ørsted", "correct horse") as ws:
        assert ws.user == "Zoë Ørsted"


def test_create_refuses_non_empty_folder_and_leaves_it(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an empty folder"):
        Workspace.create(tmp_path / "x", ADMIN, ADMIN_PW)
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["notes.txt"]


def test_short_password_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 8"):
        Workspace.create(tmp_path / "w", ADMIN, "short")
    assert not (tmp_path / "w").exists()


def test_sqlite3_cli_cannot_read_workspace(ws_path: Path) -> None:
    res = subprocess.run([require("sqlite3"), str(ws_path / DB_NAME), ".tables"],
                         capture_output=True, text=True, check=False)
    assert res.returncode != 0
    assert "not a database" in res.stderr


def test_sqlite3_module_cannot_read_workspace(ws_path: Path) -> None:
    # Python's own sqlite3, without a key, fails the same way (no external program).
    conn = sqlite3.connect(ws_path / DB_NAME)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.close()


def test_wrong_password_changes_nothing(ws_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in ws_path.iterdir()}
    with pytest.raises(AuthenticationError, match="Wrong password"):
        Workspace.open(ws_path, ADMIN, "not-the-password")
    assert {p.name: p.read_bytes() for p in ws_path.iterdir()} == before


def test_unknown_user(ws_path: Path) -> None:
    with pytest.raises(AuthenticationError, match="no user named 'mallory'"):
        Workspace.open(ws_path, "mallory", ADMIN_PW)


def test_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not an Oversight workspace"):
        Workspace.open(tmp_path, ADMIN, ADMIN_PW)
    with pytest.raises(StorageError, match="not a folder"):
        Workspace.open(tmp_path / "nope", ADMIN, ADMIN_PW)


def test_missing_slot_file(ws_path: Path) -> None:
    (ws_path / SLOTS_NAME).unlink()
    with pytest.raises(StorageError, match=r"key-slot file .* is missing"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)


def test_garbage_slot_file(ws_path: Path) -> None:
    (ws_path / SLOTS_NAME).write_bytes(b"\x00\xffnot json")
    with pytest.raises(StorageError, match="damaged"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)


@pytest.mark.parametrize("field", ["wrapped_key", "nonce", "salt", "memory_cost"])
def test_tampered_slot_is_reported_not_taken_for_wrong_password(ws_path: Path, field: str) -> None:
    path = ws_path / SLOTS_NAME
    doc = json.loads(path.read_text())
    slot = doc["slots"][ADMIN]
    if field in ("salt", "memory_cost"):
        value = slot["kdf"][field]
        slot["kdf"][field] = (value + 1024) if isinstance(value, int) else "AAAA" + value[4:]
    else:
        slot[field] = "AAAA" + slot[field][4:]
    path.write_text(json.dumps(doc))
    with pytest.raises(StorageError, match="altered or damaged"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)
    # Other users' slots are untouched and still open.
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        assert ws.role is Role.INSPECTOR


def test_slot_swapped_between_users_fails(ws_path: Path) -> None:
    """A slot is bound to its user name: copying alice's slot to bob's name fails."""
    path = ws_path / SLOTS_NAME
    doc = json.loads(path.read_text())
    doc["slots"][INSPECTOR] = doc["slots"][ADMIN]
    path.write_text(json.dumps(doc))
    with pytest.raises(AuthenticationError, match="Wrong password"):
        Workspace.open(ws_path, INSPECTOR, ADMIN_PW)


def test_user_add_remove_and_passwd_touch_only_their_slot(ws_path: Path) -> None:
    path = ws_path / SLOTS_NAME
    before = json.loads(path.read_text())["slots"]
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        ws.change_password("ines-new-password")
    after = json.loads(path.read_text())["slots"]
    assert after[INSPECTOR] != before[INSPECTOR]
    assert {k: v for k, v in after.items() if k != INSPECTOR} == {
        k: v for k, v in before.items() if k != INSPECTOR}
    with pytest.raises(AuthenticationError):
        Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW)
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user("bob", Role.AUDITOR, "bob-password")
        assert set(json.loads(path.read_text())["slots"]) == {ADMIN, INSPECTOR, VIEWER, "bob"}
        ws.remove_user("bob")
        assert "bob" not in json.loads(path.read_text())["slots"]
        users = {u.name: u for u in ws.users()}
        assert users["bob"].active is False  # kept so past actions stay attributed
        actions = [r[0] for r in ws.conn.execute("SELECT action FROM audit_events ORDER BY seq")]
        assert actions[-3:] == ["user.passwd", "user.add", "user.remove"]
        assert verify_chain(ws.conn).ok
    with pytest.raises(AuthenticationError):
        Workspace.open(ws_path, "bob", "bob-password")


def test_removed_user_with_restored_slot_is_refused(ws_path: Path) -> None:
    """Restoring an old slot file does not bring a removed user back."""
    old = (ws_path / SLOTS_NAME).read_bytes()
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.remove_user(VIEWER)
    (ws_path / SLOTS_NAME).write_bytes(old)
    with pytest.raises(AuthenticationError, match="has been removed"):
        Workspace.open(ws_path, VIEWER, VIEWER_PW)


@pytest.mark.parametrize("user,password", [(INSPECTOR, INSPECTOR_PW), (VIEWER, VIEWER_PW)])
def test_only_admins_manage_users(ws_path: Path, user: str, password: str) -> None:
    with Workspace.open(ws_path, user, password) as ws:
        before = counts(ws)
        with pytest.raises(PermissionDenied, match="may not manage users"):
            ws.add_user("eve", Role.ADMIN, "eve-password")
        with pytest.raises(PermissionDenied):
            ws.remove_user(ADMIN)
        assert counts(ws) == before


def _active_admins(ws: Workspace) -> list[str]:
    return [u.name for u in ws.users() if u.role is Role.ADMIN and u.active]


def test_a_workspace_always_keeps_an_admin(ws_path: Path) -> None:
    """Only admins remove users and nobody removes themselves, so whoever removes the
    second-to-last admin is the last one, and nobody is left who could remove them."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        with pytest.raises(UsageError, match="cannot remove yourself"):
            ws.remove_user(ADMIN)
        ws.add_user("root2", Role.ADMIN, "root2-password")
        assert _active_admins(ws) == [ADMIN, "root2"]
    with Workspace.open(ws_path, "root2", "root2-password") as ws:
        ws.remove_user(ADMIN)  # one admin may remove another...
        assert _active_admins(ws) == ["root2"]
        before = counts(ws)
        with pytest.raises(UsageError, match="cannot remove yourself"):
            ws.remove_user("root2")  # ...but the last one cannot go
        assert counts(ws) == before and _active_admins(ws) == ["root2"]
    with pytest.raises(AuthenticationError, match="no user named 'alice'"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)
    for user, password in ((INSPECTOR, INSPECTOR_PW), (VIEWER, VIEWER_PW)):
        with Workspace.open(ws_path, user, password) as ws, \
                pytest.raises(PermissionDenied, match="may not manage users"):
            ws.remove_user("root2")


def test_adding_an_existing_user_is_refused(admin_ws: Workspace) -> None:
    before = counts(admin_ws)
    with pytest.raises(UsageError, match="already exists"):
        admin_ws.add_user(INSPECTOR, Role.VIEWER, "whatever-pw")
    assert counts(admin_ws) == before


def test_schema_newer_than_code_refused(ws_path: Path) -> None:
    conn = _raw(ws_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StorageError, match="newer than this program"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)


def test_locked_during_write(admin_ws: Workspace, ws_path: Path) -> None:
    holder = _raw(ws_path)
    holder.execute("BEGIN IMMEDIATE")
    admin_ws.conn.execute("PRAGMA busy_timeout = 50")
    try:
        with pytest.raises(StorageError, match="in use by another program"):
            admin_ws.add_user("bob", Role.VIEWER, "bob-password")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "bob" not in json.loads((ws_path / SLOTS_NAME).read_text())["slots"]
    assert "bob" not in {u.name for u in admin_ws.users()}


def test_read_only_session_refuses_changes(ws_path: Path) -> None:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW, read_only=True) as ws:
        before = counts(ws)
        with pytest.raises(StorageError, match="read-only"):
            ws.add_user("bob", Role.VIEWER, "bob-password")
        assert counts(ws) == before


def test_wrong_key_reads_as_damaged(ws_path: Path) -> None:
    """A slot file from another workspace cannot open this database."""
    other = ws_path.parent / "other"
    with Workspace.create(other, ADMIN, ADMIN_PW):
        pass
    shutil.copy(other / SLOTS_NAME, ws_path / SLOTS_NAME)
    with pytest.raises(StorageError, match="cannot be decrypted"):
        Workspace.open(ws_path, ADMIN, ADMIN_PW)


def test_record_catalogue_matches_tables(admin_ws: Workspace) -> None:
    from oversight.records import Kind, storage_columns

    for kind in Kind:
        cols = [r[1] for r in admin_ws.conn.execute(f"PRAGMA table_info({kind.value})")]
        assert cols == ["rid", "batch_id", "line", "record_id", *storage_columns(kind)]
