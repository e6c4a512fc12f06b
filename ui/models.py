"""Item models: findings, the windowed operations table, and small read-only tables.

The operations model follows Anki's browser: it keeps only the ordered list of row ids
that match (``rowCount() == len(rids)``) and fetches the rows the view paints, a page
at a time, into a small cache. Sorting and filtering ask the core for a new id list.
Selections are keyed by id, so they survive a refresh or a new sort order.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from oversight.visible import show_directional
from ui.qt import Qt, QtCore, QtGui, Signal

__all__ = [
    "ID_ROLE",
    "MISSING",
    "SEVERITY_COLORS",
    "FindingsModel",
    "HeadedTableModel",
    "OperationsModel",
    "TableModel",
    "cell_text",
    "shown",
    "status_text",
    "when_text",
]

Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex
#: Data role holding a row's id (finding id, or an operation's rid).
ID_ROLE = Qt.ItemDataRole.UserRole + 1
SEVERITY_COLORS = {"critical": "#b3261e", "high": "#e8710a", "medium": "#f2b600",
                   "low": "#5f8dd3"}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_NO_PARENT = QtCore.QModelIndex()
#: Missing values are drawn grey (the word is the same everywhere: ``MISSING``).
_GREY = QtGui.QBrush(QtGui.QColor("#808080"))


#: The one word every view shows for a value that is missing (None or empty).
MISSING = "none"
_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?(.*)$")


def when_text(value: Any, fraction: bool = False) -> str:
    """An ISO date and time as people read it: a space for the T, whole seconds (no
    microseconds; ``fraction`` keeps a fraction a source record holds), the offset
    kept. Anything else is returned as text."""
    if value is None or value == "":
        return MISSING
    text = str(value)
    match = _FRACTION.match(text)
    if match is None:
        return text
    if fraction:
        return text[:10] + " " + text[11:]
    return f"{match[1]} {match[2]}{match[3]}"


def shown(value: Any) -> str:
    """A value for a table cell or a detail line: ``MISSING`` when there is none."""
    text = cell_text(value)
    return text if text.strip() else MISSING


def cell_text(value: Any) -> str:
    """A stored value as one line of a table cell (directional overrides, embeddings and
    isolates as their codes, ``oversight.visible``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    # Directional overrides would turn the letters after them around: shown as codes.
    return show_directional(str(value))


def status_text(row: dict[str, Any]) -> str:
    status = str(row.get("status") or "")
    if status == "pending_approval" and row.get("pending_status"):
        return f"pending ({row['pending_status']})"
    if status == "dismissed" and row.get("reason"):
        return f"dismissed ({str(row['reason']).replace('_', ' ')})"
    return status.replace("_", " ")


class HeadedTableModel(QtCore.QAbstractTableModel):
    """A table model whose columns are a list of labels (``labels``): the column
    count and the horizontal header come from it."""

    def labels(self) -> list[str]:
        raise NotImplementedError

    def columnCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.labels())

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        labels = self.labels()
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(labels)):
            return labels[section]
        return None


