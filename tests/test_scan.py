"""`oversight scan`: the criteria run by DuckDB over files in place give what import and
check give, and bad input leaves the workspace as it was."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW
from tools import require

from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack, load_pack, parse_pack
from oversight.demo_data import generate
from oversight.errors import Cancelled, InputFileError, UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing.service import import_file
from oversight.integrity import verify
from oversight.progress import CancelToken
from oversight.records import Kind
from oversight.scan import scan
from oversight.triage import mark
from oversight.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
POLICE_UK = ROOT / "tests" / "data" / "police-uk"
POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"
POLICE_PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
#: Log-completeness rules read every row of a batch; the scan reports them not evaluated.
COMPLETENESS = {"DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    files = generate(folder, operations=2500, seed=11)
    parquet = folder / "parquet" / "operations.parquet"
    parquet.parent.mkdir()
    con = duckdb.connect()
    # Every column as text, as the CSV holds it (the typed case is not the demo's).
    con.execute(f"COPY (SELECT * FROM read_csv('{files.operations}', all_varchar=true, "
                f"header=true)) TO '{parquet}' (FORMAT parquet)")
    jsonl = folder / "operations.jsonl"
    con.execute(f"COPY (SELECT * FROM read_csv('{files.operations}', all_varchar=true, "
                f"header=true)) TO '{jsonl}' (FORMAT json)")
    con.close()
    return {"csv": files.operations, "parquet": parquet, "jsonl": jsonl,
            "cases": files.cases,
            "authorisations": files.authorisations}


def _registers(ws: Workspace, demo: dict[str, Path]) -> None:
    import_file(ws, demo["cases"], Kind.CASES)
    import_file(ws, demo["authorisations"], Kind.AUTHORISATIONS)


def _by_rule(ws: Workspace, with_ids: bool) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for f in list_findings(ws):
        key = (f["record_ids"], json.dumps(f["facts"], sort_keys=True), f["message"])
        out.setdefault(f["rule_id"], []).append((f["id"], *key) if with_ids else key)
    return {k: sorted(v) for k, v in out.items()}


def _fresh(tmp_path: Path, name: str) -> Workspace:
    return Workspace.create(tmp_path / name, ADMIN, ADMIN_PW)


@pytest.fixture(scope="module")
def checked(demo: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, list[tuple[Any, ...]]]:
    """The demo imported and checked: what the scan must reproduce."""
    with _fresh(tmp_path_factory.mktemp("checked"), "ws") as ws:
        _registers(ws, demo)
        import_file(ws, demo["csv"], Kind.OPERATIONS)
        run_detection(ws, default_pack())
        return _by_rule(ws, with_ids=True)


def test_scan_of_the_csv_gives_the_findings_and_ids_of_import_and_check(
        demo: dict[str, Path], checked: dict[str, list[tuple[Any, ...]]],
        tmp_path: Path, engine: str) -> None:
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        result = scan(ws, [str(demo["csv"])], default_pack(), engine=engine)
        scanned = _by_rule(ws, with_ids=True)
        report = verify(ws)
        (event,) = [json.loads(p) for (p,) in ws.conn.execute(
            "SELECT payload FROM audit_events WHERE action = 'batch.scan'")]
        ops = int(ws.conn.execute("SELECT count(*) FROM operations").fetchone()[0])
        # A later check cannot judge the completeness of a log it holds only part of.
        later = {r.rule_id: r for r in run_detection(ws, default_pack()).rules}
        assert _by_rule(ws, with_ids=True) == scanned
    assert set(result.not_evaluated) == COMPLETENESS
    for rule in COMPLETENESS:
        assert not later[rule].evaluated
        assert "only records cited by scans" in str(later[rule].reason)
    assert all("log completeness" in why for why in result.not_evaluated.values())
    expected = {rule: hits for rule, hits in checked.items() if rule not in COMPLETENESS}
    assert len(expected) >= 15  # the demo plants hits of almost every rule
    for rule in sorted(set(expected) | set(scanned)):
        assert scanned.get(rule) == expected.get(rule), rule
    # Only the cited records came back, with the whole file's provenance.
    cited = {rid for hits in expected.values() for h in hits for rid in h[1]}
    assert ops == len(cited) < 2500
    (f,) = result.files
    assert f.rows_read == 2500 and f.cited == len(cited)
    assert f.sha256 is not None and len(f.sha256) == 64
    assert report.ok, report.problems
    # The stored scan names the engine that ran the rules, and its version.
    version = duckdb.__version__ if engine == "duckdb" else _spark_version()
    assert (result.engine, result.engine_version) == (engine, version)
    assert (event["engine"], event["engine_version"]) == (engine, version)
    assert event["not_evaluated"] == result.not_evaluated


def _spark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


# Spark reads Parquet here (JSON Lines goes through the same profile code; the Spark
# suite leaves it out to stay within minutes).
@pytest.mark.parametrize(("engine", "fmt"), [
    ("duckdb", "parquet"), ("duckdb", "jsonl"),
    pytest.param("spark", "parquet", marks=pytest.mark.spark)])
def test_scan_of_parquet_and_json_lines_gives_the_same_findings(
        demo: dict[str, Path], checked: dict[str, list[tuple[Any, ...]]],
        tmp_path: Path, fmt: str, engine: str, request: pytest.FixtureRequest) -> None:
    if engine == "spark":
        request.getfixturevalue("spark_session")
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        # The Parquet file is scanned by naming its folder (every file in it).
        source = demo[fmt].parent if fmt == "parquet" else demo[fmt]
        result = scan(ws, [str(source)], default_pack(), engine=engine)
        scanned = _by_rule(ws, with_ids=False)
        assert verify(ws).ok
    assert result.files[0].format == fmt and result.files[0].rows_read == 2500
    expected = {rule: sorted(h[1:] for h in hits) for rule, hits in checked.items()
                if rule not in COMPLETENESS}
    for rule in sorted(set(expected) | set(scanned)):
        assert scanned.get(rule) == expected.get(rule), rule


def test_each_rule_scanned_alone_keeps_only_its_columns_and_finds_the_same(
        demo: dict[str, Path], checked: dict[str, list[tuple[Any, ...]]],
        tmp_path: Path) -> None:
    """The scan keeps only the mapped columns the selected rules read: a rule run
    alone must still find what the whole pack's check found for it (a column the
    narrowing forgot would make DuckDB refuse the rule, or change what it finds)."""
    pack = default_pack()
    ids = [r.id for r in pack.rules if r.id not in COMPLETENESS]
    with _fresh(tmp_path, "registers") as ws:
        _registers(ws, demo)
    for i, rule in enumerate(ids):
        shutil.copytree(tmp_path / "registers", tmp_path / f"ws{i}")
        with Workspace.open(tmp_path / f"ws{i}", ADMIN, ADMIN_PW) as ws:
            result = scan(ws, [str(demo["parquet"])], pack, rule_ids=[rule])
            scanned = _by_rule(ws, with_ids=False)
        assert not result.not_evaluated, (rule, result.not_evaluated)
        expected = sorted(h[1:] for h in checked.get(rule, []))
        assert scanned.get(rule, []) == expected, rule


def test_police_uk_pack_scanned_equals_imported_and_checked(tmp_path: Path,
                                                            engine: str) -> None:
    files = sorted(POLICE_UK.glob("*.csv"))
    pack = load_pack(POLICE_PACK)
    with _fresh(tmp_path, "a") as ws:
        for path in files:
            import_file(ws, path, profile_path=POLICE_PROFILE)
        run_detection(ws, pack)
        expected = _by_rule(ws, with_ids=True)
    with _fresh(tmp_path, "b") as ws:
        result = scan(ws, [str(POLICE_UK / "2020-01-*.csv")], pack,
                      profile_path=POLICE_PROFILE, engine=engine)
        scanned = _by_rule(ws, with_ids=True)
        assert verify(ws).ok
    assert sum(f.rows_read for f in result.files) == 5903
    assert not result.not_evaluated
    assert expected and set(expected) == set(scanned)
    for rule in expected:
        assert scanned[rule] == expected[rule], rule


def test_rescan_keeps_decisions_and_adds_no_batch(demo: dict[str, Path],
                                                   inspector_ws: Workspace) -> None:
    with inspector_ws as ws:
        _registers(ws, demo)
        scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01", "PRO-02"])
        first = list_findings(ws, FindingFilters(rule="LOG-01"))[0]["id"]
        mark(ws, [first], "dismissed", reason="false_positive", note="known test account")
        batches = ws.conn.execute("SELECT count(*) FROM batches").fetchone()[0]
        again = scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01", "PRO-02"])
        after = {f["id"]: f for f in list_findings(ws)}
        assert ws.conn.execute("SELECT count(*) FROM batches").fetchone()[0] == batches
        assert verify(ws).ok
    assert after[first]["status"] != "open"
    assert again.run is not None and all(r.new == 0 for r in again.run.rules)


PROFILE = """\
kind: operations
timezone: Europe/London
missing: ["", "N/A"]
record_id: Ref
fields:
  ts: {columns: [Day, Clock], format: "%d/%m/%Y %H:%M:%S.%f"}
  action: {column: What, map: {Q: consult, T: transfer}}
  actor_id: Who
  agency: {value: GB-MET}
  subject_ids: {column: Subjects, split: "|"}
  urgent: Urgent
  recipient_country: Country
  records_count: N
