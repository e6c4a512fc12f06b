"""Reports from the workstation: produce (auditors), verify, roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_support import AUDITOR, INSPECTOR, FakePrompts

from oversight.errors import AuthenticationError
from oversight.report.sign import create_selfsigned, verify_report
from ui.report_dialog import ReportDialog, scope_from
from ui.verify_dialog import VerifyDialog

pytest_plugins = ["ui_fixtures"]

PASS = b"signing-passphrase"


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("signer")
    return create_selfsigned("Aurelia Novák", folder / "aurelia.p12", PASS, with_ca=True)


def _dialog(qtbot: Any, window: Any, out: Path, p12: Path | None, passphrase: str
            ) -> tuple[ReportDialog, list[Any]]:
    opened: list[Any] = []
    dialog = ReportDialog(window.session, window, open_url=opened.append)
    qtbot.addWidget(dialog)
    dialog.output.setText(str(out))
    dialog.p12.setText(str(p12) if p12 else "")
    dialog.passphrase.setText(passphrase)
    dialog.title.setText("Quarterly review")
    dialog.body.setText("Oversight Office")
    dialog.show()
    return dialog, opened


def test_report_end_to_end_signed_and_verified(qtbot: Any, open_window: Any,
                                               signer: tuple[Path, Path], tmp_path: Path
                                               ) -> None:
    window = open_window(AUDITOR)
    assert window.report_action.isEnabled()
    p12, ca = signer
    out = tmp_path / "report.pdf"
    dialog, opened = _dialog(qtbot, window, out, p12, PASS.decode())
    assert dialog.template.currentData() == "full"
    assert dialog.rules.count() > 0
    with qtbot.waitSignal(window.session.ready_changed, timeout=40_000,
                          check_params_cb=lambda ready: ready):
        job = dialog.produce()
        assert job is not None
        assert not window.session.ready  # the job holds the workspace
        assert dialog.cancel_button.isVisible()
    assert dialog.report_result is not None and out.is_file()
    assert dialog.report_result.signed and dialog.report_result.pages > 0
    assert dialog.report_result.sha256 in dialog.status.text()
    assert dialog.verification.status == "VALID"
    assert "VALID" in dialog.verification.verdict.text()
    assert dialog.verification.result is not None
    assert dialog.verification.result.trusted  # the test CA next to the .p12
    assert verify_report(out, [ca]).ok
    assert not dialog.cancel_button.isVisible()
    dialog.folder_button.click()
    assert [u.toLocalFile() for u in opened] == [str(tmp_path)]

    # The same file, tampered with, is INVALID in the Verify dialog.
    data = bytearray(out.read_bytes())
    at = data.find(b"Quarterly review")  # the title, in the signed document info
    assert at > 0
    data[at] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(data))
    prompts = FakePrompts()
    prompts.answer("choose_file", bad)
    verify = VerifyDialog(window, prompts)
    qtbot.addWidget(verify)
    verify._browse_file()
    assert verify.file.text() == str(bad)
    result = verify.verify()
    assert result is not None and not result.ok
    assert verify.view.status == "INVALID"
    assert "INVALID" in verify.view.verdict.text()
    assert "changed after signing" in verify.view.problems.text()
    # And the good one is VALID there too, trusted with the CA given.
    verify.file.setText(str(out))
    verify.trust.setText(str(ca))
    good = verify.verify()
    assert good is not None and good.ok and good.trusted
    assert verify.view.status == "VALID"
    assert verify.view.fields.rowCount() > 10


def test_wrong_passphrase_is_a_sentence(qtbot: Any, open_window: Any, prompts: FakePrompts,
                                        signer: tuple[Path, Path], tmp_path: Path) -> None:
    window = open_window(AUDITOR)
    out = tmp_path / "report.pdf"
    dialog, _ = _dialog(qtbot, window, out, signer[0], "not the passphrase")
    with qtbot.waitSignal(window.session.ready_changed, timeout=40_000,
                          check_params_cb=lambda ready: ready):
        assert dialog.produce() is not None
    assert not out.exists()
    assert dialog.report_result is None
    assert "passphrase does not open aurelia.p12" in dialog.status.text()
    assert [type(e) for e in prompts.errors] == [AuthenticationError]
    assert dialog.produce_button.isEnabled()


def test_form_errors_are_sentences(qtbot: Any, open_window: Any, tmp_path: Path) -> None:
    window = open_window(AUDITOR)
    dialog, _ = _dialog(qtbot, window, tmp_path / "r.pdf", None, "")
    dialog.period_from.setText("2026-13-01")
    assert dialog.produce() is None
    assert "is not a date like" in dialog.status.text()
    dialog.period_from.setText("2026-05-01")
    dialog.period_to.setText("2026-04-01")
    assert dialog.produce() is None
    assert "starts (2026-05-01) after it ends" in dialog.status.text()
    for box in dialog.severity_boxes.values():
        box.setChecked(False)
    assert dialog.produce() is None
    assert "at least one severity" in dialog.status.text()
    assert scope_from(True, ["high"], ["R-1"], "2026-01-01", "").period_from == "2026-01-01"


def test_cancel_writes_nothing(qtbot: Any, open_window: Any, tmp_path: Path) -> None:
    window = open_window(AUDITOR)
    out = tmp_path / "report.pdf"
    dialog, _ = _dialog(qtbot, window, out, None, "")
    with qtbot.waitSignal(window.session.ready_changed, timeout=40_000,
                          check_params_cb=lambda ready: ready):
        job = dialog.produce()
        assert job is not None
        dialog.cancel()
    assert job.cancelled
    assert not out.exists()
    assert "Cancelled" in dialog.status.text()


def test_reports_disabled_for_inspectors(qtbot: Any, open_window: Any, tmp_path: Path
                                         ) -> None:
    window = open_window(INSPECTOR)
    assert not window.report_action.isEnabled()
    assert "may not write reports" in window.report_action.toolTip()
    assert window.verify_report_action.isEnabled()
    dialog, _ = _dialog(qtbot, window, tmp_path / "r.pdf", None, "")
    assert not dialog.produce_button.isEnabled()
    assert "may not write reports" in dialog.produce_button.toolTip()
    assert dialog.produce() is None


def test_verify_dialog_says_what_is_wrong(qtbot: Any, tmp_path: Path) -> None:
    dialog = VerifyDialog(None)
    qtbot.addWidget(dialog)
    assert dialog.verify() is None
    assert "Choose the report" in dialog.view.verdict.text()
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("hello")
    dialog.file.setText(str(not_pdf))
    assert dialog.verify() is None
    assert "is not a PDF file" in dialog.view.verdict.text()
    assert dialog.view.status == ""
