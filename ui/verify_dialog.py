"""Checking a signed report: any PDF, optional trust roots, the verdict in plain words.

Verification reads only the file (never the workspace), so it runs directly; a report
is a few hundred kilobytes and the check takes well under a second.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from oversight.errors import OversightError
from oversight.report.sign import ReportVerification, verify_report
from ui.errors import inline
from ui.prompts import buddy_row
from ui.qt import Qt, QtWidgets
from ui.widgets import readable, with_browse_button

__all__ = ["VerificationView", "VerifyDialog", "verification_rows"]

OK_COLOR, BAD_COLOR = "#1e7b34", "#b3261e"


def verification_rows(v: ReportVerification) -> list[tuple[str, str]]:
    """The verification as (check, result) lines: the core's own wording, shown as is
    (the CLI prints the same lines)."""
    return v.checks()


class VerificationView(QtWidgets.QWidget):
    """The verdict (VALID / INVALID, large), the problems, then every field."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = QtWidgets.QLabel()
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setWordWrap(True)
        self.problems = QtWidgets.QLabel()
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields = QtWidgets.QTableWidget(0, 2)
        self.fields.setHorizontalHeaderLabels(["Check", "Result"])
        self.fields.verticalHeader().hide()
        self.fields.horizontalHeader().setStretchLastSection(True)
        self.fields.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields.setColumnWidth(0, 230)
        self.fields.verticalHeader().setDefaultSectionSize(
            self.fields.fontMetrics().height() + 6)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.problems)
        layout.addWidget(self.fields, 1)
        self.result: ReportVerification | None = None
        self.clear()

    @property
    def status(self) -> str:
        """"VALID", "INVALID" or "" (nothing checked)."""
        return "" if self.result is None else ("VALID" if self.result.ok else "INVALID")

    def clear(self) -> None:
        self.result = None
        self.verdict.clear()
        self.problems.clear()
        self.problems.hide()
        self.fields.setRowCount(0)

    def show_error(self, text: str) -> None:
        self.clear()
        bad = readable(BAD_COLOR, self)
        self.verdict.setText(f"<span style='color:{bad}'>{html.escape(text)}</span>")

    def show_result(self, v: ReportVerification) -> None:
        self.result = v
        color = readable(OK_COLOR if v.ok else BAD_COLOR, self)
        says = ("The signature holds and the report is as it was signed."
                if v.ok else "Do not rely on this report as it stands.")
        trust = ""
        if v.ok and not v.trusted:
            trust = (" Who signed it is shown but not vouched for: give the signer's CA "
                     "certificate as a trust root to check that too.")
        self.verdict.setText(
            f"<span style='font-size:20pt; font-weight:bold; color:{color}'>"
            f"{self.status}</span>&nbsp;&nbsp;{html.escape(says + trust)}")
        if v.problems:
            self.problems.setText("<b>Problems:</b><ul>" + "".join(
                f"<li>{html.escape(p)}</li>" for p in v.problems) + "</ul>")
            self.problems.show()
        else:
            self.problems.hide()
        rows = verification_rows(v)
        self.fields.setRowCount(len(rows))
        for i, (what, value) in enumerate(rows):
            self.fields.setItem(i, 0, QtWidgets.QTableWidgetItem(what))
            self.fields.setItem(i, 1, QtWidgets.QTableWidgetItem(value))


class VerifyDialog(QtWidgets.QDialog):
    """"Verify a report": pick a PDF and optional trust roots, then Verify."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, prompts: Any = None) -> None:
        super().__init__(parent)
        self.prompts = prompts
        self.setWindowTitle("Verify a report")
        self.resize(760, 640)
        self.file = QtWidgets.QLineEdit()
        self.file.setPlaceholderText("The signed report (PDF)")
        self.trust = QtWidgets.QLineEdit()
        self.trust.setPlaceholderText("Optional: CA certificates (PEM), separated by ';'")
        form = QtWidgets.QFormLayout()
        buddy_row(form, "&Report:", self.file, with_browse_button(self.file, self._browse_file))
        buddy_row(form, "&Trust roots:", self.trust,
                  with_browse_button(self.trust, self._browse_trust))
        self.verify_button = QtWidgets.QPushButton("Verify")
        self.verify_button.setDefault(True)
        self.verify_button.clicked.connect(self.verify)
        self.view = VerificationView()
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.verify_button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        note = QtWidgets.QLabel("Checks the signature, that nothing changed after signing, "
                                "the embedded manifest and the digest the pages print. "
                                "Nothing is fetched from the network.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)

    def _choose(self, title: str, filters: str) -> Path | None:
        if self.prompts is not None:
            chosen: Path | None = self.prompts.choose_file(self, title, filters)
            return chosen
        name, _ = QtWidgets.QFileDialog.getOpenFileName(self, title, "", filters)
        return Path(name) if name else None

    def _browse_file(self) -> None:
        path = self._choose("Signed report", "PDF files (*.pdf);;All files (*)")
        if path is not None:
            self.file.setText(str(path))

    def _browse_trust(self) -> None:
        path = self._choose("Trust root", "Certificates (*.pem *.crt *.cer);;All files (*)")
        if path is not None:
            current = self.trust.text().strip()
            self.trust.setText(f"{current};{path}" if current else str(path))

    def trust_roots(self) -> list[Path]:
        return [Path(p.strip()) for p in self.trust.text().split(";") if p.strip()]

    def verify(self) -> ReportVerification | None:
        name = self.file.text().strip()
        if not name:
            self.view.show_error("Choose the report to verify.")
            return None
        try:
            result = verify_report(Path(name), self.trust_roots())
        except OversightError as exc:
            self.view.show_error(exc.message)
            return None
        except Exception as exc:  # a file pyHanko cannot read at all
            self.view.show_error(inline(exc) if not isinstance(exc, ValueError)
                                 else f"The file cannot be checked: {exc}")
            return None
        self.view.show_result(result)
        return result