"""

ROWS = [
    # Ref, Day, Clock, What, Who, Subjects, Urgent, Country, N
    ("R1", "28/03/2026", "23:59:59.5", "Q", "u1", "P-1| P-2", "yes", "gb", "3"),
    ("R2", "29/03/2026", "00:30:00.000001", "Q", "u1", "P-1", "no", "N/A", "4.0"),
    ("R3", "29/03/2026", "02:30:00.0", "T", "u2", "P-3", "0", "FR", "1"),  # after the gap
    ("R4", "25/10/2026", "01:30:00.25", "T", "N/A", "", "1", "DE", ""),  # the overlap
    # Who and a subject in Unicode's decomposed form (an O or u and a combining
    # diaeresis, as macOS may write them): stored composed, as the rule writes them.
    ("R5", "25/10/2026", "02:30:00.0", "Q", "u\u03083", "P-2|P-2|P-O\u0308", "", "", "12"),
    ("R6", "29/03/2026", "01:30:00.0", "Q", "u3", "P-9", "no", "GB", "1"),  # in the gap
    ("R7", "30/03/2026", "09:00:00.0", "Q", "u3", "P-9", "maybe", "GB", "1"),  # bad bool
]

PACK = """\
pack: features
version: "1"
title: Profile features
rules:
  - id: ALL
    legal_refs: ["test"]
    rationale: a test of the profile features
    title: every record
    severity: low
    when: present(action) or blank(action)
    message: "{record_id}"
  - id: NIGHT
    legal_refs: ["test"]
    rationale: a test of the profile features
    title: local time
    severity: low
    when: local_time(ts) < "02:00:00" and local_date(ts) >= "2026-03-29"
    message: "{record_id} {ts}"
  - id: FLAGS
    legal_refs: ["test"]
    rationale: a test of the profile features
    title: flags, lists and countries
    severity: low
    when: >
      (urgent and "P-2" in subject_ids) or recipient_country == "FR"
      or blank(actor_id) or records_count > 3 or count(subject_ids) == 1
    message: "{record_id}"
  - id: SAME
    legal_refs: ["test"]
    rationale: a test of the profile features
    title: text in another Unicode form
    severity: low
    when: actor_id == "\u00fc3" and "P-\u00d6" in subject_ids
    message: "{record_id} {actor_id}"
