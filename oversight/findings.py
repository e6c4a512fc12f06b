"""Read-only service calls over findings and detection runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from oversight import stored
from oversight.criteria.pack import SEVERITIES
from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["DECIDED", "SEVERITY_RANK", "STATUSES", "FindingFilters", "like_pattern",
           "list_findings", "list_runs", "open_at_or_above"]

STATUSES = ("open", "in_review", "confirmed", "dismissed", "escalated", "pending_approval")


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise UsageError(f"Unknown {what} {value!r}; use one of: {', '.join(allowed)}.")


#: A FindingFilters status meaning "confirmed or dismissed" (the dashboard's Decided).
DECIDED = "decided"
#: Most severe first, in SQL.
SEVERITY_RANK = ("CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
                 " WHEN 'medium' THEN 2 ELSE 3 END")
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class FindingFilters:
    """Which findings to list; every part given must match (AND). The one filter of
    ``oversight findings``, the triage lists, the dashboard's counts and reports."""

    status: str | None = None
    """A status, or DECIDED (confirmed or dismissed)."""
    severity: str | None = None
    rule: str | None = None
    text: str = ""
    """Words that must each occur in the message, rule id, finding id or assignee."""
    assignee: str | None = None
    matching: bool | None = None
    """True: still matching; False: no longer matching; None: both."""
    pending_for: str | None = None
    """Only findings waiting for approval that this user may approve (someone else
    made the decision)."""
    month: str | None = None
    """YYYY-MM: only findings whose first record falls in that UTC month (the
    dashboard's findings-over-time columns)."""


_COLUMNS = (
    ("id", "finding_id"), ("pack", "pack_id"), ("rule_id", "rule_id"), ("part", "part"),
    ("severity", "severity"), ("status", "status"), ("matching", "matching"),
    ("no_longer_matching_reason", "stale_reason"), ("message", "message"),
    ("facts", "facts"), ("legal_refs", "legal_refs"), ("record_ids", "record_ids"),
    ("first_run", "first_run"), ("last_run", "last_run"), ("first_ts_utc", "first_ts_utc"),
    ("reason", "reason"), ("assignee", "assignee"), ("pending_status", "pending_status"),
    ("pending_by", "pending_by"), ("decided_by", "decided_by"),
    ("decided_at", "decided_at"), ("approved_by", "approved_by"),
    ("notes", "(SELECT count(*) FROM finding_notes n"
              " WHERE n.finding_id = findings.finding_id)"),
)
_JSON = frozenset({"facts", "legal_refs", "record_ids"})


def list_findings(ws: Workspace, filters: FindingFilters | None = None, limit: int | None = None
         ) -> list[dict[str, Any]]:
    """Findings, most severe first, then by rule, time and id: the one reader of
    findings for the CLI, the GUI's lists, exports and reports.

    Each row holds the finding (id, pack, rule_id, part, severity, message, facts,
    legal_refs, record_ids, first/last run, first_ts_utc), whether it still matches
    (and why not), and its triage state (status, reason, assignee, pending approval,
    who decided and when, how many notes)."""
    ws.require(Permission.READ)
    f = filters or FindingFilters()
    _check(f.severity, SEVERITIES, "severity")
    if f.status is not None and f.status not in (*STATUSES, DECIDED):
        raise UsageError(f"Unknown status {f.status!r}; use one of: {', '.join(STATUSES)} "
                         f"(or {DECIDED}: confirmed or dismissed).")
    clauses: list[str] = []
    params: list[Any] = []
    if f.status == DECIDED:
        clauses.append("status IN ('confirmed', 'dismissed')")
    for column, value in (("status", None if f.status == DECIDED else f.status),
                          ("severity", f.severity), ("rule_id", f.rule),
                          ("assignee", f.assignee)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.month is not None:
        start, end = _month_bounds(f.month)
        clauses.append("first_ts_utc >= ? AND first_ts_utc < ?")
        params.extend([start, end])
    if f.matching is not None:
        clauses.append("matching = ?")
        params.append(int(f.matching))
    if f.pending_for is not None:
        clauses.append("status = 'pending_approval' AND coalesce(pending_by, '') != ?")
        params.append(f.pending_for)
    for word in f.text.split():
        searched = ("message", "rule_id", "finding_id", "assignee")
        clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in searched)
                       + ")")
        params.extend([like_pattern(word)] * len(searched))
    sql = f"SELECT {', '.join(expr for _, expr in _COLUMNS)} FROM findings"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY {SEVERITY_RANK}, rule_id, first_ts_utc, finding_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    keys = [key for key, _ in _COLUMNS]
    out = []
    for r in ws.conn.execute(sql, params):
        row = dict(zip(keys, r, strict=True))
        for key in _JSON:
            row[key] = stored.json_dict(row[key]) if key == "facts" \
                else stored.json_list(row[key])
        row["matching"] = bool(row["matching"])
        out.append(row)
    return out


def like_pattern(word: str, prefix: bool = False) -> str:
    """``word`` as a LIKE pattern (with ESCAPE '\\'): a substring, or a prefix."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _month_bounds(month: str) -> tuple[int, int]:
    """A UTC month (YYYY-MM) as [start, end) in microseconds since the epoch."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=UTC)
    except ValueError:
        raise UsageError(f"Month {month!r} is not YYYY-MM.") from None
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return ((start - epoch) // _MICRO, (end - epoch) // _MICRO)


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
        doc = stored.json_dict(summary)
        out.append({"run_id": run_id, "pack": pack_id, "version": version, "pack_sha256": sha,
                    "started_at": started, "finished_at": finished, "user": user,
                    "hits": doc.get("hits", 0), "new": doc.get("new", 0),
                    "rules": doc.get("rules", [])})
    return out
