"""Inspecting, verifying and importing a review package (or a reply).

``inspect_package`` needs no key: it checks the file's layout, the signature over the
manifest and every digest, and states what the metadata says (what a mail gateway
sees). ``check_package`` does everything an import does before it writes: the same,
trust in the sender's certificate (``--trust``; refused with a sentence naming the
subject, unless ``--accept-untrusted``, which the import records), decryption with the
recipient's key, every line of the payload, and that the package was not imported
before. ``import_package`` then writes, in one transaction:

- a received package row (sender, package SHA-256, signing time, signer, trust);
- one batch per source batch of the sender, holding the records and register entries
  the package brought (checked and retractable like imports), with the source's
  provenance beside it;
- the findings, as ``<id>@R<n>``, open for this body's own triage, with the sender's
  status, notes and history beside them, read-only;
- for a reply, the other body's decisions beside this workspace's own findings, which
  it leaves as they were;

and the audit event ``package.import`` with the package SHA-256 and the digests of
every row it wrote (oversight/exchange/chaincheck.py re-derives them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from oversight import stored
from oversight.accountability import finding_digest
from oversight.changes import Change, changes
from oversight.errors import AlreadyImported
from oversight.exchange import container, keys
from oversight.exchange.chaincheck import received_digests
from oversight.exchange.payload import Payload, parse_payload
from oversight.exchange.store import local_id, local_pack
from oversight.integrity import RowDigest
from oversight.progress import Progress, no_progress
from oversight.safefile import open_regular
from oversight.workspace import Permission, Workspace

__all__ = ["Checked", "ImportSummary", "Inspection", "check_package", "import_package",
           "inspect_package", "package_bytes"]


def package_bytes(path: Path) -> tuple[bytes, int, str]:
    """A package file's bytes, size and SHA-256 (regular files only, size capped)."""
    fh, info = open_regular(Path(path), "The package ")
    with fh:
        if info.size > container.MAX_PACKAGE:
            raise container.PackageError(f"{Path(path).name} is {info.size:,} bytes, more "
                                         "than a review package may have.")
        data = fh.read(container.MAX_PACKAGE + 1)
    if len(data) > container.MAX_PACKAGE:
        raise container.PackageError(f"{Path(path).name} grew while it was read; refused.")
    return data, len(data), hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Inspection:
    """What anyone can see of a package without a key."""

    file: str
    sha256: str
    size: int
    metadata: dict[str, Any]
    signer: dict[str, str]
    signing_time: str | None
    trusted: bool
    trust: str
    """"trusted", or why not ("untrusted: no trust root was given (--trust)")."""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "size": self.size,
                "metadata": self.metadata,
                "signature": {"valid": True, "cades": True, "covers": "manifest and every "
                              "data object", "signer": self.signer,
                              "signing_time": self.signing_time},
                "trusted": self.trusted, "trust": self.trust}

    def lines(self) -> list[tuple[str, str]]:
        m = self.metadata
        counts = m.get("counts") or {}
        return [
            ("File", self.file), ("SHA-256", self.sha256),
            ("Kind", str(m.get("kind"))),
            ("Format", f"{m.get('format')} version {m.get('format_version')}"),
            ("Created", str(m.get("created"))),
            ("Sender", str(m.get("sender"))),
            ("Recipients", "; ".join(map(str, m.get("recipients") or []))),
            ("Counts", ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())),
            ("Signature", "valid CAdES signature over the manifest; every digest matches"),
            ("Signed by", f"{self.signer['subject']} (issuer {self.signer['issuer']})"),
            ("Signing time", self.signing_time or "none"),
            ("Trust", self.trust),
        ]