"""


def test_profile_features_compiled_to_the_engine_match_the_import(tmp_path: Path,
                                                                  engine: str) -> None:
    csv = tmp_path / "log.csv"
    lines = ["Ref,Day,Clock,What,Who,Subjects,Urgent,Country,N"]
    lines += [",".join(r) for r in ROWS]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    pack = parse_pack(PACK, "features.yaml")
    columns = ("record_id, ts, ts_utc, action, actor_id, agency, subject_ids, urgent,"
               " recipient_country, records_count, extra")
    with _fresh(tmp_path, "a") as ws:
        imported = import_file(ws, csv, profile_path=profile)
        run_detection(ws, pack)
        want_rows = ws.conn.execute(f"SELECT {columns} FROM operations ORDER BY line"
                                    ).fetchall()
        want = _by_rule(ws, with_ids=True)
    with _fresh(tmp_path, "b") as ws:
        result = scan(ws, [str(csv)], pack, profile_path=profile, engine=engine)
        got_rows = ws.conn.execute(f"SELECT {columns} FROM operations ORDER BY line"
                                   ).fetchall()
        got = _by_rule(ws, with_ids=True)
        rejected = [r["line"] for r in result.rejects]
    assert imported.rows_rejected == 2 and result.files[0].rows_rejected == 2
    assert rejected == [7, 8]  # the time in the spring gap, the word 'maybe'
    assert "does not exist" in result.rejects[0]["reason"]
    assert got_rows == want_rows and len(got_rows) == 5
    # The autumn overlap takes the earlier offset (+01:00), as the import does.
    assert want_rows[3][1] == "2026-10-25T01:30:00.250000+01:00"
    assert got == want and set(got) == {"ALL", "NIGHT", "FLAGS", "SAME"}
    assert [h[1] for h in got["SAME"]] == [["R5"]]



def test_a_cited_row_whose_record_id_the_converter_finds_blank_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine keeps a row whose record id its SQL finds written; the import's own
    converter, run again on the cited rows, must agree. If it found the id blank, one
    such record was stored under the id "None" (str(None)) and a second stopped the
    scan on the table's unique key; now the scan stops with the file and line, and
    writes nothing."""
    from oversight.importing import convert

    csv = tmp_path / "log.csv"
    lines = ["Ref,Day,Clock,What,Who,Subjects,Urgent,Country,N"]
    lines += [",".join(r) for r in ROWS[:3]]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    profile = tmp_path / "profile.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    monkeypatch.setattr(convert, "_id_text", lambda get: lambda row: None)
    ws_path = tmp_path / "ws"
    _fresh(tmp_path, "ws").close()
    before = _state(ws_path)
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws, \
            pytest.raises(InputFileError) as caught:
        scan(ws, [str(csv)], parse_pack(PACK, "features.yaml"), rule_ids=["ALL"],
             profile_path=profile)
    assert f"{csv}, line 2:" in caught.value.message
    assert "finds it blank; nothing was written" in caught.value.message
    assert _state(ws_path) == before


