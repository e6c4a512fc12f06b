"""The dashboard: where the review stands, at a glance.

Its first line says what needs attention; every count on it, every bar and column of
the charts and every count of the per-rule table opens the findings it counts
(``show_findings`` carries the filters, ``show_approvals`` the four-eyes page).
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from oversight import browse, findings, queries, scans
from oversight.criteria.pack import SEVERITIES
from oversight.findings import STATUSES, list_runs
from oversight.workspace import Permission
from ui.lazy_page import LazyPage
from ui.models import SEVERITY_COLORS, TableModel
from ui.qt import Qt, QtWidgets, Signal
from ui.session import Session
from ui.widgets import BarChart, ColumnChart, make_table, readable

__all__ = ["STATUS_COLORS", "DashboardPage", "findings_per_month", "warnings_cell"]

STATUS_COLORS = {"open": "#5f6368", "in_review": "#1a73e8", "pending_approval": "#e8710a",
                 "confirmed": "#b3261e", "escalated": "#8e24aa", "dismissed": "#9aa0a6"}
OK_COLOR, BAD_COLOR = "#188038", "#b3261e"
_STATUS_ORDER = ("open", "in_review", "pending_approval", "confirmed", "escalated",
                 "dismissed")
#: The per-rule table: (header, status filter of the count or None for every status).
#: The counts add up: Findings = Open + In review + Pending + Escalated + Decided.
RULE_COLUMNS = (("Findings", None), ("Open", "open"), ("In review", "in_review"),
                ("Pending", "pending_approval"), ("Escalated", "escalated"),
                ("Decided", findings.DECIDED))
_FIRST_COUNT = 3  # Rule, Title, Severity, then the counts


def _link(text: str, **filters: str) -> str:
    """A count on the summary lines that opens the findings it counts."""
    return f"<a href='findings:{html.escape(urlencode(filters))}'>{text}</a>"


def findings_per_month(findings: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(YYYY-MM, count) of findings by the UTC month of their first record, from the
    first month to the last with the empty months in between (no time: left out)."""
    counts: Counter[tuple[int, int]] = Counter()
    for f in findings:
        micros = f.get("first_ts_utc")
        if micros is None:
            continue
        moment = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
        counts[(moment.year, moment.month)] += 1
    if not counts:
        return []
    (year, month), last = min(counts), max(counts)
    out = []
    while (year, month) <= last:
        out.append((f"{year:04d}-{month:02d}", counts.get((year, month), 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


_STATUS_SHOWN = tuple(st for st in _STATUS_ORDER if st in STATUSES)


#: Scans listed under the dashboard's sources (the latest ones).
SCANS_SHOWN = 5

def _group(title: str, *widgets: QtWidgets.QWidget) -> QtWidgets.QGroupBox:
    box = QtWidgets.QGroupBox(title)
    layout = QtWidgets.QVBoxLayout(box)
    for w in widgets:
        layout.addWidget(w)
    return box


class DashboardPage(LazyPage):
    verify_requested = Signal()
    show_findings = Signal(dict)
    """Open the findings list with these filters (status, severity, rule, assignee,
    month)."""
    show_approvals = Signal()
    show_operations = Signal()

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.attention = QtWidgets.QLabel()
        self.attention.setWordWrap(True)
        self.attention.setTextFormat(Qt.TextFormat.RichText)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        for label in (self.attention, self.summary):
            # Links open by mouse, and by Tab and Enter.
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            label.linkActivated.connect(self._link)
        self.severity_chart = BarChart()
        self.severity_chart.setToolTip("Click a bar to list those findings.")
        self.severity_chart.clicked.connect(
            lambda i: self._open(severity=self.severity_chart.bars()[i][0]))
        self.status_chart = BarChart()
        self.status_chart.setToolTip("Click a bar to list those findings.")
        self.status_chart.clicked.connect(
            lambda i: self._open(status=_STATUS_SHOWN[i]))
        self.month_chart = ColumnChart()
        self.month_chart.setMaximumHeight(110)
        self.month_chart.setToolTip("Findings by the month of their first record (UTC); "
                                    "click a column to list them.")
        self.month_chart.clicked.connect(
            lambda i: self._open(month=self.month_chart.columns()[i][0]))
        self.rules = TableModel(["Rule", "Title", "Severity",
                                 *(name for name, _ in RULE_COLUMNS)])
        self.rules_view = make_table(self.rules, stretch_last=False)
        self.rules_view.setToolTip("Click a count to list those findings.")
        self.rules_view.clicked.connect(self._rule_clicked)
        self.rules_view.activated.connect(self._rule_clicked)
        header = self.rules_view.horizontalHeader()
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in range(self.rules.columnCount()):
            if col != 1:
                header.setSectionResizeMode(
                    col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.run_label = QtWidgets.QLabel()
        self.run_label.setWordWrap(True)
        self.run_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_label = QtWidgets.QLabel()
        self.verify_label.setWordWrap(True)
        self.verify_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.verify_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_button = QtWidgets.QPushButton("Verify now")
        self.verify_button.setToolTip("Recompute the audit chain and the digests of every "
                                      "imported batch (runs in the background).")
        self.verify_button.clicked.connect(self.verify_requested)
        self.batches = TableModel(["Batch", "Kind", "File", "Imported", "Rejected", "By",
                                   "When", "Warnings", "SHA-256"])
        self.batches_view = make_table(self.batches)
        bheader = self.batches_view.horizontalHeader()
        for col in range(8):
            bheader.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

        verify_row = QtWidgets.QHBoxLayout()
        verify_row.addWidget(self.verify_label, 1)
        verify_row.addWidget(self.verify_button, 0, Qt.AlignmentFlag.AlignTop)
        verify_box = QtWidgets.QGroupBox("Integrity")
        verify_box.setLayout(verify_row)

        grid = QtWidgets.QGridLayout()
        top = QtWidgets.QVBoxLayout()
        top.addWidget(self.attention)
        top.addWidget(self.summary)
        grid.addLayout(top, 0, 0, 1, 2)
        grid.addWidget(_group("Findings by severity", self.severity_chart), 1, 0)
        grid.addWidget(_group("Findings by status", self.status_chart), 1, 1)
        grid.addWidget(_group("Findings over time (by month of first record)",
                              self.month_chart), 2, 0, 1, 2)
        # The per-rule table spans the page: titles and six counts need the width.
        grid.addWidget(_group("Findings per rule (click a count to list those findings)",
                              self.rules_view), 3, 0, 1, 2)
        grid.addWidget(_group("Last detection run", self.run_label), 4, 0)
        grid.addWidget(verify_box, 4, 1)
        # Scans in place (oversight.scans): the provenance of each, under its batches.
        self.scans = QtWidgets.QLabel()
        self.scans.setWordWrap(True)
        self.scans.setTextFormat(Qt.TextFormat.PlainText)
        self.scans.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scans.hide()
        grid.addWidget(_group("Sources imported", self.batches_view, self.scans), 5, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(3, 1)

        inner = QtWidgets.QWidget()
        inner.setLayout(grid)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        session.locked_changed.connect(self._locked)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        ok = self.session.can(Permission.READ)
        self.verify_button.setEnabled(ok and self.session.ready)

    # -- opening what a count counts -----------------------------------------------------

    def _open(self, **filters: str) -> None:
        self.show_findings.emit(filters)

    def _link(self, href: str) -> None:
        kind, _, query = href.partition(":")
        if kind == "approvals":
            self.show_approvals.emit()
        elif kind == "operations":
            self.show_operations.emit()
        elif kind == "findings":
            self._open(**dict(parse_qsl(html.unescape(query))))

    def _rule_clicked(self, index: Any) -> None:
        if not index.isValid():
            return
        rule = str(self.rules.row_values(index.row())[0])
        column = index.column() - _FIRST_COUNT
        status = RULE_COLUMNS[column][1] if 0 <= column < len(RULE_COLUMNS) else None
        self._open(rule=rule, **({"status": status} if status else {}))

    # -- refreshing --------------------------------------------------------------------

    def ready_now(self, ready: bool) -> None:
        self.verify_button.setEnabled(ready)

    def _locked(self, locked: bool) -> None:
        if locked:
            self.clear()

    def clear(self) -> None:
        self._stale = True
        self.attention.clear()
        self.summary.clear()
        self.severity_chart.set_bars([])
        self.status_chart.set_bars([])
        self.month_chart.set_columns([])
        self.rules.set_rows([])
        self.batches.set_rows([])
        self.scans.clear()
        self.scans.hide()
        self.run_label.clear()
        self.verify_label.clear()

    def refresh(self) -> None:
        if not self.session.ready:
            return
        try:
            found = self.session.read(findings.list_findings)
            runs = self.session.read(list_runs)
            batches = self.session.read(queries.batches)
            operations = self.session.read(browse.count)
            scanned = self.session.read(scans.scans)
        except Exception as exc:  # a damaged or vanished workspace: say so once
            self.session.prompts.error(self, exc)
            return
        self._stale = False
        self._fill(found, runs, batches, operations, scanned)

    def _fill(self, findings: list[dict[str, Any]], runs: list[dict[str, Any]],
              batches: list[dict[str, Any]], operations: int,
              scanned: list[scans.ScanProvenance] | None = None) -> None:
        s = self.session
        by_severity = Counter(str(f["severity"]) for f in findings)
        by_status = Counter(str(f["status"]) for f in findings)
        open_count = by_status.get("open", 0)
        self.attention.setText(self._attention(findings))
        self.summary.setText(
            f"<b>{_esc(s.folder.name)}</b> — signed in as <b>{_esc(s.user)}</b> "
            f"({s.role.value}). <a href='operations:'>{operations:,} operations</a>, "
            f"{_link(f'{len(findings):,} findings')}, "
            f"{_link(f'{open_count:,} open', status='open')}, "
            + _link(f"{by_status.get('pending_approval', 0):,} waiting for a second reviewer",
                    status="pending_approval") + ".")
        self.severity_chart.set_bars([(sev, by_severity.get(sev, 0), SEVERITY_COLORS[sev])
                                      for sev in reversed(SEVERITIES)])
        self.status_chart.set_bars([(st.replace("_", " "), by_status.get(st, 0),
                                     STATUS_COLORS[st]) for st in _STATUS_SHOWN])
        self.month_chart.set_columns(findings_per_month(findings))
        last = runs[-1] if runs else None
        titles: dict[str, str] = {}
        if last is not None:
            titles = {str(r["rule_id"]): str(r.get("title", "")) for r in last["rules"]}
        per_rule: dict[str, list[dict[str, Any]]] = {}
        for f in findings:
            per_rule.setdefault(str(f["rule_id"]), []).append(f)
        rows, colors = [], []
        for rule_id, items in per_rule.items():  # already most severe first
            severity = str(items[0]["severity"])
            counts = Counter(str(f["status"]) for f in items)
            decided = counts.get("confirmed", 0) + counts.get("dismissed", 0)
            rows.append((rule_id, titles.get(rule_id, ""), severity, len(items),
                         *(counts.get(st, 0) for _, st in RULE_COLUMNS[1:-1]), decided))
            colors.append(SEVERITY_COLORS.get(severity))
        self.rules.set_rows(rows, colors)
        if last is None:
            self.run_label.setText("No detection run yet. Use Workspace ▸ Run detection.")
        else:
            evaluated = sum(1 for r in last["rules"] if r.get("evaluated"))
            self.run_label.setText(
                f"Run {last['run_id']}: pack <b>{_esc(last['pack'])}</b> {_esc(last['version'])}"
                f"<br>{_esc(str(last['finished_at'])[:19].replace('T', ' '))} UTC by "
                f"{_esc(last['user'])}<br>{evaluated} of {len(last['rules'])} rules evaluated, "
                f"{last['hits']:,} hits, {last['new']:,} new findings"
                f"<br><small>pack SHA-256 {_esc(str(last['pack_sha256'])[:16])}…</small>")
        scanned = scanned or []
        by_batch = {f.batch_id: f for sc in scanned for f in sc.files}
        self.batches.set_rows([
            (b["batch_id"], b["kind"] + (" (scanned)" if b["batch_id"] in by_batch else ""),
             b["file"], b["rows_imported"], b["rows_rejected"],
             b["imported_by"], str(b["imported_at"])[:16].replace("T", " "),
             warnings_cell(b.get("warnings")),
             scans.NOT_COMPUTED if b["batch_id"] in by_batch
             and by_batch[b["batch_id"]].sha256 is None else str(b["sha256"])[:16] + "…")
            for b in batches])
        shown = scanned[-SCANS_SHOWN:]  # the latest; the Sources page has each batch's
        earlier = len(scanned) - len(shown)
        self.scans.setText("\n".join(([
            f"{earlier:,} earlier scan{'' if earlier == 1 else 's'} not shown."]
            if earlier else []) + [
            f"Scan of {sc.at[:16].replace('T', ' ')} UTC by {sc.user}: "
            f"{scans.summary_line(sc)}; " + "; ".join(
                f"{Path(f.file).name} (batch {f.batch_id}, {f.size:,} bytes, modified "
                f"{f.mtime[:16].replace('T', ' ')} UTC, SHA-256 "
                f"{f.sha256[:16] + '…' if f.sha256 else scans.NOT_COMPUTED}, "
                f"{f.rows_read:,} rows read, {f.rows_rejected:,} rejected)"
                for f in sc.files) + "." for sc in shown]))
        self.scans.setVisible(bool(scanned))
        # As tall as its rows (up to eight), so the rule table gets the rest.
        view = self.batches_view
        visible = max(1, min(8, len(batches)))
        view.setFixedHeight(view.horizontalHeader().height()
                            + visible * view.verticalHeader().defaultSectionSize()
                            + 2 * view.frameWidth() + 2)
        self.show_verify()

    def _attention(self, findings: list[dict[str, Any]]) -> str:
        """The first line: what needs this user's attention, each count a link."""
        s = self.session
        critical = sum(1 for f in findings
                       if f["severity"] == "critical" and f["status"] == "open")
        parts = [_link(f"{critical:,} critical open", severity="critical", status="open")
                 if critical else "no critical finding open"]
        if s.can(Permission.APPROVE):
            mine = sum(1 for f in findings if f["status"] == "pending_approval"
                       and f.get("pending_by") != s.user)
            parts.append(f"<a href='approvals:'>{mine:,} waiting for your approval</a>"
                         if mine else "none waiting for your approval")
        assigned = sum(1 for f in findings if f.get("assignee") == s.user)
        parts.append(_link(f"{assigned:,} assigned to you", assignee=s.user)
                     if assigned else "none assigned to you")
        return "<span style='font-size:large'><b>" + " · ".join(parts) + "</b></span>"

    def show_verify(self) -> None:
        report = self.session.last_verify
        if report is None:
            self.verify_label.setText("Not verified in this session. Verify recomputes the "
                                      "hash chain of the audit trail and every batch digest.")
            return
        chain = report.chain
        events = f"{chain.events:,} audit events" if chain is not None else "audit trail"
        if report.ok:
            ok = readable(OK_COLOR, self)
            self.verify_label.setText(
                f"<span style='color:{ok}'><b>Intact.</b></span> {events} and "
                f"{report.batches_checked} batches checked; no problem found.")
        else:
            problems = "".join(f"<li>{_esc(p)}</li>" for p in report.problems[:5])
            more = (f"<br>…and {len(report.problems) - 5} more." if len(report.problems) > 5
                    else "")
            bad = readable(BAD_COLOR, self)
            self.verify_label.setText(
                f"<span style='color:{bad}'><b>{len(report.problems)} problem(s) "
                f"found.</b></span><ul>{problems}</ul>{more}")


def warnings_cell(warnings: list[dict[str, Any]] | None) -> str:
    """A batch's import warnings in a sources list: codes and counts (the Log quality page
    shows what each means)."""
    if warnings is None:
        return "not checked"
    return "; ".join(f"{w['code']} {w['count']:,}" for w in warnings) or "none"


def _esc(value: Any) -> str:
    return html.escape(str(value))
