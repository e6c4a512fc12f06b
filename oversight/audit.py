"""The tamper-evident audit trail: one table, each event hashing the one before.

hash = SHA-256 over the canonical JSON array [seq, ts, user, action, payload, prev_hash].
The first event's prev_hash is 64 zeros. The head (seq, hash) is also kept in
workspace_meta, so cutting events off the end is noticed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from db.store import Connection

__all__ = ["GENESIS", "AuditEvent", "ChainReport", "append", "append_many", "event_hash",
           "verify_chain"]

GENESIS = "0" * 64
_string = encode_basestring  # a str as a JSON string literal, non-ASCII kept


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    """Position in the chain, from 1, without gaps."""
    ts: str
    """UTC time, ISO 8601 with microseconds."""
    user: str
    """Who acted."""
    action: str
    """What was done, e.g. 'import', 'user.add'."""
    payload: dict[str, Any]
    """The details, as stored (canonical JSON)."""
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    """Events checked."""
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    """The first event that does not match, if any."""
    problem: str | None
    """A sentence saying what is wrong."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(seq: int, ts: str, user: str, action: str, payload: str, prev_hash: str) -> str:
    # The compact JSON array [seq, ts, user, action, payload, prev_hash] (UTF-8, no ASCII
    # escaping), written out by hand with json's own string encoder: the same bytes as
    # json.dumps, at a third of its cost (verify hashes every event).
    material = (f"[{int(seq)},{_string(ts)},{_string(user)},{_string(action)},"
                f"{_string(payload)},{_string(prev_hash)}]")
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def head(conn: Connection) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(conn: Connection, user: str, action: str, payload: dict[str, Any]) -> AuditEvent:
    """Add one event. Call inside the transaction that makes the change it records."""
    prev_seq, prev_hash = head(conn)
    seq = prev_seq + 1
    ts = datetime.now(UTC).isoformat(timespec="microseconds")
    body = canonical_json(payload)
    digest = event_hash(seq, ts, user, action, body, prev_hash)
    conn.execute(
        "INSERT INTO audit_events(seq, ts, user, action, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, user, action, body, prev_hash, digest),
    )
    conn.execute(
        "INSERT INTO workspace_meta(key, value) VALUES ('audit_head', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (f"{seq}:{digest}",),
    )
    return AuditEvent(seq, ts, user, action, json.loads(body), prev_hash, digest)


def append_many(conn: Connection, user: str, items: list[tuple[str, dict[str, Any]]],
                ts: str | None = None) -> list[AuditEvent]:
    """Append several events in order with one head lookup and one insert (bulk work).

    ``ts`` gives every event the time the caller also wrote into the rows the events
    record (a decision's time), so the chain can vouch for those copies."""
    prev_seq, prev_hash = head(conn)
    rows = []
    events = []
    fixed = ts
    for action, payload in items:
        prev_seq += 1
        ts = fixed or datetime.now(UTC).isoformat(timespec="microseconds")
        body = canonical_json(payload)
        digest = event_hash(prev_seq, ts, user, action, body, prev_hash)
        rows.append((prev_seq, ts, user, action, body, prev_hash, digest))
        events.append(AuditEvent(prev_seq, ts, user, action, payload, prev_hash, digest))
        prev_hash = digest
    if rows:
        conn.executemany(
            "INSERT INTO audit_events(seq, ts, user, action, payload, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute(
            "INSERT INTO workspace_meta(key, value) VALUES ('audit_head', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (f"{prev_seq}:{prev_hash}",))
    return events


ChainRow = tuple[int, str, str, str, str, str, str]
"""(seq, ts, user, action, payload, prev_hash, hash) as stored."""


def verify_chain(
    conn: Connection, tick: Callable[[int], None] | None = None,
    visit: Callable[[list[ChainRow]], None] | None = None,
) -> ChainReport:
    """Recompute every hash in order; name the first event that does not match.

    ``visit`` receives the rows in order, in batches, once they have been checked (so a
    second reader, the accountability replay, needs no second pass over the table)."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    cursor = conn.execute(
        "SELECT seq, ts, user, action, payload, prev_hash, hash FROM audit_events ORDER BY seq"
    )
    # event_hash inlined (a million calls): the same material, the same bytes. Two of
    # its six parts need no encoder here: seq has just been found equal to an int (an
    # INTEGER PRIMARY KEY holds nothing else), and prev_hash equal to ``prev``, which is
    # GENESIS or a digest already matched against a hexdigest: hex digits only, so the
    # JSON string is the text in quotes.
    string, sha256 = _string, hashlib.sha256
    while True:
        rows = cursor.fetchmany(10_000)
        if not rows:
            break
        for seq, ts, user, action, payload, prev_hash, digest in rows:
            if seq != expected_seq:
                what = "missing" if seq > expected_seq else "duplicated"
                return _bad(count, prev, expected_seq, f"audit event {expected_seq} is {what}.")
            if prev_hash != prev:
                return _bad(
                    count, prev, seq,
                    f"audit event {seq} does not follow event {seq - 1} (events removed, "
                    "reordered or edited).",
                )
            if sha256(f'[{seq},{string(ts)},{string(user)},{string(action)},'
                      f'{string(payload)},"{prev}"]'.encode()).hexdigest() != digest:
                return _bad(count, prev, seq, f"audit event {seq} has been altered.")
            prev = digest
            expected_seq += 1
            count += 1
        if visit is not None:
            visit(rows)
        if tick is not None:
            tick(count)
    stored = conn.execute("SELECT value FROM workspace_meta WHERE key = 'audit_head'").fetchone()
    recorded = None if stored is None else str(stored[0])
    actual = f"{count}:{prev}"
    if (count or recorded) and recorded != actual:
        rec_seq = recorded.split(":")[0] if recorded else "none"
        return _bad(
            count, prev, count + 1,
            f"the audit trail ends at event {count} but the workspace recorded event "
            f"{rec_seq} as its last (events cut off or the head altered).",
        )
    return ChainReport(True, count, count, prev, None, None)


def _bad(count: int, prev: str, seq: int, problem: str) -> ChainReport:
    return ChainReport(False, count, count, prev, seq, problem)
