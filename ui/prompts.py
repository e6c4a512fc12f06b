"""Every question the workstation asks the user, behind one object.

Views never open a dialog themselves: they call a method of ``Prompts``. The
application passes the real one; tests pass a subclass that answers from a script and
records what it was asked, so no test ever blocks on a modal ``exec()``. The small
dialogs are classes here so tests can also fill them in and check their rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oversight.records import Kind
from oversight.triage import REASONS
from ui.errors import error_box, is_cancel
from ui.qt import Qt, QtGui, QtWidgets

__all__ = [
    "ApproveDialog",
    "AssignDialog",
    "DismissDialog",
    "EscalationDialog",
    "FormDialog",
    "ImportDialog",
    "NoteDialog",
    "Prompts",
    "ReturnDialog",
    "buddy_row",
    "decision_text",
    "reason_label",
]

Widget = QtWidgets.QWidget | None

#: What every decision dialog says under its buttons.
KEYS_HINT = "Ctrl+Enter: {ok} · Esc: cancel · Enter: new line"


def reason_label(reason: str) -> str:
    return reason.replace("_", " ").capitalize()


def buddy_row(form: QtWidgets.QFormLayout, text: str, field: QtWidgets.QWidget,
              row: QtWidgets.QLayout | QtWidgets.QWidget | None = None) -> QtWidgets.QLabel:
    """A form row whose label's mnemonic (``&Report:``) focuses ``field``, also when the
    row holds a layout (a field and its Browse… button): QFormLayout only sets a buddy
    for a widget, and a label without a buddy shows its ampersand as written."""
    label = QtWidgets.QLabel(text)
    label.setBuddy(field)
    if isinstance(row, QtWidgets.QLayout):
        form.addRow(label, row)
    else:
        form.addRow(label, field if row is None else row)
    return label


_VERBS = {"confirmed": "Confirm", "dismissed": "Dismiss", "escalated": "Escalate",
          "in_review": "Put in review", "open": "Reopen"}


def decision_text(d: dict[str, Any]) -> str:
    """A pending decision as the second reviewer reads it: "Confirm proposed by
    ines.garcia on 2026-11-28 14:04 (AUT-01, critical: …)" and the proposer's note."""
    verb = _VERBS.get(str(d.get("proposed")), str(d.get("proposed")))
    if d.get("reason"):
        verb += f" ({reason_label(str(d['reason'])).lower()})"
    when = str(d.get("proposed_at") or "")[:16].replace("T", " ")
    head = (f"{verb} proposed by {d.get('proposed_by')}" + (f" on {when}" if when else "")
            + f": {d.get('rule_id')} ({d.get('severity')}), finding {d.get('finding_id')}")
    message = str(d.get("message") or "")
    note = d.get("note")
    lines = [head, f"  {message}"]
    lines.append(f"  Note by {d.get('proposed_by')}: {note}" if note
                 else f"  {d.get('proposed_by')} wrote no note.")
    return "\n".join(lines)


def _titled(title: str, subject: str | None) -> str:
    """A decision dialog's title names the finding it decides (when it is one)."""
    return f"{title} — {subject}" if subject else title


