"""The timeline of an authorisation or case: places, geometry, painting, the button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, PASSWORD

from oversight.importing import import_file
from oversight.records import Kind
from oversight.timeline import authorisation_timeline, case_timeline, place_of
from oversight.workspace import Workspace
from ui.models import TableModel
from ui.prompts import Prompts
from ui.qt import QtCore, QtWidgets
from ui.session import Session
from ui.timeline import COLORS, TimelineDialog, layout_timeline

pytest_plugins = ["ui_fixtures"]

AUTHS = """authorisation_id,regime,valid_from,valid_to,cancelled_at,case_id
W-1,surveillance,2026-03-01T00:00:00+00:00,2026-03-31,2026-03-20T12:00:00+00:00,C-1
W-3,interception,2026-05-01T00:00:00+00:00,2026-05-31,,C-1
"""
OPS = """record_id,ts,action,actor_id,authorisation_id,case_id
OP-1,2026-02-20T10:00:00+00:00,consult,officer-1,W-1,C-1
OP-2,2026-03-10T10:00:00+00:00,consult,officer-1,W-1,C-1
OP-3,2026-03-25T10:00:00+00:00,disclose,officer-2,W-1,C-1
OP-4,2026-04-10T10:00:00+00:00,consult,officer-2,W-1,C-1
OP-5,2026-03-01T00:00:00+00:00,consult,officer-2,W-1,C-1
OP-6,2026-05-31T23:30:00+00:00,consult,officer-2,W-3,C-1
OP-7,2026-06-01T00:30:00+02:00,consult,officer-2,W-3,C-1
OP-8,2026-06-01T00:30:00+00:00,consult,officer-2,W-3,C-1
"""


@pytest.fixture
def small_ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    (tmp_path / "auth.csv").write_text(AUTHS)
    (tmp_path / "ops.csv").write_text(OPS)
    with Workspace.create(folder, ADMIN, PASSWORD) as ws:
        import_file(ws, tmp_path / "auth.csv", Kind.AUTHORISATIONS)
        import_file(ws, tmp_path / "ops.csv", Kind.OPERATIONS)
    return folder


def test_places_before_during_after_and_cancelled(small_ws: Path) -> None:
    with Workspace.open(small_ws, ADMIN, PASSWORD) as ws:
        tl = authorisation_timeline(ws, "W-1")
        assert tl.found and tl.total == 5
        places = {m.record_id: m.place for m in tl.marks}
        assert places == {"OP-1": "before", "OP-5": "inside", "OP-2": "inside",
                          "OP-3": "cancelled", "OP-4": "after"}
        assert tl.effective_end == tl.cancelled
        assert tl.counts()["inside"] == 2
        # valid_to as a date means the whole day; offsets are compared as UTC
        w3 = {m.record_id: m.place for m in authorisation_timeline(ws, "W-3").marks}
        assert w3 == {"OP-6": "inside", "OP-7": "inside", "OP-8": "after"}
        missing = authorisation_timeline(ws, "W-404")
        assert not missing.found and missing.total == 0
        case = case_timeline(ws, "C-1")
        assert not case.found and case.total == 8
    assert place_of(None, 1, 2, None) == "undated"
    assert place_of(5, None, None, None) == "inside"
    assert place_of(5, 1, 10, 4) == "cancelled"
    assert place_of(11, 1, 10, 4) == "after"


def test_geometry_puts_marks_in_and_out_of_the_bar(small_ws: Path) -> None:
    with Workspace.open(small_ws, ADMIN, PASSWORD) as ws:
        tl = authorisation_timeline(ws, "W-1")
    lay = layout_timeline(tl, 50, 850)
    assert lay.window is not None
    x0, x1 = lay.window
    assert 50 < x0 < x1 < 850
    assert lay.cancel_x is not None and x0 < lay.cancel_x < x1
    xs = {m.record_id: x for x, m in lay.marks}
    assert xs["OP-1"] < x0 <= xs["OP-5"] < xs["OP-2"] < lay.cancel_x < xs["OP-3"] < x1 \
        < xs["OP-4"] < 850
    assert xs["OP-5"] == pytest.approx(x0)
    for x, mark in lay.marks:  # inside the bar's span exactly when inside the window
        assert (x0 <= x <= lay.cancel_x) == mark.inside
    assert len(lay.ticks) >= 2
    assert all(50 <= x <= 850 for x, _ in lay.ticks)
    assert all(len(label) == 10 for _, label in lay.ticks)  # dates, YYYY-MM-DD


def test_dialog_paints_and_lists_the_outside_operations(qtbot: Any, qtmodeltester: Any,
                                                         small_ws: Path) -> None:
    session = Session(Workspace.open(small_ws, ADMIN, PASSWORD), Prompts())
    try:
        dialog = TimelineDialog(session, None, "authorisation", "W-1")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        image = dialog.canvas.grab().toImage()
        assert not image.isNull() and image.width() >= 640
        lay = dialog.canvas.current_layout()
        assert lay is not None
        # an outside mark is painted in the warning colour
        x = round(next(x for x, m in lay.marks if m.record_id == "OP-4"))
        y = dialog.canvas.MARK_Y + dialog.canvas.MARK_H // 2
        colors = {image.pixelColor(x + dx, y).name() for dx in (-1, 0, 1)}
        assert COLORS["after"] in colors
        assert isinstance(dialog.table, TableModel)
        assert dialog.table.rowCount() == 3
        assert {dialog.table.row_values(r)[3] for r in range(3)} == {"OP-1", "OP-3", "OP-4"}
        qtmodeltester.check(dialog.table)
        assert "3 outside" in dialog.summary.text()
        assert dialog.canvas.mark_at(x, y) is not None
        # a case, an unknown id, an empty id
        dialog.kind.setCurrentIndex(dialog.kind.findData("case"))
        dialog.ident.setText("C-1")
        dialog.show_timeline()
        assert "8 operations cite it" in dialog.summary.text()
        dialog.canvas.grab()
        dialog.ident.setText("")
        dialog.show_timeline()
        assert dialog.summary.text() == "Enter an id."
        dialog.kind.setCurrentIndex(0)
        dialog.ident.setText("W-404")
        dialog.show_timeline()
        assert "not imported" in dialog.summary.text()
        dialog.canvas.grab()
    finally:
        session.close()


def test_timeline_button_on_the_operations_page(qtbot: Any, open_window: Any) -> None:
    window = open_window(ADMIN, page=3)
    page = window.operations
    qtbot.waitUntil(lambda: page.model.rowCount() > 0)
    button = window.timeline_button
    assert not button.isEnabled()
    row = next(r for r in range(min(page.model.rowCount(), 3000))
               if (page.model.record(r) or {}).get("fields", {}).get("authorisation_id",
                                                                    "").strip())
    page.view.selectionModel().setCurrentIndex(
        page.model.index(row, 0), QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QtCore.QItemSelectionModel.SelectionFlag.Rows)
    assert button.isEnabled()
    button.click()
    dialog = window.timeline_dialog
    qtbot.waitExposed(dialog)
    aid = page.model.record(row)["fields"]["authorisation_id"]
    assert dialog.ident.text() == aid
    assert aid in dialog.summary.text()
    assert isinstance(dialog, QtWidgets.QDialog)
    dialog.close()
