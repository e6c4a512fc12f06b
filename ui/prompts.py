"""Every question the workstation asks the user, behind one object.

Views never open a dialog themselves: they call a method of ``Prompts``. The
application passes the real one; tests pass a subclass that answers from a script and
records what it was asked, so no test ever blocks on a modal ``exec()``. The small
dialogs are classes here so tests can also fill them in and check their rules.
"""

from __future__ import annotations

from pathlib import Path

from oversight.records import Kind
from oversight.triage import REASONS
from ui.errors import error_box, is_cancel
from ui.qt import Qt, QtWidgets

__all__ = [
    "ApproveDialog",
    "AssignDialog",
    "DismissDialog",
    "FormDialog",
    "ImportDialog",
    "NoteDialog",
    "Prompts",
    "reason_label",
]

Widget = QtWidgets.QWidget | None


def reason_label(reason: str) -> str:
    return reason.replace("_", " ").capitalize()


class FormDialog(QtWidgets.QDialog):
    """A dialog with a form and OK/Cancel; OK is enabled only when ``valid()``."""

    def __init__(self, parent: Widget, title: str, ok_text: str = "OK") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.form = QtWidgets.QFormLayout()
        self.form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.ok_button.setText(ok_text)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.buttons)

    @property
    def ok_button(self) -> QtWidgets.QPushButton:
        return self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)

    def valid(self) -> bool:
        return True

    def update_ok(self) -> None:
        self.ok_button.setEnabled(self.valid())

    def accept(self) -> None:
        if self.valid():
            super().accept()


def _note_edit(placeholder: str) -> QtWidgets.QPlainTextEdit:
    edit = QtWidgets.QPlainTextEdit()
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    edit.setMinimumHeight(90)
    return edit


class NoteDialog(FormDialog):
    """A note, required or optional, for one or more findings."""

    def __init__(self, parent: Widget, title: str, prompt: str, required: bool = True,
                 ok_text: str = "OK") -> None:
        super().__init__(parent, title, ok_text)
        self.required = required
        label = QtWidgets.QLabel(prompt)
        label.setWordWrap(True)
        self.form.addRow(label)
        self.edit = _note_edit("Why? (kept in the finding's history; notes cannot be "
                               "edited later)" if required else "Optional note")
        self.form.addRow(self.edit)
        self.edit.textChanged.connect(self.update_ok)
        self.update_ok()

    def text(self) -> str:
        return self.edit.toPlainText()

    def valid(self) -> bool:
        return bool(self.text().strip()) or not self.required


class DismissDialog(FormDialog):
    """Dismissing needs a reason from the fixed list and a note."""

    def __init__(self, parent: Widget, count: int) -> None:
        super().__init__(parent, "Dismiss finding" if count == 1 else f"Dismiss {count} findings",
                         "Dismiss")
        self.reason = QtWidgets.QComboBox()
        for reason in REASONS:
            self.reason.addItem(reason_label(reason), reason)
        self.form.addRow("&Reason:", self.reason)
        self.edit = _note_edit("Why is this not a breach? (required)")
        self.form.addRow("&Note:", self.edit)
        self.edit.textChanged.connect(self.update_ok)
        self.update_ok()

    def values(self) -> tuple[str, str]:
        return str(self.reason.currentData()), self.edit.toPlainText()

    def valid(self) -> bool:
        return bool(self.edit.toPlainText().strip())


class AssignDialog(FormDialog):
    """Pick an active user, or nobody."""

    NOBODY = "(nobody)"

    def __init__(self, parent: Widget, users: list[str], current: str | None) -> None:
        super().__init__(parent, "Assign findings", "Assign")
        self.combo = QtWidgets.QComboBox()
        self.combo.addItem(self.NOBODY, "")
        for user in users:
            self.combo.addItem(user, user)
        if current:
            index = self.combo.findData(current)
            if index >= 0:
                self.combo.setCurrentIndex(index)
        self.form.addRow("Assign &to:", self.combo)

    def value(self) -> str:
        return str(self.combo.currentData())


