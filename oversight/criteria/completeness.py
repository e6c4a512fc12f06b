"""Log-completeness aggregates: what the log itself lacks (Directive (EU) 2016/680 Art. 25).

Rolling windows count what a log holds; these kinds look for what it does not hold:
days on which an agency logged nothing, numbers missing from the log's own running
sequence, kinds of operation an agency never logged, mandatory fields left empty, and
times that cannot be right. Each runs one or two set-based queries inside the database
and hands the engine one `Found` per finding; the engine keys, stores and labels them
like every other finding. See docs/criteria.md, "Log completeness".

For these kinds a blank group value (an operation with no agency) is a group of its own,
named by the empty string, rather than left out: a log whose agency column is empty is
still a log whose completeness matters.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise
from operator import itemgetter
from typing import Any

from db.store import Connection, DbError
from oversight.criteria.expr import BOOL, Call, FieldRef, Node
from oversight.criteria.pack import Aggregate, Rule
from oversight.criteria.sql import TOO_COMPLEX, Compiler
from oversight.importing.quality import AHEAD_US, import_times

__all__ = ["BATCH_TIMES", "PLAUSIBLE_UTC", "Found", "GroupCounts", "hits", "prepare",
           "records_by_rid", "sqlite_order", "why_not"]

DAY_US = 86_400_000_000
_EPOCH = date(1970, 1, 1)
#: Fill-rate findings cite at most this many of the records that lack the field.
MAX_CITED = 100
#: An operation's UTC time if plausible (run's temp table batch_times), else NULL.
PLAUSIBLE_UTC = ("(CASE WHEN o.ts_utc >= 0 AND o.ts_utc <= (SELECT bt.latest_us FROM "
                 "temp.batch_times bt WHERE bt.batch_id = o.batch_id) THEN o.ts_utc END)")
BATCH_TIMES = (
    "DROP TABLE IF EXISTS temp.batch_times",
    "CREATE TEMP TABLE batch_times (batch_id INTEGER PRIMARY KEY, latest_us INTEGER NOT NULL)",
)


@dataclass
class Found:
    """One finding of a log-completeness aggregate, before the engine keys it."""

    group_key: str
    rids: list[int]
    record_ids: list[str]
    message: str
    facts: dict[str, Any]
    first_ts_utc: int | None


def prepare(conn: Connection) -> None:
    """The run's temp table of batch import times (plus the one day a ``ts`` may run
    ahead), read by ``plausible_time(ts)``."""
    for statement in BATCH_TIMES:
        conn.execute(statement)
    times = import_times(conn.execute("SELECT batch_id, imported_at FROM batches"))
    rows = [(batch_id, micros + AHEAD_US) for batch_id, micros in times.items()]
    conn.executemany("INSERT INTO temp.batch_times(batch_id, latest_us) VALUES (?, ?)", rows)


#: Batches holding only some of their file's readable rows: a scan (oversight.scan)
#: brings back only the records its findings cite, so the completeness of such a log
#: cannot be judged from the workspace; those records are left out here.
PARTIAL = ("o.batch_id NOT IN (SELECT batch_id FROM batches"
           " WHERE rows_imported < rows_read - rows_rejected)")


def why_not(conn: Connection, agg: Aggregate) -> str | None:
    """Why an aggregate of this kind cannot be evaluated on the data, if it cannot."""
    if agg.kind != "window" and conn.execute(
            f"SELECT 1 FROM live_operations o WHERE {PARTIAL} LIMIT 1").fetchone() is None:
        return ("the workspace holds only records cited by scans, not whole logs; import "
                "the log to judge its completeness")
    if agg.kind == "empty_days" and conn.execute(
            "SELECT 1 FROM live_operations WHERE ts_utc IS NOT NULL LIMIT 1").fetchone() is None:
        return "no imported operation has a ts (date and time)"
    if agg.kind == "sequence_gaps" and agg.field is not None and conn.execute(
            f"SELECT 1 FROM live_operations WHERE {agg.field.name} IS NOT NULL LIMIT 1"
    ).fetchone() is None:
        return f"no imported operation has a {agg.field.name}"
    return None


def _group_sql(agg: Aggregate) -> list[str]:
    """Group expressions: a blank value is the group named by the empty string."""
    return [f"(CASE WHEN trim(coalesce(CAST(o.{ref.name} AS TEXT), '')) = '' THEN '' "
            f"ELSE o.{ref.name} END)" for ref in agg.group_by]


def _base(agg: Aggregate, joins: str) -> tuple[Compiler, str, str]:
    comp = Compiler()
    where = comp.cond(agg.records) if agg.records is not None else "1"
    return comp, f"live_operations o {joins}", f"({where}) AND {PARTIAL}"


@dataclass(frozen=True)
class _Same:
    sql: str
    params: list[Any]


def _same_group(agg: Aggregate, groups: Sequence[str], key: Sequence[Any],
                numbered_from: int) -> _Same:
    """A condition holding for the records of the group ``key`` (placeholders numbered
    after ``numbered_from``): each group expression equal to its value and, for a value
    that is not the blank group, the column itself equal to it too. The second is
    implied by the first (a group expression is the column's own value unless blank),
    but lets SQLite read the group's records through an index on the column (such as
    operations(agency, ts_utc, batch_id)) rather than scan every operation."""
    conds: list[str] = []
    params: list[Any] = []
    for ref, expr, value in zip(agg.group_by, groups, key, strict=True):
        params.append(value)
        mark = f"?{numbered_from + len(params)}"
        conds.append(f"{expr} = {mark}")
        if value != "":
            conds.append(f"o.{ref.name} = {mark}")
    return _Same(" AND ".join(conds), params)


def _group(agg: Aggregate, key: Sequence[Any]) -> dict[str, Any]:
    return {ref.name: value for ref, value in zip(agg.group_by, key, strict=True)}


def _gkey(group: dict[str, Any], suffix: Any) -> str:
    return json.dumps(group, ensure_ascii=False, sort_keys=True) + f"@{suffix}"


def _render(rule: Rule, agg: Aggregate, values: dict[str, Any]) -> str:
    return " ".join(agg.message.render({**rule.params, **values}).split())


def hits(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
         batch_sha: dict[int, str], counts: GroupCounts | None = None) -> Iterator[Found]:
    """The findings of one aggregate; ``counts``: the run's shared counting pass, which
    may already hold what this aggregate counts per group."""
    if agg.kind == "never_logged":
        yield from _never_logged(conn, rule, agg, joins, counts)
        return
    if agg.kind == "fill_rate":
        yield from _fill_rate(conn, rule, agg, joins, counts)
        return
    kinds = {"empty_days": _empty_days, "sequence_gaps": _sequence_gaps,
             "per_batch": _per_batch}
    yield from kinds[agg.kind](conn, rule, agg, joins, batch_sha)


# -- counts per group, shared -------------------------------------------------------------


#: What `GroupCounts` holds for a never_logged aggregate: group -> value -> records.
Logged = dict[tuple[Any, ...], dict[Any, int]]
#: ... and for a fill_rate aggregate: (group, records, filled per field), groups in SQL order.
Filled = list[tuple[tuple[Any, ...], int, list[int]]]


class GroupCounts:
    """The counts per group of every never_logged and fill_rate aggregate of a run,
    found in one pass over the operations rather than one per aggregate: aggregates
    that group by the same fields over the same joins share a query grouped by the
    group, each never_logged field's value and whether each aggregate's records
    condition holds, summing how many records fill each field (`_grouped`). Each
    aggregate's counts are then the sums over the rows where its own condition holds:
    the same numbers its own query gives.

    Run when the first of them is evaluated. Where SQLite cannot run a shared query (its
    limits, a failing regular expression), or a condition cannot be compiled, those
    aggregates count alone, with their own query, as without this pass."""

    def __init__(self, entries: Sequence[tuple[Rule, Aggregate, str]]) -> None:
        """``entries``: (rule, aggregate, joins of the rule) of the run's rules."""
        self.entries = [e for e in entries if e[1].kind in ("never_logged", "fill_rate")]
        self.users = {rule.id for rule, _, _ in self.entries}
        self.seconds = 0.0
        self._counted: list[tuple[Aggregate, Logged | Filled]] = []
        self._ran = False

    def run(self, conn: Connection) -> None:
        """Count, once (the first call)."""
        if self._ran:
            return
        self._ran = True
        started = time.perf_counter()
        sets: dict[tuple[str, tuple[str, ...]], list[tuple[Aggregate, str]]] = {}
        for _rule, agg, joins in self.entries:
            sets.setdefault((joins, tuple(_group_sql(agg))), []).append((agg, joins))
        for members in sets.values():
            self._counted.extend(_count_together(conn, [agg for agg, _ in members],
                                                 members[0][1]))
        self.seconds = time.perf_counter() - started

    def logged(self, agg: Aggregate) -> Logged | None:
        got = self._find(agg)
        return got if isinstance(got, dict) else None

    def filled(self, agg: Aggregate) -> Filled | None:
        got = self._find(agg)
        return got if isinstance(got, list) else None

    def _find(self, agg: Aggregate) -> Logged | Filled | None:
        return next((c for a, c in self._counted if a is agg), None)


