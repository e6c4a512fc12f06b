"""A page that reads the workspace only when someone looks at it.

A change, the end of a job or unlocking marks the page stale; it reloads at once if it
is on screen, otherwise the next time it is shown. Subclasses implement ``refresh``
(which clears ``stale`` once it has read) and may react to readiness (``ready_now``),
e.g. to enable their buttons.
"""

from __future__ import annotations

from oversight.changes import Change
from ui.qt import QtGui, QtWidgets
from ui.session import Session

__all__ = ["LazyPage"]


class LazyPage(QtWidgets.QWidget):
    #: The kinds of change this page shows; None: it reloads after any change.
    SHOWS: frozenset[Change] | None = None

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._stale = True
        session.changed.connect(self._changed)
        session.ready_changed.connect(self._ready)

    def refresh(self) -> None:
        raise NotImplementedError

    def ready_now(self, ready: bool) -> None:
        """The workspace became readable (True) or busy or locked (False)."""

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _changed(self, kinds: frozenset[Change]) -> None:
        if self.SHOWS is not None and not kinds & self.SHOWS:
            return
        self._stale = True
        if self.isVisible():
            self.refresh()

    def _ready(self, ready: bool) -> None:
        self.ready_now(ready)
        if ready and self._stale and self.isVisible():
            self.refresh()
