"""Retracting an import batch: a wrong import undone without deleting anything.

An admin, or the user who imported it, retracts a batch with a reason. Its rows stay
in the database (their digests are still checked by ``verify``), but from then on they
leave every query, count and detection run: readers go through the ``live_operations``,
``live_authorisations`` and ``live_cases`` views (db.migrations, schema 6), which hide
the rows of retracted batches. Findings that rested only on its records are kept, with
their decisions and notes, and labelled "source retracted" (no longer matching). The
same file may then be imported again.

The audit event ``batch.retract`` carries everything needed to re-derive the retraction
from the chain alone: the batch id, its file, kind, SHA-256 and rows digest, who, when,
the reason and the findings it labelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oversight.changes import Change, changes
from oversight.errors import PermissionDenied, UsageError
from oversight.records import Kind
from oversight.workspace import Permission, Role, Workspace

__all__ = ["LIVE", "SOURCE_RETRACTED", "Retraction", "live", "live_table", "retract_batch",
           "retraction_label", "retractions_in_chain", "why_not_retract"]

#: The views every reader uses instead of the record tables.
LIVE = {Kind.OPERATIONS: "live_operations", Kind.AUTHORISATIONS: "live_authorisations",
        Kind.CASES: "live_cases"}
#: How a finding whose records were all retracted is labelled (its stale reason).
SOURCE_RETRACTED = "source retracted"


def live(kind: Kind) -> str:
    """The view of ``kind``'s records that are not retracted."""
    return LIVE[kind]


def live_table(conn: Any, kind: Kind) -> str:
    """What to read ``kind``'s live records from: the view when a batch of that kind is
    retracted, else the table itself (the same rows). The view must look at each row's
    batch, which a query answered from an index alone (a filtered count in the
    operations browser) would otherwise not read: with nothing retracted, it need not."""
    retracted = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM batches WHERE kind = ? AND retracted_at IS NOT NULL)",
        (kind.value,)).fetchone()[0]
    return LIVE[kind] if retracted else kind.value


@dataclass(frozen=True)
class Retraction:
    """What retracting a batch did."""

    batch_id: int
    kind: str
    file: str
    sha256: str
    rows_imported: int
    reason: str
    retracted_by: str
    retracted_at: str
    findings_labelled: list[str] = field(default_factory=list)
    """Findings that rested only on this batch's records, now labelled."""
    findings_partly: int = 0
    """Findings resting on these records and on others: a new detection run decides."""

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "kind": self.kind, "file": self.file,
                "sha256": self.sha256, "rows_imported": self.rows_imported,
                "reason": self.reason, "retracted_by": self.retracted_by,
                "retracted_at": self.retracted_at,
                "findings_labelled": list(self.findings_labelled),
                "findings_partly": self.findings_partly}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def retraction_label(batch_id: int, file: str, user: str, when: str, reason: str) -> str:
    """The stale reason of a finding whose records were all retracted."""
    return (f"{SOURCE_RETRACTED}: batch {batch_id} ({file}) was retracted by {user} on "
            f"{when[:10]}: {reason}")


def _batch(ws: Workspace, batch_id: int) -> tuple[Any, ...]:
    row = ws.conn.execute(
        "SELECT batch_id, kind, file_name, sha256, rows_imported, rows_digest, imported_by,"
        " retracted_at, retracted_by FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
    if row is None:
        raise UsageError(f"There is no batch {batch_id}; `oversight imports` lists them.")
    return tuple(row)


def why_not_retract(ws: Workspace, batch_id: int) -> str | None:
    """Why the acting user may not retract this batch (None: they may)."""
    row = _batch(ws, batch_id)
    if row[7] is not None:
        return (f"Batch {batch_id} ({row[2]}) was already retracted by {row[8]} on "
                f"{str(row[7])[:10]}.")
    if ws.role is Role.ADMIN:
        return None
    if ws.can(Permission.IMPORT) and row[6] == ws.user:
        return None
    return (f"Only an admin or the user who imported batch {batch_id} ({row[6]}) may "
            f"retract it; you are {ws.user} ({ws.role.value}).")


@changes(Change.BATCHES, Change.OPERATIONS, Change.FINDINGS)
def retract_batch(ws: Workspace, batch_id: int, reason: str) -> Retraction:
    """Retract batch ``batch_id`` with ``reason`` (required); one transaction."""
    ws.require(Permission.READ)
    text = reason.strip()
    if not text:
        raise UsageError("Give the reason for retracting the batch (--reason): it is kept "
                         "in the audit trail and shown with every finding it affects.")
    row = _batch(ws, batch_id)
    problem = why_not_retract(ws, batch_id)
    if problem is not None:
        if row[7] is not None:
            raise UsageError(problem)
        raise PermissionDenied(problem)
    _, kind, file, sha, rows_imported, rows_digest, _by, _at, _rby = row
    now = _now()
    label = retraction_label(batch_id, str(file), ws.user, now, text)
    with ws.write() as conn:
        conn.execute("UPDATE batches SET retracted_at = ?, retracted_by = ?,"
                     " retraction_reason = ? WHERE batch_id = ?", (now, ws.user, text, batch_id))
        labelled: list[str] = []
        partly = 0
        if kind == Kind.OPERATIONS.value:
            labelled, partly = _label_findings(conn, batch_id, label)
        ws.record("batch.retract", {
            "batch_id": batch_id, "kind": kind, "file": file, "sha256": sha,
            "rows_imported": rows_imported, "rows_digest": rows_digest, "reason": text,
            "retracted_at": now, "findings_labelled": labelled, "label": label,
        })
    return Retraction(int(batch_id), str(kind), str(file), str(sha), int(rows_imported), text,
                      ws.user, now, labelled, partly)


def _label_findings(conn: Any, batch_id: int, label: str) -> tuple[list[str], int]:
    """Label the findings all of whose records are retracted now (whatever label they
    had); count those resting partly on this batch."""
    touched = [str(r[0]) for r in conn.execute(
        "SELECT DISTINCT r.finding_id FROM finding_records r JOIN operations o ON o.rid = r.rid"
        " WHERE o.batch_id = ? ORDER BY r.finding_id", (batch_id,))]
    only: list[str] = []
    partly = 0
    for fid in touched:
        live_rows = conn.execute(
            "SELECT count(*) FROM finding_records r JOIN live_operations o ON o.rid = r.rid"
            " WHERE r.finding_id = ?", (fid,)).fetchone()[0]
        if live_rows:
            partly += 1
        else:
            only.append(fid)
    conn.executemany(
        "UPDATE findings SET matching = 0, stale_since_run = NULL, stale_reason = ?"
        " WHERE finding_id = ?", [(label, fid) for fid in only])
    return only, partly


def retractions_in_chain(conn: Any) -> dict[int, dict[str, Any]]:
    """The retractions the audit chain records, by batch id (for verify)."""
    out: dict[int, dict[str, Any]] = {}
    for user, payload in conn.execute(
            "SELECT user, payload FROM audit_events WHERE action = 'batch.retract' ORDER BY seq"):
        try:
            doc = json.loads(payload)
            out[int(doc["batch_id"])] = {**doc, "user": user}
        except (ValueError, KeyError, TypeError, RecursionError):
            continue
    return out
