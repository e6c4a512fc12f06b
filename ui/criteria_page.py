"""Criteria: the active pack's rules and settings, changes with their impact, versions.

Rules can be switched on and off and parameters and lists edited in a form; *Impact
preview* counts, in the background, which findings the change would add or remove on
the current data (nothing is written); *Save as new version* (administrators) keeps the
changed pack in the workspace as a new, active version. The versions list can make an
older version active again. Pack files can be validated, imported and exported, and
*Run detection* runs the active pack with progress and Cancel.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml

from oversight.changes import NOTHING, Change, changes_of
from oversight.criteria import versions
from oversight.criteria.engine import RunSummary, run_detection
from oversight.criteria.pack import Pack, load_pack, parse_pack
from oversight.criteria.versions import PackVersion, RuleImpact
from oversight.errors import InputFileError, OversightError, ValidationError
from oversight.findings import list_runs
from oversight.progress import CancelToken, Progress
from oversight.workspace import Permission, Workspace
from oversight.yamlsrc import load_located
from ui.criteria_models import RulesModel, TableModel, run_rows, version_rows
from ui.jobs import Job
from ui.qt import Qt, QtWidgets, Signal
from ui.session import Session
from ui.widgets import make_table

__all__ = ["CriteriaPage", "ParameterForm"]

#: What the core operation declares it changes (read once: not whatever a
#: test or plugin puts in its place later).
DETECTION_CHANGES = changes_of(run_detection)

PACK_FILTER = "Criteria packs (*.yaml *.yml);;All files (*)"


def _split(text: str, numeric: bool) -> list[Any]:
    items: list[Any] = [p.strip() for p in text.split(",") if p.strip()]
    if numeric:
        out: list[Any] = []
        for item in items:
            try:
                number = float(item)
            except ValueError:
                out.append(item)
            else:
                out.append(int(number) if number.is_integer() else number)
        items = out
    return items


def _descriptions(pack: Pack) -> tuple[dict[str, str], dict[str, str]]:
    """(parameter descriptions, list descriptions) from the pack's YAML."""
    try:
        doc = load_located(pack.source, pack.file).data
    except (OversightError, yaml.YAMLError):  # the pack parsed already; a nicety
        return {}, {}
    out: list[dict[str, str]] = []
    for key in ("parameters", "lists"):
        section = doc.get(key) if isinstance(doc, dict) else None
        out.append({name: " ".join(str(v.get("description", "")).split())
                    for name, v in (section or {}).items()
                    if isinstance(v, dict) and v.get("description")})
    return out[0], out[1]