class FindingsModel(HeadedTableModel):
    """Findings of a triage list (a few thousand at most: all rows are kept)."""

    COLUMNS = (("severity", "Severity"), ("rule_id", "Rule"), ("status", "Status"),
               ("assignee", "Assignee"), ("notes", "Notes"), ("message", "Message"))

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._order: dict[str, int] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None

    # -- contents ----------------------------------------------------------------------

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Rows in the core's order (most severe first), which ties in a sort keep."""
        self.beginResetModel()
        self._rows = list(rows)
        self._order = {str(r["id"]): i for i, r in enumerate(self._rows)}
        if self._sort is not None:
            self._rows.sort(key=self._key(self._sort[0]),
                            reverse=self._sort[1] == Qt.SortOrder.DescendingOrder)
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def row_dict(self, row: int) -> dict[str, Any]:
        return self._rows[row]

    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self._rows]

    def row_of(self, finding_id: str) -> int:
        for i, r in enumerate(self._rows):
            if r["id"] == finding_id:
                return i
        return -1

    # -- Qt model ----------------------------------------------------------------------

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def labels(self) -> list[str]:
        return [label for _key, label in self.COLUMNS]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        key = self.COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "status":
                return status_text(row)
            if key == "notes":
                count = int(row.get("notes") or 0)
                return f"✎ {count}" if count else ""
            return cell_text(row.get(key))
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "message":
                return str(row["message"])
            if key == "notes":
                count = int(row.get("notes") or 0)
                return (f"{count} note{'s' if count != 1 else ''}; the detail pane shows them"
                        if count else "No notes")
            if not row.get("matching", True):
                return "No longer matches the criteria (data or criteria changed); kept."
            return None
        if role == Qt.ItemDataRole.DecorationRole and key == "severity":
            return QtGui.QColor(SEVERITY_COLORS.get(str(row["severity"]), "#888888"))
        if role == Qt.ItemDataRole.ForegroundRole and not row.get("matching", True):
            return QtGui.QBrush(QtGui.QColor("#808080"))
        if role == ID_ROLE:
            return str(row["id"])
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def _key(self, column: int) -> Callable[[dict[str, Any]], Any]:
        key = self.COLUMNS[column][0]
        order = self._order
        if key == "severity":
            return lambda r: (SEVERITY_RANK.get(str(r["severity"]), 9), order.get(r["id"], 0))
        if key == "notes":
            return lambda r: (int(r.get("notes") or 0), order.get(r["id"], 0))
        return lambda r: (cell_text(r.get(key)).lower(), order.get(r["id"], 0))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.COLUMNS):
            return
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        old = [r["id"] for r in self._rows]
        self._rows.sort(key=self._key(column), reverse=order == Qt.SortOrder.DescendingOrder)
        position = {r["id"]: i for i, r in enumerate(self._rows)}
        before = self.persistentIndexList()
        after = [self.index(position[old[ix.row()]], ix.column()) for ix in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()


class OperationsModel(QtCore.QAbstractTableModel):
    """A window onto millions of operations: ids in memory, rows fetched when painted.

    ``query(sort, descending)`` returns the ordered row ids for the current filter;
    ``fetch(rids)`` returns those rows; ``ready()`` says whether the workspace may be
    read now (it may not while a background job holds it: uncached rows then show as
    placeholders and are fetched on the next paint)."""

    COLUMNS = (("ts", "Time"), ("action", "Action"), ("actor_id", "Actor"),
               ("actor_role", "Actor role"), ("agency", "Agency"), ("case_id", "Case"),
               ("subject_ids", "Subjects"), ("authorisation_id", "Authorisation"),
               ("recipient_country", "Country"), ("records_count", "Records"),
               ("record_id", "Record id"), ("batch_id", "Batch"))
    PAGE = 200
    CACHE = 2_000
    #: Reading rows failed (once per reload): the exception.
    fetch_failed = Signal(object)

    def __init__(self, query: Callable[[str, bool], list[int]],
                 fetch: Callable[[list[int]], list[dict[str, Any]]],
                 ready: Callable[[], bool], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._query = query
        self._fetch = fetch
        self._ready = ready
        self._rids: list[int] = []
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._positions: dict[int, int] | None = None
        self.sort_key = "rid"
        self.descending = False
        #: Row fetches so far (tests check that only visible pages are read).
        self.fetches = 0
        self._failed = False

    # -- contents ----------------------------------------------------------------------

    def reload(self) -> None:
        """Ask for the id list again (new filter, new data) and forget cached rows."""
        rids = self._query(self.sort_key, self.descending)
        self.beginResetModel()
        self._rids = rids
        self._cache.clear()
        self._positions = None
        self._failed = False
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rids = []
        self._cache.clear()
        self._positions = None
        self.endResetModel()

    def rid_at(self, row: int) -> int:
        return self._rids[row]

    def row_of(self, rid: int) -> int:
        if self._positions is None:
            self._positions = {r: i for i, r in enumerate(self._rids)}
        return self._positions.get(rid, -1)

    def record(self, row: int) -> dict[str, Any] | None:
        """The full row (fetching its page if needed), or None when not readable now."""
        rid = self._rids[row]
        if rid not in self._cache and self._ready():
            self._load(row)
        return self._cache.get(rid)

    def cached(self) -> int:
        return len(self._cache)

    def _load(self, row: int) -> None:
        start = row - row % self.PAGE
        wanted = [r for r in self._rids[start:start + self.PAGE] if r not in self._cache]
        self.fetches += 1
        try:
            fetched = self._fetch(wanted)
        except Exception as exc:  # painting must go on; the page says what went wrong
            if not self._failed:
                self._failed = True
                self.fetch_failed.emit(exc)
            return
        for rec in fetched:
            self._cache[int(rec["rid"])] = rec
        while len(self._cache) > self.CACHE:
            self._cache.popitem(last=False)

    # -- Qt model ----------------------------------------------------------------------

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rids)

    def columnCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section][1] if 0 <= section < len(self.COLUMNS) else None
        return section + 1 if 0 <= section < len(self._rids) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rids):
            return None
        if role == ID_ROLE:
            return self._rids[index.row()]
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._missing_brush(index)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        rid = self._rids[index.row()]
        rec = self._cache.get(rid)
        if rec is None:
            rec = self.record(index.row())
        else:
            self._cache.move_to_end(rid)
        if rec is None:
            return "…" if role == Qt.ItemDataRole.DisplayRole else None
        key = self.COLUMNS[index.column()][0]
        value = rec.get(key) if key in ("record_id", "batch_id") else rec["fields"].get(key)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = cell_text(value)  # the value as stored (a time with its fraction)
            return text if len(text) > 40 or (key == "ts" and "." in text) else None
        return when_text(value) if key == "ts" else shown(value)

    def _missing_brush(self, index: Index) -> QtGui.QBrush | None:
        rec = self._cache.get(self._rids[index.row()])
        if rec is None:
            return None
        key = self.COLUMNS[index.column()][0]
        value = rec.get(key) if key in ("record_id", "batch_id") else rec["fields"].get(key)
        return _GREY if shown(value) == MISSING else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.COLUMNS):
            return
        self.sort_key = self.COLUMNS[column][0]
        self.descending = order == Qt.SortOrder.DescendingOrder
        if self._ready():
            self.reload()


