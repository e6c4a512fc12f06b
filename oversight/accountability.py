"""Accountability from the audit chain alone: a pure replay of events and seals.

Every user's password unwraps the same database key, so any user can edit any table
with other tools. What decides who may do what, and what each decision left behind, is
therefore re-derived here from the hash chain and the seals, never read from a table:

- the first event is ``workspace.create``; its admin is the root, and the seal of that
  command is signed by the key the event names;
- every command's events are covered by one seal (the signature of the command's last
  event), made by the actor of each of those events with the key the chain says that
  actor held when the command began;
- the actor then held a role allowed to do the action (``ACTIONS`` maps each action to a
  Permission; user changes need an admin; ``user.passwd`` and ``user.enrol`` are the
  user's own); a removed user's later event is a divergence, and so is an action this
  program does not know;
- a confirm or dismiss that took effect without a second reviewer, on a finding whose
  severity (as detection recorded it) the four-eyes policy in force (as the chain set
  it) sent to approval, is a divergence.

The replay yields the state those events produce (users, roles and keys, settings,
criteria packs and the active one, detection runs, findings' content digests and
triage state, samples, batches) and streams the notes and decision rows the events
imply, for `oversight.chainstate` to compare with the tables. Events that break a rule
are reported and not applied, so the derived state is what the valid events produce.

Workspaces written before events were signed ("legacy" events: the first event names
no key) are replayed leniently up to the signed ``workspace.upgrade`` event of the admin
who upgraded them; its payload carries what older events do not (users as the tables
held them, settings, packs, the content digest of every finding) and vouches for them.

Adding an action: give it an entry in ``ACTIONS`` (its permission, whether opening a
workspace must replay it, its handler), and make its payload carry everything the
handler needs to re-derive the state it changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from oversight.criteria.pack import SEVERITIES
from oversight.roles import GRANTS, Permission, Role
from oversight.seals import Seal, valid_public_key, verify_seal

__all__ = [
    "ACTIONS",
    "RUN_OUTCOME",
    "UNKNOWN",
    "Derived",
    "Event",
    "FindingState",
    "Replay",
    "UserState",
    "compact_json",
    "finding_digest",
    "needs_second",
    "row_line",
]

#: What a detection.run event records of each rule's outcome (``reason``, why a rule was
#: not evaluated, from 1 December 2026): the run's stored summary must say the same.
RUN_OUTCOME = ("rule_id", "evaluated", "reason", "hits", "new", "no_longer_matching")

#: A value the chain cannot give (a time written before the upgrade): never compared.
UNKNOWN = "\x00unknown"
DEFAULT_FOUR_EYES = "critical"
MAX_PROBLEMS = 50


def needs_second(policy: str, severity: str) -> bool:
    """Whether a confirm or dismiss of a finding of ``severity`` waits for a second
    reviewer under the four-eyes ``policy`` (off, critical, high = high and above)."""
    if policy == "off" or severity not in SEVERITIES:
        return False
    floor = "critical" if policy == "critical" else "high"
    return SEVERITIES.index(severity) >= SEVERITIES.index(floor)


def finding_digest(pack_id: str, rule_id: str, part: str, group_key: str | None,
                   severity: str, message: str, facts: str, legal_refs: str,
                   record_ids: str, first_ts_utc: int | None, rids: Iterable[int]) -> str:
    """A finding's content as detection stored it (the JSON columns as stored text, the
    linked record rows sorted): 32 hex digits of SHA-256."""
    doc = [pack_id, rule_id, part, group_key, severity, message, facts, legal_refs,
           record_ids, first_ts_utc, sorted(set(rids))]
    return hashlib.sha256(compact_json(doc).encode("utf-8")).hexdigest()[:32]


def _stored_bytes(value: object) -> object:
    """A BLOB where this program writes text (put there with SQLCipher tools): digested
    as a value no text can be, so the row is named as differing, not a crash."""
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"a {type(value).__name__} cannot be digested")


#: json.dumps(..., ensure_ascii=False, separators=(",", ":")) with one encoder made once
#: (json.dumps builds a new encoder per call when given options; verify digests every
#: finding, detection every hit, the import every row): what every digest of stored
#: rows and findings encodes them with.
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                                default=_stored_bytes).encode


def row_line(row: Iterable[Any]) -> bytes:
    """A stored row as one line of a rows digest (compact JSON array, UTF-8, newline):
    what the upgrade, package imports and pseudonym events record of their rows."""
    return compact_json(list(row)).encode("utf-8") + b"\n"


class Event(NamedTuple):
    """One audit event as stored, its payload parsed (a tuple: verify makes millions)."""

    seq: int
    ts: str
    user: str
    action: str
    payload: dict[str, Any]
    hash: str


@dataclass(slots=True)
class UserState:
    name: str
    role: Role
    active: bool
    key: str | None
    """The public key the user signs with now (None: none yet)."""
    key_seq: int
    """The event that gave the current key (or that added the user)."""
    created_at: str
    created_by: str | None
    pending: bool = False
    """Listed by the upgrade as a user who enrols (gets a key) at their next sign-in."""
    removed_seq: int | None = None


@dataclass(slots=True)
class FindingState:
    pack_id: str
    rule_id: str
    digest: str | None
    severity: str | None
    matching: bool = True
    first_run: int | None = None
    last_fixed: int | None = None
    """last_run as of the run that last changed matching; a matching finding's last
    run is the later of this and the last run that evaluated its rule."""
    stale_since: int | None = None
    status: str = "open"
    reason: str | None = None
    pending_status: str | None = None
    pending_reason: str | None = None
    pending_by: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    approved_by: str | None = None
    assignee: str | None = None


@dataclass
class Upgrade:
    seq: int
    user: str
    ts: str
    payload: dict[str, Any]


@dataclass
class Derived:
    """What the valid events of the chain produce."""

    workspace_id: str | None = None
    root: str | None = None
    legacy: bool = False
    """The workspace was created before events were signed."""
    upgrade: Upgrade | None = None
    users: dict[str, UserState] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=lambda: {"four_eyes": DEFAULT_FOUR_EYES})
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """sha256 -> {pack_id, version, added_by}."""
    active_pack: str | None = None
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_eval: dict[tuple[str, str], int] = field(default_factory=dict)
    """(pack id, rule id) -> the last run that evaluated the rule."""
    findings: dict[str, FindingState] = field(default_factory=dict)
    batches: dict[int, dict[str, Any]] = field(default_factory=dict)
    samples: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Received review packages and replies by number (oversight.exchange): the
    ``package.import`` payload, with the user who imported it."""
    pseudonym_key: str | None = None
    """SHA-256 of the workspace's pseudonym secret, as its creation recorded it."""
    pseudonym_sets: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Event seq -> {count, digest} of the pseudonyms that event gave out."""
    events: int = 0
    seals: int = 0
    signed_events: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    def last_run(self, f: FindingState) -> int | None:
        if not f.matching:
            return f.last_fixed
        later = self.last_eval.get((f.pack_id, f.rule_id))
        if f.last_fixed is None:
            return later
        return f.last_fixed if later is None else max(f.last_fixed, later)

    @property
    def four_eyes(self) -> str:
        return str(self.settings.get("four_eyes", DEFAULT_FOUR_EYES))


#: A row the chain implies, streamed in chain order: (key, row).
RowSink = Callable[[int, tuple[Any, ...]], None]


_UNJUDGED = "\x00unjudged"
"""Not yet judged (``Replay._close``)."""


class _Invalid(Exception):
    """An event breaks a rule: the sentence says which."""


@dataclass(frozen=True)
class Action:
    permission: Permission | None
    """What the actor's role must allow (None: a rule of its own, in the handler)."""
    access: bool
    """Opening a workspace replays it (it changes users, keys or settings)."""
    handler: str
    """Name of the Replay method that applies it."""


