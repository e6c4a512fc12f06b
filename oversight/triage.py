"""Triage: inspectors and auditors decide on findings, accountably.

Statuses: open, in_review, confirmed, dismissed (with a reason), escalated, and
pending_approval while a serious conclusion waits for a second, different reviewer
(four-eyes; the workspace setting says from which severity). Confirm and dismiss need a
note. Notes are append-only: nobody edits or deletes a note, a correction is a new note
that refers to the old one. Every change is one event in the audit chain and one row in
the finding's history, written in the same transaction as the change.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from oversight import audit, queries, stored
from oversight.accountability import needs_second
from oversight.changes import Change, changes
from oversight.criteria.pack import Pack, parse_pack
from oversight.errors import PermissionDenied, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.records import Kind
from oversight.workspace import Permission, Workspace, user_name

__all__ = [
    "REASONS",
    "FourEyes",
    "MarkResult",
    "add_note",
    "add_notes",
    "all_notes",
    "approve",
    "assign",
    "draw_sample",
    "escalation_to",
    "finding_detail",
    "four_eyes",
    "history",
    "mark",
    "pending_decisions",
    "return_decision",
    "select_ids",
    "set_escalation_to",
    "set_four_eyes",
]

MARKABLE = ("open", "in_review", "confirmed", "dismissed", "escalated")
REASONS = ("false_positive", "justified", "duplicate", "data_error", "out_of_scope")
_NEED_NOTE = ("confirmed", "dismissed")


class FourEyes(StrEnum):
    OFF = "off"
    CRITICAL = "critical"
    HIGH = "high"
    """High and above."""


@dataclass
class MarkResult:
    changed: list[str] = field(default_factory=list)
    """Findings whose status is now the one asked for."""
    pending: list[str] = field(default_factory=list)
    """Findings waiting for a second reviewer's approval."""
    unchanged: list[str] = field(default_factory=list)
    """Findings already in that status."""

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "pending_approval": self.pending,
                "unchanged": self.unchanged}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def four_eyes(ws: Workspace) -> FourEyes:
    row = ws.conn.execute("SELECT value FROM workspace_meta WHERE key = 'four_eyes'").fetchone()
    return FourEyes(row[0]) if row else FourEyes.CRITICAL


