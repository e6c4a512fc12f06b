"""Start screen, create, sign in, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ui_support import INSPECTOR, PASSWORD, FakePrompts

from oversight.errors import StorageError, UsageError
from ui.app import Workstation
from ui.errors import BUG_SENTENCE, describe, error_box
from ui.qt import Qt
from ui.settings import Settings
from ui.start import CreateDialog, LoginDialog

pytest_plugins = ["ui_fixtures"]

ROOT = Path(__file__).resolve().parents[2]


def _station(qtbot: Any, settings: Settings, prompts: FakePrompts) -> Workstation:
    station = Workstation(settings, prompts)
    qtbot.addWidget(station.start)
    station.show_start()
    return station


def test_create_workspace_then_sign_in(qtbot: Any, tmp_path: Path, settings: Settings,
                                       prompts: FakePrompts) -> None:
    station = _station(qtbot, settings, prompts)
    folder = tmp_path / "new-ws"
    prompts.answer("choose_new_folder", folder)
    dialog = station.start.create_workspace()
    assert isinstance(dialog, CreateDialog) and dialog.isVisible()
    qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    assert dialog.folder.text() == str(folder)
    dialog.admin.setText("alice")
    dialog.password.setText("correct horse")
    dialog.repeat.setText("correct hose")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "differ" in dialog.message.text()
    assert dialog.isVisible() and not folder.exists()
    dialog.repeat.setText("correct horse")
    with qtbot.waitSignal(station.start.opened, timeout=5000):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    main = station.main
    assert main is not None and main.session.user == "alice"
    assert main.session.role.value == "admin"
    assert not station.start.isVisible()
    assert settings.recent() == [str(folder.resolve())]

    main.close()  # back to the start screen, the workspace in the recent list
    assert station.main is None and station.start.isVisible()
    assert station.start.recent.count() == 1

    login = station.start.open_workspace(folder)
    assert isinstance(login, LoginDialog)
    assert login.user.text() == "alice"  # remembered per workspace
    login.password.setText("correct horse")
    with qtbot.waitSignal(station.start.opened, timeout=5000):
        qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    assert station.main is not None and station.main.session.user == "alice"
    station.shutdown()


def test_create_refuses_short_password_inline(qtbot: Any, tmp_path: Path, settings: Settings,
                                              prompts: FakePrompts) -> None:
    station = _station(qtbot, settings, prompts)
    dialog = station.start.create_workspace()
    dialog.folder.setText(str(tmp_path / "ws"))
    dialog.admin.setText("alice")
    dialog.password.setText("short")
    dialog.repeat.setText("short")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "at least 8 characters" in dialog.message.text()
    assert dialog.isVisible() and prompts.errors == []


def test_wrong_password_says_so_and_allows_retry(qtbot: Any, demo_ws: Path,
                                                 settings: Settings,
                                                 prompts: FakePrompts) -> None:
    station = _station(qtbot, settings, prompts)
    login = station.start.open_workspace(demo_ws)
    login.user.setText(INSPECTOR)
    login.password.setText("not-the-password")
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    assert login.isVisible()
    assert "Wrong password" in login.message.text()
    assert prompts.errors == []  # said in the dialog, not in a traceback or a popup
    assert station.main is None

    login.user.setText("<b>nobody</b>")
    login.password.setText(PASSWORD)
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    assert "no user named '<b>nobody</b>'" in login.message.text()
    assert login.message.textFormat() == Qt.TextFormat.PlainText  # shown, not rendered

    login.user.setText(INSPECTOR)
    login.password.setText(PASSWORD)
    with qtbot.waitSignal(station.start.opened, timeout=5000):
        qtbot.keyClick(login.password, Qt.Key.Key_Return)
    assert station.main is not None and station.main.session.role.value == "inspector"
    station.shutdown()


def test_not_a_workspace_is_a_dialog_with_details(qtbot: Any, tmp_path: Path,
                                                  settings: Settings,
                                                  prompts: FakePrompts) -> None:
    station = _station(qtbot, settings, prompts)
    empty = tmp_path / "empty"
    empty.mkdir()
    prompts.answer("choose_folder", empty)
    qtbot.mouseClick(station.start.open_button, Qt.MouseButton.LeftButton)
    login = station.start.dialog
    assert isinstance(login, LoginDialog)
    login.user.setText("admin")
    login.password.setText(PASSWORD)
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    assert len(prompts.errors) == 1
    err = prompts.errors[0]
    assert isinstance(err, StorageError) and "not an Oversight workspace" in err.message
    assert "not an Oversight workspace" in login.message.text()


def test_error_box_has_sentence_and_details(qtbot: Any) -> None:
    box = error_box(None, UsageError("A user name cannot be empty."))
    qtbot.addWidget(box)
    assert box.text() == "A user name cannot be empty."
    assert "UsageError" in box.detailedText() and "usage" in box.detailedText()
    try:
        raise KeyError("boom")
    except KeyError as exc:
        sentence, details = describe(exc)
        bug = error_box(None, exc)
        qtbot.addWidget(bug)
    assert sentence == BUG_SENTENCE and bug.text() == BUG_SENTENCE
    assert "Traceback" in details and "KeyError: 'boom'" in bug.detailedText()


def test_recent_workspaces_are_remembered(qtbot: Any, demo_ws: Path, tmp_path: Path,
                                          prompts: FakePrompts) -> None:
    settings = Settings.at(tmp_path / "s.ini")
    settings.add_recent(demo_ws)
    settings.add_recent(tmp_path / "gone")
    settings.add_recent(demo_ws)  # moves to the top, no duplicate
    again = Settings.at(tmp_path / "s.ini")
    assert again.recent() == [str(demo_ws.resolve()), str((tmp_path / "gone").resolve())]
    station = _station(qtbot, again, prompts)
    items = [station.start.recent.item(i).text() for i in range(station.start.recent.count())]
    assert "not found" in items[1] and "not found" not in items[0]
    station.start.recent.setCurrentRow(1)
    station.start.remove_recent()
    assert again.recent() == [str(demo_ws.resolve())]
    station.start.recent.setCurrentRow(0)
    qtbot.mouseClick(station.start.open_recent_button, Qt.MouseButton.LeftButton)
    assert isinstance(station.start.dialog, LoginDialog)
    assert station.start.dialog.folder == demo_ws.resolve()


def test_main_opens_the_start_screen_and_sign_in(demo_ws: Path, tmp_path: Path) -> None:
    """The function the `oversight gui` command calls, in a process of its own (its
    QSettings go to a temporary config folder)."""
    script = (
        "import sys\n"
        "from ui.qt import QtCore, QtWidgets\n"
        "from ui.app import main\n"
        "app = QtWidgets.QApplication(['oversight'])\n"
        "def look():\n"
        "    shown = sorted(type(w).__name__ for w in app.topLevelWidgets() if w.isVisible())\n"
        "    print('SHOWN', ' '.join(shown))\n"
        "    app.quit()\n"
        "QtCore.QTimer.singleShot(200, look)\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
           "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", script, str(demo_ws)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    # With a folder, the sign-in dialog alone (centred on the screen; the start screen
    # shows if it is cancelled).
    assert "SHOWN LoginDialog\n" in res.stdout
    version = subprocess.run([sys.executable, "-m", "ui.app", "--version"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.strip()