#: Every action the chain may hold. Anything else is a divergence.
ACTIONS: dict[str, Action] = {
    "workspace.create": Action(None, True, "_workspace_create"),
    "workspace.upgrade": Action(None, True, "_workspace_upgrade"),
    "user.add": Action(Permission.MANAGE_USERS, True, "_user_add"),
    "user.remove": Action(Permission.MANAGE_USERS, True, "_user_remove"),
    "user.reset_password": Action(Permission.MANAGE_USERS, True, "_user_reset_password"),
    "user.passwd": Action(None, True, "_user_passwd"),
    "user.enrol": Action(None, True, "_user_enrol"),
    "criteria.save": Action(Permission.CONFIGURE, False, "_criteria_save"),
    "criteria.activate": Action(Permission.CONFIGURE, False, "_criteria_activate"),
    "import": Action(Permission.IMPORT, False, "_import"),
    "detection.run": Action(Permission.DETECT, False, "_detection_run"),
    "finding.mark": Action(Permission.TRIAGE, False, "_finding_mark"),
    "finding.approve": Action(Permission.APPROVE, False, "_finding_approve"),
    "finding.return": Action(Permission.APPROVE, False, "_finding_return"),
    "finding.note": Action(Permission.TRIAGE, False, "_finding_note"),
    "finding.assign": Action(Permission.ASSIGN, False, "_finding_assign"),
    "sample.draw": Action(Permission.TRIAGE, False, "_sample_draw"),
    "report.create": Action(Permission.REPORT, False, "_report_create"),
    # An admin, or the user who imported the batch (and may still import): the handler.
    "batch.retract": Action(None, False, "_batch_retract"),
    # Review packages between oversight bodies (oversight.exchange): auditors export,
    # reply and reveal; inspectors and auditors import.
    "package.export": Action(Permission.REPORT, False, "_package_export"),
    "package.reply": Action(Permission.REPORT, False, "_package_export"),
    "package.import": Action(Permission.TRIAGE, False, "_package_import"),
    "pseudonym_key.create": Action(Permission.REPORT, False, "_pseudonym_key_create"),
    "pseudonym.assign": Action(Permission.REPORT, False, "_pseudonym_assign"),
    "pseudonym.reveal": Action(Permission.REPORT, False, "_pseudonym_reveal"),
    # A scan (oversight.scan): its batches have their own import events, its findings a
    # detection run; this event holds the engine, the files and the rules not evaluated.
    "batch.scan": Action(Permission.IMPORT, False, "_batch_scan"),
}
#: ``settings.<name>`` events ({from, to}) all need CONFIGURE and are replayed on open.
SETTINGS_ACTION = Action(Permission.CONFIGURE, True, "_setting")


