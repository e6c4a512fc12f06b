"""Import: formats, profiles, rejects, refusals and all-or-nothing batches."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import POLICE_UK, ROOT, counts, write

from oversight import queries
from oversight.errors import (
    AlreadyImported,
    Cancelled,
    InputFileError,
    PermissionDenied,
    ValidationError,
)
from oversight.importing import import_file, preview
from oversight.importing import service as import_service
from oversight.integrity import verify_workspace
from oversight.progress import CancelToken
from oversight.records import Kind
from oversight.workspace import Workspace

OPS_CSV = """\
record_id,ts,action,actor_id,case_id,subject_ids,urgent,records_count,recipient_country,Terminal
OP-1,2026-03-04T09:15:00+01:00,consult,officer-7,C-1,P-1;P-2,false,3,,WS-1
OP-2,2026-03-04T23:10:00+01:00,Transfer,officer-8,C-2,P-3,true,1,us,WS-2
"""


def rows(ws: Workspace, kind: Kind = Kind.OPERATIONS) -> list[dict]:
    return queries.records(ws, kind, limit=None)


def test_csv_auto_mapping_and_extra(admin_ws: Workspace, tmp_path: Path) -> None:
    res = import_file(admin_ws, write(tmp_path / "ops.csv", OPS_CSV))
    assert (res.rows_read, res.rows_imported, res.rows_rejected) == (2, 2, 0)
    got = rows(admin_ws)
    assert got[0]["record_id"] == "OP-1"
    assert got[0]["fields"]["subject_ids"] == ["P-1", "P-2"]
    assert got[0]["fields"]["urgent"] is False
    assert got[0]["fields"]["records_count"] == 3
    assert got[0]["extra"] == {"Terminal": "WS-1"}
    assert got[1]["fields"]["action"] == "transfer"  # vocabulary words are normalised
    assert got[1]["fields"]["recipient_country"] == "US"
    assert got[1]["fields"]["ts"] == "2026-03-04T23:10:00+01:00"  # local time as recorded
    utc = admin_ws.conn.execute("SELECT ts_utc FROM operations WHERE record_id='OP-2'").fetchone()
    assert utc[0] == int(datetime.fromisoformat("2026-03-04T22:10:00+00:00").timestamp()) * 10**6


def test_jsonl(admin_ws: Workspace, tmp_path: Path) -> None:
    lines = [
        {"record_id": "J1", "ts": "2026-01-02T03:04:05.123456Z", "action": "consult",
         "subject_ids": ["S1", "S2"], "nested": {"a": [1, 2]}, "n": 7},
        {"record_id": "J2", "ts": "2026-01-02T03:04:06+00:00", "action": "erase"},
    ]
    path = tmp_path / "ops.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    res = import_file(admin_ws, path)
    assert res.format == "jsonl" and res.rows_imported == 2
    got = rows(admin_ws)
    assert got[0]["fields"]["ts"] == "2026-01-02T03:04:05.123456+00:00"  # microseconds kept
    assert got[0]["fields"]["subject_ids"] == ["S1", "S2"]
    assert got[0]["extra"] == {"nested": {"a": [1, 2]}, "n": 7}
    assert got[1]["line"] == 2


def test_json_array_streams_with_line_numbers(admin_ws: Workspace, tmp_path: Path) -> None:
    items = [{"record_id": f"A{i}", "ts": "2026-05-01T10:00:00+02:00", "action": "consult",
              "note": "x" * (i * 50_000)} for i in range(30)]
    text = "[\n" + ",\n".join(json.dumps(x) for x in items) + "\n]\n"
    path = write(tmp_path / "ops.json", text)
    res = import_file(admin_ws, path)
    assert res.format == "json" and res.rows_imported == 30
    got = rows(admin_ws)
    assert [g["line"] for g in got[:3]] == [2, 3, 4]
    assert len(got[29]["extra"]["note"]) == 29 * 50_000


def test_json_array_syntax_error_names_line(admin_ws: Workspace, tmp_path: Path) -> None:
    before = counts(admin_ws)
    path = write(tmp_path / "bad.json", '[\n{"record_id": "1"},\n{"record_id": 2,,}\n]')
    with pytest.raises(InputFileError, match=r"bad\.json, line 3"):
        import_file(admin_ws, path)
    assert counts(admin_ws) == before


def test_xlsx(admin_ws: Workspace, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    first = wb.active
    first.title = "Cover"
    first.append(["this sheet is not the data"])
    sheet = wb.create_sheet("Log")
    sheet.append(["Log No", "When", "Officer", "Operation", "Count", "Comment"])
    sheet.append(["L-1", datetime(2026, 2, 3, 8, 30), "o-1", "ABFRAGE", 12, "ok"])
    sheet.append(["L-2", datetime(2026, 7, 3, 8, 30), "o-2", "UEBERMITTLUNG", 3.0, None])
    sheet.append([None, None, None, None, None, None])
    path = tmp_path / "log.xlsx"
    wb.save(path)
    profile = write(tmp_path / "p.yaml", """