def _grouped(conn: Connection, inner: str, params: list[Any], keys: list[str],
             ordered: int, nullable: int, flags: int) -> list[tuple[Any, ...]]:
    """What ``SELECT keys..., count(*), sum(f0)... FROM (inner) GROUP BY keys ORDER BY
    the first ``ordered`` keys`` returns, computed without sorting the operations: each
    operation adds itself to its group's row in a small in-memory table keyed by the
    keys (an upsert), and only those rows are sorted. The first ``nullable`` keys may be
    NULL, which a key of the table cannot be (NULLs never conflict): each is kept as
    (is NULL, value or 0), so NULL is one group, as GROUP BY makes it."""
    cols: list[str] = []
    stored: list[str] = []
    for i, key in enumerate(keys):
        if i < nullable:
            cols += [f"{key} IS NULL", f"coalesce({key}, 0)"]
            stored += [f"z{i}", f"k{i}"]
        else:
            cols.append(key)
            stored.append(f"k{i}")
    sums = [f"s{i}" for i in range(flags)]
    order = [part for i in range(ordered)
             for part in ((f"z{i} DESC", f"k{i}") if i < nullable else (f"k{i}",))]
    conn.execute("DROP TABLE IF EXISTS temp.counts_by_group")
    conn.execute(f"CREATE TEMP TABLE counts_by_group ({', '.join(stored)}, n, "
                 f"{''.join(s + ', ' for s in sums)}PRIMARY KEY ({', '.join(stored)}))")
    try:
        conn.execute(
            f"INSERT INTO temp.counts_by_group SELECT {', '.join(cols)}, 1"
            f"{''.join(f', f{i}' for i in range(flags))} FROM ({inner} LIMIT -1) WHERE 1 "
            f"ON CONFLICT ({', '.join(stored)}) DO UPDATE SET n = n + 1"
            f"{''.join(f', {s} = {s} + excluded.{s}' for s in sums)}", params)
        rows = conn.execute(f"SELECT * FROM temp.counts_by_group ORDER BY "
                            f"{', '.join(order) or 'n'}").fetchall()
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.counts_by_group")
    out = []
    for row in rows:
        values: list[Any] = []
        at = 0
        for i in range(len(keys)):
            if i < nullable:
                values.append(None if row[at] else row[at + 1])
                at += 2
            else:
                values.append(row[at])
                at += 1
        out.append((*values, *row[at:]))
    return out