class FormDialog(QtWidgets.QDialog):
    """A dialog with a form and OK/Cancel; OK is enabled only when ``valid()``.

    Ctrl+Enter submits and Escape cancels. A ``decision`` dialog (it records something
    in the audit trail) has no default button at all: Enter never submits it (in a note
    it starts a new line), a typed space never presses a button it lands on, and the
    cursor starts in the field named by ``focus_first``."""

    def __init__(self, parent: Widget, title: str, ok_text: str = "OK",
                 decision: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.decision = decision
        self.focus_first: QtWidgets.QWidget | None = None
        self.form = QtWidgets.QFormLayout()
        self.form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.buttons = QtWidgets.QDialogButtonBox()
        self._ok = QtWidgets.QPushButton(ok_text)
        self._cancel = QtWidgets.QPushButton("Cancel")
        # ActionRole, not AcceptRole: a button box makes its first accept button the
        # default when it is shown, and a decision dialog must have none.
        self.buttons.addButton(
            self._ok, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole if decision
            else QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self._cancel, QtWidgets.QDialogButtonBox.ButtonRole.RejectRole)
        if decision:
            self._ok.clicked.connect(self.accept)
            for button in (self._ok, self._cancel):
                button.setAutoDefault(False)
                button.setDefault(False)
        else:
            self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.keys_hint = QtWidgets.QLabel(KEYS_HINT.format(ok=ok_text.lower()))
        self.keys_hint.setEnabled(False)  # drawn greyed: a hint, not a message
        submit = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Return"), self)
        submit_pad = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Enter"), self)
        for shortcut in (submit, submit_pad):
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(self.accept)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.keys_hint, 1)
        row.addWidget(self.buttons)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(row)
        self.keys_hint.setVisible(decision)

    @property
    def ok_button(self) -> QtWidgets.QPushButton:
        return self._ok

    @property
    def cancel_button(self) -> QtWidgets.QPushButton:
        return self._cancel

    def valid(self) -> bool:
        return True

    def update_ok(self) -> None:
        self.ok_button.setEnabled(self.valid())

    def accept(self) -> None:
        if self.valid():
            super().accept()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if self.decision:
            for button in self.findChildren(QtWidgets.QPushButton):
                button.setDefault(False)
        if self.focus_first is not None:
            self.focus_first.setFocus(Qt.FocusReason.OtherFocusReason)


def _note_edit(placeholder: str) -> QtWidgets.QPlainTextEdit:
    edit = QtWidgets.QPlainTextEdit()
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    edit.setMinimumHeight(90)
    return edit


def _plain_label(text: str) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # names and notes are shown as written
    label.setWordWrap(True)
    return label


def _one(decisions: Sequence[dict[str, Any]]) -> str | None:
    return str(decisions[0]["finding_id"]) if len(decisions) == 1 else None


def _decisions_view(decisions: Sequence[dict[str, Any]]) -> QtWidgets.QPlainTextEdit:
    """The decisions under review, read-only (a proposer's note may be long)."""
    view = QtWidgets.QPlainTextEdit("\n\n".join(decision_text(d) for d in decisions))
    view.setReadOnly(True)
    view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Tab goes from the note to the buttons
    view.setMaximumHeight(150 if len(decisions) > 1 else 110)
    return view


class NoteDialog(FormDialog):
    """A note, required or optional, for one or more findings."""

    def __init__(self, parent: Widget, title: str, prompt: str, required: bool = True,
                 ok_text: str = "OK", context: QtWidgets.QWidget | None = None,
                 subject: str | None = None) -> None:
        super().__init__(parent, _titled(title, subject), ok_text, decision=True)
        self.required = required
        self.prompt = _plain_label(prompt)
        self.form.addRow(self.prompt)
        self.context = context
        if context is not None:
            self.form.addRow(context)
        self.edit = _note_edit("Why? (kept in the finding's history; notes cannot be "
                               "edited later)" if required else "Optional note")
        self.form.addRow(self.edit)
        self.focus_first = self.edit
        self.edit.setFocus()
        self.edit.textChanged.connect(self.update_ok)
        self.update_ok()

    def text(self) -> str:
        return self.edit.toPlainText()

    def valid(self) -> bool:
        return bool(self.text().strip()) or not self.required


class DismissDialog(FormDialog):
    """Dismissing needs a reason from the fixed list and a note."""

    def __init__(self, parent: Widget, count: int, subject: str | None = None) -> None:
        super().__init__(parent, _titled("Dismiss finding", subject) if count == 1
                         else f"Dismiss {count} findings", "Dismiss", decision=True)
        self.reason = QtWidgets.QComboBox()
        for reason in REASONS:
            self.reason.addItem(reason_label(reason), reason)
        self.edit = _note_edit("Why is this not a breach? (required)")
        # The note first: typing starts there; the reason is a Tab (or Alt+R) away.
        self.form.addRow("&Note:", self.edit)
        self.form.addRow("&Reason:", self.reason)
        self.focus_first = self.edit
        self.edit.setFocus()
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
        super().__init__(parent, "Assign findings", "Assign", decision=True)
        self.combo = QtWidgets.QComboBox()
        self.combo.addItem(self.NOBODY, "")
        for user in users:
            self.combo.addItem(user, user)
        if current:
            index = self.combo.findData(current)
            if index >= 0:
                self.combo.setCurrentIndex(index)
        self.form.addRow("Assign &to:", self.combo)
        self.focus_first = self.combo

    def value(self) -> str:
        return str(self.combo.currentData())


