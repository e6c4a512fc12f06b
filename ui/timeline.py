"""The timeline of an authorisation or a case, drawn with QPainter.

The window (valid_from .. valid_to, or opened .. closed) is a bar on a time axis; a
cancellation cuts it short and is marked. The bar says what the register says in words:
green "Valid" only for an authorisation that is not refused or pending; a refused one is
a red cross-hatched "Refused: never in force" bar, a pending one an amber dashed
"Approval pending" bar. Every operation citing the id is a tick on the same axis, red
when a rule of the active criteria pack flags it and blue when none does: the verdict is
the rules' own (`oversight.timeline`), never the drawing's. Click a tick to select the
operation below and see its findings. The geometry is computed by ``layout_timeline``
(plain numbers, tested on its own); the widget only paints what it returns.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from oversight import browse
from oversight.criteria.pack import Pack
from oversight.criteria.versions import active_pack, active_sha256
from oversight.errors import OversightError
from oversight.timeline import APPROVAL_TEXT, Mark, Timeline, from_micros, timeline
from ui.models import TableModel
from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.session import Session
from ui.widgets import make_table, readable

__all__ = ["COLORS", "PLACE_TEXT", "STANDING_TEXT", "TimelineDialog", "TimelineLayout",
           "TimelineWidget", "layout_timeline", "verdict_text"]

COLORS = {"window": "#cfe6d2", "window_edge": "#2e7d32", "cancelled": "#f1d0cc",
          "cancel_line": "#b3261e", "refused": "#f1d0cc", "refused_edge": "#b3261e",
          "pending": "#fbe3bd", "pending_edge": "#b26a00", "inside": "#1f5fa8",
          "covered": "#1f5fa8", "flagged": "#b3261e", "before": "#e8710a",
          "after": "#e8710a", "cancelled_mark": "#b3261e", "axis": "#555555",
          "selected": "#000000"}
PLACE_TEXT = {"before": "before the window", "inside": "inside the window",
              "after": "after the window", "cancelled": "at or after the cancellation",
              "undated": "without a time"}
#: The bar's label: what the register says, in words.
STANDING_TEXT = {"valid": "Valid", "refused": "Refused: never in force",
                 "pending": "Approval pending", "open": "Open", "not imported": ""}
_DAY = 86_400_000_000
_STEPS = (3_600_000_000, 6 * 3_600_000_000, _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY,
          91 * _DAY, 182 * _DAY, 365 * _DAY, 730 * _DAY)


def verdict_text(tl: Timeline, mark: Mark) -> str:
    """What the rules say about one operation, in words."""
    if mark.rules:
        names = []
        for rule_id in mark.rules:
            ref = tl.rule(rule_id)
            names.append(f"{rule_id} ({ref.title})" if ref is not None else rule_id)
        return "flagged by " + "; ".join(names)
    if not tl.rules:
        return "not judged: no rule of the pack could be evaluated"
    return "no rule flags it"


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


def _when(value: int | None, text: str | None, seconds: bool = False) -> str:
    """A recorded time to the minute (or second), with its offset (UTC when zero)."""
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text.replace("T", " ", 1)
        offset = moment.strftime("%z")
        zone = "" if not offset else " UTC" if offset == "+0000" else \
            f" {offset[:3]}:{offset[3:]}"
        return moment.strftime(fmt) + zone
    return from_micros(value).strftime(fmt + " UTC") if value is not None else "—"


def _bar_style(standing: str) -> tuple[str, str, Qt.BrushStyle, Qt.PenStyle]:
    """(fill, edge, brush pattern, edge style) of the window bar."""
    if standing == "refused":
        return (COLORS["refused"], COLORS["refused_edge"], Qt.BrushStyle.DiagCrossPattern,
                Qt.PenStyle.SolidLine)
    if standing == "pending":
        return (COLORS["pending"], COLORS["pending_edge"], Qt.BrushStyle.SolidPattern,
                Qt.PenStyle.DashLine)
    return COLORS["window"], COLORS["window_edge"], Qt.BrushStyle.SolidPattern, \
        Qt.PenStyle.SolidLine


class TimelineWidget(QtWidgets.QWidget):
    """Paints one Timeline. Hovering a tick shows the operation; clicking it emits
    ``mark_clicked`` with the operation's row id."""

    mark_clicked = Signal(int)

    MARGIN = 48
    BAR_Y, BAR_H = 78, 26
    MARK_Y, MARK_H = 122, 34

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.selected: int | None = None
        self.setMinimumSize(560, 220)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(900, 240)

    def set_timeline(self, tl: Timeline | None) -> None:
        self.timeline = tl
        self.selected = None
        self.update()

    def select(self, rid: int | None) -> None:
        self.selected = rid
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

    def mark_x(self, rid: int) -> float | None:
        """Where the tick of operation ``rid`` is drawn (None: not drawn)."""
        lay = self.current_layout()
        if lay is None:
            return None
        return next((x for x, m in lay.marks if m.rid == rid), None)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position()
            mark = self.mark_at(pos.x(), pos.y())
            if mark is not None:
                self.select(mark.rid)
                self.mark_clicked.emit(mark.rid)
                event.accept()
                return
        super().mousePressEvent(event)

    def event(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ToolTip and self.timeline is not None:
            assert isinstance(event, QtGui.QHelpEvent)
            mark = self.mark_at(event.pos().x(), event.pos().y())
            if mark is None:
                QtWidgets.QToolTip.hideText()
            else:
                QtWidgets.QToolTip.showText(event.globalPos(), (
                    f"{mark.record_id or mark.rid}: {mark.action or '?'} by "
                    f"{mark.actor_id or '?'}\n{_when(mark.ts_utc, mark.ts, seconds=True)}\n"
                    f"{PLACE_TEXT[mark.place]}; {verdict_text(self.timeline, mark)}\n"
                    "Click to see it and its findings."), self)
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
        # the window bar, in the register's own words
        if lay.window is not None:
            x0, x1 = lay.window
            fill, edge, pattern, line = _bar_style(tl.standing)
            bar = QtCore.QRectF(x0, self.BAR_Y, max(2.0, x1 - x0), self.BAR_H)
            pen = QtGui.QPen(QtGui.QColor(edge), 1.5)
            pen.setStyle(line)
            p.setPen(pen)
            p.setBrush(QtGui.QColor(fill))
            p.drawRect(bar)
            if pattern is not Qt.BrushStyle.SolidPattern:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QtGui.QBrush(QtGui.QColor(edge), pattern))
                p.drawRect(bar)
            if lay.cancel_x is not None and x0 <= lay.cancel_x < x1:
                cut = QtCore.QRectF(lay.cancel_x, self.BAR_Y, x1 - lay.cancel_x, self.BAR_H)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QtGui.QBrush(QtGui.QColor(COLORS["cancel_line"]),
                                        Qt.BrushStyle.BDiagPattern))
                p.drawRect(cut)
            p.setPen(text_color)
            label = STANDING_TEXT.get(tl.standing, "")
            metrics = p.fontMetrics()
            room = x1 - x0 - 8
            if metrics.horizontalAdvance(label) <= room:
                p.drawText(QtCore.QRectF(x0 + 4, self.BAR_Y, room, self.BAR_H),
                           int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                           label)
            else:  # a short window: the words go above it, never lost
                p.drawText(QtCore.QPointF(x0, self.BAR_Y - 4), label)
        else:
            p.setPen(text_color)
            p.drawText(QtCore.QPointF(lay.left, self.BAR_Y + 18),
                       f"The {tl.kind} {tl.id} was not imported: no window to compare with.")
        if lay.cancel_x is not None:
            p.setPen(QtGui.QPen(QtGui.QColor(COLORS["cancel_line"]), 2))
            p.drawLine(QtCore.QPointF(lay.cancel_x, self.BAR_Y - 8),
                       QtCore.QPointF(lay.cancel_x, self.MARK_Y + self.MARK_H))
            p.drawText(QtCore.QPointF(lay.cancel_x + 4, self.BAR_Y - 10), "cancelled")
        # operations: red when a rule flags them, blue when none does
        for x, mark in lay.marks:
            color = QtGui.QColor(COLORS["flagged"] if mark.flagged else COLORS["covered"])
            p.setPen(QtGui.QPen(color, 3 if mark.flagged else 2))
            p.drawLine(QtCore.QPointF(x, self.MARK_Y), QtCore.QPointF(x, self.MARK_Y
                                                                      + self.MARK_H))
            if mark.rid == self.selected:
                p.setPen(QtGui.QPen(text_color, 1.5))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(QtCore.QRectF(x - 4, self.MARK_Y - 3, 8, self.MARK_H + 6))
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
        tl = self.timeline
        standing = tl.standing if tl is not None else "valid"
        window = {"refused": "refused (never in force)", "pending": "approval pending",
                  "open": "case open"}.get(standing, "validity window")
        entries = [("window", window), ("covered", "no rule flags it"),
                   ("flagged", "a rule flags it"), ("cancel_line", "cancelled")]
        x, y = float(self.MARGIN), 14.0
        metrics = p.fontMetrics()
        for key, label in entries:
            if key == "window":
                fill, edge, pattern, line = _bar_style(standing)
                pen = QtGui.QPen(QtGui.QColor(edge), 1.5)
                pen.setStyle(line)
                p.setPen(pen)
                p.setBrush(QtGui.QColor(fill))
                p.drawRect(QtCore.QRectF(x, y, 16, 11))
                if pattern is not Qt.BrushStyle.SolidPattern:
                    p.setBrush(QtGui.QBrush(QtGui.QColor(edge), pattern))
                    p.drawRect(QtCore.QRectF(x, y, 16, 11))
            else:
                p.setPen(QtGui.QPen(QtGui.QColor(COLORS[key]), 1.5))
                p.setBrush(QtGui.QColor(COLORS[key]))
                p.drawRect(QtCore.QRectF(x + 6, y - 1, 3, 13))
            p.setPen(text_color)
            p.drawText(QtCore.QPointF(x + 22, y + 10), label)
            x += 22 + metrics.horizontalAdvance(label) + 22


