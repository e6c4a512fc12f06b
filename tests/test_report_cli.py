"""Reports end to end through the command line: a certificate, a signed report written
by an auditor, verified by `verify-report` and by poppler's pdfsig, recorded in the
audit trail; tampering detected; roles enforced."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_demo_data import demo_finding_count
from tools import require

from oversight.cli import main
from oversight.demo import AUDITOR, INSPECTOR, build_demo

PASSWORD = "demo-password"


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("report") / "ws"
    build_demo(folder, "admin", PASSWORD, 3000, 20261128)
    yield folder


def run(args: list[str], user: str = AUDITOR, **env: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, args, env={"OVERSIGHT_USER": user,
                                              "OVERSIGHT_PASSWORD": PASSWORD,
                                              "OVERSIGHT_P12_PASSWORD": "p12-passphrase",
                                              **env})
    return res.exit_code, res.stdout, res.stderr


def test_signed_report_round_trip(demo_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_ws, ws)
    p12 = tmp_path / "signer.p12"
    code, _, err = run(["keys", "create-selfsigned", "--name", "Aurelia Novák",
                        "--out", str(p12), "--with-ca"])
    assert code == 0, err
    ca = p12.with_suffix(".ca.pem")
    assert ca.is_file()
    out = tmp_path / "report.pdf"
    code, stdout, err = run(["report", str(ws), "--out", str(out), "--sign", str(p12),
                             "--json"])
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["signed"] and doc["pages"] > 3
    assert doc["findings"] == demo_finding_count(3000, 20261128)
    assert doc["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    code, stdout, _ = run(["verify-report", str(out), "--trust", str(ca), "--json"])
    assert code == 0, stdout
    assert json.loads(stdout)["ok"] is True
    # The workspace recorded exactly this file.
    hist = json.loads(run(["history", str(ws), "--json"])[1])
    event = [e for e in hist if e["action"] == "report.create"][-1]
    assert event["payload"]["sha256"] == doc["sha256"] and event["user"] == AUDITOR
    # One byte changed in the signed content: both validators say so.
    data = bytearray(out.read_bytes())
    at = data.index(b"Findings in this report") if b"Findings in this report" in data \
        else len(data) // 3
    data[at] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(data))
    code, stdout, _ = run(["verify-report", str(bad), "--trust", str(ca)])
    assert code == 1 and "INVALID" in stdout
    # The lines the workstation shows, in one vocabulary: the change is said once.
    assert "Changed after signing: yes: the signed bytes no longer match" in stdout
    assert "unchanged" not in stdout and "intact:" not in stdout
    # Last, as an independent validator sees both files (skipped without poppler, after
    # every check above has run).
    pdfsig = require("pdfsig")
    sig = subprocess.run([pdfsig, str(out)], capture_output=True, text=True, check=False)
    assert "Signature is Valid" in sig.stdout
    sig = subprocess.run([pdfsig, str(bad)], capture_output=True, text=True, check=False)
    assert "Signature is Valid" not in sig.stdout


def test_report_roles_and_usage(demo_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_ws, ws)
    code, _, err = run(["report", str(ws), "--out", str(tmp_path / "r.pdf")], user=INSPECTOR)
    assert code == 2 and "may not write reports" in err
    code, _, err = run(["report", str(ws), "--out", str(tmp_path / "r.txt")])
    assert code == 2 and ".pdf" in err
    code, _, err = run(["report", str(ws), "--out", str(tmp_path / "r.pdf"), "--template",
                        "nonesuch"])
    assert code == 2 and "summary" in err
    code, _, err = run(["verify-report", str(tmp_path / "missing.pdf")])
    assert code == 2 and "no such file" in err
    code, stdout, err = run(["report", str(ws), "--out", str(tmp_path / "s.pdf"),
                             "--template", "summary", "--only-confirmed", "--json"])
    assert code == 0, err
    assert json.loads(stdout)["findings"] == 2 and not json.loads(stdout)["signed"]
    code, stdout, _ = run(["verify-report", str(tmp_path / "s.pdf")])
    assert code == 1 and "INVALID" in stdout  # unsigned: nothing to verify
    p12 = tmp_path / "x.p12"
    run(["keys", "create-selfsigned", "--name", "X", "--out", str(p12)])
    code, _, err = run(["report", str(ws), "--out", str(tmp_path / "w.pdf"), "--sign",
                        str(p12)], OVERSIGHT_P12_PASSWORD="wrong-passphrase")
    assert code == 2 and "passphrase" in err
    assert not (tmp_path / "w.pdf").exists()


def test_report_period_must_be_real_dates(demo_ws: Path, tmp_path: Path) -> None:
    for args, says in ((["--from", "2026-13-45"], "not a date"),
                       (["--from", "2026-05-01", "--to", "2026-04-01"], "ends")):
        code, _, err = run(["report", str(demo_ws), "--out", str(tmp_path / "p.pdf"), *args])
        assert code == 2 and says in err
        assert not (tmp_path / "p.pdf").exists()
