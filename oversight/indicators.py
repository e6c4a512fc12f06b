"""Compliance indicators: operations, findings and the review's conclusions per agency,
channel, rule, severity, actor role and period, with rates and their uncertainty.

Oversight bodies report whether things get better: errors per agency and per power,
which channels of cooperation are used lawfully, from one inspection to the next. An
indicator row counts, for one group: the operations in scope, the findings on them, how
many the review confirmed, dismissed or still has open, findings per 1,000 operations,
and the **confirmed rate**: confirmed among the decided findings (confirmed + dismissed),
with a Wilson 95% interval, because a rate resting on a reviewed sample is an estimate.

What counts (docs/indicators.md says it for users):

- Operations: live operations (a retracted batch counts nowhere), in the period if one is
  given (local days of the workspace timezone, `oversight.periods`).
- Findings: those of the pack of the latest detection run that still match. A finding
  no longer matching, or labelled "source retracted", is left out and counted in
  ``left_out`` with why. A finding counts once, in the group of its earliest live
  operation (an aggregate finding spans several).
- A channel is the first of the pack's ``channels:`` whose condition an operation meets,
  else ``other``.
- ``--compare-to RUN`` recomputes everything as it stood at that run: the findings that
  run (and, per rule, the latest run before it that evaluated the rule) found, on the
  operations imported before it started; decisions are those recorded now.
  ``--compare-to PERIOD`` recomputes the same indicators over another period.

Everything is read-only and goes through the ``live_*`` views.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from itertools import product
from pathlib import Path
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

from db.keyslots import write_atomic
from db.store import DbError
from oversight import stored
from oversight.criteria import completeness
from oversight.criteria.pack import OTHER_CHANNEL, SEVERITIES, Pack, parse_pack
from oversight.criteria.regex import regexp
from oversight.criteria.sql import Compiler
from oversight.csvsafe import neutralise
from oversight.errors import Cancelled, UsageError
from oversight.periods import (
    Period,
    day_bounds,
    local_month_of,
    month_bounds,
    month_label,
    month_starts,
    parse_period,
    quarter_label,
    workspace_timezone,
    zone,
)
from oversight.progress import CancelToken
from oversight.records import Kind
from oversight.retraction import SOURCE_RETRACTED, live_table
from oversight.workspace import Permission, Workspace

__all__ = [
    "COLUMNS",
    "CONFIDENCE",
    "GROUP_KEYS",
    "REPORT_GROUPINGS",
    "STATUS_CHOICES",
    "IndicatorQuery",
    "Indicators",
    "Row",
    "compute",
    "compute_many",
    "label_places",
    "percent_text",
    "points_text",
    "rate_text",
    "report_indicators",
    "wilson",
]

GROUP_KEYS = ("agency", "channel", "rule", "severity", "actor_role", "month", "quarter")
_OP_KEYS = ("agency", "channel", "actor_role", "month", "quarter")
_TIME_KEYS = ("month", "quarter")
STATUS_CHOICES = ("any", "confirmed")
#: The numbers of a row, in the order of --json, --csv and the tables.
COLUMNS = ("operations", "findings", "confirmed", "dismissed", "open", "per_1000", "decided",
           "confirmed_rate", "ci_low", "ci_high")
#: A run id as --compare-to takes it: ASCII digits only (str.isdigit() also accepts
#: "²" or "١", which int() refuses or reads as another number).
_RUN_ID = re.compile(r"[0-9]+")
_COUNTS = ("operations", "findings", "confirmed", "dismissed", "open", "decided")
CONFIDENCE = 0.95
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)  # 1.959963984540054
_DIGITS = 6
#: Months between these years are found by a comparison tree inside SQLite; an
#: operation outside them (rare) by Python.
_TREE_YEARS = (1970, 2099)


def rate_text(value: float, decimals: int = 2, sign: bool = False) -> str:
    """A rate as people read it: ``decimals`` places with thousands separators, except
    that a rate which is not zero is never written as zero. Two findings among 50,000
    operations are 0.04 per 1,000, not "0.0": a small rate keeps places until its first
    digit shows. ``sign`` writes + before a positive change."""
    places = decimals
    while value and round(abs(value), places) == 0 and places < 12:
        places += 1
    return f"{value:{'+' if sign else ''},.{places}f}"


def label_places(values: Iterable[float]) -> int:
    """Places for a chart's value labels: one, or two when every rate is under 1 (so
    0.06 and 0.08 per 1,000 do not both read 0.1 beside bars of different lengths)."""
    return 1 if max((abs(v) for v in values), default=0.0) >= 1 else 2


def percent_text(share: float | None, decimals: int = 1) -> str:
    """A share (0..1) as a percentage by rate_text; empty for None."""
    return "" if share is None else rate_text(share * 100, decimals) + "%"


def points_text(change: float) -> str:
    """A change of a share (0..1) in percentage points, signed: "+4.2 pts"."""
    return f"{rate_text(change * 100, 1, sign=True)} pts"


def wilson(successes: int, trials: int, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None when there are no trials)."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # At 0 and at every success the end is exactly 0 or 1 (the formula's rounding
    # leaves a few 1e-19 that would put the rate outside its own interval).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class IndicatorQuery:
    """What to compute: groupings, period, which findings count, a comparison."""

    by: tuple[str, ...] = ()
    """Group keys, in order (GROUP_KEYS); none: one row for everything."""
    date_from: date | None = None
    """First local day (inclusive) of operations in scope."""
    date_to: date | None = None
    """Last local day (inclusive)."""
    status: str = "any"
    """Which findings the findings and per_1000 columns count: any status, or confirmed."""
    compare_to: str | None = None
    """A detection run id, or a period (2025-03, 2025-Q1, 2025-01-01..2025-12-31)."""

    def check(self) -> None:
        for key in self.by:
            if key not in GROUP_KEYS:
                raise UsageError(f"Unknown grouping {key!r}; group --by one of "
                                 f"{', '.join(GROUP_KEYS)}.")
        if len(set(self.by)) != len(self.by):
            raise UsageError("A grouping is given twice; give each --by once.")
        if self.status not in STATUS_CHOICES:
            raise UsageError(f"--status is {' or '.join(STATUS_CHOICES)}, not {self.status!r}.")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise UsageError(f"The period ends ({self.date_to}) before it starts "
                             f"({self.date_from}).")


# -- results ------------------------------------------------------------------------------


@dataclass
class Row:
    """One group's indicators."""

    group: dict[str, str | None]
    operations: int = 0
    findings: int = 0
    confirmed: int = 0
    dismissed: int = 0
    open: int = 0
    per_1000: float | None = None
    decided: int = 0
    confirmed_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    change: dict[str, Any] | None = None
    members: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """(finding id, status) of the findings this row counts (click-through)."""

    def values(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"group": dict(self.group), **self.values()}
        if self.change is not None:
            doc["change"] = self.change
        return doc

    def finding_ids(self, column: str = "findings", status: str = "any") -> list[str]:
        """The findings a cell counts: ``confirmed``, ``dismissed``, ``open`` or
        ``decided`` those; ``findings`` (and the rates) the ones the row counts."""
        wanted: set[str] | None
        if column == "confirmed" or (column == "findings" and status == "confirmed"):
            wanted = {"confirmed"}
        elif column == "dismissed":
            wanted = {"dismissed"}
        elif column in ("decided", "confirmed_rate", "ci_low", "ci_high"):
            wanted = {"confirmed", "dismissed"}
        elif column == "open":
            return sorted(fid for fid, st in self.members if st not in ("confirmed",
                                                                          "dismissed"))
        else:
            wanted = None
        return sorted(fid for fid, st in self.members if wanted is None or st in wanted)