kind: operations
sheet: Log
timezone: Europe/Berlin
record_id: {column: "Log No"}
fields:
  ts: When
  actor_id: Officer
  action: {column: Operation, map: {ABFRAGE: consult, UEBERMITTLUNG: transfer}}
  records_count: Count
""")
    res = import_file(admin_ws, path, profile_path=profile)
    assert res.format == "xlsx" and res.rows_imported == 2 and res.rows_rejected == 0
    got = rows(admin_ws)
    assert got[0]["fields"]["ts"] == "2026-02-03T08:30:00+01:00"  # CET
    assert got[1]["fields"]["ts"] == "2026-07-03T08:30:00+02:00"  # CEST
    assert got[1]["fields"]["action"] == "transfer"
    assert got[1]["fields"]["records_count"] == 3
    assert got[0]["extra"] == {"Comment": "ok"}
    assert got[0]["line"] == 2


def test_profile_features(admin_ws: Workspace, tmp_path: Path) -> None:
    src = write(tmp_path / "src.csv", (
        "Log No;Datum;Zeit;Beamter;Vorgang;Personen;Eilig;Land\n"
        "7;04.03.2026;09:15;B-1;ABFRAGE;P1; P2 ;;J;de\n"
        "8;04.03.2026;23:59;B-2;UEBERMITTLUNG;(null);N;-\n"
    ).replace(";;J", ";J"))
    profile = write(tmp_path / "p.yaml", """
kind: operations
timezone: Europe/Berlin
record_id: {column: "Log No"}
fields:
  ts: {columns: ["Datum", "Zeit"], format: "%d.%m.%Y %H:%M"}
  actor_id: "Beamter"
  action: {column: "Vorgang", map: {ABFRAGE: consult, UEBERMITTLUNG: transfer}}
  subject_ids: {column: "Personen", split: ","}
  urgent: {column: "Eilig", map: {J: true, N: false}}
  recipient_country: Land
  legal_basis: {value: "BKAG s.12"}
