"""Hostile inputs (issue 9, part 2): each case found by the adversarial review, reproduced
as it was reported, must now be one sentence with exit 2 (or a rule "not evaluated"
with the reason), never a stall, a traceback or a silent loss."""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, POLICE_UK, ROOT, write

from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.expr import MAX_DEPTH, MAX_NESTING, Binary, Lit, parse
from oversight.criteria.pack import parse_pack
from oversight.errors import ValidationError
from oversight.importing import import_file
from oversight.importing.profile import parse_profile
from oversight.workspace import Workspace
from oversight.yamlsrc import MAX_YAML_BYTES, MAX_YAML_DEPTH, load_plain

PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
CITY = POLICE_UK / "2020-01-city-of-london-stop-and-search.csv"


def run(args: list[str], **env: str) -> tuple[int, str, str]:
    """The CLI in-process; an exception other than SystemExit fails the test."""
    res = CliRunner().invoke(main, args, env={"OVERSIGHT_USER": ADMIN,
                                              "OVERSIGHT_PASSWORD": ADMIN_PW, **env},
                             catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def run_bounded(args: list[str], timeout: float = 120, memory: int = 2 << 30
                ) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process with a wall-clock and address-space limit: an input
    that stalls or balloons fails the test instead of hanging or exhausting the machine
    (the reported cases ran for minutes and used 9.8 GB)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}
    return subprocess.run([sys.executable, "-m", "oversight.cli", *args], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit, env=env, cwd=ROOT)


def pack_with(when: str, name: str = "hostile") -> str:
    return (f'pack: {name}\nversion: "1"\ntitle: Hostile\nrules:\n'
            "  - id: H-1\n    title: hostile condition\n    severity: low\n"
            '    legal_refs: ["test"]\n    rationale: test\n'
            f"    when: '{when}'\n    message: hit\n")


@pytest.fixture
def police_ws(ws_path: Path) -> Iterator[Path]:
    """A workspace holding the City of London stop-and-search file."""
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        import_file(ws, CITY, profile_path=PROFILE)
    yield ws_path


# -- YAML --------------------------------------------------------------------------------

BILLION_LAUGHS = """\
pack: laughs
version: "1"
title: Billion laughs
lists:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
rules: []
"""


def test_billion_laughs_pack_is_refused_at_the_anchor(tmp_path: Path) -> None:
    bomb = write(tmp_path / "laughs.yaml", BILLION_LAUGHS)
    done = run_bounded(["criteria", "validate", str(bomb)], timeout=60, memory=1 << 30)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "aliases and anchors are not accepted" in done.stderr
    assert f"{bomb}:5:6:" in done.stderr  # the first anchor, &a


def test_alias_without_anchor_text_is_refused_at_the_alias() -> None:
    # An alias needs an anchor; the anchor is reported first, at its own line.
    text = "pack: x\nversion: '1'\nlists:\n  a: &one [x]\n  b: *one\n"
    with pytest.raises(ValidationError) as info:
        parse_pack(text, "alias.yaml")
    issue = info.value.issues[0]
    assert (issue.file, issue.line, issue.column) == ("alias.yaml", 4, 6)
    assert "anchor (&one)" in issue.message
    assert "refused" in info.value.message


def test_profile_with_an_alias_is_refused_with_its_line(tmp_path: Path, ws_path: Path
                                                        ) -> None:
    text = "kind: operations\nfields:\n  record_id: &c Type\n  action: *c\n"
    path = write(tmp_path / "p.yaml", text)
    code, _, err = run(["import", str(ws_path), str(CITY), "--mapping", str(path)])
    assert code == 2 and f"{path}:3:14: an anchor (&c)" in err
    with pytest.raises(ValidationError) as info:
        parse_profile(text, "p.yaml")
    assert info.value.issues[0].line == 3
    assert "aliases and anchors are not accepted" in info.value.issues[0].message


def test_oversized_pack_is_refused_naming_the_cap(tmp_path: Path) -> None:
    big = write(tmp_path / "big.yaml", pack_with('`Type` = "x"') + "# " + "x" * MAX_YAML_BYTES)
    code, _, err = run(["criteria", "validate", str(big)])
    assert code == 2
    assert "may be at most 1 MiB" in err and f"{MAX_YAML_BYTES:,} bytes" in err
    # The same cap holds for text that never was a file (a stored or edited pack).
    with pytest.raises(ValidationError, match="larger than 1 MiB"):
        parse_pack(big.read_text(), "edited")


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 1, 100_000])
def test_deeply_nested_yaml_is_refused_with_its_line(depth: int) -> None:
    deep = "pack: x\nlists:\n  a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ValidationError) as info:
        parse_pack(deep, "deep.yaml")
    issue = info.value.issues[0]
    assert issue.line == 3 and issue.column is not None
    # Ours below libyaml's own limit (1000 levels, which it reports as a syntax error).
    assert (f"nested more than {MAX_YAML_DEPTH} deep" in issue.message
            or "exceeded maximum nesting depth" in issue.message)


