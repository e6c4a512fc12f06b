"""What the workspace knows of its scans (``oversight scan``): their provenance, read back.

A scan records one ``batch.scan`` audit event (the engine and its version, the pack,
and every source file with its size, modification time, SHA-256 or "not computed",
rows read and rejected) beside the batches of the records it brought back. The audit
chain is the record of it, so this module reads the provenance from there: the
dashboard, the Sources page and the report's scope section show it. Read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oversight.workspace import Permission, Workspace

__all__ = ["ENGINE_NAMES", "NOT_COMPUTED", "ScanProvenance", "ScannedFile",
           "batch_scans", "scans", "summary_line"]

#: How the engines are named to people.
ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark"}
#: What a scan run with --no-hash records instead of a file's SHA-256.
NOT_COMPUTED = "not computed"


@dataclass(frozen=True)
class ScannedFile:
    """One source file of a scan, as the scan recorded it."""

    file: str
    """The path as given to the scan."""
    format: str
    size: int
    """Bytes."""
    mtime: str
    """Modification time (ISO 8601, UTC) when the scan read it."""
    sha256: str | None
    """None: not computed (--no-hash)."""
    rows_read: int
    rows_rejected: int
    records_cited: int
    """Records of this file that findings cite (the only ones brought back)."""
    batch_id: int | None


@dataclass(frozen=True)
class ScanProvenance:
    """One scan: which engine read which files, when, by whom, with which pack."""

    seq: int
    """The audit event's sequence number."""
    at: str
    user: str
    engine: str
    """The engine's id: duckdb or spark."""
    engine_version: str
    pack: str
    pack_version: str
    pack_sha256: str
    files: tuple[ScannedFile, ...]
    not_evaluated: dict[str, str]
    """Rule id -> why the scan could not evaluate it."""

    @property
    def engine_name(self) -> str:
        return ENGINE_NAMES.get(self.engine, self.engine)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def hashes(self) -> str:
        """computed, not computed, or partly computed."""
        known = [f.sha256 is not None for f in self.files]
        if all(known):
            return "computed"
        return NOT_COMPUTED if not any(known) else "partly computed"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _file(doc: Any) -> ScannedFile | None:
    if not isinstance(doc, dict):
        return None
    sha = doc.get("sha256")
    batch = doc.get("batch_id")
    return ScannedFile(
        file=str(doc.get("file", "")), format=str(doc.get("format", "")),
        size=_int(doc.get("size")), mtime=str(doc.get("mtime", "")),
        sha256=sha if isinstance(sha, str) and sha != NOT_COMPUTED else None,
        rows_read=_int(doc.get("rows_read")), rows_rejected=_int(doc.get("rows_rejected")),
        records_cited=_int(doc.get("records_cited")),
        batch_id=batch if isinstance(batch, int) and not isinstance(batch, bool) else None)


def _scan(seq: int, at: str, user: str, payload: dict[str, Any]) -> ScanProvenance:
    files = tuple(f for f in map(_file, payload.get("files") or []) if f is not None)
    skipped = payload.get("not_evaluated")
    return ScanProvenance(
        seq=seq, at=at, user=user, engine=str(payload.get("engine", "")),
        engine_version=str(payload.get("engine_version", "")),
        pack=str(payload.get("pack", "")), pack_version=str(payload.get("version", "")),
        pack_sha256=str(payload.get("pack_sha256", "")), files=files,
        not_evaluated={str(k): str(v) for k, v in skipped.items()}
        if isinstance(skipped, dict) else {})


def scans(ws: Workspace, include_retracted: bool = False) -> list[ScanProvenance]:
    """Every scan of the workspace, oldest first. Unless ``include_retracted``, a scan
    whose batches are all retracted is left out (its records left the workspace)."""
    ws.require(Permission.READ)
    live = {int(b) for (b,) in ws.conn.execute(
        "SELECT batch_id FROM batches WHERE retracted_at IS NULL")}
    out = []
    for seq, at, user, payload in ws.conn.execute(
            "SELECT seq, ts, user, payload FROM audit_events WHERE action = 'batch.scan'"
            " ORDER BY seq"):
        try:
            doc = json.loads(payload)
        except (ValueError, TypeError, RecursionError):
            continue  # verify reports a damaged event; nothing to show of it here
        if not isinstance(doc, dict):
            continue
        found = _scan(int(seq), str(at), str(user), doc)
        if include_retracted or any(f.batch_id in live for f in found.files):
            out.append(found)
    return out


def batch_scans(ws: Workspace) -> dict[int, tuple[ScanProvenance, ScannedFile]]:
    """Per batch that a scan brought back, the latest scan of its file and that file's
    entry (a re-scan of the same file keeps the batch and records a newer scan)."""
    out: dict[int, tuple[ScanProvenance, ScannedFile]] = {}
    for found in scans(ws, include_retracted=True):
        for f in found.files:
            if f.batch_id is not None:
                out[f.batch_id] = (found, f)
    return out


def summary_line(found: ScanProvenance) -> str:
    """"3 files, 200,000,000 rows scanned in place by DuckDB 2.0.1; hashes: computed"."""
    n = len(found.files)
    return (f"{n:,} file{'' if n == 1 else 's'}, {found.rows_read:,} "
            f"row{'' if found.rows_read == 1 else 's'} scanned in place by "
            f"{found.engine_name} {found.engine_version}; hashes: {found.hashes}")
