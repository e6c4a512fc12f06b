"""The names a filter may use, and what each one means in the stored records.

A filter such as ``--where Precinct=7`` names a canonical field, an original column kept
in ``extra``, the original header of a column that was mapped to a canonical field, or
one of record_id, batch_id and line. A name that is none of these is refused with the
closest known names, so that a typo never reads as "nothing found". The names come
from the batches of that kind of record (their mappings and source columns), never from
user text, and every value travels as an SQL parameter.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from oversight.errors import UsageError
from oversight.records import FieldType, Kind, fields_of
from oversight.retraction import live
from oversight.workspace import Workspace

__all__ = ["META", "Target", "clause", "known_names", "resolve"]

META = ("record_id", "batch_id", "line")
#: Suggestions shown when a name is unknown.
_SUGGEST = 3


@dataclass(frozen=True)
class Target:
    """One thing a filter name may stand for."""

    where: str
    """'meta', 'field' or 'extra'."""
    name: str
    """The stored column (meta, canonical field) or the original header (extra)."""
    header: str | None = None
    """The original header the user named, when it was mapped to ``name``."""
    value_map: tuple[tuple[str, Any], ...] = ()
    """The mapping's source value -> value, applied to a value given by the header."""


@dataclass
class _Catalogue:
    extras: set[str]
    mapped: dict[str, dict[tuple[str, tuple[tuple[str, Any], ...]], None]]
    """Original header -> the fields it was mapped to (with their value maps)."""
    joined: dict[str, tuple[str, tuple[str, ...]]]
    """Original header -> (field, the columns joined into it)."""
    loose_batches: list[int]
    """JSON batches: records may carry keys the first one did not."""


def _catalogue(ws: Workspace, kind: Kind) -> _Catalogue:
    cat = _Catalogue(set(), {}, {}, [])
    for batch_id, fmt, mapping_json, columns_json in ws.conn.execute(
            "SELECT batch_id, format, mapping, source_columns FROM batches WHERE kind = ?"
            " AND retracted_at IS NULL",
            (kind.value,)):
        try:
            mapping = json.loads(mapping_json or "{}")
            source = [str(c) for c in json.loads(columns_json or "[]")]
        except (TypeError, ValueError, RecursionError):
            mapping, source = {}, []
        if columns_json is None or fmt in ("json", "jsonl"):
            # No header recorded, or JSON records that may carry keys the first lacked.
            cat.loose_batches.append(int(batch_id))
        used: set[str] = set()
        rid = mapping.get("record_id") or {}
        used.update(str(c) for c in rid.get("columns", []))
        for fname, fm in (mapping.get("fields") or {}).items():
            cols = [str(c) for c in fm.get("columns", [])]
            used.update(cols)
            if len(cols) == 1:
                vmap = tuple(sorted((str(k), v) for k, v in (fm.get("map") or {}).items()))
                cat.mapped.setdefault(cols[0], {})[(str(fname), vmap)] = None
            else:
                for c in cols:
                    cat.joined[c] = (str(fname), tuple(cols))
        cat.extras.update(c for c in source if c not in used)
    return cat


def known_names(ws: Workspace, kind: Kind = Kind.OPERATIONS) -> list[str]:
    """Every name a filter of ``kind`` may use, canonical fields first."""
    cat = _catalogue(ws, kind)
    names = [*META, *fields_of(kind)]
    loose: set[str] = set()
    if cat.loose_batches:  # keys of JSON records, read from the records themselves
        marks = ", ".join("?" * len(cat.loose_batches))
        loose = {str(r[0]) for r in ws.conn.execute(
            f"SELECT DISTINCT j.key FROM {live(kind)} o, json_each(o.extra) j"
            f" WHERE o.batch_id IN ({marks}) LIMIT 1000", cat.loose_batches)}
    for name in sorted(cat.extras | set(cat.mapped) | loose):
        if name not in names:
            names.append(name)
    return names


def resolve(ws: Workspace, kind: Kind, name: str) -> list[Target]:
    """What ``name`` stands for in records of ``kind``; raise UsageError naming the
    closest known names when it stands for nothing."""
    if name in META:
        return [Target("meta", name)]
    specs = fields_of(kind)
    if name in specs:
        return [Target("field", name)]
    cat = _catalogue(ws, kind)
    out: list[Target] = []
    for spelling in _spellings(name, cat):
        if spelling in cat.extras:
            out.append(Target("extra", spelling))
        for fname, vmap in cat.mapped.get(spelling, {}):
            out.append(Target("field", fname, header=spelling, value_map=vmap))
    if out:
        return out
    if name in cat.joined:
        fname, cols = cat.joined[name]
        raise UsageError(
            f"column {name!r} was joined with {', '.join(repr(c) for c in cols if c != name)} "
            f"into {fname}; filter on {fname} instead.")
    if cat.loose_batches and _in_some_record(ws, kind, name, cat.loose_batches):
        return [Target("extra", name)]
    raise UsageError(_unknown(name, known_names(ws, kind)))


