"""Fuzzing the parsers that read what other people wrote (issue 9): the readers (CSV, JSON
Lines, JSON, XLSX bytes), the mapping-profile parser, the pack parser and the condition
parser, fed random and mutated inputs grown from the real files. Whatever comes in,
the only exception that may come out is the project's user error (OversightError and
its subclasses; ExprError for the bare condition parser, which packs turn into one),
and a failed import leaves the workspace exactly as it was (row counts, audit head).

Bounded for CI: each test draws a fixed number of examples (no deadline per example)."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ADMIN, ADMIN_PW, POLICE_UK, ROOT, counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oversight.criteria.engine import preview_hits
from oversight.criteria.expr import ExprError, Scope, parse
from oversight.criteria.pack import parse_pack
from oversight.criteria.sql import Compiler
from oversight.errors import OversightError, ValidationError
from oversight.importing import import_file
from oversight.importing.profile import parse_profile
from oversight.workspace import Workspace

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"
LED_PACK = ROOT / "oversight" / "packs" / "led-baseline.yaml"
#: The first 4 KiB of each real police.uk file, cut at a line end: the seeds.
CSV_SEEDS = [p.read_bytes()[:4096].rsplit(b"\n", 1)[0] + b"\n"
             for p in sorted(POLICE_UK.glob("*.csv"))]

#: Bytes that matter to one of the formats: quotes, separators, brackets, line ends,
#: encodings, YAML and condition syntax.
SPECIAL = [b"\x00", b'"', b"'", b",", b";", b"\t", b"\n", b"\r\n", b"\r", b"[", b"]", b"{",
           b"}", b":", b"\\", b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"&a ", b"*a", b"- ",
           b"`", b"(", b")", b"not ", b" or ", b" and ", b"matches", b'"(a+)+$"', b"{x}",
           b"!!python/object:os.system", b"<", b">", b"</row>", b"=SUM(A1)", b"1e999",
           b"-0", b"9" * 30, b"NaN", b"null", b"true", b"\xe2\x80\xae"]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with a few byte-level mutations: flips, inserted special bytes,
    deletions, duplicated stretches, truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(SPECIAL) | st.binary(max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 256))] * draw(st.integers(1, 4))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


def texts(seeds: list[bytes]) -> st.SearchStrategy[str]:
    """Mutated seeds as text (bad UTF-8 replaced), or any text at all."""
    return (mutated(seeds).map(lambda b: b.decode("utf-8", "replace"))
            | st.text(max_size=400))


# -- a workspace shared by the examples of a test -----------------------------------------


@pytest.fixture(scope="module")
def fuzz_ws(template_ws: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("fuzz") / "ws"
    shutil.copytree(template_ws, folder)
    with Workspace.open(folder, ADMIN, ADMIN_PW) as ws:
        import_file(ws, POLICE_UK / "2020-01-city-of-london-stop-and-search.csv",
                    profile_path=PROFILE)
        yield ws


def _head(ws: Workspace) -> tuple[int, str]:
    row = ws.conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
                          ).fetchone()
    return int(row[0]), str(row[1])


def _import_survives(ws: Workspace, folder: Path, name: str, data: bytes,
                     profile: Path | None = None) -> None:
    """Import ``data`` as file ``name``: it imports, or it fails with an OversightError and
    the workspace is unchanged."""
    path = folder / name
    path.write_bytes(data)
    before, head = counts(ws), _head(ws)
    try:
        result = import_file(ws, path, profile_path=profile, parallel=False)
    except OversightError:
        assert counts(ws) == before and _head(ws) == head
    else:
        after = counts(ws)
        if result.nothing_imported:  # every row rejected: nothing is written at all
            assert result.batch_id is None and result.rows_imported == 0
            assert after == before and _head(ws) == head
            return
        assert after["batches"] == before["batches"] + 1
        assert after["operations"] + after["authorisations"] + after["cases"] == (
            before["operations"] + before["authorisations"] + before["cases"]
            + result.rows_imported)
    finally:
        path.unlink()


# -- readers ---------------------------------------------------------------------------------


@FUZZ
@given(data=mutated(CSV_SEEDS))
def test_csv_reader_survives_mutated_police_files(fuzz_ws: Workspace,
                                                  tmp_path_factory: pytest.TempPathFactory,
                                                  data: bytes) -> None:
    folder = tmp_path_factory.mktemp("csv")
    _import_survives(fuzz_ws, folder, "stop-and-search.csv", data, PROFILE)
    _import_survives(fuzz_ws, folder, "stop-and-search.txt", data + b"\n")  # automatic


def _jsonl_seed() -> bytes:
    import csv
    import json
    rows = list(csv.DictReader(io.StringIO(CSV_SEEDS[0].decode("utf-8"))))
    return "".join(json.dumps({"record_id": f"R-{i}", "ts": r["Date"], "action": "search",
                               **r}) + "\n" for i, r in enumerate(rows)).encode()


JSONL_SEEDS = [_jsonl_seed()]
JSON_SEEDS = [b"[\n" + b",\n".join(JSONL_SEEDS[0].splitlines()) + b"\n]\n"]


@FUZZ
@given(data=mutated(JSONL_SEEDS) | st.binary(max_size=300))
def test_jsonl_reader_survives_mutations(fuzz_ws: Workspace,
                                         tmp_path_factory: pytest.TempPathFactory,
                                         data: bytes) -> None:
    _import_survives(fuzz_ws, tmp_path_factory.mktemp("jsonl"), "log.jsonl", data)


@FUZZ
@given(data=mutated(JSON_SEEDS) | st.binary(max_size=300))
def test_json_array_reader_survives_mutations(fuzz_ws: Workspace,
                                              tmp_path_factory: pytest.TempPathFactory,
                                              data: bytes) -> None:
    _import_survives(fuzz_ws, tmp_path_factory.mktemp("json"), "log.json", data)


def _xlsx_seed() -> bytes:
    import csv

    from openpyxl import Workbook
    wb = Workbook()
    sheet = wb.active
    for i, row in enumerate(csv.reader(io.StringIO(CSV_SEEDS[0].decode("utf-8")))):
        sheet.append([f"R-{i}", *row, f"=LEN(B{i + 1})"] if i
                     else ["record_id", *row, "Length"])
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl saves formulas without a result; give them one, as a spreadsheet would.
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b"</f><v></v>" in data
                data = data.replace(b"</f><v></v>", b"</f><v>5</v>")
            zout.writestr(info.filename, data)
    return out.getvalue()


XLSX_SEED = _xlsx_seed()
with zipfile.ZipFile(io.BytesIO(XLSX_SEED)) as _z:
    XLSX_PARTS = {i.filename: _z.read(i.filename) for i in _z.infolist()}


@st.composite
def mutated_workbooks(draw: st.DrawFn) -> bytes:
    """A real workbook with one part's XML mutated (then zipped properly), or with the
    zip bytes themselves mutated."""
    if draw(st.booleans()):
        return draw(mutated([XLSX_SEED]))
    name = draw(st.sampled_from(sorted(XLSX_PARTS)))
    part = draw(mutated([XLSX_PARTS[name]]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for other, content in XLSX_PARTS.items():
            z.writestr(other, part if other == name else content)
    return buf.getvalue()


@pytest.mark.slow
@settings(FUZZ, max_examples=60)
@given(data=mutated_workbooks())
def test_xlsx_reader_survives_mutated_workbooks(fuzz_ws: Workspace,
                                                tmp_path_factory: pytest.TempPathFactory,
                                                data: bytes) -> None:
    _import_survives(fuzz_ws, tmp_path_factory.mktemp("xlsx"), "log.xlsx", data)


def test_the_seeds_themselves_import(admin_ws: Workspace, tmp_path: Path) -> None:
    """The mutations start from inputs that work, so what breaks is the mutation."""
    for name, data in (("seed.jsonl", JSONL_SEEDS[0]), ("seed.json", JSON_SEEDS[0]),
                       ("seed.xlsx", XLSX_SEED)):
        path = tmp_path / name
        path.write_bytes(data)
        assert import_file(admin_ws, path).rows_imported > 0


# -- profiles, packs, conditions ---------------------------------------------------------


@FUZZ
@given(text=texts([PROFILE.read_bytes()]))
def test_profile_parser_raises_only_user_errors(text: str) -> None:
    try:
        profile = parse_profile(text, "fuzzed.yaml")
    except ValidationError as exc:
        assert exc.issues and all(i.file == "fuzzed.yaml" and i.message for i in exc.issues)
    except OversightError as exc:
        assert "fuzzed.yaml" in exc.message
    else:
        assert profile.source_text == text and profile.fields


@FUZZ
@given(text=texts([LED_PACK.read_bytes(), POLICE_PACK.read_bytes()]))
def test_pack_parser_raises_only_user_errors(text: str) -> None:
    try:
        pack = parse_pack(text, "fuzzed.yaml")
    except ValidationError as exc:
        assert exc.issues and all(i.file == "fuzzed.yaml" and i.message for i in exc.issues)
    else:
        assert pack.rules and pack.source == text


def _conditions() -> list[bytes]:
    import yaml
    out = []
    for path in (LED_PACK, POLICE_PACK):
        for rule in yaml.safe_load(path.read_text())["rules"]:
            if "when" in rule:
                out.append(rule["when"].encode())
            out += [a["records"].encode() for a in rule.get("aggregates", [])
                    if "records" in a]
    return out


CONDITIONS = _conditions()
TOKENS = ["action", "ts", "actor_id", "subject_ids", "`Legislation`", "`Type`",
          "authorisation.found", "authorisation.valid_to", "case.offence", '"x"', "3",
          "-2.5", "(", ")", ",", "[", "]", "=", "!=", "<", ">=", "+", "-", "and", "or",
          "not", "in", "contains", "intersects", "within", "starts_with", "matches",
          "blank(", "present(", "lower(", "count(", "days(", "coalesce(", "true",
          '"(a+)+$"', '"["', "log_actions", "led_area"]


@FUZZ
@given(text=(mutated(CONDITIONS).map(lambda b: b.decode("utf-8", "replace"))
             | st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)
             | st.text(max_size=200)))
def test_condition_parser_raises_only_expr_errors_and_compiles(text: str) -> None:
    scope = Scope(parameters={"limit": 3}, lists={"log_actions": ("consult",),
                                                   "led_area": ("AT", "BE")})
    try:
        node = parse(text, scope)
    except ExprError as exc:
        assert 0 <= exc.offset <= len(text) and exc.message
        return
    comp = Compiler()
    assert comp.cond(node)  # whatever parses compiles


def _rule_pack(condition: str) -> str:
    return ('pack: fuzz\nversion: "1"\ntitle: Fuzz\nlists:\n  log_actions: [consult]\n'
            "rules:\n  - id: F-1\n    title: fuzzed\n    severity: low\n"
            '    legal_refs: ["test"]\n    rationale: fuzz\n    when: |-\n      '
            + condition.replace("\n", " ") + "\n    message: hit\n")


@settings(FUZZ, max_examples=30)
@given(text=(mutated(CONDITIONS).map(lambda b: b.decode("utf-8", "replace"))
             | st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join)))
def test_a_condition_that_validates_also_runs(fuzz_ws: Workspace, text: str) -> None:
    """What validation accepts, detection runs (on the police records) without an error:
    "validate passes, check fails" was one of the reported cases."""
    try:
        pack = parse_pack(_rule_pack(text), "fuzz.yaml")
    except OversightError:
        return
    preview_hits(fuzz_ws, pack)
