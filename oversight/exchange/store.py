"""Reading what other bodies sent: received packages, and the origin of a finding.

A received finding is stored as ``<id>@R<n>`` (the id the package gave it, and the
number of the received package in this workspace) with the pack id ``<pack>@R<n>``:
neither can come out of a detection run here (pack and rule ids have no ``@``), so
no run of this workspace ever finds, relabels or counts it as its own. Its sender's
status, notes and history sit beside it, read-only, attributed to "sender:
<body>/<user>"; a reply's decisions sit the same way beside the finding they answer.
"""

from __future__ import annotations

import re
from typing import Any

from oversight import stored
from oversight.workspace import Permission, Workspace

__all__ = ["RECEIVED_MARK", "is_received", "local_id", "local_pack", "origin",
           "received_packages", "received_registers", "sender_pack_source"]

RECEIVED_MARK = "@R"
_RECEIVED = re.compile(r"@R(\d+)$")


def is_received(finding_or_pack_id: str) -> bool:
    """Whether a finding (or pack) id is one a received package brought."""
    return _RECEIVED.search(finding_or_pack_id) is not None


def local_id(original: str, number: int) -> str:
    return f"{original}{RECEIVED_MARK}{number}"


def local_pack(pack_id: str, number: int) -> str:
    return f"{pack_id}{RECEIVED_MARK}{number}"


def _has_tables(ws: Workspace) -> bool:
    return ws.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'received_packages'"
                           ).fetchone() is not None


_PACKAGE_COLS = ("package_no", "kind", "package_id", "sha256", "file_name", "file_size",
                 "format_version", "sender_body", "sender_user", "sender_workspace",
                 "signer_subject", "signer_issuer", "signer_sha256", "signing_time",
                 "trusted", "trust_roots", "in_reply_to", "imported_by", "imported_at")


def received_packages(ws: Workspace) -> list[dict[str, Any]]:
    """Every package and reply received, oldest first, with its batches and counts."""
    ws.require(Permission.READ)
    if not _has_tables(ws):
        return []
    out = []
    for r in ws.conn.execute(f"SELECT {', '.join(_PACKAGE_COLS)} FROM received_packages"
                             " ORDER BY package_no"):
        doc = dict(zip(_PACKAGE_COLS, r, strict=True))
        doc["trusted"] = bool(doc["trusted"])
        doc["trust_roots"] = stored.json_list(doc["trust_roots"])
        doc["label"] = f"R{doc['package_no']}"
        doc["batches"] = [b[0] for b in ws.conn.execute(
            "SELECT batch_id FROM received_sources WHERE package_no = ? ORDER BY batch_id",
            (doc["package_no"],))]
        doc["findings"] = int(ws.conn.execute(
            "SELECT count(*) FROM received_findings WHERE package_no = ?",
            (doc["package_no"],)).fetchone()[0])
        out.append(doc)
    return out


def origin(ws: Workspace, finding_id: str) -> list[dict[str, Any]]:
    """What other bodies said about a finding, read-only: for a received finding, the
    sender's status, notes and history; for any finding, the replies that answer it.
    Each entry names its package, its sender as "<body>/<user>" and who signed it."""
    if not _has_tables(ws):
        return []
    out = []
    rows = ws.conn.execute(
        "SELECT p.package_no, p.kind, p.sender_body, p.sender_user, p.signer_subject,"
        " p.trusted, p.signing_time, p.file_name, p.imported_by, p.imported_at,"
        " f.original_id, f.status, f.reason, f.assignee, f.decided_by, f.decided_at,"
        " f.approved_by, f.pending_status, f.pending_reason, f.pending_by, f.matching,"
        " f.stale_reason FROM received_findings f JOIN received_packages p USING (package_no)"
        " WHERE f.finding_id = ? ORDER BY p.package_no", (finding_id,)).fetchall()
    for r in rows:
        number = int(r[0])
        keys = ("package_no", "kind", "body", "sender_user", "signer", "trusted",
                "signing_time", "file", "imported_by", "imported_at", "original_id",
                "status", "reason", "assignee", "decided_by", "decided_at", "approved_by",
                "pending_status", "pending_reason", "pending_by", "matching",
                "stale_reason")
        doc: dict[str, Any] = dict(zip(keys, r, strict=True))
        doc["trusted"] = bool(doc["trusted"])
        doc["matching"] = None if doc["matching"] is None else bool(doc["matching"])
        doc["label"] = f"R{number}"
        role = "sender" if doc["kind"] == "package" else "reply from"
        doc["attribution"] = f"{role}: {doc['body']}/{doc['sender_user']}"
        doc["notes"] = [{"note_id": n[0], "user": n[1], "ts": n[2], "text": n[3],
                         "refers_to": n[4], "by": f"{doc['body']}/{n[1]}"}
                        for n in ws.conn.execute(
            "SELECT note_id, user, ts, text, refers_to FROM received_notes WHERE package_no = ?"
            " AND finding_id = ? ORDER BY note_id", (number, finding_id))]
        doc["history"] = [{"seq": h[0], "ts": h[1], "user": h[2], "action": h[3],
                           "from": h[4], "to": h[5], "reason": h[6], "note_id": h[7],
                           "detail": stored.json_dict(h[8]) if h[8] else None,
                           "by": f"{doc['body']}/{h[2]}"} for h in ws.conn.execute(
            "SELECT seq, ts, user, action, from_status, to_status, reason, note_id, detail"
            " FROM received_decisions WHERE package_no = ? AND finding_id = ?"
            " ORDER BY position", (number, finding_id))]
        out.append(doc)
    return out


def received_registers(ws: Workspace, finding_id: str, records: list[dict[str, Any]]
                       ) -> dict[str, Any] | None:
    """For a received finding, the register entries its package brought (not whatever
    this workspace holds under the same ids); None for any other finding."""
    from oversight import queries
    from oversight.records import Kind

    m = _RECEIVED.search(finding_id)
    if m is None or not _has_tables(ws):
        return None
    batches = {b[0] for b in ws.conn.execute(
        "SELECT batch_id FROM received_sources WHERE package_no = ?", (int(m.group(1)),))}
    out: dict[str, Any] = {"authorisations": [], "cases": []}
    for key, kind, name in (("authorisations", Kind.AUTHORISATIONS, "authorisation_id"),
                            ("cases", Kind.CASES, "case_id")):
        ids = sorted({r["fields"][name] for r in records if name in r["fields"]})
        for ident in ids:
            found = [rec for rec in queries.records(ws, kind, [(name, ident)], limit=None)
                     if rec["batch_id"] in batches]
            if found:
                out[key].append(found[-1])
    return out


def sender_pack_source(ws: Workspace, finding_id: str) -> str | None:
    """The text of the criteria pack a received finding came from (None: not received,
    or the sender did not include it)."""
    if not is_received(finding_id) or not _has_tables(ws):
        return None
    row = ws.conn.execute(
        "SELECT p.source FROM received_findings f JOIN received_packs p"
        " ON p.package_no = f.package_no AND p.pack_sha256 = f.pack_sha256"
        " WHERE f.finding_id = ?", (finding_id,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])
