"""Operations browser speed, offscreen: first rows, jump to the end, filter.

Builds a workspace with --rows operations (the CSV generator of bench/import_speed.py,
imported with import_file; setup, not measured), then times in an offscreen window:

  first rows  opening the workspace (password check included) until the operations
              browser has painted its first visible rows;
  jump        scrollToBottom until the last rows are fetched and painted;
  filter      applying ``action=transfer`` until the view has painted the results.

Prints `first rows: X s`, `jump: X s`, `filter: X s` (targets 2 s, 0.3 s, 1 s).

    QT_QPA_PLATFORM=offscreen python bench/gui_speed.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_speed import generate

from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Workspace
from ui.main_window import MainWindow
from ui.prompts import Prompts
from ui.qt import QObject, QtCore, QtWidgets
from ui.session import Session
from ui.settings import Settings

USER, PASSWORD = "bench", "bench-password"


class PaintCounter(QObject):
    """Counts paint events of a view's viewport."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint:
            self.paints += 1
        return False


def wait_until(app: QtWidgets.QApplication, done: object, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not done():  # type: ignore[operator]
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if time.perf_counter() > end:
            raise SystemExit("timed out waiting for the view")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    assert isinstance(app, QtWidgets.QApplication)
    with tempfile.TemporaryDirectory(prefix="oversight-bench-") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "operations.csv"
        t0 = time.perf_counter()
        generate(src, args.rows)
        with Workspace.create(tmpd / "ws", USER, PASSWORD) as ws:
            import_file(ws, src, Kind.OPERATIONS)
        print(f"setup: {args.rows:,} operations generated and imported in "
              f"{time.perf_counter() - t0:.1f} s")

        settings = Settings.at(tmpd / "settings.ini")
        # -- first rows ------------------------------------------------------------------
        t0 = time.perf_counter()
        session = Session(Workspace.open(tmpd / "ws", USER, PASSWORD), Prompts())
        opened = time.perf_counter() - t0
        window = MainWindow(session, settings, Prompts())
        page = window.operations
        counter = PaintCounter()
        page.view.viewport().installEventFilter(counter)
        window.show()
        window.sidebar.setCurrentRow(3)
        wait_until(app, lambda: counter.paints > 0 and page.model.cached() > 0
                   and page.model.rowCount() == args.rows)
        first = time.perf_counter() - t0
        print(f"  (of which opening the workspace, key derivation included: {opened:.2f} s)")
        print(f"first rows: {first:.2f} s")

        # -- jump to the last row --------------------------------------------------------
        last_rid = page.model.rid_at(page.model.rowCount() - 1)
        before = counter.paints
        t0 = time.perf_counter()
        page.view.scrollToBottom()
        wait_until(app, lambda: counter.paints > before
                   and last_rid in page.model._cache)
        print(f"jump: {time.perf_counter() - t0:.2f} s")

        # -- filter ----------------------------------------------------------------------
        before, fetches = counter.paints, page.model.fetches
        t0 = time.perf_counter()
        page.search.setText("action=transfer")
        page.apply_filters()
        wait_until(app, lambda: counter.paints > before and page.model.fetches > fetches
                   and 0 < page.model.rowCount() < args.rows)
        print(f"filter: {time.perf_counter() - t0:.2f} s "
              f"({page.model.rowCount():,} rows match)")
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
