"""The import wizard: files, an edited mapping, preview, background import, cancel."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import INSPECTOR, PASSWORD, FakePrompts, wizard_choose, wizard_next

from oversight.errors import ValidationError
from oversight.importing import import_file
from oversight.importing.profile import parse_profile
from oversight.records import Kind
from oversight.workspace import Workspace
from ui import import_wizard
from ui.import_wizard import EXTRA, ImportWizard, MappingModel, TargetDelegate
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.session import Session

pytest_plugins = ["ui_fixtures"]

Opener = Callable[[str], Session]


@pytest.fixture
def open_session(demo_ws: Path, prompts: FakePrompts) -> Iterator[Opener]:
    """A signed-in Session on a copy of the demo, without a main window."""
    sessions: list[Session] = []

    def opener(user: str) -> Session:
        session = Session(Workspace.open(demo_ws, user, PASSWORD), prompts)
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        session.close()

CSV = """Log No,Date,Officer,Badge,Operation,Persons,Terminal,Note
L-1,2026-03-01T09:00:00+01:00,Smith,GB-MET-001,consult,P-1;P-2,WS-1,routine check
L-2,not a date,Jones,GB-MET-002,consult,P-3,WS-2,late
L-3,2026-03-02T10:00:00Z,Brown,GB-MET-003,transfer,P-4,WS-3,request
"""


def _csv(tmp_path: Path, name: str = "log.csv", text: str = CSV) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _count(ws: Workspace, table: str) -> int:
    return int(ws.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _wizard(qtbot: Any, session: Session, prompts: FakePrompts, files: list[Path],
            save_to: Path | None = None) -> ImportWizard:
    wizard = ImportWizard(session, prompts, None, choose_files=lambda _: files,
                          choose_save=lambda _: save_to)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    wizard.browse_files()
    return wizard


def _edit_mapping(qtbot: Any, wizard: ImportWizard) -> None:
    wizard_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.mapping_page
    model = wizard.mapping
    targets = dict((c, t) for c, t in model.assignments())
    assert targets["Officer"] == "actor_id" and targets["Date"] == "ts"
    assert targets["Note"] is None and targets["Log No"] is None
    wizard_choose(qtbot, wizard, "Officer", EXTRA)          # auto-mapped field set to extra
    wizard_choose(qtbot, wizard, "Badge", "actor_id")       # another column to that field
    wizard_choose(qtbot, wizard, "Note", "justification")   # an extra column to a field
    wizard_choose(qtbot, wizard, "Log No", "record_id")


def test_wizard_imports_with_edited_mapping(qtbot: Any, qtmodeltester: Any,
                                            open_session: Opener, prompts: FakePrompts,
                                            tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    batches = session.read(_count, "batches")
    saved = tmp_path / "saved-profile.yaml"
    wizard = _wizard(qtbot, session, prompts, [_csv(tmp_path)], save_to=saved)
    assert wizard.files_page.isComplete() and wizard.kind is Kind.OPERATIONS
    _edit_mapping(qtbot, wizard)
    qtmodeltester.check(wizard.mapping)
    # The combo editors show the edited targets.
    view = wizard.mapping_page.view
    combo = view.indexWidget(wizard.mapping.index(wizard.mapping.row_of("Badge"), 2))
    assert isinstance(combo, QtWidgets.QComboBox) and combo.currentData() == "actor_id"

    # The edited mapping saved as a profile round-trips through parse_profile.
    wizard.save_profile_as()
    text = saved.read_text(encoding="utf-8")
    profile = parse_profile(text, str(saved), Kind.OPERATIONS)
    assert profile.fields["actor_id"].columns == ("Badge",)
    assert profile.fields["justification"].columns == ("Note",)
    assert profile.record_id is not None and profile.record_id.columns == ("Log No",)
    assert "Officer" not in profile.mapped_columns()
    assert profile.timezone == "UTC"

    wizard_next(qtbot, wizard)
    page = wizard.preview_page
    assert wizard.currentPage() is page and page.isComplete(), page.error.text()
    assert "3 rows, 2 would import, 1 rejected" in page.counts.text()
    assert "Officer" in page.counts.text() and "Terminal" in page.counts.text()
    qtmodeltester.check(page.records)
    qtmodeltester.check(page.rejects)
    file, line, _column, field, value, reason = page.rejects.row_values(0)
    assert (file, line, field, value) == ("log.csv", 3, "ts", "not a date") and reason
    headers = page.records.headers
    first = dict(zip(headers, (page.records.data(page.records.index(0, c))
                               for c in range(len(headers))), strict=True))
    assert first["record_id"] == "L-1" and first["actor_id"] == "GB-MET-001"
    assert first["justification"] == "routine check"
    assert session.read(_count, "batches") == batches  # preview writes nothing

    wizard_next(qtbot, wizard)  # commit: the import runs as a background job
    job = wizard.job
    assert job is not None and session.busy
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    done = wizard.import_page
    assert done.isComplete() and prompts.errors == []
    assert "Import finished." in done.summary.text()
    assert "imported 2 of 3 rows; 1 rejected" in done.summary.text()
    qtmodeltester.check(done.rejects)
    assert done.rejects.row_values(0)[1] == 3 and done.rejects_view.isVisibleTo(wizard)

    def stored(ws: Workspace) -> tuple[str, str, str]:
        row = ws.conn.execute("SELECT actor_id, justification, extra FROM operations "
                              "WHERE record_id = 'L-1'").fetchone()
        return str(row[0]), str(row[1]), str(row[2])

    actor, justification, extra = session.read(stored)
    assert (actor, justification) == ("GB-MET-001", "routine check")
    assert json.loads(extra) == {"Officer": "Smith", "Terminal": "WS-1"}
    assert session.read(_count, "batches") == batches + 1
    wizard.close()


def test_cancel_leaves_workspace_unchanged(qtbot: Any, open_session: Opener,
                                           prompts: FakePrompts, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    holding = threading.Event()
    real = import_wizard.import_file

    def slow(ws: Workspace, path: Path, kind: Any, profile: Any, progress: Any,
             cancel: Any) -> Any:
        def tick(done: int, total: int, stage: str) -> None:
            progress(done, total, stage)
            if stage == "importing":  # hold the worker here until the user cancels
                holding.set()
                deadline = time.monotonic() + 10
                while not cancel.cancelled and time.monotonic() < deadline:
                    time.sleep(0.005)
                cancel.check()

        return real(ws, path, kind, profile, progress=tick, cancel=cancel)

    monkeypatch.setattr(import_wizard, "import_file", slow)
    session = open_session(INSPECTOR)
    counts = [session.read(_count, t) for t in ("batches", "operations",
                                                      "audit_events")]
    wizard = _wizard(qtbot, session, prompts, [_csv(tmp_path)])
    _edit_mapping(qtbot, wizard)
    wizard_next(qtbot, wizard)
    wizard_next(qtbot, wizard)
    job = wizard.job
    assert job is not None
    qtbot.waitUntil(holding.is_set, timeout=10_000)
    with qtbot.waitSignal(job.ended, timeout=20_000):
        qtbot.mouseClick(wizard.import_page.cancel_button, Qt.MouseButton.LeftButton)
    assert "Import cancelled" in wizard.import_page.summary.text()
    assert prompts.errors == []
    assert [session.read(_count, t) for t in ("batches", "operations",
                                                     "audit_events")] == counts
    wizard.close()


def test_bad_file_gives_a_sentence(qtbot: Any, open_session: Opener, prompts: FakePrompts,
                                   tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\x00\x00\x01binary")
    wizard = _wizard(qtbot, session, prompts, [binary])
    wizard_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.files_page
    assert "not a text file" in wizard.files_page.error.text()
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    wizard.files_page.files.clear()
    wizard.add_files([empty])
    wizard_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.files_page
    assert "is empty" in wizard.files_page.error.text()
    wizard.close()


def test_invalid_mapping_and_already_imported(qtbot: Any, open_session: Opener,
                                              prompts: FakePrompts, tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    path = _csv(tmp_path)
    wizard = _wizard(qtbot, session, prompts, [path])
    wizard.files_page.set_kind(Kind.CASES)
    wizard_next(qtbot, wizard)
    # Cases need a case_id: the profile fails validation and says so.
    assert not wizard.save_profile(tmp_path / "bad.yaml")
    assert "case_id" in wizard.mapping_page.error.text()
    assert not (tmp_path / "bad.yaml").exists()
    with pytest.raises(ValidationError):
        wizard.checked_profile()
    wizard_next(qtbot, wizard)
    assert wizard.currentPage() is wizard.mapping_page
    wizard.close()

    with Workspace.open(session.folder, INSPECTOR, PASSWORD) as other:
        import_file(other, path, Kind.OPERATIONS)
    again = _wizard(qtbot, session, prompts, [path])
    wizard_next(qtbot, again)
    wizard_next(qtbot, again)
    assert not again.preview_page.isComplete()
    refusal = again.preview_page.error.text()
    assert re.search(r"already in this workspace: batch \d+ .*imported by "
                     + re.escape(INSPECTOR), refusal), refusal
    # ... and says how to import it again (issue 11, item 4).
    assert "can retract it (the Sources page" in refusal and "import the file again" in refusal
    assert "would import" in again.preview_page.counts.text()  # still previewed
    again.close()


def test_drop_files_and_delegate(qtbot: Any, qtmodeltester: Any, open_session: Opener,
                                 prompts: FakePrompts, tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    wizard = ImportWizard(session, prompts, None, choose_files=lambda _: [])
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    assert not wizard.files_page.isComplete()
    mime = QtCore.QMimeData()
    files = [_csv(tmp_path, "a.csv"), _csv(tmp_path, "b.csv", CSV.replace("L-", "M-"))]
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in files])
    event = QtGui.QDropEvent(QtCore.QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    wizard.files_page.dropEvent(event)
    assert wizard.files == files and wizard.files_page.isComplete()
    wizard_next(qtbot, wizard)
    model = wizard.mapping
    qtmodeltester.check(model)
    # The delegate's combo writes the chosen target into the model.
    delegate = TargetDelegate()
    index = model.index(model.row_of("Terminal"), MappingModel.TARGET)
    combo = delegate.createEditor(wizard, QtWidgets.QStyleOptionViewItem(), index)
    assert isinstance(combo, QtWidgets.QComboBox)
    delegate.setEditorData(combo, index)
    assert combo.currentData() == EXTRA
    combo.setCurrentIndex(combo.findData("agency"))
    delegate.setModelData(combo, model, index)
    assert model.target(index.row()) == "agency"
    assert not model.setData(index, "no_such_field")
    assert not model.setData(model.index(0, 0), "x")
    combo.deleteLater()
    wizard_next(qtbot, wizard)
    counts = wizard.preview_page.counts.text()
    assert "a.csv: 3 rows" in counts and "b.csv: 3 rows" in counts
    wizard.close()
