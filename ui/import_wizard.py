"""The import wizard: files, kind, a column-by-column mapping, a preview, the import.

Steps: choose one or several files (or drop them on the first page) and what they
hold; check the mapping the workstation guessed, column by column (a canonical field,
the record id, or *keep as extra*), with an optional time zone and encoding, and save
it as a mapping profile if wanted; preview the first records and rejects with that
mapping; import in the background with a progress bar and Cancel; read the summary.

The edited mapping is a profile in the documented YAML format, validated with
``parse_profile`` like any profile; a saved profile can be loaded back (what the
column-by-column choices cannot express, such as a timestamp format or a constant
field, is kept from it). Before the import the wizard checks the mapping against the
rules of the workspace's active criteria pack (`oversight.pack_mapping`) and names every
field it leaves empty and every column it consumes that a rule reads. For the preview
and the import the profile is written to a private temporary folder that is deleted
straight after (a profile holds column names, no personal data). Every file is one batch
in one transaction: Cancel rolls back the file being imported; files finished before
stay imported. The last page offers to run detection at once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oversight.changes import changes_of
from oversight.criteria.engine import RunSummary, run_detection
from oversight.criteria.pack import Pack
from oversight.criteria.versions import active_pack
from oversight.errors import Cancelled, OversightError, ValidationError
from oversight.importing import import_file
from oversight.importing.profile import MappingProfile, auto_profile, load_profile, parse_profile
from oversight.importing.profile_writer import RECORD_ID, profile_targets, profile_text
from oversight.importing.sampling import SOURCE_SUFFIXES, FileSample, sample_columns
from oversight.importing.service import ImportResult, already_imported_text, preview
from oversight.pack_mapping import MappingWarning, mapping_warnings
from oversight.progress import CancelToken, Progress
from oversight.records import NATURAL_KEY, Kind, fields_of
from oversight.workspace import Permission, Workspace
from ui.errors import inline
from ui.jobs import Job, ProgressDialog, stage_text
from ui.models import HeadedTableModel, TableModel, cell_text
from ui.prompts import Prompts
from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.session import Session
from ui.widgets import error_label, make_table, readable

__all__ = ["FILE_FILTERS", "FileOutcome", "ImportWizard", "MappingModel", "TargetDelegate"]

#: A review package from another body (oversight.exchange), not a log.
PACKAGE_SUFFIX = ".ovp"

#: What the core operation declares it changes (read once: not whatever a
#: test or plugin puts in its place later).
DETECTION_CHANGES = changes_of(run_detection)
IMPORT_CHANGES = changes_of(import_file)

Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex
_NO_PARENT = QtCore.QModelIndex()
EXTRA = ""
EXTRA_LABEL = "(keep as extra)"
KIND_LABELS = ((Kind.OPERATIONS, "Operations (log of actions)"),
               (Kind.AUTHORISATIONS, "Authorisations (warrants, approvals)"),
               (Kind.CASES, "Cases"))
ENCODINGS = ("", "utf-8", "cp1252", "latin-1", "utf-16")
TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid",
             "Europe/Rome", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki")
#: The file dialogs' filters, for the wizard and Workspace ▸ Import file… alike.
FILE_FILTERS = ("Logs and registers (" + " ".join(f"*{s}" for s in SOURCE_SUFFIXES)
                + ");;All files (*)")
PROFILE_FILTERS = "Mapping profiles (*.yaml *.yml)"


def sentence(exc: BaseException) -> str:
    """A user error's message, or (a bug, logged) the bug sentence; issues not listed."""
    return inline(exc, issues=False)


@dataclass
class FileOutcome:
    """One file of an import: its result, or the sentence saying why it failed."""

    path: Path
    result: ImportResult | None
    error: str | None = None


