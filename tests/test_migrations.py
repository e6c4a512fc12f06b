"""Every earlier schema upgrades: a fixture workspace written by the code of each earlier
schema version (tests/data/workspaces/schema-N, made by make_fixture.py with that
version's code) opens with today's code, is brought up to date, keeps everything it
held and still verifies; and the migration scripts split as SQLite reads them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from db import migrations
from db.keyslots import SlotFile
from oversight.integrity import verify_workspace
from oversight.workspace import DB_NAME, SLOTS_NAME, Workspace

FIXTURES = ROOT / "tests" / "data" / "workspaces"
PASSWORD = "fixture-password"  # tests/data/workspaces/make_fixture.py
TABLES = ("operations", "authorisations", "cases", "rejects", "batches", "audit_events",
          "users")
SIGNED_FROM = 7  # the schema from which every command is sealed (a `workspace.upgrade`
#                   event vouches for older history when an admin first opens it)


def _raw_counts(folder: Path) -> tuple[int, dict[str, int]]:
    import sqlcipher3

    key = SlotFile.load(folder / SLOTS_NAME).unlock("admin", PASSWORD)
    conn = sqlcipher3.connect(str(folder / DB_NAME))
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in (*TABLES, "findings", "finding_notes") if t in names}
    conn.close()
    return int(version), counts


def _versions() -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in FIXTURES.glob("schema-*"))


def test_a_fixture_for_every_earlier_schema() -> None:
    assert _versions() == list(range(1, migrations.SCHEMA_VERSION))
    for v in _versions():
        assert (FIXTURES / f"schema-{v}" / "SCHEMA").read_text().strip() == str(v)


@pytest.mark.slow
@pytest.mark.parametrize("version", _versions())
def test_a_workspace_of_every_earlier_schema_upgrades(version: int, tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    shutil.copytree(FIXTURES / f"schema-{version}", folder)
    stored, before = _raw_counts(folder)
    assert stored == version
    with Workspace.open(folder, "admin", PASSWORD) as ws:
        assert ws.read_only is False and ws.divergence is None
        c = ws.conn
        assert c.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
        applied = [r[0] for r in c.execute("SELECT version FROM schema_migrations"
                                           " ORDER BY version")]
        assert applied == list(range(1, migrations.SCHEMA_VERSION + 1))
        for table, n in before.items():
            now = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            # An older, unsigned history gets one signed event of the admin who upgrades.
            extra = 1 if table == "audit_events" and version < SIGNED_FROM else 0
            assert now == n + extra, table
        report = verify_workspace(c)
        assert report.ok, report.problems
        assert report.accountability is not None
        if version < SIGNED_FROM:
            assert "were written before signing existed" in str(report.accountability)
    # Everyone else opens it too (and, once signed, can write).
    with Workspace.open(folder, "victor", PASSWORD) as ws:
        assert ws.role.value == "viewer" and ws.divergence is None


def test_scripts_split_where_sqlite_says_a_statement_ends() -> None:
    script = ("CREATE TABLE t(a TEXT DEFAULT ';');\n"
              "CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END;"
              "\nINSERT INTO t VALUES ('a;b')")
    assert migrations._statements(script) == [
        "CREATE TABLE t(a TEXT DEFAULT ';')",
        "CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END",
        "INSERT INTO t VALUES ('a;b')"]
    with pytest.raises(ValueError, match="ends inside a statement"):
        migrations._statements("CREATE TRIGGER y BEFORE DELETE ON t BEGIN SELECT 1;")
    for step in migrations.MIGRATIONS:  # every shipped script splits into whole statements
        assert all(s and not s.endswith(";") for s in migrations._statements(step.sql))
