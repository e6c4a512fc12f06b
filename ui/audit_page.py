"""The audit trail viewer: every event of the workspace's hash chain, newest last,
filtered by user, action text and finding, and a check of the chain in the background.
"""

from __future__ import annotations

import json
from typing import Any

from oversight import triage
from oversight.changes import changes_of
from oversight.integrity import VerifyReport, verify
from oversight.progress import CancelToken, Progress
from oversight.workspace import Workspace
from ui.errors import inline
from ui.lazy_page import LazyPage
from ui.models import TableModel, when_text
from ui.qt import Qt, QtCore, QtWidgets, Signal
from ui.session import Session
from ui.widgets import make_table, readable

__all__ = ["AuditPage", "event_row", "verify_text"]

#: What the core operation declares it changes (read once: not whatever a
#: test or plugin puts in its place later).
VERIFY_CHANGES = changes_of(verify)

#: The viewer shows at most this many events (the newest); filters narrow in the database.
LIMIT = 5000
ANY_USER = "Any user"


def event_row(event: dict[str, Any]) -> tuple[Any, ...]:
    payload = event.get("payload")
    details = (json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
               if payload else "")
    return (int(event["seq"]), when_text(event["ts"]), str(event["user"]),
            str(event["action"]), details)


def verify_text(report: VerifyReport) -> str:
    """OK, or the first problem; with the chain head (seq and hash) either way."""
    chain = report.chain
    head = ("" if chain is None else
            f" Chain head: seq {chain.head_seq}, hash {chain.head_hash}.")
    if report.ok:
        events = "" if chain is None else f" ({chain.events:,} events)"
        return f"OK: the audit chain{events} and every batch are intact.{head}"
    first = report.problems[0] if report.problems else "unknown problem"
    if chain is not None and not chain.ok and chain.problem:
        where = f" at seq {chain.first_bad_seq}" if chain.first_bad_seq is not None else ""
        first = f"{chain.problem}{where}"
    more = len(report.problems) - 1
    extra = f" ({more} more problem(s))" if more > 0 else ""
    return f"Problem: {first}{extra}.{head}"


class AuditPage(LazyPage):
    message = Signal(str)

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.last_report: VerifyReport | None = None
        self.model = TableModel(["Seq", "Time", "User", "Action", "Details"], self)
        self.view = make_table(self.model, stretch_last=True)
        for col, width in enumerate((70, 210, 130, 170)):
            self.view.setColumnWidth(col, width)

        self.user_filter = QtWidgets.QComboBox()
        self.user_filter.addItem(ANY_USER, None)
        self.action_filter = QtWidgets.QLineEdit()
        self.action_filter.setPlaceholderText("Action contains (e.g. import, decision)")
        self.action_filter.setClearButtonEnabled(True)
        self.finding_filter = QtWidgets.QLineEdit()
        self.finding_filter.setPlaceholderText("Finding id")
        self.finding_filter.setClearButtonEnabled(True)
        self.finding_filter.setMaximumWidth(220)
        self.refresh_button = QtWidgets.QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.verify_button = QtWidgets.QPushButton("&Verify chain")
        self.verify_button.setToolTip("Recompute the hash chain of the audit trail and every "
                                      "batch digest, in the background.")
        self.verify_button.clicked.connect(self.verify)
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.refresh)
        for edit in (self.action_filter, self.finding_filter):
            edit.textChanged.connect(self._debounce.start)
            edit.returnPressed.connect(self.refresh)
        self.user_filter.activated.connect(lambda _=0: self.refresh())

        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.user_filter)
        bar.addWidget(self.action_filter, 1)
        bar.addWidget(self.finding_filter)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.verify_button)
        self.count_label = QtWidgets.QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.verify_label = QtWidgets.QLabel("The chain has not been verified in this view.")
        self.verify_label.setTextFormat(Qt.TextFormat.PlainText)
        self.verify_label.setWordWrap(True)
        self.verify_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.verify_label)

    # -- loading -----------------------------------------------------------------------

    def ready_now(self, ready: bool) -> None:
        self.verify_button.setEnabled(ready)
        self.refresh_button.setEnabled(ready)

    def refresh(self) -> None:
        if not self.session.ready:
            return
        self._debounce.stop()
        user = self.user_filter.currentData()
        finding = self.finding_filter.text().strip() or None
        try:
            events = self.session.read(triage.history, finding, user, LIMIT)
            if self.user_filter.count() == 1:
                for info in self.session.read(Workspace.users):
                    self.user_filter.addItem(info.name, info.name)
        except Exception as exc:
            self.count_label.setText(inline(exc))
            return
        self._stale = False
        needle = self.action_filter.text().strip().lower()
        if needle:
            events = [e for e in events if needle in str(e["action"]).lower()]
        self.model.set_rows([event_row(e) for e in events])
        shown = len(events)
        capped = " (the newest; narrow the filters to see older ones)" if shown >= LIMIT else ""
        self.count_label.setText(f"{shown:,} event(s), oldest first{capped}.")
        self.view.scrollToBottom()

    # -- verify ------------------------------------------------------------------------

    def verify(self) -> None:
        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> VerifyReport:
            return verify(ws, progress)

        job = self.session.start_job("Verifying the audit chain", work, VERIFY_CHANGES,
                                     self._verified, parent=self)
        if job is None:
            self.verify_label.setText("Wait for the running job to finish, then verify.")
        else:
            self.verify_label.setText("Verifying…")

    def _verified(self, report: VerifyReport) -> None:
        self.last_report = report
        self.session.last_verify = report
        text = verify_text(report)
        self.verify_label.setText(text)
        self.verify_label.setStyleSheet(
            "" if report.ok else f"color: {readable('#b3261e', self)}")
        self.message.emit(text)
