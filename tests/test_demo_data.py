"""Tests for the synthetic demo data generator (oversight.demo_data).

The rule checks below are a small reference evaluator written from the criteria table, not
from the generator: its vocabularies and thresholds are spelled out here on purpose.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from statistics import median

import pytest

from oversight.demo_data import DemoFiles, Planted, generate

# ---------------------------------------------------------------------------------------
# Independent vocabularies and parameters (from the criteria table)
# ---------------------------------------------------------------------------------------

OPERATION_HEADER = [
    "record_id", "ts", "action", "actor_id", "actor_role", "agency", "case_id", "subject_ids",
    "authorisation_id", "legal_basis", "justification", "urgent", "recipient_id",
    "recipient_type", "recipient_country", "transfer_basis", "data_categories",
    "records_count", "offence", "offence_category", "max_penalty_months", "notice_type",
    "notice_purpose", "sentence_months", "remaining_months", "art3_concern", "sequence",
    "terminal", "query_text",
]  # fmt: skip
AUTHORISATION_HEADER = [
    "authorisation_id", "regime", "legal_basis", "issuer_id", "issuer_role", "approver_id",
    "approval", "approved_at", "urgent", "valid_from", "valid_to", "cancelled_at", "case_id",
    "subject_ids", "actions",
]  # fmt: skip
CASE_KEYS = [
    "case_id", "opened_at", "closed_at", "offence", "max_penalty_months", "team",
    "subject_ids", "unit",
]  # fmt: skip
RULES = [
    "LOG-01", "PUR-01", "PUR-02", "PRO-01", "PRO-02", "PRO-03", "PRO-04", "SPC-01", "TRF-01",
    "TRF-02", "TRF-03", "INT-01", "INT-02", "INT-03", "AUT-01", "AUT-02", "AUT-03", "AUT-04",
    "XB-01", "DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05",
]  # fmt: skip
DQ = [r for r in RULES if r.startswith("DQ-")]
# The log-completeness rules, from the issue's table: kinds every log must hold, the daily
# volume from which empty days count, the share of accesses that must fill each field.
REQUIRED_ACTIONS = ["collect", "alter", "consult", "disclose", "transfer", "combine", "erase"]
MIN_DAILY_VOLUME = 20
MIN_FILL = Fraction(95, 100)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACTIONS = {
    "collect", "alter", "consult", "disclose", "transfer", "combine", "erase", "notice_request",
    "eaw_issue", "directed_surveillance", "intrusive_surveillance", "interception",
    "equipment_interference", "search", "arrest",
}  # fmt: skip
LOG_ACTIONS = {"consult", "disclose", "transfer"}  # the issue's log_actions list
INTRUSIVE = {"directed_surveillance", "intrusive_surveillance", "interception",
             "equipment_interference"}
SPECIAL = {"racial_or_ethnic_origin", "political_opinions", "religious_or_philosophical_beliefs",
           "trade_union_membership", "genetic", "biometric", "health", "sex_life_or_orientation"}
CATEGORIES = SPECIAL | {"identity", "address", "criminal_record", "vehicle", "financial"}
LED_AREA = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    "CH",
}  # fmt: skip
EXCLUDED = {"defamation", "insult", "personal_drug_use", "prostitution", "surrogacy",
            "family_matter", "private_dispute", "administrative_violation"}
TRANSFER_BASES = {
    "adequacy", "safeguards_instrument", "safeguards_assessment",
    "derogation_vital_interests", "derogation_data_subject", "derogation_public_security",
    "derogation_individual_case", "derogation_legal_claims",
}  # fmt: skip
RECIPIENT_TYPES = {"competent_authority", "international_organisation", "private_party",
                   "other"}
ISSUER_ROLES = ["inspector", "superintendent", "chief_superintendent",
                "assistant_chief_constable", "chief_constable", "secretary_of_state"]
ALLOWED_ISSUERS = {
    "directed_surveillance": set(ISSUER_ROLES[1:]),
    "intrusive_surveillance": {"chief_constable"},
    "interception": {"secretary_of_state"},
    "equipment_interference": {"secretary_of_state", "chief_constable"},
}
JUDICIAL = {"interception", "intrusive_surveillance", "equipment_interference"}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")

SMALL = 3000


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


@dataclass
class Data:
    files: DemoFiles
    ops: list[dict[str, str]]
    auths: dict[str, dict[str, str]]
    cases: dict[str, dict[str, object]]
    op_header: list[str]
    auth_header: list[str]

    @property
    def by_id(self) -> dict[str, dict[str, str]]:
        return {r["record_id"]: r for r in self.ops}

    def planted_ids(self) -> set[str]:
        return {rid for p in self.files.planted for rid in p.record_ids}

    def boundary_ids(self) -> set[str]:
        return {rid for p in self.files.boundaries for rid in p.record_ids}


def load(files: DemoFiles) -> Data:
    with files.operations.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        op_header = next(reader)
        ops = [dict(zip(op_header, row, strict=True)) for row in reader]
    with files.authorisations.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        auth_header = next(reader)
        auths = {row[0]: dict(zip(auth_header, row, strict=True)) for row in reader}
    cases: dict[str, dict[str, object]] = {}
    with files.cases.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            cases[obj["case_id"]] = obj
    return Data(files, ops, auths, cases, op_header, auth_header)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Data:
    return load(generate(tmp_path_factory.mktemp("demo"), operations=SMALL))


@pytest.fixture(scope="module")
def fired(small: Data) -> dict[str, set[str]]:
    return evaluate(small)


# ---------------------------------------------------------------------------------------
# Reference evaluator of the criteria table
# ---------------------------------------------------------------------------------------


def blank(v: object) -> bool:
    return v is None or str(v).strip() == ""


def split(v: str) -> list[str]:
    return [x.strip() for x in v.split(";") if x.strip()]


def ts(v: str) -> datetime:
    return datetime.fromisoformat(v)


def num(v: object) -> int | None:
    return None if blank(v) else int(str(v))


def after_end(op_ts: datetime, end: str) -> bool:
    """True when op_ts lies after `end` (a date-only end runs through that day)."""
    if DATE_RE.match(end):
        last = date.fromisoformat(end)
        return op_ts >= datetime.combine(last + timedelta(days=1), time(), op_ts.tzinfo)
    return op_ts > ts(end)


def record_rules(r: dict[str, str], auths: dict[str, dict[str, str]],
                 cases: dict[str, dict[str, object]]) -> set[str]:
    """Per-record rules (everything except the aggregate parts of PRO-01 and PRO-02)."""
    out: set[str] = set()
    a = r["action"]
    t = ts(r["ts"]) if r["ts"] else None  # a missing time meets no time condition
    subjects = split(r["subject_ids"])
    cats = set(split(r["data_categories"]))
    country = r["recipient_country"]
    basis = r["transfer_basis"].strip()
    if (a in {"consult", "disclose", "transfer"}
            and (blank(r["actor_id"]) or blank(r["justification"]))) or (
            a in {"disclose", "transfer"} and blank(r["recipient_id"])):
        out.add("LOG-01")
    if a in LOG_ACTIONS and blank(r["case_id"]):
        out.add("PUR-01")
    case = cases.get(r["case_id"].strip())
    if a in LOG_ACTIONS and case is not None:
        team = case["team"]
        assert isinstance(team, list)
        closed = case["closed_at"]
        if r["actor_id"].strip() not in team or (t is not None and (
                t < ts(str(case["opened_at"]))
                or (closed is not None and after_end(t, str(closed))))):
            out.add("PUR-02")
    if a in LOG_ACTIONS and (num(r["records_count"]) or 0) > 1000:
        out.add("PRO-02")
    if (a in LOG_ACTIONS and t is not None and not (time(6) <= t.time() < time(22))
            and r["urgent"] != "true"):
        out.add("PRO-03")
    if a in INTRUSIVE:
        penalty = num(r["max_penalty_months"])
        if penalty is None and case is not None:
            penalty = num(case["max_penalty_months"])
        if penalty is not None and penalty < 36:
            out.add("PRO-04")
    if cats & SPECIAL and (blank(r["justification"]) or blank(r["legal_basis"])):
        out.add("SPC-01")
    if a == "transfer" and country not in LED_AREA:
        if basis == "" or (basis == "adequacy" and country != "GB"):
            out.add("TRF-01")
        if r["recipient_type"] not in {"competent_authority", "international_organisation"}:
            out.add("TRF-02")
    if basis.startswith("derogation_") and len(subjects) > 1:
        out.add("TRF-03")
    if a == "notice_request" and r["notice_type"] == "red":
        purpose = r["notice_purpose"]
        mx, rem = num(r["max_penalty_months"]), num(r["remaining_months"])
        if (purpose == "prosecution" and mx is not None and mx < 24) or (
                purpose == "sentence" and rem is not None and rem < 6):
            out.add("INT-01")
        if r["offence_category"] in EXCLUDED:
            out.add("INT-02")
        if not blank(r["art3_concern"]):
            out.add("INT-03")
    if a == "eaw_issue":
        purpose = r["notice_purpose"]
        mx, sen = num(r["max_penalty_months"]), num(r["sentence_months"])
        if (purpose == "prosecution" and mx is not None and mx < 12) or (
                purpose == "sentence" and sen is not None and sen < 4):
            out.add("XB-01")
    aid = r["authorisation_id"].strip()
    if a in INTRUSIVE and aid == "":
        out.add("AUT-01")
    if aid:
        auth = auths.get(aid)
        if auth is None:
            out.add("AUT-02")
        else:
            if ((t is not None and (t < ts(auth["valid_from"]) or after_end(t, auth["valid_to"])
                    or (auth["cancelled_at"] and t >= ts(auth["cancelled_at"]))))
                    or auth["approval"] == "refused"):
                out.add("AUT-02")
            role_bad = a in ALLOWED_ISSUERS and auth["issuer_role"] not in ALLOWED_ISSUERS[a]
            in_urgent_window = (auth["urgent"] == "true" and t is not None
                                and t - ts(auth["valid_from"]) <= timedelta(days=5))
            judicial_bad = (a in JUDICIAL and auth["approval"] != "approved"
                            and not in_urgent_window)
            if role_bad or judicial_bad:
                out.add("AUT-03")
            acts, subs = split(auth["actions"]), split(auth["subject_ids"])
            if (acts and a not in acts) or (subs and any(s not in subs for s in subjects)):
                out.add("AUT-04")
    return out


def windows(events: list[tuple[datetime, str, str]], span: timedelta,
            too_many: int, distinct: bool) -> set[str]:
    """Record ids in any window of `span` holding more than `too_many` events (or actors)."""
    events = sorted(events)
    hit: set[str] = set()
    i = 0
    for j in range(len(events)):
        while events[j][0] - events[i][0] > span:
            i += 1
        group = events[i:j + 1]
        size = len({e[2] for e in group}) if distinct else len(group)
        if size > too_many:
            hit.update(e[1] for e in group)
    return hit


def evaluate(d: Data) -> dict[str, set[str]]:
    fired: dict[str, set[str]] = {rule: set() for rule in RULES}
    by_pair: dict[tuple[str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
    by_subject: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    by_actor: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for r in d.ops:
        for rule in record_rules(r, d.auths, d.cases):
            fired[rule].add(r["record_id"])
        if not r["ts"]:
            continue  # counted in no window
        t = ts(r["ts"])
        actor = r["actor_id"].strip()
        if r["action"] == "consult":
            for s in split(r["subject_ids"]):
                by_pair[(s, actor)].append((t, r["record_id"], actor))
                by_subject[s].append((t, r["record_id"], actor))
        if r["action"] in LOG_ACTIONS and actor:
            by_actor[actor].append((t, r["record_id"], actor))
    for ev in by_pair.values():
        fired["PRO-01"] |= windows(ev, timedelta(days=30), 10, distinct=False)
    for ev in by_subject.values():
        fired["PRO-01"] |= windows(ev, timedelta(days=7), 5, distinct=True)
    for ev in by_actor.values():
        fired["PRO-02"] |= windows(ev, timedelta(minutes=60), 50, distinct=False)
    log_quality(d.ops, fired)
    return fired


def plausible(t: datetime | None) -> bool:
    """On or after 1970-01-01 and at most one day after now (the import is now)."""
    return t is not None and EPOCH <= t <= datetime.now(UTC) + timedelta(days=1)


def log_quality(ops: list[dict[str, str]], fired: dict[str, set[str]]) -> None:
    """DQ-01..DQ-05 as the issue's table words them. DQ-04 names no record: its entries
    are "agency|action". Gaps cite the records on either side of them."""
    by_agency: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in ops:  # file order is import order
        by_agency[r["agency"].strip() and r["agency"]].append(r)
    for agency, rows in by_agency.items():
        # DQ-01: empty UTC days between the first and last, for a median day >= 20
        days: dict[date, list[tuple[datetime, int, str]]] = defaultdict(list)
        for n, r in enumerate(rows):
            t = ts(r["ts"]) if r["ts"] else None
            if plausible(t):
                assert t is not None
                days[t.astimezone(UTC).date()].append((t, n, r["record_id"]))
        if days and median(len(v) for v in days.values()) >= MIN_DAILY_VOLUME:
            ordered = sorted(days)
            for a, b in itertools.pairwise(ordered):
                if (b - a).days > 1:
                    fired["DQ-01"].add(max(days[a])[2])
                    fired["DQ-01"].add(min(days[b])[2])
        # DQ-03: numbers missing between the lowest and highest sequence number
        numbered = sorted((int(r["sequence"]), n, r["record_id"]) for n, r in enumerate(rows)
                          if r["sequence"].strip())
        for (a, _na, ra), (b, _nb, rb) in itertools.pairwise(numbered):
            if b > a + 1:
                fired["DQ-03"] |= {ra, rb}
        # DQ-04: kinds of operation the agency never logged
        logged = {r["action"] for r in rows}
        fired["DQ-04"] |= {f"{agency}|{k}" for k in REQUIRED_ACTIONS if k not in logged}
        # DQ-05: a mandatory field filled on fewer than 95 % of the accesses
        for kinds, fields in ((LOG_ACTIONS, ("ts", "actor_id", "justification")),
                              ({"disclose", "transfer"}, ("recipient_id",))):
            chosen = [r for r in rows if r["action"] in kinds]
            for f in fields:
                empty = [r["record_id"] for r in chosen if blank(r[f])]
                if chosen and Fraction(len(chosen) - len(empty), len(chosen)) < MIN_FILL:
                    fired["DQ-05"] |= set(empty)
    # DQ-02: implausible times (one finding per batch; the demo is one file)
    fired["DQ-02"] |= {r["record_id"] for r in ops
                       if r["ts"] and not plausible(ts(r["ts"]))}


def bursts(events: list[tuple[datetime, str, str]], span: timedelta, too_many: int) -> int:
    """How many bursts: windows of `span` holding more than `too_many` events, those that
    overlap (share an event) taken as one."""
    events = sorted(events)
    spans: list[tuple[int, int]] = []
    i = 0
    for j in range(len(events)):
        while events[j][0] - events[i][0] > span:
            i += 1
        if j - i + 1 > too_many:
            if spans and i <= spans[-1][1]:
                spans[-1] = (spans[-1][0], j)
            else:
                spans.append((i, j))
    return len(spans)


def expected_counts(d: Data) -> Counter[str]:
    """How many findings each rule gives, counted the way the criteria table words them:
    a record rule one per record; PRO-01 one per person and officer, and one per person,
    with a window over the limit; PRO-02's burst one per burst of an officer; DQ-01 and
    DQ-03 one per gap of an agency, DQ-02 one per batch (the demo is one file), DQ-04 one
    per agency and kind never logged, DQ-05 one per agency and field under the fill rate.
    Written from the table, not from the engine (nor the generator)."""
    counts: Counter[str] = Counter()
    by_pair: dict[tuple[str, str], list[tuple[datetime, str, str]]] = defaultdict(list)
    by_subject: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    by_actor: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
    for r in d.ops:
        for rule in record_rules(r, d.auths, d.cases):
            counts[rule] += 1
        if not r["ts"]:
            continue
        t, actor = ts(r["ts"]), r["actor_id"].strip()
        if r["action"] == "consult" and actor:
            for s in split(r["subject_ids"]):
                by_pair[(s, actor)].append((t, r["record_id"], actor))
                by_subject[s].append((t, r["record_id"], actor))
        if r["action"] in LOG_ACTIONS and actor:
            by_actor[actor].append((t, r["record_id"], actor))
    counts["PRO-01"] += sum(1 for ev in by_pair.values()
                            if windows(ev, timedelta(days=30), 10, distinct=False))
    counts["PRO-01"] += sum(1 for ev in by_subject.values()
                            if windows(ev, timedelta(days=7), 5, distinct=True))
    counts["PRO-02"] += sum(bursts(ev, timedelta(minutes=60), 50) for ev in by_actor.values())
    by_agency: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in d.ops:
        by_agency[r["agency"].strip() and r["agency"]].append(r)
    for rows in by_agency.values():
        days = Counter(ts(r["ts"]).astimezone(UTC).date() for r in rows
                       if r["ts"] and plausible(ts(r["ts"])))
        if days and median(days.values()) >= MIN_DAILY_VOLUME:
            counts["DQ-01"] += sum(1 for a, b in itertools.pairwise(sorted(days))
                                   if (b - a).days > 1)
        numbers = sorted({int(r["sequence"]) for r in rows if r["sequence"].strip()})
        counts["DQ-03"] += sum(1 for a, b in itertools.pairwise(numbers) if b > a + 1)
        logged = {r["action"] for r in rows}
        counts["DQ-04"] += sum(1 for k in REQUIRED_ACTIONS if k not in logged)
        for kinds, fields in ((LOG_ACTIONS, ("ts", "actor_id", "justification")),
                              ({"disclose", "transfer"}, ("recipient_id",))):
            chosen = [r for r in rows if r["action"] in kinds]
            for f in fields:
                filled = sum(1 for r in chosen if not blank(r[f]))
                if chosen and Fraction(filled, len(chosen)) < MIN_FILL:
                    counts["DQ-05"] += 1
    if any(r["ts"] and not plausible(ts(r["ts"])) for r in d.ops):
        counts["DQ-02"] += 1
    return +counts


def expected_keys(p: Planted) -> set[str]:
    """What the evaluator reports for a planted item: its records, or its group."""
    if p.group:
        return {"|".join(v for _k, v in p.group)}
    return set(p.record_ids)


def rules_on(fired: dict[str, set[str]], rid: str) -> set[str]:
    return {rule for rule, ids in fired.items() if rid in ids}


# ---------------------------------------------------------------------------------------
# Files, formats, determinism
# ---------------------------------------------------------------------------------------


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", operations=SMALL, seed=7)
    b = generate(tmp_path / "b", operations=SMALL, seed=7)
    c = generate(tmp_path / "c", operations=SMALL, seed=8)
    for name in ("operations", "authorisations", "cases"):
        pa, pb, pc = (getattr(x, name) for x in (a, b, c))
        assert pa.read_bytes() == pb.read_bytes(), name
        assert pa.read_bytes() != pc.read_bytes(), name
    assert a.planted == b.planted and a.boundaries == b.boundaries
    assert a.planted != c.planted


def test_files_are_written_into_out_dir_with_expected_names(small: Data) -> None:
    f = small.files
    assert f.operations.name == "operations.csv"
    assert f.authorisations.name == "authorisations.csv"
    assert f.cases.name == "cases.jsonl"
    assert f.operations.parent == f.authorisations.parent == f.cases.parent


def test_headers_are_exact(small: Data) -> None:
    assert small.op_header == OPERATION_HEADER
    assert small.auth_header == AUTHORISATION_HEADER
    first = small.files.cases.read_text(encoding="utf-8").splitlines()[0]
    assert list(json.loads(first)) == CASE_KEYS
    for case in small.cases.values():
        assert list(case) == CASE_KEYS


def test_row_counts(small: Data) -> None:
    assert len(small.ops) == SMALL
    assert 350 <= len(small.cases) <= 450
    assert 500 <= len(small.auths) <= 800
    assert small.files.operations.read_bytes().count(b"\n") == SMALL + 1
    assert small.files.cases.read_bytes().count(b"\n") == len(small.cases)


def test_line_endings_and_encoding(small: Data) -> None:
    for path in (small.files.operations, small.files.authorisations, small.files.cases):
        raw = path.read_bytes()
        assert b"\r" not in raw, path.name
        raw.decode("utf-8")
    text = small.files.operations.read_text(encoding="utf-8")
    assert "Ü" in text or "Ä" in text or "É" in text  # names and texts are not ASCII only


def test_too_small_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(tmp_path, operations=100)


def test_value_conventions(small: Data) -> None:
    ids = [r["record_id"] for r in small.ops]
    assert ids == [f"OP-{i:07d}" for i in range(1, SMALL + 1)]
    untimed = {rid for p in small.files.planted if p.rule_id == "DQ-05" for rid in p.record_ids}
    assert {r["record_id"] for r in small.ops if not r["ts"]} == untimed
    times = [ts(r["ts"]) for r in small.ops if r["ts"]]
    assert times == sorted(times), "operations are written in time order"
    offsets = set()
    numbers: dict[str, list[int]] = defaultdict(list)
    for r in small.ops:
        assert TS_RE.match(r["ts"]) or r["record_id"] in untimed, r["ts"]
        offsets.add(r["ts"][-6:] if r["ts"] else "+00:00")
        numbers[r["agency"]].append(int(r["sequence"]))
        assert r["action"] in ACTIONS
        assert r["urgent"] in {"true", "false"}
        assert r["transfer_basis"] in TRANSFER_BASES | {""}
        assert r["recipient_type"] in RECIPIENT_TYPES | {""}
        assert r["recipient_country"] == "" or re.fullmatch(r"[A-Z]{2}", r["recipient_country"])
        assert r["notice_type"] in {"red", "blue", "yellow", "green", ""}
        assert r["notice_purpose"] in {"prosecution", "sentence", ""}
        assert r["art3_concern"] in {"political", "military", "religious", "racial", ""}
        assert set(split(r["data_categories"])) <= CATEGORIES
        assert all(re.fullmatch(r"P-\d{6}", s) for s in split(r["subject_ids"]))
        assert re.fullmatch(r"WS-\d{4}", r["terminal"])
        for k in ("records_count", "max_penalty_months", "sentence_months", "remaining_months"):
            assert r[k] == "" or r[k].isdigit(), (k, r[k])
    assert offsets == {"+00:00", "+01:00", "+02:00"}
    for agency, seq in numbers.items():  # each agency numbers its own log, in time order
        assert seq[0] >= 1 and seq == sorted(set(seq)), agency
    for a in small.auths.values():
        assert a["approval"] in {"approved", "refused", "pending"}
        assert a["issuer_role"] in ISSUER_ROLES
        assert a["urgent"] in {"true", "false"}
        assert TS_RE.match(a["valid_from"])
        assert TS_RE.match(a["valid_to"]) or DATE_RE.match(a["valid_to"])
        for k in ("approved_at", "cancelled_at"):
            assert a[k] == "" or TS_RE.match(a[k])
        assert set(split(a["actions"])) <= ACTIONS
    assert any(DATE_RE.match(a["valid_to"]) for a in small.auths.values())
    for c in small.cases.values():
        assert TS_RE.match(str(c["opened_at"]))
        assert c["closed_at"] is None or TS_RE.match(str(c["closed_at"]))
        assert isinstance(c["team"], list) and c["team"]
        assert isinstance(c["subject_ids"], list) and c["subject_ids"]
        assert isinstance(c["max_penalty_months"], int)


def test_world_is_realistic(small: Data) -> None:
    agencies = {r["agency"] for r in small.ops}
    assert len(agencies) >= 5
    teams = [c["team"] for c in small.cases.values()]
    team_members = {a for team in teams if isinstance(team, list) for a in team}
    assert 200 <= len(team_members) <= 320
    actors = {r["actor_id"] for r in small.ops if r["actor_id"]}
    assert len(actors) > 150
    assert actors <= team_members | {r["actor_id"] for p in small.files.planted
                                     for r in _rows(small, p)}
    lists = [c["subject_ids"] for c in small.cases.values()]
    subjects = {s for lst in lists if isinstance(lst, list) for s in lst}
    assert 18_000 <= len(subjects) <= 21_000
    counts: dict[str, int] = defaultdict(int)
    for r in small.ops:
        counts[r["action"]] += 1
    assert counts["consult"] > 0.6 * SMALL
    assert counts["consult"] == max(counts.values())
    assert all(counts[a] > 0 for a in ("transfer", "disclose", "notice_request", "eaw_issue",
                                       "interception", "directed_surveillance"))
    odd = {rid for p in small.files.planted if p.rule_id in ("DQ-02", "DQ-05")
           for rid in p.record_ids}
    timed = [r for r in small.ops if r["record_id"] not in odd]
    months = {ts(r["ts"]).month for r in timed}
    assert months == set(range(1, 13))
    assert {ts(r["ts"]).year for r in timed} == {2025}
    log = [r for r in timed if r["action"] in LOG_ACTIONS]
    office = [r for r in log if time(7) <= ts(r["ts"]).time() < time(19)]
    assert len(office) > 0.85 * len(log)
    transfers = [r for r in small.ops if r["action"] == "transfer"]
    led_or_gb = [r for r in transfers if r["recipient_country"] in LED_AREA | {"GB"}]
    assert len(led_or_gb) > 0.7 * len(transfers)


# ---------------------------------------------------------------------------------------
# Planted irregularities and boundaries
# ---------------------------------------------------------------------------------------


def test_every_rule_has_planted_records_in_rule_order(small: Data) -> None:
    rules = [p.rule_id for p in small.files.planted]
    assert set(rules) == set(RULES)
    assert rules == sorted(rules, key=RULES.index)
    for rule in RULES:
        n = rules.count(rule)
        # DQ-02 and DQ-05 find one thing per batch or per agency and field
        assert (1 if rule in DQ else 2) <= n <= 4, (rule, n)
    for p in small.files.planted + small.files.boundaries:
        assert isinstance(p, Planted)
        assert (p.record_ids or p.rule_id == "DQ-04") and p.description.endswith(".")
        assert bool(p.group) == (p.rule_id == "DQ-04")
        assert "{" not in p.description


def test_planted_and_boundary_records_exist(small: Data) -> None:
    ids = set(small.by_id)
    assert small.planted_ids() <= ids
    assert small.boundary_ids() <= ids
    assert not small.planted_ids() & small.boundary_ids()
    assert len(small.files.boundaries) >= 15


def test_each_planted_item_fires_its_rule(small: Data, fired: dict[str, set[str]]) -> None:
    for p in small.files.planted:
        missing = expected_keys(p) - fired[p.rule_id]
        assert not missing, (p.rule_id, p.description, missing)
    for rule in DQ:
        assert fired[rule], rule


def test_planted_records_fire_only_their_own_rule(small: Data,
                                                  fired: dict[str, set[str]]) -> None:
    for p in small.files.planted:
        for rid in p.record_ids:
            extra = rules_on(fired, rid) - {p.rule_id}
            if small.by_id[rid]["actor_id"] == "":
                # documented overlap: a blank actor is also "not on the case team"
                assert extra <= {"PUR-02"}, (p, extra)
            else:
                assert not extra, (p.rule_id, p.description, extra)


def test_boundary_records_fire_nothing(small: Data, fired: dict[str, set[str]]) -> None:
    for p in small.files.boundaries:
        for rid in p.record_ids:
            assert not rules_on(fired, rid), (p.rule_id, p.description, rules_on(fired, rid))


def test_background_is_clean(small: Data, fired: dict[str, set[str]]) -> None:
    planted = small.planted_ids() | {k for p in small.files.planted for k in expected_keys(p)}
    for rule, ids in fired.items():
        assert ids <= planted, (rule, sorted(ids - planted)[:5])


def test_background_consults_and_transfers_simple_checks(small: Data) -> None:
    planted = small.planted_ids()
    background = [r for r in small.ops if r["record_id"] not in planted]
    for r in background:
        if r["action"] == "consult":
            assert r["justification"].strip() and r["case_id"].strip() and r["actor_id"]
            assert r["case_id"] in small.cases
            team = small.cases[r["case_id"]]["team"]
            assert isinstance(team, list) and r["actor_id"] in team
        if r["action"] == "transfer" and r["recipient_country"] not in LED_AREA:
            assert r["transfer_basis"] and not (
                r["transfer_basis"] == "adequacy" and r["recipient_country"] != "GB")
            assert r["recipient_type"] in {"competent_authority", "international_organisation"}


def test_clean_intrusive_rows_reference_existing_authorisations(small: Data) -> None:
    planted = small.planted_ids()
    rows = [r for r in small.ops if r["action"] in INTRUSIVE and r["record_id"] not in planted]
    assert len(rows) > 30
    for r in rows:
        auth = small.auths[r["authorisation_id"]]
        assert auth["case_id"] == r["case_id"] and r["case_id"] in small.cases
        assert r["action"] in split(auth["actions"])
        assert set(split(r["subject_ids"])) <= set(split(auth["subject_ids"]))
        assert ts(auth["valid_from"]) <= ts(r["ts"])
    for a in small.auths.values():
        assert a["case_id"] in small.cases


def _rows(d: Data, p: Planted) -> list[dict[str, str]]:
    return [d.by_id[rid] for rid in p.record_ids]


def _planted(d: Data, rule: str) -> list[Planted]:
    return [p for p in d.files.planted if p.rule_id == rule]


def test_planted_properties_transfers(small: Data) -> None:
    for p in _planted(small, "TRF-01"):
        for r in _rows(small, p):
            assert r["action"] == "transfer" and r["recipient_country"] not in LED_AREA
            assert r["transfer_basis"] == "" or (
                r["transfer_basis"] == "adequacy" and r["recipient_country"] != "GB")
    for p in _planted(small, "TRF-02"):
        for r in _rows(small, p):
            assert r["action"] == "transfer" and r["recipient_country"] not in LED_AREA
            assert r["recipient_type"] in {"private_party", "other"}
    for p in _planted(small, "TRF-03"):
        for r in _rows(small, p):
            assert r["transfer_basis"].startswith("derogation_")
            assert len(split(r["subject_ids"])) >= 2


def test_planted_properties_aggregates(small: Data) -> None:
    pro01 = [_rows(small, p) for p in _planted(small, "PRO-01")]
    one_actor = [g for g in pro01 if len({r["actor_id"] for r in g}) == 1]
    many_actors = [g for g in pro01 if len({r["actor_id"] for r in g}) > 5]
    assert one_actor and many_actors
    for g in one_actor:
        assert len(g) > 10 and len({r["subject_ids"] for r in g}) == 1
        assert ts(g[-1]["ts"]) - ts(g[0]["ts"]) <= timedelta(days=30)
    for g in many_actors:
        assert len({r["subject_ids"] for r in g}) == 1
        assert ts(g[-1]["ts"]) - ts(g[0]["ts"]) <= timedelta(days=7)
    bursts = [_rows(small, p) for p in _planted(small, "PRO-02") if len(p.record_ids) > 1]
    assert bursts
    for g in bursts:
        assert len(g) > 50 and len({r["actor_id"] for r in g}) == 1
        assert ts(g[-1]["ts"]) - ts(g[0]["ts"]) <= timedelta(minutes=60)
        assert all(r["action"] in LOG_ACTIONS for r in g)


def test_planted_properties_time_and_notices(small: Data) -> None:
    for p in _planted(small, "PRO-03"):
        for r in _rows(small, p):
            local = ts(r["ts"]).time()
            assert r["urgent"] == "false" and not time(6) <= local < time(22)
    times = {ts(small.by_id[rid]["ts"]).time() for p in small.files.boundaries
             if p.rule_id == "PRO-03" for rid in p.record_ids}
    assert time(6) in times  # 06:00 is inside office hours: must not fire
    assert time(22) in {ts(r["ts"]).time() for p in _planted(small, "PRO-03")
                        for r in _rows(small, p)}
    for p in _planted(small, "INT-03"):
        for r in _rows(small, p):
            assert r["action"] == "notice_request" and r["notice_type"] == "red"
            assert r["art3_concern"] in {"political", "military", "religious", "racial"}
    for p in _planted(small, "INT-02"):
        for r in _rows(small, p):
            assert r["notice_type"] == "red" and r["offence_category"] in EXCLUDED
    for p in _planted(small, "XB-01"):
        for r in _rows(small, p):
            assert r["action"] == "eaw_issue"


def test_planted_properties_authorisations(small: Data) -> None:
    for p in _planted(small, "AUT-01"):
        for r in _rows(small, p):
            assert r["action"] in INTRUSIVE and not r["authorisation_id"].strip()
    unknown = [r for p in _planted(small, "AUT-02") for r in _rows(small, p)
               if r["authorisation_id"] not in small.auths]
    assert len(unknown) == 1
    for p in _planted(small, "AUT-04"):
        for r in _rows(small, p):
            auth = small.auths[r["authorisation_id"]]
            assert (r["action"] not in split(auth["actions"])
                    or not set(split(r["subject_ids"])) <= set(split(auth["subject_ids"])))
    for p in _planted(small, "PRO-04"):
        for r in _rows(small, p):
            case = small.cases[r["case_id"]]
            penalty = num(r["max_penalty_months"]) or num(case["max_penalty_months"])
            assert penalty is not None and penalty < 36


def test_reference_evaluator_catches_a_broken_row(small: Data) -> None:
    """Guard against a vacuous evaluator: breaking a clean row makes rules fire."""
    r = dict(next(r for r in small.ops if r["action"] == "consult"
                  and r["record_id"] not in small.planted_ids()))
    assert not record_rules(r, small.auths, small.cases)
    r.update(justification=" ", case_id="", ts=r["ts"][:11] + "23:30:00" + r["ts"][19:])
    assert record_rules(r, small.auths, small.cases) == {"LOG-01", "PUR-01", "PRO-03"}


def test_reference_evaluator_catches_log_gaps(small: Data) -> None:
    """Guard against a vacuous log-completeness evaluator: deleting one background entry
    leaves a hole in its agency's numbers; dropping an agency's erasures is noticed."""
    ops = [r for r in small.ops if r["agency"] == "GB-MET"]
    victim = ops[len(ops) // 2]
    fired: dict[str, set[str]] = {rule: set() for rule in DQ}
    log_quality([r for r in small.ops if r is not victim and not (
        r["agency"] == "GB-MET" and r["action"] == "erase")], fired)
    i = ops.index(victim)
    assert {ops[i - 1]["record_id"], ops[i + 1]["record_id"]} <= fired["DQ-03"]
    assert "GB-MET|erase" in fired["DQ-04"]
    assert not any(k.startswith("GB-MET|") for k in fired["DQ-04"] - {"GB-MET|erase"})


def _all(items: Iterable[Planted]) -> list[str]:
    return [rid for p in items for rid in p.record_ids]


@pytest.mark.slow
def test_default_size(tmp_path: Path) -> None:
    files = generate(tmp_path)
    d = load(files)
    assert len(d.ops) == 50_000
    assert len(set(_all(files.planted))) == len(_all(files.planted))
    fired = evaluate(d)
    keys = d.planted_ids() | {k for p in files.planted for k in expected_keys(p)}
    for rule, ids in fired.items():
        assert ids <= keys, (rule, sorted(ids - keys)[:5])
    for p in files.planted:
        assert expected_keys(p) <= fired[p.rule_id]


def test_a_detection_run_gives_the_findings_the_table_counts(small: Data,
                                                            tmp_path: Path) -> None:
    """The engine, on the demo's own files, gives per rule the number of findings this
    evaluator counts from the criteria table (the figure the other tests rely on)."""
    from oversight.criteria.engine import run_detection
    from oversight.criteria.pack import default_pack
    from oversight.findings import list_findings
    from oversight.importing import import_file
    from oversight.records import Kind
    from oversight.workspace import Workspace

    with Workspace.create(tmp_path / "ws", "admin", "admin-password") as ws:
        for path, kind in ((small.files.cases, Kind.CASES),
                           (small.files.authorisations, Kind.AUTHORISATIONS),
                           (small.files.operations, Kind.OPERATIONS)):
            import_file(ws, path, kind)
        run_detection(ws, default_pack())
        found = Counter(f["rule_id"] for f in list_findings(ws))
    assert found == expected_counts(small)


@functools.lru_cache(maxsize=4)
def demo_finding_count(operations: int, seed: int) -> int:
    """How many findings the demo of this size and seed holds after its detection run,
    counted by this module's reference evaluator from the demo's own files (the files
    are generated again: the generator is deterministic). Tests of the workstation and
    of reports compare what they show with this, not with a number copied from a run."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="demo-reference-") as tmp:
        data = load(generate(Path(tmp), operations=operations, seed=seed))
        return sum(expected_counts(data).values())


def test_one_planter_per_rule_of_the_pack() -> None:
    """The demo plants by a table of planters, one per rule (or family), in order: every
    rule of led-baseline has one, and nothing else does."""
    from oversight.criteria.pack import default_pack
    from oversight.demo_data import PLANTERS

    covered: set[str] = set()
    for label, planter in PLANTERS:
        assert callable(planter)
        for part in label.replace(" boundary", "").split(" / "):
            if ".." in part:  # a family: DQ-01..DQ-05
                first, last = part.split("..")
                prefix = first.split("-")[0]
                covered |= {f"{prefix}-{n:02d}" for n in
                            range(int(first.split("-")[1]), int(last.split("-")[1]) + 1)}
            else:
                covered.add(part)
    assert covered == {r.id for r in default_pack().rules}