@dataclass
class Indicators:
    """Rows of one grouping, their total and everything needed to reproduce them."""

    by: tuple[str, ...]
    rows: list[Row]
    total: Row
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"rows": [r.to_json() for r in self.rows], "total": self.total.to_json(),
                "by": list(self.by), **self.meta}

    def csv(self) -> str:
        """The rows as CSV: group keys, the numbers, and with a comparison the baseline's
        numbers and the changes. Group values (names from the logs) are neutralised
        against spreadsheet formulas; numbers are written as numbers (a change of -3
        stays -3) and signs as up, down or same."""
        compare = self.meta.get("compare_to") is not None
        header = [*self.by, *COLUMNS]
        if compare:
            header += [f"baseline_{c}" for c in COLUMNS]
            header += [f"change_{c}" for c in _CHANGE_COLUMNS]
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(header)
        for r in self.rows:
            line: list[Any] = [neutralise(r.group.get(k)) for k in self.by]
            line += [_csv_number(getattr(r, c)) for c in COLUMNS]
            if compare:
                change = r.change or {}
                base = change.get("baseline") or {}
                line += [_csv_number(base.get(c)) for c in COLUMNS]
                line += [_csv_number(change.get(c)) for c in _CHANGE_COLUMNS]
            writer.writerow(line)
        return buf.getvalue()

    def write_csv(self, path: Path) -> None:
        """The CSV written as every export is: atomically, owner-only, with a BOM so
        spreadsheets read it as UTF-8."""
        write_atomic(path, ("\ufeff" + self.csv()).encode("utf-8"), mode=0o600)


_CHANGE_COLUMNS = ("operations", "findings", "confirmed", "dismissed", "open", "decided",
                   "per_1000", "per_1000_sign", "confirmed_rate", "confirmed_rate_sign",
                   "intervals_overlap")


_SIGN_WORDS = {"+": "up", "-": "down", "0": "same"}


