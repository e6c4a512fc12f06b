"""Schema migrations, versioned with ``PRAGMA user_version``.

Each migration is a fixed, named SQL script applied in its own transaction together
with its record in ``schema_migrations``. Never edit a released migration: add one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlcipher3 import complete_statement

from db.errors import SchemaTooNew, StoreError
from db.store import Connection, transaction

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate", "schema_version"]


@dataclass(frozen=True)
class Migration:
    version: int
    """The user_version after this step."""
    name: str
    """Short description, stored in schema_migrations."""
    sql: str
    """Statements run in one transaction."""
    run: Callable[[Connection], None] | None = None
    """Python run after ``sql`` in the same transaction (a table rebuild that must read
    the schema it finds, e.g. columns other migrations added)."""
    foreign_keys_off: bool = False
    """Run with foreign-key enforcement off (SQLite's 12-step ALTER procedure: the
    pragma cannot change inside a transaction, so ``migrate`` sets it around it and
    runs ``PRAGMA foreign_key_check`` before committing)."""


_TS = "TEXT"  # local ISO 8601 with offset, as recorded
_UTC = "INTEGER"  # microseconds since the epoch, UTC, for ordering and windows

V1 = f"""
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE workspace_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'inspector', 'auditor', 'viewer')),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    created_by TEXT
);
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE batches (
    batch_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('operations', 'authorisations', 'cases')),
    file_name TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    profile TEXT,
    profile_sha256 TEXT,
    mapping TEXT NOT NULL,
    columns TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_imported INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    rows_digest TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE rejects (
    reject_id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    line INTEGER NOT NULL,
    column_name TEXT,
    field TEXT,
    value TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX rejects_batch ON rejects(batch_id, line);
CREATE TABLE operations (
    rid INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    line INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    ts {_TS},
    ts_utc {_UTC},
    action TEXT,
    actor_id TEXT,
    actor_role TEXT,
    agency TEXT,
    case_id TEXT,
    subject_ids TEXT,
    authorisation_id TEXT,
    legal_basis TEXT,
    justification TEXT,
    urgent INTEGER,
    recipient_id TEXT,
    recipient_type TEXT,
    recipient_country TEXT,
    transfer_basis TEXT,
    data_categories TEXT,
    records_count INTEGER,
    offence TEXT,
    offence_category TEXT,
    max_penalty_months INTEGER,
    notice_type TEXT,
    notice_purpose TEXT,
    sentence_months INTEGER,
    remaining_months INTEGER,
    art3_concern TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}'
);
CREATE UNIQUE INDEX operations_record ON operations(batch_id, record_id);
CREATE TABLE authorisations (
    rid INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    line INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    authorisation_id TEXT NOT NULL,
    regime TEXT,
    legal_basis TEXT,
    issuer_id TEXT,
    issuer_role TEXT,
    approver_id TEXT,
    approval TEXT,
    approved_at {_TS},
    approved_at_utc {_UTC},
    urgent INTEGER,
    valid_from {_TS},
    valid_from_utc {_UTC},
    valid_to {_TS},
    valid_to_utc {_UTC},
    cancelled_at {_TS},
    cancelled_at_utc {_UTC},
    case_id TEXT,
    subject_ids TEXT,
    actions TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}'
);
CREATE UNIQUE INDEX authorisations_record ON authorisations(batch_id, record_id);
CREATE INDEX authorisations_id ON authorisations(authorisation_id);
CREATE TABLE cases (
    rid INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(batch_id),
    line INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    opened_at {_TS},
    opened_at_utc {_UTC},
    closed_at {_TS},
    closed_at_utc {_UTC},
    offence TEXT,
    max_penalty_months INTEGER,
    team TEXT,
    subject_ids TEXT,
    extra TEXT NOT NULL DEFAULT '{{}}'
);
CREATE UNIQUE INDEX cases_record ON cases(batch_id, record_id);
CREATE INDEX cases_id ON cases(case_id);
"""

V2 = """
ALTER TABLE batches ADD COLUMN source_columns TEXT;
CREATE INDEX operations_authorisation ON operations(authorisation_id);
CREATE INDEX operations_case ON operations(case_id);
CREATE TABLE packs (
    pack_sha256 TEXT PRIMARY KEY,
    pack_id TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY,
    pack_sha256 TEXT NOT NULL REFERENCES packs(pack_sha256),
    pack_id TEXT NOT NULL,
    pack_version TEXT NOT NULL,
    rules TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    user TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE findings (
    finding_id TEXT PRIMARY KEY,
    pack_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    part TEXT NOT NULL,
    group_key TEXT,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status TEXT NOT NULL DEFAULT 'open',
    message TEXT NOT NULL,
    facts TEXT NOT NULL,
    legal_refs TEXT NOT NULL,
    record_ids TEXT NOT NULL,
    first_ts_utc INTEGER,
    first_run INTEGER NOT NULL REFERENCES runs(run_id),
    last_run INTEGER NOT NULL REFERENCES runs(run_id),
    matching INTEGER NOT NULL DEFAULT 1 CHECK (matching IN (0, 1)),
    stale_since_run INTEGER,
    stale_reason TEXT
);
CREATE INDEX findings_rule ON findings(pack_id, rule_id, matching);
CREATE INDEX findings_status ON findings(status, severity);
CREATE TABLE finding_records (
    finding_id TEXT NOT NULL REFERENCES findings(finding_id),
    rid INTEGER NOT NULL,
    PRIMARY KEY (finding_id, rid)
) WITHOUT ROWID;
CREATE INDEX finding_records_rid ON finding_records(rid)
"""

V3 = """
ALTER TABLE findings ADD COLUMN reason TEXT;
ALTER TABLE findings ADD COLUMN assignee TEXT;
ALTER TABLE findings ADD COLUMN decided_by TEXT;
ALTER TABLE findings ADD COLUMN decided_at TEXT;
ALTER TABLE findings ADD COLUMN approved_by TEXT;
ALTER TABLE findings ADD COLUMN pending_status TEXT;
ALTER TABLE findings ADD COLUMN pending_reason TEXT;
ALTER TABLE findings ADD COLUMN pending_by TEXT;
CREATE INDEX findings_assignee ON findings(assignee, status);
CREATE TABLE finding_notes (
    note_id INTEGER PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings(finding_id),
    user TEXT NOT NULL,
    ts TEXT NOT NULL,
    text TEXT NOT NULL,
    refers_to INTEGER REFERENCES finding_notes(note_id)
);
CREATE INDEX finding_notes_finding ON finding_notes(finding_id, note_id);
CREATE TRIGGER finding_notes_append_only_update BEFORE UPDATE ON finding_notes
BEGIN SELECT RAISE(ABORT, 'notes are append-only: add a correcting note instead'); END;
CREATE TRIGGER finding_notes_append_only_delete BEFORE DELETE ON finding_notes
BEGIN SELECT RAISE(ABORT, 'notes are append-only: add a correcting note instead'); END;
CREATE TABLE decisions (
    decision_id INTEGER PRIMARY KEY,
    finding_id TEXT NOT NULL REFERENCES findings(finding_id),
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    reason TEXT,
    note_id INTEGER REFERENCES finding_notes(note_id),
    detail TEXT
);
CREATE INDEX decisions_finding ON decisions(finding_id, decision_id);
CREATE TABLE samples (
    sample_id INTEGER PRIMARY KEY,
    population TEXT NOT NULL,
    stratify_by TEXT,
    seed INTEGER NOT NULL,
    size INTEGER NOT NULL,
    population_size INTEGER NOT NULL,
    filters TEXT NOT NULL,
    item_ids TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO workspace_meta(key, value) VALUES ('four_eyes', 'critical')
"""

# -- 6: retractable batches -----------------------------------------------------------------
# A batch can be retracted (oversight.retraction): its rows stay, digested and checked by
# verify, but leave every query through the live_* views, and the same file may then be
# imported again. Only one *live* batch per file: batches.sha256 loses its UNIQUE
# constraint (a table rebuild, below) for a partial unique index.

V6 = """
ALTER TABLE batches ADD COLUMN retracted_at TEXT;
ALTER TABLE batches ADD COLUMN retracted_by TEXT;
ALTER TABLE batches ADD COLUMN retraction_reason TEXT;
CREATE UNIQUE INDEX batches_live_sha256 ON batches(sha256) WHERE retracted_at IS NULL;
CREATE VIEW live_operations AS SELECT * FROM operations WHERE batch_id NOT IN
    (SELECT batch_id FROM batches WHERE retracted_at IS NOT NULL);
CREATE VIEW live_authorisations AS SELECT * FROM authorisations WHERE batch_id NOT IN
    (SELECT batch_id FROM batches WHERE retracted_at IS NOT NULL);
CREATE VIEW live_cases AS SELECT * FROM cases WHERE batch_id NOT IN
    (SELECT batch_id FROM batches WHERE retracted_at IS NOT NULL)
"""


# -- 7: each run's findings (indicators) ------------------------------------------------------
# Which findings each detection run found, on which operations: `findings` keeps only the
# latest state, so comparing indicators with an earlier run (oversight.indicators) needs
# the membership of that run. Runs made before this step have none; the first run that
# has is kept in workspace_meta['run_findings_from']. The index on (agency, ts_utc,
# batch_id) covers indicators by agency and month: they read it alone, not the rows
# (bench/indicators_speed.py), and logs arrive in time order, so it grows at its ends.

V9 = """
CREATE TABLE run_findings (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    finding_id TEXT NOT NULL REFERENCES findings(finding_id),
    rid INTEGER NOT NULL,
    PRIMARY KEY (run_id, finding_id, rid)
) WITHOUT ROWID;
INSERT INTO workspace_meta(key, value)
    SELECT 'run_findings_from', coalesce(max(run_id), 0) + 1 FROM runs;
CREATE INDEX operations_agency_ts ON operations(agency, ts_utc, batch_id)
"""


def _drop_unique_sha256(conn: Connection) -> None:
    """Rebuild ``batches`` without ``UNIQUE`` on sha256 (SQLite's 12-step procedure:
    new table, copy, drop, rename, recreate its indexes, triggers and the views).

    The new definition is the stored one with that word removed, and every column found
    is copied, so columns added by any earlier migration survive. Views and triggers
    that name ``batches`` are dropped first and recreated last: SQLite checks the whole
    schema when a table is renamed, and they would name a table that is briefly gone."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'batches'").fetchone()
    definition, found = re.subn(r"(\bsha256\s+TEXT\s+NOT\s+NULL)\s+UNIQUE\b", r"\1",
                                str(row[0]), count=1, flags=re.IGNORECASE)
    if not found:
        raise StoreError("The batches table does not have the expected shape "
                         "(sha256 TEXT NOT NULL UNIQUE); the workspace cannot be upgraded.")
    definition = re.sub(r"^\s*CREATE\s+TABLE\s+\"?batches\"?", "CREATE TABLE batches_rebuilt",
                        definition, count=1, flags=re.IGNORECASE)
    columns = ", ".join(f'"{r[1]}"' for r in conn.execute("PRAGMA table_info(batches)"))
    own = conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'batches' AND type IN"
        " ('index', 'trigger') AND sql IS NOT NULL").fetchall()
    naming = [(t, n, s) for t, n, s in conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'trigger')"
        " AND tbl_name != 'batches' AND sql IS NOT NULL").fetchall()
        if re.search(r"\bbatches\b", str(s), re.IGNORECASE)]
    for kind, name, _sql in naming:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    conn.execute(definition)
    conn.execute(f"INSERT INTO batches_rebuilt({columns}) SELECT {columns} FROM batches")
    conn.execute("DROP TABLE batches")
    conn.execute("ALTER TABLE batches_rebuilt RENAME TO batches")
    for (sql,) in own:
        conn.execute(sql)
    for _kind, _name, sql in naming:
        conn.execute(sql)


