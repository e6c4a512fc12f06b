"""The Sources page: every import batch, live or retracted, and retracting one.

A wrong import is undone by retracting its batch (oversight.retraction): an admin, or
the user who imported it, gives a reason; the batch's records leave every page, count
and detection run, findings that rested only on them are labelled "source retracted",
and nothing is deleted. The batch stays listed here, with who retracted it, when and
why, and the same file may be imported again.
"""

from __future__ import annotations

import html
from typing import Any

from oversight import queries, scans
from oversight.errors import OversightError
from oversight.retraction import Retraction, retract_batch, why_not_retract
from oversight.workspace import Permission
from ui.lazy_page import LazyPage
from ui.models import TableModel, cell_text
from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.scan_dialog import provenance_text
from ui.session import Session
from ui.widgets import make_table, readable

__all__ = ["SOURCES_PAGE_TITLE", "RetractDialog", "SourcesPage"]

SOURCES_PAGE_TITLE = "Sources"
RETRACTED_COLOR = "#9aa0a6"


class RetractDialog(QtWidgets.QDialog):
    """Asks for the reason to retract one batch. The cursor starts in the reason;
    Ctrl+Enter retracts, Escape cancels; "Retract" is enabled only with a reason and is
    never the default button (Enter in the text is a new line)."""

    def __init__(self, parent: QtWidgets.QWidget | None, batch: dict[str, Any]) -> None:
        super().__init__(parent)
        self.batch = batch
        self.setWindowTitle(f"Retract batch {batch['batch_id']}")
        what = QtWidgets.QLabel(
            f"Retract batch {batch['batch_id']}: {batch['file']} ({batch['kind']}, "
            f"{batch['rows_imported']:,} records, imported by {batch['imported_by']} on "
            f"{str(batch['imported_at'])[:10]})?\n\nIts records leave every page, count and "
            "detection run from now on; findings that rest only on them are labelled "
            "\"source retracted\". Nothing is deleted, the audit trail records the "
            "retraction with your reason, and the same file may then be imported again.")
        what.setWordWrap(True)
        what.setTextFormat(Qt.TextFormat.PlainText)
        self.reason = QtWidgets.QPlainTextEdit()
        self.reason.setPlaceholderText("Why is this batch retracted? (required; kept in the "
                                       "audit trail)")
        self.reason.setTabChangesFocus(True)
        self.reason.setMinimumHeight(70)
        label = QtWidgets.QLabel("&Reason:")
        label.setBuddy(self.reason)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.retract_button = self.buttons.addButton(
            "Retract", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        for button in (self.retract_button, cancel):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._update)
        submit = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Return"), self)
        submit.activated.connect(self._submit)
        submit_enter = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Enter"), self)
        submit_enter.activated.connect(self._submit)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(what)
        layout.addWidget(label)
        layout.addWidget(self.reason, 1)
        layout.addWidget(self.buttons)
        self.resize(520, 300)
        self._update()
        self.reason.setFocus()

    def text(self) -> str:
        return self.reason.toPlainText().strip()

    def _update(self) -> None:
        self.retract_button.setEnabled(bool(self.text()))

    def _submit(self) -> None:
        if self.text():
            self.accept()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self.reason.setFocus()


