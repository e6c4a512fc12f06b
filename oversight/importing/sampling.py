"""A first look at a source file, for the import wizard (nothing written).

``sample_columns`` reads a source file's columns and its first values, so the wizard
can show what each column holds before a mapping is chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oversight.errors import InputFileError
from oversight.importing.readers import open_source

__all__ = ["SOURCE_SUFFIXES", "FileSample", "sample_columns"]

#: File name endings the importer reads (oversight.importing.readers detects the format
#: from them); the GUI's file dialogs offer exactly these.
SOURCE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".xlsx")

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
