"""The GUI side of issue 10: the Log quality page, warnings in the dashboard's sources
and the import summary, and the operations filter refusing an unknown column."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import INSPECTOR, PASSWORD, FakePrompts, wizard_choose, wizard_next

from oversight.workspace import Workspace
from ui.import_wizard import EXTRA, ImportWizard
from ui.main_window import MainWindow
from ui.qt import Qt, QtWidgets
from ui.session import Session

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]
DQ = ["DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05"]


def _sidebar_row(window: MainWindow, text: str) -> int:
    items = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    return items.index(text)


def _click_row(qtbot: Any, view: QtWidgets.QTableView, row: int, double: bool = False) -> None:
    index = view.model().index(row, 0)
    view.scrollTo(index)
    rect = view.visualRect(index)
    assert view.viewport().rect().contains(rect.center())
    # a real double click: press and release, then the second press (as Qt sees it)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    if double:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_log_quality_page_lists_warnings_rules_and_findings(qtbot: Any, qtmodeltester: Any,
                                                            open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    row = _sidebar_row(window, "Log quality")
    item = window.sidebar.item(row)
    qtbot.mouseClick(window.sidebar.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.sidebar.visualItemRect(item).center())
    page = window.log_quality
    assert window.pages.currentWidget() is page
    qtbot.waitUntil(lambda: page.rules.rowCount() == len(DQ))
    warnings = [page.warnings.row_values(r) for r in range(page.warnings.rowCount())]
    assert {(w[1], w[2]) for w in warnings} == {("operations.csv", "no_timestamp"),
                                                ("operations.csv", "implausible_timestamp")}
    untimed = next(w for w in warnings if w[2] == "no_timestamp")
    assert untimed[3] == 30 and "30 of 3,000 operations have no ts" in untimed[5]
    rules = [page.rules.row_values(r) for r in range(page.rules.rowCount())]
    assert [r[0] for r in rules] == DQ
    assert all(r[2].startswith(("1 finding", "2 findings")) for r in rules), rules
    found = [page.findings.row_values(r) for r in range(page.findings.rowCount())]
    assert {f[0] for f in found} == set(DQ)
    assert "9 findings" not in page.status.text() and "log-completeness finding(s) in run" \
        in page.status.text()
    for model in (page.warnings, page.rules, page.findings):
        qtmodeltester.check(model)

    # A double click opens the finding where it is triaged like any other.
    target = next(r for r, f in enumerate(found) if f[0] == "DQ-03")
    _click_row(qtbot, page.findings_view, target, double=True)
    assert window.pages.currentWidget() is window.triage
    current = window.triage.current_id()
    assert current is not None and current.startswith("DQ-03-")


def test_dashboard_sources_show_import_warnings(open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    dash = window.dashboard
    assert dash.batches.headers[7] == "Warnings"
    cells = {dash.batches.row_values(r)[2]: dash.batches.row_values(r)[7]
             for r in range(dash.batches.rowCount())}
    assert cells == {"cases.jsonl": "none", "authorisations.csv": "none",
                     "operations.csv": "no_timestamp 30; implausible_timestamp 2"}


def test_operations_filter_refuses_an_unknown_column(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    page = window.operations
    page.search.setFocus()
    qtbot.waitUntil(page.search.hasFocus)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), "Terminal=WS-0412")
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_Return)
    shown = html.unescape(page.status.text())  # the label escapes user text
    assert "no column 'Terminal'; did you mean 'terminal'?" in shown
    page.search.selectAll()
    qtbot.keyClicks(page.search, "terminal=WS-0412")
    qtbot.keyClick(page.search, Qt.Key.Key_Return)
    assert "no column" not in page.status.text()
    assert "of 3,000 operations" in page.status.text()


@pytest.fixture
def session(demo_ws: Path, prompts: FakePrompts) -> Iterator[Session]:
    opened = Session(Workspace.open(demo_ws, INSPECTOR, PASSWORD), prompts)
    yield opened
    opened.close()


def test_import_summary_shows_the_warnings(qtbot: Any, session: Session,
                                           prompts: FakePrompts, tmp_path: Path) -> None:
    data = tmp_path / "log.csv"
    data.write_text("Log No,Date,Operation\nL-1,2026-03-01T09:00:00Z,consult\n"
                    "L-2,2026-03-01T10:00:00Z,consult\n", encoding="utf-8")
    wizard = ImportWizard(session, prompts, None, choose_files=lambda _: [data],
                          choose_save=lambda _: None)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    wizard.browse_files()
    wizard_next(qtbot, wizard)
    wizard_choose(qtbot, wizard, "Date", EXTRA)  # the time stays a kept column: no ts
    wizard_choose(qtbot, wizard, "Log No", "record_id")
    wizard_next(qtbot, wizard)
    assert wizard.preview_page.isComplete(), wizard.preview_page.error.text()
    # the preview is a dry run: it says the warnings before anything is written
    preview = wizard.preview_page.counts.text()
    assert "log.csv: 2 rows, 2 would import" in preview
    assert "Warning no_timestamp (2 rows): No column is mapped to ts" in preview
    assert "Fields mapped: action; left empty: ts, actor_id" in preview
    wizard_next(qtbot, wizard)
    job = wizard.job
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    text = wizard.import_page.summary.text()
    assert "imported 2 of 2 rows" in text
    assert "Warning no_timestamp (2 rows): No column is mapped to ts" in text
    assert "Fields mapped: action; left empty: ts, actor_id" in text
    assert prompts.errors == []
    wizard.close()
