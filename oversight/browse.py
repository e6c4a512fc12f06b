"""Read-only service calls behind the GUI's big tables: ids first, rows on demand.

Like Anki's browser, a view keeps only the list of row ids that match its filter, in
its sort order (``rids``), and fetches just the rows it is showing (``rows``); sorting
or filtering produces a new id list, and a selection survives because it is keyed by
id. Every value typed by a user travels as an SQL parameter; column names come from
the record catalogue (`oversight.records`) or fixed tables here, never from user text.
Operations of a retracted batch are never shown or counted (`retraction.live_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from oversight import columns
from oversight.criteria.pack import SEVERITIES
from oversight.errors import UsageError
from oversight.findings import STATUSES
from oversight.queries import records
from oversight.records import FieldType, Kind, fields_of
from oversight.retraction import live_table
from oversight.workspace import Permission, Workspace

__all__ = [
    "DECIDED",
    "TEXT_COLUMNS",
    "Filters",
    "FindingFilters",
    "count",
    "finding_rows",
    "findings_of_record",
    "parse_query",
    "rids",
    "rows",
    "sort_keys",
    "values",
]

#: Columns that free text searches (case-insensitive substring, every word somewhere).
TEXT_COLUMNS = ("record_id", "actor_id", "agency", "case_id", "subject_ids",
                "authorisation_id", "justification", "legal_basis", "recipient_id",
                "offence")
#: Row ids fetched per query in rows(): well under SQLite's parameter limit.
_CHUNK = 500
_OPS = fields_of(Kind.OPERATIONS)
#: Sort keys beyond the canonical fields, and the SQL each one sorts by.
_EXTRA_SORTS = {"rid": "rid", "record_id": "record_id", "batch_id": "batch_id, line",
                "line": "line"}
#: Columns with an index (db.migrations), which values() can skip through.
_INDEXED = frozenset({"action"})
_SEVERITY_RANK = ("CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1"
                  " WHEN 'medium' THEN 2 ELSE 3 END")


@dataclass(frozen=True)
class Filters:
    """Which operations a view shows; every part given must match (AND)."""

    text: str = ""
    """Words that must each occur in one of TEXT_COLUMNS (case-insensitive)."""
    where: tuple[tuple[str, str], ...] = ()
    """FIELD=VALUE pairs with the meaning of ``oversight records --where``: canonical
    fields by value (a list contains it, a timestamp by prefix), original columns kept in
    ``extra``, the original header of a mapped column as its field; an unknown name is
    refused (`oversight.columns`)."""
    since: date | datetime | None = None
    """From this moment on. A date compares with the record's own (local) date."""
    until: date | datetime | None = None
    """Up to this moment, inclusive. A date means through the end of that local day."""
    action: str | None = None
    """Exactly this action word."""
    actor: str | None = None
    """actor_id starting with this text (so an agency prefix selects its officers)."""
    batch_id: int | None = None
    """Only this import batch."""


#: A FindingFilters status meaning "confirmed or dismissed" (the dashboard's Decided).
DECIDED = "decided"
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class FindingFilters:
    """Which findings a triage list shows."""

    status: str | None = None
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


