"""Producing a report from the workstation (auditors), and the Reports menu.

The dialog gathers what ``produce_report`` takes (scope, template, wording, signing
certificate, output file), runs it as a background job of the session (progress and
Cancel in the dialog itself), then shows the result and checks the written file with
``verify_report`` at once, so the auditor sees VALID before sending it anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from oversight import findings
from oversight.changes import changes_of
from oversight.criteria.pack import SEVERITIES
from oversight.errors import OversightError, UsageError
from oversight.progress import CancelToken, Progress
from oversight.report.build import available_templates
from oversight.report.data import ReportScope
from oversight.report.service import ReportResult, SignOptions, produce_report
from oversight.report.sign import verify_report
from oversight.workspace import Permission, Workspace
from ui.errors import inline, is_cancel
from ui.jobs import Job
from ui.prompts import buddy_row
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.session import Session
from ui.verify_dialog import VerificationView
from ui.widgets import readable, with_browse_button

__all__ = ["ReportDialog", "scope_from", "why_not_report"]

#: What the core operation declares it changes (read once: not whatever a
#: test or plugin puts in its place later).
REPORT_CHANGES = changes_of(produce_report)

_STAGES = {"gathering": "Gathering the findings", "building": "Building the pages",
           "signing": "Signing", "writing": "Writing the file", "done": "Finishing"}
CLASSIFICATIONS = ("OFFICIAL-SENSITIVE", "OFFICIAL", "RESTRICTED", "CONFIDENTIAL",
                   "INTERNAL")


def _date(text: str, what: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(f"The {what} date {text!r} is not a date like 2026-03-31.") from None


def scope_from(only_confirmed: bool, severities: list[str], rules: list[str],
               period_from: str, period_to: str) -> ReportScope:
    """The scope the form describes; raises UsageError with a sentence."""
    start, end = _date(period_from, "from"), _date(period_to, "to")
    if start and end and start > end:
        raise UsageError(f"The period starts ({start}) after it ends ({end}).")
    return ReportScope(only_confirmed=only_confirmed, rules=tuple(rules),
                       severities=tuple(severities), period_from=start, period_to=end)


def why_not_report(session: Session) -> str:
    return (f"Your role ({session.role.value}) may not write reports; only auditors "
            "produce them.")


class ReportDialog(QtWidgets.QDialog):
    """Produce (and sign) a report. ``open_url`` opens the output folder (injectable)."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None,
                 open_url: Callable[[QtCore.QUrl], Any] | None = None,
                 choose_file: Callable[[str, str, bool], Path | None] | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.open_url = open_url or QtGui.QDesktopServices.openUrl
        self._choose_file = choose_file
        self.job: Job | None = None
        self.report_result: ReportResult | None = None
        self.setWindowTitle("Produce a report")
        self.setMinimumWidth(640)

        # -- scope
        self.only_confirmed = QtWidgets.QCheckBox("Only confirmed breaches")
        self.severity_boxes: dict[str, QtWidgets.QCheckBox] = {}
        sev_row = QtWidgets.QHBoxLayout()
        for sev in reversed(SEVERITIES):
            box = QtWidgets.QCheckBox(sev)
            box.setChecked(True)
            self.severity_boxes[sev] = box
            sev_row.addWidget(box)
        sev_row.addStretch(1)
        self.rules = QtWidgets.QListWidget()
        self.rules.setMaximumHeight(90)
        self.rules.setMinimumHeight(4 * self.rules.fontMetrics().height() + 8)
        self.rules.setToolTip("Tick rules to report only those; none ticked: every rule.")
        self.period_from = QtWidgets.QLineEdit()
        self.period_from.setPlaceholderText("From YYYY-MM-DD")
        self.period_to = QtWidgets.QLineEdit()
        self.period_to.setPlaceholderText("To YYYY-MM-DD")
        period = QtWidgets.QHBoxLayout()
        period.addWidget(self.period_from)
        period.addWidget(self.period_to)
        scope_box = QtWidgets.QGroupBox("Findings in the report")
        scope_form = QtWidgets.QFormLayout(scope_box)
        scope_form.addRow(self.only_confirmed)
        scope_form.addRow("Severities:", sev_row)
        scope_form.addRow("Rules:", self.rules)
        scope_form.addRow("Period:", period)

        # -- wording
        self.template = QtWidgets.QComboBox()
        for name in available_templates():
            self.template.addItem(name, name)
        self.template.setCurrentIndex(max(0, self.template.findData("full")))
        self.title = QtWidgets.QLineEdit()
        self.title.setPlaceholderText("Default: the template's title")
        self.body = QtWidgets.QLineEdit()
        self.body.setPlaceholderText("The oversight body issuing the report")
        self.classification = QtWidgets.QComboBox()
        self.classification.setEditable(True)
        self.classification.addItems(list(CLASSIFICATIONS))
        text_box = QtWidgets.QGroupBox("Report")
        text_form = QtWidgets.QFormLayout(text_box)
        text_form.addRow("&Template:", self.template)
        text_form.addRow("T&itle:", self.title)
        text_form.addRow("Issued &by:", self.body)
        text_form.addRow("&Classification:", self.classification)

        # -- signing and output
        self.p12 = QtWidgets.QLineEdit()
        self.p12.setPlaceholderText("Optional (.p12/.pfx)")
        self.p12.setToolTip("A PKCS#12 file (.p12/.pfx) holding the signing key; leave "
                            "empty for an unsigned report.")
        self.passphrase = QtWidgets.QLineEdit()
        self.passphrase.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.visible = QtWidgets.QCheckBox("Visible signature box on the last page")
        self.visible.setChecked(True)
        # By default in the workspace's reports/ folder (made when the report is written).
        self.reports_folder = session.folder.resolve() / "reports"
        self.output = QtWidgets.QLineEdit(str(
            self.reports_folder / f"{session.folder.resolve().name}-report-"
                                  f"{date.today().isoformat()}.pdf"))
        for edit in (self.output, self.p12):  # a long path scrolls: the tooltip has it all
            edit.textChanged.connect(lambda text, edit=edit: edit.setToolTip(text))
        self.output.setToolTip(self.output.text())
        sign_box = QtWidgets.QGroupBox("Signature and file")
        sign_form = QtWidgets.QFormLayout(sign_box)
        buddy_row(sign_form, "Si&gning certificate:", self.p12,
                  with_browse_button(self.p12, self._browse_p12))
        sign_form.addRow("&Passphrase:", self.passphrase)
        sign_form.addRow(self.visible)
        # The file gets the whole width of the dialog: a path is long.
        save_box = QtWidgets.QWidget()
        save_form = QtWidgets.QFormLayout(save_box)
        save_form.setContentsMargins(0, 0, 0, 0)
        buddy_row(save_form, "&Save as:", self.output,
                  with_browse_button(self.output, self._browse_output))

        # -- running and result
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 4)
        self.bar.hide()
        self.verification = VerificationView()
        self.verification.fields.setMinimumHeight(120)
        self.verification.hide()
        self.produce_button = QtWidgets.QPushButton("Produce report")
        self.produce_button.setDefault(True)
        self.produce_button.clicked.connect(self.produce)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.folder_button = QtWidgets.QPushButton("Open folder")
        self.folder_button.clicked.connect(self.open_folder)
        self.folder_button.hide()
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.produce_button)
        buttons.addWidget(close)

        self.form_widgets = (scope_box, text_box, sign_box, save_box)
        columns = QtWidgets.QHBoxLayout()
        left = QtWidgets.QVBoxLayout()
        left.addWidget(scope_box)
        left.addWidget(text_box)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(sign_box)
        right.addWidget(self.status)
        right.addWidget(self.bar)
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(save_box)
        layout.addWidget(self.verification, 1)
        layout.addLayout(buttons)

        self._load_rules()
        # Wide enough for paths, low enough for a 1366x768 screen with its title bar.
        # (tall enough from the start for the verification that appears after producing)
        self.resize(max(self.sizeHint().width(), 980), 700)
        if not session.can(Permission.REPORT):
            self.produce_button.setEnabled(False)
            self.produce_button.setToolTip(why_not_report(session))
            self.say(why_not_report(session), error=True)

    # -- helpers ---------------------------------------------------------------------

    def _choose(self, title: str, filters: str, save: bool) -> Path | None:
        if self._choose_file is not None:
            return self._choose_file(title, filters, save)
        if save:
            name, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, self.output.text(),
                                                            filters)
        else:
            name, _ = QtWidgets.QFileDialog.getOpenFileName(self, title, "", filters)
        return Path(name) if name else None

    def _browse_p12(self) -> None:
        path = self._choose("Signing certificate", "PKCS#12 (*.p12 *.pfx);;All files (*)",
                            False)
        if path is not None:
            self.p12.setText(str(path))
            self.passphrase.setFocus()

    def _browse_output(self) -> None:
        if Path(self.output.text()).parent == self.reports_folder \
                and self.reports_folder.parent.is_dir():
            self.reports_folder.mkdir(mode=0o700, exist_ok=True)  # the dialog starts there
        path = self._choose("Save the report as", "PDF files (*.pdf)", True)
        if path is not None:
            if path.suffix.lower() != ".pdf":
                path = path.with_name(path.name + ".pdf")
            self.output.setText(str(path))

    def _load_rules(self) -> None:
        if not self.session.ready:
            return
        try:
            rules = sorted({str(r["rule_id"]) for r in
                            self.session.read(findings.list_findings)})
        except OversightError:
            rules = []
        for rule in rules:
            item = QtWidgets.QListWidgetItem(rule)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.rules.addItem(item)

    def say(self, text: str, error: bool = False) -> None:
        escaped = html.escape(text)
        self.status.setText(f"<span style='color:{readable('#b3261e', self)}'>{escaped}</span>"
                            if error
                            else escaped)

    def scope(self) -> ReportScope:
        rules = [self.rules.item(i).text() for i in range(self.rules.count())
                 if self.rules.item(i).checkState() == Qt.CheckState.Checked]
        severities = [s for s, box in self.severity_boxes.items() if box.isChecked()]
        if not severities:
            raise UsageError("Tick at least one severity.")
        if len(severities) == len(SEVERITIES):
            severities = []
        return scope_from(self.only_confirmed.isChecked(), severities, rules,
                          self.period_from.text(), self.period_to.text())

    def sign_options(self) -> SignOptions | None:
        name = self.p12.text().strip()
        if not name:
            return None
        secret = self.passphrase.text()
        return SignOptions(Path(name).expanduser(), secret.encode() if secret else None,
                           visible=self.visible.isChecked())

    def trust_roots(self) -> list[Path]:
        """The test CA next to a test certificate (NAME.ca.pem), if there is one."""
        name = self.p12.text().strip()
        if not name:
            return []
        ca = Path(name).expanduser().with_suffix(".ca.pem")
        return [ca] if ca.is_file() else []

    # -- running ---------------------------------------------------------------------

    def produce(self) -> Job | None:
        if not self.session.can(Permission.REPORT) or self.job is not None:
            return None
        try:
            scope = self.scope()
            sign = self.sign_options()
            out = Path(self.output.text().strip()).expanduser()
            if not self.output.text().strip():
                raise UsageError("Choose where to save the report.")
            if out.parent == self.reports_folder and self.reports_folder.parent.is_dir():
                self.reports_folder.mkdir(mode=0o700, exist_ok=True)
        except OversightError as exc:
            self.say(exc.message, error=True)
            return None
        if not self.session.ready:
            self.say("Another job is running; wait for it to finish.", error=True)
            return None
        template = str(self.template.currentData())
        title = self.title.text().strip() or None
        body = self.body.text().strip()
        classification = self.classification.currentText().strip() or "OFFICIAL-SENSITIVE"

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> ReportResult:
            return produce_report(ws, out, template, scope, title=title, body=body,
                                  classification=classification, sign=sign,
                                  progress=progress, cancel=cancel)

        self.report_result = None
        self.verification.hide()
        self.folder_button.hide()
        job = self.session.start_job(f"Report {out.name}", work, REPORT_CHANGES,
                                     self._done, parent=self)
        if job is None:
            self.say("The workspace is busy or locked.", error=True)
            return None
        self.job = job
        job.progress.connect(self._progress)
        job.failed.connect(self._failed)
        job.ended.connect(self._ended)
        # The main window shows every job in a progress window; this dialog shows its
        # own progress and Cancel, so that one is not needed.
        other = getattr(self.parent(), "progress_dialog", None)
        if isinstance(other, QtWidgets.QDialog) and getattr(other, "job", None) is job:
            other.hide()
        for w in self.form_widgets:
            w.setEnabled(False)
        self.produce_button.setEnabled(False)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.bar.setValue(0)
        self.bar.show()
        self.say("Starting…")
        return job

    def cancel(self) -> None:
        if self.job is not None and not self.job.cancelled:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.say("Cancelling… (nothing will be written)")

    def _progress(self, done: int, total: int, stage: str) -> None:
        if self.job is None or self.job.cancelled:
            return
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.say(_STAGES.get(stage, stage) + "…")

    def _failed(self, exc: BaseException) -> None:
        if is_cancel(exc):
            self.say("Cancelled; no report was written.")
        else:
            self.say("The report was not produced: " + inline(exc), error=True)

    def _ended(self) -> None:
        self.job = None
        self.bar.hide()
        self.cancel_button.hide()
        for w in self.form_widgets:
            w.setEnabled(True)
        self.produce_button.setEnabled(self.session.can(Permission.REPORT))

    def _done(self, result: ReportResult) -> None:
        self.report_result = result
        self.status.setText(
            f"<b>Report written</b>: {html.escape(str(result.path))}<br>"
            f"{result.pages:,} pages, {result.findings:,} findings, "
            f"{'signed' if result.signed else 'not signed'} (template {result.template}).<br>"
            f"SHA-256: <code>{result.sha256}</code>")
        self.folder_button.show()
        self.verification.show()
        if not result.signed:
            self.verification.show_error("Not signed, so there is no signature to verify.")
            return
        try:
            self.verification.show_result(verify_report(result.path, self.trust_roots()))
        except OversightError as exc:
            self.verification.show_error(exc.message)

    def open_folder(self) -> None:
        if self.report_result is not None:
            self.open_url(QtCore.QUrl.fromLocalFile(str(self.report_result.path.parent)))

    def reject(self) -> None:
        if self.job is not None:  # Esc or Close while running: cancel first
            self.cancel()
            return
        super().reject()
