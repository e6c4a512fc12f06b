"""Findings triage: the list, its filters, the detail pane and the decisions.

Keyboard first: J/K move, C confirms (asks for a note), D dismisses (reason and note),
E escalates, R puts in review, O reopens, N adds a note, A assigns. Several selected
findings are decided together. The same page, in approval mode, lists the decisions
waiting for this user as the second reviewer (four-eyes): P approves, R returns.

The one-letter keys are not shortcuts of the window: they act only on a key pressed
in the findings list itself, so letters typed in a note, a filter box or any dialog
can never decide anything. Right after a dialog closes (or the window gets the focus
back) the list ignores them for a moment, so the tail of a sentence typed as a dialog
closes does not land on the list as decisions.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from oversight import findings, triage
from oversight.changes import Change
from oversight.criteria.pack import SEVERITIES
from oversight.findings import STATUSES
from oversight.workspace import Permission
from ui.errors import inline
from ui.models import (
    ID_ROLE,
    MISSING,
    SEVERITY_COLORS,
    FindingsModel,
    cell_text,
    shown,
    status_text,
    when_text,
)
from ui.prompts import reason_label
from ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from ui.session import Session
from ui.settings import Settings
from ui.widgets import make_table, readable, restore_header, save_header

__all__ = ["TriagePage", "detail_html", "registers_html"]

#: Seconds the list ignores one-letter keys after a dialog closed or it got the focus
#: back from another window.
QUIET_SECONDS = 0.6


def _e(value: Any) -> str:
    return html.escape(cell_text(value))


def _value(value: Any, grey: str = "#808080") -> str:
    """A fact or register value; a missing one (none, empty or blanks) in the same word
    as the operations grid (``ui.models.shown``)."""
    if not cell_text(value).strip():
        return f"<i style='color:{grey}'>{MISSING}</i>"
    return _e(when_text(value) if isinstance(value, str) else value)


def _when(value: Any) -> str:
    return str(value)[:16].replace("T", " ") if value else ""


def _ids(values: Any, limit: int = 12) -> str:
    """A list of ids, the first ``limit`` of them and how many more."""
    items = [str(v) for v in values] if isinstance(values, list | tuple) else (
        [str(values)] if values else [])
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" …and {len(items) - limit} more"
    return text


def _register_rows(kind: str, rec: dict[str, Any]) -> list[tuple[str, Any]]:
    f = rec.get("fields") or {}
    if kind == "authorisations":
        valid = f"{_when(f.get('valid_from'))} → {_when(f.get('valid_to'))}".strip(" →")
        issuer = str(f.get("issuer_id") or "")
        if f.get("issuer_role"):
            issuer += f" ({f['issuer_role']})"
        approval = str(f.get("approval") or "")
        if f.get("approved_at"):
            approval += f" on {_when(f['approved_at'])}"
        return [("regime", f.get("regime")), ("legal basis", f.get("legal_basis")),
                ("valid", valid), ("cancelled", _when(f.get("cancelled_at")) or None),
                ("issuer", issuer), ("approval", approval),
                ("urgent", "yes" if f.get("urgent") else "no"),
                ("case", f.get("case_id")),
                ("actions", _ids(f.get("actions")).replace("_", " ")),
                ("subjects", _ids(f.get("subject_ids")))]
    return [("offence", f.get("offence")), ("opened", _when(f.get("opened_at")) or None),
            ("closed", _when(f.get("closed_at")) or "still open"),
            ("team", _ids(f.get("team"))), ("subjects", _ids(f.get("subject_ids")))]


def registers_html(registers: dict[str, Any], grey: str = "#808080") -> str:
    """The authorisations and cases the finding's records cite (values escaped)."""
    out = []
    for key, title in (("authorisations", "Authorisation consulted"),
                       ("cases", "Case consulted")):
        for rec in registers.get(key) or []:
            ident = rec.get("record_id") or (rec.get("fields") or {}).get(
                "authorisation_id" if key == "authorisations" else "case_id")
            out.append(f"<h4>{title}: {_e(ident)}</h4><table cellspacing='0' cellpadding='2'>"
                       + "".join(f"<tr><td><b>{_e(k)}</b>&nbsp;</td><td>{_value(v, grey)}"
                                 "</td></tr>" for k, v in _register_rows(key, rec))
                       + "</table>")
    return "".join(out)


