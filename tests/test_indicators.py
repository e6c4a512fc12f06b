"""Compliance indicators: grouping by every key, local months, Wilson intervals, channels,
comparisons with an earlier run or period, what is left out, the CLI.

Expected numbers come from the test's own data (counted here in plain Python), from
the closed form of the Wilson interval solved here as a quadratic, or from published
values; never from `oversight.indicators`."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, VIEWER, VIEWER_PW, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oversight import triage
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import parse_pack
from oversight.errors import PermissionDenied, UsageError, ValidationError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.indicators import (
    IndicatorQuery,
    compute,
    compute_many,
    percent_text,
    points_text,
    rate_text,
    wilson,
)
from oversight.periods import parse_period, set_timezone, workspace_timezone
from oversight.records import Kind
from oversight.retraction import retract_batch
from oversight.workspace import Workspace

PACK = """
pack: ind-test
version: "1"
title: Indicators test pack
lists:
  eu: [DE, FR, NL]
channels:
  - id: third
    title: To third countries
    when: action = "transfer" and present(recipient_country) and recipient_country not in eu
  - id: eu
    when: action = "transfer" and recipient_country in eu
  - id: any_transfer
    when: action = "transfer"
  - id: lookup
    when: action = "consult"
rules:
  - id: R-NOJ
    title: Look-up without a justification
    severity: medium
    legal_refs: ["test ref"]
    rationale: Every look-up needs a reason.
    when: action = "consult" and blank(justification)
    message: "{actor_id} looked up without a reason"
  - id: R-XFER
    title: Transfer to a third country
    severity: high
    legal_refs: ["test ref"]
    rationale: Outside the area.
    when: action = "transfer" and present(recipient_country) and recipient_country not in eu
    message: "transfer to {recipient_country}"
"""
EU = {"DE", "FR", "NL"}
HEADER = "record_id,ts,action,actor_id,actor_role,agency,justification,recipient_country"


def op(rid: str, ts: str, action: str, agency: str, *, role: str = "analyst",
       why: str = "a reason", country: str = "") -> dict[str, str]:
    return {"record_id": rid, "ts": ts, "action": action, "actor_id": f"{agency}-1",
            "actor_role": role, "agency": agency, "justification": why,
            "recipient_country": country}


def csv_of(ops: list[dict[str, str]]) -> str:
    lines = [HEADER] + [",".join(o[c] for c in HEADER.split(",")) for o in ops]
    return "\n".join(lines) + "\n"


# The data, and what the test pack says about each operation (plain Python).
BATCH_1 = [
    # Agency DE-A: January (UTC) look-ups, three without a reason; a transfer each way.
    op("A1", "2025-01-10T09:00:00+00:00", "consult", "DE-A", why=""),
    op("A2", "2025-01-11T09:00:00+00:00", "consult", "DE-A", why=""),
    op("A3", "2025-01-12T09:00:00+00:00", "consult", "DE-A", why=""),
    op("A4", "2025-01-13T09:00:00+00:00", "consult", "DE-A"),
    op("A5", "2025-02-03T09:00:00+00:00", "transfer", "DE-A", country="US", role="liaison"),
    op("A6", "2025-02-04T09:00:00+00:00", "transfer", "DE-A", country="FR", role="liaison"),
    op("A7", "2025-02-05T09:00:00+00:00", "transfer", "DE-A", role="liaison"),  # no country
    # Agency FR-B: one look-up without a reason, a search, a transfer out.
    op("B1", "2025-04-02T09:00:00+02:00", "consult", "FR-B", why=""),
    op("B2", "2025-04-03T09:00:00+02:00", "consult", "FR-B"),
    op("B3", "2025-04-04T09:00:00+02:00", "search", "FR-B", role=""),
    op("B4", "2025-05-06T09:00:00+02:00", "transfer", "FR-B", country="CN", role="liaison"),
]
BATCH_2 = [
    op("C1", "2025-05-10T09:00:00+02:00", "consult", "FR-B", why=""),
    op("C2", "2025-05-11T09:00:00+02:00", "consult", "FR-B", why=""),
    op("C3", "2025-05-12T09:00:00+02:00", "transfer", "FR-B", country="RU", role="liaison"),
]


def rule_hits(o: dict[str, str]) -> list[str]:
    hits = []
    if o["action"] == "consult" and not o["justification"]:
        hits.append("R-NOJ")
    if o["action"] == "transfer" and o["recipient_country"] and \
            o["recipient_country"] not in EU:
        hits.append("R-XFER")
    return hits


def channel_of(o: dict[str, str]) -> str:
    if o["action"] == "transfer" and o["recipient_country"] and \
            o["recipient_country"] not in EU:
        return "third"
    if o["action"] == "transfer" and o["recipient_country"] in EU:
        return "eu"
    if o["action"] == "transfer":
        return "any_transfer"
    if o["action"] == "consult":
        return "lookup"
    return "other"


SEVERITY = {"R-NOJ": "medium", "R-XFER": "high"}


def rows_by(doc: dict[str, Any], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r["group"][k] for k in keys): r for r in doc["rows"]}


@pytest.fixture
def pack_file(tmp_path: Path) -> Path:
    return write(tmp_path / "pack.yaml", PACK)


@pytest.fixture
def ws_one_run(ws_path: Path, tmp_path: Path) -> Iterator[Path]:
    """Batch 1 imported and checked (run 1)."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "ops1.csv", csv_of(BATCH_1)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
    yield ws_path


def ids_of(ws: Workspace, rule: str, record_ids: set[str]) -> list[str]:
    return [f["id"] for f in list_findings(ws, FindingFilters(rule=rule))
            if set(f["record_ids"]) & record_ids]


# -- Wilson ---------------------------------------------------------------------------------

Z = 1.959963984540054  # the 97.5th percentile of the standard normal distribution


