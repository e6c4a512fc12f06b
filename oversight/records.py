"""Canonical record kinds and their fields: names, types, vocabularies, synonyms.

These names and value words are a contract: the criteria engine and mapping profiles
rely on them. The storage columns in `db.migrations` mirror this catalogue (a test
checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "KINDS",
    "FieldSpec",
    "FieldType",
    "Kind",
    "fields_of",
    "storage_columns",
]


class Kind(StrEnum):
    OPERATIONS = "operations"
    AUTHORISATIONS = "authorisations"
    CASES = "cases"


class FieldType(StrEnum):
    TEXT = "text"
    """Free text, kept as written."""
    WORD = "word"
    """A vocabulary word: trimmed, lower-cased, spaces and hyphens become '_'."""
    TIMESTAMP = "timestamp"
    """Stored as local ISO 8601 with offset plus UTC microseconds (column ``<name>_utc``)."""
    BOOL = "bool"
    INT = "int"
    LIST = "list"
    """A list of strings, stored as a JSON array."""
    COUNTRY = "country"
    """ISO 3166-1 alpha-2, upper case."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    """Canonical field name."""
    type: FieldType
    """How values are parsed and stored."""
    choices: frozenset[str] | None = None
    """For closed vocabularies, the allowed words; other values are rejected."""
    synonyms: tuple[str, ...] = ()
    """Normalised header names that auto-map to this field."""
    end_of_day: bool = False
    """A date without a time means the end of that day (validity ends, case closure)."""
    doc: str = ""
    """One line for --dry-run and the docs."""
    words: tuple[str, ...] = field(default=(), compare=False)
    """Known words of an open vocabulary (documentation only)."""
    appended: bool = False
    """Added by a later migration (ALTER TABLE ... ADD COLUMN), so stored after ``extra``."""


ACTIONS = (
    "collect", "alter", "consult", "disclose", "transfer", "combine", "erase",
    "notice_request", "eaw_issue", "directed_surveillance", "intrusive_surveillance",
    "interception", "equipment_interference", "search", "arrest", "use_of_force",
)  # fmt: skip
TRANSFER_BASES = frozenset({
    "adequacy", "safeguards_instrument", "safeguards_assessment",
    "derogation_vital_interests", "derogation_data_subject", "derogation_public_security",
    "derogation_individual_case", "derogation_legal_claims",
})  # fmt: skip
RECIPIENT_TYPES = frozenset(
    {"competent_authority", "international_organisation", "private_party", "other"}
)
APPROVALS = frozenset({"approved", "refused", "pending"})
NOTICE_PURPOSES = frozenset({"prosecution", "sentence"})
ART3_CONCERNS = frozenset({"political", "military", "religious", "racial"})

T = FieldType

_OPERATIONS = (
    FieldSpec("ts", T.TIMESTAMP, synonyms=("timestamp", "time", "date", "datetime", "date_time",
              "when", "logged_at", "event_time"), doc="when the action happened"),
    FieldSpec("action", T.WORD, synonyms=("operation", "event", "activity", "action_type",
              "operation_type"), words=ACTIONS, doc="what was done"),
    FieldSpec("actor_id", T.TEXT, synonyms=("actor", "user", "user_id", "officer",
              "officer_id", "username", "operator"), doc="who did it"),
    FieldSpec("actor_role", T.WORD, synonyms=("role", "rank", "user_role"), doc="actor's role"),
    FieldSpec("agency", T.TEXT, synonyms=("authority", "force", "organisation",
              "organization", "unit"), doc="actor's agency"),
    FieldSpec("case_id", T.TEXT, synonyms=("case", "case_no", "case_number", "case_ref",
              "file_no"), doc="case the action served"),
    FieldSpec("subject_ids", T.LIST, synonyms=("subjects", "subject", "subject_id",
              "persons", "person_ids", "data_subjects"), doc="people concerned"),
    FieldSpec("authorisation_id", T.TEXT, synonyms=("authorisation", "authorization",
              "authorization_id", "warrant", "warrant_id", "warrant_no"),
              doc="warrant or approval relied on"),
    FieldSpec("legal_basis", T.TEXT, synonyms=("legal_ground", "basis", "legislation"),
              doc="legal basis cited"),
    FieldSpec("justification", T.TEXT, synonyms=("reason", "purpose", "grounds"),
              doc="recorded justification"),
    FieldSpec("urgent", T.BOOL, synonyms=("urgency", "is_urgent"), doc="urgency flag"),
    FieldSpec("recipient_id", T.TEXT, synonyms=("recipient",), doc="who received data"),
    FieldSpec("recipient_type", T.WORD, choices=RECIPIENT_TYPES, doc="kind of recipient"),
    FieldSpec("recipient_country", T.COUNTRY, synonyms=("country", "destination_country"),
              doc="recipient's country (ISO alpha-2)"),
    FieldSpec("transfer_basis", T.WORD, choices=TRANSFER_BASES, doc="LED Arts. 36-38 basis"),
    FieldSpec("data_categories", T.LIST, synonyms=("categories", "data_category"),
              doc="categories of personal data"),
    FieldSpec("records_count", T.INT, synonyms=("records", "record_count", "rows",
              "result_count", "hits"), doc="records returned or disclosed"),
    FieldSpec("offence", T.TEXT, doc="offence under investigation"),
    FieldSpec("offence_category", T.WORD, doc="offence category word"),
    FieldSpec("max_penalty_months", T.INT, doc="maximum penalty for the offence, months"),
    FieldSpec("notice_type", T.WORD, doc="Interpol notice colour (red, blue, ...)"),
    FieldSpec("notice_purpose", T.WORD, choices=NOTICE_PURPOSES, doc="prosecution or sentence"),
    FieldSpec("sentence_months", T.INT, doc="sentence imposed, months"),
    FieldSpec("remaining_months", T.INT, doc="sentence remaining, months"),
    FieldSpec("art3_concern", T.WORD, choices=ART3_CONCERNS,
              doc="Interpol Constitution Art. 3 concern"),
    FieldSpec("sequence", T.INT, synonyms=("seq", "seq_no", "sequence_no", "sequence_number",
              "log_sequence", "serial_no", "serial_number", "running_number"),
              doc="the log's own running number (gaps: missing entries)", appended=True),
)

_AUTHORISATIONS = (
    FieldSpec("authorisation_id", T.TEXT, synonyms=("authorisation", "authorization",
              "authorization_id", "warrant", "warrant_id", "warrant_no", "id"),
              doc="warrant or approval id"),
    FieldSpec("regime", T.TEXT, synonyms=("power", "type"), doc="legal regime"),
    FieldSpec("legal_basis", T.TEXT, synonyms=("basis",), doc="legal basis"),
    FieldSpec("issuer_id", T.TEXT, synonyms=("issuer", "issued_by", "granted_by"),
              doc="who issued it"),
    FieldSpec("issuer_role", T.WORD, synonyms=("issuer_rank",), doc="issuer's rank or office"),
    FieldSpec("approver_id", T.TEXT, synonyms=("approver", "approved_by", "judicial_commissioner"),
              doc="who approved it"),
    FieldSpec("approval", T.WORD, choices=APPROVALS, synonyms=("approval_status",),
              doc="approved, refused or pending"),
    FieldSpec("approved_at", T.TIMESTAMP, synonyms=("approval_date",), doc="approval time"),
    FieldSpec("urgent", T.BOOL, synonyms=("urgency",), doc="urgent grant"),
    FieldSpec("valid_from", T.TIMESTAMP, synonyms=("start", "from", "start_date"),
              doc="validity start"),
    FieldSpec("valid_to", T.TIMESTAMP, end_of_day=True, synonyms=("end", "to", "expires",
              "end_date", "expiry"), doc="validity end (a date means through that day)"),
    FieldSpec("cancelled_at", T.TIMESTAMP, synonyms=("cancelled", "cancellation_date"),
              doc="cancellation time"),
    FieldSpec("case_id", T.TEXT, synonyms=("case",), doc="case"),
    FieldSpec("subject_ids", T.LIST, synonyms=("subjects",), doc="people covered"),
    FieldSpec("actions", T.LIST, synonyms=("measures", "measure"), doc="measures covered"),
)

_CASES = (
    FieldSpec("case_id", T.TEXT, synonyms=("case", "id", "case_no", "case_number"), doc="case"),
    FieldSpec("opened_at", T.TIMESTAMP, synonyms=("opened", "open_date"), doc="opened"),
    FieldSpec("closed_at", T.TIMESTAMP, end_of_day=True, synonyms=("closed", "close_date"),
              doc="closed (a date means through that day)"),
    FieldSpec("offence", T.TEXT, doc="offence"),
    FieldSpec("max_penalty_months", T.INT, doc="maximum penalty, months"),
    FieldSpec("team", T.LIST, synonyms=("members", "officers"), doc="actor ids on the case"),
    FieldSpec("subject_ids", T.LIST, synonyms=("subjects",), doc="people in the case"),
)

KINDS: dict[Kind, tuple[FieldSpec, ...]] = {
    Kind.OPERATIONS: _OPERATIONS,
    Kind.AUTHORISATIONS: _AUTHORISATIONS,
    Kind.CASES: _CASES,
}

#: The field every record of a kind must carry (its natural key), if any.
NATURAL_KEY: dict[Kind, str | None] = {
    Kind.OPERATIONS: None,
    Kind.AUTHORISATIONS: "authorisation_id",
    Kind.CASES: "case_id",
}


def fields_of(kind: Kind) -> dict[str, FieldSpec]:
    return {f.name: f for f in KINDS[kind]}


def storage_columns(kind: Kind) -> list[str]:
    """Columns written per record, in table order after (rid, batch_id, line, record_id)."""
    cols: list[str] = []
    later: list[str] = []
    for spec in KINDS[kind]:
        target = later if spec.appended else cols
        target.append(spec.name)
        if spec.type is FieldType.TIMESTAMP:
            target.append(f"{spec.name}_utc")
    return [*cols, "extra", *later]
