"""verify on two cores (oversight.verify_worker): the helper process checks the hash
chain and digests the tables while this process replays the chain. The tamper cases of
test_accountability run both ways and must agree; here: when the helper is used, what
it is handed, and that verify never gives another verdict when it cannot help."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, write
from test_triage import OPS

from oversight import audit, triage, verify_worker
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.integrity import verify, verify_workspace
from oversight.records import Kind
from oversight.workspace import Workspace


@pytest.fixture
def busy(ws_path: Path, tmp_path: Path) -> Path:
    """Operations, a detection run and some triage: every kind of row verify compares."""
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "ops.csv", OPS), Kind.OPERATIONS)
        run_detection(ws, default_pack())
        ids = [f["id"] for f in list_findings(ws, FindingFilters(rule="PRO-03"))]
        triage.mark(ws, ids, "dismissed", reason="justified", note="rota")
        triage.assign(ws, ids, INSPECTOR)
    return ws_path


@pytest.fixture
def always(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Use the helper for any length of trail; record what check_audit returned."""
    monkeypatch.setattr(verify_worker, "PARALLEL_FROM", 0)
    results: list[Any] = []
    check = verify_worker.check_audit

    def spy(*args: Any) -> Any:
        results.append(check(*args))
        return results[-1]

    monkeypatch.setattr(verify_worker, "check_audit", spy)
    return results


def test_a_long_trail_is_checked_on_two_cores_with_the_same_report(
        busy: Path, always: list[Any]) -> None:
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        alone = verify_workspace(ws.conn)
        both = verify(ws)
    assert len(always) == 1 and always[0] is not None
    chain, checker = always[0]
    assert chain.ok and checker is not None
    assert both.ok and alone.ok
    assert both.to_json() == alone.to_json()
    assert both.accountability is not None and both.accountability["signed_events"] > 3


def test_a_short_trail_stays_in_one_process(busy: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    started: list[object] = []
    monkeypatch.setattr(verify_worker, "_Helper", lambda *a: started.append(a))
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        assert verify(ws).ok
    assert not started


def test_the_key_goes_through_a_pipe_not_the_command_line(
        busy: Path, always: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []
    real = subprocess.Popen

    def popen(args: list[str], **kw: Any) -> Any:
        commands.append(list(args))
        return real(args, **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        key = ws.helper_access()[1].hex()
        assert verify(ws).ok
    assert commands and always[0] is not None
    assert not any(key in " ".join(c) for c in commands)


def test_a_helper_that_cannot_start_leaves_verify_to_one_process(
        busy: Path, always: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_worker.sys, "executable", str(busy / "no-such-python"))
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        report = verify(ws)
        alone = verify_workspace(ws.conn)
    assert always == [None]
    assert report.ok and report.to_json() == alone.to_json()


def test_a_helper_that_cannot_open_the_database_leaves_verify_to_one_process(
        busy: Path, always: list[Any]) -> None:
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        path, key = ws.helper_access()
        wrong = bytes(b ^ 1 for b in key)  # the helper's open fails: no chain report
        report = verify_workspace(ws.conn, helper=(path, wrong))
        alone = verify_workspace(ws.conn)
    assert always == [None]
    assert report.ok and report.to_json() == alone.to_json()


def test_a_broken_chain_is_reported_as_the_chain_not_as_replay_noise(
        busy: Path, always: list[Any]) -> None:
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws, ws.write() as conn:
        conn.execute("UPDATE audit_events SET payload = '{\"garbage\":' WHERE seq = 3")
    with Workspace.open(busy, ADMIN, ADMIN_PW, read_only=True) as ws:
        report = verify(ws)
        alone = verify_workspace(ws.conn)
    assert always[0] is not None and always[0][1] is None
    assert report.problems == ["Audit trail: audit event 3 has been altered."]
    assert report.to_json() == alone.to_json()


def test_a_trail_that_grows_while_verified_is_not_passed(
        busy: Path, always: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper and this process read the chain through two connections; if a command
    lands between the two reads, verify says so rather than compare two states."""
    receive = verify_worker._Helper.receive

    def late(self: Any, kind: str) -> Any:
        value = receive(self, kind)
        if kind == "chain":  # as if the helper had read one event more
            return audit.ChainReport(True, value.events + 1, value.head_seq + 1, "f" * 64,
                                     None, None)
        return value

    monkeypatch.setattr(verify_worker._Helper, "receive", late)
    with Workspace.open(busy, ADMIN, ADMIN_PW) as ws:
        report = verify(ws)
    assert not report.ok
    assert report.problems == ["Audit trail: the audit trail changed while it was being "
                               "verified; run verify again."]


def test_the_cli_verifies_on_two_cores(busy: Path, always: list[Any]) -> None:
    res = CliRunner().invoke(main, ["verify", str(busy), "--json"], env={
        "OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW})
    assert res.exit_code == 0, res.output
    assert always and always[0] is not None
    assert '"ok": true' in res.stdout
