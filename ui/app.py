"""Entry point of the desktop workstation: ``oversight gui [WORKSPACE]``.

The controller moves between the start screen and one main window; closing the
workspace returns to the start screen, quitting ends the application.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import TracebackType

from oversight import __version__
from oversight.workspace import Workspace
from ui.errors import error_box
from ui.main_window import MainWindow
from ui.prompts import Prompts
from ui.qt import QObject, QtCore, QtWidgets
from ui.session import Session
from ui.settings import APPLICATION, ORGANISATION, Settings
from ui.start import StartWindow

__all__ = ["Workstation", "main"]


class Workstation(QObject):
    """The start screen and, once signed in, the main window."""

    def __init__(self, settings: Settings, prompts: Prompts,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.prompts = prompts
        self.start = StartWindow(settings, prompts)
        self.start.opened.connect(self.show_main)
        self.main: MainWindow | None = None
        self._quitting = False

    def show_start(self, folder: Path | None = None) -> None:
        self.start.refresh_recent()
        if folder is None:
            self.start.show()
            return
        # A folder on the command line: only the sign-in dialog, in the middle of the
        # screen (over a start window the window manager has not placed yet it would
        # land in a corner); cancelling it shows the start screen.
        dialog = self.start.open_workspace(folder)
        dialog.rejected.connect(self.start.show)

    def show_main(self, ws: Workspace) -> MainWindow:
        session = Session(ws, self.prompts)
        window = MainWindow(session, self.settings, self.prompts)
        window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        window.closed.connect(self._main_closed)
        self.main = window
        self.start.hide()
        window.show()
        return window

    def _main_closed(self) -> None:
        self.main = None
        if self._quitting:
            return
        self.start.refresh_recent()
        self.start.show()

    def shutdown(self) -> None:
        self._quitting = True
        if self.main is not None:
            self.main.close()
        self.start.close()


def _excepthook(kind: type[BaseException], exc: BaseException,
                tb: TracebackType | None) -> None:
    """An exception escaping a Qt slot is a bug: show it instead of only printing it."""
    sys.__excepthook__(kind, exc, tb)
    if QtWidgets.QApplication.instance() is not None:
        box = error_box(QtWidgets.QApplication.activeWindow(), exc)
        box.open()


def main(argv: list[str] | None = None) -> int:
    """Run the workstation; ``argv`` without the program name: ``[WORKSPACE]``."""
    parser = argparse.ArgumentParser(
        prog="oversight gui", description="The Oversight desktop workstation.")
    parser.add_argument("workspace", nargs="?", type=Path,
                        help="workspace folder to open (asks for user and password)")
    parser.add_argument("--version", action="version", version=__version__)
    args, qt_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    app = QtWidgets.QApplication.instance()
    if not isinstance(app, QtWidgets.QApplication):
        app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "oversight", *qt_args])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setApplicationVersion(__version__)
    sys.excepthook = _excepthook
    workstation = Workstation(Settings(), Prompts())
    app.aboutToQuit.connect(workstation.shutdown)
    workstation.show_start(args.workspace)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
