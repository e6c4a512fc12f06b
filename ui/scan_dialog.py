"""Scan in place (large logs): run the active criteria pack over log files where they lie.

The GUI side of ``oversight scan`` (docs/scale.md): the user picks files or folders
and/or types a glob, an optional mapping profile, DuckDB's memory limit and whether to
compute each file's SHA-256; the scan runs as a background job with progress and
Cancel (a Cancel interrupts the DuckDB query that is running); only the findings and the
records they cite come back into the workspace. The end is a summary (files, rows read,
rows rejected, findings, rules not evaluated and why); an error is one sentence here,
and the workspace is then as it was.

Keyboard: Tab walks the fields in reading order; no button is a default button, so
Enter never starts a scan by accident (Alt+S or a click does); Escape cancels a running
scan (the dialog stays to say so) and otherwise closes the dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from oversight.changes import changes_of
from oversight.criteria.versions import active_pack
from oversight.errors import Cancelled, OversightError
from oversight.progress import CancelToken, Progress
from oversight.scan import ScanResult, resolve_sources, scan
from oversight.scans import ENGINE_NAMES, ScannedFile, ScanProvenance
from oversight.workspace import Permission, Workspace
from ui.errors import inline
from ui.jobs import Job, ProgressDialog, stage_text
from ui.qt import Qt, QtWidgets
from ui.session import Session
from ui.widgets import error_label

__all__ = ["MEMORY_LIMITS", "SCAN_CHANGES", "ScanDialog", "ScanOutcome", "provenance_text",
           "scan_stage_text", "summary_text"]

#: What the core operation declares it changes (read once).
SCAN_CHANGES = changes_of(scan)
MEMORY_LIMITS = ("1GB", "2GB", "4GB", "8GB", "16GB")
DEFAULT_MEMORY = "4GB"
SCAN_FILTERS = "Logs (*.csv *.jsonl *.ndjson *.parquet);;All files (*)"
PROFILE_FILTERS = "Mapping profiles (*.yaml *.yml)"


@dataclass
class ScanOutcome:
    """What the scan job gives back: the result, or the sentence saying why not."""

    result: ScanResult | None
    error: str | None = None


def scan_stage_text(done: int, total: int, stage: str) -> str:
    """A progress line for people, for the stages the scan reports."""
    if stage.startswith("reading "):
        return f"Reading {stage[len('reading '):]} ({done + 1:,} of {total:,})"
    if stage == "rules":
        return ("Running the criteria in the engine" if done < total or not total
                else "Bringing back the findings and the records they cite")
    return stage_text(done, total, stage)


def summary_text(result: ScanResult) -> str:
    """The end of a scan, in lines: totals, each file, findings, rules not evaluated."""
    name = ENGINE_NAMES.get(result.engine, result.engine)
    rows = sum(f.rows_read for f in result.files)
    rejected = sum(f.rows_rejected for f in result.files)
    n = len(result.files)
    lines = [f"Scan finished: {n:,} file{'' if n == 1 else 's'} scanned in place by {name} "
             f"{result.engine_version}; {rows:,} rows read, {rejected:,} rejected."]
    for f in result.files:
        lines.append(f"  {f.path.name}: {f.rows_read:,} rows read, {f.rows_rejected:,} "
                     f"rejected, {f.cited:,} cited by findings (batch {f.batch_id}); "
                     f"SHA-256 {f.sha256 or 'not computed'}.")
    run = result.run
    if run is None:
        lines.append("No rule could be evaluated, so no detection run was recorded.")
    else:
        doc = run.to_json()
        lines.append(f"Findings: {doc['hits']:,} ({doc['new']:,} new) from detection run "
                     f"{run.run_id} ({run.pack_id} {run.pack_version}). They are on the "
                     "Findings page.")
    if result.not_evaluated:
        lines.append(f"Rules not evaluated ({len(result.not_evaluated)}):")
        lines += [f"  {rule}: {why}." for rule, why in sorted(result.not_evaluated.items())]
    else:
        lines.append("Every selected rule was evaluated.")
    return "\n".join(lines)


def provenance_text(found: ScanProvenance, f: ScannedFile) -> str:
    """One scanned file's provenance, as the Sources page and the dashboard state it."""
    return (f"Scanned in place by {found.engine_name} {found.engine_version} on "
            f"{found.at[:19].replace('T', ' ')} UTC by {found.user} (pack {found.pack} "
            f"{found.pack_version}): {f.file}, {f.size:,} bytes, modified "
            f"{f.mtime[:19].replace('T', ' ')} UTC, SHA-256 {f.sha256 or 'not computed'}; "
            f"{f.rows_read:,} rows read, {f.rows_rejected:,} rejected, {f.records_cited:,} "
            "cited by findings (only those are in the workspace).")