def wilson_by_quadratic(k: int, n: int) -> tuple[float, float]:
    """The interval's ends are the p with (k/n - p)^2 = z^2 p (1 - p) / n, i.e. the roots
    of (1 + z^2/n) p^2 - (2k/n + z^2/n) p + (k/n)^2 = 0."""
    phat, z2 = k / n, Z * Z
    a, b, c = 1 + z2 / n, -(2 * phat + z2 / n), phat * phat
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize(("k", "n", "published"), [
    (0, 10, (0.0, 0.2775)),
    (10, 10, (0.7225, 1.0)),
    (3, 10, (0.1078, 0.6032)),
    (50, 100, (0.4038, 0.5962)),
])
def test_wilson_known_values(k: int, n: int, published: tuple[float, float]) -> None:
    low, high = wilson(k, n) or (math.nan, math.nan)
    exp_low, exp_high = wilson_by_quadratic(k, n)
    assert low == pytest.approx(exp_low, abs=1e-12)
    assert high == pytest.approx(exp_high, abs=1e-12)
    assert (round(low, 4), round(high, 4)) == published


def test_wilson_of_nothing_decided_is_no_interval() -> None:
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(11, 10)


@given(n=st.integers(1, 10_000), data=st.data())
def test_wilson_contains_the_rate_and_stays_in_0_1(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    interval = wilson(k, n)
    assert interval is not None
    low, high = interval
    assert 0.0 <= low <= k / n <= high <= 1.0
    exp_low, exp_high = wilson_by_quadratic(k, n)
    assert low == pytest.approx(max(0.0, exp_low), abs=1e-9)
    assert high == pytest.approx(min(1.0, exp_high), abs=1e-9)


def test_the_cli_prints_wilson_for_3_of_10_decided(ws_path: Path, tmp_path: Path) -> None:
    """Ten findings decided, three confirmed: the row carries the interval of 3 of 10."""
    ops = [op(f"N{i}", f"2025-03-{i + 1:02d}T10:00:00+00:00", "consult", "XX", why="")
           for i in range(12)]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "n.csv", csv_of(ops)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        ids = sorted(f["id"] for f in list_findings(ws))
        triage.mark(ws, ids[:3], "confirmed", note="breach")
        triage.mark(ws, ids[3:10], "dismissed", reason="justified", note="fine")
    doc = run_cli(ws_path, "indicators", "--by", "agency", "--json")
    row = doc["rows"][0]
    assert (row["findings"], row["confirmed"], row["dismissed"], row["open"],
            row["decided"]) == (12, 3, 7, 2, 10)
    assert row["confirmed_rate"] == pytest.approx(0.3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_by_quadratic(3, 10),
                                                            abs=1e-6)


# -- grouping -------------------------------------------------------------------------------


def test_each_grouping_counts_operations_and_findings(ws_one_run: Path) -> None:
    ops = BATCH_1
    hits = [(o, rule) for o in ops for rule in rule_hits(o)]
    with Workspace.open(ws_one_run, VIEWER, VIEWER_PW) as ws:
        for key in ("agency", "channel", "actor_role"):
            def value(o: dict[str, str], key: str = key) -> str | None:
                if key == "channel":
                    return channel_of(o)
                return o[key] or None
            doc = compute(ws, IndicatorQuery(by=(key,))).to_json()
            got = rows_by(doc, key)
            want_ops = Counter(value(o) for o in ops)
            want_findings = Counter(value(o) for o, _ in hits)
            for v, n in want_ops.items():
                assert got[(v,)]["operations"] == n, (key, v)
                assert got[(v,)]["findings"] == want_findings.get(v, 0), (key, v)
                assert got[(v,)]["per_1000"] == pytest.approx(
                    1000 * want_findings.get(v, 0) / n)
            if key == "channel":  # every channel of the pack has a row, used or not
                assert set(got) == {("third",), ("eu",), ("any_transfer",), ("lookup",),
                                    ("other",)}
            else:
                assert set(got) == {(v,) for v in want_ops}
        doc = compute(ws, IndicatorQuery(by=("rule",))).to_json()
        got = rows_by(doc, "rule")
        assert set(got) == {("R-NOJ",), ("R-XFER",)}
        for rule in ("R-NOJ", "R-XFER"):
            n = sum(1 for _, r in hits if r == rule)
            # A rule is measured against every operation in scope.
            assert got[(rule,)]["operations"] == len(ops)
            assert got[(rule,)]["findings"] == n
        doc = compute(ws, IndicatorQuery(by=("severity",))).to_json()
        got = rows_by(doc, "severity")
        assert [r["group"]["severity"] for r in doc["rows"]] == ["critical", "high",
                                                                   "medium", "low"]
        for sev in ("critical", "high", "medium", "low"):
            assert got[(sev,)]["findings"] == sum(1 for _, r in hits if SEVERITY[r] == sev)
        doc = compute(ws, IndicatorQuery(by=("month",))).to_json()
        months = Counter(o["ts"][:7] for o in ops)  # all well inside their months
        got = rows_by(doc, "month")
        # Every month from the first to the last, March (nothing) included.
        assert [r["group"]["month"] for r in doc["rows"]] == [
            "2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
        for m in ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05"):
            assert got[(m,)]["operations"] == months.get(m, 0)
            assert got[(m,)]["findings"] == sum(1 for o, _ in hits if o["ts"][:7] == m)
        doc = compute(ws, IndicatorQuery(by=("quarter", "agency"))).to_json()
        got = rows_by(doc, "quarter", "agency")
        assert set(got) == {("2025-Q1", "DE-A"), ("2025-Q2", "FR-B")}
        assert got[("2025-Q1", "DE-A")]["operations"] == 7
        assert got[("2025-Q2", "FR-B")]["findings"] == 2
        total = doc["total"]
        assert (total["operations"], total["findings"]) == (len(ops), len(hits))


def test_rows_split_by_agency_and_rule_add_up(ws_one_run: Path) -> None:
    with Workspace.open(ws_one_run, VIEWER, VIEWER_PW) as ws:
        doc = compute(ws, IndicatorQuery(by=("agency", "rule"))).to_json()
    got = rows_by(doc, "agency", "rule")
    assert got[("DE-A", "R-NOJ")]["findings"] == 3
    assert got[("DE-A", "R-XFER")]["findings"] == 1
    assert got[("FR-B", "R-NOJ")]["findings"] == 1
    assert got[("FR-B", "R-XFER")]["findings"] == 1
    assert got[("DE-A", "R-NOJ")]["operations"] == 7  # the agency's operations
    assert sum(r["findings"] for r in doc["rows"]) == doc["total"]["findings"] == 6


def test_decisions_make_the_confirmed_rate(ws_one_run: Path) -> None:
    with Workspace.open(ws_one_run, INSPECTOR, INSPECTOR_PW) as ws:
        noj = ids_of(ws, "R-NOJ", {"A1", "A2", "A3"})
        triage.mark(ws, noj[:2], "confirmed", note="no reason recorded")
        triage.mark(ws, noj[2:], "dismissed", reason="data_error", note="reason on paper")
        triage.mark(ws, ids_of(ws, "R-XFER", {"A5"}), "in_review")
        doc = compute(ws, IndicatorQuery(by=("agency",))).to_json()
        confirmed_only = compute(ws, IndicatorQuery(by=("agency",), status="confirmed"))
    row = rows_by(doc, "agency")[("DE-A",)]
    assert (row["findings"], row["confirmed"], row["dismissed"], row["open"],
            row["decided"]) == (4, 2, 1, 1, 3)
    assert row["confirmed_rate"] == pytest.approx(2 / 3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_by_quadratic(2, 3),
                                                            abs=1e-6)
    other = rows_by(doc, "agency")[("FR-B",)]
    assert other["decided"] == 0
    assert other["confirmed_rate"] is other["ci_low"] is other["ci_high"] is None
    # --status confirmed: findings and per_1000 count only the confirmed ones.
    row_c = rows_by(confirmed_only.to_json(), "agency")[("DE-A",)]
    assert row_c["findings"] == 2 and row_c["per_1000"] == pytest.approx(2000 / 7)
    assert row_c["confirmed_rate"] == row["confirmed_rate"]
    # Click-through: the cells name exactly their findings.
    de = next(r for r in confirmed_only.rows if r.group["agency"] == "DE-A")
    assert de.finding_ids("confirmed") == sorted(noj[:2])
    assert de.finding_ids("dismissed") == noj[2:]
    assert len(de.finding_ids("open", "any")) == 1


def test_json_rows_have_exactly_the_named_keys(ws_one_run: Path) -> None:
    doc = run_cli(ws_one_run, "indicators", "--by", "agency", "--by", "month", "--json")
    keys = {"group", "operations", "findings", "confirmed", "dismissed", "open", "per_1000",
            "decided", "confirmed_rate", "ci_low", "ci_high"}
    assert doc["rows"] and all(set(r) == keys for r in doc["rows"])
    assert all(set(r["group"]) == {"agency", "month"} for r in doc["rows"])
    assert doc["runs"] == [1] and doc["latest_run"] == 1
    assert doc["filters"] == {"from": None, "to": None, "status": "any"}
    assert doc["timezone"] == "UTC" and doc["pack"]["id"] == "ind-test"
    with_change = run_cli(ws_one_run, "indicators", "--by", "agency", "--compare-to",
                          "2025-01", "--json")
    assert all(set(r) == keys | {"change"} for r in with_change["rows"])


# -- periods and the workspace timezone -----------------------------------------------------

# Around midnight of the last day of a month, in Europe/Berlin (UTC+1 in winter, +2 in
# summer): the local month of each instant is written next to it.
BOUNDARY = [
    op("T1", "2025-01-31T22:59:59.999999+00:00", "search", "X"),  # Berlin: 23:59:59 Jan 31
    op("T2", "2025-01-31T23:00:00+00:00", "search", "X"),  # Berlin: 00:00 Feb 1
    op("T3", "2025-01-31T23:30:00+00:00", "search", "X"),  # Berlin: 00:30 Feb 1
    op("T4", "2025-03-31T21:59:59+00:00", "search", "X"),  # Berlin (CEST): 23:59:59 Mar 31
    op("T5", "2025-03-31T22:00:00+00:00", "search", "X"),  # Berlin (CEST): 00:00 Apr 1
    op("T6", "2025-03-01T00:30:00+01:00", "search", "X"),  # Berlin: Mar 1; UTC: Feb 28
]


def test_months_follow_the_workspace_timezone(ws_path: Path, tmp_path: Path) -> None:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "b.csv", csv_of(BOUNDARY)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        utc = rows_by(compute(ws, IndicatorQuery(by=("month",))).to_json(), "month")
        assert {k[0]: v["operations"] for k, v in utc.items()} == {
            "2025-01": 3, "2025-02": 1, "2025-03": 2}
        assert workspace_timezone(ws) == "UTC"
        set_timezone(ws, "Europe/Berlin")
        event = ws.conn.execute("SELECT payload FROM audit_events WHERE action ="
                                " 'settings.timezone'").fetchone()
        assert json.loads(event[0]) == {"from": None, "to": "Europe/Berlin"}
        berlin = rows_by(compute(ws, IndicatorQuery(by=("month",))).to_json(), "month")
        assert {k[0]: v["operations"] for k, v in berlin.items()} == {
            "2025-01": 1, "2025-02": 2, "2025-03": 2, "2025-04": 1}
        quarters = rows_by(compute(ws, IndicatorQuery(by=("quarter",))).to_json(),
                           "quarter")
        assert {k[0]: v["operations"] for k, v in quarters.items()} == {
            "2025-Q1": 5, "2025-Q2": 1}
        # --from/--to are local days too: February in Berlin holds T2 and T3 only.
        feb = compute(ws, IndicatorQuery(date_from=date(2025, 2, 1),
                                         date_to=date(2025, 2, 28))).to_json()
        assert feb["total"]["operations"] == 2
        march = compute(ws, IndicatorQuery(date_from=date(2025, 3, 31),
                                           date_to=date(2025, 3, 31))).to_json()
        assert march["total"]["operations"] == 1  # T4, not T5
        assert march["filters"]["from"] == "2025-03-31" and march["timezone"] == "Europe/Berlin"


def test_only_an_admin_sets_a_real_timezone(ws_path: Path) -> None:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws, \
            pytest.raises(PermissionDenied):
        set_timezone(ws, "Europe/Paris")
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        for bad in ("Europe", "", "../../etc/passwd", "utc", "Mars/Olympus", "a\x00b",
                    "x" * 300):
            with pytest.raises(UsageError):
                set_timezone(ws, bad)
        assert workspace_timezone(ws) == "UTC"
        assert ws.conn.execute("SELECT count(*) FROM audit_events WHERE action ="
                               " 'settings.timezone'").fetchone()[0] == 0


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2025-01-01..2025-12-31", date(2025, 1, 1), date(2025, 12, 31)),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    ("2025-12", date(2025, 12, 1), date(2025, 12, 31)),
    ("2025-Q1", date(2025, 1, 1), date(2025, 3, 31)),
    ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31)),
    ("2025-01-15..2025-02-15", date(2025, 1, 15), date(2025, 2, 15)),
])
def test_periods(text: str, first: date, last: date) -> None:
    p = parse_period(text)
    assert (p.first, p.last) == (first, last)


