"""The timeline of an authorisation or case: places, geometry, painting, the button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, PASSWORD

from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.importing import import_file
from oversight.records import Kind
from oversight.timeline import authorisation_timeline, case_timeline, place_of
from oversight.workspace import Workspace
from ui.prompts import Prompts
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.session import Session
from ui.timeline import COLORS, STANDING_TEXT, TimelineDialog, layout_timeline

pytest_plugins = ["ui_fixtures"]

AUTHS = """authorisation_id,regime,valid_from,valid_to,cancelled_at,case_id,approval
W-1,surveillance,2026-03-01T00:00:00+00:00,2026-03-31,2026-03-20T12:00:00+00:00,C-1,
W-3,interception,2026-05-01T00:00:00+00:00,2026-05-31,,C-1,
W-R,surveillance,2026-03-01T00:00:00+00:00,2026-03-31,,C-1,refused
W-P,surveillance,2026-03-01T00:00:00+00:00,2026-03-31,,C-1,pending
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
OP-9,2026-03-10T10:00:00+00:00,consult,officer-3,W-R,C-1
OP-10,2026-03-10T10:00:00+00:00,consult,officer-3,W-P,C-1
OP-11,2026-03-20T12:00:00+00:00,consult,officer-1,W-1,C-1
"""


@pytest.fixture
def small_ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    (tmp_path / "auth.csv").write_text(AUTHS)
    (tmp_path / "ops.csv").write_text(OPS)
    with Workspace.create(folder, ADMIN, PASSWORD) as ws:
        import_file(ws, tmp_path / "auth.csv", Kind.AUTHORISATIONS)
        import_file(ws, tmp_path / "ops.csv", Kind.OPERATIONS)
        run_detection(ws, default_pack())
    return folder


def test_places_before_during_after_and_cancelled(small_ws: Path) -> None:
    with Workspace.open(small_ws, ADMIN, PASSWORD) as ws:
        tl = authorisation_timeline(ws, "W-1")
        assert tl.found and tl.total == 6
        places = {m.record_id: m.place for m in tl.marks}
        assert places == {"OP-1": "before", "OP-5": "inside", "OP-2": "inside",
                          "OP-3": "cancelled", "OP-4": "after", "OP-11": "cancelled"}
        assert tl.effective_end == tl.cancelled
        assert tl.counts()["inside"] == 2
        # The rules judge, and agree with the places: OP-11 is at the cancellation second.
        assert {m.record_id for m in tl.marks if m.flagged} == {"OP-1", "OP-3", "OP-4",
                                                               "OP-11"}
        # valid_to as a date means the whole day; offsets are compared as UTC
        w3 = {m.record_id: m.place for m in authorisation_timeline(ws, "W-3").marks}
        assert w3 == {"OP-6": "inside", "OP-7": "inside", "OP-8": "after"}
        missing = authorisation_timeline(ws, "W-404")
        assert not missing.found and missing.total == 0
        case = case_timeline(ws, "C-1")
        assert not case.found and case.total == 11
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
    assert xs["OP-11"] == pytest.approx(lay.cancel_x)
    for x, mark in lay.marks:  # inside the bar's span before the cancellation line
        assert (x0 <= x < lay.cancel_x) == mark.inside
    assert len(lay.ticks) >= 2
    assert all(50 <= x <= 850 for x, _ in lay.ticks)
    assert all(len(label) == 10 for _, label in lay.ticks)  # dates, YYYY-MM-DD


def _pixels(image: QtGui.QImage, x: float, y: float) -> set[str]:
    return {image.pixelColor(round(x) + dx, round(y)).name() for dx in (-1, 0, 1)}


def test_dialog_lists_every_operation_with_the_rules_verdict(
        qtbot: Any, qtmodeltester: Any, small_ws: Path) -> None:
    session = Session(Workspace.open(small_ws, ADMIN, PASSWORD), Prompts())
    try:
        dialog = TimelineDialog(session, None, "authorisation", "W-1")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        image = dialog.canvas.grab().toImage()
        assert not image.isNull() and image.width() >= 560
        lay = dialog.canvas.current_layout()
        assert lay is not None
        y = dialog.canvas.MARK_Y + dialog.canvas.MARK_H // 2
        xs = {m.record_id: x for x, m in lay.marks}
        # a flagged operation is red, one no rule flags is blue
        assert COLORS["flagged"] in _pixels(image, xs["OP-4"], y)
        assert COLORS["covered"] in _pixels(image, xs["OP-2"], y)
        # every operation is listed, inside and outside, with the rules that flag it
        qtmodeltester.check(dialog.table)
        listed = {dialog.table.row_values(r)[3]: dialog.table.row_values(r)
                  for r in range(dialog.table.rowCount())}
        assert set(listed) == {"OP-1", "OP-2", "OP-3", "OP-4", "OP-5", "OP-11"}
        assert listed["OP-2"][4:] == ("inside the window", "none")
        assert listed["OP-11"][4:] == ("at or after the cancellation", "AUT-02")
        assert listed["OP-11"][0] == "2026-03-20 12:00:00 UTC"
        text = dialog.summary.text()
        assert "6 operations cite it" in text and "4 flagged" in text and "AUT-02 4" in text
        assert "2 not flagged" in text and "led-baseline" in text
        # a case, an unknown id, an empty id
        dialog.kind.setCurrentIndex(dialog.kind.findData("case"))
        dialog.ident.setText("C-1")
        dialog.show_timeline()
        assert "11 operations cite it" in dialog.summary.text()
        dialog.canvas.grab()
        dialog.ident.setText("")
        dialog.show_timeline()
        assert dialog.summary.text() == "Enter an id."
        dialog.kind.setCurrentIndex(0)
        dialog.ident.setText("W-404")
        dialog.show_timeline()
        assert "not imported" in dialog.summary.text()
        assert dialog.table.rowCount() == 0
        assert dialog.table_label.text() == "No operation cites it."
        dialog.canvas.grab()
    finally:
        session.close()


def test_refused_and_pending_are_never_a_green_valid_bar(qtbot: Any, small_ws: Path) -> None:
    session = Session(Workspace.open(small_ws, ADMIN, PASSWORD), Prompts())
    try:
        dialog = TimelineDialog(session, None, "authorisation", "W-1")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        canvas = dialog.canvas

        def bar_colors() -> set[str]:
            image = canvas.grab().toImage()
            lay = canvas.current_layout()
            assert lay is not None and lay.window is not None
            x0, x1 = lay.window
            y = canvas.BAR_Y + canvas.BAR_H // 2
            return {image.pixelColor(round(x), y).name()
                    for x in range(int(x0) + 3, int(x1) - 3, 2)}

        assert COLORS["window"] in bar_colors()  # an approved (or unrecorded) window
        for ident, standing, words in (("W-R", "refused", "refused: never in force"),
                                       ("W-P", "pending", "approval pending")):
            dialog.ident.setText(ident)
            dialog.show_timeline()
            assert dialog.tl is not None and dialog.tl.standing == standing
            colors = bar_colors()
            assert COLORS["window"] not in colors and COLORS[standing] in colors
            assert words in dialog.summary.text() and "Valid" not in dialog.summary.text()
            assert STANDING_TEXT[standing] != "Valid"
        dialog.ident.setText("W-R")
        dialog.show_timeline()
        assert dialog.table.row_values(0)[3:] == ("OP-9", "inside the window", "AUT-02")
    finally:
        session.close()


def test_clicking_a_tick_shows_its_operation_and_findings(qtbot: Any, small_ws: Path) -> None:
    session = Session(Workspace.open(small_ws, ADMIN, PASSWORD), Prompts())
    try:
        dialog = TimelineDialog(session, None, "authorisation", "W-1")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        canvas = dialog.canvas
        lay = canvas.current_layout()
        assert lay is not None
        x = next(x for x, m in lay.marks if m.record_id == "OP-4")
        y = canvas.MARK_Y + canvas.MARK_H // 2
        with qtbot.waitSignal(canvas.mark_clicked, timeout=2000) as clicked:
            qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(round(x), y))
        mark = dialog.current_mark()
        assert mark is not None and mark.record_id == "OP-4" and clicked.args == [mark.rid]
        assert canvas.selected == mark.rid
        # its findings, from the last detection run
        assert dialog.findings.rowCount() >= 1
        rules = {dialog.findings.row_values(r)[1] for r in range(dialog.findings.rowCount())}
        assert "AUT-02" in rules and "flagged by AUT-02" in dialog.findings_label.text()
        with qtbot.waitSignal(dialog.open_record, timeout=2000) as opened:
            qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
        assert opened.args == [mark.rid]
        row = next(r for r in range(dialog.findings.rowCount())
                   if dialog.findings.row_values(r)[1] == "AUT-02")
        rect = dialog.findings_view.visualRect(dialog.findings.index(row, 0))
        qtbot.mouseClick(dialog.findings_view.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
        assert dialog.finding_button.isEnabled()
        with qtbot.waitSignal(dialog.open_finding, timeout=2000) as finding:
            qtbot.mouseClick(dialog.finding_button, Qt.MouseButton.LeftButton)
        assert finding.args == [dialog.findings.row_values(row)[0]]
        # clicking beside every tick selects nothing new
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QtCore.QPoint(5, 5))
        assert dialog.current_mark() is mark
    finally:
        session.close()


def test_timeline_button_on_the_operations_page(qtbot: Any, open_window: Any) -> None:
    window = open_window(ADMIN, page=3)
    page = window.operations
    qtbot.waitUntil(lambda: page.model.rowCount() > 0)
    button = window.operations.timeline_button
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
    # From a tick to its operation in the browser, and to its finding in the list: a
    # refused authorisation of the demo, whose operations AUT-02 flags.
    refused = window.session.read(lambda ws: ws.conn.execute(
        "SELECT a.authorisation_id FROM live_authorisations a JOIN live_operations o"
        " USING (authorisation_id) WHERE a.approval = 'refused' LIMIT 1").fetchone()[0])
    window.sidebar.setCurrentRow(0)
    window.open_timeline("authorisation", refused)
    dialog = window.timeline_dialog
    qtbot.waitExposed(dialog)
    tl = dialog.tl
    assert tl is not None and tl.standing == "refused" and tl.marks
    target = tl.marks[0]
    assert "AUT-02" in target.rules
    x = dialog.canvas.mark_x(target.rid)
    assert x is not None
    qtbot.mouseClick(dialog.canvas, Qt.MouseButton.LeftButton,
                     pos=QtCore.QPoint(round(x), dialog.canvas.MARK_Y + 5))
    assert dialog.current_mark() is not None
    chosen = dialog.current_mark()
    qtbot.mouseClick(dialog.record_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is page
    current = page.view.currentIndex()
    assert current.isValid() and page.model.record(current.row())["rid"] == chosen.rid
    assert dialog.findings.rowCount() >= 1
    dialog.findings_view.selectRow(0)
    fid = dialog.findings.row_values(0)[0]
    qtbot.mouseClick(dialog.finding_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.triage
    index = window.triage.view.currentIndex()
    assert index.isValid() and window.triage.model.row_of(fid) == index.row()
    dialog.close()