def parse_query(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Split a search box into free text and FIELD=VALUE pairs.

    Double quotes group words (``justification="night shift"``); an unbalanced quote
    runs to the end rather than being refused, because the box is searched as you type.
    Apostrophes are ordinary characters (O'Brien).
    """
    tokens = _tokens(text)
    words: list[str] = []
    where: list[tuple[str, str]] = []
    for token in tokens:
        name, sep, value = token.partition("=")
        if sep and name.strip():
            where.append((name.strip(), value))
        elif token.strip():
            words.append(token)
    return " ".join(words), tuple(where)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    current: list[str] = []
    quoted = started = False
    for ch in text:
        if ch == '"':
            quoted, started = not quoted, True
        elif ch.isspace() and not quoted:
            if started:
                tokens.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        tokens.append("".join(current))
    return tokens


def sort_keys() -> list[str]:
    """Every key ``rids`` can sort by."""
    return [*_EXTRA_SORTS, *_OPS]


def count(ws: Workspace, filters: Filters | None = None) -> int:
    """How many operations match, without fetching their ids (retracted batches are
    not counted)."""
    ws.require(Permission.READ)
    where, params = _where(ws, filters or Filters())
    table = live_table(ws.conn, Kind.OPERATIONS)
    return int(ws.conn.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()[0])


def rids(ws: Workspace, filters: Filters | None = None, sort: str = "rid",
         descending: bool = False) -> list[int]:
    """Row ids of the matching operations in display order (ties in import order)."""
    ws.require(Permission.READ)
    order = _order(sort, descending)
    where, params = _where(ws, filters or Filters())
    table = live_table(ws.conn, Kind.OPERATIONS)
    if not where and sort == "rid":
        # Operations are only ever appended, so their row ids are usually 1..N without
        # gaps: then the list is a range, with no need to read a million rows.
        n = ws.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        low, high = ws.conn.execute(f"SELECT min(rid), max(rid) FROM {table}").fetchone()
        if n and high - low + 1 == n:
            ids = range(int(high), int(low) - 1, -1) if descending else range(low, high + 1)
            return list(ids)
    sql = f"SELECT rid FROM {table}{where} ORDER BY {order}"
    return [int(r[0]) for r in ws.conn.execute(sql, params)]


def rows(ws: Workspace, row_ids: list[int]) -> list[dict[str, Any]]:
    """The operations with these row ids, in the order given (unknown ids are left out):
    each a dict of rid, batch_id, line, record_id, canonical ``fields`` and ``extra``."""
    ws.require(Permission.READ)
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(row_ids), _CHUNK):
        part = row_ids[start:start + _CHUNK]
        for rec in records(ws, Kind.OPERATIONS, None, None, rid_in=part):
            found[int(rec["rid"])] = rec
    return [found[r] for r in row_ids if r in found]


def values(ws: Workspace, field: str, limit: int = 500) -> list[str]:
    """Distinct values of a canonical text or word field, sorted (for filter menus)."""
    ws.require(Permission.READ)
    spec = _OPS.get(field)
    if spec is None or spec.type not in (FieldType.TEXT, FieldType.WORD, FieldType.COUNTRY):
        raise UsageError(f"{field!r} is not a text field of operations.")
    col = spec.name
    table = live_table(ws.conn, Kind.OPERATIONS)
    if col in _INDEXED:
        # Skip through the index one distinct value at a time (a few dozen look-ups)
        # instead of reading a million index entries.
        sql = (f"WITH RECURSIVE v(x) AS (SELECT min({col}) FROM {table} UNION ALL "
               f"SELECT (SELECT min({col}) FROM {table} WHERE {col} > v.x) FROM v "
               f"WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL LIMIT ?")
    else:
        sql = (f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL"
               f" ORDER BY {col} LIMIT ?")
    return [str(r[0]) for r in ws.conn.execute(sql, (limit,))]


def finding_rows(ws: Workspace, filters: FindingFilters | None = None) -> list[dict[str, Any]]:
    """Findings for a triage list, most severe first, then by rule and time; the columns
    a list shows (assignee and pending approval included), not the facts."""
    ws.require(Permission.READ)
    f = filters or FindingFilters()
    if f.severity is not None and f.severity not in SEVERITIES:
        raise UsageError(f"Unknown severity {f.severity!r}; use one of: "
                         f"{', '.join(SEVERITIES)}.")
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
        columns = ("message", "rule_id", "finding_id", "assignee")
        clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
        params.extend([_like(word)] * len(columns))
    sql = ("SELECT finding_id, rule_id, severity, status, reason, assignee, message, matching,"
           " pending_status, pending_by, decided_by, decided_at, first_ts_utc,"
           " (SELECT count(*) FROM finding_notes n WHERE n.finding_id = findings.finding_id)"
           " FROM findings")
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY {_SEVERITY_RANK}, rule_id, first_ts_utc, finding_id"
    keys = ("id", "rule_id", "severity", "status", "reason", "assignee", "message",
            "matching", "pending_status", "pending_by", "decided_by", "decided_at",
            "first_ts_utc", "notes")
    out = []
    for r in ws.conn.execute(sql, params):
        row = dict(zip(keys, r, strict=True))
        row["matching"] = bool(row["matching"])
        out.append(row)
    return out


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


def findings_of_record(ws: Workspace, rid: int) -> list[dict[str, Any]]:
    """The findings an operation is part of (for the record's detail pane)."""
    ws.require(Permission.READ)
    sql = ("SELECT f.finding_id, f.rule_id, f.severity, f.status, f.message FROM findings f"
           " JOIN finding_records r ON r.finding_id = f.finding_id WHERE r.rid = ?"
           f" ORDER BY {_SEVERITY_RANK}, f.rule_id, f.finding_id")
    keys = ("id", "rule_id", "severity", "status", "message")
    return [dict(zip(keys, r, strict=True)) for r in ws.conn.execute(sql, (rid,))]


# -- building the query -------------------------------------------------------------------


def _order(sort: str, descending: bool) -> str:
    if sort in _EXTRA_SORTS:
        expr = _EXTRA_SORTS[sort]
    elif sort in _OPS:
        spec = _OPS[sort]
        expr = f"{spec.name}_utc" if spec.type is FieldType.TIMESTAMP else spec.name
    else:
        raise UsageError(f"Operations cannot be sorted by {sort!r}; sort by one of: "
                         f"{', '.join(sort_keys())}.")
    way = " DESC" if descending else ""
    parts = [f"{p.strip()}{way}" for p in expr.split(",")]
    if sort != "rid":
        parts.append(f"rid{way}")
    return ", ".join(parts)


def _where(ws: Workspace, f: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for word in f.text.split():
        clauses.append(
            "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in TEXT_COLUMNS) + ")")
        params.extend([_like(word)] * len(TEXT_COLUMNS))
    for name, value in f.where:
        # The same names as `oversight records --where`: an unknown one is refused with
        # the closest known names, never read as "no match".
        clause, values_ = columns.clause(ws, Kind.OPERATIONS, name, value)
        clauses.append(clause)
        params.extend(values_)
    for bound, op in ((f.since, ">="), (f.until, "<=")):
        if bound is None:
            continue
        if isinstance(bound, datetime):
            moment = bound if bound.tzinfo is not None else bound.replace(tzinfo=UTC)
            clauses.append(f"ts_utc {op} ?")
            params.append(_micros(moment))
        else:
            clauses.append(f"substr(ts, 1, 10) {op} ?")
            params.append(bound.isoformat())
    if f.action is not None:
        clauses.append("action = ?")
        params.append(f.action)
    if f.actor is not None and f.actor.strip():
        clauses.append("actor_id LIKE ? ESCAPE '\\'")
        params.append(_like(f.actor.strip(), prefix=True))
    if f.batch_id is not None:
        clauses.append("batch_id = ?")
        params.append(f.batch_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _like(word: str, prefix: bool = False) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