@pytest.mark.parametrize(("text", "sentence"), [
    ("2025-02-30..2025-03-01",
     "The first day of the period '2025-02-30' is not a date such as 2026-03-31."),
    ("2025-03-01..2025-3-9",
     "The last day of the period '2025-3-9' is not a date such as 2026-03-31."),
])
def test_a_period_with_a_wrong_day_names_it(text: str, sentence: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_period(text)
    assert err.value.message == sentence


@given(st.text(max_size=40))
def test_any_period_text_is_a_period_or_one_sentence(text: str) -> None:
    try:
        p = parse_period(text)
    except UsageError as exc:
        assert "\n" not in exc.message
    else:
        assert p.first <= p.last


# -- channels -------------------------------------------------------------------------------


def test_first_matching_channel_wins_and_none_is_other(ws_one_run: Path) -> None:
    """A5 (to the US) meets both `third` and `any_transfer`: `third` comes first. A7
    (no country) meets only `any_transfer`; B3 (a search) none: `other`."""
    with Workspace.open(ws_one_run, VIEWER, VIEWER_PW) as ws:
        doc = compute(ws, IndicatorQuery(by=("channel",))).to_json()
    got = {r["group"]["channel"]: r["operations"] for r in doc["rows"]}
    assert got == {"third": 2, "eu": 1, "any_transfer": 1, "lookup": 6, "other": 1}
    assert [r["group"]["channel"] for r in doc["rows"]] == ["third", "eu", "any_transfer",
                                                             "lookup", "other"]


def test_channel_order_is_the_packs(ws_path: Path, tmp_path: Path) -> None:
    """With `any_transfer` first, it claims every transfer."""
    reordered = PACK.replace("""  - id: any_transfer
    when: action = "transfer"
""", "").replace("channels:\n", 'channels:\n  - id: any_transfer\n'
                 '    when: action = "transfer"\n')
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "o.csv", csv_of(BATCH_1)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(reordered, "pack.yaml"))
        doc = compute(ws, IndicatorQuery(by=("channel",))).to_json()
    got = {r["group"]["channel"]: r["operations"] for r in doc["rows"]}
    assert got == {"any_transfer": 4, "third": 0, "eu": 0, "lookup": 6, "other": 1}


