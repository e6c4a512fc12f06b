"""What a real review session showed (issue 11, items 5, 7, 8 and 9): the dashboard
says what needs attention and every count opens what it counts; the findings list
shows notes; Ctrl+End keeps the leading columns; values are shown one way; labels
never show a literal ampersand; workspaces are named by their folder; the sign-in
dialog is centred; escalations name their recipient; reports go to the workspace's
reports folder. Clicks and keys are real events."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, AUDITOR, INSPECTOR, PASSWORD, FakePrompts, choose_from_menu

from oversight import findings, triage
from oversight.workspace import Workspace
from ui.app import Workstation
from ui.dashboard import RULE_COLUMNS
from ui.main_window import MainWindow
from ui.models import MISSING
from ui.prompts import (
    AssignDialog,
    DismissDialog,
    EscalationDialog,
    ImportDialog,
    NoteDialog,
)
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.report_dialog import ReportDialog
from ui.session import Session
from ui.settings import Settings
from ui.start import CreateDialog, LoginDialog, StartWindow
from ui.verify_dialog import VerifyDialog

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]
LEFT = Qt.MouseButton.LeftButton


def _link_point(label: QtWidgets.QLabel, text: str) -> QtCore.QPoint:
    """Where ``text`` (inside a link) is drawn in a rich-text label (top-left aligned)."""
    doc = QtGui.QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    doc.setHtml(label.text())
    rect = label.contentsRect()
    doc.setTextWidth(rect.width())
    doc.size()  # lays the document out
    cursor = doc.find(text)
    assert not cursor.isNull(), f"{text!r} is not on the label: {doc.toPlainText()!r}"
    block = cursor.block()
    inside = cursor.selectionStart() - block.position() + len(text) // 2
    layout = block.layout()  # kept: the line below lives in it
    line = layout.lineForTextPosition(inside)
    assert line.isValid()
    top = doc.documentLayout().blockBoundingRect(block).top()
    x = line.cursorToX(inside)
    x = x[0] if isinstance(x, tuple) else x
    return QtCore.QPoint(rect.left() + int(x),
                         rect.top() + int(top + line.y() + line.height() / 2))


def _click_link(qtbot: Any, label: QtWidgets.QLabel, text: str) -> None:
    qtbot.mouseClick(label, LEFT, pos=_link_point(label, text))


def _listed(window: MainWindow) -> list[dict[str, Any]]:
    model = window.triage.model
    return [model.row_dict(r) for r in range(model.rowCount())]


def _count(text: str, label: QtWidgets.QLabel) -> int:
    match = re.search(r"([\d,]+) " + re.escape(text), label.text())
    assert match, (text, label.text())
    return int(match[1].replace(",", ""))


def test_dashboard_counts_open_what_they_count(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    dash = window.dashboard
    every = window.session.read(findings.list_findings)
    critical_open = sum(1 for f in every if f["severity"] == "critical" and f["status"] == "open")
    mine = sum(1 for f in every if f["assignee"] == INSPECTOR)
    assert f"{critical_open} critical open" in dash.attention.text()
    assert ("none assigned to you" if not mine else f"{mine} assigned to you") \
        in dash.attention.text()
    assert "waiting for your approval" not in dash.attention.text()  # inspectors don't

    _click_link(qtbot, dash.attention, "critical open")
    assert window.pages.currentWidget() is window.triage
    listed = _listed(window)
    assert len(listed) == critical_open
    assert {(f["severity"], f["status"]) for f in listed} == {("critical", "open")}

    window.sidebar.setCurrentRow(0)
    _click_link(qtbot, dash.summary, "open")
    assert len(_listed(window)) == _count("open", dash.summary)
    assert window.triage.status_filter.currentData() == "open"
    assert window.triage.severity_filter.currentData() is None  # the other filters reset

    # A bar of each chart.
    window.sidebar.setCurrentRow(0)
    high = [b[0] for b in dash.severity_chart.bars()].index("high")
    qtbot.mouseClick(dash.severity_chart, LEFT, pos=dash.severity_chart.bar_center(high))
    assert len(_listed(window)) == dash.severity_chart.bars()[high][1]
    assert {f["severity"] for f in _listed(window)} == {"high"}
    window.sidebar.setCurrentRow(0)
    bars = [b[0] for b in dash.status_chart.bars()]
    review = bars.index("in review")
    qtbot.mouseClick(dash.status_chart, LEFT, pos=dash.status_chart.bar_center(review))
    assert {f["status"] for f in _listed(window)} == {"in_review"}
    assert len(_listed(window)) == dash.status_chart.bars()[review][1]

    # A month of the findings-over-time chart.
    window.sidebar.setCurrentRow(0)
    month, value = dash.month_chart.columns()[3]
    qtbot.mouseClick(dash.month_chart, LEFT, pos=dash.month_chart.column_center(3))
    assert len(_listed(window)) == value > 0
    assert month in window.triage.extra_label.text()
    qtbot.mouseClick(window.triage.extra_clear, LEFT)
    assert len(_listed(window)) == len(every)


def test_per_rule_counts_add_up_and_open_their_findings(qtbot: Any, open_window: Opener
                                                        ) -> None:
    window = open_window(AUDITOR)
    dash = window.dashboard
    headers = [dash.rules.headerData(c, Qt.Orientation.Horizontal) for c in
               range(dash.rules.columnCount())]
    assert headers[3:] == ["Findings", "Open", "In review", "Pending", "Escalated", "Decided"]
    every = window.session.read(findings.list_findings)
    for row in range(dash.rules.rowCount()):
        values = dash.rules.row_values(row)
        assert values[3] == sum(values[4:]), values  # the columns add up
        statuses = Counter(f["status"] for f in every if f["rule_id"] == values[0])
        assert values[8] == statuses["confirmed"] + statuses["dismissed"]
    trf = next(r for r in range(dash.rules.rowCount())
               if dash.rules.row_values(r)[0] == "TRF-01")
    for column, (_name, status) in enumerate(RULE_COLUMNS, start=3):
        window.sidebar.setCurrentRow(0)
        rect = dash.rules_view.visualRect(dash.rules.index(trf, column))
        qtbot.mouseClick(dash.rules_view.viewport(), LEFT, pos=rect.center())
        listed = _listed(window)
        assert len(listed) == dash.rules.row_values(trf)[column], status
        assert {f["rule_id"] for f in listed} <= {"TRF-01"}
        if status == findings.DECIDED:
            assert {f["status"] for f in listed} <= {"confirmed", "dismissed"}
        elif status is not None:
            assert {f["status"] for f in listed} <= {status}


def test_pending_my_approval_only_for_approvers(qtbot: Any, open_window: Opener) -> None:
    inspector = open_window(INSPECTOR)
    assert inspector.sidebar.item(2).isHidden()
    qtbot.keyClick(inspector, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert inspector.sidebar.currentRow() != 2
    inspector.close()
    auditor = open_window(AUDITOR)
    assert not auditor.sidebar.item(2).isHidden()
    waiting = len(auditor.session.read(findings.list_findings,
                                       findings.FindingFilters(pending_for=AUDITOR)))
    assert f"{waiting} waiting for your approval" in auditor.dashboard.attention.text()
    _click_link(qtbot, auditor.dashboard.attention, "waiting for your approval")
    assert auditor.sidebar.currentRow() == 2
    assert auditor.approvals.model.rowCount() == waiting


def test_findings_list_shows_which_carry_notes(open_window: Opener) -> None:
    window = open_window(AUDITOR, page=1)
    model = window.triage.model
    column = [c[0] for c in model.COLUMNS].index("notes")
    seen = 0
    for row in range(model.rowCount()):
        fid = model.row_dict(row)["id"]
        notes = len(window.session.read(triage.finding_detail, fid)["notes"])
        text = model.index(row, column).data()
        assert text == (f"✎ {notes}" if notes else ""), fid
        seen += bool(notes)
    assert seen >= 3  # the demo's review wrote notes on several findings


def test_ctrl_end_keeps_time_action_and_actor_in_view(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    window.resize(1366, 768)
    view = window.operations.view
    qtbot.waitUntil(lambda: view.model().rowCount() > 100)
    view.selectRow(0)
    view.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is view)
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_End,
                   Qt.KeyboardModifier.ControlModifier)
    assert view.currentIndex().row() == view.model().rowCount() - 1
    assert view.horizontalScrollBar().value() == 0
    for column in range(3):  # Time, Action, Actor
        left = view.columnViewportPosition(column)
        assert left >= 0 and left + view.columnWidth(column) <= view.viewport().width()
    assert window.operations.fields.rowCount() > 0  # the detail follows the jump
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_Home,
                   Qt.KeyboardModifier.ControlModifier)
    assert view.currentIndex().row() == 0 and view.horizontalScrollBar().value() == 0


def test_values_are_shown_one_way(qtbot: Any, open_window: Opener) -> None:
    window = open_window(ADMIN, page=3)
    ops = window.operations
    model = ops.model
    auth_col = [c[0] for c in model.COLUMNS].index("authorisation_id")
    row = next(r for r in range(200) if not model.record(r)["fields"].get("authorisation_id"))
    assert model.index(row, auth_col).data() == MISSING  # the grid says it one way...
    ops.view.selectRow(row)
    fields = {ops.fields.row_values(r)[0]: ops.fields.row_values(r)[1]
              for r in range(ops.fields.rowCount())}
    assert fields["authorisation_id"] == MISSING  # ...the detail the same way
    assert "T" not in fields["ts"]
    # The audit trail's times are stored with microseconds and shown without.
    events = window.session.read(triage.history)
    assert re.search(r"\.\d{6}", events[-1]["ts"])
    audit_row = next(r for r in range(window.sidebar.count())
                     if window.sidebar.item(r).text().startswith("Audit trail"))
    window.sidebar.setCurrentRow(audit_row)
    page = window.audit_page
    times = [page.model.row_values(r)[1] for r in range(page.model.rowCount())]
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", t)
                         for t in times), times[:3]


def _dialogs(window: MainWindow, tmp_path: Path) -> list[QtWidgets.QWidget]:
    return [VerifyDialog(window, window.prompts), ReportDialog(window.session, window),
            ImportDialog(window, tmp_path / "log.csv"), CreateDialog(window, window.prompts),
            LoginDialog(window, tmp_path, window.prompts), DismissDialog(window, 1),
            NoteDialog(window, "Confirm", "Why?"), AssignDialog(window, ["a"], None),
            EscalationDialog(window, 1, None), window]


def test_no_label_shows_a_literal_ampersand(qtbot: Any, open_window: Opener,
                                            tmp_path: Path) -> None:
    """A label "&Report:" whose buddy is missing draws the ampersand; each mnemonic label
    must have a buddy, and Alt+its letter must reach that field."""
    window = open_window(AUDITOR)
    checked = 0
    for top in _dialogs(window, tmp_path):
        for label in top.findChildren(QtWidgets.QLabel):
            text = label.text().replace("&&", "")
            if label.textFormat() == Qt.TextFormat.RichText or "<" in text:
                continue
            if re.search(r"&\w", text):
                checked += 1
                assert label.buddy() is not None, f"{top.windowTitle()}: {label.text()!r}"
    assert checked >= 15
    verify = VerifyDialog(window, window.prompts)
    qtbot.addWidget(verify)
    verify.show()
    qtbot.waitExposed(verify)
    verify.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is verify)
    qtbot.keyClick(QtWidgets.QApplication.focusWidget() or verify, Qt.Key.Key_T,
                   Qt.KeyboardModifier.AltModifier)
    assert QtWidgets.QApplication.focusWidget() is verify.trust


def test_workspaces_are_named_by_their_folder(qtbot: Any, demo_ws: Path, settings: Settings,
                                              prompts: FakePrompts,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo_ws)
    ws = Workspace.open(Path("."), INSPECTOR, PASSWORD)  # `oversight gui .`
    window = MainWindow(Session(ws, prompts), settings, prompts)
    qtbot.addWidget(window)
    assert window.windowTitle() == f"{demo_ws.name} — Oversight Workstation"
    assert demo_ws.name in window.dashboard.summary.text() or not window.dashboard.isVisible()
    window.lock()
    assert demo_ws.name in window.lock_screen.findChildren(QtWidgets.QLabel)[1].text()
    window.close()
    settings.add_recent(Path("."))
    start = StartWindow(settings, prompts)
    qtbot.addWidget(start)
    assert start.recent.item(0).text().startswith(demo_ws.name)


def test_sign_in_dialog_is_centred(qtbot: Any, tmp_path: Path, settings: Settings,
                                   prompts: FakePrompts) -> None:
    start = StartWindow(settings, prompts)
    qtbot.addWidget(start)
    start.move(40, 30)
    start.show()
    qtbot.waitExposed(start)
    login = start.open_workspace(tmp_path)
    qtbot.waitExposed(login)
    delta = login.frameGeometry().center() - start.frameGeometry().center()
    assert abs(delta.x()) <= 2 and abs(delta.y()) <= 2
    login.reject()
    start.hide()
    # `oversight gui WORKSPACE`: the sign-in dialog alone, in the middle of the screen;
    # cancelling it shows the start screen.
    station = Workstation(settings, prompts)
    qtbot.addWidget(station.start)
    station.show_start(tmp_path)
    alone = station.start.dialog
    assert isinstance(alone, LoginDialog)
    qtbot.waitExposed(alone)
    assert not station.start.isVisible()
    screen = alone.screen().availableGeometry()
    delta = alone.frameGeometry().center() - screen.center()
    assert abs(delta.x()) <= 2 and abs(delta.y()) <= 2
    alone.reject()
    qtbot.waitUntil(station.start.isVisible)


def test_escalation_recipient_is_set_by_admins_and_named(qtbot: Any, open_window: Opener,
                                                         prompts: FakePrompts) -> None:
    inspector = open_window(INSPECTOR)
    assert not inspector.escalation_action.isEnabled()
    assert "may not change workspace settings" in inspector.escalation_action.toolTip()
    inspector.close()
    admin = open_window(ADMIN)
    assert admin.escalation_action.isEnabled()
    prompts.answer("text", "Data protection officer (dpo@example.org)")
    choose_from_menu(qtbot, admin, admin.escalation_action)
    assert prompts.asked[-1] == ("text", ("Escalations", ""))
    assert admin.session.read(triage.escalation_to) == \
        "Data protection officer (dpo@example.org)"
    event = admin.session.read(triage.history)[-1]
    assert (event["action"], event["payload"]) == (
        "settings.escalation_to",
        {"from": None, "to": "Data protection officer (dpo@example.org)"})
    assert "Escalations go to Data protection officer" in admin.statusBar().currentMessage()
    admin.close()
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    page.step(0)
    prompts.answer("escalate", None)  # cancelled: only the question is checked here
    page.view.setFocus()
    qtbot.waitUntil(page.keys_ready, timeout=3000)
    qtbot.keyClick(page.view, Qt.Key.Key_E)
    assert prompts.asked[-1] == ("escalate", "Data protection officer (dpo@example.org)")
    dialog = EscalationDialog(None, 1, "Data protection officer (dpo@example.org)")
    qtbot.addWidget(dialog)
    assert "Escalate this finding to Data protection officer (dpo@example.org)" \
        in dialog.prompt.text()


def test_reports_default_to_the_workspace_reports_folder(qtbot: Any, open_window: Opener,
                                                         demo_ws: Path) -> None:
    window = open_window(AUDITOR)
    dialog = ReportDialog(window.session, window, open_url=lambda _u: None)
    qtbot.addWidget(dialog)
    out = Path(dialog.output.text())
    assert out.parent == demo_ws.resolve() / "reports"
    assert dialog.width() <= 1366 and dialog.height() <= 740
    dialog.output.setText(str(demo_ws.resolve() / "reports" / "fresh.pdf"))
    assert dialog.output.toolTip() == dialog.output.text()
    job = dialog.produce()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=60_000):
        pass
    assert (demo_ws / "reports" / "fresh.pdf").is_file()


def test_ctrl_f_searches_and_enter_returns_to_the_list(qtbot: Any, open_window: Opener
                                                       ) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    target = page.model.row_dict(7)["id"]
    page.view.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is page.view)
    qtbot.keyClick(page.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QtWidgets.QApplication.focusWidget() is page.text_filter
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), target.upper())  # any case
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_Return)
    assert QtWidgets.QApplication.focusWidget() is page.view
    assert page.model.rowCount() == 1 and page.current_id() == target


def _click_row(qtbot: Any, view: QtWidgets.QTableView, row: int, column: int) -> None:
    view.scrollTo(view.model().index(row, column))
    rect = view.visualRect(view.model().index(row, column))
    qtbot.mouseClick(view.viewport(), LEFT, pos=rect.center())


def test_a_long_message_is_elided_with_the_whole_text_at_hand(qtbot: Any, open_window: Opener
                                                              ) -> None:
    """At 1366x768 the Message column cannot hold the longest message: it is elided
    (never cut mid-letter), its tooltip is the whole message and so is the detail pane."""
    window = open_window(INSPECTOR, page=1)
    window.resize(1366, 768)
    page = window.triage
    view, model = page.view, page.model
    column = [c[0] for c in model.COLUMNS].index("message")
    metrics = view.fontMetrics()
    row = max(range(model.rowCount()),
              key=lambda r: metrics.horizontalAdvance(str(model.row_dict(r)["message"])))
    message = str(model.row_dict(row)["message"])
    qtbot.waitUntil(lambda: view.columnWidth(column) > 0)
    assert metrics.horizontalAdvance(message) > view.columnWidth(column)  # it is elided
    assert view.textElideMode() != Qt.TextElideMode.ElideNone
    assert model.index(row, column).data(Qt.ItemDataRole.ToolTipRole) == message
    _click_row(qtbot, view, row, 1)
    assert page.current_id() == model.row_dict(row)["id"]
    assert message in " ".join(page.detail.toPlainText().split())


def test_a_blank_fact_is_the_same_word_in_the_detail(qtbot: Any, open_window: Opener) -> None:
    """The demo's AUT-01 finding on an operation whose authorisation_id is a blank: the
    detail pane says "none", as the operations grid does, never an empty cell."""
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    chosen = None
    for row in range(page.model.rowCount()):
        fid = page.model.row_dict(row)["id"]
        facts = window.session.read(triage.finding_detail, fid)["facts"].get("fields") or {}
        value = facts.get("authorisation_id")
        if isinstance(value, str) and value and not value.strip():
            chosen = row
            break
    assert chosen is not None, "the demo plants an operation with a blank authorisation id"
    _click_row(qtbot, page.view, chosen, 1)
    text = page.detail.toPlainText()
    assert re.search(rf"authorisation_id\s*{MISSING}\b", text), text[:800]
    assert not re.search(r"authorisation_id\s*\n\s*(actor_id|ts)\b", text)
