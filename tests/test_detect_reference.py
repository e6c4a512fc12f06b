"""Detection's fast paths against a slow, obviously correct one (issue 12, part 5).

A run finds the rows of every record condition in one shared pass, then reads each
rule's rows by row id; rolling windows skip groups that cannot exceed their limit and
read record ids only for the members of findings. Here the same findings are computed
the plain way, from the stored rows, and compared field by field:

- record rules: one query per rule over every operation, with nothing but the rule's
  own condition (no shared pass, no look-up by row id);
- sequence gaps: each group's numbers sorted in Python;
- rolling windows: every member's window counted by brute force in Python (all members
  within ``window`` before it, both ends inclusive, members at the same instant inside),
  then merged per group or per burst as docs/criteria.md words it.

On the demo data (the default pack, and the same pack with limits low enough that the
windows fire hundreds of times) and on the real police.uk files with their example pack.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest
from conftest import POLICE_UK, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rules import consult, load, op

from oversight.criteria import completeness, engine
from oversight.criteria.engine import preview_hits, run_detection
from oversight.criteria.pack import Aggregate, Pack, Rule, default_pack, load_pack, parse_pack
from oversight.criteria.sql import Compiler
from oversight.demo_data import generate
from oversight.findings import list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Workspace

POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"
POLICE_PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"

#: Lower limits than led-baseline's, so that the demo's background fires the windows.
TIGHT = (("max_consults_per_actor: {value: 10", "max_consults_per_actor: {value: 2"),
         ("max_distinct_actors: {value: 5", "max_distinct_actors: {value: 1"),
         ("max_actions_per_burst: {value: 50", "max_actions_per_burst: {value: 3"),
         ("burst_window_minutes: {value: 60", "burst_window_minutes: {value: 240"))


def tight_pack() -> Pack:
    source = default_pack().source
    for old, new in TIGHT:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return parse_pack(source, "tight.yaml")


# -- the plain way ------------------------------------------------------------------------


def joins(rule: Rule) -> str:
    sources = {ref.source for ref in rule.facts}
    out = ""
    if "authorisation" in sources:
        out += (" LEFT JOIN (SELECT * FROM live_authorisations WHERE rid IN (SELECT max(rid)"
                " FROM live_authorisations GROUP BY authorisation_id)) a"
                " ON a.authorisation_id = o.authorisation_id")
    if "case" in sources:
        out += (" LEFT JOIN (SELECT * FROM live_cases WHERE rid IN (SELECT max(rid)"
                " FROM live_cases GROUP BY case_id)) c ON c.case_id = o.case_id")
    return out


def matching(ws: Workspace, rule: Rule, cond: Any) -> set[int]:
    """Row ids of the operations a condition holds for: one plain query over them all."""
    comp = Compiler()
    where = comp.cond(cond)
    return {r[0] for r in ws.conn.execute(
        f"SELECT o.rid FROM live_operations o{joins(rule)} WHERE {where}", comp.params)}


def operations(ws: Workspace) -> dict[int, dict[str, Any]]:
    cur = ws.conn.execute("SELECT * FROM live_operations")
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur}


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def group_values(op: dict[str, Any], agg: Aggregate) -> list[tuple[Any, ...]]:
    """The groups an operation counts in (a list field: one per distinct element)."""
    keys: list[list[Any]] = [[]]
    for ref in agg.group_by:
        value = op[ref.name]
        if ref.type == "list":
            items = list(dict.fromkeys(json.loads(value))) if value else []
        else:
            items = [value]
        keys = [[*k, v] for k in keys for v in items if not blank(v)]
    return [tuple(k) for k in keys]


def window_findings(ws: Workspace, rule: Rule, agg: Aggregate,
                    ops: dict[int, dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(group, count, record ids, first, last) of each finding, by brute force."""
    chosen = matching(ws, rule, agg.records) if agg.records is not None else set(ops)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for rid in chosen:
        op = ops[rid]
        if op["ts_utc"] is None or (agg.distinct and blank(op[agg.distinct.name])):
            continue
        for key in group_values(op, agg):
            groups[key].append(op)
    out: set[tuple[Any, ...]] = set()
    for key, members in groups.items():
        members.sort(key=lambda m: (m["ts_utc"], m["rid"]))
        windows = []  # (first index, last index, count) of each exceeding window
        for end in members:
            inside = [i for i, m in enumerate(members)
                      if end["ts_utc"] - agg.window_us <= m["ts_utc"] <= end["ts_utc"]]
            inside_members = [members[i] for i in inside]
            count = (len({m[agg.distinct.name] for m in inside_members}) if agg.distinct
                     else len(inside_members))
            if count > agg.limit:
                windows.append((inside[0], inside[-1], count))
        if not windows:
            continue
        if agg.per_burst:  # windows sharing a member are one burst
            bursts: list[list[int]] = []
            for first, last, count in windows:
                if bursts and first <= bursts[-1][1]:
                    bursts[-1] = [bursts[-1][0], max(last, bursts[-1][1]),
                                  max(count, bursts[-1][2])]
                else:
                    bursts.append([first, last, count])
            parts = [(members[a:b + 1], n) for a, b, n in bursts]
        else:  # one finding per group: the members inside some exceeding window
            inside_any = sorted({i for a, b, _ in windows for i in range(a, b + 1)})
            parts = [([members[i] for i in inside_any], max(n for _, _, n in windows))]
        group = {ref.name: v for ref, v in zip(agg.group_by, key, strict=True)}
        for part, count in parts:
            out.add((json.dumps(group, sort_keys=True), count,
                     tuple(m["record_id"] for m in part), part[0]["ts"], part[-1]["ts"]))
    return out


