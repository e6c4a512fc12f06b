"""Data-quality warnings of an import: what was read, but may be wrong or incomplete.

An import never says nothing when the data it stores cannot be trusted as it stands:
operations without a time, times that cannot be right, local times that happened twice,
rows that repeat an earlier row, and files of which nothing would be imported each give
a warning with a code, a sentence, a count and the first line numbers. The warnings are
shown by every import and dry run, stored with the batch and recorded in the import's
audit event.

The tracker sees only the rows that are stored (or, in a dry run, would be), so a row
rejected for any reason is counted as a reject and never as a warning too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from oversight.records import FieldType, Kind, fields_of

__all__ = [
    "AHEAD_US",
    "CODES",
    "EARLIEST_US",
    "FLAG_AMBIGUOUS",
    "FLAG_DUPLICATE",
    "MAX_LINES",
    "DataWarning",
    "QualityTracker",
    "all_rows_rejected",
    "describe_warnings",
    "import_times",
    "is_plausible",
]

CODES = ("no_timestamp", "implausible_timestamp", "ambiguous_local_time", "duplicate_rows",
         "all_rows_rejected", "unusual_identifier")
#: Characters that show as nothing in a report or a table, yet make an identifier
#: another one to the rules: soft hyphen, zero-width space, word joiner, a byte-order
#: mark inside a value. (The zero-width joiner and non-joiner are left out: scripts and
#: emoji need them.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")
#: Line numbers kept per warning.
MAX_LINES = 20
#: A ``ts`` before 1970-01-01T00:00:00Z is implausible (a placeholder such as 1900-01-01).
EARLIEST_US = 0
#: A ``ts`` more than one day after the import is implausible (a typo such as 2206).
AHEAD_US = 86_400_000_000


def import_times(rows: Iterable[tuple[Any, Any]]) -> dict[int, int]:
    """(batch_id, imported_at) rows as each batch's import time in UTC microseconds
    (what a plausible ``ts`` is judged against); an unreadable time is left out."""
    out: dict[int, int] = {}
    for batch_id, imported_at in rows:
        try:
            moment = datetime.fromisoformat(str(imported_at))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        out[int(batch_id)] = (moment - datetime(1970, 1, 1, tzinfo=UTC)) \
            // timedelta(microseconds=1)
    return out
#: Per-row flags a reader sets on a row it yields.
FLAG_DUPLICATE = 1
FLAG_AMBIGUOUS = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def now_us() -> int:
    return (datetime.now(UTC) - _EPOCH) // timedelta(microseconds=1)


def is_plausible(ts_utc: int | None, imported_us: int) -> bool:
    """Whether a stored ``ts`` (UTC microseconds) can be right for a log imported at
    ``imported_us``: on or after 1970-01-01 and at most one day after the import."""
    return ts_utc is not None and EARLIEST_US <= ts_utc <= imported_us + AHEAD_US


@dataclass(frozen=True)
class DataWarning:
    """One kind of doubt about an imported file."""

    code: str
    """One of CODES."""
    message: str
    """A sentence saying what was found and what it means."""
    count: int
    """Rows concerned."""
    lines: tuple[int, ...] = ()
    """The first MAX_LINES line (or sheet row) numbers concerned."""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "count": self.count,
                "lines": list(self.lines)}


def describe_warnings(warnings: Iterable[dict[str, Any]] | None) -> list[str]:
    """One line per stored warning, for listings (``None``: not checked, an old batch)."""
    if warnings is None:
        return ["not checked (imported before this version recorded warnings)"]
    out = []
    for w in warnings:
        lines = w.get("lines") or []
        where = f" (lines {', '.join(map(str, lines[:5]))}{', …' if len(lines) > 5 else ''})" \
            if lines else ""
        out.append(f"{w['code']} ×{w['count']:,}: {w['message']}{where}")
    return out


def all_rows_rejected(read: int, first_line: int | None, first_reason: str | None,
                      dry_run: bool) -> DataWarning:
    detail = f" The first, line {first_line}: {first_reason}." if first_line is not None else ""
    tail = ("Nothing would be written; check the mapping." if dry_run
            else "Nothing was written; check the mapping with --dry-run.")
    return DataWarning(
        "all_rows_rejected",
        f"None of the {read:,} rows would be imported: every row is rejected.{detail} {tail}",
        read, ())


@dataclass
class _Count:
    count: int = 0
    lines: list[int] = field(default_factory=list)

    def add(self, line: int) -> None:
        self.count += 1
        if len(self.lines) < MAX_LINES:
            self.lines.append(line)


class QualityTracker:
    """Counts warnings over the stored rows of one file, in line order.

    ``columns`` are the stored columns of the insert rows (batch_id, line, record_id,
    the mapped fields..., extra), as the import writes them."""

    def __init__(self, kind: Kind, columns: Sequence[str], mapped: Iterable[str],
                 timezone: str, ts_columns: dict[str, str], imported_us: int) -> None:
        self.kind = kind
        self.timezone = timezone
        self.imported_us = imported_us
        self.ts_columns = ts_columns
        """Canonical timestamp field -> the source column(s) it was read from."""
        index = {name: i for i, name in enumerate(columns)}
        self.ts_pos = index.get("ts") if kind is Kind.OPERATIONS else None
        self.utc_pos = index.get("ts_utc") if kind is Kind.OPERATIONS else None
        self.mapped = [n for n in fields_of(kind) if n in set(mapped)]
        self._unfilled = {n: index[n] for n in self.mapped if n in index}
        self.counts = {code: _Count() for code in (*CODES[:4], "unusual_identifier")}
        # Identifiers the rules join on (record ids, actors, cases, warrants, subjects):
        # one with an invisible character reads like another yet is not equal to it.
        # (One written in Unicode's decomposed form is stored composed: convert.nfc.)
        self._ident = {name: index[name] for name in (
            "record_id", *(n for n, spec in fields_of(kind).items()
                           if n.endswith(("_id", "_ids"))
                           and spec.type in (FieldType.TEXT, FieldType.LIST)))
            if name in index}
        self.unusual_fields: dict[str, int] = {}
        self.ambiguous_fields: dict[str, int] = {}
        self.earliest: tuple[int, str] | None = None
        self.latest: tuple[int, str] | None = None

    # -- observing -------------------------------------------------------------------------

    def observe(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows as stored (or, in a dry run, as they would be), in line order."""
        if not rows:
            return
        self._identifiers(rows)
        for name, pos in list(self._unfilled.items()):
            column = list(map(itemgetter(pos), rows))  # at C speed, in the storing process
            if column.count(None) != len(column):
                del self._unfilled[name]
        if self.kind is not Kind.OPERATIONS:
            return
        missing = self.counts["no_timestamp"]
        if self.ts_pos is None or self.utc_pos is None:
            for r in rows:
                missing.add(r[1])
            return
        tp, up = self.ts_pos, self.utc_pos
        low, high = EARLIEST_US, self.imported_us + AHEAD_US
        # The usual chunk: every row has a plausible time, found at C speed (this runs in
        # the process that stores the rows, which sets the import's pace).
        utcs = list(map(itemgetter(up), rows))
        if None not in utcs and min(utcs) >= low and max(utcs) <= high:
            return
        for r in rows:
            utc = r[up]
            if utc is None:
                missing.add(r[1])
            elif utc < low or utc > high:
                self._implausible(r[1], utc, r[tp])

    def _identifiers(self, rows: Sequence[Sequence[Any]]) -> None:
        unusual: dict[int, set[str]] = {}
        for name, pos in self._ident.items():
            # the usual chunk, all ASCII, found at C speed (values are text or None)
            if "".join(filter(None, map(itemgetter(pos), rows))).isascii():
                continue
            for r in rows:
                v = r[pos]
                if isinstance(v, str) and not v.isascii() and _INVISIBLE.search(v):
                    unusual.setdefault(r[1], set()).add(name)
        for line in sorted(unusual):
            self.counts["unusual_identifier"].add(line)
            for name in unusual[line]:
                self.unusual_fields[name] = self.unusual_fields.get(name, 0) + 1

    def _implausible(self, line: int, utc: int, local: str) -> None:
        self.counts["implausible_timestamp"].add(line)
        if self.earliest is None or utc < self.earliest[0]:
            self.earliest = (utc, local)
        if self.latest is None or utc > self.latest[0]:
            self.latest = (utc, local)

    def flag(self, flagged: Iterable[tuple[int, int, tuple[str, ...]]],
             skip: set[int] | frozenset[int] = frozenset()) -> None:
        """Per-row flags from the reader: (line, flags, ambiguous fields); ``skip`` are
        lines that were rejected after all (a repeated record id)."""
        for line, flags, fields in flagged:
            if line in skip:
                continue
            if flags & FLAG_DUPLICATE:
                self.counts["duplicate_rows"].add(line)
            if flags & FLAG_AMBIGUOUS:
                self.counts["ambiguous_local_time"].add(line)
                for name in fields:
                    self.ambiguous_fields[name] = self.ambiguous_fields.get(name, 0) + 1

    # -- results ---------------------------------------------------------------------------

    def fields_empty(self) -> list[str]:
        """Canonical fields with no value in any stored row: not mapped, or always blank."""
        mapped = set(self.mapped) - set(self._unfilled)
        return [n for n in fields_of(self.kind) if n not in mapped]

    def mapped_but_blank(self) -> list[str]:
        return list(self._unfilled)

    def warnings(self, imported: int, dry_run: bool) -> list[DataWarning]:
        out: list[DataWarning] = []
        verb = "would be" if dry_run else "were"
        one_verb = "would be" if dry_run else "was"
        c = self.counts["no_timestamp"]
        if c.count:
            if self.ts_pos is None:
                text = (f"No column is mapped to ts, so none of the {imported:,} operations has "
                        "a date and time; rules that compare times cannot judge them, and each "
                        "detection run says so. Map the column that holds the time.")
            else:
                column = self.ts_columns.get("ts", "ts")
                text = (f"{c.count:,} of {_n(imported, 'operation', 'operations')} "
                        f"{'has' if c.count == 1 else 'have'} no ts (column {column} is blank "
                        "or holds a missing marker); rules that compare times cannot judge "
                        f"{'it' if c.count == 1 else 'them'}, and each detection run says so.")
            out.append(DataWarning("no_timestamp", text, c.count, tuple(c.lines)))
        c = self.counts["implausible_timestamp"]
        if c.count and self.earliest is not None and self.latest is not None:
            span = (f"{self.earliest[1]}" if self.earliest == self.latest
                    else f"from {self.earliest[1]} to {self.latest[1]}")
            out.append(DataWarning(
                "implausible_timestamp",
                f"{_n(c.count, 'operation has', 'operations have')} a ts before 1970-01-01 or "
                f"more than a day after the import ({span}): a placeholder such as 1900-01-01 "
                "or a typo such as 2206; kept as read, and the log-quality rule DQ-02 lists "
                f"{'it' if c.count == 1 else 'them'}.",
                c.count, tuple(c.lines)))
        c = self.counts["ambiguous_local_time"]
        if c.count:
            fields = ", ".join(sorted(self.ambiguous_fields))
            each = f"it {one_verb}" if c.count == 1 else f"each {verb}"
            out.append(DataWarning(
                "ambiguous_local_time",
                f"{_n(c.count, 'row has', 'rows have')} a local time ({fields}) that "
                f"happened twice in {self.timezone} when the clocks went back, with no offset "
                f"in the value; {each} stored with the earlier offset (the first pass, "
                "fold 0), which may be an hour early.", c.count, tuple(c.lines)))
        c = self.counts["duplicate_rows"]
        if c.count:
            out.append(DataWarning(
                "duplicate_rows",
                f"{_n(c.count, 'row repeats', 'rows repeat')} an earlier row of the file "
                f"exactly; {'it' if c.count == 1 else 'they'} {one_verb if c.count == 1 else verb} "
                f"kept as {'a separate record' if c.count == 1 else 'separate records'}. "
                "Check whether the export duplicated rows.",
                c.count, tuple(c.lines)))
        c = self.counts["unusual_identifier"]
        if c.count:
            fields = ", ".join(sorted(self.unusual_fields))
            out.append(DataWarning(
                "unusual_identifier",
                f"{_n(c.count, 'row has', 'rows have')} an identifier ({fields}) holding "
                "an invisible character (a zero-width space, a soft hyphen); it reads "
                "like the same identifier written otherwise, but the rules compare "
                "identifiers character by character, so a case, authorisation or person "
                f"may be taken as unknown or as another. {'It' if c.count == 1 else 'They'} "
                f"{one_verb if c.count == 1 else verb} kept as read.",
                c.count, tuple(c.lines)))
        return out


def timestamp_sources(kind: Kind, fields: dict[str, Any]) -> dict[str, str]:
    """Canonical timestamp field -> its source column(s), for messages."""
    out = {}
    for name, spec in fields_of(kind).items():
        fm = fields.get(name)
        if spec.type is FieldType.TIMESTAMP and fm is not None:
            out[name] = ", ".join(fm.columns) if fm.columns else "(a constant)"
    return out
