"""Render the screenshots of docs/gui.md without a screen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [OUT_DIR]

Builds the demo workspace in a temporary folder, opens the windows at 1366x768 (the
smallest screen the workstation is designed for) and saves PNGs with widget.grab():
every screenshot README.md and docs/gui.md show (start, login, dashboard, findings,
operations, locked, approvals, approve-dialog, report-dialog, timeline, criteria, indicators,
import-wizard, scan-dialog).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oversight.demo import AUDITOR, INSPECTOR, build_demo  # noqa: E402
from oversight.workspace import Workspace  # noqa: E402
from ui.app import Workstation  # noqa: E402
from ui.prompts import Prompts  # noqa: E402
from ui.qt import QtCore, QtWidgets  # noqa: E402
from ui.settings import Settings  # noqa: E402

PASSWORD = "demo-password"
SIZE = QtCore.QSize(1366, 768)


def settle(app: QtWidgets.QApplication) -> None:
    for _ in range(5):
        app.processEvents()


def save(widget: QtWidgets.QWidget, out: Path, name: str) -> None:
    app = QtWidgets.QApplication.instance()
    assert isinstance(app, QtWidgets.QApplication)
    settle(app)
    path = out / name
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["screenshots"])
    assert isinstance(app, QtWidgets.QApplication)
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="oversight-shots-") as tmp:
        folder = Path(tmp) / "demo-workspace"
        build_demo(folder, "admin", PASSWORD, 3000, 20261128)
        settings = Settings.at(Path(tmp) / "settings.ini")
        settings.add_recent(folder)
        settings.set_last_user(folder, INSPECTOR)
        station = Workstation(settings, Prompts())

        station.show_start()
        station.start.resize(760, 460)
        save(station.start, out, "start.png")
        login = station.start.open_workspace(folder)
        login.password.setText("password")
        save(login, out, "login.png")
        login.reject()

        window = station.show_main(Workspace.open(folder, INSPECTOR, PASSWORD))
        window.resize(SIZE)
        window.sidebar.setCurrentRow(0)
        save(window, out, "dashboard.png")

        window.sidebar.setCurrentRow(1)
        triage = window.triage
        settle(app)
        critical = next(i for i in range(triage.model.rowCount())
                        if triage.model.row_dict(i)["status"] == "pending_approval")
        triage.view.selectRow(critical)
        save(window, out, "findings.png")

        window.sidebar.setCurrentRow(3)
        ops = window.operations
        ops.search.setText("action=transfer")
        ops.apply_filters()
        ops.view.selectRow(2)
        save(window, out, "operations.png")

        window.lock()
        save(window, out, "locked.png")
        window.close()

        auditor = station.show_main(Workspace.open(folder, AUDITOR, PASSWORD))
        auditor.resize(SIZE)
        auditor.sidebar.setCurrentRow(2)
        auditor.approvals.view.selectRow(0)
        save(auditor, out, "approvals.png")
        shoot_approve_dialog(auditor, out)
        shoot_criteria(auditor, out)
        shoot_indicators(auditor, out)
        shoot_report_dialog(auditor, out, Path(tmp))
        auditor.close()
        station.shutdown()
        shoot_timeline(out, Path(tmp))
    shoot_import_wizard(out)
    return 0


def shoot_approve_dialog(window: Any, out: Path) -> Path:
    """The approve dialog over the approvals page: the decision, its proposer and their
    note, the cursor in the second reviewer's own note."""
    from oversight import triage
    from ui.prompts import ApproveDialog

    ids = window.approvals.selected_ids()
    decisions = window.session.read(triage.pending_decisions, ids)
    dialog = ApproveDialog(window, decisions)
    dialog.show()
    dialog.edit.setPlainText("Agreed: no warrant on file for that day.")
    save(dialog, out, "approve-dialog.png")
    dialog.close()
    return out / "approve-dialog.png"


def shoot_report_dialog(window: Any, out: Path, tmp: Path) -> Path:
    """Reports ▸ Produce a report… (auditors): a signed report produced with a test
    certificate, and the verifier's verdict on the written file."""
    from oversight.report.sign import create_selfsigned
    from ui.report_dialog import ReportDialog

    p12, _ca = create_selfsigned("Aurelia Novák", tmp / "aurelia.p12", b"signing-pass",
                                 with_ca=True)
    dialog = ReportDialog(window.session, window, open_url=lambda _url: None)
    dialog.output.setText(str(tmp / "quarterly-review.pdf"))
    dialog.p12.setText(str(p12))
    dialog.passphrase.setText("signing-pass")
    dialog.title.setText("Quarterly review of data processing")
    dialog.body.setText("Office of the Oversight Commissioner")
    dialog.show()  # its own size, which fits a 1366x768 screen
    job = dialog.produce()
    if job is not None:
        loop = QtCore.QEventLoop()
        job.ended.connect(loop.quit)
        loop.exec()
    save(dialog, out, "report-dialog.png")
    dialog.close()
    return out / "report-dialog.png"


