"""The timeline of one authorisation or case: its window and the operations under it.

Read-only. An authorisation's window is ``valid_from .. valid_to``, cut short by
``cancelled_at``; a case's is ``opened_at .. closed_at``. The operations are those
citing that authorisation (or case) id, each placed before, inside or after the window.
Times are compared as stored UTC microseconds, so offsets never confuse the order.

The timeline never judges an operation itself. Whether an operation is covered is what
the rules say: the record rules of the workspace's active criteria pack that read the
register (for the built-in pack, AUT-02 to AUT-04 for an authorisation) are evaluated
for exactly these operations by `oversight.criteria.engine.record_verdicts`, the query
a detection run uses. A pack that changes a rule changes the timeline with it. The
place of an operation on the axis uses the boundaries of the built-in AUT-02: before
``valid_from``, after ``valid_to``, or at or after ``cancelled_at`` (an operation logged
in the very second of the cancellation is after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from oversight.criteria.engine import record_verdicts
from oversight.criteria.pack import Pack, Rule
from oversight.criteria.versions import active_pack
from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["APPROVAL_TEXT", "Mark", "Place", "RuleRef", "Timeline", "authorisation_timeline",
           "case_timeline", "from_micros", "place_of", "register_rules", "timeline"]

Place = Literal["before", "inside", "after", "cancelled", "undated"]
#: Operations drawn at most; the rest are counted, not drawn.
LIMIT = 20_000
#: What the authorisation register's approval word means, in words (never "valid" for
#: a refused or pending approval).
APPROVAL_TEXT = {"approved": "approved", "refused": "refused: never in force",
                 "pending": "approval pending", "": "no approval recorded"}


@dataclass(frozen=True)
class RuleRef:
    id: str
    title: str
    severity: str


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
    """Where it falls on the axis (boundaries of the built-in AUT-02)."""
    rules: tuple[str, ...] = ()
    """The rules of the pack that flag this operation (empty: none does)."""

    @property
    def inside(self) -> bool:
        return self.place == "inside"

    @property
    def flagged(self) -> bool:
        return bool(self.rules)


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
    approval: str | None = None
    """The register's approval word ("" when none is recorded; None for a case or an
    authorisation that was not imported)."""
    pack: str = ""
    """The criteria pack whose rules judged the operations ("id version")."""
    rules: tuple[RuleRef, ...] = ()
    """The rules that were evaluated for these operations."""
    not_evaluated: dict[str, str] = field(default_factory=dict)
    """Rules of the register that a run would not evaluate now, with the reason."""

    @property
    def effective_end(self) -> int | None:
        """The end that counts: the cancellation, if it came before valid_to."""
        if self.cancelled is not None and (self.end is None or self.cancelled < self.end):
            return self.cancelled
        return self.end

    @property
    def standing(self) -> str:
        """The window in words: "valid", "refused", "pending", "open" (a case) or
        "not imported"."""
        if not self.found:
            return "not imported"
        if self.kind == "case":
            return "open"
        if self.approval in ("refused", "pending"):
            return self.approval
        return "valid"

    def counts(self) -> dict[str, int]:
        out = {p: 0 for p in ("before", "inside", "after", "cancelled", "undated")}
        for mark in self.marks:
            out[mark.place] += 1
        return out

    def flagged_counts(self) -> dict[str, int]:
        """Operations drawn that each evaluated rule flags."""
        out = {r.id: 0 for r in self.rules}
        for mark in self.marks:
            for rule_id in mark.rules:
                out[rule_id] = out.get(rule_id, 0) + 1
        return out

    def rule(self, rule_id: str) -> RuleRef | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def place_of(ts: int | None, start: int | None, end: int | None,
             cancelled: int | None) -> Place:
    """Where an operation at ``ts`` falls relative to a window, with the boundaries of
    AUT-02: before is ``ts < start``, after is ``ts > end``, after the cancellation is
    ``ts >= cancelled``; everything else is inside."""
    if ts is None:
        return "undated"
    if start is not None and ts < start:
        return "before"
    if end is not None and ts > end:
        return "after"
    if cancelled is not None and ts >= cancelled:
        return "cancelled"
    return "inside"


def register_rules(pack: Pack, kind: str) -> list[Rule]:
    """The enabled record rules of ``pack`` that read the register of ``kind``
    ("authorisation" or "case"): the rules that judge the operations of a timeline."""
    need = "authorisations" if kind == "authorisation" else "cases"
    return [r for r in pack.rules if r.enabled and r.when is not None and need in r.needs]


def authorisation_timeline(ws: Workspace, authorisation_id: str, pack: Pack | None = None
                           ) -> Timeline:
    """The authorisation (the last imported record of that id) and its operations,
    judged by ``pack`` (default: the workspace's active pack)."""
    ws.require(Permission.READ)
    aid = authorisation_id.strip()
    if not aid:
        raise UsageError("Give an authorisation id.")
    row = ws.conn.execute(
        "SELECT valid_from, valid_from_utc, valid_to, valid_to_utc, cancelled_at,"
        " cancelled_at_utc, regime, legal_basis, approval, case_id FROM live_authorisations"
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
                  row[4] if row else None, details,
                  approval=(str(row[8] or "") if row is not None else None))
    return _with_marks(ws, tl, "authorisation_id", aid, pack)


def case_timeline(ws: Workspace, case_id: str, pack: Pack | None = None) -> Timeline:
    """The case (opened .. closed) and the operations citing it."""
    ws.require(Permission.READ)
    cid = case_id.strip()
    if not cid:
        raise UsageError("Give a case id.")
    row = ws.conn.execute(
        "SELECT opened_at, opened_at_utc, closed_at, closed_at_utc, offence FROM live_cases"
        " WHERE case_id = ? ORDER BY rid DESC LIMIT 1", (cid,)).fetchone()
    details = {"offence": str(row[4])} if row is not None and row[4] else {}
    start, end = (row[1], row[3]) if row is not None else (None, None)
    tl = Timeline("case", cid, row is not None, start, end, None,
                  row[0] if row else None, row[2] if row else None, None, details)
    return _with_marks(ws, tl, "case_id", cid, pack)


def timeline(ws: Workspace, kind: str, ident: str, pack: Pack | None = None) -> Timeline:
    """``kind`` is "authorisation" or "case"."""
    if kind == "authorisation":
        return authorisation_timeline(ws, ident, pack)
    if kind == "case":
        return case_timeline(ws, ident, pack)
    raise UsageError(f"A timeline is of an authorisation or a case, not {kind!r}.")


def _with_marks(ws: Workspace, tl: Timeline, column: str, ident: str, pack: Pack | None
                ) -> Timeline:
    # ``column`` is one of two fixed names, never user input; the id is a parameter.
    assert column in ("authorisation_id", "case_id")
    total = int(ws.conn.execute(
        f"SELECT count(*) FROM live_operations WHERE {column} = ?", (ident,)).fetchone()[0])
    rows = ws.conn.execute(
        f"SELECT rid, record_id, ts, ts_utc, action, actor_id FROM live_operations"
        f" WHERE {column} = ? ORDER BY ts_utc, rid LIMIT ?", (ident, LIMIT)).fetchall()
    judge = pack if pack is not None else active_pack(ws)
    rules = register_rules(judge, tl.kind)
    verdicts = record_verdicts(ws, rules, [int(r[0]) for r in rows])
    order = [r.id for r in rules]
    marks = [Mark(int(r[0]), r[1], r[2], r[3], r[4], r[5],
                  place_of(r[3], tl.start, tl.end, tl.cancelled),
                  tuple(rule_id for rule_id in order
                        if int(r[0]) in verdicts.flagged.get(rule_id, ())))
             for r in rows]
    evaluated = tuple(RuleRef(r.id, r.title, r.severity) for r in rules
                      if r.id in verdicts.flagged)
    return Timeline(tl.kind, tl.id, tl.found, tl.start, tl.end, tl.cancelled,
                    tl.start_text, tl.end_text, tl.cancelled_text, tl.details, marks,
                    total, tl.approval, f"{judge.id} {judge.version}", evaluated,
                    dict(verdicts.not_evaluated))
