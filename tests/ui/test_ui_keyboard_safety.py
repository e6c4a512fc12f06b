"""Typing a note never records a decision nobody made (issue 11, item 1).

The real dialogs are opened (no scripted answers): every key goes to
``QApplication.focusWidget()``, wherever the focus really is, the way a person's
keystrokes do. Each decision dialog must open with the cursor in its note, keep every
typed letter and space there, submit on Ctrl+Enter only, cancel on Escape, and record
exactly one event in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import AUDITOR, INSPECTOR, PASSWORD

from oversight import findings, triage
from oversight.errors import Cancelled
from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.prompts import (
    ApproveDialog,
    AssignDialog,
    DismissDialog,
    EscalationDialog,
    FormDialog,
    NoteDialog,
    Prompts,
    ReturnDialog,
)
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.session import Session
from ui.settings import Settings
from ui.triage_page import TriagePage, detail_html

pytest_plugins = ["ui_fixtures"]

CTRL = Qt.KeyboardModifier.ControlModifier
NONE = Qt.KeyboardModifier.NoModifier
#: The reported sentence: spaces and every one-letter triage key.
SENTENCE = "Asked the DPO c d e r o j k n a; no reply yet"


class RealDialogs(Prompts):
    """The application's own dialogs; only error and info boxes are recorded instead
    of shown."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.infos: list[tuple[str, str]] = []

    def error(self, parent: Any, exc: BaseException) -> None:
        if not isinstance(exc, Cancelled):
            self.errors.append(exc)

    def info(self, parent: Any, title: str, text: str) -> None:
        self.infos.append((title, text))


#: ("type", text), ("key", key[, modifiers]) or ("call", function)
Step = tuple[str, Any] | tuple[str, Any, Any]


class Driver:
    """Answers the next modal dialog with real key events on the focused widget."""

    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot
        self.failures: list[BaseException] = []
        self.focus_at_open: list[QtWidgets.QWidget | None] = []
        self.dialogs: list[QtWidgets.QDialog] = []
        self.default_buttons: list[list[str]] = []
        self._pending: Callable[[], None] | None = None
        self.done = False

    def answer(self, kind: type[QtWidgets.QDialog], *steps: Step) -> None:
        def run() -> None:
            try:
                self.qtbot.waitUntil(lambda: isinstance(
                    QtWidgets.QApplication.activeModalWidget(), kind)
                    and QtWidgets.QApplication.activeWindow()
                    is QtWidgets.QApplication.activeModalWidget(), timeout=5000)
                dialog = QtWidgets.QApplication.activeModalWidget()
                assert isinstance(dialog, QtWidgets.QDialog)
                self.dialogs.append(dialog)
                self.focus_at_open.append(QtWidgets.QApplication.focusWidget())
                self.default_buttons.append(
                    [b.text() for b in dialog.findChildren(QtWidgets.QPushButton)
                     if b.isDefault() or b.autoDefault()])
                for step in steps:
                    if step[0] == "call":
                        step[1]()
                        continue
                    focus = QtWidgets.QApplication.focusWidget()
                    assert focus is not None, "nothing has the keyboard focus"
                    if step[0] == "type":
                        self.qtbot.keyClicks(focus, step[1])
                    else:
                        self.qtbot.keyClick(focus, step[1], step[2] if len(step) > 2 else NONE)
            except BaseException as exc:  # recorded: the test fails, nothing hangs
                self.failures.append(exc)
            finally:
                self.done = True
                left = QtWidgets.QApplication.activeModalWidget()
                if isinstance(left, QtWidgets.QDialog) and left.isVisible() and self.failures:
                    left.reject()

        self._pending = run

    def arm(self) -> None:
        """Answer the dialog the next key opens (called right before that key)."""
        if self._pending is not None:
            QtCore.QTimer.singleShot(0, self._pending)
            QtCore.QTimer.singleShot(15_000, self._watchdog)
            self._pending = None

    def _watchdog(self) -> None:
        """Never hang a test on a modal dialog nobody answered."""
        left = QtWidgets.QApplication.activeModalWidget()
        if not self.done and isinstance(left, QtWidgets.QDialog) and left.isVisible():
            self.failures.append(AssertionError("the dialog was never answered"))
            left.reject()


