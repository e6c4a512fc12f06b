"""The operations browser: every imported operation, filtered and sorted in the
database, shown through a windowed model (ids only; rows fetched as they are painted).
"""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from oversight import browse, queries
from oversight.changes import Change
from oversight.errors import OversightError
from oversight.records import Kind, fields_of
from ui.errors import inline
from ui.models import ID_ROLE, SEVERITY_COLORS, OperationsModel, TableModel, shown, when_text
from ui.qt import Qt, QtCore, QtWidgets, Signal
from ui.session import Session
from ui.settings import Settings
from ui.widgets import column_menu, make_table, readable, restore_header, save_header

__all__ = ["OperationsPage", "parse_when", "record_rows"]


def parse_when(text: str, end: bool = False) -> date | datetime | None:
    """A date (YYYY-MM-DD) or an ISO date and time from a filter box; '' is no bound."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        which = "To" if end else "From"
        raise OversightError(f"{which}: {text!r} is not a date; write it as YYYY-MM-DD "
                             "(or YYYY-MM-DDTHH:MM with an offset).") from None


def record_rows(rec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, value, where it comes from) for every canonical and extra field."""
    rows = [("record_id", str(rec["record_id"]), "import"),
            ("batch_id", str(rec["batch_id"]), "import"),
            ("line", str(rec["line"]), "import")]
    fields = rec["fields"]
    for name in fields_of(Kind.OPERATIONS):
        value = fields.get(name)
        rows.append((name, when_text(value, fraction=True) if name == "ts"
                     else shown(value), "canonical"))
    for name, value in rec["extra"].items():
        rows.append((name, shown(value), "extra"))
    return rows