def shoot_timeline(out: Path, tmp: Path) -> Path:
    """The timeline of an authorisation cancelled while operations went on citing it
    (a small workspace of its own: the demo's authorisations are each cited a few
    times only)."""
    import random
    from datetime import UTC, datetime, timedelta

    from oversight.criteria.engine import run_detection
    from oversight.criteria.pack import default_pack
    from oversight.importing import import_file
    from oversight.records import Kind
    from ui.session import Session
    from ui.timeline import TimelineDialog

    work = tmp / "timeline"
    work.mkdir()
    (work / "auth.csv").write_text(
        "authorisation_id,regime,legal_basis,approval,valid_from,valid_to,cancelled_at,"
        "case_id\nRIPA-DS-2026-0201,directed surveillance,RIPA 2000 s.28,approved,"
        "2026-03-02T09:00:00+00:00,2026-05-31,2026-05-12T16:00:00+00:00,"
        "GB-MET-2026-0044\n", encoding="utf-8")
    rnd = random.Random(3)
    lines = ["record_id,ts,action,actor_id,authorisation_id,case_id"]
    first = datetime(2026, 2, 20, tzinfo=UTC)
    for i in range(70):
        ts = first + timedelta(hours=rnd.randint(0, 24 * 110))
        action = rnd.choice(["consult", "consult", "collect", "disclose"])
        lines.append(f"OP-{i:04d},{ts.isoformat()},{action},GB-MET-{rnd.randint(100, 140)},"
                     "RIPA-DS-2026-0201,GB-MET-2026-0044")
    (work / "ops.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Workspace.create(work / "ws", "admin", PASSWORD) as ws:
        import_file(ws, work / "auth.csv", Kind.AUTHORISATIONS)
        import_file(ws, work / "ops.csv", Kind.OPERATIONS)
        run_detection(ws, default_pack())  # so a tick's findings can be shown
    session = Session(Workspace.open(work / "ws", "admin", PASSWORD), Prompts())
    dialog = TimelineDialog(session, None, "authorisation", "RIPA-DS-2026-0201")
    dialog.resize(1000, 680)
    dialog.show()
    assert dialog.tl is not None
    flagged = next(m for m in dialog.tl.marks if m.place == "cancelled")
    dialog.select_operation(flagged.rid)  # as a click on its tick
    save(dialog, out, "timeline.png")
    dialog.close()
    session.close()
    return out / "timeline.png"


def shoot_criteria(window: Any, out: Path) -> Path:
    """The Criteria page with the first rule selected."""
    row = next(i for i in range(window.sidebar.count())
               if window.sidebar.item(i).text() == "Criteria")
    window.sidebar.setCurrentRow(row)
    window.criteria.rules_view.selectRow(0)
    save(window, out, "criteria.png")
    return out / "criteria.png"


def shoot_indicators(window: Any, out: Path) -> Path:
    """The Indicators page by agency, once its background computation has ended."""
    app = QtWidgets.QApplication.instance()
    assert isinstance(app, QtWidgets.QApplication)
    row = next(i for i in range(window.sidebar.count())
               if window.sidebar.item(i).text() == "Indicators")
    page = window.indicators
    done: list[bool] = []
    page.computed.connect(lambda: done.append(True))
    window.sidebar.setCurrentRow(row)
    while not done:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 100)
    save(window, out, "indicators.png")
    return out / "indicators.png"


@contextmanager
def _inspector_on_demo() -> Iterator[tuple[Path, Any]]:
    """For a shot taken on its own: the application, a small demo workspace in a temporary
    folder, and the inspector's session on it (closed afterwards)."""
    from ui.session import Session

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["screenshots"])
    assert isinstance(app, QtWidgets.QApplication)
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="oversight-shots-") as tmp:
        folder = Path(tmp) / "demo-workspace"
        build_demo(folder, "admin", PASSWORD, 2000, 20261128)
        session = Session(Workspace.open(folder, INSPECTOR, PASSWORD), Prompts())
        try:
            yield Path(tmp), session
        finally:
            session.close()


def shoot_import_wizard(out: Path = ROOT / "docs" / "screenshots") -> Path:
    """The import wizard's mapping step (docs/gui.md), on a small sample log.

        cd docs && QT_QPA_PLATFORM=offscreen ../.venv/bin/python -c \\
            "import make_screenshots as m; m.shoot_import_wizard()"
    """
    from ui.import_wizard import ImportWizard

    with _inspector_on_demo() as (tmp, session):
        log = tmp / "query-log-2026-03.csv"
        log.write_text(
            "Log No,Date,Officer,Badge,Operation,Persons,Terminal,Note\n"
            "Q-1001,2026-03-01T09:12:00+01:00,PC Smith,GB-MET-0412,consult,P-000212,"
            "WS-4003,routine check\n"
            "Q-1002,2026-03-01T23:47:00+01:00,PC Jones,GB-MET-0977,consult,"
            "P-000212;P-000388,WS-4011,night shift\n", encoding="utf-8")
        wizard = ImportWizard(session, Prompts())
        wizard.add_files([log])
        wizard.resize(900, 620)
        wizard.show()
        wizard.next()
        wizard.set_target("Officer", "")
        wizard.set_target("Badge", "actor_id")
        wizard.set_target("Note", "justification")
        wizard.set_target("Log No", "record_id")
        save(wizard, out, "import-wizard.png")
        wizard.close()
    return out / "import-wizard.png"


def shoot_scan_dialog(out: Path = ROOT / "docs" / "screenshots") -> Path:
    """Scan in place (docs/scale.md): the dialog after a scan of a demo-like log.

        cd docs && QT_QPA_PLATFORM=offscreen ../.venv/bin/python -c \\
            "import make_screenshots as m; m.shoot_scan_dialog()"
    """
    from oversight.demo_data import generate
    from ui.scan_dialog import ScanDialog

    with _inspector_on_demo() as (tmp, session):
        log = generate(tmp / "logs" / "2026-03", operations=2000, seed=7).operations
        dialog = ScanDialog(session, None, [log])
        dialog.memory.setCurrentText("2GB")
        dialog.show()
        job = dialog.start_scan()
        assert job is not None, dialog.error.text()
        loop = QtCore.QEventLoop()  # one wait, not a loop of processEvents calls
        job.ended.connect(loop.quit)
        loop.exec()
        save(dialog, out, "scan-dialog.png")
        dialog.close()
    return out / "scan-dialog.png"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