missing: ["", "NULL", "-", "(null)", "N/A"]
""")
    src.write_text(
        "Log No;Datum;Zeit;Beamter;Vorgang;Personen;Eilig;Land\n"
        "7;04.03.2026;09:15;B-1;ABFRAGE;P1, P2 ;J;de\n"
        "8;04.03.2026;23:59;B-2;UEBERMITTLUNG;(null);N;-\n"
    )
    res = import_file(admin_ws, src, profile_path=profile)
    assert res.rows_rejected == 0, res.sample_rejects
    a, b = rows(admin_ws)
    assert a["record_id"] == "7" and b["record_id"] == "8"
    assert a["fields"] == {"ts": "2026-03-04T09:15:00+01:00", "action": "consult",
                           "actor_id": "B-1", "subject_ids": ["P1", "P2"],
                           "legal_basis": "BKAG s.12", "urgent": True,
                           "recipient_country": "DE"}
    assert "subject_ids" not in b["fields"] and "recipient_country" not in b["fields"]
    assert b["fields"]["urgent"] is False
    assert a["extra"] == {} and b["extra"] == {}
    batch = queries.batches(admin_ws)[0]
    assert batch["profile_sha256"] is not None


def test_bom_and_crlf(admin_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + OPS_CSV.replace("\n", "\r\n").encode())
    res = import_file(admin_ws, path)
    assert res.rows_imported == 2
    got = rows(admin_ws)
    assert got[0]["record_id"] == "OP-1"  # the BOM did not end up in the first header
    assert got[1]["extra"] == {"Terminal": "WS-2"}  # no stray \r


def test_latin1_without_profile_fails_with_line_and_hint(admin_ws: Workspace,
                                                         tmp_path: Path) -> None:
    before = counts(admin_ws)
    path = write(tmp_path / "l1.csv", "record_id,actor_id,Name\n1,a,ok\n2,b,Müller\n",
                 encoding="latin-1")
    where = r"l1\.csv, line 3, column 6: .*not valid utf-8.*encoding"
    with pytest.raises(InputFileError, match=where):
        import_file(admin_ws, path)
    assert counts(admin_ws) == before
    profile = write(tmp_path / "p.yaml", "encoding: latin-1\nfields:\n  actor_id: actor_id\n"
                    "record_id: record_id\n")
    import_file(admin_ws, path, profile_path=profile)
    assert rows(admin_ws)[1]["extra"] == {"Name": "Müller"}


def test_unknown_encoding_in_profile(admin_ws: Workspace, tmp_path: Path) -> None:
    profile = write(tmp_path / "p.yaml", "encoding: klingon-8\nfields:\n  ts: when\n")
    with pytest.raises(ValidationError) as info:
        import_file(admin_ws, write(tmp_path / "x.csv", OPS_CSV), profile_path=profile)
    assert "klingon-8" in str(info.value.issues[0]) and info.value.issues[0].line == 1


def test_profile_reports_every_problem_with_lines(admin_ws: Workspace, tmp_path: Path) -> None:
    profile = write(tmp_path / "p.yaml", """kind: operations
fields:
  ts: {column: Date, fmt: "%Y"}
  colour: Colour
  actor_id: {column: A, columns: [B]}
