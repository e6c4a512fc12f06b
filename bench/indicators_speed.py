"""Indicators speed: by agency and month over N operations and M findings.

Builds a workspace of N demo operations (generated and imported like `oversight demo`),
then records one detection run of the default pack with M findings on random operations
(inserted directly: setup, not measured), a tenth of them decided. Times:
  (a) baseline: one SQL query grouping the live operations by agency and a fixed 30-day
      UTC bucket (what any per-agency, per-period count must read; SQLite answers it
      from the index on (agency, ts_utc, batch_id), as indicators do);
  (b) `oversight.indicators.compute` by agency and month (local months of the workspace
      timezone, Europe/Berlin here, findings attributed to their earliest operation).
Prints both, `ratio: X.X` (b over a), the load average, then the last line
`indicators: X s` (target: under 2 s for 1M operations and 10k findings).

    python bench/indicators_speed.py [--rows 1000000] [--findings 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from oversight.criteria.pack import default_pack
from oversight.demo_data import generate
from oversight.importing import import_file
from oversight.indicators import IndicatorQuery, compute
from oversight.periods import set_timezone
from oversight.records import Kind
from oversight.workspace import Workspace

USER, PASSWORD = "bench", "bench-password"


def _plant_run(ws: Workspace, findings: int, seed: int) -> None:
    """One run of the default pack with ``findings`` findings on random operations."""
    pack = default_pack()
    rng = random.Random(seed)
    n_ops = ws.conn.execute("SELECT max(rid) FROM operations").fetchone()[0]
    rules = [r for r in pack.rules if r.enabled]
    summary = {"rules": [{"rule_id": r.id, "evaluated": True, "hits": 0} for r in rules]}
    statuses = ["open"] * 90 + ["confirmed"] * 6 + ["dismissed"] * 4
    with ws.write() as conn:
        conn.execute("INSERT INTO packs(pack_sha256, pack_id, version, title, source,"
                     " added_at, added_by) VALUES (?, ?, ?, ?, ?, '', 'bench')",
                     (pack.sha256, pack.id, pack.version, pack.title, pack.source))
        conn.execute("INSERT INTO runs(run_id, pack_sha256, pack_id, pack_version, rules,"
                     " started_at, finished_at, user, summary) VALUES (1, ?, ?, ?, ?, ?, ?,"
                     " 'bench', ?)", (pack.sha256, pack.id, pack.version,
                                      json.dumps([r.id for r in rules]),
                                      "2099-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00",
                                      json.dumps(summary)))
        rows, links = [], []
        for i in range(findings):
            rule = rules[i % len(rules)]
            rids = [rng.randint(1, n_ops) for _ in range(1 if i % 10 else 5)]
            fid = f"{rule.id}-{i:016x}"
            rows.append((fid, pack.id, rule.id, rule.severity, rng.choice(statuses)))
            links += [(fid, rid) for rid in rids]
        conn.executemany(
            "INSERT INTO findings(finding_id, pack_id, rule_id, part, severity, status,"
            " message, facts, legal_refs, record_ids, first_run, last_run)"
            " VALUES (?, ?, ?, 'record', ?, ?, 'm', '{}', '[]', '[]', 1, 1)", rows)
        conn.executemany("INSERT OR IGNORE INTO finding_records(finding_id, rid)"
                         " VALUES (?, ?)", links)
        conn.executemany("INSERT OR IGNORE INTO run_findings(run_id, finding_id, rid)"
                         " VALUES (1, ?, ?)", links)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="Timed runs; the best is kept.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        tmpd = Path(tmp)
        t0 = time.perf_counter()
        files = generate(tmpd / "data", operations=args.rows)
        print(f"generated {args.rows} operations in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        with Workspace.create(tmpd / "ws", USER, PASSWORD) as ws:
            import_file(ws, files.operations, Kind.OPERATIONS)
            print(f"imported in {time.perf_counter() - t0:.1f} s")
            _plant_run(ws, args.findings, 20261128)
            set_timezone(ws, "Europe/Berlin")
            base, ours = [], []
            result = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                ws.conn.execute(
                    "SELECT agency, ts_utc / 2592000000000, count(*) FROM live_operations"
                    " GROUP BY 1, 2").fetchall()
                base.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                result = compute(ws, IndicatorQuery(by=("agency", "month")))
                ours.append(time.perf_counter() - t0)
            assert result is not None
            doc = result.to_json()
            print(f"baseline (one scan grouping by agency and 30-day bucket): "
                  f"{min(base):.2f} s (runs: {', '.join(f'{b:.2f}' for b in base)})")
            print(f"indicators by agency and month: {len(doc['rows'])} rows, "
                  f"{doc['total']['operations']} operations, {doc['total']['findings']} "
                  f"findings (runs: {', '.join(f'{t:.2f}' for t in ours)})")
            print(f"ratio: {min(ours) / min(base):.1f}")
            load = os.getloadavg()
            print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                  f"on {os.cpu_count()} cores")
            print(f"indicators: {min(ours):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
