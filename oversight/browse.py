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
from datetime import UTC, date, datetime
from typing import Any

from oversight import columns
from oversight.errors import UsageError
from oversight.findings import SEVERITY_RANK, like_pattern
from oversight.queries import records
from oversight.records import FieldType, Kind, fields_of
from oversight.retraction import live_table
from oversight.workspace import Permission, Workspace

__all__ = [
    "TEXT_COLUMNS",
    "Filters",
    "count",
    "findings_of_record",
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


def findings_of_record(ws: Workspace, rid: int) -> list[dict[str, Any]]:
    """The findings an operation is part of (for the record's detail pane)."""
    ws.require(Permission.READ)
    sql = ("SELECT f.finding_id, f.rule_id, f.severity, f.status, f.message FROM findings f"
           " JOIN finding_records r ON r.finding_id = f.finding_id WHERE r.rid = ?"
           f" ORDER BY {SEVERITY_RANK}, f.rule_id, f.finding_id")
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
        params.extend([like_pattern(word)] * len(TEXT_COLUMNS))
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
        params.append(like_pattern(f.actor.strip(), prefix=True))
    if f.batch_id is not None:
        clauses.append("batch_id = ?")
        params.append(f.batch_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