timezone: Mars/Olympus
""")
    with pytest.raises(ValidationError) as info:
        import_file(admin_ws, write(tmp_path / "x.csv", OPS_CSV), profile_path=profile)
    found = {(i.line, i.message.split(";")[0].split(":")[0]) for i in info.value.issues}
    lines = sorted(i.line or 0 for i in info.value.issues)
    assert lines == [3, 4, 5, 6], found


def test_profile_column_absent_from_file(admin_ws: Workspace, tmp_path: Path) -> None:
    profile = write(tmp_path / "p.yaml", "fields:\n  ts: Zeitpunkt\n")
    with pytest.raises(InputFileError, match="'Zeitpunkt' that the file does not have"):
        import_file(admin_ws, write(tmp_path / "x.csv", OPS_CSV), profile_path=profile)


def test_rejects_ragged_bad_timestamp_bad_number_closed_vocabulary(admin_ws: Workspace,
                                                                    tmp_path: Path) -> None:
    text = OPS_CSV + (
        "OP-3,2026-03-05T10:00:00+01:00,consult,o,C,P,false,3\n"                 # ragged
        "OP-4,yesterday at noon,consult,o,C,P,false,3,,WS\n"                     # bad ts
        "OP-5,2026-03-05T10:00:00+01:00,consult,o,C,P,maybe,many,,WS\n"          # bool+int
        "OP-6,2026-03-05T10:00:00+01:00,consult,o,C,P,false,3,United States,WS\n"  # country
        "OP-1,2026-03-05T10:00:00+01:00,consult,o,C,P,false,3,,WS\n"             # dup id
    )
    res = import_file(admin_ws, write(tmp_path / "r.csv", text))
    assert (res.rows_read, res.rows_imported, res.rows_rejected) == (7, 2, 5)
    rej = queries.rejects(admin_ws)
    by_line: dict[int, list[dict]] = {}
    for r in rej:
        by_line.setdefault(r["line"], []).append(r)
    assert sorted(by_line) == [4, 5, 6, 7, 8]
    assert "has 8 fields but the header has 10" in by_line[4][0]["reason"]
    assert by_line[5][0]["field"] == "ts" and by_line[5][0]["column"] == "ts"
    assert by_line[5][0]["value"] == "yesterday at noon"
    assert "ISO 8601" in by_line[5][0]["reason"]
    assert {r["field"] for r in by_line[6]} == {"urgent", "records_count"}
    assert "alpha-2" in by_line[7][0]["reason"]
    assert "duplicate record_id 'OP-1' (first on line 2)" in by_line[8][0]["reason"]
    assert verify_workspace(admin_ws.conn).ok


def test_closed_vocabulary_rejected_with_allowed_words(admin_ws: Workspace,
                                                       tmp_path: Path) -> None:
    text = ("record_id,action,transfer_basis\n1,transfer,adequacy\n"
            "2,transfer,adequacy decision\n")
    res = import_file(admin_ws, write(tmp_path / "v.csv", text))
    assert res.rows_rejected == 1
    reason = queries.rejects(admin_ws)[0]["reason"]
    assert "'adequacy_decision' is not one of the allowed words" in reason
    assert "safeguards_instrument" in reason


def test_identical_rows_are_not_duplicates(admin_ws: Workspace, tmp_path: Path) -> None:
    row = "2020-01-01T00:01:00+00:00,search,Male\n"
    res = import_file(admin_ws, write(tmp_path / "same.csv", "Date,action,Gender\n" + row * 3))
    assert res.rows_imported == 3
    assert len({r["record_id"] for r in rows(admin_ws)}) == 3


def test_empty_file(admin_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is empty"):
        import_file(admin_ws, write(tmp_path / "e.csv", ""))
    with pytest.raises(InputFileError, match="header but no records"):
        import_file(admin_ws, write(tmp_path / "h.csv", "ts,action\n"))
    assert queries.batches(admin_ws) == []


def test_binary_file(admin_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    before = counts(admin_ws)
    with pytest.raises(InputFileError, match="not a text file"):
        import_file(admin_ws, path)
    assert counts(admin_ws) == before


def test_one_megabyte_field(admin_ws: Workspace, tmp_path: Path) -> None:
    big = "é,\"x\"\n" * 200_000  # over 1 MB with quotes, commas and newlines inside
    field = '"' + big.replace('"', '""') + '"'
    path = write(tmp_path / "big.csv", f"record_id,justification\n1,{field}\n2,short\n")
    res = import_file(admin_ws, path)
    assert res.rows_imported == 2
    got = rows(admin_ws)
    assert got[0]["fields"]["justification"] == big
    assert got[1]["line"] == 200_003  # the quoted newlines count as lines


def test_reimport_refused_names_batch(admin_ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "ops.csv", OPS_CSV)
    import_file(admin_ws, path)
    copy = write(tmp_path / "renamed.csv", OPS_CSV)
    before = counts(admin_ws)
    with pytest.raises(AlreadyImported, match=r"batch 1 \(ops\.csv\), imported by alice"):
        import_file(admin_ws, copy)
    assert counts(admin_ws) == before


def test_all_rows_rejected_writes_nothing(admin_ws: Workspace, tmp_path: Path) -> None:
    before = counts(admin_ws)
    res = import_file(admin_ws, write(tmp_path / "x.csv", "ts\nsoon\nlater\n"))
    assert res.batch_id is None and res.rows_imported == 0 and res.rows_rejected == 2
    (warning,) = res.warnings
    assert warning.code == "all_rows_rejected" and warning.count == 2
    assert "None of the 2 rows" in warning.message and "line 2" in warning.message
    assert counts(admin_ws) == before


def _big_csv(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        fh.write("record_id,ts,action,actor_id\n")
        for i in range(n):
            fh.write(f"R{i},2026-01-01T00:00:{i % 60:02d}+00:00,consult,a{i % 7}\n")
    return path


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupt_mid_import_leaves_no_partial_batch(admin_ws: Workspace, tmp_path: Path,
                                                      exc: type[BaseException]) -> None:
    path = _big_csv(tmp_path / "big.csv", 3 * import_service.CHUNK + 5)
    before = counts(admin_ws)
    calls = []

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "importing":
            calls.append(done)
            if len(calls) == 2:  # after two chunks are already written
                raise exc("stop")

    with pytest.raises(exc):
        import_file(admin_ws, path, progress=progress)
    assert counts(admin_ws) == before
    assert verify_workspace(admin_ws.conn).ok
    # And the same file imports cleanly afterwards.
    assert import_file(admin_ws, path).rows_imported == 3 * import_service.CHUNK + 5


def test_cancel_token(admin_ws: Workspace, tmp_path: Path) -> None:
    path = _big_csv(tmp_path / "big.csv", 2 * import_service.CHUNK + 1)
    token = CancelToken()

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "importing":
            token.cancel()

    before = counts(admin_ws)
    with pytest.raises(Cancelled, match="nothing was written"):
        import_file(admin_ws, path, progress=progress, cancel=token)
    assert counts(admin_ws) == before


def test_viewer_cannot_import(ws_path: Path, tmp_path: Path) -> None:
    from conftest import VIEWER, VIEWER_PW

    with Workspace.open(ws_path, VIEWER, VIEWER_PW) as ws:
        before = counts(ws)
        with pytest.raises(PermissionDenied, match="viewer role, which may not import"):
            import_file(ws, write(tmp_path / "ops.csv", OPS_CSV))
        assert counts(ws) == before
        # Previewing is reading: allowed.
        assert preview(ws, tmp_path / "ops.csv").rows_imported == 2


def test_dry_run_writes_nothing(admin_ws: Workspace, tmp_path: Path) -> None:
    before = counts(admin_ws)
    text = OPS_CSV + "OP-1,2026-03-05T10:00:00+01:00,consult,o,C,P,false,3,,WS\n"
    res = preview(admin_ws, write(tmp_path / "ops.csv", text))
    assert res.dry_run and res.batch_id is None
    assert (res.rows_read, res.rows_imported, res.rows_rejected) == (3, 2, 1)
    assert res.mapping["auto"] is True and "ts" in res.mapping["fields"]
    assert res.extra_columns == ["Terminal"]
    assert res.sample_records[0]["record_id"] == "OP-1"
    assert "duplicate" in res.sample_rejects[0].reason
    assert counts(admin_ws) == before


def test_registers(admin_ws: Workspace, tmp_path: Path) -> None:
    auth = write(tmp_path / "auth.csv", (
        "authorisation_id,regime,issuer_role,approval,valid_from,valid_to,subject_ids,actions\n"
        "W-1,RIPA-DS,Superintendent,approved,2026-01-01T00:00:00+00:00,2026-03-31,P1,"
        "directed_surveillance\n"
        ",RIPA-DS,superintendent,approved,2026-01-01T00:00:00+00:00,2026-03-31,P1,x\n"
        "W-1,RIPA-DS,superintendent,approved,2026-01-01T00:00:00+00:00,2026-03-31,P1,x\n"
    ))
    res = import_file(admin_ws, auth, Kind.AUTHORISATIONS)
    assert (res.rows_imported, res.rows_rejected) == (1, 2)
    reasons = [r["reason"] for r in queries.rejects(admin_ws)]
    assert reasons == ["authorisation_id is missing",
                       "duplicate record_id 'W-1' (first on line 2)"]
    got = rows(admin_ws, Kind.AUTHORISATIONS)[0]["fields"]
    assert got["valid_to"] == "2026-03-31T23:59:59.999999+00:00"  # through the whole day
    assert got["issuer_role"] == "superintendent"
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"case_id": "C-1", "opened_at": "2026-01-01",
                                 "team": ["o1", "o2"], "unit": "fraud"}) + "\n")
    import_file(admin_ws, cases, Kind.CASES)
    case = rows(admin_ws, Kind.CASES)[0]
    assert case["fields"]["team"] == ["o1", "o2"] and case["extra"] == {"unit": "fraud"}
    assert case["fields"]["opened_at"] == "2026-01-01T00:00:00+00:00"


def test_register_without_key_column_refused(admin_ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no column maps to case_id"):
        import_file(admin_ws, write(tmp_path / "c.csv", "name,opened\nx,2026-01-01\n"),
                    Kind.CASES)


def test_police_uk_files_import_with_zero_rejects_and_every_column(admin_ws: Workspace) -> None:
    import csv

    profile = ROOT / "examples" / "police-uk-stop-and-search.yaml"
    files = sorted(POLICE_UK.glob("*.csv"))
    assert len(files) == 3
    total = 0
    for path in files:
        res = import_file(admin_ws, path, profile_path=profile)
        with path.open(newline="", encoding="utf-8") as fh:
            source = list(csv.DictReader(fh))
        assert res.rows_rejected == 0 and res.rows_imported == len(source)
        stored = queries.records(admin_ws, where=[("batch_id", str(res.batch_id))], limit=None)
        for src, rec in zip(source, stored, strict=True):
            assert rec["fields"]["ts"] == datetime.fromisoformat(src["Date"]).isoformat()
            # The profile's missing marker "" applies to kept columns too: blank is null.
            assert rec["extra"] == {k: (None if v == "" else v) for k, v in src.items()
                                    if k != "Date"}
        total += len(source)
    assert total == 5903
    assert verify_workspace(admin_ws.conn).ok


def test_no_imported_string_in_raw_bytes(admin_ws: Workspace, tmp_path: Path) -> None:
    marker = "Zyxwvut-Schmidt-4711"
    text = OPS_CSV + f"OP-7,2026-03-05T10:00:00+01:00,consult,{marker},C,P,false,3,,{marker}\n"
    import_file(admin_ws, write(tmp_path / "m.csv", text))
    assert queries.records(admin_ws, where=[("actor_id", marker)])
    folder = admin_ws.folder
    for path in folder.iterdir():  # the database, its WAL and shm files, the slots
        data = path.read_bytes()
        for needle in (marker, "officer-7", "Terminal", "operations"):
            assert needle.encode() not in data, (path.name, needle)
            assert needle.encode("utf-16-le") not in data, (path.name, needle)


def test_parallel_reader_gives_the_same_batch(ws_path: Path, tmp_path: Path) -> None:
    """The helper-process path and the in-process path store identical rows and digests,
    rejects included."""
    text = OPS_CSV + "".join(
        f"R{i},2026-01-01T00:00:{i % 60:02d}+00:00,consult,a{i % 7},C,P{i};Q,false,{i},,T\n"
        for i in range(5000)) + "OP-1,bad,consult,o,C,P,false,3,,WS\n" + (
        "Z1,,consult,o,C,P,false,3,,WS\nZ2,1900-01-01T00:00:00Z,consult,o,C,P,false,3,,WS\n")
    path = write(tmp_path / "p.csv", text)
    digests = []
    for parallel, ws in _both_ways(ws_path, tmp_path):
        res = import_file(ws, path, parallel=parallel)
        digests.append((res.rows_imported, res.rows_rejected, res.rows_digest,
                        [r.to_json() for r in res.sample_rejects],
                        [w.to_json() for w in res.warnings]))
        assert verify_workspace(ws.conn).ok
    assert digests[0] == digests[1]
    assert digests[0][:2] == (5004, 1)
    assert [w["code"] for w in digests[0][4]] == ["no_timestamp", "implausible_timestamp"]


def _both_ways(ws_path: Path, tmp_path: Path) -> Iterator[tuple[bool, Workspace]]:
    """A fresh copy of the workspace for each way of importing: in this process, then
    with the helper process."""
    from conftest import ADMIN, ADMIN_PW

    for parallel in (False, True):
        target = tmp_path / f"ws{parallel}"
        shutil.copytree(ws_path, target)
        with Workspace.open(target, ADMIN, ADMIN_PW) as ws:
            yield parallel, ws


def _digest_by_hand(ws: Workspace, batch_id: int, columns: list[str]) -> str:
    """The rows digest as integrity's docstring defines it, written out independently:
    SHA-256 over the stored rows in insertion order, 1,000 rows a group, each group one
    compact JSON array and a newline."""
    import hashlib

    stored = ws.conn.execute(f"SELECT {', '.join(columns)} FROM operations"
                             " WHERE batch_id = ? ORDER BY rid", (batch_id,)).fetchall()
    h = hashlib.sha256()
    for start in range(0, len(stored), 1000):
        group = [list(r) for r in stored[start:start + 1000]]
        h.update(json.dumps(group, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
    return h.hexdigest()


@pytest.mark.parametrize("repeat_at", [None, 10, 999, 2500])
def test_parallel_digest_from_the_helper_matches_the_rows(ws_path: Path, tmp_path: Path,
                                                          repeat_at: int | None) -> None:
    """The helper process encodes each group of rows for the batch digest; the process
    storing them uses that encoding only while its groups fall on the helper's. A record
    id repeated inside a chunk (rejected by the store, so the stored groups shift) must
    give the same digest as the in-process path and as the rows actually stored."""
    body = [f"R{i},2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00,consult,a{i % 7},C,"
            f"P{i};Q,false,{i},,T\u00e9\n" for i in range(3456)]
    if repeat_at is not None:
        body.insert(repeat_at + 1, body[repeat_at].replace(",T\u00e9", ",other"))
    path = write(tmp_path / "d.csv", OPS_CSV.splitlines(keepends=True)[0] + "".join(body))
    seen = []
    for parallel, ws in _both_ways(ws_path, tmp_path):
        res = import_file(ws, path, parallel=parallel)
        assert res.batch_id is not None
        columns = json.loads(ws.conn.execute("SELECT columns FROM batches WHERE batch_id = ?",
                                             (res.batch_id,)).fetchone()[0])
        assert res.rows_digest == _digest_by_hand(ws, res.batch_id, columns)
        assert verify_workspace(ws.conn).ok
        seen.append((res.rows_imported, res.rows_rejected, res.rows_digest,
                     [r.to_json() for r in res.sample_rejects]))
    assert seen[0] == seen[1]
    assert seen[0][:2] == (3456, 0 if repeat_at is None else 1)
    if repeat_at is not None:  # the header is line 1, so body row i is on line i + 2
        (reject,) = seen[0][3]
        assert reject["line"] == repeat_at + 3
        assert reject["reason"] == (f"duplicate record_id 'R{repeat_at}' "
                                    f"(first on line {repeat_at + 2})")


def test_parallel_reader_error_is_a_sentence(admin_ws: Workspace, tmp_path: Path) -> None:
    before = counts(admin_ws)
    path = write(tmp_path / "l1.csv", "record_id,Name\n" + "1,ok\n" * 3000 + "2,Müller\n",
                 encoding="latin-1")
    with pytest.raises(InputFileError, match=r"line 3002, column 4: .*not valid utf-8"):
        import_file(admin_ws, path, parallel=True)
    assert counts(admin_ws) == before


@pytest.mark.parametrize("parallel", [False, True])
def test_file_changed_during_import_writes_nothing(admin_ws: Workspace, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   parallel: bool) -> None:
    """The bytes parsed are hashed as they are read; if they are not the bytes hashed
    before the import (the file changed in between), the batch is rolled back."""
    path = write(tmp_path / "ops.csv", OPS_CSV)
    monkeypatch.setattr(import_service, "file_sha256", lambda *a, **k: "0" * 64)
    before = counts(admin_ws)
    with pytest.raises(InputFileError, match="changed while it was being imported"):
        import_file(admin_ws, path, parallel=parallel)
    assert counts(admin_ws) == before


def test_a_row_skipped_for_another_constraint_is_a_bug_not_a_duplicate(
        admin_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows go in with INSERT OR IGNORE (a repeated record id is skipped by the
    insert itself); a row skipped for any other constraint must stop the import, not be
    reported as a repeated id (here: its extra text made None, which the table refuses)."""
    from oversight.importing.convert import RowConverter
    real = RowConverter._extra_builder

    def broken(self: RowConverter, columns: list[str] | None):  # type: ignore[no-untyped-def]
        good = real(self, columns)
        return lambda row: None if row.get("record_id") == "J2" else good(row)

    monkeypatch.setattr(RowConverter, "_extra_builder", broken)
    path = tmp_path / "ops.jsonl"
    path.write_text('{"record_id": "J1", "action": "consult"}\n'
                    '{"record_id": "J2", "action": "erase"}\n')
    before = counts(admin_ws)
    with pytest.raises(RuntimeError, match="line 2 was not stored"):
        import_file(admin_ws, path, parallel=False)
    assert counts(admin_ws) == before