class ApproveDialog(NoteDialog):
    """The second reviewer's yes: states each decision being approved, who proposed it
    and their note; an optional note of one's own."""

    def __init__(self, parent: Widget, decisions: Sequence[dict[str, Any]]) -> None:
        count = len(decisions)
        what = "this decision" if count == 1 else f"these {count} decisions"
        super().__init__(parent, "Approve" if count == 1 else f"Approve {count} decisions",
                         f"Approve {what} as the second reviewer? It then takes effect.",
                         required=False, ok_text="Approve",
                         context=_decisions_view(decisions), subject=_one(decisions))


class ReturnDialog(NoteDialog):
    """The second reviewer's no: the decision does not take effect and the finding goes
    back to in review; a note saying why is required."""

    def __init__(self, parent: Widget, decisions: Sequence[dict[str, Any]]) -> None:
        count = len(decisions)
        what = "this decision" if count == 1 else f"these {count} decisions"
        super().__init__(parent, "Return to review" if count == 1
                         else f"Return {count} decisions to review",
                         f"Return {what} to the reviewers: it does not take effect and the "
                         "finding goes back to in review. Say why (required).",
                         required=True, ok_text="Return",
                         context=_decisions_view(decisions), subject=_one(decisions))


class EscalationDialog(NoteDialog):
    """Escalating names who the finding goes to (the workspace's setting)."""

    def __init__(self, parent: Widget, count: int, recipient: str | None,
                 subject: str | None = None) -> None:
        what = "this finding" if count == 1 else f"these {count} findings"
        where = (f"Escalate {what} to {recipient} (the workspace's escalation recipient)."
                 if recipient else
                 f"Escalate {what} for a decision elsewhere. No escalation recipient is set "
                 "for this workspace (an admin sets it under Settings ▸ Escalations…).")
        super().__init__(parent, "Escalate", where + " A note is optional.",
                         required=False, ok_text="Escalate", subject=subject)


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
        buddy_row(self.form, "Mapping &profile:", self.profile, row)

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

    def note(self, parent: Widget, title: str, prompt: str, required: bool = True,
             ok_text: str = "OK", subject: str | None = None) -> str | None:
        """``subject``: the one finding it is about (named in the title)."""
        dialog = NoteDialog(parent, title, prompt, required, ok_text, subject=subject)
        return dialog.text() if dialog.exec() else None

    def escalate(self, parent: Widget, count: int, recipient: str | None,
                 subject: str | None = None) -> str | None:
        """An optional note ("" for none); None cancels."""
        dialog = EscalationDialog(parent, count, recipient, subject)
        return dialog.text() if dialog.exec() else None

    def dismiss(self, parent: Widget, count: int, subject: str | None = None
                ) -> tuple[str, str] | None:
        dialog = DismissDialog(parent, count, subject)
        return dialog.values() if dialog.exec() else None

    def assign(self, parent: Widget, users: list[str], current: str | None) -> str | None:
        """The user to assign to; "" unassigns; None cancels."""
        dialog = AssignDialog(parent, users, current)
        return dialog.value() if dialog.exec() else None

    def approve(self, parent: Widget, decisions: Sequence[dict[str, Any]]) -> str | None:
        """An optional note ("" for none); None cancels. ``decisions``: what
        `triage.pending_decisions` says about each."""
        dialog = ApproveDialog(parent, decisions)
        return dialog.text() if dialog.exec() else None

    def return_decision(self, parent: Widget, decisions: Sequence[dict[str, Any]]
                        ) -> str | None:
        """The required note; None cancels."""
        dialog = ReturnDialog(parent, decisions)
        return dialog.text() if dialog.exec() else None

    def text(self, parent: Widget, title: str, label: str, value: str = "") -> str | None:
        """One line of text (a setting); None cancels."""
        text, ok = QtWidgets.QInputDialog.getText(parent, title, label,
                                                  QtWidgets.QLineEdit.EchoMode.Normal, value)
        return text if ok else None