# -- bad input: one sentence, exit 2, the workspace unchanged ------------------------------


def _state(path: Path) -> tuple[int, ...]:
    with Workspace.open(path, ADMIN, ADMIN_PW) as ws:
        return tuple(int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                     for t in ("batches", "operations", "findings", "audit_events", "runs"))


def _cli(args: list[str]) -> Any:
    env = {"OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}
    return CliRunner().invoke(main, args, env=env)


def _bad_cases(tmp_path: Path, demo: dict[str, Path]) -> list[tuple[list[str], str]]:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet at all")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(demo["parquet"], other / "a.parquet")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS record_id, 'x' AS ts, 'y' AS colour) TO "
                f"'{other / 'b.parquet'}' (FORMAT parquet)")
    con.close()
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(demo["csv"].read_text(encoding="utf-8") + "a,b,c,d,e,f,g,h,i,j,k,l,m,n,"
                      "o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f\n", encoding="utf-8")
    lacks = tmp_path / "lacks.csv"
    lacks.write_text("record_id,ts,action\nOP-1,2026-01-01T00:00:00+00:00,consult\n",
                     encoding="utf-8")
    profile = tmp_path / "p.yaml"
    profile.write_text("kind: operations\nfields:\n  ts: ts\n  action: action\n"
                       "  actor_id: Officer\nrecord_id: record_id\n", encoding="utf-8")
    return [
        ([str(tmp_path / "nothing-*.csv")], "matches no file"),
        ([str(broken)], "cannot read it as PARQUET"),
        # A CSV row with more cells than its header.
        ([str(ragged), "--rule", "LOG-01"], "cannot read"),
        ([str(lacks), "--mapping", str(profile)], "'Officer'"),
        ([str(other)], "differ from those of"),
    ]


