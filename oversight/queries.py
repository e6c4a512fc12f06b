"""Read-only service calls: import batches, rejects and stored records."""

from __future__ import annotations

from typing import Any

from oversight import columns, stored
from oversight.errors import UsageError
from oversight.records import FieldType, Kind, fields_of, storage_columns
from oversight.retraction import live
from oversight.workspace import Permission, Workspace

__all__ = ["batches", "count_records", "count_rejects", "parse_query", "parse_where", "records",
           "rejects"]


def _stored_warnings(text: object) -> list[dict[str, Any]]:
    """A batch's stored data-quality warnings; one warning saying they are unreadable
    when the column holds anything but the list of warnings an import writes."""
    value = stored.json_list(text)
    if all(isinstance(w, dict) and {"code", "count", "message"} <= set(w) for w in value):
        return value
    return [{"code": "unreadable", "count": 1, "message": stored.UNREADABLE, "lines": []}]


def batches(ws: Workspace, include_retracted: bool = False) -> list[dict[str, Any]]:
    """Import batches, oldest first; retracted ones (oversight.retraction) only when
    asked, each then with who retracted it, when and why. ``warnings`` is the list of
    data-quality warnings the import raised (None for a batch imported before warnings
    were recorded), ``missing_markers`` the values it read as "no value" in every column."""
    ws.require(Permission.READ)
    rows = ws.conn.execute(
        "SELECT batch_id, kind, file_name, file_size, sha256, format, profile_sha256,"
        " rows_read, rows_imported, rows_rejected, rows_digest, imported_by, imported_at,"
        " retracted_at, retracted_by, retraction_reason, warnings, missing_markers"
        " FROM batches" + ("" if include_retracted else " WHERE retracted_at IS NULL")
        + " ORDER BY batch_id"
    ).fetchall()
    keys = ("batch_id", "kind", "file", "size", "sha256", "format", "profile_sha256",
            "rows_read", "rows_imported", "rows_rejected", "rows_digest", "imported_by",
            "imported_at", "retracted_at", "retracted_by", "retraction_reason", "warnings",
            "missing_markers")
    out = []
    for r in rows:
        row = dict(zip(keys, r, strict=True))
        if row["warnings"] is not None:
            row["warnings"] = _stored_warnings(row["warnings"])
        if row["missing_markers"] is not None:
            row["missing_markers"] = stored.json_list(row["missing_markers"])
        out.append(row)
    return out


def count_rejects(ws: Workspace, batch_id: int | None = None) -> int:
    """How many rejects ``rejects`` would list without a limit (a retracted batch's only
    when that batch is named)."""
    ws.require(Permission.READ)
    if batch_id is None:
        return int(ws.conn.execute(
            "SELECT count(*) FROM rejects WHERE batch_id NOT IN"
            " (SELECT batch_id FROM batches WHERE retracted_at IS NOT NULL)").fetchone()[0])
    return int(ws.conn.execute("SELECT count(*) FROM rejects WHERE batch_id = ?",
                               (batch_id,)).fetchone()[0])


def count_records(ws: Workspace, kind: Kind = Kind.OPERATIONS,
                  where: list[tuple[str, str]] | None = None) -> int:
    """How many records ``records`` would list without a limit."""
    ws.require(Permission.READ)
    sql, params = _where_sql(ws, kind, where or [])
    return int(ws.conn.execute(f"SELECT count(*) FROM {live(kind)}{sql}", params).fetchone()[0])


