"""Detection: run a criteria pack inside the encrypted database and keep findings.

Each rule's condition compiles to one SQL query over the operations (joined to the
authorisation and case registers where the rule reads them); rolling-window aggregates
stream each group's records in SQL order and count them exactly in Python. A run is
one transaction: cancelling leaves no partial run. Findings are keyed by pack, rule and
record (or group), so re-running never duplicates a finding and never touches its
status or notes; a finding that stops matching is kept and labelled.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter, sub
from typing import Any

from db.store import Connection, DbError
from oversight.accountability import finding_digest
from oversight.changes import Change, changes
from oversight.criteria import completeness
from oversight.criteria.expr import BOOL, LIST, Binary, Call, FieldRef, Index, Node, Unary
from oversight.criteria.pack import Aggregate, Pack, Rule
from oversight.criteria.regex import regexp
from oversight.criteria.sql import TOO_COMPLEX, Compiler, field_sql
from oversight.errors import Cancelled, UsageError
from oversight.progress import CancelToken, Progress, no_progress
from oversight.workspace import Permission, Workspace

__all__ = ["RecordVerdicts", "RuleOutcome", "RunSummary", "preview_hits",
           "record_verdicts", "run_detection"]

#: Each register as of its latest import per id, materialised once per run (in memory:
#: temp_store is MEMORY) with an index, so joins cost one lookup per operation. Every
#: read goes through the live_* views: records of a retracted batch are never judged
#: (oversight.retraction).
_LATEST = {"authorisation": "temp.latest_authorisations", "case": "temp.latest_cases"}
_MATERIALISE = (
    "DROP TABLE IF EXISTS temp.latest_authorisations",
    "CREATE TEMP TABLE latest_authorisations AS SELECT * FROM live_authorisations WHERE rid IN"
    " (SELECT max(rid) FROM live_authorisations GROUP BY authorisation_id)",
    "CREATE INDEX temp.latest_authorisations_id ON latest_authorisations(authorisation_id)",
    "DROP TABLE IF EXISTS temp.latest_cases",
    "CREATE TEMP TABLE latest_cases AS SELECT * FROM live_cases WHERE rid IN"
    " (SELECT max(rid) FROM live_cases GROUP BY case_id)",
    "CREATE INDEX temp.latest_cases_id ON latest_cases(case_id)",
)
_JOIN = {
    "authorisation": "LEFT JOIN {t} a ON a.authorisation_id = o.authorisation_id",
    "case": "LEFT JOIN {t} c ON c.case_id = o.case_id",
}
_NEEDS_TEXT = {"authorisations": "the authorisation register", "cases": "the case register"}


@dataclass
class RuleOutcome:
    rule_id: str
    title: str
    severity: str
    evaluated: bool
    reason: str | None = None
    """Why the rule was not evaluated."""
    note: str | None = None
    """What an evaluated rule could not judge (operations without a time)."""
    hits: int = 0
    new: int = 0
    stale: int = 0
    """Findings of this rule that no longer match."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title, "severity": self.severity,
                "evaluated": self.evaluated, "reason": self.reason, "note": self.note,
                "hits": self.hits,
                "new": self.new, "no_longer_matching": self.stale,
                "seconds": round(self.seconds, 3)}


@dataclass
class RunSummary:
    run_id: int
    pack_id: str
    pack_version: str
    pack_sha256: str
    started_at: str
    finished_at: str
    user: str
    rules: list[RuleOutcome] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pack": self.pack_id, "version": self.pack_version,
                "pack_sha256": self.pack_sha256, "started_at": self.started_at,
                "finished_at": self.finished_at, "user": self.user,
                "rules": [r.to_json() for r in self.rules],
                "hits": sum(r.hits for r in self.rules),
                "new": sum(r.new for r in self.rules)}


@dataclass
class _Hit:
    finding_id: str
    part: str
    group_key: str | None
    rids: list[int]
    record_ids: list[str]
    message: str
    facts: dict[str, Any]
    first_ts_utc: int | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _finding_id(pack: Pack, rule: Rule, part: str, key: str) -> str:
    digest = hashlib.sha256(f"{pack.id}\x1f{rule.id}\x1f{part}\x1f{key}".encode()).hexdigest()
    return f"{rule.id}-{digest[:16]}"


