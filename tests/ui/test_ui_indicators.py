"""The Indicators page: table, charts, filters by keyboard, compare-to, click-through to
the findings a cell counts, CSV export. Its numbers are checked against the service
computed on its own connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui_support import ADMIN, AUDITOR, PASSWORD, VIEWER

from oversight.indicators import IndicatorQuery, compute
from oversight.workspace import Workspace
from ui.indicators_page import FindingsOfCell, IndicatorsPage, LineChart, RateChart, _cell
from ui.qt import Qt, QtWidgets

pytest_plugins = ["ui_fixtures"]


def _open(qtbot: Any, window: Any) -> IndicatorsPage:
    sidebar = window.sidebar
    row = next(r for r in range(sidebar.count()) if sidebar.item(r).text() == "Indicators")
    rect = sidebar.visualItemRect(sidebar.item(row))
    page = window.indicators
    with qtbot.waitSignal(page.computed, timeout=30_000):
        qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.pages.currentWidget() is page
    return page


def _service(folder: Path, query: IndicatorQuery) -> dict[str, Any]:
    with Workspace.open(folder, VIEWER, PASSWORD) as ws:
        return compute(ws, query).to_json()


def _table(page: IndicatorsPage) -> list[tuple[Any, ...]]:
    return [page.model.row_values(i) for i in range(page.model.rowCount())]


def _focus(qtbot: Any, widget: QtWidgets.QWidget) -> None:
    """Give ``widget`` the keyboard focus (after a job's progress dialog has closed, the
    main window is made active again first)."""
    window = widget.window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window)
    widget.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is widget)


def _pick(qtbot: Any, combo: QtWidgets.QComboBox, text: str) -> None:
    """Choose an item by typing its first letters into the focused combo box."""
    _focus(qtbot, combo)
    qtbot.keyClicks(combo, text)
    assert combo.currentText().startswith(text), combo.currentText()


def _show(qtbot: Any, page: IndicatorsPage) -> None:
    with qtbot.waitSignal(page.computed, timeout=30_000):
        qtbot.mouseClick(page.show_button, Qt.MouseButton.LeftButton)


def test_table_and_charts_match_the_service(qtbot: Any, open_window: Any,
                                            demo_ws: Path) -> None:
    window = open_window(VIEWER)
    page = _open(qtbot, window)
    want = _service(demo_ws, IndicatorQuery(by=("agency",)))
    rows = _table(page)
    assert page.model.headers[:3] == ["Agency", "Operations", "Findings"]
    assert [r[0] for r in rows] == [r["group"]["agency"] for r in want["rows"]] + ["All"]
    assert [r[1] for r in rows[:-1]] == [r["operations"] for r in want["rows"]]
    assert [r[2] for r in rows[:-1]] == [r["findings"] for r in want["rows"]]
    assert rows[-1][1] == want["total"]["operations"]
    assert page.agency_chart.bars() == [(r["group"]["agency"], r["per_1000"])
                                        for r in want["rows"]]
    channels = _service(demo_ws, IndicatorQuery(by=("channel",)))
    assert [b[0] for b in page.channel_chart.bars()] == [
        r["group"]["channel"] for r in channels["rows"]]
    rules = _service(demo_ws, IndicatorQuery(by=("rule",)))
    assert page.rule_chart.bars() == [(r["group"]["rule"], r["per_1000"])
                                      for r in rules["rows"]]
    assert any(value for _, value in page.rule_chart.bars())
    months = _service(demo_ws, IndicatorQuery(by=("month",)))
    # A line over time: operations with no (plausible) time are in no month, so not drawn.
    assert page.month_chart.points() == [(r["group"]["month"], r["per_1000"])
                                         for r in months["rows"]
                                         if r["group"]["month"] is not None]
    assert any(r["group"]["month"] is None for r in months["rows"])  # the demo has some
    assert "led-baseline" in page.basis.text() and "UTC" in page.basis.text()

    # Channel by month, chosen with the keyboard.
    _pick(qtbot, page.group, "Ch")
    _pick(qtbot, page.time, "Mo")
    _show(qtbot, page)
    want = _service(demo_ws, IndicatorQuery(by=("channel", "month")))
    assert page.model.headers[:2] == ["Channel", "Month"]
    assert [(r[0], r[1], r[2]) for r in _table(page)[:-1]] == [
        (r["group"]["channel"], r["group"]["month"] or "no time", r["operations"])
        for r in want["rows"]]
    assert any(r["group"]["month"] is None for r in want["rows"])  # shown as "no time"


def test_a_wrong_date_is_one_sentence_and_nothing_runs(qtbot: Any, open_window: Any) -> None:
    window = open_window(VIEWER)
    page = _open(qtbot, window)
    before = _table(page)
    _focus(qtbot, page.date_from)
    qtbot.keyClicks(page.date_from, "2026-02-30")
    qtbot.keyClick(page.date_from, Qt.Key.Key_Return)
    assert "2026-02-30" in page.error.text() and "is not a date" in page.error.text()
    assert page.job is None and _table(page) == before
    page.date_from.clear()
    qtbot.keyClicks(page.date_from, "2026-07-01")
    with qtbot.waitSignal(page.computed, timeout=30_000):
        qtbot.keyClick(page.date_from, Qt.Key.Key_Return)
    assert page.error.text() == ""
    assert page.result is not None and page.result.meta["filters"]["from"] == "2026-07-01"


def test_click_through_to_the_findings_of_a_cell(qtbot: Any, open_window: Any,
                                                 demo_ws: Path) -> None:
    window = open_window(AUDITOR)
    page = _open(qtbot, window)
    _pick(qtbot, page.group, "Ru")
    _show(qtbot, page)
    assert page.result is not None
    row = next(i for i, r in enumerate(page.result.rows) if r.confirmed)
    column = page.model.headers.index("Confirmed")
    index = page.model.index(row, column)
    page.view.scrollTo(index)
    rect = page.view.visualRect(index)
    assert page.view.viewport().rect().contains(rect.center())
    # A real double-click: press and release, then the double-click event.
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = page.cell_dialog
    assert isinstance(dialog, FindingsOfCell)
    qtbot.waitExposed(dialog)
    rule = page.result.rows[row].group["rule"]
    with Workspace.open(demo_ws, VIEWER, PASSWORD) as ws:
        confirmed = sorted(f[0] for f in ws.conn.execute(
            "SELECT finding_id FROM findings WHERE rule_id = ? AND status = 'confirmed'"
            " AND matching = 1", (rule,)))
    assert dialog.ids() == confirmed
    # Enter on the first opens it in the Findings page.
    dialog.view.setFocus()
    dialog.view.setCurrentIndex(dialog.model.index(0, 0))
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.keyClick(dialog.view, Qt.Key.Key_Return)
    assert window.pages.currentWidget() is window.triage
    current = window.triage.view.selectionModel().currentIndex()
    assert window.triage.model.row_of(confirmed[0]) == current.row()


def test_compare_with_a_period_and_export(qtbot: Any, open_window: Any, demo_ws: Path,
                                          tmp_path: Path) -> None:
    """The demo's second quarter of 2025 against its first (both hold operations and
    findings, so the change columns have something to show)."""
    window = open_window(ADMIN)
    page = _open(qtbot, window)
    page.date_from.setText("2025-04-01")
    page.date_to.setText("2025-06-30")
    _pick(qtbot, page.compare, "A p")
    assert page.compare_period.isEnabled()
    _focus(qtbot, page.compare_period)
    qtbot.keyClicks(page.compare_period, "2025-Q1")
    with qtbot.waitSignal(page.computed, timeout=30_000):
        qtbot.keyClick(page.compare_period, Qt.Key.Key_Return)
    assert "Δ per 1,000" in page.model.headers
    assert "2025-01-01 to 2025-03-31" in page.basis.text()
    from datetime import date

    with Workspace.open(demo_ws, VIEWER, PASSWORD) as ws:
        want = compute(ws, IndicatorQuery(by=("agency",), date_from=date(2025, 4, 1),
                                          date_to=date(2025, 6, 30), compare_to="2025-Q1"))
    doc = want.to_json()
    assert doc["total"]["operations"] > 0 and doc["total"]["findings"] > 0
    assert doc["total"]["change"]["baseline"]["operations"] > 0
    delta = page.model.headers.index("Δ findings")
    shown = _table(page)
    assert [(r[0], r[1], r[delta]) for r in shown] == [
        (r["group"]["agency"], r["operations"], r["change"]["findings"])
        for r in doc["rows"]] + [("All", doc["total"]["operations"],
                                  doc["total"]["change"]["findings"])]
    target = tmp_path / "indicators.csv"
    page.choose_save_path = lambda: target  # type: ignore[method-assign]
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes().decode("utf-8") == "\ufeff" + want.csv()
    assert target.stat().st_mode & 0o077 == 0
    assert "baseline_operations" in target.read_text(encoding="utf-8").splitlines()[0]
    assert "Exported" in window.statusBar().currentMessage()


def test_compare_with_an_earlier_run(qtbot: Any, open_window: Any, demo_ws: Path,
                                     tmp_path: Path) -> None:
    """A second batch (four look-ups by GB-MET in June 2025) and a second run: the
    compare-to choice lists run 1, chosen by keyboard; the change columns are the
    service's, and GB-MET's operations went up by four."""
    from oversight.criteria.engine import run_detection
    from oversight.criteria.pack import default_pack
    from oversight.importing import import_file
    from oversight.records import Kind

    extra = tmp_path / "extra.csv"
    extra.write_text("record_id,ts,action,actor_id,actor_role,agency,justification\n" + "".join(
        f"X{i},2025-06-1{i}T10:00:00+00:00,consult,met-x,analyst,GB-MET,\n" for i in range(4)),
        encoding="utf-8")
    with Workspace.open(demo_ws, ADMIN, PASSWORD) as ws:
        import_file(ws, extra, Kind.OPERATIONS)
        run_detection(ws, default_pack())
    window = open_window(VIEWER)
    page = _open(qtbot, window)
    _pick(qtbot, page.compare, "Run 1")
    _show(qtbot, page)
    assert "Changes against run 1." in page.basis.text()
    with Workspace.open(demo_ws, VIEWER, PASSWORD) as ws:
        doc = compute(ws, IndicatorQuery(by=("agency",), compare_to="1")).to_json()
    assert doc["latest_run"] == 2
    met = next(r for r in doc["rows"] if r["group"]["agency"] == "GB-MET")
    assert met["change"]["operations"] == 4
    delta = page.model.headers.index("Δ findings")
    overlap = page.model.headers.index("Intervals overlap")
    shown = _table(page)
    assert [(r[0], r[1], r[delta]) for r in shown[:-1]] == [
        (r["group"]["agency"], r["operations"], r["change"]["findings"]) for r in doc["rows"]]
    words = {True: "yes", False: "no", None: ""}
    assert [r[overlap] for r in shown[:-1]] == [
        words[r["change"]["intervals_overlap"]] for r in doc["rows"]]


def test_a_small_rate_is_not_drawn_or_listed_as_zero(qtbot: Any) -> None:
    """Two findings among 50,000 operations are 0.04 per 1,000: to one place that is
    "0.0", which reads as nothing found."""
    chart = RateChart("Findings per 1,000 operations, by rule")
    qtbot.addWidget(chart)
    chart.set_bars([("PRO-01", 2 * 1000 / 50_000), ("AUT-01", 123 * 1000 / 50_000),
                    ("XB-01", 0.0)])
    assert chart.value_texts() == ["0.04", "2.5", "0.0"]  # one place: a rate over 1
    chart.set_bars([("PUR-01", 0.06), ("LOG-01", 0.08), ("XB-01", 0.0)])
    assert chart.value_texts() == ["0.06", "0.08", "0.00"]  # all under 1: two places
    chart.resize(400, 120)
    assert not chart.grab().isNull()  # paints with those labels
    assert _cell("per_1000", 1 * 1000 / 400_000) == "0.003"
    assert _cell("confirmed_rate", 1 / 5_000) == "0.02%"
    line = LineChart("Findings per 1,000 operations, by month")
    qtbot.addWidget(line)
    line.set_points([("2025-01", 0.02), ("2025-02", 0.08)])
    assert line.peak_text() == "0.08"  # the axis top says what the highest point is
    line.set_points([("2025-01", 2.0), ("2025-02", 12.34)])
    assert line.peak_text() == "12.3"
    line.resize(400, 160)
    assert not line.grab().isNull()
