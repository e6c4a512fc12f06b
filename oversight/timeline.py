"""The timeline of one authorisation or case: its window and the operations under it.

Read-only. An authorisation's window is ``valid_from .. valid_to``, cut short by
``cancelled_at``; a case's is ``opened_at .. closed_at``. The operations are those
citing that authorisation (or case) id, each placed before, inside or after the window.
Times are compared as stored UTC microseconds, so offsets never confuse the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["Mark", "Place", "Timeline", "authorisation_timeline", "case_timeline",
           "from_micros", "place_of", "timeline"]

Place = Literal["before", "inside", "after", "cancelled", "undated"]
#: Operations drawn at most; the rest are counted, not drawn.
LIMIT = 20_000


@dataclass(frozen=True)
class Mark:
    rid: int
    record_id: str | None
    ts: str | None
    """The operation's time as recorded (local ISO text)."""
    ts_utc: int | None
    """Microseconds since the epoch, UTC."""
    action: str | None
    actor_id: str | None
    place: Place

    @property
    def inside(self) -> bool:
        return self.place == "inside"


@dataclass(frozen=True)
class Timeline:
    kind: Literal["authorisation", "case"]
    id: str
    found: bool
    """Whether the authorisation (case) itself was imported."""
    start: int | None
    """Window start, UTC microseconds (None: unknown)."""
    end: int | None
    """Window end as granted (valid_to / closed_at)."""
    cancelled: int | None
    """Cancellation (authorisations only)."""
    start_text: str | None = None
    end_text: str | None = None
    cancelled_text: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)
    total: int = 0
    """Operations citing the id (may exceed ``len(marks)``)."""

    @property
    def effective_end(self) -> int | None:
        """The end that counts: the cancellation, if it came before valid_to."""
        if self.cancelled is not None and (self.end is None or self.cancelled < self.end):
            return self.cancelled
        return self.end

    def counts(self) -> dict[str, int]:
        out = {p: 0 for p in ("before", "inside", "after", "cancelled", "undated")}
        for mark in self.marks:
            out[mark.place] += 1
        return out


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def place_of(ts: int | None, start: int | None, end: int | None,
             cancelled: int | None) -> Place:
    """Where an operation at ``ts`` falls relative to a window (bounds inclusive)."""
    if ts is None:
        return "undated"
    if start is not None and ts < start:
        return "before"
    if cancelled is not None and ts > cancelled and (end is None or ts <= end):
        return "cancelled"
    if end is not None and ts > end:
        return "after"
    if cancelled is not None and end is None and ts > cancelled:
        return "cancelled"
    return "inside"


def authorisation_timeline(ws: Workspace, authorisation_id: str) -> Timeline:
    """The authorisation (the last imported record of that id) and its operations."""
    ws.require(Permission.READ)
    aid = authorisation_id.strip()
    if not aid:
        raise UsageError("Give an authorisation id.")
    row = ws.conn.execute(
        "SELECT valid_from, valid_from_utc, valid_to, valid_to_utc, cancelled_at,"
        " cancelled_at_utc, regime, legal_basis, approval, case_id FROM authorisations"
        " WHERE authorisation_id = ? ORDER BY rid DESC LIMIT 1", (aid,)).fetchone()
    details: dict[str, str] = {}
    if row is not None:
        for key, value in zip(("regime", "legal_basis", "approval", "case_id"), row[6:],
                              strict=True):
            if value:
                details[key] = str(value)
    start, end, cancelled = (row[1], row[3], row[5]) if row is not None else (None,) * 3
    tl = Timeline("authorisation", aid, row is not None, start, end, cancelled,
                  row[0] if row else None, row[2] if row else None,
                  row[4] if row else None, details)
    return _with_marks(ws, tl, "authorisation_id", aid)


def case_timeline(ws: Workspace, case_id: str) -> Timeline:
    """The case (opened .. closed) and the operations citing it."""
    ws.require(Permission.READ)
    cid = case_id.strip()
    if not cid:
        raise UsageError("Give a case id.")
    row = ws.conn.execute(
        "SELECT opened_at, opened_at_utc, closed_at, closed_at_utc, offence FROM cases"
        " WHERE case_id = ? ORDER BY rid DESC LIMIT 1", (cid,)).fetchone()
    details = {"offence": str(row[4])} if row is not None and row[4] else {}
    start, end = (row[1], row[3]) if row is not None else (None, None)
    tl = Timeline("case", cid, row is not None, start, end, None,
                  row[0] if row else None, row[2] if row else None, None, details)
    return _with_marks(ws, tl, "case_id", cid)


def timeline(ws: Workspace, kind: str, ident: str) -> Timeline:
    """``kind`` is "authorisation" or "case"."""
    if kind == "authorisation":
        return authorisation_timeline(ws, ident)
    if kind == "case":
        return case_timeline(ws, ident)
    raise UsageError(f"A timeline is of an authorisation or a case, not {kind!r}.")


def _with_marks(ws: Workspace, tl: Timeline, column: str, ident: str) -> Timeline:
    # ``column`` is one of two fixed names, never user input; the id is a parameter.
    assert column in ("authorisation_id", "case_id")
    total = int(ws.conn.execute(
        f"SELECT count(*) FROM operations WHERE {column} = ?", (ident,)).fetchone()[0])
    rows = ws.conn.execute(
        f"SELECT rid, record_id, ts, ts_utc, action, actor_id FROM operations"
        f" WHERE {column} = ? ORDER BY ts_utc, rid LIMIT ?", (ident, LIMIT)).fetchall()
    marks = [Mark(int(r[0]), r[1], r[2], r[3], r[4], r[5],
                  place_of(r[3], tl.start, tl.end, tl.cancelled)) for r in rows]
    tl.marks.extend(marks)
    return Timeline(tl.kind, tl.id, tl.found, tl.start, tl.end, tl.cancelled,
                    tl.start_text, tl.end_text, tl.cancelled_text, tl.details, tl.marks,
                    total)