def _para(text: Any) -> str:
    return _e(text).replace("\n", "<br>")


def detail_html(d: dict[str, Any], widget: QtWidgets.QWidget | None = None) -> str:
    """A finding's detail pane (every user-provided value escaped). Colours are made
    readable on ``widget``'s base colour (else the application's), light or dark."""
    rule = d.get("rule") or {}
    sev = str(d["severity"])
    base = QtGui.QPalette.ColorRole.Base
    color = readable(SEVERITY_COLORS.get(sev, "#888888"), widget, base, 3.0)
    warn = readable("#e8710a", widget, base)
    grey = readable("#808080", widget, base)
    out = [
        f"<h3 style='margin-bottom:2px'><span style='color:{color}'>■</span> "
        f"{_e(d['rule_id'])} — {_e(rule.get('title', ''))}</h3>",
        f"<p style='margin-top:0'><b>{_e(sev)}</b> · {_e(status_text(d))}"
        + (f" · assigned to <b>{_e(d['assignee'])}</b>" if d.get("assignee") else "")
        + f"<br><small>finding {_e(d['id'])} · pack {_e(d['pack'])}"
        f" {_e(rule.get('version', ''))} · "
        + (f"runs {d['first_run']}–{d['last_run']}" if d.get("first_run") is not None
           else "received, found by no run here") + "</small></p>",
    ]
    out.extend(_received_mark(d.get("origin") or [], warn))
    if d.get("decided_by"):
        extra = f", approved by {_e(d['approved_by'])}" if d.get("approved_by") else ""
        out.append(f"<p><small>Decided by {_e(d['decided_by'])} on "
                   f"{_e(str(d['decided_at'])[:16].replace('T', ' '))}{extra}.</small></p>")
    if d.get("status") == "pending_approval":
        out.append(f"<p style='color:{warn}'><b>Waiting for a second reviewer:</b> "
                   f"{_e(d['pending_by'])} marked it {_e(d['pending_status'])}"
                   + (f" ({_e(reason_label(str(d['pending_reason'])))})"
                      if d.get("pending_reason") else "") + ".</p>")
    if not d.get("matching", True):
        out.append(f"<p style='color:{grey}'><b>No longer matching:</b> "
                   f"{_e(d.get('no_longer_matching_reason'))}</p>")
    out.append(f"<p style='font-size:large'>{_para(d['message'])}</p>")
    refs = d.get("legal_refs") or rule.get("legal_refs") or []
    if refs:
        out.append("<h4>Legal references</h4><ul>"
                   + "".join(f"<li>{_e(r)}</li>" for r in refs) + "</ul>")
    if rule.get("rationale"):
        out.append(f"<h4>Rationale</h4><p>{_para(rule['rationale'])}</p>")
    if rule.get("false_positives"):
        out.append(f"<p><i>Known false positives:</i> {_para(rule['false_positives'])}</p>")
    facts = d.get("facts") or {}
    flat: list[tuple[str, Any]] = []
    for key, value in facts.items():
        if isinstance(value, dict):
            flat.extend((k, v) for k, v in value.items())
        else:
            flat.append((key, value))
    if flat:
        out.append("<h4>Facts</h4><table cellspacing='0' cellpadding='2'>"
                   + "".join(f"<tr><td><b>{_e(k)}</b>&nbsp;</td><td>{_value(v, grey)}</td></tr>"
                             for k, v in flat) + "</table>")
    records = d.get("records") or []
    if records:
        listed = records[:50]
        out.append(f"<h4>Records involved ({len(d.get('record_ids') or records):,})</h4>")
        for r in listed:
            f = r["fields"]
            link = f"record:{int(r['rid'])}" if "rid" in r else ""
            parts = [f"<a href='{link}'><b>{_e(r['record_id'])}</b></a>" if link
                     else f"<b>{_e(r['record_id'])}</b>",
                     _e(when_text(f.get("ts"))),
                     f"{_e(shown(f.get('action')))} by {_e(shown(f.get('actor_id')))}"]
            if f.get("case_id"):
                parts.append(f"case {_e(f['case_id'])}")
            if f.get("subject_ids"):
                parts.append(f"subjects {_e(f['subject_ids'])}")
            if f.get("recipient_id"):
                parts.append(f"to {_e(f['recipient_id'])} ({_e(f.get('recipient_country'))})")
            out.append(f"<p style='margin:2px 0'>{' · '.join(parts)}</p>")
        if len(records) > len(listed):
            out.append(f"<p><small>…and {len(records) - len(listed)} more; the operations "
                       "browser shows them all.</small></p>")
    out.append(registers_html(d.get("registers") or {}, grey))
    history = d.get("history") or []
    out.append("<h4>History</h4>")
    if history:
        out.append("<table cellspacing='0' cellpadding='2'>")
        for h in history:
            if h["action"] == "assign":
                detail = h.get("detail") or {}
                what = f"assigned to {_e(detail.get('to') or 'nobody')}"
            elif h["action"] == "note":
                what = "added a note"
            elif h["action"] == "return":
                detail = h.get("detail") or {}
                returned = detail.get("returned") or {}
                proposal = str(returned.get("status") or "").replace("_", " ")
                if returned.get("reason"):
                    proposal += f" ({reason_label(str(returned['reason'])).lower()})"
                why = next((n["text"] for n in d.get("notes") or []
                            if h.get("note_id") is not None
                            and n.get("note_id") == h["note_id"]), None)
                what = (f"returned the decision {_e(proposal)} proposed by "
                        f"{_e(detail.get('proposed_by'))}: back to in review"
                        + (f", because: {_para(why)}" if why else ""))
            else:
                what = (f"{_e(h['action'])}: {_e(str(h['from']).replace('_', ' '))} → "
                        f"{_e(str(h['to']).replace('_', ' '))}")
                if h.get("reason"):
                    what += f" ({_e(reason_label(str(h['reason'])))})"
            out.append(f"<tr><td>{_e(str(h['ts'])[:16].replace('T', ' '))}&nbsp;</td>"
                       f"<td><b>{_e(h['user'])}</b>&nbsp;</td><td>{what}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p><small>No decision yet.</small></p>")
    notes = d.get("notes") or []
    out.append("<h4>Notes</h4>")
    if notes:
        for n in notes:
            refers = (f" (corrects note {n['refers_to']})" if n.get("refers_to") else "")
            out.append(f"<p><b>{_e(n['user'])}</b> <small>"
                       f"{_e(str(n['ts'])[:16].replace('T', ' '))}{refers}</small><br>"
                       f"{_para(n['text'])}</p>")
    else:
        out.append("<p><small>No notes.</small></p>")
    out.extend(origin_html(d.get("origin") or []))
    if rule.get("when"):
        out.append(f"<h4>Condition</h4><p><code>{_e(rule['when'])}</code></p>")
    return "".join(out)