def gap_findings(ws: Workspace, rule: Rule, agg: Aggregate,
                 ops: dict[int, dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(group, first and last missing number, record ids, local times) of each run of
    numbers missing from a group's sequence; the entries on either side of it are the
    last (by row) with the number before and the first with the number after."""
    assert agg.field is not None
    chosen = matching(ws, rule, agg.records) if agg.records is not None else set(ops)
    partial = {r[0] for r in ws.conn.execute(
        "SELECT batch_id FROM batches WHERE rows_imported < rows_read - rows_rejected")}
    numbered: dict[tuple[Any, ...], list[tuple[int, int]]] = defaultdict(list)
    for rid in chosen:
        op = ops[rid]
        if op[agg.field.name] is None or op["batch_id"] in partial:
            continue
        key = tuple("" if blank(op[ref.name]) else op[ref.name] for ref in agg.group_by)
        numbered[key].append((int(op[agg.field.name]), rid))
    out: set[tuple[Any, ...]] = set()
    for key, entries in numbered.items():
        entries.sort()
        for (a, before), (b, after) in pairwise(entries):
            if b > a + 1:
                group = {ref.name: v for ref, v in zip(agg.group_by, key, strict=True)}
                out.add((json.dumps(group, sort_keys=True), a + 1, b - 1,
                         (ops[before]["record_id"], ops[after]["record_id"]),
                         ops[before]["ts"], ops[after]["ts"]))
    return out


def check_against_the_plain_way(ws: Workspace, pack: Pack) -> dict[str, int]:
    """Run ``pack`` and compare its record and window findings with the plain way;
    the number of findings compared per rule."""
    summary = run_detection(ws, pack)
    assert all(o.evaluated for o in summary.rules), [(o.rule_id, o.reason)
                                                    for o in summary.rules]
    ops = operations(ws)
    found = [f for f in list_findings(ws) if f["matching"]]
    compared: dict[str, int] = {}
    for rule in pack.rules:
        mine = [f for f in found if f["rule_id"] == rule.id]
        if rule.when is not None and rule.message is not None:
            want = {ops[rid]["record_id"] for rid in matching(ws, rule, rule.when)}
            got = [f["record_ids"] for f in mine if f["part"] == "record"]
            assert all(len(ids) == 1 for ids in got), rule.id
            assert {ids[0] for ids in got} == want, rule.id
            compared[rule.id] = compared.get(rule.id, 0) + len(want)
        for agg in rule.aggregates:
            part = [f for f in mine if f["part"] == f"aggregate:{agg.label}"]
            if agg.kind == "sequence_gaps":
                got_g = {(json.dumps(f["facts"]["group"], sort_keys=True),
                          f["facts"]["first_missing"], f["facts"]["last_missing"],
                          tuple(f["record_ids"]), f["facts"]["before_ts"],
                          f["facts"]["after_ts"]) for f in part}
                assert got_g == gap_findings(ws, rule, agg, ops), rule.id
                compared[rule.id] = compared.get(rule.id, 0) + len(part)
            if agg.kind != "window":
                continue
            got_w = {(json.dumps(f["facts"]["group"], sort_keys=True), f["facts"]["count"],
                      tuple(f["record_ids"]), f["facts"]["first"], f["facts"]["last"])
                     for f in part}
            assert len(got_w) == len(part)
            assert got_w == window_findings(ws, rule, agg, ops), (rule.id, agg.label)
            for f in part:
                assert f["facts"]["records"] == len(f["record_ids"])
            compared[rule.id] = compared.get(rule.id, 0) + len(part)
    # A preview computes the same findings with the same code as a run.
    preview = preview_hits(ws, pack)
    for rule in pack.rules:
        assert preview[rule.id] == {f["id"] for f in found if f["rule_id"] == rule.id}
    return compared


# -- the data -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return generate(tmp_path_factory.mktemp("demo"), operations=4000)


def load_demo(ws: Workspace, files: Any) -> None:
    for path, kind in ((files.cases, Kind.CASES), (files.authorisations, Kind.AUTHORISATIONS),
                       (files.operations, Kind.OPERATIONS)):
        import_file(ws, path, kind)


def test_demo_default_pack_matches_the_plain_way(admin_ws: Workspace, demo_files: Any) -> None:
    load_demo(admin_ws, demo_files)
    compared = check_against_the_plain_way(admin_ws, default_pack())
    # Every record rule and both window rules found something to compare.
    assert {r for r, n in compared.items() if n} >= {
        "LOG-01", "PUR-01", "PUR-02", "PRO-01", "PRO-02", "PRO-03", "AUT-01", "AUT-02",
        "AUT-03", "AUT-04", "TRF-01", "SPC-01", "DQ-03"}


def test_demo_with_low_limits_matches_the_plain_way(admin_ws: Workspace,
                                                    demo_files: Any) -> None:
    load_demo(admin_ws, demo_files)
    compared = check_against_the_plain_way(admin_ws, tight_pack())
    # The low limits make the windows fire far more often than the planted cases.
    assert compared["PRO-01"] > 50 and compared["PRO-02"] > 10, compared


def test_police_uk_matches_the_plain_way(admin_ws: Workspace) -> None:
    for path in sorted(POLICE_UK.glob("*.csv")):
        import_file(admin_ws, path, profile_path=POLICE_PROFILE)
    compared = check_against_the_plain_way(admin_ws, load_pack(POLICE_PACK))
    assert all(compared[r] for r in ("S60-01", "S60-02", "STRIP-01", "LEG-01", "OBJ-01"))


def test_a_rule_flagging_more_rows_than_are_looked_up_reads_them_all(
        admin_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the look-up limit a rule reads its rows in a scan of its own: the same."""
    from oversight.criteria import engine

    for path in sorted(POLICE_UK.glob("*.csv")):
        import_file(admin_ws, path, profile_path=POLICE_PROFILE)
    monkeypatch.setattr(engine, "_LOOKUP_AT_MOST", 10)
    compared = check_against_the_plain_way(admin_ws, load_pack(POLICE_PACK))
    assert compared["LEG-01"] > 10 and compared["OBJ-01"] > 10



# -- the shared window pass, streamed sequence gaps, reads by group ------------------------


def agency(hit: Any) -> Any:
    """The agency a completeness hit is about (its group key is the group, @, more)."""
    return json.loads(hit.group_key.split("@")[0])["agency"]


def rule_hits(ws: Workspace, pack: Pack, rule_id: str) -> list[Any]:
    """Every hit of one rule, in the order a run stores them (and its audit event lists
    them)."""
    rule = pack.rule(rule_id)
    assert rule is not None
    with engine._interruptible(ws.conn, None, "cancelled"):
        _available, batch_sha = engine._prepare(ws.conn)
        return list(engine._hits(ws.conn, pack, rule, batch_sha))


def test_window_aggregates_sharing_one_pass_find_what_each_finds_alone(
        admin_ws: Workspace, demo_files: Any, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """PRO-01's two aggregates read the same consultations: one pass sorted by subject,
    split by officer in Python for by-one-actor. The hits, and their order, are those of
    one pass per aggregate sorted by SQLite by all its groups."""
    load_demo(admin_ws, demo_files)
    # One person looked up three times by each of six officers within a day, their ids
    # in an order that only a byte-wise sort gets right (digits, capitals, small letters,
    # then letters beyond ASCII).
    actors = ["b", "officer-ß", "B", "Ä", "a", "10"]
    rows = [consult(f"omega-{a}-{i}", f"2026-03-01T{10 + i}:0{k}:00+01:00",
                    subject_ids=["P-Ω"], actor_id=a)
            for k, a in enumerate(actors) for i in range(3)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    pack = tight_pack()
    rule = pack.rule("PRO-01")
    assert rule is not None
    sets = engine._window_sets([engine._window_query(rule, i, a)
                                for i, a in enumerate(rule.aggregates)])
    assert [[q.agg.label for q in s] for s in sets] == [["by-one-actor", "by-many-actors"]]
    shared = rule_hits(admin_ws, pack, "PRO-01")
    monkeypatch.setattr(engine, "_window_sets", lambda qs: [[q] for q in qs])
    alone = rule_hits(admin_ws, pack, "PRO-01")
    assert shared == alone
    assert len({h.part for h in shared}) == 2 and len(shared) > 50
    omega = [json.loads(h.group_key)["actor_id"] for h in shared
             if h.part == "aggregate:by-one-actor"
             and json.loads(h.group_key)["subject_ids"] == "P-Ω"]
    assert omega == ["10", "B", "a", "b", "officer-ß", "Ä"]
    # And both against the brute-force count.
    check_against_the_plain_way(admin_ws, pack)


def numbered(agency: str | None, numbers: list[int], prefix: str) -> list[dict[str, Any]]:
    return [op(f"{prefix}{i}", f"2026-03-01T10:{i:02d}:00+01:00", action="consult",
               agency=agency, sequence=n) for i, n in enumerate(numbers)]


def gaps_match_the_plain_way(ws: Workspace, pack: Pack) -> None:
    """A run of DQ-03 finds the gaps `gap_findings` finds."""
    run_detection(ws, pack, ["DQ-03"])
    rule = pack.rule("DQ-03")
    assert rule is not None
    part = [f for f in list_findings(ws) if f["rule_id"] == "DQ-03" and f["matching"]]
    got = {(json.dumps(f["facts"]["group"], sort_keys=True), f["facts"]["first_missing"],
            f["facts"]["last_missing"], tuple(f["record_ids"]), f["facts"]["before_ts"],
            f["facts"]["after_ts"]) for f in part}
    assert got == gap_findings(ws, rule, rule.aggregates[0], operations(ws))
    assert got


def test_sequence_gaps_streamed_in_row_order_equal_the_sorted_window(
        admin_ws: Workspace, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers rising in row order: the gaps are found in one pass without a sort, the
    same findings in the same order as the window query that sorts each group. Numbers
    that fall (an older part of the log imported after a newer one): the window query."""
    logs = [numbered("Ä", [1, 2, 4, 4, 7], "ae"), numbered("a", [5, 6, 9], "a"),
            numbered("B", [1, 3], "b"), numbered(None, [2, 5], "blank"),
            numbered("10", [1, 4], "ten")]
    # The agencies' entries interleaved, each agency's in its own order.
    rows = [log[i] for i in range(5) for log in logs if i < len(log)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    pack = default_pack()
    rule = pack.rule("DQ-03")
    assert rule is not None
    streamed: list[Any] = []
    real = completeness._streamed_gaps

    def spy(cursor: Any, width: int) -> Any:
        streamed.append(real(cursor, width))
        return streamed[-1]

    monkeypatch.setattr(completeness, "_streamed_gaps", spy)
    got = rule_hits(admin_ws, pack, "DQ-03")
    assert streamed[-1] is not None
    # The window query's order: group by its bytes (blank first), then number.
    assert [(agency(h), h.facts["first_missing"])
            for h in got] == [("", 3), ("10", 2), ("B", 2), ("a", 7), ("Ä", 3), ("Ä", 5)]
    # Between the repeated 4s and 7: the later 4 (the window orders by number, row id).
    (ae5,) = [h for h in got if h.facts["first_missing"] == 5]
    assert ae5.record_ids == ["ae3", "ae4"]
    monkeypatch.setattr(completeness, "_streamed_gaps", lambda cursor, width: None)
    assert rule_hits(admin_ws, pack, "DQ-03") == got
    monkeypatch.setattr(completeness, "_streamed_gaps", spy)
    gaps_match_the_plain_way(admin_ws, pack)

    # An older part of agency a's log (numbers 1, 2) imported after the newer one.
    load(admin_ws, tmp_path, Kind.OPERATIONS, numbered("a", [1, 2], "a-old"))
    later = rule_hits(admin_ws, pack, "DQ-03")
    assert streamed[-1] is None
    assert [(agency(h), h.facts["first_missing"])
            for h in later] == [("", 3), ("10", 2), ("B", 2), ("a", 3), ("a", 7), ("Ä", 3),
                                ("Ä", 5)]
    gaps_match_the_plain_way(admin_ws, pack)


class _Rows:
    """A cursor over ``rows``, a few at a time."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchmany(self, n: int) -> list[tuple[Any, ...]]:
        out, self.rows = self.rows[:3], self.rows[3:]
        return out


GROUPS = st.sampled_from(["", "a", "B", "Ä", "10", 10, 2.5])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(GROUPS, st.integers(-3, 25)), max_size=40), st.booleans())
def test_streamed_gaps_are_the_sorted_gaps_or_none(members: list[tuple[Any, int]],
                                                   rising: bool) -> None:
    """Against each group's numbers sorted (number, row id) in Python: the same gaps in
    SQL's order (group, number), or None, which it may only say when some group's
    numbers fall in row order."""
    if rising:  # each group's numbers sorted, the groups' rows where they were
        by_group: dict[Any, list[int]] = defaultdict(list)
        for g, n in members:
            by_group[(type(g), g)].append(n)
        for numbers in by_group.values():
            numbers.sort(reverse=True)
        members = [(g, by_group[(type(g), g)].pop()) for g, _ in members]
    rows = [(g, n, rid) for rid, (g, n) in enumerate(members, start=1)]
    want = []
    entries: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    for g, n, rid in rows:
        entries[g].append((n, rid))
    for g, pairs in entries.items():
        pairs.sort()
        want += [(g, a, b, ra, rb) for (a, ra), (b, rb) in pairwise(pairs) if b > a + 1]
    want.sort(key=lambda w: (completeness.sqlite_order(w[0]), w[2]))
    got = completeness._streamed_gaps(_Rows(rows), 1)
    if got is None:
        assert not rising and any(
            [n for g2, n, _ in rows if g2 == g] != sorted(n for g2, n, _ in rows if g2 == g)
            for g in entries)
    else:
        assert got == want


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-2**63, 2**63 - 1),
                          st.floats(allow_nan=False), st.text(), st.binary()), max_size=12))