class MappingModel(HeadedTableModel):
    """One row per source column: its name, a sample value, and its target (a
    canonical field, RECORD_ID, or EXTRA). Only the target is editable."""

    HEADERS = ("Source column", "First value", "Maps to")
    TARGET = 2

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[list[str]] = []
        self.choices: list[tuple[str, str]] = [(EXTRA, EXTRA_LABEL)]

    def set_mapping(self, kind: Kind, sample: FileSample, targets: dict[str, str]) -> None:
        self.beginResetModel()
        self.choices = [(EXTRA, EXTRA_LABEL), (RECORD_ID, "record_id (the record's own id)")]
        self.choices += [(name, f"{name} ({spec.type.value})")
                         for name, spec in fields_of(kind).items()]
        self._rows = [[col, sample.samples.get(col, ""), targets.get(col, EXTRA)]
                      for col in sample.columns]
        self.endResetModel()

    def update_samples(self, sample: FileSample) -> None:
        for row in self._rows:
            row[1] = sample.samples.get(row[0], row[1])
        if self._rows:
            self.dataChanged.emit(self.index(0, 1), self.index(len(self._rows) - 1, 1))

    def label(self, target: str) -> str:
        return next((label for key, label in self.choices if key == target), target)

    def assignments(self) -> list[tuple[str, str | None]]:
        return [(r[0], r[2] or None) for r in self._rows]

    def target(self, row: int) -> str:
        return self._rows[row][2]

    def row_of(self, column: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r[0] == column), -1)

    def set_target(self, column: str, target: str) -> bool:
        row = self.row_of(column)
        return row >= 0 and self.setData(self.index(row, self.TARGET), target)

    # -- Qt model ----------------------------------------------------------------------

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def labels(self) -> list[str]:
        return list(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.label(row[2]) if col == self.TARGET else row[col]
        if role == Qt.ItemDataRole.EditRole:
            return row[col]
        if role == Qt.ItemDataRole.ToolTipRole and col == 1 and len(row[1]) > 30:
            return row[1]
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.EditRole or not index.isValid()
                or index.column() != self.TARGET or not 0 <= index.row() < len(self._rows)):
            return False
        target = str(value or "")
        if target not in {key for key, _ in self.choices}:
            return False
        self._rows[index.row()][2] = target
        self.dataChanged.emit(index, index)
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == self.TARGET:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags


class TargetDelegate(QtWidgets.QStyledItemDelegate):
    """A combo of the kind's canonical fields and *keep as extra* per source column."""

    def createEditor(self, parent: QtWidgets.QWidget, option: QtWidgets.QStyleOptionViewItem,
                     index: Index) -> QtWidgets.QWidget:
        combo = QtWidgets.QComboBox(parent)
        model = index.model()
        if isinstance(model, MappingModel):
            for key, label in model.choices:
                combo.addItem(label, key)
        combo.activated.connect(lambda _=0, c=combo: self.commitData.emit(c))
        return combo

    def setEditorData(self, editor: QtWidgets.QWidget, index: Index) -> None:
        if isinstance(editor, QtWidgets.QComboBox):
            found = editor.findData(index.data(Qt.ItemDataRole.EditRole))
            editor.setCurrentIndex(max(found, 0))

    def setModelData(self, editor: QtWidgets.QWidget, model: QtCore.QAbstractItemModel,
                     index: Index) -> None:
        if isinstance(editor, QtWidgets.QComboBox):
            model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class FilesPage(QtWidgets.QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Files to import")
        self.setSubTitle("Add one or several files (or drop them here) and say what they "
                         "hold. Several files should share the same columns: one mapping "
                         "serves them all.")
        self.setAcceptDrops(True)
        self.files = QtWidgets.QListWidget()
        self.files.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        add = QtWidgets.QPushButton("&Add files…")
        add.clicked.connect(self.wiz.browse_files)
        remove = QtWidgets.QPushButton("&Remove")
        remove.clicked.connect(self.remove_selected)
        self.package_button = QtWidgets.QPushButton("Review &package…")
        self.package_button.setToolTip("Import a review package (.ovp) from another body: "
                                       "verified with your key before anything is written")
        self.package_button.clicked.connect(lambda: self.wiz.package_requested.emit(None))
        # Logs too large to import: the scan dialog (ui/scan_dialog.py), with these files.
        self.scan_button = QtWidgets.QPushButton("Scan in p&lace (large logs)…")
        self.scan_button.setToolTip("Run the criteria over operations logs where they lie "
                                    "(DuckDB); only findings and the records they cite come "
                                    "into the workspace")
        self.scan_button.clicked.connect(
            lambda: self.wiz.scan_requested.emit(self.paths()))
        self.kind = QtWidgets.QComboBox()
        for kind, label in KIND_LABELS:
            self.kind.addItem(label, kind.value)
        self.kind.currentIndexChanged.connect(lambda _=0: self.scan_button.setEnabled(
            self.kind_value() is Kind.OPERATIONS))
        self.error = error_label()
        buttons = QtWidgets.QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        buttons.addWidget(self.package_button)
        buttons.addWidget(self.scan_button)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.files, 1)
        row.addLayout(buttons)
        form = QtWidgets.QFormLayout()
        form.addRow("The files &hold:", self.kind)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addLayout(form)
        layout.addWidget(self.error)

    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def add_paths(self, paths: list[Path]) -> None:
        have = set(self.paths())
        for path in paths:
            if path.suffix.lower() == PACKAGE_SUFFIX:
                self.wiz.package_requested.emit(path)
                continue
            if path not in have:
                self.files.addItem(str(path))
                have.add(path)
        self.error.clear()
        self.completeChanged.emit()

    def remove_selected(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))
        self.completeChanged.emit()

    def kind_value(self) -> Kind:
        return Kind(str(self.kind.currentData()))

    def set_kind(self, kind: Kind) -> None:
        self.kind.setCurrentIndex(self.kind.findData(kind.value))

    def isComplete(self) -> bool:
        return self.files.count() > 0

    def validatePage(self) -> bool:
        return self.wiz.read_columns()

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()