def _spellings(name: str, cat: _Catalogue) -> list[str]:
    """``name`` and the headers of the batches that read the same in NFC (a header
    written with combining accents in one file, as one character in another)."""
    if name.isascii():
        return [name]
    want = unicodedata.normalize("NFC", name)
    return [name, *sorted(h for h in {*cat.extras, *cat.mapped}
                          if h != name and unicodedata.normalize("NFC", h) == want)]


def _forms(value: Any) -> list[Any]:
    """A text value in the forms it may be stored in: as given, NFC and NFD."""
    if not isinstance(value, str) or value.isascii():
        return [value]
    return list(dict.fromkeys([value, unicodedata.normalize("NFC", value),
                               unicodedata.normalize("NFD", value)]))


def _equals(expr: str, value: Any) -> tuple[str, list[Any]]:
    forms = _forms(value)
    if len(forms) == 1:
        return f"{expr} = ?", forms
    return f"{expr} IN ({', '.join('?' * len(forms))})", forms


def _in_some_record(ws: Workspace, kind: Kind, name: str, batches: list[int]) -> bool:
    marks = ", ".join("?" * len(batches))
    row = ws.conn.execute(
        f"SELECT 1 FROM {live(kind)} WHERE batch_id IN ({marks})"
        " AND json_type(extra, ?) IS NOT NULL LIMIT 1", (*batches, json_path(name))).fetchone()
    return row is not None


def _unknown(name: str, known: list[str]) -> str:
    lower = {k.lower(): k for k in reversed(known)}
    if name.strip().lower() in lower:  # the name with other capitals (or spaces)
        close = [lower[name.strip().lower()]]
    else:
        close = [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower),
                                                             n=_SUGGEST, cutoff=0.6)]
    if close:
        shown = " or ".join(repr(c) for c in close[:_SUGGEST])
        return f"no column {name!r}; did you mean {shown}?"
    listed = ", ".join(known[:40]) + (", …" if len(known) > 40 else "")
    return f"no column {name!r}; the columns are: {listed}."


def json_path(column: str) -> str:
    return '$."' + column.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clause(ws: Workspace, kind: Kind, name: str, value: str) -> tuple[str, list[Any]]:
    """One FIELD=VALUE condition as SQL over ``kind`` (unqualified column names).

    Canonical fields match by value (a list field if it contains the value; a timestamp
    by prefix, so a date selects a day); original columns by their kept text."""
    parts: list[str] = []
    params: list[Any] = []
    for target in resolve(ws, kind, name):
        sql, values = _target_clause(kind, target, value)
        parts.append(sql)
        params.extend(values)
    return (parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"), params


def _target_clause(kind: Kind, t: Target, value: str) -> tuple[str, list[Any]]:
    if t.where == "meta":
        return f"{t.name} = ?", [value if t.name == "record_id" else _int(t.name, value)]
    if t.where == "extra":
        sql, forms = _equals("json_extract(extra, ?)", value)
        return sql, [json_path(t.name), *forms]
    spec = fields_of(kind)[t.name]
    shown = t.header or t.name
    v: Any = value
    if t.header is not None:
        mapped = dict(t.value_map)
        typed = next((f for f in _forms(value) if f in mapped), None)
        if typed is not None:
            v = mapped[typed]
        elif value.strip() in mapped:
            v = mapped[value.strip()]
        if spec.type is FieldType.WORD and isinstance(v, str):
            v = v.strip().lower().replace(" ", "_").replace("-", "_")
    if spec.type is FieldType.LIST:
        sql, forms = _equals("value", str(v))
        return f"EXISTS (SELECT 1 FROM json_each({spec.name}) WHERE {sql})", forms
    if spec.type is FieldType.TIMESTAMP:
        text = str(v)
        return f"substr({spec.name}, 1, ?) = ?", [len(text), text]
    if spec.type is FieldType.BOOL:
        return f"{spec.name} = ?", [_bool(shown, v)]
    if spec.type is FieldType.INT:
        return f"{spec.name} = ?", [_int(shown, v)]
    if spec.type is FieldType.COUNTRY:
        return f"{spec.name} = ?", [str(v).strip().upper()]
    return _equals(spec.name, v)


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise UsageError(f"{name}={value}: {name} takes a whole number.") from None


def _bool(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    v = str(value).strip().lower()
    if v in ("true", "yes", "1"):
        return 1
    if v in ("false", "no", "0"):
        return 0
    raise UsageError(f"{name}={value}: {name} is true or false.")
