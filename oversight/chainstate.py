"""The database side of accountability: read the chain and the seals, replay them
(`oversight.accountability`), and compare what they say with the tables.

- ``access_state``: what opening a workspace needs, cheaply: only the events that change
  users, keys or settings (an index holds them), each with the rest of its command up
  to its seal, hashes and signatures checked; and whether the users table and the
  settings agree with them.
- ``Checker``: what ``verify`` needs: the whole chain replayed in the same pass that
  checks its hashes, then every table that records a right or a decision compared with
  the replay, naming the first rows that differ.
- ``upgrade_payload``: the snapshot an admin signs when a workspace written before
  signing is upgraded.
- ``seal_command``: the seal ``Workspace.write()`` adds at the end of each command.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from db.store import Connection
from oversight import audit, stored
from oversight.accountability import (
    UNKNOWN,
    Derived,
    Event,
    FindingState,
    Replay,
    finding_digest,
    row_line,
)
from oversight.seals import Seal, Signer

__all__ = ["Access", "Checker", "Precomputed", "access_state", "content_digests",
           "decision_mismatches", "finding_digests", "legacy_problems", "seal_command",
           "summary", "upgrade_payload"]

_ACCESS_WHERE = ("(action LIKE 'user.%' OR action LIKE 'settings.%' OR action LIKE "
                 "'workspace.%')")
_EVENT_COLS = "seq, ts, user, action, payload, prev_hash, hash"
#: Settings kept in workspace_meta under the same name as their ``settings.<name>`` event.
SETTINGS_KEYS = ("four_eyes", "auto_lock_minutes", "escalation_to", "timezone")
PER_KIND = 5
"""Rows named per kind of difference; the rest are counted."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the chain is replayed: the replay
    allocates millions of short-lived objects without cycles (reference counting frees
    them), and the collector's passes over them made verify half again as slow."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def has_seals(conn: Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'seals'").fetchone() \
        is not None


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _payload(text: str) -> Any:
    """Parse a stored payload (canonical JSON: no surrounding space) with the decoder's
    scanner directly, skipping json.loads's whitespace handling (verify parses every
    event); anything unusual goes through json.loads."""
    try:
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError, TypeError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):  # nested past Python's stack: unread
        return None


_new_event = tuple.__new__


def _event(row: tuple[Any, ...]) -> Event:
    seq, ts, user, action, payload, _prev, digest = row
    try:  # _payload's common case inline (verify makes a million of these)
        data, end = _scan(payload, 0)
        if end != len(payload):
            data = _payload(payload)
    except (StopIteration, ValueError, TypeError, RecursionError):
        data = _payload(payload)
    # Event(...) without the named tuple's own __new__ (a Python function): the same
    # tuple, one call fewer per event.
    return _new_event(Event, (seq, ts, user, action, data if type(data) is dict else {},
                              digest))


def _seals(conn: Connection, where: str = "", params: tuple[Any, ...] = ()
           ) -> Iterator[Seal]:
    cursor = conn.execute(f"SELECT seq, user, key_id, signature FROM seals {where} ORDER BY seq",
                          params)
    while True:
        rows = cursor.fetchmany(5000)
        if not rows:
            return
        for r in rows:
            yield Seal(int(r[0]), str(r[1]), str(r[2]), str(r[3]))


def seal_command(conn: Connection, workspace_id: str, user: str, signer: Signer,
                 start_seq: int) -> Seal | None:
    """Seal the events appended since ``start_seq`` (inside the same transaction)."""
    seq, head_hash = audit.head(conn)
    if seq <= start_seq:
        return None
    other = conn.execute("SELECT seq, user FROM audit_events WHERE seq > ? AND user != ?"
                         " LIMIT 1", (start_seq, user)).fetchone()
    if other is not None:  # pragma: no cover - every writer records as the acting user
        raise RuntimeError(f"event {other[0]} by {other[1]} in a command of {user}")
    seal = signer.seal(workspace_id, seq, head_hash, user)
    conn.execute("INSERT INTO seals(seq, user, key_id, signature) VALUES (?, ?, ?, ?)",
                 (seal.seq, seal.user, seal.key_id, seal.signature))
    return seal


# -- opening ------------------------------------------------------------------------------


@dataclass
class Access:
    derived: Derived
    divergence: str | None
    """The first way the tables or the chain disagree with the chain's rules."""
    awaiting_upgrade: bool
    """Written before signing and not yet upgraded by an admin."""


