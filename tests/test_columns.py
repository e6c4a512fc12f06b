"""Queries never silently wrong (issue 10, part 2): a filter naming an unknown column is
refused with the closest known names; the original header of a mapped column is
accepted; a listing cut by --limit says how much it cut."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ADMIN, ADMIN_PW, POLICE_UK, ROOT, write

from oversight import browse, queries
from oversight.cli import main
from oversight.errors import UsageError
from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Workspace

ENV = {"OVERSIGHT_USER": ADMIN, "OVERSIGHT_PASSWORD": ADMIN_PW}
LOG = ("record_id,Date,Type,Precinct,Officer\n"
       + "".join(f"R{i},2026-01-0{1 + i % 3}T10:00:00+00:00,"
                 f"{'Person search' if i % 2 else 'Vehicle'},{i % 4},o{i}\n" for i in range(12)))
PROFILE = """record_id: record_id
fields:
  ts: Date
  action: {column: Type, map: {"Person search": search, "Vehicle": consult}}
  actor_id: Officer
"""


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV)


@pytest.fixture
def loaded(ws_path: Path, tmp_path: Path) -> Path:
    data = write(tmp_path / "log.csv", LOG)
    prof = write(tmp_path / "p.yaml", PROFILE)
    res = cli("import", str(ws_path), str(data), "--mapping", str(prof))
    assert res.exit_code == 0, res.output
    return ws_path


def test_unknown_column_is_refused_with_the_closest_name(loaded: Path) -> None:
    res = cli("records", str(loaded), "--where", "precinct=1")
    assert res.exit_code == 2
    assert "error: no column 'precinct'; did you mean 'Precinct'?" in res.output
    res = cli("records", str(loaded), "--where", "Precint=1")
    assert res.exit_code == 2 and "did you mean 'Precinct'" in res.output
    res = cli("records", str(loaded), "--where", "zzz=1", "--json")
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and "no column 'zzz'; the columns are: record_id" in \
        doc["error"]["message"]


def test_known_names_still_select(loaded: Path) -> None:
    res = cli("records", str(loaded), "--where", "Precinct=1", "--limit", "100", "--json")
    assert {r["record_id"] for r in json.loads(res.stdout)} == {"R1", "R5", "R9"}
    res = cli("records", str(loaded), "--where", "Precinct=9", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == []  # known, and truly empty


def test_original_header_of_a_mapped_column_is_resolved(loaded: Path) -> None:
    with Workspace.open(loaded, ADMIN, ADMIN_PW) as ws:
        by_header = queries.records(ws, where=[("Date", "2026-01-02")], limit=None)
        by_field = queries.records(ws, where=[("ts", "2026-01-02")], limit=None)
        assert [r["rid"] for r in by_header] == [r["rid"] for r in by_field]
        assert len(by_header) == 4
        # a mapped value is read through the profile's map, as the import read it
        searches = queries.records(ws, where=[("Type", "Person search")], limit=None)
        assert {r["fields"]["action"] for r in searches} == {"search"} and len(searches) == 6
        assert queries.count_records(ws, Kind.OPERATIONS, [("Officer", "o3")]) == 1


def test_a_joined_column_is_refused_with_its_field(ws_path: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "j.csv", "Day,Time,action\n2026-01-01,10:00,consult\n")
    prof = write(tmp_path / "j.yaml", 'fields:\n  ts: {columns: [Day, Time], join: "T"}\n'
                 "  action: action\n")
    assert cli("import", str(ws_path), str(data), "--mapping", str(prof)).exit_code == 0
    res = cli("records", str(ws_path), "--where", "Time=10:00")
    assert res.exit_code == 2
    assert "column 'Time' was joined with 'Day' into ts; filter on ts instead." in res.output


def test_browse_filters_refuse_unknown_columns_too(loaded: Path) -> None:
    with Workspace.open(loaded, ADMIN, ADMIN_PW) as ws:
        with pytest.raises(UsageError, match=r"no column 'precinct'; did you mean 'Precinct'\?"):
            browse.rids(ws, browse.Filters(where=(("precinct", "1"),)))
        with pytest.raises(UsageError, match="no column"):
            browse.count(ws, browse.Filters(where=(("nope", "1"),)))
        assert browse.count(ws, browse.Filters(where=(("Date", "2026-01-03"),))) == 4


def test_json_sources_accept_keys_the_first_record_lacked(admin_ws: Workspace,
                                                          tmp_path: Path) -> None:
    lines = ['{"ts": "2026-01-01T10:00:00Z", "action": "consult"}',
             '{"ts": "2026-01-01T11:00:00Z", "action": "consult", "Late": "x"}']
    import_file(admin_ws, write(tmp_path / "a.jsonl", "\n".join(lines) + "\n"))
    assert queries.count_records(admin_ws, Kind.OPERATIONS, [("Late", "x")]) == 1
    with pytest.raises(UsageError, match="did you mean 'Late'"):
        queries.count_records(admin_ws, Kind.OPERATIONS, [("late", "x")])


# -- showing N of M ---------------------------------------------------------------------


def test_limit_says_showing_n_of_m(loaded: Path) -> None:
    res = cli("records", str(loaded), "--limit", "3")
    assert res.exit_code == 0 and "showing 3 of 12 records (--limit 3)." in res.output
    res = cli("records", str(loaded), "--where", "Precinct=1", "--limit", "3")
    assert "3 record(s)." in res.output and "showing" not in res.output  # all 3 shown
    res = cli("records", str(loaded), "--limit", "2", "--json")
    assert len(json.loads(res.stdout)) == 2
    assert "showing 2 of 12 records" in res.stderr


def test_rejects_and_findings_limits_say_how_many_match(ws_path: Path,
                                                       tmp_path: Path) -> None:
    bad = write(tmp_path / "b.csv", "ts,action\n" + "soon,consult\n" * 5
                + "2026-01-01T10:00:00Z,consult\n")
    assert cli("import", str(ws_path), str(bad)).exit_code == 0
    res = cli("rejects", str(ws_path), "--limit", "2")
    assert "showing 2 of 5 rejected rows (--limit)." in res.output
    police = ROOT / "examples"
    data = sorted(POLICE_UK.glob("*london*.csv"))[0]
    assert cli("import", str(ws_path), str(data), "--mapping",
               str(police / "police-uk-stop-and-search.yaml")).exit_code == 0
    assert cli("check", str(ws_path), "--criteria",
               str(police / "police-uk-stop-and-search.criteria.yaml")).exit_code == 0
    total = len(json.loads(cli("findings", str(ws_path), "--format", "json").stdout))
    assert total > 3
    res = cli("findings", str(ws_path), "--limit", "3")
    assert f"showing 3 of {total:,} findings (--limit 3)." in res.output


def test_history_limit_says_how_many_events_match(loaded: Path) -> None:
    everything = json.loads(cli("history", str(loaded), "--json").stdout)
    assert len(everything) > 2
    res = cli("history", str(loaded), "--limit", "2")
    assert res.exit_code == 0
    assert f"showing 2 of {len(everything)} events (--limit)." in res.output
    res = cli("history", str(loaded), "--limit", "2", "--json")
    assert [e["seq"] for e in json.loads(res.stdout)] == [e["seq"] for e in everything[-2:]]
    assert f"showing 2 of {len(everything)} events" in res.stderr
    res = cli("history", str(loaded), "--limit", str(len(everything)))
    assert "showing" not in res.output  # all shown


@pytest.mark.parametrize("command", ["records", "rejects", "findings", "history"])
def test_a_negative_limit_is_refused(loaded: Path, command: str) -> None:
    # SQLite reads LIMIT -1 as no limit at all: "--limit -1" must not list everything
    res = cli(command, str(loaded), "--limit", "-1")
    assert res.exit_code == 2 and "--limit" in res.output and ">=0" in res.output


def test_names_and_values_in_another_unicode_form_select_the_same_records(
        ws_path: Path, tmp_path: Path) -> None:
    """A file written on macOS may hold "Übermittlung" and "C-Ü1" as a U and a combining
    diaeresis (NFD), another file, or the inspector's keyboard, as one character (NFC):
    the same words to a reader. `--where Übermittlung=…` was refused with "did you mean
    'Übermittlung'?" (the very name), and `--where case_id=C-Ü1` listed only the records
    written in the form typed, silently leaving out the others."""
    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    column, case = "Übermittlung", "C-Ü1"
    assert nfd(column) != column and nfd(case) != case
    first = write(tmp_path / "mac.csv",
                  f"record_id,ts,action,case_id,{nfd(column)}\n"
                  f"M-1,2026-03-04T10:00:00+01:00,consult,{nfd(case)},{nfd('nach Ägypten')}\n"
                  f"M-2,2026-03-04T11:00:00+01:00,consult,C-2,nein\n")
    second = write(tmp_path / "win.csv",
                   f"record_id,ts,action,case_id,{column}\n"
                   f"W-1,2026-03-05T10:00:00+01:00,consult,{case},nach Ägypten\n")
    for path in (first, second):
        res = cli("import", str(ws_path), str(path))
        assert res.exit_code == 0, res.output

    def selected(where: str) -> list[str]:
        res = cli("records", str(ws_path), "--where", where, "--json")
        assert res.exit_code == 0, res.output
        return sorted(r["record_id"] for r in json.loads(res.stdout))

    for form in ("NFC", "NFD"):
        typed = unicodedata.normalize(form, f"{column}=nach Ägypten")
        assert selected(typed) == ["M-1", "W-1"], form
        assert selected(unicodedata.normalize(form, f"case_id={case}")) == ["M-1", "W-1"]
    assert selected(f"{column}=nein") == ["M-2"]