class ParameterForm(QtWidgets.QWidget):
    """An editor per parameter and list: numbers as spin boxes, true/false as check
    boxes, text as line edits, lists as comma-separated values. A mapping parameter
    is shown but edited in the YAML only."""

    changed = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QtWidgets.QFormLayout(self)
        self.form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.editors: dict[str, QtWidgets.QWidget] = {}
        self.list_editors: dict[str, QtWidgets.QLineEdit] = {}
        self.pack: Pack | None = None

    def set_pack(self, pack: Pack | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        self.list_editors = {}
        self.pack = pack
        if pack is None:
            return
        p_desc, l_desc = _descriptions(pack)
        if pack.parameters:
            self.form.addRow(QtWidgets.QLabel("<b>Parameters</b>"))
        for name, value in pack.parameters.items():
            editor = self._editor(value)
            editor.setObjectName(f"param-{name}")
            editor.setToolTip(p_desc.get(name, ""))
            label = QtWidgets.QLabel(name)
            label.setToolTip(p_desc.get(name, ""))
            self.editors[name] = editor
            self.form.addRow(label, editor)
        if pack.lists:
            self.form.addRow(QtWidgets.QLabel("<b>Lists</b> (comma-separated)"))
        for name, values in pack.lists.items():
            line = QtWidgets.QLineEdit(", ".join(str(v) for v in values))
            line.setObjectName(f"list-{name}")
            line.setToolTip(l_desc.get(name, ""))
            line.textChanged.connect(self.changed)
            self.list_editors[name] = line
            self.form.addRow(name, line)

    def _editor(self, value: Any) -> QtWidgets.QWidget:
        if isinstance(value, bool):
            box = QtWidgets.QCheckBox()
            box.setChecked(value)
            box.toggled.connect(self.changed)
            return box
        if isinstance(value, int):
            spin = QtWidgets.QSpinBox()
            spin.setRange(-1_000_000_000, 1_000_000_000)
            spin.setValue(value)
            spin.valueChanged.connect(self.changed)
            return spin
        if isinstance(value, float):
            dspin = QtWidgets.QDoubleSpinBox()
            dspin.setRange(-1e12, 1e12)
            dspin.setDecimals(4)
            dspin.setValue(value)
            dspin.valueChanged.connect(self.changed)
            return dspin
        if isinstance(value, str):
            line = QtWidgets.QLineEdit(value)
            line.textChanged.connect(self.changed)
            return line
        if isinstance(value, list):
            line = QtWidgets.QLineEdit(", ".join(str(v) for v in value))
            line.textChanged.connect(self.changed)
            return line
        label = QtWidgets.QLabel("; ".join(f"{k}: {', '.join(map(str, v))}"
                                           for k, v in dict(value).items()))
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setEnabled(False)
        return label

    def _value(self, name: str) -> Any:
        assert self.pack is not None
        editor = self.editors[name]
        old = self.pack.parameters[name]
        if isinstance(editor, QtWidgets.QCheckBox):
            return editor.isChecked()
        if isinstance(editor, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
            return editor.value()
        if isinstance(editor, QtWidgets.QLineEdit):
            if isinstance(old, list):
                return _split(editor.text(), all(isinstance(v, (int, float)) for v in old)
                              and bool(old))
            return editor.text()
        return old

    def parameter_changes(self) -> dict[str, Any]:
        if self.pack is None:
            return {}
        out = {}
        for name, old in self.pack.parameters.items():
            new = self._value(name)
            if new != old:
                out[name] = new
        return out

    def list_changes(self) -> dict[str, list[Any]]:
        if self.pack is None:
            return {}
        out = {}
        for name, old in self.pack.lists.items():
            numeric = bool(old) and all(isinstance(v, (int, float)) for v in old)
            new = _split(self.list_editors[name].text(), numeric)
            if tuple(new) != old:
                out[name] = new
        return out


class CriteriaPage(QtWidgets.QWidget):
    message = Signal(str)

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.prompts = session.prompts
        self.pack: Pack | None = None
        self.found_versions: list[PackVersion] = []
        self.last_impact: list[RuleImpact] | None = None
        self.last_issues: list[str] = []
        self._stale = True

        self.heading = QtWidgets.QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)
        self.validate_button = QtWidgets.QPushButton("Validate a pack file…")
        self.import_button = QtWidgets.QPushButton("Import pack…")
        self.export_button = QtWidgets.QPushButton("Export pack…")
        self.validate_button.clicked.connect(self.validate_file)
        self.import_button.clicked.connect(self.import_pack)
        self.export_button.clicked.connect(self.export_pack)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.heading, 1)
        for b in (self.validate_button, self.import_button, self.export_button):
            top.addWidget(b)

        # Rules
        self.rules_model = RulesModel(self)
        self.rules_model.enabled_changed.connect(self._edited)
        self.rules_view = make_table(self.rules_model)
        self.rules_view.setColumnWidth(0, 110)
        self.rules_view.setColumnWidth(1, 340)
        self.rules_view.setColumnWidth(2, 90)
        self.rules_view.setColumnWidth(3, 260)
        self.rules_view.selectionModel().currentRowChanged.connect(self._show_rule)
        self.rule_detail = QtWidgets.QTextBrowser()
        self.rule_detail.setOpenLinks(False)
        rules_split = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        rules_split.addWidget(self.rules_view)
        rules_split.addWidget(self.rule_detail)
        rules_split.setStretchFactor(0, 3)
        rules_split.setStretchFactor(1, 1)

        # Parameters and lists
        self.form = ParameterForm()
        self.form.changed.connect(self._edited)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)

        # Versions
        self.versions_model = TableModel(
            ("Pack", "Version", "SHA-256", "Saved by", "Saved at", "Active", "Note"), self)
        self.versions_view = make_table(self.versions_model)
        self.activate_button = QtWidgets.QPushButton("Activate")
        self.activate_button.clicked.connect(self.activate_selected)
        self.versions_view.selectionModel().currentRowChanged.connect(
            lambda *_: self.update_actions())
        versions_box = QtWidgets.QWidget()
        vlay = QtWidgets.QVBoxLayout(versions_box)
        vlay.addWidget(self.versions_view)
        vrow = QtWidgets.QHBoxLayout()
        vrow.addStretch(1)
        vrow.addWidget(self.activate_button)
        vlay.addLayout(vrow)

        # Last run
        self.run_label = QtWidgets.QLabel()
        self.run_label.setTextFormat(Qt.TextFormat.PlainText)
        self.run_label.setWordWrap(True)
        self.run_model = TableModel(("Rule", "Severity", "Evaluated", "Hits", "New",
                                     "No longer matching"), self)
        self.run_view = make_table(self.run_model)
        run_box = QtWidgets.QWidget()
        rlay = QtWidgets.QVBoxLayout(run_box)
        rlay.addWidget(self.run_label)
        rlay.addWidget(self.run_view)

        # Validation results
        self.issue_list = QtWidgets.QListWidget()

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(rules_split, "Rules")
        self.tabs.addTab(scroll, "Parameters and lists")
        self.tabs.addTab(versions_box, "Versions")
        self.tabs.addTab(run_box, "Last run")
        self.tabs.addTab(self.issue_list, "Validation")

        self.changes_label = QtWidgets.QLabel()
        self.preview_button = QtWidgets.QPushButton("Impact preview")
        self.save_button = QtWidgets.QPushButton("Save as new version…")
        self.revert_button = QtWidgets.QPushButton("Revert changes")
        self.run_button = QtWidgets.QPushButton("Run detection")
        self.preview_button.clicked.connect(self.preview_impact)
        self.save_button.clicked.connect(self.save_new_version)
        self.revert_button.clicked.connect(self.revert)
        self.run_button.clicked.connect(self.run_detection)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.changes_label, 1)
        for b in (self.revert_button, self.preview_button, self.save_button, self.run_button):
            bottom.addWidget(b)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        session.changed.connect(self._changed)
        session.ready_changed.connect(self._ready)
        self.update_actions()

    # -- state -------------------------------------------------------------------------

    def _changed(self, kinds: frozenset[Change]) -> None:
        if kinds & {Change.RUNS, Change.CRITERIA}:
            self._stale = True
            if self.isVisible() and self.session.ready:
                self.refresh()

    def _ready(self, ready: bool) -> None:
        if ready and self._stale and self.isVisible():
            self.refresh()
        self.update_actions()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Reload the active pack, the versions and the last run; drops unsaved edits."""
        if not self.session.ready:
            self._stale = True
            return
        try:
            pack = self.session.read(versions.active_pack)
            found = self.session.read(versions.list_versions)
            runs = self.session.read(list_runs)
        except Exception as exc:
            self.prompts.error(self, exc)
            return
        self._stale = False
        self.pack = pack
        self.found_versions = found
        self.last_impact = None
        self.heading.setText(
            f"<b>Active pack:</b> {html.escape(pack.title)} — {html.escape(pack.id)} "
            f"{html.escape(pack.version)} <small>(sha256 {pack.sha256[:16]}…"
            f"{'' if any(v.active for v in found) else ', built in'})</small>")
        self.rules_model.set_pack(pack)
        self.form.set_pack(pack)
        self.versions_model.set_rows(version_rows(found),
                                     [v.sha256 for v in reversed(found)])
        last = runs[-1] if runs else None
        self.run_model.set_rows(run_rows(last))
        self.run_label.setText(
            "No detection run yet." if last is None else
            f"Run {last['run_id']}: {last['pack']} {last['version']} by {last['user']}, "
            f"{str(last['started_at'])[:16].replace('T', ' ')}; {last['hits']:,} hits, "
            f"{last['new']:,} new (pack sha256 {str(last['pack_sha256'])[:16]}…)")
        if self.rules_model.rowCount():
            self.rules_view.selectRow(0)
        self._edited()

    def has_changes(self) -> bool:
        return bool(self.rules_model.changes() or self.form.parameter_changes()
                    or self.form.list_changes())

    def _edited(self, *_: Any) -> None:
        n = (len(self.rules_model.changes()) + len(self.form.parameter_changes())
             + len(self.form.list_changes()))
        self.changes_label.setText(f"{n} unsaved change(s)" if n else "No unsaved changes")
        self.update_actions()

    def _allowed(self, button: QtWidgets.QPushButton, permission: Permission,
                 condition: bool, tip: str, why_else: str = "") -> None:
        if not self.session.can(permission):
            button.setEnabled(False)
            button.setToolTip(self.session.why_not(permission))
        elif not self.session.ready:
            button.setEnabled(False)
            button.setToolTip("Wait for the running job to finish.")
        else:
            button.setEnabled(condition)
            button.setToolTip(tip if condition else why_else or tip)

    def update_actions(self) -> None:
        changed = self.pack is not None and self.has_changes()
        self._allowed(self.save_button, Permission.CONFIGURE, changed,
                      "Keep the changed pack as a new version and make it active.",
                      "Change a rule, parameter or list first.")
        self._allowed(self.preview_button, Permission.READ, changed,
                      "Count the findings the change would add or remove (writes nothing).",
                      "Change a rule, parameter or list first.")
        self._allowed(self.revert_button, Permission.READ, changed, "Undo the unsaved changes.")
        self._allowed(self.import_button, Permission.CONFIGURE, True,
                      "Validate a pack file and save it as the active version.")
        self._allowed(self.export_button, Permission.READ, self.pack is not None,
                      "Write the active pack's YAML to a file.")
        self._allowed(self.validate_button, Permission.READ, True,
                      "Check a pack file and list every problem.")
        self._allowed(self.run_button, Permission.DETECT, self.pack is not None,
                      "Run the active pack over the workspace.")
        row = self.versions_view.currentIndex().row()
        selectable = 0 <= row < len(self.found_versions) and \
            not self.found_versions[len(self.found_versions) - 1 - row].active
        self._allowed(self.activate_button, Permission.CONFIGURE, selectable,
                      "Make the selected version the active pack.",
                      "Select a version that is not active.")

    def _show_rule(self, *_: Any) -> None:
        row = self.rules_view.currentIndex().row()
        if self.pack is None or not 0 <= row < len(self.pack.rules):
            self.rule_detail.clear()
            return
        rule = self.pack.rules[row]
        e = html.escape
        parts = [f"<h3>{e(rule.id)} — {e(rule.title)}</h3>",
                 f"<p><b>{e(rule.severity)}</b>"
                 + ("" if rule.enabled else " · disabled in this version") + "</p>",
                 "<h4>Legal references</h4><ul>"
                 + "".join(f"<li>{e(r)}</li>" for r in rule.legal_refs) + "</ul>",
                 f"<h4>Rationale</h4><p>{e(rule.rationale)}</p>"]
        if rule.when_text:
            parts.append(f"<h4>Condition</h4><pre>{e(rule.when_text.strip())}</pre>")
        if rule.params:
            parts.append("<p><small>Parameters: "
                         + e(", ".join(f"{k} = {v}" for k, v in rule.params.items()))
                         + "</small></p>")
        self.rule_detail.setHtml("".join(parts))

    # -- changes -----------------------------------------------------------------------

    def revert(self) -> None:
        self.rules_model.set_pack(self.pack)
        self.form.set_pack(self.pack)
        self._edited()

    def edited_text(self) -> str:
        """The changed pack's YAML (ValidationError if a value makes it invalid)."""
        assert self.pack is not None
        return versions.edit_pack(self.pack, self.rules_model.changes(),
                                  self.form.parameter_changes(), self.form.list_changes())

    def _edited_pack(self) -> tuple[str, Pack] | None:
        try:
            text = self.edited_text()
            return text, parse_pack(text, "changed pack")
        except OversightError as exc:
            self.prompts.error(self, exc)
            return None

    def preview_impact(self) -> Job | None:
        if self.pack is None or not self.preview_button.isEnabled():
            return None
        edited = self._edited_pack()
        if edited is None:
            return None
        old, new = self.pack, edited[1]

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> list[RuleImpact]:
            progress(0, 0, "Counting the findings of the current and the changed pack")
            return versions.impact(ws, old, new, cancel)

        return self.session.start_job("Impact preview", work, NOTHING, self._impact_done,
                                      parent=self)

    def _impact_done(self, results: list[RuleImpact]) -> None:
        self.last_impact = results
        self.rules_model.set_impact(results)
        added = sum(len(r.added) for r in results)
        removed = sum(len(r.removed) for r in results)
        touched = [r for r in results if r.added or r.removed]
        text = (f"Impact of the change: {added:,} finding(s) added, {removed:,} removed, "
                f"in {len(touched)} rule(s).")
        self.changes_label.setText(text)
        self.message.emit(text)
        self.tabs.setCurrentIndex(0)

    def save_new_version(self) -> PackVersion | None:
        if self.pack is None or not self.save_button.isEnabled():
            return None
        edited = self._edited_pack()
        if edited is None:
            return None
        text, new = edited
        saved = self._save(text, "Save as new version",
                           f"Save {new.id} {new.version} and make it the active pack? Say "
                           "what changed and why (kept in the audit trail).",
                           f"{new.id} {new.version}")
        if saved is not None:
            self.message.emit(f"Saved {saved.pack_id} {saved.version} "
                              f"(sha256 {saved.sha256[:16]}…); it is now the active pack.")
        return saved

    def _save(self, text: str, title: str, question: str, source: str
              ) -> PackVersion | None:
        """Ask for the note, then keep the pack text as the active version."""
        note = self.prompts.note(self, title, question)
        if note is None:
            return None
        saved: PackVersion | None = self.session.write(
            self, versions.save_version, text, note, source)
        return saved

    def activate_selected(self) -> PackVersion | None:
        row = self.versions_view.currentIndex().row()
        if not self.activate_button.isEnabled() or not 0 <= row < len(self.found_versions):
            return None
        chosen = self.found_versions[len(self.found_versions) - 1 - row]
        if self.has_changes() and not self.prompts.confirm(
                self, "Activate", "Your unsaved changes will be lost. Activate anyway?"):
            return None
        done = self.session.write(self, versions.activate, chosen.sha256)
        if done is not None:
            self.message.emit(f"{done.pack_id} {done.version} is now the active pack.")
        return done

    # -- files -------------------------------------------------------------------------

    def show_issues(self, exc: ValidationError) -> None:
        self.last_issues = [str(i) for i in exc.issues]
        self.issue_list.clear()
        self.issue_list.addItems(self.last_issues)
        self.tabs.setCurrentWidget(self.issue_list)

    def _read_pack(self, path: Path) -> tuple[str, Pack] | None:
        """(text, pack) of a valid file; otherwise lists the problems and gives None."""
        try:
            pack = load_pack(path)
        except ValidationError as exc:
            self.show_issues(exc)
            self.prompts.info(self, "The pack has problems",
                              f"{exc.message}\n\n" + "\n".join(self.last_issues))
            return None
        except InputFileError as exc:
            self.prompts.error(self, exc)
            return None
        return pack.source, pack

    def validate_file(self) -> Pack | None:
        path = self.prompts.choose_file(self, "Validate a criteria pack", PACK_FILTER)
        if path is None:
            return None
        found = self._read_pack(path)
        if found is None:
            return None
        pack = found[1]
        self.last_issues = []
        self.issue_list.clear()
        self.issue_list.addItem(f"{path}: pack {pack.id} {pack.version}, "
                                f"{len(pack.rules)} rules, valid.")
        self.tabs.setCurrentWidget(self.issue_list)
        self.prompts.info(self, "The pack is valid", f"{path.name}: pack {pack.id} "
                          f"{pack.version}, {len(pack.rules)} rules, no problems.")
        return pack

    def import_pack(self) -> PackVersion | None:
        if not self.import_button.isEnabled():
            return None
        path = self.prompts.choose_file(self, "Import a criteria pack", PACK_FILTER)
        if path is None:
            return None
        found = self._read_pack(path)
        if found is None:
            return None
        text, pack = found
        saved = self._save(text, "Import pack",
                           f"Save {pack.id} {pack.version} from {path.name} and make it the "
                           "active pack? Say why (kept in the audit trail).", str(path))
        if saved is not None:
            self.message.emit(f"Imported {saved.pack_id} {saved.version}; it is now active.")
        return saved

    def choose_save_path(self) -> Path | None:
        """Where to export (tests replace this method)."""
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export criteria pack",
            f"{self.pack.id if self.pack else 'pack'}.criteria.yaml", PACK_FILTER)
        return Path(name) if name else None

    def export_pack(self) -> Path | None:
        if self.pack is None:
            return None
        path = self.choose_save_path()
        if path is None:
            return None
        try:
            path.write_text(self.pack.source, encoding="utf-8")
        except OSError as exc:
            self.prompts.error(self, InputFileError(f"Cannot write {path} ({exc})."))
            return None
        self.message.emit(f"Exported {self.pack.id} {self.pack.version} to {path}.")
        return path

    # -- detection ---------------------------------------------------------------------

    def run_detection(self) -> Job | None:
        if self.pack is None or not self.run_button.isEnabled():
            return None
        pack = self.pack

        def work(ws: Workspace, progress: Progress, cancel: CancelToken) -> RunSummary:
            return run_detection(ws, pack, progress=progress, cancel=cancel)

        return self.session.start_job(f"Detection: {pack.id} {pack.version}", work,
                                      DETECTION_CHANGES, self._run_done, parent=self)

    def _run_done(self, summary: RunSummary) -> None:
        doc = summary.to_json()
        self.tabs.setCurrentIndex(3)
        self.message.emit(f"Detection run {summary.run_id} ({summary.pack_id} "
                          f"{summary.pack_version}): {doc['hits']:,} hits, "
                          f"{doc['new']:,} new findings.")
