"""Triage speed: bulk-mark 100,000 findings, then verify a 1,000,000-event audit chain.

The findings and most of the events are inserted directly (setup, not measured); the
measured steps are the service calls a user makes. Prints the times, then a last line
`verify events/s: N` (target: over 100,000).

    python bench/triage_speed.py [--findings 100000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from oversight import audit, triage
from oversight.workspace import Role, Workspace


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        folder = Path(tmp) / "ws"
        with Workspace.create(folder, "admin", "admin-password") as ws:
            ws.add_user("ines", Role.INSPECTOR, "ines-password")
            with ws.write() as conn:
                conn.execute("INSERT INTO packs VALUES ('x', 'bench', '1', 'b', '', '', '')")
                conn.execute("INSERT INTO runs VALUES (1, 'x', 'bench', '1', '[]', '', '', '',"
                             " '{}')")
                conn.executemany(
                    "INSERT INTO findings(finding_id, pack_id, rule_id, part, severity,"
                    " message, facts, legal_refs, record_ids, first_run, last_run)"
                    " VALUES (?, 'bench', 'PRO-03', 'record', 'low', 'm', '{}', '[]', '[]',"
                    " 1, 1)", ((f"PRO-03-{i:016x}",) for i in range(args.findings)))
        with Workspace.open(folder, "ines", "ines-password") as ws:
            t0 = time.perf_counter()
            ids = triage.select_ids(ws, rule="PRO-03")
            res = triage.mark(ws, ids, "dismissed", reason="justified",
                              note="night shift rota covers these accesses")
            t_mark = time.perf_counter() - t0
            print(f"bulk-mark {len(res.changed)} findings (dismissed, one note each): "
                  f"{t_mark:.2f} s")
            have = ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
            t0 = time.perf_counter()
            with ws.write() as conn:
                batch = 50_000
                left = args.events - have
                while left > 0:
                    n = min(batch, left)
                    audit.append_many(conn, "ines", [("bench.event", {"i": i, "text": "x" * 40})
                                                     for i in range(n)])
                    left -= n
            print(f"appended events up to {args.events}: {time.perf_counter() - t0:.2f} s")
            t0 = time.perf_counter()
            report = audit.verify_chain(ws.conn)
            t_verify = time.perf_counter() - t0
            assert report.ok, report.problem
            print(f"verify {report.events} events: {t_verify:.2f} s "
                  f"(head {report.head_seq} {report.head_hash[:16]}…)")
            print(f"verify events/s: {report.events / t_verify:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
