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

import json
from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest
from conftest import POLICE_UK, ROOT

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