def _count_together(conn: Connection, aggs: list[Aggregate], joins: str
                    ) -> list[tuple[Aggregate, Logged | Filled]]:
    """The counts of ``aggs`` (same group fields and joins) in one query; none for an
    aggregate whose condition cannot be compiled, and none at all if SQLite cannot run
    the query."""
    comp = Compiler()
    groups = _group_sql(aggs[0])
    conds: list[tuple[Aggregate, str]] = []
    for agg in aggs:
        mark = len(comp.params)
        try:
            conds.append((agg, comp.cond(agg.records) if agg.records is not None else "1"))
        except RecursionError:
            del comp.params[mark:]
    if not conds:
        return []
    values: list[str] = []  # each never_logged field once
    blanks: dict[tuple[str, str, str], str] = {}  # each fill_rate field once
    for agg, _ in conds:
        if agg.kind == "never_logged" and agg.field is not None \
                and f"o.{agg.field.name}" not in values:
            values.append(f"o.{agg.field.name}")
        for ref in agg.fields:
            key = (ref.source, ref.name, str(ref.type))
            if key not in blanks:
                blanks[key] = comp.cond(_blank(ref))
    width, nv, nc = len(groups), len(values), len(conds)
    cols = [*(f"{g} AS g{i}" for i, g in enumerate(groups)),
            *(f"{v} AS v{i}" for i, v in enumerate(values)),
            *(f"{c} AS c{i}" for i, (_, c) in enumerate(conds))]
    keys = [f"g{i}" for i in range(width)] + [f"v{i}" for i in range(nv)] + \
        [f"c{i}" for i in range(nc)]
    fills = [f"(CASE WHEN {b} THEN 0 ELSE 1 END) AS f{i}"
             for i, b in enumerate(blanks.values())]
    inner = (f"SELECT {', '.join([*cols, *fills])} FROM live_operations o {joins} "
             f"WHERE ({' OR '.join(f'({c})' for _, c in conds)}) AND {PARTIAL}")
    try:
        rows = _grouped(conn, inner, comp.params, keys, width, width + nv, len(fills))
    except DbError as exc:
        if any(word in str(exc).lower() for word in TOO_COMPLEX):
            return []
        raise
    at = list(blanks)
    out: list[tuple[Aggregate, Logged | Filled]] = []
    for i, (agg, _) in enumerate(conds):
        mine = [r for r in rows if r[width + nv + i]]
        if agg.kind == "never_logged":
            assert agg.field is not None
            v = width + values.index(f"o.{agg.field.name}")
            logged: Logged = {}
            for r in mine:
                per = logged.setdefault(tuple(r[:width]), {})
                per[r[v]] = per.get(r[v], 0) + int(r[width + nv + nc])
            out.append((agg, logged))
        else:
            fields = [width + nv + nc + 1 + at.index((f.source, f.name, str(f.type)))
                      for f in agg.fields]
            by_group: dict[tuple[Any, ...], tuple[int, list[int]]] = {}
            for r in mine:
                total, filled = by_group.get(tuple(r[:width]), (0, [0] * len(fields)))
                by_group[tuple(r[:width])] = (
                    total + int(r[width + nv + nc]),
                    [n + int(r[f] or 0) for n, f in zip(filled, fields, strict=True)])
            out.append((agg, [(g, total, filled) for g, (total, filled) in by_group.items()]))
    return out