def _csv_number(value: Any) -> Any:
    """A number (or a flag, or a sign) of ours as a CSV cell; never text from a log."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return _SIGN_WORDS[value]
    return value


# -- the scan -----------------------------------------------------------------------------


@dataclass
class _Finding:
    finding_id: str
    rule: str
    severity: str
    status: str
    ops: tuple[Any, ...]
    """Values of the scanned operation dimensions of its earliest live operation."""


@dataclass
class _Side:
    """Operations and findings of one side (now, or the baseline of a comparison)."""

    ops: Counter[tuple[Any, ...]]
    findings: list[_Finding]
    rules: list[str]
    """Rules evaluated (the rows of a grouping by rule), in pack order."""
    runs: list[int]
    left_out: dict[str, int]
    first: date | None
    last: date | None


@dataclass
class _Context:
    ws: Workspace
    tz_name: str
    tz: ZoneInfo
    pack: Pack
    """The pack of the latest run: channels, rule order."""
    latest: dict[str, Any]
    dims: tuple[str, ...]
    """Operation dimensions scanned: agency, channel, actor_role, month (a subset)."""
    ops: str
    """Where live operations are read: `retraction.live_table` (the live view, or the
    table itself while no batch of operations is retracted: the same rows, and a query
    answered from an index alone need not look at each row's batch)."""


def _dims(groupings: Iterable[Sequence[str]]) -> tuple[str, ...]:
    wanted = {("month" if k == "quarter" else k) for by in groupings for k in by
              if k in _OP_KEYS}
    return tuple(d for d in ("agency", "channel", "actor_role", "month") if d in wanted)


def _runs(ws: Workspace) -> list[dict[str, Any]]:
    rows = ws.conn.execute(
        "SELECT run_id, pack_id, pack_version, pack_sha256, started_at, rules, summary"
        " FROM runs ORDER BY run_id").fetchall()
    return [{"run_id": r[0], "pack": r[1], "version": r[2], "pack_sha256": r[3],
             "started_at": r[4], "rules": stored.json_list(r[5]), "summary": stored.json_dict(r[6])}
            for r in rows]


@lru_cache(maxsize=8)
def _stored_pack(source: str) -> Pack:
    return parse_pack(source, "stored pack")


def _pack_of(ws: Workspace, sha: str) -> Pack:
    row = ws.conn.execute("SELECT source FROM packs WHERE pack_sha256 = ?", (sha,)).fetchone()
    if row is None:  # pragma: no cover - a run always records its pack
        raise UsageError(f"The criteria pack {sha[:16]}… of a run is missing.")
    return _stored_pack(str(row[0]))


def _evaluating_runs(runs: list[dict[str, Any]], at: dict[str, Any], pack: Pack
                     ) -> dict[str, int]:
    """Rule id -> the latest run up to ``at`` (same pack id) that evaluated it: what
    'still matching as of ``at``' rests on, rule by rule."""
    out: dict[str, int] = {}
    for run in runs:
        if run["run_id"] > at["run_id"] or run["pack"] != at["pack"]:
            continue
        for outcome in run["summary"].get("rules", []):
            if outcome.get("evaluated"):
                out[str(outcome["rule_id"])] = int(run["run_id"])
    known = [r.id for r in pack.rules]
    return {rule: out[rule] for rule in known if rule in out}


#: An operation's time can place it in a month: present and plausible (not before 1970,
#: not more than a day after its batch was imported: a placeholder such as 1900-01-01 or
#: a typo such as 2206 is rule DQ-02's finding, and such an operation is in no month, as
#: one without a time). Reads the run's temp table of batch import times
#: (``completeness.prepare``). A time up to the earliest batch's limit is plausible
#: whatever its batch (that limit is read once per statement; -1 when a batch's import
#: time is unreadable, so that batch's times stay implausible); only a later time looks
#: up its own batch's (a CASE stops at the first branch that holds: a look-up fewer per
#: operation, about a fifth of the time by agency and month).
_FLOOR = ("(SELECT CASE WHEN count(*) = (SELECT count(*) FROM batches) THEN min(latest_us)"
          " ELSE -1 END FROM temp.batch_times)")
_PLAUSIBLE = (f"(CASE WHEN o.ts_utc < 0 THEN 0 WHEN o.ts_utc <= {_FLOOR} THEN 1"
              " ELSE coalesce(o.ts_utc <= (SELECT bt.latest_us FROM temp.batch_times bt"
              " WHERE bt.batch_id = o.batch_id), 0) END)")


@lru_cache(maxsize=4)
def _month_sql(tz_name: str) -> str:
    """The local month index of ``o.ts_utc``: a balanced comparison tree over the month
    boundaries of ``_TREE_YEARS`` (integer literals computed here, never user text),
    depth 11 for 1,560 months; an instant outside them goes to Python."""
    starts = month_starts(_TREE_YEARS[0], _TREE_YEARS[1], ZoneInfo(tz_name))
    bounds = [b for b, _ in starts]
    labels = [m for _, m in starts[:-1]]

    def tree(lo: int, hi: int) -> str:  # months lo..hi-1
        if hi - lo == 1:
            return str(labels[lo])
        mid = (lo + hi) // 2
        return f"CASE WHEN o.ts_utc < {bounds[mid]} THEN {tree(lo, mid)} ELSE {tree(mid, hi)} END"

    return (f"CASE WHEN NOT {_PLAUSIBLE} THEN NULL WHEN o.ts_utc < {bounds[0]} OR "
            f"o.ts_utc >= {bounds[-1]} THEN ow_local_month(o.ts_utc) "
            f"ELSE {tree(0, len(labels))} END")


def _dim_sql(ctx: _Context, comp: Compiler) -> list[str]:
    out = []
    for dim in ctx.dims:
        if dim in ("agency", "actor_role"):
            out.append(f"nullif(trim(o.{dim}), '')")
        elif dim == "channel":
            whens = " ".join(f"WHEN {comp.cond(ch.when)} THEN {i}"
                             for i, ch in enumerate(ctx.pack.channels))
            out.append(f"(CASE {whens} ELSE -1 END)" if whens else "-1")
        else:
            out.append(_month_sql(ctx.tz_name))
    return out


def _period_sql(comp: Compiler, lo: int | None, hi: int | None) -> str:
    parts = []
    if lo is not None:
        parts.append(f"o.ts_utc >= {comp.p(lo)}")
    if hi is not None:
        parts.append(f"o.ts_utc < {comp.p(hi)}")
    return " AND ".join(parts) or "1"


def _batch_sql(comp: Compiler, batches: list[int] | None) -> str:
    if batches is None:
        return ""
    return f" AND o.batch_id IN (SELECT value FROM json_each({comp.p(json.dumps(batches))}))"


def _scan_operations(ctx: _Context, lo: int | None, hi: int | None,
                     batches: list[int] | None) -> Counter[tuple[Any, ...]]:
    """Operations in scope counted per value of the scanned dimensions."""
    if set(ctx.dims) <= {"agency", "month"}:
        fast = _scan_by_index(ctx, lo, hi, batches)
        if fast is not None:
            return fast
    comp = Compiler()
    exprs = _dim_sql(ctx, comp)
    where = _period_sql(comp, lo, hi) + _batch_sql(comp, batches)
    cols = ", ".join([*exprs, "count(*)"])
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(exprs)))}" if exprs else ""
    sql = f"SELECT {cols} FROM {ctx.ops} o WHERE {where}{group}"
    out: Counter[tuple[Any, ...]] = Counter()
    for row in ctx.ws.conn.execute(sql, comp.params):
        if row[-1]:
            out[tuple(row[:-1])] += int(row[-1])
    return out


