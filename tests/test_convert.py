"""The compiled converter agrees with the step-by-step reference; values round-trip."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oversight import queries
from oversight.importing import import_file
from oversight.importing.convert import BadValue, RowConverter
from oversight.importing.profile import parse_profile
from oversight.records import Kind
from oversight.workspace import Workspace

PROFILE = parse_profile("""
kind: operations
timezone: Europe/Paris
fields:
  ts: {columns: [d, t], format: "%Y-%m-%d %H:%M"}
  action: a
  actor_id: who
  subject_ids: {column: subj, split: "|"}
  urgent: {column: u, map: {J: true, N: false}}
  records_count: n
  recipient_country: c
  transfer_basis: b
  legal_basis: {value: "s.35"}
missing: ["", "-", "NULL"]
""", "p.yaml")
COLUMNS = ["d", "t", "a", "who", "subj", "u", "n", "c", "b", "spare"]

cell = st.one_of(
    st.sampled_from(["", "-", "NULL", " ", "J", "N", "true", "12", "1.0", "x", "DE", "uk",
                     "adequacy", "Adequacy", "derogation vital interests", "2026-03-29",
                     "02:30", "a|b| c", "|", "a||b"]),
    st.text(max_size=8),
)


def _outcome(fn, row):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(row))
    except BadValue as exc:
        return ("bad", exc.field)


@given(st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)))
@settings(max_examples=400)
def test_compiled_matches_reference_for_csv_rows(values: list[str]) -> None:
    conv = RowConverter(PROFILE, COLUMNS, text_only=True)
    assert _outcome(conv.fast, values) == _outcome(conv.convert, values)


@given(st.dictionaries(st.sampled_from(COLUMNS),
                       st.one_of(cell, st.none(), st.integers(), st.booleans(),
                                 st.lists(st.text(max_size=3), max_size=3))))
@settings(max_examples=400)
def test_compiled_matches_reference_for_json_rows(row: dict[str, object]) -> None:
    conv = RowConverter(PROFILE, None)
    assert _outcome(conv.fast, row) == _outcome(conv.convert, row)


@given(st.lists(st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)),
                min_size=2, max_size=12))
@settings(max_examples=150)
def test_compiled_matches_reference_row_after_row(rows: list[list[str]]) -> None:
    """One converter for a whole file, as the import uses it: values met before are
    answered from the parsers' caches (the compiled code reads them directly), a bad
    value is reported again on every row that holds it."""
    conv = RowConverter(PROFILE, COLUMNS, text_only=True)
    assert conv.row_has_extra
    for values in rows + rows:
        expected = _outcome(conv.convert, values)
        assert _outcome(conv.fast, values) == expected
        # The import's whole stored row: the same fields, the same extra text.
        whole = _outcome(conv.fast_row, values)
        if expected[0] == "ok":
            expected = ("ok", [None, None, None, *expected[1], conv.extra(values)])
        assert whole == expected


@given(st.lists(st.dictionaries(st.sampled_from(COLUMNS),
                                st.one_of(cell, st.none(), st.integers(), st.booleans(),
                                          st.lists(st.text(max_size=3), max_size=3))),
                min_size=2, max_size=12))
@settings(max_examples=150)
def test_compiled_matches_reference_row_after_row_json(rows: list[dict[str, object]]) -> None:
    conv = RowConverter(PROFILE, None)
    assert not conv.row_has_extra  # the import loop adds extra(row) itself
    for row in rows + rows:
        expected = _outcome(conv.convert, row)
        assert _outcome(conv.fast, row) == expected
        whole = _outcome(conv.fast_row, row)
        assert whole == (("ok", [None, None, None, *expected[1], None])
                         if expected[0] == "ok" else expected)


PROFILE_ISO = parse_profile("""
kind: operations
timezone: Europe/Paris
fields:
  ts: when
  action: a