def test_sqlite_order_is_the_order_of_sqlite(values: list[Any]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (v)")
    db.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    ordered = [r[0] for r in db.execute("SELECT v FROM t ORDER BY v")]
    assert [completeness.sqlite_order(v) for v in ordered] == sorted(
        completeness.sqlite_order(v) for v in values)


def test_records_of_a_group_read_through_its_index_or_without_one(admin_ws: Workspace,
                                                                  tmp_path: Any) -> None:
    """DQ-01's entries beside a gap and DQ-05's cited accesses are read per group: a
    named agency through the index on agency, the blank agency (empty, spaces or
    missing) without it. Both must be the group's own records."""
    rows: list[dict[str, Any]] = []
    for day in (1, 2, 5):
        for name, tag in (("A", "A"), (None, "none"), ("  ", "space")):
            rows += [op(f"{tag}-d{day}-{i:02d}", f"2025-03-0{day}T10:{i:02d}:00+00:00",
                        action="consult", agency=name, actor_id="o1",
                        justification=None if i < 2 else "enquiry") for i in range(20)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    pack = default_pack()
    gaps = {agency(h): h.record_ids
            for h in rule_hits(admin_ws, pack, "DQ-01")}
    # The last entry of day 2 and the first of day 5: among the blank group's, both at
    # the same instant, the later row (spaces) before the gap and the earlier (missing
    # agency) after it.
    assert gaps == {"A": ["A-d2-19", "A-d5-00"], "": ["space-d2-19", "none-d5-00"]}
    fills = {agency(h): h.record_ids
             for h in rule_hits(admin_ws, pack, "DQ-05")}
    assert fills == {"A": [f"A-d{d}-{i:02d}" for d in (1, 2, 5) for i in (0, 1)],
                     "": [f"{t}-d{d}-{i:02d}" for d in (1, 2, 5) for t in ("none", "space")
                          for i in (0, 1)]}


def test_group_counts_shared_by_rules_equal_each_aggregate_counted_alone(
        admin_ws: Workspace, demo_files: Any, tmp_path: Any) -> None:
    """DQ-04's and DQ-05's aggregates are counted in one query grouped by agency, value
    and which records condition holds: the same findings, in the same order, as each
    aggregate's own query."""
    load_demo(admin_ws, demo_files)
    rows = [op(f"odd-{i}", action=a, agency=ag, actor_id=None if i % 3 else "o1",
               recipient_id=None if i % 2 else "CPS")
            for i, (a, ag) in enumerate([("consult", "Ä"), ("disclose", "Ä"), (None, "Ä"),
                                         ("transfer", None), ("consult", "  "),
                                         ("erase", "10"), ("consult", "10")] * 3)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    text = default_pack().source.replace("value: 0.95", "value: 0.999")
    assert text != default_pack().source
    pack = parse_pack(text, "strict-fill.yaml")
    rules = [r for r in pack.rules if r.id in ("DQ-04", "DQ-05")]
    with engine._interruptible(admin_ws.conn, None, "cancelled"):
        _available, batch_sha = engine._prepare(admin_ws.conn)
        counts = engine._group_counts(admin_ws.conn, rules)
        counts.run(admin_ws.conn)
        assert all(counts.logged(a) is not None or counts.filled(a) is not None
                   for r in rules for a in r.aggregates)
        for rule in rules:
            shared = list(engine._hits(admin_ws.conn, pack, rule, batch_sha, None, counts))
            alone = list(engine._hits(admin_ws.conn, pack, rule, batch_sha))
            assert shared == alone
            assert len(shared) >= 5, rule.id
    fills = {(agency(h), h.facts["field"]): h.facts
             for h in shared}
    # Ä: two accesses in each of the three copies (rows 0, 1, 7, 8, 14, 15); the actor
    # only on rows whose number divides by 3 (0 and 15).
    assert (fills[("Ä", "actor_id")]["filled"], fills[("Ä", "actor_id")]["total"]) == (2, 6)


@functools.cache
def _pro01() -> Rule:
    """PRO-01 of the default pack, read once (not for each of the examples below)."""
    rule = default_pack().rule("PRO-01")
    assert rule is not None
    return rule


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=25), st.integers(-1, 6), st.integers(0, 12),
       st.booleans())
def test_a_group_screened_out_has_no_window_over_the_limit(
        gaps: list[int], limit: int, window: int, distinct: bool) -> None:
    """The screen that skips a group (no limit + 1 members within the window's length)
    never skips one with an exceeding window, counted by brute force; a group it lets
    through is counted exactly by `_windows`, which finds an exceeding window iff brute
    force does."""
    times = [sum(gaps[:i + 1]) for i in range(len(gaps))]
    rule = _pro01()
    agg = dataclasses.replace(rule.aggregates[1 if distinct else 0], limit=limit,
                              window_us=window)
    members = [(i, t, f"officer-{i % 3}") for i, t in enumerate(times)]

    def count(end: int) -> int:
        inside = [m for m in members if end - window <= m[1] <= end]
        return len({m[2] for m in inside}) if distinct else len(inside)

    exceeds = any(count(t) > limit for t in times)
    if exceeds:
        assert engine._may_exceed(times, agg)
    assert bool(engine._windows(members, agg)) == exceeds


def test_group_counts_beyond_sqlite_limits_leave_each_aggregate_to_count_alone(
        admin_ws: Workspace, demo_files: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shared counting query that SQLite refuses (its limits) is not the end of the
    run: each aggregate runs its own query, with the same findings."""
    from db.store import DbError

    load_demo(admin_ws, demo_files)
    pack = default_pack()
    normal = {r: rule_hits(admin_ws, pack, r) for r in ("DQ-04", "DQ-05")}

    def refused(*args: Any) -> Any:
        raise DbError("too many terms in compound SELECT")

    monkeypatch.setattr(completeness, "_grouped", refused)
    rules = [r for r in pack.rules if r.id in ("DQ-04", "DQ-05")]
    counts = engine._group_counts(admin_ws.conn, rules)
    counts.run(admin_ws.conn)
    assert len(counts.entries) == 3
    assert all(counts.logged(a) is None and counts.filled(a) is None
               for _, a, _ in counts.entries)
    summary = run_detection(admin_ws, pack, ["DQ-04", "DQ-05"])
    assert all(o.evaluated for o in summary.rules)
    monkeypatch.undo()
    for rule_id, hits in normal.items():
        stored = {f["id"] for f in list_findings(admin_ws)
                  if f["rule_id"] == rule_id and f["matching"]}
        assert stored == {h.finding_id for h in hits} and hits, rule_id



def test_group_counts_make_one_row_per_group_when_a_condition_is_null(
        admin_ws: Workspace, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared pass keys its rows by whether each records condition holds, so it
    needs the compiled condition to be 0 or 1 (Compiler.cond's contract), never NULL: a
    NULL never matches a key, and operations without an action would each make a row of
    their own instead of adding to their group's (the counts would stay right; the
    in-memory table would grow with the log)."""
    rows = [op(f"n-{i}", action=None if i % 2 else "consult", agency="A") for i in range(40)]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    keyed: list[list[tuple[Any, ...]]] = []
    real = completeness._grouped

    def spy(conn: Any, inner: str, params: list[Any], keys: list[str],
            *rest: Any) -> list[tuple[Any, ...]]:
        got = real(conn, inner, params, keys, *rest)
        keyed.append([row[:len(keys)] for row in got])
        return got

    monkeypatch.setattr(completeness, "_grouped", spy)
    rules = [r for r in default_pack().rules if r.id in ("DQ-04", "DQ-05")]
    with engine._interruptible(admin_ws.conn, None, "cancelled"):
        engine._prepare(admin_ws.conn)
        counts = engine._group_counts(admin_ws.conn, rules)
        counts.run(admin_ws.conn)
    assert keyed and all(keyed)
    for keys in keyed:
        assert len(keys) == len(set(keys)) < 20, keys
