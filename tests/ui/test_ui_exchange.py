"""Review packages from the workstation: export the selected findings (auditors),
import a package verified first (inspectors), received findings marked with their
origin, and reveal a pseudonym with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from ui_support import AUDITOR, INSPECTOR, PASSWORD, VIEWER, choose_from_menu

from oversight import triage
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.exchange import keys
from oversight.exchange.export import Recipient, export_package
from oversight.exchange.receive import import_package
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.report.sign import create_selfsigned
from oversight.workspace import Role, Workspace
from ui.exchange_dialogs import ExportPackageDialog, ImportPackageDialog, RevealDialog
from ui.qt import Qt, QtWidgets
from ui.triage_page import TriagePage

pytest_plugins = ["ui_fixtures"]

PASS = "p12-passphrase"
OPS = ("record_id,ts,action,actor_id,case_id,subject_ids,authorisation_id,justification,"
       "recipient_id,recipient_type,recipient_country,transfer_basis\n"
       "T-1,2026-03-05T09:00:00+01:00,transfer,OFFICER-SMITH-0815,C-77,SUBJ-JAN-NOWAK-1971,,"
       "extradition,MPS-BEIJING,competent_authority,CN,\n"
       "T-2,2026-03-06T09:00:00+01:00,transfer,OFFICER-SMITH-0815,C-78,SUBJ-EVA-KISS-1990,,"
       "extradition,MPS-BEIJING,competent_authority,CN,\n")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exchange-certs")
    a, a_ca = create_selfsigned("Aurelia Sender", folder / "a.p12", PASS.encode(),
                                with_ca=True)
    b, b_ca = create_selfsigned("Bruno Receiver", folder / "b.p12", PASS.encode(),
                                with_ca=True)
    pem = folder / "b.pem"
    pem.write_bytes(keys.load_identity(b, PASS.encode()).certificate.public_bytes(
        serialization.Encoding.PEM))
    return {"a": a, "a_ca": a_ca, "b": b, "b_ca": b_ca, "b_pem": pem}


def _type(qtbot: Any, widget: QtWidgets.QWidget, text: str) -> None:
    """Focus a field and type into it, as a person does."""
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)
    qtbot.keyClicks(QtWidgets.QApplication.focusWidget(), text)


def _click_row(qtbot: Any, page: TriagePage, row: int,
               modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    rect = page.view.visualRect(page.model.index(row, 0))
    qtbot.mouseClick(page.view.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def _wait_ready(qtbot: Any, window: Any, start: Any) -> None:
    with qtbot.waitSignal(window.session.ready_changed, timeout=60_000,
                          check_params_cb=lambda ready: ready):
        assert start() is not None


def test_export_the_selected_findings_and_reveal(qtbot: Any, open_window: Any,
                                                 certs: dict[str, Path],
                                                 tmp_path: Path) -> None:
    window = open_window(AUDITOR, page=1)
    page = window.triage
    assert page.model.rowCount() > 3
    _click_row(qtbot, page, 0)
    _click_row(qtbot, page, 2, Qt.KeyboardModifier.ShiftModifier)
    chosen = page.selected_ids()
    assert len(chosen) == 3
    assert window.export_package_action.isEnabled()
    choose_from_menu(qtbot, window, window.export_package_action)
    dialog = window.export_package_dialog
    assert isinstance(dialog, ExportPackageDialog) and dialog.finding_ids == chosen
    out = tmp_path / "sent.ovp"
    dialog.output.clear()
    _type(qtbot, dialog.output, str(out))
    _type(qtbot, dialog.recipients, str(certs["b_pem"]))
    _type(qtbot, dialog.p12, str(certs["a"]))
    _type(qtbot, dialog.passphrase, PASS)
    _type(qtbot, dialog.note, "For the joint review")
    qtbot.mouseClick(dialog.actors, Qt.MouseButton.LeftButton)
    assert dialog.kinds() == ("actors",)
    _wait_ready(qtbot, window, lambda: (qtbot.mouseClick(dialog.export_button,
                                                         Qt.MouseButton.LeftButton),
                                        dialog.job)[1])
    result = dialog.result_
    assert result is not None and out.is_file() and result.findings == 3
    assert result.sha256 in dialog.status.text()
    # What was sent is what the list had selected, actors replaced.
    actors = {r["fields"]["actor_id"] for fid in chosen for r in
              window.session.read(triage.finding_detail, fid)["records"]
              if r["fields"].get("actor_id")}
    assert actors
    receiver = tmp_path / "b"
    with Workspace.create(receiver, "bob", PASSWORD) as ws:
        ws.add_user("berta", Role.INSPECTOR, PASSWORD)
    with Workspace.open(receiver, "berta", PASSWORD) as ws:
        got = import_package(ws, out, keys.load_identity(certs["b"], PASS.encode()),
                             [certs["a_ca"]])
        assert len(got.findings) == 3
        stored = json.dumps([triage.finding_detail(ws, f) for f in got.findings])
        # The note typed and the box ticked travelled inside the package.
        (sent_json,) = ws.conn.execute("SELECT package_json FROM received_packages").fetchone()
        package = json.loads(sent_json)
        assert package["note"] == "For the joint review"
        assert package["pseudonymised"] == ["actors"]
        assert package["recipients"][0]["subject"].endswith("CN=Bruno Receiver")
    for actor in actors:
        assert actor not in stored

    # Reveal: the pseudonym the package gave one of them, with a reason.
    actor = sorted(actors)[0]
    pseudonym = window.session.read(lambda ws: str(ws.conn.execute(
        "SELECT pseudonym FROM pseudonyms WHERE value = ?", (actor,)).fetchone()[0]))
    assert pseudonym.startswith("PS-") and pseudonym in stored
    choose_from_menu(qtbot, window, window.reveal_action)
    reveal = window.reveal_dialog
    assert isinstance(reveal, RevealDialog)
    _type(qtbot, reveal.pseudonym, pseudonym)
    qtbot.mouseClick(reveal.reveal_button, Qt.MouseButton.LeftButton)
    assert reveal.revealed is None and "reason" in reveal.status.text()  # needed
    _type(qtbot, reveal.reason, "Prosecutor's request 2026/17")
    qtbot.mouseClick(reveal.reveal_button, Qt.MouseButton.LeftButton)
    assert reveal.revealed is not None and reveal.revealed.value == actor
    assert actor in reveal.status.text()
    events = [e for e in window.session.read(triage.history)
              if e["action"] == "pseudonym.reveal"]
    assert events[-1]["payload"]["reason"] == "Prosecutor's request 2026/17"


def test_viewer_and_inspector_cannot_export_or_reveal(open_window: Any) -> None:
    window = open_window(VIEWER, page=1)
    assert not window.export_package_action.isEnabled()
    assert not window.import_package_action.isEnabled()
    assert not window.reveal_action.isEnabled()
    window.close()
    inspector = open_window(INSPECTOR, page=1)
    assert not inspector.export_package_action.isEnabled()
    assert inspector.import_package_action.isEnabled()
    dialog = ExportPackageDialog(inspector.session, ["x"], inspector)
    assert not dialog.export_button.isEnabled() and "auditors" in dialog.status.text()


def _sender(folder: Path, tmp: Path, certs: dict[str, Path]) -> Path:
    """A small other body that sends its two TRF-01 findings, one in review."""
    with Workspace.create(folder, "alice", PASSWORD) as ws:
        ws.add_user("aurelia", Role.AUDITOR, PASSWORD)
    (tmp / "ops.csv").write_text(OPS, encoding="utf-8")
    with Workspace.open(folder, "aurelia", PASSWORD) as ws:
        import_file(ws, tmp / "ops.csv", Kind.OPERATIONS)
        run_detection(ws, default_pack())
        ids = [f["id"] for f in list_findings(ws, FindingFilters(rule="TRF-01"))]
        triage.mark(ws, ids[:1], "in_review", note="No basis recorded for CN.")
        out = tmp / "incoming.ovp"
        b = keys.load_identity(certs["b"], PASS.encode()).certificate
        export_package(ws, out, keys.load_identity(certs["a"], PASS.encode()),
                       [Recipient(b, "b")], finding_ids=ids, body="Inspectorate A")
    return out


def test_import_verifies_first_then_marks_received_findings(
        qtbot: Any, open_window: Any, certs: dict[str, Path], tmp_path: Path) -> None:
    package = _sender(tmp_path / "a", tmp_path, certs)
    window = open_window(INSPECTOR, page=1)
    before = window.triage.model.rowCount()
    choose_from_menu(qtbot, window, window.import_package_action)
    dialog = window.import_package_dialog
    assert isinstance(dialog, ImportPackageDialog)
    assert not dialog.import_button.isEnabled()
    _type(qtbot, dialog.file, str(package))
    _type(qtbot, dialog.p12, str(certs["b"]))
    _type(qtbot, dialog.passphrase, "wrong")
    qtbot.mouseClick(dialog.verify_button, Qt.MouseButton.LeftButton)
    assert dialog.checked is None and not dialog.import_button.isEnabled()
    assert "Not imported" in dialog.status.text()
    dialog.passphrase.clear()
    _type(qtbot, dialog.passphrase, PASS)
    # No trust root: refused, naming the signer.
    qtbot.mouseClick(dialog.verify_button, Qt.MouseButton.LeftButton)
    assert dialog.checked is None and "Aurelia Sender" in dialog.status.text()
    _type(qtbot, dialog.trust, str(certs["a_ca"]))
    qtbot.mouseClick(dialog.verify_button, Qt.MouseButton.LeftButton)
    assert dialog.checked is not None and dialog.import_button.isEnabled()
    shown = {dialog.verification.item(r, 0).text(): dialog.verification.item(r, 1).text()
             for r in range(dialog.verification.rowCount())}
    assert "Inspectorate A/aurelia" in shown["From"]
    assert "Nothing is written until you import it" in dialog.status.text()
    assert window.triage.model.rowCount() == before  # verified, not imported
    _wait_ready(qtbot, window, lambda: (qtbot.mouseClick(dialog.import_button,
                                                         Qt.MouseButton.LeftButton),
                                        dialog.job)[1])
    assert dialog.result_ is not None and len(dialog.result_.findings) == 2
    assert "Imported package R1 from Inspectorate A/aurelia" in dialog.status.text()
    dialog.close()
    # The received findings are in the list, marked with their origin.
    page = window.triage
    qtbot.waitUntil(lambda: page.model.rowCount() == before + 2)
    reviewed = next(f for f in dialog.result_.findings if window.session.read(
        triage.finding_detail, f)["origin"][0]["status"] == "in_review")
    row = page.model.row_of(reviewed)
    assert row >= 0
    page.view.scrollTo(page.model.index(row, 0))
    _click_row(qtbot, page, row)
    qtbot.waitUntil(lambda: reviewed in page.detail.toPlainText())
    text = page.detail.toPlainText()
    assert "Received in package R1 from Inspectorate A/aurelia" in text
    assert "sender: Inspectorate A/aurelia (R1): in review" in text
    assert "No basis recorded for CN." in text
    assert "received, found by no run here" in text
    # Importing it again is refused in the dialog, with nothing written.
    again = ImportPackageDialog(window.session, window)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    for edit, value in ((again.file, package), (again.p12, certs["b"]),
                        (again.passphrase, PASS), (again.trust, certs["a_ca"])):
        _type(qtbot, edit, str(value))
    qtbot.mouseClick(again.verify_button, Qt.MouseButton.LeftButton)
    assert again.checked is None and "R1" in again.status.text()
    assert page.model.rowCount() == before + 2


def test_the_import_wizard_hands_a_review_package_to_the_package_import(
        qtbot: Any, open_window: Any, tmp_path: Path) -> None:
    from ui.import_wizard import ImportWizard

    window = open_window(INSPECTOR)
    choose_from_menu(qtbot, window, window.import_wizard_action)
    wizard = window.import_wizard
    assert isinstance(wizard, ImportWizard)
    # The button on the files page: the package dialog opens, the wizard closes.
    with qtbot.waitSignal(wizard.package_requested, timeout=5_000):
        qtbot.mouseClick(wizard.files_page.package_button, Qt.MouseButton.LeftButton)
    dialog = window.import_package_dialog
    assert isinstance(dialog, ImportPackageDialog) and dialog.isVisible()
    assert dialog.file.text() == ""
    qtbot.waitUntil(lambda: window.import_wizard is None or not wizard.isVisible())
    dialog.close()
    # A package added as a file (or dropped) is never read as a log: its path goes to
    # the package dialog, and the wizard's list stays empty.
    choose_from_menu(qtbot, window, window.import_wizard_action)
    wizard = window.import_wizard
    assert isinstance(wizard, ImportWizard)
    package = tmp_path / "from-cnil.ovp"
    package.write_bytes(b"PK\x03\x04")
    wizard.files_page.add_paths([package])
    assert wizard.files_page.paths() == []
    dialog = window.import_package_dialog
    assert isinstance(dialog, ImportPackageDialog) and dialog.isVisible()
    assert dialog.file.text() == str(package)
    dialog.close()