def access_state(conn: Connection) -> Access:
    """Users, keys and settings as the chain says, checked against the tables."""
    rows = conn.execute(f"SELECT {_EVENT_COLS} FROM audit_events WHERE {_ACCESS_WHERE}"
                        " ORDER BY seq").fetchall()
    upgrade_seq = next((r[0] for r in rows if r[3] == "workspace.upgrade"), None)
    legacy = bool(rows) and rows[0][0] == 1 and rows[0][3] == "workspace.create" and \
        "public_key" not in (_event(rows[0]).payload)
    segments: list[list[tuple[Any, ...]]] = []
    covered = 0
    for row in rows:
        seq = int(row[0])
        if seq <= covered:
            continue
        if legacy and (upgrade_seq is None or seq < upgrade_seq):
            segments.append([row])
            covered = seq
            continue
        found = conn.execute("SELECT min(seq) FROM seals WHERE seq >= ?", (seq,)).fetchone()
        end = seq if found is None or found[0] is None else int(found[0])
        segment = [row] if end == seq else conn.execute(
            f"SELECT {_EVENT_COLS} FROM audit_events WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (seq, end)).fetchall()
        segments.append(segment)
        covered = max(end, seq)
    for segment in segments:
        bad = _bad_segment(segment)
        if bad is not None:
            return Access(Derived(), bad, False)
    ends = [seg[-1][0] for seg in segments]
    marks = ", ".join("?" * len(ends))
    seal_rows = conn.execute(
        f"SELECT seq, user, key_id, signature FROM seals WHERE seq IN ({marks}) ORDER BY seq",
        ends).fetchall() if ends else []
    replay = Replay((Seal(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in seal_rows),
                    sparse=True)
    for segment in segments:
        replay.feed(_event(r) for r in segment)
    derived = replay.finish()
    awaiting = derived.legacy and derived.upgrade is None
    problems = list(derived.problems)
    if not awaiting and not problems:
        last_event = conn.execute("SELECT max(seq) FROM audit_events").fetchone()[0] or 0
        last_seal = conn.execute("SELECT max(seq) FROM seals").fetchone()[0] or 0
        if last_event > last_seal:
            problems.append(f"Audit events {last_seal + 1}-{last_event} come after the last "
                            "seal: nobody signed them.")
    if not problems:
        problems = _users_differ(conn, derived, limit=1) + _settings_differ(conn, derived)
    return Access(derived, problems[0] if problems else None, awaiting)


def access_event(conn: Connection, action: str, user: str | None = None) -> bool:
    """Whether the chain holds a user, settings or workspace event ``action`` (by
    ``user``): read through the index of those events."""
    row = conn.execute(f"SELECT 1 FROM audit_events WHERE {_ACCESS_WHERE} AND action = ?"
                       " AND (? IS NULL OR user = ?) LIMIT 1", (action, user, user)).fetchone()
    return row is not None


def _bad_segment(segment: list[tuple[Any, ...]]) -> str | None:
    prev = None
    for seq, ts, user, action, payload, prev_hash, digest in segment:
        if audit.event_hash(seq, ts, user, action, payload, prev_hash) != digest:
            return f"Audit event {seq} has been altered."
        if prev is not None and prev_hash != prev:
            return f"Audit event {seq} does not follow event {seq - 1}."
        prev = digest
    return None


# -- comparing tables with the replay -----------------------------------------------------


class _Problems:
    """Problem sentences by kind: the first few rows of each kind, then a count."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._counts: dict[str, int] = {}

    def add(self, kind: str, text: str) -> None:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= PER_KIND:
            self.lines.append(text)

    def close(self) -> list[str]:
        for kind, n in self._counts.items():
            if n > PER_KIND:
                self.lines.append(f"… and {n - PER_KIND} more {kind} that differ from the "
                                  "audit trail.")
        return self.lines


def _users_differ(conn: Connection, d: Derived, limit: int = PER_KIND) -> list[str]:
    out: list[str] = []
    table = {r[0]: r for r in conn.execute(
        "SELECT name, role, active, created_at, created_by, public_key FROM users")}
    # names sorted as text (a name edited to NULL or a BLOB sorts after the others)
    for name in sorted(set(table) | set(d.users),
                       key=lambda n: (not isinstance(n, str), str(n))):
        if len(out) >= limit:
            break
        row, user = table.get(name), d.users.get(name)
        if user is None:
            out.append(f"User {name} is in the users table, but no event of the audit trail "
                       "adds them.")
        elif row is None:
            out.append(f"User {name} is missing from the users table (the audit trail adds "
                       f"them).")
        elif row[1] != user.role.value:
            out.append(f"The users table gives {name} the {row[1]} role, but the audit trail "
                       f"gives {name} the {user.role.value} role.")
        elif bool(row[2]) != user.active:
            out.append(f"The users table has {name} "
                       f"{'active' if row[2] else 'removed'}, but the audit trail has them "
                       f"{'active' if user.active else f'removed at event {user.removed_seq}'}.")
        elif row[5] != user.key:
            out.append(f"The users table holds a public key for {name} that is not the one "
                       f"the audit trail gives them (event {user.key_seq}).")
        elif row[4] != user.created_by or (user.created_at != UNKNOWN
                                          and row[3] != user.created_at):
            out.append(f"The users table says {name} was added by {row[4]} at {row[3]}, but "
                       f"the audit trail says by {user.created_by} at {user.created_at}.")
    return out


def _settings_differ(conn: Connection, d: Derived) -> list[str]:
    meta = dict(conn.execute("SELECT key, value FROM workspace_meta").fetchall())
    out: list[str] = []
    for name in SETTINGS_KEYS:
        want = d.settings.get(name)
        have = meta.get(name)
        if (None if want is None else str(want)) != have:
            out.append(f"The workspace setting {name} is {have!r}, but the audit trail set it "
                       f"to {None if want is None else str(want)!r}.")
    return out


class _Merge:
    """Compare a table read in key order with the rows the chain implies, in order.

    The rows the chain implies come in the table's column order, so the usual case is
    one tuple comparison; ``same`` decides the rest (times written before the upgrade,
    JSON written another way)."""

    def __init__(self, rows: Iterator[tuple[Any, ...]], problems: _Problems, kind: str,
                 describe: Callable[[int, str], str],
                 same: Callable[[tuple[Any, ...], tuple[Any, ...]], bool],
                 excused: Callable[[int], bool] = lambda key: False,
                 shape: Callable[[tuple[Any, ...]], tuple[Any, ...]] = lambda row: row
                 ) -> None:
        self._rows = rows
        self._row: tuple[Any, ...] | None = next(rows, None)
        self._problems = problems
        self._kind = kind
        self._describe = describe
        self._same = same
        self._excused = excused
        """Rows of events the replay did not accept (already reported)."""
        self._shape = shape
        self.legacy = hashlib.sha256()
        self.legacy_count = 0

    def expect(self, key: int, want: tuple[Any, ...]) -> None:
        row = self._row
        if row is None or row[0] != key:
            while row is not None and row[0] < key:
                self._extra(row[0])
                row = self._row = next(self._rows, None)
            if row is None or row[0] > key:
                self._problems.add(self._kind, self._describe(key, "missing"))
                return
        self._row = next(self._rows, None)
        want = self._shape(want)
        if row == want:
            return
        if not self._same(row, want):
            self._problems.add(self._kind, self._describe(key, "differs"))
        if UNKNOWN in want:
            self.legacy.update(row_line(row))
            self.legacy_count += 1

    def finish(self) -> None:
        while self._row is not None:
            self._extra(self._row[0])
            self._row = next(self._rows, None)

    def _extra(self, key: int) -> None:
        if not self._excused(key):
            self._problems.add(self._kind, self._describe(key, "extra"))


def _stream(conn: Connection, sql: str) -> Iterator[tuple[Any, ...]]:
    return iter(conn.execute(sql))


def _same_note(row: tuple[Any, ...], want: tuple[Any, ...]) -> bool:
    """A note row against the chain's (its time unknown before the upgrade)."""
    return row[:3] + row[4:] == want[:3] + want[4:] and want[3] in (UNKNOWN, row[3])


def _j(key: str) -> str:
    return f"json_extract(e.p, '$.{key}')"


_FINDING_ACTIONS = "('finding.mark', 'finding.approve')"
#: Decision rows that do not equal the event that wrote them (triage._record writes one
#: per finding event: mark, approve, note, assign). An action that writes decision rows
#: needs its line in each CASE below as well as its handler in the replay; a row of an
#: action missing here shows as differing, never passes silently.
_DECISIONS_SQL = f"""
WITH ev AS (SELECT seq, ts, user, action,
                   CASE WHEN json_valid(payload) THEN payload ELSE '{{}}' END AS p
            FROM audit_events),
cmp AS (
SELECT d.decision_id AS did, d.seq AS seq, e.seq IS NULL AS orphan, d.ts IS NOT e.ts AS ts_differs,
   (d.action IS NOT CASE e.action WHEN 'finding.mark' THEN 'mark'
        WHEN 'finding.approve' THEN 'approve' WHEN 'finding.note' THEN 'note'
        WHEN 'finding.assign' THEN 'assign' WHEN 'finding.return' THEN 'return' END
   OR d.finding_id IS NOT {_j('finding_id')}
   OR d.user IS NOT e.user
   OR d.from_status IS NOT CASE e.action WHEN 'finding.mark' THEN {_j('from')}
        WHEN 'finding.approve' THEN 'pending_approval'
        WHEN 'finding.return' THEN 'pending_approval' END
   OR d.to_status IS NOT CASE WHEN e.action IN {_FINDING_ACTIONS} THEN {_j('to')}
        WHEN e.action = 'finding.return' THEN 'in_review' END
   OR d.reason IS NOT CASE WHEN e.action IN {_FINDING_ACTIONS} THEN {_j('reason')} END
   OR d.note_id IS NOT {_j('note_id')}
   OR CASE WHEN json_valid(d.detail) THEN json(d.detail) ELSE d.detail END IS NOT
      CASE e.action
        WHEN 'finding.mark' THEN CASE WHEN {_j('awaiting')} IS NOT NULL
             THEN json_object('awaiting', {_j('awaiting')}) END
        WHEN 'finding.approve' THEN json_object('decided_by', {_j('decided_by')})
        WHEN 'finding.note' THEN CASE WHEN {_j('refers_to')} IS NOT NULL
             THEN json_object('refers_to', {_j('refers_to')}) END
        WHEN 'finding.assign' THEN json_object('from', {_j('from')}, 'to', {_j('to')})
        WHEN 'finding.return' THEN json_object(
             'proposed_by', {_j('proposed_by')},
             'returned', json_object('reason', {_j('returned.reason')},
                                     'status', {_j('returned.status')}))
      END) AS differs,
   d.action AS d_action, d.finding_id AS d_finding, d.user AS d_user,
   d.from_status AS d_from, d.to_status AS d_to, d.reason AS d_reason,
   d.note_id AS d_note, d.detail AS d_detail, e.user AS e_user, e.action AS e_action,
   e.p AS e_payload
FROM decisions d LEFT JOIN ev e ON e.seq = d.seq)
SELECT seq, orphan, differs, ts_differs, d_action, d_finding, d_user, d_from, d_to,
       d_reason, d_note, d_detail, e_user, e_action, e_payload
FROM cmp WHERE orphan OR differs OR ts_differs
ORDER BY did
"""

_SHORT_ACTIONS = {"finding.mark": "mark", "finding.approve": "approve",
                  "finding.note": "note", "finding.assign": "assign",
                  "finding.return": "return"}


def _same_value(have: Any, want: Any) -> bool:
    """A column against the event's value: equal, text only to text."""
    if have is None or want is None:
        return have is None and want is None
    if isinstance(have, str) or isinstance(want, str):
        return isinstance(have, str) and isinstance(want, str) and have == want
    return isinstance(want, (int, float)) and have == want


def _row_differs(row: tuple[Any, ...]) -> bool:
    """The second look at a decision row the SQL found differing from its event: the
    same fields as _DECISIONS_SQL compares, with the detail compared as JSON values, not
    as text. SQLite's json() keeps a string's escapes as written, so a detail written
    with json.dumps's ASCII escapes (every row before 2026-12-01 naming a user such as
    "josé") never equalled the json_object rebuilt from the event, and verify reported
    those rows as edited."""
    (action, finding, user, from_status, to_status, reason, note_id, detail, e_user,
     e_action, payload) = row[4:15]
    p = stored.json_dict(payload) if payload is not None else {}
    raw = p.get("returned")
    returned: dict[str, Any] = raw if isinstance(raw, dict) else {}
    decided = e_action in ("finding.mark", "finding.approve")
    want_from = {"finding.mark": p.get("from"), "finding.approve": "pending_approval",
                 "finding.return": "pending_approval"}.get(e_action)
    want_to = p.get("to") if decided else "in_review" if e_action == "finding.return" \
        else None
    want_detail: dict[str, Any] | None = {
        "finding.mark": {"awaiting": p.get("awaiting")}
        if p.get("awaiting") is not None else None,
        "finding.approve": {"decided_by": p.get("decided_by")},
        "finding.note": {"refers_to": p.get("refers_to")}
        if p.get("refers_to") is not None else None,
        "finding.assign": {"from": p.get("from"), "to": p.get("to")},
        "finding.return": {"proposed_by": p.get("proposed_by"),
                           "returned": {"reason": returned.get("reason"),
                                        "status": returned.get("status")}},
    }.get(str(e_action))
    same_detail = detail is None if want_detail is None \
        else stored.json_value(detail) == want_detail
    return not (same_detail
                and _same_value(action, _SHORT_ACTIONS.get(str(e_action)))
                and _same_value(finding, p.get("finding_id"))
                and _same_value(user, e_user)
                and _same_value(from_status, want_from)
                and _same_value(to_status, want_to)
                and _same_value(reason, p.get("reason") if decided else None)
                and _same_value(note_id, p.get("note_id")))


def decision_mismatches(conn: Connection) -> list[tuple[Any, bool, bool, bool]]:
    """The decision rows that are not what the event they name wrote: (seq as stored,
    an int unless edited to something else, which names no event; no such event; a
    field other than the time differs; the time differs). Whether a differing time
    matters depends on the upgrade (``Checker._decisions``)."""
    out = []
    for r in conn.execute(_DECISIONS_SQL):
        orphan, differs, ts_differs = bool(r[1]), bool(r[2]), bool(r[3])
        if differs and not orphan:
            differs = _row_differs(r)
        if orphan or differs or ts_differs:
            out.append((r[0], orphan, differs, ts_differs))
    return out


def _legacy_decisions(conn: Connection, upgrade_seq: int) -> tuple[int, str]:
    """Count and digest of the decision rows written before the upgrade (as the upgrade
    recorded them: their times are copies the older events cannot check)."""
    h = hashlib.sha256()
    n = 0
    for row in conn.execute(_LEGACY_DECISIONS + " WHERE seq < ? ORDER BY decision_id",
                            (upgrade_seq,)):
        h.update(row_line(row))
        n += 1
    return n, h.hexdigest()


_LEGACY_DECISIONS = ("SELECT seq, finding_id, seq, ts, user, action, from_status, to_status,"
                     " reason, note_id, detail FROM decisions")


@dataclass
class Precomputed:
    """The table-side work of the check that needs no replay, done by another process
    (oversight.verify_worker) from the same database."""

    digests: dict[str, str] | None
    """Finding id -> content digest (content_digests); None: the checker digests them."""
    decisions: list[tuple[Any, bool, bool, bool]]
    """decision_mismatches."""


@dataclass
class Checker:
    """Replays the chain while ``audit.verify_chain`` reads it (``visit``), then compares
    the tables with what the replay derived."""

    conn: Connection
    problems: _Problems = field(default_factory=_Problems)
    precomputed: Precomputed | None = None
    """What verify's helper process computed on another core (None: compute here)."""

    def __post_init__(self) -> None:
        conn = self.conn
        self._notes = _Merge(
            _stream(conn, "SELECT note_id, finding_id, user, ts, text, refers_to"
                          " FROM finding_notes ORDER BY note_id"),
            self.problems, "notes",
            lambda key, how: f"Note {key} " + {
                "extra": "is not in the audit trail.", "missing": "is missing.",
                "differs": "differs from what the audit trail recorded."}[how],
            _same_note, lambda key: key in self.replay.rejected_notes)
        self.replay = Replay(_seals(conn), on_note=self._notes.expect)

    def visit(self, rows: list[audit.ChainRow]) -> None:
        self.replay.feed([_event(r) for r in rows])

    def finish(self, *, content: bool = True) -> Derived:
        """Compare every table; ``content``: also finding content (False while a
        workspace written before signing awaits its upgrade, which records it)."""
        d = self.replay.finish()
        self._notes.finish()
        p = self.problems
        self._decisions(d)
        if d.upgrade is not None:
            self._legacy_digest("notes", self._notes.legacy_count,
                                self._notes.legacy.hexdigest(),
                                d.upgrade.payload.get("legacy_notes"))
            n, digest = _legacy_decisions(self.conn, d.upgrade.seq)
            self._legacy_digest("decisions", n, digest,
                                d.upgrade.payload.get("legacy_decisions"))
        for line in _users_differ(self.conn, d):
            p.add("users", line)
        for line in _settings_differ(self.conn, d):
            p.add("settings", line)
        self._meta(d)
        self._packs(d)
        self._runs(d)
        self._findings(d, content and not (d.legacy and d.upgrade is None))
        self._samples(d)
        self._batches(d)
        self._received(d)
        return d

    def lines(self) -> list[str]:
        d = self.replay.derived
        out = list(d.problems)
        if d.more_problems:
            out.append(f"… and {d.more_problems} more audit events break the rules above.")
        return out + self.problems.close()

    def _decisions(self, d: Derived) -> None:
        """Each decision row against the event that wrote it, in SQL (one row per event
        of the chain, a million of them after some bulk marking): the event's payload
        carries everything the row holds. The replay has checked each payload against
        the state the chain left, so a row that equals its event is what the chain says."""
        p = self.problems
        signed_from = 0 if not d.legacy else (d.upgrade.seq if d.upgrade else 1 << 62)
        mismatches = decision_mismatches(self.conn) if self.precomputed is None \
            else self.precomputed.decisions
        for seq, orphan, differs, ts_differs in mismatches:
            if orphan:
                p.add("decisions", f"A decision row names audit event {seq}, which records "
                                   "no such decision.")
            elif differs or (ts_differs and seq >= signed_from):
                p.add("decisions", f"The decision row of audit event {seq} differs from what "
                                   "the audit trail recorded.")
        rows, distinct = self.conn.execute(
            "SELECT count(*), count(DISTINCT seq) FROM decisions").fetchone()
        expected = self.replay.decision_seqs
        if rows == distinct == len(expected):
            return
        have = {r[0] for r in self.conn.execute("SELECT seq FROM decisions")}
        for seq in expected:
            if seq not in have:
                p.add("decisions", f"The decision recorded by audit event {seq} is missing "
                                   "from the findings' history.")
        if rows != distinct:
            for (seq,) in self.conn.execute("SELECT seq FROM decisions GROUP BY seq"
                                            " HAVING count(*) > 1 ORDER BY seq"):
                p.add("decisions", f"Audit event {seq} has more than one decision row.")

    def _legacy_digest(self, kind: str, count: int, digest: str, recorded: Any) -> None:
        if not isinstance(recorded, dict):
            return
        if recorded.get("count") != count or recorded.get("digest") != digest:
            self.problems.add(kind, f"The {kind} written before the upgrade are not the "
                                    f"{recorded.get('count')} the upgrade recorded (edited, "
                                    "added or deleted since).")

    def _meta(self, d: Derived) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM workspace_meta").fetchall())
        if d.workspace_id is not None and meta.get("workspace_id") != d.workspace_id:
            self.problems.add("settings", f"The workspace id {meta.get('workspace_id')} is "
                                          f"not the one it was created with ({d.workspace_id}).")
        if meta.get("active_pack") != d.active_pack:
            self.problems.add("settings", f"The active criteria pack is "
                                          f"{meta.get('active_pack')}, but the audit trail "
                                          f"made {d.active_pack} active.")

    def _packs(self, d: Derived) -> None:
        rows = self.conn.execute("SELECT pack_sha256, pack_id, version, source, added_by"
                                 " FROM packs ORDER BY pack_sha256").fetchall()
        seen = set()
        for sha, pack_id, version, source, added_by in rows:
            seen.add(sha)
            want = d.packs.get(sha)
            label = f"Criteria pack {pack_id} {version} (sha256 {str(sha)[:16]}…)"
            if hashlib.sha256(str(source).encode("utf-8")).hexdigest() != sha:
                self.problems.add("packs", f"{label} has been edited: its stored text no "
                                           "longer has that SHA-256.")
            elif want is None:
                self.problems.add("packs", f"{label} is stored, but no event of the audit "
                                           "trail stores or runs it.")
            elif (want.get("pack_id"), want.get("version"), want.get("added_by")) != (
                    pack_id, version, added_by):
                self.problems.add("packs", f"{label} is recorded in the audit trail as "
                                           f"{want.get('pack_id')} {want.get('version')}, "
                                           f"stored by {want.get('added_by')}.")
        for sha in sorted(set(d.packs) - seen):
            self.problems.add("packs", f"Criteria pack {sha[:16]}…, stored or run according "
                                       "to the audit trail, is missing.")

    def _runs(self, d: Derived) -> None:
        rows = {r[0]: r for r in self.conn.execute(
            "SELECT run_id, pack_sha256, pack_id, pack_version, user, rules, summary"
            " FROM runs")}
        for run_id in sorted(set(rows) | set(d.runs)):
            row, want = rows.get(run_id), d.runs.get(run_id)
            if want is None:
                self.problems.add("runs", f"Detection run {run_id} is not in the audit trail.")
            elif row is None:
                self.problems.add("runs", f"Detection run {run_id} is missing.")
            else:
                rules = stored.json_value(row[5])
                if (row[1], row[2], row[3], row[4], rules) != (
                        want["pack_sha256"], want["pack_id"], want["version"], want["user"],
                        want["rules"]):
                    self.problems.add("runs", f"Detection run {run_id} differs from what the "
                                              "audit trail recorded (pack, rules or user).")
                elif not _same_outcomes(stored.json_dict(row[6]), want["outcomes"]):
                    self.problems.add("runs", f"Detection run {run_id}'s summary (which rules "
                                              "were evaluated, why not, and their hits) "
                                              "differs from what the audit trail recorded.")

    def _findings(self, d: Derived, content: bool) -> None:
        pre = self.precomputed
        digests = None if pre is None else pre.digests
        pairs = _digested(self.conn) if digests is None else (
            (row, digests.get(row[0])) for row in _stream(self.conn, _FINDING_STATE_SQL))
        seen: set[str] = set()
        p = self.problems
        for row, digest in pairs:
            fid = row[0]
            seen.add(fid)
            f = d.findings.get(fid)
            if f is None:
                if content:
                    p.add("findings", f"Finding {fid} is not in the audit trail (no detection "
                                      "run recorded it).")
                    continue
                f = FindingState(row[1], row[2], None, None)
            if content and f.digest is not None:
                self._content(fid, row, digest, f, d)
            if row[15] != f.status:
                p.add("findings", f"Finding {fid} is {row[15]} but its decisions in the audit "
                                  f"trail leave it {f.status}.")
                continue
            triage = (row[16], row[17], row[18], row[19], row[20], row[21], row[22],
                      row[23])
            want = (f.reason, f.assignee, f.decided_by, f.decided_at, f.approved_by,
                    f.pending_status, f.pending_reason, f.pending_by)
            if any(w != UNKNOWN and w != g for g, w in zip(triage, want, strict=True)):
                p.add("findings", f"Finding {fid}'s decision (reason, assignee, who decided "
                                  "or approved, or what waits for approval) differs from the "
                                  "audit trail.")
        if content:
            for fid in sorted(set(d.findings) - seen):
                p.add("findings", f"Finding {fid} is missing (the audit trail records it).")

    def _content(self, fid: str, row: tuple[Any, ...], digest: str | None, f: FindingState,
                 d: Derived) -> None:
        p = self.problems
        severity = row[5]
        first_run, last_run, matching, stale_since = row[11:15]
        if severity != f.severity:
            p.add("findings", f"Finding {fid} is {severity}, but detection recorded it as "
                              f"{f.severity}.")
        elif digest != f.digest:
            p.add("findings", f"Finding {fid} differs from what detection recorded (its "
                              "rule, message, records or facts were edited).")
        elif (bool(matching), first_run, last_run, stale_since) != (
                f.matching, f.first_run, d.last_run(f), f.stale_since):
            p.add("findings", f"Finding {fid}'s runs (first, last, or whether it still "
                              "matches) differ from what detection recorded.")

    def _samples(self, d: Derived) -> None:
        rows = {r[0]: r for r in self.conn.execute(
            "SELECT sample_id, population, stratify_by, seed, size, population_size, filters,"
            " item_ids, created_by FROM samples")}
        for sid in sorted(set(rows) | set(d.samples)):
            row, want = rows.get(sid), d.samples.get(sid)
            if want is None:
                self.problems.add("samples", f"Sample {sid} is not in the audit trail.")
            elif row is None:
                self.problems.add("samples", f"Sample {sid} is missing.")
            else:
                filters, items = stored.json_value(row[6]), stored.json_value(row[7])
                if (row[1], row[2], row[3], row[4], row[5], filters, items, row[8]) != (
                        want.get("population"), want.get("by"), want.get("seed"),
                        want.get("size"), want.get("population_size"), want.get("filters"),
                        want.get("items"), want.get("user")):
                    self.problems.add("samples", f"Sample {sid} differs from what the audit "
                                                 "trail recorded.")

    def _batches(self, d: Derived) -> None:
        has_quality = "warnings" in {r[1] for r in self.conn.execute(
            "PRAGMA table_info(batches)")}
        quality = ", warnings, missing_markers" if has_quality else ", NULL, NULL"
        for batch_id, kind, imported_by, read, imported, rejected, warnings, markers in \
                self.conn.execute(
                    "SELECT batch_id, kind, imported_by, rows_read, rows_imported,"
                    f" rows_rejected{quality} FROM batches ORDER BY batch_id"):
            want = d.batches.get(batch_id)
            if want is None:
                continue  # integrity.py says so
            if (kind, imported_by, read, imported, rejected) != (
                    want.get("kind"), want.get("user"), want.get("rows_read"),
                    want.get("rows_imported"), want.get("rows_rejected")):
                self.problems.add("batches", f"Batch {batch_id}: who imported it, its kind or "
                                             "its row counts differ from the audit trail.")
            # What the import could not vouch for stays as it said (an import event from
            # before warnings were recorded carries none, and its batch holds NULL).
            if stored.json_value(warnings) != want.get("warnings") \
                    or stored.json_value(markers) != want.get("missing_markers"):
                self.problems.add("batches", f"Batch {batch_id}: its data-quality warnings or "
                                             "missing markers differ from what its import "
                                             "recorded.")


    # -- review packages (oversight.exchange) ------------------------------------------

    def _received(self, d: Derived) -> None:
        """Received packages and replies, and the pseudonyms this workspace gave out,
        against their events (oversight/exchange/chaincheck.py)."""
        from oversight.exchange import chaincheck

        chaincheck.check(self.conn, d, self.problems.add)


def _same_outcomes(summary: dict[str, Any], chain: list[dict[str, Any]]) -> bool:
    """A run's stored summary against its detection.run event: each rule's outcome (the
    fields the event records) and the totals shown in lists and reports."""
    rules = summary.get("rules")
    if not isinstance(rules, list) or len(rules) != len(chain) \
            or not all(isinstance(r, dict) for r in rules):
        return False
    if any({k: r.get(k) for k in want} != want for r, want in zip(rules, chain, strict=True)):
        return False
    for key in ("hits", "new"):
        counts = [w[key] for w in chain if key in w]
        if len(counts) < len(chain):
            continue  # an event from before it recorded them
        if not all(type(c) is int for c in counts) or summary.get(key) != sum(counts):
            return False  # a count that is not a number has no total to show
    return True


_FINDING_SQL = (
    "SELECT finding_id, pack_id, rule_id, part, group_key, severity, message, facts,"
    " legal_refs, record_ids, first_ts_utc, first_run, last_run, matching, stale_since_run,"
    " status, reason, assignee, decided_by, decided_at, approved_by, pending_status,"
    " pending_reason, pending_by FROM findings ORDER BY finding_id")


#: _FINDING_SQL without the content the helper process digested (the same positions).
_FINDING_STATE_SQL = (
    "SELECT finding_id, pack_id, rule_id, NULL, NULL, severity, NULL, NULL, NULL, NULL,"
    " NULL, first_run, last_run, matching, stale_since_run,"
    " status, reason, assignee, decided_by, decided_at, approved_by, pending_status,"
    " pending_reason, pending_by FROM findings ORDER BY finding_id")


def _with_rids(rows: Iterator[tuple[Any, ...]], links: Iterator[tuple[Any, ...]]
               ) -> Iterator[tuple[tuple[Any, ...], list[int]]]:
    """Each finding row with its linked record rows (both read in finding id order)."""
    link = next(links, None)
    for row in rows:
        fid = row[0]
        if not isinstance(fid, str):  # an id edited to NULL or a number: no links
            yield row, []
            continue
        while link is not None and (not isinstance(link[0], str) or link[0] < fid):
            link = next(links, None)
        rids: list[int] = []
        while link is not None and link[0] == fid:
            rids.append(int(link[1]))
            link = next(links, None)
        yield row, rids


def summary(d: Derived) -> dict[str, Any]:
    """What verify states about signing: seals, signed events, and the events written
    before signing existed with who vouched for them."""
    out: dict[str, Any] = {"seals": d.seals, "signed_events": d.signed_events,
                           "legacy_events": 0, "upgrade": None, "statement": None}
    if d.legacy:
        if d.upgrade is None:
            out["legacy_events"] = d.events
            out["statement"] = (f"Events 1-{d.events} were written before signing existed; "
                                "no admin has vouched for them yet.")
        else:
            u = d.upgrade
            out["legacy_events"] = u.seq - 1
            out["upgrade"] = {"seq": u.seq, "user": u.user, "ts": u.ts}
            out["statement"] = (f"Events 1-{u.seq - 1} were written before signing existed; "
                                f"admin {u.user} vouched for them on {u.ts[:10]} "
                                f"(event {u.seq}).")
    return out


# -- upgrade ------------------------------------------------------------------------------


def legacy_problems(conn: Connection) -> list[str]:
    """What keeps an admin from vouching for a workspace written before signing: a
    broken chain, or tables that disagree with what its events say (users and roles,
    settings, packs, runs, notes, decisions, statuses, samples)."""
    with paused_gc():
        checker = Checker(conn)
        chain = audit.verify_chain(conn, visit=checker.visit)
        if not chain.ok:
            return [f"Audit trail: {chain.problem}"]
        checker.finish(content=False)
        return checker.lines()


def finding_digests(conn: Connection) -> dict[str, list[Any]]:
    """Every finding's content digest and run bookkeeping, as the upgrade records it:
    id -> [pack, rule, severity, digest, matching, first run, last run, stale since]."""
    out: dict[str, list[Any]] = {}
    for row, digest in _digested(conn):
        (fid, pack_id, rule_id, _part, _group, severity, _message, _facts, _refs, _ids,
         _first_ts, first_run, last_run, matching, stale_since) = row[:15]
        out[fid] = [pack_id, rule_id, severity, digest, int(matching), first_run, last_run,
                    stale_since]
    return out


def _digested(conn: Connection) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every finding row (in id order) with the digest of its content as it is stored
    now (``accountability.finding_digest``)."""
    rows = _stream(conn, _FINDING_SQL)
    links = _stream(conn, "SELECT finding_id, rid FROM finding_records ORDER BY finding_id, rid")
    for row, rids in _with_rids(rows, links):
        (_fid, pack_id, rule_id, part, group_key, severity, message, facts, refs, record_ids,
         first_ts) = row[:11]
        yield row, finding_digest(pack_id, rule_id, part, group_key, severity, message,
                                  facts, refs, record_ids, first_ts, rids)


def content_digests(conn: Connection) -> dict[str, str]:
    """Each finding's content digest as stored now: what verify's helper process
    computes while the main process replays the chain."""
    return {row[0]: digest for row, digest in _digested(conn)}


def _rows_digest(conn: Connection, sql: str) -> dict[str, Any]:
    h = hashlib.sha256()
    n = 0
    for row in _stream(conn, sql):
        h.update(row_line(row))
        n += 1
    return {"count": n, "digest": h.hexdigest()}


def upgrade_payload(conn: Connection, admin: str, public_key: str,
                    findings: dict[str, list[Any]], schema_version: int) -> dict[str, Any]:
    """What an admin vouches for when signing starts: the state the older events do not
    carry (users as the table holds them, settings, packs, every finding's content), and
    digests of the notes and decision rows written so far (their times are copies the
    older events cannot check)."""
    seq, head_hash = audit.head(conn)
    users = [{"name": r[0], "role": r[1], "active": bool(r[2]), "created_at": r[3],
              "created_by": r[4]} for r in conn.execute(
                  "SELECT name, role, active, created_at, created_by FROM users ORDER BY name")]
    meta = dict(conn.execute("SELECT key, value FROM workspace_meta").fetchall())
    settings: dict[str, Any] = {"four_eyes": meta.get("four_eyes", "critical")}
    if meta.get("auto_lock_minutes") is not None:
        settings["auto_lock_minutes"] = int(meta["auto_lock_minutes"])
    packs = {r[0]: {"pack_id": r[1], "version": r[2], "added_by": r[3]} for r in conn.execute(
        "SELECT pack_sha256, pack_id, version, added_by FROM packs ORDER BY pack_sha256")}
    return {
        "schema_version": schema_version,
        "legacy_events": seq,
        "legacy_head": head_hash,
        "public_key": public_key,
        "users": users,
        "pending": [u["name"] for u in users if u["active"] and u["name"] != admin],
        "settings": settings,
        "packs": packs,
        "active_pack": meta.get("active_pack"),
        "findings": findings,
        "legacy_notes": _rows_digest(conn, "SELECT note_id, finding_id, user, ts, text,"
                                           " refers_to FROM finding_notes ORDER BY note_id"),
        "legacy_decisions": _rows_digest(conn, _LEGACY_DECISIONS + " ORDER BY decision_id"),
    }