class TimelineDialog(QtWidgets.QDialog):
    """Asks for an id, draws its timeline, lists every operation citing it with what the
    rules say, and the findings of the selected one."""

    open_record = Signal(int)
    """The user asked to see an operation (row id) in the operations browser."""
    open_finding = Signal(str)
    """The user asked to see a finding (id) in the findings list."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None,
                 kind: str = "authorisation", ident: str = "") -> None:
        super().__init__(parent)
        self.session = session
        self.tl: Timeline | None = None
        self._pack: tuple[str | None, Pack] | None = None
        self.setWindowTitle("Timeline")
        self.resize(980, 660)
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
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.canvas = TimelineWidget()
        self.canvas.mark_clicked.connect(self.select_operation)
        self.table = TableModel(["Time", "Action", "Actor", "Record id", "Where", "Rules"])
        self.table_view = make_table(self.table, stretch_last=True)
        self.table_view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table_view.doubleClicked.connect(lambda _index: self._open_operation())
        self.table_label = QtWidgets.QLabel("Operations citing it:")
        self.findings = TableModel(["Finding", "Rule", "Severity", "Status", "Message"])
        self.findings_view = make_table(self.findings, stretch_last=True)
        self.findings_view.doubleClicked.connect(lambda _index: self._open_finding())
        self.findings_label = QtWidgets.QLabel("Select an operation (or click its tick) to "
                                               "see its findings.")
        self.findings_label.setWordWrap(True)
        self.record_button = QtWidgets.QPushButton("Show the &operation")
        self.record_button.setToolTip("Open it in the operations browser.")
        self.record_button.clicked.connect(self._open_operation)
        self.finding_button = QtWidgets.QPushButton("Show the &finding")
        self.finding_button.setToolTip("Open the selected finding in the findings list.")
        self.finding_button.clicked.connect(self._open_finding)
        self.record_button.setEnabled(False)
        self.finding_button.setEnabled(False)
        self.findings_view.selectionModel().currentRowChanged.connect(
            lambda current, _prev: self.finding_button.setEnabled(current.isValid()))
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.findings_label, 1)
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.finding_button)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        lower = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        ops = QtWidgets.QWidget()
        ops_layout = QtWidgets.QVBoxLayout(ops)
        ops_layout.setContentsMargins(0, 0, 0, 0)
        ops_layout.addWidget(self.table_label)
        ops_layout.addWidget(self.table_view, 1)
        found = QtWidgets.QWidget()
        found_layout = QtWidgets.QVBoxLayout(found)
        found_layout.setContentsMargins(0, 0, 0, 0)
        found_layout.addLayout(buttons)
        found_layout.addWidget(self.findings_view, 1)
        lower.addWidget(ops)
        lower.addWidget(found)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.canvas)
        layout.addWidget(lower, 1)
        layout.addWidget(close)
        if ident:
            self.show_timeline()

    def judge(self) -> Pack:
        """The workspace's active pack, parsed again only when it changed."""
        sha = self.session.read(active_sha256)
        if self._pack is None or self._pack[0] != sha:
            self._pack = (sha, self.session.read(active_pack))
        return self._pack[1]

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
            tl = self.session.read(timeline, str(self.kind.currentData()), ident,
                                   self.judge())
        except OversightError as exc:
            self.summary.setText(html.escape(exc.message))
            return
        except Exception as exc:  # a bug: reported with its details
            self.session.prompts.error(self, exc)
            return
        self.set_timeline(tl)

    def set_timeline(self, tl: Timeline) -> None:
        self.tl = tl
        self.canvas.set_timeline(tl)
        self.summary.setText(_summary(tl, self))
        rows: list[tuple[Any, ...]] = []
        colors: list[str | None] = []
        for m in tl.marks:
            rows.append((_when(m.ts_utc, m.ts, seconds=True), m.action or "",
                         m.actor_id or "", m.record_id or str(m.rid), PLACE_TEXT[m.place],
                         ", ".join(m.rules) if m.rules else "none"))
            colors.append(COLORS["flagged"] if m.flagged else COLORS["covered"])
        self.table.set_rows(rows, colors)
        self.table_view.resizeColumnsToContents()
        flagged = sum(1 for m in tl.marks if m.flagged)
        self.table_label.setText(
            f"Operations citing it ({len(tl.marks):,}; {flagged:,} flagged by a rule, "
            f"{len(tl.marks) - flagged:,} not):" if tl.marks else "No operation cites it.")
        self.findings.set_rows([])
        self.record_button.setEnabled(False)
        self.finding_button.setEnabled(False)

    # -- one operation ---------------------------------------------------------------

    def current_mark(self) -> Mark | None:
        index = self.table_view.currentIndex()
        if self.tl is None or not index.isValid() or index.row() >= len(self.tl.marks):
            return None
        return self.tl.marks[index.row()]

    def select_operation(self, rid: int) -> None:
        """Select operation ``rid`` in the list (a click on its tick)."""
        if self.tl is None:
            return
        row = next((i for i, m in enumerate(self.tl.marks) if m.rid == rid), -1)
        if row < 0:
            return
        index = self.table.index(row, 0)
        self.table_view.selectionModel().setCurrentIndex(
            index, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        self.table_view.scrollTo(index)

    def _row_changed(self, current: QtCore.QModelIndex, _previous: QtCore.QModelIndex) -> None:
        mark = self.current_mark()
        self.canvas.select(mark.rid if mark is not None else None)
        self.record_button.setEnabled(mark is not None)
        self.findings.set_rows([])
        self.finding_button.setEnabled(False)
        if mark is None or self.tl is None or not self.session.ready:
            return
        try:
            found = self.session.read(browse.findings_of_record, mark.rid)
        except OversightError as exc:
            self.findings_label.setText(html.escape(exc.message))
            return
        self.findings.set_rows([(f["id"], f["rule_id"], f["severity"],
                                 str(f["status"]).replace("_", " "), f["message"])
                                for f in found])
        self.findings_view.resizeColumnsToContents()
        name = mark.record_id or str(mark.rid)
        self.findings_label.setText(
            f"{name}: {verdict_text(self.tl, mark)}. "
            + (f"Findings of the last detection run: {len(found)}." if found else
               "No stored finding rests on it (run detection to record one)."))

    def _open_operation(self) -> None:
        mark = self.current_mark()
        if mark is not None:
            self.open_record.emit(mark.rid)

    def _open_finding(self) -> None:
        index = self.findings_view.currentIndex()
        if index.isValid():
            self.open_finding.emit(str(self.findings.row_values(index.row())[0]))


def _summary(tl: Timeline, widget: QtWidgets.QWidget) -> str:
    """The timeline in words: the window as the register says it, and what the rules
    say about the operations."""
    counts = tl.counts()
    what = "Authorisation" if tl.kind == "authorisation" else "Case"
    if tl.found:
        window = f"{_when(tl.start, tl.start_text)} → {_when(tl.end, tl.end_text)}"
        if tl.cancelled is not None:
            window += f", cancelled {_when(tl.cancelled, tl.cancelled_text, seconds=True)}"
        if tl.approval is not None:
            window += f"; {APPROVAL_TEXT.get(tl.approval, tl.approval)}"
    else:
        window = "not imported"
    extra = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in tl.details.items()
                      if k != "approval")
    bad = readable(COLORS["flagged"], widget)
    lines = [f"<b>{what} {html.escape(tl.id)}</b>: "
             + (f"<span style='color:{bad}'><b>{html.escape(window)}</b></span>"
                if tl.standing in ("refused", "pending", "not imported")
                else html.escape(window))
             + (f" ({html.escape(extra)})" if extra else "")]
    flagged = [m for m in tl.marks if m.flagged]
    per_rule = ", ".join(f"{rule_id} {n:,}" for rule_id, n in tl.flagged_counts().items()
                         if n)
    judged = (f"{tl.total:,} operations cite it. By the rules of {html.escape(tl.pack)}: "
              + (f"<span style='color:{bad}'><b>{len(flagged):,} flagged</b> "
                 f"({html.escape(per_rule)})</span>, " if flagged else "none flagged, ")
              + f"{len(tl.marks) - len(flagged):,} not flagged")
    if len(tl.marks) < tl.total:
        judged += f"; the first {len(tl.marks):,} are drawn and judged"
    lines.append(judged + ".")
    if tl.found:
        where = [f"{counts['inside']:,} inside the window"]
        for place, word in (("before", "before it"), ("after", "after it"),
                            ("cancelled", "at or after the cancellation"),
                            ("undated", "without a time")):
            if counts[place]:
                where.append(f"{counts[place]:,} {word}")
        lines.append("On the axis: " + ", ".join(where) + ".")
    if tl.not_evaluated:
        lines.append("Not evaluated: " + "; ".join(
            f"{html.escape(k)} ({html.escape(v)})" for k, v in tl.not_evaluated.items()) + ".")
    return "<br>".join(lines)