def _button(text: str) -> QtWidgets.QPushButton:
    button = QtWidgets.QPushButton(text)
    button.setAutoDefault(False)  # Enter in a field never presses it
    button.setDefault(False)
    return button


class ScanDialog(QtWidgets.QDialog):
    """Scan log files in place with the active criteria pack. Not modal."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None,
                 paths: list[Path] | None = None,
                 choose_files: Callable[[QtWidgets.QWidget], list[Path]] | None = None,
                 choose_folder: Callable[[QtWidgets.QWidget], Path | None] | None = None,
                 choose_profile: Callable[[QtWidgets.QWidget], Path | None] | None = None
                 ) -> None:
        super().__init__(parent)
        self.session = session
        self._choose_files = choose_files or _dialog_files
        self._choose_folder = choose_folder or _dialog_folder
        self._choose_profile = choose_profile or _dialog_profile
        self.job: Job | None = None
        self.outcome: ScanOutcome | None = None
        self.setWindowTitle("Scan in place (large logs)")
        intro = QtWidgets.QLabel(
            "For operations logs too large to import: the active criteria pack runs where "
            "the files are (DuckDB on this machine), and only the findings and the records "
            "they cite come into the workspace, with each file's provenance. Registers "
            "(authorisations, cases) must be imported first.")
        intro.setWordWrap(True)
        self.sources = QtWidgets.QListWidget()
        self.sources.setSelectionMode(
            QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        # A few lines: the summary below gets the height.
        self.sources.setMaximumHeight(6 * self.sources.fontMetrics().lineSpacing() + 12)
        self.sources.setToolTip("CSV, JSON Lines or Parquet files, or folders of them "
                                "(Hive partitions such as year=2026/ included).")
        self.add_files_button = _button("Add &files…")
        self.add_files_button.clicked.connect(self.browse_files)
        self.add_folder_button = _button("Add f&older…")
        self.add_folder_button.clicked.connect(self.browse_folder)
        self.remove_button = _button("&Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.pattern = QtWidgets.QLineEdit()
        self.pattern.setPlaceholderText("e.g. /data/logs/**/*.parquet")
        self.pattern.setToolTip("A glob pattern (** matches folders at any depth); scanned "
                                "with the files and folders listed above.")
        self.profile = QtWidgets.QLineEdit()
        self.profile.setPlaceholderText("none: columns named as the canonical fields")
        self.profile_button = _button("&Browse…")
        self.profile_button.clicked.connect(self.browse_profile)
        self.memory = QtWidgets.QComboBox()
        self.memory.setEditable(True)
        self.memory.addItems(list(MEMORY_LIMITS))
        self.memory.setCurrentText(DEFAULT_MEMORY)
        self.memory.setToolTip("How much memory DuckDB may use; beyond it, it spills to a "
                               "private temporary folder that is removed afterwards.")
        self.hashes = QtWidgets.QCheckBox("Compute each file's SHA-256 &hash (reads every "
                                          "file once more)")
        self.hashes.setChecked(True)
        self.error = error_label()
        self.status = QtWidgets.QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.summary = QtWidgets.QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setTabChangesFocus(True)
        self.summary.setMinimumHeight(8 * self.summary.fontMetrics().lineSpacing())
        self.summary.hide()
        self.scan_button = _button("&Scan")
        self.scan_button.clicked.connect(self.start_scan)
        self.cancel_button = _button("&Cancel scan")
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.cancel_button.setEnabled(False)
        self.close_button = _button("Close")
        self.close_button.clicked.connect(self.reject)

        side = QtWidgets.QVBoxLayout()
        side.addWidget(self.add_files_button)
        side.addWidget(self.add_folder_button)
        side.addWidget(self.remove_button)
        side.addStretch(1)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.sources, 1)
        top.addLayout(side)
        profile_row = QtWidgets.QHBoxLayout()
        profile_row.addWidget(self.profile, 1)
        profile_row.addWidget(self.profile_button)
        form = QtWidgets.QFormLayout()
        sources_label = QtWidgets.QLabel("Files and &folders:")
        sources_label.setBuddy(self.sources)
        form.addRow(sources_label, top)
        form.addRow("Or a &pattern:", self.pattern)  # the form makes it the label's buddy
        profile_label = QtWidgets.QLabel("&Mapping profile:")  # a layout: buddy by hand
        profile_label.setBuddy(self.profile)
        form.addRow(profile_label, profile_row)
        form.addRow("Memory &limit:", self.memory)
        form.addRow("", self.hashes)
        progress = QtWidgets.QHBoxLayout()
        progress.addWidget(self.bar, 1)
        progress.addWidget(self.cancel_button)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.scan_button)
        buttons.addWidget(self.close_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addLayout(progress)
        layout.addWidget(self.summary, 1)
        layout.addLayout(buttons)
        # Reading order; the list comes first, so the cursor starts there.
        order = [self.sources, self.add_files_button, self.add_folder_button,
                 self.remove_button, self.pattern, self.profile, self.profile_button,
                 self.memory, self.hashes, self.cancel_button, self.summary,
                 self.scan_button, self.close_button]
        for first, second in pairwise(order):
            self.setTabOrder(first, second)
        self.resize(760, 560)
        if paths:
            self.add_paths(paths)
        self._update()

    # -- sources ------------------------------------------------------------------------

    def paths(self) -> list[str]:
        return [self.sources.item(i).text() for i in range(self.sources.count())]

    def add_paths(self, paths: list[Path]) -> None:
        have = set(self.paths())
        for path in paths:
            if str(path) not in have:
                self.sources.addItem(str(path))
                have.add(str(path))
        self.error.clear()
        self._update()

    def browse_files(self) -> None:
        self.add_paths(self._choose_files(self))

    def browse_folder(self) -> None:
        folder = self._choose_folder(self)
        if folder is not None:
            self.add_paths([folder])

    def browse_profile(self) -> None:
        path = self._choose_profile(self)
        if path is not None:
            self.profile.setText(str(path))

    def remove_selected(self) -> None:
        for item in self.sources.selectedItems():
            self.sources.takeItem(self.sources.row(item))
        self._update()

    def source_list(self) -> list[str]:
        """What the scan reads: the listed files and folders, then the pattern."""
        pattern = self.pattern.text().strip()
        return self.paths() + ([pattern] if pattern else [])

    def _update(self) -> None:
        running = self.job is not None
        for widget in (self.sources, self.add_files_button, self.add_folder_button,
                       self.remove_button, self.pattern, self.profile, self.profile_button,
                       self.memory, self.hashes):
            widget.setEnabled(not running)
        self.scan_button.setEnabled(not running)
        self.close_button.setEnabled(not running)  # Escape cancels the scan instead
        self.cancel_button.setEnabled(running and not (self.job is not None
                                                       and self.job.cancelled))

    # -- the scan -----------------------------------------------------------------------

    def start_scan(self) -> Job | None:
        """Check what can be checked here, then run the scan as a job; a problem is one
        sentence in the dialog."""
        self.error.clear()
        self.summary.clear()
        self.summary.hide()
        self.outcome = None
        if self.job is not None:
            return None
        if not (self.session.can(Permission.IMPORT) and self.session.can(Permission.DETECT)):
            self.error.setText(self.session.why_not(
                Permission.IMPORT if not self.session.can(Permission.IMPORT)
                else Permission.DETECT))
            return None
        sources = self.source_list()
        if not sources:
            self.error.setText("Add the files or folders to scan, or type a pattern.")
            return None
        text = self.profile.text().strip()
        profile = Path(text) if text else None
        memory = self.memory.currentText().strip() or DEFAULT_MEMORY
        hashes = self.hashes.isChecked()
        try:
            resolve_sources(sources)  # a pattern that matches nothing: say so at once
            if profile is not None and not profile.is_file():
                raise OversightError(f"{profile}: no such mapping profile file.")
        except OversightError as exc:
            self.error.setText(exc.message)
            return None

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> ScanOutcome:
            try:
                pack = active_pack(ws)
                return ScanOutcome(scan(ws, sources, pack, profile_path=profile,
                                        memory_limit=memory, hash_files=hashes,
                                        progress=progress, cancel=cancel))
            except Cancelled:
                raise
            except OversightError as exc:  # a sentence here, not a message box
                return ScanOutcome(None, exc.message)

        n = len(sources)
        job = self.session.start_job(f"Scanning {n} source{'' if n == 1 else 's'} in place",
                                     work, SCAN_CHANGES, parent=self)
        if job is None:
            self.error.setText("Another job is running or the workspace is locked; nothing "
                               "was scanned.")
            return None
        self.job = job
        owner = self.parentWidget()
        if owner is not None:  # this dialog shows the job's progress
            for dialog in owner.findChildren(ProgressDialog):
                if dialog.job is job:
                    dialog.hide()
        job.progress.connect(self._progress)
        job.ended.connect(self._ended)
        self.status.setText("Starting…")
        self.bar.setRange(0, 0)
        self._update()
        self.raise_()
        self.activateWindow()  # the hidden progress window had taken it
        self.cancel_button.setFocus()
        return job

    def _progress(self, done: int, total: int, stage: str) -> None:
        if self.job is None or self.job.cancelled:
            return
        self.status.setText(scan_stage_text(done, total, stage))
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(min(1000, 1000 * done // total))
        else:
            self.bar.setRange(0, 0)

    def cancel_scan(self) -> None:
        """Cancel the running scan: DuckDB's query is interrupted; nothing is written."""
        if self.job is not None and self.job.running and not self.job.cancelled:
            self.job.cancel()
            self.status.setText("Cancelling… (nothing will be written)")
            self.cancel_button.setEnabled(False)

    def _ended(self) -> None:
        job = self.job
        assert job is not None
        self.job = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        if job.error is not None:
            self.status.setText("Scan cancelled; nothing was written." if isinstance(
                job.error, Cancelled) else "Scan stopped; nothing was written.")
            if not isinstance(job.error, Cancelled):
                self.error.setText(inline(job.error, issues=False))
        else:
            outcome: ScanOutcome = job.result
            self.outcome = outcome
            if outcome.result is None:
                self.status.setText("Scan stopped; nothing was written.")
                self.error.setText(outcome.error or "")
            else:
                self.status.setText("Scan finished.")
                self.summary.setPlainText(summary_text(outcome.result))
                self.summary.show()
        self._update()
        self.close_button.setFocus()

    # -- closing ------------------------------------------------------------------------

    def reject(self) -> None:
        """Escape (or Close) while scanning cancels the scan; the dialog stays to say
        what happened. Otherwise it closes."""
        if self.job is not None:
            self.cancel_scan()
            return
        super().reject()


def _dialog_files(parent: QtWidgets.QWidget) -> list[Path]:
    names, _ = QtWidgets.QFileDialog.getOpenFileNames(parent, "Logs to scan", "",
                                                      SCAN_FILTERS)
    return [Path(n) for n in names]


def _dialog_folder(parent: QtWidgets.QWidget) -> Path | None:
    name = QtWidgets.QFileDialog.getExistingDirectory(parent, "Folder of logs to scan")
    return Path(name) if name else None


def _dialog_profile(parent: QtWidgets.QWidget) -> Path | None:
    name, _ = QtWidgets.QFileDialog.getOpenFileName(parent, "Mapping profile", "",
                                                    PROFILE_FILTERS)
    return Path(name) if name else None

