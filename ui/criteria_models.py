"""Item models of the Criteria page: the rules (with an enabled checkbox and the impact
of the pending change), the stored pack versions, and the last run's results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oversight.criteria.pack import Pack
from oversight.criteria.versions import PackVersion, RuleImpact
from ui.models import SEVERITY_COLORS, HeadedTableModel, TableModel
from ui.qt import Qt, QtCore, QtGui, Signal

__all__ = ["RulesModel", "TableModel", "run_rows", "version_rows"]

Index = QtCore.QModelIndex | QtCore.QPersistentModelIndex
_NO_PARENT = QtCore.QModelIndex()


def version_rows(found: Sequence[PackVersion]) -> list[tuple[Any, ...]]:
    """Newest first: pack, version, sha256 (short), saved by, saved at, active, note."""
    return [(v.pack_id, v.version, v.sha256[:16], v.added_by,
             v.added_at[:16].replace("T", " "), "active" if v.active else "", v.note)
            for v in reversed(found)]


def run_rows(run: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    if not run:
        return []
    return [(r.get("rule_id"), r.get("severity"),
             "yes" if r.get("evaluated") else f"no: {r.get('reason')}", r.get("hits", 0),
             r.get("new", 0), r.get("no_longer_matching", 0)) for r in run.get("rules", [])]


class RulesModel(HeadedTableModel):
    """The pack's rules; the first column's checkbox enables or disables a rule (a
    pending change until saved); the last column shows the previewed impact."""

    HEADERS = ("Rule", "Title", "Severity", "Legal references", "Impact")
    enabled_changed = Signal(str, bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pack: Pack | None = None
        self.enabled: dict[str, bool] = {}
        self.impact: dict[str, RuleImpact] = {}
        self.editable = True

    def set_pack(self, pack: Pack | None) -> None:
        self.beginResetModel()
        self.pack = pack
        self.enabled = {r.id: r.enabled for r in pack.rules} if pack else {}
        self.impact = {}
        self.endResetModel()

    def set_impact(self, results: Sequence[RuleImpact]) -> None:
        self.impact = {r.rule_id: r for r in results}
        if self.rowCount():
            col = len(self.HEADERS) - 1
            self.dataChanged.emit(self.index(0, col), self.index(self.rowCount() - 1, col))

    def changes(self) -> dict[str, bool]:
        if self.pack is None:
            return {}
        return {r.id: self.enabled[r.id] for r in self.pack.rules
                if self.enabled[r.id] != r.enabled}

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() or self.pack is None else len(self.pack.rules)

    def labels(self) -> list[str]:
        return list(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.pack is None or not index.isValid() or not 0 <= index.row() < len(
                self.pack.rules):
            return None
        rule = self.pack.rules[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 4:
                found = self.impact.get(rule.id)
                if found is None:
                    return ""
                if not found.added and not found.removed:
                    return f"{found.now} (no change)"
                return f"{found.now} → {found.after} (+{len(found.added)} −{len(found.removed)})"
            return (rule.id, rule.title, rule.severity, "; ".join(rule.legal_refs), "")[col]
        if role == Qt.ItemDataRole.CheckStateRole and col == 0:
            return (Qt.CheckState.Checked if self.enabled.get(rule.id, True)
                    else Qt.CheckState.Unchecked)
        if role == Qt.ItemDataRole.DecorationRole and col == 2:
            return QtGui.QColor(SEVERITY_COLORS.get(rule.severity, "#888888"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return rule.rationale
        if role == Qt.ItemDataRole.FontRole and col == 0 and \
                self.enabled.get(rule.id) != rule.enabled:
            font = QtGui.QFont()
            font.setBold(True)  # a pending change
            return font
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (self.pack is None or not index.isValid() or index.column() != 0
                or role != Qt.ItemDataRole.CheckStateRole or not self.editable):
            return False
        rule = self.pack.rules[index.row()]
        state = value.value if isinstance(value, Qt.CheckState) else int(value)
        on = state == Qt.CheckState.Checked.value
        self.enabled[rule.id] = on
        self.dataChanged.emit(index, index)
        self.enabled_changed.emit(rule.id, on)
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0 and self.editable:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags
