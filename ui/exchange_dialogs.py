"""Review packages from the workstation: export, import (verified first) and reveal.

- **Export package…** (auditors) sends the findings selected in the findings list:
  recipients' certificates, the signing PKCS#12, pseudonyms, a note, the file.
- **Import package…** (inspectors, auditors) verifies a package or a reply with the
  recipient's key first and shows what it is (sender, signer, trust, counts) before
  anything is written; **Import** then writes it.
- **Reveal pseudonym…** (auditors) maps a pseudonym this workspace gave out back to
  its identifier, with a reason the audit trail keeps.

Everything goes through the service layer (oversight.exchange); nothing here reads or
writes the database itself. See docs/exchange.md.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oversight.changes import changes_of
from oversight.errors import OversightError, UsageError
from oversight.exchange import keys
from oversight.exchange.export import ExportResult, Recipient, export_package
from oversight.exchange.pseudonyms import Revealed, reveal
from oversight.exchange.receive import Checked, ImportSummary, check_package, import_package
from oversight.progress import CancelToken, Progress
from oversight.workspace import Permission, Workspace, service_errors
from ui.errors import inline
from ui.jobs import Job
from ui.qt import Qt, QtWidgets
from ui.session import Session
from ui.widgets import readable

__all__ = ["ExportPackageDialog", "ImportPackageDialog", "RevealDialog", "paths_of"]

ChooseFile = Callable[[str, str, bool], Path | None]


def paths_of(text: str) -> list[Path]:
    """The files named in a field: separated by ``;``, blanks ignored."""
    return [Path(p.strip()).expanduser() for p in text.split(";") if p.strip()]


def _recipients(text: str) -> list[Recipient]:
    paths = paths_of(text)
    if not paths:
        raise UsageError("Name at least one recipient certificate (PEM or DER).")
    out = []
    for path in paths:
        for cert in keys.load_certificates(path, "recipient certificate"):
            out.append(Recipient(cert, str(path)))
    return out


def _identity(path_text: str, passphrase: str, what: str) -> keys.Identity:
    name = path_text.strip()
    if not name:
        raise UsageError(f"Choose your {what} (a PKCS#12 file, .p12 or .pfx).")
    return keys.load_identity(Path(name).expanduser(), passphrase.encode() or None)


class _Form(QtWidgets.QDialog):
    """What the three dialogs share: a status line and file choosers."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None,
                 choose_file: ChooseFile | None) -> None:
        super().__init__(parent)
        self.session = session
        self._choose_file = choose_file
        self.job: Job | None = None
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _lay_out(self, form: QtWidgets.QFormLayout, middle: QtWidgets.QWidget | None,
                 *actions: QtWidgets.QPushButton) -> None:
        """The form, an optional widget that takes the spare height, the status line, and
        the action buttons with Close at the right."""
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        for button in (*actions, close):
            buttons.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        if middle is not None:
            layout.addWidget(middle, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def say(self, text: str, error: bool = False) -> None:
        escaped = html.escape(text).replace("\n", "<br>")
        self.status.setText(f"<span style='color:{readable('#b3261e', self)}'>{escaped}</span>"
                            if error else escaped)

    def _choose(self, title: str, filters: str, save: bool) -> Path | None:
        if self._choose_file is not None:
            return self._choose_file(title, filters, save)
        if save:
            name, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, "", filters)
        else:
            name, _ = QtWidgets.QFileDialog.getOpenFileName(self, title, "", filters)
        return Path(name) if name else None

    def _file_row(self, edit: QtWidgets.QLineEdit, title: str, filters: str,
                  save: bool = False, append: bool = False) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        row.addWidget(edit, 1)
        button = QtWidgets.QPushButton("Add…" if append else "Browse…")

        def browse() -> None:
            path = self._choose(title, filters, save)
            if path is None:
                return
            if append and edit.text().strip():
                edit.setText(f"{edit.text().strip()}; {path}")
            else:
                edit.setText(str(path))

        button.clicked.connect(browse)
        row.addWidget(button)
        return row

    def reject(self) -> None:
        if self.job is not None:  # a package is being written or imported: let it end
            return
        super().reject()


