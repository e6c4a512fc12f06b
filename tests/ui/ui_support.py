"""Constants and the scripted Prompts of the GUI tests (plain helpers, no fixtures)."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from oversight.demo import AUDITOR, INSPECTOR
from oversight.errors import Cancelled
from ui.import_wizard import MappingModel
from ui.prompts import Prompts
from ui.qt import Qt, QtWidgets

PASSWORD = "demo-password"
ADMIN = "admin"
VIEWER = "victor.viewer"
__all__ = ["ADMIN", "AUDITOR", "INSPECTOR", "PASSWORD", "VIEWER", "FakePrompts"]


class FakePrompts(Prompts):
    """Answers questions from queues; records errors and messages."""

    def __init__(self) -> None:
        self.answers: dict[str, deque[Any]] = {}
        self.asked: list[tuple[str, Any]] = []
        self.errors: list[BaseException] = []
        self.infos: list[tuple[str, str]] = []

    def answer(self, question: str, *values: Any) -> None:
        self.answers.setdefault(question, deque()).extend(values)

    def _next(self, question: str, detail: Any = None) -> Any:
        self.asked.append((question, detail))
        queue = self.answers.get(question)
        if not queue:
            raise AssertionError(f"unexpected question: {question} ({detail})")
        return queue.popleft()

    def error(self, parent: Any, exc: BaseException) -> None:
        if not isinstance(exc, Cancelled):
            self.errors.append(exc)

    def info(self, parent: Any, title: str, text: str) -> None:
        self.infos.append((title, text))

    def confirm(self, parent: Any, title: str, text: str) -> bool:
        return bool(self._next("confirm", title))

    def choose_folder(self, parent: Any, title: str, start: str = "") -> Path | None:
        return self._next("choose_folder", title)

    def choose_new_folder(self, parent: Any, title: str, start: str = "") -> Path | None:
        return self._next("choose_new_folder", title)

    def choose_file(self, parent: Any, title: str, filters: str) -> Path | None:
        return self._next("choose_file", title)

    def import_options(self, parent: Any, path: Path) -> Any:
        return self._next("import_options", path)

    def note(self, parent: Any, title: str, prompt: str, required: bool = True,
             ok_text: str = "OK", subject: str | None = None) -> str | None:
        return self._next("note", title)

    def dismiss(self, parent: Any, count: int, subject: str | None = None
                ) -> tuple[str, str] | None:
        return self._next("dismiss", count)

    def assign(self, parent: Any, users: list[str], current: str | None) -> str | None:
        return self._next("assign", users)

    def escalate(self, parent: Any, count: int, recipient: str | None,
                 subject: str | None = None) -> str | None:
        return self._next("escalate", recipient)

    def approve(self, parent: Any, decisions: Any) -> str | None:
        return self._next("approve", [d["finding_id"] for d in decisions])

    def return_decision(self, parent: Any, decisions: Any) -> str | None:
        return self._next("return", [d["finding_id"] for d in decisions])

    def text(self, parent: Any, title: str, label: str, value: str = "") -> str | None:
        return self._next("text", (title, value))


# -- the import wizard, as a person drives it ---------------------------------------------


def wizard_next(qtbot: Any, wizard: Any) -> None:
    """A mouse click on the wizard's Next (or, on the last step before importing, its
    commit) button, as a person moves on."""
    for which in (QtWidgets.QWizard.WizardButton.NextButton,
                  QtWidgets.QWizard.WizardButton.CommitButton):
        button = wizard.button(which)
        if button.isVisible():
            assert button.isEnabled(), f"{button.text()} is disabled"
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            return
    raise AssertionError("neither Next nor the commit button is shown")


def wizard_choose(qtbot: Any, wizard: Any, column: str, target: str) -> None:
    """Map ``column`` to ``target`` through its combo in the mapping table: a click opens
    it, arrow keys move to the choice, Return takes it."""
    index = wizard.mapping.index(wizard.mapping.row_of(column), MappingModel.TARGET)
    view = wizard.mapping_page.view
    view.scrollTo(index)
    combo = view.indexWidget(index)
    assert isinstance(combo, QtWidgets.QComboBox)
    want = combo.findData(target)
    assert want >= 0, (column, target)
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    popup = combo.view()
    qtbot.waitUntil(popup.isVisible)
    for _ in range(combo.count()):
        row = popup.currentIndex().row()
        if row == want:
            break
        qtbot.keyClick(popup, Qt.Key.Key_Down if row < want else Qt.Key.Key_Up)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not popup.isVisible())
    assert dict(wizard.mapping.assignments())[column] == (target or None), column


def choose_from_menu(qtbot: Any, window: Any, action: Any) -> None:
    """Choose ``action`` as a person does: a click on its menu in the window's menu bar,
    then the item's underlined letter in the menu that opens."""
    bar = window.menuBar()
    title = next(a for a in bar.actions() if a.menu() is not None and action in
                 a.menu().actions())
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(title).center())
    menu = title.menu()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activePopupWidget() is menu)
    assert action.isEnabled(), f"{action.text()} is disabled"
    text = action.text()
    letter = text[text.index("&") + 1].upper()
    with qtbot.waitSignal(action.triggered):
        qtbot.keyClick(menu, getattr(Qt.Key, f"Key_{letter}"))