def _received_mark(origin: list[dict[str, Any]], warn: str) -> list[str]:
    """The line that says a finding came from another body (review packages)."""
    out = []
    for o in origin:
        if o.get("kind") != "package":
            continue
        trust = "" if o.get("trusted") else (f" <span style='color:{warn}'>(signer NOT "
                                             "trusted; imported anyway)</span>")
        out.append(f"<p><b>Received</b> in package {_e(o['label'])} from "
                   f"{_e(o['body'])}/{_e(o['sender_user'])}, signed by "
                   f"{_e(o['signer'])}{trust}. Your decisions are your own; the sender's "
                   "are shown below, read-only.</p>")
    return out


def origin_html(origin: list[dict[str, Any]]) -> list[str]:
    """What other bodies said of a finding: the sender's decision, notes and history,
    or a reply's, attributed and read-only."""
    if not origin:
        return []
    out = ["<h4>Other bodies (read-only)</h4>"]
    for o in origin:
        status = str(o.get("status") or "").replace("_", " ")
        if o.get("reason"):
            status += f" ({reason_label(str(o['reason']))})"
        out.append(f"<p><b>{_e(o['attribution'])}</b> <small>({_e(o['label'])})</small>: "
                   f"{_e(status)}</p>")
        for h in o.get("history") or []:
            out.append(f"<p style='margin:0 0 0 12px'><small>"
                       f"{_e(str(h['ts'])[:16].replace('T', ' '))} {_e(h['by'])} "
                       f"{_e(h['action'])}: {_e(str(h['from']).replace('_', ' '))} → "
                       f"{_e(str(h['to']).replace('_', ' '))}</small></p>")
        for n in o.get("notes") or []:
            out.append(f"<p style='margin:2px 0 2px 12px'><b>{_e(n['by'])}</b> <small>"
                       f"{_e(str(n['ts'])[:16].replace('T', ' '))}</small><br>"
                       f"{_para(n['text'])}</p>")
    return out