def test_report_templates_load_through_the_same_limits() -> None:
    with pytest.raises(Exception, match="aliases and anchors"):
        load_plain("a: &x 1\nb: *x\n")
    assert load_plain("page: {size: A4}\n") == {"page": {"size": "A4"}}


def test_pack_path_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pack.yaml"
    os.mkfifo(fifo)
    done = run_bounded(["criteria", "validate", str(fifo)], timeout=60)
    assert done.returncode == 2 and "named pipe (FIFO)" in done.stderr, done.stderr


# -- conditions: nesting ------------------------------------------------------------------

DEEP_CONDITIONS = {
    "brackets": "(" * 5000 + '`Type` = "x"' + ")" * 5000,
    "nots": "not " * 5000 + '`Type` = "x"',
    "or-chain": " or ".join(['`Type` = "x"'] * 5000),
}


@pytest.mark.parametrize("kind", sorted(DEEP_CONDITIONS))
def test_condition_nested_5000_deep_is_a_sentence_in_validate_and_check(
        kind: str, tmp_path: Path, police_ws: Path) -> None:
    path = write(tmp_path / "deep.yaml", pack_with(DEEP_CONDITIONS[kind]))
    for args in (["criteria", "validate", str(path)],
                 ["check", str(police_ws), "--criteria", str(path)]):
        code, _, err = run(args)
        assert code == 2, err
        assert f"{path}:10:" in err  # the line of `when:`, with a column
        assert ("more than 40 deep" in err) or ("more than the 100 allowed" in err)


def test_nesting_limits_leave_room_for_real_conditions() -> None:
    from oversight.criteria.expr import Scope
    scope = Scope()
    nested = "(" * (MAX_NESTING - 1) + 'action = "x"' + ")" * (MAX_NESTING - 1)
    assert isinstance(parse(nested, scope), Binary)
    chain = " or ".join(['action = "x"'] * (MAX_DEPTH - 1))
    assert isinstance(parse(chain, scope), Binary)


@pytest.mark.parametrize("depth", [450, 1200])
def test_a_condition_beyond_sqlite_is_not_evaluated_and_others_still_run(
        depth: int, admin_ws: Workspace) -> None:
    """Defence in depth: if a condition ever reaches the engine deeper than SQLite takes
    (1000 levels), that rule is 'not evaluated' with the reason; the run goes on."""
    import_file(admin_ws, CITY, profile_path=PROFILE)
    pack = parse_pack(pack_with('`Type` = "Person search"'), "p.yaml")
    rule = pack.rules[0]
    deep = rule.when
    assert deep is not None
    for _ in range(depth):
        deep = Binary(0, "true/false", "or", deep, Lit(0, "true/false", False))
    too_deep = dataclasses.replace(rule, id="H-2", when=deep)
    pack = dataclasses.replace(pack, rules=(rule, too_deep))
    summary = run_detection(admin_ws, pack)
    by_id = {r.rule_id: r for r in summary.rules}
    assert by_id["H-1"].evaluated and by_id["H-1"].hits > 0
    assert not by_id["H-2"].evaluated
    # Python's recursion limit (compiling) or SQLite's depth limit (running) comes first.
    assert by_id["H-2"].reason in ("its condition is nested too deeply to be compiled",
                                   "the database cannot run its condition (Expression tree "
                                   "is too large (maximum depth 1000))")


# -- conditions: regular expressions ------------------------------------------------------


def test_catastrophic_pattern_against_a_long_value_does_not_stall(tmp_path: Path,
                                                                  ws_path: Path) -> None:
    """``(a+)+$`` against 29 characters took 27 s with Python's re, four times more per
    two characters; the value here has 60, which would take longer than a lifetime."""
    value = "a" * 60 + "!"
    csv_path = write(tmp_path / "ops.csv", "record_id,ts,action,Note\n"
                     f"OP-1,2026-03-04T10:00:00+01:00,consult,{value}\n"
                     "OP-2,2026-03-04T10:00:00+01:00,consult,aaaa\n")
    assert run(["import", str(ws_path), str(csv_path)])[0] == 0
    pack = write(tmp_path / "redos.yaml", pack_with('`Note` matches "(a+)+$"'))
    done = run_bounded(["check", str(ws_path), "--criteria", str(pack), "--json"], timeout=120)
    assert done.returncode == 0, done.stderr
    rule = json.loads(done.stdout)["rules"][0]
    assert rule["evaluated"] and rule["hits"] == 1  # OP-2 ends in a's; OP-1 does not


@pytest.mark.parametrize("pattern, column", [("(a)\\\\1", 27), ("x(?=y)", 27)])
def test_patterns_re2_cannot_run_are_refused_at_validation(pattern: str, column: int,
                                                           tmp_path: Path) -> None:
    path = write(tmp_path / "re.yaml", pack_with(f'`Type` matches "{pattern}"'))
    code, _, err = run(["criteria", "validate", str(path)])
    assert code == 2
    assert f"{path}:10:{column}: bad regular expression" in err
    assert "RE2 syntax" in err