@changes(Change.FINDINGS, Change.RUNS)
def run_detection(
    ws: Workspace,
    pack: Pack,
    rule_ids: Sequence[str] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RunSummary:
    """Run ``pack`` (or only ``rule_ids``) over the workspace; one transaction."""
    ws.require(Permission.DETECT)
    selected = _select(pack, rule_ids)
    started = _now()
    stopped = "Detection cancelled; no run was recorded."
    with _interruptible(ws.conn, cancel, stopped) as token, ws.write():
        return _run(ws, ws.conn, pack, selected, rule_ids is None, started, progress, token)


def preview_hits(
    ws: Workspace,
    pack: Pack,
    rule_ids: Sequence[str] | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, set[str]]:
    """The finding ids per rule that a run of ``pack`` (or of ``rule_ids``) WOULD
    produce on the current data, computed with the same code as a run.

    Read-only: writes nothing to the main database (only the run's temporary register
    tables, in memory). A rule a run would not evaluate maps to an empty set."""
    ws.require(Permission.READ)
    selected = _select(pack, rule_ids)
    conn = ws.conn
    with _interruptible(conn, cancel, "Preview cancelled.") as token:
        available, batch_sha = _prepare(conn)
        out: dict[str, set[str]] = {}
        evaluable = [r for r in selected if _why_not(conn, r, available) is None]
        shared = _SharedPass(evaluable)
        counts = _group_counts(conn, evaluable)
        for rule in selected:
            token.check()
            ids: set[str] = set()
            if rule in evaluable:
                if rule.id in counts.users:
                    counts.run(conn)
                hits, _ = _evaluate(conn, pack, rule, batch_sha, token,
                                    shared.flagged(conn, rule), counts)
                ids = {h.finding_id for h in hits or ()}
            out[rule.id] = ids
        token.check()
        return out


@dataclass(frozen=True)
class RecordVerdicts:
    """Which of some operations each record rule flags, as a detection run would."""

    flagged: dict[str, set[int]]
    """Rule id -> row ids of the operations it flags."""
    not_evaluated: dict[str, str]
    """Rule id -> why a run would not evaluate it (those flag nothing)."""


def record_verdicts(ws: Workspace, rules: Sequence[Rule], rids: Sequence[int],
                    cancel: CancelToken | None = None) -> RecordVerdicts:
    """Which of the operations ``rids`` each of ``rules`` (of one pack) flags: the same
    compiled condition, joins and registers as a detection run, restricted to those
    operations. Read-only (only the run's temporary register tables are written, in
    memory). Rules without a record condition, and rules a run would not evaluate, are
    in ``not_evaluated`` with the reason."""
    ws.require(Permission.READ)
    conn = ws.conn
    flagged: dict[str, set[int]] = {}
    skipped: dict[str, str] = {}
    with _interruptible(conn, cancel, "Cancelled.") as token:
        available, _batch_sha = _prepare(conn)
        for rule in rules:
            token.check()
            if rule.when is None:
                skipped[rule.id] = "it has no record condition (only aggregates)"
                continue
            reason = _why_not(conn, rule, available)
            if reason is not None:
                skipped[rule.id] = reason
                continue
            comp = Compiler()
            chosen = json.dumps([int(r) for r in rids])
            restrict = f" AND o.rid IN (SELECT value FROM json_each({comp.p(chosen)}))"
            sql = _record_query(comp, rule, "o.rid", restrict)
            flagged[rule.id] = {int(r[0]) for r in conn.execute(sql, comp.params)}
    return RecordVerdicts(flagged, skipped)


@contextmanager
def _interruptible(conn: Connection, cancel: CancelToken | None, message: str
                   ) -> Iterator[CancelToken]:
    """Let a cancel token stop a long SQL statement (SQLite's progress handler), and
    report that as Cancelled with ``message``."""
    conn.create_function("regexp", 2, regexp, deterministic=True)
    token = cancel or CancelToken()
    conn.set_progress_handler(lambda: 1 if token.cancelled else 0, 20_000)
    try:
        yield token
    except DbError as exc:
        if token.cancelled and "interrupt" in str(exc).lower():
            raise Cancelled(message) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _prepare(conn: Connection) -> tuple[dict[str, int], dict[int, str]]:
    """Which record kinds are present, the registers materialised, and batch digests."""
    # Whether any record of each kind is there (1 or 0): a count would read them all.
    available = {kind: int(conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM live_{kind})").fetchone()[0])
                 for kind in ("operations", "authorisations", "cases")}
    for statement in _MATERIALISE:
        conn.execute(statement)
    completeness.prepare(conn)
    untimed = int(conn.execute("SELECT count(*) FROM live_operations WHERE ts_utc IS NULL"
                               ).fetchone()[0]) if available["operations"] else 0
    available["operations without ts"] = untimed
    # The whole count only when some lack a time (the notes say "N of M").
    available["operations counted"] = int(conn.execute(
        "SELECT count(*) FROM live_operations").fetchone()[0]) if untimed else 0
    return available, dict(conn.execute("SELECT batch_id, sha256 FROM batches").fetchall())


def _select(pack: Pack, rule_ids: Sequence[str] | None) -> list[Rule]:
    if rule_ids is None:
        return [r for r in pack.rules if r.enabled]
    unknown = [r for r in rule_ids if pack.rule(r) is None]
    if unknown:
        raise UsageError(f"Pack {pack.id} has no rule {', '.join(unknown)}; its rules are "
                         f"{', '.join(r.id for r in pack.rules)}.")
    return [r for r in pack.rules if r.id in set(rule_ids)]


def _run(ws: Workspace, conn: Connection, pack: Pack, rules: list[Rule], full: bool,
         started: str, progress: Progress, token: CancelToken) -> RunSummary:
    conn.execute(
        "INSERT OR IGNORE INTO packs(pack_sha256, pack_id, version, title, source, added_at,"
        " added_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (pack.sha256, pack.id, pack.version, pack.title, pack.source, started, ws.user))
    cur = conn.execute(
        "INSERT INTO runs(pack_sha256, pack_id, pack_version, rules, started_at, finished_at,"
        " user, summary) VALUES (?, ?, ?, ?, ?, '', ?, '{}')",
        (pack.sha256, pack.id, pack.version, json.dumps([r.id for r in rules]), started,
         ws.user))
    run_id = int(cur.lastrowid)
    available, batch_sha = _prepare(conn)
    outcomes: list[RuleOutcome] = []
    changes = _Changes()
    reasons = {rule.id: _why_not(conn, rule, available) for rule in rules}
    shared = _SharedPass([r for r in rules if reasons[r.id] is None])
    counts = _group_counts(conn, [r for r in rules if reasons[r.id] is None])
    for n, rule in enumerate(rules):
        token.check()
        progress(n, len(rules), rule.id)
        outcome = RuleOutcome(rule.id, rule.title, rule.severity, evaluated=False)
        outcome.reason = reasons[rule.id]
        hits: list[_Hit] | None = None
        outcome.note = _untimed_note(rule, available) if outcome.reason is None else None
        flagged = shared.flagged(conn, rule) if outcome.reason is None else None
        if outcome.reason is None and rule.id in counts.users:
            counts.run(conn)
        t0 = time.perf_counter()
        if outcome.reason is None:
            hits, outcome.reason = _evaluate(conn, pack, rule, batch_sha, token, flagged,
                                             counts)
        if hits is not None:
            outcome.evaluated = True
            outcome.hits = len(hits)
            outcome.new, outcome.stale = _store(conn, pack, rule, hits, run_id, changes)
        outcome.seconds = time.perf_counter() - t0
        outcomes.append(outcome)
    for outcome in outcomes:  # each rule's share of the shared passes
        if outcome.rule_id in shared.users and outcome.evaluated:
            outcome.seconds += shared.seconds / len(shared.users)
        if outcome.rule_id in counts.users and outcome.evaluated:
            outcome.seconds += counts.seconds / len(counts.users)
    token.check()
    if full:
        changes.dropped.extend(r[0] for r in conn.execute(
            "UPDATE findings SET matching = 0, stale_since_run = ?, stale_reason = ?"
            " WHERE pack_id = ? AND matching = 1 AND rule_id NOT IN"
            f" ({', '.join('?' * len(pack.rules))}) RETURNING finding_id",
            (run_id, f"rule not in pack {pack.id} {pack.version}", pack.id,
             *[r.id for r in pack.rules])).fetchall())
    finished = _now()
    summary = RunSummary(run_id, pack.id, pack.version, pack.sha256, started, finished, ws.user,
                         outcomes)
    doc = summary.to_json()
    conn.execute("UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?",
                 (finished, json.dumps(doc, ensure_ascii=False), run_id))
    ws.record("detection.run", {
        "run_id": run_id, "pack": pack.id, "version": pack.version,
        "pack_sha256": pack.sha256,
        "rules": [{"rule_id": o.rule_id, "evaluated": o.evaluated, "reason": o.reason,
                   "hits": o.hits, "new": o.new, "no_longer_matching": o.stale}
                  for o in outcomes],
        # What verify needs to re-derive every finding from the chain: the severity and
        # content digest of each finding new, changed or matching again in this run, and
        # the findings that stopped matching (proportional to what changed).
        "findings": changes.findings,
        "no_longer_matching": sorted(changes.stale),
        "rule_not_in_pack": sorted(changes.dropped),
    })
    progress(len(rules), len(rules), "done")
    return summary


def _why_not(conn: Connection, rule: Rule, available: dict[str, int]) -> str | None:
    if not available["operations"]:
        return "no operations are imported"
    for need in sorted(rule.needs):
        if not available[need]:
            return f"it reads {_NEEDS_TEXT[need]}, and none is imported"
    for column in sorted(rule.extra_columns):
        ref = FieldRef(0, "text", "extra", column)
        if conn.execute(f"SELECT 1 FROM live_operations o WHERE {field_sql(ref)} IS NOT NULL"
                        " LIMIT 1").fetchone() is None:
            return f"no imported operation has a column {column!r}"
    untimed = available.get("operations without ts", 0)
    if rule.when is None and rule.aggregates and untimed \
            and untimed == available["operations counted"] and all(
            a.kind in ("window", "empty_days") for a in rule.aggregates):
        return "no imported operation has a ts (date and time), which it counts by"
    reasons = [completeness.why_not(conn, a) for a in rule.aggregates]
    if rule.when is None and reasons and all(reasons):
        return reasons[0]
    return None


def _evaluate(conn: Connection, pack: Pack, rule: Rule, batch_sha: dict[int, str],
              token: CancelToken, flagged: Sequence[int] | None = None,
              counts: completeness.GroupCounts | None = None
              ) -> tuple[list[_Hit] | None, str | None]:
    """The rule's hits, or (None, why) when its query is beyond what SQLite or the
    compiler can take: that rule is then not evaluated, the others still are.
    ``flagged``: the operations whose record condition holds, if the pass over all
    record conditions (`_record_pass`) found them; ``counts``: the run's counts per
    group (`completeness.GroupCounts`)."""
    try:
        return list(_hits(conn, pack, rule, batch_sha, flagged, counts)), None
    except RecursionError:
        return None, "its condition is nested too deeply to be compiled"
    except DbError as exc:
        text = str(exc)
        if token.cancelled or not any(word in text.lower() for word in TOO_COMPLEX):
            raise
        return None, f"the database cannot run its condition ({text})"


def _reads_ts(node: Node | None) -> bool:
    """Whether a condition reads the operation's ``ts``."""
    if node is None:
        return False
    if isinstance(node, FieldRef):
        return node.source == "record" and node.name == "ts"
    if isinstance(node, Binary):
        return _reads_ts(node.left) or _reads_ts(node.right)
    if isinstance(node, Unary):
        return _reads_ts(node.arg)
    if isinstance(node, Call):
        return any(_reads_ts(a) for a in node.args)
    if isinstance(node, Index):
        return _reads_ts(node.key)
    return False


def _untimed_note(rule: Rule, available: dict[str, int]) -> str | None:
    """Operations without a ts cannot meet a rule's time conditions: say how many."""
    untimed = available.get("operations without ts", 0)
    timed_aggs = any(a.kind in ("window", "empty_days") for a in rule.aggregates)
    if not untimed or not (_reads_ts(rule.when) or timed_aggs):
        return None
    total = available["operations counted"]
    if untimed == total:
        return ("no operation has a ts (date and time), so the time conditions of this rule "
                "were evaluated for none of them")
    return (f"{untimed:,} of {total:,} operations {'has' if untimed == 1 else 'have'} no ts "
            "(date and time); the time conditions of this rule were not evaluated for "
            f"{'it' if untimed == 1 else 'them'}")


def _joins(refs: Sequence[FieldRef]) -> str:
    sources = {r.source for r in refs}
    return " ".join(_JOIN[s].format(t=_LATEST[s]) for s in ("authorisation", "case")
                    if s in sources)


def _decode(ref: FieldRef, value: Any) -> Any:
    if value is None:
        return None
    if ref.type == LIST:
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value
    if ref.type == BOOL:
        return bool(value)
    return value


def _hits(conn: Connection, pack: Pack, rule: Rule, batch_sha: dict[int, str],
          flagged: Sequence[int] | None = None,
          counts: completeness.GroupCounts | None = None) -> Iterator[_Hit]:
    if rule.when is not None and rule.message is not None:
        yield from _record_hits(conn, pack, rule, batch_sha, flagged)
    windows = _window_sets([_window_query(rule, i, a) for i, a in enumerate(rule.aggregates)
                            if a.kind == "window"])
    found: dict[int, list[_Found]] = {}
    for i, agg in enumerate(rule.aggregates):
        if agg.kind == "window":
            if i not in found:  # the one pass over the members of this aggregate's set
                shared = next(qs for qs in windows if i in [q.index for q in qs])
                found.update(zip([q.index for q in shared], _window_pass(conn, shared),
                                 strict=True))
            yield from _aggregate_hits(conn, pack, rule, agg, found.pop(i))
        elif completeness.why_not(conn, agg) is None:
            yield from _completeness_hits(conn, pack, rule, agg, batch_sha, counts)


def _register_joins(rule: Rule) -> str:
    """The joins to the registers that a rule's aggregates read."""
    return _joins([ref for ref in rule.facts if ref.source in ("authorisation", "case")])


def _group_counts(conn: Connection, rules: Sequence[Rule]) -> completeness.GroupCounts:
    """The shared counting pass of the never_logged and fill_rate aggregates of
    ``rules`` (those that can be evaluated)."""
    return completeness.GroupCounts([
        (rule, agg, _register_joins(rule)) for rule in rules for agg in rule.aggregates
        if agg.kind in ("never_logged", "fill_rate") and completeness.why_not(conn, agg) is None])


def _completeness_hits(conn: Connection, pack: Pack, rule: Rule, agg: Aggregate,
                       batch_sha: dict[int, str],
                       counts: completeness.GroupCounts | None = None) -> Iterator[_Hit]:
    """A log-completeness aggregate (`oversight.criteria.completeness`)."""
    part = f"aggregate:{agg.label}"
    for found in completeness.hits(conn, rule, agg, _register_joins(rule), batch_sha,
                                   counts):
        yield _Hit(
            finding_id=_finding_id(pack, rule, part, found.group_key), part=part,
            group_key=found.group_key, rids=found.rids, record_ids=found.record_ids,
            message=found.message, facts=found.facts, first_ts_utc=found.first_ts_utc)


def _record_query(comp: Compiler, rule: Rule, columns: str, restrict: str = "") -> str:
    """The query that decides which operations a record rule flags: detection and
    `record_verdicts` (the timeline) both use it, so they cannot disagree."""
    assert rule.when is not None
    cond = comp.cond(rule.when)
    return (f"SELECT {columns} FROM live_operations o {_joins(rule.facts)} "
            f"WHERE ({cond}){restrict}")


#: A rule flagging more operations than this reads them in a scan of its own rather than
#: by row id (a scan then costs less than the look-ups).
_LOOKUP_AT_MOST = 50_000


def _record_pass(conn: Connection, rules: Sequence[Rule]) -> dict[str, array[int]] | None:
    """The operations each record condition of ``rules`` holds for, found in one pass
    over the operations (each operation read and joined once, not once per rule).

    Each rule's condition is compiled as for its own query; a rule whose condition
    cannot be compiled is left out (its own evaluation says why). None when SQLite
    cannot run the whole pass (its limits, or a failing regular expression): each rule
    then runs alone, as its own query, and only a rule beyond the limits fails."""
    comp = Compiler()
    conds: list[tuple[Rule, str]] = []
    for rule in rules:
        if rule.when is None or rule.message is None:
            continue
        mark = len(comp.params)
        try:
            conds.append((rule, comp.cond(rule.when)))
        except RecursionError:
            del comp.params[mark:]
    if not conds:
        return {}
    joins = _joins([ref for rule, _ in conds for ref in rule.facts])
    sql = (f"SELECT o.rid, {', '.join(c for _, c in conds)} FROM live_operations o {joins} "
           f"WHERE {_any_of([c for _, c in conds])}")
    flagged: dict[str, array[int]] = {rule.id: array("q") for rule, _ in conds}
    lists = [flagged[rule.id] for rule, _ in conds]
    try:
        cursor = conn.execute(sql, comp.params)
        while rows := cursor.fetchmany(1_000):
            for row in rows:
                for held, rids in zip(row[1:], lists, strict=True):
                    if held:
                        rids.append(row[0])
    except DbError as exc:
        if any(word in str(exc).lower() for word in TOO_COMPLEX):
            return None
        raise
    return flagged


class _SharedPass:
    """`_record_pass` over the record conditions of ``rules``, run when the first of
    them is evaluated."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = [r for r in rules if r.when is not None and r.message is not None]
        self.users = {r.id for r in self.rules}
        self.seconds = 0.0
        self._flagged: dict[str, array[int]] | None = None
        self._ran = False

    def flagged(self, conn: Connection, rule: Rule) -> Sequence[int] | None:
        """The operations ``rule``'s condition holds for; None if the pass has not
        judged it (the rule then runs its own query)."""
        if rule.id not in self.users:
            return None
        if not self._ran:
            t0 = time.perf_counter()
            self._flagged = _record_pass(conn, self.rules)
            self._ran = True
            self.seconds = time.perf_counter() - t0
        return None if self._flagged is None else self._flagged.get(rule.id)


def _any_of(conds: list[str]) -> str:
    """``conds`` joined by OR as a balanced tree (SQLite limits an expression's depth)."""
    if len(conds) == 1:
        return f"({conds[0]})"
    half = len(conds) // 2
    return f"({_any_of(conds[:half])} OR {_any_of(conds[half:])})"


def _record_hits(conn: Connection, pack: Pack, rule: Rule, batch_sha: dict[int, str],
                 flagged: Sequence[int] | None = None) -> Iterator[_Hit]:
    assert rule.when is not None and rule.message is not None
    comp = Compiler()
    facts = list(rule.facts)
    # A finding's time (for ordering, charts and periods) only when it can be right:
    # a placeholder such as 1900-01-01 stays in the facts but dates nothing.
    cols = ", ".join(["o.rid", "o.batch_id", "o.record_id", completeness.PLAUSIBLE_UTC,
                      *[field_sql(f, as_value=True) for f in facts]])
    restrict = ""
    if flagged is not None and len(flagged) <= _LOOKUP_AT_MOST:
        # The same query, on the rows the one pass found: each read by its row id.
        chosen = json.dumps(list(flagged))
        restrict = f" AND o.rid IN (SELECT value FROM json_each({comp.p(chosen)}))"
    sql = _record_query(comp, rule, cols, restrict)
    for row in conn.execute(sql, comp.params):
        rid, batch_id, record_id, ts_utc = row[:4]
        values = {f.label: _decode(f, v) for f, v in zip(facts, row[4:], strict=True)}
        shown = {**rule.params, **values, "record_id": record_id}
        yield _Hit(
            finding_id=_finding_id(pack, rule, "record", f"{batch_sha[batch_id]}:{record_id}"),
            part="record", group_key=None, rids=[rid], record_ids=[record_id],
            message=" ".join(rule.message.render(shown).split()),
            facts={"fields": values, "parameters": rule.params},
            first_ts_utc=ts_utc)


@dataclass
class _WindowQuery:
    """The members of a window aggregate: the operations it counts, each with its time,
    group values and (for a distinct count) the value counted."""

    index: int
    """The aggregate's position in its rule."""
    agg: Aggregate
    params: list[Any]
    froms: str
    where: str
    groups: list[str]
    distinct: str | None
    unique: str


def _window_query(rule: Rule, index: int, agg: Aggregate) -> _WindowQuery:
    comp = Compiler()
    where = comp.cond(agg.records) if agg.records is not None else "1"
    refs = [ref for ref in rule.facts if ref.source in ("authorisation", "case")]
    froms = [f"live_operations o {_joins(refs)}"]
    groups = []
    for i, ref in enumerate(agg.group_by):
        if ref.type == LIST:
            froms.append(f"json_each(o.{ref.name}) j{i}")
            groups.append(f"j{i}.value")
        else:
            groups.append(f"o.{ref.name}")
    distinct = f"o.{agg.distinct.name}" if agg.distinct is not None else None
    # Every group value and the counted value present (in one order, so that two
    # aggregates reading the same members write the same condition).
    present = sorted({*groups, *([distinct] if distinct else [])})
    not_blank = " AND ".join(f"{g} IS NOT NULL AND trim({g}) != ''" for g in present)
    # DISTINCT (only where a list is grouped): a list naming the same person twice is
    # still one record per person.
    unique = "DISTINCT " if any(ref.type == LIST for ref in agg.group_by) else ""
    return _WindowQuery(index, agg, comp.params, ", ".join(froms),
                        f"{where} AND o.ts_utc IS NOT NULL AND {not_blank}", groups,
                        distinct, unique)


def _window_sets(queries: list[_WindowQuery]) -> list[list[_WindowQuery]]:
    """Window aggregates (of one rule) that read the same members, each set read in one
    pass: the same operations, conditions and lists, with the groups of one the first
    groups of the others (as one person looked up by one officer, and by any)."""
    sets: list[list[_WindowQuery]] = []
    for q in queries:
        for members in sets:
            lead = members[0]
            shortest = min([*members, q], key=lambda m: len(m.groups)).groups
            if ((q.froms, q.where, q.unique) == (lead.froms, lead.where, lead.unique)
                    and q.params == lead.params
                    and all(m.groups[:len(shortest)] == shortest for m in [*members, q])):
                members.append(q)
                break
        else:
            sets.append([q])
    return sets


#: A group's members within one finding, (key, members, count); members are (rid,
#: ts_utc, counted value) in time order.
_Found = tuple[Any, list[tuple[Any, ...]], int]


def _window_pass(conn: Connection, queries: list[_WindowQuery]) -> list[list[_Found]]:
    """The exceeding windows of each of ``queries`` (one `_window_sets` set), found in
    one pass over their members in SQL order: sorted by the groups they share, then
    time. An aggregate with more groups splits each shared group by its own further
    values, in the order SQL would sort them (`completeness.sqlite_order`), so each of
    its groups is counted exactly as if sorted by all its groups.

    A group with no more members than the limit, or whose members never come close
    enough in time to exceed it, is skipped without counting. (A SQL window function
    found the groups worth counting before, but its result was materialised and joined
    back, holding every operation in memory twice.) The sort holds only what the
    counting reads; the record ids and local times of the members of a finding are read
    afterwards."""
    lead = queries[0]
    shared = min((q.groups for q in queries), key=len)
    width = len(shared)
    extras: list[str] = []  # further group values and counted values, each once
    for q in queries:
        for expr in [*q.groups[width:], *([q.distinct] if q.distinct else [])]:
            if expr not in extras:
                extras.append(expr)
    gcols = [f"g{i}" for i in range(width)]
    cols = [*(f"{g} AS {c}" for g, c in zip(shared, gcols, strict=True)),
            *(f"{x} AS x{i}" for i, x in enumerate(extras))]
    sql = (
        # Each row is a member (rid, ts_utc), its shared group values, then the extras.
        f"WITH base AS (SELECT {lead.unique}o.rid AS rid, o.ts_utc AS t, {', '.join(cols)} "
        f"FROM {lead.froms} WHERE {lead.where}) "
        f"SELECT * FROM base ORDER BY {', '.join(gcols)}, t, rid"
    )
    at = {x: 2 + width + i for i, x in enumerate(extras)}
    plans = [(q.agg, None if q.distinct is None else at[q.distinct],
              [at[g] for g in q.groups[width:]]) for q in queries]
    found: list[list[_Found]] = [[] for _ in queries]
    group_of = itemgetter(*range(2, 2 + width))  # one value for one group column

    def count(key: Any, block: list[tuple[Any, ...]]) -> None:
        if not block:
            return
        times: list[int] | None = None
        for (agg, d, further), out in zip(plans, found, strict=True):
            if len(block) <= agg.limit:
                continue
            # A group of the shared values that cannot exceed has no part that can.
            times = [m[1] for m in block] if times is None else times
            if not _may_exceed(times, agg):
                continue
            if not further:
                out.extend((key, _counted(c, d), n)
                           for c, n in _windows(block, agg, d or 0, times))
                continue
            split: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
            for m in block:
                split.setdefault(tuple(m[i] for i in further), []).append(m)
            for more in sorted(split, key=lambda k: [completeness.sqlite_order(v)
                                                     for v in k]):
                members = split[more]
                if len(members) > agg.limit:
                    full = (key, *more) if width == 1 else (*key, *more)
                    out.extend((full, _counted(c, d), n)
                               for c, n in _windows(members, agg, d or 0))

    cursor = conn.execute(sql, lead.params)
    key: Any = _NO_GROUP
    block: list[tuple[Any, ...]] = []
    while rows := cursor.fetchmany(10_000):
        for row in rows:
            if group_of(row) != key:
                count(key, block)
                key, block = group_of(row), []
            block.append(row)
    count(key, block)
    return found


def _aggregate_hits(conn: Connection, pack: Pack, rule: Rule, agg: Aggregate,
                    found: list[_Found]) -> Iterator[_Hit]:
    part = f"aggregate:{agg.label}"
    shown = completeness.records_by_rid(conn, [m[0] for _, c, _ in found for m in c])
    for key, cluster, count in found:
        values = (key,) if len(agg.group_by) == 1 else tuple(key)
        # Each member as (rid, record_id, local ts, ts_utc, distinct value).
        full = [(m[0], *shown[m[0]][:2], m[1], m[2]) for m in cluster]
        yield _group_hit(pack, rule, agg, part, values, full, count)


_NO_GROUP = object()


def _may_exceed(times: Sequence[int], agg: Aggregate) -> bool:
    """Whether some window of a group can count more than the limit: a count above it
    needs that many members plus one within the window's length of each other (members
    sorted by time; a distinct count is never above the number of members)."""
    if not math.isfinite(agg.limit) or agg.window_us < 0:
        return True
    gap = max(math.floor(agg.limit), 0)  # positions between the first and last of them
    w = agg.window_us
    if len(times) <= gap:
        return False
    # The closest of those spans (map and min loop in C: this screens every group).
    closest: int = min(map(sub, times[gap:], times))
    return closest <= w


def _counted(members: list[tuple[Any, ...]], counted: int | None
             ) -> list[tuple[Any, ...]]:
    """Members of a finding as (rid, ts_utc, counted value or None)."""
    return [(m[0], m[1], None if counted is None else m[counted]) for m in members]


def _windows(members: list[tuple[Any, ...]], agg: Aggregate, counted: int = 2,
             times: list[int] | None = None) -> list[tuple[list[tuple[Any, ...]], int]]:
    """Exceeding windows of one group, merged per group or per burst.

    ``members`` are (rid, ts_utc, ...) sorted by time, with the value a distinct count
    counts at position ``counted``; ``times``: their times, if already read and found
    to `_may_exceed`. A window ends at each member and reaches back ``window_us`` (both
    ends inclusive, members at the same instant all inside)."""
    w = agg.window_us
    if times is None:
        times = [m[1] for m in members]
        if not _may_exceed(times, agg):
            return []
    counts: Counter[Any] = Counter()
    ends: list[tuple[int, int, int]] = []  # (first index, last index, count)
    lo = 0
    hi = 0  # members[lo:hi] is the current window
    for t in times:
        while hi < len(members) and times[hi] <= t:
            counts[members[hi][counted] if agg.distinct else hi] += 1
            hi += 1
        while times[lo] < t - w:
            key = members[lo][counted] if agg.distinct else lo
            counts[key] -= 1
            if not counts[key]:
                del counts[key]
            lo += 1
        n = len(counts)
        if n > agg.limit and (not ends or ends[-1][1] != hi - 1 or ends[-1][0] != lo):
            ends.append((lo, hi - 1, n))
        elif n > agg.limit:
            ends[-1] = (lo, hi - 1, max(n, ends[-1][2]))
    if not ends:
        return []
    clusters: list[tuple[int, int, int]] = []
    for first, last, n in ends:
        if clusters and (not agg.per_burst or first <= clusters[-1][1]):
            a, b, m = clusters[-1]
            clusters[-1] = (min(a, first), max(b, last), max(m, n))
        else:
            clusters.append((first, last, n))
    if not agg.per_burst:
        # One finding per group: only the members inside some exceeding window.
        inside = sorted({i for first, last, _ in ends for i in range(first, last + 1)})
        return [([members[i] for i in inside], max(n for _, _, n in ends))]
    return [(members[a:b + 1], n) for a, b, n in clusters]


def _group_hit(pack: Pack, rule: Rule, agg: Aggregate, part: str, key: tuple[Any, ...],
               members: list[tuple[Any, ...]], count: int) -> _Hit:
    group = {ref.name: value for ref, value in zip(agg.group_by, key, strict=True)}
    first, last = members[0], members[-1]
    group_key = json.dumps(group, ensure_ascii=False, sort_keys=True)
    if agg.per_burst:
        group_key += f"@{first[3]}"
    limit = int(agg.limit) if float(agg.limit).is_integer() else agg.limit
    values = {**rule.params, **group, "count": count, "limit": limit,
              "window": agg.window_text, "first": first[2], "last": last[2],
              "records": len(members)}
    return _Hit(
        finding_id=_finding_id(pack, rule, part, group_key),
        part=part, group_key=group_key,
        rids=[m[0] for m in members], record_ids=[m[1] for m in members],
        message=" ".join(agg.message.render(values).split()),
        facts={"group": group, "count": count, "limit": limit, "window": agg.window_text,
               "first": first[2], "last": last[2], "records": len(members),
               "parameters": rule.params},
        first_ts_utc=first[3])


@dataclass
class _Changes:
    """What a run changed in the findings, for its audit event."""

    findings: dict[str, list[str]] = field(default_factory=dict)
    """Finding id -> [severity, content digest], for findings new, changed or matching
    again."""
    stale: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Findings of rules no longer in the pack."""


def _store(conn: Connection, pack: Pack, rule: Rule, hits: list[_Hit], run_id: int,
           changes: _Changes) -> tuple[int, int]:
    known = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT finding_id, content_digest, matching FROM findings"
        " WHERE pack_id = ? AND rule_id = ?", (pack.id, rule.id))}
    existing = set(known)
    refs = json.dumps(list(rule.legal_refs), ensure_ascii=False)
    rows = []
    relinked: list[str] = []
    for h in hits:
        facts = json.dumps(h.facts, ensure_ascii=False, default=str)
        record_ids = json.dumps(h.record_ids, ensure_ascii=False)
        digest = finding_digest(pack.id, rule.id, h.part, h.group_key, rule.severity,
                                h.message, facts, refs, record_ids, h.first_ts_utc, h.rids)
        if known.get(h.finding_id) != (digest, 1):
            changes.findings[h.finding_id] = [rule.severity, digest]
            if h.finding_id in existing:
                relinked.append(h.finding_id)
        rows.append((h.finding_id, pack.id, rule.id, h.part, h.group_key, rule.severity,
                     h.message, facts, refs, record_ids, h.first_ts_utc, run_id, run_id,
                     digest))
    conn.executemany(
        "INSERT INTO findings(finding_id, pack_id, rule_id, part, group_key, severity, status,"
        " message, facts, legal_refs, record_ids, first_ts_utc, first_run, last_run, matching,"
        " content_digest) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, 1, ?)"
        " ON CONFLICT(finding_id) DO UPDATE SET severity = excluded.severity,"
        " message = excluded.message, facts = excluded.facts, legal_refs = excluded.legal_refs,"
        " record_ids = excluded.record_ids, first_ts_utc = excluded.first_ts_utc,"
        " last_run = excluded.last_run, matching = 1, stale_since_run = NULL,"
        " stale_reason = NULL, content_digest = excluded.content_digest", rows)
    # A finding whose content changed rests on the records of this run only: a group's
    # members change, and a record re-imported after its batch was retracted has a new
    # row id (the digest covers the row ids, and verify recomputes it from these rows).
    conn.executemany("DELETE FROM finding_records WHERE finding_id = ?",
                     [(fid,) for fid in relinked])
    conn.executemany("INSERT OR IGNORE INTO finding_records(finding_id, rid) VALUES (?, ?)",
                     [(h.finding_id, rid) for h in hits for rid in h.rids])
    # What this run found, kept per run (compare indicators with an earlier run).
    conn.executemany("INSERT OR IGNORE INTO run_findings(run_id, finding_id, rid)"
                     " VALUES (?, ?, ?)", [(run_id, h.finding_id, rid) for h in hits
                                           for rid in h.rids])
    stale = [r[0] for r in conn.execute(
        "UPDATE findings SET matching = 0, stale_since_run = ?,"
        " stale_reason = 'no longer matches (data or criteria changed)'"
        " WHERE pack_id = ? AND rule_id = ? AND matching = 1 AND last_run < ?"
        " RETURNING finding_id", (run_id, pack.id, rule.id, run_id)).fetchall()]
    changes.stale.extend(stale)
    new = len({h.finding_id for h in hits} - existing)
    return new, len(stale)
