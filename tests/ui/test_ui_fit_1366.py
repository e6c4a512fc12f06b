"""Nothing important is clipped at 1366x768, the smallest screen the workstation is
laid out for (issue 11, item 6).

Every page and the main dialogs are rendered at that size; every visible label, button,
group title, tab, combo box, placeholder and table header is measured with its own
QFontMetrics against the room its widget gives it, and so are the cells that hold
timestamps and ids. (Long free text such as a finding's message may be elided: it has
the whole text as tooltip and in the detail pane.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, AUDITOR, INSPECTOR, PASSWORD, FakePrompts

from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.prompts import ApproveDialog, DismissDialog, EscalationDialog, NoteDialog
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.report_dialog import ReportDialog
from ui.session import Session
from ui.settings import Settings
from ui.start import LoginDialog, StartWindow
from ui.verify_dialog import VerifyDialog

pytest_plugins = ["ui_fixtures"]

SIZE = QtCore.QSize(1366, 768)
#: Table columns whose cells must show in full: (header text, ...).
WHOLE_CELLS = {"Time", "Record id", "Rule", "Status", "Batch", "When", "Seq", "Severity",
               "Findings", "Open", "In review", "Pending", "Escalated", "Decided", "Notes",
               "Imported", "Rejected", "Version", "Added"}
SLACK = 1  # pixels of rounding


def _plain(text: str) -> str:
    """A label's text as drawn: mnemonic ampersands removed (&& is one ampersand)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _shown(widget: QtWidgets.QWidget) -> bool:
    window = widget.window()
    # A widget scrolled out of sight inside a scroll area still counts: it can be
    # scrolled to, and its width is what the user then sees.
    return widget.isVisibleTo(window) and widget.width() > 0 and widget.height() > 0


def _label_problem(label: QtWidgets.QLabel) -> str | None:
    text = label.text()
    if not text or label.wordWrap() or (label.pixmap() is not None and not label.pixmap().isNull()):
        return None
    room = label.contentsRect().width() - 2 * label.margin() - max(0, label.indent())
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text))
    if rich:
        doc = QtGui.QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        need = doc.idealWidth()
    else:
        need = max(label.fontMetrics().horizontalAdvance(line)
                   for line in _plain(text).splitlines() or [""])
    if need > room + SLACK:
        return f"label {_plain(text)[:60]!r}: needs {need:.0f}px, has {room}px"
    return None


def _button_problem(button: QtWidgets.QAbstractButton) -> str | None:
    if not button.text() or (isinstance(button, QtWidgets.QToolButton) and \
            button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly):
        return None
    need = button.sizeHint().width()
    if button.width() + SLACK < need:
        return f"button {_plain(button.text())!r}: needs {need}px, has {button.width()}px"
    return None


def _combo_problem(combo: QtWidgets.QComboBox) -> str | None:
    if combo.isEditable() or not combo.currentText():
        return None
    option = QtWidgets.QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QtWidgets.QStyle.ComplexControl.CC_ComboBox, option,
                                         QtWidgets.QStyle.SubControl.SC_ComboBoxEditField,
                                         combo)
    need = combo.fontMetrics().horizontalAdvance(combo.currentText())
    if need > field.width() + SLACK:
        return f"combo {combo.currentText()!r}: needs {need}px, has {field.width()}px"
    return None


def _placeholder_problem(edit: QtWidgets.QLineEdit) -> str | None:
    if edit.text() or not edit.placeholderText():
        return None
    option = QtWidgets.QStyleOptionFrame()
    edit.initStyleOption(option)
    rect = edit.style().subElementRect(QtWidgets.QStyle.SubElement.SE_LineEditContents,
                                       option, edit)
    margins = edit.textMargins()
    room = rect.width() - margins.left() - margins.right() - 4  # QLineEdit's own margin
    if edit.isClearButtonEnabled():
        room -= edit.height() // 2  # the clear button's room, when text is typed
    need = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
    if need > room + SLACK:
        return f"placeholder {edit.placeholderText()[:50]!r}: needs {need}px, has {room}px"
    return None


