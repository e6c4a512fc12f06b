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
    ReturnDialog,
    decision_text,
    reason_label,
)
from ui.qt import QtWidgets


def test_note_dialog_requires_text(qtbot: Any) -> None:
    dialog = NoteDialog(None, "Confirm", "Why?")
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.edit.setPlainText("   ")
    assert not dialog.ok_button.isEnabled()
    dialog.edit.setPlainText("Réponse attendue — <b>kept as written</b>")
    assert dialog.ok_button.isEnabled()
    assert dialog.text() == "Réponse attendue — <b>kept as written</b>"
    decision = {"finding_id": "AUT-01-12", "rule_id": "AUT-01", "severity": "critical",
                "message": "interception with no warrant", "proposed": "confirmed",
                "reason": None, "proposed_by": "ines.garcia",
                "proposed_at": "2026-11-28T14:04:12.5+00:00",
                "note": "No warrant <b>on file</b>."}
    optional = ApproveDialog(None, [decision])
    qtbot.addWidget(optional)
    assert optional.ok_button.isEnabled() and optional.ok_button.text() == "Approve"
    assert isinstance(optional.context, QtWidgets.QPlainTextEdit)
    shown = optional.context.toPlainText()
    assert shown.startswith("Confirm proposed by ines.garcia on 2026-11-28 14:04: AUT-01")
    assert "Note by ines.garcia: No warrant <b>on file</b>." in shown
    back = ReturnDialog(None, [dict(decision, proposed="dismissed", reason="data_error",
                                    note=None)])
    qtbot.addWidget(back)
    assert not back.ok_button.isEnabled() and back.ok_button.text() == "Return"
    assert "Dismiss (data error) proposed by ines.garcia" in decision_text(
        dict(decision, proposed="dismissed", reason="data_error"))
    back.edit.setPlainText("Which clock?")
    assert back.ok_button.isEnabled()


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
