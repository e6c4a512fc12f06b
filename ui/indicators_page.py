"""The Indicators page: compliance indicators per agency, channel, rule and period.

A table of the chosen grouping, bars of findings per 1,000 operations per agency,
channel and rule, and a line per month; filters (period, which findings count), an
optional comparison with an earlier detection run or another period; double-clicking a
cell lists the findings it counts (and opens one in the Findings page); the table
exports to CSV. The numbers come from `oversight.indicators`, computed in the background
(a million operations take a few seconds) with the same code as the CLI.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oversight import findings
from oversight.changes import NOTHING, Change
from oversight.errors import InputFileError, OversightError, UsageError
from oversight.findings import list_runs
from oversight.indicators import (
    COLUMNS,
    IndicatorQuery,
    Indicators,
    Row,
    compute_many,
    label_places,
    percent_text,
    points_text,
    rate_text,
)
from oversight.periods import parse_day, parse_period
from oversight.progress import CancelToken, Progress
from oversight.workspace import Workspace
from ui.jobs import Job
from ui.models import MISSING, TableModel, status_text
from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.session import Session
from ui.widgets import make_table, paint_nothing_yet, painting, readable

__all__ = ["CHART_GROUPINGS", "FindingsOfCell", "IndicatorsPage", "LineChart", "RateChart"]

#: Groupings of the table (first choice), and of the charts beside it.
GROUPS = (("agency", "Agency"), ("channel", "Channel"), ("rule", "Rule"),
          ("severity", "Severity"), ("actor_role", "Actor role"), ("", "Nothing (totals)"))
TIMES = (("", "No time"), ("month", "Month"), ("quarter", "Quarter"))
CHART_GROUPINGS: tuple[tuple[str, ...], ...] = (("agency",), ("channel",), ("rule",),
                                                ("month",))
HEADERS = {"operations": "Operations", "findings": "Findings", "confirmed": "Confirmed",
           "dismissed": "Dismissed", "open": "Open", "per_1000": "Per 1,000",
           "decided": "Decided", "confirmed_rate": "Confirmed rate", "ci_low": "95% CI low",
           "ci_high": "95% CI high"}
CHANGE_HEADERS = ("Δ findings", "Δ per 1,000", "Δ confirmed rate", "Intervals overlap")
_BAR = "#1a73e8"


def _yes_no(value: Any) -> str:
    return "" if value is None else "yes" if value else "no"


def group_label(key: str, value: Any) -> str:
    """A group's value as shown: a month or quarter without one is "no time" (the
    operation has no time, or an implausible one), any other missing value the
    workstation's one word for it."""
    if value is not None and value != "":
        return str(value)
    return "no time" if key in ("month", "quarter") else MISSING


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column == "per_1000":
        return rate_text(value)
    if column in ("confirmed_rate", "ci_low", "ci_high"):
        return percent_text(value)
    return value


# -- charts -------------------------------------------------------------------------------


class RateChart(QtWidgets.QWidget):
    """Horizontal bars of a rate (findings per 1,000 operations), one per group."""

    def __init__(self, title: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._bars: list[tuple[str, float]] = []
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Preferred)

    def set_bars(self, bars: Sequence[tuple[str, float]]) -> None:
        self._bars = list(bars)
        self.setAccessibleDescription(f"{self.title}: " + ", ".join(
            f"{label} {rate_text(value)}" for label, value in self._bars))
        self.updateGeometry()
        self.update()

    def bars(self) -> list[tuple[str, float]]:
        return list(self._bars)

    def value_texts(self) -> list[str]:
        """The labels drawn beside the bars (indicators.label_places; a small rate is
        never written as zero)."""
        places = label_places(v for _, v in self._bars)
        return [rate_text(value, places) for _, value in self._bars]

    def _row(self) -> int:
        return self.fontMetrics().height() + 6

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(300, (len(self._bars) + 1) * self._row() + 8)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(180, (max(len(self._bars), 1) + 1) * self._row() + 8)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        with painting(self, antialias=False) as (painter, metrics, palette):
            text = palette.color(QtGui.QPalette.ColorRole.WindowText)
            row = self._row()
            bold = QtGui.QFont(self.font())
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(text)
            painter.drawText(QtCore.QRect(0, 0, self.width(), row),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.title)
            painter.setFont(self.font())
            if not self._bars:
                paint_nothing_yet(painter, palette, QtCore.QRect(0, row, self.width(), row),
                                  Qt.AlignmentFlag.AlignLeft)
                return
            label_w = max(metrics.horizontalAdvance(b[0]) for b in self._bars) + 10
            texts = self.value_texts()
            value_w = max(metrics.horizontalAdvance(v) for v in texts) + 10
            span = max(1, self.width() - label_w - value_w - 4)
            peak = max(max(b[1] for b in self._bars), 1e-9)
            top = row
            for (label, value), value_text in zip(self._bars, texts, strict=True):
                painter.setPen(text)
                painter.drawText(QtCore.QRect(0, top, label_w - 6, row),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 label)
                width = round(span * value / peak)
                if value and width < 2:
                    width = 2
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QtGui.QColor(_BAR))
                painter.drawRect(QtCore.QRectF(label_w, top + 3, width, row - 6))
                painter.setPen(text)
                painter.drawText(QtCore.QRect(label_w + width + 4, top, value_w, row),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 value_text)
                top += row