class MappingPage(QtWidgets.QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Mapping")
        self.setSubTitle("Each source column maps to a canonical field (what the criteria "
                         "read) or is kept as extra under its own header. Nothing is dropped.")
        self.model = MappingModel(self)
        self.view = make_table(self.model, stretch_last=True)
        self.view.setItemDelegateForColumn(MappingModel.TARGET, TargetDelegate(self.view))
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 14)
        self.view.setColumnWidth(0, 200)
        self.view.setColumnWidth(1, 220)
        self.timezone = QtWidgets.QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItems(list(TIMEZONES))
        self.timezone.setToolTip("For timestamps without an offset (an IANA name such as "
                                 "Europe/Berlin).")
        self.encoding = QtWidgets.QComboBox()
        self.encoding.setEditable(True)
        for enc in ENCODINGS:
            self.encoding.addItem(enc or "UTF-8 (detected)", enc)
        self.encoding.activated.connect(lambda _=0: self.wiz.reload_samples())
        save = QtWidgets.QPushButton("&Save as profile…")
        save.clicked.connect(self.wiz.save_profile_as)
        self.load_button = QtWidgets.QPushButton("&Load profile…")
        self.load_button.setToolTip("Map the columns as a saved mapping profile (YAML) says.")
        self.load_button.clicked.connect(self.wiz.load_profile_from)
        self.save_button = save
        self.loaded = QtWidgets.QLabel()
        self.loaded.setWordWrap(True)
        self.loaded.setTextFormat(Qt.TextFormat.PlainText)
        self.loaded.hide()
        self.warnings = WarningsBox()
        self.model.dataChanged.connect(lambda *_: self.wiz.update_warnings())
        self.error = error_label()
        tz_label = QtWidgets.QLabel("&Time zone:")
        tz_label.setBuddy(self.timezone)
        enc_label = QtWidgets.QLabel("&Encoding:")
        enc_label.setBuddy(self.encoding)
        options = QtWidgets.QHBoxLayout()
        options.addWidget(tz_label)
        options.addWidget(self.timezone)
        options.addSpacing(12)
        options.addWidget(enc_label)
        options.addWidget(self.encoding)
        options.addStretch(1)
        options.addWidget(self.load_button)
        options.addWidget(save)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(options)
        layout.addWidget(self.loaded)
        layout.addWidget(self.warnings)
        layout.addWidget(self.error)

    def initializePage(self) -> None:
        self.wiz.fill_mapping()
        self.open_editors()
        self.error.clear()
        self.wiz.update_warnings()

    def open_editors(self) -> None:
        for row in range(self.model.rowCount()):
            self.view.openPersistentEditor(self.model.index(row, MappingModel.TARGET))

    def encoding_value(self) -> str | None:
        text = self.encoding.currentText().strip()
        data = self.encoding.currentData()
        if data is not None and self.encoding.itemText(self.encoding.currentIndex()) == text:
            return str(data) or None
        return text or None

    def validatePage(self) -> bool:
        try:
            self.wiz.checked_profile()
        except Exception as exc:
            self.error.setText(_issues_text(exc))
            return False
        self.error.clear()
        return True


class WarningsBox(QtWidgets.QScrollArea):
    """The mapping's warnings: a heading and one line each, scrolling past a few lines
    so that they never push the mapping or the preview off a small screen."""

    LINES = 6

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QtWidgets.QLabel()
        self.label.setStyleSheet(f"color: {readable('#8a4b00')}")
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMaximumHeight(self.LINES * self.fontMetrics().lineSpacing() + 8)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                           QtWidgets.QSizePolicy.Policy.Maximum)
        self.hide()

    def text(self) -> str:
        return str(self.label.text())

    def setText(self, text: str) -> None:  # as QLabel, so callers need not care
        self.label.setText(text)
        self.setVisible(bool(text))


def warnings_text(pack: Pack, warnings: list[MappingWarning]) -> str:
    """The mapping warnings as the wizard shows them ("" when there is none)."""
    if not warnings:
        return ""
    rules = {r for w in warnings for r in w.rules}
    lines = [f"This mapping starves {len(rules)} rule(s) of the active criteria pack "
             f"{pack.id} {pack.version} ({len(warnings)} warning(s)):"]
    lines += [f"• {w.message}." for w in warnings]
    return "\n".join(lines)


def _issues_text(exc: BaseException) -> str:
    """The sentence, and for a profile that fails validation every issue."""
    text = sentence(exc)
    if isinstance(exc, ValidationError):
        text += "\n" + "\n".join(f"• {issue.message}" for issue in exc.issues)
    return text


