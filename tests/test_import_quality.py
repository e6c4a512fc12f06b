"""Import never silently wrong (issue 10, part 1): warnings, refused formats, local times
that do not exist or happen twice, long fractions of a second, missing markers on kept
columns, dry runs of imported files, and the fields a mapping fills."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ADMIN, ADMIN_PW, POLICE_UK, ROOT, counts, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oversight import queries, triage
from oversight.cli import main
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack, parse_pack
from oversight.errors import ValidationError
from oversight.importing import import_file, preview
from oversight.importing.quality import CODES, MAX_LINES
from oversight.workspace import Workspace

ENV = {"OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}


def profile(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    return write(tmp_path / name, text)


def codes(res: object) -> dict[str, object]:
    return {w.code: w for w in res.warnings}  # type: ignore[attr-defined]


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), env=ENV)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# -- the warning codes ----------------------------------------------------------------------


def test_the_codes_are_exactly_the_issues() -> None:
    assert CODES == ("no_timestamp", "implausible_timestamp", "ambiguous_local_time",
                     "duplicate_rows", "all_rows_rejected", "unusual_identifier")


def test_no_timestamp_when_ts_is_not_mapped(admin_ws: Workspace, tmp_path: Path) -> None:
    rows = "".join(f"R{i},consult,o{i}\n" for i in range(25))
    res = import_file(admin_ws, write(tmp_path / "a.csv", "record_id,action,actor\n" + rows))
    (w,) = res.warnings
    assert w.code == "no_timestamp" and w.count == 25
    assert w.lines == tuple(range(2, 2 + MAX_LINES))  # the first 20 line numbers
    assert "No column is mapped to ts" in w.message and "25 operations" in w.message
    assert "ts" in res.fields_empty and "ts" not in res.fields_mapped
    stored = queries.batches(admin_ws)[0]["warnings"]
    assert stored == [w.to_json()]
    assert set(stored[0]) == {"code", "message", "count", "lines"}


def test_no_timestamp_counts_blank_ts_and_rules_say_so(admin_ws: Workspace,
                                                       tmp_path: Path) -> None:
    text = ("record_id,ts,action,actor_id,case_id,justification\n"
            "A,2026-03-04T23:30:00+00:00,consult,o1,C1,j\n"
            "B,,consult,o1,C1,j\n"
            "C,,consult,o1,C1,j\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text))
    w = codes(res)["no_timestamp"]
    assert (w.count, w.lines) == (2, (3, 4))  # type: ignore[attr-defined]
    assert "2 of 3 operations have no ts (column ts" in w.message  # type: ignore[attr-defined]
    summary = run_detection(admin_ws, parse_pack(_PRO03, "p.yaml"))
    (outcome,) = summary.rules
    assert outcome.evaluated and outcome.hits == 1  # A, at 23:30
    assert outcome.note == ("2 of 3 operations have no ts (date and time); the time "
                            "conditions of this rule were not evaluated for them")


def test_check_prints_what_a_rule_could_not_judge(ws_path: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "a.csv", "record_id,ts,action\nA,2026-03-04T23:30:00Z,consult\n"
                 "B,,consult\n")
    assert cli("import", str(ws_path), str(data)).exit_code == 0  # type: ignore[attr-defined]
    pack = write(tmp_path / "pack.yaml", _PRO03)
    res = cli("check", str(ws_path), "--criteria", str(pack))
    assert res.exit_code == 0  # type: ignore[attr-defined]
    assert ("NIGHT: 1 of 2 operations has no ts (date and time); the time conditions of "
            "this rule were not evaluated for it.") in res.output  # type: ignore


_PRO03 = """pack: p
version: "1"
title: t
rules:
  - id: NIGHT
    title: night
    severity: low
    legal_refs: [x]
    rationale: r
    when: local_time(ts) >= "22:00"
    message: "{record_id} at night"