class TableModel(HeadedTableModel):
    """A small read-only table (dashboard lists, a record's fields)."""

    def __init__(self, headers: Sequence[str], parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self._rows: list[tuple[Any, ...]] = []
        self._colors: list[str | None] = []

    def set_rows(self, rows: Sequence[Sequence[Any]],
                 colors: Sequence[str | None] | None = None) -> None:
        """``colors``: one optional colour per row, shown as a swatch in column 0."""
        self.beginResetModel()
        self._rows = [tuple(r) for r in rows]
        self._colors = list(colors) if colors is not None else [None] * len(self._rows)
        self.endResetModel()

    def row_values(self, row: int) -> tuple[Any, ...]:
        return self._rows[row]

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def labels(self) -> list[str]:
        return list(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        value = row[index.column()] if index.column() < len(row) else None
        if role == Qt.ItemDataRole.DisplayRole:
            if isinstance(value, int) and not isinstance(value, bool):
                return f"{value:,}"
            return MISSING if value is None else cell_text(value)
        if role == Qt.ItemDataRole.ForegroundRole:
            return _GREY if value is None or value == MISSING else None
        if role == Qt.ItemDataRole.ToolTipRole:
            text = cell_text(value)
            return text if len(text) > 40 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int) \
                and not isinstance(value, bool):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0:
            color = self._colors[index.row()]
            return QtGui.QColor(color) if color else None
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
