"""Is the log itself complete and read correctly? One read-only view for the report's
"Log quality" section and the workstation's Log quality page.

Two sources: the warnings each import raised (no time, implausible times, local times
that happened twice, repeated rows), stored with its batch; and the findings of the
log-completeness rules of the latest detection run (the rules tagged ``log_quality``:
DQ-01 to DQ-05 in led-baseline), which are triaged like any other finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oversight import queries
from oversight.criteria.pack import parse_pack
from oversight.errors import ValidationError
from oversight.findings import list_findings, list_runs
from oversight.importing.quality import import_times
from oversight.workspace import Permission, Workspace

__all__ = ["TAG", "batch_import_times", "overview"]

TAG = "log_quality"


def batch_import_times(ws: Workspace) -> dict[int, int]:
    """Each batch's import time in UTC microseconds (what a plausible ``ts`` is judged
    against)."""
    ws.require(Permission.READ)
    return import_times(ws.conn.execute("SELECT batch_id, imported_at FROM batches"))


def overview(ws: Workspace, finding_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Import warnings per batch, the log-quality rules of the latest run (evaluated or
    not, and why) and their findings (only ``finding_ids``, if given).

    ``{"batches": [{batch_id, file, kind, rows_imported, warnings, missing_markers}],
    "rules": [{id, title, severity, evaluated, reason, note, findings}],
    "findings": [{id, rule_id, severity, status, message, matching, record_ids}],
    "run_id": int | None}``; a batch's ``warnings`` is None when it was imported before
    warnings were recorded."""
    ws.require(Permission.READ)
    batches = [{k: b[k] for k in ("batch_id", "file", "kind", "rows_imported", "warnings",
                                  "missing_markers")} for b in queries.batches(ws)]
    runs = list_runs(ws)
    doc: dict[str, Any] = {"batches": batches, "rules": [], "findings": [],
                           "run_id": runs[-1]["run_id"] if runs else None}
    if not runs:
        return doc
    latest = runs[-1]
    row = ws.conn.execute("SELECT source FROM packs WHERE pack_sha256 = ?",
                          (latest["pack_sha256"],)).fetchone()
    try:
        pack = parse_pack(row[0], "stored pack") if row is not None else None
    except ValidationError:
        pack = None
    tagged = {r.id: r for r in pack.rules if TAG in r.tags} if pack is not None else {}
    wanted = None if finding_ids is None else set(finding_ids)
    found = [f for f in list_findings(ws) if f["rule_id"] in tagged
             and (wanted is None or f["id"] in wanted)]
    outcomes = {r["rule_id"]: r for r in latest["rules"]}
    for rule_id, rule in tagged.items():
        outcome = outcomes.get(rule_id)
        doc["rules"].append({
            "id": rule_id, "title": rule.title, "severity": rule.severity,
            "legal_refs": list(rule.legal_refs),
            "run": outcome is not None,
            "evaluated": bool(outcome and outcome.get("evaluated")),
            "reason": outcome.get("reason") if outcome else "not part of the latest run",
            "note": outcome.get("note") if outcome else None,
            "findings": sum(1 for f in found if f["rule_id"] == rule_id and f["matching"]),
        })
    doc["findings"] = [{k: f[k] for k in ("id", "rule_id", "severity", "status", "message",
                                          "matching", "record_ids", "facts")} for f in found]
    return doc
