"""Scan in place (large logs) from the GUI: through the import wizard to the scan dialog,
the scan as a job with progress and Cancel, its summary, the findings on the Findings
page, the scan's provenance on the Sources page and the dashboard; a bad pattern is a
sentence in the dialog; Enter never starts a scan, Escape cancels one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from ui_support import ADMIN, choose_from_menu

from oversight.demo_data import generate
from oversight.records import Kind
from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.qt import Qt, QtWidgets
from ui.scan_dialog import ScanDialog

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]
TABLES = ("batches", "operations", "findings", "audit_events", "runs")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo-like operations log (another seed than the workspace's: new records) and
    the same log 200 times over (500,000 rows), for cancelling mid-scan."""
    folder = tmp_path_factory.mktemp("scan-logs")
    small = generate(folder / "small", operations=2500, seed=7).operations
    big = folder / "big" / "operations.csv"
    big.parent.mkdir()
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (record_id || '.' || k AS record_id) FROM "
                f"read_csv('{small}', all_varchar=true, header=true), "
                f"(SELECT range AS k FROM range(200))) TO '{big}' (HEADER true)")
    con.close()
    return {"small": small, "big": big}


def _counts(ws: Workspace) -> tuple[int, ...]:
    return tuple(int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                 for t in TABLES)


def _focused() -> QtWidgets.QWidget:
    widget = QtWidgets.QApplication.focusWidget()
    assert widget is not None
    return widget


def _scan_dialog_from_wizard(qtbot: Any, window: MainWindow, paths: list[Path]
                             ) -> ScanDialog:
    """Workspace ▸ Import wizard, the files, then "Scan in place (large logs)"."""
    choose_from_menu(qtbot, window, window.import_wizard_action)
    wizard = window.import_wizard
    assert wizard is not None
    qtbot.waitExposed(wizard)
    wizard.files_page.add_paths(paths)
    button = wizard.files_page.scan_button
    wizard.files_page.set_kind(Kind.AUTHORISATIONS)  # the scan reads operations logs only
    assert not button.isEnabled()
    wizard.files_page.set_kind(Kind.OPERATIONS)
    assert button.isEnabled() and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.scan_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is dialog)
    assert dialog.paths() == [str(p) for p in paths]
    return dialog


def test_a_scan_through_the_wizard_brings_back_findings_with_provenance(
        qtbot: Any, open_window: Opener, logs: dict[str, Path]) -> None:
    window = open_window(ADMIN, page=1)
    session = window.session
    before_ids = set(window.triage.model.ids())
    before = session.read(_counts)
    dialog = _scan_dialog_from_wizard(qtbot, window, [logs["small"]])
    # The options by keyboard: Tab from the list to the memory limit, a typed value.
    dialog.sources.setFocus()
    while _focused() is not dialog.memory.lineEdit() and _focused() is not dialog.memory:
        qtbot.keyClick(_focused(), Qt.Key.Key_Tab)
    dialog.memory.lineEdit().selectAll()
    qtbot.keyClicks(_focused(), "1GB")
    # Enter in a field does not start the scan.
    qtbot.keyClick(_focused(), Qt.Key.Key_Return)
    assert dialog.job is None and session.job is None and dialog.isVisible()
    assert dialog.memory.currentText() == "1GB"
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    assert dialog.job is not None and not session.ready
    qtbot.waitUntil(lambda: dialog.job is None, timeout=120_000)
    assert dialog.error.text() == ""
    assert dialog.status.text() == "Scan finished."
    outcome = dialog.outcome
    assert outcome is not None and outcome.result is not None
    result = outcome.result
    run = result.run
    assert run is not None
    new = run.to_json()["new"]
    assert new > 0
    text = dialog.summary.toPlainText()
    (f,) = result.files
    assert f.rows_read == 2500 and f.sha256 is not None
    assert "1 file scanned in place by DuckDB" in text
    assert f"2,500 rows read, {f.rows_rejected:,} rejected" in text
    assert f"({new:,} new)" in text
    assert f"SHA-256 {f.sha256}" in text
    for rule, why in result.not_evaluated.items():  # the log-completeness rules, at least
        assert f"  {rule}: {why}." in text
    assert result.not_evaluated
    # The new findings are on the Findings page.
    after_ids = set(window.triage.model.ids())
    assert len(after_ids - before_ids) == new
    after = session.read(_counts)
    assert after[0] == before[0] + 1 and after[2] == before[2] + new
    # The batch and its provenance on the Sources page and the dashboard.
    window.sidebar.setCurrentRow(window.pages.indexOf(window.sources_page))
    page = window.sources_page
    qtbot.waitUntil(lambda: page.select(int(f.batch_id or 0)))
    detail = page.detail.text()
    assert "Scanned in place by DuckDB" in detail
    assert f"{f.path.stat().st_size:,} bytes" in detail and f.sha256 in detail
    assert "2,500 rows read" in detail
    window.sidebar.setCurrentRow(0)
    qtbot.waitUntil(lambda: "scanned in place by DuckDB" in window.dashboard.scans.text())
    assert "1 file, 2,500 rows scanned in place by DuckDB" in window.dashboard.scans.text()
    assert "hashes: computed" in window.dashboard.scans.text()


