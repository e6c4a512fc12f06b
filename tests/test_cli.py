"""The command line: exit codes, --json documents, credentials from the environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, POLICE_UK, ROOT, VIEWER, VIEWER_PW, write
from test_import import OPS_CSV

from oversight.cli import main


def run(args: list[str], user: str = ADMIN, password: str = ADMIN_PW,
        **env: str) -> tuple[int, str, str]:
    runner = CliRunner()
    res = runner.invoke(main, args, env={"OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": password,
                                         **env}, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_init_import_imports_rejects_records_verify(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    code, out, _ = run(["init", ws, "--json"])
    assert code == 0 and json.loads(out)["admin"] == ADMIN
    bad = OPS_CSV + "OP-9,not a time,consult,o,C,P,false,3,,WS\n"
    code, out, _ = run(["import", ws, str(write(tmp_path / "ops.csv", bad)), "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["rows_imported"] == 2 and doc["rows_rejected"] == 1
    assert doc["sample_rejects"][0]["line"] == 4
    code, out, _ = run(["imports", ws, "--json"])
    batches = json.loads(out)
    assert [b["file"] for b in batches] == ["ops.csv"] and len(batches[0]["sha256"]) == 64
    code, out, _ = run(["rejects", ws, "1", "--json"])
    assert json.loads(out)[0]["field"] == "ts"
    code, out, _ = run(["records", ws, "--where", "Terminal=WS-2", "--json"])
    recs = json.loads(out)
    assert [r["record_id"] for r in recs] == ["OP-2"]
    code, out, _ = run(["records", ws, "--where", "subject_ids=P-2", "--where",
                        "ts=2026-03-04", "--json"])
    assert [r["record_id"] for r in json.loads(out)] == ["OP-1"]
    code, out, _ = run(["verify", ws, "--json"])
    assert code == 0 and json.loads(out)["ok"] is True


def test_exit_codes_and_sentences(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    assert run(["init", ws])[0] == 0
    src = str(write(tmp_path / "ops.csv", OPS_CSV))
    assert run(["import", ws, src])[0] == 0
    code, _, err = run(["import", ws, src])
    assert code == 2 and "already in this workspace: batch 1" in err
    code, _, err = run(["verify", ws], password="wrong-password")
    assert code == 2 and err.strip() == "error: Wrong password for user 'alice'."
    code, out, err = run(["import", ws, src, "--json"], password="wrong-password")
    assert code == 2 and json.loads(out)["error"]["code"] == "wrong_password"
    code, _, err = run(["import", ws, str(tmp_path / "missing.csv")])
    assert code == 2 and "no such file" in err
    code, _, err = run(["verify", str(tmp_path)])
    assert code == 2 and "not an Oversight workspace" in err
    code, _, err = run(["records", ws, "--where", "nonsense"])
    assert code == 2 and "FIELD=VALUE" in err


def test_user_management_and_role_refusal(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    run(["init", ws])
    code, _, _ = run(["user", "add", ws, VIEWER, "--role", "viewer"],
                     OVERSIGHT_NEW_PASSWORD=VIEWER_PW)
    assert code == 0
    code, out, _ = run(["user", "list", ws, "--json"])
    assert {u["name"]: u["role"] for u in json.loads(out)} == {ADMIN: "admin", VIEWER: "viewer"}
    src = str(write(tmp_path / "ops.csv", OPS_CSV))
    code, _, err = run(["import", ws, src], user=VIEWER, password=VIEWER_PW)
    assert code == 2 and "viewer role, which may not import files" in err
    code, _, err = run(["user", "add", ws, "eve", "--role", "admin"], user=VIEWER,
                       password=VIEWER_PW, OVERSIGHT_NEW_PASSWORD="eve-password")
    assert code == 2 and "may not manage users" in err
    assert run(["passwd", ws], user=VIEWER, password=VIEWER_PW,
               OVERSIGHT_NEW_PASSWORD="new-viewer-pw")[0] == 0
    assert run(["verify", ws], user=VIEWER, password="new-viewer-pw")[0] == 0
    assert run(["user", "remove", ws, VIEWER])[0] == 0
    code, _, err = run(["verify", ws], user=VIEWER, password="new-viewer-pw")
    assert code == 2 and "no user named" in err


def test_dry_run_prints_mapping_and_writes_nothing(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    run(["init", ws])
    profile = str(ROOT / "examples" / "police-uk-stop-and-search.yaml")
    src = str(sorted(POLICE_UK.glob("*.csv"))[0])
    code, out, _ = run(["import", ws, src, "--mapping", profile, "--dry-run"])
    assert code == 0 and "Would import 351 of 351 rows, reject 0." in out
    assert "Kept as extra: Type, Part of a policing operation" in out
    code, out, _ = run(["imports", ws, "--json"])
    assert json.loads(out) == []


def test_verify_exit_1_on_problems(tmp_path: Path) -> None:
    from test_verify import raw

    ws = tmp_path / "ws"
    run(["init", str(ws)])
    run(["import", str(ws), str(write(tmp_path / "ops.csv", OPS_CSV))])
    conn = raw(ws)
    conn.execute("UPDATE operations SET action = 'erase'")
    conn.close()
    code, out, _ = run(["verify", str(ws)])
    assert code == 1 and "PROBLEM Batch 1 (ops.csv): stored rows have been altered" in out


def test_no_password_and_no_terminal_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["verify", str(tmp_path)], env={"OVERSIGHT_USER": "",
                                                             "OVERSIGHT_PASSWORD": ""})
    assert res.exit_code == 2 and "set OVERSIGHT_USER" in res.stderr


def test_installed_entry_point_and_demo(tmp_path: Path) -> None:
    """The console script works as installed, and the demo builds its workspace."""
    exe = Path(sys.executable).with_name("oversight")
    assert exe.exists(), "pip install put the `oversight` command next to python"
    env = dict(os.environ, OVERSIGHT_USER="demo-admin", OVERSIGHT_PASSWORD="demo-password")
    res = subprocess.run([str(exe), "demo", str(tmp_path / "demo"), "--no-gui",
                          "--operations", "3000"], env=env, capture_output=True, text=True,
                         check=False, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "operations.csv" in res.stdout and "0 rejected" in res.stdout
    # styled words print styled, never as markup tags (the consoles read no markup)
    assert "Users: demo-admin (admin), " in res.stdout and "Signed report: " in res.stdout
    assert "[bold]" not in res.stdout and "[/]" not in res.stdout
    res = subprocess.run([str(exe), "verify", str(tmp_path / "demo"), "--json"], env=env,
                         capture_output=True, text=True, check=False)
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and doc["ok"] and doc["batches_checked"] == 3
    again = subprocess.run([str(exe), "demo", str(tmp_path / "demo"), "--no-gui"], env=env,
                           capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version(flag: str) -> None:
    code, out, _ = run([flag])
    assert code == 0 and out


def test_triage_commands(tmp_path: Path) -> None:
    """mark (ids and filter), approve (four-eyes), note, assign, show, sample, history,
    export, four-eyes through the command line."""
    ws = str(tmp_path / "ws")
    run(["init", ws])
    for name, role in (("ines", "inspector"), ("aurelia", "auditor")):
        assert run(["user", "add", ws, name, "--role", role],
                   OVERSIGHT_NEW_PASSWORD=f"{name}-password")[0] == 0
    ops = write(tmp_path / "ops.csv", (
        "record_id,ts,action,actor_id,case_id,justification,recipient_id,recipient_type,"
        "recipient_country\n"
        "T-1,2026-03-04T10:00:00+01:00,transfer,o1,C1,j,R1,competent_authority,US\n"
        "P-1,2026-03-04T23:30:00+01:00,consult,o2,C1,j,,,\n"
        "P-2,2026-03-05T23:30:00+01:00,consult,o2,C1,j,,,\n"))
    ines = {"user": "ines", "password": "ines-password"}
    aurelia = {"user": "aurelia", "password": "aurelia-password"}
    assert run(["import", ws, str(ops)], **ines)[0] == 0
    assert run(["check", ws], **ines)[0] == 0
    found = json.loads(run(["findings", ws, "--format", "json"])[1])
    trf = next(f["id"] for f in found if f["rule_id"] == "TRF-01")
    code, out, _ = run(["mark", ws, trf, "--status", "confirmed", "--note", "no basis",
                        "--json"], **ines)
    assert code == 0 and json.loads(out) == {"changed": [], "pending_approval": [trf],
                                             "unchanged": []}
    code, _, err = run(["approve", ws, trf], **ines)
    assert code == 2 and "inspector role, which may not approve" in err
    code, _, err = run(["approve", ws, trf, "--return"], **aurelia)
    assert code == 2 and "Returning a decision needs a note" in err
    code, out, _ = run(["approve", ws, trf, "--return", "--note", "Which warrant?"], **aurelia)
    assert code == 0 and "1 finding(s) returned to in review" in out
    assert json.loads(run(["show", ws, trf, "--json"])[1])["status"] == "in_review"
    # The history says who returned which decision, and why.
    code, out, _ = run(["show", ws, trf])
    assert code == 0 and re.search(r"aurelia return pending_approval→in_review \(returned "
                                   r"confirmed proposed by ines: Which warrant\?\)", out), out
    code, out, _ = run(["mark", ws, trf, "--status", "confirmed", "--note", "none exists"],
                       **ines)
    code, out, _ = run(["approve", ws, trf, "--note", "agreed"], **aurelia)
    assert code == 0 and "1 finding(s) approved" in out
    code, out, _ = run(["mark", ws, "--filter-rule", "PRO-03", "--status", "dismissed",
                        "--reason", "justified", "--note", "night shift"], **ines)
    assert code == 0 and "2 finding(s) dismissed" in out
    code, _, err = run(["mark", ws, "--filter-rule", "NOPE-1", "--status", "in_review"], **ines)
    assert code == 2 and "No finding matches" in err
    code, _, err = run(["mark", ws, trf, "--status", "dismissed", "--note", "x"], **ines)
    assert code == 2 and "Dismissing needs a reason" in err
    assert run(["note", ws, trf, "--text", "Привет Γειά σου مرحبا <b>&"], **ines)[0] == 0
    assert run(["assign", ws, trf, "--to", "aurelia"], **ines)[0] == 0
    doc = json.loads(run(["show", ws, trf, "--json"])[1])
    assert doc["status"] == "confirmed" and doc["approved_by"] == "aurelia"
    assert doc["decided_by"] == "ines" and doc["assignee"] == "aurelia"
    assert [n["text"] for n in doc["notes"]] == ["no basis", "Which warrant?", "none exists",
                                                "agreed", "Привет Γειά σου مرحبا <b>&"]
    assert doc["records"][0]["record_id"] == "T-1"
    assert doc["rule"]["legal_refs"] == ["Directive (EU) 2016/680, Arts. 35-38"]
    s1 = json.loads(run(["sample", ws, "--size", "2", "--seed", "5", "--json"], **ines)[1])
    s2 = json.loads(run(["sample", ws, "--size", "2", "--seed", "5", "--json"], **ines)[1])
    assert s1["items"] == s2["items"] and s1["seed"] == 5
    hist = json.loads(run(["history", ws, "--finding", trf, "--json"])[1])
    assert [e["action"] for e in hist] == ["finding.mark", "finding.return", "finding.mark",
                                           "finding.approve", "finding.note", "finding.assign"]
    out_csv = tmp_path / "f.csv"
    assert run(["export", ws, "--out", str(out_csv)])[0] == 0
    assert "Привет Γειά σου مرحبا <b>&" in out_csv.read_text(encoding="utf-8-sig")
    assert run(["four-eyes", ws, "off"])[0] == 0
    code, out, _ = run(["four-eyes", ws])
    assert "Four-eyes approval: off." in out
    code, _, err = run(["escalation-to", ws, "DPO"], **ines)
    assert code == 2 and "may not change workspace settings" in err
    assert run(["escalation-to", ws, "Data protection officer"])[0] == 0
    assert "Escalations go to: Data protection officer." in run(["escalation-to", ws])[1]
    assert "No escalation recipient" in run(["escalation-to", ws, "--clear"])[1]
    assert json.loads(run(["verify", ws, "--json"])[1])["ok"] is True


def test_demo_without_display_says_how_to_open_the_workstation(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    import oversight.cli as cli

    opened: list[list[str]] = []
    monkeypatch.setattr(cli, "_open_gui", opened.append)
    monkeypatch.setattr("oversight.demo.run_demo", lambda *a, **k: None)
    runner = CliRunner()
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    res = runner.invoke(main, ["demo", str(tmp_path / "d")], env=env)
    assert res.exit_code == 0 and "oversight gui" in res.stdout and opened == []
    res = runner.invoke(main, ["demo", str(tmp_path / "d")], env={"DISPLAY": ":0"})
    assert res.exit_code == 0 and opened == [[str(tmp_path / "d")]]
    res = runner.invoke(main, ["demo", str(tmp_path / "d"), "--no-gui"], env={"DISPLAY": ":0"})
    assert res.exit_code == 0, res.output
    assert "oversight gui" in res.stdout  # says how to open it instead
    assert opened == [[str(tmp_path / "d")]]  # and did not open a window this time


def test_brackets_and_terminal_controls_in_user_text_print_as_written(tmp_path: Path) -> None:
    """The terminal output went through rich's markup: a note or record value holding
    "[/x]" made `history`, `records` and `findings` stop with a traceback (MarkupError),
    "[bold]…[/bold]" printed bold without its brackets, and an ESC sequence in a note or
    value reached the terminal, where it can recolour text, move the cursor and
    overwrite lines printed before it ("\\x1b[1A\\x1b[2K" erases the line above). User
    text is now printed as written, each control character as its escape."""
    ws = str(tmp_path / "ws")
    assert run(["init", ws])[0] == 0
    assert run(["user", "add", ws, "ines", "--role", "inspector"],
               OVERSIGHT_NEW_PASSWORD="ines-password")[0] == 0
    ines = {"user": "ines", "password": "ines-password"}
    forged = "\x1b[1A\x1b[2Kconfirmed by the chief"
    ops = write(tmp_path / "ops.csv", (
        "record_id,ts,action,actor_id,case_id,justification,recipient_id,recipient_type,"
        "recipient_country,Remark\n"
        "T-1,2026-03-04T10:00:00+01:00,transfer,o[/y],C1,j,R1,competent_authority,US,"
        f"see [/z] {forged}\n"))
    code, _, err = run(["import", ws, str(ops)], **ines)
    assert code == 0, err
    assert run(["check", ws], **ines)[0] == 0
    code, out, err = run(["findings", ws, "--format", "csv"], **ines)
    fid = out.splitlines()[1].split(",")[0]
    note = "see [/x] and [bold]loud[/bold] " + forged
    assert run(["note", ws, fid, "--text", note], **ines)[0] == 0
    shown = "see [/x] and [bold]loud[/bold] \\x1b[1A\\x1b[2Kconfirmed by the chief"
    for args, expected in ((["history", ws], "see [/x] and [bold]loud[/bold]"),
                           (["show", ws, fid], shown), (["records", ws], "actor_id: o[/y]"),
                           (["records", ws], "see [/z] \\x1b[1A\\x1b[2Kconfirmed by")):
        code, out, err = run(args, **ines)
        assert code == 0, (args, err)
        assert expected in "".join(out.split("│")).replace("\n", ""), (args, out)
        assert "\x1b" not in out, args
