"""The start screen (recent workspaces, Open, Create) and the sign-in dialogs."""

from __future__ import annotations

import getpass
import html
from pathlib import Path

from oversight.errors import AuthenticationError, OversightError, UsageError
from oversight.workspace import Workspace, is_workspace
from ui.prompts import Prompts, buddy_row
from ui.qt import Qt, QtGui, QtWidgets, Signal
from ui.settings import Settings
from ui.widgets import readable

__all__ = ["CreateDialog", "LoginDialog", "StartWindow", "center_on"]

#: Errors a sign-in or create dialog shows inline (the user fixes them right there).
_INLINE = (AuthenticationError, UsageError)


def _busy_cursor() -> None:
    QtWidgets.QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)


def _normal_cursor() -> None:
    QtWidgets.QApplication.restoreOverrideCursor()


def center_on(dialog: QtWidgets.QWidget, parent: QtWidgets.QWidget | None) -> None:
    """Put ``dialog`` in the middle of its parent window when that is on screen, else
    in the middle of the screen (a window manager may place a dialog whose parent is
    not mapped yet in a corner)."""
    if parent is not None and parent.window().isVisible():
        area = parent.window().frameGeometry()
    else:
        screen = dialog.screen() or QtGui.QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
    frame = dialog.frameGeometry()
    frame.moveCenter(area.center())
    dialog.move(frame.topLeft())


class _SignIn(QtWidgets.QDialog):
    """Shared parts: an inline message line and error routing."""

    def __init__(self, parent: QtWidgets.QWidget | None, prompts: Prompts) -> None:
        super().__init__(parent)
        self.prompts = prompts
        self.workspace: Workspace | None = None
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {readable('#b3261e', self)}")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, _INLINE):
            self.message.setText(exc.message)
        else:  # storage trouble, not a workspace, a bug: a dialog with details
            self.message.setText(exc.message if isinstance(exc, OversightError)
                                 else "The workspace could not be opened.")
            self.prompts.error(self, exc)


class LoginDialog(_SignIn):
    """User and password for one workspace. A wrong password is said in the dialog,
    which stays open for another try."""

    def __init__(self, parent: QtWidgets.QWidget | None, folder: Path, prompts: Prompts,
                 user: str = "") -> None:
        super().__init__(parent, prompts)
        self.folder = Path(folder)
        self.setWindowTitle("Sign in")
        self.setMinimumWidth(440)
        where = QtWidgets.QLabel(f"<b>{html.escape(self.folder.name)}</b><br>"
                                 f"<small>{html.escape(str(self.folder))}</small>")
        where.setWordWrap(True)
        self.user = QtWidgets.QLineEdit(user)
        self.user.setPlaceholderText("User name")
        self.password = QtWidgets.QLineEdit()
        self.password.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Password")
        form = QtWidgets.QFormLayout()
        form.addRow("&User:", self.user)
        form.addRow("&Password:", self.password)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText("Sign in")
        self.buttons.accepted.connect(self.sign_in)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(where)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        (self.password if user else self.user).setFocus()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        center_on(self, self.parentWidget())

    def sign_in(self) -> None:
        self.message.clear()
        if not self.user.text().strip():
            self.message.setText("Enter your user name.")
            self.user.setFocus()
            return
        _busy_cursor()
        try:
            ws = Workspace.open(self.folder, self.user.text(), self.password.text())
        except Exception as exc:
            _normal_cursor()
            self._failed(exc)
            self.password.selectAll()
            self.password.setFocus()
            return
        _normal_cursor()
        self.password.clear()
        self.workspace = ws
        self.accept()


class CreateDialog(_SignIn):
    """A new workspace: an empty or new folder, the first admin and their password."""

    def __init__(self, parent: QtWidgets.QWidget | None, prompts: Prompts) -> None:
        super().__init__(parent, prompts)
        self.setWindowTitle("Create workspace")
        self.setMinimumWidth(520)
        intro = QtWidgets.QLabel(
            "A workspace is a folder holding an encrypted database. You become its first "
            "administrator; add inspectors and auditors afterwards. Nobody can open it "
            "without a password: there is no recovery if every password is lost.")
        intro.setWordWrap(True)
        self.folder = QtWidgets.QLineEdit()
        self.folder.setPlaceholderText("A new or empty folder")
        self.choose_button = QtWidgets.QPushButton("Choose…")
        self.choose_button.clicked.connect(self._choose)
        folder_row = QtWidgets.QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_button)
        try:
            me = getpass.getuser()
        except (KeyError, OSError, ImportError):  # no login name in this environment
            me = ""
        self.admin = QtWidgets.QLineEdit(me)
        self.password = QtWidgets.QLineEdit()
        self.repeat = QtWidgets.QLineEdit()
        for edit in (self.password, self.repeat):
            edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("At least 8 characters")
        form = QtWidgets.QFormLayout()
        buddy_row(form, "&Folder:", self.folder, folder_row)
        form.addRow("&Administrator:", self.admin)
        form.addRow("&Password:", self.password)
        form.addRow("&Repeat password:", self.repeat)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _choose(self) -> None:
        path = self.prompts.choose_new_folder(self, "Folder for the new workspace")
        if path is not None:
            self.folder.setText(str(path))

    def submit(self) -> None:
        self.message.clear()
        folder = self.folder.text().strip()
        if not folder:
            self.message.setText("Choose a folder for the workspace.")
            return
        if self.password.text() != self.repeat.text():
            self.message.setText("The two passwords differ; type the same password twice.")
            self.repeat.clear()
            self.repeat.setFocus()
            return
        _busy_cursor()
        try:
            ws = Workspace.create(Path(folder), self.admin.text(), self.password.text())
        except Exception as exc:
            _normal_cursor()
            self._failed(exc)
            return
        _normal_cursor()
        self.password.clear()
        self.repeat.clear()
        self.workspace = ws
        self.accept()