def test_a_pack_without_channels_puts_everything_in_other(ws_path: Path,
                                                          tmp_path: Path) -> None:
    plain = PACK.split("channels:")[0] + "rules:" + PACK.split("rules:")[1]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "o.csv", csv_of(BATCH_1)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(plain, "pack.yaml"))
        doc = compute(ws, IndicatorQuery(by=("channel",))).to_json()
    assert [(r["group"]["channel"], r["operations"]) for r in doc["rows"]] == [
        ("other", len(BATCH_1))]


@pytest.mark.parametrize(("channels", "message"), [
    ('  - id: other\n    when: action = "x"\n', "'other' is the channel"),
    ('  - id: a\n    when: action = "x"\n  - id: a\n    when: action = "y"\n',
     "duplicate channel id"),
    ('  - id: a\n    when: authorisation.found\n', "reads the operation's own fields"),
    ('  - id: a\n    when: case.found and action = "x"\n', "not case."),
    ('  - id: a\n    when: actoin = "x"\n', "actoin"),
    ('  - id: Bad-Id\n    when: action = "x"\n', "channel id 'Bad-Id'"),
    ("  - id: a\n", "when: must be a condition"),
    ('  - id: a\n    when: action = "x"\n    colour: red\n', "unknown key 'colour'"),
    ("  - just text\n", "each channel is a mapping"),
])
def test_bad_channels_are_refused_with_their_line(channels: str, message: str) -> None:
    text = PACK.split("channels:")[0] + "channels:\n" + channels + "rules:" + \
        PACK.split("rules:")[1]
    with pytest.raises(ValidationError) as err:
        parse_pack(text, "pack.yaml")
    issues = [str(i) for i in err.value.issues]
    assert any(message in i and "pack.yaml:" in i for i in issues), issues


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_channel_condition_is_a_channel_or_an_issue(when: str) -> None:
    text = (PACK.split("channels:")[0] + "channels:\n  - id: c\n    when: "
            + json.dumps(when) + "\nrules:" + PACK.split("rules:")[1])
    try:
        pack = parse_pack(text, "pack.yaml")
    except ValidationError as exc:
        assert exc.issues
    else:
        assert [c.id for c in pack.channels] == ["c"]


def test_led_baseline_ships_its_channels() -> None:
    from oversight.criteria.pack import default_pack

    assert [c.id for c in default_pack().channels] == [
        "interpol_notice", "eaw", "third_country_transfer", "eu_transfer", "domestic_access",
        "intrusive_measure"]


