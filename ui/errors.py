"""How errors reach the user: a sentence, and the technical rest behind "Details".

Three kinds, as in Anki, and every place that catches an error sorts it into one of them
here (never by hand): an OversightError is something the user can act on, so its
message is the whole story (details: its code and, for validation, every issue);
Cancelled is what the user asked for and is never reported; anything else is a bug,
shown with a plain sentence and a traceback the user can copy into a report, and
written to the workstation's error log (``log_path()``) with the time, so that a bug
seen in a status line is not lost either.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import traceback
from pathlib import Path

import platformdirs

from oversight.errors import Cancelled, OversightError, ValidationError
from ui.qt import QtCore, QtWidgets

__all__ = ["BUG_SENTENCE", "describe", "error_box", "inline", "is_cancel", "log_path",
           "record_bug"]

_LOG = logging.getLogger("oversight.workstation.bugs")
_LOG.propagate = False

BUG_SENTENCE = ("Something went wrong that the workstation did not expect; nothing was "
                "changed by the failed step. Please report it with the details below.")


def is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, Cancelled)


def log_path() -> Path:
    """Where bugs are written: $OVERSIGHT_LOG_DIR, else the user's log folder."""
    folder = os.environ.get("OVERSIGHT_LOG_DIR") or platformdirs.user_log_dir(
        "oversight-workstation", appauthor=False)
    return Path(folder) / "errors.log"


def record_bug(exc: BaseException) -> Path:
    """Append the bug's traceback (and the versions) to the error log; return its path.
    The log is the user's own (0600): a traceback may quote what was being read."""
    path = log_path()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in _LOG.handlers):
        for old in list(_LOG.handlers):
            _LOG.removeHandler(old)
            old.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        _LOG.addHandler(file_handler)
        _LOG.setLevel(logging.ERROR)
    _LOG.error("%s\n%s", _versions(), "".join(traceback.format_exception(exc)).rstrip())
    for handler in _LOG.handlers:
        handler.flush()
    return path


def _versions() -> str:
    return (f"Oversight Workstation, Python {sys.version.split()[0]}, "
            f"Qt {QtCore.qVersion()}, {platform.platform()}")


def inline(exc: BaseException, issues: bool = True) -> str:
    """The sentence for a status line or a field's error label: a user error's message
    (with every issue of a validation), nothing for a cancellation, and for a bug the
    bug sentence, the bug written to the error log first."""
    if isinstance(exc, Cancelled):
        return ""
    if isinstance(exc, OversightError):
        text = exc.message
        if issues and isinstance(exc, ValidationError):
            text += "\n" + "\n".join(f"• {issue}" for issue in exc.issues)
        return text
    path = record_bug(exc)
    return f"{BUG_SENTENCE.split(' Please report')[0]} The details are in {path}."


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
    return BUG_SENTENCE, f"{_versions()}\n\n{trace}"


def error_box(parent: QtWidgets.QWidget | None, exc: BaseException,
              title: str = "Oversight Workstation") -> QtWidgets.QMessageBox:
    """A message box with the sentence and a "Show Details..." expander (not shown yet);
    a bug is also written to the error log."""
    sentence, details = describe(exc)
    if not isinstance(exc, OversightError):
        details += f"\n(Also written to {record_bug(exc)}.)"
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
