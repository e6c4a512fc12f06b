"""The one module that imports Qt (as qutebrowser does): every other module of the
workstation takes Qt from here, so the binding and its version checks live in one place.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QObject, Qt, Signal

__all__ = ["QObject", "Qt", "QtCore", "QtGui", "QtWidgets", "Signal"]
