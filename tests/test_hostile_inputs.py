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


# -- import: JSON nesting, NUL bytes, non-regular files, symbolic links -------------------

OPS_HEAD = "record_id,ts,action,Note\n"
OP_ROW = "OP-{n},2026-03-04T10:00:00+01:00,consult,note {n}\n"


def _unchanged(ws_path: Path, before: dict[str, int], head: tuple[int, str]) -> None:
    from conftest import counts
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        assert counts(ws) == before
        assert _head(ws) == head


def _state(ws_path: Path) -> tuple[dict[str, int], tuple[int, str]]:
    from conftest import counts
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        return counts(ws), _head(ws)


def _head(ws: Workspace) -> tuple[int, str]:
    row = ws.conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
                          ).fetchone()
    return int(row[0]), str(row[1])


def test_jsonl_line_nested_100000_deep_is_a_reject_with_its_line(tmp_path: Path,
                                                                  ws_path: Path) -> None:
    deep = '{"record_id": "OP-2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines = ['{"record_id": "OP-1", "ts": "2026-03-04T10:00:00Z", "action": "consult"}',
             deep,
             '{"record_id": "OP-3", "x": ' + "[" * 65 + "]" * 65 + "}",
             '{"record_id": "OP-4", "ts": "2026-03-04T10:00:00Z", "action": "consult"}']
    path = write(tmp_path / "deep.jsonl", "\n".join(lines) + "\n")
    code, out, err = run(["import", str(ws_path), str(path), "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows_imported"] == 2 and doc["rows_rejected"] == 2
    rejects = {r["line"]: r["reason"] for r in doc["sample_rejects"]}
    assert set(rejects) == {2, 3}
    assert all("more than 64 levels deep" in r for r in rejects.values())


def test_json_array_nested_100000_deep_is_a_sentence_with_its_line(tmp_path: Path,
                                                                   ws_path: Path) -> None:
    before = _state(ws_path)
    path = write(tmp_path / "deep.json",
                 '[\n{"record_id": "OP-1"},\n{"record_id": "OP-2", "x": '
                 + "[" * 100_000 + "]" * 100_000 + "}\n]\n")
    code, _, err = run(["import", str(ws_path), str(path)])
    assert code == 2
    assert f"{path}, line 3: the item starting here nests objects and arrays" in err
    _unchanged(ws_path, *before)


def test_json_array_item_deeper_than_the_cap_is_a_reject(tmp_path: Path,
                                                          ws_path: Path) -> None:
    path = write(tmp_path / "deep.json",
                 '[\n{"record_id": "OP-1", "ts": "2026-03-04T10:00:00Z"},\n'
                 '{"record_id": "OP-2", "x": ' + "[" * 70 + "]" * 70 + "}\n]\n")
    code, out, _ = run(["import", str(ws_path), str(path), "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["rows_imported"] == 1
    assert doc["sample_rejects"][0]["line"] == 3
    assert "more than 64 levels deep" in doc["sample_rejects"][0]["reason"]


@pytest.mark.parametrize("parallel", [False, True])
def test_nul_byte_after_the_first_64_kib_rejects_its_row(tmp_path: Path, ws_path: Path,
                                                          parallel: bool) -> None:
    rows = [OP_ROW.format(n=n) for n in range(1, 3001)]  # about 130 KiB
    rows[2499] = "OP-2500,2026-03-04T10:00:00+01:00,consult,bad\x00value\n"
    path = write(tmp_path / "ops.csv", OPS_HEAD + "".join(rows))
    assert path.stat().st_size > 64 * 1024 and b"\x00" not in path.read_bytes()[:65536]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        result = import_file(ws, path, parallel=parallel)
        stored = ws.conn.execute("SELECT count(*) FROM operations WHERE extra LIKE ?",
                                 ("%bad%",)).fetchone()[0]
        reject = ws.conn.execute("SELECT line, reason, value FROM rejects").fetchone()
    assert result.rows_imported == 2999 and result.rows_rejected == 1
    assert stored == 0
    assert reject[0] == 2501  # the header is line 1
    assert reject[1] == ("column 4 ('Note') holds a NUL byte at character 4 of its value; "
                         "binary data is not imported")
    assert "\x00" not in reject[2]


def test_fifo_is_refused_before_anything_opens_it(tmp_path: Path, ws_path: Path) -> None:
    fifo = tmp_path / "ops.csv"
    os.mkfifo(fifo)
    before = _state(ws_path)
    done = run_bounded(["import", str(ws_path), str(fifo)], timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"error: {fifo} is a named pipe (FIFO), not a regular "
                                   "file; only regular files are read (copy the data into a "
                                   "file first).")
    _unchanged(ws_path, *before)
    done = run_bounded(["import", str(ws_path), str(fifo), "--dry-run"], timeout=60)
    assert done.returncode == 2 and "named pipe (FIFO)" in done.stderr


def test_socket_and_device_are_refused(tmp_path: Path, ws_path: Path) -> None:
    import socket
    sock_path = tmp_path / "s.csv"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(sock_path))
        code, _, err = run(["import", str(ws_path), str(sock_path)])
        assert code == 2 and "is a socket, not a regular file" in err
    finally:
        server.close()
    code, _, err = run(["import", str(ws_path), "/dev/zero"])
    assert code == 2 and "/dev/zero is a device, not a regular file" in err


def test_symbolic_link_is_followed_and_both_names_recorded(tmp_path: Path,
                                                           ws_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = write(tmp_path / "real" / "ops.csv", OPS_HEAD + OP_ROW.format(n=1))
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    code, out, err = run(["import", str(ws_path), str(link), "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["file"] == str(link) and doc["resolved_path"] == str(real.resolve())
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        name = ws.conn.execute("SELECT file_name FROM batches").fetchone()[0]
        payload = json.loads(ws.conn.execute(
            "SELECT payload FROM audit_events WHERE action = 'import'").fetchone()[0])
    assert name == "link.csv"
    assert payload["file"] == "link.csv" and payload["resolved_path"] == str(real.resolve())
    # A plain file records no second name.
    plain = write(tmp_path / "plain.csv", OPS_HEAD + OP_ROW.format(n=2))
    code, out, _ = run(["import", str(ws_path), str(plain), "--json"])
    assert json.loads(out)["resolved_path"] is None


# -- XLSX ----------------------------------------------------------------------------------

SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns='
              b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def _row(n: int, *values: str, extra: str = "") -> bytes:
    cells = "".join(_cell(f"{'ABCD'[i]}{n}", v) for i, v in enumerate(values))
    return f'<row r="{n}">{cells}{extra}</row>'.encode()


def _workbook(path: Path, sheet: bytes | None = None,
              raw_sheet: tuple[bytes, int, int] | None = None) -> Path:
    """A real workbook (written by openpyxl) whose sheet part is replaced by ``sheet``, or
    by ``raw_sheet`` = (raw deflate stream, CRC-32, uncompressed size) written as is."""
    import zipfile
    import zlib

    from openpyxl import Workbook
    base = path.with_suffix(".base.xlsx")
    wb = Workbook()
    wb.active.append(["record_id", "ts", "action"])
    wb.save(base)
    with zipfile.ZipFile(base) as zin:
        parts = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    entries = []
    for name, data in parts:
        if name == SHEET and raw_sheet is not None:
            entries.append((name, *raw_sheet))
            continue
        if name == SHEET and sheet is not None:
            data = sheet
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name, c.compress(data) + c.flush(), zlib.crc32(data), len(data)))
    _write_zip(path, entries)
    return path


def _write_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> None:
    """A zip archive of already-deflated members (zipfile cannot write those)."""
    import struct
    central = b""
    with path.open("wb") as fh:
        for name, data, crc, size in entries:
            offset = fh.tell()
            raw = name.encode()
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc,
                                 len(data), size, len(raw), 0) + raw)
            fh.write(data)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21,
                                   crc, len(data), size, len(raw), 0, 0, 0, 0, 0,
                                   offset) + raw
        start = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                             len(central), start, 0))


