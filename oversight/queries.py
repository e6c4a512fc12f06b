"""Read-only service calls: import batches, rejects and stored records."""

from __future__ import annotations

import json
from typing import Any

from oversight.errors import UsageError
from oversight.records import FieldType, Kind, fields_of, storage_columns
from oversight.retraction import live
from oversight.workspace import Permission, Workspace

__all__ = ["batches", "parse_where", "records", "rejects"]


def batches(ws: Workspace, include_retracted: bool = False) -> list[dict[str, Any]]:
    """Import batches, oldest first; retracted ones (oversight.retraction) only when
    asked, each then with who retracted it, when and why."""
    ws.require(Permission.READ)
    rows = ws.conn.execute(
        "SELECT batch_id, kind, file_name, file_size, sha256, format, profile_sha256,"
        " rows_read, rows_imported, rows_rejected, rows_digest, imported_by, imported_at,"
        " retracted_at, retracted_by, retraction_reason FROM batches"
        + ("" if include_retracted else " WHERE retracted_at IS NULL")
        + " ORDER BY batch_id"
    ).fetchall()
    keys = ("batch_id", "kind", "file", "size", "sha256", "format", "profile_sha256",
            "rows_read", "rows_imported", "rows_rejected", "rows_digest", "imported_by",
            "imported_at", "retracted_at", "retracted_by", "retraction_reason")
    return [dict(zip(keys, r, strict=True)) for r in rows]


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
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--where {item!r} should look like FIELD=VALUE.")
        out.append((name.strip(), value))
    return out


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
    the value; a timestamp matches by prefix, so a date selects a day) and any other
    name as an original source column kept in ``extra``.
    """
    ws.require(Permission.READ)
    specs = fields_of(kind)
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in where or []:
        spec = specs.get(name)
        if name in ("record_id", "batch_id", "line"):
            clauses.append(f"{name} = ?")
            params.append(value if name == "record_id" else _int(name, value))
        elif spec is None:
            clauses.append("json_extract(extra, ?) = ?")
            params.extend([_json_path(name), value])
        elif spec.type is FieldType.LIST:
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({name}) WHERE value = ?)")
            params.append(value)
        elif spec.type is FieldType.TIMESTAMP:
            clauses.append(f"substr({name}, 1, ?) = ?")
            params.extend([len(value), value])
        elif spec.type in (FieldType.INT, FieldType.BOOL):
            clauses.append(f"{name} = ?")
            params.append(_bool(value) if spec.type is FieldType.BOOL else _int(name, value))
        else:
            clauses.append(f"{name} = ?")
            params.append(value.upper() if spec.type is FieldType.COUNTRY else value)
    if rid_in is not None:
        clauses.append(f"rid IN ({', '.join('?' * len(rid_in))})")
        params.extend(rid_in)
    cols = ["rid", "batch_id", "line", "record_id", *storage_columns(kind)]
    sql = f"SELECT {', '.join(cols)} FROM {live(kind)}"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY rid"
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
                fields[name] = json.loads(value)
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
            "extra": json.loads(rec["extra"]),
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


def _json_path(column: str) -> str:
    return '$."' + column.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--where {name}={value}: {name} takes a whole number.") from None


def _bool(value: str) -> int:
    v = value.strip().lower()
    if v in ("true", "yes", "1"):
        return 1
    if v in ("false", "no", "0"):
        return 0
    raise UsageError(f"{value!r} is not true or false.")