class ExportPackageDialog(_Form):
    """Send the chosen findings to other bodies (auditors)."""

    def __init__(self, session: Session, finding_ids: list[str],
                 parent: QtWidgets.QWidget | None = None,
                 choose_file: ChooseFile | None = None) -> None:
        super().__init__(session, parent, choose_file)
        self.finding_ids = list(finding_ids)
        self.result_: ExportResult | None = None
        self.setWindowTitle("Export a review package")
        self.setMinimumWidth(620)
        self.recipients = QtWidgets.QLineEdit()
        self.recipients.setPlaceholderText("Recipient certificates (.pem/.crt), ; between")
        self.p12 = QtWidgets.QLineEdit()
        self.p12.setPlaceholderText("Your signing key (.p12/.pfx)")
        self.passphrase = QtWidgets.QLineEdit()
        self.passphrase.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.subjects = QtWidgets.QCheckBox("Data &subjects")
        self.actors = QtWidgets.QCheckBox("&Actors (officers, issuers, teams)")
        pseudo = QtWidgets.QHBoxLayout()
        pseudo.addWidget(self.subjects)
        pseudo.addWidget(self.actors)
        pseudo.addStretch(1)
        self.body = QtWidgets.QLineEdit()
        self.body.setPlaceholderText("Default: your certificate's organisation")
        self.note = QtWidgets.QLineEdit()
        self.note.setPlaceholderText("A note to the recipients (encrypted with the package)")
        self.output = QtWidgets.QLineEdit(str(session.folder.parent / "review.ovp"))
        form = QtWidgets.QFormLayout()
        form.addRow(QtWidgets.QLabel(
            f"{len(self.finding_ids):,} finding(s) selected in the findings list."))
        form.addRow("&Recipients:", self._file_row(
            self.recipients, "Recipient certificate",
            "Certificates (*.pem *.crt *.cer *.der);;All files (*)", append=True))
        form.addRow("Si&gning key:", self._file_row(
            self.p12, "Your signing key", "PKCS#12 (*.p12 *.pfx);;All files (*)"))
        form.addRow("&Passphrase:", self.passphrase)
        form.addRow("Pseudonymise:", pseudo)
        form.addRow("Your &body:", self.body)
        form.addRow("&Note:", self.note)
        form.addRow("Save &as:", self._file_row(
            self.output, "Save the package as", "Review packages (*.ovp)", save=True))
        self.export_button = QtWidgets.QPushButton("&Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        self._lay_out(form, None, self.export_button)
        if not session.can(Permission.REPORT):
            self.export_button.setEnabled(False)
            self.say(f"Your role ({session.role.value}) may not send packages; only auditors "
                     "export them.", error=True)
        elif not self.finding_ids:
            self.export_button.setEnabled(False)
            self.say("Select the findings to send in the findings list first.", error=True)

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k, box in (("subjects", self.subjects), ("actors", self.actors))
                     if box.isChecked())

    def export(self) -> Job | None:
        if self.job is not None or not self.export_button.isEnabled():
            return None
        try:
            recipients = _recipients(self.recipients.text())
            identity = _identity(self.p12.text(), self.passphrase.text(), "signing key")
            if not self.output.text().strip():
                raise UsageError("Choose where to save the package.")
            out = Path(self.output.text().strip()).expanduser()
        except OversightError as exc:
            self.say(exc.message, error=True)
            return None
        ids, kinds = self.finding_ids, self.kinds()
        note, body = self.note.text().strip() or None, self.body.text().strip() or None

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> ExportResult:
            return export_package(ws, out, identity, recipients, finding_ids=ids,
                                  pseudonymise=kinds, note=note, body=body,
                                  progress=progress)

        job = self.session.start_job(f"Package {out.name}", work, changes_of(export_package),
                                     self._done, parent=self)
        if job is None:
            self.say("The workspace is busy or locked; wait for it.", error=True)
            return None
        self.job = job
        job.failed.connect(lambda exc: self.say("Nothing was sent: " + inline(exc), True))
        job.ended.connect(self._ended)
        self.export_button.setEnabled(False)
        self.say("Writing the package…")
        return job

    def _ended(self) -> None:
        self.job = None
        self.export_button.setEnabled(True)

    def _done(self, result: ExportResult) -> None:
        self.result_ = result
        pseud = (f" Pseudonymised: {', '.join(result.pseudonymised)} "
                 f"({result.pseudonyms_new} new pseudonym(s))." if result.pseudonymised
                 else "")
        self.say(f"Wrote {result.path}: {result.findings} finding(s), {result.records} "
                 f"record(s), {result.notes} note(s); for {'; '.join(result.recipients)}."
                 f"{pseud}\nSHA-256 {result.sha256}")