def _bomb_sheet(target: int) -> tuple[bytes, int, int]:
    """A well-formed sheet part that inflates to ``target`` bytes (a header, one record and
    blank space between the XML elements) from a raw deflate stream of about a thousandth
    of that: one mebibyte of space compressed once and, standing alone after a full
    flush, repeated."""
    import zlib
    start = SHEET_HEAD + _row(1, "record_id", "ts", "action") + _row(
        2, "OP-1", "2026-03-04T10:00:00Z", "consult")
    unit = b" " * (1 << 20)
    times = (target - len(start) - len(SHEET_TAIL)) // len(unit)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(start) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(unit) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = head + block * times + comp.compress(SHEET_TAIL) + comp.flush()
    crc = zlib.crc32(start)
    for _ in range(times):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(SHEET_TAIL, crc)
    return stream, crc, len(start) + len(unit) * times + len(SHEET_TAIL)


@pytest.mark.slow
def test_decompression_bomb_is_refused_before_parsing(tmp_path: Path, ws_path: Path) -> None:
    """The reported case: 1.1 MB on disk, a 1.2 GB sheet, imported with 2.45 GB of memory."""
    import zipfile
    bomb = _workbook(tmp_path / "bomb.xlsx", raw_sheet=_bomb_sheet(1_200_000_000))
    assert bomb.stat().st_size < 2_000_000
    with zipfile.ZipFile(bomb) as z:
        assert z.getinfo(SHEET).file_size > 1_150_000_000
        with z.open(SHEET) as part:  # a real stream: it inflates to what it declares
            assert part.read(len(SHEET_HEAD)) == SHEET_HEAD
            part.seek(z.getinfo(SHEET).file_size - len(SHEET_TAIL))
            assert part.read() == SHEET_TAIL  # the CRC-32 matched, or read() would raise
    before = _state(ws_path)
    done = run_bounded(["import", str(ws_path), str(bomb)], timeout=120, memory=1 << 30)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"the part {SHEET} grows from" in done.stderr
    assert "more than 200 times (a decompression bomb?)" in done.stderr
    _unchanged(ws_path, *before)


