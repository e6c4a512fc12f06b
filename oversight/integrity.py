"""Digests of stored rows and the `verify` check of a whole workspace.

A batch's rows digest is SHA-256 over the stored rows in insertion order, each row
being [line, record_id, *stored columns], taken in groups of 1,000 rows: each group is
written as one compact JSON array (UTF-8, no ASCII escaping) followed by a newline.
Import computes it as rows are written; verify recomputes it from the database and
compares it with the batch and with the import's audit event (which the hash chain
protects).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.store import Connection, DbError
from oversight import audit, chainstate, verify_worker
from oversight.accountability import compact_json
from oversight.changes import Change, changes
from oversight.records import Kind, storage_columns
from oversight.retraction import retractions_in_chain
from oversight.workspace import Permission, Workspace

__all__ = ["RowDigest", "VerifyReport", "encode_group", "verify", "verify_workspace"]



GROUP = 1000


def encode_group(rows: Sequence[Sequence[Any]]) -> bytes:
    """One group of rows as the digest hashes it (without the newline)."""
    return compact_json(rows).encode("utf-8")


class RowDigest:
    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._pending: list[Sequence[Any]] = []
        self.count = 0
        self._short = False

    def update_many(self, rows: Iterable[Sequence[Any]]) -> None:
        if self._short:
            raise ValueError("rows after the final, short group of a digest")
        pending = self._pending
        for row in rows:
            pending.append(row)
            if len(pending) == GROUP:
                self._flush()

    def add_encoded(self, blob: bytes, count: int) -> bool:
        """Digest a group already encoded by ``encode_group`` (by the import's helper
        process, which thus takes the encoding off the process that stores the rows).
        Only when it falls on a group boundary: False (nothing digested) when rows are
        pending or a short, final group was digested already; then use update_many."""
        if self._pending or self._short or not 0 < count <= GROUP:
            return False
        self._h.update(blob + b"\n")
        self.count += count
        self._short = count < GROUP
        return True

    def _flush(self) -> None:
        if self._pending:
            self._h.update(encode_group(self._pending) + b"\n")
            self.count += len(self._pending)
            self._pending.clear()

    def hexdigest(self) -> str:
        self._flush()
        return self._h.hexdigest()


@dataclass
class VerifyReport:
    ok: bool = True
    cipher_ok: bool = True
    chain: audit.ChainReport | None = None
    batches_checked: int = 0
    problems: list[str] = field(default_factory=list)
    accountability: dict[str, Any] | None = None
    """Seals checked, signed and legacy events, the upgrade (see chainstate.summary)."""

    def to_json(self) -> dict[str, Any]:
        chain = self.chain
        return {
            "ok": self.ok,
            "cipher_integrity": self.cipher_ok,
            "batches_checked": self.batches_checked,
            "audit_chain": None if chain is None else {
                "ok": chain.ok,
                "events": chain.events,
                "head_seq": chain.head_seq,
                "head_hash": chain.head_hash,
                "first_bad_seq": chain.first_bad_seq,
                "problem": chain.problem,
            },
            "accountability": self.accountability,
            "problems": list(self.problems),
        }


def batch_digest(conn: Connection, kind: Kind, batch_id: int, columns: list[str]
                 ) -> tuple[str, int]:
    """Recompute a batch's rows digest over the columns its import wrote."""
    known = {"batch_id", "line", "record_id", *storage_columns(kind)}
    if not columns or not set(columns) <= known:
        return "", -1
    digest = RowDigest()
    cursor = conn.execute(
        f"SELECT {', '.join(columns)} FROM {kind.value} WHERE batch_id = ? ORDER BY rid",
        (batch_id,),
    )
    while True:
        rows = cursor.fetchmany(GROUP)
        if not rows:
            break
        digest.update_many(rows)
    return digest.hexdigest(), digest.count


def unwritten_values(conn: Connection, kind: Kind, batch_id: int, columns: list[str]) -> int:
    """Rows of the batch holding a value in a column its import did not write."""
    others = [c for c in storage_columns(kind) if c not in columns and c != "extra"]
    if not others:
        return 0
    cond = " OR ".join(f"{c} IS NOT NULL" for c in others)
    return int(conn.execute(
        f"SELECT count(*) FROM {kind.value} WHERE batch_id = ? AND ({cond})", (batch_id,)
    ).fetchone()[0])


@changes(Change.VERIFY)
def verify(ws: Workspace, progress: Callable[[int, int, str], None] | None = None
           ) -> VerifyReport:
    """The service call behind `oversight verify` and the workstation's Verify: anyone
    who may read the workspace may check it."""
    ws.require(Permission.READ)
    return verify_workspace(ws.conn, progress, helper=ws.helper_access())


def verify_workspace(
    conn: Connection, progress: Callable[[int, int, str], None] | None = None, *,
    helper: tuple[Path, bytes] | None = None,
) -> VerifyReport:
    """Check everything and report every problem found; a damaged database is one of
    them, not a crash. ``helper``: the database and key a helper process may open to
    check a long audit trail on a second core (oversight.verify_worker)."""
    report = VerifyReport()
    try:
        _verify(conn, report, progress or (lambda done, total, stage: None), helper)
    except DbError as exc:
        report.cipher_ok = False
        report.problems.append(
            f"The database is damaged and could not be read to the end ({exc}); restore it "
            "from a backup."
        )
    report.ok = not report.problems
    return report


