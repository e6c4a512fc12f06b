"""Criteria packs: validation reports every problem with its place; the compiler turns
conditions into exactly the SQL expected; CLI commands for detection."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, write

from oversight.cli import main
from oversight.criteria.expr import ExprError, Scope, parse
from oversight.criteria.pack import default_pack, parse_pack
from oversight.criteria.sql import Compiler
from oversight.errors import ValidationError

PACK_HEAD = """pack: test
version: "1"
title: Test pack
parameters:
  limit: 36
  allowed: {interception: [secretary_of_state]}
lists:
  log_actions: [consult, disclose]
rules:
"""


def rule(rid: str, when: str, message: str = "hit {action}", severity: str = "high") -> str:
    return (f"  - id: {rid}\n    title: t\n    severity: {severity}\n    legal_refs: [x]\n"
            f"    rationale: r\n    when: '{when}'\n    message: \"{message}\"\n")


def test_default_pack_is_valid_and_has_the_issue_rule_ids() -> None:
    pack = default_pack()
    assert pack.id == "led-baseline"
    assert [r.id for r in pack.rules] == [
        "LOG-01", "PUR-01", "PUR-02", "PRO-01", "PRO-02", "PRO-03", "PRO-04", "SPC-01",
        "TRF-01", "TRF-02", "TRF-03", "INT-01", "INT-02", "INT-03", "AUT-01", "AUT-02",
        "AUT-03", "AUT-04", "XB-01", "DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05"]
    assert {r.id: r.severity for r in pack.rules}["TRF-01"] == "critical"
    assert {r.id for r in pack.rules if "log_quality" in r.tags} == {
        "DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05"}
    assert pack.lists["adequacy_countries"] == ("GB",)
    assert len(pack.lists["led_area"]) == 31
    assert all(r.rationale and r.legal_refs for r in pack.rules)
    assert {r.id for r in pack.rules if "cases" in r.needs} == {"PUR-02", "PRO-04"}
    assert {r.id for r in pack.rules if "authorisations" in r.needs} == {
        "AUT-02", "AUT-03", "AUT-04"}


def test_broken_pack_reports_every_problem_with_line_and_column() -> None:
    text = PACK_HEAD + rule("A-1", "actoin = \"x\"") + rule("A-1", "action = 3") \
        + rule("A-3", "`Col` matches \"[\"") + rule("A-4", "action in nolist") \
        + rule("A-5", "action = \"x\"", message="{nosuch}", severity="urgent")
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "bad.yaml")
    issues = {(i.line, i.column): i.message for i in info.value.issues}
    lines = sorted(i.line or 0 for i in info.value.issues)
    msgs = " | ".join(i.message for i in info.value.issues)
    assert "unknown field, parameter or list 'actoin' (did you mean 'action'?)" in msgs
    assert "type mismatch: cannot compare text with number" in msgs
    assert "bad regular expression '['" in msgs
    assert "unknown field, parameter or list 'nolist'" in msgs
    assert "severity 'urgent'" in msgs and "{nosuch}" in msgs
    assert len(info.value.issues) == 6, issues
    # A-1's error points into its condition: line 14, column of 'actoin'.
    first = info.value.issues[0]
    assert (first.file, first.line, first.column) == ("bad.yaml", 15, 12)
    assert lines == sorted(lines) and lines[0] == 15
    assert str(first).startswith("bad.yaml:15:12: unknown field")


def test_duplicate_rule_id_reported() -> None:
    text = PACK_HEAD + rule("A-1", "action = \"x\"") + rule("A-1", "action = \"y\"")
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "dup.yaml")
    assert "duplicate rule id 'A-1' (first on line 10)" in info.value.issues[0].message


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ValidationError) as info:
        parse_pack("pack: x\nrules: [\n  - id: 1\n", "broken.yaml")
    assert info.value.issues[0].line is not None


@pytest.mark.parametrize("text, sql, params", [
    ('action = "consult"', "coalesce(o.action = ?1, 0)", ["consult"]),
    ('action != "consult"', "coalesce(o.action != ?1, 1)", ["consult"]),
    ("action in log_actions", "coalesce(o.action IN (?1, ?2), 0)", ["consult", "disclose"]),
    ("not (action in log_actions)", "(NOT coalesce(o.action IN (?1, ?2), 0))",
     ["consult", "disclose"]),
    ("blank(justification)", "(o.justification IS NULL OR trim(o.justification) = '')", []),
    ("max_penalty_months < limit", "coalesce(o.max_penalty_months < ?1, 0)", [36]),
    ("ts < authorisation.valid_from + days(5)",
     "coalesce(o.ts_utc < (a.valid_from_utc + (?1 * 86400000000)), 0)", [5]),
    ("local_time(ts) >= \"22:00\"", "coalesce(substr(o.ts, 12, 8) >= ?1, 0)", ["22:00"]),
    ("`Object of search` = \"Controlled drugs\"",
     "coalesce(json_extract(o.extra, '$.\"Object of search\"') = ?1, 0)", ["Controlled drugs"]),
    ("not urgent", "(NOT (coalesce(o.urgent, 0) = 1))", []),
    ("authorisation.issuer_role not in allowed[action]",
     "(NOT coalesce((CASE o.action WHEN ?1 THEN a.issuer_role IN (?2) ELSE 0 END), 0))",
     ["interception", "secretary_of_state"]),
    ("actor_id in case.team",
     "coalesce(EXISTS (SELECT 1 FROM json_each(c.team) m WHERE m.value = o.actor_id), 0)", []),
    ("count(subject_ids) > 1",
     "coalesce((SELECT count(DISTINCT value) FROM json_each(o.subject_ids)) > ?1, 0)",
     [1]),
])
def test_compiled_sql_is_exact(text: str, sql: str, params: list[object]) -> None:
    scope = Scope(parameters={"limit": 36, "allowed": {"interception": ["secretary_of_state"]}},
                  lists={"log_actions": ("consult", "disclose")})
    comp = Compiler()
    assert comp.cond(parse(text, scope)) == sql
    assert comp.params == params


def test_user_text_never_becomes_sql() -> None:
    """Quotes and SQL in values stay parameters; column names are escaped literals."""
    scope = Scope()
    comp = Compiler()
    sql = comp.cond(parse("action = \"x'); DROP TABLE findings; --\"", scope))
    assert "DROP" not in sql and comp.params == ["x'); DROP TABLE findings; --"]
    comp = Compiler()
    sql = comp.cond(parse("`a'b\"c` = \"v\"", scope))
    assert sql == "coalesce(json_extract(o.extra, '$.\"a''b\\\"c\"') = ?1, 0)"
    import sqlcipher3

    mem = sqlcipher3.connect(":memory:")
    row = mem.execute(f"SELECT {sql} FROM (SELECT ? AS extra) o",
                      ("v", json.dumps({"a'b\"c": "v"}))).fetchone()
    assert row == (1,)
    with pytest.raises(ExprError):
        parse("action = \"x\"; DROP TABLE findings", scope)


def test_a_failing_pack_is_never_run(admin_ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = write(tmp_path / "bad.yaml", PACK_HEAD + rule("A-1", "actoin = 1"))
    runner = CliRunner()
    env = {"OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}
    res = runner.invoke(main, ["check", str(admin_ws.folder), "--criteria", str(bad)], env=env)
    assert res.exit_code == 2
    assert "bad.yaml:15:12: unknown field, parameter or list 'actoin'" in res.stderr
    assert admin_ws.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    res = runner.invoke(main, ["criteria", "validate", str(bad)])
    assert res.exit_code == 2 and "1 problem(s)" in res.stderr


def test_check_findings_runs_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}
    ws = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", ws], env=env).exit_code == 0
    ops = write(tmp_path / "ops.csv", (
        "record_id,ts,action,actor_id,case_id,justification,recipient_country,transfer_basis,"
        "recipient_id,recipient_type\n"
        "T-1,2026-03-04T10:00:00+01:00,transfer,o1,C1,j,US,,R1,competent_authority\n"
        "T-2,2026-03-04T11:00:00+01:00,transfer,o1,C1,j,GB,adequacy,R2,competent_authority\n"
        "C-1,2026-03-04T11:00:00+01:00,consult,o1,,=cmd|' /C calc'!A0,,,,\n"
        "=HYPERLINK(\"http://x\"),2026-03-04T11:00:00+01:00,consult,o1,,j,,,,\n"))
    assert runner.invoke(main, ["import", ws, str(ops)], env=env).exit_code == 0
    res = runner.invoke(main, ["check", ws, "--json", "--fail-on", "critical"], env=env)
    assert res.exit_code == 1, res.stderr
    doc = json.loads(res.stdout)
    by_rule = {r["rule_id"]: r for r in doc["rules"]}
    assert by_rule["TRF-01"]["hits"] == 1 and by_rule["PUR-01"]["hits"] == 2
    assert by_rule["AUT-02"]["evaluated"] is False
    assert "authorisation register" in by_rule["AUT-02"]["reason"]
    assert doc["fail_on"] == {"severity": "critical", "open_findings": 1}
    res = runner.invoke(main, ["check", ws, "--rule", "TRF-01", "--fail-on", "high"], env=env)
    assert res.exit_code == 1
    res = runner.invoke(main, ["findings", ws, "--format", "json"], env=env)
    rows = json.loads(res.stdout)
    trf = [f for f in rows if f["rule_id"] == "TRF-01"]
    assert len(trf) == 1 and trf[0]["record_ids"] == ["T-1"]
    assert trf[0]["message"] == ("Transfer to US on 2026-03-04 has no valid legal basis "
                                 "(recorded: (blank))")
    assert trf[0]["facts"]["fields"]["recipient_country"] == "US"
    assert trf[0]["legal_refs"] == ["Directive (EU) 2016/680, Arts. 35-38"]
    assert trf[0]["status"] == "open" and trf[0]["first_run"] == 1 and trf[0]["last_run"] == 2
    # A record id that a spreadsheet would run as a formula is exported neutralised: the
    # cell starts with an apostrophe and keeps the whole text.
    res = runner.invoke(main, ["findings", ws, "--format", "csv", "--rule", "PUR-01"], env=env)
    assert res.exit_code == 0, res.stderr
    table = list(csv.DictReader(io.StringIO(res.stdout, newline="")))
    assert sorted(r["record_ids"] for r in table) == ["'=HYPERLINK(\"http://x\")", "C-1"]
    assert not any(v.startswith(("=", "+", "-", "@")) for r in table for v in r.values())
    res = runner.invoke(main, ["runs", ws, "--json"], env=env)
    runs = json.loads(res.stdout)
    assert [r["run_id"] for r in runs] == [1, 2]
    assert runs[0]["pack"] == "led-baseline" and len(runs[0]["pack_sha256"]) == 64


def test_criteria_show_lists_rules() -> None:
    res = CliRunner().invoke(main, ["criteria", "show", "--json"])
    doc = json.loads(res.stdout)
    assert doc["pack"] == "led-baseline" and len(doc["rules"]) == 24
    text = resources.files("oversight.packs").joinpath("led-baseline.yaml").read_text()
    # The pack's digest is the SHA-256 of the file as shipped, computed here independently.
    assert doc["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert text.startswith("pack: led-baseline")


def test_errors_inside_block_conditions_point_at_their_line_and_column() -> None:
    text = PACK_HEAD + """  - id: B-1
    title: t
    severity: low
    legal_refs: [x]
    rationale: r
    when: >
      action = "consult"
        and blank(justifcation)
    message: m
  - id: B-2
    title: t
    severity: low
    legal_refs: [x]
    rationale: r
    when: |
      action = "consult"

      or actr = "x"
    message: m