class PreviewPage(QtWidgets.QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Preview")
        self.setSubTitle("What the import will do with this mapping. Nothing has been "
                         "written yet.")
        self.setCommitPage(True)
        self.setButtonText(QtWidgets.QWizard.WizardButton.CommitButton, "&Import")
        self.counts = QtWidgets.QLabel()
        self.counts.setWordWrap(True)
        self.counts.setTextFormat(Qt.TextFormat.PlainText)
        self.records = TableModel(["record_id"], self)
        self.records_view = make_table(self.records, stretch_last=True)
        self.rejects = TableModel(["File", "Line", "Column", "Field", "Value", "Reason"], self)
        self.rejects_view = make_table(self.rejects, stretch_last=True)
        self.error = error_label()
        self.warnings = WarningsBox()
        self.ok = False
        # The two tables share what height there is (a 1366x768 screen included): each
        # scrolls, neither squeezes the counts or the warnings out of sight.
        records = QtWidgets.QWidget()
        top = QtWidgets.QVBoxLayout(records)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QtWidgets.QLabel("First records:"))
        top.addWidget(self.records_view, 1)
        rejects = QtWidgets.QWidget()
        bottom = QtWidgets.QVBoxLayout(rejects)
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(QtWidgets.QLabel("First rejected rows:"))
        bottom.addWidget(self.rejects_view, 1)
        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(records)
        self.splitter.addWidget(rejects)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.warnings)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.error)

    def initializePage(self) -> None:
        self.ok = self.wiz.run_preview()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.ok