def test_workbook_beyond_the_uncompressed_cap_is_refused(tmp_path: Path, ws_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from oversight.importing import readers
    rows = b"".join(_row(n, f"OP-{n}", "2026-03-04T10:00:00Z", "consult")
                    for n in range(2, 2000))
    book = _workbook(tmp_path / "big.xlsx", SHEET_HEAD + _row(1, "record_id", "ts", "action")
                     + rows + SHEET_TAIL)
    monkeypatch.setattr(readers, "MAX_XLSX_UNCOMPRESSED", 200_000)
    code, _, err = run(["import", str(ws_path), str(book)])
    assert code == 2
    assert "bytes, more than the 200,000 bytes a workbook may hold" in err
    monkeypatch.undo()
    assert run(["import", str(ws_path), str(book)])[0] == 0


@pytest.mark.parametrize("damage", ["sheet-xml", "truncated-zip", "workbook-xml"])
def test_malformed_workbook_is_a_sentence(damage: str, tmp_path: Path, ws_path: Path) -> None:
    good = SHEET_HEAD + _row(1, "record_id", "ts", "action") + SHEET_TAIL
    if damage == "sheet-xml":
        book = _workbook(tmp_path / "bad.xlsx", good.replace(b"</row>", b"</rowx>"))
    elif damage == "truncated-zip":
        book = _workbook(tmp_path / "bad.xlsx", good)
        book.write_bytes(book.read_bytes()[:-40])
    else:
        import zipfile
        book = _workbook(tmp_path / "ok.xlsx", good)
        bad = tmp_path / "bad.xlsx"
        with zipfile.ZipFile(book) as zin, zipfile.ZipFile(bad, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename == "xl/workbook.xml":
                    data = data[: len(data) // 2]
                zout.writestr(info, data)
        book = bad
    before = _state(ws_path)
    code, _, err = run(["import", str(ws_path), str(book)])
    assert code == 2, err
    assert err.startswith(f"error: {book} is not a readable XLSX workbook")
    assert err.count("\n") == 1
    _unchanged(ws_path, *before)


def test_formula_cells_import_their_saved_value_and_uncached_ones_are_rejected(
        tmp_path: Path, ws_path: Path) -> None:
    def formula(ref: str, f: str, value: str | None, t: str = "") -> str:
        v = "" if value is None else f"<v>{value}</v>"
        return f'<c r="{ref}"{t}><f>{f}</f>{v}</c>'

    sheet = (SHEET_HEAD + _row(1, "record_id", "ts", "action", "Total")
             + _row(2, "OP-1", "2026-03-04T10:00:00Z", "consult",
                    extra="").replace(b"</row>", formula("D2", "1+2", "3").encode() + b"</row>")
             + _row(3, "OP-2", "2026-03-04T10:00:00Z", "consult").replace(
                 b"</row>", formula("D3", "1+2", None).encode() + b"</row>")
             + _row(4, "OP-3", "2026-03-04T10:00:00Z", "consult").replace(
                 b"</row>", formula("D4", "A4&amp;A4", "", ' t="str"').encode() + b"</row>")
             + _row(5, "OP-4", "2026-03-04T10:00:00Z", "consult").replace(
                 b"</row>", b'<c r="D5"><f>SUM(A1:A2)</f><v></v></c></row>')
             + SHEET_TAIL)
    book = _workbook(tmp_path / "f.xlsx", sheet)
    code, out, err = run(["import", str(ws_path), str(book), "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["rows_imported"], doc["rows_rejected"]) == (2, 2)
    rejects = {r["line"]: r for r in doc["sample_rejects"]}
    assert set(rejects) == {3, 5}
    assert rejects[3]["reason"].startswith("cell D3 ('Total') holds a formula with no saved "
                                           "result")
    assert rejects[3]["value"] == "=1+2" and rejects[5]["value"] == "=SUM(A1:A2)"
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        extra = dict(ws.conn.execute("SELECT record_id, extra FROM operations").fetchall())
    assert json.loads(extra["OP-1"])["Total"] == 3  # the saved result, not the formula
    assert "OP-3" in extra  # a formula whose saved result is empty text is kept as it is


# -- --out ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command, name", [("report", "review.pdf"), ("export", "review.csv")])
def test_out_naming_a_folder_is_refused_before_any_work(command: str, name: str,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / name
    folder.mkdir()
    # The workspace does not even exist: the refusal comes before it is opened.
    code, _, err = run([command, str(tmp_path / "no-workspace"), "--out", str(folder)])
    assert code == 2
    assert err.startswith(f"error: The {command} file {folder} is a folder; name a file")
    code, _, err = run([command, str(tmp_path / "no-workspace"), "--out", str(folder),
                        "--force"])
    assert code == 2 and "is a folder" in err


def test_export_refuses_an_existing_file_unless_forced(tmp_path: Path, ws_path: Path) -> None:
    out = write(tmp_path / "review.csv", "keep me\n")
    code, _, err = run(["export", str(ws_path), "--out", str(out)])
    assert code == 2
    assert f"The export file {out} already exists; give --force to replace it" in err
    assert out.read_text() == "keep me\n"
    code, _, err = run(["export", str(ws_path), "--out", str(out), "--force"])
    assert code == 0, err
    assert out.read_text(encoding="utf-8-sig").startswith("id,rule_id,severity")


def test_out_naming_a_symbolic_link_is_refused_even_forced(tmp_path: Path,
                                                           ws_path: Path) -> None:
    target = write(tmp_path / "elsewhere.csv", "untouched\n")
    link = tmp_path / "review.csv"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        code, _, err = run(["export", str(ws_path), "--out", str(link), *extra])
        assert code == 2 and f"The export file {link} is a symbolic link" in err
    assert link.is_symlink() and target.read_text() == "untouched\n"
    dangling = tmp_path / "r.pdf"
    dangling.symlink_to(tmp_path / "missing.pdf")
    code, _, err = run(["report", str(ws_path), "--out", str(dangling)])
    assert code == 2 and "is a symbolic link" in err
    assert not (tmp_path / "missing.pdf").exists()


def test_report_replaces_an_existing_file_only_with_force(tmp_path: Path, police_ws: Path
                                                          ) -> None:
    from oversight.workspace import Role
    ws_path = police_ws
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user("aude", Role.AUDITOR, "aude-password")
    assert run(["check", str(ws_path), "--criteria",
                str(ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml")])[0] == 0
    out = write(tmp_path / "review.pdf", "an older report")
    env = {"OVERSIGHT_USER": "aude", "OVERSIGHT_PASSWORD": "aude-password"}
    code, _, err = run(["report", str(ws_path), "--out", str(out)], **env)
    assert code == 2 and "already exists; give --force" in err
    assert out.read_text() == "an older report"
    code, _, err = run(["report", str(ws_path), "--out", str(out), "--force"], **env)
    assert code == 0, err
    assert out.read_bytes().startswith(b"%PDF-")


def test_services_refuse_a_folder_before_building(tmp_path: Path, ws_path: Path) -> None:
    """The GUI calls the services directly (its save dialog asks about replacing a file);
    a folder named like a report is still refused before the report is built."""
    from oversight.errors import UsageError
    from oversight.exports import export_findings
    (tmp_path / "r.csv").mkdir()
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws, \
            pytest.raises(UsageError, match="is a folder"):
        export_findings(ws, tmp_path / "r.csv")


# -- the workspace's own files ------------------------------------------------------------


def test_database_wal_and_shm_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, under which SQLite made them 0644
    try:
        with Workspace.create(tmp_path / "ws", ADMIN, ADMIN_PW) as ws:
            ws.conn.execute("SELECT count(*) FROM users").fetchone()
            files = [ws.db_path, Path(f"{ws.db_path}-wal"), Path(f"{ws.db_path}-shm")]
            assert all(f.exists() for f in files)
            modes = {f.name: oct(f.stat().st_mode & 0o777) for f in files}
    finally:
        os.umask(old)
    assert modes == {"workspace.db": "0o600", "workspace.db-wal": "0o600",
                     "workspace.db-shm": "0o600"}


def test_older_workspace_files_are_narrowed_when_opened(ws_path: Path) -> None:
    db_file = ws_path / "workspace.db"
    os.chmod(db_file, 0o644)
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.conn.execute("SELECT count(*) FROM users").fetchone()
        shm = Path(f"{db_file}-shm")
        assert oct(shm.stat().st_mode & 0o777) == "0o600"
    assert oct(db_file.stat().st_mode & 0o777) == "0o600"


def test_changed_workspace_id_in_keyslots_is_named_not_a_wrong_password(ws_path: Path
                                                                         ) -> None:
    slots_file = ws_path / "keyslots.json"
    doc = json.loads(slots_file.read_text())
    real = doc["workspace_id"]
    doc["workspace_id"] = "0" * 32
    slots_file.write_text(json.dumps(doc))
    code, _, err = run(["verify", str(ws_path)])
    assert code == 2
    assert "Wrong password" not in err
    assert (f"names workspace '{'0' * 32}', but the slot of user 'alice' was made for "
            f"workspace '{real}'") in err
    # A wrong password is still called so.
    doc["workspace_id"] = real
    slots_file.write_text(json.dumps(doc))
    code, _, err = run(["verify", str(ws_path)], OVERSIGHT_PASSWORD="not-the-password")
    assert code == 2 and "Wrong password for user 'alice'." in err
