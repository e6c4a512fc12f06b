"""Every rule of led-baseline, firing and not firing at its boundaries; then the engine.

Record-level tests name their rows ``F-...`` (must fire) and ``N-...`` (the nearest
lawful variant, must not fire) and check that exactly the ``F-`` rows fire. Each rule
is run alone, so only that rule's condition decides.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from conftest import VIEWER, VIEWER_PW, write

from oversight.criteria.engine import RunSummary, run_detection
from oversight.criteria.pack import Pack, default_pack, parse_pack
from oversight.errors import Cancelled, PermissionDenied, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.progress import CancelToken
from oversight.records import Kind
from oversight.workspace import Workspace

ALL_RULES = ("LOG-01", "PUR-01", "PUR-02", "PRO-01", "PRO-02", "PRO-03", "PRO-04", "SPC-01",
             "TRF-01", "TRF-02", "TRF-03", "INT-01", "INT-02", "INT-03", "AUT-01", "AUT-02",
             "AUT-03", "AUT-04", "XB-01", "DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05")

# -- helpers ----------------------------------------------------------------------------

_SEQ = itertools.count()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows (dicts) as CSV; the header is the union of their keys, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(columns)
    for row in rows:
        out.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def load(ws: Workspace, tmp_path: Path, kind: Kind, rows: Sequence[dict[str, Any]]) -> None:
    """Import ``rows`` as one batch of ``kind``; every row must be accepted."""
    path = write(tmp_path / f"{kind.value}-{next(_SEQ)}.csv", to_csv(rows))
    res = import_file(ws, path, kind)
    assert res.rows_rejected == 0, res.sample_rejects
    assert res.rows_imported == len(rows)


def op(record_id: str, ts: str = "2026-03-04T10:00:00+01:00", **fields: Any) -> dict[str, Any]:
    """An operation; only the fields given (plus record_id and ts) have a value."""
    return {"record_id": record_id, "ts": ts, **fields}


def consult(record_id: str, ts: str = "2026-03-04T10:00:00+01:00", **fields: Any
            ) -> dict[str, Any]:
    """A fully documented, lawful consultation, changed by ``fields``."""
    base = {"action": "consult", "actor_id": "officer-1", "case_id": "C-1",
            "subject_ids": ["P-1"], "justification": "enquiry", "urgent": False}
    return op(record_id, ts, **{**base, **fields})


def auth(authorisation_id: str, **fields: Any) -> dict[str, Any]:
    base = {"authorisation_id": authorisation_id, "issuer_role": "superintendent",
            "approval": "approved", "urgent": False,
            "valid_from": "2026-03-01T00:00:00+00:00", "valid_to": "2026-03-31"}
    return {**base, **fields}


def case(case_id: str, **fields: Any) -> dict[str, Any]:
    return {"case_id": case_id, **fields}


def pack_text() -> str:
    return resources.files("oversight.packs").joinpath("led-baseline.yaml").read_text(
        encoding="utf-8")


def modified_pack(*replacements: tuple[str, str]) -> Pack:
    """The default pack with text replaced (each ``old`` must occur exactly once)."""
    text = pack_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_pack(text, "led-baseline-modified.yaml")


def detect(ws: Workspace, rule_ids: Sequence[str] | None, pack: Pack | None = None
           ) -> RunSummary:
    return run_detection(ws, pack or default_pack(), rule_ids)


def findings(ws: Workspace, rule: str, part: str | None = None) -> list[dict[str, Any]]:
    got = list_findings(ws, FindingFilters(rule=rule, matching=True))
    return [f for f in got if part is None or f["part"] == part]


def fired(ws: Workspace, rule: str) -> set[str]:
    """Record ids in matching record-level findings of ``rule`` (one id per finding)."""
    got = findings(ws, rule, "record")
    for f in got:
        assert len(f["record_ids"]) == 1, f
    return {f["record_ids"][0] for f in got}


def check_rule(ws: Workspace, tmp_path: Path, rule: str, ops: Sequence[dict[str, Any]],
               auths: Sequence[dict[str, Any]] = (), cases: Sequence[dict[str, Any]] = (),
               pack: Pack | None = None) -> RunSummary:
    """Import, run ``rule`` alone, and check that exactly the ``F-`` rows fire."""
    ids = [r["record_id"] for r in ops]
    assert any(i.startswith("F-") for i in ids)
    assert any(i.startswith("N-") for i in ids)
    load(ws, tmp_path, Kind.OPERATIONS, ops)
    if auths:
        load(ws, tmp_path, Kind.AUTHORISATIONS, auths)
    if cases:
        load(ws, tmp_path, Kind.CASES, cases)
    summary = detect(ws, [rule], pack)
    (outcome,) = summary.rules
    assert outcome.evaluated, outcome.reason
    assert fired(ws, rule) == {i for i in ids if i.startswith("F-")}
    assert outcome.hits == len(fired(ws, rule))
    return summary


def times(start: str, count: int, step_seconds: int) -> list[str]:
    """``count`` ISO timestamps from ``start``, ``step_seconds`` apart (offset kept)."""
    t0 = datetime.fromisoformat(start)
    return [(t0 + timedelta(seconds=i * step_seconds)).isoformat() for i in range(count)]


DAY = 86_400


def test_default_pack_has_the_nineteen_rules_and_the_log_quality_family() -> None:
    pack = default_pack()
    assert tuple(r.id for r in pack.rules) == ALL_RULES
    assert {r.id: sorted(r.needs) for r in pack.rules if r.needs} == {
        "PUR-02": ["cases"], "PRO-04": ["cases"], "AUT-02": ["authorisations"],
        "AUT-03": ["authorisations"], "AUT-04": ["authorisations"]}


# -- LOG-01 -------------------------------------------------------------------------------


LOG01_ROWS = [
    consult("N-complete"),
    consult("F-blank-actor", actor_id=None),
    consult("F-actor-spaces", actor_id="   "),
    consult("F-blank-justification", justification=None),
    consult("F-justification-spaces", justification="   "),
    consult("F-transfer-no-justification", action="transfer", justification=None,
            recipient_id="FBI"),
    consult("F-disclose-no-recipient", action="disclose"),
    consult("F-transfer-no-recipient", action="transfer"),
    consult("N-disclose-with-recipient", action="disclose", recipient_id="CPS"),
    consult("N-consult-no-recipient"),  # a consultation has no recipient
    consult("N-erase-nothing", action="erase", actor_id=None, justification=None),
    consult("N-collect-no-actor", action="collect", actor_id=None),
]


def test_log01_branches(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "LOG-01", LOG01_ROWS)
    (f,) = [f for f in findings(admin_ws, "LOG-01") if f["record_ids"] == ["F-blank-actor"]]
    assert "user (blank)" in f["message"]
    assert f["facts"]["fields"]["actor_id"] is None
    assert f["facts"]["parameters"] == {"require_justification": True}


def test_log01_require_justification_false(admin_ws: Workspace, tmp_path: Path) -> None:
    pack = modified_pack(("require_justification:\n    value: true",
                          "require_justification:\n    value: false"))
    only_justification = {"F-blank-justification", "F-justification-spaces",
                          "F-transfer-no-justification"}
    rows = [{**r, "record_id": "N" + r["record_id"][1:]}
            if r["record_id"] in only_justification else r for r in LOG01_ROWS]
    check_rule(admin_ws, tmp_path, "LOG-01", rows, pack=pack)
    assert fired(admin_ws, "LOG-01") == {"F-blank-actor", "F-actor-spaces",
                                         "F-disclose-no-recipient", "F-transfer-no-recipient"}


# -- PUR-01 / PUR-02 ----------------------------------------------------------------------


def test_pur01_access_without_case(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "PUR-01", [
        consult("N-with-case"),
        consult("F-consult-no-case", case_id=None),
        consult("F-case-spaces", case_id="  "),
        consult("F-disclose-no-case", action="disclose", case_id=None, recipient_id="CPS"),
        consult("F-transfer-no-case", action="transfer", case_id=None, recipient_id="FBI"),
        consult("N-erase-no-case", action="erase", case_id=None),
        consult("N-search-no-case", action="search", case_id=None),
    ])


PUR02_CASES = [
    case("C-1", team=["officer-1", "officer-2"], opened_at="2026-03-01T09:00:00+00:00",
         closed_at="2026-03-20"),
    case("C-open", team=["officer-1"], opened_at="2026-03-01T09:00:00+00:00"),
]


def test_pur02_team_and_lifetime(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "PUR-02", [
        consult("N-team-member"),
        consult("N-other-team-member", actor_id="officer-2"),
        consult("F-not-on-team", actor_id="officer-9"),
        consult("F-disclose-not-on-team", action="disclose", actor_id="officer-9",
                recipient_id="CPS"),
        consult("N-erase-not-on-team", action="erase", actor_id="officer-9"),
        consult("N-at-opened", ts="2026-03-01T09:00:00+00:00"),
        consult("F-before-opened", ts="2026-03-01T08:59:59+00:00"),
        consult("N-closed-day-late", ts="2026-03-20T23:00:00+00:00"),
        consult("N-closed-day-last-second", ts="2026-03-20T23:59:59+00:00"),
        consult("F-after-closed-day", ts="2026-03-21T00:00:01+00:00"),
        consult("N-open-case-much-later", case_id="C-open", ts="2027-01-01T10:00:00+00:00"),
        consult("N-unknown-case", case_id="C-404", actor_id="officer-9"),
    ], cases=PUR02_CASES)


def test_pur02_case_without_team_checks_only_its_lifetime(admin_ws: Workspace,
                                                          tmp_path: Path) -> None:
    """A case register without a team column must not flag every access to the case."""
    check_rule(admin_ws, tmp_path, "PUR-02", [
        consult("N-anyone", case_id="C-noteam", actor_id="officer-9"),
        consult("F-after-close", case_id="C-noteam", ts="2026-04-02T10:00:00+00:00"),
    ], cases=[case("C-noteam", opened_at="2026-03-01T00:00:00+00:00", closed_at="2026-04-01")])


# -- PRO-01 -------------------------------------------------------------------------------


def _consults(prefix: str, subject: str, stamps: Iterable[str], actors: Iterable[str]
              ) -> list[dict[str, Any]]:
    return [consult(f"{prefix}-{i:02d}", ts, subject_ids=[subject], actor_id=actor)
            for i, (ts, actor) in enumerate(zip(stamps, actors, strict=True))]


def test_pro01_one_actor_threshold(admin_ws: Workspace, tmp_path: Path) -> None:
    ten = _consults("ten", "P-10", times("2026-03-01T10:00:00+01:00", 10, 2 * DAY),
                    ["officer-1"] * 10)
    eleven = _consults("eleven", "P-11", times("2026-03-01T10:00:00+01:00", 11, 2 * DAY),
                       ["officer-1"] * 11)
    spread = _consults("spread", "P-SP", times("2026-03-01T10:00:00+01:00", 11, 4 * DAY),
                       ["officer-1"] * 11)
    # eleven with the first and last exactly 30 days apart: the window includes both ends
    edge = _consults("edge", "P-EDGE", times("2026-03-01T10:00:00+01:00", 11, 3 * DAY),
                     ["officer-1"] * 11)
    # the same, one second longer: no 30-day window holds all eleven
    over = _consults("over", "P-OVER", [*times("2026-03-01T10:00:00+01:00", 10, 3 * DAY),
                                        "2026-03-31T10:00:01+01:00"], ["officer-1"] * 11)
    # eleven look-ups of one person by two officers: ten by one, one by the other
    shared = _consults("shared", "P-SH", times("2026-03-01T10:00:00+01:00", 11, DAY),
                       ["officer-1"] * 10 + ["officer-2"])
    # an action that is not a consultation does not count
    mixed = _consults("mixed", "P-MIX", times("2026-03-01T10:00:00+01:00", 11, DAY),
                      ["officer-1"] * 11)
    mixed[5]["action"] = "disclose"
    load(admin_ws, tmp_path, Kind.OPERATIONS, ten + eleven + spread + edge + over + shared
         + mixed)
    detect(admin_ws, ["PRO-01"])
    got = findings(admin_ws, "PRO-01")
    assert {f["part"] for f in got} == {"aggregate:by-one-actor"}
    by_subject = {f["facts"]["group"]["subject_ids"]: f for f in got}
    assert set(by_subject) == {"P-11", "P-EDGE"}
    f = by_subject["P-11"]
    assert f["record_ids"] == [r["record_id"] for r in eleven]
    assert f["facts"]["count"] == 11 and f["facts"]["limit"] == 10
    assert f["facts"]["group"] == {"subject_ids": "P-11", "actor_id": "officer-1"}
    assert "looked up 11 times by officer-1 within 30 days" in f["message"]
    assert by_subject["P-EDGE"]["record_ids"] == [r["record_id"] for r in edge]


def test_pro01_list_field_groups_per_subject(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = [consult(f"both-{i:02d}", ts, subject_ids=["P-A", "P-B"])
            for i, ts in enumerate(times("2026-03-01T10:00:00+01:00", 11, DAY))]
    load(admin_ws, tmp_path, Kind.OPERATIONS, rows)
    detect(admin_ws, ["PRO-01"])
    got = findings(admin_ws, "PRO-01")
    assert sorted(f["facts"]["group"]["subject_ids"] for f in got) == ["P-A", "P-B"]
    assert all(len(f["record_ids"]) == 11 for f in got)


def test_pro01_one_finding_per_group_over_separate_periods(admin_ws: Workspace,
                                                            tmp_path: Path) -> None:
    march = _consults("mar", "P-X", times("2026-03-01T10:00:00+01:00", 11, 3600),
                      ["officer-1"] * 11)
    lone = [consult("lone", "2026-04-15T10:00:00+01:00", subject_ids=["P-X"])]
    june = _consults("jun", "P-X", times("2026-06-01T10:00:00+01:00", 11, 3600),
                     ["officer-1"] * 11)
    load(admin_ws, tmp_path, Kind.OPERATIONS, march + lone + june)
    detect(admin_ws, ["PRO-01"])
    (f,) = findings(admin_ws, "PRO-01")
    # only the look-ups inside a window over the limit are listed
    assert f["record_ids"] == [r["record_id"] for r in march + june]
    assert f["facts"]["count"] == 11 and f["facts"]["records"] == 22


def test_pro01_subject_listed_twice_is_one_lookup(admin_ws: Workspace,
                                                  tmp_path: Path) -> None:
    # A record naming the same person twice is still one look-up of that person.
    six = [consult(f"six-{i}", ts, subject_ids=["P-D", "P-D"])
           for i, ts in enumerate(times("2026-03-01T10:00:00+01:00", 6, DAY))]
    eleven = [consult(f"eleven-{i:02d}", ts, subject_ids=["P-E", "P-E"])
              for i, ts in enumerate(times("2026-03-01T10:00:00+01:00", 11, DAY))]
    load(admin_ws, tmp_path, Kind.OPERATIONS, six + eleven)
    detect(admin_ws, ["PRO-01"])
    got = {f["facts"]["group"]["subject_ids"]: f for f in findings(admin_ws, "PRO-01")}
    assert set(got) == {"P-E"}
    assert got["P-E"]["record_ids"] == [r["record_id"] for r in eleven]
    assert got["P-E"]["facts"]["count"] == 11


def test_pro01_many_actors_threshold(admin_ws: Workspace, tmp_path: Path) -> None:
    six = _consults("six", "P-6", times("2026-03-01T10:00:00+01:00", 6, DAY),
                    [f"officer-{i}" for i in range(6)])
    five = _consults("five", "P-5", times("2026-03-01T10:00:00+01:00", 5, DAY),
                     [f"officer-{i}" for i in range(5)])
    # five distinct officers, one of them twice: still five
    five_repeat = _consults("rep", "P-REP", times("2026-03-01T10:00:00+01:00", 6, DAY),
                            [f"officer-{i}" for i in range(5)] + ["officer-0"])
    # six officers, but the sixth comes after the 7-day window of the first
    slow = _consults("slow", "P-SLOW", [*times("2026-03-01T10:00:00+01:00", 5, DAY),
                                        "2026-03-08T10:00:01+01:00"],
                     [f"officer-{i}" for i in range(6)])
    # six officers with the first and last exactly 7 days apart (inclusive window)
    edge = _consults("edge", "P-EDGE", [*times("2026-03-01T10:00:00+01:00", 5, DAY),
                                        "2026-03-08T10:00:00+01:00"],
                     [f"officer-{i}" for i in range(6)])
    load(admin_ws, tmp_path, Kind.OPERATIONS, six + five + five_repeat + slow + edge)
    detect(admin_ws, ["PRO-01"])
    got = findings(admin_ws, "PRO-01")
    assert {f["part"] for f in got} == {"aggregate:by-many-actors"}
    by_subject = {f["facts"]["group"]["subject_ids"]: f for f in got}
    assert set(by_subject) == {"P-6", "P-EDGE"}
    f = by_subject["P-6"]
    assert f["record_ids"] == [r["record_id"] for r in six]
    assert f["facts"]["count"] == 6 and f["facts"]["limit"] == 5
    assert "looked up by 6 different officers within 7 days" in f["message"]


# -- PRO-02 -------------------------------------------------------------------------------


def test_pro02_records_count(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "PRO-02", [
        consult("N-1000", records_count=1000),
        consult("F-1001", records_count=1001),
        consult("F-disclose-5000", action="disclose", recipient_id="CPS", records_count=5000,
                actor_id="officer-2"),
        consult("N-erase-5000", action="erase", records_count=5000),
        consult("N-no-count"),
    ])
    (f,) = [f for f in findings(admin_ws, "PRO-02") if f["record_ids"] == ["F-1001"]]
    assert "returned 1001 records (limit 1000)" in f["message"]


def _burst(prefix: str, actor: str, stamps: list[str]) -> list[dict[str, Any]]:
    return [consult(f"{prefix}-{i:02d}", ts, actor_id=actor) for i, ts in enumerate(stamps)]


def test_pro02_burst(admin_ws: Workspace, tmp_path: Path) -> None:
    fifty = _burst("fifty", "officer-50", times("2026-03-04T10:00:00+01:00", 50, 60))
    fifty_one = _burst("f51", "officer-51", times("2026-03-04T10:00:00+01:00", 51, 60))
    # 51 with first and last exactly 60 minutes apart: inside (inclusive window)
    edge = _burst("edge", "officer-edge", times("2026-03-04T10:00:00+01:00", 51, 72))
    # 51 over 60 minutes and one second: no 60-minute window holds them all
    over = _burst("over", "officer-over", [*times("2026-03-04T10:00:00+01:00", 50, 72),
                                           "2026-03-04T11:00:01+01:00"])
    # two bursts of the same officer on different days: one finding each
    day1 = _burst("d1", "officer-2x", times("2026-03-04T10:00:00+01:00", 51, 30))
    day2 = _burst("d2", "officer-2x", times("2026-03-06T15:00:00+01:00", 51, 30))
    # 51 actions of which one is not a logged access (erase)
    mixed = _burst("mix", "officer-mix", times("2026-03-04T10:00:00+01:00", 51, 60))
    mixed[10]["action"] = "erase"
    load(admin_ws, tmp_path, Kind.OPERATIONS,
         fifty + fifty_one + edge + over + day1 + day2 + mixed)
    summary = detect(admin_ws, ["PRO-02"])
    got = findings(admin_ws, "PRO-02")
    assert {f["part"] for f in got} == {"aggregate:burst"}
    assert summary.rules[0].hits == 4
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for f in got:
        by_actor.setdefault(f["facts"]["group"]["actor_id"], []).append(f)
    assert sorted(by_actor) == ["officer-2x", "officer-51", "officer-edge"]
    assert by_actor["officer-51"][0]["record_ids"] == [r["record_id"] for r in fifty_one]
    assert by_actor["officer-51"][0]["facts"]["count"] == 51
    assert by_actor["officer-51"][0]["facts"]["limit"] == 50
    bursts = sorted(by_actor["officer-2x"], key=lambda f: f["record_ids"][0])
    assert [f["record_ids"] for f in bursts] == [[r["record_id"] for r in day1],
                                                 [r["record_id"] for r in day2]]


# -- PRO-03 -------------------------------------------------------------------------------


def test_pro03_local_office_hours(admin_ws: Workspace, tmp_path: Path) -> None:
    # +02:00: 22:00 local is 20:00 UTC (inside hours in UTC), 06:00 local is 04:00 UTC
    # (outside hours in UTC); the rule must use the local time as recorded.
    check_rule(admin_ws, tmp_path, "PRO-03", [
        consult("F-2200", "2026-06-04T22:00:00+02:00"),
        consult("N-215959", "2026-06-04T21:59:59+02:00"),
        consult("N-215959.999", "2026-06-04T21:59:59.999999+02:00"),
        consult("N-0600", "2026-06-04T06:00:00+02:00"),
        consult("F-055959", "2026-06-04T05:59:59+02:00"),
        consult("F-0300", "2026-06-04T03:00:00+02:00"),
        consult("N-1200-tokyo", "2026-06-04T12:00:00+09:00"),  # 03:00 UTC
        consult("F-2330-new-york", "2026-06-04T23:30:00-05:00"),  # 04:30 UTC next day
        consult("N-0300-urgent", "2026-06-04T03:00:00+02:00", urgent=True),
        consult("F-0300-urgent-missing", "2026-06-04T03:00:00+02:00", urgent=None),
        consult("N-0300-erase", "2026-06-04T03:00:00+02:00", action="erase"),
        consult("F-0300-disclose", "2026-06-04T03:00:00+02:00", action="disclose",
                recipient_id="CPS"),
    ])
    (f,) = [f for f in findings(admin_ws, "PRO-03") if f["record_ids"] == ["F-2200"]]
    assert "at 22:00 local time on 2026-06-04" in f["message"]


def test_pro03_office_hours_parameter(admin_ws: Workspace, tmp_path: Path) -> None:
    pack = modified_pack(('office_hours_end: {value: "22:00"', 'office_hours_end: {value: "20:00"'))
    check_rule(admin_ws, tmp_path, "PRO-03", [
        consult("F-2000", "2026-06-04T20:00:00+02:00"),
        consult("N-195959", "2026-06-04T19:59:59+02:00"),
    ], pack=pack)


# -- PRO-04 -------------------------------------------------------------------------------


def test_pro04_penalty_threshold(admin_ws: Workspace, tmp_path: Path) -> None:
    ds = {"action": "directed_surveillance", "authorisation_id": "A-1"}
    check_rule(admin_ws, tmp_path, "PRO-04", [
        consult("N-36", max_penalty_months=36, **ds),
        consult("F-35", max_penalty_months=35, **ds),
        consult("F-interception-12", max_penalty_months=12,
                **{**ds, "action": "interception"}),
        consult("N-consult-12", max_penalty_months=12),
        consult("N-own-48-case-12", case_id="C-12", max_penalty_months=48, **ds),
        consult("F-own-12-case-48", case_id="C-48", max_penalty_months=12, **ds),
        consult("F-case-12", case_id="C-12", **ds),
        consult("N-case-36", case_id="C-36", **ds),
        consult("N-case-48", case_id="C-48", **ds),
        consult("N-unknown-anywhere", case_id="C-404", **ds),
        consult("N-no-case", case_id=None, **ds),
    ], cases=[case("C-12", max_penalty_months=12), case("C-36", max_penalty_months=36),
              case("C-48", max_penalty_months=48)])


# -- SPC-01 -------------------------------------------------------------------------------


def test_spc01_special_categories(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "SPC-01", [
        consult("N-health-documented", data_categories=["health"], legal_basis="DPA s.35"),
        consult("F-health-no-justification", data_categories=["health"],
                legal_basis="DPA s.35", justification=None),
        consult("F-health-no-basis", data_categories=["health"]),
        consult("F-biometric-basis-spaces", data_categories=["identity", "biometric"],
                legal_basis="  "),
        consult("N-identity-nothing", data_categories=["identity", "address"],
                justification=None),
        consult("N-no-categories", justification=None),
        consult("F-erase-too", action="erase", data_categories=["sex_life_or_orientation"]),
    ])


# -- TRF-01 / TRF-02 / TRF-03 -------------------------------------------------------------


def transfer(record_id: str, **fields: Any) -> dict[str, Any]:
    base = {"action": "transfer", "recipient_id": "R-1",
            "recipient_type": "competent_authority", "recipient_country": "US",
            "transfer_basis": "safeguards_instrument"}
    return consult(record_id, **{**base, **fields})


def test_trf01_third_country_basis(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "TRF-01", [
        transfer("N-gb-adequacy", recipient_country="GB", transfer_basis="adequacy"),
        transfer("F-us-adequacy", transfer_basis="adequacy"),
        transfer("N-ch-blank", recipient_country="CH", transfer_basis=None),
        transfer("N-de-blank", recipient_country="DE", transfer_basis=None),
        transfer("F-us-blank", transfer_basis=None),
        transfer("F-gb-blank", recipient_country="GB", transfer_basis=None),
        transfer("F-lower-case-us-blank", recipient_country="us", transfer_basis=None),
        transfer("N-us-safeguards"),
        transfer("N-us-derogation", transfer_basis="derogation_individual_case"),
        transfer("N-disclose-us-blank", action="disclose", transfer_basis=None),
    ])


def test_trf02_recipient_type(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "TRF-02", [
        transfer("N-authority"),
        transfer("N-international-organisation", recipient_type="international_organisation"),
        transfer("F-private-party", recipient_type="private_party"),
        transfer("F-other", recipient_type="other"),
        transfer("F-type-missing", recipient_type=None),
        transfer("N-private-in-led-area", recipient_type="private_party",
                 recipient_country="DE"),
        transfer("N-disclose-private", action="disclose", recipient_type="private_party"),
    ])


def test_trf03_derogation_subjects(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "TRF-03", [
        transfer("N-derogation-one", transfer_basis="derogation_public_security"),
        transfer("F-derogation-two", transfer_basis="derogation_public_security",
                 subject_ids=["P-1", "P-2"]),
        transfer("F-vital-three", transfer_basis="derogation_vital_interests",
                 subject_ids=["P-1", "P-2", "P-3"]),
        transfer("N-safeguards-three", subject_ids=["P-1", "P-2", "P-3"]),
        transfer("N-derogation-none", transfer_basis="derogation_individual_case",
                 subject_ids=None),
    ])


# -- INT-01 / INT-02 / INT-03 / XB-01 -----------------------------------------------------


def notice(record_id: str, **fields: Any) -> dict[str, Any]:
    base = {"action": "notice_request", "notice_type": "red", "actor_id": "officer-1"}
    return op(record_id, **{**base, **fields})


def test_int01_red_notice_thresholds(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "INT-01", [
        notice("N-prosecution-24", notice_purpose="prosecution", max_penalty_months=24),
        notice("F-prosecution-23", notice_purpose="prosecution", max_penalty_months=23),
        notice("N-sentence-6", notice_purpose="sentence", remaining_months=6),
        notice("F-sentence-5", notice_purpose="sentence", remaining_months=5),
        notice("N-sentence-low-penalty", notice_purpose="sentence", max_penalty_months=12,
               remaining_months=10),
        notice("N-prosecution-low-remaining", notice_purpose="prosecution",
               max_penalty_months=60, remaining_months=1),
        notice("N-prosecution-penalty-missing", notice_purpose="prosecution"),
        notice("N-yellow-12", notice_type="yellow", notice_purpose="prosecution",
               max_penalty_months=12),
        op("N-eaw-12", action="eaw_issue", notice_purpose="prosecution",
           max_penalty_months=12),
    ])


def test_int02_excluded_offences(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "INT-02", [
        notice("F-defamation", offence="libel", offence_category="defamation"),
        notice("F-family-matter-spelt", offence="maintenance",
               offence_category="Family matter"),
        notice("N-fraud", offence="fraud", offence_category="fraud"),
        notice("N-no-category", offence="unknown"),
        notice("N-yellow-family", notice_type="yellow", offence_category="family_matter"),
    ])


def test_int03_art3_concern(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "INT-03", [
        notice("F-political", art3_concern="political"),
        notice("F-military", art3_concern="military"),
        notice("N-no-concern"),
        notice("N-blue-political", notice_type="blue", art3_concern="political"),
        op("N-eaw-political", action="eaw_issue", art3_concern="political"),
    ])


def test_xb01_eaw_thresholds(admin_ws: Workspace, tmp_path: Path) -> None:
    eaw = {"action": "eaw_issue", "actor_id": "officer-1"}
    check_rule(admin_ws, tmp_path, "XB-01", [
        op("N-prosecution-12", notice_purpose="prosecution", max_penalty_months=12, **eaw),
        op("F-prosecution-11", notice_purpose="prosecution", max_penalty_months=11, **eaw),
        op("N-sentence-4", notice_purpose="sentence", sentence_months=4, **eaw),
        op("F-sentence-3", notice_purpose="sentence", sentence_months=3, **eaw),
        op("N-sentence-missing", notice_purpose="sentence", max_penalty_months=1, **eaw),
        op("N-no-purpose", max_penalty_months=1, sentence_months=1, **eaw),
        notice("N-red-notice-11", notice_purpose="prosecution", max_penalty_months=11),
    ])


# -- AUT-01 / AUT-02 / AUT-03 / AUT-04 ----------------------------------------------------


def measure(record_id: str, ts: str = "2026-03-04T10:00:00+00:00", **fields: Any
            ) -> dict[str, Any]:
    base = {"action": "directed_surveillance", "actor_id": "officer-1", "case_id": "C-1",
            "subject_ids": ["P-1"], "authorisation_id": "A-1"}
    return op(record_id, ts, **{**base, **fields})


def test_aut01_intrusive_without_authorisation(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "AUT-01", [
        measure("N-with-id"),
        measure("F-ds-no-id", authorisation_id=None),
        measure("F-ds-id-spaces", authorisation_id=" "),
        measure("F-interception", action="interception", authorisation_id=None),
        measure("F-intrusive", action="intrusive_surveillance", authorisation_id=None),
        measure("F-equipment", action="equipment_interference", authorisation_id=None),
        measure("N-search", action="search", authorisation_id=None),
        measure("N-consult", action="consult", authorisation_id=None),
    ])


AUT02_REGISTER = [
    auth("A-1", valid_from="2026-03-01T00:00:00+00:00", valid_to="2026-03-10"),
    auth("A-TS", valid_from="2026-03-01T00:00:00+00:00", valid_to="2026-03-10T18:00:00+00:00"),
    auth("A-CANCELLED", cancelled_at="2026-03-05T12:00:00+00:00"),
    auth("A-REFUSED", approval="refused"),
    auth("A-PENDING", approval="pending"),
]


def test_aut02_validity(admin_ws: Workspace, tmp_path: Path) -> None:
    check_rule(admin_ws, tmp_path, "AUT-02", [
        measure("N-inside"),
        measure("N-at-valid-from", "2026-03-01T00:00:00+00:00"),
        measure("F-before-valid-from", "2026-02-28T23:59:59+00:00"),
        measure("N-valid-to-day-2300", "2026-03-10T23:00:00+00:00"),
        measure("N-valid-to-day-235959", "2026-03-10T23:59:59+00:00"),
        measure("F-day-after-000001", "2026-03-11T00:00:01+00:00"),
        measure("N-at-valid-to-time", "2026-03-10T18:00:00+00:00", authorisation_id="A-TS"),
        measure("F-after-valid-to-time", "2026-03-10T18:00:01+00:00",
                authorisation_id="A-TS"),
        measure("N-second-before-cancel", "2026-03-05T11:59:59+00:00",
                authorisation_id="A-CANCELLED"),
        measure("F-at-cancel", "2026-03-05T12:00:00+00:00", authorisation_id="A-CANCELLED"),
        measure("F-after-cancel", "2026-03-06T12:00:00+00:00",
                authorisation_id="A-CANCELLED"),
        measure("F-refused", authorisation_id="A-REFUSED"),
        measure("N-pending", authorisation_id="A-PENDING"),
        measure("F-unknown-id", authorisation_id="A-404"),
        measure("N-no-id", authorisation_id=None),
    ], auths=AUT02_REGISTER)


def test_aut02_valid_to_date_with_offsets(admin_ws: Workspace, tmp_path: Path) -> None:
    # The same instants as in test_aut02_validity, written with another offset.
    check_rule(admin_ws, tmp_path, "AUT-02", [
        measure("N-valid-to-day-as-plus1", "2026-03-11T00:30:00+01:00"),  # 23:30 UTC
        measure("F-after-as-plus1", "2026-03-11T01:00:01+01:00"),  # 00:00:01 UTC
        measure("F-at-cancel-as-plus2", "2026-03-05T14:00:00+02:00",
                authorisation_id="A-CANCELLED"),
        measure("N-before-cancel-as-minus5", "2026-03-05T06:59:59-05:00",
                authorisation_id="A-CANCELLED"),
    ], auths=AUT02_REGISTER)


def test_aut02_latest_register_import_wins(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [measure("late", "2026-03-15T10:00:00+00:00")])
    load(admin_ws, tmp_path, Kind.AUTHORISATIONS, [auth("A-1", valid_to="2026-03-10")])
    detect(admin_ws, ["AUT-02"])
    assert fired(admin_ws, "AUT-02") == {"late"}
    # a later register import extends the authorisation: the operation is now covered
    load(admin_ws, tmp_path, Kind.AUTHORISATIONS, [auth("A-1", valid_to="2026-03-20")])
    detect(admin_ws, ["AUT-02"])
    assert fired(admin_ws, "AUT-02") == set()
    (stale,) = list_findings(admin_ws, FindingFilters(rule="AUT-02", matching=False))
    assert stale["record_ids"] == ["late"]


AUT03_REGISTER = [
    auth("A-DS-INSPECTOR", issuer_role="inspector"),
    auth("A-DS-SUPER", issuer_role="superintendent", approval="pending"),
    auth("A-DS-NO-ROLE", issuer_role=None),
    auth("A-INT-CC", issuer_role="chief_constable"),
    auth("A-INT-OK", issuer_role="secretary_of_state"),
    auth("A-INT-PENDING", issuer_role="secretary_of_state", approval="pending"),
    auth("A-INT-REFUSED", issuer_role="secretary_of_state", approval="refused"),
    auth("A-INT-NO-APPROVAL", issuer_role="secretary_of_state", approval=None),
    auth("A-INT-URGENT", issuer_role="secretary_of_state", approval="pending", urgent=True,
         valid_from="2026-03-01T00:00:00+00:00"),
    auth("A-EI-CC", issuer_role="chief_constable"),
    auth("A-IS-ACC", issuer_role="assistant_chief_constable"),
]


def test_aut03_issuer_and_approval(admin_ws: Workspace, tmp_path: Path) -> None:
    i = {"action": "interception"}
    check_rule(admin_ws, tmp_path, "AUT-03", [
        measure("F-ds-by-inspector", authorisation_id="A-DS-INSPECTOR"),
        measure("N-ds-by-superintendent-pending", authorisation_id="A-DS-SUPER"),
        measure("F-ds-issuer-missing", authorisation_id="A-DS-NO-ROLE"),
        measure("N-consult-under-inspector", action="consult",
                authorisation_id="A-DS-INSPECTOR"),
        measure("F-int-by-chief-constable", authorisation_id="A-INT-CC", **i),
        measure("N-int-approved", authorisation_id="A-INT-OK", **i),
        measure("F-int-pending", authorisation_id="A-INT-PENDING", **i),
        measure("F-int-refused", authorisation_id="A-INT-REFUSED", **i),
        measure("F-int-approval-missing", authorisation_id="A-INT-NO-APPROVAL", **i),
        measure("N-int-urgent-day-4", "2026-03-05T00:00:00+00:00",
                authorisation_id="A-INT-URGENT", **i),
        measure("N-int-urgent-day-5", "2026-03-06T00:00:00+00:00",
                authorisation_id="A-INT-URGENT", **i),
        measure("F-int-urgent-after-5-days", "2026-03-06T00:00:01+00:00",
                authorisation_id="A-INT-URGENT", **i),
        measure("N-ei-by-chief-constable", action="equipment_interference",
                authorisation_id="A-EI-CC"),
        measure("F-is-by-assistant-chief", action="intrusive_surveillance",
                authorisation_id="A-IS-ACC"),
        measure("N-unknown-authorisation", authorisation_id="A-404", **i),
    ], auths=AUT03_REGISTER)


def test_aut04_scope(admin_ws: Workspace, tmp_path: Path) -> None:
    i = {"action": "interception"}
    check_rule(admin_ws, tmp_path, "AUT-04", [
        measure("N-in-scope", **i),
        measure("N-no-subjects", subject_ids=None, **i),
        measure("F-other-action", action="equipment_interference"),
        measure("F-other-subject", subject_ids=["P-9"], **i),
        measure("F-one-subject-too-many", subject_ids=["P-1", "P-2"], **i),
        measure("N-two-covered", subject_ids=["P-1", "P-3"], authorisation_id="A-TWO", **i),
        measure("N-empty-lists", action="equipment_interference", subject_ids=["P-9"],
                authorisation_id="A-EMPTY"),
        measure("N-unknown-authorisation", action="equipment_interference",
                authorisation_id="A-404"),
    ], auths=[
        auth("A-1", actions=["interception"], subject_ids=["P-1"]),
        auth("A-TWO", actions=["interception"], subject_ids=["P-1", "P-3"]),
        auth("A-EMPTY", actions=None, subject_ids=None),
    ])


# -- rules that read a register -----------------------------------------------------------

REGISTER_RULES = ("PUR-02", "PRO-04", "AUT-02", "AUT-03", "AUT-04")


def test_register_rules_not_evaluated_without_register(admin_ws: Workspace,
                                                       tmp_path: Path) -> None:
    # Rows that would fire each rule if its register were there.
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        consult("pur", actor_id="officer-9"),
        measure("pro", max_penalty_months=None, case_id="C-1"),
        measure("aut", authorisation_id="A-404", action="interception"),
        measure("aut01", authorisation_id=None),
    ])
    summary = detect(admin_ws, [*REGISTER_RULES, "AUT-01"])
    outcomes = {o.rule_id: o for o in summary.rules}
    for rule in ("PUR-02", "PRO-04"):
        assert not outcomes[rule].evaluated
        assert outcomes[rule].reason == "it reads the case register, and none is imported"
    for rule in ("AUT-02", "AUT-03", "AUT-04"):
        assert not outcomes[rule].evaluated
        assert outcomes[rule].reason == ("it reads the authorisation register, and none is "
                                         "imported")
    assert outcomes["AUT-01"].evaluated and outcomes["AUT-01"].reason is None
    assert outcomes["AUT-01"].hits == 1
    for rule in REGISTER_RULES:
        assert list_findings(admin_ws, FindingFilters(rule=rule)) == []
        assert outcomes[rule].hits == 0


def test_register_present_but_other_missing(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [measure("aut", authorisation_id="A-404")])
    load(admin_ws, tmp_path, Kind.AUTHORISATIONS, [auth("A-1")])
    summary = detect(admin_ws, ["AUT-02", "PUR-02"])
    outcomes = {o.rule_id: o for o in summary.rules}
    assert outcomes["AUT-02"].evaluated and outcomes["AUT-02"].hits == 1
    assert not outcomes["PUR-02"].evaluated
    assert "case register" in (outcomes["PUR-02"].reason or "")


def test_nothing_evaluated_without_operations(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.AUTHORISATIONS, [auth("A-1")])
    summary = detect(admin_ws, None)
    assert [o.rule_id for o in summary.rules] == list(ALL_RULES)
    assert all(not o.evaluated and o.reason == "no operations are imported"
               for o in summary.rules)


# == the engine ===========================================================================


def _table(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    return ws.conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def test_engine_rerun_keeps_findings_and_status(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        consult("one", actor_id=None), consult("two", justification=None),
        *_burst("b", "officer-b", times("2026-03-04T10:00:00+01:00", 51, 30))])
    first = detect(admin_ws, ["LOG-01", "PRO-02"])
    assert [(o.hits, o.new) for o in first.rules] == [(2, 2), (1, 1)]
    before = {f["id"]: f for f in list_findings(admin_ws)}
    assert len(before) == 3
    target = next(f["id"] for f in before.values() if f["record_ids"] == ["one"])
    burst = next(f["id"] for f in before.values() if f["part"] == "aggregate:burst")
    with admin_ws.write():
        admin_ws.conn.execute("UPDATE findings SET status='confirmed' WHERE finding_id = ?",
                              (target,))
        admin_ws.conn.execute("UPDATE findings SET status='dismissed' WHERE finding_id = ?",
                              (burst,))
    second = detect(admin_ws, ["LOG-01", "PRO-02"])
    assert [(o.hits, o.new, o.stale) for o in second.rules] == [(2, 0, 0), (1, 0, 0)]
    after = {f["id"]: f for f in list_findings(admin_ws)}
    assert set(after) == set(before)
    assert after[target]["status"] == "confirmed"
    assert after[burst]["status"] == "dismissed"
    assert after[burst]["record_ids"] == before[burst]["record_ids"]
    assert [f["status"] for k, f in after.items() if k not in (target, burst)] == ["open"]
    assert all(f["first_run"] == first.run_id and f["last_run"] == second.run_id
               for f in after.values())
    assert admin_ws.conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 3
    assert admin_ws.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


def test_engine_no_longer_matching_then_matching_again(admin_ws: Workspace,
                                                        tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [consult("big", records_count=1500),
                                                consult("huge", records_count=5000)])
    detect(admin_ws, ["PRO-02"])
    ids = {f["record_ids"][0]: f["id"]
           for f in list_findings(admin_ws, FindingFilters(rule="PRO-02"))}
    assert set(ids) == {"big", "huge"}
    with admin_ws.write():
        admin_ws.conn.execute("UPDATE findings SET status='confirmed' WHERE finding_id = ?",
                              (ids["big"],))
    raised = modified_pack(("max_records_per_query: {value: 1000",
                            "max_records_per_query: {value: 2000"))
    summary = detect(admin_ws, ["PRO-02"], raised)
    assert (summary.rules[0].hits, summary.rules[0].new, summary.rules[0].stale) == (1, 0, 1)
    (stale,) = list_findings(admin_ws, FindingFilters(rule="PRO-02", matching=False))
    assert stale["id"] == ids["big"]
    assert stale["status"] == "confirmed"
    assert stale["no_longer_matching_reason"]
    assert "no longer matches" in stale["no_longer_matching_reason"]
    assert fired(admin_ws, "PRO-02") == {"huge"}
    # the default threshold again: the same finding matches again, not a new one
    again = detect(admin_ws, ["PRO-02"])
    assert (again.rules[0].hits, again.rules[0].new, again.rules[0].stale) == (2, 0, 0)
    back = {f["id"]: f for f in list_findings(admin_ws, FindingFilters(rule="PRO-02"))}
    assert set(back) == set(ids.values())
    assert back[ids["big"]]["matching"] is True
    assert back[ids["big"]]["no_longer_matching_reason"] is None
    assert back[ids["big"]]["status"] == "confirmed"


def test_engine_full_run_labels_findings_of_removed_rules(admin_ws: Workspace,
                                                          tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        op("eaw", action="eaw_issue", notice_purpose="prosecution", max_penalty_months=1),
        consult("log", actor_id=None)])
    detect(admin_ws, None)
    assert fired(admin_ws, "XB-01") == {"eaw"}
    text = pack_text()
    without_xb = parse_pack(text[:text.index("  - id: XB-01")], "led-baseline-minus-xb.yaml")
    detect(admin_ws, None, without_xb)
    (stale,) = list_findings(admin_ws, FindingFilters(rule="XB-01"))
    assert stale["matching"] is False
    assert "rule not in pack" in stale["no_longer_matching_reason"]
    assert fired(admin_ws, "LOG-01") == {"log"}


def test_engine_unknown_rule(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [consult("x", actor_id=None)])
    with pytest.raises(UsageError, match="NOPE-01"):
        detect(admin_ws, ["LOG-01", "NOPE-01"])
    assert _table(admin_ws, "runs") == []
    assert _table(admin_ws, "findings") == []


def test_engine_viewer_cannot_detect(ws_path: Path, tmp_path: Path) -> None:
    with Workspace.open(ws_path, VIEWER, VIEWER_PW) as ws:
        with pytest.raises(PermissionDenied):
            detect(ws, ["LOG-01"])
        with pytest.raises(PermissionDenied):
            detect(ws, None)
        assert _table(ws, "runs") == []


def test_engine_cancel_leaves_nothing(admin_ws: Workspace, tmp_path: Path) -> None:
    load(admin_ws, tmp_path, Kind.OPERATIONS, [
        consult("log", actor_id=None), consult("pur", case_id=None),
        consult("night", "2026-03-04T23:00:00+01:00")])
    detect(admin_ws, ["LOG-01"])
    runs, found = _table(admin_ws, "runs"), _table(admin_ws, "findings")
    links = _table(admin_ws, "finding_records")
    audit = _table(admin_ws, "audit_events")
    assert len(runs) == 1 and len(found) == 1
    token = CancelToken()
    stages: list[str] = []

    def progress(done: int, total: int, stage: str) -> None:
        stages.append(stage)
        if done == 2:  # LOG-01 and PUR-01 have already stored their findings
            token.cancel()

    with pytest.raises(Cancelled):
        run_detection(admin_ws, default_pack(), None, progress=progress, cancel=token)
    assert stages == ["LOG-01", "PUR-01", "PUR-02"]
    assert _table(admin_ws, "runs") == runs
    assert _table(admin_ws, "findings") == found
    assert _table(admin_ws, "finding_records") == links
    assert _table(admin_ws, "audit_events") == audit
    # and a run after that works normally
    summary = detect(admin_ws, None)
    assert {o.rule_id for o in summary.rules if o.hits} >= {"LOG-01", "PUR-01", "PRO-03"}


# -- identifiers written in another Unicode form -------------------------------------------


def test_an_authorisation_cited_in_another_unicode_form_is_found(admin_ws: Workspace,
                                                                 tmp_path: Path) -> None:
    """The operations log cites warrant "A-Ö1" as an O and a combining diaeresis (as a
    system on macOS may write it), the register lists it as one character: AUT-02 calls
    the operation's authorisation unknown, a false critical finding."""
    import unicodedata

    warrant = "A-Ö1"
    decomposed = unicodedata.normalize("NFD", warrant)
    assert decomposed != warrant
    check_rule(admin_ws, tmp_path, "AUT-02", [
        measure("N-cites-the-warrant-decomposed", authorisation_id=decomposed),
        measure("N-cites-the-warrant", authorisation_id=warrant),
        measure("F-cites-no-warrant-of-the-register", authorisation_id="A-404"),
    ], auths=[auth(warrant, valid_to="2026-03-10")])
