"""Exporting a review package, and a reply to one (auditors).

``export_package`` gathers the chosen findings of this workspace with their statuses,
reasons, notes and history, the records they rest on (every stored column, ``extra``
as stored), the register entries they consulted, the provenance of the batches those
came from and the criteria packs that found them; replaces identifiers by keyed
pseudonyms when asked; encrypts that for the recipients' certificates, signs it with
the sender's PKCS#12 and writes the package. The audit event ``package.export`` (in the
same transaction as the file is written, as a report) records its SHA-256, package id,
recipients, findings and what was pseudonymised.

``reply_package`` answers a package this workspace imported: the receiving body's
status, notes and history of each finding it received, for the sender's certificate
(or ``--to``), event ``package.reply``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from db.keyslots import write_atomic
from oversight import audit
from oversight.changes import changes
from oversight.errors import UsageError
from oversight.exchange import container, keys, pseudonyms
from oversight.exchange.payload import jsonl, row_digest
from oversight.exchange.store import is_received
from oversight.findings import FindingFilters, list_findings
from oversight.progress import Progress, no_progress
from oversight.records import Kind, storage_columns
from oversight.retraction import live
from oversight.safefile import check_output_path
from oversight.workspace import Permission, Workspace

__all__ = ["ExportResult", "Recipient", "export_package", "reply_package"]

SUFFIX = ".ovp"
CHUNK = 500
_FINDING_COLS = ("finding_id", "pack_id", "rule_id", "part", "group_key", "severity",
                 "message", "facts", "legal_refs", "record_ids", "first_ts_utc", "matching",
                 "stale_reason", "status", "reason", "assignee", "decided_by", "decided_at",
                 "approved_by", "pending_status", "pending_reason", "pending_by", "last_run")
_SOURCE_COLS = ("batch_id", "kind", "file_name", "file_size", "sha256", "format",
                "profile_sha256", "columns", "rows_read", "rows_imported", "rows_rejected",
                "rows_digest", "imported_by", "imported_at", "warnings", "missing_markers")
DECISION_FIELDS = ("status", "reason", "assignee", "decided_by", "decided_at", "approved_by",
                   "pending_status", "pending_reason", "pending_by")


@dataclass(frozen=True)
class Recipient:
    """A certificate to encrypt for, and where it came from (for messages)."""

    certificate: x509.Certificate
    source: str


@dataclass(frozen=True)
class ExportResult:
    path: Path
    kind: str
    package_id: str
    sha256: str
    size: int
    findings: int
    records: int
    register_entries: int
    notes: int
    sources: int
    recipients: list[str]
    pseudonymised: tuple[str, ...]
    pseudonyms_new: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    """This workspace's finding id -> the id the package gives it (differs when
    pseudonymised)."""

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "package_id": self.package_id,
                "sha256": self.sha256, "size": self.size, "findings": self.findings,
                "records": self.records, "register_entries": self.register_entries,
                "notes": self.notes, "sources": self.sources, "recipients": self.recipients,
                "pseudonymised": list(self.pseudonymised),
                "pseudonyms_new": self.pseudonyms_new}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _in(ids: Sequence[Any]) -> str:
    return ", ".join("?" * len(ids))


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def _check_out(out: Path) -> Path:
    out = Path(out)
    if out.suffix.lower() != SUFFIX:
        raise UsageError(f"Write the package to a {SUFFIX} file, not {out.name!r}.")
    if not out.parent.is_dir():
        raise UsageError(f"The folder {out.parent} does not exist.")
    check_output_path(out, True, "package file")
    return out


def _check_keys(identity: keys.Identity, recipients: Sequence[Recipient]) -> None:
    problem = keys.signing_problem(identity.certificate, identity.path)
    if problem is not None:
        raise UsageError(problem)
    if not recipients:
        raise UsageError("Name at least one recipient certificate (--to RECIPIENT.pem).")
    for r in recipients:
        problem = keys.recipient_problem(r.certificate, r.source)
        if problem is not None:
            raise UsageError(problem)


def _body(identity: keys.Identity, body: str | None) -> str:
    text = (body or "").strip() or keys.organisation(identity.certificate) or \
        keys.common_name(identity.certificate) or keys.subject_text(identity.certificate)
    if len(text) > 200 or not text.isprintable():
        raise UsageError("The sending body (--body) is one line of at most 200 printable "
                         "characters.")
    return text


# -- gathering ------------------------------------------------------------------------------


@dataclass
class _Gathered:
    findings: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    packs: list[dict[str, Any]] = field(default_factory=list)
    registers: int = 0
    notes: int = 0


def _select(ws: Workspace, finding_ids: Sequence[str] | None, rule: str | None,
            status: str | None, severity: str | None) -> list[str]:
    if finding_ids:
        if rule or status or severity:
            raise UsageError("Choose findings by id (--finding) or by filter (--filter-rule, "
                             "--filter-status, --filter-severity), not both.")
        ids = list(dict.fromkeys(finding_ids))
        known: set[str] = set()
        for part in _chunks(ids):
            known.update(r[0] for r in ws.conn.execute(
                f"SELECT finding_id FROM findings WHERE finding_id IN ({_in(part)})", part))
        missing = [i for i in ids if i not in known]
        if missing:
            raise UsageError(f"No finding {', '.join(missing[:5])} in this workspace; "
                             "`oversight findings` lists them.")
    else:
        if not (rule or status or severity):
            raise UsageError("Choose the findings to send: --finding ID (repeatable) or a "
                             "filter (--filter-rule, --filter-status, --filter-severity).")
        ids = [f["id"] for f in list_findings(ws, FindingFilters(rule=rule, severity=severity,
                                                                      status=status))]
        if not ids:
            raise UsageError("No finding matches that filter; nothing to send.")
    received = [i for i in ids if is_received(i)]
    if received:
        raise UsageError(f"Finding {received[0]} was received from another body; a package "
                         "sends this workspace's own findings (answer received ones with "
                         "`oversight package reply`).")
    return ids


def _gather(ws: Workspace, ids: list[str], progress: Progress) -> _Gathered:
    conn = ws.conn
    out = _Gathered()
    rows: dict[str, tuple[Any, ...]] = {}
    links: dict[str, list[int]] = {fid: [] for fid in ids}
    notes: dict[str, list[dict[str, Any]]] = {fid: [] for fid in ids}
    history: dict[str, list[dict[str, Any]]] = {fid: [] for fid in ids}
    for part in _chunks(ids):
        for r in conn.execute(f"SELECT {', '.join(_FINDING_COLS)} FROM findings"
                              f" WHERE finding_id IN ({_in(part)})", part):
            rows[r[0]] = r
        for fid, rid in conn.execute(f"SELECT finding_id, rid FROM finding_records WHERE"
                                     f" finding_id IN ({_in(part)}) ORDER BY finding_id, rid",
                                     part):
            links[fid].append(int(rid))
        for r in conn.execute(f"SELECT finding_id, note_id, user, ts, text, refers_to FROM"
                              f" finding_notes WHERE finding_id IN ({_in(part)})"
                              " ORDER BY note_id", part):
            notes[r[0]].append({"note_id": r[1], "user": r[2], "ts": r[3], "text": r[4],
                                "refers_to": r[5]})
        for r in conn.execute(f"SELECT finding_id, seq, ts, user, action, from_status,"
                              f" to_status, reason, note_id, detail FROM decisions WHERE"
                              f" finding_id IN ({_in(part)}) ORDER BY decision_id", part):
            history[r[0]].append({"seq": r[1], "ts": r[2], "user": r[3], "action": r[4],
                                  "from": r[5], "to": r[6], "reason": r[7], "note_id": r[8],
                                  "detail": r[9]})
    progress(1, 4, "gathering records")
    runs = dict(conn.execute("SELECT run_id, pack_sha256 FROM runs").fetchall())
    pack_shas = sorted({runs[r[-1]] for r in rows.values() if r[-1] in runs})
    packs = {}
    for part in _chunks(pack_shas):
        for sha, pack_id, version, title, source in conn.execute(
                f"SELECT pack_sha256, pack_id, version, title, source FROM packs WHERE"
                f" pack_sha256 IN ({_in(part)})", part):
            packs[sha] = {"id": pack_id, "version": version, "sha256": sha, "title": title,
                          "source": source}
    out.packs = [packs[s] for s in pack_shas if s in packs]
    # The records, through the live views: a finding resting on a retracted record is
    # refused rather than sent without it.
    rids = sorted({rid for r in links.values() for rid in r})
    cols = ["rid", "batch_id", "line", "record_id", *storage_columns(Kind.OPERATIONS)]
    ops: dict[int, dict[str, Any]] = {}
    for part in _chunks(rids):
        for r in conn.execute(f"SELECT {', '.join(cols)} FROM {live(Kind.OPERATIONS)}"
                              f" WHERE rid IN ({_in(part)})", part):
            ops[int(r[0])] = dict(zip(cols, r, strict=True))
    for fid, rlist in links.items():
        gone = [rid for rid in rlist if rid not in ops]
        if gone:
            raise UsageError(f"Finding {fid} rests on records of a retracted batch; leave it "
                             "out of the package (its records are no longer in the "
                             "workspace's view).")
    registers = _registers(ws, list(ops.values()))
    out.registers = len(registers)
    batch_ids = sorted({int(r["batch_id"]) for r in [*ops.values(), *registers]})
    sources = _sources(ws, batch_ids)
    out.sources = [sources[b] for b in batch_ids]
    for rec in [*(ops[rid] for rid in rids), *registers]:
        out.records.append(_record(rec, sources[int(rec["batch_id"])]))
    progress(2, 4, "gathering findings")
    for fid in ids:
        r = dict(zip(_FINDING_COLS, rows[fid], strict=True))
        sha = runs.get(r.pop("last_run"))
        pack = packs.get(sha) if sha else None
        doc: dict[str, Any] = {
            "id": fid,
            "pack": {k: pack[k] for k in ("id", "version", "sha256")} if pack else None,
        }
        r.pop("finding_id")
        doc.update(r)
        doc["matching"] = bool(doc["matching"])
        doc["records"] = [{"source": int(ops[rid]["batch_id"]), "line": ops[rid]["line"],
                           "record_id": ops[rid]["record_id"]} for rid in links[fid]]
        doc["notes"] = notes[fid]
        doc["history"] = history[fid]
        out.notes += len(notes[fid])
        out.findings.append(doc)
    return out


def _registers(ws: Workspace, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The authorisations and cases the records cite: for each id, the latest live
    record of it (as a finding's detail shows it)."""
    out: list[dict[str, Any]] = []
    for kind, name in ((Kind.AUTHORISATIONS, "authorisation_id"), (Kind.CASES, "case_id")):
        wanted = sorted({str(r[name]) for r in ops if r.get(name)})
        cols = ["rid", "batch_id", "line", "record_id", *storage_columns(kind)]
        latest: dict[str, dict[str, Any]] = {}
        for part in _chunks(wanted):
            for r in ws.conn.execute(f"SELECT {', '.join(cols)} FROM {live(kind)} WHERE"
                                     f" {name} IN ({_in(part)}) ORDER BY rid", part):
                rec = dict(zip(cols, r, strict=True))
                rec["kind"] = kind.value
                latest[str(rec[name])] = rec
        out.extend(latest[k] for k in wanted if k in latest)
    return out


