"""Read-only service calls over findings and detection runs."""

from __future__ import annotations

import json
from typing import Any

from oversight.criteria.pack import SEVERITIES
from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["STATUSES", "list_findings", "list_runs", "open_at_or_above"]

STATUSES = ("open", "in_review", "confirmed", "dismissed", "escalated", "pending_approval")


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise UsageError(f"Unknown {what} {value!r}; use one of: {', '.join(allowed)}.")


def list_findings(ws: Workspace, rule: str | None = None, severity: str | None = None,
                  status: str | None = None, matching: bool | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Findings, most severe first, then by rule and time."""
    ws.require(Permission.READ)
    _check(severity, SEVERITIES, "severity")
    _check(status, STATUSES, "status")
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("rule_id", rule), ("severity", severity), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if matching is not None:
        clauses.append("matching = ?")
        params.append(int(matching))
    sql = ("SELECT finding_id, pack_id, rule_id, part, severity, status, matching, stale_reason,"
           " message, facts, legal_refs, record_ids, first_run, last_run, first_ts_utc"
           " FROM findings")
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += (" ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
            " WHEN 'medium' THEN 2 ELSE 3 END, rule_id, first_ts_utc, finding_id")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    out = []
    for r in ws.conn.execute(sql, params):
        out.append({
            "id": r[0], "pack": r[1], "rule_id": r[2], "part": r[3], "severity": r[4],
            "status": r[5], "matching": bool(r[6]), "no_longer_matching_reason": r[7],
            "message": r[8], "facts": json.loads(r[9]), "legal_refs": json.loads(r[10]),
            "record_ids": json.loads(r[11]), "first_run": r[12], "last_run": r[13],
        })
    return out


def open_at_or_above(ws: Workspace, severity: str, pack_id: str | None = None,
                     rule_ids: list[str] | None = None) -> int:
    """Open, still-matching findings of ``severity`` or worse (for --fail-on), of one
    pack and, if given, only of some of its rules."""
    ws.require(Permission.READ)
    _check(severity, SEVERITIES, "severity")
    worse = list(SEVERITIES[SEVERITIES.index(severity):])
    sql = (f"SELECT count(*) FROM findings WHERE status = 'open' AND matching = 1"
           f" AND severity IN ({', '.join('?' * len(worse))})")
    params: list[Any] = worse
    if pack_id is not None:
        sql += " AND pack_id = ?"
        params.append(pack_id)
    if rule_ids:
        sql += f" AND rule_id IN ({', '.join('?' * len(rule_ids))})"
        params.extend(rule_ids)
    return int(ws.conn.execute(sql, params).fetchone()[0])


def list_runs(ws: Workspace) -> list[dict[str, Any]]:
    ws.require(Permission.READ)
    out = []
    for run_id, pack_id, version, sha, started, finished, user, summary in ws.conn.execute(
            "SELECT run_id, pack_id, pack_version, pack_sha256, started_at, finished_at, user,"
            " summary FROM runs ORDER BY run_id"):
        doc = json.loads(summary)
        out.append({"run_id": run_id, "pack": pack_id, "version": version, "pack_sha256": sha,
                    "started_at": started, "finished_at": finished, "user": user,
                    "hits": doc.get("hits", 0), "new": doc.get("new", 0),
                    "rules": doc.get("rules", [])})
    return out