def _header_problems(view: QtWidgets.QTableView) -> Iterable[str]:
    header = view.horizontalHeader()
    model = view.model()
    if model is None or not header.isVisible():
        return
    style = header.style()
    margin = style.pixelMetric(QtWidgets.QStyle.PixelMetric.PM_HeaderMargin, None, header)
    mark = style.pixelMetric(QtWidgets.QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
    viewport = view.viewport().width()
    for col in range(model.columnCount()):
        if header.isSectionHidden(col):
            continue
        left = header.sectionViewportPosition(col)
        if left < 0 or left >= viewport:
            continue  # scrolled out of view
        text = str(model.headerData(col, Qt.Orientation.Horizontal,
                                    Qt.ItemDataRole.DisplayRole) or "")
        need = header.fontMetrics().horizontalAdvance(text) + 2 * margin
        if header.isSortIndicatorShown() and header.sortIndicatorSection() == col:
            need += mark + margin
        size = header.sectionSize(col)
        if need > size + SLACK:
            yield f"header {text!r}: needs {need}px, has {size}px"
        if text in WHOLE_CELLS:
            yield from _cell_problems(view, col, text)


def _cell_problems(view: QtWidgets.QTableView, col: int, title: str) -> Iterable[str]:
    model = view.model()
    metrics = view.fontMetrics()
    margin = view.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_FocusFrameHMargin,
                                      None, view) + 1
    first = view.rowAt(0)
    last = view.rowAt(view.viewport().height() - 1)
    if first < 0:
        return
    last = model.rowCount() - 1 if last < 0 else last
    for row in range(first, last + 1):
        index = model.index(row, col)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        room = view.columnWidth(col) - 2 * margin
        if index.data(Qt.ItemDataRole.DecorationRole) is not None:
            room -= view.iconSize().width() if view.iconSize().width() > 0 else \
                view.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_SmallIconSize) + 4
        need = metrics.horizontalAdvance(text)
        if need > room + SLACK:
            yield f"{title} cell {text!r}: needs {need}px, has {room}px"
            return


def clipped(top: QtWidgets.QWidget) -> list[str]:
    """Every visible text of ``top`` that does not fit (elided or cut)."""
    problems: list[str | None] = []
    for widget in [top, *top.findChildren(QtWidgets.QWidget)]:
        if not _shown(widget):
            continue
        if isinstance(widget, QtWidgets.QLabel):
            problems.append(_label_problem(widget))
        elif isinstance(widget, QtWidgets.QAbstractButton):
            problems.append(_button_problem(widget))
        elif isinstance(widget, QtWidgets.QComboBox):
            problems.append(_combo_problem(widget))
        elif isinstance(widget, QtWidgets.QLineEdit):
            problems.append(_placeholder_problem(widget))
        elif isinstance(widget, QtWidgets.QGroupBox) and widget.title():
            need = widget.fontMetrics().horizontalAdvance(_plain(widget.title())) + 16
            if need > widget.width():
                problems.append(f"group {widget.title()!r}: needs {need}px")
        elif isinstance(widget, QtWidgets.QTabBar):
            for i in range(widget.count()):
                need = widget.fontMetrics().horizontalAdvance(_plain(widget.tabText(i)))
                if need > widget.tabRect(i).width():
                    problems.append(f"tab {widget.tabText(i)!r}: needs {need}px")
        elif isinstance(widget, QtWidgets.QTableView):
            problems.extend(_header_problems(widget))
        elif isinstance(widget, QtWidgets.QToolBar):
            extension = widget.findChild(QtWidgets.QToolButton, "qt_toolbar_ext_button")
            if extension is not None and extension.isVisible():
                hidden = [a.iconText() for a in widget.actions()
                          if a.isVisible() and not (widget.widgetForAction(a) or
                                                    QtWidgets.QWidget()).isVisible()]
                problems.append(f"toolbar {widget.windowTitle()!r} overflows: {hidden}")
    return [p for p in problems if p]


def _settle(qtbot: Any, widget: QtWidgets.QWidget) -> None:
    qtbot.waitExposed(widget)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()


@pytest.fixture
def wide_window(qtbot: Any, demo_ws: Path, settings: Settings, prompts: FakePrompts) -> Any:
    windows: list[MainWindow] = []

    def opener(user: str) -> MainWindow:
        window = MainWindow(Session(Workspace.open(demo_ws, user, PASSWORD), prompts),
                            settings, prompts)
        qtbot.addWidget(window)
        windows.append(window)
        window.resize(SIZE)
        window.show()
        _settle(qtbot, window)
        return window

    yield opener
    for window in windows:
        window.close()


