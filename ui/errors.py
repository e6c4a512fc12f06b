"""How errors reach the user: a sentence, and the technical rest behind "Details".

Three kinds, as in Anki: an OversightError is something the user can act on, so its
message is the whole story (details: its code and, for validation, every issue);
Cancelled is what the user asked for and is never reported; anything else is a bug,
shown with a plain sentence and a traceback the user can copy into a report.
"""

from __future__ import annotations

import platform
import sys
import traceback

from oversight.errors import Cancelled, OversightError, ValidationError
from ui.qt import QtCore, QtWidgets

__all__ = ["BUG_SENTENCE", "describe", "error_box", "is_cancel"]

BUG_SENTENCE = ("Something went wrong that the workstation did not expect; nothing was "
                "changed by the failed step. Please report it with the details below.")


def is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, Cancelled)


def describe(exc: BaseException) -> tuple[str, str]:
    """(sentence for the user, details for the Details expander)."""
    if isinstance(exc, OversightError):
        lines = [f"{type(exc).__name__} (code: {exc.code})"]
        if isinstance(exc, ValidationError):
            lines.append("")
            lines.extend(str(issue) for issue in exc.issues)
        cause = exc.__cause__
        if cause is not None:
            lines.append("")
            lines.append(f"Caused by {type(cause).__name__}: {cause}")
        return exc.message, "\n".join(lines)
    trace = "".join(traceback.format_exception(exc))
    info = (f"Oversight Workstation, Python {sys.version.split()[0]}, "
            f"Qt {QtCore.qVersion()}, {platform.platform()}")
    return BUG_SENTENCE, f"{info}\n\n{trace}"


def error_box(parent: QtWidgets.QWidget | None, exc: BaseException,
              title: str = "Oversight Workstation") -> QtWidgets.QMessageBox:
    """A message box with the sentence and a "Show Details..." expander (not shown yet)."""
    sentence, details = describe(exc)
    box = QtWidgets.QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIcon(QtWidgets.QMessageBox.Icon.Warning if isinstance(exc, OversightError)
                else QtWidgets.QMessageBox.Icon.Critical)
    box.setTextFormat(QtCore.Qt.TextFormat.PlainText)  # sentences quote user input
    box.setText(sentence)
    box.setDetailedText(details)
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Close)
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    if not isinstance(exc, OversightError):
        copy = box.addButton("Copy debug info and close",
                             QtWidgets.QMessageBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(
            f"{sentence}\n\n{details}"))
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    return box