# -- empty days ---------------------------------------------------------------------------


def _day(n: int) -> str:
    return (_EPOCH + timedelta(days=n)).isoformat()


def _empty_days(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
                batch_sha: dict[int, str]) -> Iterator[Found]:
    """Calendar days (UTC) with no record, strictly between a group's first and last day,
    for groups whose median records per day (days with any) is at least the threshold;
    consecutive empty days are one gap."""
    comp, froms, where = _base(agg, joins)
    groups = _group_sql(agg)
    day = f"((o.ts_utc - (((o.ts_utc % {DAY_US}) + {DAY_US}) % {DAY_US})) / {DAY_US})"
    gcols = ", ".join(f"{g} AS g{i}" for i, g in enumerate(groups))
    glist = ", ".join(f"g{i}" for i in range(len(groups)))
    sql = (f"SELECT {gcols}, {day} AS d, count(*), min(o.ts_utc), max(o.ts_utc) "
           f"FROM {froms} WHERE {where} AND o.ts_utc IS NOT NULL "
           f"GROUP BY {glist}, d ORDER BY {glist}, d")
    width = len(groups)
    per_group: dict[tuple[Any, ...], list[tuple[int, int, int, int]]] = {}
    for row in conn.execute(sql, comp.params):
        per_group.setdefault(tuple(row[:width]), []).append(
            (int(row[width]), int(row[width + 1]), int(row[width + 2]), int(row[width + 3])))
    limit = agg.threshold
    gaps: list[tuple[tuple[Any, ...], int, int, float, int, int]] = []
    for key, days in per_group.items():
        median = statistics.median(n for _d, n, _a, _b in days)
        if median < limit:
            continue
        for (d0, _n0, _a0, last_before), (d1, _n1, first_after, _b1) in pairwise(days):
            if d1 > d0 + 1:
                gaps.append((key, d0 + 1, d1 - 1, median, last_before, first_after))
    if not gaps:
        return
    # The last record before each gap and the first after it: per group, the records
    # at those instants (through the index on the group's value where there is one).
    wanted: dict[tuple[Any, ...], set[int]] = {}
    for g in gaps:
        wanted.setdefault(g[0], set()).update((g[4], g[5]))
    by_time: dict[tuple[tuple[Any, ...], int], list[tuple[int, str, str]]] = {}
    for key, instants in wanted.items():
        times = sorted(instants)
        same = _same_group(agg, groups, key, len(comp.params))
        for start in range(0, len(times), 500):
            part = times[start:start + 500]
            first_mark = len(comp.params) + len(same.params) + 1
            marks = ", ".join(f"?{first_mark + i}" for i in range(len(part)))
            for row in conn.execute(
                    f"SELECT {gcols}, o.ts_utc, o.rid, o.record_id, o.ts FROM {froms} "
                    f"WHERE {where} AND {same.sql} AND o.ts_utc IN ({marks}) ORDER BY o.rid",
                    [*comp.params, *same.params, *part]):
                by_time.setdefault((tuple(row[:width]), int(row[width])), []).append(
                    (int(row[width + 1]), str(row[width + 2]), str(row[width + 3])))
    limit_shown = int(limit) if float(limit).is_integer() else limit
    for key, first, last, median, t_before, t_after in gaps:
        group = _group(agg, key)
        before = by_time.get((key, t_before), [])[-1:]
        after = by_time.get((key, t_after), [])[:1]
        cited = before + after
        shown_median = int(median) if float(median).is_integer() else median
        values = {**group, "first_day": _day(first), "last_day": _day(last),
                  "days": last - first + 1, "median": shown_median, "limit": limit_shown,
                  "before": before[0][2] if before else None,
                  "after": after[0][2] if after else None}
        yield Found(
            group_key=_gkey(group, _day(first)),
            rids=[c[0] for c in cited], record_ids=[c[1] for c in cited],
            message=_render(rule, agg, values),
            facts={**group, "group": group, "first_day": _day(first),
                   "last_day": _day(last), "days": last - first + 1,
                   "median_per_day": shown_median, "min_daily_volume": limit_shown,
                   "last_before": values["before"], "first_after": values["after"],
                   "parameters": rule.params},
            first_ts_utc=first * DAY_US)