class ApproveDialog(NoteDialog):
    def __init__(self, parent: Widget, count: int) -> None:
        what = "this decision" if count == 1 else f"these {count} decisions"
        super().__init__(parent, "Approve", f"Approve {what} as the second reviewer? "
                         "The decision then takes effect.", required=False, ok_text="Approve")


class ImportDialog(FormDialog):
    """What kind of records a file holds, and an optional mapping profile."""

    def __init__(self, parent: Widget, path: Path) -> None:
        super().__init__(parent, "Import file", "Import")
        name = QtWidgets.QLabel(str(path))
        name.setWordWrap(True)
        self.form.addRow("File:", name)
        self.kind = QtWidgets.QComboBox()
        for kind, label in ((Kind.OPERATIONS, "Operations (log of actions)"),
                            (Kind.AUTHORISATIONS, "Authorisations (warrants, approvals)"),
                            (Kind.CASES, "Cases")):
            self.kind.addItem(label, kind.value)
        self.form.addRow("&Holds:", self.kind)
        row = QtWidgets.QHBoxLayout()
        self.profile = QtWidgets.QLineEdit()
        self.profile.setPlaceholderText("automatic (column names are recognised)")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.profile)
        row.addWidget(browse)
        self.form.addRow("Mapping &profile:", row)

    def _browse(self) -> None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Mapping profile", "", "Mapping profiles (*.yaml *.yml);;All files (*)")
        if name:
            self.profile.setText(name)

    def values(self) -> tuple[Kind, Path | None]:
        text = self.profile.text().strip()
        return Kind(str(self.kind.currentData())), Path(text) if text else None


class Prompts:
    """The real questions, as dialogs. Methods return None when the user cancels."""

    def error(self, parent: Widget, exc: BaseException) -> None:
        if is_cancel(exc):
            return
        error_box(parent, exc).open()

    def info(self, parent: Widget, title: str, text: str) -> None:
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, title, text,
                                    QtWidgets.QMessageBox.StandardButton.Close, parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def confirm(self, parent: Widget, title: str, text: str) -> bool:
        answer = QtWidgets.QMessageBox.question(parent, title, text)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def choose_folder(self, parent: Widget, title: str, start: str = "") -> Path | None:
        name = QtWidgets.QFileDialog.getExistingDirectory(parent, title, start)
        return Path(name) if name else None

    def choose_new_folder(self, parent: Widget, title: str, start: str = "") -> Path | None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            parent, title, start, options=QtWidgets.QFileDialog.Option.ShowDirsOnly)
        return Path(name) if name else None

    def choose_file(self, parent: Widget, title: str, filters: str) -> Path | None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(parent, title, "", filters)
        return Path(name) if name else None

    def import_options(self, parent: Widget, path: Path) -> tuple[Kind, Path | None] | None:
        dialog = ImportDialog(parent, path)
        return dialog.values() if dialog.exec() else None

    def note(self, parent: Widget, title: str, prompt: str, required: bool = True
             ) -> str | None:
        dialog = NoteDialog(parent, title, prompt, required)
        return dialog.text() if dialog.exec() else None

    def dismiss(self, parent: Widget, count: int) -> tuple[str, str] | None:
        dialog = DismissDialog(parent, count)
        return dialog.values() if dialog.exec() else None

    def assign(self, parent: Widget, users: list[str], current: str | None) -> str | None:
        """The user to assign to; "" unassigns; None cancels."""
        dialog = AssignDialog(parent, users, current)
        return dialog.value() if dialog.exec() else None

    def approve(self, parent: Widget, count: int) -> str | None:
        """An optional note ("" for none); None cancels."""
        dialog = ApproveDialog(parent, count)
        return dialog.text() if dialog.exec() else None