def _scan_by_index(ctx: _Context, lo: int | None, hi: int | None,
                   batches: list[int] | None) -> Counter[tuple[Any, ...]] | None:
    """By agency and month without reading a row: the index on (agency, ts_utc,
    batch_id) gives each agency's count and time span in one pass, then each month of
    that span is one range of the index (no sort of a million rows either).
    None: a time beyond the calendar, left to the general scan."""
    conn = ctx.ws.conn
    comp = Compiler()
    where = _period_sql(comp, lo, hi) + _batch_sql(comp, batches)
    plausible = f"CASE WHEN {_PLAUSIBLE} THEN o.ts_utc END"
    extents = conn.execute(
        f"SELECT o.agency, count(*), count({plausible}), min({plausible}), max({plausible})"
        f" FROM {ctx.ops} o WHERE {where} GROUP BY o.agency", comp.params).fetchall()
    by_month = "month" in ctx.dims
    with_agency = "agency" in ctx.dims
    out: Counter[tuple[Any, ...]] = Counter()

    def key(agency: Any, month: int | None) -> tuple[Any, ...]:
        label = agency.strip(" ") or None if isinstance(agency, str) else agency
        return ((label,) if with_agency else ()) + ((month,) if by_month else ())

    for agency, n, timed, first, last in extents:
        if not by_month:
            out[key(agency, None)] += int(n)
            continue
        if n > timed:
            out[key(agency, None)] += int(n) - int(timed)
        if not timed:
            continue
        m_first, m_last = local_month_of(int(first), ctx.tz), local_month_of(int(last), ctx.tz)
        if m_first is None or m_last is None:
            return None
        for month in range(m_first, m_last + 1):
            m_lo, m_hi = month_bounds(month, ctx.tz)
            if m_lo is None or m_hi is None:
                return None
            q = Compiler()
            match = f"o.agency = {q.p(agency)}" if agency is not None else "o.agency IS NULL"
            cond = (f"{match} AND o.ts_utc >= {q.p(max(m_lo, lo or m_lo))}"
                    f" AND o.ts_utc < {q.p(min(m_hi, hi or m_hi))} AND {_PLAUSIBLE}"
                    f"{_batch_sql(q, batches)}")
            count = int(conn.execute(f"SELECT count(*) FROM {ctx.ops} o WHERE {cond}",
                                     q.params).fetchone()[0])
            if count:
                out[key(agency, month)] += count
    return out