missing: ["", "-"]
""", "iso.yaml")
iso_cell = st.one_of(
    st.sampled_from([
        "2026-03-04T09:15:00+01:00", "2026-03-04T09:15:00.123456+01:00",
        "2026-03-04T09:15:00.123456-05:30", "2026-03-04T09:15:00Z", "2026-03-04T09:15:00",
        "2026-10-25T02:30:00", "2026-03-29T02:30:00", "2026-03-04", "2026-03-04 09:15:00+01:00",
        " 2026-03-04T09:15:00+01:00", "2026-03-04T09:15:00+01:00 ", "2026-03-04T09:15+01:00",
        "2026-03-04T09:15:00+0100", "2026-03-04T09:15:00.1+01:00", "1900-01-01T00:00:00+00:00",
        "2026-13-04T09:15:00+01:00", "2026-03-04T24:00:00+01:00", "-", "", "x"]),
    st.datetimes(timezones=st.just(UTC) | st.none()).map(datetime.isoformat),
    st.text(alphabet="0123456789-T:+.Z ", max_size=32),
)


@given(st.lists(st.tuples(iso_cell, st.sampled_from(["consult", "Transfer", "nope"])),
                min_size=1, max_size=8))
@settings(max_examples=300)
@example([("2026-10-25T02:30:00", "consult")])
def test_compiled_iso_timestamps_match_reference(cells: list[tuple[str, str]]) -> None:
    """ISO 8601 cells as isoformat() writes them are stored without the parser's call;
    any other cell goes to the parser: same text, UTC microseconds, ambiguity notes and
    rejections as the step-by-step reference."""
    conv = RowConverter(PROFILE_ISO, ["when", "a", "other"], text_only=True)
    for when, action in cells:
        values = [when, action, when]
        got = _outcome(conv.fast_row, values), list(conv.notes)
        conv.notes.clear()
        expected = _outcome(conv.convert, values), list(conv.notes)
        conv.notes.clear()
        if expected[0][0] == "ok":
            expected = (("ok", [None, None, None, *expected[0][1], conv.extra(values)]),
                        expected[1])
        assert got == expected


_counter = iter(range(10**9))


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                               blacklist_characters="\x00"), max_size=30),
                min_size=3, max_size=3))
@example(["a\rb", "c\r\nd", "\r"])
@example(["=1+1", "\"quoted, with comma\"", "\u202eRTL \U0001F600"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_unmapped_csv_values_survive_exactly(admin_ws: Workspace, tmp_path: Path,
                                            values: list[str]) -> None:
    """Quotes, delimiters, newlines, RTL text and emoji in kept columns come back exactly
    as a standard CSV reader reads them from the file; an empty cell (the default missing
    marker) comes back as null."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["record_id", "Note", "Other", "Third"])
    n = next(_counter)
    writer.writerow([str(n), *values])
    text = buf.getvalue()
    path = tmp_path / f"f{n}.csv"
    path.write_text(text, encoding="utf-8", newline="")
    res = import_file(admin_ws, path, Kind.OPERATIONS)
    rec = queries.records(admin_ws, where=[("batch_id", str(res.batch_id))], limit=1)[0]
    # Exactly the values written, carriage returns inside quoted cells included; an empty
    # cell is "no value" (the default missing marker applies to kept columns too).
    written = dict(zip(["Note", "Other", "Third"], values, strict=True))
    assert rec["extra"] == {k: (None if v == "" else v) for k, v in written.items()}


@given(st.sampled_from([";", "|", ",", " ", "-", "]", "\\", "||", ", "]),
       st.text(alphabet=st.sampled_from(list("ab ;|,-]\\\"\t\n\u00a0\u2003é")), max_size=12))
@settings(max_examples=600)
@example(";", "a;b")
@example(";", "a; b")
@example(";", "a\u00a0;b")
@example(";", ";a")
@example(";", "a;")
@example(";", "a;;b")
@example(";", " a")
@example(";", "a\u2003")
@example("|", 'a|"b')
def test_list_fast_path_agrees_with_the_careful_path(sep: str, value: str) -> None:
    """A list cell without anything to trim, drop or escape is turned into its JSON array
    by two string calls; whatever the separator, that must be exactly what splitting,
    trimming and encoding each item gives."""
    from oversight.importing.convert import _list, _list_parser

    assert _list_parser(sep)(value) == _list(value, sep)
