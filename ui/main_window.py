"""The main window: sidebar pages, the long jobs, locking and role-shaped actions."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from oversight import findings, triage
from oversight.changes import Change, changes_of
from oversight.criteria.engine import RunSummary, run_detection
from oversight.criteria.pack import Pack, load_pack
from oversight.criteria.versions import active_pack
from oversight.errors import OversightError
from oversight.importing import import_file
from oversight.importing.service import ImportResult
from oversight.integrity import VerifyReport, verify
from oversight.progress import CancelToken, Progress
from oversight.records import Kind
from oversight.settings import auto_lock_minutes
from oversight.workspace import Permission, Workspace
from ui.audit_page import AuditPage
from ui.criteria_page import CriteriaPage
from ui.dashboard import DashboardPage
from ui.exchange_dialogs import ExportPackageDialog, ImportPackageDialog, RevealDialog
from ui.import_wizard import FILE_FILTERS, ImportWizard, summary_warning_lines
from ui.indicators_page import IndicatorsPage
from ui.jobs import Job, ProgressDialog
from ui.log_quality_page import TITLE as LOG_QUALITY_TITLE
from ui.log_quality_page import LogQualityPage
from ui.operations_page import OperationsPage
from ui.prompts import Prompts
from ui.qt import QObject, Qt, QtCore, QtGui, QtWidgets, Signal
from ui.report_dialog import ReportDialog, why_not_report
from ui.scan_dialog import ScanDialog
from ui.session import Session
from ui.settings import Settings
from ui.sources_page import SOURCES_PAGE_TITLE, SourcesPage
from ui.timeline import TimelineDialog
from ui.triage_page import TriagePage
from ui.users_dialog import UsersDialog
from ui.verify_dialog import VerifyDialog
from ui.widgets import readable

__all__ = ["AUDIT_PAGE_TITLE", "SHORTCUTS", "IdleWatcher", "LockScreen", "MainWindow",
           "PreferencesDialog"]

#: What the core operation declares it changes (read once: not whatever a
#: test or plugin puts in its place later).
VERIFY_CHANGES = changes_of(verify)
DETECTION_CHANGES = changes_of(run_detection)
IMPORT_CHANGES = changes_of(import_file)

AUDIT_PAGE_TITLE = "Audit trail"

#: (keys, what they do) for the shortcuts help and docs/gui.md.
SHORTCUTS = (
    ("Ctrl+1 … Ctrl+4", "Dashboard, Findings, Pending my approval (approvers), Operations"),
    ("J / K", "Next / previous finding (one-letter keys act in the findings list only)"),
    ("C", "Confirm the selected findings (asks for a note)"),
    ("D", "Dismiss (asks for a note and a reason)"),
    ("E", "Escalate (optional note; names who escalations go to)"),
    ("R / O", "Mark in review / reopen"),
    ("N", "Add a note"),
    ("A", "Assign"),
    ("P / R", "Approve / return to review (Pending my approval)"),
    ("Ctrl+F", "Search the findings (Enter: to the list)"),
    ("Ctrl+Enter", "Submit a decision dialog (Enter starts a new line in a note)"),
    ("Esc", "Cancel a dialog"),
    ("Ctrl+I", "Import a file"),
    ("Ctrl+Shift+I", "Import wizard"),
    ("Ctrl+D", "Run detection"),
    ("Ctrl+R", "Produce a report (auditors)"),
    ("Ctrl+T", "Timeline of an authorisation or case"),
    ("Ctrl+End / Ctrl+Home", "Last / first row of a table (the columns stay where they are)"),
    ("Ctrl+L", "Lock now"),
    ("Ctrl+W", "Close the workspace"),
    ("Ctrl+Q", "Quit"),
    ("F1", "This list"),
)

_INPUT_EVENTS = frozenset({
    QtCore.QEvent.Type.KeyPress, QtCore.QEvent.Type.MouseButtonPress,
    QtCore.QEvent.Type.MouseMove, QtCore.QEvent.Type.Wheel, QtCore.QEvent.Type.TouchBegin,
})


class IdleWatcher(QObject):
    """Emits ``idle`` after ``timeout_ms`` without keyboard or mouse input anywhere
    in the application."""

    idle = Signal()

    def __init__(self, timeout_ms: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(timeout_ms)
        self.timer.timeout.connect(self.idle)
        self._last_restart = 0.0
        app = QtCore.QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.timer.start()

    def set_timeout(self, timeout_ms: int) -> None:
        self.timer.setInterval(timeout_ms)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        app = QtCore.QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QtCore.QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            now = time.monotonic()
            # Restarting on every mouse move is wasteful; twice a second is plenty.
            if now - self._last_restart > 0.5 or not self.timer.isActive():
                self._last_restart = now
                self.timer.start()
        return False


class LockScreen(QtWidgets.QWidget):
    """What a locked window shows: no data, a password field."""

    unlock_requested = Signal(str)
    close_requested = Signal()

    def __init__(self, user: str, folder: Path, parent: QtWidgets.QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        title = QtWidgets.QLabel("<h2>Workspace locked</h2>")
        who = QtWidgets.QLabel(f"{html.escape(folder.name)} — signed in as "
                               f"<b>{html.escape(user)}</b>. Enter your password to go on.")
        who.setWordWrap(True)
        self.password = QtWidgets.QLineEdit()
        self.password.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Password")
        self.password.returnPressed.connect(self._unlock)
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet(f"color: {readable('#b3261e', self)}")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.unlock_button = QtWidgets.QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self._unlock)
        close = QtWidgets.QPushButton("Close workspace")
        close.clicked.connect(self.close_requested)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(close)
        buttons.addStretch(1)
        buttons.addWidget(self.unlock_button)
        box = QtWidgets.QFrame()
        box.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        box.setMinimumWidth(400)
        box.setMaximumWidth(480)
        inner = QtWidgets.QVBoxLayout(box)
        for w in (title, who, self.password, self.error):
            inner.addWidget(w)
        inner.addLayout(buttons)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addStretch(1)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def _unlock(self) -> None:
        self.unlock_requested.emit(self.password.text())

    def reset(self) -> None:
        self.password.clear()
        self.error.clear()
        self.password.setFocus()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.password.selectAll()
        self.password.setFocus()


class PreferencesDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None, minutes: int) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.minutes = QtWidgets.QSpinBox()
        self.minutes.setRange(1, 240)
        self.minutes.setSuffix(" minutes")
        self.minutes.setValue(minutes)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Lock after idle for:", self.minutes)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class MainWindow(QtWidgets.QMainWindow):
    """One open workspace. Emits ``closed`` when the workspace is closed.

    Everything the window shows is built here, as typed attributes: the pages (in the
    sidebar and the View menu), the menus and their actions, and the dialogs it opens."""

    closed = Signal()
    PAGES = ("Dashboard", "Findings", "Pending my approval", "Operations")

    def __init__(self, session: Session, settings: Settings, prompts: Prompts,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.prompts = prompts
        self.progress_dialog: ProgressDialog | None = None
        self.last_result: Any = None
        self._closing = False
        # The windows this one opens (None while closed).
        self.import_wizard: ImportWizard | None = None
        self.users_dialog: UsersDialog | None = None
        self.report_dialog: ReportDialog | None = None
        self.verify_dialog: VerifyDialog | None = None
        self.timeline_dialog: TimelineDialog | None = None
        self.export_package_dialog: ExportPackageDialog | None = None
        self.import_package_dialog: ImportPackageDialog | None = None
        self.reveal_dialog: RevealDialog | None = None
        self.scan_dialog: ScanDialog | None = None
        self.setWindowTitle(f"{session.folder.name} — Oversight Workstation")

        self.dashboard = DashboardPage(session)
        self.triage = TriagePage(session, settings)
        self.approvals = TriagePage(session, settings, approval=True)
        self.operations = OperationsPage(session, settings)
        self.criteria = CriteriaPage(session)  # pack versions, impact
        self.log_quality = LogQualityPage(session)  # import warnings, DQ findings
        self.audit_page = AuditPage(session)
        self.sources_page = SourcesPage(session)  # batches, live and retracted
        self.indicators = IndicatorsPage(session)  # per agency, channel, rule
        #: (sidebar title, page), in sidebar order; the first four have Ctrl+1…4.
        self.page_list: tuple[tuple[str, QtWidgets.QWidget], ...] = (
            (self.PAGES[0], self.dashboard), (self.PAGES[1], self.triage),
            (self.PAGES[2], self.approvals), (self.PAGES[3], self.operations),
            ("Criteria", self.criteria), (LOG_QUALITY_TITLE, self.log_quality),
            (AUDIT_PAGE_TITLE, self.audit_page), (SOURCES_PAGE_TITLE, self.sources_page),
            ("Indicators", self.indicators))
        self.pages = QtWidgets.QStackedWidget()
        self.sidebar = QtWidgets.QListWidget()
        for title, page in self.page_list:
            self.pages.addWidget(page)
            self.sidebar.addItem(title)
        self.sidebar.setStyleSheet("QListWidget::item { padding: 6px 4px; }")
        self.sidebar.setFixedWidth(self.sidebar.fontMetrics().horizontalAdvance(
            "Pending my approval (999)") + 24)
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        content = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(content)
        row.setContentsMargins(4, 4, 4, 4)
        row.addWidget(self.sidebar)
        row.addWidget(self.pages, 1)
        self.lock_screen = LockScreen(session.user, session.folder)
        self.lock_screen.unlock_requested.connect(self.unlock)
        self.lock_screen.close_requested.connect(self.close)
        self.outer = QtWidgets.QStackedWidget()
        self.outer.addWidget(content)
        self.outer.addWidget(self.lock_screen)
        self.setCentralWidget(self.outer)

        refused = session.ws.read_only_reason  # e.g. the tables diverge from the chain
        self.user_label = QtWidgets.QLabel(
            f"{session.user} ({session.role.value}{', read-only' if refused else ''})")
        if refused:
            self.user_label.setToolTip(refused)
        self.statusBar().addPermanentWidget(self.user_label)
        for page in (self.triage, self.approvals, self.operations, self.criteria,
                     self.log_quality, self.audit_page, self.sources_page, self.indicators):
            page.message.connect(self.show_message)
        self.dashboard.verify_requested.connect(self.verify)
        self.dashboard.show_findings.connect(self.show_findings)
        self.dashboard.show_approvals.connect(lambda: self.sidebar.setCurrentRow(2))
        self.dashboard.show_operations.connect(lambda: self.sidebar.setCurrentRow(3))
        self.operations.open_finding.connect(self.open_finding)
        self.operations.timeline_requested.connect(self.open_timeline)
        self.log_quality.open_finding.connect(self.open_finding)
        self.indicators.open_finding.connect(self.open_finding)
        for page in (self.triage, self.approvals):
            page.open_record.connect(self.open_record)

        self._tooltips: dict[QtGui.QAction, str] = {}
        self._build_actions()
        self._auto_lock: int | None = None
        self._read_auto_lock()
        self.idle = IdleWatcher(self.idle_minutes() * 60_000, self)
        self.idle.idle.connect(self._idle)

        session.ready_changed.connect(self._ready_changed)
        session.locked_changed.connect(self._locked_changed)
        session.changed.connect(self._changed)
        session.job_started.connect(self._job_started)

        geometry = settings.bytes_value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 720)
        self.sidebar.setCurrentRow(0)
        # "Pending my approval" only for those who may approve (four-eyes).
        approver = session.can(Permission.APPROVE)
        self.sidebar.item(2).setHidden(not approver)
        self.page_actions[2].setVisible(approver)
        self.page_actions[2].setEnabled(approver)
        self.apply_permissions()
        self._update_pending()

    # -- actions -----------------------------------------------------------------------

    def _action(self, menu: QtWidgets.QMenu, text: str, shortcut: str | None, slot: Any,
                permission: Permission | None = None, tooltip: str | None = None
                ) -> QtGui.QAction:
        """A menu action; one that needs a permission is disabled, saying why, for a
        role without it (``apply_permissions``)."""
        act = QtGui.QAction(text, self)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
        act.triggered.connect(slot)
        act.setData(permission.value if permission is not None else None)
        self._tooltips[act] = tooltip or text.replace("&", "").rstrip("…")
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        bar = self.menuBar()
        action = self._action
        ws_menu = bar.addMenu("&Workspace")
        ws_menu.setToolTipsVisible(True)
        self.import_action = action(ws_menu, "&Import file…", "Ctrl+I", self.import_file,
                                    Permission.IMPORT)
        self.import_wizard_action = action(
            ws_menu, "Import &wizard…", "Ctrl+Shift+I", self.open_import_wizard,
            Permission.IMPORT, "Import files with a mapping you check column by column")
        self.scan_action = action(
            ws_menu, "&Scan in place (large logs)…", None, lambda: self.open_scan(),
            Permission.IMPORT, "Run the criteria over logs too large to import, where they lie")
        self.detect_action = action(ws_menu, "Run &detection", "Ctrl+D",
                                    lambda: self.run_detection(), Permission.DETECT)
        self.detect_pack_action = action(ws_menu, "Run detection with a criteria &pack…",
                                         None, self.run_detection_with_pack,
                                         Permission.DETECT)
        self.verify_action = action(ws_menu, "&Verify integrity", None, self.verify,
                                    Permission.READ)
        ws_menu.addSeparator()
        self.lock_action = action(ws_menu, "&Lock now", "Ctrl+L", self.lock)
        self.close_action = action(ws_menu, "&Close workspace", "Ctrl+W", self.close)
        self.quit_action = action(ws_menu, "&Quit", "Ctrl+Q", self.quit)
        #: Hidden while locked, disabled while a job runs.
        self.job_actions = (self.import_action, self.detect_action, self.detect_pack_action,
                            self.verify_action)

        view = bar.addMenu("&View")
        self.page_actions = [
            action(view, title, f"Ctrl+{i + 1}" if i < 4 else None,
                   lambda _=False, i=i: self.sidebar.setCurrentRow(i))
            for i, (title, _page) in enumerate(self.page_list)]

        reports = bar.addMenu("&Reports")
        reports.setToolTipsVisible(True)
        self.report_action = action(reports, "&Produce a report…", "Ctrl+R",
                                    self.open_report, Permission.REPORT)
        self.verify_report_action = action(reports, "&Verify a report…", None,
                                           self.open_verify_report)
        self.timeline_action = action(reports, "&Timeline of an authorisation or case…",
                                      "Ctrl+T", lambda: self.open_timeline())
        # Review packages between oversight bodies (docs/exchange.md).
        reports.addSeparator()
        self.export_package_action = action(
            reports, "E&xport package of the selected findings…", None,
            self.open_export_package, Permission.REPORT)
        self.import_package_action = action(reports, "I&mport package…", None,
                                            lambda: self.open_import_package(),
                                            Permission.TRIAGE)
        self.reveal_action = action(reports, "Reveal a ps&eudonym…", None, self.open_reveal,
                                    Permission.REPORT)

        settings_menu = bar.addMenu("&Settings")
        settings_menu.setToolTipsVisible(True)
        action(settings_menu, "&Preferences…", None, self.preferences)
        self.escalation_action = action(settings_menu, "&Escalations…", None,
                                        self.set_escalation_recipient, Permission.CONFIGURE,
                                        "Who escalated findings go to")
        self.users_action = action(settings_menu, "&Users…", None, self.open_users,
                                   Permission.MANAGE_USERS,
                                   "Add or remove users, reset a password")
        help_menu = bar.addMenu("&Help")
        action(help_menu, "&Keyboard shortcuts", "F1", self.show_shortcuts)
        #: The actions apply_permissions enables and explains.
        self.permission_actions = (*self.job_actions, self.import_wizard_action,
                                   self.scan_action,
                                   self.report_action, self.escalation_action,
                                   self.users_action, self.export_package_action,
                                   self.import_package_action, self.reveal_action)

        self.toolbar = self.addToolBar("Workspace")
        self.toolbar.setObjectName("workspace-toolbar")
        self.toolbar.setMovable(False)
        for act in (self.import_action, self.detect_action, self.verify_action):
            self.toolbar.addAction(act)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.lock_action)

    def apply_permissions(self) -> None:
        """Disable what this role may not do, saying why; disable jobs while busy."""
        ready = self.session.ready
        for act in self.permission_actions:
            perm = Permission(act.data())
            if not self.session.can(perm):
                act.setEnabled(False)
                act.setToolTip(why_not_report(self.session) if perm is Permission.REPORT
                               else self.session.why_not(perm))
            else:
                act.setEnabled(ready)
                act.setToolTip(self._tooltips[act] if ready else
                               "Wait for the running job to finish.")
        self.timeline_action.setEnabled(ready)
        self.triage.update_actions()
        self.approvals.update_actions()

    # -- windows this one opens --------------------------------------------------------

    def open_import_wizard(self) -> None:
        if not self.import_wizard_action.isEnabled():
            return
        current = self.import_wizard
        if current is not None and current.isVisible():
            current.raise_()
            current.activateWindow()
            return
        wizard = ImportWizard(self.session, self.prompts, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.package_requested.connect(self._package_from_wizard)
        wizard.scan_requested.connect(self._scan_from_wizard)
        wizard.destroyed.connect(lambda _=None: setattr(self, "import_wizard", None))
        self.import_wizard = wizard
        wizard.show()

    def open_users(self) -> None:
        if not self.users_action.isEnabled():
            return
        current = self.users_dialog
        if current is not None and current.isVisible():
            current.raise_()
            return
        dialog = UsersDialog(self.session, self.prompts, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None: setattr(self, "users_dialog", None))
        self.users_dialog = dialog
        dialog.show()

    def open_report(self) -> None:
        if self.report_action.isEnabled():
            dialog = ReportDialog(self.session, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.report_dialog = dialog
            dialog.open()

    def open_verify_report(self) -> None:
        dialog = VerifyDialog(self, self.prompts)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.verify_dialog = dialog
        dialog.open()

    def open_export_package(self) -> None:
        """Send the findings selected in the Findings list (or the current one)."""
        if not self.export_package_action.isEnabled():
            return
        ids = self.triage.selected_ids()
        current = self.triage.current_id()
        if not ids and current is not None:
            ids = [current]
        dialog = ExportPackageDialog(self.session, ids, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_package_dialog = dialog
        dialog.open()

    def open_import_package(self, path: Path | None = None) -> None:
        if not self.import_package_action.isEnabled():
            self.show_message(self.import_package_action.toolTip())
            return
        dialog = ImportPackageDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if path is not None:
            dialog.file.setText(str(path))
        self.import_package_dialog = dialog
        dialog.open()

    def _package_from_wizard(self, path: Path | None) -> None:
        """The wizard was given a review package: its own dialog imports it."""
        wizard = self.import_wizard
        if wizard is not None and wizard.job is None:
            wizard.close()
        self.open_import_package(path)

    def open_scan(self, paths: list[Path] | None = None) -> ScanDialog | None:
        """Scan in place (large logs): one dialog at a time, given ``paths`` to start."""
        if not self.scan_action.isEnabled():
            self.show_message(self.scan_action.toolTip())
            return None
        current = self.scan_dialog
        if current is not None and current.isVisible():
            current.add_paths(paths or [])
            current.raise_()
            current.activateWindow()
            return current
        dialog = ScanDialog(self.session, self, paths)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None: setattr(self, "scan_dialog", None))
        self.scan_dialog = dialog
        dialog.show()
        return dialog

    def _scan_from_wizard(self, paths: list[Path]) -> None:
        """The wizard's "Scan in place": the scan dialog takes over its files."""
        wizard = self.import_wizard
        if wizard is not None and wizard.job is None:
            wizard.close()
        self.open_scan(paths)

    def open_reveal(self) -> None:
        if not self.reveal_action.isEnabled():
            return
        dialog = RevealDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.reveal_dialog = dialog
        dialog.open()

    def open_timeline(self, kind: str = "authorisation", ident: str = "") -> None:
        if not self.timeline_action.isEnabled():
            return
        dialog = TimelineDialog(self.session, self, kind, ident)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # A tick's operation and its findings open in this window's pages.
        dialog.open_record.connect(self.open_record)
        dialog.open_finding.connect(self.open_finding)
        self.timeline_dialog = dialog
        dialog.show()

    # -- state changes -----------------------------------------------------------------

    def _ready_changed(self, ready: bool) -> None:
        # While a job holds the workspace nothing on this thread may read it.
        self.pages.setEnabled(ready or self.session.locked)
        self.sidebar.setEnabled(ready or self.session.locked)
        self.apply_permissions()
        self.dashboard.apply_permissions()
        if ready:
            self._update_pending()

    def _locked_changed(self, locked: bool) -> None:
        if locked:
            self.outer.setCurrentWidget(self.lock_screen)
            self.lock_screen.reset()
            self.statusBar().clearMessage()
            self.sidebar.item(2).setText(self.PAGES[2])
        else:
            self.outer.setCurrentIndex(0)
            self._read_auto_lock()
            self.idle.set_timeout(self.idle_minutes() * 60_000)
        for act in self.job_actions:
            act.setVisible(not locked)
        self.lock_action.setEnabled(not locked)
        self.toolbar.setVisible(not locked)
        if locked:  # nothing of the workspace stays on screen while locked
            if self.users_dialog is not None:
                self.users_dialog.close()
            if self.import_wizard is not None and self.import_wizard.job is None:
                self.import_wizard.close()
            if self.scan_dialog is not None and self.scan_dialog.job is None:
                self.scan_dialog.close()

    def _changed(self, kinds: frozenset[Change]) -> None:
        if kinds & {Change.FINDINGS, Change.RUNS}:
            self._update_pending()

    def _update_pending(self) -> None:
        """The sidebar counts the decisions waiting for this user (approvers only)."""
        if not self.session.ready or not self.session.can(Permission.APPROVE):
            return
        try:
            pending = self.session.read(
                findings.list_findings, findings.FindingFilters(pending_for=self.session.user))
        except OversightError:
            return
        label = self.PAGES[2] + (f" ({len(pending)})" if pending else "")
        self.sidebar.item(2).setText(label)

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def open_record(self, rid: int) -> None:
        """From a finding's records to the operation in the browser."""
        self.sidebar.setCurrentRow(3)
        if not self.operations.show_record(rid):
            self.statusBar().showMessage("That operation is no longer in the workspace.", 8000)

    def show_findings(self, filters: dict[str, str]) -> None:
        """The findings a dashboard count counted (every other filter cleared)."""
        self.sidebar.setCurrentRow(1)
        self.triage.set_filters(**filters)
        self.triage.view.setFocus()

    def open_finding(self, finding_id: str) -> None:
        self.sidebar.setCurrentRow(1)
        row = self.triage.model.row_of(finding_id)
        if row < 0:  # filtered out: clear the filters so it shows
            self.triage.set_filters()
            row = self.triage.model.row_of(finding_id)
        if row >= 0:
            index = self.triage.model.index(row, 0)
            self.triage.view.selectionModel().setCurrentIndex(
                index, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QtCore.QItemSelectionModel.SelectionFlag.Rows)
            self.triage.view.scrollTo(index)

    # -- locking -----------------------------------------------------------------------

    def lock(self) -> None:
        self.session.lock()

    def _idle(self) -> None:
        if not self.session.locked:
            self.session.lock()
            self.show_message("Locked after inactivity.")

    def unlock(self, password: str) -> None:
        try:
            QtWidgets.QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self.session.unlock(password)
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
        except OversightError as exc:
            self.lock_screen.show_error(exc.message)
            return
        except Exception as exc:
            self.prompts.error(self, exc)
            return
        self.lock_screen.reset()

    # -- long jobs ---------------------------------------------------------------------

    def _job_started(self, job: Job) -> None:
        dialog = ProgressDialog(self, job)
        self.progress_dialog = dialog
        job.ended.connect(self._job_ended)
        dialog.show()

    def _job_ended(self) -> None:
        self.progress_dialog = None

    def start(self, title: str, fn: Any, changes: frozenset[Change], on_success: Any) -> Job | None:
        if self.session.busy:
            self.show_message("Another job is running; wait for it to finish.")
            return None
        return self.session.start_job(title, fn, changes, on_success, parent=self)

    def run_detection(self, pack: Pack | None = None) -> Job | None:
        if not self.detect_action.isEnabled():
            return None
        # Without a pack: the workspace's active pack version (else the built-in one).
        chosen = pack if pack is not None else self.session.read(active_pack)

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> RunSummary:
            return run_detection(ws, chosen, progress=progress, cancel=cancel)

        return self.start(f"Detection: {chosen.id} {chosen.version}", work,
                          DETECTION_CHANGES, self._detection_done)

    def run_detection_with_pack(self) -> None:
        path = self.prompts.choose_file(self, "Criteria pack", "Criteria packs (*.yaml *.yml)")
        if path is None:
            return
        try:
            pack = load_pack(path)
        except Exception as exc:  # a ValidationError lists every issue under Details
            self.prompts.error(self, exc)
            return
        self.run_detection(pack)

    def _detection_done(self, summary: RunSummary) -> None:
        self.last_result = summary
        doc = summary.to_json()
        skipped = [r for r in summary.rules if not r.evaluated]
        text = (f"Detection run {summary.run_id} ({summary.pack_id} {summary.pack_version}): "
                f"{doc['hits']:,} hits, {doc['new']:,} new findings; "
                f"{len(summary.rules) - len(skipped)} of {len(summary.rules)} rules evaluated.")
        self.show_message(text)
        if skipped:
            text += "\n\nNot evaluated:\n" + "\n".join(
                f"• {r.rule_id}: {r.reason}" for r in skipped[:10])
        self.prompts.info(self, "Detection finished", text)

    def import_file(self) -> Job | None:
        if not self.import_action.isEnabled():
            return None
        path = self.prompts.choose_file(self, "Import file", FILE_FILTERS)  # as the wizard
        if path is None:
            return None
        options = self.prompts.import_options(self, path)
        if options is None:
            return None
        kind, profile = options
        return self.start_import(path, kind, profile)

    def start_import(self, path: Path, kind: Kind | None, profile: Path | None) -> Job | None:
        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> ImportResult:
            return import_file(ws, path, kind, profile, progress=progress, cancel=cancel)

        return self.start(f"Importing {path.name}", work, IMPORT_CHANGES,
                          self._import_done)

    def _import_done(self, result: ImportResult) -> None:
        self.last_result = result
        if result.nothing_imported:  # every row rejected: no batch was written
            text = (f"{Path(result.file).name}: nothing was imported; all "
                    f"{result.rows_read:,} rows were rejected, so no batch was written.")
        else:
            text = (f"{Path(result.file).name}: batch {result.batch_id}, {result.kind}. "
                    f"Imported {result.rows_imported:,} of {result.rows_read:,} rows; "
                    f"{result.rows_rejected:,} rejected.")
        self.show_message(text)
        quality = summary_warning_lines(result)
        if quality:  # what the import could not vouch for, as the wizard's summary says it
            text += "\n\n" + "\n".join(line.strip() for line in quality)
        if result.sample_rejects:
            text += "\n\nFirst rejected rows:\n" + "\n".join(
                f"• line {r.line}: {r.reason}" for r in result.sample_rejects[:8])
        if result.kind == "operations" and not result.nothing_imported:
            text += "\n\nRun detection to check the new operations against the criteria."
        self.prompts.info(self, "Import finished", text)

    def verify(self) -> Job | None:
        if not self.verify_action.isEnabled():
            return None

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> VerifyReport:
            return verify(ws, progress)

        return self.start("Verifying the workspace", work, VERIFY_CHANGES, self._verify_done)

    def _verify_done(self, report: VerifyReport) -> None:
        self.session.last_verify = report
        self.last_result = report
        self.dashboard.show_verify()
        if report.ok:
            self.show_message("Verified: the workspace is intact.")
        else:
            self.prompts.info(self, "Verification found problems", "\n".join(
                f"• {p}" for p in report.problems))

    # -- other dialogs -----------------------------------------------------------------

    def _read_auto_lock(self) -> None:
        if self.session.ready:  # else (a job holds the workspace) keep the last value
            self._auto_lock = self.session.read(auto_lock_minutes)

    def idle_minutes(self) -> int:
        """The user's preference, never longer than the workspace's auto-lock setting
        (an admin's, recorded in the audit trail)."""
        mine = self.settings.idle_minutes()
        return mine if self._auto_lock is None else min(mine, self._auto_lock)

    def preferences(self) -> None:
        dialog = PreferencesDialog(self, self.idle_minutes())
        if self._auto_lock is not None:
            dialog.minutes.setMaximum(self._auto_lock)
            dialog.minutes.setToolTip(f"This workspace locks after at most {self._auto_lock} "
                                      "idle minutes.")
        dialog.accepted.connect(lambda: self.set_idle_minutes(dialog.minutes.value()))
        dialog.open()

    def set_escalation_recipient(self) -> None:
        """Settings ▸ Escalations…: who the escalate dialog names (admins)."""
        if not self.escalation_action.isEnabled():
            return
        try:
            current = self.session.read(triage.escalation_to) or ""
        except OversightError as exc:
            self.prompts.error(self, exc)
            return
        text = self.prompts.text(self, "Escalations", "Escalated findings go to (a person, "
                                 "a role or a body; empty: nobody named):", current)
        if text is None:
            return
        # A refusal is shown by write(); either way the line below says what holds now.
        self.session.write(self, triage.set_escalation_to, text)
        now = self.session.read(triage.escalation_to) if self.session.ready else None
        self.show_message(f"Escalations go to {now}." if now else
                          "No escalation recipient is named.")

    def set_idle_minutes(self, minutes: int) -> None:
        self.settings.set_idle_minutes(minutes)
        self.idle.set_timeout(self.idle_minutes() * 60_000)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in SHORTCUTS)
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{rows}</table>")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- closing -----------------------------------------------------------------------

    def quit(self) -> None:
        """End the application (the controller closes this window on the way out)."""
        QtCore.QCoreApplication.quit()

    def save_state(self) -> None:
        self.settings.set_bytes("window/geometry", self.saveGeometry())
        for page in (self.triage, self.approvals, self.operations):
            page.save_state()
        self.settings.sync()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        self._closing = True
        self.save_state()
        self.idle.stop()
        if self.progress_dialog is not None:
            self.progress_dialog.request_cancel()
        self.session.close()
        event.accept()
        self.closed.emit()