class LineChart(QtWidgets.QWidget):
    """One line over the months: findings per 1,000 operations."""

    def __init__(self, title: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._points: list[tuple[str, float]] = []
        self.setMinimumHeight(140)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Preferred)

    def set_points(self, points: Sequence[tuple[str, float]]) -> None:
        self._points = list(points)
        self.setAccessibleDescription(f"{self.title}: " + ", ".join(
            f"{label} {rate_text(value)}" for label, value in self._points))
        self.update()

    def points(self) -> list[tuple[str, float]]:
        return list(self._points)

    def peak_text(self) -> str:
        """The label at the top of the axis: the highest rate (0.08, not 0.1)."""
        peak = max((v for _, v in self._points), default=0.0)
        return rate_text(peak, label_places([peak]))

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(480, 160)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        with painting(self, antialias=True) as (painter, metrics, palette):
            text = palette.color(QtGui.QPalette.ColorRole.WindowText)
            line_h = metrics.height()
            bold = QtGui.QFont(self.font())
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(text)
            painter.drawText(QtCore.QRect(0, 0, self.width(), line_h + 4),
                             Qt.AlignmentFlag.AlignLeft, self.title)
            painter.setFont(self.font())
            if not self._points:
                paint_nothing_yet(painter, palette, self.rect(), Qt.AlignmentFlag.AlignCenter)
                return
            left = metrics.horizontalAdvance("0000.0") + 8
            top, bottom = line_h + 10, self.height() - line_h - 8
            width = max(1, self.width() - left - 8)
            peak = max(max(v for _, v in self._points), 1e-9)
            n = len(self._points)
            step = width / max(1, n - 1) if n > 1 else 0
            painter.setPen(palette.color(QtGui.QPalette.ColorRole.Mid))
            painter.drawLine(left, bottom, left + width, bottom)
            painter.setPen(text)
            painter.drawText(QtCore.QRect(0, top - line_h // 2, left - 4, line_h),
                             Qt.AlignmentFlag.AlignRight, self.peak_text())
            painter.drawText(QtCore.QRect(0, bottom - line_h // 2, left - 4, line_h),
                             Qt.AlignmentFlag.AlignRight, "0")
            xy = [QtCore.QPointF(left + i * step if n > 1 else left + width / 2,
                                 bottom - (bottom - top) * v / peak)
                  for i, (_, v) in enumerate(self._points)]
            pen = QtGui.QPen(QtGui.QColor(_BAR))
            pen.setWidthF(2)
            painter.setPen(pen)
            painter.drawPolyline(xy)
            painter.setBrush(QtGui.QColor(_BAR))
            for p in xy:
                painter.drawEllipse(p, 2.5, 2.5)
            painter.setPen(text)
            label_w = max(metrics.horizontalAdvance(lab) for lab, _ in self._points) + 8
            every = max(1, int(label_w // max(step, 1)) + 1) if n > 1 else 1
            for i, (label, _) in enumerate(self._points):
                if i % every == 0:
                    painter.drawText(QtCore.QRectF(xy[i].x() - label_w / 2, bottom + 3,
                                                   label_w, line_h),
                                     Qt.AlignmentFlag.AlignCenter, label)


# -- click-through ------------------------------------------------------------------------


class FindingsOfCell(QtWidgets.QDialog):
    """The findings one cell counts; Enter or a double-click opens one in Findings."""

    open_finding = Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None, title: str,
                 findings: list[dict[str, Any]]) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.model = TableModel(["Finding", "Rule", "Severity", "Status", "Message"])
        self.model.set_rows([(f["id"], f["rule_id"], f["severity"], status_text(f),
                              f["message"]) for f in findings])
        self.view = make_table(self.model)
        self.view.activated.connect(self._open)
        label = QtWidgets.QLabel(f"{len(findings):,} finding(s). Double-click or press Enter "
                                 "to open one in the Findings page.")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.view)
        layout.addWidget(buttons)
        self.resize(820, 420)

    def ids(self) -> list[str]:
        return [str(self.model.row_values(i)[0]) for i in range(self.model.rowCount())]

    def _open(self, index: QtCore.QModelIndex) -> None:
        fid = str(self.model.row_values(index.row())[0])
        self.open_finding.emit(fid)
        self.accept()


# -- the page -----------------------------------------------------------------------------


class IndicatorsPage(QtWidgets.QWidget):
    message = Signal(str)
    open_finding = Signal(str)
    computed = Signal()

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: Indicators | None = None
        self.charts: dict[tuple[str, ...], Indicators] = {}
        self.job: Job | None = None
        self._stale = True
        self._columns: list[str] = []
        self.cell_dialog: FindingsOfCell | None = None

        self.group = QtWidgets.QComboBox()
        for key, label in GROUPS:
            self.group.addItem(label, key)
        self.time = QtWidgets.QComboBox()
        for key, label in TIMES:
            self.time.addItem(label, key)
        self.date_from = QtWidgets.QLineEdit()
        self.date_from.setPlaceholderText("from YYYY-MM-DD")
        self.date_to = QtWidgets.QLineEdit()
        self.date_to.setPlaceholderText("to YYYY-MM-DD")
        self.status = QtWidgets.QComboBox()
        self.status.addItem("All findings", "any")
        self.status.addItem("Confirmed findings", "confirmed")
        self.status.setToolTip("Which findings the Findings and Per 1,000 columns count.")
        self.compare = QtWidgets.QComboBox()
        self.compare.setToolTip("Show the change against an earlier detection run or a "
                                "period.")
        self.compare_period = QtWidgets.QLineEdit()
        self.compare_period.setPlaceholderText("period: 2025-Q1 or 2025-03")
        self.compare_period.setEnabled(False)
        self.compare.currentIndexChanged.connect(
            lambda _i: self.compare_period.setEnabled(self.compare.currentData() == "period"))
        self.show_button = QtWidgets.QPushButton("Show")
        self.show_button.setDefault(True)
        self.show_button.clicked.connect(self.refresh)
        self.export_button = QtWidgets.QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.export_csv)
        self.export_button.setEnabled(False)
        for edit in (self.date_from, self.date_to, self.compare_period):
            edit.returnPressed.connect(self.refresh)
        self.error = QtWidgets.QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {readable('#b3261e', self)}")
        self.error.setWordWrap(True)
        self.basis = QtWidgets.QLabel()
        self.basis.setWordWrap(True)
        self.basis.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.model = TableModel([])
        self.view = make_table(self.model, stretch_last=False)
        self.view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.activated.connect(self.open_cell)
        self.view.setToolTip("Double-click a cell (or press Enter) to list the findings it "
                             "counts.")
        self.agency_chart = RateChart("Findings per 1,000 operations, by agency")
        self.channel_chart = RateChart("… by channel")
        self.rule_chart = RateChart("… by rule")
        self.month_chart = LineChart("Findings per 1,000 operations, by month")

        wide = self.fontMetrics().horizontalAdvance("period: 2025-Q1 or 2025-03") + 40
        for edit in (self.date_from, self.date_to, self.compare_period):
            edit.setMinimumWidth(min(wide, 260))
        filters = QtWidgets.QHBoxLayout()
        for label, widget in (("Group by", self.group), ("and", self.time),
                              ("Count", self.status), ("Compare with", self.compare)):
            filters.addWidget(QtWidgets.QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.compare_period)
        filters.addStretch(1)
        days = QtWidgets.QHBoxLayout()
        days.addWidget(QtWidgets.QLabel("Operations"))
        days.addWidget(self.date_from)
        days.addWidget(QtWidgets.QLabel("–"))
        days.addWidget(self.date_to)
        days.addStretch(1)
        days.addWidget(self.show_button)
        days.addWidget(self.export_button)
        charts = QtWidgets.QHBoxLayout()
        for chart in (self.agency_chart, self.channel_chart, self.rule_chart):
            charts.addWidget(chart, 1)
        inner = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(inner)
        column.addLayout(charts)
        column.addWidget(self.month_chart)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        split = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(days)
        layout.addWidget(self.error)
        layout.addWidget(self.basis)
        layout.addWidget(split, 1)

        session.changed.connect(self._changed)
        session.locked_changed.connect(self._locked)

    # -- state -------------------------------------------------------------------------

    def _changed(self, kinds: frozenset[Change]) -> None:
        if kinds & {Change.FINDINGS, Change.RUNS, Change.OPERATIONS, Change.BATCHES}:
            self._stale = True
            if self.isVisible() and self.job is None:
                self.refresh()

    def _locked(self, locked: bool) -> None:
        if locked:
            self.clear()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale and self.job is None:
            self.refresh()

    def clear(self) -> None:
        self._stale = True
        self.result = None
        self.charts = {}
        self.model.set_rows([])
        self.basis.clear()
        for chart in (self.agency_chart, self.channel_chart, self.rule_chart):
            chart.set_bars([])
        self.month_chart.set_points([])
        self.export_button.setEnabled(False)

    def _fill_runs(self) -> None:
        current = self.compare.currentData()
        self.compare.blockSignals(True)
        self.compare.clear()
        self.compare.addItem("Nothing", None)
        try:
            runs = self.session.read(list_runs)
        except OversightError:
            runs = []
        for run in runs[:-1]:  # the latest is what the table shows
            self.compare.addItem(f"Run {run['run_id']} ({str(run['started_at'])[:10]}, "
                                 f"{run['pack']} {run['version']})", str(run["run_id"]))
        self.compare.addItem("A period…", "period")
        found = self.compare.findData(current)
        self.compare.setCurrentIndex(max(found, 0))
        self.compare.blockSignals(False)
        self.compare_period.setEnabled(self.compare.currentData() == "period")

    # -- computing ---------------------------------------------------------------------

    def query(self) -> IndicatorQuery:
        """The query the controls describe (UsageError: a field is wrong, and which)."""
        by = tuple(k for k in (self.group.currentData(), self.time.currentData()) if k)
        first = self.date_from.text().strip()
        last = self.date_to.text().strip()
        compare = self.compare.currentData()
        if compare == "period":
            compare = self.compare_period.text().strip()
            if not compare:
                raise UsageError("Give the period to compare with, e.g. 2025-Q1.")
            parse_period(compare)  # a number here is a mistaken period, not a run
        return IndicatorQuery(by, parse_day(first, "The first day") if first else None,
                              parse_day(last, "The last day") if last else None,
                              str(self.status.currentData()), compare)

    def refresh(self) -> Job | None:
        if not self.session.ready or self.job is not None:
            return None
        if self.compare.count() == 0 or self._stale:
            self._fill_runs()
        try:
            query = self.query()
            query.check()
        except OversightError as exc:
            self.error.setText(exc.message)
            return None
        self.error.clear()
        groupings = [query.by] + [g for g in CHART_GROUPINGS if g != query.by]
        if query.compare_to is not None and not query.compare_to.isdigit():
            groupings = [g for g in groupings if not set(g) & {"month", "quarter"}]

        def work(ws: Workspace, progress: Progress, cancel: CancelToken
                 ) -> dict[tuple[str, ...], Indicators]:
            progress(0, 0, "counting")
            return compute_many(ws, query, groupings, cancel)

        job = self.session.start_job("Computing indicators", work, NOTHING, self._show,
                                     parent=self)
        if job is not None:
            self.job = job
            job.ended.connect(self._job_ended)
        return job

    def _job_ended(self) -> None:
        """(The session shows a job's error; the page keeps its sentence too.)"""
        job, self.job = self.job, None
        if job is not None and isinstance(job.error, OversightError) and not job.cancelled:
            self.error.setText(job.error.message)

    def _show(self, results: dict[tuple[str, ...], Indicators]) -> None:
        self._stale = False
        first = next(iter(results))
        self.result = results[first]
        self.charts = results
        self._fill_table(self.result)
        self._fill_charts()
        self.export_button.setEnabled(True)
        self.computed.emit()

    def _fill_table(self, result: Indicators) -> None:
        compare = result.meta.get("compare_to") is not None
        labels = dict(GROUPS) | dict(TIMES)
        headers = [labels.get(k, k) for k in result.by] + [HEADERS[c] for c in COLUMNS]
        self._columns = [*result.by, *COLUMNS]
        if compare:
            headers += list(CHANGE_HEADERS)
            self._columns += ["change_findings", "change_per_1000", "change_rate",
                              "change_overlap"]
        self.model.headers = headers
        rows = []
        for r in [*result.rows, result.total]:
            line: list[Any] = [r.group.get(k) or ("All" if r is result.total else
                                                   group_label(k, None))
                               for k in result.by]
            line += [_cell(c, getattr(r, c)) for c in COLUMNS]
            if compare:
                ch = r.change or {}
                line += [ch.get("findings"),
                         "" if ch.get("per_1000") is None else
                         rate_text(ch["per_1000"], sign=True),
                         "" if ch.get("confirmed_rate") is None else
                         points_text(ch["confirmed_rate"]),
                         _yes_no(ch.get("intervals_overlap"))]
            rows.append(line)
        self.model.set_rows(rows)
        self.view.resizeColumnsToContents()
        meta = result.meta
        left = {k: v for k, v in meta["left_out"].items() if v}
        seeds = ", ".join(f"{s['size']} of {s['population_size']} (seed {s['seed']})"
                          for s in meta["samples"])
        text = (f"Findings of <b>{html.escape(meta['pack']['id'])} "
                f"{html.escape(meta['pack']['version'])}</b> still matching (runs "
                f"{', '.join(map(str, meta['runs']))}); days and months in "
                f"{html.escape(meta['timezone'])}. Confirmed rate: confirmed among the "
                f"{meta['review']['decided']:,} decided, with a Wilson 95% interval; "
                f"{meta['review']['decided_in_a_sample']:,} of them in a drawn sample"
                + (f" ({html.escape(seeds)})" if seeds else "") + ".")
        if left:
            text += " Left out: " + ", ".join(
                f"{v:,} {k.replace('_', ' ')}" for k, v in left.items()) + "."
        compare_to = meta.get("compare_to")
        if compare_to:
            text += (f" Changes against run {compare_to['run_id']}." if compare_to["kind"]
                     == "run" else f" Changes against {compare_to['from']} to "
                     f"{compare_to['to']}.")
        self.basis.setText(text)

    def _fill_charts(self) -> None:
        for chart, by in ((self.agency_chart, ("agency",)), (self.channel_chart, ("channel",)),
                          (self.rule_chart, ("rule",))):
            result = self.charts.get(by)
            chart.set_bars([] if result is None else [
                (str(r.group[by[0]] or group_label(by[0], None)), float(r.per_1000 or 0))
                for r in result.rows])
        months = self.charts.get(("month",))
        self.month_chart.set_points([] if months is None else [
            (str(r.group["month"]), float(r.per_1000 or 0))
            for r in months.rows if r.group["month"] is not None])

    # -- click-through and export ------------------------------------------------------

    def cell_findings(self, row: int, column: int) -> tuple[Row, list[str]] | None:
        """The row and the findings a cell of the table counts."""
        if self.result is None:
            return None
        rows = [*self.result.rows, self.result.total]
        if not 0 <= row < len(rows) or not 0 <= column < len(self._columns):
            return None
        name = self._columns[column]
        if name in self.result.by or name.startswith("change_"):
            name = "findings"
        return rows[row], rows[row].finding_ids(name, self.result.meta["filters"]["status"])

    def open_cell(self, index: QtCore.QModelIndex) -> FindingsOfCell | None:
        found = self.cell_findings(index.row(), index.column())
        if found is None or not self.session.ready:
            return None
        row, ids = found
        wanted = set(ids)
        rows = [f for f in self.session.read(findings.list_findings) if f["id"] in wanted]
        where = ", ".join(f"{k} {v or '(none)'}" for k, v in row.group.items()) or "all"
        title = f"{self.model.headers[index.column()]}: {where}"
        dialog = FindingsOfCell(self, title, rows)
        dialog.open_finding.connect(self.open_finding)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None: setattr(self, "cell_dialog", None))
        self.cell_dialog = dialog
        dialog.open()
        return dialog

    def choose_save_path(self) -> Path | None:
        """Where to export (tests replace this method)."""
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export indicators",
                                                        "indicators.csv", "CSV (*.csv)")
        return Path(name) if name else None

    def export_csv(self) -> Path | None:
        if self.result is None:
            return None
        path = self.choose_save_path()
        if path is None:
            return None
        try:
            self.result.write_csv(path)
        except OSError as exc:
            self.session.prompts.error(self, InputFileError(
                f"Cannot write {path} ({exc.strerror or exc})."))
            return None
        self.message.emit(f"Exported {len(self.result.rows):,} rows of indicators to {path}.")
        return path
