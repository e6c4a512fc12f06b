"""Report speed: build and sign reports of 1,000 and 5,000 findings.

The findings are made-up but shaped like real ones (messages, record ids, a decision and
a note each); the report is built with the `full` template and signed with a fresh
self-signed certificate. Prints `N findings: X.X s, P pages` per size (target: 1,000
findings in under 10 s).

    python bench/report_speed.py
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from oversight.report.build import build_pdf
from oversight.report.data import ReportData, ReportScope
from oversight.report.sign import create_selfsigned, sign_pdf

SEVERITIES = ("low", "medium", "high", "critical")


def data(n: int) -> ReportData:
    rules = {f"R-{i:02d}": {"id": f"R-{i:02d}", "title": f"Rule {i}", "severity":
                            SEVERITIES[i % 4], "legal_refs": ["Directive (EU) 2016/680, Art. 25"],
                            "rationale": "Why an oversight body cares, in two sentences. " * 2}
             for i in range(19)}
    findings = []
    for i in range(n):
        rule = f"R-{i % 19:02d}"
        findings.append({
            "id": f"{rule}-{i:016x}", "rule_id": rule, "severity": rules[rule]["severity"],
            "status": ("open", "confirmed", "dismissed")[i % 3],
            "reason": "justified" if i % 3 == 2 else None, "matching": True,
            "message": f"consult by officer-{i % 97} on 2026-03-{1 + i % 28:02d} names no case",
            "record_ids": [f"OP-{i:07d}"], "legal_refs": rules[rule]["legal_refs"],
            "facts": {}, "first_ts": f"2026-{1 + i % 12:02d}-01T10:00:00+01:00",
            "first_ts_utc": None, "assignee": None, "decided_by": "ines",
            "decided_at": "2026-11-28T10:00:00+00:00", "approved_by": None,
            "pending_status": None, "pending_by": None,
            "notes": [{"note_id": i, "user": "ines", "ts": "2026-11-28T10:00:00+00:00",
                       "text": "Checked against the rota.", "refers_to": None}],
            "history": [{"seq": i, "ts": "2026-11-28T10:00:00+00:00", "user": "ines",
                         "action": "mark", "from": "open", "to": "confirmed",
                         "reason": None, "note_id": i, "detail": None}],
        })
    return ReportData(
        title="Benchmark report", body="Bench", classification="OFFICIAL", report_id="R-bench",
        created_at="2026-11-28T10:00:00+00:00", author="aurelia", scope=ReportScope(),
        period=("2026-01-01T10:00:00+01:00", "2026-12-01T10:00:00+01:00"), sources=[],
        pack={"id": "led-baseline", "version": "1.0.0", "sha256": "0" * 64, "title": "x"},
        runs=[], not_evaluated=[], rules=rules, findings=findings, sample=None,
        chain_head={"seq": n, "hash": "0" * 64, "workspace_id": "bench"})


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        p12 = Path(tmp) / "bench.p12"
        create_selfsigned("Bench Signer", p12, b"bench-passphrase")
        for n in (1000, 5000):
            d = replace(data(n))
            t0 = time.perf_counter()
            built = build_pdf(d, "full")
            signed = sign_pdf(built.pdf, p12, b"bench-passphrase", box=built.signature_box)
            took = time.perf_counter() - t0
            print(f"  ({n} findings signed: {len(signed) / 1e6:.1f} MB)")
            print(f"{n} findings: {took:.1f} s, {built.pages} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