class ImportPackageDialog(_Form):
    """Verify a package (or a reply) with your key, see what it is, then import it."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None,
                 choose_file: ChooseFile | None = None) -> None:
        super().__init__(session, parent, choose_file)
        self.checked: Checked | None = None
        self.result_: ImportSummary | None = None
        self.setWindowTitle("Import a review package")
        self.setMinimumWidth(620)
        self.file = QtWidgets.QLineEdit()
        self.file.setPlaceholderText("The package (.ovp)")
        self.p12 = QtWidgets.QLineEdit()
        self.p12.setPlaceholderText("Your key (.p12/.pfx): the package is encrypted for it")
        self.passphrase = QtWidgets.QLineEdit()
        self.passphrase.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.trust = QtWidgets.QLineEdit()
        self.trust.setPlaceholderText("The sender's CA certificate(s), ; between")
        self.accept_untrusted = QtWidgets.QCheckBox(
            "Import even if the sender is not trusted (recorded)")
        form = QtWidgets.QFormLayout()
        form.addRow("&Package:", self._file_row(self.file, "Review package",
                                                "Review packages (*.ovp);;All files (*)"))
        form.addRow("Your &key:", self._file_row(self.p12, "Your key",
                                                 "PKCS#12 (*.p12 *.pfx);;All files (*)"))
        form.addRow("Pa&ssphrase:", self.passphrase)
        form.addRow("&Trust:", self._file_row(
            self.trust, "Trusted CA certificate",
            "Certificates (*.pem *.crt *.cer *.der);;All files (*)", append=True))
        form.addRow(self.accept_untrusted)
        self.verification = QtWidgets.QTableWidget(0, 2)
        self.verification.setHorizontalHeaderLabels(["", "Verification"])
        self.verification.horizontalHeader().setStretchLastSection(True)
        self.verification.verticalHeader().hide()
        self.verification.setEditTriggers(
            QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verify_button = QtWidgets.QPushButton("&Verify")
        self.verify_button.setDefault(True)
        self.verify_button.clicked.connect(self.verify)
        self.import_button = QtWidgets.QPushButton("&Import")
        self.import_button.setEnabled(False)
        self.import_button.setToolTip("Verify the package first.")
        self.import_button.clicked.connect(self.do_import)
        self._lay_out(form, self.verification, self.verify_button, self.import_button)
        for edit in (self.file, self.p12, self.passphrase, self.trust):
            edit.textChanged.connect(self._forget)
        self.accept_untrusted.toggled.connect(self._forget)
        if not session.can(Permission.TRIAGE):
            self.verify_button.setEnabled(False)
            self.say(f"Your role ({session.role.value}) may not import packages; "
                     "inspectors and auditors do.", error=True)

    def _forget(self, *_args: Any) -> None:
        """A changed field needs a new verification before anything is imported."""
        self.checked = None
        self.import_button.setEnabled(False)

    def _inputs(self) -> tuple[Path, keys.Identity, list[Path], bool]:
        if not self.file.text().strip():
            raise UsageError("Choose the package to import.")
        identity = _identity(self.p12.text(), self.passphrase.text(), "key")
        return (Path(self.file.text().strip()).expanduser(), identity,
                paths_of(self.trust.text()), self.accept_untrusted.isChecked())

    def verify(self) -> Checked | None:
        """Check everything an import checks, write nothing, and show the result."""
        self._forget()
        self.verification.setRowCount(0)
        if not self.session.ready:
            self.say("The workspace is busy or locked; wait for it.", error=True)
            return None
        try:
            path, identity, trust, accept = self._inputs()
            checked = self.session.read(check_package, path, identity, trust, accept)
        except OversightError as exc:
            self.say("Not imported: " + exc.message, error=True)
            return None
        self.checked = checked
        rows = checked.summary()
        self.verification.setRowCount(len(rows))
        for i, (label, value) in enumerate(rows):
            self.verification.setItem(i, 0, QtWidgets.QTableWidgetItem(label))
            self.verification.setItem(i, 1, QtWidgets.QTableWidgetItem(value))
        self.verification.resizeColumnToContents(0)
        what = "reply" if checked.kind == "reply" else "package"
        self.say(f"The {what} verified: signature, digests and decryption are in order"
                 + ("" if checked.inspection.trusted else
                    "; its signer is NOT trusted (accepted: the import records it)")
                 + ". Nothing is written until you import it.")
        self.import_button.setEnabled(True)
        self.import_button.setToolTip("")
        self.import_button.setFocus()
        return checked

    def do_import(self) -> Job | None:
        if self.checked is None or self.job is not None:
            return None
        try:
            path, identity, trust, accept = self._inputs()
        except OversightError as exc:
            self.say(exc.message, error=True)
            return None

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> ImportSummary:
            return import_package(ws, path, identity, trust, accept, progress=progress)

        job = self.session.start_job(f"Import {path.name}", work, changes_of(import_package),
                                     self._done, parent=self)
        if job is None:
            self.say("The workspace is busy or locked; wait for it.", error=True)
            return None
        self.job = job
        job.failed.connect(lambda exc: self.say("Not imported: " + inline(exc), True))
        job.ended.connect(self._ended)
        self.import_button.setEnabled(False)
        self.verify_button.setEnabled(False)
        self.say("Importing…")
        return job

    def _ended(self) -> None:
        self.job = None
        self.verify_button.setEnabled(True)
        self.checked = None

    def _done(self, result: ImportSummary) -> None:
        self.result_ = result
        if result.kind == "reply":
            self.say(f"Imported reply {result.label} from {result.sender}: decisions on "
                     f"{len(result.findings)} finding(s), beside your own.")
        else:
            self.say(f"Imported package {result.label} from {result.sender}: "
                     f"{len(result.findings)} finding(s) to triage, {result.records} "
                     "record(s). Received findings end in @" + result.label + ".")


class RevealDialog(_Form):
    """The identifier behind a pseudonym of this workspace; a reason is required."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(session, parent, None)
        self.revealed: Revealed | None = None
        self.setWindowTitle("Reveal a pseudonym")
        self.pseudonym = QtWidgets.QLineEdit()
        self.pseudonym.setPlaceholderText("PS-…")
        self.reason = QtWidgets.QLineEdit()
        self.reason.setPlaceholderText("Why (kept in the audit trail)")
        form = QtWidgets.QFormLayout()
        form.addRow("&Pseudonym:", self.pseudonym)
        form.addRow("&Reason:", self.reason)
        self.reveal_button = QtWidgets.QPushButton("Re&veal")
        self.reveal_button.setDefault(True)
        self.reveal_button.clicked.connect(self.reveal)
        self._lay_out(form, None, self.reveal_button)
        if not session.can(Permission.REPORT):
            self.reveal_button.setEnabled(False)
            self.say(f"Your role ({session.role.value}) may not reveal pseudonyms; only "
                     "auditors may.", error=True)

    def reveal(self) -> Revealed | None:
        if not self.reveal_button.isEnabled() or not self.session.ready:
            return None
        ws = self.session.ws
        try:
            with service_errors(ws.db_path):
                result = reveal(ws, self.pseudonym.text(), self.reason.text())
        except OversightError as exc:
            self.say(exc.message, error=True)
            return None
        self.revealed = result
        self.session.changed.emit(changes_of(reveal))
        self.say(f"{result.pseudonym} is {result.kind} {result.value} (the audit trail "
                 "records this, with your reason).")
        return result