# -- sequence gaps ------------------------------------------------------------------------


def _sequence_gaps(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
                   batch_sha: dict[int, str]) -> Iterator[Found]:
    """Numbers missing from a group's sequence between its lowest and highest; repeated
    numbers count once; consecutive missing numbers are one gap."""
    assert agg.field is not None
    comp, froms, where = _base(agg, joins)
    groups = _group_sql(agg)
    seq = f"o.{agg.field.name}"
    gcols = ", ".join(f"{g} AS g{i}" for i, g in enumerate(groups))
    glist = ", ".join(f"g{i}" for i in range(len(groups)))
    members = f"SELECT {gcols}, {seq} AS n, o.rid AS rid FROM {froms} WHERE {where} " \
              f"AND {seq} IS NOT NULL"
    width = len(groups)
    # A log numbers its entries in the order it writes them: read in row order (the
    # order of the file, no sort), each group's numbers then rise, and the gaps are
    # found in one streaming pass. Where they do not (a log imported in parts, older
    # part last; a number that is not whole), SQL sorts each group by number instead.
    streamed = _streamed_gaps(conn.execute(f"{members} ORDER BY o.rid", comp.params), width)
    if streamed is not None:
        for start in range(0, len(streamed), 10_000):
            yield from _gap_findings(conn, rule, agg, width, streamed[start:start + 10_000])
        return
    # The sort holds only the group, the number and the row id; the records on either
    # side of a gap are read by row id afterwards.
    sql = (f"WITH s AS ({members}), "
           f"w AS (SELECT *, lag(n) OVER x AS pn, lag(rid) OVER x AS prid FROM s "
           f"WINDOW x AS (PARTITION BY {glist} ORDER BY n, rid)) "
           f"SELECT {glist}, pn, n, prid, rid FROM w "
           f"WHERE n > pn + 1 ORDER BY {glist}, n")
    cursor = conn.execute(sql, comp.params)
    while gaps := cursor.fetchmany(10_000):
        yield from _gap_findings(conn, rule, agg, width, gaps)


