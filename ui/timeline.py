"""The timeline of an authorisation or a case, drawn with QPainter.

The window (valid_from .. valid_to, or opened .. closed) is a bar on a time axis; a
cancellation cuts it short and is marked. Every operation citing the id is a tick on
the same axis, blue inside the window and in a warning colour outside it. The geometry
is computed by ``layout_timeline`` (plain numbers, tested on its own); the widget only
paints what it returns.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from oversight.errors import OversightError
from oversight.timeline import Mark, Timeline, from_micros, timeline
from ui.models import TableModel
from ui.qt import Qt, QtCore, QtGui, QtWidgets
from ui.session import Session

__all__ = ["COLORS", "PLACE_TEXT", "TimelineDialog", "TimelineLayout", "TimelineWidget",
           "layout_timeline"]

COLORS = {"window": "#cfe6d2", "window_edge": "#2e7d32", "cancelled": "#f1d0cc",
          "cancel_line": "#b3261e", "inside": "#1f5fa8", "before": "#e8710a",
          "after": "#e8710a", "cancelled_mark": "#b3261e", "axis": "#555555"}
PLACE_TEXT = {"before": "before the window", "inside": "inside the window",
              "after": "after the window", "cancelled": "after the cancellation",
              "undated": "without a time"}
_DAY = 86_400_000_000
_STEPS = (3_600_000_000, 6 * 3_600_000_000, _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY,
          91 * _DAY, 182 * _DAY, 365 * _DAY, 730 * _DAY)


@dataclass(frozen=True)
class TimelineLayout:
    """Where everything goes, in pixels along the x axis (``left``..``right``)."""

    t0: int
    t1: int
    left: float
    right: float
    window: tuple[float, float] | None
    """The bar from start to end as granted (open ends reach the axis edge)."""
    cancel_x: float | None
    marks: list[tuple[float, Mark]]
    """x of each dated operation, in time order."""
    ticks: list[tuple[float, str]]

    def x_of(self, t: int) -> float:
        span = max(1, self.t1 - self.t0)
        return self.left + (t - self.t0) * (self.right - self.left) / span


def layout_timeline(tl: Timeline, left: float, right: float) -> TimelineLayout:
    """Axis range covering the window and every operation (5% margin each side)."""
    times = [m.ts_utc for m in tl.marks if m.ts_utc is not None]
    times += [t for t in (tl.start, tl.end, tl.cancelled) if t is not None]
    if not times:
        now = int(datetime.now(UTC).timestamp() * 1_000_000)
        times = [now - _DAY, now + _DAY]
    lo, hi = min(times), max(times)
    if hi - lo < _DAY:
        lo, hi = lo - _DAY // 2, hi + _DAY // 2
    pad = (hi - lo) // 20
    t0, t1 = lo - pad, hi + pad
    base = TimelineLayout(t0, t1, left, right, None, None, [], [])
    window: tuple[float, float] | None = None
    if tl.found and (tl.start is not None or tl.end is not None):
        window = (base.x_of(tl.start) if tl.start is not None else left,
                  base.x_of(tl.end) if tl.end is not None else right)
    cancel_x = base.x_of(tl.cancelled) if tl.cancelled is not None else None
    marks = [(base.x_of(m.ts_utc), m) for m in tl.marks if m.ts_utc is not None]
    return TimelineLayout(t0, t1, left, right, window, cancel_x, marks,
                          _ticks(base, max(2, int((right - left) // 110))))


def _ticks(base: TimelineLayout, most: int) -> list[tuple[float, str]]:
    span = base.t1 - base.t0
    step = next((s for s in _STEPS if span / s <= most), _STEPS[-1])
    first = datetime.fromtimestamp(base.t0 / 1_000_000, UTC)
    if step >= _DAY:
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = first.replace(minute=0, second=0, microsecond=0)
    fmt = "%Y-%m-%d" if step >= _DAY else "%m-%d %H:%M"
    out: list[tuple[float, str]] = []
    moment = first
    while True:
        t = int(moment.timestamp() * 1_000_000)
        if t > base.t1:
            break
        if t >= base.t0:
            out.append((base.x_of(t), moment.strftime(fmt)))
        moment += timedelta(microseconds=step)
    return out


def _when(value: int | None, text: str | None) -> str:
    """A recorded time to the minute, with its offset (UTC when zero)."""
    if text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text.replace("T", " ", 1)
        offset = moment.strftime("%z")
        zone = "" if not offset else " UTC" if offset == "+0000" else \
            f" {offset[:3]}:{offset[3:]}"
        return moment.strftime("%Y-%m-%d %H:%M") + zone
    return from_micros(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


class TimelineWidget(QtWidgets.QWidget):
    """Paints one Timeline. Hovering a mark shows the operation."""

    MARGIN = 48
    BAR_Y, BAR_H = 78, 26
    MARK_Y, MARK_H = 122, 34

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.setMinimumSize(640, 220)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(900, 240)

    def set_timeline(self, tl: Timeline | None) -> None:
        self.timeline = tl
        self.update()

    def current_layout(self) -> TimelineLayout | None:
        if self.timeline is None:
            return None
        return layout_timeline(self.timeline, self.MARGIN, self.width() - self.MARGIN)

    def mark_at(self, x: float, y: float) -> Mark | None:
        lay = self.current_layout()
        if lay is None or not self.MARK_Y - 4 <= y <= self.MARK_Y + self.MARK_H + 4:
            return None
        near = [(abs(mx - x), m) for mx, m in lay.marks if abs(mx - x) <= 3]
        return min(near, key=lambda p: p[0])[1] if near else None

    def event(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ToolTip:
            assert isinstance(event, QtGui.QHelpEvent)
            mark = self.mark_at(event.pos().x(), event.pos().y())
            if mark is None:
                QtWidgets.QToolTip.hideText()
            else:
                QtWidgets.QToolTip.showText(event.globalPos(), (
                    f"{mark.record_id or mark.rid}: {mark.action or '?'} by "
                    f"{mark.actor_id or '?'}\n{_when(mark.ts_utc, mark.ts)}\n"
                    f"{PLACE_TEXT[mark.place]}"), self)
            return True
        return super().event(event)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().color(QtGui.QPalette.ColorRole.Base))
        text_color = self.palette().color(QtGui.QPalette.ColorRole.Text)
        lay = self.current_layout()
        if lay is None or self.timeline is None:
            p.setPen(text_color)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "Enter an authorisation or case id and press Show.")
            p.end()
            return
        tl = self.timeline
        self._legend(p, text_color)
        # the window bar
        if lay.window is not None:
            x0, x1 = lay.window
            bar = QtCore.QRectF(x0, self.BAR_Y, max(2.0, x1 - x0), self.BAR_H)
            p.setPen(QtGui.QPen(QtGui.QColor(COLORS["window_edge"]), 1.5))
            p.setBrush(QtGui.QColor(COLORS["window"]))
            p.drawRect(bar)
            if lay.cancel_x is not None and x0 <= lay.cancel_x < x1:
                cut = QtCore.QRectF(lay.cancel_x, self.BAR_Y, x1 - lay.cancel_x, self.BAR_H)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QtGui.QBrush(QtGui.QColor(COLORS["cancel_line"]),
                                        Qt.BrushStyle.BDiagPattern))
                p.drawRect(cut)
            p.setPen(text_color)
            name = "Valid" if tl.kind == "authorisation" else "Open"
            p.drawText(QtCore.QRectF(x0 + 4, self.BAR_Y, max(0.0, x1 - x0 - 8), self.BAR_H),
                       int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                       name)
        else:
            p.setPen(text_color)
            p.drawText(QtCore.QPointF(lay.left, self.BAR_Y + 18),
                       f"The {tl.kind} {tl.id} was not imported: no window to compare with.")
        if lay.cancel_x is not None:
            p.setPen(QtGui.QPen(QtGui.QColor(COLORS["cancel_line"]), 2))
            p.drawLine(QtCore.QPointF(lay.cancel_x, self.BAR_Y - 8),
                       QtCore.QPointF(lay.cancel_x, self.MARK_Y + self.MARK_H))
            p.drawText(QtCore.QPointF(lay.cancel_x + 4, self.BAR_Y - 10), "cancelled")
        # operations
        for x, mark in lay.marks:
            key = "cancelled_mark" if mark.place == "cancelled" else mark.place
            color = QtGui.QColor(COLORS.get(key, COLORS["after"]))
            p.setPen(QtGui.QPen(color, 2 if mark.inside else 3))
            p.drawLine(QtCore.QPointF(x, self.MARK_Y), QtCore.QPointF(x, self.MARK_Y
                                                                      + self.MARK_H))
        # axis
        axis_y = self.MARK_Y + self.MARK_H + 12
        p.setPen(QtGui.QPen(QtGui.QColor(COLORS["axis"]), 1))
        p.drawLine(QtCore.QPointF(lay.left, axis_y), QtCore.QPointF(lay.right, axis_y))
        metrics = p.fontMetrics()
        last_end = -1e9
        for x, label in lay.ticks:
            p.drawLine(QtCore.QPointF(x, axis_y), QtCore.QPointF(x, axis_y + 5))
            w = metrics.horizontalAdvance(label)
            if x - w / 2 > last_end + 6:
                p.drawText(QtCore.QPointF(x - w / 2, axis_y + 8 + metrics.ascent()), label)
                last_end = x + w / 2
        p.end()

    def _legend(self, p: QtGui.QPainter, text_color: QtGui.QColor) -> None:
        entries = [("window", "validity window" if self.timeline and
                    self.timeline.kind == "authorisation" else "case open"),
                   ("inside", "operation inside"), ("after", "operation outside"),
                   ("cancel_line", "cancelled")]
        x, y = float(self.MARGIN), 14.0
        metrics = p.fontMetrics()
        for key, label in entries:
            p.setPen(QtGui.QPen(QtGui.QColor(COLORS["window_edge"] if key == "window"
                                             else COLORS[key]), 1.5))
            p.setBrush(QtGui.QColor(COLORS[key]))
            if key == "window":
                p.drawRect(QtCore.QRectF(x, y, 16, 11))
            else:
                p.drawRect(QtCore.QRectF(x + 6, y - 1, 3, 13))
            p.setPen(text_color)
            p.drawText(QtCore.QPointF(x + 22, y + 10), label)
            x += 22 + metrics.horizontalAdvance(label) + 22


class TimelineDialog(QtWidgets.QDialog):
    """Asks for an id, draws its timeline, lists the operations outside the window."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None,
                 kind: str = "authorisation", ident: str = "") -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Timeline")
        self.resize(980, 620)
        self.kind = QtWidgets.QComboBox()
        self.kind.addItem("Authorisation", "authorisation")
        self.kind.addItem("Case", "case")
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.ident = QtWidgets.QLineEdit(ident)
        self.ident.setPlaceholderText("Id, e.g. RIPA-DS-2026-0138")
        self.ident.returnPressed.connect(self.show_timeline)
        show = QtWidgets.QPushButton("Show")
        show.clicked.connect(self.show_timeline)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.kind)
        top.addWidget(self.ident, 1)
        top.addWidget(show)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = TimelineWidget()
        self.table = TableModel(["Time", "Action", "Actor", "Record id", "Where"])
        self.table_view = QtWidgets.QTableView()
        self.table_view.setModel(self.table)
        self.table_view.verticalHeader().hide()
        self.table_view.verticalHeader().setDefaultSectionSize(
            self.table_view.fontMetrics().height() + 6)
        self.table_view.horizontalHeader().setStretchLastSection(True)
        self.table_view.setSelectionBehavior(
            QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table_label = QtWidgets.QLabel("Operations outside the window:")
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.canvas)
        layout.addWidget(self.table_label)
        layout.addWidget(self.table_view, 1)
        layout.addWidget(close)
        if ident:
            self.show_timeline()

    def show_timeline(self) -> None:
        ident = self.ident.text().strip()
        if not ident:
            self.summary.setText("Enter an id.")
            return
        if not self.session.ready:
            self.summary.setText("The workspace is busy or locked; try again when the "
                                 "running job has finished.")
            return
        try:
            tl = self.session.read(timeline, str(self.kind.currentData()), ident)
        except OversightError as exc:
            self.summary.setText(html.escape(exc.message))
            return
        except Exception as exc:  # a bug: reported with its details
            self.session.prompts.error(self, exc)
            return
        self.set_timeline(tl)

    def set_timeline(self, tl: Timeline) -> None:
        self.canvas.set_timeline(tl)
        counts = tl.counts()
        what = "Authorisation" if tl.kind == "authorisation" else "Case"
        if tl.found:
            window = (f"{_when(tl.start, tl.start_text)} → {_when(tl.end, tl.end_text)}")
            if tl.cancelled is not None:
                window += f", cancelled {_when(tl.cancelled, tl.cancelled_text)}"
        else:
            window = "not imported"
        extra = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in tl.details.items())
        outside = counts["before"] + counts["after"] + counts["cancelled"]
        lines = [f"<b>{what} {html.escape(tl.id)}</b>: {html.escape(window)}"
                 + (f" ({html.escape(extra)})" if extra else ""),
                 f"{tl.total:,} operations cite it: {counts['inside']:,} inside the window"
                 + (f", <span style='color:{COLORS['after']}'><b>{outside:,} outside</b> "
                    f"({counts['before']:,} before, {counts['after']:,} after"
                    + (f", {counts['cancelled']:,} after the cancellation"
                       if tl.cancelled is not None else "") + ")</span>"
                    if tl.found else "")
                 + (f", {counts['undated']:,} without a time" if counts["undated"] else "")
                 + (f"; the first {len(tl.marks):,} are drawn" if len(tl.marks) < tl.total
                    else "") + "."]
        self.summary.setText("<br>".join(lines))
        rows: list[tuple[Any, ...]] = []
        colors: list[str | None] = []
        for m in tl.marks:
            if m.place != "inside" and (tl.found or m.place == "undated"):
                rows.append((_when(m.ts_utc, m.ts), m.action or "", m.actor_id or "",
                             m.record_id or str(m.rid), PLACE_TEXT[m.place]))
                colors.append(COLORS["after"])
        self.table.set_rows(rows, colors)
        self.table_view.resizeColumnsToContents()
        self.table_label.setText(f"Operations outside the window ({len(rows):,}):" if rows
                                 else "No operation outside the window.")