class StartWindow(QtWidgets.QWidget):
    """Recent workspaces, Open and Create. Emits ``opened(Workspace)``."""

    opened = Signal(object)

    def __init__(self, settings: Settings, prompts: Prompts,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.prompts = prompts
        self.dialog: LoginDialog | CreateDialog | None = None
        self.setWindowTitle("Oversight Workstation")
        title = QtWidgets.QLabel("<h1>Oversight Workstation</h1>")
        blurb = QtWidgets.QLabel(
            "Review imported operation logs against oversight criteria, decide on the "
            "findings, and keep every decision accountable. Workspaces are encrypted "
            "folders; open one you have a password for, or create a new one.")
        blurb.setWordWrap(True)
        self.recent = QtWidgets.QListWidget()
        self.recent.setAlternatingRowColors(True)
        self.recent.itemActivated.connect(lambda item: self.open_recent())
        self.recent.currentRowChanged.connect(lambda _: self._update_buttons())
        self.open_recent_button = QtWidgets.QPushButton("Open")
        self.open_recent_button.setDefault(True)
        self.open_recent_button.clicked.connect(self.open_recent)
        self.remove_button = QtWidgets.QPushButton("Remove from list")
        self.remove_button.clicked.connect(self.remove_recent)
        self.open_button = QtWidgets.QPushButton("Open workspace…")
        self.open_button.clicked.connect(self.choose_and_open)
        self.create_button = QtWidgets.QPushButton("Create workspace…")
        self.create_button.clicked.connect(self.create_workspace)
        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.open_recent_button)
        side.addWidget(self.remove_button)
        side.addSpacing(18)
        side.addWidget(self.open_button)
        side.addWidget(self.create_button)
        side.addStretch(1)
        lists = QtWidgets.QHBoxLayout()
        lists.addWidget(self.recent, 1)
        lists.addLayout(side)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(blurb)
        layout.addWidget(QtWidgets.QLabel("<b>Recent workspaces</b>"))
        layout.addLayout(lists, 1)
        geometry = settings.bytes_value("window/start")
        self._center_on_show = geometry is None or not self.restoreGeometry(geometry)
        if self._center_on_show:
            self.resize(760, 460)
        self.refresh_recent()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if self._center_on_show:  # first time: the middle of the screen, not a corner
            self._center_on_show = False
            center_on(self, None)

    def refresh_recent(self) -> None:
        self.recent.clear()
        for folder in self.settings.recent():
            path = Path(folder)
            present = is_workspace(path)
            item = QtWidgets.QListWidgetItem(
                f"{path.name}    —    {path.parent}" + ("" if present else "   (not found)"))
            item.setData(Qt.ItemDataRole.UserRole, folder)
            item.setToolTip(folder)
            if not present:
                item.setForeground(self.palette().color(
                    self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text))
            self.recent.addItem(item)
        if self.recent.count():
            self.recent.setCurrentRow(0)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.recent.currentItem() is not None
        self.open_recent_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def open_recent(self) -> None:
        item = self.recent.currentItem()
        if item is not None:
            self.open_workspace(Path(str(item.data(Qt.ItemDataRole.UserRole))))

    def remove_recent(self) -> None:
        item = self.recent.currentItem()
        if item is not None:
            self.settings.remove_recent(str(item.data(Qt.ItemDataRole.UserRole)))
            self.refresh_recent()

    def choose_and_open(self) -> None:
        folder = self.prompts.choose_folder(self, "Open workspace")
        if folder is not None:
            self.open_workspace(folder)

    def open_workspace(self, folder: Path) -> LoginDialog:
        """Ask for user and password (a non-blocking dialog); ``opened`` on success."""
        dialog = LoginDialog(self, folder, self.prompts, self.settings.last_user(folder))
        dialog.accepted.connect(lambda: self._signed_in(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def create_workspace(self) -> CreateDialog:
        dialog = CreateDialog(self, self.prompts)
        dialog.accepted.connect(lambda: self._signed_in(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _signed_in(self, dialog: LoginDialog | CreateDialog) -> None:
        ws = dialog.workspace
        self.dialog = None
        dialog.deleteLater()
        if ws is None:
            return
        self.settings.add_recent(ws.folder)
        self.settings.set_last_user(ws.folder, ws.user)
        self.opened.emit(ws)

    def closeEvent(self, event: object) -> None:
        self.settings.set_bytes("window/start", self.saveGeometry())
        super().closeEvent(event)  # type: ignore[arg-type]