@changes(Change.SETTINGS)
def set_four_eyes(ws: Workspace, policy: str) -> None:
    ws.require(Permission.CONFIGURE)
    try:
        value = FourEyes(policy)
    except ValueError:
        raise UsageError(f"Four-eyes policy is one of: {', '.join(f.value for f in FourEyes)} "
                         "(high means high and above).") from None
    with ws.write() as conn:
        old = four_eyes(ws)
        conn.execute("INSERT INTO workspace_meta(key, value) VALUES ('four_eyes', ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (value.value,))
        ws.record("settings.four_eyes", {"from": old.value, "to": value.value})


def escalation_to(ws: Workspace) -> str | None:
    """Who escalated findings go to (a person or a body, as the admin wrote it), or None
    when nobody has been named."""
    row = ws.conn.execute(
        "SELECT value FROM workspace_meta WHERE key = 'escalation_to'").fetchone()
    return str(row[0]) if row and row[0] else None


@changes(Change.SETTINGS)
def set_escalation_to(ws: Workspace, recipient: str | None) -> None:
    """Name who escalations go to (admins); None or blank clears it."""
    ws.require(Permission.CONFIGURE)
    value = (recipient or "").strip() or None
    if value is not None and (len(value) > 200 or not value.isprintable()):
        raise UsageError("The escalation recipient is one line of at most 200 printable "
                         "characters (a person, a role or a body).")
    with ws.write() as conn:
        old = escalation_to(ws)
        if old == value:
            return
        if value is None:
            conn.execute("DELETE FROM workspace_meta WHERE key = 'escalation_to'")
        else:
            conn.execute("INSERT INTO workspace_meta(key, value) VALUES ('escalation_to', ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (value,))
        ws.record("settings.escalation_to", {"from": old, "to": value})


def _needs_second(policy: FourEyes, severity: str) -> bool:
    return needs_second(policy.value, severity)  # the rule verify applies to the chain


def _load(ws: Workspace, finding_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = list(dict.fromkeys(finding_ids))
    if not ids:
        raise UsageError("Name at least one finding (or use a filter).")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ", ".join("?" * len(part))
        for row in ws.conn.execute(
                "SELECT finding_id, severity, status, reason, pending_status, pending_reason,"
                f" pending_by, assignee FROM findings WHERE finding_id IN ({marks})", part):
            found[row[0]] = {"severity": row[1], "status": row[2], "reason": row[3],
                             "pending_status": row[4], "pending_reason": row[5],
                             "pending_by": row[6], "assignee": row[7]}
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(m) for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise UsageError(f"No finding {shown} in this workspace; `oversight findings` lists "
                         "them.")
    return {i: found[i] for i in ids}


def _clean_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    return note  # kept byte-exact: markup, emoji and right-to-left text as written


def select_ids(ws: Workspace, rule: str | None = None, severity: str | None = None,
               status: str | None = None) -> list[str]:
    """Ids of findings matching a filter (for bulk marking)."""
    if rule is None and severity is None and status is None:
        raise UsageError("A filter needs at least one of rule, severity or status.")
    chosen = FindingFilters(rule=rule, severity=severity, status=status)
    return [f["id"] for f in list_findings(ws, chosen)]


@changes(Change.FINDINGS)
def mark(ws: Workspace, finding_ids: Sequence[str], status: str, reason: str | None = None,
         note: str | None = None) -> MarkResult:
    """Set the status of findings; confirm/dismiss of serious ones wait for approval."""
    ws.require(Permission.TRIAGE)
    if status not in MARKABLE:
        raise UsageError(f"Unknown status {status!r}; mark a finding as one of: "
                         f"{', '.join(MARKABLE)} (open reopens it).")
    text = _clean_note(note)
    if status in _NEED_NOTE and text is None:
        raise UsageError(f"Marking a finding {status} needs a note saying why (--note).")
    if status == "dismissed":
        if reason not in REASONS:
            raise UsageError(f"Dismissing needs a reason: one of {', '.join(REASONS)} "
                             "(--reason).")
    elif reason is not None:
        raise UsageError("A reason is given only when dismissing a finding.")
    findings = _load(ws, finding_ids)
    policy = four_eyes(ws)
    result = MarkResult()
    now = _now()
    with ws.write() as conn:
        events: list[tuple[str, dict[str, Any]]] = []
        decisions: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for fid, cur in findings.items():
            if cur["status"] == status and cur["pending_status"] is None and text is None:
                result.unchanged.append(fid)
                continue
            note_id = _insert_note(conn, fid, ws.user, now, text) if text else None
            pending = status in _NEED_NOTE and _needs_second(policy, cur["severity"])
            new = "pending_approval" if pending else status
            updates.append((
                new, reason if status == "dismissed" and not pending else None,
                status if pending else None, reason if pending else None,
                ws.user if pending else None, ws.user, now, fid))
            payload = {"finding_id": fid, "from": cur["status"], "to": new,
                       "reason": reason, "note_id": note_id, "note": text}
            if pending:
                payload["awaiting"] = status
            events.append(("finding.mark", payload))
            decisions.append((fid, now, ws.user, "mark", cur["status"], new, reason, note_id,
                              _detail({"awaiting": status}) if pending else None))
            (result.pending if pending else result.changed).append(fid)
        conn.executemany(
            "UPDATE findings SET status = ?, reason = ?, pending_status = ?,"
            " pending_reason = ?, pending_by = ?, decided_by = ?, decided_at = ?,"
            " approved_by = NULL WHERE finding_id = ?", updates)
        _record(ws, conn, events, decisions)
    return result


@changes(Change.FINDINGS)
def approve(ws: Workspace, finding_ids: Sequence[str], note: str | None = None) -> MarkResult:
    """The second reviewer confirms a pending decision; it then takes effect."""
    ws.require(Permission.APPROVE)
    findings = _load(ws, finding_ids)
    _check_second_reviewer(ws, findings, "approve")
    text = _clean_note(note)
    result = MarkResult()
    now = _now()
    with ws.write() as conn:
        events: list[tuple[str, dict[str, Any]]] = []
        decisions: list[tuple[Any, ...]] = []
        for fid, cur in findings.items():
            note_id = _insert_note(conn, fid, ws.user, now, text) if text else None
            conn.execute(
                "UPDATE findings SET status = pending_status, reason = pending_reason,"
                " approved_by = ?, pending_status = NULL, pending_reason = NULL,"
                " pending_by = NULL WHERE finding_id = ?", (ws.user, fid))
            events.append(("finding.approve", {
                "finding_id": fid, "from": "pending_approval", "to": cur["pending_status"],
                "reason": cur["pending_reason"], "decided_by": cur["pending_by"],
                "note_id": note_id, "note": text}))
            decisions.append((fid, now, ws.user, "approve", "pending_approval",
                              cur["pending_status"], cur["pending_reason"], note_id,
                              _detail({"decided_by": cur["pending_by"]})))
            result.changed.append(fid)
        _record(ws, conn, events, decisions)
    return result


def _check_second_reviewer(ws: Workspace, findings: dict[str, dict[str, Any]],
                           verb: str) -> None:
    for fid, cur in findings.items():
        if cur["status"] != "pending_approval":
            raise UsageError(f"Finding {fid} is {cur['status']}, not waiting for approval.")
        if cur["pending_by"] == ws.user:
            raise PermissionDenied(
                f"Finding {fid} was marked {cur['pending_status']} by {ws.user}; four-eyes "
                f"needs a second, different reviewer to {verb} it.")


@changes(Change.FINDINGS)
def return_decision(ws: Workspace, finding_ids: Sequence[str], note: str) -> MarkResult:
    """The second reviewer says no: the proposed decision does not take effect and the
    finding goes back to in_review, with a note (required) saying why.

    The audit event ``finding.return`` carries the finding, the statuses, the decision
    returned (status and reason), who proposed it, and the note."""
    ws.require(Permission.APPROVE)
    text = _clean_note(note)
    if text is None:
        raise UsageError("Returning a decision needs a note saying why (--note).")
    findings = _load(ws, finding_ids)
    _check_second_reviewer(ws, findings, "return")
    result = MarkResult()
    now = _now()
    with ws.write() as conn:
        events: list[tuple[str, dict[str, Any]]] = []
        decisions: list[tuple[Any, ...]] = []
        for fid, cur in findings.items():
            note_id = _insert_note(conn, fid, ws.user, now, text)
            conn.execute(
                "UPDATE findings SET status = 'in_review', reason = NULL,"
                " pending_status = NULL, pending_reason = NULL, pending_by = NULL,"
                " decided_by = ?, decided_at = ?, approved_by = NULL WHERE finding_id = ?",
                (ws.user, now, fid))
            returned = {"status": cur["pending_status"], "reason": cur["pending_reason"]}
            events.append(("finding.return", {
                "finding_id": fid, "from": "pending_approval", "to": "in_review",
                "returned": returned, "proposed_by": cur["pending_by"],
                "note_id": note_id, "note": text}))
            # Keys sorted, as verify rebuilds the row from the event (oversight.chainstate).
            decisions.append((fid, now, ws.user, "return", "pending_approval", "in_review",
                              None, note_id, _detail({"proposed_by": cur["pending_by"],
                                                      "returned": returned})))
            result.changed.append(fid)
        _record(ws, conn, events, decisions)
    return result


def pending_decisions(ws: Workspace, finding_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The decisions waiting for a second reviewer, as the approve and return dialogs
    state them: the finding, the proposed status and reason, who proposed it, when, and
    the note written with the proposal (None when there was none)."""
    ws.require(Permission.READ)
    findings = _load(ws, finding_ids)
    out = []
    for fid, cur in findings.items():
        if cur["status"] != "pending_approval":
            raise UsageError(f"Finding {fid} is {cur['status']}, not waiting for approval.")
        row = ws.conn.execute(
            "SELECT d.ts, d.user, n.text FROM decisions d"
            " LEFT JOIN finding_notes n ON n.note_id = d.note_id"
            " WHERE d.finding_id = ? AND d.action = 'mark' AND d.to_status = 'pending_approval'"
            " ORDER BY d.decision_id DESC LIMIT 1", (fid,)).fetchone()
        info = ws.conn.execute("SELECT rule_id, severity, message FROM findings"
                               " WHERE finding_id = ?", (fid,)).fetchone()
        out.append({"finding_id": fid, "rule_id": info[0], "severity": info[1],
                    "message": info[2], "proposed": cur["pending_status"],
                    "reason": cur["pending_reason"], "proposed_by": cur["pending_by"],
                    "proposed_at": row[0] if row else None,
                    "note": row[2] if row else None})
    return out


@changes(Change.FINDINGS)
def add_note(ws: Workspace, finding_id: str, text: str, refers_to: int | None = None) -> int:
    """Append a note; a correction refers to the note it corrects."""
    ws.require(Permission.TRIAGE)
    body = _clean_note(text)
    if body is None:
        raise UsageError("A note cannot be empty.")
    _load(ws, [finding_id])
    if refers_to is not None:
        row = ws.conn.execute("SELECT finding_id FROM finding_notes WHERE note_id = ?",
                              (refers_to,)).fetchone()
        if row is None or row[0] != finding_id:
            raise UsageError(f"Note {refers_to} is not a note of finding {finding_id}.")
    now = _now()
    with ws.write() as conn:
        note_id = _insert_note(conn, finding_id, ws.user, now, body, refers_to)
        _record(ws, conn, [("finding.note", {"finding_id": finding_id, "note_id": note_id,
                                             "refers_to": refers_to, "note": body})],
                [(finding_id, now, ws.user, "note", None, None, None, note_id,
                  _detail({"refers_to": refers_to}) if refers_to else None)])
    return note_id


@changes(Change.FINDINGS)
def add_notes(ws: Workspace, finding_ids: Sequence[str], text: str) -> list[int]:
    """The same note on each finding, in one transaction (all or none)."""
    ws.require(Permission.TRIAGE)
    body = _clean_note(text)
    if body is None:
        raise UsageError("A note cannot be empty.")
    _load(ws, finding_ids)
    now = _now()
    note_ids: list[int] = []
    with ws.write() as conn:
        events, decisions = [], []
        for fid in dict.fromkeys(finding_ids):
            note_id = _insert_note(conn, fid, ws.user, now, body)
            note_ids.append(note_id)
            events.append(("finding.note", {"finding_id": fid, "note_id": note_id,
                                            "refers_to": None, "note": body}))
            decisions.append((fid, now, ws.user, "note", None, None, None, note_id, None))
        _record(ws, conn, events, decisions)
    return note_ids


@changes(Change.FINDINGS)
def assign(ws: Workspace, finding_ids: Sequence[str], to: str | None) -> MarkResult:
    """Assign findings to an active user (None or '' unassigns)."""
    ws.require(Permission.ASSIGN)
    target = user_name(to or "") or None
    if target is not None:
        row = ws.conn.execute("SELECT active FROM users WHERE name = ?", (target,)).fetchone()
        if row is None or not row[0]:
            raise UsageError(f"There is no active user named {target!r} to assign to.")
    findings = _load(ws, finding_ids)
    result = MarkResult()
    now = _now()
    with ws.write() as conn:
        events, decisions = [], []
        for fid, cur in findings.items():
            if cur["assignee"] == target:
                result.unchanged.append(fid)
                continue
            conn.execute("UPDATE findings SET assignee = ? WHERE finding_id = ?", (target, fid))
            events.append(("finding.assign", {"finding_id": fid, "from": cur["assignee"],
                                              "to": target}))
            decisions.append((fid, now, ws.user, "assign", None, None, None, None,
                              _detail({"from": cur["assignee"], "to": target})))
            result.changed.append(fid)
        _record(ws, conn, events, decisions)
    return result


def _detail(detail: dict[str, Any]) -> str:
    """A decision row's detail: keys sorted and text as written (not ASCII-escaped), the
    form verify rebuilds from the event with SQLite's json_object (chainstate)."""
    return json.dumps(detail, sort_keys=True, ensure_ascii=False)


def _insert_note(conn: Any, fid: str, user: str, ts: str, text: str,
                 refers_to: int | None = None) -> int:
    cur = conn.execute("INSERT INTO finding_notes(finding_id, user, ts, text, refers_to)"
                       " VALUES (?, ?, ?, ?, ?)", (fid, user, ts, text, refers_to))
    return int(cur.lastrowid)


def _record(ws: Workspace, conn: Any, events: list[tuple[str, dict[str, Any]]],
            decisions: list[tuple[Any, ...]]) -> None:
    # The events carry the decision's time, so the chain vouches for its copies (the
    # decision rows, the notes, the finding's decided_at).
    appended = audit.append_many(conn, ws.user, events, ts=decisions[0][1] if decisions
                                 else None)
    conn.executemany(
        "INSERT INTO decisions(finding_id, seq, ts, user, action, from_status, to_status,"
        " reason, note_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(d[0], e.seq, *d[1:]) for d, e in zip(decisions, appended, strict=True)])


# -- reading ------------------------------------------------------------------------------


def finding_detail(ws: Workspace, finding_id: str) -> dict[str, Any]:
    """A finding with its records, rule, decisions and notes (`oversight show`)."""
    ws.require(Permission.READ)
    _load(ws, [finding_id])
    row = ws.conn.execute(
        "SELECT f.finding_id, f.pack_id, f.rule_id, f.part, f.severity, f.status, f.reason,"
        " f.matching, f.stale_reason, f.message, f.facts, f.legal_refs, f.record_ids,"
        " f.first_run, f.last_run, f.assignee, f.decided_by, f.decided_at, f.approved_by,"
        " f.pending_status, f.pending_reason, f.pending_by, p.source"
        " FROM findings f LEFT JOIN runs r ON r.run_id = f.last_run"
        " LEFT JOIN packs p ON p.pack_sha256 = r.pack_sha256 WHERE f.finding_id = ?",
        (finding_id,)).fetchone()
    keys = ("id", "pack", "rule_id", "part", "severity", "status", "reason", "matching",
            "no_longer_matching_reason", "message", "facts", "legal_refs", "record_ids",
            "first_run", "last_run", "assignee", "decided_by", "decided_at", "approved_by",
            "pending_status", "pending_reason", "pending_by")
    out: dict[str, Any] = dict(zip(keys, row[:-1], strict=True))
    out["matching"] = bool(out["matching"])
    out["facts"] = stored.json_dict(out["facts"])
    for k in ("legal_refs", "record_ids"):
        out[k] = stored.json_list(out[k])
    # A received finding has no run here: its rule comes from the sender's pack, its
    # registers from its package, and what other bodies said of any finding sits beside
    # it read-only (oversight.exchange.store).
    from oversight.exchange import store as received

    source = row[-1] if row[-1] is not None else received.sender_pack_source(ws, finding_id)
    out["rule"] = _rule_text(source, out["rule_id"]) if isinstance(source, str) and source \
        else {"id": out["rule_id"]}
    rids = [r[0] for r in ws.conn.execute(
        "SELECT rid FROM finding_records WHERE finding_id = ? ORDER BY rid LIMIT 500",
        (finding_id,))]
    out["records"] = queries.records_by_rid(ws, Kind.OPERATIONS, rids)
    out["registers"] = (received.received_registers(ws, finding_id, out["records"])
                        or _registers(ws, out["records"]))
    out["origin"] = received.origin(ws, finding_id)
    out["notes"] = notes(ws, finding_id)
    out["history"] = [
        {"seq": r[0], "ts": r[1], "user": r[2], "action": r[3], "from": r[4], "to": r[5],
         "reason": r[6], "note_id": r[7], "detail": stored.json_dict(r[8]) if r[8] else None}
        for r in ws.conn.execute(
            "SELECT seq, ts, user, action, from_status, to_status, reason, note_id, detail"
            " FROM decisions WHERE finding_id = ? ORDER BY decision_id", (finding_id,))]
    return out


def _registers(ws: Workspace, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The authorisations and cases the records cite (latest import of each id)."""
    out: dict[str, Any] = {"authorisations": [], "cases": []}
    for key, kind, field_name in (("authorisations", Kind.AUTHORISATIONS, "authorisation_id"),
                                  ("cases", Kind.CASES, "case_id")):
        ids = sorted({r["fields"][field_name] for r in records if field_name in r["fields"]})
        for ident in ids:
            found = queries.records(ws, kind, [(field_name, ident)], limit=None)
            if found:
                out[key].append(found[-1])
    return out


def notes(ws: Workspace, finding_id: str) -> list[dict[str, Any]]:
    return all_notes(ws, finding_id).get(finding_id, [])


def all_notes(ws: Workspace, finding_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Notes by finding, oldest first: of one finding, or of every finding in one query."""
    sql = "SELECT finding_id, note_id, user, ts, text, refers_to FROM finding_notes"
    params: tuple[Any, ...] = ()
    if finding_id is not None:
        sql += " WHERE finding_id = ?"
        params = (finding_id,)
    out: dict[str, list[dict[str, Any]]] = {}
    for fid, note_id, user, ts, text, refers_to in ws.conn.execute(
            sql + " ORDER BY note_id", params):
        out.setdefault(fid, []).append({"note_id": note_id, "user": user, "ts": ts,
                                        "text": text, "refers_to": refers_to})
    return out


def _rule_text(source: str, rule_id: str) -> dict[str, Any]:
    pack = _stored_pack(source)
    rule = pack.rule(rule_id)
    if rule is None:  # pragma: no cover - a finding's last run always had its rule
        return {"id": rule_id}
    return {"id": rule.id, "title": rule.title, "severity": rule.severity,
            "legal_refs": list(rule.legal_refs), "rationale": rule.rationale,
            "when": rule.when_text, "false_positives": rule.false_positives,
            "pack": pack.id, "version": pack.version}


@lru_cache(maxsize=8)
def _stored_pack(source: str) -> Pack:
    """A stored pack, parsed once: a report shows hundreds of findings of one pack."""
    return parse_pack(source, "stored pack")


def _history_where(finding_id: str | None, user: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if finding_id is not None:
        clauses.append("seq IN (SELECT seq FROM decisions WHERE finding_id = ?)")
        params.append(finding_id)
    if user is not None:
        clauses.append("user = ?")
        params.append(user_name(user))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def count_history(ws: Workspace, finding_id: str | None = None, user: str | None = None
                  ) -> int:
    """How many events ``history`` would list without a limit."""
    ws.require(Permission.READ)
    where, params = _history_where(finding_id, user)
    return int(ws.conn.execute(f"SELECT count(*) FROM audit_events{where}", params
                               ).fetchone()[0])


def history(ws: Workspace, finding_id: str | None = None, user: str | None = None,
            limit: int | None = None) -> list[dict[str, Any]]:
    """Audit events, newest last, optionally for one finding or one user."""
    ws.require(Permission.READ)
    where, params = _history_where(finding_id, user)
    sql = "SELECT seq, ts, user, action, payload, hash FROM audit_events" + where
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = ws.conn.execute(sql, params).fetchall()
    return [{"seq": r[0], "ts": r[1], "user": r[2], "action": r[3],
             "payload": stored.json_dict(r[4]), "hash": r[5]} for r in reversed(rows)]


# -- sampling -----------------------------------------------------------------------------


@changes(Change.AUDIT)
def draw_sample(ws: Workspace, size: int, by: str | None = None, seed: int | None = None,
                population: str = "findings", rule: str | None = None,
                severity: str | None = None, status: str | None = None) -> dict[str, Any]:
    """A reproducible random sample, stratified by rule or severity, with its seed.

    Strata get sizes in proportion to theirs (largest remainders); within a stratum the
    items are drawn with random.Random seeded from the seed and the stratum name, from the
    ids in sorted order, so anyone with the seed and the same population redraws it.
    """
    ws.require(Permission.TRIAGE)
    if size < 1:
        raise UsageError("The sample size must be at least 1.")
    if by not in (None, "rule", "severity"):
        raise UsageError("Stratify --by rule or severity.")
    if population == "findings":
        items = [(f["id"], f["rule_id"] if by == "rule" else f["severity"])
                 for f in list_findings(
                     ws, FindingFilters(rule=rule, severity=severity, status=status))]
    elif population == "records":
        if by is not None:
            raise UsageError("Records are sampled without strata.")
        items = [(str(r[0]), "") for r in ws.conn.execute(
            "SELECT record_id FROM live_operations ORDER BY rid")]
    else:
        raise UsageError("Sample findings or records.")
    if not items:
        raise UsageError("There is nothing to sample: the population is empty.")
    seed = secrets.randbits(31) if seed is None else int(seed)
    chosen = _stratified(items, min(size, len(items)), seed, by is not None)
    filters = {"rule": rule, "severity": severity, "status": status}
    now = _now()
    with ws.write() as conn:
        cur = conn.execute(
            "INSERT INTO samples(population, stratify_by, seed, size, population_size,"
            " filters, item_ids, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (population, by, seed, len(chosen), len(items), json.dumps(filters),
             json.dumps(chosen), ws.user, now))
        sample_id = int(cur.lastrowid)
        ws.record("sample.draw", {"sample_id": sample_id, "population": population,
                                  "by": by, "seed": seed, "size": len(chosen),
                                  "population_size": len(items), "filters": filters,
                                  "items": chosen})
    return {"sample_id": sample_id, "population": population, "by": by, "seed": seed,
            "size": len(chosen), "population_size": len(items), "filters": filters,
            "items": chosen,
            "statement": f"{len(chosen)} of {len(items)} {population} sampled, seed {seed}"
                         + (f", stratified by {by}" if by else "")}


def _stratified(items: list[tuple[str, str]], size: int, seed: int, stratify: bool
                ) -> list[str]:
    strata: dict[str, list[str]] = {}
    for item_id, stratum in items:
        strata.setdefault(stratum if stratify else "", []).append(item_id)
    total = len(items)
    quotas = {k: size * len(v) / total for k, v in strata.items()}
    alloc = {k: int(q) for k, q in quotas.items()}
    left = size - sum(alloc.values())
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - alloc[k]), k))[:left]:
        alloc[k] += 1
    chosen: list[str] = []
    for name in sorted(strata):
        ids = sorted(strata[name])
        chosen.extend(random.Random(f"{seed}:{name}").sample(ids, alloc[name]))
    return chosen