def _verify(conn: Connection, report: VerifyReport,
            tick: Callable[[int, int, str], None], helper: tuple[Path, bytes] | None) -> None:
    cipher = [str(r[0]) for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    quick = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    if cipher or quick != ["ok"]:
        report.cipher_ok = False
        detail = "; ".join(cipher + [q for q in quick if q != "ok"])[:500]
        report.problems.append(f"The database pages fail the integrity check: {detail}")
    total_events = int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])
    tick(0, total_events, "audit trail")
    with chainstate.paused_gc():
        sealed = chainstate.has_seals(conn)
        on_two_cores = verify_worker.check_audit(
            conn, *helper, total_events, lambda n: tick(n, total_events, "audit trail")
        ) if helper is not None and sealed and total_events >= verify_worker.PARALLEL_FROM \
            else None
        if on_two_cores is not None:
            report.chain, checker = on_two_cores
        else:
            checker = chainstate.Checker(conn) if sealed else None
            report.chain = audit.verify_chain(
                conn, lambda n: tick(n, total_events, "audit trail"),
                visit=None if checker is None else checker.visit)
            if report.chain.ok and checker is not None:
                checker.finish()
        if not report.chain.ok:
            report.problems.append(f"Audit trail: {report.chain.problem}")
        elif checker is not None:
            # Who did what, with which right, and every row that records it, re-derived
            # from the chain and its seals (oversight/accountability.py).
            report.problems.extend(checker.lines())
            report.accountability = chainstate.summary(checker.replay.derived)
    events = _import_events(conn)
    batches = conn.execute(
        "SELECT batch_id, kind, file_name, sha256, rows_imported, rows_digest, columns"
        " FROM batches ORDER BY batch_id"
    ).fetchall()
    for n, (batch_id, kind, file_name, sha, count, stored_digest, cols_json) in enumerate(
            batches, 1):
        tick(n - 1, len(batches), "imported rows")
        label = f"Batch {batch_id} ({file_name})"
        try:
            columns = [str(c) for c in json.loads(cols_json)]
        except (ValueError, TypeError, RecursionError):
            columns = []
        digest, actual = batch_digest(conn, Kind(kind), batch_id, columns)
        if actual < 0:
            report.problems.append(f"{label}: its list of written columns is damaged.")
        elif actual != count:
            report.problems.append(
                f"{label}: {actual} rows are stored but the import recorded {count}."
            )
        elif digest != stored_digest:
            report.problems.append(f"{label}: stored rows have been altered since import.")
        elif unwritten_values(conn, Kind(kind), batch_id, columns):
            report.problems.append(
                f"{label}: values were added to fields the import left empty."
            )
        event = events.get(batch_id)
        if event is None:
            report.problems.append(f"{label}: no import event in the audit trail records it.")
        elif (event.get("rows_digest") != stored_digest or event.get("sha256") != sha
              or event.get("columns") != columns):
            report.problems.append(
                f"{label}: the batch record differs from what the audit trail recorded at import."
            )
        report.batches_checked += 1
    tick(len(batches), len(batches), "imported rows")
    for kind in Kind:
        orphans = int(conn.execute(
            f"SELECT count(*) FROM {kind.value} WHERE batch_id NOT IN"
            " (SELECT batch_id FROM batches)").fetchone()[0])
        if orphans:
            report.problems.append(
                f"{orphans} {kind.value} row(s) belong to no import batch (added outside "
                "an import).")
    _check_retractions(conn, report)
    recorded = {int(b) for b in events}
    for missing in sorted(recorded - {int(b[0]) for b in batches}):
        report.problems.append(
            f"Batch {missing} is recorded in the audit trail but is missing from the workspace."
        )


def _check_retractions(conn: Connection, report: VerifyReport) -> None:
    """A batch is retracted exactly when, by whom and why a ``batch.retract`` event of
    the audit chain says (oversight.retraction); its rows are checked like any other."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(batches)")}
    if "retracted_at" not in columns:
        return
    expected = retractions_in_chain(conn)
    actual = {int(r[0]): (r[1], r[2], r[3], r[4]) for r in conn.execute(
        "SELECT batch_id, retracted_at, retracted_by, retraction_reason, sha256 FROM batches"
        " WHERE retracted_at IS NOT NULL OR batch_id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(expected)),))}
    for batch_id in sorted(set(actual) | set(expected)):
        row, event = actual.get(batch_id), expected.get(batch_id)
        if event is None:
            report.problems.append(f"Batch {batch_id} is marked retracted, but no retraction "
                                   "in the audit trail records it.")
        elif row is None:
            report.problems.append(f"Batch {batch_id} is retracted in the audit trail but "
                                   "missing from the workspace.")
        elif row[:3] != (event.get("retracted_at"), event.get("user"), event.get("reason")) \
                or row[3] != event.get("sha256"):
            state = "not retracted" if row[0] is None else "retracted differently"
            when = str(event.get("retracted_at"))[:10]
            report.problems.append(f"Batch {batch_id} is {state} in the workspace, but the "
                                   "audit trail records its retraction "
                                   f"by {event.get('user')} on {when}.")


def _import_events(conn: Connection) -> dict[int, dict[str, Any]]:
    """The batch each import event records, and each batch a received review package
    brought (``package.import``, oversight.exchange: records the same fields per batch)."""
    out: dict[int, dict[str, Any]] = {}
    for action, payload in conn.execute(
            "SELECT action, payload FROM audit_events WHERE action IN ('import',"
            " 'package.import')"):
        try:
            data = json.loads(payload)
            for batch in (data.get("batches") or [] if action == "package.import" else [data]):
                out[int(batch["batch_id"])] = batch
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue
    return out
