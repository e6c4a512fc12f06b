"""What ``verify`` checks of review packages, against the audit chain.

The import of a package records (event ``package.import``) the count and SHA-256 of
the rows it wrote in each ``received_*`` table; the replay keeps them
(``Derived.received``) and this module recomputes them from the tables, so a sender's
note, decision or provenance edited afterwards with another SQLCipher tool is named.
The received batches are checked like imports (integrity.py, chainstate's batches),
and the received findings like any finding (their content digest is in the event).

Pseudonyms: the workspace's secret must have the SHA-256 its creation recorded, every
stored pseudonym must be the one that secret gives its identifier, and each
``pseudonym.assign`` event's rows must be those it counted and digested.

No service-layer imports: the replay (chainstate) uses this module directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from db.store import Connection
from oversight.accountability import Derived, row_line

__all__ = ["LABELS", "check", "received_digests"]

#: Each received table: what verify calls its rows, and how they are read for a digest.
_TABLES: dict[str, tuple[str, str]] = {
    "package": ("record of the package (sender, signer, trust, SHA-256)",
                "SELECT kind, package_id, sha256, file_name, file_size, format_version,"
                " sender_body, sender_user, sender_workspace, signer_subject, signer_issuer,"
                " signer_sha256, signing_time, trusted, trust_roots, in_reply_to,"
                " package_json, imported_by, imported_at FROM received_packages"
                " WHERE package_no = ?"),
    "sources": ("source batches' provenance",
                "SELECT source_batch, batch_id, provenance FROM received_sources"
                " WHERE package_no = ? ORDER BY source_batch"),
    "packs": ("criteria packs",
              "SELECT pack_sha256, pack_id, version, source FROM received_packs"
              " WHERE package_no = ? ORDER BY pack_sha256"),
    "findings": ("sender's decisions",
                 "SELECT finding_id, original_id, pack_sha256, status, reason, assignee,"
                 " decided_by, decided_at, approved_by, pending_status, pending_reason,"
                 " pending_by, matching, stale_reason FROM received_findings"
                 " WHERE package_no = ? ORDER BY finding_id"),
    "notes": ("sender's notes",
              "SELECT finding_id, note_id, user, ts, text, refers_to FROM received_notes"
              " WHERE package_no = ? ORDER BY note_id"),
    "decisions": ("sender's history",
                  "SELECT finding_id, position, seq, ts, user, action, from_status,"
                  " to_status, reason, note_id, detail FROM received_decisions"
                  " WHERE package_no = ? ORDER BY finding_id, position"),
}
LABELS = {k: v[0] for k, v in _TABLES.items()}
_TABLE_NAMES = ("received_packages", "received_sources", "received_packs",
                "received_findings", "received_notes", "received_decisions")


def received_digests(conn: Connection, number: int) -> dict[str, dict[str, Any]]:
    """Count and SHA-256 of the rows of received package ``number`` in each table."""
    out: dict[str, dict[str, Any]] = {}
    for name, (_label, sql) in _TABLES.items():
        h = hashlib.sha256()
        n = 0
        for row in conn.execute(sql, (number,)):
            h.update(row_line(row))
            n += 1
        out[name] = {"count": n, "digest": h.hexdigest()}
    return out


def _has(conn: Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def check(conn: Connection, d: Derived, add: Callable[[str, str], None]) -> None:
    """Name every received row and pseudonym that differs from the audit chain."""
    if not _has(conn, "received_packages"):
        return
    stored: set[int] = set()
    for table in _TABLE_NAMES:
        for (number,) in conn.execute(f"SELECT DISTINCT package_no FROM {table}"):
            if isinstance(number, int):
                stored.add(number)
            else:  # edited to text or a BLOB: names no package
                add("received", f"Rows of {table} name package "
                                f"{str(number)[:40]!r}, which no import in the audit trail "
                                "records.")
    for number in sorted(stored | set(d.received)):
        want = d.received.get(number)
        if want is None:
            add("received", f"Received package R{number} is in the workspace, but no import "
                            "in the audit trail records it.")
            continue
        got = received_digests(conn, number)
        if got["package"]["count"] == 0:
            add("received", f"Received package R{number} is recorded in the audit trail "
                            "but missing from the workspace.")
            continue
        recorded = want.get("rows") or {}
        for name, label in LABELS.items():
            if got[name] != recorded.get(name):
                add("received", f"Received package R{number}: its {label} differ from what "
                                f"its import recorded (edited, added or deleted since).")
    _pseudonyms(conn, d, add)


def _pseudonyms(conn: Connection, d: Derived, add: Callable[[str, str], None]) -> None:
    from oversight.exchange.pseudonyms import SECRET_KEY, candidates, rows_digest

    row = conn.execute("SELECT value FROM workspace_meta WHERE key = ?", (SECRET_KEY,)
                       ).fetchone()
    secret: bytes | None = None
    if row is not None:
        try:
            secret = bytes.fromhex(str(row[0]))
        except ValueError:
            secret = b""
    if d.pseudonym_key is None and row is not None:
        add("pseudonyms", "The workspace holds a pseudonym key that no event of the audit "
                          "trail creates.")
    elif d.pseudonym_key is not None and (
            secret is None or hashlib.sha256(secret).hexdigest() != d.pseudonym_key):
        add("pseudonyms", "The workspace's pseudonym key is not the one the audit trail "
                          "recorded when it was made (replaced or removed).")
        secret = None
    groups: dict[int, list[tuple[str, str, str]]] = {}
    for pseudonym, value, kind, seq in conn.execute(
            "SELECT pseudonym, value, kind, seq FROM pseudonyms ORDER BY seq, pseudonym"):
        groups.setdefault(int(seq), []).append((str(pseudonym), str(value), str(kind)))
        if secret and pseudonym not in candidates(secret, str(value), str(kind)):
            add("pseudonyms", f"Pseudonym {pseudonym} is not the one this workspace's key "
                              "gives the identifier it stands for (edited since).")
    for seq in sorted(set(groups) | set(d.pseudonym_sets)):
        rows, want = groups.get(seq, []), d.pseudonym_sets.get(seq)
        if want is None:
            add("pseudonyms", f"{len(rows)} pseudonym(s) name audit event {seq}, which gave "
                              "out no pseudonyms.")
        elif {"count": len(rows), "digest": rows_digest(rows)} != want:
            add("pseudonyms", f"The pseudonyms given out at audit event {seq} differ from "
                              "what it recorded (edited, added or deleted since).")
