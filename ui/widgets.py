"""Small widgets shared by the views: painted charts, table helpers, a column chooser
and the colour helpers that keep custom colours readable in a light or dark palette."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.settings import Settings

__all__ = ["BarChart", "ColumnChart", "RowTableView", "column_menu", "contrast_ratio",
           "is_dark", "make_table", "paint_nothing_yet", "painting", "readable",
           "restore_header", "save_header", "with_browse_button"]


# -- colours ---------------------------------------------------------------------------


def _palette(widget: QtWidgets.QWidget | None = None) -> QtGui.QPalette:
    if widget is not None:
        return widget.palette()
    return QtGui.QGuiApplication.palette()


def is_dark(widget: QtWidgets.QWidget | None = None) -> bool:
    """Whether the palette in use (the widget's, else the application's) is dark."""
    return _palette(widget).color(QtGui.QPalette.ColorRole.Window).lightness() < 128


def _luminance(color: QtGui.QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast_ratio(a: QtGui.QColor, b: QtGui.QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable(color: str, widget: QtWidgets.QWidget | None = None,
             role: QtGui.QPalette.ColorRole = QtGui.QPalette.ColorRole.Window,
             minimum: float = 4.5) -> str:
    """``color`` (a hex name) as text on the palette's ``role`` background: kept as it is
    where it reads well, else lightened (dark palette) or darkened (light palette) in
    steps until the contrast ratio reaches ``minimum``. Returns a hex name."""
    background = _palette(widget).color(role)
    out = QtGui.QColor(color)
    dark = background.lightness() < 128
    for _ in range(12):
        if contrast_ratio(out, background) >= minimum:
            break
        out = out.lighter(125) if dark else out.darker(125)
        if dark and out.lightness() >= 250:
            break
    return str(out.name())


# -- charts ----------------------------------------------------------------------------


def error_label() -> QtWidgets.QLabel:
    """A label for one sentence saying what went wrong: plain text, wrapped, in a red
    readable on the theme, selectable so it can be copied into a report."""
    label = QtWidgets.QLabel()
    label.setStyleSheet(f"color: {readable('#b3261e')}")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def with_browse_button(edit: QtWidgets.QLineEdit, slot: Callable[[], object]
                       ) -> QtWidgets.QHBoxLayout:
    """A path field with a "Browse…" button beside it that calls ``slot``."""
    row = QtWidgets.QHBoxLayout()
    row.addWidget(edit, 1)
    button = QtWidgets.QPushButton("Browse…")
    button.clicked.connect(slot)
    row.addWidget(button)
    return row


@contextmanager
def painting(widget: QtWidgets.QWidget, antialias: bool = True
             ) -> Iterator[tuple[QtGui.QPainter, QtGui.QFontMetrics, QtGui.QPalette]]:
    """A painter on ``widget`` (ended on the way out), its font metrics and palette."""
    painter = QtGui.QPainter(widget)
    try:
        if antialias:
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        yield painter, widget.fontMetrics(), widget.palette()
    finally:
        painter.end()


def paint_nothing_yet(painter: QtGui.QPainter, palette: QtGui.QPalette, rect: QtCore.QRect,
                      align: Qt.AlignmentFlag) -> None:
    """What an empty chart shows."""
    painter.setPen(palette.color(QtGui.QPalette.ColorRole.PlaceholderText))
    painter.drawText(rect, align, "Nothing yet")


class BarChart(QtWidgets.QWidget):
    """Horizontal bars with a label and a count each, painted with QPainter. A click on
    a bar emits ``clicked`` with its index."""

    clicked = Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._bars: list[tuple[str, int, str]] = []
        self.setMinimumHeight(60)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def bar_at(self, point: QtCore.QPoint) -> int:
        """The index of the bar (its whole row) at ``point``, or -1."""
        index = (point.y() - 4) // self._row_height()
        return index if point.y() >= 4 and 0 <= index < len(self._bars) else -1

    def bar_center(self, index: int) -> QtCore.QPoint:
        """A point on bar ``index`` (for tests and accessibility)."""
        return QtCore.QPoint(self.width() // 2, 4 + index * self._row_height()
                             + self._row_height() // 2)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        index = self.bar_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and index >= 0:
            self.clicked.emit(index)
            return
        super().mousePressEvent(event)

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
        with painting(self, antialias=True) as (painter, metrics, palette):
            if not self._bars:
                paint_nothing_yet(painter, palette, self.rect(), Qt.AlignmentFlag.AlignCenter)
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


class ColumnChart(QtWidgets.QWidget):
    """Vertical columns over labelled periods (findings per month), painted with QPainter.
    A click on a column emits ``clicked`` with its index."""

    clicked = Signal(int)

    def __init__(self, color: str = "#1a73e8", parent: QtWidgets.QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self._columns: list[tuple[str, int]] = []
        self._color = color
        self.setMinimumHeight(90)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def _slot(self) -> float:
        return max(1.0, self.width() / max(1, len(self._columns)))

    def column_at(self, point: QtCore.QPoint) -> int:
        index = int(point.x() // self._slot())
        return index if point.x() >= 0 and 0 <= index < len(self._columns) else -1

    def column_center(self, index: int) -> QtCore.QPoint:
        return QtCore.QPoint(int((index + 0.5) * self._slot()), self.height() // 2)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        index = self.column_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and index >= 0:
            self.clicked.emit(index)
            return
        super().mousePressEvent(event)

    def set_columns(self, columns: Sequence[tuple[str, int]]) -> None:
        """(label, value) per column, oldest first."""
        self._columns = list(columns)
        self.setAccessibleDescription(", ".join(f"{label}: {value}"
                                                for label, value in self._columns))
        self.update()

    def columns(self) -> list[tuple[str, int]]:
        return list(self._columns)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(320, 110)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        with painting(self, antialias=True) as (painter, metrics, palette):
            if not self._columns:
                paint_nothing_yet(painter, palette, self.rect(), Qt.AlignmentFlag.AlignCenter)
                return
            text_color = palette.color(QtGui.QPalette.ColorRole.WindowText)
            line_h = metrics.height()
            top, bottom = line_h + 4, self.height() - line_h - 6
            span = max(1, bottom - top)
            slot = max(1.0, self.width() / len(self._columns))
            peak = max(1, max(v for _, v in self._columns))
            # Label every month if they fit, else every n-th one.
            label_w = max(metrics.horizontalAdvance(lab) for lab, _ in self._columns) + 8
            every = max(1, int(label_w // slot) + (1 if label_w % slot else 0))
            painter.setPen(palette.color(QtGui.QPalette.ColorRole.Mid))
            painter.drawLine(0, bottom, self.width(), bottom)
            for i, (label, value) in enumerate(self._columns):
                x = i * slot
                height = round(span * value / peak)
                if value and height < 2:
                    height = 2
                bar = QtCore.QRectF(x + slot * 0.15, bottom - height, slot * 0.7, height)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QtGui.QColor(self._color))
                painter.drawRoundedRect(bar, 2, 2)
                painter.setPen(text_color)
                if value:
                    painter.drawText(QtCore.QRectF(x, bottom - height - line_h - 2, slot,
                                                   line_h),
                                     Qt.AlignmentFlag.AlignCenter, f"{value:,}")
                if i % every == 0:
                    painter.drawText(QtCore.QRectF(x + slot / 2 - label_w / 2, bottom + 3,
                                                   label_w, line_h),
                                     Qt.AlignmentFlag.AlignCenter, label)


class RowTableView(QtWidgets.QTableView):
    """A table of rows: Home and End (with or without Ctrl) jump to the first or last
    row and to the first visible column, so a jump never scrolls the leading columns
    (time, action, actor) out of view as Qt's Ctrl+End (last row, last column) does."""

    def moveCursor(self, action: QtWidgets.QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QtCore.QModelIndex:
        cursor = QtWidgets.QAbstractItemView.CursorAction
        if action not in (cursor.MoveHome, cursor.MoveEnd):
            return super().moveCursor(action, modifiers)
        model = self.model()
        rows = model.rowCount() if model is not None else 0
        if not rows:
            return QtCore.QModelIndex()
        header = self.horizontalHeader()
        column = next((header.logicalIndex(v) for v in range(header.count())
                       if not header.isSectionHidden(header.logicalIndex(v))), 0)
        return model.index(0 if action == cursor.MoveHome else rows - 1, column)


def make_table(model: QtCore.QAbstractItemModel, *, stretch_last: bool = True,
               multi: bool = False) -> QtWidgets.QTableView:
    """A compact, row-selecting table view."""
    view = RowTableView()
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


def column_menu(view: QtWidgets.QTableView, on_change: Callable[[], None] | None = None,
                parent: QtWidgets.QWidget | None = None) -> QtWidgets.QMenu:
    """A menu with one checkable action per column of ``view``: unticking hides the
    column, ticking shows it again; the last visible column cannot be hidden.
    ``on_change`` runs after each change (to remember the choice)."""
    model = view.model()
    header = view.horizontalHeader()
    menu = QtWidgets.QMenu(parent or view)
    menu.setTitle("Columns")
    visible = [c for c in range(model.columnCount()) if not header.isSectionHidden(c)]
    for col in range(model.columnCount()):
        name = str(model.headerData(col, Qt.Orientation.Horizontal,
                                    Qt.ItemDataRole.DisplayRole) or f"Column {col + 1}")
        action = menu.addAction(name)
        action.setCheckable(True)
        action.setChecked(not header.isSectionHidden(col))
        if visible == [col]:
            action.setEnabled(False)
            action.setToolTip("At least one column stays visible.")

        def toggled(checked: bool, col: int = col) -> None:
            shown = [c for c in range(model.columnCount()) if not header.isSectionHidden(c)]
            if not checked and shown == [col]:
                return
            header.setSectionHidden(col, not checked)
            if checked and header.sectionSize(col) < 20:
                header.resizeSection(col, 100)
            if on_change is not None:
                on_change()

        action.toggled.connect(toggled)
    return menu
