"""Import, detection and verify run off the GUI thread, with progress and Cancel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, INSPECTOR, FakePrompts, choose_from_menu

from oversight.criteria import engine
from oversight.findings import list_runs
from oversight.progress import CancelToken, Progress
from oversight.records import Kind
from oversight.workspace import Workspace
from ui import main_window
from ui.jobs import Job, stage_text
from ui.main_window import MainWindow
from ui.qt import Qt

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def _running_job(window: MainWindow) -> Job:
    job = window.session.job
    assert job is not None
    return job


def test_detection_runs_in_background_with_progress(qtbot: Any, open_window: Opener,
                                                    prompts: FakePrompts) -> None:
    window = open_window(INSPECTOR)
    seen: list[tuple[int, int, str]] = []
    choose_from_menu(qtbot, window, window.detect_action)
    job = _running_job(window)
    job.progress.connect(lambda d, t, s: seen.append((d, t, s)))
    dialog = window.progress_dialog
    assert dialog is not None and dialog.isVisible()
    # While the job holds the workspace, nothing that reads it can be used.
    assert not window.pages.isEnabled() and not window.detect_action.isEnabled()
    assert window.detect_action.toolTip() == "Wait for the running job to finish."
    assert window.lock_action.isEnabled()
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert job.error is None
    assert seen and seen[-1][2] == "done"
    assert window.pages.isEnabled() and window.detect_action.isEnabled()
    assert window.progress_dialog is None
    runs = window.session.read(list_runs)
    assert len(runs) == 2 and runs[-1]["user"] == INSPECTOR
    assert prompts.infos and prompts.infos[-1][0] == "Detection finished"
    assert "Detection run 2" in prompts.infos[-1][1]
    assert "Run 2" in window.dashboard.run_label.text()


def test_cancel_detection_leaves_no_run(qtbot: Any, open_window: Opener,
                                        prompts: FakePrompts,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(ws: Workspace, pack: Any, rule_ids: Any = None, progress: Progress | None = None,
             cancel: CancelToken | None = None) -> Any:
        assert progress is not None and cancel is not None

        def tick(done: int, total: int, stage: str) -> None:
            progress(done, total, stage)
            if done == 2:  # hold the worker here until the user cancels
                cancel.wait(10)

        return engine.run_detection(ws, pack, rule_ids, progress=tick, cancel=cancel)

    monkeypatch.setattr(main_window, "run_detection", slow)
    window = open_window(INSPECTOR)
    job = window.run_detection()
    assert job is not None
    dialog = window.progress_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "(3 of" in dialog.label.text(), timeout=10_000)
    assert dialog.bar.maximum() == 1000 and dialog.bar.value() > 0
    # The GUI thread is free: the click is handled while the worker is busy.
    with qtbot.waitSignal(job.ended, timeout=10_000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert not dialog.cancel_button.isEnabled()
    assert job.cancelled
    assert type(job.error).__name__ == "Cancelled"
    assert prompts.errors == [] and prompts.infos == []  # cancelling is not an error
    assert len(window.session.read(list_runs)) == 1  # rolled back: no partial run
    assert window.pages.isEnabled()


def test_import_a_file_in_background(qtbot: Any, open_window: Opener, prompts: FakePrompts,
                                     tmp_path: Path) -> None:
    source = tmp_path / "extra-ops.csv"
    source.write_text(
        "timestamp,action,user,case,subjects,justification,terminal\n"
        "2026-05-01T10:00:00+00:00,consult,GB-MET-1,GB-MET-2025-0001,P-1,check,WS-1\n"
        "2026-05-01T11:00:00+00:00,consult,GB-MET-1,GB-MET-2025-0001,P-2,check,WS-1\n"
        "yesterday,consult,GB-MET-1,GB-MET-2025-0001,P-3,check,WS-1\n", encoding="utf-8")
    window = open_window(ADMIN, page=3)
    assert window.operations.model.rowCount() == 3000
    prompts.answer("choose_file", source)
    prompts.answer("import_options", (Kind.OPERATIONS, None))
    job = window.import_file()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert job.error is None and job.result.rows_imported == 2
    assert job.result.rows_rejected == 1
    title, text = prompts.infos[-1]
    assert title == "Import finished" and "line 4" in text
    assert window.operations.model.rowCount() == 3002
    assert "3,002 of 3,002" in window.operations.status.text()
    window.sidebar.setCurrentRow(0)
    assert window.dashboard.batches.rowCount() == 4

    # The same file again: a sentence, not a traceback.
    prompts.answer("choose_file", source)
    prompts.answer("import_options", (Kind.OPERATIONS, None))
    job = window.import_file()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert len(prompts.errors) == 1 and "already in this workspace" in prompts.errors[0].message


def test_quick_import_summary_says_what_it_cannot_vouch_for(
        qtbot: Any, open_window: Opener, prompts: FakePrompts, tmp_path: Path) -> None:
    """Import file… (Ctrl+I) says what the wizard's summary says: each warning, the fields
    left empty; and a file whose every row is rejected is said to be not imported (no
    "batch None")."""
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("record_id,action,actor_id\nU-1,consult,o1\nU-2,consult,o1\n",
                       encoding="utf-8")
    window = open_window(ADMIN, page=3)
    prompts.answer("choose_file", untimed)
    prompts.answer("import_options", (Kind.OPERATIONS, None))
    job = window.import_file()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    title, text = prompts.infos[-1]
    assert title == "Import finished" and f"batch {job.result.batch_id}," in text
    assert "Warning no_timestamp (2 rows)" in text and "left empty: ts" in text

    rejected = tmp_path / "all-bad.csv"
    rejected.write_text("record_id,ts,action\nB-1,soon,consult\nB-2,later,consult\n",
                        encoding="utf-8")
    prompts.answer("choose_file", rejected)
    prompts.answer("import_options", (Kind.OPERATIONS, None))
    job = window.import_file()
    assert job is not None
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    title, text = prompts.infos[-1]
    assert "nothing was imported; all 2 rows were rejected" in text
    assert "batch None" not in text and "Warning all_rows_rejected" in text
    assert "Run detection" not in text


def test_verify_in_background(qtbot: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    assert "Not verified" in window.dashboard.verify_label.text()
    job = window.verify()
    assert job is not None
    assert not window.dashboard.verify_button.isEnabled()
    with qtbot.waitSignal(job.ended, timeout=20_000):
        pass
    assert job.result.ok
    assert "Intact" in window.dashboard.verify_label.text()
    assert window.dashboard.verify_button.isEnabled()


def test_stage_text() -> None:
    assert stage_text(50, 200, "importing") == "Importing rows (25%)"
    assert stage_text(0, 19, "AUT-01") == "Evaluating rule AUT-01 (1 of 19)"
    assert stage_text(3, 10, "audit trail") == "Checking the audit trail (3 of 10)"
    assert stage_text(0, 0, "hashing") == "Computing the file's SHA-256"
