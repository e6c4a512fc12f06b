"""Render the screenshots of docs/gui.md without a screen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py [OUT_DIR]

Builds the demo workspace in a temporary folder, opens the windows at 1366x768 (the
smallest screen the workstation is designed for) and saves PNGs with widget.grab().
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
        auditor.close()
        station.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def shoot_import_wizard(out: Path = ROOT / "docs" / "screenshots") -> Path:
    """The import wizard's mapping step (docs/gui.md), on a small sample log.

        cd docs && QT_QPA_PLATFORM=offscreen ../.venv/bin/python -c \\
            "import make_screenshots as m; m.shoot_import_wizard()"
    """
    from ui.import_wizard import ImportWizard
    from ui.session import Session

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["screenshots"])
    assert isinstance(app, QtWidgets.QApplication)
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="oversight-shots-") as tmp:
        folder = Path(tmp) / "demo-workspace"
        build_demo(folder, "admin", PASSWORD, 2000, 20261128)
        log = Path(tmp) / "query-log-2026-03.csv"
        log.write_text(
            "Log No,Date,Officer,Badge,Operation,Persons,Terminal,Note\n"
            "Q-1001,2026-03-01T09:12:00+01:00,PC Smith,GB-MET-0412,consult,P-000212,"
            "WS-4003,routine check\n"
            "Q-1002,2026-03-01T23:47:00+01:00,PC Jones,GB-MET-0977,consult,"
            "P-000212;P-000388,WS-4011,night shift\n", encoding="utf-8")
        session = Session(Workspace.open(folder, INSPECTOR, PASSWORD), Prompts())
        wizard = ImportWizard(session, Prompts())
        wizard.add_files([log])
        wizard.resize(900, 600)
        wizard.show()
        wizard.next()
        wizard.set_target("Officer", "")
        wizard.set_target("Badge", "actor_id")
        wizard.set_target("Note", "justification")
        wizard.set_target("Log No", "record_id")
        save(wizard, out, "import-wizard.png")
        wizard.close()
        session.close()
    return out / "import-wizard.png"
