"""Review-package speed: export and import a package of 1,000 findings with their records.

A sender workspace gets 1,000 transfers to a third country without a legal basis (one
TRF-01 finding each, citing its operation) and a case register of 1,000 cases (one
register entry per finding); half the findings carry a decision with a note. Its
auditor exports all 1,000 TRF-01 findings, signed and encrypted for the receiver, whom
the receiver's inspector then verifies and imports into an empty workspace.

For scale, the same run times a baseline: reading the same findings with
``list_findings`` and writing them as JSON (what a plain export of them costs), and
prints each step's ratio to it. The last line is the target's (each under 5 s):
``1000 findings: export X s, import Y s``.

    python bench/package_speed.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from oversight import triage
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.exchange import keys
from oversight.exchange.export import Recipient, export_package
from oversight.exchange.receive import import_package
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.report.sign import create_selfsigned
from oversight.workspace import Role, Workspace

PW = "bench-password"
PASS = b"bench-passphrase"


def operations(n: int) -> str:
    head = ("record_id,ts,action,actor_id,case_id,subject_ids,authorisation_id,justification,"
            "recipient_id,recipient_type,recipient_country,transfer_basis\n")
    return head + "".join(
        f"T-{i:05d},2026-03-{1 + i % 28:02d}T{8 + i % 10:02d}:{i % 60:02d}:00+01:00,transfer,"
        f"OFFICER-{i % 97:03d},C-{i:05d},SUBJ-{i:06d},,extradition file {i},"
        f"MPS-{i % 13},competent_authority,CN,\n" for i in range(n))


def cases(n: int) -> str:
    return "case_id,opened_at,offence,max_penalty_months,team,subject_ids\n" + "".join(
        f"C-{i:05d},2026-01-01T00:00:00+00:00,fraud,60,OFFICER-{i % 97:03d},"
        f"SUBJ-{i:06d}\n" for i in range(n))


def sender(folder: Path, tmp: Path, n: int) -> list[str]:
    with Workspace.create(folder, "admin", PW) as ws:
        ws.add_user("ines", Role.INSPECTOR, PW)
        ws.add_user("aurelia", Role.AUDITOR, PW)
    (tmp / "ops.csv").write_text(operations(n), encoding="utf-8")
    (tmp / "cases.csv").write_text(cases(n), encoding="utf-8")
    with Workspace.open(folder, "ines", PW) as ws:
        import_file(ws, tmp / "cases.csv", Kind.CASES)
        import_file(ws, tmp / "ops.csv", Kind.OPERATIONS)
        run_detection(ws, default_pack())
        ids = [f["id"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))]
        triage.mark(ws, ids[: n // 2], "in_review", note="Asked the liaison officer.")
    return ids


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as name:
        tmp = Path(name)
        a_p12, a_ca = create_selfsigned("Aurelia Auditor", tmp / "a.p12", PASS, with_ca=True)
        b_p12 = create_selfsigned("Berta Inspector", tmp / "b.p12", PASS)
        ids = sender(tmp / "a", tmp, n)
        if len(ids) != n:
            print(f"expected {n} TRF-01 findings, got {len(ids)}")
            return 1
        with Workspace.create(tmp / "b", "admin", PW) as ws:
            ws.add_user("berta", Role.INSPECTOR, PW)
        me = keys.load_identity(a_p12, PASS)
        them = keys.load_identity(b_p12, PASS)
        with Workspace.open(tmp / "a", "aurelia", PW) as ws:
            t0 = time.perf_counter()
            rows = list_findings(ws, FindingFilters(rule="TRF-01"))
            (tmp / "baseline.json").write_text(json.dumps(rows, ensure_ascii=False))
            baseline = time.perf_counter() - t0
            t0 = time.perf_counter()
            sent = export_package(ws, tmp / "bench.ovp", me,
                                  [Recipient(them.certificate, "b.p12")], finding_ids=ids,
                                  body="Bench Inspectorate")
            export_s = time.perf_counter() - t0
        with Workspace.open(tmp / "b", "berta", PW) as ws:
            t0 = time.perf_counter()
            got = import_package(ws, sent.path, them, [a_ca])
            import_s = time.perf_counter() - t0
        assert len(got.findings) == n, len(got.findings)
        print(f"  (package {sent.size / 1e6:.1f} MB: {sent.findings} findings, "
              f"{sent.records} records, {sent.register_entries} register entries, "
              f"{sent.notes} notes)")
        print(f"  baseline (list_findings + JSON of the same findings): {baseline:.2f} s; "
              f"export {export_s / baseline:.1f}x, import {import_s / baseline:.1f}x")
        print(f"{n} findings: export {export_s:.1f} s, import {import_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