"""
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "block.yaml")
    where = [(i.line, i.column) for i in info.value.issues]
    assert where == [(17, 19), (27, 10)]


def test_backslashes_in_quotes_stay_for_regular_expressions() -> None:
    scope = Scope()
    node = parse(r'`Ref` matches "^\d{4}-[A-Z]+$" and actor_id = "say \"no\""', scope)
    comp = Compiler()
    comp.cond(node)
    assert comp.params == [r"^\d{4}-[A-Z]+$", 'say "no"']


def test_mapping_lookup_only_after_in() -> None:
    scope = Scope(parameters={"allowed": {"interception": ["secretary_of_state"]}})
    for bad in ("count(allowed[action]) > 1", "blank(allowed[action])",
                "subject_ids intersects allowed[action]", "allowed[action] = \"x\""):
        with pytest.raises(ExprError, match="can only follow 'in' or 'not in'"):
            parse(bad, scope)
    assert parse("actor_id not in allowed[action]", scope).type == "true/false"


def test_aggregate_message_names_only_group_values() -> None:
    text = PACK_HEAD + """  - id: G-1
    title: t
    severity: low
    legal_refs: [x]
    rationale: r
    aggregates:
      - group_by: [actor_id]
        window: {days: 1}
        more_than: limit
        message: "{actor_id} {count} {ts}"
"""
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "agg.yaml")
    assert "{ts}" in info.value.issues[0].message
