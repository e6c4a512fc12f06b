"""Warnings when a mapping starves the rules of the active pack (before an import)."""

from __future__ import annotations

from conftest import POLICE_UK, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from oversight.criteria.pack import default_pack, load_pack, parse_pack
from oversight.importing.profile import auto_profile, load_profile, parse_profile
from oversight.importing.profile_writer import profile_text
from oversight.importing.sampling import sample_columns
from oversight.pack_mapping import mapping_warnings
from oversight.records import Kind

POLICE_PACK = ROOT / "examples" / "police-uk-stop-and-search.criteria.yaml"
POLICE_PROFILE = ROOT / "examples" / "police-uk-stop-and-search.yaml"
ESSEX = POLICE_UK / "2020-01-essex-stop-and-search.csv"

ONE_RULE = """
pack: ps
version: "1"
title: Police searches
rules:
  - id: PS-01
    title: Search with no power recorded
    severity: high
    legal_refs: ["PACE Code A, para 3.8"]
    rationale: Every search rests on a power.
    when: blank(`Legislation`)
    message: "{`Type`} on {ts:%Y-%m-%d} names no power; object {`Object of search`}"
  - id: PS-02
    title: Disabled
    severity: low
    legal_refs: ["x"]
    rationale: x
    enabled: false
    when: blank(`Gender`)
    message: "{`Gender`}"
"""


def test_a_consumed_column_is_named_with_its_rule_and_field() -> None:
    columns = sample_columns(ESSEX).columns
    auto = auto_profile(Kind.OPERATIONS, columns)
    assert auto.fields["legal_basis"].columns == ("Legislation",)  # the synonym at work
    warnings = mapping_warnings(parse_pack(ONE_RULE, "ps"), auto, columns)
    assert [w.message for w in warnings] == [
        "PS-01 reads the column 'Legislation', which this mapping turns into legal_basis"]
    assert warnings[0].kind == "consumed" and warnings[0].field == "legal_basis"
    # the disabled PS-02 (on Gender, kept as extra anyway) says nothing


def test_the_police_pack_and_the_real_files() -> None:
    pack = load_pack(POLICE_PACK)
    columns = sample_columns(ESSEX).columns
    auto = mapping_warnings(pack, auto_profile(Kind.OPERATIONS, columns), columns)
    first = auto[0]
    assert first.kind == "consumed" and first.name == "Legislation"
    assert first.rules == ("S60-01", "S60-02", "LEG-01")
    assert first.message == (
        "S60-01, S60-02 and LEG-01 read the column 'Legislation', which this mapping turns "
        "into legal_basis; STRIP-01 and OBJ-01 also show it in their messages")
    assert any(w.kind == "empty_field" and w.name == "action" and w.rules == ("S60-02",)
               for w in auto)
    # The shipped profile keeps every column the pack reads and fills action.
    assert mapping_warnings(pack, load_profile(POLICE_PROFILE), columns) == []
    # A column the files do not have.
    renamed = [c if c != "Object of search" else "Object" for c in columns]
    missing = mapping_warnings(pack, load_profile(POLICE_PROFILE), renamed)
    assert [(w.kind, w.name, w.in_condition) for w in missing] == [
        ("missing_column", "Object of search", True)]
    assert missing[0].message.startswith("STRIP-01 and OBJ-01 read the column "
                                         "'Object of search', which these files do not have")


def test_register_fields_left_empty() -> None:
    columns = ["authorisation_id", "regime", "valid_from", "valid_to", "approval"]
    profile = parse_profile(profile_text(Kind.AUTHORISATIONS,
                                         [(c, c) for c in columns]), "p", Kind.AUTHORISATIONS)
    warnings = {w.name: w for w in mapping_warnings(default_pack(), profile, columns)}
    assert warnings["cancelled_at"].message == \
        "AUT-02 reads authorisation.cancelled_at, which this mapping leaves empty"
    assert warnings["subject_ids"].rules == ("AUT-04",)
    assert "valid_from" not in warnings and "found" not in warnings
    # Operation fields are not the business of an authorisation import.
    assert "justification" not in warnings


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(["Type", "Date", "Legislation", "Object of search", "Gender",
                                "Outcome", "Latitude"])))
def test_every_warning_is_true_of_the_mapping(mapped: set[str]) -> None:
    """Map any subset of the police columns to fields: a warning names a column exactly
    when a rule reads it and the mapping consumes it (or the files lack it)."""
    pack = load_pack(POLICE_PACK)
    columns = sample_columns(ESSEX).columns
    targets = {"Type": "agency", "Date": "ts", "Legislation": "legal_basis",
               "Object of search": "justification", "Gender": "actor_id",
               "Outcome": "offence", "Latitude": "recipient_id"}
    text = profile_text(Kind.OPERATIONS, [(c, targets.get(c) if c in mapped else None)
                                          for c in columns])
    profile = parse_profile(text, "p", Kind.OPERATIONS)
    warnings = mapping_warnings(pack, profile, columns)
    consumed = {w.name for w in warnings if w.kind == "consumed"}
    read = set().union(*(r.extra_columns for r in pack.rules if r.enabled))
    assert consumed == (mapped & read)
    for w in warnings:
        assert w.rules and all(pack.rule(r) is not None for r in w.rules)
        if w.kind == "consumed":
            assert w.field == targets[w.name] and w.field in w.message
