"""Mapping profiles: how the columns of a source file become canonical records.

A profile is YAML (see docs/import.md). Without one, headers are matched to canonical
fields by name and common synonyms. Every column not mapped is kept in ``extra``.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from oversight.errors import Issue, ValidationError
from oversight.records import NATURAL_KEY, FieldType, Kind, fields_of
from oversight.yamlsrc import load_located, read_yaml_file, yaml_error

__all__ = ["DEFAULT_MISSING", "FieldMapping", "MappingProfile", "auto_profile",
           "incomplete_format", "load_profile", "normalise_header"]

DEFAULT_MISSING = ("",)
_FIELD_KEYS = {"column", "columns", "format", "map", "split", "value", "join"}
_TOP_KEYS = {"kind", "format", "encoding", "delimiter", "sheet", "timezone", "record_id",
             "fields", "missing", "description"}


@dataclass(frozen=True)
class FieldMapping:
    field: str
    """Canonical field (or 'record_id')."""
    columns: tuple[str, ...] = ()
    """Source columns read; several are joined with ``join``."""
    format: str | None = None
    """strptime format for timestamps."""
    map: dict[str, Any] | None = None
    """Source value -> value, applied before parsing."""
    split: str | None = None
    """Separator for list fields."""
    value: Any = None
    """A constant used when no column is named."""
    join: str = " "

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": list(self.columns)}
        for name in ("format", "map", "split", "value"):
            v = getattr(self, name)
            if v is not None:
                out[name] = v
        return out


@dataclass(frozen=True)
class MappingProfile:
    kind: Kind
    fields: dict[str, FieldMapping]
    record_id: FieldMapping | None = None
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    timezone: str = "UTC"
    missing: tuple[str, ...] = DEFAULT_MISSING
    source_text: str | None = None
    """The profile file's text (None for an automatic mapping)."""
    source_name: str | None = None
    auto: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def sha256(self) -> str | None:
        if self.source_text is None:
            return None
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()

    def mapped_columns(self) -> set[str]:
        cols: set[str] = set()
        for fm in self.fields.values():
            cols.update(fm.columns)
        if self.record_id is not None:
            cols.update(self.record_id.columns)
        return cols

    def describe(self) -> dict[str, Any]:
        """The effective mapping, as stored with a batch and shown by --dry-run."""
        return {
            "kind": self.kind.value,
            "auto": self.auto,
            "timezone": self.timezone,
            "encoding": self.encoding,
            "missing": list(self.missing),
            "record_id": None if self.record_id is None else self.record_id.describe(),
            "fields": {name: fm.describe() for name, fm in self.fields.items()},
        }


