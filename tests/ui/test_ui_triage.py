"""Findings triage by keyboard, bulk decisions, four-eyes approval, filters, detail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_demo_data import demo_finding_count
from ui_support import ADMIN, AUDITOR, INSPECTOR, PASSWORD, FakePrompts

from oversight import triage
from oversight.findings import FindingFilters, list_findings
from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.qt import Qt, QtCore
from ui.triage_page import TriagePage

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def _status(window: MainWindow, finding_id: str) -> dict[str, Any]:
    return window.session.read(triage.finding_detail, finding_id)


def _select_rows(page: TriagePage, rows: list[int]) -> None:
    sel = page.view.selectionModel()
    sel.clearSelection()
    for row in rows:
        sel.select(page.model.index(row, 0), QtCore.QItemSelectionModel.SelectionFlag.Select
                   | QtCore.QItemSelectionModel.SelectionFlag.Rows)
    sel.setCurrentIndex(page.model.index(rows[0], 0),
                        QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)


def _key(qtbot: Any, page: TriagePage, key: Qt.Key) -> None:
    page.view.setFocus()
    # One-letter keys rest for a moment after a dialog closed or the window got focus.
    qtbot.waitUntil(page.keys_ready, timeout=3000)
    qtbot.keyClick(page.view, key)


def test_keyboard_triage_and_four_eyes(qtbot: Any, open_window: Opener,
                                       prompts: FakePrompts) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    page.status_filter.setCurrentIndex(page.status_filter.findData("open"))
    page.severity_filter.setCurrentIndex(page.severity_filter.findData("critical"))
    assert page.model.rowCount() > 3
    assert all(page.model.row_dict(r)["severity"] == "critical"
               for r in range(page.model.rowCount()))

    # J/K move the current finding; the detail pane follows.
    page.view.selectionModel().clear()
    _key(qtbot, page, Qt.Key.Key_J)
    assert page.view.currentIndex().row() == 0
    _key(qtbot, page, Qt.Key.Key_J)
    _key(qtbot, page, Qt.Key.Key_J)
    _key(qtbot, page, Qt.Key.Key_K)
    assert page.view.currentIndex().row() == 1
    target = page.current_id()
    assert target is not None and target in page.detail.toPlainText()
    assert "Legal references" in page.detail.toPlainText()
    after = page.model.row_dict(2)["id"]

    # C confirms with a note; a critical finding then waits for a second reviewer.
    prompts.answer("note", "Access with no warrant on file.")
    _key(qtbot, page, Qt.Key.Key_C)
    assert prompts.asked[-1] == ("note", "Confirm")
    detail = _status(window, target)
    assert detail["status"] == "pending_approval" and detail["pending_status"] == "confirmed"
    assert detail["pending_by"] == INSPECTOR
    assert detail["notes"][-1]["text"] == "Access with no warrant on file."
    # It left the "open" list; the next finding took its place.
    assert page.model.row_of(target) == -1
    assert page.current_id() == after
    assert "second reviewer" in window.statusBar().currentMessage()
    # The inspector cannot approve their own decision: it is not in their list.
    window.sidebar.setCurrentRow(2)
    assert window.approvals.model.rowCount() == 0  # the demo's other one is hers too
    assert window.sidebar.item(2).text() == "Pending my approval"
    window.close()

    auditor = open_window(AUDITOR, page=2)
    approvals = auditor.approvals
    assert "Pending my approval (2)" in auditor.sidebar.item(2).text()
    row = approvals.model.row_of(target)
    assert row >= 0
    _select_rows(approvals, [row])
    prompts.answer("approve", "Agreed.")
    _key(qtbot, approvals, Qt.Key.Key_P)
    detail = _status(auditor, target)
    assert detail["status"] == "confirmed" and detail["approved_by"] == AUDITOR
    assert [h["action"] for h in detail["history"]][-2:] == ["mark", "approve"]
    assert approvals.model.row_of(target) == -1
    assert auditor.sidebar.item(2).text() == "Pending my approval (1)"
    assert prompts.errors == []


def test_dismiss_escalate_note_assign_by_keyboard(qtbot: Any, open_window: Opener,
                                                  prompts: FakePrompts) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    page.severity_filter.setCurrentIndex(page.severity_filter.findData("high"))
    page.status_filter.setCurrentIndex(page.status_filter.findData("open"))
    ids = [page.model.row_dict(r)["id"] for r in range(4)]

    _select_rows(page, [0])
    prompts.answer("dismiss", ("justified", "Rota confirms duty."))
    _key(qtbot, page, Qt.Key.Key_D)
    d = _status(window, ids[0])
    assert d["status"] == "dismissed" and d["reason"] == "justified"  # high: no four-eyes

    _select_rows(page, [page.model.row_of(ids[1])])
    prompts.answer("escalate", "")
    _key(qtbot, page, Qt.Key.Key_E)
    assert _status(window, ids[1])["status"] == "escalated"
    assert prompts.asked[-1] == ("escalate", None)  # no recipient set in the demo

    _select_rows(page, [page.model.row_of(ids[2])])
    prompts.answer("note", "Asked the unit for the log of <b>terminal</b> WS-1.")
    _key(qtbot, page, Qt.Key.Key_N)
    notes = _status(window, ids[2])["notes"]
    assert notes[-1]["text"] == "Asked the unit for the log of <b>terminal</b> WS-1."
    html = page.detail.toHtml()
    assert "&lt;b&gt;terminal&lt;/b&gt;" in html  # user text is escaped, not rendered

    prompts.answer("assign", AUDITOR)
    _key(qtbot, page, Qt.Key.Key_A)
    assert ADMIN in prompts.asked[-1][1] and AUDITOR in prompts.asked[-1][1]
    assert _status(window, ids[2])["assignee"] == AUDITOR
    assert page.model.row_dict(page.model.row_of(ids[2]))["assignee"] == AUDITOR

    # Cancelling a question changes nothing.
    prompts.answer("dismiss", None)
    _key(qtbot, page, Qt.Key.Key_D)
    assert _status(window, ids[2])["status"] == "open"
    assert prompts.errors == []


def test_bulk_marking_keeps_the_selection(qtbot: Any, open_window: Opener,
                                          prompts: FakePrompts) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    page.severity_filter.setCurrentIndex(page.severity_filter.findData("medium"))
    page.status_filter.setCurrentIndex(0)
    _select_rows(page, [0, 1, 2])
    chosen = page.selected_ids()
    assert len(chosen) == 3 and "3 selected" in page.count_label.text()
    _key(qtbot, page, Qt.Key.Key_R)
    assert {_status(window, f)["status"] for f in chosen} == {"in_review"}
    assert sorted(page.selected_ids()) == sorted(chosen)  # selection keyed by id
    assert "3 in review" in window.statusBar().currentMessage()

    prompts.answer("note", "Same pattern in all three.")
    _key(qtbot, page, Qt.Key.Key_C)
    assert {_status(window, f)["status"] for f in chosen} == {"confirmed"}  # medium


def test_filters_and_sorting(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    total = page.model.rowCount()
    assert total == demo_finding_count(3000, 20261128)
    page.rule_filter.setCurrentIndex(page.rule_filter.findData("TRF-01"))
    assert {page.model.row_dict(r)["rule_id"] for r in range(page.model.rowCount())} \
        == {"TRF-01"}
    page.rule_filter.setCurrentIndex(0)
    page.text_filter.setText("Red notice")
    with qtbot.waitSignal(page._debounce.timeout, timeout=2000):
        pass
    assert 0 < page.model.rowCount() < total
    assert all("Red notice" in page.model.row_dict(r)["message"]
               for r in range(page.model.rowCount()))
    page.text_filter.clear()
    page.refresh()
    assert page.model.rowCount() == total
    # Sorting by rule keeps the selected finding selected.
    page.step(5)
    current = page.current_id()
    page.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert page.model.row_dict(0)["rule_id"] >= page.model.row_dict(total - 1)["rule_id"]
    assert page.current_id() == current


def test_detail_shows_rule_facts_records_history_notes(open_window: Opener) -> None:
    window = open_window(AUDITOR, page=1)
    page = window.triage
    page.status_filter.setCurrentIndex(page.status_filter.findData("confirmed"))
    row = next(r for r in range(page.model.rowCount())
               if page.model.row_dict(r)["rule_id"] == "TRF-01")
    _select_rows(page, [row])
    text = page.detail.toPlainText()
    for part in ("TRF-01", "Transfer to a third country without a legal basis",
                 "Legal references", "Rationale", "Facts", "Records involved", "History",
                 "Notes", "approved by aurelia.novak", "Agreed: no basis under Arts. 36-38."):
        assert part in text, part


def test_records_in_the_detail_open_the_operation(qtbot: Any, open_window: Opener) -> None:
    """Clicking a record id in a finding's detail shows that operation in the browser,
    clearing browser filters that would hide it."""
    window = open_window(AUDITOR, page=1)
    page = window.triage
    _select_rows(page, [0])
    detail = _status(window, page.model.row_dict(0)["id"])
    rid = detail["records"][0]["rid"]
    assert f"record:{rid}" in page.detail.toHtml()
    window.operations.search.setText("action=arrest")  # a filter hiding the record
    window.operations.apply_filters()
    with qtbot.waitSignal(page.open_record, timeout=2000) as blocker:
        page.detail.anchorClicked.emit(QtCore.QUrl(f"record:{rid}"))
    assert blocker.args == [rid]
    assert window.sidebar.currentRow() == 3
    current = window.operations.view.currentIndex()
    assert current.isValid()
    assert window.operations.model.rid_at(current.row()) == rid
    assert window.operations.search.text() == ""


def test_text_with_a_direction_override_is_shown_as_written(open_window: Opener,
                                                             demo_ws: Path) -> None:
    """A note, or an imported value, holding U+202E (RIGHT-TO-LEFT OVERRIDE) was shown
    in the finding's detail with the letters after it turned around ("geprüft" U+202E
    "nie" read "geprüft ein"); each directional override, embedding and isolate is now
    shown as its code where it was written (oversight.visible), as in the report."""
    with Workspace.open(demo_ws, AUDITOR, PASSWORD) as ws:
        finding = list_findings(ws, FindingFilters(rule="TRF-01"))[0]
        triage.add_note(ws, finding["id"], "geprüft \u202enie, שלום \u2067עולם\u2069")
    window = open_window(AUDITOR, page=1)
    page = window.triage
    page.status_filter.setCurrentIndex(page.status_filter.findData(finding["status"]))
    row = page.model.row_of(finding["id"])
    assert row >= 0
    _select_rows(page, [row])
    text = page.detail.toPlainText()
    assert "geprüft [U+202E]nie, שלום [U+2067]עולם[U+2069]" in text
    assert not any(ch in text for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                   "\u2069")
