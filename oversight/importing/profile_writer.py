"""Mapping profiles written from column-by-column choices, and read back into them.

``profile_text`` turns the import wizard's per-column choices into a mapping profile in
the YAML format of docs/import.md (keeping what a loaded profile says beyond those
choices), and ``profile_targets`` turns a loaded profile back into per-column choices;
callers validate the text with ``parse_profile`` like any profile a person wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from oversight.importing.profile import DEFAULT_MISSING, MappingProfile
from oversight.records import Kind

__all__ = ["RECORD_ID", "profile_targets", "profile_text"]

#: The wizard's target for the column holding the record's own id.
RECORD_ID = "record_id"


def profile_text(kind: Kind, assignments: Sequence[tuple[str, str | None]],
                 timezone: str = "UTC", encoding: str | None = None,
                 description: str | None = None, base: MappingProfile | None = None) -> str:
    """A mapping profile (YAML) from (column, target) pairs in column order.

    A target is a canonical field of ``kind``, RECORD_ID, or None to keep the column
    as extra (the default for any column not named). Several columns with the same
    target are joined with a space, in column order (a date and a time column).

    ``base`` is a profile the mapping was loaded from: what the column-by-column
    choices cannot express is kept from it (a field's format, value map, list
    separator and join; constant fields no column is mapped to; the file format,
    delimiter, sheet, missing-value words and description)."""
    targets: dict[str, list[str]] = {}
    for column, target in assignments:
        if target:
            targets.setdefault(target, []).append(column)
    doc: dict[str, Any] = {"kind": kind.value}
    if base is not None and base.kind is not kind:
        base = None
    if base is not None and base.source_text is not None and description is None:
        description = _base_description(base)
    if description:
        doc["description"] = description
    if base is not None:
        for key in ("format", "delimiter", "sheet"):
            value = getattr(base, key)
            if value is not None:
                doc[key] = value
    if encoding:
        doc["encoding"] = encoding
    doc["timezone"] = timezone or "UTC"
    if base is not None and tuple(base.missing) != DEFAULT_MISSING:
        doc["missing"] = list(base.missing)

    def spec(name: str, columns: list[str]) -> Any:
        out: dict[str, Any] = {"column": columns[0]} if len(columns) == 1 \
            else {"columns": columns}
        kept = None if base is None else (
            base.record_id if name == RECORD_ID else base.fields.get(name))
        if kept is not None:
            for option in ("format", "map", "split"):
                if getattr(kept, option) is not None:
                    out[option] = getattr(kept, option)
            if len(columns) > 1 and kept.join != " ":
                out["join"] = kept.join
        return out

    if RECORD_ID in targets:
        doc["record_id"] = spec(RECORD_ID, targets.pop(RECORD_ID))
    fields = {name: spec(name, cols) for name, cols in targets.items()}
    for name, fm in (base.fields.items() if base is not None else ()):
        if not fm.columns and name not in fields:  # a constant: {value: ...}
            fields[name] = {"value": fm.value}
            if fm.map is not None:
                fields[name]["map"] = fm.map
    doc["fields"] = fields
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _base_description(base: MappingProfile) -> str | None:
    try:
        doc = yaml.safe_load(base.source_text or "")
    except yaml.YAMLError:
        return None
    value = doc.get("description") if isinstance(doc, dict) else None
    return str(value) if value else None


def profile_targets(profile: MappingProfile, columns: Sequence[str]
                    ) -> tuple[dict[str, str], list[str], dict[str, Any]]:
    """What a loaded profile means for the wizard's column-by-column mapping: the
    target of each column it names (RECORD_ID for the record id), the columns it names
    that ``columns`` lack, and its constant fields (name -> value)."""
    targets: dict[str, str] = {}
    named: list[str] = []
    if profile.record_id is not None:
        for col in profile.record_id.columns:
            targets.setdefault(col, RECORD_ID)
            named.append(col)
    for name, fm in profile.fields.items():
        for col in fm.columns:
            targets.setdefault(col, name)
            named.append(col)
    present = set(columns)
    missing = [c for c in dict.fromkeys(named) if c not in present]
    constants = {name: fm.value for name, fm in profile.fields.items() if not fm.columns}
    return {c: t for c, t in targets.items() if c in present}, missing, constants
