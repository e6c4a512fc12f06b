"""The import wizard with mapping profiles, the rules' warnings, the file filters, the
preview at 1366x768 and "Run detection now" (real mouse and key events)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import ADMIN, INSPECTOR, PASSWORD, FakePrompts, choose_from_menu

from oversight.criteria.versions import save_version
from oversight.findings import list_runs
from oversight.importing import import_file
from oversight.importing.profile import parse_profile
from oversight.importing.readers import detect_format
from oversight.importing.sampling import SOURCE_SUFFIXES
from oversight.records import Kind
from oversight.workspace import Workspace
from ui import import_wizard
from ui.import_wizard import EXTRA, FILE_FILTERS, ImportWizard, MappingModel
from ui.qt import Qt, QtCore, QtWidgets
from ui.session import Session

pytest_plugins = ["ui_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
ESSEX = ROOT / "tests" / "data" / "police-uk" / "2020-01-essex-stop-and-search.csv"
POLICE_PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"

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


def _wizard(qtbot: Any, session: Session, prompts: FakePrompts, files: list[Path], *,
            profile: Path | None = None, save_to: Path | None = None) -> ImportWizard:
    wizard = ImportWizard(session, prompts, None, choose_files=lambda _: files,
                          choose_save=lambda _: save_to, choose_profile=lambda _: profile)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    qtbot.mouseClick(_button(wizard.files_page, "Add files"), Qt.MouseButton.LeftButton)
    return wizard


def _button(page: QtWidgets.QWidget, text: str) -> QtWidgets.QPushButton:
    return next(b for b in page.findChildren(QtWidgets.QPushButton)
                if b.text().replace("&", "").rstrip("…") == text)


def _next(qtbot: Any, wizard: ImportWizard) -> None:
    button = wizard.button(QtWidgets.QWizard.WizardButton.NextButton)
    if wizard.currentPage() is wizard.preview_page:
        button = wizard.button(QtWidgets.QWizard.WizardButton.CommitButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _targets(wizard: ImportWizard) -> dict[str, str | None]:
    return dict(wizard.mapping.assignments())


def test_load_a_profile_keep_its_options_and_save_it_back(
        qtbot: Any, open_session: Opener, prompts: FakePrompts, tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    saved = tmp_path / "again.yaml"
    wizard = _wizard(qtbot, session, prompts, [ESSEX], profile=POLICE_PROFILE, save_to=saved)
    _next(qtbot, wizard)
    page = wizard.mapping_page
    assert _targets(wizard)["Legislation"] == "legal_basis"  # the automatic guess
    qtbot.mouseClick(page.load_button, Qt.MouseButton.LeftButton)
    targets = _targets(wizard)
    assert targets["Date"] == "ts" and targets["Legislation"] is None
    assert all(t is None for c, t in targets.items() if c != "Date")
    combo = page.view.indexWidget(wizard.mapping.index(wizard.mapping.row_of("Legislation"),
                                                       MappingModel.TARGET))
    assert isinstance(combo, QtWidgets.QComboBox) and combo.currentData() == EXTRA
    assert page.timezone.currentText() == "Europe/London"
    assert "Constant fields kept: action = search" in page.loaded.text()
    assert page.loaded.isVisibleTo(wizard)

    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    again = parse_profile(saved.read_text(encoding="utf-8"), str(saved), Kind.OPERATIONS)
    assert again.fields["action"].value == "search" and not again.fields["action"].columns
    assert again.fields["ts"].columns == ("Date",) and again.timezone == "Europe/London"
    assert again.format == "csv" and again.encoding == "utf-8"
    assert set(again.fields) == {"ts", "action"}

    _next(qtbot, wizard)
    preview = wizard.preview_page
    assert preview.isComplete(), preview.error.text()
    headers = preview.records.headers
    first = dict(zip(headers, preview.records.row_values(0), strict=True))
    assert first["action"] == "search" and first["ts"].startswith("2020-01-01T00:01")
    assert "1,820 would import" in preview.counts.text()


def test_a_bad_profile_is_a_sentence_and_changes_nothing(
        qtbot: Any, open_session: Opener, prompts: FakePrompts, tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: operations\nfields:\n  nonsense: Date\n", encoding="utf-8")
    wizard = _wizard(qtbot, session, prompts, [ESSEX], profile=bad)
    _next(qtbot, wizard)
    before = _targets(wizard)
    qtbot.mouseClick(wizard.mapping_page.load_button, Qt.MouseButton.LeftButton)
    error = wizard.mapping_page.error.text()
    assert "bad.yaml has 1 problem" in error and "'nonsense' is not a field" in error
    assert _targets(wizard) == before and wizard.loaded_profile is None
    # A profile of another kind switches the wizard to that kind.
    cases = tmp_path / "cases.yaml"
    cases.write_text("kind: cases\nfields:\n  case_id: Type\n  opened_at: Date\n",
                     encoding="utf-8")
    assert wizard.load_profile(cases)
    assert wizard.kind is Kind.CASES and _targets(wizard)["Type"] == "case_id"


def test_warnings_name_the_rules_a_mapping_starves(
        qtbot: Any, demo_ws: Path, open_session: Opener, prompts: FakePrompts) -> None:
    with Workspace.open(demo_ws, ADMIN, PASSWORD) as ws:  # the police pack is active
        save_version(ws, POLICE_PACK.read_text(encoding="utf-8"), "police.uk files")
    session = open_session(INSPECTOR)
    wizard = _wizard(qtbot, session, prompts, [ESSEX])
    _next(qtbot, wizard)
    page = wizard.mapping_page
    warning = ("S60-01, S60-02 and LEG-01 read the column 'Legislation', which this mapping "
               "turns into legal_basis")
    assert page.warnings.isVisibleTo(wizard) and warning in page.warnings.text()
    assert "police-uk-stop-and-search 1.0.0" in page.warnings.text()
    # The person keeps the column as extra with the keyboard: the warning goes at once.
    combo = page.view.indexWidget(wizard.mapping.index(wizard.mapping.row_of("Legislation"),
                                                       MappingModel.TARGET))
    assert isinstance(combo, QtWidgets.QComboBox)
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    assert _targets(wizard)["Legislation"] is None
    assert "Legislation" not in page.warnings.text()
    assert "S60-02 reads action, which this mapping leaves empty" in page.warnings.text()
    # Before the import, the preview says it again.
    _next(qtbot, wizard)
    assert wizard.preview_page.warnings.isVisibleTo(wizard)
    assert "S60-02 reads action" in wizard.preview_page.warnings.text()
    assert [w.name for w in wizard.warnings] == ["action"]
    # With the shipped profile nothing is starved, and nothing is shown.
    wizard.back()
    assert wizard.load_profile(POLICE_PROFILE)
    assert wizard.warnings == [] and not page.warnings.isVisibleTo(wizard)


def test_one_file_filter_for_import_file_and_the_wizard(
        qtbot: Any, open_window: Any, prompts: FakePrompts,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in SOURCE_SUFFIXES:  # every suffix offered is one the importer reads
        fmt = detect_format(Path(f"log{suffix}"), b"[]" if suffix == ".json" else b"a,b\n")
        assert fmt in ("csv", "jsonl", "json", "xlsx")
        assert f"*{suffix}" in FILE_FILTERS
    asked: list[str] = []
    window = open_window(ADMIN)
    monkeypatch.setattr(prompts, "choose_file",
                        lambda parent, title, filters: asked.append(filters))
    choose_from_menu(qtbot, window, window.import_action)
    seen: list[str] = []

    def dialog(parent: Any, title: str, start: str, filters: str) -> tuple[list[str], str]:
        seen.append(filters)
        return [], ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileNames", dialog)
    assert import_wizard._dialog_files(window) == []
    assert asked == [FILE_FILTERS] and seen == [FILE_FILTERS]


def _elided_labels(root: QtWidgets.QWidget) -> list[str]:
    """Visible labels whose text does not fit them (QFontMetrics against their size)."""
    out = []
    for label in root.findChildren(QtWidgets.QLabel):
        if not label.isVisibleTo(root) or not label.text() or label.width() <= 0:
            continue
        metrics = label.fontMetrics()
        if label.wordWrap():
            need = label.heightForWidth(label.width())
            if need > label.height() + 1:
                out.append(f"{label.text()[:40]!r}: needs {need}px, has {label.height()}")
        elif metrics.horizontalAdvance(label.text().replace("&", "")) > label.width() + 1:
            out.append(f"{label.text()[:40]!r}: wider than {label.width()}px")
    return out


def _elided_headers(view: QtWidgets.QTableView) -> list[str]:
    header = view.horizontalHeader()
    metrics = header.fontMetrics()
    model = view.model()
    out = []
    for col in range(model.columnCount()):
        text = str(model.headerData(col, Qt.Orientation.Horizontal))
        if header.sectionSize(col) < metrics.horizontalAdvance(text) + 8:
            out.append(f"{text}: {header.sectionSize(col)}px")
    return out


def test_the_preview_is_not_clipped_at_1366x768(qtbot: Any, open_session: Opener,
                                                 prompts: FakePrompts, tmp_path: Path) -> None:
    # Long canonical names, long original headers, long values and three rejects.
    header = ("record_id,ts,action,actor_id,max_penalty_months,offence_category,"
              "recipient_country,transfer_basis,data_categories,justification,"
              + ",".join(f"Original column with a long header {i}" for i in range(12)))
    rows = [f"L-{n},{'not a date' if n < 3 else '2026-03-01T10:00:00+00:00'},consult,"
            f"officer-{n},24,violent_crime,DE,adequacy,health;biometric,"
            + "a very long justification that goes on and on " * 3 + ","
            + ",".join(f"value {i}" for i in range(12)) for n in range(12)]
    long_csv = tmp_path / "long.csv"
    long_csv.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    session = open_session(INSPECTOR)
    wizard = _wizard(qtbot, session, prompts, [long_csv])
    # As the window manager would place it on a 1366x768 screen (a panel takes ~40px).
    available = QtCore.QSize(1366, 768 - 40 - 30)
    assert wizard.width() <= available.width() and wizard.height() <= available.height()
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    page = wizard.preview_page
    assert page.isComplete() and page.warnings.isVisibleTo(wizard)
    qtbot.waitUntil(lambda: page.records_view.height() > 0)
    assert _elided_labels(page) == []
    assert _elided_headers(page.records_view) == []
    assert _elided_headers(page.rejects_view) == []
    rows = page.records_view.verticalHeader().defaultSectionSize()
    assert page.records_view.viewport().height() >= 3 * rows  # records stay readable
    assert page.rejects.rowCount() == 3
    assert page.rejects_view.viewport().height() >= 2 * rows
    # the long list of warnings scrolls inside its box instead of pushing the tables out
    assert page.warnings.height() <= page.warnings.maximumHeight()


def test_run_detection_now_from_the_last_page(qtbot: Any, open_session: Opener,
                                              prompts: FakePrompts, tmp_path: Path) -> None:
    session = open_session(INSPECTOR)
    runs = len(session.read(list_runs))
    ops = tmp_path / "ops.csv"
    ops.write_text("record_id,ts,action,actor_id,justification,case_id\n"
                   "N-1,2026-03-01T10:00:00+00:00,consult,,,\n", encoding="utf-8")
    wizard = _wizard(qtbot, session, prompts, [ops])
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    _next(qtbot, wizard)  # Import
    job = wizard.job
    assert job is not None
    qtbot.waitUntil(lambda: wizard.import_page.isComplete(), timeout=20_000)
    page = wizard.import_page
    assert page.detect_button.isVisibleTo(wizard) and page.detect_button.isEnabled()
    qtbot.mouseClick(page.detect_button, Qt.MouseButton.LeftButton)
    job = wizard.job
    assert job is not None and not page.isComplete()  # no Finish while it runs
    with qtbot.waitSignal(job.ended, timeout=60_000):
        pass
    qtbot.waitUntil(page.isComplete, timeout=5_000)
    assert wizard.detection is not None and prompts.errors == []
    all_runs = session.read(list_runs)
    assert len(all_runs) == runs + 1 and all_runs[-1]["run_id"] == wizard.detection.run_id
    assert all_runs[-1]["user"] == INSPECTOR
    assert f"Detection run {wizard.detection.run_id} (led-baseline" in page.detection.text()
    assert not page.detect_button.isEnabled()  # once is enough
    finish = wizard.button(QtWidgets.QWizard.WizardButton.FinishButton)
    assert finish.isEnabled()


def test_no_run_detection_for_a_failed_import(qtbot: Any, open_session: Opener,
                                              prompts: FakePrompts) -> None:
    session = open_session(INSPECTOR)
    wizard = _wizard(qtbot, session, prompts, [ESSEX])
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    with Workspace.open(session.folder, INSPECTOR, PASSWORD) as other:
        import_file(other, ESSEX)  # meanwhile, someone else imports the same file
    _next(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.import_page.isComplete(), timeout=20_000)
    assert "not imported" in wizard.import_page.summary.text()
    assert "retract" in wizard.import_page.summary.text()
    assert not wizard.import_page.detect_button.isVisibleTo(wizard)
