"""Report speed: build and sign reports of 1,000 and 5,000 findings.

The findings are made-up but shaped like real ones (messages, record ids, a decision and
a note each); the report is built with the `full` template and signed with a fresh
self-signed certificate. Prints `N findings: X.X s (CPU Y.Y s), P pages` per size (target:
1,000 findings in under 2.5 s on an idle machine; issue 12 §5).

`--against DIR` also times, in the same run and alternating with this tree, the code in
DIR (a source tree holding `oversight/`, `db/` and `report_templates/`, e.g. an older
commit: `git archive main oversight db report_templates | tar -x -C DIR`), best of
`--repeat` builds each, and prints `ratio: X.XX (CPU: Y.YY)` (this tree over DIR, by wall
clock and by the processes' CPU time). Each tree signs with a key file written by its own
`create_selfsigned`, since how that file is written decides how long opening it takes. A
loaded machine slows both alike; the ratio is the figure to compare, and the CPU ratio
moves less when other processes take turns.

    python bench/report_speed.py
    python bench/report_speed.py --sizes 1000 --against /tmp/main-src --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from oversight.report.build import build_pdf
from oversight.report.data import ReportData, ReportScope
from oversight.report.sign import create_selfsigned, sign_pdf

SEVERITIES = ("low", "medium", "high", "critical")


def data(n: int) -> ReportData:
    rules = {f"R-{i:02d}": {"id": f"R-{i:02d}", "title": f"Rule {i}", "severity":
                            SEVERITIES[i % 4], "legal_refs": ["Directive (EU) 2016/680, Art. 25"],
                            "rationale": "Why an oversight body cares, in two sentences. " * 2}
             for i in range(19)}
    findings: list[dict[str, Any]] = []
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


def once(n: int, p12: Path) -> tuple[float, int, int, float]:
    """Build and sign a report of ``n`` findings: seconds, pages, signed bytes, and the
    process's CPU seconds (less sensitive than the wall clock to other processes taking
    turns on a shared machine)."""
    d = replace(data(n))
    t0, c0 = time.perf_counter(), time.process_time()
    built = build_pdf(d, "full")
    signed = sign_pdf(built.pdf, p12, b"bench-passphrase", box=built.signature_box)
    return (time.perf_counter() - t0, built.pages, len(signed), time.process_time() - c0)


def timed_elsewhere(tree: Path, n: int, p12: Path) -> tuple[float, float]:
    """`once` run by the code in ``tree`` (a separate process), after a warm-up build:
    wall-clock and CPU seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(Path(__file__).parent)])}
    script = ("import sys, pathlib, report_speed as b; p = pathlib.Path(sys.argv[2]); "
              "p.exists() or b.create_selfsigned('Bench Signer', p, b'bench-passphrase'); "
              "b.once(10, p); r = b.once(int(sys.argv[1]), p); print(r[0], r[3])")
    out = subprocess.run([sys.executable, "-c", script, str(n), str(p12)], env=env,
                         capture_output=True, text=True, check=True, cwd=tree)
    wall, cpu = out.stdout.split()[-2:]
    return float(wall), float(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--against", type=Path, help="source tree to compare with")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        p12 = Path(tmp) / "bench.p12"
        create_selfsigned("Bench Signer", p12, b"bench-passphrase")
        once(10, p12)  # fonts registered and modules warm, as in `timed_elsewhere`
        for n in args.sizes:
            if args.against is None:
                runs = [once(n, p12) for _ in range(args.repeat)]
                _, pages, size, _ = runs[0]
                print(f"  ({n} findings signed: {size / 1e6:.1f} MB)")
                print(f"{n} findings: {min(r[0] for r in runs):.1f} s "
                      f"(CPU {min(r[3] for r in runs):.1f} s), {pages} pages")
                continue
            ours: list[tuple[float, float]] = []
            theirs: list[tuple[float, float]] = []
            # each tree signs with a key file its own code wrote (how it writes one
            # decides how slowly it opens), made once, before any timing
            their_p12 = Path(tmp) / "against.p12"
            for _ in range(args.repeat):
                theirs.append(timed_elsewhere(args.against.resolve(), n, their_p12))
                ours.append(timed_elsewhere(here, n, p12))
            wall, cpu = min(w for w, _ in ours), min(c for _, c in ours)
            their_wall, their_cpu = min(w for w, _ in theirs), min(c for _, c in theirs)
            print(f"{n} findings: {wall:.1f} s (CPU {cpu:.1f} s); {args.against}: "
                  f"{their_wall:.1f} s (CPU {their_cpu:.1f} s)")
            print(f"ratio: {wall / their_wall:.2f} (CPU: {cpu / their_cpu:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