def test_bad_input_says_one_sentence_exits_2_and_writes_nothing(
        demo: dict[str, Path], ws_path: Path, tmp_path: Path, engine: str) -> None:
    before = _state(ws_path)
    for args, words in _bad_cases(tmp_path, demo):
        res = _cli(["scan", str(ws_path), *args, "--engine", engine])
        assert res.exit_code == 2, (args, res.output)
        message = res.output.strip()
        assert words in message, (args, message)
        assert message.count("\n") == 0, message
        assert _state(ws_path) == before


def test_spill_folder_is_private_and_removed_on_every_exit(
        demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, int]] = []
    real = tempfile.mkdtemp

    def spy(*args: Any, **kwargs: Any) -> str:
        path: str = real(*args, **kwargs)
        made.append((path, os.stat(path).st_mode & 0o777))
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", spy)  # the module oversight.scan calls
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01"],
             memory_limit="200MB", threads=1)
        empty = tmp_path / "empty.csv"
        empty.write_text("record_id,ts,action\n", encoding="utf-8")
        with pytest.raises(InputFileError, match="holds no records"):
            scan(ws, [str(empty)], default_pack())
    assert len(made) == 2
    for path, mode in made:
        assert mode == 0o700
        assert not Path(path).exists()


def test_only_log_rows_go_to_the_file_and_registers_stay_in_memory(
        demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapped log rows live in a DuckDB file in the private folder (so DuckDB can move
    them out of memory under the limit); the registers shipped from the encrypted
    workspace stay in DuckDB's memory. Looked at while the rules run."""
    import oversight.scan as scan_module

    cons: list[duckdb.DuckDBPyConnection] = []
    real_duck = scan_module._duck

    def capturing(*args: Any, **kwargs: Any) -> Any:
        cm = real_duck(*args, **kwargs)

        class Spy:
            def __enter__(self) -> duckdb.DuckDBPyConnection:
                con = cm.__enter__()
                cons.append(con)
                return con

            def __exit__(self, *exc: Any) -> Any:
                return cm.__exit__(*exc)
        return Spy()

    seen: dict[str, Any] = {}

    def progress(done: int, total: int, what: str) -> None:
        if what == "LOG-01" and not seen:
            con = cons[0]
            seen["tables"] = {(str(db), str(name)) for db, name in con.execute(
                "SELECT database_name, table_name FROM duckdb_tables()").fetchall()}
            seen["files"] = {str(db): path for db, path in con.execute(
                "SELECT database_name, path FROM duckdb_databases()").fetchall()}

    monkeypatch.setattr(scan_module, "_duck", capturing)
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01"], progress=progress)
    tables = seen["tables"]
    assert ("logs", "o_all") in tables and ("logs", "raw_0") in tables
    assert {name for db, name in tables if db != "logs"} >= {"reg_authorisations",
                                                             "reg_cases", "batch_times"}
    assert not {name for db, name in tables if db == "logs"} - {"o_all", "raw_0"}
    assert seen["files"]["memory"] is None  # the registers' database has no file
    logs = Path(seen["files"]["logs"])
    assert logs.parent.name.startswith("oversight-scan-") and not logs.parent.exists()


def test_registers_shipped_in_slices_give_the_same_findings(
        demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registers go to DuckDB a slice at a time (a whole register in one statement
    took over a gigabyte): slices of 7 rows find exactly what one slice finds."""
    import oversight.scan as scan_module

    rules = ["AUT-01", "AUT-02", "AUT-03", "AUT-04", "PUR-01"]
    found = {}
    inserts: list[int] = []
    real_insert = scan_module._insert

    def counted(con: Any, table: str, types: Any, rows: Any) -> None:
        if table.startswith("reg_"):
            inserts.append(len(rows))
        real_insert(con, table, types, rows)

    monkeypatch.setattr(scan_module, "_insert", counted)
    for name, size in (("whole", 10**9), ("slices", 7)):
        monkeypatch.setattr(scan_module, "_INSERT_ROWS", size)
        inserts.clear()
        with _fresh(tmp_path, name) as ws:
            _registers(ws, demo)
            registered = sum(int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                             for t in ("authorisations", "cases"))
            scan(ws, [str(demo["csv"])], default_pack(), rule_ids=rules)
            found[name] = _by_rule(ws, with_ids=True)
        assert sum(inserts) == registered  # every register row shipped, once
        assert max(inserts) <= size
    assert len(inserts) >= registered // 7  # really in slices
    assert found["slices"] == found["whole"]
    assert found["whole"].get("AUT-01") and found["whole"].get("AUT-02")


def test_no_hash_states_it_and_still_finds(demo: dict[str, Path], tmp_path: Path) -> None:
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        res = _cli_json(ws, demo)
    (f,) = res["files"]
    assert f["sha256"] == "not computed"
    assert res["run"]["hits"] > 0


def _cli_json(ws: Workspace, demo: dict[str, Path]) -> dict[str, Any]:
    path = ws.folder
    ws.close()
    res = _cli(["scan", str(path), str(demo["csv"]), "--no-hash", "--rule", "LOG-01",
                "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.output)
    return doc


def test_cancel_during_the_rules_writes_nothing(demo: dict[str, Path], tmp_path: Path,
                                                engine: str) -> None:
    token = CancelToken()
    seen: list[str] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append(what)
        if what == "PRO-01":
            token.cancel()

    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        before = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                  for t in ("batches", "operations", "findings", "audit_events")]
        with pytest.raises(Cancelled):
            scan(ws, [str(demo["csv"])], default_pack(), progress=progress, cancel=token,
                 engine=engine)
        after = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                 for t in ("batches", "operations", "findings", "audit_events")]
    assert "PRO-01" in seen
    assert after == before


def _private_tmp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder of its own for the scan's working folder, and the environment of a CLI
    child that uses it (signed in as the admin)."""
    private = tmp_path / "tmp"
    private.mkdir()
    return private, dict(os.environ, OVERSIGHT_USER=ADMIN, OVERSIGHT_PASSWORD=ADMIN_PW,
                         TMPDIR=str(private))


def test_sigterm_mid_scan_removes_the_spill_folder_and_writes_nothing(
        demo: dict[str, Path], ws_path: Path, tmp_path: Path) -> None:
    big = _big_csv(demo, tmp_path, 200)
    before = _state(ws_path)
    private, env = _private_tmp(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "oversight.cli", "scan", str(ws_path),
                             str(big), "--no-hash"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(private.glob("oversight-scan-*")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)  # a subprocess, not a GUI: nothing to wait on but the folder
    assert proc.poll() is None, "the scan ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert list(private.iterdir()) == []
    assert _state(ws_path) == before


_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, EFBIG
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from oversight.cli import main
sys.argv[0] = "oversight"
main()
"""


def test_a_full_working_folder_is_one_sentence_and_writes_nothing(
        demo: dict[str, Path], ws_path: Path, tmp_path: Path) -> None:
    """The scan keeps the mapped rows in a DuckDB file in its folder: when that cannot
    be written (a full disk; here a file size limit of 1 MB), the user reads that and
    what to do, not that the files cannot be read; the folder is gone, nothing written."""
    before = _state(ws_path)
    private, env = _private_tmp(tmp_path)
    res = subprocess.run([sys.executable, "-c", _LIMITED, str(1 << 20), "scan", str(ws_path),
                          str(demo["csv"]), "--no-hash"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    message = res.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    assert "could not write to the scan's working folder" in message, message
    assert "set TMPDIR to a folder on a larger disk" in message
    assert "cannot read the files" not in message
    assert list(private.iterdir()) == []
    assert _state(ws_path) == before


def test_a_full_working_folder_while_the_rules_run_stops_the_scan(
        demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A windowed rule may spill into the working folder: when that fails for want of
    space, the scan stops with the same sentence, rather than calling the rule "not
    evaluated" and storing a scan that looks whole; nothing is written."""
    import oversight.scan as scan_module

    real = scan_module._rule_rows

    def spills(eng: Any, rule: Any, extra: Any) -> set[int]:
        if rule.id == "PRO-01":
            raise duckdb.IOException('Could not write file "/tmp/oversight-scan-x/duckdb_temp'
                                     '_storage-0.tmp": No space left on device')
        return real(eng, rule, extra)

    monkeypatch.setattr(scan_module, "_rule_rows", spills)
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        before = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                  for t in ("batches", "operations", "findings", "audit_events")]
        with pytest.raises(UsageError, match="could not write to the scan's working folder"):
            scan(ws, [str(demo["csv"])], default_pack())
        after = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                 for t in ("batches", "operations", "findings", "audit_events")]
    assert after == before


def test_a_signal_that_lands_inside_a_duckdb_query_is_an_interruption_not_a_fault(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB reports a KeyboardInterrupt raised mid-query as RuntimeError('Query
    interrupted'); the scan must still end as interrupted (exit 130), spill folder gone."""
    from oversight.scan import _duck

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, stop)
    try:
        with pytest.raises(KeyboardInterrupt), _duck("1GB", 1) as con:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            con.execute("SELECT count(*) FROM range(100000000000) a, range(10) b").fetchall()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not list(tmp_path.glob("oversight-scan-*"))


def _big_csv(demo: dict[str, Path], folder: Path, copies: int) -> Path:
    """The demo operations ``copies`` times over (record ids kept unique)."""
    big = folder / "big.csv"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (record_id || '.' || k AS record_id) FROM "
                f"read_csv('{demo['csv']}', all_varchar=true, header=true), "
                f"(SELECT range AS k FROM range({copies}))) TO '{big}' (HEADER true)")
    con.close()
    return big


def test_cancel_stops_the_running_duckdb_query(demo: dict[str, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A Cancel from another thread (the GUI's) interrupts the query DuckDB is running
    (here: reading and mapping the whole file), instead of waiting for it to end: the
    scan never reaches the rules, ends as Cancelled, and writes nothing."""
    big = _big_csv(demo, tmp_path, 200)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    token = CancelToken()
    reading = threading.Event()
    seen: list[str] = []
    outcome: list[BaseException | None] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append(what)
        if what.startswith("reading"):
            reading.set()

    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        before = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                  for t in ("batches", "operations", "findings", "audit_events", "runs")]

        def work() -> None:
            try:
                scan(ws, [str(big)], default_pack(), hash_files=False, threads=1,
                     progress=progress, cancel=token)
            except BaseException as exc:  # handed to the test's thread
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(target=work)
        worker.start()
        assert reading.wait(120), "the scan never started reading"
        token.cancel()
        worker.join(timeout=60)
        assert not worker.is_alive(), "the scan did not stop after Cancel"
        after = [int(ws.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                 for t in ("batches", "operations", "findings", "audit_events", "runs")]
    (error,) = outcome
    assert isinstance(error, Cancelled), error
    assert error.message == "Scan cancelled; nothing was written."
    # Stopped inside the long query, not at the next stage.
    assert "rules" not in seen, seen
    assert after == before
    assert not list(tmp_path.glob("oversight-scan-*"))


def test_the_signed_report_states_the_scans_in_its_scope(
        demo: dict[str, Path], tmp_path: Path) -> None:
    """The scope section says what was scanned in place, by which engine and version,
    and whether the files were hashed; a batch scanned without hashing shows no digest."""
    pdftotext = require("pdftotext")
    from oversight.report.service import SignOptions, produce_report
    from oversight.report.sign import create_selfsigned
    from oversight.scans import scans
    from oversight.workspace import Role

    p12 = create_selfsigned("Ada Auditor", tmp_path / "signer.p12", b"pw")
    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        hashed = scan(ws, [str(demo["csv"])], default_pack())
        unhashed = scan(ws, [str(demo["parquet"])], default_pack(), hash_files=False)
        ws.add_user("ada", Role.AUDITOR, ADMIN_PW)
        found = scans(ws)
    assert [s.hashes for s in found] == ["computed", "not computed"]
    (parquet,) = unhashed.files
    assert found[1].files[0].batch_id == parquet.batch_id and found[1].files[0].sha256 is None
    out = tmp_path / "report.pdf"
    with Workspace.open(tmp_path / "ws", "ada", ADMIN_PW) as ws:
        produce_report(ws, out, sign=SignOptions(p12, b"pw"))
    text = " ".join(subprocess.run([pdftotext, "-enc", "UTF-8", str(out), "-"],
                                   capture_output=True, check=True).stdout.decode().split())
    version = duckdb.__version__
    assert hashed.engine_version == version
    assert (f"1 file, 2,500 rows scanned in place by DuckDB {version}; hashes: computed"
            in text), text
    assert (f"1 file, 2,500 rows scanned in place by DuckDB {version}; hashes: not "
            "computed" in text), text
    assert "operations, scanned in place" in text
    assert "SHA-256 not computed (scanned without hashing)" in text
    assert hashed.files[0].sha256 is not None and hashed.files[0].sha256 in text
    assert "unhashed-" not in text
    # What the scan could not evaluate is stated with it (its run never names them).
    for rule, why in unhashed.not_evaluated.items():
        assert f"{rule}: {' '.join(why.split())}" in text
    assert "Rules this scan did not evaluate" in text


def test_scan_provenance_is_read_back_from_the_audit_trail(
        demo: dict[str, Path], tmp_path: Path) -> None:
    """oversight.scans reads what each scan recorded: engine, version, every file with
    its size, time, digest, rows and batch; a re-scan is a newer scan of the same batch;
    a scan whose batches are retracted leaves the list (unless asked for)."""
    from oversight.retraction import retract_batch
    from oversight.scans import batch_scans, scans, summary_line

    with _fresh(tmp_path, "ws") as ws:
        _registers(ws, demo)
        assert scans(ws) == []
        first = scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01"])
        again = scan(ws, [str(demo["csv"])], default_pack(), rule_ids=["LOG-01"])
        (f,) = first.files
        assert again.files[0].batch_id == f.batch_id and f.batch_id is not None
        found = scans(ws)
        by_batch = batch_scans(ws)
        retract_batch(ws, f.batch_id, "scanned the wrong month")
        after = scans(ws)
        kept = scans(ws, include_retracted=True)
    assert len(found) == 2 and found[0].seq < found[1].seq
    s = found[0]
    assert (s.engine, s.engine_name, s.engine_version) == ("duckdb", "DuckDB",
                                                            duckdb.__version__)
    assert s.user == ADMIN and s.pack == default_pack().id
    assert s.pack_sha256 == default_pack().sha256
    (sf,) = s.files
    st = demo["csv"].stat()
    assert (sf.file, sf.format, sf.size, sf.sha256) == (str(demo["csv"]), "csv",
                                                        st.st_size, f.sha256)
    assert sf.mtime == f.mtime and sf.mtime.startswith(
        time.strftime("%Y-%m-%d", time.gmtime(st.st_mtime)))
    assert (sf.rows_read, sf.rows_rejected, sf.records_cited, sf.batch_id) == (
        2500, f.rows_rejected, f.cited, f.batch_id)
    assert s.hashes == "computed"
    assert summary_line(s) == (f"1 file, 2,500 rows scanned in place by DuckDB "
                               f"{duckdb.__version__}; hashes: computed")
    assert by_batch[f.batch_id][0].seq == found[1].seq  # the latest scan of the batch
    assert after == [] and [k.seq for k in kept] == [x.seq for x in found]


def test_spark_engine_without_pyspark_says_how_to_install_it(
        demo: dict[str, Path], ws_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pyspark", "pyspark.sql"):
        monkeypatch.setitem(sys.modules, name, None)  # import pyspark fails, as if absent
    before = _state(ws_path)
    res = _cli(["scan", str(ws_path), str(demo["csv"]), "--engine", "spark"])
    assert res.exit_code == 2, res.output
    message = res.output.strip()
    assert "pip install '.[spark]'" in message and message.count("\n") == 0, message
    assert _state(ws_path) == before
