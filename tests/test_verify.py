"""`verify`: cipher integrity, batch digests and the audit chain catch raw edits."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlcipher3
from conftest import ADMIN, ADMIN_PW, write
from test_import import OPS_CSV

from db.keyslots import SlotFile
from oversight.importing import import_file
from oversight.integrity import verify_workspace
from oversight.workspace import DB_NAME, SLOTS_NAME, Workspace


def raw(ws_path: Path) -> sqlcipher3.Connection:
    """What someone holding the key could do with any SQLCipher tool."""
    key = SlotFile.load(ws_path / SLOTS_NAME).unlock(ADMIN, ADMIN_PW)
    conn = sqlcipher3.connect(str(ws_path / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


@pytest.fixture
def imported(ws_path: Path, tmp_path: Path) -> Path:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "ops.csv", OPS_CSV))
        report = verify_workspace(ws.conn)
        assert report.ok, report.problems
        assert report.chain is not None and report.chain.events == 5
    return ws_path


def check(ws_path: Path) -> list[str]:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        report = verify_workspace(ws.conn)
    assert report.ok is (not report.problems)
    return report.problems


def test_edited_imported_row(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("UPDATE operations SET actor_id = 'someone-else' WHERE record_id = 'OP-1'")
    conn.close()
    assert check(imported) == ["Batch 1 (ops.csv): stored rows have been altered since import."]


@pytest.mark.parametrize("value", [b"\x00\xff", 7, 1.5])
def test_a_value_of_another_type_in_an_imported_row(imported: Path, value: object) -> None:
    """A BLOB put where the import wrote text (no reader yields bytes) once raised
    TypeError out of verify; a number there is a changed value too."""
    conn = raw(imported)
    conn.execute("UPDATE operations SET actor_id = ? WHERE record_id = 'OP-1'", (value,))
    conn.close()
    assert check(imported) == ["Batch 1 (ops.csv): stored rows have been altered since import."]


def test_edited_extra_column(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("""UPDATE operations SET extra = '{"Terminal":"WS-9"}' WHERE record_id='OP-2'""")
    conn.close()
    assert "altered since import" in check(imported)[0]


def test_value_added_to_unwritten_field(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("UPDATE operations SET justification = 'added later' WHERE record_id = 'OP-1'")
    conn.close()
    assert check(imported) == [
        "Batch 1 (ops.csv): values were added to fields the import left empty."]


def test_deleted_and_inserted_rows(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("DELETE FROM operations WHERE record_id = 'OP-2'")
    conn.close()
    assert check(imported) == [
        "Batch 1 (ops.csv): 1 rows are stored but the import recorded 2."]


def test_digest_rewritten_in_batch_is_caught_by_the_chain(imported: Path) -> None:
    """Editing a row and recomputing the batch digest still disagrees with the import's
    audit event, which the hash chain protects."""
    conn = raw(imported)
    conn.execute("UPDATE operations SET actor_id = 'x' WHERE record_id = 'OP-1'")
    conn.execute("UPDATE batches SET rows_digest = 'f' || substr(rows_digest, 2)")
    conn.close()
    problems = check(imported)
    assert "differs from what the audit trail recorded" in problems[-1]


def test_edited_audit_event(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("UPDATE audit_events SET user = 'mallory' WHERE seq = 2")
    conn.close()
    assert check(imported) == ["Audit trail: audit event 2 has been altered."]


def test_deleted_audit_event(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("DELETE FROM audit_events WHERE seq = 3")
    conn.close()
    assert check(imported) == ["Audit trail: audit event 3 is missing."]


def test_reordered_audit_events(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("UPDATE audit_events SET seq = -2 WHERE seq = 2")
    conn.execute("UPDATE audit_events SET seq = 2 WHERE seq = 3")
    conn.execute("UPDATE audit_events SET seq = 3 WHERE seq = -2")
    conn.close()
    assert check(imported)[0].startswith("Audit trail: audit event 2 does not follow event 1")


def test_truncated_audit_trail(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
    conn.close()
    problems = check(imported)
    assert problems[0].startswith("Audit trail: the audit trail ends at event 4 but the "
                                  "workspace recorded event 5")
    assert "no import event in the audit trail" in problems[1]


def test_deleted_batch(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM operations")
    conn.execute("DELETE FROM batches")
    conn.close()
    assert check(imported) == [
        "Batch 1 is recorded in the audit trail but is missing from the workspace."]


def test_damaged_page_detected(imported: Path) -> None:
    """A flipped byte in an encrypted page of imported rows fails SQLCipher's page HMAC;
    verify reports it as a problem instead of crashing."""
    conn = raw(imported)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'operations'"
                        ).fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    path = imported / DB_NAME
    data = bytearray(path.read_bytes())
    data[(int(page) - 1) * int(page_size) + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    problems = check(imported)
    assert problems and any("integrity check" in p or "damaged" in p for p in problems)


def test_open_with_damaged_schema_page_is_a_sentence(imported: Path) -> None:
    from oversight.errors import StorageError

    path = imported / DB_NAME
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # page 1 holds the schema
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match=r"cannot be decrypted|damaged"):
        Workspace.open(imported, ADMIN, ADMIN_PW)


def test_rows_added_outside_an_import(imported: Path) -> None:
    conn = raw(imported)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO operations(batch_id, line, record_id, extra)"
                 " VALUES (99, 1, 'forged', '{}')")
    conn.close()
    assert check(imported) == [
        "1 operations row(s) belong to no import batch (added outside an import)."]


def test_import_leaves_foreign_keys_on(imported: Path) -> None:
    with Workspace.open(imported, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(imported.parent / "more.csv", "record_id,action\nX-1,erase\n"))
        assert ws.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
