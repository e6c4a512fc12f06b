"""Small widgets shared by the views: a painted bar chart and table helpers."""

from __future__ import annotations

from collections.abc import Sequence

from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.settings import Settings

__all__ = ["BarChart", "make_table", "restore_header", "save_header"]


class BarChart(QtWidgets.QWidget):
    """Horizontal bars with a label and a count each, painted with QPainter."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: list[tuple[str, int, str]] = []
        self.setMinimumHeight(60)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Preferred)

    def set_bars(self, bars: Sequence[tuple[str, int, str]]) -> None:
        """(label, value, colour) per bar, in display order."""
        self._bars = list(bars)
        self.setAccessibleDescription(", ".join(f"{label}: {value}"
                                                for label, value, _ in self._bars))
        self.updateGeometry()
        self.update()

    def bars(self) -> list[tuple[str, int, str]]:
        return list(self._bars)

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 8

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(320, max(60, len(self._bars) * self._row_height() + 8))

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(200, max(40, len(self._bars) * self._row_height() + 8))

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        try:
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            metrics = self.fontMetrics()
            palette = self.palette()
            if not self._bars:
                painter.setPen(palette.color(QtGui.QPalette.ColorRole.PlaceholderText))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Nothing yet")
                return
            label_w = max(metrics.horizontalAdvance(b[0]) for b in self._bars) + 12
            count_w = max(metrics.horizontalAdvance(f"{b[1]:,}") for b in self._bars) + 12
            top = 4
            row_h = self._row_height()
            span = max(1, self.width() - label_w - count_w - 8)
            peak = max(1, max(b[1] for b in self._bars))
            text_color = palette.color(QtGui.QPalette.ColorRole.WindowText)
            for label, value, color in self._bars:
                painter.setPen(text_color)
                painter.drawText(QtCore.QRect(0, top, label_w - 6, row_h),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 label)
                width = round(span * value / peak)
                if value and width < 2:
                    width = 2
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QtGui.QColor(color))
                painter.drawRoundedRect(QtCore.QRectF(label_w, top + 3, width, row_h - 6), 3, 3)
                painter.setPen(text_color)
                painter.drawText(QtCore.QRect(label_w + width + 6, top, count_w, row_h),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{value:,}")
                top += row_h
        finally:
            painter.end()


def make_table(model: QtCore.QAbstractItemModel, *, stretch_last: bool = True,
               multi: bool = False) -> QtWidgets.QTableView:
    """A compact, row-selecting table view."""
    view = QtWidgets.QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection if multi
                          else QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setStretchLastSection(stretch_last)
    view.horizontalHeader().setHighlightSections(False)
    view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    return view


def save_header(settings: Settings, key: str, view: QtWidgets.QTableView) -> None:
    settings.set_bytes(f"columns/{key}", view.horizontalHeader().saveState())


def restore_header(settings: Settings, key: str, view: QtWidgets.QTableView) -> bool:
    state = settings.bytes_value(f"columns/{key}")
    return bool(state is not None and view.horizontalHeader().restoreState(state))