_EARLIEST = ("ORDER BY x.ts_utc IS NULL, x.ts_utc, x.rid LIMIT 1")


def _in_period(ts: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is None and hi is None:
        return True
    if ts is None:
        return False
    return (lo is None or ts >= lo) and (hi is None or ts < hi)


def _scan_current(ctx: _Context, lo: int | None, hi: int | None) -> _Side:
    """The findings of the latest run's pack that still match, on their earliest live
    operation; and what was left out, and why."""
    ws = ctx.ws
    pack_id = ctx.latest["pack"]
    comp = Compiler()
    exprs = _dim_sql(ctx, comp)
    cols = ", ".join(["f.finding_id", "f.rule_id", "f.severity", "f.status", "o.ts_utc",
                      *exprs])
    sql = (f"SELECT {cols} FROM findings f JOIN {ctx.ops} o ON o.rid = ("
           f"SELECT r.rid FROM finding_records r JOIN {ctx.ops} x ON x.rid = r.rid"
           f" WHERE r.finding_id = f.finding_id {_EARLIEST})"
           f" WHERE f.pack_id = {comp.p(pack_id)} AND f.matching = 1")
    findings: list[_Finding] = []
    outside = 0
    for row in ws.conn.execute(sql, comp.params):
        if not _in_period(row[4], lo, hi):
            outside += 1
            continue
        findings.append(_Finding(row[0], row[1], row[2], row[3], tuple(row[5:])))
    counts = dict(ws.conn.execute(
        "SELECT CASE WHEN pack_id != ?1 THEN 'other_packs' WHEN matching = 1 THEN 'matching'"
        " WHEN coalesce(stale_reason, '') LIKE ?2 THEN 'source_retracted'"
        " ELSE 'no_longer_matching' END, count(*) FROM findings GROUP BY 1",
        (pack_id, SOURCE_RETRACTED + "%")).fetchall())
    runs = _runs(ws)
    evaluating = _evaluating_runs(runs, ctx.latest, ctx.pack)
    left_out = {
        "no_longer_matching": int(counts.get("no_longer_matching", 0)),
        "source_retracted": int(counts.get("source_retracted", 0)),
        "other_packs": int(counts.get("other_packs", 0)),
        "without_live_operation": int(counts.get("matching", 0)) - len(findings) - outside,
        "outside_period": outside,
    }
    return _Side(_scan_operations(ctx, lo, hi, None), findings, list(evaluating),
                 sorted(set(evaluating.values()) | {int(ctx.latest["run_id"])}), left_out,
                 None, None)


def _scan_run(ctx: _Context, run_id: int, lo: int | None, hi: int | None) -> _Side:
    """Everything as it stood at run ``run_id``: per rule the findings of the latest
    run up to it that evaluated the rule, on live operations imported before it."""
    ws = ctx.ws
    runs = _runs(ws)
    at = next((r for r in runs if r["run_id"] == run_id), None)
    if at is None:
        year = (f" For the year {run_id}, compare with {run_id}-01-01..{run_id}-12-31."
                if 1000 <= run_id <= 9999 else "")
        raise UsageError(f"There is no detection run {run_id}; `oversight runs` lists "
                         f"them.{year}")
    if run_id == ctx.latest["run_id"]:
        raise UsageError(f"Run {run_id} is the latest run, which the indicators already "
                         "show; compare with an earlier run or a period.")
    evaluating = _evaluating_runs(runs, at, _pack_of(ws, at["pack_sha256"]))
    row = ws.conn.execute(
        "SELECT value FROM workspace_meta WHERE key = 'run_findings_from'").fetchone()
    recorded_from = int(row[0]) if row else 1
    older = sorted(r for r in set(evaluating.values()) if r < recorded_from)
    if older:
        raise UsageError(
            f"Run {run_id} rests on run {older[0]}, made before this workspace recorded "
            f"each run's findings (from run {recorded_from} on); compare with run "
            f"{recorded_from} or later, or with a period.")
    per_run: dict[int, list[str]] = {}
    for rule, rid in evaluating.items():
        per_run.setdefault(rid, []).append(rule)
    findings: list[_Finding] = []
    found = outside = 0
    for rid, rules in sorted(per_run.items()):
        comp = Compiler()
        exprs = _dim_sql(ctx, comp)
        run_p = comp.p(rid)
        rules_p = comp.p(json.dumps(rules))
        cols = ", ".join(["f.finding_id", "f.rule_id", "f.severity", "f.status", "o.ts_utc",
                          *exprs])
        members = (f"SELECT DISTINCT q.finding_id FROM run_findings q JOIN findings f"
                   f" ON f.finding_id = q.finding_id WHERE q.run_id = {run_p}"
                   f" AND f.rule_id IN (SELECT value FROM json_each({rules_p}))")
        found += int(ws.conn.execute(f"SELECT count(*) FROM ({members})",
                                     comp.params).fetchone()[0])
        sql = (f"SELECT {cols} FROM ({members}) m JOIN findings f"
               f" ON f.finding_id = m.finding_id JOIN {ctx.ops} o ON o.rid = ("
               f"SELECT r.rid FROM run_findings r JOIN {ctx.ops} x ON x.rid = r.rid"
               f" WHERE r.run_id = {run_p} AND r.finding_id = m.finding_id {_EARLIEST})")
        for r in ws.conn.execute(sql, comp.params):
            if not _in_period(r[4], lo, hi):
                outside += 1
                continue
            findings.append(_Finding(r[0], r[1], r[2], r[3], tuple(r[5:])))
    started = datetime.fromisoformat(str(at["started_at"]))
    batches = [int(b) for b, when in ws.conn.execute(
        "SELECT batch_id, imported_at FROM batches WHERE kind = 'operations'")
        if datetime.fromisoformat(str(when)) <= started]
    left_out = {"source_retracted": found - len(findings) - outside,
                "outside_period": outside}
    return _Side(_scan_operations(ctx, lo, hi, batches), findings, list(evaluating),
                 sorted(set(evaluating.values()) | {run_id}), left_out, None, None)


# -- rows ---------------------------------------------------------------------------------


def _label(key: str, value: Any, ctx: _Context) -> str | None:
    if value is None:
        return None
    if key == "channel":
        i = int(value)
        return ctx.pack.channels[i].id if 0 <= i < len(ctx.pack.channels) else OTHER_CHANNEL
    if key == "month":
        return month_label(int(value))
    if key == "quarter":
        return quarter_label(int(value))
    return str(value)


def _projector(ctx: _Context, by: Sequence[str]) -> Any:
    """A function from scanned dimension values to the operation part of a group key:
    one label per operation key of ``by``, in its order (labels cached per value)."""
    picks = [(ctx.dims.index("month" if k == "quarter" else k), k) for k in by
             if k in _OP_KEYS]
    cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def project(ops: tuple[Any, ...]) -> tuple[Any, ...]:
        found = cache.get(ops)
        if found is None:
            found = cache[ops] = tuple(_label(k, ops[i], ctx) for i, k in picks)
        return found

    return project


def _finding_part(by: Sequence[str], f: _Finding) -> tuple[str, ...]:
    return tuple(f.rule if k == "rule" else f.severity for k in by if k in ("rule", "severity"))


def _fill_months(values: set[Any], quarter: bool) -> set[Any]:
    """Every month (or quarter) from the first to the last present."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return values
    def index(label: str) -> int:
        year = int(label[:4])
        return year * 12 + (3 * (int(label[6]) - 1) if quarter else int(label[5:]) - 1)
    first, last = index(present[0]), index(present[-1])
    step = 3 if quarter else 1
    filled = {quarter_label(i) if quarter else month_label(i)
              for i in range(first, last + 1, step)}
    return set(values) | filled


def _value(counts: Counter[str], operations: int, status: str) -> dict[str, Any]:
    confirmed, dismissed = counts["confirmed"], counts["dismissed"]
    total = sum(counts.values())
    shown = confirmed if status == "confirmed" else total
    decided = confirmed + dismissed
    interval = wilson(confirmed, decided)
    return {
        "operations": operations, "findings": shown, "confirmed": confirmed,
        "dismissed": dismissed, "open": total - decided,
        "per_1000": round(shown * 1000 / operations, _DIGITS) if operations else None,
        "decided": decided,
        "confirmed_rate": round(confirmed / decided, _DIGITS) if decided else None,
        "ci_low": round(interval[0], _DIGITS) if interval else None,
        "ci_high": round(interval[1], _DIGITS) if interval else None,
    }


def _category(status: str) -> str:
    return status if status in ("confirmed", "dismissed") else "open"


def _rows(ctx: _Context, side: _Side, by: tuple[str, ...], status: str,
          pack: Pack) -> tuple[dict[tuple[Any, ...], Row], Row]:
    op_keys = [k for k in by if k in _OP_KEYS]
    f_keys = [k for k in by if k in ("rule", "severity")]
    project = _projector(ctx, by)
    ops: Counter[tuple[Any, ...]] = Counter()
    for key, n in side.ops.items():
        ops[project(key)] += n
    cells: dict[tuple[Any, ...], Counter[str]] = {}
    members: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
    for f in side.findings:
        k = (project(f.ops), _finding_part(by, f))
        cells.setdefault(k, Counter())[_category(f.status)] += 1
        members.setdefault(k, []).append((f.finding_id, f.status))
    op_combos = set(ops) | {k[0] for k in cells}
    if len(op_keys) == 1:
        only = op_keys[0]
        values = {c[0] for c in op_combos}
        if only == "channel":
            values |= {c.id for c in ctx.pack.channels} | {OTHER_CHANNEL}
        elif only in _TIME_KEYS:
            values = _fill_months(values, only == "quarter")
        op_combos = {(v,) for v in values}
    if not op_keys:
        op_combos = {()}
    f_combos = {k[1] for k in cells}
    severity_of = {r.id: r.severity for r in pack.rules}
    if f_keys == ["rule"]:
        f_combos |= {(r,) for r in side.rules}
    elif f_keys == ["severity"]:
        f_combos |= {(s,) for s in SEVERITIES}
    elif f_keys:
        for r in side.rules:
            both = {"rule": r, "severity": severity_of.get(r)}
            f_combos.add(tuple(both[k] for k in f_keys))
    if not f_keys:
        f_combos = {()}
    rows: dict[tuple[Any, ...], Row] = {}
    for oc, fc in product(op_combos, f_combos):
        o_it, f_it = iter(oc), iter(fc)
        group = {k: (next(o_it) if k in _OP_KEYS else next(f_it)) for k in by}
        counts = cells.get((oc, fc), Counter())
        key = tuple(group[k] for k in by)
        rows[key] = Row(group, **_value(counts, ops.get(oc, 0), status),
                        members=members.get((oc, fc), []))
    every: Counter[str] = Counter(_category(f.status) for f in side.findings)
    total = Row({}, **_value(every, sum(side.ops.values()), status),
                members=[(f.finding_id, f.status) for f in side.findings])
    return rows, total


def _sort_key(ctx: _Context, by: Sequence[str]) -> Any:
    channel_order = {c.id: i for i, c in enumerate(ctx.pack.channels)}
    rule_order = {r.id: i for i, r in enumerate(ctx.pack.rules)}

    def key(row: Row) -> tuple[Any, ...]:
        out: list[Any] = []
        for k in by:
            v = row.group.get(k)
            if v is None:
                out.append((2, 0, ""))
            elif k == "channel":
                out.append((0, channel_order.get(v, len(channel_order)), v))
            elif k == "rule":
                out.append((0, rule_order.get(v, len(rule_order)), v))
            elif k == "severity":
                out.append((0, -SEVERITIES.index(v) if v in SEVERITIES else 1, v))
            else:
                out.append((0, 0, v))
        return tuple(out)

    return key


def _sign(delta: float | None) -> str | None:
    if delta is None:
        return None
    return "+" if delta > 0 else "-" if delta < 0 else "0"


def _change(now: Row, then: Row | None) -> dict[str, Any]:
    base = then.values() if then is not None else _value(Counter(), 0, "any")
    out: dict[str, Any] = {"baseline": base}
    for c in _COUNTS:
        out[c] = getattr(now, c) - int(base[c])
    for c in ("per_1000", "confirmed_rate"):
        a, b = getattr(now, c), base[c]
        delta = round(a - b, _DIGITS) if a is not None and b is not None else None
        out[c] = delta
        out[f"{c}_sign"] = _sign(delta)
    overlap = None
    if now.ci_low is not None and base["ci_low"] is not None:
        overlap = bool(now.ci_low <= base["ci_high"] and base["ci_low"] <= now.ci_high)
    out["intervals_overlap"] = overlap
    return out


# -- public -------------------------------------------------------------------------------


def compute(ws: Workspace, query: IndicatorQuery, cancel: CancelToken | None = None
            ) -> Indicators:
    """Indicators grouped by ``query.by``."""
    return compute_many(ws, query, [query.by], cancel)[query.by]


@contextmanager
def _cancellable(conn: Any, cancel: CancelToken | None) -> Iterator[None]:
    """Let a cancel token stop a long scan (SQLite's progress handler)."""
    if cancel is None:
        yield
        return
    conn.set_progress_handler(lambda: 1 if cancel.cancelled else 0, 20_000)
    try:
        yield
    except DbError:
        if cancel.cancelled:
            raise Cancelled("Indicators cancelled.") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def compute_many(ws: Workspace, query: IndicatorQuery, groupings: Sequence[tuple[str, ...]],
                 cancel: CancelToken | None = None) -> dict[tuple[str, ...], Indicators]:
    """Indicators for several groupings with one scan of the operations (the GUI's table
    and charts, the report's tables). ``query.by`` is ignored; each grouping is checked.
    Read-only; ``cancel`` stops it (Cancelled)."""
    with _cancellable(ws.conn, cancel):
        return _compute_many(ws, query, groupings)


def _compute_many(ws: Workspace, query: IndicatorQuery, groupings: Sequence[tuple[str, ...]]
                  ) -> dict[tuple[str, ...], Indicators]:
    ws.require(Permission.READ)
    for by in groupings:
        replace(query, by=tuple(by)).check()
    query.check()
    runs = _runs(ws)
    if not runs:
        raise UsageError("There is no detection run yet; run `oversight check` first.")
    latest = runs[-1]
    tz_name = workspace_timezone(ws)
    tz = zone(tz_name)
    baseline_run: int | None = None
    baseline_period: Period | None = None
    if query.compare_to is not None:
        text = query.compare_to.strip()
        if _RUN_ID.fullmatch(text):
            baseline_run = int(text)
        else:
            baseline_period = parse_period(text)
            if any(k in _TIME_KEYS for by in groupings for k in by):
                raise UsageError("Comparing with a period compares two spans of time; group "
                                 "without --by month or quarter (or compare with a run).")
    ctx = _Context(ws, tz_name, tz, _pack_of(ws, latest["pack_sha256"]), latest,
                   _dims(groupings), live_table(ws.conn, Kind.OPERATIONS))
    conn = ws.conn
    conn.create_function("regexp", 2, regexp, deterministic=True)
    conn.create_function("ow_local_month", 1, lambda us: local_month_of(int(us), tz),
                         deterministic=True)
    completeness.prepare(conn)  # batch import times: which operation times are plausible
    lo, hi = day_bounds(query.date_from, query.date_to, tz)
    now = _scan_current(ctx, lo, hi)
    then: _Side | None = None
    compare: dict[str, Any] | None = None
    if baseline_run is not None:
        then = _scan_run(ctx, baseline_run, lo, hi)
        compare = {"kind": "run", "run_id": baseline_run, "runs": then.runs,
                   "left_out": then.left_out}
    elif baseline_period is not None:
        blo, bhi = day_bounds(baseline_period.first, baseline_period.last, tz)
        then = _scan_current(ctx, blo, bhi)
        compare = {"kind": "period", **baseline_period.to_json(),
                   "left_out": {"outside_period": then.left_out["outside_period"]}}
    meta = _meta(ws, ctx, query, now, compare)
    out: dict[tuple[str, ...], Indicators] = {}
    for by in groupings:
        by = tuple(by)
        rows, total = _rows(ctx, now, by, query.status, ctx.pack)
        if then is not None:
            base_rows, base_total = _rows(ctx, then, by, query.status, ctx.pack)
            for key in base_rows.keys() - rows.keys():
                group = dict(base_rows[key].group)
                rows[key] = Row(group, **_value(Counter(), 0, query.status))
            for key, row in rows.items():
                row.change = _change(row, base_rows.get(key))
            total.change = _change(total, base_total)
        ordered = sorted(rows.values(), key=_sort_key(ctx, by))
        out[by] = Indicators(by, ordered, total, meta)
    return out


def _meta(ws: Workspace, ctx: _Context, query: IndicatorQuery, now: _Side,
          compare: dict[str, Any] | None) -> dict[str, Any]:
    """What the numbers rest on: filters, timezone, pack, runs, samples, left out."""
    samples = [
        {"sample_id": r[0], "seed": r[1], "size": r[2], "population_size": r[3],
         "stratified_by": r[4], "filters": stored.json_dict(r[5]), "created_at": r[6],
         "items": stored.json_list(r[7])}
        for r in ws.conn.execute(
            "SELECT sample_id, seed, size, population_size, stratify_by, filters, created_at,"
            " item_ids FROM samples WHERE population = 'findings' ORDER BY sample_id")]
    sampled = {i for s in samples for i in s.pop("items")}
    decided = [f.finding_id for f in now.findings if f.status in ("confirmed", "dismissed")]
    return {
        "filters": {"from": query.date_from.isoformat() if query.date_from else None,
                    "to": query.date_to.isoformat() if query.date_to else None,
                    "status": query.status},
        "timezone": ctx.tz_name,
        "confidence": CONFIDENCE,
        "interval": "Wilson score",
        "pack": {"id": ctx.pack.id, "version": ctx.pack.version, "sha256": ctx.pack.sha256},
        "channels": [{"id": c.id, "title": c.title, "when": c.when_text}
                     for c in ctx.pack.channels] + [{"id": OTHER_CHANNEL,
                                                     "title": "no channel applies",
                                                     "when": None}],
        "latest_run": int(ctx.latest["run_id"]),
        "runs": now.runs,
        "left_out": now.left_out,
        "review": {"decided": len(decided),
                   "decided_in_a_sample": sum(1 for f in decided if f in sampled)},
        "samples": samples,
        "compare_to": compare,
    }


#: The tables of the report's Indicators section, in order.
REPORT_GROUPINGS: tuple[tuple[str, ...], ...] = (("agency",), ("channel",), ("rule",),
                                                 ("month",))


def report_indicators(ws: Workspace, date_from: date | None = None,
                      date_to: date | None = None, status: str = "any") -> dict[str, Any]:
    """The indicators a report shows and embeds: one table per grouping of
    REPORT_GROUPINGS (rows and total) and, once, what they rest on (filters, timezone,
    pack, runs, samples, left out)."""
    query = IndicatorQuery(date_from=date_from, date_to=date_to, status=status)
    many = compute_many(ws, query, REPORT_GROUPINGS)
    first = many[REPORT_GROUPINGS[0]].to_json()
    doc = {k: v for k, v in first.items() if k not in ("rows", "total", "by")}
    doc["tables"] = {"_".join(by): {k: v for k, v in many[by].to_json().items()
                                    if k in ("rows", "total")} for by in REPORT_GROUPINGS}
    return doc
