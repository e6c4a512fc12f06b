"""Criteria pack versions in a workspace: save, list, activate, edit, impact."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from oversight.criteria import versions
from oversight.criteria.engine import preview_hits, run_detection
from oversight.criteria.pack import default_pack, parse_pack
from oversight.demo import INSPECTOR, build_demo
from oversight.errors import PermissionDenied, UsageError, ValidationError
from oversight.workspace import Workspace

PW = "demo-password"
BROKEN = """pack: broken
version: "1"
title: Broken
rules:
  - id: A-1
    title: one
    severity: huge
    legal_refs: [x]
    rationale: r
    when: actoin = 1
    message: hi
"""


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("versions") / "ws"
    build_demo(folder, "admin", PW, 2000, 20261128)
    return folder


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def admin(demo: Path) -> Iterator[Workspace]:
    with Workspace.open(demo, "admin", PW) as ws:
        yield ws


def _audit(ws: Workspace, action: str) -> list[dict[str, object]]:
    return [json.loads(p) for (p,) in ws.conn.execute(
        "SELECT payload FROM audit_events WHERE action = ? ORDER BY seq", (action,))]


def test_bump_version() -> None:
    assert versions.bump_version("1.0.0") == "1.0.0+ws.1"
    assert versions.bump_version("1.0.0+ws.1") == "1.0.0+ws.2"
    assert versions.bump_version("2") == "2+ws.1"


def test_active_pack_defaults_to_the_built_in_one(admin: Workspace) -> None:
    assert versions.active_sha256(admin) is None
    assert versions.active_pack(admin).sha256 == default_pack().sha256
    # The demo's run recorded the built-in pack: it is listed, not active.
    listed = versions.list_versions(admin)
    assert [v.sha256 for v in listed] == [default_pack().sha256]
    assert not listed[0].active


def test_edit_keeps_rules_and_bumps_the_version() -> None:
    pack = default_pack()
    text = versions.edit_pack(pack, enabled={"PRO-03": False},
                              parameters={"max_records_per_query": 500.0},
                              lists={"adequacy_countries": ["GB", "CH"]})
    new = parse_pack(text, "edited")
    assert new.version == "1.1.0+ws.1" and new.id == pack.id
    assert [r.id for r in new.rules] == [r.id for r in pack.rules]
    assert not new.rule("PRO-03").enabled  # type: ignore[union-attr]
    assert new.parameters["max_records_per_query"] == 500
    assert isinstance(new.parameters["max_records_per_query"], int)
    assert new.lists["adequacy_countries"] == ("GB", "CH")
    assert "NO" in new.lists["led_area"]  # Norway is not read as false
    for old_rule in pack.rules:
        rule = new.rule(old_rule.id)
        assert rule is not None
        assert (rule.rationale, rule.legal_refs, rule.title) == (
            old_rule.rationale, old_rule.legal_refs, old_rule.title)
    assert text.startswith("# Edited in a workspace from led-baseline 1.1.0")
    with pytest.raises(UsageError):
        versions.edit_pack(pack, parameters={"nope": 1})
    with pytest.raises(ValidationError):
        versions.edit_pack(pack, parameters={"max_records_per_query": "many"})


def test_save_list_activate_and_audit(admin: Workspace) -> None:
    base = default_pack()
    text = versions.edit_pack(base, parameters={"max_records_per_query": 100})
    saved = versions.save_version(admin, text, "stricter bulk limit")
    assert saved.active and saved.version == "1.1.0+ws.1" and saved.added_by == "admin"
    assert saved.note == "stricter bulk limit"
    assert versions.active_pack(admin).sha256 == saved.sha256
    events = _audit(admin, "criteria.save")
    assert events[-1]["sha256"] == saved.sha256 and events[-1]["note"] == "stricter bulk limit"
    assert events[-1]["pack"] == "led-baseline" and events[-1]["version"] == "1.1.0+ws.1"
    # Saving the same text again keeps one row.
    versions.save_version(admin, text, "again")
    assert len(versions.list_versions(admin)) == 2
    back = versions.activate(admin, base.sha256[:12])
    assert back.active and versions.active_pack(admin).sha256 == base.sha256
    assert _audit(admin, "criteria.activate")[-1]["sha256"] == base.sha256
    with pytest.raises(UsageError):
        versions.activate(admin, "0" * 64)
    # A run without a named pack uses the active one and names it.
    versions.activate(admin, saved.sha256)
    summary = run_detection(admin, versions.active_pack(admin))
    assert (summary.pack_version, summary.pack_sha256) == ("1.1.0+ws.1", saved.sha256)


def test_invalid_pack_is_refused_with_every_issue(admin: Workspace) -> None:
    with pytest.raises(ValidationError) as err:
        versions.save_version(admin, BROKEN, "x", "broken.yaml")
    messages = [str(i) for i in err.value.issues]
    assert len(messages) == 2
    assert any("severity" in m for m in messages)
    assert any("broken.yaml:10:" in m and "actoin" in m for m in messages)
    assert versions.active_sha256(admin) is None
    assert not _audit(admin, "criteria.save")


def test_non_admins_may_not_save_or_activate(demo: Path) -> None:
    with Workspace.open(demo, INSPECTOR, PW) as ws:
        with pytest.raises(PermissionDenied):
            versions.save_version(ws, default_pack().source, "x")
        with pytest.raises(PermissionDenied):
            versions.activate(ws, default_pack().sha256)
        assert versions.active_pack(ws).sha256 == default_pack().sha256  # reading is fine


def test_impact_predicts_the_next_run(admin: Workspace) -> None:
    old = default_pack()
    runs_before = admin.conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    findings_before = admin.conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    new = parse_pack(versions.edit_pack(
        old, enabled={"TRF-01": False},
        parameters={"office_hours_end": "20:00", "max_consults_per_actor": 1000}), "new")
    result = {r.rule_id: r for r in versions.impact(admin, old, new)}
    # Preview writes nothing.
    assert admin.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before
    assert admin.conn.execute("SELECT count(*) FROM findings").fetchone()[0] == findings_before
    assert result["PRO-03"].added and not result["PRO-03"].removed  # earlier evening
    assert result["PRO-01"].removed  # a much higher threshold
    assert result["TRF-01"].after == 0 and len(result["TRF-01"].removed) == \
        result["TRF-01"].now > 0
    unchanged = result["AUT-01"]
    assert unchanged.now == unchanged.after > 0 and not unchanged.added

    predicted = preview_hits(admin, new)
    summary = run_detection(admin, new)
    for rule_id, ids in predicted.items():
        actual = {fid for (fid,) in admin.conn.execute(
            "SELECT finding_id FROM findings WHERE rule_id = ? AND last_run = ?"
            " AND matching = 1", (rule_id, summary.run_id))}
        assert actual == ids, rule_id
        assert result[rule_id].after == len(ids)
    stale = {fid for (fid,) in admin.conn.execute(
        "SELECT finding_id FROM findings WHERE rule_id = 'PRO-01' AND matching = 0")}
    assert result["PRO-01"].removed <= stale


def test_cli_save_versions_activate_and_check_uses_the_active_pack(
        demo: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from oversight.cli import main

    runner = CliRunner()
    env = {"OVERSIGHT_USER": "admin", "OVERSIGHT_PASSWORD": PW}
    edited = tmp_path / "edited.yaml"
    edited.write_text(versions.edit_pack(default_pack(), parameters={"max_records_per_query":
                                                                     100}), encoding="utf-8")
    res = runner.invoke(main, ["criteria", "save", str(demo), str(edited), "--note", "cli"],
                        env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["check", str(demo), "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["version"] == "1.1.0+ws.1"
    res = runner.invoke(main, ["criteria", "versions", str(demo), "--json"], env=env)
    listed = json.loads(res.stdout)
    assert [v["active"] for v in listed] == [False, True] and listed[1]["note"] == "cli"
    res = runner.invoke(main, ["criteria", "activate", str(demo), listed[0]["sha256"][:10]],
                        env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["check", str(demo), "--json"], env=env)
    assert json.loads(res.stdout)["version"] == "1.1.0"
    inspector = {"OVERSIGHT_USER": INSPECTOR, "OVERSIGHT_PASSWORD": PW}
    res = runner.invoke(main, ["criteria", "save", str(demo), str(edited)], env=inspector)
    assert res.exit_code != 0 and "may not change workspace settings" in res.stderr