# -- comparisons ----------------------------------------------------------------------------


def test_compare_to_an_earlier_run_with_a_planted_change(ws_one_run: Path,
                                                         tmp_path: Path) -> None:
    """Run 1 over batch 1; batch 2 adds three more findings for FR-B; run 2. FR-B's
    findings go from 2 to 5 against 7 operations instead of 4; DE-A does not change."""
    with Workspace.open(ws_one_run, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "ops2.csv", csv_of(BATCH_2)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        # FR-B: the two earlier findings dismissed, the three new ones confirmed.
        old = ids_of(ws, "R-NOJ", {"B1"}) + ids_of(ws, "R-XFER", {"B4"})
        new = ids_of(ws, "R-NOJ", {"C1", "C2"}) + ids_of(ws, "R-XFER", {"C3"})
        triage.mark(ws, old, "dismissed", reason="justified", note="ok")
        triage.mark(ws, new, "confirmed", note="breach")
        doc = compute(ws, IndicatorQuery(by=("agency",), compare_to="1")).to_json()
    assert doc["compare_to"]["kind"] == "run" and doc["compare_to"]["run_id"] == 1
    assert doc["runs"] == [2]
    fr = rows_by(doc, "agency")[("FR-B",)]
    assert (fr["operations"], fr["findings"], fr["confirmed"], fr["dismissed"]) == (7, 5, 3, 2)
    change = fr["change"]
    assert change["baseline"]["operations"] == 4 and change["baseline"]["findings"] == 2
    assert change["findings"] == 3 and change["operations"] == 3
    assert change["per_1000"] == pytest.approx(5000 / 7 - 2000 / 4, abs=1e-5)
    assert change["per_1000_sign"] == "+"
    # Then 0 of 2 decided confirmed, now 3 of 5: the rate went up ...
    assert change["baseline"]["confirmed_rate"] == 0
    assert change["confirmed_rate"] == pytest.approx(0.6)
    assert change["confirmed_rate_sign"] == "+"
    low0, high0 = wilson_by_quadratic(0, 2)
    low1, high1 = wilson_by_quadratic(3, 5)
    # ... but the intervals overlap: with so few decisions it is not a clear change.
    assert change["intervals_overlap"] is (low1 <= high0 and low0 <= high1) is True
    de = rows_by(doc, "agency")[("DE-A",)]
    assert de["change"]["findings"] == 0 and de["change"]["per_1000_sign"] == "0"


def test_intervals_that_do_not_overlap(ws_path: Path, tmp_path: Path) -> None:
    """Ten findings dismissed at run 1; twenty more, all confirmed, by run 2: 0 of 10
    against 20 of 30 decided."""
    first = [op(f"P{i}", f"2025-03-{i + 1:02d}T10:00:00+00:00", "consult", "XX", why="")
             for i in range(10)]
    second = [op(f"Q{i}", f"2025-04-{i + 1:02d}T10:00:00+00:00", "consult", "XX", why="")
              for i in range(20)]
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        import_file(ws, write(tmp_path / "p.csv", csv_of(first)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        triage.mark(ws, [f["id"] for f in list_findings(ws)], "dismissed",
                    reason="false_positive", note="fine")
        import_file(ws, write(tmp_path / "q.csv", csv_of(second)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        triage.mark(ws, [f["id"] for f in list_findings(ws, FindingFilters(status="open"))],
                    "confirmed", note="breach")
        doc = compute(ws, IndicatorQuery(compare_to="1")).to_json()
    change = doc["total"]["change"]
    assert change["baseline"]["decided"] == 10 and doc["total"]["decided"] == 30
    assert change["intervals_overlap"] is False
    assert wilson_by_quadratic(20, 30)[0] > wilson_by_quadratic(0, 10)[1]


def test_compare_to_a_period(ws_one_run: Path) -> None:
    """The first quarter (DE-A: 7 operations, 4 findings) against the second (FR-B)."""
    with Workspace.open(ws_one_run, VIEWER, VIEWER_PW) as ws:
        doc = compute(ws, IndicatorQuery(by=("agency",), date_from=date(2025, 4, 1),
                                         date_to=date(2025, 6, 30),
                                         compare_to="2025-Q1")).to_json()
        with pytest.raises(UsageError, match="group without --by month"):
            compute(ws, IndicatorQuery(by=("month",), compare_to="2025-Q1"))
        with pytest.raises(UsageError, match="no detection run 9;"):
            compute(ws, IndicatorQuery(compare_to="9"))
        # A bare year would read as a run: the sentence says how to write the year.
        with pytest.raises(UsageError, match=r"compare with 2025-01-01\.\.2025-12-31"):
            compute(ws, IndicatorQuery(compare_to="2025"))
        with pytest.raises(UsageError, match="is not a period"):
            parse_period("2025")
        with pytest.raises(UsageError, match="latest run"):
            compute(ws, IndicatorQuery(compare_to="1"))
    assert doc["compare_to"] == {"kind": "period", "from": "2025-01-01", "to": "2025-03-31",
                                 "left_out": {"outside_period": 2}}
    rows = rows_by(doc, "agency")
    assert rows[("FR-B",)]["operations"] == 4 and rows[("FR-B",)]["change"]["operations"] == 4
    assert rows[("DE-A",)]["operations"] == 0  # only in the baseline
    assert rows[("DE-A",)]["change"]["baseline"]["findings"] == 4
    assert rows[("DE-A",)]["change"]["findings"] == -4
    assert doc["left_out"]["outside_period"] == 4


@pytest.mark.parametrize("text", ["²", "١", "1²", "½", "-1", "+1", "1e3", "0x1", "1.0"])
def test_compare_to_what_is_neither_a_run_nor_a_period_is_one_sentence(
        ws_one_run: Path, text: str) -> None:
    """Only ASCII digits name a run: "²" passes str.isdigit() but int() refuses it (it
    was a traceback), and "١" (Arabic-Indic one) would have read as run 1."""
    result = run_cli(ws_one_run, "indicators", "--compare-to", text, code=2)
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "is not a period" in result.stderr


def test_compare_with_a_run_from_before_runs_were_recorded(ws_one_run: Path,
                                                           tmp_path: Path) -> None:
    with Workspace.open(ws_one_run, ADMIN, ADMIN_PW) as ws:
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        with ws.write() as conn:  # as if the workspace was upgraded after run 1
            conn.execute("UPDATE workspace_meta SET value = '2' WHERE key ="
                         " 'run_findings_from'")
        with pytest.raises(UsageError, match="before this workspace recorded"):
            compute(ws, IndicatorQuery(compare_to="1"))


# -- what is left out -----------------------------------------------------------------------


def test_retracted_and_stale_findings_are_left_out_and_counted(ws_one_run: Path,
                                                               tmp_path: Path) -> None:
    with Workspace.open(ws_one_run, ADMIN, ADMIN_PW) as ws:
        b2 = import_file(ws, write(tmp_path / "ops2.csv", csv_of(BATCH_2)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        before = compute(ws, IndicatorQuery(by=("agency",))).to_json()
        retract_batch(ws, int(b2.batch_id or 0), "wrong force's file")
        after = compute(ws, IndicatorQuery(by=("agency",))).to_json()
        # Then a pack without R-XFER: its findings no longer match.
        only_noj = PACK.split("  - id: R-XFER")[0]
        run_detection(ws, parse_pack(only_noj, "pack.yaml"))
        stale = compute(ws, IndicatorQuery()).to_json()
        # Compared with run 2, batch 2 is gone from the baseline too.
        back = compute(ws, IndicatorQuery(compare_to="2")).to_json()
    assert rows_by(before, "agency")[("FR-B",)]["findings"] == 5
    fr = rows_by(after, "agency")[("FR-B",)]
    assert (fr["operations"], fr["findings"]) == (4, 2)
    assert after["left_out"]["source_retracted"] == 3
    assert stale["left_out"]["no_longer_matching"] == 2  # A5 and B4's R-XFER findings
    assert stale["total"]["findings"] == 4  # A1-A3, B1
    assert back["total"]["change"]["baseline"]["operations"] == len(BATCH_1)
    assert back["compare_to"]["left_out"]["source_retracted"] == 3


def test_findings_of_another_pack_are_left_out(ws_one_run: Path) -> None:
    from oversight.criteria.pack import default_pack

    with Workspace.open(ws_one_run, ADMIN, ADMIN_PW) as ws:
        run_detection(ws, default_pack())
        doc = compute(ws, IndicatorQuery()).to_json()
    assert doc["pack"]["id"] == "led-baseline"
    assert doc["left_out"]["other_packs"] == 6


def test_no_run_yet_is_one_sentence(ws_path: Path) -> None:
    with Workspace.open(ws_path, VIEWER, VIEWER_PW) as ws, \
            pytest.raises(UsageError, match="no detection run"):
        compute(ws, IndicatorQuery())


def test_compute_many_shares_one_scan_and_agrees(ws_one_run: Path) -> None:
    with Workspace.open(ws_one_run, VIEWER, VIEWER_PW) as ws:
        many = compute_many(ws, IndicatorQuery(), [("agency",), ("channel",), ("month",)])
        for by, result in many.items():
            alone = compute(ws, IndicatorQuery(by=by)).to_json()
            assert result.to_json() == alone


# -- the CLI --------------------------------------------------------------------------------


def run_cli(ws: Path, *args: str, code: int = 0, user: str = VIEWER,
            password: str = VIEWER_PW) -> Any:
    result = CliRunner().invoke(main, [args[0], str(ws), *args[1:]],
                                env={"OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": password})
    assert result.exit_code == code, result.output
    if "--json" in args and code == 0:
        return json.loads(result.stdout)
    return result


def test_cli_table_csv_and_errors(ws_one_run: Path) -> None:
    table = run_cli(ws_one_run, "indicators", "--by", "channel").stdout
    assert "third" in table and "per 1,000" in table and "(all)" in table
    text = run_cli(ws_one_run, "indicators", "--by", "agency", "--csv").stdout
    lines = text.splitlines()
    assert lines[0] == ("agency,operations,findings,confirmed,dismissed,open,per_1000,"
                        "decided,confirmed_rate,ci_low,ci_high")
    assert lines[1].startswith("DE-A,7,4,0,0,4,")
    for args in (["--from", "2025-13-01"], ["--from", "2025-02-01", "--to", "2025-01-01"],
                 ["--compare-to", "next year"], ["--json", "--csv"]):
        result = run_cli(ws_one_run, "indicators", *args, code=2)
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert run_cli(ws_one_run, "timezone", "Europe/Berlin", code=2).stderr.startswith(
        "error: User")  # a viewer may not
    shown = run_cli(ws_one_run, "timezone", "Europe/Berlin", user=ADMIN, password=ADMIN_PW)
    assert "Europe/Berlin" in shown.stdout


def test_the_index_path_agrees_with_the_full_scan(ws_path: Path, tmp_path: Path) -> None:
    """By agency and month the operations are counted from the index alone; with a
    channel too, from a scan of the rows. Both must give the same numbers, with blank
    agencies, times missing, local months, a period and a retracted batch."""
    odd = [op("Z1", "", "search", "DE-A"), op("Z2", "2025-02-28T23:30:00+00:00", "search", ""),
           op("Z3", "2025-03-31T22:30:00+00:00", "consult", " ", why="")]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "1.csv", csv_of(BATCH_1 + odd)), Kind.OPERATIONS)
        b2 = import_file(ws, write(tmp_path / "2.csv", csv_of(BATCH_2)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        set_timezone(ws, "Europe/Berlin")
        for retract in (False, True):
            if retract:
                retract_batch(ws, int(b2.batch_id or 0), "wrong file")
            for query in (IndicatorQuery(), IndicatorQuery(date_from=date(2025, 2, 1),
                                                           date_to=date(2025, 4, 30))):
                for by in (("agency", "month"), ("agency",), ("month",), ()):
                    fast = compute(ws, replace_by(query, by)).to_json()
                    full = compute_many(ws, query, [by, (*by, "channel")])
                    slow = full[(*by, "channel")].to_json()
                    summed: Counter[tuple[Any, ...]] = Counter()
                    for r in slow["rows"]:
                        summed[tuple(r["group"][k] for k in by)] += r["findings"]
                    ops_fast = {tuple(r["group"][k] for k in by): r["operations"]
                                for r in fast["rows"]}
                    ops_slow: Counter[tuple[Any, ...]] = Counter()
                    for r in slow["rows"]:
                        ops_slow[tuple(r["group"][k] for k in by)] += r["operations"]
                    assert {k: v for k, v in ops_fast.items() if v} == \
                        {k: v for k, v in ops_slow.items() if v}, (retract, query, by)
                    assert fast["total"] == full[by].to_json()["total"]
                    assert {tuple(r["group"][k] for k in by): r["findings"]
                            for r in fast["rows"] if r["findings"]} == \
                        {k: v for k, v in summed.items() if v}
        doc = compute(ws, IndicatorQuery(by=("agency", "month"))).to_json()
    rows = rows_by(doc, "agency", "month")
    assert rows[("DE-A", None)]["operations"] == 1  # Z1 has no time
    assert rows[(None, "2025-03")]["operations"] == 1  # Z2: March 1 in Berlin
    assert rows[(None, "2025-04")]["operations"] == 1  # Z3: April 1 in Berlin


def replace_by(query: IndicatorQuery, by: tuple[str, ...]) -> IndicatorQuery:
    from dataclasses import replace

    return replace(query, by=by)


# -- CSV ------------------------------------------------------------------------------------


def test_csv_keeps_numbers_and_neutralises_names(ws_path: Path, tmp_path: Path) -> None:
    ops = [op("H1", "2025-01-10T09:00:00+00:00", "consult", "=HYPERLINK(1)", why=""),
           op("H2", "2025-04-10T09:00:00+00:00", "search", "+SUM(2)")]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "h.csv", csv_of(ops)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        result = compute(ws, IndicatorQuery(by=("agency",), date_from=date(2025, 4, 1),
                                            compare_to="2025-Q1"))
        result.write_csv(tmp_path / "out.csv")
    import csv as csvmod
    import io

    raw = (tmp_path / "out.csv").read_bytes().decode("utf-8")
    assert raw.startswith("\ufeff") and (tmp_path / "out.csv").stat().st_mode & 0o077 == 0
    rows = list(csvmod.DictReader(io.StringIO(raw[1:])))
    by_agency = {r["agency"]: r for r in rows}
    assert set(by_agency) == {"'=HYPERLINK(1)", "'+SUM(2)"}
    gone = by_agency["'=HYPERLINK(1)"]
    assert gone["operations"] == "0" and gone["baseline_operations"] == "1"
    assert gone["change_operations"] == "-1" and gone["change_findings"] == "-1"
    assert gone["change_per_1000_sign"] == "" and gone["change_intervals_overlap"] == ""
    new = by_agency["'+SUM(2)"]
    assert new["per_1000"] == "0.0" and new["confirmed_rate"] == ""


# -- the report -----------------------------------------------------------------------------


def test_the_full_report_has_an_indicators_section(ws_one_run: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from pypdf import PdfReader
    from tools import require

    from oversight.indicators import REPORT_GROUPINGS
    from oversight.report import build
    from oversight.report.build import MANIFEST_NAME, Template, build_pdf, load_template
    from oversight.report.data import ReportScope, collect, manifest

    with Workspace.open(ws_one_run, INSPECTOR, INSPECTOR_PW) as ws:
        triage.mark(ws, ids_of(ws, "R-NOJ", {"A1"}), "confirmed", note="breach")
    with Workspace.open(ws_one_run, ADMIN, ADMIN_PW) as ws:
        data = collect(ws, ReportScope(period_from="2025-01-01", period_to="2025-03-31"))
        want = compute_many(ws, IndicatorQuery(date_from=date(2025, 1, 1),
                                               date_to=date(2025, 3, 31)), REPORT_GROUPINGS)
    assert data.indicators is not None
    for by in REPORT_GROUPINGS:
        doc = want[by].to_json()
        assert data.indicators["tables"][by[0]] == {"rows": doc["rows"],
                                                     "total": doc["total"]}
    assert data.indicators["filters"] == {"from": "2025-01-01", "to": "2025-03-31",
                                          "status": "any"}
    assert data.indicators["runs"] == [1]
    built = build_pdf(data, "full")
    embedded = json.loads(PdfReader(io.BytesIO(built.pdf)).attachments[MANIFEST_NAME][0])
    assert embedded["indicators"] == manifest(data)["indicators"]
    assert embedded["indicators"]["tables"]["agency"]["rows"][0]["group"] == {"agency": "DE-A"}
    path = tmp_path / "full.pdf"
    path.write_bytes(built.pdf)
    import subprocess

    text = subprocess.run([require("pdftotext"), "-enc", "UTF-8", str(path), "-"],
                          capture_output=True, check=True, text=True).stdout
    flat = " ".join(text.split())
    assert "Indicators" in flat and "By agency" in flat and "By channel" in flat
    assert "Findings of criteria pack ind-test 1 that still match (detection runs 1)" in flat
    assert "operations: 2025-01-01 to 2025-03-31" in flat
    assert "DE-A 7 4 1 0 3 571.43 1 100.0% (20.7%–100.0%)" in flat  # 4 of 7, 1 decided

    # The template parameter leaves the section out; the manifest is the same.
    full = load_template("full")
    off = Template("full", {**full.settings, "indicators": {**full.settings["indicators"],
                                                             "include": False}})
    monkeypatch.setattr(build, "load_template", lambda name: off)
    without = build_pdf(data, "full")
    assert without.manifest_digest == built.manifest_digest
    assert without.pages < built.pages
    outline = [i.title for i in PdfReader(io.BytesIO(without.pdf)).outline
               if not isinstance(i, list)]
    assert "Indicators" not in outline
    assert "Indicators" in [i.title for i in PdfReader(io.BytesIO(built.pdf)).outline
                            if not isinstance(i, list)]


def test_a_report_of_confirmed_findings_counts_confirmed(ws_one_run: Path) -> None:
    from oversight.report.data import ReportScope, collect

    with Workspace.open(ws_one_run, ADMIN, ADMIN_PW) as ws:
        data = collect(ws, ReportScope(only_confirmed=True))
    assert data.indicators is not None
    assert data.indicators["filters"]["status"] == "confirmed"
    assert data.indicators["tables"]["agency"]["total"]["findings"] == 0


def test_implausible_times_are_in_no_month(ws_path: Path, tmp_path: Path) -> None:
    """An operation whose time is implausible (before 1970, or more than a day after its
    import: DQ-02's findings) is in no month, as one without a time, on both paths (the
    index by agency and month, and the scan); so a placeholder such as 1900-01-01 does
    not stretch the months over a century."""
    far = [op("F1", "1969-12-31T22:30:00+00:00", "consult", "X", why=""),  # before 1970
           op("F2", "1970-01-01T00:30:00+00:00", "consult", "X", why=""),  # Berlin 1970-01
           op("F3", "2100-01-01T00:30:00+01:00", "consult", "X", why="")]  # the future
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, write(tmp_path / "far.csv", csv_of(far)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        set_timezone(ws, "Europe/Berlin")
        fast = compute(ws, IndicatorQuery(by=("month",))).to_json()
        slow = compute(ws, IndicatorQuery(by=("month", "channel"))).to_json()
    months = {r["group"]["month"]: (r["operations"], r["findings"]) for r in fast["rows"]
              if r["operations"]}
    assert months == {None: (2, 2), "1970-01": (1, 1)}
    scanned: Counter[Any] = Counter()
    for r in slow["rows"]:
        if r["operations"]:
            scanned[r["group"]["month"]] += r["operations"]
    assert scanned == {None: 2, "1970-01": 1}
    assert len(fast["rows"]) == 2  # no empty months between 1969 and 2100


def test_a_time_is_judged_against_its_own_batchs_import(ws_path: Path,
                                                        tmp_path: Path) -> None:
    """Batch A is dated back to 2025-06-01 (its times are plausible up to 2025-06-02),
    batch B is imported now. A time after A's limit is in a month only in B; a batch
    whose import time is unreadable has no plausible time at all, on both paths (the
    index by month, and the scan by month and channel)."""
    from datetime import UTC, datetime, timedelta

    soon = datetime.now(UTC) + timedelta(hours=12)
    month_soon = soon.strftime("%Y-%m")
    a = [op("E1", "2025-01-10T09:00:00+00:00", "search", "X"),
         op("E2", soon.isoformat(), "search", "X")]
    b = [op("L1", soon.isoformat(), "search", "X"),
         op("L2", "2025-02-10T09:00:00+00:00", "search", "X")]

    def months(ws: Workspace) -> list[dict[Any, int]]:
        out = []
        for by in (("month",), ("month", "channel")):
            got: Counter[Any] = Counter()
            for r in compute(ws, IndicatorQuery(by=by)).to_json()["rows"]:
                if r["operations"]:
                    got[r["group"]["month"]] += r["operations"]
            out.append(dict(got))
        return out

    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        batch_a = import_file(ws, write(tmp_path / "a.csv", csv_of(a)), Kind.OPERATIONS)
        batch_b = import_file(ws, write(tmp_path / "b.csv", csv_of(b)), Kind.OPERATIONS)
        run_detection(ws, parse_pack(PACK, "pack.yaml"))
        assert months(ws) == [{"2025-01": 1, "2025-02": 1, month_soon: 2}] * 2
        with ws.write() as conn:  # as if batch A had been imported on 2025-06-01
            conn.execute("UPDATE batches SET imported_at = '2025-06-01T00:00:00+00:00'"
                         " WHERE batch_id = ?", (batch_a.batch_id,))
        assert months(ws) == [{"2025-01": 1, "2025-02": 1, month_soon: 1, None: 1}] * 2
        with ws.write() as conn:  # B's import time unreadable: none of its times counts
            conn.execute("UPDATE batches SET imported_at = 'unreadable' WHERE batch_id = ?",
                         (batch_b.batch_id,))
        assert months(ws) == [{"2025-01": 1, None: 3}] * 2


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False),
       st.integers(min_value=0, max_value=3), st.booleans())
def test_a_rate_that_is_not_zero_is_never_written_as_zero(value: float, decimals: int,
                                                          negative: bool) -> None:
    """Two findings among 50,000 operations are 0.04 per 1,000; written to one place
    they would read "0.0", as if the rule had found nothing."""
    value = -value if negative else value
    text = rate_text(value, decimals)
    shown = float(text.replace(",", ""))
    assert shown != 0 and (shown < 0) == negative, text
    places = len(text.partition(".")[2])
    assert places >= decimals
    assert abs(shown - value) <= 0.5 * 10 ** -places + 1e-9 * abs(value), text
    if abs(value) >= 10 ** -decimals:  # already shows a digit: the usual places
        assert places == decimals, text
    assert rate_text(value, decimals, sign=True)[0] == ("-" if negative else "+")


def test_shares_and_zero() -> None:
    assert rate_text(0.0) == "0.00" and rate_text(0.0, 1) == "0.0"
    assert percent_text(None) == ""
    assert percent_text(1 / 5000) == "0.02%"  # one confirmed among 5,000 decided
    assert percent_text(0.5) == "50.0%"
    # A change of the confirmed rate, in percentage points: 3 of 10 to 1 of 3 decided.
    assert points_text(1 / 3 - 3 / 10) == "+3.3 pts"
    assert points_text(-1 / 5000) == "-0.02 pts"  # small, and not "-0.0 pts"
    assert points_text(0.0) == "+0.0 pts"
