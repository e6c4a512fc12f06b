"""Detection speed against a full-scan baseline measured in the same run.

Builds a workspace with N demo operations (plus their authorisation and case
registers), then times:
  (a) baseline: one SELECT inside SQLite that reads every column of every operation row
      (count(*) over a predicate touching all columns);
  (b) `oversight check` with the default pack (a separate process, so its peak memory
      is measured too).
Prints per-rule times, the peak memory, then `ratio: X.X` (b over a). Target <= 8,
memory < 300 MB (issue 12).

The check's peak is the VmHWM of its own address space, read by the check process as
it exits. The rusage of a child is not: Linux carries the peak of the address space a
process had before exec into its maxrss, and a child forked from this process (which
has just generated and imported the whole log) would report this process's peak.

    python bench/detect_speed.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import cli_peak

from oversight.demo_data import generate
from oversight.importing import import_file
from oversight.records import Kind, storage_columns
from oversight.workspace import Workspace

USER, PASSWORD = "bench", "bench-password"

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        tmpd = Path(tmp)
        t0 = time.perf_counter()
        files = generate(tmpd / "data", operations=args.rows)
        print(f"generated {args.rows} operations in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        with Workspace.create(tmpd / "ws", USER, PASSWORD) as ws:
            for path, kind in ((files.cases, Kind.CASES),
                               (files.authorisations, Kind.AUTHORISATIONS),
                               (files.operations, Kind.OPERATIONS)):
                import_file(ws, path, kind)
            print(f"imported in {time.perf_counter() - t0:.1f} s")
            cols = ["record_id", *storage_columns(Kind.OPERATIONS)]
            touch = " || ".join(f"coalesce({c}, '')" for c in cols)
            t0 = time.perf_counter()
            n = ws.conn.execute(f"SELECT count(*) FROM operations WHERE ({touch}) != ''"
                                ).fetchone()[0]
            base = time.perf_counter() - t0
            print(f"baseline (one full scan reading every column of {n} rows): {base:.2f} s")
        env = dict(os.environ, OVERSIGHT_USER=USER, OVERSIGHT_PASSWORD=PASSWORD)
        t0 = time.perf_counter()
        proc, peak_mb = cli_peak.run(["check", str(tmpd / "ws"), "--json"], env,
                                     tmpd / "check-peak-kb")
        ours = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"oversight check failed (status {proc.returncode})")
        stdout = proc.stdout
        run = json.loads(stdout)
        for r in run["rules"]:
            state = f"{r['hits']} findings" if r["evaluated"] else f"not evaluated: {r['reason']}"
            print(f"  {r['rule_id']:<7} {r['seconds']:7.2f} s  {state}")
        print(f"oversight check: {ours:.2f} s ({run['hits']} findings)")
        print(f"peak memory of the check process: {peak_mb:.0f} MB (this process, which "
              f"generated and imported the log: "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
        print(f"ratio: {ours / base:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