def action_rule(action: str) -> Action | None:
    if action.startswith("settings.") and len(action) > len("settings."):
        return SETTINGS_ACTION
    return ACTIONS.get(action)


def is_access_action(action: str) -> bool:
    rule = action_rule(action)
    return rule is not None and rule.access


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"its payload has no {key}")
    return value


class Replay:
    """Feed events (in chain order) and read ``derived`` after ``finish()``.

    ``seals`` yields the seals in sequence order. ``sparse``: only the events that
    change users, keys or settings (and the rest of their commands) are fed, as when a
    workspace is opened; the rest of the state is not derived then. ``on_note``
    receives the note rows the events imply, in order (a note's time is UNKNOWN for
    events written before the upgrade); ``decision_seqs`` lists the events that wrote a
    decision row."""

    def __init__(self, seals: Iterable[Seal], *, sparse: bool = False,
                 on_note: RowSink | None = None) -> None:
        self.derived = Derived()
        self._seals: Iterator[Seal] = iter(seals)
        self._next_seal: Seal | None = None
        self._seals_done = False
        self._sparse = sparse
        self._on_note = on_note
        self._command: list[Event] = []
        self.rejected: set[int] = set()
        """Events not accepted (reported): the rows they wrote are not reported again."""
        self.rejected_notes: set[int] = set()
        self.decision_seqs: list[int] = []
        """The events that wrote a decision row (each writes one), in order."""
        self._signed = False
        """True once the chain is in its signed part (from creation or the upgrade)."""
        self._last_seq = 0
        self._handlers = {action: getattr(self, rule.handler)
                          for action, rule in ACTIONS.items()}
        self._access = {action: rule.access for action, rule in ACTIONS.items()}

    # -- problems ------------------------------------------------------------------------

    def problem(self, text: str) -> None:
        d = self.derived
        if len(d.problems) < MAX_PROBLEMS:
            d.problems.append(text)
        else:
            d.more_problems += 1

    # -- feeding -------------------------------------------------------------------------

    def feed(self, events: Iterable[Event]) -> None:
        d = self.derived
        for ev in events:
            seq = ev.seq
            nxt = self._next_seal
            if not self._signed or seq == 1 or nxt is None or nxt.seq < seq:
                self._event(ev)
                continue
            # The common case, inline: an event of the signed part with its seal ahead.
            d.events += 1
            self._last_seq = seq
            self._command.append(ev)
            if nxt.seq == seq:
                self._next_seal = None
                self._close(nxt)

    def _seal_at_or_after(self, seq: int) -> Seal | None:
        while True:
            if self._next_seal is None:
                if self._seals_done:
                    return None
                self._next_seal = next(self._seals, None)
                if self._next_seal is None:
                    self._seals_done = True
                    return None
            if self._next_seal.seq >= seq:
                return self._next_seal
            if not self._sparse:
                self.problem(f"Seal {self._next_seal.seq} (by {self._next_seal.user}) does "
                             "not end a command of the audit trail (its events are gone).")
            self._next_seal = None

    def _event(self, ev: Event) -> None:
        d = self.derived
        d.events += 1
        self._last_seq = ev.seq
        if ev.seq == 1:
            d.legacy = ev.action == "workspace.create" and "public_key" not in ev.payload
            self._signed = not d.legacy
        if not self._signed and ev.action == "workspace.upgrade":
            self._signed = True
            seal = self._seal_at_or_after(1)
            while seal is not None and seal.seq < ev.seq:
                if not self._sparse:
                    self.problem(f"Seal {seal.seq} comes before the upgrade (event "
                                 f"{ev.seq}) that started signing.")
                self._next_seal = None
                seal = self._seal_at_or_after(1)
        if not self._signed:
            self._apply(ev, legacy=True)
            return
        self._command.append(ev)
        seal = self._seal_at_or_after(ev.seq)
        if seal is not None and seal.seq == ev.seq:
            self._next_seal = None
            self._close(seal)

    def finish(self) -> Derived:
        """End of the chain: events after the last seal are a divergence."""
        d = self.derived
        if d.events and d.root is None:
            self.problem("The audit trail does not begin with the creation of the workspace "
                         "(its first event is gone or replaced).")
        if self._command:
            first, last = self._command[0].seq, self._command[-1].seq
            span = f"event {first}" if first == last else f"events {first}-{last}"
            self.problem(f"Audit {span} ({self._command[0].action} by "
                         f"{self._command[0].user}) come after the last seal: nobody "
                         "signed them.")
            self._reject(self._command)
            self._command = []
        if not self._sparse:
            seal = self._seal_at_or_after(self._last_seq + 1)
            if seal is not None:
                self.problem(f"Seal {seal.seq} (by {seal.user}) seals no event of the "
                             "audit trail (events cut off?).")
        return d

    # -- commands ------------------------------------------------------------------------

    def _close(self, seal: Seal) -> None:
        events, self._command = self._command, []
        d = self.derived
        d.seals += 1
        key = self._sealing_key(seal.user, events)
        last = events[-1]
        wsid = d.workspace_id
        if wsid is None and events[0].action == "workspace.create":
            wsid = events[0].payload.get("workspace_id")
        if key is None:
            self.problem(f"Audit event {last.seq} ({last.action}) is sealed by {seal.user}, "
                         "who held no signing key then.")
            self._reject(events)
            return
        if not isinstance(wsid, str) or not verify_seal(key, wsid, seal.seq, last.hash,
                                                        seal.user, seal.signature):
            self.problem(f"The seal of audit event {seal.seq} ({last.action} by {last.user})"
                         f" is not a valid signature of {seal.user}'s key: the command was "
                         "altered or signed by someone else.")
            self._reject(events)
            return
        d.signed_events += len(events)
        # Within a command that changes no user or setting, the actor's role is the
        # same for every event: judge each action once.
        access = self._access
        judged: dict[str, str | None] | None = None if any(
            access.get(action, True) for action in {ev.action for ev in events}) else {}
        user, handlers, sparse = seal.user, self._handlers, self._sparse
        for ev in events:
            if ev.user != user:
                self.problem(f"Audit event {ev.seq} ({ev.action}) names {ev.user} as its "
                             f"actor but is sealed by {seal.user}.")
                self._reject([ev])
                continue
            if judged is None:
                self._apply(ev, legacy=False)
                continue
            action = ev.action
            why = judged.get(action, _UNJUDGED)
            if why is _UNJUDGED:
                why = judged[action] = self._why_not(ev)
            if why is not None:
                self.problem(f"Audit event {ev.seq} ({action} by {ev.user}): {why}.")
                self._reject([ev])
                continue
            # _dispatch, inline (a bulk command holds 100,000 events)
            handler = handlers.get(action)
            if handler is None:
                self._apply(ev, legacy=False)  # settings.*, unknown actions
            elif not sparse or access[action]:
                try:
                    handler(ev, False)
                except _Invalid as why_not:
                    self.problem(f"Audit event {ev.seq} ({action} by {ev.user}): {why_not}.")
                    self._reject([ev])

    def _reject(self, events: list[Event]) -> None:
        for ev in events:
            self.rejected.add(ev.seq)
            note = ev.payload.get("note_id")
            if isinstance(note, int):
                self.rejected_notes.add(note)

    def _sealing_key(self, user: str, events: list[Event]) -> str | None:
        """The key the chain says ``user`` signs this command with: the one they held
        when it began, or, for the commands that give a user their first key (creation,
        upgrade, enrolment), the key those events name."""
        for ev in events:
            if ev.user == user and ev.action in ("workspace.create", "workspace.upgrade",
                                                 "user.enrol"):
                held = self.derived.users.get(user)
                if ev.action == "user.enrol" and held is not None and held.key is not None:
                    break
                key = ev.payload.get("public_key")
                return key if isinstance(key, str) else None
        held = self.derived.users.get(user)
        return held.key if held is not None else None

    def _why_not(self, ev: Event) -> str | None:
        """Why the actor may not do this action (None: they may); an unknown action is
        not judged here but by _apply (from _close)."""
        rule = action_rule(ev.action)
        if rule is None:
            return None
        try:
            self._check_actor(ev, rule)
        except _Invalid as why:
            return str(why)
        return None

    def _apply(self, ev: Event, *, legacy: bool) -> None:
        rule = action_rule(ev.action)
        if rule is None:
            self.problem(f"Audit event {ev.seq} records an action this program does not "
                         f"know ({ev.action!r}); it cannot be accepted.")
            self._reject([ev])
            return
        if self._sparse and not rule.access:
            return
        try:
            if not legacy:
                self._check_actor(ev, rule)
            getattr(self, rule.handler)(ev, legacy)
        except _Invalid as why:
            self.problem(f"Audit event {ev.seq} ({ev.action} by {ev.user}): {why}.")
            self._reject([ev])

    def _check_actor(self, ev: Event, rule: Action) -> None:
        d = self.derived
        if ev.action in ("workspace.create", "workspace.upgrade", "user.enrol"):
            return  # their handlers check who may do them
        who = d.users.get(ev.user)
        if who is None:
            raise _Invalid(f"{ev.user} is not a user of the workspace then")
        if not who.active:
            raise _Invalid(f"{ev.user} was removed from the workspace at event "
                           f"{who.removed_seq}")
        if rule.permission is not None and rule.permission not in GRANTS[who.role]:
            raise _Invalid(f"{ev.user} then had the {who.role.value} role, which may not "
                           f"do that")

    # -- workspace and users -------------------------------------------------------------

    def _workspace_create(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        if ev.seq != 1 or d.users:
            raise _Invalid("a workspace is created only once, by its first event")
        admin = _text(ev.payload, "admin")
        if admin != ev.user:
            raise _Invalid(f"it names {admin} as the admin but was recorded by {ev.user}")
        key = ev.payload.get("public_key")
        if not legacy and not valid_public_key(key):
            raise _Invalid("it names no valid public key")
        d.workspace_id = _text(ev.payload, "workspace_id")
        d.root = admin
        d.users[admin] = UserState(admin, Role.ADMIN, True, key if isinstance(key, str)
                                   else None, ev.seq, UNKNOWN if legacy else ev.ts, None)

    def _workspace_upgrade(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        if not d.legacy or d.upgrade is not None:
            raise _Invalid("only a workspace created before signing is upgraded, once")
        who = d.users.get(ev.user)
        if who is None or not who.active or who.role is not Role.ADMIN:
            raise _Invalid(f"{ev.user} was not an admin of the workspace then")
        p = ev.payload
        key = p.get("public_key")
        if not valid_public_key(key):
            raise _Invalid("it names no valid public key")
        listed = p.get("users")
        if not isinstance(listed, list):
            raise _Invalid("its payload lists no users")
        before = d.users
        users: dict[str, UserState] = {}
        for u in listed:
            name, role = u.get("name"), u.get("role")
            if not isinstance(name, str) or role not in Role.__members__.values():
                raise _Invalid("its list of users is damaged")
            old = before.get(name)
            if old is None or old.role.value != role or old.active != bool(u.get("active")):
                held = "not a user" if old is None else (
                    f"{old.role.value}, {'active' if old.active else 'removed'}")
                raise _Invalid(f"it records {name} as {role}, "
                               f"{'active' if u.get('active') else 'removed'}, but the events "
                               f"before it make {name} {held}")
            users[name] = UserState(name, Role(role), bool(u.get("active")), None, ev.seq,
                                    str(u.get("created_at")), u.get("created_by"),
                                    removed_seq=old.removed_seq)
        missing = sorted(set(before) - set(users))
        if missing:
            raise _Invalid(f"it leaves out user {missing[0]}, whom the events before it add")
        pending = p.get("pending") or []
        for name, state in users.items():
            if name == ev.user:
                state.key, state.key_seq = str(key), ev.seq
            elif state.active:
                state.pending = name in pending
        d.users = users
        settings = p.get("settings") or {}
        if settings.get("four_eyes", d.four_eyes) != d.four_eyes:
            raise _Invalid(f"it records four-eyes {settings.get('four_eyes')!r} but the "
                           f"events before it set {d.four_eyes!r}")
        d.settings.update(settings)
        d.upgrade = Upgrade(ev.seq, ev.user, ev.ts, p)
        if self._sparse:
            return
        for sha, pack in (p.get("packs") or {}).items():
            d.packs.setdefault(sha, dict(pack))
        if "active_pack" in p and p["active_pack"] != d.active_pack:
            raise _Invalid(f"it records {p['active_pack']} as the active pack but the events "
                           f"before it activate {d.active_pack}")
        snapshot = p.get("findings") or {}
        before_f = d.findings
        findings: dict[str, FindingState] = {}
        for fid, row in snapshot.items():
            pack_id, rule_id, severity, digest, matching, first, last, stale = row
            f = before_f.get(fid) or FindingState(pack_id, rule_id, None, None)
            f.pack_id, f.rule_id, f.severity, f.digest = pack_id, rule_id, severity, digest
            f.matching, f.first_run, f.last_fixed, f.stale_since = (
                bool(matching), first, last, stale)
            findings[fid] = f
        strays = sorted(set(before_f) - set(findings))
        if strays:
            raise _Invalid(f"it leaves out finding {strays[0]}, which events before it "
                           "decide on")
        d.findings = findings

    def _new_key(self, ev: Event, legacy: bool) -> str | None:
        key = ev.payload.get("public_key")
        if key is None and legacy:
            return None
        if not valid_public_key(key):
            raise _Invalid("it names no valid public key")
        return str(key)

    def _user_add(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        name, role = _text(ev.payload, "name"), _text(ev.payload, "role")
        if role not in Role.__members__.values():
            raise _Invalid(f"{role!r} is not a role")
        key = self._new_key(ev, legacy)
        old = d.users.get(name)
        if old is not None and old.active:
            if ev.seq == 2 and name == d.root and old.role.value == role and old.key == key:
                return  # the creation command records its admin as added, too
            raise _Invalid(f"{name} is already an active user")
        if old is None:
            d.users[name] = UserState(name, Role(role), True, key, ev.seq,
                                      UNKNOWN if legacy else ev.ts, ev.user)
        else:
            old.role, old.active, old.key, old.key_seq = Role(role), True, key, ev.seq
            old.pending, old.removed_seq = False, None

    def _active_user(self, ev: Event) -> UserState:
        name = _text(ev.payload, "name")
        user = self.derived.users.get(name)
        if user is None or not user.active:
            raise _Invalid(f"there is no active user {name} then")
        return user

    def _user_remove(self, ev: Event, legacy: bool) -> None:
        user = self._active_user(ev)
        if not legacy:
            if user.name == ev.user:
                raise _Invalid("nobody removes themselves")
            if user.role is Role.ADMIN and sum(
                    1 for u in self.derived.users.values()
                    if u.active and u.role is Role.ADMIN) <= 1:
                raise _Invalid("the last admin cannot be removed")
        user.active, user.pending, user.removed_seq = False, False, ev.seq

    def _user_reset_password(self, ev: Event, legacy: bool) -> None:
        user = self._active_user(ev)
        key = self._new_key(ev, legacy)
        if key is not None:
            user.key, user.key_seq, user.pending = key, ev.seq, False

    def _user_passwd(self, ev: Event, legacy: bool) -> None:
        user = self._active_user(ev)
        if user.name != ev.user:
            raise _Invalid("a user changes only their own password")
        key = self._new_key(ev, legacy)
        if key is not None:
            user.key, user.key_seq = key, ev.seq

    def _user_enrol(self, ev: Event, legacy: bool) -> None:
        user = self._active_user(ev)
        if user.name != ev.user:
            raise _Invalid("a user enrols only themselves")
        if not user.pending or user.key is not None:
            raise _Invalid(f"{user.name} was not waiting to enrol (the upgrade did not list "
                           "them, or they already hold a key)")
        user.key, user.key_seq, user.pending = self._new_key(ev, False), ev.seq, False

    def _setting(self, ev: Event, legacy: bool) -> None:
        name = ev.action.removeprefix("settings.")
        settings = self.derived.settings
        if "to" not in ev.payload:
            raise _Invalid("its payload has no new value")
        if not legacy and "from" in ev.payload and ev.payload["from"] != settings.get(name):
            raise _Invalid(f"it changes {name} from {ev.payload['from']!r}, but the chain "
                           f"had set it to {settings.get(name)!r}")
        settings[name] = ev.payload["to"]

    # -- criteria, imports, detection ----------------------------------------------------

    def _criteria_save(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        sha = _text(ev.payload, "sha256")
        d.packs.setdefault(sha, {"pack_id": ev.payload.get("pack"),
                                 "version": ev.payload.get("version"), "added_by": ev.user})
        d.active_pack = sha

    def _criteria_activate(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        sha = _text(ev.payload, "sha256")
        if sha not in d.packs:
            raise _Invalid(f"it activates pack {sha[:16]}, which no event stored")
        d.active_pack = sha

    def _import(self, ev: Event, legacy: bool) -> None:
        batch = ev.payload.get("batch_id")
        if not isinstance(batch, int):
            raise _Invalid("its payload has no batch id")
        self.derived.batches[batch] = {**ev.payload, "user": ev.user}

    def _batch_scan(self, ev: Event, legacy: bool) -> None:
        files = ev.payload.get("files")
        if not isinstance(files, list) or not isinstance(ev.payload.get("pack_sha256"), str):
            raise _Invalid("its payload has no files or pack SHA-256")

    def _detection_run(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        p = ev.payload
        run_id, sha, pack_id = p.get("run_id"), p.get("pack_sha256"), p.get("pack")
        if not isinstance(run_id, int) or not isinstance(sha, str) or not isinstance(
                pack_id, str):
            raise _Invalid("its payload has no run, pack or pack SHA-256")
        rules = p.get("rules") or []
        d.packs.setdefault(sha, {"pack_id": pack_id, "version": p.get("version"),
                                 "added_by": ev.user})
        d.runs[run_id] = {"pack_sha256": sha, "pack_id": pack_id,
                          "version": p.get("version"), "user": ev.user,
                          "rules": [r.get("rule_id") for r in rules],
                          "outcomes": [{k: r[k] for k in RUN_OUTCOME if k in r}
                                       for r in rules if isinstance(r, dict)]}
        if legacy:
            return  # findings of runs before the upgrade come from the upgrade snapshot
        evaluated = [r["rule_id"] for r in rules if r.get("evaluated")]
        # A finding that stops matching keeps the last run it matched in (computed
        # before this run counts as its rule's last evaluation).
        for fid in [*(p.get("no_longer_matching") or []), *(p.get("rule_not_in_pack") or [])]:
            f = d.findings.get(fid)
            if f is None or not f.matching:
                raise _Invalid(f"it says finding {fid} no longer matches, but it did not "
                               "match before")
            f.last_fixed = d.last_run(f)
            f.matching, f.stale_since = False, run_id
        for rule in evaluated:
            d.last_eval[(pack_id, rule)] = run_id
        for fid, (severity, digest) in (p.get("findings") or {}).items():
            f = d.findings.get(fid)
            if f is None:
                rule_id = fid.rsplit("-", 1)[0]
                d.findings[fid] = FindingState(pack_id, rule_id, digest, severity, True,
                                               run_id, run_id)
            else:
                f.digest, f.severity, f.matching = digest, severity, True
                f.last_fixed, f.stale_since = run_id, None

    # -- triage --------------------------------------------------------------------------

    def _finding(self, ev: Event, legacy: bool) -> tuple[str, FindingState]:
        fid = _text(ev.payload, "finding_id")
        f = self.derived.findings.get(fid)
        if f is None:
            if not legacy:
                raise _Invalid(f"no detection run recorded finding {fid}")
            f = self.derived.findings[fid] = FindingState("", fid.rsplit("-", 1)[0], None, None)
        return fid, f

    def _note(self, ev: Event, legacy: bool, fid: str, refers_to: Any = None) -> int | None:
        note_id = ev.payload.get("note_id")
        if note_id is None:
            return None
        note_id = int(note_id)
        if self._on_note is not None:
            # the finding_notes row: note_id, finding_id, user, ts, text, refers_to
            self._on_note(note_id, (note_id, fid, ev.user, UNKNOWN if legacy else ev.ts,
                                    ev.payload.get("note"), refers_to))
        return note_id

    def _decision(self, ev: Event) -> None:
        """The event wrote one decision row (chainstate compares it with the event)."""
        self.decision_seqs.append(ev.seq)

    def _finding_mark(self, ev: Event, legacy: bool) -> None:
        fid, f = self._finding(ev, legacy)
        p = ev.payload
        to, awaiting, reason = p.get("to"), p.get("awaiting"), p.get("reason")
        if p.get("from") != f.status:
            raise _Invalid(f"it marks finding {fid} from {p.get('from')}, but the chain "
                           f"left it {f.status}")
        if awaiting is not None and to != "pending_approval":
            raise _Invalid(f"it leaves finding {fid} {to} while it awaits approval")
        if not legacy and to in ("confirmed", "dismissed") and awaiting is None \
                and f.severity is not None and needs_second(self.derived.four_eyes,
                                                            f.severity):
            raise _Invalid(f"finding {fid} is {f.severity} and four-eyes "
                           f"({self.derived.four_eyes}) required a second reviewer, but it "
                           f"was {to} without approval")
        self._note(ev, legacy, fid)
        self._decision(ev)
        if awaiting:
            f.status, f.reason = "pending_approval", None
            f.pending_status, f.pending_reason, f.pending_by = awaiting, reason, ev.user
        else:
            f.status, f.reason = str(to), reason if to == "dismissed" else None
            f.pending_status = f.pending_reason = f.pending_by = None
        f.decided_by, f.decided_at = ev.user, UNKNOWN if legacy else ev.ts
        f.approved_by = None

    def _finding_approve(self, ev: Event, legacy: bool) -> None:
        fid, f = self._finding(ev, legacy)
        p = ev.payload
        if f.status != "pending_approval":
            raise _Invalid(f"finding {fid} was {f.status}, not waiting for approval")
        if f.pending_by == ev.user:
            raise _Invalid(f"{ev.user} approved their own decision on {fid}")
        if p.get("to") != f.pending_status or p.get("decided_by") != f.pending_by \
                or p.get("reason") != f.pending_reason:
            raise _Invalid(f"it approves {p.get('to')} by {p.get('decided_by')}, but "
                           f"{f.pending_by} had marked {fid} {f.pending_status}")
        self._note(ev, legacy, fid)
        self._decision(ev)
        f.status, f.reason = str(f.pending_status), f.pending_reason
        f.approved_by = ev.user
        f.pending_status = f.pending_reason = f.pending_by = None

    def _finding_return(self, ev: Event, legacy: bool) -> None:
        fid, f = self._finding(ev, legacy)
        p = ev.payload
        raw = p.get("returned")
        returned: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if f.status != "pending_approval":
            raise _Invalid(f"finding {fid} was {f.status}, not waiting for approval")
        if f.pending_by == ev.user:
            raise _Invalid(f"{ev.user} returned their own decision on {fid}")
        if returned.get("status") != f.pending_status \
                or returned.get("reason") != f.pending_reason \
                or p.get("proposed_by") != f.pending_by or p.get("to") != "in_review":
            raise _Invalid(f"it returns {returned.get('status')} by {p.get('proposed_by')}, "
                           f"but {f.pending_by} had marked {fid} {f.pending_status}")
        if not p.get("note"):
            raise _Invalid(f"it returns the decision on {fid} without the note saying why")
        self._note(ev, legacy, fid)
        self._decision(ev)
        f.status, f.reason = "in_review", None
        f.pending_status = f.pending_reason = f.pending_by = None
        f.decided_by, f.decided_at = ev.user, UNKNOWN if legacy else ev.ts
        f.approved_by = None

    def _finding_note(self, ev: Event, legacy: bool) -> None:
        fid, _f = self._finding(ev, legacy)
        refers_to = ev.payload.get("refers_to")
        self._note(ev, legacy, fid, refers_to)
        self._decision(ev)

    def _finding_assign(self, ev: Event, legacy: bool) -> None:
        fid, f = self._finding(ev, legacy)
        to = ev.payload.get("to")
        if ev.payload.get("from") != f.assignee:
            raise _Invalid(f"it reassigns finding {fid} from {ev.payload.get('from')}, but "
                           f"the chain had assigned it to {f.assignee}")
        if not legacy and to is not None:
            target = self.derived.users.get(str(to))
            if target is None or not target.active:
                raise _Invalid(f"it assigns {fid} to {to}, who is not an active user")
        self._decision(ev)
        f.assignee = to

    def _sample_draw(self, ev: Event, legacy: bool) -> None:
        sample = ev.payload.get("sample_id")
        if not isinstance(sample, int):
            raise _Invalid("its payload has no sample id")
        self.derived.samples[sample] = {**ev.payload, "user": ev.user}

    def _batch_retract(self, ev: Event, legacy: bool) -> None:
        """Who may retract: an admin, or the user who imported the batch while their role
        still allows importing (oversight.retraction.why_not_retract). The findings it
        labels stop matching (keeping the last run they matched in)."""
        d = self.derived
        p = ev.payload
        batch_id = p.get("batch_id")
        batch = d.batches.get(batch_id) if isinstance(batch_id, int) else None
        if batch is None:
            raise _Invalid(f"it retracts batch {batch_id}, which no import event records")
        if batch.get("retracted"):
            raise _Invalid(f"batch {batch_id} was already retracted")
        if p.get("sha256") != batch.get("sha256"):
            raise _Invalid(f"it names file SHA-256 {str(p.get('sha256'))[:16]}, but batch "
                           f"{batch_id} imported {str(batch.get('sha256'))[:16]}")
        if not str(p.get("reason") or "").strip():
            raise _Invalid("it gives no reason")
        who = d.users.get(ev.user)
        if who is None or not who.active:
            raise _Invalid(f"{ev.user} is not an active user of the workspace then")
        importer = batch.get("user") == ev.user and Permission.IMPORT in GRANTS[who.role]
        if who.role is not Role.ADMIN and not importer:
            raise _Invalid(f"only an admin or the user who imported batch {batch_id} may "
                           f"retract it, and {ev.user} then had the {who.role.value} role")
        labelled = p.get("findings_labelled") or []
        for fid in labelled:
            f = d.findings.get(fid)
            if f is None:
                raise _Invalid(f"it labels finding {fid}, which no detection run recorded")
        for fid in labelled:
            f = d.findings[fid]
            if f.matching:
                f.last_fixed = d.last_run(f)
            f.matching, f.stale_since = False, None
        batch["retracted"] = {"user": ev.user, "at": p.get("retracted_at"),
                              "reason": p.get("reason")}

    def _report_create(self, ev: Event, legacy: bool) -> None:
        """A report changes no table; its event is the workspace's record of it."""

    # -- review packages (oversight.exchange) --------------------------------------------

    def _package_export(self, ev: Event, legacy: bool) -> None:
        """A package (or a reply) left the workspace: it changes no table but the
        pseudonyms (their own events); its findings were this workspace's own."""
        p = ev.payload
        _text(p, "package_id")
        _text(p, "sha256")
        found = p.get("findings")
        if not isinstance(found, list):
            raise _Invalid("its payload lists no findings")
        for fid in found:
            if not isinstance(fid, str) or fid not in self.derived.findings:
                raise _Invalid(f"it sends finding {fid}, which no event of this workspace "
                               "records")

    def _package_import(self, ev: Event, legacy: bool) -> None:
        """A received package: its batches (checked like imports), its findings (new,
        open, of no detection run) and the digests of the sender's rows; or a reply:
        decisions on this workspace's own findings, which it leaves as they were."""
        d = self.derived
        p = ev.payload
        number = p.get("package_no")
        if not isinstance(number, int) or number in d.received:
            raise _Invalid(f"it records received package {number!r}, which is no new number")
        kind = p.get("kind")
        if kind not in ("package", "reply"):
            raise _Invalid(f"{kind!r} is not a kind of package")
        _text(p, "sha256")
        found = p.get("findings")
        if not isinstance(found, dict):
            raise _Invalid("its payload lists no findings")
        batches = p.get("batches") or []
        if kind == "reply":
            for fid in found:
                if fid not in d.findings:
                    raise _Invalid(f"the reply answers finding {fid}, which no event of this "
                                   "workspace records")
        else:
            for fid, row in found.items():
                if fid in d.findings:
                    raise _Invalid(f"it adds finding {fid}, which already exists")
                if not isinstance(row, list) or len(row) != 4 or row[0] not in SEVERITIES:
                    raise _Invalid(f"its record of finding {fid} is damaged")
            for b in batches:
                if not isinstance(b, dict) or not isinstance(b.get("batch_id"), int) \
                        or b["batch_id"] in d.batches:
                    raise _Invalid("it records a batch that is no new batch")
            for fid, (severity, digest, pack_id, rule_id) in found.items():
                d.findings[fid] = FindingState(str(pack_id), str(rule_id), digest, severity)
            for b in batches:
                d.batches[b["batch_id"]] = {**b, "user": ev.user}
        d.received[number] = {**p, "user": ev.user}

    def _pseudonym_key_create(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        if d.pseudonym_key is not None:
            raise _Invalid("the workspace's pseudonym key was created before")
        d.pseudonym_key = _text(ev.payload, "sha256")

    def _pseudonym_assign(self, ev: Event, legacy: bool) -> None:
        d = self.derived
        if d.pseudonym_key is None:
            raise _Invalid("it gives out pseudonyms before the pseudonym key exists")
        count, digest = ev.payload.get("count"), ev.payload.get("digest")
        if not isinstance(count, int) or count < 1 or not isinstance(digest, str):
            raise _Invalid("it records no count or digest of the pseudonyms")
        d.pseudonym_sets[ev.seq] = {"count": count, "digest": digest}

    def _pseudonym_reveal(self, ev: Event, legacy: bool) -> None:
        """Revealing changes nothing; it must say why."""
        _text(ev.payload, "pseudonym")
        if not str(ev.payload.get("reason") or "").strip():
            raise _Invalid("it gives no reason")