def test_escape_during_the_scan_cancels_it_and_writes_nothing(
        qtbot: Any, open_window: Opener, logs: dict[str, Path]) -> None:
    window = open_window(ADMIN)
    session = window.session
    before = session.read(_counts)
    dialog = _scan_dialog_from_wizard(qtbot, window, [logs["big"]])
    dialog.hashes.setFocus()
    qtbot.keyClick(_focused(), Qt.Key.Key_Space)  # no hashes: DuckDB reads at once
    assert not dialog.hashes.isChecked()
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    job = dialog.job
    assert job is not None
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Reading"), timeout=60_000)
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is dialog)
    assert _focused() is dialog.cancel_button
    with qtbot.waitSignal(job.ended, timeout=60_000):
        qtbot.keyClick(_focused(), Qt.Key.Key_Escape)
        assert job.cancelled and dialog.isVisible()  # the dialog stays to say so
    assert dialog.status.text() == "Scan cancelled; nothing was written."
    assert dialog.error.text() == "" and window.prompts.errors == []  # type: ignore[attr-defined]
    assert session.read(_counts) == before
    # Escape when nothing runs closes the dialog.
    assert _focused() is dialog.close_button
    qtbot.keyClick(_focused(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.scan_dialog is None)


def test_a_pattern_that_matches_nothing_is_a_sentence_in_the_dialog(
        qtbot: Any, open_window: Opener, tmp_path: Path) -> None:
    window = open_window(ADMIN)
    session = window.session
    before = session.read(_counts)
    choose_from_menu(qtbot, window, window.scan_action)
    dialog = window.scan_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is dialog)
    qtbot.keyClick(_focused(), Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)  # "&pattern"
    assert _focused() is dialog.pattern
    pattern = str(tmp_path / "nowhere" / "**" / "*.parquet")
    qtbot.keyClicks(_focused(), pattern)
    qtbot.keyClick(_focused(), Qt.Key.Key_Return)  # Enter: nothing happens
    assert dialog.job is None and dialog.error.text() == ""
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    assert dialog.job is None and session.job is None
    assert dialog.error.text() == f"{pattern}: the pattern matches no file."
    assert session.read(_counts) == before
    # A profile that is not there: also a sentence, nothing run.
    dialog.pattern.clear()
    dialog.add_paths([tmp_path])
    assert dialog.error.text() == ""
    qtbot.mouseClick(dialog.scan_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == (f"{tmp_path}: the folder holds no CSV, JSON Lines or "
                                   "Parquet file.")
    assert session.read(_counts) == before