# -- 7: signed, attributable events ---------------------------------------------------------
# Signed, attributable events (issue 9): each user's public Ed25519 key, one seal (the
# actor's signature over the chain head) per command, a digest of each finding's content
# as detection last recorded it, and an index of the events that decide who may do what
# (users, settings, workspace), which opening a workspace replays, and decisions by
# their event (verify joins each decision row to its event). The events written
# before this step are vouched for by one signed `workspace.upgrade` event (written by
# the service layer when an admin first opens the workspace), not by this script.
SEALS = """
ALTER TABLE users ADD COLUMN public_key TEXT;
ALTER TABLE findings ADD COLUMN content_digest TEXT;
CREATE TABLE seals (
    seq INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX audit_events_access ON audit_events(seq)
    WHERE action LIKE 'user.%' OR action LIKE 'settings.%' OR action LIKE 'workspace.%';
CREATE INDEX decisions_seq ON decisions(seq)
"""

# -- 8: data quality ---------------------------------------------------------------------
# Import warnings (JSON list of {code, message, count, lines}) and the missing markers an
# import applied (JSON list) are kept with each batch; batches imported before this step
# were not checked, which NULL (not '[]') says. ``sequence`` is the log's own running
# number, read by the log-completeness rules.
V8_QUALITY = """
ALTER TABLE batches ADD COLUMN warnings TEXT;
ALTER TABLE batches ADD COLUMN missing_markers TEXT;
ALTER TABLE operations ADD COLUMN sequence INTEGER
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "workspace, users, audit trail, imports", V1),
    Migration(2, "criteria packs, detection runs and findings", V2),
    Migration(3, "triage: decisions, append-only notes, assignment, samples", V3),
    Migration(4, "index operations by action (filters, detection, browsing)",
              "CREATE INDEX operations_action ON operations(action)"),
    # Indexes keyed by case or warrant id take random inserts and made a million-row
    # import twice as slow (bench/import_speed.py); the few look-ups by those ids scan.
    Migration(5, "drop the case and authorisation indexes of operations",
              "DROP INDEX operations_case; DROP INDEX operations_authorisation"),
    Migration(6, "retractable batches: live views, one live batch per file", V6,
              run=_drop_unique_sha256, foreign_keys_off=True),
    Migration(7, "signed events: user keys, seals, finding content digests", SEALS),
    Migration(8, "data quality: import warnings and missing markers per batch, the log's "
              "sequence number per operation", V8_QUALITY),
    Migration(9, "each detection run's findings; operations by agency and time (indicators)",
              V9),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: Connection, path: Path) -> list[Migration]:
    """Bring the schema up to SCHEMA_VERSION; refuse a workspace newer than the code."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"The workspace at {path.parent} uses schema version {current}, newer than this "
            f"program understands ({SCHEMA_VERSION}); install a newer Oversight Workstation."
        )
    applied: list[Migration] = []
    for step in MIGRATIONS:
        if step.version <= current:
            continue
        enforcing = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
        if step.foreign_keys_off and enforcing:
            conn.execute("PRAGMA foreign_keys = OFF")  # outside any transaction
        try:
            with transaction(conn, path):
                for statement in _statements(step.sql):
                    conn.execute(statement)
                if step.run is not None:
                    step.run(conn)
                if step.foreign_keys_off:
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"Upgrading the workspace at {path.parent} to schema version "
                            f"{step.version} would leave {len(broken)} row(s) referring to "
                            f"nothing (first in table {broken[0][0]}); nothing was changed.")
                conn.execute(
                    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, datetime.now(UTC).isoformat()),
                )
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
        finally:
            if step.foreign_keys_off and enforcing:
                conn.execute("PRAGMA foreign_keys = ON")
        applied.append(step)
    return applied


def _statements(script: str) -> list[str]:
    """Split a script into whole statements as SQLite itself reads them
    (``complete_statement``), so a semicolon inside a string literal or a trigger body
    (BEGIN ... END) never cuts a statement in two."""
    out: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if complete_statement(current):
            text = current.strip().rstrip(";").strip()
            if text:
                out.append(text)
            current = ""
    if current.strip().rstrip(";").strip():
        raise ValueError(f"migration script ends inside a statement: {current.strip()[:80]!r}")
    return out
