"""verify on two cores: a helper process checks the hash chain and digests the tables
while this process replays the chain (``python -m oversight.verify_worker``).

The accountability check of a long audit trail is two independent halves of about the
same cost: recomputing every event's hash in order (and, from the tables alone, every
finding's content digest and every decision row against its event), and replaying every
event to derive who held which right and what each finding's state must be. The helper
process opens the same database read-only with the key it is handed through its stdin
(never its command line) and does the first half; this process does the second, then
compares the tables with the replay as ``chainstate.Checker`` always does. The result is
the same report, sentence for sentence, as the single-process check, which remains the
path for short trails and whenever the helper cannot run (a read-only medium it cannot
open, a missing interpreter): never a different verdict, only a slower one.

Only the verdict, the digests and the rows that differ pass between the two, through a
pipe, never a file. The findings' digests go to whichever half is lighter for this
workspace (``_digests_in_helper``): a long trail of decisions about few findings leaves
them to this process once its replay is done.
"""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from db import store
from db.store import Connection
from oversight import audit, chainstate

__all__ = ["PARALLEL_FROM", "check_audit", "child_main"]

PARALLEL_FROM = 50_000
"""Audit events from which the helper process pays for itself (it starts in about a
third of a second and reads the database a second time)."""

DIGESTS_IN_HELPER: bool | None = None
"""Who computes the findings' content digests: the helper (True), this process after
its replay (False), or whichever half is lighter by _COST (None)."""

_COST = {"chain": 3.8, "decisions": 3.2, "replay": 6.6, "digest": 8.2}
"""Microseconds per audit event hashed, decision row compared, event replayed (with the
tables compared after), finding digested: measured at 1M events, 100k findings."""


def child_main() -> int:
    """The helper: read {"path", "key", "digests"} from stdin, write pickled results to stdout:
    ("chain", ChainReport), then if the chain holds ("precomputed", Precomputed); or
    ("failed", text) when the database cannot be opened or read."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    out = sys.stdout.buffer
    try:
        request = json.loads(sys.stdin.readline())
        conn = store.connect(Path(request["path"]), bytes.fromhex(request["key"]),
                             read_only=True)
        try:
            with chainstate.paused_gc():
                chain = audit.verify_chain(conn)
                _send(out, ("chain", chain))
                if chain.ok:
                    digests = chainstate.content_digests(conn) \
                        if request.get("digests", True) else None
                    _send(out, ("precomputed", chainstate.Precomputed(
                        digests, chainstate.decision_mismatches(conn))))
        finally:
            conn.close()
    except BaseException as exc:  # the parent falls back and checks itself
        _send(out, ("failed", f"{type(exc).__name__}: {exc}"))
    return 0


def _send(out: BinaryIO, message: tuple[str, Any]) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def _digests_in_helper(conn: Connection, events: int) -> bool:
    """Whether the helper should digest the findings: the split that ends sooner."""
    if DIGESTS_IN_HELPER is not None:
        return DIGESTS_IN_HELPER
    findings = int(conn.execute("SELECT count(*) FROM findings").fetchone()[0])
    decisions = int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    helper = _COST["chain"] * events + _COST["decisions"] * decisions
    here = _COST["replay"] * events
    digests = _COST["digest"] * findings
    return max(helper + digests, here) <= max(helper, here + digests)


class _Helper:
    def __init__(self, path: Path, key: bytes, digests: bool = True) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "oversight.verify_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"path": str(path), "key": key.hex(),
                                               "digests": digests}).encode() + b"\n")
            self._proc.stdin.close()
        except OSError:  # it ended before reading (the caller checks in one process)
            self.close()
            raise

    def receive(self, kind: str) -> Any:
        """The next message if it is ``kind``; None if the helper failed or ended."""
        assert self._proc.stdout is not None
        try:
            tag, value = pickle.load(self._proc.stdout)
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError):
            return None
        return value if tag == kind else None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        self._proc.wait()


def check_audit(conn: Connection, path: Path, key: bytes, total: int,
                tick: Callable[[int], None]
                ) -> tuple[audit.ChainReport, chainstate.Checker | None] | None:
    """The chain report and, if the chain holds, the checker with its replay finished
    and the tables compared; None if the helper could not do its half (the caller then
    checks in this process alone)."""
    try:
        helper = _Helper(path, key, _digests_in_helper(conn, total))
    except OSError:
        return None
    try:
        checker = chainstate.Checker(conn)
        failure: Exception | None = None
        last: tuple[int, str] | None = None
        done = 0
        cursor = conn.execute(  # the links are the helper's to check: no prev_hash here
            "SELECT seq, ts, user, action, payload, NULL, hash FROM audit_events ORDER BY seq")
        while True:
            rows = cursor.fetchmany(10_000)
            if not rows:
                break
            done += len(rows)
            last = (rows[-1][0], rows[-1][6])
            if failure is None:
                try:
                    checker.visit(rows)
                except Exception as exc:  # judged once the verdict is in
                    failure = exc
            tick(min(done, total))
        chain: audit.ChainReport | None = helper.receive("chain")
        if chain is None:
            return None
        if not chain.ok:
            return chain, None  # the replay saw rows the chain does not vouch for: unused
        if failure is not None:
            raise failure  # the same rows break the single-process check the same way
        if last != (chain.head_seq, chain.head_hash) or done != chain.events:
            return audit.ChainReport(
                False, chain.events, chain.head_seq, chain.head_hash, None,
                "the audit trail changed while it was being verified; run verify again."
            ), None
        precomputed: chainstate.Precomputed | None = helper.receive("precomputed")
        if precomputed is None:
            return None
        checker.precomputed = precomputed
        checker.finish()
        return chain, checker
    finally:
        helper.close()


if __name__ == "__main__":
    raise SystemExit(child_main())
