"""The small question dialogs enforce their rules (tests drive them without exec())."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oversight.records import Kind
from ui.main_window import PreferencesDialog
from ui.prompts import (
    ApproveDialog,
    AssignDialog,
    DismissDialog,
    ImportDialog,
    NoteDialog,
    reason_label,
)


def test_note_dialog_requires_text(qtbot: Any) -> None:
    dialog = NoteDialog(None, "Confirm", "Why?")
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.edit.setPlainText("   ")
    assert not dialog.ok_button.isEnabled()
    dialog.edit.setPlainText("Réponse attendue — <b>kept as written</b>")
    assert dialog.ok_button.isEnabled()
    assert dialog.text() == "Réponse attendue — <b>kept as written</b>"
    optional = ApproveDialog(None, 2)
    qtbot.addWidget(optional)
    assert optional.ok_button.isEnabled() and optional.ok_button.text() == "Approve"


def test_dismiss_dialog_needs_a_reason_and_a_note(qtbot: Any) -> None:
    dialog = DismissDialog(None, 3)
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Dismiss 3 findings"
    assert not dialog.ok_button.isEnabled()
    dialog.reason.setCurrentIndex(dialog.reason.findData("data_error"))
    dialog.edit.setPlainText("Clock of terminal WS-4 was wrong.")
    assert dialog.ok_button.isEnabled()
    assert dialog.values() == ("data_error", "Clock of terminal WS-4 was wrong.")
    assert reason_label("false_positive") == "False positive"


def test_assign_and_import_and_preferences_dialogs(qtbot: Any, tmp_path: Path) -> None:
    assign = AssignDialog(None, ["ines.garcia", "aurelia.novak"], "aurelia.novak")
    qtbot.addWidget(assign)
    assert assign.value() == "aurelia.novak"
    assign.combo.setCurrentIndex(0)
    assert assign.value() == ""  # nobody
    imp = ImportDialog(None, tmp_path / "log.csv")
    qtbot.addWidget(imp)
    assert imp.values() == (Kind.OPERATIONS, None)
    imp.kind.setCurrentIndex(imp.kind.findData("cases"))
    imp.profile.setText(str(tmp_path / "profile.yaml"))
    assert imp.values() == (Kind.CASES, tmp_path / "profile.yaml")
    prefs = PreferencesDialog(None, 10)
    qtbot.addWidget(prefs)
    assert prefs.minutes.value() == 10 and prefs.minutes.minimum() == 1