@pytest.fixture(autouse=True)
def modal_guard(qtbot: Any) -> Iterator[None]:
    """A modal dialog nobody answers (a key that should have been ignored opened one)
    fails the test instead of hanging it."""
    stuck: list[str] = []
    seen: dict[int, int] = {}

    def check() -> None:
        dialog = QtWidgets.QApplication.activeModalWidget()
        if not isinstance(dialog, QtWidgets.QDialog) or not dialog.isVisible():
            seen.clear()
            return
        ticks = seen[id(dialog)] = seen.get(id(dialog), 0) + 1
        if ticks > 20:  # ten seconds
            stuck.append(dialog.windowTitle())
            dialog.reject()

    timer = QtCore.QTimer()
    timer.setInterval(500)
    timer.timeout.connect(check)
    timer.start()
    yield
    timer.stop()
    assert stuck == [], f"dialogs opened that nobody asked for: {stuck}"


@pytest.fixture
def real_window(qtbot: Any, demo_ws: Path, settings: Settings
                ) -> Iterator[Callable[[str], MainWindow]]:
    windows: list[MainWindow] = []

    def opener(user: str) -> MainWindow:
        prompts = RealDialogs()
        window = MainWindow(Session(Workspace.open(demo_ws, user, PASSWORD), prompts),
                            settings, prompts)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window)
        return window

    yield opener
    for window in windows:
        window.close()


def _events(window: MainWindow) -> list[dict[str, Any]]:
    return window.session.read(triage.history)


def _select(page: TriagePage, finding_id: str) -> None:
    row = page.model.row_of(finding_id)
    assert row >= 0
    page.view.selectionModel().setCurrentIndex(
        page.model.index(row, 0), QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QtCore.QItemSelectionModel.SelectionFlag.Rows)


def _window_manager_activates(qtbot: Any, widget: QtWidgets.QWidget) -> None:
    """What a window manager does when a dialog closes (the offscreen platform leaves
    no window active): the main window gets the focus back."""
    window = widget.window()
    if QtWidgets.QApplication.activeWindow() is not window:
        window.activateWindow()
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window)


def _press_in_list(qtbot: Any, page: TriagePage, key: Qt.Key,
                   driver: Driver | None = None) -> None:
    """A key pressed in the findings list (the list has the focus, as after a click);
    ``driver`` answers the dialog it opens."""
    _window_manager_activates(qtbot, page)
    page.view.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is page.view)
    qtbot.waitUntil(page.keys_ready, timeout=3000)
    if driver is not None:
        driver.arm()
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), key)


def _open_finding(window: MainWindow, severity: str) -> str:
    rows = window.session.read(findings.list_findings,
                               findings.FindingFilters(status="open", severity=severity))
    return str(rows[0]["id"])


def _check_opened_in_note(driver: Driver, kind: type[FormDialog]) -> None:
    assert driver.failures == [], driver.failures
    dialog = driver.dialogs[-1]
    assert isinstance(dialog, kind)
    assert driver.focus_at_open[-1] is dialog.edit, (  # type: ignore[attr-defined]
        f"{kind.__name__} opened with the focus on {driver.focus_at_open[-1]!r}")
    assert driver.default_buttons[-1] == [], (
        f"{kind.__name__} has a default button: {driver.default_buttons[-1]}")


@pytest.mark.parametrize(("key", "kind", "action", "status"), [
    (Qt.Key.Key_C, NoteDialog, "finding.mark", "confirmed"),
    (Qt.Key.Key_D, DismissDialog, "finding.mark", "dismissed"),
    (Qt.Key.Key_E, EscalationDialog, "finding.mark", "escalated"),
    (Qt.Key.Key_N, NoteDialog, "finding.note", None),
])
def test_typing_a_note_records_exactly_one_event(qtbot: Any, real_window: Any, key: Qt.Key,
                                                 kind: type[FormDialog], action: str,
                                                 status: str | None) -> None:
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    target = _open_finding(window, "medium")  # below four-eyes: the status changes now
    _select(page, target)
    before = _events(window)
    driver = Driver(qtbot)
    # Enter is a new line in the note; only Ctrl+Enter submits.
    driver.answer(kind, ("type", SENTENCE), ("key", Qt.Key.Key_Return),
                  ("type", "second line"), ("key", Qt.Key.Key_Return, CTRL))
    _press_in_list(qtbot, page, key, driver)
    _check_opened_in_note(driver, kind)
    new = _events(window)[len(before):]
    assert [e["action"] for e in new] == [action], new
    assert new[0]["payload"]["finding_id"] == target
    assert new[0]["payload"]["note"] == SENTENCE + "\nsecond line"
    if status is not None:
        assert new[0]["payload"]["to"] == status
    assert window.prompts.errors == []  # type: ignore[attr-defined]


