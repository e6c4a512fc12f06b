"""Read-only helpers of the workstation's import wizard (no Qt, nothing written).

``sample_columns`` reads a source file's columns and its first values, so the wizard
can show what each column holds before a mapping is chosen. ``profile_text`` turns the
wizard's per-column choices into a mapping profile in the YAML format of docs/import.md;
callers validate it with ``parse_profile`` like any profile a person wrote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oversight.errors import InputFileError
from oversight.importing.readers import open_source
from oversight.records import Kind

__all__ = ["RECORD_ID", "FileSample", "profile_text", "sample_columns"]

#: The wizard's target for the column holding the record's own id.
RECORD_ID = "record_id"


@dataclass
class FileSample:
    """A file's format, its columns (for JSON: the first record's keys) and the first
    value of each column, as text."""

    format: str
    columns: list[str]
    samples: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def sample_columns(path: Path, encoding: str | None = None, rows: int = 3) -> FileSample:
    """The columns of ``path`` and the first non-empty value of each among its first
    ``rows`` records. Raises InputFileError with a sentence for a file that cannot be
    read or has no columns."""
    source = open_source(Path(path), encoding=encoding)
    try:
        columns = list(source.columns)
        samples: dict[str, str] = {}
        for n, (_line, values, _problem, _raw) in enumerate(source, 1):
            if isinstance(values, dict):
                for key in values:
                    if key not in columns:
                        columns.append(str(key))
                pairs = [(str(k), v) for k, v in values.items()]
            elif isinstance(values, list):
                pairs = list(zip(columns, values, strict=False))
            else:
                pairs = []
            for col, value in pairs:
                if col not in samples or not samples[col]:
                    samples[col] = _text(value)
            if n >= rows:
                break
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: the bytes are not valid in the encoding "
                             f"({exc.reason}); choose the file's encoding.") from None
    finally:
        source.close()
    if not columns:
        raise InputFileError(f"{path} holds no columns or records: there is nothing to map.")
    return FileSample(source.format, columns, samples)


def profile_text(kind: Kind, assignments: Sequence[tuple[str, str | None]],
                 timezone: str = "UTC", encoding: str | None = None,
                 description: str | None = None) -> str:
    """A mapping profile (YAML) from (column, target) pairs in column order.

    A target is a canonical field of ``kind``, RECORD_ID, or None to keep the column
    as extra (the default for any column not named). Several columns with the same
    target are joined with a space, in column order (a date and a time column)."""
    targets: dict[str, list[str]] = {}
    for column, target in assignments:
        if target:
            targets.setdefault(target, []).append(column)
    doc: dict[str, Any] = {"kind": kind.value}
    if description:
        doc["description"] = description
    if encoding:
        doc["encoding"] = encoding
    doc["timezone"] = timezone or "UTC"

    def spec(columns: list[str]) -> Any:
        return {"column": columns[0]} if len(columns) == 1 else {"columns": columns}

    if RECORD_ID in targets:
        doc["record_id"] = spec(targets.pop(RECORD_ID))
    doc["fields"] = {name: spec(cols) for name, cols in targets.items()}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)
