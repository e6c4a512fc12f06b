"""The operations browser page and the core reads behind it (oversight.browse)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from test_demo_data import demo_finding_count
from ui_support import INSPECTOR, PASSWORD

from oversight import browse, findings, queries
from oversight.errors import PermissionDenied, UsageError
from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.qt import Qt, QtCore

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


@pytest.fixture
def ws(demo_ws: Path) -> Any:
    with Workspace.open(demo_ws, INSPECTOR, PASSWORD) as opened:
        yield opened


def test_browse_filters(ws: Workspace) -> None:
    F = browse.Filters
    assert browse.count(ws) == 3000
    transfers = browse.count(ws, F(action="transfer"))
    assert 0 < transfers < 3000
    assert browse.count(ws, F(where=(("action", "transfer"),))) == transfers
    assert browse.count(ws, F(actor="GB-MET")) == browse.count(ws, F(actor="gb-met"))
    march = browse.count(ws, F(since=date(2025, 3, 1), until=date(2025, 3, 31)))
    assert 0 < march < 3000
    moment = browse.count(ws, F(since=datetime(2025, 3, 1, tzinfo=UTC)))
    assert march < moment < 3000
    assert browse.count(ws, F(where=(("subject_ids", "P-000212"),))) >= 1
    assert browse.count(ws, F(where=(("terminal", "WS-4003"),))) >= 1  # an extra column
    # User text is a parameter: quotes, wildcards and SQL mean nothing special.
    for text in ("100%", "a_b", "x' OR '1'='1", '"; DROP TABLE operations; --'):
        assert browse.count(ws, F(text=text)) == 0
        assert browse.count(ws, F(where=(("case_id", text),))) == 0
    assert browse.count(ws) == 3000
    with pytest.raises(UsageError, match="whole number"):
        browse.count(ws, F(where=(("records_count", "many"),)))


def test_browse_ids_sort_and_rows(ws: Workspace) -> None:
    ids = browse.rids(ws, browse.Filters(action="transfer"), "ts", descending=True)
    rows = browse.rows(ws, ids[:5])
    assert [r["rid"] for r in rows] == ids[:5]  # in the order asked
    assert all("ts_utc" not in r["fields"] for r in rows)  # storage helpers stay hidden
    utc = [datetime.fromisoformat(r["fields"]["ts"]) for r in rows]
    assert utc == sorted(utc, reverse=True)
    assert browse.rids(ws, None, "rid")[:3] == [1, 2, 3]
    with pytest.raises(UsageError, match="cannot be sorted"):
        browse.rids(ws, None, "ts; DROP TABLE operations")
    assert "terminal" not in browse.sort_keys()
    assert browse.rows(ws, [999_999]) == []


def test_browse_parse_query_and_findings(ws: Workspace) -> None:
    text, where = queries.parse_query('night x=1 justification="night shift" O\'Brien')
    assert text == "night O'Brien"
    assert where == (("x", "1"), ("justification", "night shift"))
    assert len(findings.list_findings(ws)) == demo_finding_count(3000, 20261128)
    critical = findings.list_findings(ws, findings.FindingFilters(severity="critical"))
    assert {f["severity"] for f in critical} == {"critical"}
    assert findings.list_findings(ws, findings.FindingFilters(pending_for=INSPECTOR)) == []
    assert len(findings.list_findings(ws, findings.FindingFilters(pending_for="someone"))) == 1
    with pytest.raises(UsageError):
        findings.list_findings(ws, findings.FindingFilters(status="bogus"))
    (rid,) = ws.conn.execute("SELECT r.rid FROM finding_records r JOIN findings f"
                             " USING (finding_id) WHERE f.rule_id = 'AUT-01' LIMIT 1").fetchone()
    assert browse.findings_of_record(ws, rid)[0]["rule_id"] == "AUT-01"
    assert "transfer" in browse.values(ws, "action")


def test_browse_needs_read_permission(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws, "can", lambda permission: False)
    with pytest.raises(PermissionDenied):
        browse.count(ws)


def test_operations_page_filters_sort_and_detail(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    page = window.operations
    assert "3,000 of 3,000" in page.status.text()
    page.search.setText("action=transfer")
    with qtbot.waitSignal(page._debounce.timeout, timeout=2000):
        pass
    transfers = page.model.rowCount()
    assert 0 < transfers < 3000 and "match the filter" in page.status.text()
    page.action_filter.setCurrentIndex(page.action_filter.findData("transfer"))
    assert page.model.rowCount() == transfers
    page.since.setText("2026-13-01")
    page.apply_filters()
    assert "not a date" in page.status.text()
    page.since.setText("2025-06-01")
    page.apply_filters()
    later = page.model.rowCount()
    assert 0 < later < transfers

    page.view.selectRow(3)
    rid = page._current_rid()
    names = [page.fields.row_values(r)[0] for r in range(page.fields.rowCount())]
    assert names[:3] == ["record_id", "batch_id", "line"]
    assert "recipient_country" in names and "terminal" in names  # canonical and extra
    # Clicking a header sorts in the database; the selected operation stays selected.
    header = page.view.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.viewport().rect().topLeft() + _section_center(header, 2))
    assert page.model.sort_key == "actor_id"
    assert page._current_rid() == rid

    page.search.clear()
    page.action_filter.setCurrentIndex(0)
    page.since.clear()
    page.apply_filters()
    # an operation that is part of exactly one finding
    (one,) = window.session.read(lambda ws: ws.conn.execute(
        "SELECT rid FROM finding_records GROUP BY rid HAVING count(*) = 1 ORDER BY rid"
        " LIMIT 1").fetchone())
    row = page.model.row_of(one)
    page.view.selectRow(row)
    assert page.record_findings.rowCount() == 1 and page.findings_view.isVisibleTo(page)
    page.findings_view.doubleClicked.emit(page.record_findings.index(0, 0))
    assert window.pages.currentWidget() is window.triage
    assert window.triage.current_id() == page.record_findings.row_values(0)[4]


def _section_center(header: Any, section: int) -> Any:
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    return QtCore.QPoint(x, header.height() // 2)
