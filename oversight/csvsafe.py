"""CSV written for spreadsheets: cells that a spreadsheet would run as a formula are
neutralised, and files are replaced atomically."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from db.keyslots import write_atomic

__all__ = ["csv_text", "neutralise", "write_csv"]

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """Text of a cell; one starting with = + - @ tab or CR gets a leading apostrophe, so
    a spreadsheet shows it instead of evaluating it (OWASP CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    write_atomic(path, ("\ufeff" + csv_text(header, rows)).encode("utf-8"), mode=0o600)
