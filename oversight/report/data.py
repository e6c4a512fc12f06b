"""What a report says, gathered from the workspace in one read.

`collect` returns a `ReportData`; `manifest` turns it into the JSON document embedded in
the PDF, and `manifest_digest` (`oversight.report.manifest.digest`) is the SHA-256 the
report prints on its pages so that a verifier can tie the visible report to the embedded
data.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from oversight import __version__, audit, log_quality, queries, scans, stored, triage
from oversight.criteria.pack import SEVERITIES, parse_pack
from oversight.errors import UsageError
from oversight.findings import list_findings, list_runs
from oversight.importing.quality import is_plausible
from oversight.indicators import report_indicators
from oversight.report.manifest import digest as manifest_digest
from oversight.workspace import Permission, Workspace

__all__ = ["ReportData", "ReportScope", "collect", "manifest", "manifest_digest"]


@dataclass(frozen=True)
class ReportScope:
    """Which findings a report covers."""

    only_confirmed: bool = False
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    period_from: str | None = None
    """ISO date (inclusive): findings whose first record is on or after it."""
    period_to: str | None = None
    """ISO date (inclusive)."""


@dataclass
class ReportData:
    title: str
    body: str
    """The oversight body issuing the report."""
    classification: str
    report_id: str
    created_at: str
    author: str
    scope: ReportScope
    period: tuple[str | None, str | None]
    """First and last time of the records the findings rest on (local ISO text); only
    plausible times count (from 1970 to a day after the record's import)."""
    sources: list[dict[str, Any]]
    """Import batches: file, sha256, kind, rows imported/rejected, who, when."""
    pack: dict[str, Any] | None
    """Criteria pack of the latest run: id, version, sha256, title."""
    runs: list[dict[str, Any]]
    not_evaluated: list[dict[str, Any]]
    """Rules of the latest run that were not evaluated, with the reason."""
    rules: dict[str, dict[str, Any]]
    """Rule id -> title, severity, legal_refs, rationale (from the stored pack)."""
    findings: list[dict[str, Any]]
    """Findings in scope, each with decision fields, notes and history."""
    sample: dict[str, Any] | None
    """Latest sample: statement, seed, size, population_size, reviewed."""
    chain_head: dict[str, Any]
    """Audit-trail head: seq and hash."""
    generator: str = field(default_factory=lambda: f"Oversight Workstation {__version__}")
    untimed: int = 0
    """Findings in scope none of whose records carries a usable time (missing or
    implausible, or no record at all): the period says so instead of ignoring them."""
    any_record_time: bool = True
    """Whether any record of the findings in scope carries a time at all."""
    left_out_untimed: int = 0
    """Findings a period filter (--from/--to) left out because no record gives a time."""
    partly_evaluated: list[dict[str, Any]] = field(default_factory=list)
    """Rules of the latest run evaluated only in part, with the note saying what not."""
    log_quality: dict[str, Any] = field(default_factory=dict)
    """Import warnings per batch and the log-completeness rules' findings
    (`oversight.quality.log_quality`)."""
    indicators: dict[str, Any] | None = None
    """Indicators per agency, channel, rule and month (`oversight.indicators`), over the
    report's period; None: not computed."""
    scans: list[dict[str, Any]] = field(default_factory=list)
    """Scans in place whose batches are live (`oversight.scans`): engine, version, files
    (with size, modification time, SHA-256 or None), rows read and rejected, hashes."""

    def counts(self) -> dict[str, dict[str, int]]:
        by_sev = {s: 0 for s in SEVERITIES}
        by_rule: dict[str, int] = {}
        by_status: dict[str, int] = {}
        by_month: dict[str, int] = {}
        for f in self.findings:
            by_sev[f["severity"]] += 1
            by_rule[f["rule_id"]] = by_rule.get(f["rule_id"], 0) + 1
            by_status[f["status"]] = by_status.get(f["status"], 0) + 1
            month = (f.get("first_ts") or "")[:7]
            if month:
                by_month[month] = by_month.get(month, 0) + 1
        return {"severity": by_sev, "rule": dict(sorted(by_rule.items())),
                "status": dict(sorted(by_status.items())),
                "month": dict(sorted(by_month.items()))}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def collect(ws: Workspace, scope: ReportScope | None = None, *, title: str | None = None,
            body: str = "", classification: str = "OFFICIAL-SENSITIVE") -> ReportData:
    """Gather everything a report shows. Read-only; the caller records the report."""
    ws.require(Permission.READ)
    scope = scope or ReportScope()
    for label, day in (("--from", scope.period_from), ("--to", scope.period_to)):
        if day is not None:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise UsageError(f"The period {label} {day!r} is not a date such as "
                                 "2026-03-31.") from None
    if scope.period_from and scope.period_to and scope.period_from > scope.period_to:
        raise UsageError(f"The period ends ({scope.period_to}) before it starts "
                         f"({scope.period_from}).")
    for sev in scope.severities:
        if sev not in SEVERITIES:
            raise UsageError(f"Unknown severity {sev!r}; use {', '.join(SEVERITIES)}.")
    runs = list_runs(ws)
    if not runs:
        raise UsageError("There is no detection run to report on; run `oversight check` first.")
    latest = runs[-1]
    pack_row = ws.conn.execute("SELECT pack_id, version, pack_sha256, title, source FROM packs"
                               " WHERE pack_sha256 = ?", (latest["pack_sha256"],)).fetchone()
    pack = parse_pack(pack_row[4], "stored pack")
    rules = {r.id: {"id": r.id, "title": r.title, "severity": r.severity,
                    "legal_refs": list(r.legal_refs), "rationale": r.rationale}
             for r in pack.rules}
    findings = []
    times, timed = record_times(ws)
    left_out = 0
    spans: list[tuple[int, str, int, str]] = []
    for f in list_findings(ws):
        if scope.only_confirmed and f["status"] != "confirmed":
            continue
        if scope.rules and f["rule_id"] not in scope.rules:
            continue
        if scope.severities and f["severity"] not in scope.severities:
            continue
        span = times.get(f["id"])
        first_ts = span[1] if span else None
        day = (first_ts or "")[:10]
        if (scope.period_from or scope.period_to) and not day:
            left_out += 1
            continue
        if scope.period_from and day < scope.period_from:
            continue
        if scope.period_to and day > scope.period_to:
            continue
        if span is not None:
            spans.append(span)
        detail = triage.finding_detail(ws, f["id"])
        findings.append({
            "id": f["id"], "rule_id": f["rule_id"], "severity": f["severity"],
            "status": f["status"], "reason": detail["reason"], "matching": f["matching"],
            "message": f["message"], "record_ids": f["record_ids"],
            "legal_refs": f["legal_refs"], "facts": f["facts"], "first_ts": first_ts,
            "first_ts_utc": span[0] if span else None,
            "assignee": detail["assignee"], "decided_by": detail["decided_by"],
            "decided_at": detail["decided_at"], "approved_by": detail["approved_by"],
            "pending_status": detail["pending_status"], "pending_by": detail["pending_by"],
            "notes": detail["notes"], "history": detail["history"],
        })
        if f["rule_id"] not in rules:
            rules[f["rule_id"]] = detail["rule"]
    first = min(spans) if spans else None
    last = max(spans, key=lambda sp: sp[2]) if spans else None
    head_seq, head_hash = audit.head(ws.conn)
    sample_row = ws.conn.execute(
        "SELECT sample_id, population, stratify_by, seed, size, population_size, item_ids"
        " FROM samples ORDER BY sample_id DESC LIMIT 1").fetchone()
    sample = None
    if sample_row is not None:
        items = stored.json_list(sample_row[6])
        reviewed = sum(1 for (s,) in ws.conn.execute(
            f"SELECT status FROM findings WHERE finding_id IN ({', '.join('?' * len(items))})",
            items) if s != "open") if sample_row[1] == "findings" and items else 0
        sample = {"sample_id": sample_row[0], "population": sample_row[1],
                  "by": sample_row[2], "seed": sample_row[3], "size": sample_row[4],
                  "population_size": sample_row[5], "reviewed": reviewed,
                  "statement": f"{sample_row[4]} of {sample_row[5]} {sample_row[1]} sampled "
                               f"for review, seed {sample_row[3]}"
                               + (f", stratified by {sample_row[2]}" if sample_row[2] else "")
                               + f"; {reviewed} of the {sample_row[4]} reviewed"}
    meta = ws.meta()
    indicators = _indicators(ws, scope)
    return ReportData(
        title=title or "Audit of logged law-enforcement operations",
        body=body, classification=classification,
        report_id=f"R-{hashlib.sha256((ws.workspace_id + _now()).encode()).hexdigest()[:12]}",
        created_at=_now(), author=ws.user, scope=scope,
        period=(first[1] if first else None, last[3] if last else None),
        untimed=len(findings) - len(spans),
        any_record_time=any(f["id"] in timed for f in findings),
        left_out_untimed=left_out,
        sources=queries.batches(ws),
        pack={"id": pack.id, "version": pack.version, "sha256": pack.sha256,
              "title": pack.title},
        runs=runs,
        not_evaluated=[{"rule_id": r["rule_id"], "reason": r["reason"]}
                       for r in latest["rules"] if not r["evaluated"]],
        partly_evaluated=[{"rule_id": r["rule_id"], "note": r["note"]}
                          for r in latest["rules"] if r["evaluated"] and r.get("note")],
        log_quality=log_quality.overview(ws, {f["id"] for f in findings}),
        rules=rules, findings=findings, sample=sample,
        chain_head={"seq": head_seq, "hash": head_hash,
                    "workspace_id": meta.get("workspace_id")},
        indicators=indicators,
        scans=[scan_doc(s) for s in scans.scans(ws)],
    )


def scan_doc(found: scans.ScanProvenance) -> dict[str, Any]:
    """A scan as the report states it (and its manifest carries it)."""
    return {"seq": found.seq, "at": found.at, "user": found.user, "engine": found.engine,
            "engine_name": found.engine_name, "engine_version": found.engine_version,
            "pack": found.pack, "pack_version": found.pack_version,
            "pack_sha256": found.pack_sha256, "rows_read": found.rows_read,
            "rows_rejected": found.rows_rejected, "hashes": found.hashes,
            "not_evaluated": dict(sorted(found.not_evaluated.items())),
            "files": [asdict(f) for f in found.files]}


def record_times(ws: Workspace) -> tuple[dict[str, tuple[int, str, int, str]], set[str]]:
    """Per finding, the earliest and latest plausible time of the records it rests on:
    (first UTC microseconds, its local text, last UTC microseconds, its local text); and
    the findings with a record that carries any time at all."""
    imported = log_quality.batch_import_times(ws)
    out: dict[str, tuple[int, str, int, str]] = {}
    timed: set[str] = set()
    for fid, batch_id, ts, utc in ws.conn.execute(
            "SELECT r.finding_id, o.batch_id, o.ts, o.ts_utc FROM finding_records r"
            " JOIN live_operations o ON o.rid = r.rid WHERE o.ts_utc IS NOT NULL"):
        timed.add(fid)
        if not is_plausible(utc, imported.get(batch_id, utc)):
            continue
        have = out.get(fid)
        if have is None:
            out[fid] = (utc, ts, utc, ts)
            continue
        lo = (utc, ts) if utc < have[0] else (have[0], have[1])
        hi = (utc, ts) if utc > have[2] else (have[2], have[3])
        out[fid] = (lo[0], lo[1], hi[0], hi[1])
    return out, timed


def _indicators(ws: Workspace, scope: ReportScope) -> dict[str, Any]:
    """The Indicators section's numbers: over the report's period (operations by their
    local day); --only-confirmed counts confirmed findings; rule and severity filters
    do not apply (a rate needs all the findings of its group)."""
    return report_indicators(
        ws, date.fromisoformat(scope.period_from) if scope.period_from else None,
        date.fromisoformat(scope.period_to) if scope.period_to else None,
        "confirmed" if scope.only_confirmed else "any")




def manifest(data: ReportData) -> dict[str, Any]:
    """The JSON document embedded in the PDF: the same data as the pages."""
    return {
        "format": "oversight-report-manifest", "version": 1,
        "report_id": data.report_id, "title": data.title, "body": data.body,
        "classification": data.classification, "created_at": data.created_at,
        "author": data.author, "generator": data.generator,
        "scope": asdict(data.scope), "period": list(data.period),
        "period_detail": {"findings_without_time": data.untimed,
                          "any_record_time": data.any_record_time,
                          "left_out_without_time": data.left_out_untimed},
        "sources": [{k: s.get(k) for k in ("batch_id", "kind", "file", "sha256", "rows_read",
                                           "rows_imported", "rows_rejected", "imported_by",
                                           "imported_at", "warnings", "missing_markers")}
                    for s in data.sources],
        "scans": data.scans,
        "criteria_pack": data.pack,
        "runs": [{k: r[k] for k in ("run_id", "pack", "version", "pack_sha256", "started_at",
                                    "user", "hits")} for r in data.runs],
        "not_evaluated": data.not_evaluated,
        "partly_evaluated": data.partly_evaluated,
        "log_quality": {"rules": data.log_quality.get("rules", []),
                        "findings": [f["id"] for f in data.log_quality.get("findings", [])]},
        "sample": data.sample,
        "counts": data.counts(),
        "findings": [{k: f[k] for k in ("id", "rule_id", "severity", "status", "reason",
                                        "message", "record_ids", "legal_refs", "decided_by",
                                        "approved_by", "pending_status", "notes")}
                     for f in data.findings],
        "chain_head": data.chain_head,
        "indicators": data.indicators,
    }
