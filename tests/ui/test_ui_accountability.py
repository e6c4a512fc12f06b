"""The window and the workspace's accountability settings: the auto-lock limit an admin
sets (recorded in the audit trail) and a workspace whose tables diverge from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3
from ui_support import ADMIN, INSPECTOR, PASSWORD

from db.keyslots import SlotFile
from oversight.settings import set_auto_lock_minutes
from oversight.workspace import DB_NAME, SLOTS_NAME, Workspace
from ui.main_window import MainWindow, PreferencesDialog
from ui.qt import QtCore, QtWidgets
from ui.settings import Settings

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def test_workspace_auto_lock_caps_the_users_preference(qtbot: Any, demo_ws: Path,
                                                        open_window: Opener,
                                                        settings: Settings) -> None:
    settings.set_idle_minutes(30)
    with Workspace.open(demo_ws, ADMIN, PASSWORD) as ws:
        set_auto_lock_minutes(ws, 2)
    window = open_window(INSPECTOR)
    assert window.idle.timer.interval() == 2 * 60_000
    window.preferences()
    dialog = window.findChild(PreferencesDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.minutes.maximum() == 2 and dialog.minutes.value() == 2
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is dialog)
    dialog.minutes.setFocus()
    qtbot.waitUntil(lambda: dialog.minutes.hasFocus())
    focused = QtWidgets.QApplication.focusWidget()
    qtbot.keyClick(focused, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(focused, "9")  # more than the workspace allows: kept at 2
    assert dialog.minutes.value() == 2
    qtbot.keyClick(focused, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(focused, "1")
    qtbot.keyClick(focused, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert settings.idle_minutes() == 1
    assert window.idle.timer.interval() == 60_000


def test_divergent_workspace_opens_read_only_in_the_window(demo_ws: Path,
                                                            open_window: Opener) -> None:
    key = SlotFile.load(demo_ws / SLOTS_NAME).unlock(INSPECTOR, PASSWORD)
    conn = sqlcipher3.connect(str(demo_ws / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute("UPDATE workspace_meta SET value = 'off' WHERE key = 'four_eyes'")
    conn.close()
    window = open_window(INSPECTOR)
    assert window.user_label.text() == f"{INSPECTOR} (inspector, read-only)"
    assert "four_eyes is 'off'" in window.user_label.toolTip()
    assert not any(window.session.can(p) for p in window.session._perms if p.value != "read")
