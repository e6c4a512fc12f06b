"""Scan speed against import + check, measured in the same run.

Writes N demo-like operations as Parquet: the demo generator's operations (at most
100,000), copied as often as needed with each copy's actors, subjects and record ids
renamed (so every copy holds the same irregularities, and findings grow with N), and
a workspace holding the demo's authorisation and case registers. Then times:
  (a) `oversight check` (default pack) in a workspace that imported the first
      min(N, 1,000,000) rows as CSV (import time printed, not counted);
  (b) `oversight scan --engine duckdb` of all N rows (a separate process: its peak
      memory is measured), and of the first N/10 rows for linearity.
Prints rows/s of each, the scan's peak RSS, then `speedup: X` ((b) rows/s over (a)
rows/s; target >= 30) and `linearity: Y` (scan time for N over scan time for N/10,
times 1/10; target <= 1.3).

    python bench/scan_speed.py --rows 20000000 --memory-limit 1GB
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cli_peak
import duckdb

from oversight.demo_data import generate
from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Workspace

USER, PASSWORD = "bench", "bench-password"
BASE_MAX = 100_000
CHECK_MAX = 1_000_000


def _copies(rows: int, base_rows: int) -> int:
    return -(-rows // base_rows)


def _write(con: duckdb.DuckDBPyConnection, base_csv: Path, base_rows: int, rows: int,
           target: Path, fmt: str) -> None:
    """Copy k of the demo operations is a world of its own: its actors, subjects, cases,
    authorisations and record ids carry the suffix .k (subjects P<k>-), so every copy
    holds the same irregularities and the registers (see _registers) match."""
    con.execute(f"""
        COPY (
          SELECT * REPLACE (
            record_id || '.' || k AS record_id,
            CASE WHEN actor_id IS NULL THEN NULL ELSE actor_id || '.' || k END AS actor_id,
            CASE WHEN case_id IS NULL THEN NULL ELSE case_id || '.' || k END AS case_id,
            CASE WHEN authorisation_id IS NULL OR trim(authorisation_id) = '' THEN
                 authorisation_id ELSE authorisation_id || '.' || k END AS authorisation_id,
            replace(subject_ids, 'P-', 'P' || k || '-') AS subject_ids)
          FROM (SELECT b.*, c.range AS k FROM read_csv('{base_csv}', all_varchar=true,
                header=true) b CROSS JOIN range({_copies(rows, base_rows)}) c)
          ORDER BY k, record_id
          LIMIT {rows}
        ) TO '{target}' ({'FORMAT parquet' if fmt == 'parquet' else 'HEADER true'})
    """)


def _registers(con: duckdb.DuckDBPyConnection, cases: Path, auths: Path, copies: int,
               out: Path) -> tuple[Path, Path]:
    """The registers of ``copies`` worlds (see _write)."""
    out.mkdir(exist_ok=True)
    c_out, a_out = out / f"cases-{copies}.jsonl", out / f"authorisations-{copies}.csv"
    con.execute(f"""
        COPY (SELECT * EXCLUDE (k) REPLACE (
                case_id || '.' || k AS case_id,
                list_transform(team, lambda x: x || '.' || k) AS team,
                list_transform(subject_ids, lambda x: replace(x, 'P-', 'P' || k || '-'))
                    AS subject_ids)
              FROM read_json('{cases}', format='newline_delimited')
              CROSS JOIN (SELECT range AS k FROM range({copies})))
        TO '{c_out}' (FORMAT json)""")
    con.execute(f"""
        COPY (SELECT * EXCLUDE (k) REPLACE (
                authorisation_id || '.' || k AS authorisation_id,
                CASE WHEN case_id IS NULL THEN NULL ELSE case_id || '.' || k END AS case_id,
                replace(subject_ids, 'P-', 'P' || k || '-') AS subject_ids)
              FROM read_csv('{auths}', all_varchar=true, header=true)
              CROSS JOIN (SELECT range AS k FROM range({copies})))
        TO '{a_out}' (HEADER true)""")
    return c_out, a_out


def _scan(ws: Path, source: Path, memory_limit: str) -> tuple[float, float, dict[str, object]]:
    """Seconds, the scan process's own peak memory (MB; bench/cli_peak.py) and its JSON."""
    env = dict(os.environ, OVERSIGHT_USER=USER, OVERSIGHT_PASSWORD=PASSWORD)
    t0 = time.perf_counter()
    proc, peak_mb = cli_peak.run(["scan", str(ws), str(source), "--memory-limit",
                                  memory_limit, "--json"], env, ws.parent / f"{ws.name}.peak")
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"scan failed: {proc.stderr[-2000:]}")
    return seconds, peak_mb, json.loads(proc.stdout)