class OperationsPage(QtWidgets.QWidget):
    message = Signal(str)
    open_finding = Signal(str)
    #: (kind, id): the Timeline button asks for the selected operation's authorisation
    #: (or else its case).
    timeline_requested = Signal(str, str)

    def __init__(self, session: Session, settings: Settings,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self._stale = True
        self._filters = browse.Filters()
        self.total = 0

        self.model = OperationsModel(self._query, self._fetch, lambda: self.session.ready,
                                     self)
        self.model.fetch_failed.connect(self._fetch_failed)
        self.view = make_table(self.model, stretch_last=True, multi=True)
        # No row-number header: sizing it asks every row for its label (a million calls).
        self.view.verticalHeader().setVisible(False)
        self.view.setSortingEnabled(False)
        header = self.view.horizontalHeader()
        header.setSectionsMovable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.setSectionsClickable(True)
        header.sortIndicatorChanged.connect(self._sort)
        if not restore_header(settings, "operations", self.view):
            for col, width in enumerate((200, 110, 110, 140, 80, 150, 150, 120, 60, 70, 110)):
                self.view.setColumnWidth(col, width)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        # Right-click on the header: tick the columns to show (remembered at once).
        self.columns_menu: QtWidgets.QMenu | None = None
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.setToolTip("Right-click to choose the columns shown.")

        self.fields = TableModel(["Field", "Value", "From"])
        self.fields_view = make_table(self.fields, stretch_last=False)
        fh = self.fields_view.horizontalHeader()
        fh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        fh.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        fh.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.fields_view.setWordWrap(True)
        self.fields_view.verticalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.fields_view.setToolTip("Canonical fields are what criteria read; extra fields "
                                    "are the source file's other columns, kept as written.")
        self.record_findings = TableModel(["Severity", "Rule", "Status", "Message"])
        self.findings_view = make_table(self.record_findings)
        self.findings_view.setMaximumHeight(130)
        self.findings_view.doubleClicked.connect(self._finding_clicked)
        self.findings_view.setToolTip("Double-click to open the finding in triage.")
        self.findings_label = QtWidgets.QLabel()
        self.findings_label.setWordWrap(True)
        self.findings_view.hide()
        self.timeline_button = QtWidgets.QPushButton("Timeline")
        self._timeline_target: tuple[str, str] | None = None
        self.timeline_button.clicked.connect(self._timeline_clicked)
        self._set_timeline_target(None)
        self.model.modelReset.connect(lambda: self._set_timeline_target(None))

        detail = QtWidgets.QWidget()
        dl = QtWidgets.QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.fields_view, 1)
        dl.addWidget(self.timeline_button)
        dl.addWidget(self.findings_label)
        dl.addWidget(self.findings_view)

        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        state = settings.bytes_value("splitter/operations")
        if state is None or not self.splitter.restoreState(state):
            self.splitter.setSizes([720, 380])

        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(self._filter_bar())
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)

        session.changed.connect(self._changed)
        session.ready_changed.connect(self._ready)
        session.locked_changed.connect(self._locked)

    # -- filter bar --------------------------------------------------------------------

    def _filter_bar(self) -> QtWidgets.QHBoxLayout:
        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Search text, or FIELD=VALUE (e.g. "
                                       "case_id=GB-MET-2025-0027)")
        self.search.setToolTip('Free text and FIELD=VALUE terms, e.g. case_id=GB-MET-2025-0027 '
                               'terminal=WS-4003 justification="night shift" ts=2026-03')
        self.search.setClearButtonEnabled(True)
        self.action_filter = QtWidgets.QComboBox()
        self.action_filter.addItem("Any action", None)
        self.actor_filter = QtWidgets.QLineEdit()
        self.actor_filter.setPlaceholderText("Actor id starts with")
        self.actor_filter.setClearButtonEnabled(True)
        self.since = QtWidgets.QLineEdit()
        self.since.setPlaceholderText("From YYYY-MM-DD")
        self.until = QtWidgets.QLineEdit()
        self.until.setPlaceholderText("To YYYY-MM-DD")
        for edit in (self.since, self.until):
            edit.setMaximumWidth(130)
            edit.setClearButtonEnabled(True)
        self.actor_filter.setFixedWidth(self.actor_filter.fontMetrics().horizontalAdvance(
            self.actor_filter.placeholderText()) + 48)  # the placeholder and a clear button
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.apply_filters)
        for edit in (self.search, self.actor_filter, self.since, self.until):
            edit.textChanged.connect(self._debounce.start)
            edit.returnPressed.connect(self.apply_filters)
        self.action_filter.currentIndexChanged.connect(self.apply_filters)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.search, 1)
        row.addWidget(self.action_filter)
        row.addWidget(self.actor_filter)
        row.addWidget(self.since)
        row.addWidget(self.until)
        return row

    def read_filters(self) -> browse.Filters:
        """The filter bar as core Filters; raises OversightError with a sentence."""
        text, where = queries.parse_query(self.search.text())
        return browse.Filters(
            text=text, where=where,
            since=parse_when(self.since.text()), until=parse_when(self.until.text(), end=True),
            action=self.action_filter.currentData(),
            actor=self.actor_filter.text().strip() or None)

    def apply_filters(self) -> None:
        self._debounce.stop()
        try:
            self._filters = self.read_filters()
        except OversightError as exc:
            self.say(exc.message, error=True)
            return
        self.refresh(data_changed=False)

    # -- model plumbing ----------------------------------------------------------------

    def _query(self, sort: str, descending: bool) -> list[int]:
        return self.session.read(browse.rids, self._filters, sort, descending)

    def _fetch(self, rids: list[int]) -> list[dict[str, Any]]:
        return self.session.read(browse.rows, rids)

    def say(self, text: str, error: bool = False) -> None:
        """A line under the table (user text escaped)."""
        escaped = html.escape(text)
        self.status.setText(f"<span style='color:{readable('#b3261e', self)}'>{escaped}</span>"
                            if error
                            else escaped)

    def _fetch_failed(self, exc: BaseException) -> None:
        self.say(f"Rows could not be read: {inline(exc)}", error=True)

    def _sort(self, column: int, order: Qt.SortOrder) -> None:
        if column < 0 or not self.session.ready:
            return
        keep = self._selected_rids()
        current = self._current_rid()
        try:
            self.model.sort(column, order)
        except OversightError as exc:
            self.say(exc.message, error=True)
            return
        self._restore(keep, current)

    # -- refreshing --------------------------------------------------------------------

    def _changed(self, kinds: frozenset[Change]) -> None:
        if kinds & {Change.OPERATIONS, Change.FINDINGS, Change.BATCHES}:
            self._stale = True
            if self.isVisible():
                self.refresh()

    def _ready(self, ready: bool) -> None:
        self.view.viewport().update()
        if ready and self._stale and self.isVisible():
            self.refresh()

    def _locked(self, locked: bool) -> None:
        if locked:
            self.model.clear()
            self.fields.set_rows([])
            self.record_findings.set_rows([])
            self.findings_view.hide()
            self.findings_label.clear()
            self.status.clear()
            self._stale = True

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self, data_changed: bool = True) -> None:
        """Re-read the view; a new filter alone (``data_changed`` False) keeps the total
        and the action list, which only change with the data."""
        if not self.session.ready:
            self._stale = True
            return
        keep = self._selected_rids()
        current = self._current_rid()
        try:
            if data_changed or self._stale:
                self.total = self.session.read(browse.count)
                self._fill_actions()
            self.model.reload()
        except OversightError as exc:
            self.say(exc.message, error=True)
            return
        except Exception as exc:
            self.session.prompts.error(self, exc)
            return
        self._stale = False
        shown = self.model.rowCount()
        self.say(f"{shown:,} of {self.total:,} operations"
                 + ("" if shown == self.total else " match the filter") + ".")
        self._restore(keep, current)

    def _fill_actions(self) -> None:
        actions = self.session.read(browse.values, "action")
        known = [self.action_filter.itemData(i) for i in range(1, self.action_filter.count())]
        if known == actions:
            return
        current = self.action_filter.currentData()
        self.action_filter.blockSignals(True)
        self.action_filter.clear()
        self.action_filter.addItem("Any action", None)
        for action in actions:
            self.action_filter.addItem(action.replace("_", " "), action)
        index = self.action_filter.findData(current) if current is not None else 0
        self.action_filter.setCurrentIndex(max(0, index))
        self.action_filter.blockSignals(False)

    # -- selection and detail ----------------------------------------------------------

    def _selected_rids(self) -> list[int]:
        return [int(ix.data(ID_ROLE)) for ix in self.view.selectionModel().selectedRows()]

    def _current_rid(self) -> int | None:
        index = self.view.currentIndex()
        return int(index.data(ID_ROLE)) if index.isValid() else None

    def show_record(self, rid: int) -> bool:
        """Select the operation with row id ``rid``, clearing the filters if they hide
        it; False if it does not exist."""
        if self.model.row_of(rid) < 0:
            self.search.clear()
            self.action_filter.setCurrentIndex(0)
            self.actor_filter.clear()
            self.since.clear()
            self.until.clear()
            self.apply_filters()
        if self.model.row_of(rid) < 0:
            return False
        self.view.selectionModel().clearSelection()
        row = self.model.row_of(rid)
        index = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(
            index, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index, QtWidgets.QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _restore(self, keep: list[int], current: int | None) -> None:
        sel = self.view.selectionModel()
        selection = QtCore.QItemSelection()
        for rid in keep:
            row = self.model.row_of(rid)
            if row >= 0:
                selection.select(self.model.index(row, 0), self.model.index(row, 0))
        sel.select(selection, QtCore.QItemSelectionModel.SelectionFlag.Select
                   | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        row = self.model.row_of(current) if current is not None else -1
        if row >= 0:
            index = self.model.index(row, 0)
            sel.setCurrentIndex(index, QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scrollTo(index, QtWidgets.QAbstractItemView.ScrollHint.PositionAtCenter)
        else:
            self.fields.set_rows([])
            self.record_findings.set_rows([])
            self.findings_view.hide()
            self.findings_label.clear()

    def _set_timeline_target(self, target: tuple[str, str] | None) -> None:
        self._timeline_target = target
        self.timeline_button.setEnabled(target is not None)
        self.timeline_button.setToolTip(
            f"Timeline of {target[0]} {target[1]}" if target is not None else
            "Select an operation that cites an authorisation or a case.")

    def _timeline_clicked(self) -> None:
        if self._timeline_target is not None:
            self.timeline_requested.emit(*self._timeline_target)

    def _current_changed(self, current: QtCore.QModelIndex, previous: QtCore.QModelIndex
                         ) -> None:
        self._set_timeline_target(None)
        if not current.isValid() or not self.session.ready:
            return
        rec = self.model.record(current.row())
        if rec is None:
            return
        self.fields.set_rows(record_rows(rec))
        fields = rec["fields"]
        for kind, key in (("authorisation", "authorisation_id"), ("case", "case_id")):
            value = str(fields.get(key) or "").strip()
            if value:
                self._set_timeline_target((kind, value))
                break
        try:
            found = self.session.read(browse.findings_of_record, int(rec["rid"]))
        except OversightError as exc:
            self.say(exc.message, error=True)
            found = []
        self.record_findings.set_rows(
            [(f["severity"], f["rule_id"], str(f["status"]).replace("_", " "), f["message"],
              f["id"]) for f in found],
            [SEVERITY_COLORS.get(str(f["severity"])) for f in found])
        self.findings_label.setText(f"Findings on this operation ({len(found)}); "
                                    "double-click one to open it:"
                                    if found else "No finding on this operation.")
        self.findings_view.setVisible(bool(found))

    def _finding_clicked(self, index: QtCore.QModelIndex) -> None:
        if index.isValid():
            self.open_finding.emit(str(self.record_findings.row_values(index.row())[4]))

    def _header_menu(self, pos: QtCore.QPoint) -> None:
        if self.columns_menu is not None:
            self.columns_menu.deleteLater()
        self.columns_menu = column_menu(self.view, self._columns_changed, self)
        self.columns_menu.popup(self.view.horizontalHeader().mapToGlobal(pos))

    def _columns_changed(self) -> None:
        save_header(self.settings, "operations", self.view)
        self.settings.sync()

    def save_state(self) -> None:
        save_header(self.settings, "operations", self.view)
        self.settings.set_bytes("splitter/operations", self.splitter.saveState())
