"""Long work off the GUI thread: one job at a time, with progress and Cancel.

A job is a plain function ``fn(progress, cancel)`` that calls a core service (import,
detection, verify) with the same progress callback and CancelToken the CLI uses. It
runs on a QThreadPool of one thread; its progress reaches the GUI as queued signals,
throttled to about ten a second so a fast loop cannot flood the event queue.

Threading choice: SQLite connections belong to one thread at a time. The workstation
keeps a single Workspace (one sqlcipher3 connection, opened with
``check_same_thread=False``) and lends it to the one running job; while a job runs the
session is *busy* and nothing on the GUI thread touches the database (views that read
are disabled and the operations table shows only rows it already holds). This keeps
the unlocked key in one object, instead of keeping the password around to open a
second connection per job.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from oversight.progress import CancelToken, Progress
from ui.qt import QObject, Qt, QtCore, QtWidgets, Signal

__all__ = ["Job", "JobFn", "ProgressDialog", "stage_text"]

JobFn = Callable[[Progress, CancelToken], Any]
#: Seconds between two progress signals (the first and last always go through).
THROTTLE = 0.1

_STAGES = {
    "hashing": "Computing the file's SHA-256",
    "reading": "Reading the file",
    "importing": "Importing rows",
    "audit trail": "Checking the audit trail",
    "imported rows": "Checking imported batches",
    "done": "Finishing",
}


def stage_text(done: int, total: int, stage: str) -> str:
    """A progress line for people: byte stages as percent, rules by number."""
    if stage in ("hashing", "reading", "importing"):
        pct = f" ({100 * done // total}%)" if total else ""
        return f"{_STAGES[stage]}{pct}"
    if stage in _STAGES:
        counted = f" ({done:,} of {total:,})" if total else ""
        return f"{_STAGES[stage]}{counted}"
    # Detection reports the rule it is evaluating.
    return f"Evaluating rule {stage} ({done + 1} of {total})" if total else stage


class _Signals(QObject):
    progress = Signal(object, object, str)
    finished = Signal(object, object)  # (result, exception or None)


class _Runnable(QtCore.QRunnable):
    def __init__(self, fn: JobFn, signals: _Signals, token: CancelToken) -> None:
        super().__init__()
        self._fn = fn
        self._signals = signals
        self._token = token
        self._last = 0.0
        self._stage: str | None = None

    def _progress(self, done: int, total: int, stage: str) -> None:
        # Also a cancellation point for services that take no token (verify).
        self._token.check()
        now = time.monotonic()
        if (stage != self._stage or now - self._last >= THROTTLE
                or (total and done >= total)):
            self._last, self._stage = now, stage
            self._signals.progress.emit(done, total, stage)

    def run(self) -> None:
        try:
            result = self._fn(self._progress, self._token)
        except BaseException as exc:  # reported on the GUI thread, never lost
            self._signals.finished.emit(None, exc)
        else:
            self._signals.finished.emit(result, None)


class Job(QObject):
    """One background job. Signals arrive on the GUI thread; ``ended`` comes last."""

    progress = Signal(object, object, str)
    succeeded = Signal(object)
    failed = Signal(object)
    ended = Signal()

    def __init__(self, title: str, fn: JobFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.token = CancelToken()
        self.result: Any = None
        self.error: BaseException | None = None
        self.running = False
        self._fn = fn
        self._signals = _Signals()
        self._signals.progress.connect(self.progress)
        self._signals.finished.connect(self._finish)

    def start(self, pool: QtCore.QThreadPool) -> None:
        self.running = True
        pool.start(_Runnable(self._fn, self._signals, self.token))

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def _finish(self, result: Any, error: BaseException | None) -> None:
        self.running = False
        self.result, self.error = result, error
        if error is None:
            self.succeeded.emit(result)
        else:
            self.failed.emit(error)
        self.ended.emit()


class ProgressDialog(QtWidgets.QDialog):
    """Shows a job's progress; Cancel (or Esc, or closing it) cancels the job.

    Not modal: the main window stays usable for what does not read the workspace
    (menus, Lock, moving and resizing), and its data views are disabled meanwhile."""

    def __init__(self, parent: QtWidgets.QWidget | None, job: Job) -> None:
        super().__init__(parent)
        self.job = job
        self.setWindowTitle(job.title)
        self.setMinimumWidth(420)
        self.label = QtWidgets.QLabel("Starting…")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 0)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.request_cancel)
        layout = QtWidgets.QVBoxLayout(self)
        heading = QtWidgets.QLabel(f"<b>{html.escape(job.title)}</b>")
        heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(heading)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        job.progress.connect(self.on_progress)
        job.ended.connect(self._ended)

    def on_progress(self, done: int, total: int, stage: str) -> None:
        if self.job.cancelled:
            return
        self.label.setText(stage_text(done, total, stage))
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(min(1000, 1000 * done // total))
        else:
            self.bar.setRange(0, 0)

    def request_cancel(self) -> None:
        if not self.job.cancelled:
            self.job.cancel()
            self.label.setText("Cancelling… (nothing will be written)")
            self.cancel_button.setEnabled(False)

    def reject(self) -> None:  # Esc or the window's close button
        self.request_cancel()

    def _ended(self) -> None:
        self.done(0)
        self.deleteLater()