class SourcesPage(LazyPage):
    """Import batches with their state; retract the selected one."""

    message = Signal(str)
    retracted = Signal(object)  # Retraction

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.batches: list[dict[str, Any]] = []
        #: Batches a scan brought back: the scan and that file's provenance.
        self.scanned: dict[int, tuple[scans.ScanProvenance, scans.ScannedFile]] = {}
        self.dialog: RetractDialog | None = None
        self.model = TableModel(["Batch", "Kind", "File", "Records", "Rejected", "Imported by",
                                 "When", "State"], self)
        self.view = make_table(self.model, stretch_last=True)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._selected())
        self.detail = QtWidgets.QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retract_button = QtWidgets.QPushButton("&Retract batch…")
        self.retract_button.clicked.connect(self.ask_retract)
        self.retract_button.setEnabled(False)
        intro = QtWidgets.QLabel(
            "Every imported file is one batch. A wrong import is retracted, never deleted: "
            "its records leave every page and detection run, and the file may be imported "
            "again. Admins and the user who imported a batch may retract it.")
        intro.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.detail, 1)
        row.addWidget(self.retract_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        session.locked_changed.connect(lambda locked: self.clear() if locked else None)

    # -- loading -------------------------------------------------------------------------

    def _ready(self, ready: bool) -> None:
        super()._ready(ready)
        self._selected()

    def clear(self) -> None:
        self._stale = True
        self.batches = []
        self.scanned = {}
        self.model.set_rows([])
        self.detail.clear()
        self.retract_button.setEnabled(False)

    def refresh(self) -> None:
        if not self.session.ready:
            return
        current = self.current()
        try:
            self.batches = self.session.read(queries.batches, True)
            self.scanned = self.session.read(scans.batch_scans)
        except OversightError as exc:
            self.detail.setText(html.escape(exc.message))
            return
        self._stale = False
        rows, colors = [], []
        for b in self.batches:
            state = "live" if b["retracted_at"] is None else \
                f"retracted {str(b['retracted_at'])[:10]} by {b['retracted_by']}"
            kind = b["kind"] + (" (scanned)" if b["batch_id"] in self.scanned else "")
            rows.append((b["batch_id"], kind, b["file"], b["rows_imported"],
                         b["rows_rejected"], b["imported_by"],
                         str(b["imported_at"])[:16].replace("T", " "), state))
            colors.append(RETRACTED_COLOR if b["retracted_at"] is not None else None)
        self.model.set_rows(rows, colors)
        self.view.resizeColumnsToContents()
        if current is not None:
            self.select(int(current["batch_id"]))
        self._selected()

    # -- selection -----------------------------------------------------------------------

    def current(self) -> dict[str, Any] | None:
        index = self.view.currentIndex()
        if not index.isValid() or index.row() >= len(self.batches):
            return None
        return self.batches[index.row()]

    def select(self, batch_id: int) -> bool:
        row = next((i for i, b in enumerate(self.batches) if b["batch_id"] == batch_id), -1)
        if row < 0:
            return False
        self.view.selectionModel().setCurrentIndex(
            self.model.index(row, 0), QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        return True

    def why_not(self, batch: dict[str, Any] | None) -> str | None:
        """Why the selected batch cannot be retracted now (None: it can)."""
        if batch is None:
            return "Select a batch."
        if not self.session.ready:
            return "Wait for the running job to finish."
        if not self.session.can(Permission.IMPORT):
            return self.session.why_not(Permission.IMPORT)
        try:
            return self.session.read(why_not_retract, int(batch["batch_id"]))
        except OversightError as exc:
            return exc.message

    def _selected(self) -> None:
        batch = self.current()
        reason = self.why_not(batch)
        self.retract_button.setEnabled(reason is None)
        self.retract_button.setToolTip(reason or "Retract this batch (asks for the reason).")
        if batch is None:
            self.detail.setText("Select a batch to see its digest and state.")
            return
        scanned = self.scanned.get(int(batch["batch_id"]))
        sha = str(batch["sha256"]) if scanned is None or scanned[1].sha256 is not None \
            else scans.NOT_COMPUTED
        name = html.escape(cell_text(batch["file"]))
        text = (f"<b>Batch {batch['batch_id']}</b>: {name} — "
                f"SHA-256 <code>{html.escape(sha)}</code>")
        if scanned is not None:
            text += f"<br>{html.escape(provenance_text(*scanned))}"
        if batch["retracted_at"] is not None:
            grey = readable("#5f6368", self)
            text += (f"<br><span style='color:{grey}'>Retracted on "
                     f"{html.escape(str(batch['retracted_at'])[:19].replace('T', ' '))} UTC "
                     f"by {html.escape(str(batch['retracted_by']))}: "
                     f"{html.escape(cell_text(batch['retraction_reason']))}</span>")
        self.detail.setText(text)

    # -- retracting ----------------------------------------------------------------------

    def ask_retract(self) -> RetractDialog | None:
        batch = self.current()
        if batch is None or self.why_not(batch) is not None:
            return None
        dialog = RetractDialog(self, batch)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.retract(int(batch["batch_id"]), dialog.text()))
        dialog.destroyed.connect(lambda _=None: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def retract(self, batch_id: int, reason: str) -> Retraction | None:
        done = self.session.write(self, retract_batch, batch_id, reason)
        if done is None:
            return None
        text = (f"Batch {done.batch_id} ({done.file}) retracted: {done.rows_imported:,} "
                "records leave every page and detection run.")
        if done.findings_labelled:
            text += (f" {len(done.findings_labelled):,} finding(s) that rested only on them "
                     "are labelled source retracted.")
        if done.findings_partly or done.kind != "operations":
            text += " Run detection again to re-evaluate the findings that also rest on it."
        self.message.emit(text)
        self.retracted.emit(done)
        return done
