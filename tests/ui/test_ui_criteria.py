"""The Criteria page: edit, preview the impact, save versions, validate pack files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, INSPECTOR, PASSWORD, FakePrompts

from oversight.criteria import versions
from oversight.criteria.pack import default_pack
from oversight.findings import list_runs
from oversight.workspace import Workspace
from ui.criteria_page import CriteriaPage
from ui.main_window import MainWindow
from ui.qt import Qt, QtWidgets
from ui.session import Session

pytest_plugins = ["ui_fixtures"]

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

Opener = Callable[[str], CriteriaPage]


@pytest.fixture
def open_page(qtbot: Any, demo_ws: Path, prompts: FakePrompts) -> Iterator[Opener]:
    sessions: list[Session] = []

    def opener(user: str) -> CriteriaPage:
        session = Session(Workspace.open(demo_ws, user, PASSWORD), prompts)
        sessions.append(session)
        page = CriteriaPage(session)
        qtbot.addWidget(page)
        page.resize(1200, 700)
        page.show()
        qtbot.waitExposed(page)
        return page

    yield opener
    for session in sessions:
        session.close()


def _wait_job(qtbot: Any, page: CriteriaPage, start: Callable[[], Any]) -> Any:
    job = start()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert job.error is None, job.error
    return job.result


def test_models_and_form(qtmodeltester: Any, open_page: Opener) -> None:
    page = open_page(ADMIN)
    pack = default_pack()
    assert page.rules_model.rowCount() == len(pack.rules)
    assert "led-baseline" in page.heading.text() and "built in" in page.heading.text()
    qtmodeltester.check(page.rules_model)
    qtmodeltester.check(page.versions_model)
    qtmodeltester.check(page.run_model)
    # Editors by type.
    assert isinstance(page.form.editors["max_records_per_query"], QtWidgets.QSpinBox)
    assert isinstance(page.form.editors["require_justification"], QtWidgets.QCheckBox)
    assert isinstance(page.form.editors["office_hours_end"], QtWidgets.QLineEdit)
    assert "DE" in page.form.list_editors["led_area"].text()
    assert page.run_model.rowCount() == len(pack.rules)  # the demo's run
    assert not page.save_button.isEnabled()  # nothing changed yet
    # Unchecking a rule is a pending change.
    index = page.rules_model.index(0, 0)
    assert page.rules_model.setData(index, Qt.CheckState.Unchecked.value,
                                    Qt.ItemDataRole.CheckStateRole)
    assert page.rules_model.changes() == {pack.rules[0].id: False}
    assert page.save_button.isEnabled() and "1 unsaved" in page.changes_label.text()
    page.revert_button.click()
    assert not page.has_changes()


def test_edit_preview_and_save_as_admin(qtbot: Any, open_page: Opener,
                                        prompts: FakePrompts) -> None:
    page = open_page(ADMIN)
    page.form.editors["office_hours_end"].setText("20:00")  # type: ignore[attr-defined]
    assert page.form.parameter_changes() == {"office_hours_end": "20:00"}
    assert page.preview_button.isEnabled()
    results = _wait_job(qtbot, page, page.preview_impact)
    pro03 = next(r for r in results if r.rule_id == "PRO-03")
    assert pro03.added and not pro03.removed
    row = [r.id for r in default_pack().rules].index("PRO-03")
    shown = page.rules_model.index(row, 4).data()
    assert f"+{len(pro03.added)}" in shown
    assert f"{len(pro03.added):,} finding(s) added" in page.changes_label.text()

    prompts.answer("note", "Evenings start at 20:00 here")
    qtbot.waitUntil(lambda: page.save_button.isEnabled())
    page.save_button.click()
    assert not prompts.errors
    assert page.pack is not None and page.pack.version == "1.1.0+ws.1"
    assert page.pack.parameters["office_hours_end"] == "20:00"
    assert page.versions_model.rowCount() == 2
    assert page.versions_model.row_values(0)[1] == "1.1.0+ws.1"
    assert page.versions_model.row_values(0)[5] == "active"
    assert not page.has_changes()

    # Run detection with the new version; the last run shows it per rule.
    _wait_job(qtbot, page, page.run_detection)
    qtbot.waitUntil(lambda: "1.1.0+ws.1" in page.run_label.text())
    run = page.session.read(list_runs)[-1]
    assert run["version"] == "1.1.0+ws.1"
    hits = {r[0]: r[3] for r in (page.run_model.row_values(i)
                                 for i in range(page.run_model.rowCount()))}
    assert hits["PRO-03"] == pro03.after

    # Activate the built-in version again.
    page.versions_view.selectRow(1)
    assert page.activate_button.isEnabled()
    page.activate_button.click()
    assert page.pack.version == "1.1.0"
    assert page.session.read(versions.active_pack).sha256 == default_pack().sha256


def test_inspector_sees_admin_controls_disabled(open_page: Opener) -> None:
    page = open_page(INSPECTOR)
    page.form.editors["max_records_per_query"].setValue(10)  # type: ignore[attr-defined]
    assert page.has_changes()
    assert page.preview_button.isEnabled()  # anyone may look at the impact
    for button in (page.save_button, page.import_button, page.activate_button):
        assert not button.isEnabled()
        assert button.toolTip() == "Your role (inspector) may not change workspace settings."
    assert page.run_button.isEnabled()
    assert page.save_new_version() is None


def test_validate_a_broken_pack_lists_every_problem(open_page: Opener, prompts: FakePrompts,
                                                   tmp_path: Path) -> None:
    page = open_page(ADMIN)
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN, encoding="utf-8")
    prompts.answer("choose_file", bad)
    page.validate_button.click()
    assert len(page.last_issues) == 2
    assert page.issue_list.count() == 2
    assert page.tabs.currentWidget() is page.issue_list
    assert any(f"{bad}:10:" in line and "actoin" in line for line in page.last_issues)
    assert any("severity" in line for line in page.last_issues)
    title, text = prompts.infos[-1]
    assert title == "The pack has problems" and "actoin" in text
    # Importing it is refused the same way, and nothing is saved.
    prompts.answer("choose_file", bad)
    assert page.import_pack() is None
    assert page.versions_model.rowCount() == 1


def test_import_and_export(open_page: Opener, prompts: FakePrompts, tmp_path: Path) -> None:
    page = open_page(ADMIN)
    text = versions.edit_pack(default_pack(), enabled={"PRO-03": False})
    good = tmp_path / "mine.yaml"
    good.write_text(text, encoding="utf-8")
    prompts.answer("choose_file", good)
    prompts.answer("note", "no out-of-hours rule for us")
    saved = page.import_pack()
    assert saved is not None and saved.active and page.pack is not None
    assert page.pack.sha256 == saved.sha256
    assert not page.rules_model.enabled["PRO-03"]
    target = tmp_path / "out.yaml"
    page.choose_save_path = lambda: target  # type: ignore[method-assign]
    page.export_button.click()
    assert target.read_text(encoding="utf-8") == text


def test_main_window_has_the_criteria_page(open_window: Callable[..., MainWindow]) -> None:
    window = open_window(ADMIN)
    items = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert "Criteria" in items
    window.sidebar.setCurrentRow(items.index("Criteria"))
    page = window.criteria  # type: ignore[attr-defined]
    assert window.pages.currentWidget() is page
    assert page.rules_model.rowCount() > 0