class ImportPage(QtWidgets.QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Import")
        self.status = QtWidgets.QLabel("Starting…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 0)
        self.cancel_button = QtWidgets.QPushButton("&Cancel import")
        self.cancel_button.clicked.connect(self.wiz.cancel_import)
        self.summary = QtWidgets.QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rejects = TableModel(["File", "Line", "Column", "Field", "Value", "Reason"], self)
        self.rejects_view = make_table(self.rejects, stretch_last=True)
        self.rejects_view.hide()
        self.detect_button = QtWidgets.QPushButton("Run &detection now")
        self.detect_button.clicked.connect(self.wiz.run_detection)
        self.detect_button.hide()
        self.detection = QtWidgets.QLabel()
        self.detection.setTextFormat(Qt.TextFormat.PlainText)
        self.detection.setWordWrap(True)
        self.detection.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.finished_ok = False
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        detect_row = QtWidgets.QHBoxLayout()
        detect_row.addWidget(self.detection, 1)
        detect_row.addWidget(self.detect_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addLayout(detect_row)
        layout.addWidget(self.rejects_view, 1)

    def initializePage(self) -> None:
        self.finished_ok = False
        self.wiz.start_import()

    def isComplete(self) -> bool:
        return self.finished_ok

    def on_progress(self, done: int, total: int, stage: str) -> None:
        if stage.startswith("Importing file"):
            self.setSubTitle(stage)
            return
        if self.wiz.job is not None and self.wiz.job.cancelled:
            return
        self.status.setText(stage_text(done, total, stage))
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(min(1000, 1000 * done // total))
        else:
            self.bar.setRange(0, 0)


class ImportWizard(QtWidgets.QWizard):
    """Import one or several files with an edited mapping. Not modal.

    A review package from another body (.ovp) is not a log: adding one, or the
    "Review package…" button, asks for the package import instead
    (``package_requested``: the package's path, or None), which verifies the package
    with the user's key before anything is written."""

    package_requested = Signal(object)
    #: "Scan in place (large logs)": the files listed so far (list[Path]) go to the scan.
    scan_requested = Signal(object)

    def __init__(self, session: Session, prompts: Prompts,
                 parent: QtWidgets.QWidget | None = None,
                 choose_files: Callable[[QtWidgets.QWidget], list[Path]] | None = None,
                 choose_save: Callable[[QtWidgets.QWidget], Path | None] | None = None,
                 choose_profile: Callable[[QtWidgets.QWidget], Path | None] | None = None
                 ) -> None:
        super().__init__(parent)
        self.session = session
        self.prompts = prompts
        self._choose_files = choose_files or _dialog_files
        self._choose_save = choose_save or _dialog_save
        self._choose_profile = choose_profile or _dialog_profile
        #: The profile the mapping was loaded from (its extra options are kept).
        self.loaded_profile: MappingProfile | None = None
        self.warnings: list[MappingWarning] = []
        self.detection: RunSummary | None = None
        self._pack: Pack | None = None
        self.setWindowTitle("Import wizard")
        self.setWizardStyle(QtWidgets.QWizard.WizardStyle.ClassicStyle)
        self.setOption(QtWidgets.QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QtWidgets.QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        # Fits a 1366x768 screen with room for a panel; the pages scroll inside.
        self.resize(900, 620)
        self.sample: FileSample | None = None
        self.job: Job | None = None
        self.outcomes: list[FileOutcome] = []
        self.previews: list[FileOutcome] = []
        self.files_page = FilesPage(self)
        self.mapping_page = MappingPage(self)
        self.preview_page = PreviewPage(self)
        self.import_page = ImportPage(self)
        for page in (self.files_page, self.mapping_page, self.preview_page, self.import_page):
            self.addPage(page)

    # -- files -------------------------------------------------------------------------

    def browse_files(self) -> None:
        paths = self._choose_files(self)
        if paths:
            self.files_page.add_paths(paths)

    def add_files(self, paths: list[Path], kind: Kind | None = None) -> None:
        self.files_page.add_paths([Path(p) for p in paths])
        if kind is not None:
            self.files_page.set_kind(kind)

    @property
    def files(self) -> list[Path]:
        return self.files_page.paths()

    @property
    def kind(self) -> Kind:
        return self.files_page.kind_value()

    def read_columns(self, encoding: str | None = None) -> bool:
        """Read the first file's columns; a file that cannot be read gives a sentence."""
        files = self.files
        if not files:
            return False
        try:
            for path in files:
                if not path.is_file():
                    raise OversightError(f"{path} is not a file (it does not exist or is a "
                                         "folder).")
            self.sample = sample_columns(files[0], encoding)
        except Exception as exc:
            self.files_page.error.setText(sentence(exc))
            return False
        self.files_page.error.clear()
        return True

    # -- mapping -----------------------------------------------------------------------

    def fill_mapping(self) -> None:
        assert self.sample is not None
        if self.loaded_profile is not None and self.loaded_profile.kind is self.kind:
            self._apply_profile(self.loaded_profile)
            return
        self.loaded_profile = None
        self.mapping_page.loaded.hide()
        auto = auto_profile(self.kind, self.sample.columns)
        targets: dict[str, str] = {}
        if auto.record_id is not None:
            targets[auto.record_id.columns[0]] = RECORD_ID
        for name, fm in auto.fields.items():
            for col in fm.columns:
                targets.setdefault(col, name)
        self.mapping_page.model.set_mapping(self.kind, self.sample, targets)

    def load_profile_from(self) -> None:
        path = self._choose_profile(self)
        if path is not None:
            self.load_profile(path)

    def load_profile(self, path: Path) -> bool:
        """Map the columns as the profile at ``path`` says (its kind becomes the
        wizard's); a profile that cannot be read or fails validation is a sentence."""
        page = self.mapping_page
        try:
            profile = load_profile(Path(path))
        except Exception as exc:
            page.error.setText(_issues_text(exc))
            return False
        if self.sample is None:
            page.error.setText("Add the files first, then load a profile for them.")
            return False
        page.error.clear()
        if profile.kind is not self.kind:
            self.files_page.set_kind(profile.kind)
        self.loaded_profile = profile
        self._apply_profile(profile, Path(path).name)
        page.open_editors()
        self.update_warnings()
        return True

    def _apply_profile(self, profile: MappingProfile, name: str | None = None) -> None:
        assert self.sample is not None
        targets, missing, constants = profile_targets(profile, self.sample.columns)
        self.mapping.set_mapping(self.kind, self.sample, targets)
        page = self.mapping_page
        page.timezone.setCurrentText(profile.timezone)
        if profile.encoding:
            page.encoding.setCurrentText(profile.encoding)
        notes = [f"Mapping loaded from {name or profile.source_name or 'a profile'} "
                 f"({profile.kind.value})."]
        if constants:
            notes.append("Constant fields kept: " + ", ".join(
                f"{k} = {v}" for k, v in constants.items()) + ".")
        kept = [f"{n}: {', '.join(o for o in ('format', 'map', 'split') if getattr(fm, o))}"
                for n, fm in profile.fields.items() if fm.columns
                and any(getattr(fm, o) for o in ("format", "map", "split"))]
        if kept:
            notes.append("Options kept: " + "; ".join(kept) + ".")
        if missing:
            notes.append("These files have no column " + ", ".join(
                repr(c) for c in missing) + ", which the profile names.")
        page.loaded.setText(" ".join(notes))
        page.loaded.show()

    @property
    def mapping(self) -> MappingModel:
        return self.mapping_page.model

    def set_target(self, column: str, target: str) -> None:
        """Map ``column`` to ``target`` (a field name, "record_id", or "" for extra)."""
        if not self.mapping.set_target(column, target):
            raise ValueError(f"cannot map {column!r} to {target!r}")
        index = self.mapping.index(self.mapping.row_of(column), MappingModel.TARGET)
        editor = self.mapping_page.view.indexWidget(index)
        if isinstance(editor, QtWidgets.QComboBox):
            editor.setCurrentIndex(max(editor.findData(target), 0))

    def reload_samples(self) -> None:
        files = self.files
        if not files:
            return
        try:
            sample = sample_columns(files[0], self.mapping_page.encoding_value())
        except Exception as exc:
            self.mapping_page.error.setText(sentence(exc))
            return
        self.mapping_page.error.clear()
        self.mapping.update_samples(sample)

    def profile_text(self) -> str:
        name = ", ".join(p.name for p in self.files[:3])
        base = self.loaded_profile if self.loaded_profile is not None \
            and self.loaded_profile.kind is self.kind else None
        return profile_text(self.kind, self.mapping.assignments(),
                            timezone=self.mapping_page.timezone.currentText().strip(),
                            encoding=self.mapping_page.encoding_value(),
                            description=None if base is not None
                            else f"Made with the import wizard for {name}", base=base)

    # -- the rules' needs --------------------------------------------------------------

    def active_pack(self) -> Pack | None:
        """The workspace's active criteria pack (read once per wizard)."""
        if self._pack is None and self.session.ready:
            try:
                self._pack = self.session.read(active_pack)
            except OversightError:
                return None
        return self._pack

    def check_warnings(self) -> list[MappingWarning]:
        """What the current mapping does to the rules of the active pack (nothing when
        the mapping is not valid yet: its errors come first)."""
        pack = self.active_pack()
        if pack is None or self.sample is None:
            return []
        try:
            profile = parse_profile(self.profile_text(), "the edited mapping", self.kind)
        except OversightError:
            return []
        return mapping_warnings(pack, profile, self.sample.columns)

    def update_warnings(self) -> None:
        self.warnings = self.check_warnings()
        pack = self.active_pack()
        text = warnings_text(pack, self.warnings) if pack is not None else ""
        for box in (self.mapping_page.warnings, self.preview_page.warnings):
            box.setText(text)

    def checked_profile(self) -> str:
        """The profile text, validated; raises ValidationError listing every issue."""
        text = self.profile_text()
        natural = NATURAL_KEY[self.kind]
        parse_profile(text, "the edited mapping", self.kind)
        if natural is not None and natural not in dict(
                (t, c) for c, t in self.mapping.assignments() if t):
            raise OversightError(f"Map a column to {natural}: every {self.kind.value} record "
                                 "needs one.")
        return text

    def save_profile(self, path: Path) -> bool:
        try:
            text = self.checked_profile()
            Path(path).write_text(text, encoding="utf-8")
        except Exception as exc:
            self.mapping_page.error.setText(_issues_text(exc))
            return False
        self.mapping_page.error.setText("")
        self.mapping_page.setSubTitle(f"Mapping saved as {path}.")
        return True

    def save_profile_as(self) -> None:
        path = self._choose_save(self)
        if path is not None:
            self.save_profile(path)

    # -- preview -----------------------------------------------------------------------

    def run_preview(self) -> bool:
        page = self.preview_page
        page.error.clear()
        page.records.set_rows([])
        page.rejects.set_rows([])
        self.previews = []
        if not self.session.ready:
            page.error.setText("Wait for the running job to finish, then go back and on.")
            return False
        try:
            text = self.checked_profile()
        except Exception as exc:
            page.error.setText(_issues_text(exc))
            return False
        QtWidgets.QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            with tempfile.TemporaryDirectory(prefix="oversight-profile-") as tmp:
                profile = Path(tmp) / "profile.yaml"
                profile.write_text(text, encoding="utf-8")
                for path in self.files:
                    try:
                        result = self.session.read(preview, path, self.kind, profile)
                    except Exception as exc:
                        self.previews.append(FileOutcome(path, None, sentence(exc)))
                    else:
                        self.previews.append(FileOutcome(path, result))
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        self._show_preview()
        self.update_warnings()
        # A file already in the workspace is previewed (so a revised mapping can be seen
        # on it) but cannot be imported again: say which batch holds it.
        held = [o for o in self.previews if o.result is not None and o.result.imported_as]
        if held:
            page.error.setText("\n".join(filter(None, [page.error.text(), *(
                already_imported_text(o.path.name, o.result.imported_as)
                for o in held if o.result is not None and o.result.imported_as)])))
        return any(o.result is not None and not o.result.imported_as for o in self.previews)

    def _show_preview(self) -> None:
        page = self.preview_page
        lines: list[str] = []
        records: list[dict[str, Any]] = []
        rejects: list[tuple[Any, ...]] = []
        errors: list[str] = []
        for outcome in self.previews:
            res = outcome.result
            if res is None:
                errors.append(outcome.error or "")
                continue
            lines.append(f"{outcome.path.name}: {res.rows_read:,} rows, {res.rows_imported:,} "
                         f"would import, {res.rows_rejected:,} rejected; kept as extra: "
                         f"{', '.join(res.extra_columns) or 'none'}.")
            lines.extend(summary_warning_lines(res))  # a dry run says its warnings too
            if not records:
                records = res.sample_records
            rejects.extend(_reject_rows(outcome.path, res))
        page.counts.setText("\n".join(lines))
        page.error.setText("\n".join(errors))
        headers: list[str] = []
        for rec in records:
            for key in rec:
                if key not in headers:
                    headers.append(key)
        model = TableModel(headers or ["record_id"], page)
        model.set_rows([[cell_text(rec.get(h)) for h in headers] for rec in records])
        page.records = model
        page.records_view.setModel(model)
        page.rejects.set_rows(rejects)
        _fit_columns(page.records_view)
        _fit_columns(page.rejects_view)

    # -- import ------------------------------------------------------------------------

    def start_import(self) -> None:
        page = self.import_page
        page.summary.clear()
        page.rejects.set_rows([])
        page.rejects_view.hide()
        page.cancel_button.setEnabled(True)
        page.bar.setRange(0, 0)
        page.status.setText("Starting…")
        page.detect_button.hide()
        page.detection.clear()
        self.detection = None
        self.outcomes = []
        outcomes = self.outcomes
        files, kind = list(self.files), self.kind
        try:
            text = self.checked_profile()
        except Exception as exc:
            self._finish(_issues_text(exc))
            return

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> list[FileOutcome]:
            with tempfile.TemporaryDirectory(prefix="oversight-profile-") as tmp:
                profile = Path(tmp) / "profile.yaml"
                profile.write_text(text, encoding="utf-8")
                for n, path in enumerate(files, 1):
                    progress(0, 0, f"Importing file {n} of {len(files)}: {path.name}")
                    try:
                        result = import_file(ws, path, kind, profile, progress=progress,
                                             cancel=cancel)
                    except Cancelled:
                        raise
                    except OversightError as exc:
                        outcomes.append(FileOutcome(path, None, exc.message))
                    else:
                        outcomes.append(FileOutcome(path, result))
            return outcomes

        if not self.session.can(Permission.IMPORT):
            self._finish(self.session.why_not(Permission.IMPORT))
            return
        job = self.session.start_job(f"Importing {len(files)} file(s)", work,
                                     IMPORT_CHANGES, parent=self)
        if job is None:
            self._finish("Another job is running or the workspace is locked; nothing was "
                         "imported.")
            return
        self._own(job)
        job.ended.connect(self._job_ended)

    def _own(self, job: Job) -> None:
        """This page shows ``job``'s progress (the main window shows a progress window
        for every job: hide it)."""
        self.job = job
        owner = self.parentWidget()
        if owner is not None:
            for dialog in owner.findChildren(ProgressDialog):
                if dialog.job is job:
                    dialog.hide()
        job.progress.connect(self.import_page.on_progress)

    def cancel_import(self) -> None:
        """Cancel the running job: the import (the file being imported is rolled back)
        or the detection run (nothing of it is recorded)."""
        if self.job is not None and self.job.running and not self.job.cancelled:
            self.job.cancel()
            self.import_page.status.setText(
                "Cancelling… (nothing of the detection run is recorded)"
                if self.import_page.detect_button.isVisible() else
                "Cancelling… (the file being imported is rolled back)")
            self.import_page.cancel_button.setEnabled(False)

    def _job_ended(self) -> None:
        job = self.job
        assert job is not None
        self.job = None
        if job.error is None:
            head = "Import finished."
        elif isinstance(job.error, Cancelled):
            head = "Import cancelled: nothing of the file being imported was written."
        else:
            head = f"Import stopped: {sentence(job.error)}"
        self._finish(head)

    def _finish(self, head: str) -> None:
        page = self.import_page
        lines = [head]
        rejects: list[tuple[Any, ...]] = []
        for outcome in self.outcomes:
            res = outcome.result
            if res is None:
                lines.append(f"{outcome.path.name}: not imported. {outcome.error}")
                continue
            if res.batch_id is None:  # all_rows_rejected: the warning below says why
                lines.append(f"{outcome.path.name}: not imported; {res.rows_rejected:,} of "
                             f"{res.rows_read:,} rows rejected.")
            else:
                lines.append(f"{outcome.path.name}: batch {res.batch_id}, {res.kind}: imported "
                             f"{res.rows_imported:,} of {res.rows_read:,} rows; "
                             f"{res.rows_rejected:,} rejected.")
            lines.extend(summary_warning_lines(res))
            rejects.extend(_reject_rows(outcome.path, res))
        page.summary.setText("\n".join(lines))
        page.status.setText(head)
        page.bar.setRange(0, 1)
        page.bar.setValue(1)
        page.cancel_button.setEnabled(False)
        page.rejects.set_rows(rejects)
        page.rejects_view.setVisible(bool(rejects))
        imported = any(o.result is not None and o.result.kind == Kind.OPERATIONS.value
                       for o in self.outcomes)
        if self.session.can(Permission.DETECT) and any(o.result is not None
                                                       for o in self.outcomes):
            page.detect_button.show()
            page.detect_button.setEnabled(True)
            pack = self.active_pack()
            page.detect_button.setToolTip(
                "Check the workspace against the active criteria pack"
                + (f" ({pack.id} {pack.version})" if pack is not None else "") + ".")
            if imported:
                page.detection.setText("Run detection to check the new operations against "
                                       "the criteria.")
        page.finished_ok = True
        page.completeChanged.emit()

    # -- detection -------------------------------------------------------------------

    def run_detection(self) -> None:
        """Run the active pack over the workspace, as Workspace ▸ Run detection does."""
        page = self.import_page
        pack = self.active_pack()
        if pack is None or not self.session.can(Permission.DETECT):
            page.detection.setText(self.session.why_not(Permission.DETECT))
            return

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> RunSummary:
            return run_detection(ws, pack, progress=progress, cancel=cancel)

        job = self.session.start_job(f"Detection: {pack.id} {pack.version}", work,
                                     DETECTION_CHANGES, parent=self)
        if job is None:
            page.detection.setText("Another job is running or the workspace is locked; "
                                   "try again when it has finished.")
            return
        page.detect_button.setEnabled(False)
        page.cancel_button.setEnabled(True)
        page.bar.setRange(0, 0)
        page.detection.setText(f"Running detection with {pack.id} {pack.version}…")
        page.finished_ok = False
        page.completeChanged.emit()
        self._own(job)
        job.ended.connect(self._detection_ended)

    def _detection_ended(self) -> None:
        job = self.job
        assert job is not None
        self.job = None
        page = self.import_page
        if job.error is None and isinstance(job.result, RunSummary):
            run = job.result
            self.detection = run
            doc = run.to_json()
            evaluated = sum(1 for r in run.rules if r.evaluated)
            text = (f"Detection run {run.run_id} ({run.pack_id} {run.pack_version}): "
                    f"{doc['hits']:,} hits, {doc['new']:,} new findings; {evaluated} of "
                    f"{len(run.rules)} rules evaluated. The findings are on the Findings page.")
        elif isinstance(job.error, Cancelled):
            text = "Detection cancelled: no run was recorded."
            page.detect_button.setEnabled(True)
        else:
            text = f"Detection stopped: {sentence(job.error) if job.error else 'no result'}"
            page.detect_button.setEnabled(True)
        page.detection.setText(text)
        page.status.setText(text.split(":")[0] + ".")
        page.bar.setRange(0, 1)
        page.bar.setValue(1)
        page.cancel_button.setEnabled(False)
        page.finished_ok = True
        page.completeChanged.emit()

    # -- closing -----------------------------------------------------------------------

    def reject(self) -> None:
        """Cancel (or Esc) while importing cancels the import; the wizard stays to
        show what happened."""
        if self.job is not None and self.job.running:
            self.cancel_import()
            return
        super().reject()


def summary_warning_lines(res: ImportResult) -> list[str]:
    """The import summary's lines on data quality: each warning, and the fields left
    empty (issue 10: an import never says nothing about data it cannot vouch for)."""
    lines = [f"  Warning {w.code} ({w.count:,} rows): {w.message}" for w in res.warnings]
    empty = [f for f in res.fields_empty if f not in res.fields_mapped]
    if res.fields_mapped:
        lines.append(f"  Fields mapped: {', '.join(res.fields_mapped)}; left empty: "
                     f"{', '.join(empty) or 'none'}.")
    return lines


def _reject_rows(path: Path, result: ImportResult) -> list[tuple[Any, ...]]:
    return [(path.name, r.line, r.column or "", r.field or "", r.value or "", r.reason)
            for r in result.sample_rejects]


def _dialog_files(parent: QtWidgets.QWidget) -> list[Path]:
    names, _ = QtWidgets.QFileDialog.getOpenFileNames(parent, "Files to import", "",
                                                      FILE_FILTERS)
    return [Path(n) for n in names]


def _dialog_save(parent: QtWidgets.QWidget) -> Path | None:
    name, _ = QtWidgets.QFileDialog.getSaveFileName(
        parent, "Save mapping profile", "mapping.yaml", PROFILE_FILTERS)
    return Path(name) if name else None


def _dialog_profile(parent: QtWidgets.QWidget) -> Path | None:
    name, _ = QtWidgets.QFileDialog.getOpenFileName(parent, "Load mapping profile", "",
                                                    PROFILE_FILTERS)
    return Path(name) if name else None


def _fit_columns(view: QtWidgets.QTableView, most: int = 320) -> None:
    """Every header readable in full (the table scrolls sideways instead); a long
    value is elided at ``most`` pixels, with the whole text as its tooltip."""
    header = view.horizontalHeader()
    metrics = header.fontMetrics()
    view.resizeColumnsToContents()
    model = view.model()
    for col in range(model.columnCount() if model is not None else 0):
        title = str(model.headerData(col, Qt.Orientation.Horizontal) or "")
        need = metrics.horizontalAdvance(title) + 24
        view.setColumnWidth(col, max(need, min(view.columnWidth(col), most)))
