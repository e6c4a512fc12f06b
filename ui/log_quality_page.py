"""The Log quality page: is the log itself complete and read correctly?

Two tables from one core call (`oversight.log_quality.overview`): the warnings each
import raised (no time, implausible times, local times that happened twice, repeated
rows), and the log-completeness rules of the latest detection run (DQ-01 to DQ-05 in
led-baseline) with their findings. A finding opens in the Findings page (Enter or a
double click), where it is triaged like any other.
"""

from __future__ import annotations

from typing import Any

from oversight import log_quality
from ui.errors import inline
from ui.lazy_page import LazyPage
from ui.models import SEVERITY_COLORS, TableModel
from ui.qt import Qt, QtWidgets, Signal
from ui.session import Session
from ui.widgets import make_table

__all__ = ["TITLE", "LogQualityPage", "rule_result"]

TITLE = "Log quality"


def rule_result(rule: dict[str, Any]) -> str:
    """A log-quality rule's result in the latest run, in words."""
    if not rule.get("evaluated"):
        return f"not evaluated: {rule.get('reason') or 'unknown'}"
    n = int(rule.get("findings") or 0)
    text = "nothing found" if not n else ("1 finding" if n == 1 else f"{n:,} findings")
    if rule.get("note"):
        text += f"; {rule['note']}"
    return text


class LogQualityPage(LazyPage):
    message = Signal(str)
    open_finding = Signal(str)

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(session, parent)
        self._finding_ids: list[str] = []
        self.intro = QtWidgets.QLabel(
            "Before its findings, the log itself: what each import noticed, and what the "
            "log-completeness rules (Directive (EU) 2016/680 Art. 25) found in the latest "
            "detection run. Open a finding to triage it.")
        self.intro.setWordWrap(True)
        self.warnings = TableModel(["Batch", "File", "Warning", "Rows", "First lines",
                                    "What was found"], self)
        self.warnings_view = make_table(self.warnings)
        self.warnings_view.setWordWrap(True)
        self.rules = TableModel(["Rule", "Title", "Result"], self)
        self.rules_view = make_table(self.rules)
        self.findings = TableModel(["Rule", "Severity", "Status", "Message"], self)
        self.findings_view = make_table(self.findings)
        self.findings_view.doubleClicked.connect(lambda index: self._open(index.row()))
        self.findings_view.activated.connect(lambda index: self._open(index.row()))
        self.status = QtWidgets.QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.refresh_button = QtWidgets.QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)

        layout = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.intro, 1)
        top.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        # The three tables share the height, and the person reading them can move the
        # borders. The pack's log-completeness rules (five) show whole at 1366x768; the
        # warnings, none for a clean import, get the least.
        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        for title, view, stretch in (("Warnings raised at import", self.warnings_view, 1),
                                     ("Log-completeness rules (latest run)", self.rules_view, 2),
                                     ("Log-completeness findings", self.findings_view, 3)):
            box = QtWidgets.QGroupBox(title)
            QtWidgets.QVBoxLayout(box).addWidget(view)
            self.splitter.addWidget(box)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)

        session.locked_changed.connect(self._locked)

    # -- loading -----------------------------------------------------------------------

    def ready_now(self, ready: bool) -> None:
        self.refresh_button.setEnabled(ready)

    def _locked(self, locked: bool) -> None:
        if locked:
            self._stale = True
            for model in (self.warnings, self.rules, self.findings):
                model.set_rows([])
            self._finding_ids = []
            self.status.clear()

    def refresh(self) -> None:
        if not self.session.ready:
            return
        try:
            doc = self.session.read(log_quality.overview)
        except Exception as exc:
            self.status.setText(inline(exc))
            return
        self._stale = False
        rows: list[tuple[Any, ...]] = []
        unchecked = 0
        for b in doc["batches"]:
            if b["warnings"] is None:
                unchecked += 1
                rows.append((b["batch_id"], b["file"], "not checked", "", "",
                             "imported before warnings were recorded"))
            for w in b["warnings"] or []:
                lines = ", ".join(str(n) for n in w.get("lines") or [])
                rows.append((b["batch_id"], b["file"], w["code"], w["count"], lines,
                             w["message"]))
        self.warnings.set_rows(rows)
        self.rules.set_rows([(r["id"], r["title"], rule_result(r)) for r in doc["rules"]],
                            [SEVERITY_COLORS.get(r["severity"]) for r in doc["rules"]])
        found = [f for f in doc["findings"] if f["matching"]]
        self._finding_ids = [f["id"] for f in found]
        self.findings.set_rows(
            [(f["rule_id"], f["severity"], str(f["status"]).replace("_", " "), f["message"])
             for f in found], [SEVERITY_COLORS.get(f["severity"]) for f in found])
        warned = sum(1 for r in rows if r[2] != "not checked")
        parts = [f"{warned:,} warning(s) in {len(doc['batches']):,} import(s)"]
        if unchecked:
            parts.append(f"{unchecked:,} import(s) not checked")
        if doc["run_id"] is None:
            parts.append("no detection run yet")
        elif not doc["rules"]:
            parts.append("the latest run's pack holds no log-completeness rule")
        else:
            parts.append(f"{len(found):,} log-completeness finding(s) in run {doc['run_id']}")
        self.status.setText("; ".join(parts) + ".")

    def _open(self, row: int) -> None:
        if 0 <= row < len(self._finding_ids):
            self.open_finding.emit(self._finding_ids[row])
