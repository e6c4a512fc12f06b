"""Fixtures of the GUI tests, loaded by each test module through ``pytest_plugins``.

(A conftest.py here would be imported under the module name ``conftest`` too, and
``from conftest import ...`` in tests/ could then pick up this one.)

The demo workspace is built once per session and copied per test. Dialogs never
block: views ask questions through ``Prompts``, and ``FakePrompts`` answers them from
a script and records errors and messages instead of showing them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from ui_support import ADMIN, PASSWORD, VIEWER, FakePrompts

from oversight.demo import build_demo
from oversight.workspace import Role, Workspace
from ui.main_window import MainWindow
from ui.qt import QtWidgets
from ui.session import Session
from ui.settings import Settings


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui-demo") / "ws"
    build_demo(folder, ADMIN, PASSWORD, 3000, 20261128)
    with Workspace.open(folder, ADMIN, PASSWORD) as ws:
        ws.add_user(VIEWER, Role.VIEWER, PASSWORD)
    return folder


@pytest.fixture
def demo_ws(demo_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.at(tmp_path / "settings.ini")


@pytest.fixture
def prompts() -> FakePrompts:
    return FakePrompts()


@pytest.fixture
def open_window(qtbot: Any, demo_ws: Path, settings: Settings, prompts: FakePrompts
                ) -> Iterator[Callable[..., MainWindow]]:
    """open_window(user) -> a shown MainWindow signed in to a copy of the demo."""
    windows: list[MainWindow] = []

    def opener(user: str, page: int = 0) -> MainWindow:
        ws = Workspace.open(demo_ws, user, PASSWORD)
        window = MainWindow(Session(ws, prompts), settings, prompts)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitExposed(window)
        window.sidebar.setCurrentRow(page)
        window.activateWindow()
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window)
        return window

    yield opener
    for window in windows:
        window.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The offscreen platform warns that it cannot propagate size hints whenever a
    window with size constraints is shown; that is about the platform, not our code, so
    it may not fail a test even under ``qt_log_level_fail = WARNING``."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))
