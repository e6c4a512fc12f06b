"""Hooks the import wizard, the audit trail page, the sources page (batches and their
retraction) and the users dialog into the main window: one call from MainWindow, so
the window itself barely changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oversight.workspace import Permission
from ui.audit_page import AuditPage
from ui.import_wizard import ImportWizard
from ui.qt import QObject, Qt, QtGui, QtWidgets
from ui.sources_page import SourcesPage, install_sources_page
from ui.users_dialog import UsersDialog

if TYPE_CHECKING:
    from ui.main_window import MainWindow

__all__ = ["AUDIT_PAGE_TITLE", "AdminTools", "install_admin_tools"]

AUDIT_PAGE_TITLE = "Audit trail"


def _menu_of(window: MainWindow, action: QtGui.QAction) -> QtWidgets.QMenu | None:
    for menu in window.menuBar().findChildren(QtWidgets.QMenu):
        if action in menu.actions():
            return menu
    return None


class AdminTools(QObject):
    """What install_admin_tools added: its actions, page and open windows."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.import_wizard: ImportWizard | None = None
        self.users_dialog: UsersDialog | None = None
        self.import_wizard_action = QtGui.QAction("Import &wizard…", window)
        self.users_action = QtGui.QAction("&Users…", window)
        self.audit_page = AuditPage(window.session)
        self.sources_page: SourcesPage | None = None


def install_admin_tools(window: MainWindow) -> AdminTools:
    """Workspace ▸ Import wizard… (Ctrl+Shift+I), Settings ▸ Users…, and an
    "Audit trail" sidebar page."""
    session = window.session
    tools = AdminTools(window)

    wizard_action = tools.import_wizard_action
    wizard_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+I"))
    users_action = tools.users_action
    ws_menu = _menu_of(window, window.import_action)
    if ws_menu is not None:
        ws_menu.insertAction(window.detect_action, wizard_action)
    settings_menu = next((m for m in window.menuBar().findChildren(QtWidgets.QMenu)
                          if m.title() == "&Settings"), ws_menu)
    if settings_menu is not None:
        settings_menu.setToolTipsVisible(True)
        settings_menu.addAction(users_action)

    def update() -> None:
        ready = session.ready
        if not session.can(Permission.IMPORT):
            wizard_action.setEnabled(False)
            wizard_action.setToolTip(session.why_not(Permission.IMPORT))
        else:
            wizard_action.setEnabled(ready)
            wizard_action.setToolTip("Import files with a mapping you check column by "
                                     "column" if ready else
                                     "Wait for the running job to finish.")
        if not session.can(Permission.MANAGE_USERS):
            users_action.setEnabled(False)
            users_action.setToolTip(session.why_not(Permission.MANAGE_USERS))
        else:
            users_action.setEnabled(ready)
            users_action.setToolTip("Add or remove users, reset a password" if ready else
                                    "Wait for the running job to finish.")

    def open_wizard() -> None:
        if not wizard_action.isEnabled():
            return
        current = tools.import_wizard
        if isinstance(current, ImportWizard) and current.isVisible():
            current.raise_()
            current.activateWindow()
            return
        wizard = ImportWizard(session, window.prompts, window)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.destroyed.connect(lambda _=None: setattr(tools, "import_wizard", None))
        tools.import_wizard = wizard
        wizard.show()

    def open_users() -> None:
        if not users_action.isEnabled():
            return
        current = tools.users_dialog
        if isinstance(current, UsersDialog) and current.isVisible():
            current.raise_()
            return
        dialog = UsersDialog(session, window.prompts, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None: setattr(tools, "users_dialog", None))
        tools.users_dialog = dialog
        dialog.show()

    def locked(is_locked: bool) -> None:
        # Nothing of the workspace stays on screen while locked.
        if not is_locked:
            return
        if isinstance(tools.users_dialog, UsersDialog):
            tools.users_dialog.close()
        wizard = tools.import_wizard
        if isinstance(wizard, ImportWizard) and wizard.job is None:
            wizard.close()

    wizard_action.triggered.connect(open_wizard)
    users_action.triggered.connect(open_users)
    session.ready_changed.connect(lambda _: update())
    session.locked_changed.connect(locked)
    update()

    tools.audit_page.message.connect(window.show_message)
    window.pages.addWidget(tools.audit_page)
    window.sidebar.addItem(AUDIT_PAGE_TITLE)
    # Import batches, live and retracted; retracting one (ui/sources_page.py).
    tools.sources_page = install_sources_page(window)
    return tools