def _streamed_gaps(cursor: Any, width: int) -> list[tuple[Any, ...]] | None:
    """The gaps of `_sequence_gaps`' window query, (group..., previous number, number,
    previous row id, row id) in its order (group, number), from members (group...,
    number, row id) read in row-id order; None unless every group's numbers are whole
    and never fall in that order (the window query's order, number then row id, is then
    the row order itself, so each member's predecessor is the group's previous one)."""
    last: dict[Any, tuple[int, int]] = {}  # group -> (number, row id)
    gaps: list[tuple[Any, ...]] = []
    group_of = itemgetter(*range(width))  # one value for one group column
    while rows := cursor.fetchmany(10_000):
        for row in rows:
            key, n, rid = group_of(row), row[width], row[width + 1]
            if type(n) is not int:
                return None
            before = last.get(key)
            if before is not None:
                pn = before[0]
                if n < pn:
                    return None
                if n > pn + 1:
                    gaps.append((*row[:width], pn, n, before[1], rid))
            last[key] = (n, rid)
    gaps.sort(key=lambda g: (*(sqlite_order(v) for v in g[:width]), g[width + 1]))
    return gaps


def sqlite_order(value: Any) -> tuple[int, Any]:
    """A sort key giving SQLite's order of values under the BINARY collation: NULL,
    then numbers by value, then text by its UTF-8 bytes, then blobs by their bytes."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value.encode("utf-8", "surrogatepass"))
    return (3, bytes(value))


def _gap_findings(conn: Connection, rule: Rule, agg: Aggregate, width: int,
                  gaps: list[tuple[Any, ...]]) -> Iterator[Found]:
    sides = records_by_rid(conn, [rid for row in gaps for rid in row[width + 2:width + 4]])
    for row in gaps:
        key = tuple(row[:width])
        pn, n, prid, rid = row[width:]
        prec, plt, pt = sides[int(prid)]
        rec, lt, _t = sides[int(rid)]
        group = _group(agg, key)
        first, last = int(pn) + 1, int(n) - 1
        values = {**group, "first_missing": first, "last_missing": last,
                  "count": last - first + 1, "before": int(pn), "after": int(n)}
        yield Found(
            group_key=_gkey(group, first),
            rids=[int(prid), int(rid)], record_ids=[str(prec), str(rec)],
            message=_render(rule, agg, values),
            facts={**group, "group": group, "first_missing": first, "last_missing": last,
                   "count": last - first + 1, "before": int(pn), "after": int(n),
                   "before_ts": plt, "after_ts": lt, "parameters": rule.params},
            first_ts_utc=None if pt is None else int(pt))


def records_by_rid(conn: Connection, rids: Sequence[int]
                   ) -> dict[int, tuple[Any, Any, Any]]:
    """(record id, local ts, ts_utc) of operations, by row id: read after a sort that
    held only row ids, for the few records a finding cites."""
    out: dict[int, tuple[Any, Any, Any]] = {}
    wanted = sorted({int(r) for r in rids})
    for start in range(0, len(wanted), 10_000):
        out.update((r[0], (r[1], r[2], r[3])) for r in conn.execute(
            "SELECT rid, record_id, ts, ts_utc FROM live_operations WHERE rid IN"
            " (SELECT value FROM json_each(?))", (json.dumps(wanted[start:start + 10_000]),)))
    return out


# -- never logged -------------------------------------------------------------------------


def _logged(conn: Connection, agg: Aggregate, joins: str) -> Logged:
    """Per group (in SQL order), the records holding each value of the field."""
    assert agg.field is not None
    comp, froms, where = _base(agg, joins)
    groups = _group_sql(agg)
    gcols = ", ".join(f"{g} AS g{i}" for i, g in enumerate(groups))
    glist = ", ".join(f"g{i}" for i in range(len(groups)))
    sql = (f"SELECT {gcols}, o.{agg.field.name} AS v, count(*) FROM {froms} WHERE {where} "
           f"GROUP BY {glist}, v ORDER BY {glist}")
    width = len(groups)
    seen: Logged = {}
    for row in conn.execute(sql, comp.params):
        seen.setdefault(tuple(row[:width]), {})[row[width]] = int(row[width + 1])
    return seen


def _never_logged(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
                  counts: GroupCounts | None) -> Iterator[Found]:
    """Each required value a group never logged (the group has records, none with it)."""
    assert agg.field is not None
    shared = counts.logged(agg) if counts is not None else None
    seen = shared if shared is not None else _logged(conn, agg, joins)
    name = agg.field.name
    for key, logged in seen.items():
        group = _group(agg, key)
        total = sum(logged.values())
        words = sorted(str(v) for v in logged if v is not None)
        for value in agg.values:
            if value in logged:
                continue
            values = {**group, name: value, "records": total, "logged": ", ".join(words)}
            yield Found(
                group_key=_gkey(group, value), rids=[], record_ids=[],
                message=_render(rule, agg, values),
                facts={**group, "group": group, name: value, "records": total,
                       "logged": words, "parameters": rule.params},
                first_ts_utc=None)


# -- fill rate ----------------------------------------------------------------------------


def _filled(conn: Connection, agg: Aggregate, joins: str) -> Filled:
    """Per group (in SQL order), its records and how many fill each field."""
    comp, froms, where = _base(agg, joins)
    groups = _group_sql(agg)
    gcols = ", ".join(f"{g} AS g{i}" for i, g in enumerate(groups))
    glist = ", ".join(f"g{i}" for i in range(len(groups)))
    blanks = [comp.cond(_blank(ref)) for ref in agg.fields]
    sums = ", ".join(f"sum(CASE WHEN {b} THEN 0 ELSE 1 END)" for b in blanks)
    sql = (f"SELECT {gcols}, count(*), {sums} FROM {froms} WHERE {where} "
           f"GROUP BY {glist} ORDER BY {glist}")
    width = len(groups)
    return [(tuple(row[:width]), int(row[width]), [int(n) for n in row[width + 1:]])
            for row in conn.execute(sql, comp.params)]


def _fill_rate(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
               counts: GroupCounts | None) -> Iterator[Found]:
    """Each field filled on fewer than min_fill of a group's records (filled: not blank
    after the import's missing markers; for a list, not empty)."""
    shared = counts.filled(agg) if counts is not None else None
    per_group = shared if shared is not None else _filled(conn, agg, joins)
    comp, froms, where = _base(agg, joins)
    groups = _group_sql(agg)
    blanks = [comp.cond(_blank(ref)) for ref in agg.fields]
    share = Fraction(repr(float(agg.threshold)))
    limit_shown = int(agg.threshold) if float(agg.threshold).is_integer() else agg.threshold
    low: list[tuple[tuple[Any, ...], int, int, int]] = []
    for key, total, filled_per_field in per_group:
        for i, filled in enumerate(filled_per_field):
            if total and Fraction(filled, total) < share:
                low.append((key, i, filled, total))
    for key, i, filled, total in low:
        group = _group(agg, key)
        ref = agg.fields[i]
        same = _same_group(agg, groups, key, len(comp.params))
        cited = conn.execute(
            f"SELECT o.rid, o.record_id, o.ts_utc FROM {froms} WHERE {where} AND {same.sql} "
            f"AND {blanks[i]} ORDER BY o.rid LIMIT {MAX_CITED}", [*comp.params, *same.params]
        ).fetchall()
        rate = round(filled / total, 4)
        values = {**group, "field": ref.name, "filled": filled, "total": total,
                  "rate": rate, "limit": limit_shown, "unfilled": total - filled}
        times = [int(c[2]) for c in cited if c[2] is not None]
        yield Found(
            group_key=_gkey(group, ref.name),
            rids=[int(c[0]) for c in cited], record_ids=[str(c[1]) for c in cited],
            message=_render(rule, agg, values),
            facts={**group, "group": group, "field": ref.name, "filled": filled,
                   "total": total, "fill_rate": rate, "min_fill": limit_shown,
                   "unfilled": total - filled, "cited": len(cited),
                   "parameters": rule.params},
            first_ts_utc=min(times) if times else None)