def _roots(trust: Sequence[Path]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for path in trust:
        roots.extend(keys.load_certificates(Path(path), "trust root"))
    return roots


def _trust_text(check: container.SignatureCheck) -> str:
    return "trusted" if check.trusted else f"untrusted: {check.trust_problem}"


def inspect_package(path: Path, trust: Sequence[Path] = ()) -> Inspection:
    """Metadata and signature of a package file; no key needed, nothing written."""
    path = Path(path)
    data, size, sha = package_bytes(path)
    opened = container.read_container(data, _roots(trust), path.name)
    check = opened.signature
    return Inspection(path.name, sha, size, opened.metadata, keys.describe(check.signer),
                      check.signing_time, check.trusted, _trust_text(check))


@dataclass
class Checked:
    """A package verified and decrypted, nothing written yet (what the import dialog
    shows before the user imports)."""

    inspection: Inspection
    payload: Payload
    signer: x509.Certificate
    trust_roots: list[x509.Certificate]
    accepted_untrusted: bool
    sent_as: dict[str, str] = field(default_factory=dict)
    """For a reply: the id each of this workspace's findings was sent under -> its id."""

    @property
    def kind(self) -> str:
        return self.payload.kind

    def summary(self) -> list[tuple[str, str]]:
        p = self.payload.package
        sender = p["sender"]
        lines = self.inspection.lines()
        lines.insert(5, ("From", f"{sender['body']}/{sender['user']} (workspace "
                                 f"{sender['workspace_id'][:12]}…)"))
        if self.accepted_untrusted:
            lines.append(("Accepted untrusted", "yes: the import records that it did"))
        if p.get("note"):
            lines.append(("Note", str(p["note"])))
        if p.get("pseudonymised"):
            lines.append(("Pseudonymised", ", ".join(p["pseudonymised"])))
        return lines


def check_package(ws: Workspace, path: Path, identity: keys.Identity,
                  trust: Sequence[Path] = (), accept_untrusted: bool = False) -> Checked:
    """Everything an import checks before it writes; raises a sentence on refusal."""
    ws.require(Permission.TRIAGE)
    path = Path(path)
    data, size, sha = package_bytes(path)
    roots = _roots(trust)
    opened = container.read_container(data, roots, path.name)
    check = opened.signature
    if not check.trusted and not accept_untrusted:
        raise container.PackageError(
            f"{path.name} is signed by {keys.subject_text(check.signer)}, whose certificate "
            f"is not trusted ({check.trust_problem}); give the sender's CA certificate with "
            "--trust, or --accept-untrusted to import it anyway (the import records that).")
    kind = opened.metadata.get("kind")
    if kind not in ("package", "reply"):
        raise container.PackageError(f"{path.name}: its metadata names no kind of package "
                                     "(package or reply).")
    recipients = [str(r) for r in opened.metadata.get("recipients") or []]
    plain = container.decrypt(opened.payload_p7m, identity, recipients, path.name)
    payload = parse_payload(plain, str(kind), path.name)
    if payload.package["package_id"] != opened.metadata.get("package_id"):
        raise container.PackageError(f"{path.name}: its payload is another package than its "
                                     "metadata names.")
    inspection = Inspection(path.name, sha, size, opened.metadata, keys.describe(check.signer),
                            check.signing_time, check.trusted, _trust_text(check))
    checked = Checked(inspection, payload, check.signer, roots,
                      accept_untrusted and not check.trusted)
    _not_twice(ws, checked)
    if kind == "reply":
        _answers(ws, checked)
    return checked


def _not_twice(ws: Workspace, checked: Checked) -> None:
    """A package already imported is refused, naming where it is; one whose every batch
    was retracted may be imported again (as a file may)."""
    package_id = checked.payload.package["package_id"]
    for number, kind, by, at in ws.conn.execute(
            "SELECT package_no, kind, imported_by, imported_at FROM received_packages"
            " WHERE sha256 = ? OR package_id = ? ORDER BY package_no",
            (checked.inspection.sha256, package_id)).fetchall():
        batches = ws.conn.execute(
            "SELECT b.batch_id, b.retracted_at FROM received_sources s JOIN batches b"
            " USING (batch_id) WHERE s.package_no = ? ORDER BY b.batch_id", (number,)
        ).fetchall()
        live = [int(b[0]) for b in batches if b[1] is None]
        if kind == "package" and batches and not live:
            continue
        where = (f"batch{'es' if len(live) > 1 else ''} {', '.join(map(str, live))}"
                 if live else "no batch")
        what = "reply" if kind == "reply" else "package"
        raise AlreadyImported(
            f"{checked.inspection.file} was already imported: received {what} R{number} "
            f"({where}), imported by {by} on {str(at)[:10]}; a package is never imported "
            "twice" + (" (retract its batches to import it again)." if live else "."))


def _answers(ws: Workspace, checked: Checked) -> None:
    """A reply must answer a package this workspace sent, about findings it sent."""
    reply = checked.payload.package["in_reply_to"]
    sent = None
    for (payload,) in ws.conn.execute(
            "SELECT payload FROM audit_events WHERE action = 'package.export' ORDER BY seq"):
        doc = stored.json_dict(payload)
        if doc.get("package_id") == reply["package_id"]:
            sent = doc
    if sent is None or sent.get("sha256") != reply["sha256"]:
        raise container.PackageError(
            f"{checked.inspection.file} answers package {reply['package_id']}, which this "
            "workspace did not send.")
    recipients = [r for r in sent.get("recipients") or [] if isinstance(r, dict)]
    signer = keys.describe(checked.signer)
    if not any(r.get("sha256") == signer["sha256"] or r.get("subject") == signer["subject"]
               for r in recipients):
        # Only a body the package was for can have read it; the same subject is enough,
        # as a body may sign and decrypt with two certificates.
        raise container.PackageError(
            f"{checked.inspection.file} is signed by {signer['subject']}, who was not a "
            f"recipient of package {reply['package_id']} (sent to "
            f"{'; '.join(str(r.get('subject')) for r in recipients) or 'nobody recorded'}); "
            "a reply must come from a body the package was sent to.")
    ids = [str(i) for i in sent.get("findings") or []]
    aliases = sent.get("sent_as") or {}
    as_sent = {aliases.get(i, i): i for i in ids}
    for n, d in enumerate(checked.payload.decisions, 1):
        if d["id"] not in as_sent:
            raise container.PackageError(
                f"{checked.inspection.file}: decisions.jsonl line {n}: finding {d['id']} was "
                "not in the package it answers.")
    checked.sent_as = as_sent


# -- importing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    package_no: int
    kind: str
    file: str
    sha256: str
    sender: str
    signer: str
    trusted: bool
    findings: list[str]
    """The findings added (a package) or answered (a reply), as this workspace names them."""
    batches: list[int]
    records: int
    register_entries: int
    notes: int

    @property
    def label(self) -> str:
        return f"R{self.package_no}"

    def to_json(self) -> dict[str, Any]:
        return {"package": self.label, "package_no": self.package_no, "kind": self.kind,
                "file": self.file, "sha256": self.sha256, "sender": self.sender,
                "signer": self.signer, "trusted": self.trusted, "findings": self.findings,
                "batches": self.batches, "records": self.records,
                "register_entries": self.register_entries, "notes": self.notes}


@changes(Change.FINDINGS, Change.OPERATIONS, Change.BATCHES)
def import_package(ws: Workspace, path: Path, identity: keys.Identity,
                   trust: Sequence[Path] = (), accept_untrusted: bool = False,
                   progress: Progress = no_progress) -> ImportSummary:
    """Verify everything, then write the package in one transaction (inspectors and
    auditors)."""
    progress(0, 3, "verifying")
    checked = check_package(ws, path, identity, trust, accept_untrusted)
    progress(1, 3, "importing")
    with ws.write() as conn:
        summary = _store(ws, conn, checked)
    progress(3, 3, "done")
    return summary


def _store(ws: Workspace, conn: Any, c: Checked) -> ImportSummary:
    p = c.payload
    pkg = p.package
    sender = pkg["sender"]
    now = _now()
    number = int(conn.execute("SELECT coalesce(max(package_no), 0) + 1 FROM received_packages"
                              ).fetchone()[0])
    signer = keys.describe(c.signer)
    roots = [keys.fingerprint(r) for r in c.trust_roots]
    reply = pkg.get("in_reply_to")
    conn.execute(
        "INSERT INTO received_packages(package_no, kind, package_id, sha256, file_name,"
        " file_size, format_version, sender_body, sender_user, sender_workspace,"
        " signer_subject, signer_issuer, signer_sha256, signing_time, trusted, trust_roots,"
        " in_reply_to, package_json, imported_by, imported_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, p.kind, pkg["package_id"], c.inspection.sha256, c.inspection.file,
         c.inspection.size, pkg["format_version"], sender["body"], sender["user"],
         sender["workspace_id"], signer["subject"], signer["issuer"], signer["sha256"],
         c.inspection.signing_time, int(c.inspection.trusted), json.dumps(roots),
         reply["package_id"] if reply else None, p.package_json, ws.user, now))
    batches: list[dict[str, Any]] = []
    findings: dict[str, list[Any]] = {}
    records = registers = notes = 0
    if p.kind == "package":
        batches, rids = _store_records(ws, conn, number, p, now)
        records = sum(1 for r in p.records if r["kind"] == "operations")
        registers = len(p.records) - records
        for sha, doc in ((d["sha256"], d) for d in p.packs):
            conn.execute("INSERT INTO received_packs(package_no, pack_sha256, pack_id, version,"
                         " source) VALUES (?, ?, ?, ?, ?)",
                         (number, sha, doc["id"], doc["version"], doc.get("source")))
        for f in p.findings:
            fid = local_id(f["id"], number)
            findings[fid] = _store_finding(conn, number, fid, f, rids)
            notes += _store_notes(conn, number, fid, f)
        answered = list(findings)
    else:
        answered = []
        for d in p.decisions:
            fid = c.sent_as[d["id"]]
            conn.execute(
                "INSERT INTO received_findings(package_no, finding_id, original_id,"
                " pack_sha256, status, reason, assignee, decided_by, decided_at, approved_by,"
                " pending_status, pending_reason, pending_by, matching, stale_reason)"
                " VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (number, fid, d["id"], *(d.get(k) for k in _DECISION_FIELDS)))
            notes += _store_notes(conn, number, fid, d)
            findings[fid] = []
            answered.append(fid)
    ws.record("package.import", {
        "package_no": number, "kind": p.kind, "package_id": pkg["package_id"],
        "sha256": c.inspection.sha256, "file": c.inspection.file, "size": c.inspection.size,
        "format_version": pkg["format_version"],
        "sender": {"body": sender["body"], "user": sender["user"],
                   "workspace_id": sender["workspace_id"]},
        "signer": signer, "signing_time": c.inspection.signing_time,
        "trusted": c.inspection.trusted, "accepted_untrusted": c.accepted_untrusted,
        "trust_roots": roots, "in_reply_to": reply,
        "findings": findings, "batches": batches,
        "rows": received_digests(conn, number),
    })
    return ImportSummary(number, p.kind, c.inspection.file, c.inspection.sha256,
                         f"{sender['body']}/{sender['user']}", signer["subject"],
                         c.inspection.trusted, answered, [b["batch_id"] for b in batches],
                         records, registers, notes)


_DECISION_FIELDS = ("status", "reason", "assignee", "decided_by", "decided_at",
                    "approved_by", "pending_status", "pending_reason", "pending_by")


def _store_records(ws: Workspace, conn: Any, number: int, p: Payload, now: str
                   ) -> tuple[list[dict[str, Any]], dict[tuple[int, str], int]]:
    """One batch per source batch; the records as stored by the sender. Returns the
    batches' records for the event and (source, record id) -> local row id."""
    by_source: dict[int, list[dict[str, Any]]] = {}
    for r in p.records:
        by_source.setdefault(int(r["source"]), []).append(r)
    out: list[dict[str, Any]] = []
    rids: dict[tuple[int, str], int] = {}
    sha = p.package["package_id"]
    for source in p.sources:
        items = by_source.get(int(source["batch_id"]), [])
        if not items:
            continue
        kind = source["kind"]
        columns = list(source["columns"])
        provenance = json.dumps(source, ensure_ascii=False, separators=(",", ":"))
        body = p.package["sender"]["body"]
        name = f"{source['file']} (received in R{number} from {body})"
        batch_sha = hashlib.sha256(f"{sha}:{source['batch_id']}".encode()).hexdigest()
        size = sum(len(json.dumps(r, ensure_ascii=False)) for r in items)
        mapping = json.dumps({"received": {"package": f"R{number}", "package_id": sha,
                                           "source_batch": source["batch_id"]}},
                             sort_keys=True)
        cur = conn.execute(
            "INSERT INTO batches(kind, file_name, file_size, sha256, format, profile,"
            " profile_sha256, mapping, columns, source_columns, rows_read, rows_imported,"
            " rows_rejected, rows_digest, imported_by, imported_at, warnings, missing_markers)"
            " VALUES (?, ?, ?, ?, 'package', NULL, NULL, ?, ?, NULL, ?, ?, 0, '', ?, ?, '[]',"
            " '[]')",
            (kind, name, size, batch_sha, mapping, json.dumps(columns), len(items),
             len(items), ws.user, now))
        batch_id = int(cur.lastrowid)
        insert = (f"INSERT INTO {kind}({', '.join(columns)}) "
                  f"VALUES ({', '.join('?' * len(columns))})")
        digest = RowDigest()
        for r in items:
            row = (batch_id, r["line"], r["record_id"], *r["columns"].values())
            rid = int(conn.execute(insert, row).lastrowid)
            digest.update_many([row])
            if kind == "operations":
                rids[(int(source["batch_id"]), str(r["record_id"]))] = rid
        rows_digest = digest.hexdigest()
        conn.execute("UPDATE batches SET rows_digest = ? WHERE batch_id = ?",
                     (rows_digest, batch_id))
        conn.execute("INSERT INTO received_sources(package_no, source_batch, batch_id,"
                     " provenance) VALUES (?, ?, ?, ?)",
                     (number, source["batch_id"], batch_id, provenance))
        out.append({"batch_id": batch_id, "kind": kind, "file": name, "sha256": batch_sha,
                    "columns": columns, "rows_read": len(items), "rows_imported": len(items),
                    "rows_rejected": 0, "rows_digest": rows_digest, "warnings": [],
                    "missing_markers": [], "source_batch": source["batch_id"],
                    "source_sha256": source["sha256"]})
    return out, rids


def _store_finding(conn: Any, number: int, fid: str, f: dict[str, Any],
                   rids: dict[tuple[int, str], int]) -> list[Any]:
    """The finding, open for this body's triage; returns [severity, digest, pack, rule]
    for the event (the content digest verify recomputes)."""
    pack_id = local_pack(f["pack_id"], number)
    linked = sorted({rids[(int(r["source"]), str(r["record_id"]))] for r in f["records"]})
    digest = finding_digest(pack_id, f["rule_id"], f["part"], f["group_key"], f["severity"],
                            f["message"], f["facts"], f["legal_refs"], f["record_ids"],
                            f["first_ts_utc"], linked)
    conn.execute(
        "INSERT INTO findings(finding_id, pack_id, rule_id, part, group_key, severity, status,"
        " message, facts, legal_refs, record_ids, first_ts_utc, first_run, last_run,"
        " matching, content_digest) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, NULL,"
        " NULL, 1, ?)",
        (fid, pack_id, f["rule_id"], f["part"], f["group_key"], f["severity"], f["message"],
         f["facts"], f["legal_refs"], f["record_ids"], f["first_ts_utc"], digest))
    conn.executemany("INSERT INTO finding_records(finding_id, rid) VALUES (?, ?)",
                     [(fid, rid) for rid in linked])
    pack = f.get("pack")
    conn.execute(
        "INSERT INTO received_findings(package_no, finding_id, original_id, pack_sha256,"
        " status, reason, assignee, decided_by, decided_at, approved_by, pending_status,"
        " pending_reason, pending_by, matching, stale_reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, fid, f["id"], pack["sha256"] if pack else None,
         *(f.get(k) for k in _DECISION_FIELDS), int(f["matching"]), f.get("stale_reason")))
    return [f["severity"], digest, pack_id, f["rule_id"]]


def _store_notes(conn: Any, number: int, fid: str, d: dict[str, Any]) -> int:
    """The other body's notes and history of one finding, as it sent them."""
    conn.executemany(
        "INSERT INTO received_notes(package_no, finding_id, note_id, user, ts, text, refers_to)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(number, fid, n["note_id"], n["user"], n["ts"], n["text"], n.get("refers_to"))
         for n in d["notes"]])
    conn.executemany(
        "INSERT INTO received_decisions(package_no, finding_id, position, seq, ts, user,"
        " action, from_status, to_status, reason, note_id, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(number, fid, i, h.get("seq"), h["ts"], h["user"], h["action"], h.get("from"),
          h.get("to"), h.get("reason"), h.get("note_id"), h.get("detail"))
         for i, h in enumerate(d["history"], 1)])
    return len(d["notes"])
