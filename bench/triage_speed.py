"""Triage speed: bulk-mark 100,000 findings, then verify a 1,000,000-event audit chain
with its seals; and what a seal costs.

The findings are inserted directly together with the detection event that records their
content digests (setup, not measured); every other event is written through the
services, so each command ends with one seal (the actor's Ed25519 signature) as in real
use. The measured steps:

- the bulk mark (100,000 events, one seal);
- ``audit.verify_chain`` alone (the hash chain, as verify did before events were signed);
- the whole accountability check of verify (chain, seals, roles, and every finding,
  decision and note re-derived from the chain and compared with the tables), in one
  process and on two (a helper process checks the hash chain and digests the tables
  while the main one replays the chain: oversight/verify_worker.py);
- single-finding commands with and without their seal (the cost of a seal per command),
  and a chain of single-event commands (one signature to check per event).

Prints the times, then a last line ``verify events/s: N`` (the whole check as verify does
it, on two cores; target: over 100,000).

    python bench/triage_speed.py [--findings 100000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

from oversight import audit, chainstate, triage, verify_worker
from oversight.accountability import Event, Replay, finding_digest, is_access_action
from oversight.seals import new_seed, signer_from_seed, verify_seal
from oversight.workspace import Role, Workspace


def _setup(folder: Path, findings: int) -> None:
    with Workspace.create(folder, "admin", "admin-password") as ws:
        ws.add_user("ines", Role.INSPECTOR, "ines-password")
        sha = hashlib.sha256(b"").hexdigest()  # of the (empty) pack text stored
        with ws.write() as conn:
            conn.execute("INSERT INTO packs VALUES (?, 'bench', '1', 'b', '', '', 'admin')",
                         (sha,))
            outcome = {"rule_id": "PRO-03", "evaluated": True, "hits": findings,
                       "new": findings, "no_longer_matching": 0}
            summary = {"rules": [outcome], "hits": findings, "new": findings}
            conn.execute("INSERT INTO runs VALUES (1, ?, 'bench', '1', '[\"PRO-03\"]', '', '',"
                         " 'admin', ?)", (sha, json.dumps(summary)))
            ids = [f"PRO-03-{i:016x}" for i in range(findings)]
            digest = {fid: finding_digest("bench", "PRO-03", "record", None, "low", "m", "{}",
                                          "[]", "[]", None, []) for fid in ids}
            conn.executemany(
                "INSERT INTO findings(finding_id, pack_id, rule_id, part, severity,"
                " message, facts, legal_refs, record_ids, first_run, last_run, content_digest)"
                " VALUES (?, 'bench', 'PRO-03', 'record', 'low', 'm', '{}', '[]', '[]',"
                " 1, 1, ?)", ((fid, digest[fid]) for fid in ids))
            ws.record("detection.run", {
                "run_id": 1, "pack": "bench", "version": "1", "pack_sha256": sha,
                "rules": [outcome],
                "findings": {fid: ["low", digest[fid]] for fid in ids},
                "no_longer_matching": [], "rule_not_in_pack": []})


def _full_check(ws: Workspace, two_cores: bool) -> tuple[int, float, list[str]]:
    """What `oversight verify` does with the audit trail (integrity.verify_workspace
    without the page check and the batch digests, which bench/import_speed.py covers):
    on two cores (oversight.verify_worker, as verify does from 50,000 events) or in one
    process (as for a shorter trail, or when the helper cannot run)."""
    t0 = time.perf_counter()
    with chainstate.paused_gc():
        total = int(ws.conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])
        both = verify_worker.check_audit(ws.conn, *ws.helper_access(), total,
                                         lambda n: None) if two_cores else None
        if both is not None:
            chain, found = both
            assert found is not None, chain.problem
            checker = found
        else:
            assert not two_cores, "the helper process did not run"
            checker = chainstate.Checker(ws.conn)
            chain = audit.verify_chain(ws.conn, visit=checker.visit)
            checker.finish()
    return chain.events, time.perf_counter() - t0, checker.lines()


def _seal_check(ws: Workspace) -> tuple[int, float, list[str]]:
    """The hash chain and its seals alone: every event sealed by its actor with the key
    the chain gave them (payloads parsed only for user and settings events)."""
    t0 = time.perf_counter()
    with chainstate.paused_gc():
        replay = Replay(chainstate._seals(ws.conn), sparse=True)

        def visit(rows: list[audit.ChainRow]) -> None:
            replay.feed(chainstate._event(r) if is_access_action(r[3]) else
                        Event(r[0], r[1], r[2], r[3], {}, r[6]) for r in rows)

        chain = audit.verify_chain(ws.conn, visit=visit)
        replay.finish()
    return chain.events, time.perf_counter() - t0, replay.derived.problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--commands", type=int, default=2_000,
                    help="single-finding commands timed with and without their seal")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        folder = Path(tmp) / "ws"
        _setup(folder, args.findings)
        with Workspace.open(folder, "ines", "ines-password") as ws:
            t0 = time.perf_counter()
            ids = triage.select_ids(ws, rule="PRO-03")
            res = triage.mark(ws, ids, "dismissed", reason="justified",
                              note="night shift rota covers these accesses")
            t_mark = time.perf_counter() - t0
            print(f"bulk-mark {len(res.changed)} findings (dismissed, one note each, one "
                  f"seal): {t_mark:.2f} s")
            t0 = time.perf_counter()
            to = "ines"
            while ws.conn.execute("SELECT max(seq) FROM audit_events").fetchone()[0] \
                    < args.events:
                triage.assign(ws, ids, to)  # one command: len(ids) events, one seal
                to = None if to else "ines"
            have = ws.conn.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
            seals = ws.conn.execute("SELECT count(*) FROM seals").fetchone()[0]
            print(f"bulk-assigned up to {have} events ({seals} seals): "
                  f"{time.perf_counter() - t0:.2f} s")

            t0 = time.perf_counter()
            report = audit.verify_chain(ws.conn)
            t_chain = time.perf_counter() - t0
            assert report.ok, report.problem
            print(f"hash chain alone, {report.events} events: {t_chain:.2f} s "
                  f"({report.events / t_chain:.0f} events/s)")
            events, t_seals, problems = _seal_check(ws)
            assert not problems, problems[:3]
            print(f"hash chain and seals, {events} events: {t_seals:.2f} s "
                  f"({events / t_seals:.0f} events/s)")
            events, t_one, problems = _full_check(ws, two_cores=False)
            assert not problems, problems[:3]
            print(f"chain, seals and every row re-derived, in one process, {events} "
                  f"events: {t_one:.2f} s ({events / t_one:.0f} events/s)")
            events, t_full, problems = _full_check(ws, two_cores=True)
            assert not problems, problems[:3]
            print(f"the same on two cores (what verify does), {events} "
                  f"events: {t_full:.2f} s ({events / t_full:.0f} events/s; "
                  f"{t_one / t_full:.2f}x one process)")

            # The cost of a seal per command: single-finding commands, with the time
            # spent sealing each (head lookup, actor check, signature, insert) summed.
            few = ids[:args.commands]
            sealing = [0.0]
            seal = ws._seal

            def timed_seal(conn: object, start: int) -> None:
                t = time.perf_counter()
                seal(conn, start)
                sealing[0] += time.perf_counter() - t

            ws._seal = timed_seal  # type: ignore[method-assign]
            t0 = time.perf_counter()
            for fid in few:
                triage.assign(ws, [fid], "admin")
            per_command = (time.perf_counter() - t0) / len(few)
            ws._seal = seal  # type: ignore[method-assign]
            per_seal = sealing[0] / len(few)
            print(f"one-finding command: {per_command * 1e3:.2f} ms, of which its seal "
                  f"{per_seal * 1e6:.0f} µs ({per_seal / per_command:.0%})")
    signer = signer_from_seed(new_seed())
    t0 = time.perf_counter()
    n = 2000
    sigs = [signer.sign(f"m{i}".encode()) for i in range(n)]
    t_sign = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for i, sig in enumerate(sigs):
        verify_seal(signer.public_key, "w", i, "h", "u", sig)
    t_check = (time.perf_counter() - t0) / n
    print(f"Ed25519: sign {t_sign * 1e6:.0f} µs, verify {t_check * 1e6:.0f} µs "
          f"(one each per command; a chain of one-event commands verifies at about "
          f"{1 / (t_check + t_full / events):.0f} events/s)")
    print(f"verify events/s (hash chain and seals): {events / t_seals:.0f}")
    print(f"verify events/s: {events / t_full:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
