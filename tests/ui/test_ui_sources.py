"""The Sources page: batches live and retracted, and retracting one with real keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import write
from test_triage import OPS
from ui_support import ADMIN, INSPECTOR, PASSWORD, VIEWER

from oversight import browse, queries, triage
from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Workspace
from ui.qt import Qt, QtWidgets
from ui.sources_page import SOURCES_PAGE_TITLE, RetractDialog, SourcesPage

pytest_plugins = ["ui_fixtures"]


def _open_sources(qtbot: Any, window: Any) -> SourcesPage:
    sidebar = window.sidebar
    row = next(r for r in range(sidebar.count()) if sidebar.item(r).text() == SOURCES_PAGE_TITLE)
    rect = sidebar.visualItemRect(sidebar.item(row))
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    page = window.pages.currentWidget()
    assert isinstance(page, SourcesPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0)
    return page


def _click_row(qtbot: Any, page: SourcesPage, kind: str) -> dict[str, Any]:
    row = next(i for i, b in enumerate(page.batches) if b["kind"] == kind)
    rect = page.view.visualRect(page.model.index(row, 2))
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    current = page.current()
    assert current is not None and current["kind"] == kind
    return current


def _dialog(qtbot: Any, page: SourcesPage) -> RetractDialog:
    qtbot.mouseClick(page.retract_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert isinstance(dialog, RetractDialog)
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is dialog.reason)
    return dialog


def test_retract_a_batch_by_keyboard(qtbot: Any, open_window: Any) -> None:
    window = open_window(ADMIN)
    session = window.session
    operations = session.read(browse.count)
    page = _open_sources(qtbot, window)
    assert page.model.rowCount() == 3
    batch = _click_row(qtbot, page, "operations")
    assert page.retract_button.isEnabled()

    # Escape cancels; Enter in the reason is a new line, never a retraction.
    dialog = _dialog(qtbot, page)
    assert not dialog.retract_button.isEnabled()
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.reason.toPlainText() == "\n"
    assert not dialog.retract_button.isEnabled()  # blank is no reason
    with qtbot.waitSignal(dialog.rejected, timeout=2000):
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Escape)
    assert session.read(queries.batches) == session.read(queries.batches, True)

    dialog = _dialog(qtbot, page)
    focused = QtWidgets.QApplication.focusWidget()
    qtbot.keyClicks(focused, "Another force's log, sent by mistake")
    assert dialog.retract_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        qtbot.keyClick(focused, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    listed = {b["batch_id"]: b for b in session.read(queries.batches, True)}
    gone = listed[batch["batch_id"]]
    assert gone["retracted_by"] == ADMIN
    assert gone["retraction_reason"] == "Another force's log, sent by mistake"
    assert batch["batch_id"] not in {b["batch_id"] for b in session.read(queries.batches)}
    assert session.read(browse.count) == operations - batch["rows_imported"] == 0
    events = [e for e in session.read(triage.history) if e["action"] == "batch.retract"]
    assert len(events) == 1 and events[0]["payload"]["sha256"] == batch["sha256"]
    # The page shows it retracted, with the reason; it cannot be retracted twice.
    row = next(i for i, b in enumerate(page.batches) if b["batch_id"] == batch["batch_id"])
    assert page.model.row_values(row)[7].startswith("retracted ")
    assert page.current() is not None and page.current()["batch_id"] == batch["batch_id"]
    assert "sent by mistake" in page.detail.text()
    assert not page.retract_button.isEnabled()
    assert "already retracted" in page.retract_button.toolTip()
    assert "retracted" in window.statusBar().currentMessage()
    # The other pages follow: the operations browser is empty, findings are labelled.
    window.sidebar.setCurrentRow(3)
    qtbot.waitUntil(lambda: window.operations.model.rowCount() == 0)
    labelled = session.read(lambda ws: ws.conn.execute(
        "SELECT count(*) FROM findings WHERE stale_reason LIKE 'source retracted%'"
    ).fetchone()[0])
    assert labelled > 0


def test_who_may_retract_is_said_on_the_button(qtbot: Any, open_window: Any) -> None:
    viewer = open_window(VIEWER)
    page = _open_sources(qtbot, viewer)
    _click_row(qtbot, page, "operations")
    assert not page.retract_button.isEnabled()
    assert "viewer" in page.retract_button.toolTip()
    viewer.close()
    inspector = open_window(INSPECTOR)
    page = _open_sources(qtbot, inspector)
    _click_row(qtbot, page, "cases")
    assert not page.retract_button.isEnabled()
    assert "Only an admin or the user who imported" in page.retract_button.toolTip()
    assert page.ask_retract() is None


def test_a_file_name_with_a_direction_override_is_shown_as_written(
        qtbot: Any, open_window: Any, demo_ws: Path, tmp_path: Path) -> None:
    """A file stored as "ops-" U+202E "txt.csv" was listed, and described, as
    "ops-vsc.txt": the override turned the letters after it around. Its code is shown
    where it was written (oversight.visible), in the list and in the batch's detail."""
    name = "ops-\u202etxt.csv"
    src = write(tmp_path / name, OPS.replace("T-1,", "RLO-1,").replace("T-2,", "RLO-2,"))
    with Workspace.open(demo_ws, INSPECTOR, PASSWORD) as ws:
        import_file(ws, src, Kind.OPERATIONS)
    window = open_window(ADMIN)
    page = _open_sources(qtbot, window)
    row = next(i for i, b in enumerate(page.batches) if b["file"] == name)
    assert page.model.data(page.model.index(row, 2)) == "ops-[U+202E]txt.csv"
    rect = page.view.visualRect(page.model.index(row, 2))
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.current() is not None and page.current()["file"] == name
    assert "ops-[U+202E]txt.csv" in page.detail.text() and "\u202e" not in page.detail.text()
