"""The audit trail viewer (filters, verify, a raw tamper) and the users dialog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from ui_support import ADMIN, INSPECTOR, PASSWORD, FakePrompts, choose_from_menu, wizard_next

from db.keyslots import SlotFile
from oversight.errors import AuthenticationError
from oversight.workspace import DB_NAME, SLOTS_NAME, Role, Workspace
from ui.audit_page import AuditPage
from ui.qt import Qt
from ui.session import Session
from ui.users_dialog import AddUserDialog, PasswordDialog, UsersDialog

pytest_plugins = ["ui_fixtures"]

Opener = Callable[[str], Session]


@pytest.fixture
def open_session(demo_ws: Path, prompts: FakePrompts) -> Iterator[Opener]:
    sessions: list[Session] = []

    def opener(user: str) -> Session:
        session = Session(Workspace.open(demo_ws, user, PASSWORD), prompts)
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        session.close()


def _raw(folder: Path) -> sqlcipher3.Connection:
    """What someone holding the key could do with any SQLCipher tool."""
    key = SlotFile.load(folder / SLOTS_NAME).unlock(ADMIN, PASSWORD)
    conn = sqlcipher3.connect(str(folder / DB_NAME), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def _page(qtbot: Any, session: Session) -> AuditPage:
    page = AuditPage(session)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    return page


def _verify(qtbot: Any, page: AuditPage) -> str:
    page.verify()
    job = page.session.job
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    return page.verify_label.text()


def test_audit_viewer_lists_filters_and_verifies(qtbot: Any, qtmodeltester: Any,
                                                 open_session: Opener) -> None:
    session = open_session(INSPECTOR)
    page = _page(qtbot, session)
    model = page.model
    qtmodeltester.check(model)
    total = model.rowCount()
    assert total > 10
    seqs = [model.row_values(r)[0] for r in range(total)]
    assert seqs == sorted(seqs)  # newest last
    first = model.row_values(0)
    assert first[0] == 1 and first[3] and first[1].startswith("20")

    page.user_filter.setCurrentIndex(page.user_filter.findData(ADMIN))
    page.refresh()
    assert 0 < model.rowCount() < total
    assert {model.row_values(r)[2] for r in range(model.rowCount())} == {ADMIN}
    page.user_filter.setCurrentIndex(0)
    page.action_filter.setText("IMPORT")
    page.refresh()
    assert model.rowCount() > 0
    assert all("import" in model.row_values(r)[3] for r in range(model.rowCount()))
    page.action_filter.clear()

    def a_decided_finding(ws: Workspace) -> str:
        return str(ws.conn.execute("SELECT finding_id FROM decisions LIMIT 1").fetchone()[0])

    finding = session.read(a_decided_finding)
    page.finding_filter.setText(finding)
    page.refresh()
    assert 0 < model.rowCount() < total

    text = _verify(qtbot, page)
    assert text.startswith("OK:") and "Chain head: seq" in text
    assert page.last_report is not None and page.last_report.ok
    assert page.last_report.chain is not None
    assert page.last_report.chain.head_hash in text


def test_verify_shows_the_problem_after_a_raw_tamper(qtbot: Any, demo_ws: Path,
                                                      open_session: Opener) -> None:
    conn = _raw(demo_ws)
    conn.execute("UPDATE audit_events SET user = 'mallory' WHERE seq = 2")
    conn.close()
    page = _page(qtbot, open_session(INSPECTOR))
    text = _verify(qtbot, page)
    assert text.startswith("Problem:") and "seq 2" in text
    assert "Chain head: seq" in text
    assert page.verify_label.styleSheet()


def _dialog(qtbot: Any, session: Session, prompts: FakePrompts) -> UsersDialog:
    dialog = UsersDialog(session, prompts)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_users_dialog_add_remove_reset_as_admin(qtbot: Any, qtmodeltester: Any,
                                                demo_ws: Path, open_session: Opener,
                                                prompts: FakePrompts) -> None:
    session = open_session(ADMIN)
    dialog = _dialog(qtbot, session, prompts)
    qtmodeltester.check(dialog.model)
    names = [dialog.model.row_values(r)[0] for r in range(dialog.model.rowCount())]
    assert ADMIN in names and INSPECTOR in names
    assert dialog.add_button.isEnabled() and not dialog.remove_button.isEnabled()

    # Add, through the real form (opened with open(), never blocking).
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    form = dialog.form
    assert isinstance(form, AddUserDialog)
    assert not form.ok_button.isEnabled() and "name" in form.hint.text()
    form.name.setText("nina.new")
    form.role.setCurrentIndex(form.role.findData(Role.AUDITOR.value))
    form.password.setText("new-password-1")
    form.again.setText("new-password-2")
    assert not form.ok_button.isEnabled() and "differ" in form.hint.text()
    form.again.setText("new-password-1")
    assert form.ok_button.isEnabled()
    qtbot.mouseClick(form.ok_button, Qt.MouseButton.LeftButton)
    assert prompts.errors == []
    assert dialog.selected_user() == "nina.new"
    row = dialog.view.currentIndex().row()
    assert dialog.model.row_values(row)[1:3] == ("auditor", "yes")

    # A duplicate name is refused with a sentence.
    assert not dialog.add_user("nina.new", Role.VIEWER, "whatever-123")
    assert "already exists" in prompts.errors[-1].args[0]

    # Reset her password, then she signs in with it.
    qtbot.mouseClick(dialog.reset_button, Qt.MouseButton.LeftButton)
    reset = dialog.form
    assert isinstance(reset, PasswordDialog)
    reset.password.setText("short")
    reset.again.setText("short")
    assert not reset.ok_button.isEnabled() and "at least" in reset.hint.text()
    reset.password.setText("reset-password-9")
    reset.again.setText("reset-password-9")
    qtbot.mouseClick(reset.ok_button, Qt.MouseButton.LeftButton)
    assert "was reset" in dialog.status.text()
    Workspace.open(demo_ws, "nina.new", "reset-password-9").close()

    # Remove her (after confirming); she can no longer sign in.
    prompts.answer("confirm", True)
    assert dialog.remove_selected()
    row = next(r for r in range(dialog.model.rowCount())
               if dialog.model.row_values(r)[0] == "nina.new")
    assert dialog.model.row_values(row)[2] == "no"
    with pytest.raises(AuthenticationError):
        Workspace.open(demo_ws, "nina.new", "reset-password-9")

    # Removing yourself is refused with a sentence.
    dialog.select(ADMIN)
    prompts.answer("confirm", True)
    assert not dialog.remove_selected()
    assert "yourself" in prompts.errors[-1].args[0]


def test_users_dialog_disabled_for_inspector(qtbot: Any, open_session: Opener,
                                             prompts: FakePrompts) -> None:
    dialog = _dialog(qtbot, open_session(INSPECTOR), prompts)
    assert dialog.model.rowCount() > 1
    dialog.view.selectRow(0)
    for button in (dialog.add_button, dialog.remove_button, dialog.reset_button):
        assert not button.isEnabled()
        assert button.toolTip() == "Your role (inspector) may not manage users."
    dialog.ask_add()
    assert dialog.form is None


def test_main_window_hooks(qtbot: Any, open_window: Callable[..., Any],
                           prompts: FakePrompts, tmp_path: Path) -> None:
    from ui.import_wizard import ImportWizard
    from ui.main_window import AUDIT_PAGE_TITLE

    window = open_window(INSPECTOR)
    tools = window
    assert not tools.users_action.isEnabled()
    assert tools.users_action.toolTip() == "Your role (inspector) may not manage users."
    row = next(r for r in range(window.sidebar.count())
               if window.sidebar.item(r).text() == AUDIT_PAGE_TITLE)
    window.sidebar.setCurrentRow(row)
    assert window.pages.currentWidget() is tools.audit_page
    assert tools.audit_page.model.rowCount() > 0

    # The wizard's import hides the main window's own progress window.
    csv = tmp_path / "ops.csv"
    csv.write_text("Date,Officer,Operation\n2026-03-01T09:00:00Z,GB-1,consult\n",
                   encoding="utf-8")
    choose_from_menu(qtbot, tools, tools.import_wizard_action)
    wizard = tools.import_wizard
    assert isinstance(wizard, ImportWizard)
    wizard.add_files([csv])
    for _step in range(3):  # files, mapping, preview: then the import runs
        wizard_next(qtbot, wizard)
    job = wizard.job
    assert job is not None and not tools.import_wizard_action.isEnabled()
    assert window.progress_dialog is not None and not window.progress_dialog.isVisible()
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert "imported 1 of 1 rows" in wizard.import_page.summary.text()
    wizard.close()


def test_users_action_for_admin(qtbot: Any, open_window: Callable[..., Any]) -> None:
    window = open_window(ADMIN)
    tools = window
    assert tools.users_action.isEnabled()
    choose_from_menu(qtbot, tools, tools.users_action)
    assert isinstance(tools.users_dialog, UsersDialog)
    assert tools.users_dialog.add_button.isEnabled()
    window.lock()
    assert tools.users_dialog is None or not tools.users_dialog.isVisible()
