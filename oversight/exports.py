"""Exports of findings with their decisions and notes, for other tools and archives.

CSV cells that a spreadsheet would evaluate are neutralised (oversight.csvsafe); files
are written atomically. JSON keeps every value exactly (notes byte-exact)."""

from __future__ import annotations

import json
from pathlib import Path

from db.keyslots import write_atomic
from oversight.csvsafe import write_csv
from oversight.errors import UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.safefile import check_output_path
from oversight.triage import all_notes
from oversight.workspace import Permission, Workspace

__all__ = ["export_findings"]

CSV_COLUMNS = ["id", "rule_id", "severity", "status", "reason", "matching", "assignee",
               "decided_by", "approved_by", "message", "record_ids", "legal_refs", "notes"]


def export_findings(ws: Workspace, out: Path, rule: str | None = None,
                    severity: str | None = None, status: str | None = None) -> int:
    """Write findings to ``out`` (.csv or .json); return how many."""
    ws.require(Permission.READ)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise UsageError(f"Export to a .csv or .json file, not {out.name!r}.")
    if not out.parent.is_dir():
        raise UsageError(f"The folder {out.parent} does not exist.")
    check_output_path(out, True, "export file")  # a folder or link: before any work
    rows = list_findings(ws, FindingFilters(rule=rule, severity=severity, status=status))
    notes = all_notes(ws)  # one query, not one per finding
    docs = [{**f, "notes": notes.get(f["id"], [])} for f in rows]
    if suffix == ".json":
        payload = json.dumps({"workspace_id": ws.workspace_id, "findings": docs},
                             ensure_ascii=False, indent=2)
        write_atomic(out, payload.encode("utf-8"), mode=0o600)
    else:
        write_csv(out, CSV_COLUMNS, (
            [d["id"], d["rule_id"], d["severity"], d["status"], d["reason"],
             "yes" if d["matching"] else "no", d["assignee"], d["decided_by"],
             d["approved_by"], d["message"], ";".join(d["record_ids"]),
             "; ".join(d["legal_refs"]),
             "\n".join(f"[{n['ts'][:19]} {n['user']}] {n['text']}" for n in d["notes"])]
            for d in docs))
    return len(docs)