def _fresh_ws(path: Path, files_cases: Path, files_auths: Path) -> None:
    with Workspace.create(path, USER, PASSWORD) as ws:
        import_file(ws, files_cases, Kind.CASES)
        import_file(ws, files_auths, Kind.AUTHORISATIONS)


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--memory-limit", default="1GB")
    args = ap.parse_args()
    n = args.rows
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        tmpd = Path(tmp)
        base_rows = min(n, BASE_MAX)
        t0 = time.perf_counter()
        files = generate(tmpd / "data", operations=base_rows)
        con = duckdb.connect()
        full, tenth = tmpd / "ops.parquet", tmpd / "ops-tenth.parquet"
        _write(con, files.operations, base_rows, n, full, "parquet")
        _write(con, files.operations, base_rows, max(n // 10, 1), tenth, "parquet")
        check_rows = min(n, CHECK_MAX)
        check_csv = tmpd / "ops-check.csv"
        _write(con, files.operations, base_rows, check_rows, check_csv, "csv")
        cases, auths = _registers(con, files.cases, files.authorisations,
                                  _copies(n, base_rows), tmpd / "registers")
        con.close()
        print(f"wrote {n:,} operations as Parquet in {time.perf_counter() - t0:.1f} s")

        ws_t = tmpd / "ws-t"
        _fresh_ws(ws_t, cases, auths)
        tenth_s, tenth_peak, _ = _scan(ws_t, tenth, args.memory_limit)
        shutil.rmtree(ws_t)
        ws_b = tmpd / "ws-b"
        _fresh_ws(ws_b, cases, auths)
        scan_s, peak_mb, doc = _scan(ws_b, full, args.memory_limit)
        scan_rate = n / scan_s
        run = doc.get("run") or {}
        files_doc: list[dict[str, int]] = doc["files"]  # type: ignore[assignment]
        cited = sum(int(f["records_cited"]) for f in files_doc)
        print(f"(b) scan of {n:,} rows (--memory-limit {args.memory_limit}): {scan_s:.1f} s, "
              f"{scan_rate:,.0f} rows/s; {cited:,} records cited, "
              f"{run.get('hits', 0):,} findings")  # type: ignore[union-attr]
        print(f"(b) scan of {max(n // 10, 1):,} rows: {tenth_s:.1f} s")
        print(f"peak RSS of the scan: {peak_mb:,.0f} MB ({max(n // 10, 1):,} rows: "
              f"{tenth_peak:,.0f} MB)")
        # (a) import + check on the first rows
        ws_a = tmpd / "ws-a"
        _fresh_ws(ws_a, cases, auths)
        t0 = time.perf_counter()
        with Workspace.open(ws_a, USER, PASSWORD) as ws:
            import_file(ws, check_csv, Kind.OPERATIONS)
        print(f"(a) import of {check_rows:,} rows: {time.perf_counter() - t0:.1f} s "
              "(not counted)")
        env = dict(os.environ, OVERSIGHT_USER=USER, OVERSIGHT_PASSWORD=PASSWORD)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "oversight.cli", "check", str(ws_a), "--json"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        check_s = time.perf_counter() - t0
        check_rate = check_rows / check_s
        print(f"(a) check of {check_rows:,} rows: {check_s:.1f} s, {check_rate:,.0f} rows/s")
        shutil.rmtree(ws_a)

        print(f"speedup: {scan_rate / check_rate:.1f}")
        print(f"linearity: {scan_s / tenth_s / 10:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