def test_the_reported_escalation_note_records_one_decision(qtbot: Any, real_window: Any
                                                           ) -> None:
    """Typed the escalation note of the report and a key right as the dialog closed:
    one escalation, nothing else (it used to record six status changes)."""
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    target = _open_finding(window, "critical")
    _select(page, target)
    before = _events(window)
    driver = Driver(qtbot)
    driver.answer(EscalationDialog, ("type", "escalating c d e r o j k n a"),
                  ("key", Qt.Key.Key_Return, CTRL))
    _press_in_list(qtbot, page, Qt.Key.Key_E, driver)
    _check_opened_in_note(driver, EscalationDialog)
    # Keys typed just as the dialog closed land on the list: they must not act.
    _window_manager_activates(qtbot, window)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is page.view)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), "cderojkna")
    new = _events(window)[len(before):]
    assert [(e["action"], e["payload"]["finding_id"], e["payload"]["to"]) for e in new] == [
        ("finding.mark", target, "escalated")]
    assert new[0]["payload"]["note"] == "escalating c d e r o j k n a"
    assert "Ignored" in window.statusBar().currentMessage()
    # A moment later the keys act again.
    current = page.current_id()
    qtbot.waitUntil(page.keys_ready, timeout=3000)
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_J)
    assert page.current_id() != current
    assert len(_events(window)) == len(before) + 1


def test_escape_cancels_and_records_nothing(qtbot: Any, real_window: Any) -> None:
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    _select(page, _open_finding(window, "high"))
    before = len(_events(window))
    for key, kind in ((Qt.Key.Key_C, NoteDialog), (Qt.Key.Key_D, DismissDialog),
                      (Qt.Key.Key_E, EscalationDialog), (Qt.Key.Key_N, NoteDialog)):
        driver = Driver(qtbot)
        driver.answer(kind, ("type", "half a thought c d"), ("key", Qt.Key.Key_Escape))
        _press_in_list(qtbot, page, key, driver)
        _check_opened_in_note(driver, kind)
        assert not driver.dialogs[-1].isVisible()
    assert len(_events(window)) == before


def test_a_required_note_cannot_be_submitted_empty(qtbot: Any, real_window: Any) -> None:
    """Ctrl+Enter on an empty required note does nothing; the dialog stays open."""
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    _select(page, _open_finding(window, "high"))
    before = len(_events(window))
    driver = Driver(qtbot)
    seen_open: list[bool] = []

    def still_open() -> None:
        seen_open.append(driver.dialogs[-1].isVisible())

    # Ctrl+Enter with nothing written, then a space (into the note, not onto a button).
    driver.answer(NoteDialog, ("key", Qt.Key.Key_Return, CTRL), ("key", Qt.Key.Key_Space),
                  ("call", still_open), ("key", Qt.Key.Key_Return, CTRL),
                  ("call", still_open), ("key", Qt.Key.Key_Escape))
    _press_in_list(qtbot, page, Qt.Key.Key_C, driver)
    _check_opened_in_note(driver, NoteDialog)
    assert seen_open == [True, True]
    assert driver.dialogs[-1].edit.toPlainText() == " "  # type: ignore[attr-defined]
    assert len(_events(window)) == before