"""


def test_implausible_timestamp_bounds(admin_ws: Workspace, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    text = ("record_id,ts\n"
            "placeholder,1900-01-01T00:00:00+00:00\n"
            "just-before,1969-12-31T23:59:59+00:00\n"
            "epoch,1970-01-01T00:00:00+00:00\n"            # the earliest plausible instant
            f"soon,{iso(now + timedelta(hours=23, minutes=59))}\n"  # within a day of it
            f"too-soon,{iso(now + timedelta(days=1, minutes=5))}\n"  # just over a day
            f"typo,{iso(now.replace(year=now.year + 180))}\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text))
    w = codes(res)["implausible_timestamp"]
    assert (w.count, w.lines) == (4, (2, 3, 6, 7))  # type: ignore[attr-defined]
    assert "from 1900-01-01T00:00:00+00:00 to" in w.message  # type: ignore[attr-defined]
    assert res.rows_imported == 6  # kept as read
    # DQ-02 judges by the same bounds, against the batch's import time
    run_detection(admin_ws, default_pack(), ["DQ-02"])
    (dq02,) = triage_findings(admin_ws)
    assert sorted(dq02["record_ids"]) == ["just-before", "placeholder", "too-soon", "typo"]


@pytest.mark.parametrize(("zone", "value", "stored"), [
    ("Europe/Berlin", "2024-10-27 02:30", "2024-10-27T02:30:00+02:00"),
    ("America/Los_Angeles", "2024-11-03 01:30", "2024-11-03T01:30:00-07:00"),
])
def test_ambiguous_local_time_takes_the_earlier_offset(admin_ws: Workspace, tmp_path: Path,
                                                       zone: str, value: str,
                                                       stored: str) -> None:
    day = value[:10]
    text = ("record_id,ts\n"
            f"before,{day} 00:30\n"
            f"twice,{value}\n"
            f"after,{day} 04:30\n"
            f"offset-given,{value.replace(' ', 'T')}+01:00\n")
    p = profile(tmp_path, f"timezone: {zone}\nrecord_id: record_id\nfields:\n"
                "  ts: {column: ts, format: \"%Y-%m-%d %H:%M\"}\n")
    p2 = profile(tmp_path, f"timezone: {zone}\nrecord_id: record_id\nfields:\n  ts: ts\n",
                 "iso.yaml")
    for prof, path in ((p, tmp_path / "fmt.csv"), (p2, tmp_path / "iso.csv")):
        body = text if prof is p else text.replace("+01:00", "+01:00").replace(" ", "T")
        res = import_file(admin_ws, write(path, body), profile_path=prof)
        w = codes(res)["ambiguous_local_time"]
        assert (w.count, w.lines) == (1, (3,)), prof  # type: ignore[attr-defined]
        assert zone in w.message and "fold 0" in w.message  # type: ignore[attr-defined]
        assert "1 row has a local time (ts)" in w.message  # type: ignore[attr-defined]
        assert "; it was stored with the earlier offset" in w.message  # type: ignore
        rec = queries.records(admin_ws, where=[("batch_id", str(res.batch_id)),
                                               ("record_id", "twice")])[0]
        assert rec["fields"]["ts"] == stored


@pytest.mark.parametrize(("zone", "day"), [("Europe/Berlin", "2024-03-31"),
                                           ("America/Los_Angeles", "2024-03-10")])
def test_nonexistent_local_time_is_a_reject_with_the_reason(admin_ws: Workspace,
                                                            tmp_path: Path, zone: str,
                                                            day: str) -> None:
    text = ("record_id,ts\n"
            f"gap,{day} 02:30\n"
            f"before,{day} 01:59\n"
            f"after,{day} 03:00\n")
    p = profile(tmp_path, f"timezone: {zone}\nrecord_id: record_id\nfields:\n"
                "  ts: {column: ts, format: \"%Y-%m-%d %H:%M\"}\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text), profile_path=p)
    assert res.rows_imported == 2 and res.rows_rejected == 1
    (rej,) = res.sample_rejects
    assert (rej.line, rej.field, rej.value) == (2, "ts", f"{day} 02:30")
    assert rej.reason == (f"local time 02:30 does not exist on {day} in {zone} "
                          "(clocks moved forward)")
    assert not res.warnings


def test_duplicate_rows_are_kept_and_counted(admin_ws: Workspace, tmp_path: Path) -> None:
    text = ("ts,action,actor_id\n"
            "2026-01-01T10:00:00+00:00,consult,o1\n"
            "2026-01-01T10:00:00+00:00,consult,o1\n"   # same as line 2
            "2026-01-01T10:00:00+00:00,consult,o2\n"
            "2026-01-01T10:00:00+00:00,consult,o1\n")  # same as line 2
    res = import_file(admin_ws, write(tmp_path / "a.csv", text))
    assert res.rows_imported == 4 and res.rows_rejected == 0
    w = codes(res)["duplicate_rows"]
    assert (w.count, w.lines) == (2, (3, 5))  # type: ignore[attr-defined]
    assert "kept as separate records" in w.message  # type: ignore[attr-defined]


def test_one_duplicate_row_is_told_in_the_singular(admin_ws: Workspace,
                                                   tmp_path: Path) -> None:
    text = "ts,action\n2026-01-01T10:00:00+00:00,consult\n2026-01-01T10:00:00+00:00,consult\n"
    w = codes(preview(admin_ws, write(tmp_path / "a.csv", text)))["duplicate_rows"]
    assert w.message.startswith(  # type: ignore[attr-defined]
        "1 row repeats an earlier row of the file exactly; it would be kept as a separate "
        "record.")


def test_a_repeated_row_rejected_for_its_record_id_is_not_counted_twice(
        admin_ws: Workspace, tmp_path: Path) -> None:
    text = ("record_id,ts\n"
            "A,2026-01-01T10:00:00+00:00\n"
            "A,2026-01-01T10:00:00+00:00\n"   # repeated row and record id: a reject
            "B,2026-01-01T10:00:00+00:00\n")
    for fn in (preview, import_file):
        res = fn(admin_ws, write(tmp_path / f"{fn.__name__}.csv", text))
        assert res.rows_rejected == 1 and res.rows_imported == 2
        assert "duplicate_rows" not in codes(res)
        assert "duplicate record_id 'A'" in res.sample_rejects[0].reason


def test_all_rows_rejected_dry_run_and_import_exit_1(ws_path: Path, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "ts,action\nsoon,consult\nlater,consult\n")
    for extra in (["--dry-run"], []):
        res = cli("import", str(ws_path), str(bad), "--json", *extra)
        assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
        doc = json.loads(res.stdout)  # type: ignore[attr-defined]
        assert doc["ok"] is False and doc["batch_id"] is None and doc["rows_rejected"] == 2
        (w,) = [w for w in doc["warnings"] if w["code"] == "all_rows_rejected"]
        assert w["count"] == 2 and "line 2" in w["message"]
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        assert counts(ws)["batches"] == 0 and counts(ws)["rejects"] == 0


def test_warnings_in_human_summary_imports_listing_and_audit_event(ws_path: Path,
                                                                  tmp_path: Path) -> None:
    data = write(tmp_path / "a.csv", "record_id,action\nR1,consult\nR2,consult\n")
    res = cli("import", str(ws_path), str(data))
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 0, out  # type: ignore[attr-defined]
    assert "warning no_timestamp: No column is mapped to ts" in out
    assert "Fields mapped: action." in out and "Fields left empty: ts, actor_id" in out
    assert "Read as no value in every column: ''." in out
    listing = cli("imports", str(ws_path)).output  # type: ignore[attr-defined]
    assert "no_timestamp (2)" in listing and "batch 1: no_timestamp ×2" in listing
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        (event,) = [e for e in triage.history(ws) if e["action"] == "import"]
        payload = event["payload"]
        assert [w["code"] for w in payload["warnings"]] == ["no_timestamp"]
        assert payload["warnings"][0]["lines"] == [2, 3]
        assert payload["missing_markers"] == [""]
        assert payload["fields_mapped"] == ["action"] and "ts" in payload["fields_empty"]


# -- refused formats --------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "lacks"), [("%B", "year and no day"), ("%H:%M", "year and "
                                            "no day"), ("%d/%m", "year")])
def test_format_without_year_or_day_is_refused_with_its_place(ws_path: Path, tmp_path: Path,
                                                             fmt: str, lacks: str) -> None:
    p = profile(tmp_path, f'kind: operations\nfields:\n  ts:\n    column: When\n'
                f'    format: "{fmt}"\n')
    data = write(tmp_path / "a.csv", "When,action\nJanuary,consult\n")
    res = cli("import", str(ws_path), str(data), "--mapping", str(p), "--dry-run")
    assert res.exit_code == 2  # type: ignore[attr-defined]
    # the profile's file, line 5 and the column where the format's text starts
    assert f"{p}:5:14: ts: the format {fmt!r} reads no {lacks}" in res.output  # type: ignore
    with pytest.raises(ValidationError):
        from oversight.importing.profile import load_profile
        load_profile(p)


def test_joining_the_columns_that_carry_year_and_day_is_accepted(admin_ws: Workspace,
                                                                 tmp_path: Path) -> None:
    p = profile(tmp_path, 'fields:\n  ts:\n    columns: [Day, Month, Year]\n'
                '    format: "%d %B %Y"\n  action: Action\n')
    data = write(tmp_path / "a.csv", "Day,Month,Year,Action\n4,March,2024,consult\n")
    res = import_file(admin_ws, data, profile_path=p)
    assert res.rows_imported == 1 and not res.warnings
    assert res.sample_records[0]["ts"] == "2024-03-04T00:00:00+00:00"


# -- fractions of a second and the ISO hint -----------------------------------------------


def test_seven_digit_fractions_parse_and_never_round_up(admin_ws: Workspace,
                                                        tmp_path: Path) -> None:
    p = profile(tmp_path, 'record_id: id\nfields:\n'
                '  ts: {column: when, format: "%Y-%m-%d %H:%M:%S.%f"}\n')
    text = ("id,when\n"
            "sqlserver,2024-05-01 21:08:00.0000000\n"
            "nines,2024-05-01 23:59:59.9999999\n"
            "six,2024-05-01 10:00:00.123456\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text), profile_path=p)
    assert res.rows_rejected == 0
    got = {r["record_id"]: r["ts"] for r in res.sample_records}
    assert got == {"sqlserver": "2024-05-01T21:08:00+00:00",
                   "nines": "2024-05-01T23:59:59.999999+00:00",
                   "six": "2024-05-01T10:00:00.123456+00:00"}


@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=12))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fractions_of_any_length_are_truncated(digits: str) -> None:
    from oversight.importing.convert import _timestamp_parser

    for fmt in ("%Y-%m-%d %H:%M:%S.%f", None):
        parse = _timestamp_parser(fmt, UTC, False)
        text, _micros = parse(f"2024-05-01{' ' if fmt else 'T'}23:59:59.{digits}")
        want = int(digits[:6].ljust(6, "0"))
        assert datetime.fromisoformat(text).microsecond == want
        assert text.startswith("2024-05-01T23:59:59")


def test_format_error_on_iso_values_says_leave_format_out(admin_ws: Workspace,
                                                          tmp_path: Path) -> None:
    p = profile(tmp_path, 'fields:\n  ts: {column: ts, format: "%d.%m.%Y %H:%M"}\n')
    text = "ts\n2024-05-01T10:00:00+02:00\n04.05.2024 10:00\n"
    res = import_file(admin_ws, write(tmp_path / "a.csv", text), profile_path=p)
    (rej,) = res.sample_rejects
    assert "looks like ISO 8601" in rej.reason and "leave format out" in rej.reason


# -- missing markers on every column --------------------------------------------------------


def test_missing_markers_apply_to_kept_columns(admin_ws: Workspace, tmp_path: Path) -> None:
    p = profile(tmp_path, 'record_id: id\nfields:\n  ts: ts\n'
                'missing: ["", "NULL", "(null)", "-"]\n')
    text = ("id,ts,Precinct\n"
            "a,2026-01-01T10:00:00+00:00,NULL\n"
            "b,2026-01-01T10:00:00+00:00,(null)\n"
            "c,2026-01-01T10:00:00+00:00,-\n"
            "d,2026-01-01T10:00:00+00:00,\n"
            "e,2026-01-01T10:00:00+00:00,7\n"
            "f,2026-01-01T10:00:00+00:00,NULLS\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text), profile_path=p)
    kept = {r["record_id"]: r["extra"]["Precinct"] for r in res.sample_records}
    assert kept == {"a": None, "b": None, "c": None, "d": None, "e": "7", "f": "NULLS"}
    assert res.missing_markers == ["", "NULL", "(null)", "-"]
    assert queries.batches(admin_ws)[0]["missing_markers"] == ["", "NULL", "(null)", "-"]
    pack = parse_pack(_PRO03.replace('local_time(ts) >= "22:00"', "blank(`Precinct`)"), "p")
    run_detection(admin_ws, pack)
    fired = {f["record_ids"][0] for f in triage_findings(admin_ws)}
    assert fired == {"a", "b", "c", "d"}


def triage_findings(ws: Workspace) -> list[dict[str, object]]:
    from oversight.findings import FindingFilters, list_findings
    return list_findings(ws, FindingFilters(matching=True))


# -- dry run of an imported file; fields mapped and empty --------------------------------


def test_dry_run_of_an_imported_file_says_which_batch_holds_it(ws_path: Path,
                                                              tmp_path: Path) -> None:
    data = write(tmp_path / "a.csv", "record_id,ts,action\nR1,2026-01-01T10:00:00Z,consult\n")
    assert cli("import", str(ws_path), str(data)).exit_code == 0  # type: ignore[attr-defined]
    revised = profile(tmp_path, "record_id: record_id\nfields:\n  ts: ts\n")
    res = cli("import", str(ws_path), str(data), "--mapping", str(revised), "--dry-run")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 0, out  # type: ignore[attr-defined]
    assert "already in the workspace as batch 1 (a.csv, imported by alice" in out
    assert "Would import 1 of 1 rows" in out and "Kept as extra: action" in out
    doc = json.loads(cli("import", str(ws_path), str(data), "--dry-run",  # type: ignore
                         "--json").stdout)
    assert doc["imported_as"]["batch_id"] == 1
    again = cli("import", str(ws_path), str(data))
    assert again.exit_code == 2 and "already in this workspace" in again.output  # type: ignore


def test_fields_mapped_and_left_empty(admin_ws: Workspace, tmp_path: Path) -> None:
    text = "record_id,ts,action,agency\nR1,2026-01-01T10:00:00Z,consult,\n"
    res = preview(admin_ws, write(tmp_path / "a.csv", text))
    assert res.fields_mapped == ["ts", "action", "agency"]
    assert "agency" in res.fields_empty  # mapped, but blank in every row
    assert "ts" not in res.fields_empty and "actor_id" in res.fields_empty


# -- real data ----------------------------------------------------------------------------


def test_police_uk_files_import_with_zero_rejects_and_say_what_repeats(
        admin_ws: Workspace) -> None:
    prof = ROOT / "examples" / "police-uk-stop-and-search.yaml"
    for path in sorted(POLICE_UK.glob("*.csv")):
        res = import_file(admin_ws, path, profile_path=prof)
        assert res.rows_rejected == 0
        assert set(codes(res)) <= {"duplicate_rows"}, res.warnings
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        repeats = sum(1 for i, line in enumerate(lines) if line in lines[:i])
        got = codes(res).get("duplicate_rows")
        assert (got.count if got else 0) == repeats  # type: ignore[attr-defined]


def test_identifiers_with_invisible_characters_are_warned_and_decomposed_ones_composed(
        admin_ws: Workspace, tmp_path: Path) -> None:
    """A case id with a zero-width space, a subject with a soft hyphen: each reads like
    the identifier written otherwise, yet the rules compare them character by
    character; the import keeps them as read and says so. A warrant "A-Ö1" cited as O
    and a combining diaeresis (Unicode's decomposed form, as macOS may write it) is the
    same text to any reader: it is stored composed (NFC), as is free text, so it
    equals the warrant written as one character, and needs no warning."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "A-Ö1")
    assert nfd != "A-Ö1"
    text = ("record_id,ts,action,actor_id,case_id,authorisation_id,subject_ids,justification\n"
            f"R1,2026-01-01T10:00:00+00:00,consult,o1,C1,{nfd},P1;{nfd},j\n"
            "R2,2026-01-01T10:00:00+00:00,consult,o1,C\u200b1,A-1,P1,j\n"
            "R3,2026-01-01T10:00:00+00:00,consult,o1,C1,A-Ö1,P1,"
            f"{unicodedata.normalize('NFD', 'Prüfung')}\n"
            "R4,2026-01-01T10:00:00+00:00,consult,o1,C1,A-1,P\u00ad1,j\n"
            "R5,2026-01-01T10:00:00+00:00,consult,o1,C1,A-1,P1,j\n"
            f"{unicodedata.normalize('NFD', 'R-Ö6')},2026-01-01T10:00:00+00:00,consult,o1,"
            "C1,A-1,P1,j\n")
    res = import_file(admin_ws, write(tmp_path / "a.csv", text))
    assert res.rows_imported == 6
    w = codes(res)["unusual_identifier"]
    assert (w.count, w.lines) == (2, (3, 5))  # type: ignore[attr-defined]
    assert "(case_id, subject_ids)" in w.message  # type: ignore[attr-defined]
    stored = {r["record_id"]: r["fields"] for r in queries.records(admin_ws, limit=None)}
    assert stored["R1"]["authorisation_id"] == "A-Ö1" == stored["R3"]["authorisation_id"]
    assert stored["R1"]["subject_ids"] == ["P1", "A-Ö1"]
    assert stored["R3"]["justification"] == "Prüfung"
    assert stored["R2"]["case_id"] == "C\u200b1"  # an invisible character is kept as read
    assert "R-Ö6" in stored  # a record id is text too
