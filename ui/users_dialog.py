"""Users of the workspace, for admins: list, add, remove, reset a password.

Everything goes through the Workspace service (which checks the role and records
each change in the audit trail); problems come back as sentences. Other roles see the
list with the buttons disabled, their tooltip saying why.
"""

from __future__ import annotations

from oversight.workspace import MIN_PASSWORD_LENGTH, Permission, Role, Workspace
from ui.errors import inline
from ui.models import TableModel, when_text
from ui.prompts import FormDialog, Prompts
from ui.qt import Qt, QtWidgets
from ui.session import Session
from ui.widgets import make_table, readable

__all__ = ["AddUserDialog", "PasswordDialog", "UsersDialog"]

Widget = QtWidgets.QWidget | None


class _PasswordForm(FormDialog):
    """A form with a password typed twice; OK only when valid, the reason shown."""

    def __init__(self, parent: Widget, title: str, ok_text: str) -> None:
        super().__init__(parent, title, ok_text)
        self.password = QtWidgets.QLineEdit()
        self.password.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.again = QtWidgets.QLineEdit()
        self.again.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.hint = QtWidgets.QLabel()
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setStyleSheet(f"color: {readable('#b3261e', self)}")
        self.hint.setWordWrap(True)
        layout = self.layout()
        assert isinstance(layout, QtWidgets.QVBoxLayout)
        layout.insertWidget(1, self.hint)  # between the form and the buttons
        for edit in (self.password, self.again):
            edit.textChanged.connect(self.update_ok)

    def add_password_rows(self) -> None:
        self.form.addRow("&Password:", self.password)
        self.form.addRow("Password &again:", self.again)
        self.update_ok()

    def problem(self) -> str:
        if len(self.password.text()) < MIN_PASSWORD_LENGTH:
            return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
        if self.password.text() != self.again.text():
            return "The two passwords differ."
        return ""

    def valid(self) -> bool:
        return not self.problem()

    def update_ok(self) -> None:
        self.hint.setText(self.problem())
        super().update_ok()


class AddUserDialog(_PasswordForm):
    def __init__(self, parent: Widget) -> None:
        super().__init__(parent, "Add user", "Add")
        self.name = QtWidgets.QLineEdit()
        self.name.textChanged.connect(self.update_ok)
        self.role = QtWidgets.QComboBox()
        for role in Role:
            self.role.addItem(role.value, role.value)
        self.role.setCurrentIndex(self.role.findData(Role.INSPECTOR.value))
        self.form.addRow("&Name:", self.name)
        self.form.addRow("&Role:", self.role)
        self.add_password_rows()

    def problem(self) -> str:
        if not self.name.text().strip():
            return "Enter the user's name."
        return super().problem()

    def values(self) -> tuple[str, Role, str]:
        return self.name.text().strip(), Role(str(self.role.currentData())), \
            self.password.text()


class PasswordDialog(_PasswordForm):
    def __init__(self, parent: Widget, user: str) -> None:
        super().__init__(parent, f"Reset the password of {user}", "Set password")
        label = QtWidgets.QLabel(f"The new password for {user}. Tell it to them in person; "
                                 "it is never shown again.")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setWordWrap(True)
        self.form.addRow(label)
        self.add_password_rows()


class UsersDialog(QtWidgets.QDialog):
    """Not modal; the add and reset forms open with ``open()`` (never ``exec()``)."""

    def __init__(self, session: Session, prompts: Prompts, parent: Widget = None) -> None:
        super().__init__(parent)
        self.session = session
        self.prompts = prompts
        self.form: _PasswordForm | None = None
        self.setWindowTitle("Users")
        self.resize(640, 380)
        self.model = TableModel(["Name", "Role", "Active", "Created", "Created by"], self)
        self.view = make_table(self.model, stretch_last=True)
        self.view.setColumnWidth(0, 160)
        self.view.doubleClicked.connect(lambda _: self.ask_reset())
        self.add_button = QtWidgets.QPushButton("&Add user…")
        self.remove_button = QtWidgets.QPushButton("&Remove")
        self.reset_button = QtWidgets.QPushButton("Reset &password…")
        self.add_button.clicked.connect(self.ask_add)
        self.remove_button.clicked.connect(self.remove_selected)
        self.reset_button.clicked.connect(self.ask_reset)
        self.status = QtWidgets.QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.reset_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.update_buttons())
        session.ready_changed.connect(lambda _: self.update_buttons())
        self.refresh()

    @property
    def allowed(self) -> bool:
        return self.session.can(Permission.MANAGE_USERS)

    def refresh(self) -> None:
        if not self.session.ready:
            self.update_buttons()
            return
        try:
            users = self.session.read(Workspace.users)
        except Exception as exc:
            self.status.setText(inline(exc))
            return
        self.model.set_rows([(u.name, u.role.value, "yes" if u.active else "no",
                              when_text(u.created_at), u.created_by or "") for u in users])
        active = sum(1 for u in users if u.active)
        self.status.setText(f"{active} active user(s), {len(users) - active} removed.")
        self.update_buttons()

    def selected_user(self) -> str | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        name, _role, active = self.model.row_values(index.row())[:3]
        return str(name) if active == "yes" else None

    def update_buttons(self) -> None:
        ready = self.session.ready
        if not self.allowed:
            why = self.session.why_not(Permission.MANAGE_USERS)
            for b in (self.add_button, self.remove_button, self.reset_button):
                b.setEnabled(False)
                b.setToolTip(why)
            return
        chosen = self.selected_user() is not None
        self.add_button.setEnabled(ready)
        self.remove_button.setEnabled(ready and chosen)
        self.reset_button.setEnabled(ready and chosen)
        for b in (self.add_button, self.remove_button, self.reset_button):
            b.setToolTip("" if ready else "Wait for the running job to finish.")

    def select(self, name: str) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_values(row)[0] == name:
                self.view.selectRow(row)
                return

    # -- actions -----------------------------------------------------------------------

    def ask_add(self) -> None:
        if not self.add_button.isEnabled():
            return
        form = AddUserDialog(self)
        form.accepted.connect(lambda: self.add_user(*form.values()))
        self._show(form)

    def ask_reset(self) -> None:
        name = self.selected_user()
        if name is None or not self.reset_button.isEnabled():
            return
        form = PasswordDialog(self, name)
        form.accepted.connect(lambda: self.reset_password(name, form.password.text()))
        self._show(form)

    def _show(self, form: _PasswordForm) -> None:
        self.form = form
        form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form.destroyed.connect(lambda _=None: setattr(self, "form", None))
        form.open()

    def add_user(self, name: str, role: Role, password: str) -> bool:
        done = self.session.write(self, Workspace.add_user, name, role, password)
        if done is None:
            return False
        self.refresh()
        self.select(name)
        self.status.setText(f"Added {name} ({role.value}).")
        return True

    def remove_selected(self) -> bool:
        name = self.selected_user()
        if name is None or not self.remove_button.isEnabled():
            return False
        if not self.prompts.confirm(self, "Remove user",
                                    f"Remove {name}? They can no longer sign in; their past "
                                    "decisions stay in the audit trail."):
            return False
        if not self.session.try_write(self, Workspace.remove_user, name):
            return False
        self.refresh()
        self.status.setText(f"Removed {name}.")
        return True

    def reset_password(self, name: str, password: str) -> bool:
        if not self.session.try_write(self, Workspace.reset_password, name, password):
            return False
        self.status.setText(f"The password of {name} was reset.")
        return True
