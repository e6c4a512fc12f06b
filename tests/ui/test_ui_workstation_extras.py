"""Findings over time, the column chooser, the registers in the finding detail and
colours that stay readable in a dark palette."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ui_support import INSPECTOR

from oversight import findings, triage
from ui.dashboard import findings_per_month
from ui.main_window import MainWindow
from ui.qt import QtCore, QtGui, QtWidgets
from ui.triage_page import detail_html, registers_html
from ui.widgets import ColumnChart, contrast_ratio, is_dark, readable

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def test_dashboard_findings_per_month(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=0)
    chart = window.dashboard.month_chart
    qtbot.waitUntil(lambda: bool(chart.columns()))
    expected = dict(window.session.read(lambda ws: ws.conn.execute(
        "SELECT strftime('%Y-%m', first_ts_utc / 1000000, 'unixepoch'), count(*)"
        " FROM findings WHERE first_ts_utc IS NOT NULL GROUP BY 1").fetchall()))
    columns = chart.columns()
    assert {m: n for m, n in columns if n} == expected
    timed = [f for f in window.session.read(findings.list_findings) if f["first_ts_utc"]]
    assert sum(n for _, n in columns) == len(timed)
    months = [m for m, _ in columns]
    assert months == sorted(months) and len(set(months)) == len(months)
    assert chart.grab().width() > 0  # paints
    # Gaps are kept as empty months, so the axis is even.
    assert findings_per_month([{"first_ts_utc": 1767225600_000000},  # 2026-01-01
                               {"first_ts_utc": 1775001600_000000},  # 2026-04-01
                               {"first_ts_utc": None}]) == [
        ("2026-01", 1), ("2026-02", 0), ("2026-03", 0), ("2026-04", 1)]


def test_operations_column_chooser_is_remembered(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    ops = window.operations
    header = ops.view.horizontalHeader()
    assert not ops.view.isColumnHidden(1)
    header.customContextMenuRequested.emit(QtCore.QPoint(10, 5))
    menu = ops.columns_menu
    assert menu is not None
    actions = menu.actions()
    assert len(actions) == ops.model.columnCount()
    assert all(a.isCheckable() and a.isChecked() for a in actions)
    name = actions[1].text()
    actions[1].setChecked(False)
    assert ops.view.isColumnHidden(1)
    assert window.settings.bytes_value("columns/operations") is not None  # saved at once
    menu.close()
    window.close()

    again = open_window(INSPECTOR, page=3)
    ops2 = again.operations
    assert ops2.view.isColumnHidden(1)
    ops2.view.horizontalHeader().customContextMenuRequested.emit(QtCore.QPoint(10, 5))
    assert ops2.columns_menu is not None
    second = ops2.columns_menu.actions()[1]
    assert second.text() == name and not second.isChecked()
    second.setChecked(True)
    assert not ops2.view.isColumnHidden(1)
    ops2.columns_menu.close()
    # The last visible column cannot be hidden.
    for col in range(ops2.model.columnCount()):
        ops2.view.setColumnHidden(col, col != 0)
    ops2.view.horizontalHeader().customContextMenuRequested.emit(QtCore.QPoint(10, 5))
    assert ops2.columns_menu is not None
    assert not ops2.columns_menu.actions()[0].isEnabled()
    ops2.columns_menu.close()


@pytest.mark.parametrize(("rule", "section", "key"),
                         [("AUT-02", "Authorisation consulted", "authorisations"),
                          ("PUR-02", "Case consulted", "cases")])
def test_triage_detail_shows_registers(qtbot: Any, open_window: Opener, rule: str,
                                       section: str, key: str) -> None:
    window = open_window(INSPECTOR, page=1)
    page = window.triage
    page.rule_filter.setCurrentIndex(page.rule_filter.findData(rule))
    qtbot.waitUntil(lambda: page.model.rowCount() > 0)
    # the first finding whose records cite an entry of the register (AUT-02 also finds
    # operations citing an authorisation the register does not hold)
    for row in range(page.model.rowCount()):
        page.view.selectRow(row)
        fid = page.current_id()
        assert fid is not None
        registers = window.session.read(triage.finding_detail, fid)["registers"]
        if registers[key]:
            break
    assert registers[key]
    ident = registers[key][0]["record_id"]
    qtbot.waitUntil(lambda: section in page.detail.toPlainText())
    text = page.detail.toPlainText()
    assert f"{section}: {ident}" in text
    if key == "authorisations":
        assert "valid" in text and "issuer" in text and "approval" in text
    else:
        assert "opened" in text and "team" in text


def test_registers_are_escaped() -> None:
    html = registers_html({"authorisations": [
        {"record_id": "<b>A-1</b>", "fields": {"issuer_role": "<script>x</script>",
                                               "actions": ["a&b"], "subject_ids": []}}],
        "cases": [{"record_id": "C-1", "fields": {"team": ["<i>t</i>"]}}]})
    assert "<b>A-1</b>" not in html and "&lt;b&gt;A-1&lt;/b&gt;" in html
    assert "<script>" not in html and "a&amp;b" in html and "&lt;i&gt;t" in html
    assert "Case consulted: C-1" in html and "still open" in html


@pytest.fixture
def dark_palette(qapp: QtWidgets.QApplication) -> Iterator[QtGui.QPalette]:
    old = QtGui.QPalette(qapp.palette())
    dark = QtGui.QPalette()
    for role, color in ((QtGui.QPalette.ColorRole.Window, "#202124"),
                        (QtGui.QPalette.ColorRole.WindowText, "#e8eaed"),
                        (QtGui.QPalette.ColorRole.Base, "#121212"),
                        (QtGui.QPalette.ColorRole.Text, "#e8eaed")):
        dark.setColor(role, QtGui.QColor(color))
    qapp.setPalette(dark)
    try:
        yield dark
    finally:
        qapp.setPalette(old)


def test_colours_stay_readable_in_a_dark_palette(qtbot: Any, dark_palette: QtGui.QPalette
                                                 ) -> None:
    window_bg = dark_palette.color(QtGui.QPalette.ColorRole.Window)
    base_bg = dark_palette.color(QtGui.QPalette.ColorRole.Base)
    assert is_dark()
    for color in ("#b3261e", "#188038", "#1e7b34"):  # the error red, the OK greens
        assert contrast_ratio(QtGui.QColor(color), window_bg) < 4.5  # unreadable as is
        assert contrast_ratio(QtGui.QColor(readable(color)), window_bg) >= 4.5
    for color in ("#e8710a", "#808080"):
        assert contrast_ratio(QtGui.QColor(readable(color)), window_bg) >= 4.5
    browser = QtWidgets.QTextBrowser()
    qtbot.addWidget(browser)
    assert is_dark(browser)
    d = {"rule_id": "AUT-02", "severity": "critical", "status": "pending_approval",
         "id": "F-1", "pack": "p", "first_run": 1, "last_run": 1, "message": "m",
         "pending_by": "ines", "pending_status": "confirmed", "facts": {"x": None}}
    html = detail_html(d, browser)
    warn = readable("#e8710a", browser, QtGui.QPalette.ColorRole.Base)
    assert f"color:{warn}" in html
    assert contrast_ratio(QtGui.QColor(warn), base_bg) >= 4.5
    swatch = readable("#b3261e", browser, QtGui.QPalette.ColorRole.Base, 3.0)
    assert swatch != "#b3261e" and f"color:{swatch}'>■" in html
    assert contrast_ratio(QtGui.QColor(swatch), base_bg) >= 3.0
    chart = ColumnChart()
    qtbot.addWidget(chart)
    chart.set_columns([("2026-01", 3), ("2026-02", 0)])
    assert chart.grab().width() > 0


def test_light_palette_keeps_the_colours(qapp: QtWidgets.QApplication) -> None:
    light = QtGui.QPalette()
    light.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#ffffff"))
    old = QtGui.QPalette(qapp.palette())
    qapp.setPalette(light)
    try:
        assert not is_dark()
        assert readable("#b3261e") == "#b3261e"
    finally:
        qapp.setPalette(old)