def normalise_header(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_")


def auto_profile(kind: Kind, columns: list[str], timezone: str = "UTC") -> MappingProfile:
    """Match headers to canonical fields by name, then by synonym; first match wins."""
    specs = fields_of(kind)
    by_name: dict[str, str] = {}
    for spec in specs.values():
        for alias in (spec.name, *spec.synonyms):
            by_name.setdefault(alias, spec.name)
    fields: dict[str, FieldMapping] = {}
    record_id: FieldMapping | None = None
    # Exact canonical names first, so a 'ts' column beats a 'date' synonym.
    for exact in (True, False):
        for col in columns:
            norm = normalise_header(col)
            if norm == "record_id" and record_id is None:
                record_id = FieldMapping("record_id", (col,))
                continue
            target = norm if exact and norm in specs else (by_name.get(norm) if not exact else None)
            if target and target not in fields and not _used(col, fields, record_id):
                fields[target] = FieldMapping(target, (col,))
    return MappingProfile(kind=kind, fields=fields, record_id=record_id, timezone=timezone,
                          auto=True)


def _used(col: str, fields: dict[str, FieldMapping], record_id: FieldMapping | None) -> bool:
    if record_id is not None and col in record_id.columns:
        return True
    return any(col in fm.columns for fm in fields.values())


def load_profile(path: Path, kind_hint: Kind | None = None) -> MappingProfile:
    """Read and validate a profile; report every problem at once."""
    text = read_yaml_file(Path(path), "mapping profile")
    return parse_profile(text, str(path), kind_hint)


def parse_profile(text: str, name: str, kind_hint: Kind | None = None) -> MappingProfile:
    try:
        doc = load_located(text, name)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, "mapping profile", name) from None
    issues: list[Issue] = []
    data = doc.data

    def issue(message: str, *path: str | int) -> None:
        issues.append(Issue(message, name, doc.line(*path)))

    def issue_at(message: str, path: tuple[str | int, ...], offset: int, text: str) -> None:
        line, column = doc.position(path, offset, text)
        issues.append(Issue(message, name, line, column))

    if not isinstance(data, dict):
        raise ValidationError(f"The mapping profile {name} is not a YAML mapping.",
                              [Issue("expected keys such as kind: and fields:", name, 1)])
    for key in data:
        if key not in _TOP_KEYS:
            issue(f"unknown key {key!r}; expected one of {', '.join(sorted(_TOP_KEYS))}", key)
    kind = kind_hint
    if "kind" in data:
        try:
            kind = Kind(str(data["kind"]))
        except ValueError:
            issue(f"kind {data['kind']!r} is unknown; use operations, authorisations or cases",
                  "kind")
        if kind_hint is not None and kind is not None and kind != kind_hint:
            issue(f"the profile is for {kind.value} but --kind says {kind_hint.value}", "kind")
    kind = kind or Kind.OPERATIONS
    encoding = data.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            issue(f"encoding {encoding!r} is unknown; use a name such as utf-8, cp1252 or "
                  "latin-1", "encoding")
    timezone = str(data.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        issue(f"timezone {timezone!r} is unknown; use an IANA name such as Europe/Berlin or UTC",
              "timezone")
    missing_raw = data.get("missing", list(DEFAULT_MISSING))
    if not isinstance(missing_raw, list) or not all(isinstance(m, str) for m in missing_raw):
        issue("missing must be a list of strings, e.g. ['', 'NULL', '-']", "missing")
        missing_raw = list(DEFAULT_MISSING)
    specs = fields_of(kind)
    fields: dict[str, FieldMapping] = {}
    raw_fields = data.get("fields", {})
    if not isinstance(raw_fields, dict):
        issue("fields must map canonical field names to columns", "fields")
        raw_fields = {}
    for fname, spec_raw in raw_fields.items():
        if fname not in specs:
            close = ", ".join(sorted(specs))
            issue(f"{fname!r} is not a field of {kind.value}; fields are: {close}",
                  "fields", fname)
            continue
        fm = _field_mapping(fname, spec_raw, lambda m, *p, f=fname: issue(m, "fields", f, *p))
        if fm is not None:
            ftype = specs[fname].type
            if fm.format is not None and ftype is not FieldType.TIMESTAMP:
                issue(f"format applies to timestamps only; {fname} is a {ftype.value} field",
                      "fields", fname, "format")
            elif fm.format is not None:
                problem = incomplete_format(fm.format)
                if problem is not None:
                    where: tuple[str | int, ...] = ("fields", fname, "format")
                    if isinstance(spec_raw, dict) and "format" in spec_raw:
                        issue_at(_format_advice(fname, fm, problem), where, 0, fm.format)
                    else:
                        issue(_format_advice(fname, fm, problem), *where)
            if fm.split is not None and ftype is not FieldType.LIST:
                issue(f"split applies to list fields only; {fname} is a {ftype.value} field",
                      "fields", fname, "split")
            fields[fname] = fm
    record_id = None
    if "record_id" in data:
        record_id = _field_mapping("record_id", data["record_id"],
                                   lambda m, *p: issue(m, "record_id", *p))
    natural = NATURAL_KEY[kind]
    if natural is not None and natural not in fields:
        issue(f"{kind.value} need a {natural} field; map it under fields:", "fields")
    for key, label in (("delimiter", "delimiter"), ("sheet", "sheet"), ("format", "format")):
        if key in data and not isinstance(data[key], str):
            issue(f"{label} must be text", key)
    if "delimiter" in data and isinstance(data["delimiter"], str) and len(data["delimiter"]) != 1:
        issue("delimiter must be a single character (use \"\\t\" for tab)", "delimiter")
    if issues:
        raise ValidationError(
            f"The mapping profile {name} has {len(issues)} problem(s).", issues
        )
    return MappingProfile(
        kind=kind,
        fields=fields,
        record_id=record_id,
        format=data.get("format"),
        encoding=None if encoding is None else str(encoding),
        delimiter=data.get("delimiter"),
        sheet=data.get("sheet"),
        timezone=timezone,
        missing=tuple(missing_raw),
        source_text=text,
        source_name=name,
    )


_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%c", "%x")
_DAY_DIRECTIVES = ("%d", "%j", "%c", "%x", "%e")
_WEEK_DIRECTIVES = ("%U", "%W", "%V")
_WEEKDAY_DIRECTIVES = ("%a", "%A", "%w", "%u")


def _directives(fmt: str) -> list[str]:
    """The strptime directives of ``fmt`` ('%%' is a literal percent sign)."""
    return re.findall(r"%[-#]?.", fmt.replace("%%", ""))


def incomplete_format(fmt: str) -> str | None:
    """What a timestamp format cannot read although every timestamp needs it: 'a year',
    'a day' or 'a year or a day'; None when the format reads both. Without them
    strptime silently fills in 1900 and the first of the month."""
    found = set(_directives(fmt))
    year = bool(found & set(_YEAR_DIRECTIVES))
    day = bool(found & set(_DAY_DIRECTIVES)) or (
        bool(found & set(_WEEK_DIRECTIVES)) and bool(found & set(_WEEKDAY_DIRECTIVES)))
    if year and day:
        return None
    return "a year or a day" if not (year or day) else ("a year" if not year else "a day")


def _format_advice(fname: str, fm: FieldMapping, problem: str) -> str:
    fills = {"a year": "every date would fall in 1900",
             "a day": "every date would fall on the first of its month",
             "a year or a day": "every date would fall on 1 January 1900"}[problem]
    columns = ", ".join(fm.columns) or "the column"
    lacks = {"a year": "year", "a day": "day", "a year or a day": "year and no day"}[problem]
    return (f"{fname}: the format {fm.format!r} reads no {lacks} ({fills}); a "
            "timestamp needs the year (%Y) and the day (%d). If another column holds them, "
            f"join it with columns: [{columns}, ...] and give the whole format, e.g. "
            "\"%d/%m/%Y %H:%M\"")


def _field_mapping(fname: str, raw: Any, issue: Any) -> FieldMapping | None:
    if isinstance(raw, str):
        return FieldMapping(fname, (raw,))
    if not isinstance(raw, dict):
        issue(f"{fname}: give a column name or a mapping with column:/columns:")
        return None
    ok = True
    for key in raw:
        if key not in _FIELD_KEYS:
            issue(f"{fname}: unknown option {key!r}; expected one of "
                  f"{', '.join(sorted(_FIELD_KEYS))}", key)
            ok = False
    columns: tuple[str, ...] = ()
    if "column" in raw and "columns" in raw:
        issue(f"{fname}: give column or columns, not both")
        ok = False
    elif "column" in raw:
        columns = (str(raw["column"]),)
    elif "columns" in raw:
        cols = raw["columns"]
        if not isinstance(cols, list) or not cols:
            issue(f"{fname}: columns must be a non-empty list", "columns")
            ok = False
        else:
            columns = tuple(str(c) for c in cols)
    elif "value" not in raw:
        issue(f"{fname}: name a column (column: \"Header\") or a constant (value: ...)")
        ok = False
    mapping = raw.get("map")
    if mapping is not None and not isinstance(mapping, dict):
        issue(f"{fname}: map must be a mapping of source value to value", "map")
        ok = False
    fmt = raw.get("format")
    if fmt is not None and not isinstance(fmt, str):
        issue(f"{fname}: format must be text such as \"%d.%m.%Y %H:%M\"", "format")
        ok = False
    if not ok:
        return None
    return FieldMapping(
        fname,
        columns,
        format=fmt,
        map=None if mapping is None else {str(k): v for k, v in mapping.items()},
        split=None if raw.get("split") is None else str(raw["split"]),
        value=raw.get("value"),
        join=str(raw.get("join", " ")),
    )