def _blank(ref: FieldRef) -> Node:
    return Call(0, BOOL, "blank", (ref,))


# -- per batch ----------------------------------------------------------------------------


def _per_batch(conn: Connection, rule: Rule, agg: Aggregate, joins: str,
               batch_sha: dict[int, str]) -> Iterator[Found]:
    """One finding per import batch holding records that match ``records``."""
    comp, froms, where = _base(agg, joins)
    # The records are chosen in a subquery that reads only the columns its condition
    # names (for a condition on ts and batch alone, the index operations(agency, ts_utc,
    # batch_id) holds them all, and the table is not scanned); the few chosen are then
    # read by row id.
    sql = (f"SELECT o.batch_id, o.rid, o.record_id, o.ts, o.ts_utc FROM live_operations o "
           f"WHERE o.rid IN (SELECT o.rid FROM {froms} WHERE {where}) "
           f"ORDER BY o.batch_id, o.ts_utc, o.rid")
    files = dict(conn.execute("SELECT batch_id, file_name FROM batches").fetchall())
    current: int | None = None
    members: list[tuple[Any, ...]] = []

    def emit() -> Found:
        assert current is not None
        timed = [m for m in members if m[4] is not None]
        earliest = min(timed, key=lambda m: m[4]) if timed else None
        latest = max(timed, key=lambda m: m[4]) if timed else None
        values = {"batch_id": current, "file": files.get(current), "count": len(members),
                  "earliest": earliest[3] if earliest else None,
                  "latest": latest[3] if latest else None}
        return Found(
            group_key=json.dumps({"batch": batch_sha.get(current, str(current))}),
            rids=[int(m[1]) for m in members], record_ids=[str(m[2]) for m in members],
            message=_render(rule, agg, values),
            facts={"group": {"batch_id": current}, "batch_id": current,
                   "file": files.get(current), "count": len(members),
                   "earliest": values["earliest"], "latest": values["latest"],
                   "parameters": rule.params},
            first_ts_utc=None)  # the times it lists are the ones that cannot be right

    for row in conn.execute(sql, comp.params):
        if current is not None and row[0] != current:
            yield emit()
            members = []
        current = int(row[0])
        members.append(tuple(row))
    if current is not None and members:
        yield emit()