def _where_sql(ws: Workspace, kind: Kind, where: list[tuple[str, str]],
               rid_in: list[int] | None = None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in where:
        clause, values = columns.clause(ws, kind, name, value)
        clauses.append(clause)
        params.extend(values)
    if rid_in is not None:
        clauses.append(f"rid IN ({', '.join('?' * len(rid_in))})")
        params.extend(rid_in)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def rejects(ws: Workspace, batch_id: int | None = None, limit: int | None = None
            ) -> list[dict[str, Any]]:
    """Rejected rows of the live batches, or of the one batch asked for (retracted or
    not)."""
    ws.require(Permission.READ)
    sql = ("SELECT r.batch_id, b.file_name, r.line, r.column_name, r.field, r.value, r.reason"
           " FROM rejects r JOIN batches b USING (batch_id)")
    params: list[Any] = []
    if batch_id is not None:
        if ws.conn.execute("SELECT 1 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone() \
                is None:
            raise UsageError(f"There is no batch {batch_id}; `oversight imports` lists them.")
        sql += " WHERE r.batch_id = ?"
        params.append(batch_id)
    else:
        sql += " WHERE b.retracted_at IS NULL"
    sql += " ORDER BY r.batch_id, r.line, r.reject_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    keys = ("batch_id", "file", "line", "column", "field", "value", "reason")
    return [dict(zip(keys, r, strict=True)) for r in ws.conn.execute(sql, params)]


def parse_where(items: list[str]) -> list[tuple[str, str]]:
    """``--where`` options (each FIELD=VALUE) as (field, value) pairs."""
    out = []
    for item in items:
        pair = _pair(item)
        if pair is None:
            raise UsageError(f"--where {item!r} should look like FIELD=VALUE.")
        out.append(pair)
    return out


def parse_query(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Split a search box into free text and FIELD=VALUE pairs (those pairs mean what
    ``--where`` means).

    Double quotes group words (``justification="night shift"``); an unbalanced quote
    runs to the end rather than being refused, because the box is searched as you type.
    Apostrophes are ordinary characters (O'Brien).
    """
    words: list[str] = []
    where: list[tuple[str, str]] = []
    for token in _tokens(text):
        pair = _pair(token)
        if pair is not None:
            where.append(pair)
        elif token.strip():
            words.append(token)
    return " ".join(words), tuple(where)


def _pair(token: str) -> tuple[str, str] | None:
    name, sep, value = token.partition("=")
    return (name.strip(), value) if sep and name.strip() else None


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


def records(
    ws: Workspace,
    kind: Kind = Kind.OPERATIONS,
    where: list[tuple[str, str]] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    rid_in: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Stored records with canonical and extra fields (never those of a retracted batch).

    ``where`` matches canonical fields by value (a list field matches if it contains
    the value; a timestamp matches by prefix, so a date selects a day), original source
    columns kept in ``extra`` by their text, and the original header of a mapped column
    as the field it became; any other name is refused with the closest known ones
    (`oversight.columns`).
    """
    ws.require(Permission.READ)
    specs = fields_of(kind)
    where_sql, params = _where_sql(ws, kind, where or [], rid_in)
    cols = ["rid", "batch_id", "line", "record_id", *storage_columns(kind)]
    sql = f"SELECT {', '.join(cols)} FROM {live(kind)}{where_sql} ORDER BY rid"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([limit, offset])
    out = []
    for row in ws.conn.execute(sql, params):
        rec = dict(zip(cols, row, strict=True))
        fields: dict[str, Any] = {}
        for name, spec in specs.items():
            value = rec[name]
            if value is None:
                continue
            if spec.type is FieldType.LIST:
                fields[name] = stored.json_list(value)
            elif spec.type is FieldType.BOOL:
                fields[name] = bool(value)
            else:
                fields[name] = value
        out.append({
            "kind": kind.value,
            "rid": rec["rid"],
            "batch_id": rec["batch_id"],
            "line": rec["line"],
            "record_id": rec["record_id"],
            "fields": fields,
            "extra": stored.json_dict(rec["extra"]),
        })
    return out


def records_by_rid(ws: Workspace, kind: Kind, rids: list[int]) -> list[dict[str, Any]]:
    """Stored records by their row ids, in that order."""
    ws.require(Permission.READ)
    out: list[dict[str, Any]] = []
    for start in range(0, len(rids), 500):
        part = rids[start:start + 500]
        out.extend(records(ws, kind, None, None, rid_in=part))
    return out


