"""Roles shape the window; locking hides the data and drops the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_demo_data import demo_finding_count
from ui_support import ADMIN, AUDITOR, INSPECTOR, PASSWORD, VIEWER, FakePrompts

from oversight.criteria import engine
from oversight.progress import CancelToken, Progress
from oversight.workspace import Workspace
from ui import main_window
from ui.main_window import MainWindow
from ui.qt import Qt
from ui.settings import DEFAULT_IDLE_MINUTES, Settings

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def test_viewer_sees_everything_but_may_change_nothing(qtbot: Any, open_window: Opener,
                                                       prompts: FakePrompts) -> None:
    window = open_window(VIEWER, page=1)
    # reading is allowed
    assert window.triage.model.rowCount() == demo_finding_count(3000, 20261128)
    for act, why in ((window.import_action, "may not import files"),
                     (window.detect_action, "may not run detection")):
        assert not act.isEnabled()
        assert act.toolTip() == f"Your role (viewer) {why}."
    assert window.verify_action.isEnabled()
    page = window.triage
    page.step(0)
    for name in ("confirm", "dismiss", "escalate", "review", "reopen", "note"):
        action = page.actions_[name]
        assert not action.isEnabled(), name
        assert action.toolTip() == "Your role (viewer) may not mark findings or add notes."
    assert page.actions_["assign"].toolTip() == "Your role (viewer) may not assign findings."
    assert page.actions_["next"].isEnabled()
    page.view.setFocus()
    qtbot.keyClick(page.view, Qt.Key.Key_C)  # a disabled shortcut does nothing
    qtbot.keyClick(page.view, Qt.Key.Key_D)
    assert prompts.asked == []
    window.sidebar.setCurrentRow(2)
    assert not window.approvals.actions_["approve"].isEnabled()
    assert "may not approve" in window.approvals.policy_label.text()


def test_each_role_gets_its_own_actions(open_window: Opener) -> None:
    admin = open_window(ADMIN, page=1)
    assert admin.detect_action.isEnabled() and admin.import_action.isEnabled()
    admin.triage.step(0)
    assert not admin.triage.actions_["confirm"].isEnabled()  # admins do not triage
    assert admin.triage.actions_["assign"].isEnabled()
    assert not admin.approvals.actions_["approve"].isEnabled()
    admin.close()
    inspector = open_window(INSPECTOR, page=1)
    inspector.triage.step(0)
    assert inspector.triage.actions_["confirm"].isEnabled()
    assert inspector.approvals.actions_["approve"].toolTip() == (
        "Your role (inspector) may not approve decisions as the second reviewer.")
    inspector.close()
    auditor = open_window(AUDITOR, page=2)
    auditor.approvals.step(0)
    assert auditor.approvals.actions_["approve"].isEnabled()


def test_lock_now_hides_data_and_asks_for_the_password(qtbot: Any, open_window: Opener
                                                       ) -> None:
    window = open_window(INSPECTOR, page=1)
    assert window.triage.model.rowCount() == demo_finding_count(3000, 20261128)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    session = window.session
    assert session.locked and not session.ready
    assert window.outer.currentWidget() is window.lock_screen
    assert session._ws is None  # the workspace is closed: its key is gone
    with pytest.raises(RuntimeError):
        _ = session.ws
    assert window.triage.model.rowCount() == 0
    assert window.operations.model.rowCount() == 0
    assert window.dashboard.rules.rowCount() == 0
    assert "ines.garcia" not in window.triage.detail.toPlainText()
    assert not window.detect_action.isVisible()

    window.lock_screen.password.setText("wrong-password")
    qtbot.mouseClick(window.lock_screen.unlock_button, Qt.MouseButton.LeftButton)
    assert session.locked
    assert "Wrong password" in window.lock_screen.error.text()

    window.lock_screen.password.setText(PASSWORD)
    qtbot.keyClick(window.lock_screen.password, Qt.Key.Key_Return)
    assert not session.locked and session.ready
    assert window.outer.currentIndex() == 0
    assert window.triage.model.rowCount() == demo_finding_count(3000, 20261128)
    assert window.lock_screen.password.text() == ""


def test_locks_itself_when_idle(qtbot: Any, open_window: Opener, settings: Settings) -> None:
    assert settings.idle_minutes() == DEFAULT_IDLE_MINUTES == 10
    window = open_window(INSPECTOR)
    assert window.idle.timer.interval() == 10 * 60_000
    window.idle.set_timeout(50)
    with qtbot.waitSignal(window.session.locked_changed, timeout=5000):
        pass
    assert window.session.locked and window.outer.currentWidget() is window.lock_screen
    window.set_idle_minutes(3)
    assert Settings.at(Path(settings.store.fileName())).idle_minutes() == 3


def test_lock_during_a_job_closes_the_workspace_when_it_ends(
        qtbot: Any, open_window: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    def held(ws: Workspace, pack: Any, rule_ids: Any = None, progress: Progress | None = None,
             cancel: CancelToken | None = None) -> Any:
        assert progress is not None and cancel is not None

        def tick(done: int, total: int, stage: str) -> None:
            progress(done, total, stage)
            if done == 1:  # hold the worker until the test cancels
                cancel.wait(10)

        return engine.run_detection(ws, pack, rule_ids, progress=tick, cancel=cancel)

    monkeypatch.setattr(main_window, "run_detection", held)
    window = open_window(INSPECTOR)
    job = window.run_detection()
    assert job is not None
    window.lock()
    assert window.outer.currentWidget() is window.lock_screen
    assert window.session._ws is not None  # still lent to the job
    with qtbot.waitSignal(job.ended, timeout=10_000):
        job.cancel()
    assert window.session._ws is None
    window.unlock(PASSWORD)
    assert window.session.ready


def test_layout_is_remembered(qtbot: Any, open_window: Opener, settings: Settings) -> None:
    window = open_window(INSPECTOR, page=3)
    window.operations.view.setColumnWidth(2, 222)
    window.close()
    assert settings.bytes_value("columns/operations") is not None
    assert settings.bytes_value("window/geometry") is not None
    again = open_window(INSPECTOR, page=3)
    assert again.operations.view.columnWidth(2) == 222


def test_fits_a_1366x768_screen(open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 700
