"""The Qt binding itself: a workstation stays open for a whole review session, so a
leak per call in the binding is a crash after hours, not a slow-down."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


def test_qt_calls_keep_their_references_to_none(qtbot: QtBot) -> None:
    """PySide6 6.12.0 dropped one reference to None per call of a method returning
    nothing (on Python 3.11, where None is reference-counted); after enough calls the
    interpreter aborts with "Fatal Python error: none_dealloc"."""
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for n in range(2_000):
        label.setText(f"finding {n}")
    assert sys.getrefcount(None) >= before - 50