@pytest.mark.parametrize("user", [INSPECTOR, AUDITOR, ADMIN])
def test_every_page_fits_1366x768(qtbot: Any, wide_window: Any, user: str) -> None:
    window = wide_window(user)
    assert window.size() == SIZE
    found: dict[str, list[str]] = {}
    for row in range(window.sidebar.count()):
        if window.sidebar.item(row).isHidden():
            continue
        window.sidebar.setCurrentRow(row)
        page = window.pages.currentWidget()
        if row == 1:  # a finding selected: the detail pane and the toolbar are filled
            window.triage.step(0)
        if row == 3:
            window.operations.view.selectRow(0)
        _settle(qtbot, window)
        problems = clipped(window)
        if problems:
            found[window.sidebar.item(row).text()] = problems
        assert page.isVisible()
    assert found == {}


def test_dialogs_fit_1366x768(qtbot: Any, wide_window: Any, tmp_path: Path) -> None:
    window = wide_window(AUDITOR)
    decision = {"finding_id": "AUT-01-1274bdd687d98dc0", "rule_id": "AUT-01",
                "severity": "critical", "message": "interception with no warrant",
                "proposed": "confirmed", "reason": None, "proposed_by": "ines.garcia",
                "proposed_at": "2026-11-28T14:04:12+00:00", "note": "No warrant on file."}
    report = ReportDialog(window.session, window, open_url=lambda _u: None)
    dialogs: list[QtWidgets.QWidget] = [
        report, VerifyDialog(window, window.prompts),
        NoteDialog(window, "Confirm", "Confirm this finding as a breach. Say why (required)."),
        DismissDialog(window, 3), ApproveDialog(window, [decision]),
        EscalationDialog(window, 1, "Data protection officer (dpo@example.org)"),
        LoginDialog(None, tmp_path / "a-workspace-folder", window.prompts, "ines.garcia"),
        StartWindow(Settings.at(tmp_path / "s.ini"), window.prompts),
    ]
    found = {}
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        dialog.show()
        _settle(qtbot, dialog)
        assert dialog.width() <= SIZE.width() and dialog.height() <= SIZE.height()
        problems = clipped(dialog)
        if problems:
            found[dialog.windowTitle()] = problems
        dialog.close()
    assert found == {}


def test_the_checker_sees_a_clipped_label(qtbot: Any) -> None:
    """The measure itself: a label narrower than its text is reported, a wide one not."""
    box = QtWidgets.QWidget()
    qtbot.addWidget(box)
    narrow = QtWidgets.QLabel("A label far too long for forty pixels", box)
    narrow.setGeometry(0, 0, 40, 20)
    wide = QtWidgets.QLabel("Fits", box)
    wide.setGeometry(0, 30, 200, 20)
    box.resize(300, 80)
    box.show()
    qtbot.waitExposed(box)
    problems = clipped(box)
    assert len(problems) == 1 and "far too long" in problems[0]


def test_log_quality_shows_every_completeness_rule_at_1366x768(qtbot: Any,
                                                               wide_window: Any) -> None:
    """The default pack's log-completeness rules are read together: none is scrolled
    out of sight on the smallest screen, and the borders between the tables move."""
    window = wide_window(INSPECTOR)
    titles = [window.sidebar.item(r).text() for r in range(window.sidebar.count())]
    window.sidebar.setCurrentRow(titles.index("Log quality"))
    page = window.pages.currentWidget()
    assert page is window.log_quality
    _settle(qtbot, window)
    view = page.rules_view
    rows = page.rules.rowCount()
    assert rows == 5  # DQ-01 to DQ-05 in the demo's pack
    last = view.visualRect(page.rules.index(rows - 1, 0))
    assert last.isValid() and last.bottom() <= view.viewport().height(), (
        last, view.viewport().height())
    assert view.verticalScrollBar().maximum() == 0
    assert isinstance(page.splitter, QtWidgets.QSplitter) and page.splitter.count() == 3
    handle = page.splitter.handle(1)
    before = page.splitter.sizes()
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=handle.rect().center())
    qtbot.mouseMove(handle, handle.rect().center() + QtCore.QPoint(0, 40))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton,
                       pos=handle.rect().center() + QtCore.QPoint(0, 40))
    after = page.splitter.sizes()
    assert after[0] > before[0] and after[1] < before[1], (before, after)