def test_approve_and_return_dialogs_by_keyboard(qtbot: Any, real_window: Any) -> None:
    """The second reviewer reads what is being approved and by whom; each dialog opens
    in its note, and each records exactly one event."""
    inspector = real_window(INSPECTOR)
    crit = [str(r["id"]) for r in inspector.session.read(
        findings.list_findings, findings.FindingFilters(status="open", severity="critical"))][:2]
    for fid in crit:
        inspector.session.write(None, triage.mark, [fid], "confirmed",
                                note=f"Proposal for {fid}")
    inspector.close()

    window = real_window(AUDITOR)
    window.sidebar.setCurrentRow(2)
    page = window.approvals
    before = _events(window)

    _select(page, crit[0])
    driver = Driver(qtbot)
    driver.answer(ApproveDialog, ("type", "Agreed r p n a"), ("key", Qt.Key.Key_Return, CTRL))
    _press_in_list(qtbot, page, Qt.Key.Key_P, driver)
    _check_opened_in_note(driver, ApproveDialog)
    stated = driver.dialogs[-1].context.toPlainText()  # type: ignore[attr-defined]
    assert stated.startswith("Confirm proposed by ines.garcia")
    assert f"Note by ines.garcia: Proposal for {crit[0]}" in stated

    _select(page, crit[1])
    driver = Driver(qtbot)
    driver.answer(ReturnDialog, ("type", "Which warrant? p r n"),
                  ("key", Qt.Key.Key_Return, CTRL))
    _press_in_list(qtbot, page, Qt.Key.Key_R, driver)
    _check_opened_in_note(driver, ReturnDialog)

    new = _events(window)[len(before):]
    assert [(e["action"], e["payload"]["finding_id"]) for e in new] == [
        ("finding.approve", crit[0]), ("finding.return", crit[1])]
    assert new[0]["payload"]["note"] == "Agreed r p n a"
    assert new[1]["payload"]["note"] == "Which warrant? p r n"
    assert new[1]["payload"]["returned"] == {"status": "confirmed", "reason": None}
    assert new[1]["payload"]["proposed_by"] == INSPECTOR
    assert window.session.read(triage.finding_detail, crit[1])["status"] == "in_review"
    history = QtGui.QTextDocument()
    history.setHtml(detail_html(window.session.read(triage.finding_detail, crit[1])))
    assert ("returned the decision confirmed proposed by ines.garcia: back to in review, "
            "because: Which warrant? p r n") in history.toPlainText()


def test_letters_typed_outside_the_list_decide_nothing(qtbot: Any, real_window: Any) -> None:
    """The filter box, the detail pane and the dashboard take letters as text or ignore
    them; only the list itself acts on one-letter keys."""
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    _select(page, _open_finding(window, "medium"))
    before = len(_events(window))
    page.text_filter.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is page.text_filter)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), "cderojkna")
    assert page.text_filter.text() == "cderojkna"
    page.text_filter.clear()
    page.detail.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is page.detail)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), "cderojkna")
    window.sidebar.setCurrentRow(0)
    window.sidebar.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is window.sidebar)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), "cdero")
    assert len(_events(window)) == before
    assert window.prompts.errors == []  # type: ignore[attr-defined]


def test_the_assign_dialog_by_keyboard_records_one_event(qtbot: Any, real_window: Any
                                                         ) -> None:
    """A (assign): the cursor is in the user list, letters pick a user there (never a
    triage key), Enter does not submit, Ctrl+Enter assigns: exactly one event."""
    window = real_window(INSPECTOR)
    window.sidebar.setCurrentRow(1)
    page = window.triage
    target = next(str(r["id"]) for r in window.session.read(
        findings.list_findings, findings.FindingFilters(status="open"))
        if not r["assignee"])
    _select(page, target)
    before = _events(window)
    driver = Driver(qtbot)
    seen_open: list[bool] = []
    driver.answer(AssignDialog, ("type", "aurelia"), ("key", Qt.Key.Key_Return),
                  ("call", lambda: seen_open.append(driver.dialogs[-1].isVisible())),
                  ("key", Qt.Key.Key_Return, CTRL))
    _press_in_list(qtbot, page, Qt.Key.Key_A, driver)
    assert driver.failures == [], driver.failures
    dialog = driver.dialogs[-1]
    assert isinstance(dialog, AssignDialog)
    assert driver.focus_at_open[-1] is dialog.combo
    assert driver.default_buttons[-1] == []
    assert seen_open == [True]  # Enter alone assigned nothing
    new = _events(window)[len(before):]
    assert [(e["action"], e["payload"]["finding_id"], e["payload"]["to"]) for e in new] == [
        ("finding.assign", target, AUDITOR)]
