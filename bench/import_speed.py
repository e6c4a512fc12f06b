"""Import speed against a raw baseline measured in the same run.

Generates an operations CSV of --rows rows, then times:
  (a) baseline: Python's csv reader + sqlcipher3 executemany of the same rows into a
      same-shaped encrypted table, one transaction;
  (b) `oversight import` of that file into a fresh workspace (a separate process, so
      its peak memory is measured too).
Prints both times, the import's peak RSS, then `ratio: X.XX` (b over a). Target (issue 12): <= 2.0,
peak memory < 300 MB.

    python bench/import_speed.py --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlcipher3

HEADER = ["record_id", "ts", "action", "actor_id", "actor_role", "agency", "case_id",
          "subject_ids", "authorisation_id", "legal_basis", "justification", "urgent",
          "recipient_id", "recipient_type", "recipient_country", "transfer_basis",
          "data_categories", "records_count", "terminal", "query_text"]


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    actions = ["consult"] * 8 + ["disclose", "transfer", "collect", "alter"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            action = rnd.choice(actions)
            ts = start + timedelta(seconds=i * 30 + rnd.randint(0, 29))
            transfer = action == "transfer"
            w.writerow([
                f"OP-{i:08d}", ts.isoformat(), action, f"officer-{rnd.randint(1, 3000)}",
                "constable", f"agency-{rnd.randint(1, 6)}", f"C-{rnd.randint(1, 5000)}",
                f"P-{rnd.randint(1, 200000)};P-{rnd.randint(1, 200000)}",
                "", "DPA 2018 s.35", "case enquiry", rnd.choice(["true", "false"]),
                f"R-{rnd.randint(1, 50)}" if transfer else "",
                "competent_authority" if transfer else "",
                rnd.choice(["DE", "FR", "GB", "US"]) if transfer else "",
                "adequacy" if transfer else "",
                "identity;address", rnd.randint(1, 40), f"WS-{rnd.randint(1, 900):04d}",
                f"surname=SMITH{rnd.randint(1, 999)}",
            ])


def baseline(path: Path, db: Path) -> float:
    t0 = time.perf_counter()
    conn = sqlcipher3.connect(str(db), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{secrets.token_hex(32)}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    cols = ", ".join(f'"{h}" TEXT' for h in HEADER)
    conn.execute(f"CREATE TABLE ops (rid INTEGER PRIMARY KEY, {cols})")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO ops({', '.join(repr(h) for h in HEADER)}) "
            f"VALUES ({', '.join('?' * len(HEADER))})",
            reader,
        )
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "operations.csv"
        t0 = time.perf_counter()
        generate(src, args.rows)
        print(f"generated {args.rows} rows ({src.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")
        base = baseline(src, tmpd / "baseline.db")
        print(f"baseline (csv + sqlcipher3 executemany): {base:.2f} s")
        env = dict(os.environ, OVERSIGHT_USER="bench", OVERSIGHT_PASSWORD="bench-password")
        exe = [sys.executable, "-m", "oversight.cli"]
        subprocess.run([*exe, "init", str(tmpd / "ws")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.Popen([*exe, "import", str(tmpd / "ws"), str(src)], env=env,
                                stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        ours = time.perf_counter() - t0
        if status != 0:
            raise SystemExit(f"oversight import failed (status {status})")
        helper = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"oversight import: {ours:.2f} s")
        print(f"peak memory of the import process: {usage.ru_maxrss / 1024:.0f} MB"
              + (f" (its reader process: {helper / 1024:.0f} MB)" if helper > before else ""))
        print(f"ratio: {ours / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