class TriagePage(QtWidgets.QWidget):
    """The findings list with filters, detail and decisions (or, with ``approval``,
    the decisions waiting for this user's approval)."""

    message = Signal(str)
    open_record = Signal(int)
    """A record id in the detail was clicked: show that operation (its row id)."""

    def __init__(self, session: Session, settings: Settings, approval: bool = False,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.approval = approval
        self.key = "approvals" if approval else "findings"
        self._stale = True
        self._detail_id: str | None = None

        self.model = FindingsModel(self)
        self.view = make_table(self.model, multi=True)
        # Qt's default indicator is descending; ascending severity is most severe first.
        self.view.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)
        if not restore_header(settings, self.key, self.view):
            for column, width in enumerate((86, 70, 136, 100, 48)):
                self.view.setColumnWidth(column, width)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)

        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.detail = QtWidgets.QTextBrowser()
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._anchor)
        self.detail.setPlaceholderText("Select a finding to see its rule, facts, records, "
                                       "history and notes.")
        self.count_label = QtWidgets.QLabel()

        self.actions_: dict[str, QtGui.QAction] = {}
        self.keys: dict[int, str] = {}
        """Qt key -> action name, for keys pressed in the list."""
        self._quiet_until = 0.0
        self._ignored_said = False
        self.view.installEventFilter(self)
        self.toolbar = QtWidgets.QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        if approval:
            self._action("approve", "Approve", "P", Permission.APPROVE, self.approve_selected)
            self._action("return", "Return", "R", Permission.APPROVE, self.return_selected)
            self._action("note", "Note", "N", Permission.TRIAGE, self.note_selected)
        else:
            self._action("confirm", "Confirm", "C", Permission.TRIAGE, self.confirm_selected)
            self._action("dismiss", "Dismiss", "D", Permission.TRIAGE, self.dismiss_selected)
            self._action("escalate", "Escalate", "E", Permission.TRIAGE,
                         self.escalate_selected)
            self._action("review", "In review", "R", Permission.TRIAGE,
                         lambda: self._mark("in_review"))
            self._action("reopen", "Reopen", "O", Permission.TRIAGE,
                         lambda: self._mark("open"))
            self.toolbar.addSeparator()
            self._action("note", "Note", "N", Permission.TRIAGE, self.note_selected)
            self._action("assign", "Assign", "A", Permission.ASSIGN, self.assign_selected)
        self.toolbar.addSeparator()
        self._action("next", "Next", "J", None, lambda: self.step(1))
        self._action("previous", "Previous", "K", None, lambda: self.step(-1))

        top = QtWidgets.QVBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        if approval:
            self.policy_label = QtWidgets.QLabel()
            self.policy_label.setWordWrap(True)
            top.addWidget(self.policy_label)
        else:
            top.addLayout(self._filter_bar())
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.toolbar, 1)
        bar.addWidget(self.count_label)
        top.addLayout(bar)

        self.splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        state = settings.bytes_value(f"splitter/{self.key}")
        if state is None or not self.splitter.restoreState(state):
            self.splitter.setSizes([640, 460])
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

        session.changed.connect(self._changed)
        session.ready_changed.connect(self._ready)
        session.locked_changed.connect(self._locked)
        self.update_actions()

    # -- building ----------------------------------------------------------------------

    def _action(self, name: str, text: str, key: str, permission: Permission | None,
                slot: Callable[[], None]) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        action.setIconText(f"{text} ({key})")
        # No QAction shortcut: the key acts only when pressed in the list (eventFilter).
        action.setData(permission.value if permission is not None else None)
        action.setProperty("key", key)
        action.triggered.connect(slot)
        self.view.addAction(action)  # the list's right-click menu
        self.toolbar.addAction(action)
        self.actions_[name] = action
        self.keys[ord(key)] = name  # Qt.Key_A … Key_Z are the code points of A … Z
        return action

    # -- keys --------------------------------------------------------------------------

    def keys_ready(self) -> bool:
        """Whether a one-letter key pressed in the list acts now."""
        return time.monotonic() >= self._quiet_until

    def quiet(self, seconds: float = QUIET_SECONDS) -> None:
        """Ignore one-letter keys for ``seconds`` (after a dialog closes)."""
        self._quiet_until = max(self._quiet_until, time.monotonic() + seconds)
        self._ignored_said = False

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.view:
            if event.type() == QtCore.QEvent.Type.FocusIn:
                assert isinstance(event, QtGui.QFocusEvent)
                if event.reason() in (Qt.FocusReason.ActiveWindowFocusReason,
                                      Qt.FocusReason.PopupFocusReason):
                    self.quiet()  # back from a dialog or another window
            elif event.type() == QtCore.QEvent.Type.KeyPress:
                assert isinstance(event, QtGui.QKeyEvent)
                return self._key(event)
        return super().eventFilter(watched, event)

    def _key(self, event: QtGui.QKeyEvent) -> bool:
        """A key pressed in the list: True when it was ours (acted on or ignored)."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods not in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
            return False  # Ctrl+A, Ctrl+C and the window's own shortcuts
        name = self.keys.get(int(event.key()))
        if name is None:
            # Other letters would jump by the list's type-ahead search: a stray word
            # typed here moves nothing.
            return bool(event.text()) and event.text().isprintable() \
                and not event.text().isspace()
        if mods != Qt.KeyboardModifier.NoModifier:
            return True
        if event.isAutoRepeat() and name not in ("next", "previous"):
            return True  # a held key decides once
        if not self.keys_ready():
            if not self._ignored_said:
                self._ignored_said = True
                self.message.emit(f"Ignored {event.text().upper()}: keys act again a "
                                  "moment after a dialog closes.")
            return True
        action = self.actions_[name]
        if action.isEnabled():
            action.trigger()
        return True

    def _ask(self, question: Callable[..., Any], *args: Any) -> Any:
        """Ask through the prompts, then keep the list quiet for a moment."""
        try:
            return question(self, *args)
        finally:
            self.quiet()

    def _filter_bar(self) -> QtWidgets.QVBoxLayout:
        self.status_filter = QtWidgets.QComboBox()
        self.status_filter.addItem("Any status", None)
        for st in STATUSES:
            self.status_filter.addItem(st.replace("_", " "), st)
        self.status_filter.addItem("decided", findings.DECIDED)
        self.status_filter.setItemData(self.status_filter.count() - 1,
                                       "Confirmed or dismissed", Qt.ItemDataRole.ToolTipRole)
        self.severity_filter = QtWidgets.QComboBox()
        self.severity_filter.addItem("Any severity", None)
        for sev in reversed(SEVERITIES):
            self.severity_filter.addItem(sev, sev)
        self.rule_filter = QtWidgets.QComboBox()
        self.rule_filter.addItem("Any rule", None)
        self.rule_filter.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.text_filter = QtWidgets.QLineEdit()
        self.text_filter.setPlaceholderText("Search message, rule, id, assignee")
        self.text_filter.setClearButtonEnabled(True)
        self.matching_filter = QtWidgets.QCheckBox("Only still matching")
        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        for combo in (self.status_filter, self.severity_filter, self.rule_filter):
            combo.currentIndexChanged.connect(self.refresh)
        self.matching_filter.toggled.connect(self.refresh)
        self.text_filter.textChanged.connect(self._debounce.start)
        self.text_filter.returnPressed.connect(self._search_entered)
        self.text_filter.setToolTip("Ctrl+F comes here; Enter shows the findings found and "
                                    "moves to the list.")
        find = QtGui.QShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self.focus_search)
        row = QtWidgets.QHBoxLayout()
        for label, widget in (("&Status", self.status_filter),
                              ("Se&verity", self.severity_filter),
                              ("R&ule", self.rule_filter)):
            lab = QtWidgets.QLabel(label)
            lab.setBuddy(widget)
            row.addWidget(lab)
            row.addWidget(widget)
        row.addWidget(self.text_filter, 1)
        row.addWidget(self.matching_filter)
        # Filters the dashboard can set that have no box of their own: shown, clearable.
        self.extra: dict[str, str] = {}
        self.extra_label = QtWidgets.QLabel()
        self.extra_label.setTextFormat(Qt.TextFormat.PlainText)
        self.extra_clear = QtWidgets.QPushButton("Clear")
        self.extra_clear.setToolTip("Show findings of every assignee and month again.")
        self.extra_clear.clicked.connect(lambda: self.set_filters())
        extra_row = QtWidgets.QHBoxLayout()
        extra_row.addWidget(self.extra_label)
        extra_row.addWidget(self.extra_clear)
        extra_row.addStretch(1)
        self.extra_label.hide()
        self.extra_clear.hide()
        rows = QtWidgets.QVBoxLayout()
        rows.addLayout(row)
        rows.addLayout(extra_row)
        return rows

    def focus_search(self) -> None:
        """Ctrl+F: to the search box, its text selected."""
        self.text_filter.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.text_filter.selectAll()

    def _search_entered(self) -> None:
        """Enter in the search box: the findings found, and the keys to the list."""
        self._debounce.stop()
        self.refresh()
        if self.model.rowCount():
            if not self.view.currentIndex().isValid():
                self.step(0)
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_filters(self, status: str | None = None, severity: str | None = None,
                    rule: str | None = None, assignee: str | None = None,
                    month: str | None = None) -> None:
        """Show the findings the dashboard counted: these filters, every other one off."""
        if self.approval:
            return
        combos = ((self.status_filter, status), (self.severity_filter, severity),
                  (self.rule_filter, rule))
        for combo, _ in combos:
            combo.blockSignals(True)
        self.matching_filter.blockSignals(True)
        self.text_filter.blockSignals(True)
        try:
            if rule is not None and self.rule_filter.findData(rule) < 0:
                self.rule_filter.addItem(rule, rule)
            for combo, value in combos:
                combo.setCurrentIndex(max(0, combo.findData(value)) if value is not None
                                      else 0)
            self.text_filter.clear()
            self.matching_filter.setChecked(False)
        finally:
            for combo, _ in combos:
                combo.blockSignals(False)
            self.matching_filter.blockSignals(False)
            self.text_filter.blockSignals(False)
        self.extra = {k: v for k, v in (("assignee", assignee), ("month", month)) if v}
        parts = []
        if assignee:
            parts.append(f"assigned to {assignee}")
        if month:
            parts.append(f"first record in {month} (UTC)")
        self.extra_label.setText("Only findings " + " and ".join(parts) + "." if parts else "")
        self.extra_label.setVisible(bool(parts))
        self.extra_clear.setVisible(bool(parts))
        self.refresh()

    def filters(self) -> findings.FindingFilters:
        if self.approval:
            return findings.FindingFilters(pending_for=self.session.user)
        return findings.FindingFilters(
            status=self.status_filter.currentData(),
            severity=self.severity_filter.currentData(),
            rule=self.rule_filter.currentData(),
            text=self.text_filter.text(),
            matching=True if self.matching_filter.isChecked() else None,
            assignee=self.extra.get("assignee"),
            month=self.extra.get("month"),
        )

    # -- state -------------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        rows = sorted({ix.row() for ix in self.view.selectionModel().selectedRows()})
        return [self.model.ids()[r] for r in rows]

    def current_id(self) -> str | None:
        index = self.view.currentIndex()
        return str(index.data(ID_ROLE)) if index.isValid() else None

    def _anchor(self, url: QtCore.QUrl) -> None:
        rid = _record_rid(url)
        if rid is not None:
            self.open_record.emit(rid)

    def update_actions(self) -> None:
        ready = self.session.ready
        selected = bool(self.view.selectionModel().selectedRows()) if ready else False
        for name, action in self.actions_.items():
            perm = action.data()
            text = f"{action.text()} ({action.property('key')}, in the list)"
            if perm is not None and not self.session.can(Permission(perm)):
                action.setEnabled(False)
                action.setToolTip(self.session.why_not(Permission(perm)))
            elif name in ("next", "previous"):
                action.setEnabled(ready)
                action.setToolTip(text)
            else:
                action.setEnabled(ready and selected)
                action.setToolTip(text if selected else f"{text}: select findings first")
        count = self.model.rowCount()
        chosen = len(self.view.selectionModel().selectedRows())
        self.count_label.setText(
            f"{count:,} finding{'s' if count != 1 else ''}"
            + (f", {chosen} selected" if chosen > 1 else ""))

    # -- refreshing --------------------------------------------------------------------

    def _changed(self, kinds: frozenset[Change]) -> None:
        if kinds & {Change.FINDINGS, Change.RUNS}:
            self._stale = True
            if self.isVisible():
                self.refresh()

    def _ready(self, ready: bool) -> None:
        self.update_actions()
        if ready and self._stale and self.isVisible():
            self.refresh()

    def _locked(self, locked: bool) -> None:
        if locked:
            self.model.clear()
            self.detail.clear()
            self._detail_id = None
            self._stale = True

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
        self.view.setFocus()

    def refresh(self) -> None:
        """Reload the list for the filters; keep the selection and current finding."""
        if not self.session.ready:
            self._stale = True
            return
        keep = set(self.selected_ids())
        current = self.current_id()
        current_row = self.view.currentIndex().row()
        try:
            rows = self.session.read(findings.list_findings, self.filters())
            if self.approval:
                policy = self.session.read(triage.four_eyes).value
                self.policy_label.setText(self._policy_text(policy))
            else:
                self._fill_rules()
        except Exception as exc:  # shown as a sentence; the list keeps what it had
            self.session.prompts.error(self, exc)
            return
        self._stale = False
        self.model.set_rows(rows)
        self._restore(keep, current, current_row)
        self.update_actions()

    def _policy_text(self, policy: str) -> str:
        if policy == "off":
            scope = "Four-eyes approval is off in this workspace."
        else:
            which = "critical" if policy == "critical" else "high and critical"
            scope = (f"Four-eyes approval: confirming or dismissing a {which} finding waits "
                     "here until a second, different reviewer approves it.")
        if not self.session.can(Permission.APPROVE):
            scope += " " + self.session.why_not(Permission.APPROVE)
        return scope

    def _fill_rules(self) -> None:
        rules = sorted({str(r["rule_id"]) for r in self.session.read(findings.list_findings)})
        current = self.rule_filter.currentData()
        known = [self.rule_filter.itemData(i) for i in range(1, self.rule_filter.count())]
        if known == rules:
            return
        self.rule_filter.blockSignals(True)
        self.rule_filter.clear()
        self.rule_filter.addItem("Any rule", None)
        for rule in rules:
            self.rule_filter.addItem(rule, rule)
        index = self.rule_filter.findData(current) if current is not None else 0
        self.rule_filter.setCurrentIndex(max(0, index))
        self.rule_filter.blockSignals(False)

    def _restore(self, keep: set[str], current: str | None, current_row: int) -> None:
        sel = self.view.selectionModel()
        flags = (QtCore.QItemSelectionModel.SelectionFlag.Select
                 | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        selection = QtCore.QItemSelection()
        for fid in keep:
            row = self.model.row_of(fid)
            if row >= 0:
                selection.select(self.model.index(row, 0), self.model.index(row, 0))
        row = self.model.row_of(current) if current is not None else -1
        if row < 0 and self.model.rowCount():
            # The current finding left the list (a decision moved it out of the filter):
            # the next one takes its place, so triage goes on without reaching for the mouse.
            row = min(max(current_row, 0), self.model.rowCount() - 1)
            selection = QtCore.QItemSelection()
            selection.select(self.model.index(row, 0), self.model.index(row, 0))
        if row >= 0:
            sel.setCurrentIndex(self.model.index(row, 0),
                                QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)
        sel.select(selection, flags)
        self._show_detail(self.current_id())

    # -- detail ------------------------------------------------------------------------

    def _current_changed(self, current: QtCore.QModelIndex, previous: QtCore.QModelIndex
                         ) -> None:
        self._show_detail(str(current.data(ID_ROLE)) if current.isValid() else None)

    def _selection_changed(self, *args: Any) -> None:
        self.update_actions()

    def _show_detail(self, finding_id: str | None, force: bool = False) -> None:
        if finding_id is None:
            self.detail.clear()
            self._detail_id = None
            return
        if not self.session.ready:
            return
        try:
            d = self.session.read(triage.finding_detail, finding_id)
        except Exception as exc:
            self.detail.setPlainText(inline(exc))
            return
        self._detail_id = finding_id
        scroll = self.detail.verticalScrollBar().value()
        self.detail.setHtml(detail_html(d, self.detail))
        if force:
            self.detail.verticalScrollBar().setValue(scroll)

    # -- moving ------------------------------------------------------------------------

    def step(self, step: int) -> None:
        """Make the finding ``step`` rows away current (J/K)."""
        count = self.model.rowCount()
        if not count:
            return
        row = self.view.currentIndex().row()
        row = 0 if row < 0 else max(0, min(count - 1, row + step))
        index = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(
            index, QtCore.QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QtCore.QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)

    # -- decisions ---------------------------------------------------------------------

    def _targets(self) -> list[str]:
        ids = self.selected_ids()
        if not ids and self.current_id() is not None:
            ids = [str(self.current_id())]
        return ids

    def _report(self, result: Any, verb: str) -> None:
        if result is None:
            return
        parts = []
        if result.changed:
            parts.append(f"{len(result.changed)} {verb}")
        if result.pending:
            parts.append(f"{len(result.pending)} waiting for a second reviewer (four-eyes)")
        if result.unchanged:
            parts.append(f"{len(result.unchanged)} unchanged")
        self.message.emit("; ".join(parts) + "." if parts else "Nothing changed.")

    def _mark(self, status: str, reason: str | None = None, note: str | None = None) -> None:
        ids = self._targets()
        if not ids:
            return
        result = self.session.write(self, triage.mark, ids, status,
                                    reason=reason, note=note)
        self._report(result, status.replace("_", " "))

    def _enabled(self, name: str) -> bool:
        action = self.actions_.get(name)
        return action is not None and action.isEnabled()

    def confirm_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("confirm"):
            return
        what = "this finding" if len(ids) == 1 else f"these {len(ids)} findings"
        note = self._ask(self.session.prompts.note, "Confirm",
                         f"Confirm {what} as a breach. Say why (required).", True, "Confirm",
                         _one(ids))
        if note is not None:
            self._mark("confirmed", note=note)

    def dismiss_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("dismiss"):
            return
        answer = self._ask(self.session.prompts.dismiss, len(ids), _one(ids))
        if answer is not None:
            reason, note = answer
            self._mark("dismissed", reason=reason, note=note)

    def escalate_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("escalate"):
            return
        try:
            recipient = self.session.read(triage.escalation_to)
        except Exception as exc:
            self.session.prompts.error(self, exc)
            return
        note = self._ask(self.session.prompts.escalate, len(ids), recipient, _one(ids))
        if note is not None:
            self._mark("escalated", note=note or None)

    def note_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("note"):
            return
        what = "this finding" if len(ids) == 1 else f"each of these {len(ids)} findings"
        text = self._ask(self.session.prompts.note, "Add note", f"A note on {what}. Notes "
                         "are append-only: a correction is a new note.", True, "Add note",
                         _one(ids))
        if text is None:
            return

        if self.session.write(self, triage.add_notes, ids, text) is not None:
            self.message.emit(f"Note added to {len(ids)} finding(s).")

    def assign_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("assign"):
            return
        try:
            users = [u.name for u in self.session.read(lambda ws: ws.users()) if u.active]
        except Exception as exc:
            self.session.prompts.error(self, exc)
            return
        current = self.model.row_dict(self.model.row_of(ids[0])).get("assignee")
        to = self._ask(self.session.prompts.assign, users, current)
        if to is None:
            return
        result = self.session.write(self, triage.assign, ids, to or None)
        self._report(result, f"assigned to {to}" if to else "unassigned")

    def _pending(self, ids: list[str]) -> list[dict[str, Any]] | None:
        try:
            return self.session.read(triage.pending_decisions, ids)
        except Exception as exc:
            self.session.prompts.error(self, exc)
            return None

    def approve_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("approve"):
            return
        decisions = self._pending(ids)
        if decisions is None:
            return
        note = self._ask(self.session.prompts.approve, decisions)
        if note is None:
            return
        result = self.session.write(self, triage.approve, ids, note or None)
        self._report(result, "approved")

    def return_selected(self) -> None:
        ids = self._targets()
        if not ids or not self._enabled("return"):
            return
        decisions = self._pending(ids)
        if decisions is None:
            return
        note = self._ask(self.session.prompts.return_decision, decisions)
        if note is None:
            return
        result = self.session.write(self, triage.return_decision, ids, note)
        self._report(result, "returned to in review")

    # -- settings ----------------------------------------------------------------------

    def save_state(self) -> None:
        save_header(self.settings, self.key, self.view)
        self.settings.set_bytes(f"splitter/{self.key}", self.splitter.saveState())


def _one(ids: list[str]) -> str | None:
    """The finding a dialog names in its title, when it decides one."""
    return ids[0] if len(ids) == 1 else None


def _record_rid(url: QtCore.QUrl) -> int | None:
    """The row id of a ``record:RID`` link in the detail pane, else None."""
    text = url.toString()
    if text.startswith("record:") and text[7:].isdigit():
        return int(text[7:])
    return None