def _sources(ws: Workspace, batch_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for part in _chunks(batch_ids):
        for r in ws.conn.execute(f"SELECT {', '.join(_SOURCE_COLS)} FROM batches WHERE"
                                 f" batch_id IN ({_in(part)})", part):
            doc = dict(zip(_SOURCE_COLS, r, strict=True))
            doc["file"] = doc.pop("file_name")
            doc["size"] = doc.pop("file_size")
            for key in ("columns", "warnings", "missing_markers"):
                doc[key] = None if doc[key] is None else json.loads(doc[key])
            out[int(doc["batch_id"])] = doc
    return out


def _record(rec: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    names = source["columns"][3:]
    columns = {c: rec[c] for c in names}
    return {"kind": rec.get("kind", source["kind"]), "source": int(rec["batch_id"]),
            "line": rec["line"], "record_id": rec["record_id"], "columns": columns}


def _digests(records: list[dict[str, Any]]) -> None:
    for r in records:
        r["row_digest"] = row_digest(int(r["line"]), str(r["record_id"]),
                                     list(r["columns"].values()))


# -- pseudonyms -----------------------------------------------------------------------------


def _pseudonymise(ws: Workspace, g: _Gathered, which: tuple[str, ...]
                  ) -> tuple[pseudonyms.Pseudonymiser, dict[str, str]]:
    """Replace identifiers in every record, finding, fact, message and note, and the
    finding ids; return the pseudonymiser (its new pseudonyms pending) and id map."""
    pseudo = pseudonyms.Pseudonymiser.of(ws)
    found: dict[str, str] = {}
    for r in g.records:
        for value, label in pseudonyms.identifiers(r["kind"], r["columns"], which).items():
            found.setdefault(value, label)
    # Identifiers of records left out of the package, where a sent text names them.
    others = {v: k for v, k in pseudonyms.workspace_identifiers(ws.conn, which).items()
              if v not in found}
    if others:
        texts = pseudonyms.strings([[r["columns"] for r in g.records],
                                    [[f["message"], f["facts"], f["group_key"],
                                      f["stale_reason"], [n["text"] for n in f["notes"]]]
                                     for f in g.findings]])
        found.update(pseudonyms.mentioned(others, texts))
    rep = pseudonyms.Replacer(pseudo.mapping(found))
    for r in g.records:
        r["columns"] = pseudonyms.replace_record(r["kind"], r["columns"], rep, which)
    ids: dict[str, str] = {}
    for f in g.findings:
        new_id = pseudo.pseudonym(f["id"], "finding")
        ids[f["id"]] = new_id
        f["id"] = new_id
        f["message"] = rep.text(f["message"])
        f["facts"] = rep.json_text(f["facts"])
        f["group_key"] = rep.json_text(f["group_key"])
        f["stale_reason"] = rep.text(f["stale_reason"]) if f["stale_reason"] else None
        for n in f["notes"]:
            n["text"] = rep.text(n["text"])
    return pseudo, ids


# -- writing --------------------------------------------------------------------------------


def _describe_all(recipients: Sequence[Recipient]) -> list[dict[str, str]]:
    return [keys.describe(r.certificate) for r in recipients]


def _write(ws: Workspace, out: Path, kind: str, package: dict[str, Any],
           members: list[tuple[str, bytes]], identity: keys.Identity,
           recipients: Sequence[Recipient], counts: dict[str, int]) -> bytes:
    """Encrypt, sign and lay out the package; returns its bytes (not yet written)."""
    payload = container.write_zip(members)
    p7m = container.encrypt(payload, [r.certificate for r in recipients])
    metadata = {
        "format": container.FORMAT, "format_version": container.FORMAT_VERSION,
        "kind": kind, "package_id": package["package_id"], "created": package["created"],
        "sender": keys.subject_text(identity.certificate),
        "recipients": [keys.subject_text(r.certificate) for r in recipients],
        "counts": counts,
    }
    return container.write_container(metadata, p7m, identity)


def _head(ws: Workspace) -> dict[str, Any]:
    seq, digest = audit.head(ws.conn)
    return {"seq": seq, "hash": digest}


@changes()  # audit events and pseudonyms only
def export_package(ws: Workspace, out: Path, identity: keys.Identity,
                   recipients: Sequence[Recipient], *,
                   finding_ids: Sequence[str] | None = None, rule: str | None = None,
                   status: str | None = None, severity: str | None = None,
                   pseudonymise: Sequence[str] = (), note: str | None = None,
                   body: str | None = None, progress: Progress = no_progress) -> ExportResult:
    """Write a signed, encrypted review package of the chosen findings (auditors)."""
    ws.require(Permission.REPORT)
    out = _check_out(out)
    _check_keys(identity, recipients)
    which = pseudonyms.parse_kinds(list(pseudonymise))
    sender_body = _body(identity, body)
    text = (note or "").strip() or None
    ids = _select(ws, finding_ids, rule, status, severity)
    progress(0, 4, "gathering findings")
    g = _gather(ws, ids, progress)
    pseudo: pseudonyms.Pseudonymiser | None = None
    sent = {fid: fid for fid in ids}
    if which:
        pseudo, sent = _pseudonymise(ws, g, which)
    _digests(g.records)
    progress(3, 4, "encrypting and signing")
    package_id = uuid.uuid4().hex
    counts = {"findings": len(g.findings), "records": len(g.records) - g.registers,
              "register_entries": g.registers, "notes": g.notes, "sources": len(g.sources)}
    package = {
        "format": container.FORMAT, "format_version": container.FORMAT_VERSION,
        "kind": "package", "package_id": package_id, "created": _now(),
        "sender": {"body": sender_body, "user": ws.user, "workspace_id": ws.workspace_id,
                   "certificate": keys.describe(identity.certificate)},
        "recipients": _describe_all(recipients),
        "scope": {"filter": None if finding_ids else {"rule": rule, "status": status,
                                                      "severity": severity},
                  "findings": [sent[f] for f in ids]},
        "note": text,
        "criteria_packs": [{k: p[k] for k in ("id", "version", "sha256")} for p in g.packs],
        "chain_head": _head(ws),
        "pseudonymised": list(which),
        "counts": counts,
    }
    members = [("package.json", json.dumps(package, ensure_ascii=False, indent=2,
                                           sort_keys=True).encode("utf-8")),
               ("findings.jsonl", jsonl(g.findings)), ("records.jsonl", jsonl(g.records)),
               ("sources.jsonl", jsonl(g.sources)), ("packs.jsonl", jsonl(g.packs))]
    data = _write(ws, out, "package", package, members, identity, recipients, counts)
    digest = hashlib.sha256(data).hexdigest()
    new = 0
    with ws.write() as conn:
        if pseudo is not None:
            new = pseudo.store(conn, "package")
        ws.record("package.export", {
            "package_id": package_id, "sha256": digest, "file": out.name, "size": len(data),
            "findings": ids, "sent_as": {k: v for k, v in sent.items() if k != v},
            "recipients": package["recipients"],
            "signer": keys.describe(identity.certificate), "body": sender_body,
            "pseudonymised": list(which), "counts": counts, "note": text,
            "chain_head": package["chain_head"],
        })
        write_atomic(out, data, mode=0o600)
    progress(4, 4, "done")
    return ExportResult(out, "package", package_id, digest, len(data), len(g.findings),
                        counts["records"], g.registers, g.notes, len(g.sources),
                        [keys.subject_text(r.certificate) for r in recipients], which, new,
                        sent)


# -- replies --------------------------------------------------------------------------------


@changes()
def reply_package(ws: Workspace, to_package: Path, out: Path, identity: keys.Identity,
                  recipients: Sequence[Recipient] = (), *, note: str | None = None,
                  body: str | None = None, progress: Progress = no_progress) -> ExportResult:
    """Answer a package this workspace imported: this body's decisions on its findings,
    for its sender (the certificate that signed it, unless ``recipients`` are given)."""
    from oversight.exchange.receive import package_bytes

    ws.require(Permission.REPORT)
    out = _check_out(out)
    data, _size, sha = package_bytes(Path(to_package))
    row = ws.conn.execute(
        "SELECT package_no, kind, package_id, sender_body FROM received_packages WHERE"
        " sha256 = ? ORDER BY package_no DESC LIMIT 1", (sha,)).fetchone()
    if row is None:
        raise UsageError(f"{Path(to_package).name} has not been imported into this workspace; "
                         "import it first (`oversight package import`), then answer it.")
    number, kind, package_id, sender_body = row
    if kind != "package":
        raise UsageError(f"{Path(to_package).name} is itself a reply; a reply is not "
                         "answered with another.")
    if not recipients:
        opened = container.read_container(data, [], Path(to_package).name)
        recipients = [Recipient(opened.signature.signer, f"(the signer of "
                                                         f"{Path(to_package).name})")]
        problem = keys.recipient_problem(recipients[0].certificate, recipients[0].source)
        if problem is not None:
            raise UsageError(f"{problem} Name the sender's encryption certificate with --to.")
    _check_keys(identity, recipients)
    progress(0, 3, "gathering decisions")
    decisions = _decisions(ws, int(number))
    notes = sum(len(d["notes"]) for d in decisions)
    package_no = uuid.uuid4().hex
    counts = {"findings": len(decisions), "notes": notes}
    sender = _body(identity, body)
    text = (note or "").strip() or None
    package = {
        "format": container.FORMAT, "format_version": container.FORMAT_VERSION,
        "kind": "reply", "package_id": package_no, "created": _now(),
        "sender": {"body": sender, "user": ws.user, "workspace_id": ws.workspace_id,
                   "certificate": keys.describe(identity.certificate)},
        "recipients": _describe_all(recipients),
        "in_reply_to": {"package_id": package_id, "sha256": sha, "sender_body": sender_body},
        "scope": {"findings": [d["id"] for d in decisions]},
        "note": text, "criteria_packs": [], "chain_head": _head(ws), "pseudonymised": [],
        "counts": counts,
    }
    members = [("package.json", json.dumps(package, ensure_ascii=False, indent=2,
                                           sort_keys=True).encode("utf-8")),
               ("decisions.jsonl", jsonl(decisions))]
    progress(1, 3, "encrypting and signing")
    blob = _write(ws, out, "reply", package, members, identity, recipients, counts)
    digest = hashlib.sha256(blob).hexdigest()
    local = [str(r[0]) for r in ws.conn.execute(
        "SELECT finding_id FROM received_findings WHERE package_no = ? ORDER BY finding_id",
        (number,))]
    with ws.write():
        ws.record("package.reply", {
            "package_id": package_no, "sha256": digest, "file": out.name, "size": len(blob),
            "in_reply_to": {"package_id": package_id, "sha256": sha, "package_no": number},
            "findings": local, "recipients": package["recipients"],
            "signer": keys.describe(identity.certificate), "body": sender, "counts": counts,
            "note": text, "chain_head": package["chain_head"],
        })
        write_atomic(out, blob, mode=0o600)
    progress(3, 3, "done")
    return ExportResult(out, "reply", package_no, digest, len(blob), len(decisions), 0, 0,
                        notes, 0, [keys.subject_text(r.certificate) for r in recipients], ())


def _decisions(ws: Workspace, number: int) -> list[dict[str, Any]]:
    """This body's state, notes and history of each finding of received package
    ``number``, under the id the package gave it."""
    conn = ws.conn
    out = []
    for fid, original in conn.execute(
            "SELECT finding_id, original_id FROM received_findings WHERE package_no = ?"
            " ORDER BY finding_id", (number,)).fetchall():
        row = conn.execute(f"SELECT {', '.join(DECISION_FIELDS)} FROM findings"
                           " WHERE finding_id = ?", (fid,)).fetchone()
        doc: dict[str, Any] = {"id": original, **dict(zip(DECISION_FIELDS, row, strict=True))}
        doc["notes"] = [{"note_id": r[0], "user": r[1], "ts": r[2], "text": r[3],
                         "refers_to": r[4]} for r in conn.execute(
            "SELECT note_id, user, ts, text, refers_to FROM finding_notes WHERE finding_id = ?"
            " ORDER BY note_id", (fid,))]
        doc["history"] = [{"seq": r[0], "ts": r[1], "user": r[2], "action": r[3],
                           "from": r[4], "to": r[5], "reason": r[6], "note_id": r[7],
                           "detail": r[8]} for r in conn.execute(
            "SELECT seq, ts, user, action, from_status, to_status, reason, note_id, detail"
            " FROM decisions WHERE finding_id = ? ORDER BY decision_id", (fid,))]
        out.append(doc)
    return out

