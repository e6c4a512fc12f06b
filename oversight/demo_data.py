"""Seeded, reproducible generator of synthetic but realistic oversight data.

`generate` writes three files into a folder:

* ``operations.csv``: one row per logged action (consultations, disclosures, transfers,
  warrant-backed measures, notice requests, arrest warrants...), in time order;
* ``authorisations.csv``: the register of warrants and approvals;
* ``cases.jsonl``: the case register (one JSON object per line).

The background is built to be clean against the default criteria pack; a small, documented
set of irregularities is planted on top (`DemoFiles.planted`), next to lawful boundary cases
that must not fire (`DemoFiles.boundaries`). See ``docs/demo-data.md``.

Standard library only; the same seed and size give byte-identical files.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Final

__all__ = [
    "AUTHORISATION_FIELDS",
    "CASE_KEYS",
    "OPERATION_FIELDS",
    "RULE_IDS",
    "DemoFiles",
    "Planted",
    "generate",
]

OPERATION_FIELDS: Final[tuple[str, ...]] = (
    "record_id", "ts", "action", "actor_id", "actor_role", "agency", "case_id", "subject_ids",
    "authorisation_id", "legal_basis", "justification", "urgent", "recipient_id",
    "recipient_type", "recipient_country", "transfer_basis", "data_categories",
    "records_count", "offence", "offence_category", "max_penalty_months", "notice_type",
    "notice_purpose", "sentence_months", "remaining_months", "art3_concern", "sequence",
    "terminal", "query_text",
)  # fmt: skip
AUTHORISATION_FIELDS: Final[tuple[str, ...]] = (
    "authorisation_id", "regime", "legal_basis", "issuer_id", "issuer_role", "approver_id",
    "approval", "approved_at", "urgent", "valid_from", "valid_to", "cancelled_at", "case_id",
    "subject_ids", "actions",
)  # fmt: skip
CASE_KEYS: Final[tuple[str, ...]] = (
    "case_id", "opened_at", "closed_at", "offence", "max_penalty_months", "team",
    "subject_ids", "unit",
)  # fmt: skip
RULE_IDS: Final[tuple[str, ...]] = (
    "LOG-01", "PUR-01", "PUR-02", "PRO-01", "PRO-02", "PRO-03", "PRO-04", "SPC-01",
    "TRF-01", "TRF-02", "TRF-03", "INT-01", "INT-02", "INT-03", "AUT-01", "AUT-02",
    "AUT-03", "AUT-04", "XB-01", "DQ-01", "DQ-02", "DQ-03", "DQ-04", "DQ-05",
)  # fmt: skip


@dataclass(frozen=True)
class Planted:
    """One planted irregularity (or, in `DemoFiles.boundaries`, one lawful boundary case)."""

    rule_id: str
    record_ids: tuple[str, ...]
    """Operation record_ids involved (for aggregate rules: all records of the group; for a
    gap in the log: the records on either side of it)."""
    description: str
    group: tuple[tuple[str, str], ...] = ()
    """For a finding that cites no record (DQ-04, a kind of operation never logged): the
    facts that identify it, e.g. (("agency", "LU-PGD"), ("action", "disclose"))."""


@dataclass(frozen=True)
class DemoFiles:
    operations: Path
    authorisations: Path
    cases: Path
    planted: tuple[Planted, ...]
    """Planted irregularities, in the order of `RULE_IDS`."""
    boundaries: tuple[Planted, ...] = ()
    """Nearest-lawful variants next to the planted ones: the named rule must NOT fire."""


# ---------------------------------------------------------------------------------------
# Vocabularies and reference data
# ---------------------------------------------------------------------------------------

_YEAR: Final = 2025
#: The default pack's `log_actions` (consultations and disclosures, transfers included).
_LOG_ACTIONS: Final = ("consult", "disclose", "transfer")
_INTRUSIVE: Final = (
    "directed_surveillance", "intrusive_surveillance", "interception", "equipment_interference"
)
_EXCLUDED: Final = (
    "defamation", "insult", "personal_drug_use", "prostitution", "surrogacy", "family_matter",
    "private_dispute", "administrative_violation",
)  # fmt: skip
_SOS: Final = "SOS-HOME"
_MIN_OPERATIONS: Final = 2000


@dataclass(frozen=True)
class _Agency:
    code: str
    country: str
    offset: int  # hours east of UTC, fixed for the agency
    actors: int
    lang: str
    bases: tuple[str, str]  # legal bases for processing (consult, other)
    transfer_law: str
    search_law: str
    arrest_law: str
    prosecutors: tuple[str, ...]
    eaw_authority: str
    units: tuple[str, ...]
    terminal_base: int


_AGENCIES: Final = (
    _Agency("DE-BKA", "DE", 1, 48, "de", ("BKAG §16", "StPO §483"), "BKAG §27", "StPO §102",
            "StPO §127", ("DE-GBA", "DE-STA-WIESBADEN", "DE-STA-FRANKFURT"), "DE-GSTA-BERLIN",
            ("SO 1 Organisierte Kriminalität", "SO 4 Wirtschaftskriminalität",
             "CC Cybercrime", "ZD Zielfahndung"), 100),
    _Agency("FR-DCPJ", "FR", 1, 44, "fr", ("CPP art. 230-6", "CPP art. 230-7"),
            "Loi 78-17 art. 112", "CPP art. 56", "CPP art. 63",
            ("FR-PARQUET-PARIS", "FR-PNF", "FR-JIRS-LYON"), "FR-CA-PARIS",
            ("OCRGDF", "OFAST", "OCLCTIC", "Brigade de répression du banditisme"), 200),
    _Agency("NL-NP", "NL", 1, 42, "nl", ("Wpg art. 8", "Wpg art. 9"), "Wpg art. 17a",
            "Sv art. 110", "Sv art. 54", ("NL-OM-LP", "NL-OM-ROTTERDAM"), "NL-IRC-AMSTERDAM",
            ("Dienst Landelijke Recherche", "Dienst Regionale Recherche",
             "Team High Tech Crime"), 300),
    _Agency("GB-MET", "GB", 0, 56, "en", ("DPA 2018 s.35", "DPA 2018 s.31"), "DPA 2018 s.73",
            "PACE 1984 s.8", "PACE 1984 s.24", ("GB-CPS-LONDON", "GB-CPS-SCD"), "",
            ("Specialist Crime", "Flying Squad", "Economic Crime Unit",
             "Homicide and Major Crime"), 400),
    _Agency("GB-NCA", "GB", 0, 40, "en", ("DPA 2018 s.35", "DPA 2018 s.31"), "DPA 2018 s.73",
            "PACE 1984 s.8", "PACE 1984 s.24", ("GB-CPS-SCD", "GB-COPFS"), "",
            ("Border Policing Command", "Economic Crime Command", "National Cyber Crime Unit",
             "Organised Crime Command"), 500),
    _Agency("IE-AGS", "IE", 0, 34, "en", ("DPA 2018 s.71", "DPA 2018 s.70"), "DPA 2018 s.97",
            "CJ(MP)A 1997 s.10", "CLA 1997 s.4", ("IE-DPP",), "IE-HC",
            ("Garda National Drugs and Organised Crime Bureau",
             "Garda National Economic Crime Bureau", "Garda National Cyber Crime Bureau"), 600),
    _Agency("FI-KRP", "FI", 2, 36, "fi", ("L 616/2019 13 §", "L 616/2019 15 §"),
            "L 616/2019 21 §", "Pakkokeinolaki 8:1", "Pakkokeinolaki 2:1",
            ("FI-SYYTTAJALAITOS",), "FI-HELSINGIN-KO",
            ("Järjestäytyneen rikollisuuden torjunta", "Talousrikostorjunta",
             "Kyberrikostorjunta"), 700),
)  # fmt: skip

# The log of a number-plate reading system, delivered by an agency that appears nowhere
# else: three weeks of dense consultations with planted gaps (DQ-01), no disclosures or
# transfers at all (DQ-04) and some entries without a time (DQ-05).
_FEED: Final = _Agency(
    "LU-PGD", "LU", 1, 10, "fr", ("Loi du 18 juillet 2018, art. 43", "Loi du 18 juillet 2018, "
                                  "art. 44"), "Loi du 1er août 2018, art. 37",
    "CPP art. 33", "CPP art. 39", ("LU-PARQUET-LUXEMBOURG",), "",
    ("Service de police judiciaire, lecture automatisée des plaques",), 800)
#: Kinds of operation Directive (EU) 2016/680 Art. 25(1) requires logs of (DQ-04).
_ART25: Final = ("collect", "alter", "consult", "disclose", "transfer", "combine", "erase")
#: Background disclosures and transfers per agency at least, so that the one planted
#: disclosure without a recipient stays under DQ-05's 5 % of an agency's total.
_MIN_DISCLOSURES: Final = 24

_LED_AREA: Final = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    "CH",
))  # EU-27 plus the Schengen associates


@dataclass(frozen=True)
class _Dest:
    recipient_id: str
    recipient_type: str
    country: str
    basis: str  # transfer basis for a sender inside the LED area


_LED_POLICE: Final = tuple(
    _Dest(r, "competent_authority", r[:2], "")
    for r in ("DE-BKA", "FR-DCPJ", "NL-NP", "IE-AGS", "FI-KRP", "BE-FGP", "ES-CNP", "IT-SCIP",
              "PL-KGP", "AT-BK", "SE-NOA", "DK-NKC", "CZ-NCOZ", "PT-PJ", "RO-IGPR", "CH-FEDPOL",
              "NO-KRIPOS")
)
_INT_ORGS: Final = (
    _Dest("EUROPOL", "international_organisation", "NL", ""),
    _Dest("EUROJUST", "international_organisation", "NL", ""),
    _Dest("INTERPOL-GS", "international_organisation", "FR", ""),
)
_GB_DESTS: Final = (
    _Dest("GB-NCA", "competent_authority", "GB", "adequacy"),
    _Dest("GB-MET", "competent_authority", "GB", "adequacy"),
)
_THIRD: Final = (
    _Dest("US-FBI", "competent_authority", "US", "safeguards_instrument"),
    _Dest("US-HSI", "competent_authority", "US", "safeguards_instrument"),
    _Dest("CA-RCMP", "competent_authority", "CA", "safeguards_instrument"),
    _Dest("AU-AFP", "competent_authority", "AU", "safeguards_assessment"),
    _Dest("RS-MUP", "competent_authority", "RS", "safeguards_assessment"),
    _Dest("UA-NPU", "competent_authority", "UA", "safeguards_assessment"),
    _Dest("TR-EGM", "competent_authority", "TR", "safeguards_assessment"),
    _Dest("JP-NPA", "competent_authority", "JP", "safeguards_assessment"),
    _Dest("MA-DGSN", "competent_authority", "MA", "derogation_individual_case"),
    _Dest("BR-PF", "competent_authority", "BR", "derogation_individual_case"),
)
_DEROGATIONS: Final = (
    "derogation_individual_case", "derogation_vital_interests", "derogation_public_security",
    "derogation_legal_claims", "derogation_data_subject",
)  # fmt: skip
_EAW_AUTHORITIES: Final = (
    ("ES-AN-MADRID", "ES"), ("PL-SO-WARSZAWA", "PL"), ("RO-CA-BUCURESTI", "RO"),
    ("IT-CA-MILANO", "IT"), ("NL-IRC-AMSTERDAM", "NL"), ("DE-GSTA-BERLIN", "DE"),
    ("FR-CA-PARIS", "FR"), ("IE-HC", "IE"), ("FI-HELSINGIN-KO", "FI"), ("BG-SGS-SOFIA", "BG"),
    ("LT-VRT-VILNIUS", "LT"), ("PT-TRL-LISBOA", "PT"),
)  # fmt: skip

# (category, offence label, possible maximum penalties in months, weight)
_OFFENCES: Final = (
    ("fraud", "Fraud", (60, 120), 14),
    ("drug_trafficking", "Drug trafficking", (120, 180, 360), 16),
    ("homicide", "Murder", (360,), 4),
    ("homicide", "Manslaughter", (180,), 2),
    ("robbery", "Armed robbery", (120, 180), 7),
    ("cybercrime", "Ransomware extortion", (60, 120), 7),
    ("cybercrime", "Computer fraud", (60,), 4),
    ("money_laundering", "Money laundering", (60, 120, 168), 9),
    ("human_trafficking", "Trafficking in human beings", (120, 240), 4),
    ("burglary", "Aggravated burglary", (120,), 6),
    ("arms_trafficking", "Illicit trafficking in firearms", (120,), 3),
    ("organised_crime", "Participation in a criminal organisation", (60, 120), 6),
    ("theft", "Theft", (60, 84), 6),
    ("sexual_exploitation", "Sexual exploitation of children", (120, 168), 3),
    ("harassment", "Harassment", (6, 24), 4),
    ("assault", "Common assault", (6, 12), 3),
    ("criminal_damage", "Criminal damage", (18, 24), 2),
)

# Special cases the planted records need: tag -> (agency, category, offence, max penalty)
_SPECIAL_CASES: Final = (
    ("pro04-24", "GB-MET", "harassment", "Harassment", 24),
    ("pro04-6", "GB-MET", "assault", "Common assault", 6),
    ("pro04-36", "GB-NCA", "handling_stolen_goods", "Handling stolen goods", 36),
    ("int01-18", "FR-DCPJ", "criminal_damage", "Criminal damage", 18),
    ("int01-24", "DE-BKA", "criminal_damage", "Criminal damage", 24),
    ("xb01-9", "NL-NP", "theft", "Shoplifting", 9),
    ("xb01-12", "IE-AGS", "assault", "Common assault", 12),
    ("int02-defamation", "DE-BKA", "defamation", "Defamation", 60),
    ("int02-family", "FR-DCPJ", "family_matter", "Non-payment of child maintenance", 36),
    ("int02-yellow", "NL-NP", "family_matter", "Child abduction by a parent", 48),
    ("int03-military", "FI-KRP", "military_offence", "Desertion", 36),
)

_SURNAMES: Final[dict[str, tuple[str, ...]]] = {
    "DE": ("MÜLLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER", "MEYER", "WAGNER", "BECKER",
           "SCHULZ", "HOFFMANN", "KRÜGER", "BÖHM", "KÖHLER", "SCHÄFER"),
    "FR": ("MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
           "LEFÈVRE", "MOREAU", "GIRARD", "FRANÇOIS", "MERCIER", "GAUTHIER"),
    "NL": ("DE JONG", "JANSEN", "DE VRIES", "VAN DEN BERG", "VAN DIJK", "BAKKER", "JANSSEN",
           "VISSER", "SMIT", "MEIJER", "DE BOER", "MULDER"),
    "GB": ("SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES",
           "ROBINSON", "WRIGHT", "THOMPSON", "EVANS", "PATEL", "KHAN"),
    "IE": ("MURPHY", "KELLY", "O'SULLIVAN", "WALSH", "O'BRIEN", "BYRNE", "RYAN", "O'CONNOR",
           "O'NEILL", "Ó BRIAIN", "MAC GIOLLA", "DOYLE"),
    "FI": ("KORHONEN", "VIRTANEN", "MÄKINEN", "NIEMINEN", "MÄKELÄ", "HÄMÄLÄINEN", "LAINE",
           "HEIKKINEN", "KOSKINEN", "JÄRVINEN"),
    "XX": ("NOWAK", "KOWALSKI", "ŁUKASZEWICZ", "POPESCU", "GARCÍA", "ROSSI", "YILMAZ",
           "HORVÁTH", "NOVÁK", "DIMITROV", "ÖZTÜRK", "PETROVIĆ", "ABDULLAHI", "NGUYEN"),
}  # fmt: skip

_TEXTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "identity": ("Identity check of suspect, case {case}",
                     'Check of "alias" named in intelligence report, case {case}'),
        "address": ("Address check for witness, case {case}",),
        "record": ("Antecedent history before interview ({case})",),
        "vehicle": ("Vehicle keeper check, case {case}",),
        "financial": ("Financial enquiry for asset recovery, case {case}",),
        "collect": ("Witness statement recorded, case {case}",),
        "alter": ("Correction of date of birth after ID check, case {case}",),
        "combine": ("Cross-match of seized phone contacts, case {case}",),
        "erase": ("Deletion after review period, case {case}",),
        "disclose": ("Case file to prosecutor, case {case}",),
        "transfer": ("Request for mutual assistance, case {case}",),
        "search": ("Premises search under warrant, case {case}",),
        "arrest": ("Arrest on reasonable suspicion, case {case}",),
        "notice_request": ("Request for Interpol notice, case {case}",),
        "eaw_issue": ("Issue of European Arrest Warrant, case {case}",),
        "measure": ("Product of covert measure logged, case {case}",),
    },
    "de": {
        "identity": ("Identitätsprüfung Beschuldigter, Verfahren {case}",),
        "address": ("Aufenthaltsermittlung Zeuge, Verfahren {case}",),
        "record": ("Prüfung Vorerkenntnisse vor Vernehmung ({case})",),
        "vehicle": ("Halterabfrage, Verfahren {case}",),
        "financial": ("Finanzermittlung, Verfahren {case}",),
        "collect": ("Erfassung Zeugenaussage, Verfahren {case}",),
        "alter": ("Berichtigung Geburtsdatum nach ID-Prüfung, {case}",),
        "combine": ("Abgleich sichergestellter Kontakte, Verfahren {case}",),
        "erase": ("Löschung nach Aussonderungsprüfung, {case}",),
        "disclose": ("Übermittlung an Staatsanwaltschaft, Verfahren {case}",),
        "transfer": ("Rechtshilfeersuchen, Verfahren {case}",),
        "search": ("Durchsuchung gem. Beschluss, Verfahren {case}",),
        "arrest": ("Vorläufige Festnahme, Verfahren {case}",),
        "notice_request": ("Ersuchen um Interpol-Ausschreibung, {case}",),
        "eaw_issue": ("Europäischer Haftbefehl, Verfahren {case}",),
    },
    "fr": {
        "identity": ("Vérification d'identité du mis en cause, dossier {case}",),
        "address": ("Recherche d'adresse du témoin, dossier {case}",),
        "record": ("Consultation des antécédents avant audition ({case})",),
        "vehicle": ("Identification du titulaire du véhicule, dossier {case}",),
        "financial": ("Enquête patrimoniale, dossier {case}",),
        "collect": ("Enregistrement d'un procès-verbal d'audition, dossier {case}",),
        "alter": ("Rectification de la date de naissance, dossier {case}",),
        "combine": ("Rapprochement des contacts saisis, dossier {case}",),
        "erase": ("Effacement après durée de conservation, dossier {case}",),
        "disclose": ("Transmission au parquet, dossier {case}",),
        "transfer": ("Demande d'entraide, dossier {case}",),
        "search": ("Perquisition, dossier {case}",),
        "arrest": ("Interpellation, dossier {case}",),
        "notice_request": ("Demande de notice Interpol, dossier {case}",),
        "eaw_issue": ("Émission d'un mandat d'arrêt européen, dossier {case}",),
    },
    "nl": {
        "identity": ("Identiteitscontrole verdachte, zaak {case}",),
        "address": ("Adresonderzoek getuige, zaak {case}",),
        "record": ("Antecedentenonderzoek voor verhoor ({case})",),
        "vehicle": ("Kentekenonderzoek, zaak {case}",),
        "financial": ("Financieel onderzoek, zaak {case}",),
        "collect": ("Vastlegging getuigenverklaring, zaak {case}",),
        "alter": ("Correctie geboortedatum na ID-controle, zaak {case}",),
        "combine": ("Koppeling inbeslaggenomen contacten, zaak {case}",),
        "erase": ("Verwijdering na bewaartermijn, zaak {case}",),
        "disclose": ("Verstrekking aan OM, zaak {case}",),
        "transfer": ("Rechtshulpverzoek, zaak {case}",),
        "search": ("Doorzoeking, zaak {case}",),
        "arrest": ("Aanhouding, zaak {case}",),
        "notice_request": ("Verzoek Interpol-notice, zaak {case}",),
        "eaw_issue": ("Uitvaardiging Europees aanhoudingsbevel, zaak {case}",),
    },
    "fi": {
        "identity": ("Epäillyn henkilöllisyyden tarkistus, juttu {case}",),
        "address": ("Todistajan osoitteen selvitys, juttu {case}",),
        "record": ("Rikostaustan tarkistus ennen kuulustelua ({case})",),
        "vehicle": ("Ajoneuvon omistajan selvitys, juttu {case}",),
        "financial": ("Talousrikostutkinta, juttu {case}",),
        "collect": ("Todistajan kertomuksen kirjaus, juttu {case}",),
        "alter": ("Syntymäajan korjaus, juttu {case}",),
        "combine": ("Takavarikoitujen yhteystietojen yhdistäminen, juttu {case}",),
        "erase": ("Poisto säilytysajan päätyttyä, juttu {case}",),
        "disclose": ("Luovutus syyttäjälle, juttu {case}",),
        "transfer": ("Oikeusapupyyntö, juttu {case}",),
        "search": ("Kotietsintä, juttu {case}",),
        "arrest": ("Kiinniotto, juttu {case}",),
        "notice_request": ("Interpol-kuulutuspyyntö, juttu {case}",),
        "eaw_issue": ("Eurooppalainen pidätysmääräys, juttu {case}",),
    },
}

_PURPOSES: Final = ("identity", "address", "record", "vehicle", "financial")
_PURPOSE_CUM: Final = (40, 60, 80, 92, 100)
_PURPOSE_CATS: Final = {
    "identity": "identity", "address": "identity;address", "record": "identity;criminal_record",
    "vehicle": "identity;vehicle", "financial": "identity;financial",
}  # fmt: skip
_FREE_KINDS: Final = (
    "consult", "collect", "alter", "disclose", "transfer", "combine", "erase", "search",
    "arrest", "notice_request", "eaw_issue",
)  # fmt: skip
_FREE_WEIGHTS: Final = (750, 60, 40, 40, 25, 20, 15, 15, 10, 6, 4)
_ROLES: Final = (
    "investigator", "investigator", "analyst", "analyst", "intelligence_officer",
    "detective_sergeant", "surveillance_officer", "liaison_officer", "records_officer",
)  # fmt: skip
_SENIORS: Final = (
    ("inspector", 2), ("superintendent", 2), ("chief_superintendent", 1),
    ("assistant_chief_constable", 1), ("chief_constable", 1),
)  # fmt: skip
_REGIME_BY_ACTION: Final = {
    "directed_surveillance": "RIPA-DS", "intrusive_surveillance": "RIPA-IS",
    "interception": "IPA-TI", "equipment_interference": "IPA-EI", "transfer": "LED-TRANSFER",
}  # fmt: skip
_NOTICE_BASIS: Final = {
    "red": "INTERPOL RPD art. 83", "blue": "INTERPOL RPD art. 88",
    "green": "INTERPOL RPD art. 89", "yellow": "INTERPOL RPD art. 90",
}  # fmt: skip
_EAW_BASIS: Final = "FD 2002/584/JHA art. 2(1)"
_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ"

# Background limits, kept well inside the criteria thresholds so that no single planted
# record can push a background group over a threshold.
_BG_PER_ACTOR_SUBJECT_30D: Final = 6
_BG_ACTORS_PER_SUBJECT_7D: Final = 3
_BG_PER_ACTOR_60MIN: Final = 30


def _tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


# ---------------------------------------------------------------------------------------
# The world: agencies, actors, subjects, cases, authorisations
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Actor:
    id: str
    agency: _Agency
    role: str
    terminal: str
    senior: bool


@dataclass(eq=False)
class _Case:
    agency: _Agency
    opened: datetime
    closed: datetime | None
    category: str
    offence: str
    max_penalty: int
    unit: str
    tag: str = ""
    team: list[_Actor] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)  # used by the background
    extra_subjects: list[str] = field(default_factory=list)  # used by planted records
    id: str = ""

    def window(self) -> tuple[datetime, datetime]:
        """The part of the case's open period that lies in the data year."""
        tz = self.opened.tzinfo
        start = max(self.opened, datetime(_YEAR, 1, 1, tzinfo=tz))
        end = datetime(_YEAR, 12, 31, 23, 59, 59, tzinfo=tz)
        if self.closed is not None:
            end = min(end, self.closed)
        return start, end

    def notice_ok(self) -> bool:
        return self.max_penalty >= 36 and self.category not in _EXCLUDED


@dataclass(eq=False)
class _Auth:
    regime: str
    case: _Case
    issuer_id: str
    issuer_role: str
    approver_id: str
    approval: str
    approved_at: datetime | None
    urgent: bool
    valid_from: datetime
    valid_to: date | datetime
    subjects: list[str]
    actions: list[str]
    legal_basis: str
    cancelled_at: datetime | None = None
    dest: _Dest | None = None
    weight: int = 0  # share of background operations run under it
    id: str = ""

    def end(self) -> datetime:
        """Exclusive end of validity (a date-only valid_to runs through that day)."""
        if isinstance(self.valid_to, datetime):
            end = self.valid_to
        else:
            end = datetime.combine(self.valid_to + timedelta(days=1), time(),
                                   self.valid_from.tzinfo)
        if self.cancelled_at is not None:
            end = min(end, self.cancelled_at)
        return end


@dataclass(slots=True)
class _Draft:
    """A background operation before its subjects and fields are chosen."""

    dt: datetime
    kind: str
    case: _Case
    actor: _Actor
    urgent: bool
    auth: _Auth | None = None


@dataclass(slots=True)
class _PRow:
    """A planted (or boundary) operation row, fully formed except its record id."""

    dt: datetime
    fields: dict[str, str]
    auth: _Auth | None = None
    typo: bool = False
    record_id: str = ""


@dataclass
class _Item:
    rule_id: str
    rows: list[_PRow]
    text: str  # "{auth}" and "{cited}" are filled in once authorisations are numbered
    boundary: bool
    group: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        if not self.rows:
            return self.text
        first = self.rows[0]
        auth = first.auth.id if first.auth is not None else ""
        return self.text.replace("{auth}", auth).replace(
            "{cited}", first.fields["authorisation_id"])


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def _valid_to_text(v: date | datetime) -> str:
    return v.isoformat()


def _gb(c: _Case) -> bool:
    return c.agency.country == "GB"


def _eu(c: _Case) -> bool:
    return c.agency.country != "GB"


def _agency(code: str) -> Callable[[_Case], bool]:
    return lambda c: c.agency.code == code


@dataclass(frozen=True)
class _Groups:
    """The cases and officers of the planted aggregate groups (PRO-02's burst and its
    boundary), reserved before anything else is planted."""

    burst_case: _Case
    burst_actor: _Actor
    bound_case: _Case
    bound_actor: _Actor


class _Generator:
    def __init__(self, seed: int, operations: int) -> None:
        self.rng = random.Random(seed)
        self.n_ops = operations
        self.actors: list[_Actor] = []
        self.by_agency: dict[str, list[_Actor]] = {}
        self.seniors: dict[tuple[str, str], list[_Actor]] = {}
        self.cases: list[_Case] = []
        self.auths: list[_Auth] = []
        self.names: dict[str, tuple[str, int]] = {}
        self.reserved_subjects: list[str] = []
        self.items: list[_Item] = []
        self.reserved_actors: list[_Actor] = []
        self.blackout: dict[str, list[date]] = {}
        #: Rows of the feed agency that are not themselves planted (written as background).
        self.feed: list[_PRow] = []
        self.feed_case: _Case | None = None

    # -- world --------------------------------------------------------------------------

    def build_world(self) -> None:
        rng = self.rng
        for ag in _AGENCIES:
            tz_terminals = list(range(ag.terminal_base * 10, ag.terminal_base * 10 + 99))
            numbers = rng.sample(range(1000, 10000), ag.actors)
            actors: list[_Actor] = []
            k = 0
            for role, count in _SENIORS:
                for _ in range(count):
                    actors.append(_Actor(f"{ag.code}-{numbers[k]:04d}", ag, role,
                                         f"WS-{rng.choice(tz_terminals):04d}", True))
                    k += 1
            while k < ag.actors:
                actors.append(_Actor(f"{ag.code}-{numbers[k]:04d}", ag, rng.choice(_ROLES),
                                     f"WS-{rng.choice(tz_terminals):04d}", False))
                k += 1
            self.by_agency[ag.code] = actors
            self.actors.extend(actors)
            for a in actors:
                if a.senior:
                    self.seniors.setdefault((ag.code, a.role), []).append(a)

        pool = [f"P-{i:06d}" for i in range(1, 20001)]
        rng.shuffle(pool)
        self.reserved_subjects = pool[:320]
        background = pool[320:]

        offence_cum: list[int] = []
        total = 0
        for o in _OFFENCES:
            total += o[3]
            offence_cum.append(total)
        for ag in _AGENCIES:
            for _ in range(round(ag.actors * 400 / 300)):
                cat, label, penalties, _w = rng.choices(_OFFENCES, cum_weights=offence_cum)[0]
                self.cases.append(self._new_case(ag, cat, label, rng.choice(penalties), ""))
        for tag, code, cat, label, penalty in _SPECIAL_CASES:
            ag = next(a for a in _AGENCIES if a.code == code)
            self.cases.append(self._new_case(ag, cat, label, penalty, tag))

        # subjects: consecutive chunks of the shuffled pool, leftovers spread at random
        pos = 0
        for case in self.cases:
            size = rng.randint(20, 70)
            case.subjects = background[pos:pos + size]
            pos += size
        for sid in background[pos:]:
            rng.choice(self.cases).subjects.append(sid)
        for case in self.cases:
            for sid in case.subjects:
                self._name(sid, case.agency.country)
        # linked cases share a few subjects
        for case in self.cases:
            if rng.random() < 0.1:
                other = rng.choice([c for c in self.cases if c.agency is case.agency])
                if other is not case:
                    for sid in rng.sample(other.subjects, min(4, len(other.subjects))):
                        if sid not in case.subjects:
                            case.subjects.append(sid)

        # case ids: per agency and year of opening, in order of opening
        order = sorted(range(len(self.cases)), key=lambda i: (self.cases[i].opened, i))
        seq: dict[tuple[str, int], int] = {}
        for i in order:
            c = self.cases[i]
            key = (c.agency.code, c.opened.year)
            seq[key] = seq.get(key, 0) + 1
            c.id = f"{c.agency.code}-{c.opened.year}-{seq[key]:04d}"
        self.cases = [self.cases[i] for i in order]

        for case in self.cases:
            gb_ok = case.agency.country == "GB" and not case.tag.startswith("pro04")
            if gb_ok and case.notice_ok():
                for _ in range(rng.randint(2, 8)):
                    self._background_intrusive_auth(case)
            elif case.agency.country != "GB" and case.notice_ok() and rng.random() < 0.22:
                self._background_transfer_auth(case)

    def _new_case(self, ag: _Agency, cat: str, label: str, penalty: int, tag: str) -> _Case:
        rng = self.rng
        tz = _tz(ag.offset)
        while True:
            if tag:
                d0 = date(_YEAR - 1, 9, 1) + timedelta(days=rng.randrange(100))
            else:
                d0 = date(_YEAR - 1, 4, 1) + timedelta(days=rng.randrange(594))
            opened = datetime.combine(d0, time(rng.randint(8, 17), rng.randrange(60)), tz)
            closed: datetime | None = None
            if not tag:
                d1 = d0 + timedelta(days=rng.randint(45, 600))
                if d1 <= date(_YEAR, 12, 20):
                    closed = datetime.combine(d1, time(rng.randint(9, 17), rng.randrange(60)),
                                              tz)
            if closed is not None and closed.date() < date(_YEAR, 2, 15):
                continue
            break
        team = rng.sample([a for a in self.by_agency[ag.code] if not a.senior],
                          rng.randint(3, 10))
        return _Case(ag, opened, closed, cat, label, penalty, rng.choice(ag.units), tag, team)

    def _name(self, sid: str, country: str) -> None:
        rng = self.rng
        names = _SURNAMES.get(country, _SURNAMES["XX"])
        if rng.random() < 0.25:
            names = _SURNAMES["XX"]
        self.names[sid] = (rng.choice(names), rng.randint(1950, 2006))

    def _senior(self, ag: _Agency, role: str) -> _Actor:
        return self.rng.choice(self.seniors[(ag.code, role)])

    def _issuer(self, ag: _Agency, role: str) -> str:
        return _SOS if role == "secretary_of_state" else self._senior(ag, role).id

    def _background_intrusive_auth(self, case: _Case) -> None:
        rng = self.rng
        start, end = case.window()
        lo = max(case.opened, start - timedelta(days=30))
        hi = end - timedelta(days=10)
        if hi <= lo:
            return
        action = rng.choices(_INTRUSIVE, weights=(45, 12, 25, 18))[0]
        vf = lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))
        vf = vf.replace(hour=rng.randint(8, 20), minute=rng.randrange(60), second=0)
        urgent = rng.random() < 0.1
        subjects = rng.sample(case.subjects, rng.choice((1, 1, 1, 2, 2, 3)))
        actions = [action]
        weight = {"interception": 4, "equipment_interference": 2,
                  "directed_surveillance": 3, "intrusive_surveillance": 2}[action]
        approver = ""
        approval = "approved"
        approved_at: datetime | None = vf
        valid_to: date | datetime
        if action == "directed_surveillance":
            role = rng.choices(("superintendent", "chief_superintendent",
                                "assistant_chief_constable"), weights=(70, 25, 5))[0]
            basis = "RIPA 2000 s.28"
            valid_to = vf + timedelta(hours=72) if urgent else (vf + timedelta(days=90)).date()
        else:
            approver = f"JC-{rng.randint(1, 15):02d}"
            if action == "intrusive_surveillance":
                role, basis, days = "chief_constable", "RIPA 2000 s.32", 90
            elif action == "interception":
                role, basis, days = "secretary_of_state", "IPA 2016 s.19", 182
                if rng.random() < 0.1:
                    actions.append("equipment_interference")
            else:
                role = rng.choice(("secretary_of_state", "chief_constable"))
                basis = "IPA 2016 s.102" if role == "secretary_of_state" else "IPA 2016 s.106"
                days = 182
            if urgent:
                valid_to = (vf + timedelta(days=7)).date()
                r = rng.random()
                if r < 0.6:
                    approved_at = vf + timedelta(hours=rng.randint(6, 70))
                elif r < 0.95:
                    approval, approved_at = "pending", None
                else:
                    approval, approved_at, weight = "refused", vf + timedelta(days=2), 0
            else:
                valid_to = (vf + timedelta(days=days)).date()
                approved_at = vf - timedelta(hours=rng.randint(2, 60))
        if not urgent and rng.random() < 0.06:
            approval, approved_at, weight = rng.choice(("pending", "refused")), None, 0
            if approval == "refused" and action != "directed_surveillance":
                approved_at = vf - timedelta(hours=rng.randint(2, 60))
        if approval == "pending":
            approver = ""
        auth = _Auth(_REGIME_BY_ACTION[action], case, self._issuer(case.agency, role), role,
                     approver, approval, approved_at, urgent, vf, valid_to, subjects, actions,
                     basis, weight=weight)
        if approval == "approved" and not urgent and rng.random() < 0.12:
            span = (auth.end() - vf).days
            if span > 20:
                c = vf + timedelta(days=rng.randint(10, span - 5))
                auth.cancelled_at = c.replace(hour=rng.randint(9, 17), minute=rng.randrange(60))
        self.auths.append(auth)

    def _background_transfer_auth(self, case: _Case) -> None:
        rng = self.rng
        start, end = case.window()
        hi = end - timedelta(days=10)
        if hi <= start:
            return
        vf = start + timedelta(seconds=rng.randrange(int((hi - start).total_seconds())))
        vf = vf.replace(hour=rng.randint(8, 16), minute=rng.randrange(60), second=0)
        dest = rng.choice(_THIRD)
        if dest.basis.startswith("derogation_") or rng.random() < 0.6:
            subjects = rng.sample(case.subjects, 1)
        else:
            subjects = rng.sample(case.subjects, 2)
        role = "chief_superintendent"
        auth = _Auth("LED-TRANSFER", case, self._issuer(case.agency, role), role, "",
                     "approved", vf, False, vf, (vf + timedelta(days=30)).date(), subjects,
                     ["transfer"], case.agency.transfer_law, dest=dest, weight=1)
        self.auths.append(auth)

    def assign_auth_ids(self) -> None:
        order = sorted(range(len(self.auths)), key=lambda i: (self.auths[i].valid_from, i))
        seq: dict[tuple[str, int], int] = {}
        for i in order:
            a = self.auths[i]
            key = (a.regime, a.valid_from.year)
            seq[key] = seq.get(key, 0) + 1
            a.id = f"{a.regime}-{a.valid_from.year}-{seq[key]:04d}"
        self.auths = [self.auths[i] for i in order]

    # -- row fields ---------------------------------------------------------------------

    def _text(self, lang: str, key: str, case_id: str) -> str:
        options = _TEXTS[lang].get(key) or _TEXTS["en"][key]
        return self.rng.choice(options).format(case=case_id)

    def _plate(self, country: str) -> str:
        rng = self.rng
        L = _LETTERS
        n = rng.randint
        if country == "DE":
            city = rng.choice(("B", "M", "F", "HH", "K", "WI"))
            return f"{city}-{rng.choice(L)}{rng.choice(L)} {n(1, 9999)}"
        if country == "FR":
            return f"{rng.choice(L)}{rng.choice(L)}-{n(100, 999)}-{rng.choice(L)}{rng.choice(L)}"
        if country == "NL":
            return f"{n(10, 99)}-{rng.choice(L)}{rng.choice(L)}{rng.choice(L)}-{n(1, 9)}"
        if country == "IE":
            return f"{n(151, 262)}-{rng.choice(('D', 'C', 'G', 'L', 'KY'))}-{n(1, 99999)}"
        if country == "FI":
            return f"{rng.choice(L)}{rng.choice(L)}{rng.choice(L)}-{n(1, 999)}"
        return f"{rng.choice(L)}{rng.choice(L)}{n(10, 25)} {rng.choice(L)}{rng.choice(L)}" \
               f"{rng.choice(L)}"

    def _query(self, purpose: str, subject: str, country: str) -> str:
        rng = self.rng
        surname, year = self.names.get(subject, ("UNKNOWN", 1980))
        if purpose == "identity":
            if rng.random() < 0.3:
                return f'name="{surname}, {rng.choice(_LETTERS)}."'
            return f"surname={surname} dob={year}"
        if purpose == "address":
            return f"surname={surname} dob={year} addr=*"
        if purpose == "record":
            return f"id={subject}"
        if purpose == "vehicle":
            return f"plate={self._plate(country)}"
        return f"iban={country}{rng.randint(10, 99)} **** {rng.randint(1000, 9999)}"

    def _terminal(self, actor: _Actor) -> str:
        if self.rng.random() < 0.92:
            return actor.terminal
        return f"WS-{actor.agency.terminal_base * 10 + self.rng.randrange(99):04d}"

    def row(self, kind: str, case: _Case, actor: _Actor, dt: datetime, subjects: Sequence[str],
            *, urgent: bool = False, auth: _Auth | None = None, dest: _Dest | None = None,
            purpose: str = "") -> dict[str, str]:
        """A clean row for one operation (no rule of the default pack fires on it)."""
        rng = self.rng
        ag = case.agency
        f = dict.fromkeys(OPERATION_FIELDS, "")
        f["ts"] = _iso(dt)
        f["action"] = kind
        f["actor_id"] = actor.id
        f["actor_role"] = actor.role
        f["agency"] = ag.code
        f["case_id"] = case.id
        f["subject_ids"] = ";".join(subjects)
        f["urgent"] = "true" if urgent else "false"
        f["terminal"] = self._terminal(actor)
        f["legal_basis"] = ag.bases[1]
        f["justification"] = self._text(ag.lang, kind if kind in _TEXTS["en"] else "measure",
                                        case.id)
        if kind == "consult":
            if not purpose:
                purpose = rng.choices(_PURPOSES, cum_weights=_PURPOSE_CUM)[0]
            f["legal_basis"] = ag.bases[0]
            f["justification"] = self._text(ag.lang, purpose, case.id)
            cats = _PURPOSE_CATS[purpose]
            if rng.random() < 0.01:
                cats += ";" + rng.choice(("health", "biometric"))
            f["data_categories"] = cats
            hits = {"identity": 25, "address": 12, "record": 1, "vehicle": 3, "financial": 12}
            f["records_count"] = str(rng.randint(1, hits[purpose]))
            f["query_text"] = self._query(purpose, subjects[0], ag.country)
        elif kind == "collect":
            if rng.random() < 0.06:
                f["data_categories"] = "identity;biometric"
            else:
                f["data_categories"] = rng.choice(("identity;address", "identity",
                                                   "identity;criminal_record"))
                if rng.random() < 0.15:
                    f["justification"] = ""
            f["records_count"] = str(rng.randint(1, 20))
        elif kind == "alter":
            f["data_categories"] = rng.choice(("identity", "identity;address"))
            f["records_count"] = "1"
            if rng.random() < 0.4:
                f["justification"] = ""
        elif kind == "combine":
            f["data_categories"] = rng.choice(("identity;financial", "identity;address",
                                               "identity;vehicle"))
            f["records_count"] = str(rng.randint(50, 900))
            f["query_text"] = f"match list={case.id}/{rng.randint(1, 40):02d}"
        elif kind == "erase":
            f["data_categories"] = "identity;criminal_record"
            f["records_count"] = str(rng.randint(1, 400))
            if rng.random() < 0.5:
                f["justification"] = ""
        elif kind == "disclose":
            f["recipient_id"] = rng.choice(ag.prosecutors)
            f["recipient_type"] = "competent_authority"
            f["recipient_country"] = ag.country
            f["data_categories"] = rng.choice(("identity;criminal_record",
                                               "identity;address;criminal_record"))
            f["records_count"] = str(rng.randint(1, 30))
        elif kind == "transfer":
            if dest is None:
                dest = self._pick_dest(ag, len(subjects))
            f["recipient_id"] = dest.recipient_id
            f["recipient_type"] = dest.recipient_type
            f["recipient_country"] = dest.country
            basis = dest.basis
            if ag.country == "GB" and dest.country in _LED_AREA:
                basis = "adequacy"  # the UK's adequacy regulations cover the EEA
            f["transfer_basis"] = basis
            f["legal_basis"] = ag.transfer_law
            f["data_categories"] = rng.choice(("identity;criminal_record", "identity;address",
                                               "identity;financial"))
            f["records_count"] = str(rng.randint(1, 20))
        elif kind in ("search", "arrest"):
            f["legal_basis"] = ag.search_law if kind == "search" else ag.arrest_law
            f["offence"] = case.offence
            f["offence_category"] = case.category
        elif kind == "notice_request":
            self._notice_fields(f, case)
        elif kind == "eaw_issue":
            self._eaw_fields(f, case)
        elif kind in _INTRUSIVE:
            if auth is not None:
                f["authorisation_id"] = auth.id
                f["legal_basis"] = auth.legal_basis
            f["data_categories"] = "identity"
            if rng.random() < 0.6:
                f["offence"] = case.offence
                f["offence_category"] = case.category
                f["max_penalty_months"] = str(case.max_penalty)
        if auth is not None and kind == "transfer":
            f["authorisation_id"] = auth.id
        return f

    def _pick_dest(self, ag: _Agency, n_subjects: int) -> _Dest:
        rng = self.rng
        r = rng.random()
        if ag.country == "GB":
            if r < 0.8:
                return rng.choice(_LED_POLICE + _INT_ORGS)
            return rng.choice(_THIRD[:4])
        if r < 0.62:
            return rng.choice([d for d in _LED_POLICE if d.recipient_id != ag.code])
        if r < 0.78:
            return rng.choice(_INT_ORGS)
        if r < 0.88:
            return rng.choice(_GB_DESTS)
        dest = rng.choice(_THIRD)
        if n_subjects == 1 and rng.random() < 0.3:
            dest = _Dest(dest.recipient_id, dest.recipient_type, dest.country,
                         rng.choice(_DEROGATIONS))
        if dest.basis.startswith("derogation_") and n_subjects > 1:
            dest = _Dest(dest.recipient_id, dest.recipient_type, dest.country,
                         "safeguards_assessment")
        return dest

    def _notice_fields(self, f: dict[str, str], case: _Case) -> None:
        rng = self.rng
        colour = rng.choices(("red", "blue", "yellow", "green"), weights=(60, 20, 8, 12))[0]
        f["notice_type"] = colour
        f["legal_basis"] = _NOTICE_BASIS[colour]
        f["recipient_id"], f["recipient_type"], f["recipient_country"] = (
            "INTERPOL-GS", "international_organisation", "FR")
        f["offence"] = case.offence
        f["offence_category"] = case.category
        f["max_penalty_months"] = str(case.max_penalty)
        f["data_categories"] = "identity;criminal_record"
        if colour == "red":
            if rng.random() < 0.8:
                f["notice_purpose"] = "prosecution"
            else:
                f["notice_purpose"] = "sentence"
                sentence = rng.randint(12, min(case.max_penalty, 144))
                f["sentence_months"] = str(sentence)
                f["remaining_months"] = str(rng.randint(6, sentence))

    def _eaw_fields(self, f: dict[str, str], case: _Case) -> None:
        rng = self.rng
        f["legal_basis"] = _EAW_BASIS
        rid, country = rng.choice([e for e in _EAW_AUTHORITIES
                                   if e[1] != case.agency.country])
        f["recipient_id"], f["recipient_type"], f["recipient_country"] = (
            rid, "competent_authority", country)
        f["offence"] = case.offence
        f["offence_category"] = case.category
        f["max_penalty_months"] = str(case.max_penalty)
        f["data_categories"] = "identity;criminal_record"
        if rng.random() < 0.75:
            f["notice_purpose"] = "prosecution"
        else:
            f["notice_purpose"] = "sentence"
            sentence = rng.randint(6, min(case.max_penalty, 96))
            f["sentence_months"] = str(sentence)
            f["remaining_months"] = str(rng.randint(1, sentence))

    # -- time helpers -------------------------------------------------------------------

    def _day_between(self, start: date, end: date, weekend_ok: float = 0.15) -> date:
        span = (end - start).days
        while True:
            d = start + timedelta(days=self.rng.randrange(span + 1))
            if d.weekday() < 5 or self.rng.random() < weekend_ok:
                return d

    def _local_time(self, kind: str) -> tuple[time, bool]:
        """A local time of day for an operation; urgent only for night-time log actions."""
        rng = self.rng
        s = rng.randrange(60)
        m = rng.randrange(60)
        if kind == "arrest" and rng.random() < 0.3:
            return time(5, rng.randint(0, 59), s), False
        r = rng.random()
        if r < 0.935:
            return time(min(rng.randint(7, 18), rng.randint(7, 18)) if r < 0.5
                        else rng.randint(7, 18), m, s), False
        if r < 0.994 or kind not in _LOG_ACTIONS:
            return time(rng.randint(19, 21), m, s), False
        return time(rng.choice((22, 23, 0, 1, 2, 3, 4, 5)), m, s), True

    def _when(self, start: datetime, end: datetime, kind: str) -> tuple[datetime, bool]:
        tz = start.tzinfo
        for _ in range(30):
            d = self._day_between(start.date(), end.date())
            t, urgent = self._local_time(kind)
            dt = datetime.combine(d, t, tz)
            if start <= dt <= end:
                return dt, urgent
        mid = start + (end - start) / 2
        return mid.replace(hour=11, minute=0, second=0, microsecond=0), False

    def _slot(self, case: _Case, lead: int = 3, tail: int = 3, hours: tuple[int, int] = (9, 16),
              ) -> datetime:
        """An office-hours weekday time inside the case's window in the data year, away from
        its edges."""
        start, end = case.window()
        d = self._day_between(start.date() + timedelta(days=lead),
                              end.date() - timedelta(days=tail), weekend_ok=0.0)
        return datetime.combine(d, time(self.rng.randint(*hours), self.rng.randrange(60),
                                        self.rng.randrange(60)), start.tzinfo)

    # -- planted records ----------------------------------------------------------------

    def _host(self, pred: Callable[[_Case], bool] | None = None, tag: str = "",
              min_days: int = 90) -> _Case:
        """A case to plant a record on: a special case by tag, else a random ordinary one."""
        if tag:
            return next(c for c in self.cases if c.tag == tag)
        out = []
        for c in self.cases:
            start, end = c.window()
            if (not c.tag and (end - start).days >= min_days and c.notice_ok()
                    and (pred is None or pred(c))):
                out.append(c)
        if not out:
            raise RuntimeError("demo data: no case fits a planted record; try another seed")
        return self.rng.choice(out)

    def _free_members(self, case: _Case) -> int:
        return sum(1 for a in case.team if a not in self.reserved_actors)

    def _on_day(self, start: datetime, days: int) -> datetime:
        """Office hours on the day `days` after `start`."""
        return datetime.combine(start.date() + timedelta(days=days),
                                time(self.rng.randint(9, 16), self.rng.randrange(60),
                                     self.rng.randrange(60)), start.tzinfo)

    def _member(self, case: _Case) -> _Actor:
        return self.rng.choice([a for a in case.team if a not in self.reserved_actors])

    def _fresh(self, case: _Case | None, n: int = 1) -> list[str]:
        out = []
        for _ in range(n):
            if not self.reserved_subjects:
                raise RuntimeError("demo data: ran out of reserved subjects")
            sid = self.reserved_subjects.pop()
            self._name(sid, case.agency.country if case else "XX")
            if case is not None:
                case.extra_subjects.append(sid)
            out.append(sid)
        return out

    def _prow(self, kind: str, case: _Case, *, actor: _Actor | None = None,
              dt: datetime | None = None, subjects: Sequence[str] | None = None,
              auth: _Auth | None = None, dest: _Dest | None = None, purpose: str = "",
              urgent: bool = False, extra: dict[str, str] | None = None, **over: str) -> _PRow:
        actor = actor or self._member(case)
        dt = dt or self._slot(case)
        subjects = list(subjects) if subjects is not None else self._fresh(case)
        if kind == "consult" and not purpose:
            purpose = self.rng.choices(_PURPOSES, cum_weights=_PURPOSE_CUM)[0]
        f = self.row(kind, case, actor, dt, subjects, urgent=urgent, auth=auth, dest=dest,
                     purpose=purpose)
        if kind == "consult":
            f["data_categories"] = _PURPOSE_CATS[purpose]  # no random special category
        f.update(extra or {})
        f.update(over)
        return _PRow(dt, f, auth)

    def _add(self, rule: str, rows: list[_PRow], text: str, boundary: bool = False) -> None:
        self.items.append(_Item(rule, rows, text, boundary))

    def _plant_auth(self, case: _Case, action: str, dt: datetime, subjects: list[str], *,
                    role: str = "", approval: str = "approved", urgent: bool = False,
                    valid_from: datetime | None = None, valid_to: date | datetime | None = None,
                    cancelled_at: datetime | None = None, actions: list[str] | None = None,
                    ) -> _Auth:
        rng = self.rng
        vf = valid_from or (dt - timedelta(days=rng.randint(5, 30))).replace(
            hour=rng.randint(9, 16), minute=rng.randrange(60), second=0)
        default_role = {"directed_surveillance": "superintendent",
                        "intrusive_surveillance": "chief_constable",
                        "interception": "secretary_of_state",
                        "equipment_interference": "secretary_of_state"}[action]
        role = role or default_role
        days = 90 if action in ("directed_surveillance", "intrusive_surveillance") else 182
        vt = valid_to if valid_to is not None else (vf + timedelta(days=days)).date()
        basis = {"directed_surveillance": "RIPA 2000 s.28",
                 "intrusive_surveillance": "RIPA 2000 s.32",
                 "interception": "IPA 2016 s.19",
                 "equipment_interference": "IPA 2016 s.102"}[action]
        if action == "equipment_interference" and role == "chief_constable":
            basis = "IPA 2016 s.106"
        judicial = action != "directed_surveillance"
        approver = f"JC-{rng.randint(1, 15):02d}" if judicial and approval != "pending" else ""
        approved_at: datetime | None = None
        if approval == "approved":
            approved_at = vf - timedelta(hours=rng.randint(2, 48)) if judicial else vf
        elif approval == "refused":
            approved_at = vf - timedelta(hours=rng.randint(2, 48)) if judicial else None
        auth = _Auth(_REGIME_BY_ACTION[action], case, self._issuer(case.agency, role), role,
                     approver, approval, approved_at, urgent, vf, vt, list(subjects),
                     actions or [action], basis, cancelled_at=cancelled_at)
        self.auths.append(auth)
        return auth

    def plant(self, groups: _Groups) -> None:
        """Plant the irregularities and boundary cases: one planter per rule, called in
        the order of PLANTERS (the order is part of what a seed produces)."""
        for _rule, planter in PLANTERS:
            planter(self, groups)

    def reserve_group_actors(self) -> _Groups:
        """The aggregate groups' cases and actors, chosen first: they are kept out of every
        other planted record."""
        rng = self.rng
        burst_case = self._host(_eu)
        burst_actor = rng.choice(burst_case.team)
        bound_case = self._host(lambda c: c is not burst_case and c.agency.country == "GB")
        bound_actor = rng.choice(bound_case.team)
        self.reserved_actors += [burst_actor, bound_actor]
        return _Groups(burst_case, burst_actor, bound_case, bound_actor)

    def _plant_log01(self, g: _Groups) -> None:
        """LOG-01."""
        c = self._host(_agency("GB-MET"))
        r = self._prow("consult", c, justification="")
        self._add("LOG-01", [r], (
            f"{r.fields['actor_id']} consulted {r.fields['subject_ids']} with no "
            "justification recorded."))
        c = self._host(_agency("DE-BKA"))
        r = self._prow("disclose", c, justification="   ")
        self._add("LOG-01", [r], (
            f"Disclosure of {r.fields['subject_ids']} to {r.fields['recipient_id']} whose "
            "justification is only blanks."))
        c = self._host(_agency("NL-NP"))
        r = self._prow("disclose", c, recipient_id="")
        self._add("LOG-01", [r], (
            f"Disclosure of {r.fields['subject_ids']} that does not name the recipient."))
        c = self._host(_agency("FR-DCPJ"))
        r = self._prow("consult", c, actor_id="", actor_role="")
        self._add("LOG-01", [r], (
            f"Consultation of {r.fields['subject_ids']} logged with terminal "
            f"{r.fields['terminal']} but no user (also trips PUR-02: a blank actor is not on "
            "the case team)."))

    def _plant_pur01(self, g: _Groups) -> None:
        """PUR-01."""
        c = self._host(_agency("IE-AGS"))
        r = self._prow("consult", c, case_id="", justification="General enquiry")
        self._add("PUR-01", [r], (
            f"{r.fields['actor_id']} consulted {r.fields['subject_ids']} without a case "
            "reference."))
        c = self._host(_agency("DE-BKA"))
        r = self._prow("transfer", c, dest=_led("ES-CNP"), case_id="",
                       justification="Anfrage einer ausländischen Partnerbehörde")
        self._add("PUR-01", [r], (
            f"Transfer of {r.fields['subject_ids']} to {r.fields['recipient_id']} without a "
            "case reference."))
        c = self._host(_agency("FI-KRP"))
        r = self._prow("disclose", c, case_id="", justification="Luovutus syyttäjälle",
                       query_text="match list=ad hoc")
        self._add("PUR-01", [r], (
            f"Disclosure to {r.fields['recipient_id']} by {r.fields['actor_id']} without a "
            "case reference."))

    def _plant_pur02(self, g: _Groups) -> None:
        """PUR-02."""
        rng = self.rng
        c = self._host(_agency("GB-NCA"))
        outsider = rng.choice([a for a in self.by_agency["GB-NCA"]
                               if not a.senior and a not in c.team])
        r = self._prow("consult", c, actor=outsider)
        self._add("PUR-02", [r], (
            f"{r.fields['actor_id']} consulted {r.fields['subject_ids']} for case {c.id} "
            "without being on its team."))
        c = self._host(lambda c: c.opened >= datetime(_YEAR, 2, 1, tzinfo=c.opened.tzinfo))
        dt = datetime.combine(c.opened.date() - timedelta(days=3), time(10, 12, 40),
                              c.opened.tzinfo)
        r = self._prow("consult", c, dt=dt)
        self._add("PUR-02", [r], (
            f"Consultation for case {c.id} three days before the case was opened."))
        c = self._host(lambda c: c.closed is not None and c.closed.month <= 11)
        assert c.closed is not None
        dt = datetime.combine(c.closed.date() + timedelta(days=10), time(11, 3, 5),
                              c.closed.tzinfo)
        r = self._prow("disclose", c, dt=dt)
        self._add("PUR-02", [r], (
            f"Disclosure for case {c.id} ten days after the case was closed."))
        c = self._host(lambda c: c.opened >= datetime(_YEAR, 1, 5, tzinfo=c.opened.tzinfo))
        r = self._prow("consult", c, dt=c.opened)
        self._add("PUR-02", [r], (
            f"Consultation at exactly the opening time of case {c.id}."), boundary=True)
        c = self._host(lambda c: c.closed is not None and c.closed.month <= 11
                       and c.opened.year == _YEAR - 1)
        assert c.closed is not None
        r = self._prow("consult", c, dt=c.closed)
        self._add("PUR-02", [r], (
            f"Consultation at exactly the closing time of case {c.id}."), boundary=True)

    def _plant_pro01(self, g: _Groups) -> None:
        """PRO-01."""
        rng = self.rng
        c = self._host(_agency("IE-AGS"))
        actor = self._member(c)
        famous = self._fresh(c)
        start = self._slot(c, lead=3, tail=40)
        days = sorted(rng.sample(range(26), 14))
        rows = [self._prow("consult", c, actor=actor, subjects=famous, purpose="address",
                           dt=datetime.combine(start.date() + timedelta(days=d),
                                               time(rng.randint(9, 17), rng.randrange(60)),
                                               start.tzinfo)) for d in days]
        self._add("PRO-01", rows, (
            f"{actor.id} consulted {famous[0]}, a well-known person recorded only as a "
            "witness, 14 times "
            f"between {rows[0].dt.date()} and {rows[-1].dt.date()}."))
        c = self._host(lambda c: self._free_members(c) >= 7 and c.agency.code == "DE-BKA")
        subj = self._fresh(c)
        start = self._slot(c, lead=3, tail=10)
        rows = [self._prow("consult", c, actor=a, subjects=subj,
                           dt=self._on_day(start, d))
                for d, a in zip((0, 0, 1, 2, 3, 3, 4),
                                rng.sample([a for a in c.team if a not in self.reserved_actors],
                                           7), strict=True)]
        rows.sort(key=lambda r: r.dt)
        self._add("PRO-01", rows, (
            f"{subj[0]} was consulted by 7 different officers within 5 days."))
        c = self._host(_agency("NL-NP"))
        actor = self._member(c)
        subj = self._fresh(c)
        start = self._slot(c, lead=3, tail=40)
        rows = [self._prow("consult", c, actor=actor, subjects=subj, purpose="record",
                           dt=datetime.combine(start.date() + timedelta(days=d),
                                               time(rng.randint(9, 16), rng.randrange(60)),
                                               start.tzinfo))
                for d in sorted(rng.sample(range(25), 10))]
        self._add("PRO-01", rows, (
            f"{actor.id} consulted {subj[0]} exactly 10 times within 25 days (threshold is "
            "more than 10)."), boundary=True)
        c = self._host(lambda c: self._free_members(c) >= 5 and c.agency.code == "FR-DCPJ")
        subj = self._fresh(c)
        start = self._slot(c, lead=3, tail=10)
        rows = [self._prow("consult", c, actor=a, subjects=subj, dt=self._on_day(start, d))
                for d, a in zip((0, 1, 3, 4, 6),
                                rng.sample([a for a in c.team if a not in self.reserved_actors],
                                           5), strict=True)]
        rows.sort(key=lambda r: r.dt)
        self._add("PRO-01", rows, (
            f"{subj[0]} was consulted by exactly 5 different officers within 6 days (threshold is "
            "more than 5)."), boundary=True)

    def _plant_pro02(self, g: _Groups) -> None:
        """PRO-02."""
        c = self._host(_agency("GB-MET"))
        r = self._prow("consult", c, purpose="identity", records_count="4812",
                       query_text="surname=SM* dob=19*")
        self._add("PRO-02", [r], (
            f"{r.fields['actor_id']} ran a wildcard search returning 4,812 records."))
        c = self._host(_agency("NL-NP"))
        r = self._prow("disclose", c, records_count="12000")
        self._add("PRO-02", [r], (
            f"{r.fields['actor_id']} disclosed 12,000 records in one operation."))
        start = self._slot(g.burst_case, hours=(10, 13))
        self.blackout[g.burst_actor.id] = [start.date() + timedelta(days=d) for d in (-1, 0, 1)]
        just = self._text(g.burst_case.agency.lang, "identity", g.burst_case.id)
        rows = [self._prow("consult", g.burst_case, actor=g.burst_actor, subjects=self._fresh(None),
                           dt=start + timedelta(seconds=40 * i), purpose="identity",
                           justification=just) for i in range(60)]
        self._add("PRO-02", rows, (
            f"{g.burst_actor.id} ran 60 consultations of 60 different people in 40 minutes on "
            f"{rows[0].dt.date()}."))
        r = self._prow("consult", g.bound_case, actor=g.bound_actor, purpose="identity",
                       records_count="1000", dt=self._slot(g.bound_case, hours=(9, 10)))
        start = r.dt + timedelta(hours=3)
        self.blackout[g.bound_actor.id] = [start.date() + timedelta(days=d) for d in (-1, 0, 1)]
        self._add("PRO-02", [r], (
            f"{r.fields['actor_id']} ran a search returning exactly 1,000 records (threshold "
            "is more than 1,000)."), boundary=True)
        rows = [self._prow("consult", g.bound_case, actor=g.bound_actor, subjects=self._fresh(None),
                           dt=start + timedelta(seconds=54 * i), purpose="identity")
                for i in range(50)]
        self._add("PRO-02", rows, (
            f"{g.bound_actor.id} ran exactly 50 consultations in 45 minutes (threshold is more "
            "than 50 in 60 minutes)."), boundary=True)

    def _plant_pro03(self, g: _Groups) -> None:
        """PRO-03."""
        def at(case: _Case, h: int, m: int, s: int = 0) -> datetime:
            return datetime.combine(self._slot(case).date(), time(h, m, s), case.opened.tzinfo)

        for code, hms, why in (("GB-MET", (23, 14, 0), "at 23:14 local time"),
                               ("FI-KRP", (22, 0, 0), "at exactly 22:00 local time (+02:00); "
                                "22:00 is outside office hours"),
                               ("DE-BKA", (5, 59, 0), "at 05:59 local time (+01:00)")):
            c = self._host(_agency(code))
            r = self._prow("consult", c, dt=at(c, *hms))
            self._add("PRO-03", [r], (
                f"Non-urgent consultation by {r.fields['actor_id']} {why}."))
        for code, hms, urgent, why in (
                ("FI-KRP", (6, 0, 0), False, "at exactly 06:00 local time (+02:00, 04:00 UTC)"),
                ("DE-BKA", (21, 59, 59), False, "at 21:59:59 local time (+01:00)"),
                ("IE-AGS", (2, 30, 0), True, "at 02:30 local time, flagged urgent")):
            c = self._host(_agency(code))
            r = self._prow("consult", c, dt=at(c, *hms), urgent=urgent)
            self._add("PRO-03", [r], f"Consultation {why}.", boundary=True)

    def _plant_pro04(self, g: _Groups) -> None:
        """PRO-04."""
        c = self._host(tag="pro04-24")
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "interception", dt, s)
        r = self._prow("interception", c, dt=dt, subjects=s, auth=a, offence="",
                       offence_category="", max_penalty_months="")
        self._add("PRO-04", [r], (
            f"Interception in case {c.id} ({c.offence}, maximum {c.max_penalty} months; the "
            "record gives no penalty, so the case's applies)."))
        c = self._host(tag="pro04-6")
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s)
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a,
                       offence=c.offence, offence_category=c.category,
                       max_penalty_months=str(c.max_penalty))
        self._add("PRO-04", [r], (
            f"Directed surveillance for {c.offence.lower()}, an offence with a maximum of "
            f"{c.max_penalty} months."))
        c = self._host(tag="pro04-36")
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s)
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a,
                       offence=c.offence, offence_category=c.category,
                       max_penalty_months=str(c.max_penalty))
        self._add("PRO-04", [r], (
            "Directed surveillance for an offence with a maximum of exactly 36 months."),
            boundary=True)

    def _plant_spc01(self, g: _Groups) -> None:
        """SPC-01."""
        c = self._host(_agency("NL-NP"))
        r = self._prow("consult", c, data_categories="identity;biometric", legal_basis="")
        self._add("SPC-01", [r], (
            f"Consultation of biometric data on {r.fields['subject_ids']} with no legal basis "
            "recorded."))
        c = self._host(_agency("GB-MET"))
        r = self._prow("collect", c, data_categories="identity;health", justification="")
        self._add("SPC-01", [r], (
            f"Collection of health data on {r.fields['subject_ids']} with no justification."))
        c = self._host(_agency("FR-DCPJ"))
        r = self._prow("disclose", c, data_categories="identity;racial_or_ethnic_origin",
                       legal_basis="  ")
        self._add("SPC-01", [r], (
            f"Disclosure of data revealing racial or ethnic origin of {r.fields['subject_ids']}"
            " whose legal basis is only blanks."))
        c = self._host(_agency("DE-BKA"))
        r = self._prow("consult", c, data_categories="identity;health")
        self._add("SPC-01", [r], (
            "Consultation of health data with justification and legal basis recorded."),
            boundary=True)

    def _plant_trf01(self, g: _Groups) -> None:
        """TRF-01."""
        for code, dest, why in (
                ("DE-BKA", _Dest("US-FBI", "competent_authority", "US", ""),
                 "to the United States with no transfer basis"),
                ("FR-DCPJ", _Dest("AE-MOI", "competent_authority", "AE", "adequacy"),
                 "to the United Arab Emirates citing an adequacy decision that does not exist"),
                ("IE-AGS", _Dest("TR-EGM", "competent_authority", "TR", ""),
                 "to Türkiye with no transfer basis")):
            c = self._host(_agency(code))
            r = self._prow("transfer", c, dest=dest)
            self._add("TRF-01", [r], (
                f"Transfer of {r.fields['subject_ids']} {why}."))
        for code, dest, why in (
                ("NL-NP", _GB_DESTS[0], "to the United Kingdom on its adequacy decision"),
                ("DE-BKA", _led("CH-FEDPOL"), "to Switzerland (LED area) with no basis needed"),
                ("FI-KRP", _THIRD[0], "to the United States under a binding instrument")):
            c = self._host(_agency(code))
            r = self._prow("transfer", c, dest=dest)
            self._add("TRF-01", [r], f"Transfer {why}.", boundary=True)

    def _plant_trf02(self, g: _Groups) -> None:
        """TRF-02."""
        c = self._host(_agency("DE-BKA"))
        r = self._prow("transfer", c, dest=_Dest("US-NIMBUSCLOUD-INC", "private_party", "US",
                                                 "safeguards_assessment"))
        self._add("TRF-02", [r], (
            f"Transfer of {r.fields['subject_ids']} to a private company in the United "
            "States."))
        c = self._host(_agency("NL-NP"))
        r = self._prow("transfer", c, dest=_Dest("RS-MIN-FINANCE", "other", "RS",
                                                 "derogation_individual_case"))
        self._add("TRF-02", [r], (
            f"Transfer of {r.fields['subject_ids']} to a Serbian ministry that is not a "
            "competent authority."))
        c = self._host(_agency("FR-DCPJ"))
        r = self._prow("transfer", c, dest=_Dest("INTERPOL-RB-ABIDJAN",
                                                 "international_organisation", "CI",
                                                 "safeguards_assessment"))
        self._add("TRF-02", [r], (
            "Transfer to an Interpol regional bureau in Côte d'Ivoire (an international "
            "organisation)."), boundary=True)

    def _plant_trf03(self, g: _Groups) -> None:
        """TRF-03."""
        c = self._host(_agency("FR-DCPJ"))
        r = self._prow("transfer", c, subjects=self._fresh(c, 3), dest=_Dest(
            "US-FBI", "competent_authority", "US", "derogation_public_security"))
        self._add("TRF-03", [r], (
            f"Transfer of three people ({r.fields['subject_ids']}) on the public-security "
            "derogation."))
        c = self._host(_agency("FI-KRP"))
        r = self._prow("transfer", c, subjects=self._fresh(c, 2), dest=_Dest(
            "CA-RCMP", "competent_authority", "CA", "derogation_individual_case"))
        self._add("TRF-03", [r], (
            f"Transfer of two people ({r.fields['subject_ids']}) on the individual-case "
            "derogation."))
        c = self._host(_agency("DE-BKA"))
        r = self._prow("transfer", c, dest=_Dest("UA-NPU", "competent_authority", "UA",
                                                 "derogation_vital_interests"))
        self._add("TRF-03", [r], (
            "Transfer of one person on the vital-interests derogation."), boundary=True)

    def _plant_int01(self, g: _Groups) -> None:
        """INT-01 / INT-02 / INT-03."""
        def notice(case: _Case, purpose: str, **over: str) -> _PRow:
            fields = {"notice_type": "red", "notice_purpose": purpose,
                      "legal_basis": _NOTICE_BASIS["red"], "offence": case.offence,
                      "offence_category": case.category,
                      "max_penalty_months": str(case.max_penalty),
                      "sentence_months": "", "remaining_months": "", "art3_concern": ""}
            fields.update(over)
            return self._prow("notice_request", case, extra=fields)

        c = self._host(tag="int01-18")
        r = notice(c, "prosecution")
        self._add("INT-01", [r], (
            f"Red notice requested for prosecution of {c.offence.lower()} carrying at most "
            f"{c.max_penalty} months."))
        c = self._host(_agency("GB-NCA"))
        r = notice(c, "sentence", sentence_months="30", remaining_months="4")
        self._add("INT-01", [r], (
            "Red notice requested to enforce a sentence with only 4 months left to serve."))
        c = self._host(tag="int01-24")
        r = notice(c, "prosecution")
        self._add("INT-01", [r], (
            "Red notice for prosecution of an offence with a maximum of exactly 24 months."),
            boundary=True)
        c = self._host(_agency("NL-NP"))
        r = notice(c, "sentence", sentence_months="18", remaining_months="6")
        self._add("INT-01", [r], (
            "Red notice to enforce a sentence with exactly 6 months left to serve."),
            boundary=True)

        c = self._host(tag="int02-defamation")
        r = notice(c, "prosecution")
        self._add("INT-02", [r], "Red notice requested for defamation.")
        c = self._host(tag="int02-family")
        r = notice(c, "prosecution")
        self._add("INT-02", [r], (
            "Red notice requested for non-payment of child maintenance, a family matter."))
        c = self._host(tag="int02-yellow")
        r = notice(c, "", notice_type="yellow", legal_basis=_NOTICE_BASIS["yellow"])
        self._add("INT-02", [r], (
            "Yellow notice (missing person) in a family matter; the rule covers red notices "
            "only."), boundary=True)

        c = self._host(_agency("FR-DCPJ"))
        r = notice(c, "prosecution", art3_concern="political")
        self._add("INT-03", [r], (
            f"Red notice requested for {c.offence.lower()} against an exiled opposition "
            "politician (political character)."))
        c = self._host(tag="int03-military")
        r = notice(c, "prosecution", art3_concern="military")
        self._add("INT-03", [r], (
            "Red notice requested for desertion, a purely military offence."))

    def _plant_aut01(self, g: _Groups) -> None:
        """AUT-01."""
        for action, value, why in (("interception", "", "no authorisation"),
                                   ("directed_surveillance", " ",
                                    "an authorisation reference that is only a blank"),
                                   ("equipment_interference", "", "no authorisation")):
            c = self._host(_gb)
            r = self._prow(action, c, authorisation_id=value,
                           legal_basis={"interception": "IPA 2016 s.15",
                                        "directed_surveillance": "RIPA 2000 s.28",
                                        "equipment_interference": "IPA 2016 s.99"}[action])
            self._add("AUT-01", [r], (
                f"{r.fields['action'].replace('_', ' ').capitalize()} on "
                f"{r.fields['subject_ids']} with {why}."))
        c = self._host(_gb)
        r = self._prow("search", c)
        self._add("AUT-01", [r], (
            "Search without an authorisation reference; searches are not intrusive measures "
            "under this rule."), boundary=True)

    def _plant_aut02(self, g: _Groups) -> None:
        """AUT-02."""
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s)
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        r.typo = True
        self._add("AUT-02", [r], (
            "Directed surveillance citing {cited}, which is not in the register (a mistyped "
            "{auth})."))
        c = self._host(_gb, min_days=150)
        dt = self._slot(c, lead=120)
        s = self._fresh(c)
        vf = (dt - timedelta(days=95)).replace(hour=10, minute=0, second=0)
        a = self._plant_auth(c, "directed_surveillance", dt, s, valid_from=vf,
                             valid_to=(vf + timedelta(days=90)).date())
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            f"Directed surveillance five days after {{auth}} expired on {a.valid_to}."))
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s, cancelled_at=dt)
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            "Directed surveillance at the very second {auth} was cancelled."))
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s, approval="refused")
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            "Directed surveillance under {auth}, whose application was refused."))
        # boundaries
        c = self._host(_gb, min_days=150)
        dt = self._slot(c, lead=120)
        s = self._fresh(c)
        vf = (dt - timedelta(days=90)).replace(hour=10, minute=0, second=0)
        dt = datetime.combine(dt.date(), time(16, 30), dt.tzinfo)
        a = self._plant_auth(c, "directed_surveillance", dt, s, valid_from=vf,
                             valid_to=dt.date())
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            f"Directed surveillance at 16:30 on {a.valid_to}, the last day of {{auth}} "
            "(a date-only valid_to runs through that day)."), boundary=True)
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "interception", dt, s, valid_from=dt)
        r = self._prow("interception", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            "Interception at exactly the valid_from time of {auth}."), boundary=True)
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "directed_surveillance", dt, s,
                             cancelled_at=dt + timedelta(minutes=1))
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-02", [r], (
            "Directed surveillance one minute before {auth} was cancelled."), boundary=True)

    def _plant_aut03(self, g: _Groups) -> None:
        """AUT-03."""
        def aut(action: str, why: str, boundary: bool = False, lead_days: int = 0,
                **kw: str | bool) -> None:
            case = self._host(_gb)
            dt = self._slot(case, lead=40)
            s = self._fresh(case)
            vf = dt - timedelta(days=lead_days) if lead_days else None
            a = self._plant_auth(case, action, dt, s, valid_from=vf,
                                 role=str(kw.get("role", "")),
                                 approval=str(kw.get("approval", "approved")),
                                 urgent=bool(kw.get("urgent", False)),
                                 valid_to=(vf + timedelta(days=7)).date() if vf else None)
            r = self._prow(action, case, dt=dt, subjects=s, auth=a,
                           urgent=bool(kw.get("urgent", False)))
            self._add("AUT-03", [r], why, boundary)

        aut("directed_surveillance", "Directed surveillance under {auth}, granted by an "
            "inspector (superintendent or above required).", role="inspector")
        aut("interception", "Interception under {auth}, issued by a chief constable instead "
            "of the Secretary of State.", role="chief_constable")
        aut("intrusive_surveillance", "Intrusive surveillance under {auth} while judicial "
            "approval was still pending and the grant was not urgent.", approval="pending")
        aut("interception", "Interception under urgent warrant {auth} six days after it was "
            "issued, with judicial approval still pending (5-day limit).", lead_days=6,
            approval="pending", urgent=True)
        aut("interception", "Interception under urgent warrant {auth} four days after it was "
            "issued, judicial approval pending (inside the 5-day window).", boundary=True,
            lead_days=4, approval="pending", urgent=True)
        aut("equipment_interference", "Equipment interference under {auth}, issued by a chief "
            "constable (allowed for this measure).", boundary=True, role="chief_constable")
        aut("directed_surveillance", "Directed surveillance under {auth}, granted by a "
            "superintendent (the lowest rank allowed).", boundary=True, role="superintendent")

    def _plant_aut04(self, g: _Groups) -> None:
        """AUT-04."""
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c)
        a = self._plant_auth(c, "interception", dt, s)
        r = self._prow("equipment_interference", c, dt=dt, subjects=s, auth=a,
                       legal_basis="IPA 2016 s.102")
        self._add("AUT-04", [r], (
            "Equipment interference under {auth}, which covers interception only."))
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c, 2)
        a = self._plant_auth(c, "directed_surveillance", dt, s[:1])
        r = self._prow("directed_surveillance", c, dt=dt, subjects=s[1:], auth=a)
        self._add("AUT-04", [r], (
            f"Directed surveillance of {s[1]} under {{auth}}, which names only {s[0]} (wrong "
            "subject)."))
        c = self._host(_gb)
        dt = self._slot(c, lead=40)
        s = self._fresh(c, 2)
        a = self._plant_auth(c, "interception", dt, s[:1])
        r = self._prow("interception", c, dt=dt, subjects=s, auth=a)
        self._add("AUT-04", [r], (
            f"Interception of {s[0]} and {s[1]} under {{auth}}, which names only {s[0]}."))

    def _plant_xb01(self, g: _Groups) -> None:
        """XB-01."""
        def eaw(case: _Case, purpose: str, **over: str) -> _PRow:
            fields = {"notice_purpose": purpose, "offence": case.offence,
                      "offence_category": case.category,
                      "max_penalty_months": str(case.max_penalty),
                      "sentence_months": "", "remaining_months": ""}
            fields.update(over)
            return self._prow("eaw_issue", case, extra=fields)

        c = self._host(tag="xb01-9")
        r = eaw(c, "prosecution")
        self._add("XB-01", [r], (
            f"European Arrest Warrant for prosecution of {c.offence.lower()} carrying at most "
            f"{c.max_penalty} months."))
        c = self._host(lambda c: c.agency.code == "FI-KRP")
        r = eaw(c, "sentence", sentence_months="3", remaining_months="3")
        self._add("XB-01", [r], (
            "European Arrest Warrant to enforce a sentence of 3 months."))
        c = self._host(tag="xb01-12")
        r = eaw(c, "prosecution")
        self._add("XB-01", [r], (
            "European Arrest Warrant for prosecution of an offence with a maximum of exactly "
            "12 months."), boundary=True)
        c = self._host(_eu)
        r = eaw(c, "sentence", sentence_months="4", remaining_months="4")
        self._add("XB-01", [r], (
            "European Arrest Warrant to enforce a sentence of exactly 4 months."),
            boundary=True)

    def _plant_log01_boundary(self, g: _Groups) -> None:
        """LOG-01 boundary (placed last so it does not shift the planted rows' randomness)."""
        c = self._host(_agency("IE-AGS"))
        r = self._prow("erase", c, justification="")
        self._add("LOG-01", [r], (
            "Erasure without justification; the rule covers consult, disclose and transfer "
            "only."), boundary=True)

    def _plant_log_quality(self, _groups: _Groups) -> None:
        """DQ-01, DQ-02, DQ-04 and DQ-05 (DQ-03's gaps are made while numbering the log,
        in `_write_operations`). Placed last so the rows above keep their randomness."""
        rng = self.rng
        ag = _FEED
        tz = _tz(ag.offset)
        actors = [_Actor(f"{ag.code}-{n:04d}", ag, rng.choice(_ROLES),
                         f"WS-{ag.terminal_base * 10 + rng.randrange(99):04d}", False)
                  for n in rng.sample(range(1000, 10000), ag.actors)]
        first = date(_YEAR, 6, 2)
        case = _Case(ag, datetime.combine(first - timedelta(days=24), time(9, 40), tz), None,
                     "organised_crime", "Vehicle theft by an organised group", 120,
                     ag.units[0], "dq-feed", actors)
        case.id = f"{ag.code}-{_YEAR}-0001"
        case.subjects = [f"P-{20_001 + i:06d}" for i in range(260)]
        for sid in case.subjects:
            self._name(sid, ag.country)
        self.feed_case = case
        pool = case.subjects * 2  # each person looked up at most twice
        rng.shuffle(pool)
        gaps = ({7, 8, 9}, {15})  # days after `first` with no entry at all
        days: dict[int, list[_PRow]] = {}
        for k in range(22):
            if any(k in g for g in gaps):
                continue
            day = first + timedelta(days=k)
            seconds = sorted(rng.sample(range(8 * 3600, 18 * 3600), rng.randint(24, 32)))
            rows = []
            for sec in seconds:
                dt = datetime.combine(day, time(sec // 3600, sec // 60 % 60, sec % 60), tz)
                subject = pool.pop() if pool else rng.choice(case.subjects)
                rows.append(_PRow(dt, self.row("consult", case, rng.choice(actors), dt,
                                               [subject], purpose="vehicle")))
            days[k] = rows
        # a few entries of the other kinds the log does hold: it never discloses or transfers
        for kind in ("collect", "collect", "alter", "combine", "erase", "erase"):
            k = rng.choice(sorted(days))
            i = rng.randrange(1, len(days[k]) - 1)
            old = days[k][i]
            days[k][i] = _PRow(old.dt, self.row(kind, case, rng.choice(actors), old.dt,
                                                [rng.choice(case.subjects)]))
        neighbours: list[tuple[_PRow, _PRow, int, int]] = []
        for g in gaps:
            lo, hi = min(g), max(g)
            neighbours.append((days[lo - 1][-1], days[hi + 1][0], lo, hi))
        cited = {id(r) for n in neighbours for r in n[:2]}
        consults = [r for k in sorted(days) for r in days[k]
                    if r.fields["action"] == "consult" and id(r) not in cited]
        untimed = sorted(rng.sample(consults, 30), key=lambda r: r.dt)
        for r in untimed:
            r.fields["ts"] = ""  # the entry was logged without its time
        planted = cited | {id(r) for r in untimed}
        self.feed = [r for k in sorted(days) for r in days[k] if id(r) not in planted]
        for before, after, lo, hi in neighbours:
            a, b = first + timedelta(days=lo), first + timedelta(days=hi)
            span = f"on {a}" if a == b else f"from {a} to {b}"
            self._add("DQ-01", [before, after], (
                f"{ag.code}'s log, which holds 24 to 32 entries on each of its other days, holds "
                f"nothing {span} (UTC); the findings cite the last entry before and the first "
                "after."))
        for kind in ("disclose", "transfer"):
            self.items.append(_Item("DQ-04", [], (
                f"{ag.code}'s log holds consultations, collections, alterations, combinations "
                f"and erasures, but not one {kind}."), False,
                (("agency", ag.code), ("action", kind))))
        self._add("DQ-05", untimed, (
            f"{len(untimed)} of {ag.code}'s consultations were logged without a date and "
            "time (ts), more than 5 % of them."))
        # DQ-02: a placeholder date and a typed year in the main log
        c = self._host(lambda c: c.agency.code == "DE-BKA")
        placeholder = self._prow("collect", c, dt=datetime(1900, 1, 1, tzinfo=_tz(1)),
                                 data_categories="identity", justification="Erfassung")
        c = self._host(lambda c: c.agency.code == "GB-NCA")
        typo = self._prow("collect", c, dt=datetime(_YEAR + 180, 6, 14, 10, 32,
                                                    tzinfo=_tz(0)),
                          data_categories="identity")
        self._add("DQ-02", [placeholder, typo], (
            "A collection dated 1900-01-01 00:00 (a placeholder) and one dated "
            f"{_YEAR + 180}-06-14 (the year typed wrongly): one finding for the batch."))

    def finalize_planted_auth_ids(self) -> None:
        """Planted rows cite their authorisation by id once the register is numbered."""
        known = {a.id for a in self.auths}
        for item in self.items:
            for r in item.rows:
                if r.auth is not None:
                    r.fields["authorisation_id"] = (
                        _mistype(r.auth.id, known) if r.typo else r.auth.id)

    # -- background ---------------------------------------------------------------------

    def drafts(self, n: int) -> list[_Draft]:
        rng = self.rng
        out: list[_Draft] = []
        # operations run under authorisations (surveillance, interception, LED transfers)
        usable: list[tuple[_Auth, datetime, datetime]] = []
        for a in self.auths:
            if a.weight <= 0 or not a.id or a.approval == "refused":
                continue
            c_start, c_end = a.case.window()
            lo = max(a.valid_from, c_start)
            hi = min(a.end() - timedelta(hours=2), c_end)
            if a.approval == "pending":
                hi = min(hi, a.valid_from + timedelta(days=4))
            if hi > lo + timedelta(hours=4):
                usable.append((a, lo, hi))
        n_auth = round(n * 0.036) if usable else 0
        picks = rng.choices(usable, weights=[u[0].weight for u in usable], k=n_auth) \
            if usable else []
        for a, lo, hi in picks:
            action = rng.choice(a.actions)
            if action == "transfer":
                dt, urgent = self._when(lo, hi, "transfer")
            else:
                dt = lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))
                urgent = a.urgent
            actor = self._team_member(a.case, dt)
            out.append(_Draft(dt, action, a.case, actor, urgent, a))
        # the rest: ordinary police work on open cases
        weights = [max(1, (e - s).days) for s, e in (c.window() for c in self.cases)]
        cases = rng.choices(self.cases, weights=weights, k=n - len(out))
        kinds = rng.choices(_FREE_KINDS, weights=_FREE_WEIGHTS, k=len(cases))
        for case, kind in zip(cases, kinds, strict=True):
            if kind == "eaw_issue" and case.agency.country == "GB":
                kind = "notice_request"
            if kind in ("notice_request", "eaw_issue") and not case.notice_ok():
                kind = "consult"
            start, end = case.window()
            dt, urgent = self._when(start, end, kind)
            if kind == "arrest" and rng.random() < 0.2:
                urgent = True
            out.append(_Draft(dt, kind, case, self._team_member(case, dt), urgent))
        self._cover(out)
        return out

    def _cover(self, drafts: list[_Draft]) -> None:
        """Keep the background clean for the log-completeness rules: every agency logs
        every kind of operation Art. 25(1) names (DQ-04) and enough disclosures and
        transfers that the planted one without a recipient stays under 5 % (DQ-05); the
        log of an agency busy enough for DQ-01 has no empty day between its first and
        last (ordinary consultations are moved into empty days)."""
        rng = self.rng
        pools: dict[str, list[int]] = {}
        for i, d in enumerate(drafts):
            if d.auth is None and d.kind == "consult":
                pools.setdefault(d.case.agency.code, []).append(i)
        for ag in _AGENCIES:
            mine = [d for d in drafts if d.case.agency is ag]
            pool = pools.get(ag.code, [])
            kinds = Counter(d.kind for d in mine)
            wanted = [k for k in _ART25 if not kinds[k]]
            short = _MIN_DISCLOSURES - kinds["disclose"] - kinds["transfer"] - sum(
                1 for k in wanted if k in ("disclose", "transfer"))
            wanted += ["disclose"] * max(0, short)
            for kind in wanted:
                if pool:
                    drafts[pool.pop(rng.randrange(len(pool)))].kind = kind
            if len(mine) < 2 * 366:
                continue  # far below DQ-01's daily volume: nothing to check
            days = Counter(d.dt.astimezone(UTC).date() for d in mine)
            day, last = min(days), max(days)
            while day < last:
                day += timedelta(days=1)
                if days[day]:
                    continue
                fits = [i for i in pool if days[drafts[i].dt.astimezone(UTC).date()] > 1
                        and _open_on(drafts[i].case, day)
                        and day not in self.blackout.get(drafts[i].actor.id, ())]
                if not fits:
                    continue
                d = drafts[fits[rng.randrange(len(fits))]]
                days[d.dt.astimezone(UTC).date()] -= 1
                d.dt = datetime.combine(day, time(rng.randint(9, 16), rng.randrange(60),
                                                  rng.randrange(60)), d.dt.tzinfo)
                d.urgent = False
                days[day] += 1

    def _team_member(self, case: _Case, dt: datetime) -> _Actor:
        team = case.team
        actor = self.rng.choice(team)
        if actor.id in self.blackout and dt.date() in self.blackout[actor.id]:
            others = [a for a in team if a.id not in self.blackout
                      or dt.date() not in self.blackout[a.id]]
            actor = self.rng.choice(others)
        return actor


def _open_on(case: _Case, day: date) -> bool:
    """Whether ``case`` is open all of ``day`` (in its agency's local time)."""
    start, end = case.window()
    return start.date() < day < end.date()


def _led(recipient_id: str) -> _Dest:
    return next(d for d in _LED_POLICE if d.recipient_id == recipient_id)


def _mistype(real: str, known: set[str]) -> str:
    """A plausible typo of an authorisation id that is not in the register."""
    head, _, digits = real.rpartition("-")
    for i in range(len(digits) - 1, 0, -1):
        d = list(digits)
        d[i], d[i - 1] = d[i - 1], d[i]
        cand = f"{head}-{''.join(d)}"
        if cand != real and cand not in known:
            return cand
    for k in range(1, 1000):
        cand = f"{head}-{(int(digits) + 500 + k) % 10000:04d}"
        if cand not in known:
            return cand
    raise RuntimeError("demo data: cannot make an unknown authorisation id")


class _Trackers:
    """Sliding windows that keep background groups well below the aggregate thresholds."""

    def __init__(self) -> None:
        self.pair: dict[tuple[str, str], deque[float]] = {}
        self.subject: dict[str, deque[tuple[float, str]]] = {}
        self.actor: dict[str, deque[float]] = {}

    def subject_ok(self, sid: str, actor: str, t: float) -> bool:
        q = self.pair.get((sid, actor))
        if q is not None:
            while q and q[0] < t - 30 * 86400:
                q.popleft()
            if len(q) >= _BG_PER_ACTOR_SUBJECT_30D:
                return False
        s = self.subject.get(sid)
        if s is not None:
            while s and s[0][0] < t - 7 * 86400:
                s.popleft()
            actors = {a for _, a in s}
            actors.add(actor)
            if len(actors) > _BG_ACTORS_PER_SUBJECT_7D:
                return False
        return True

    def add(self, sid: str, actor: str, t: float) -> None:
        self.pair.setdefault((sid, actor), deque()).append(t)
        self.subject.setdefault(sid, deque()).append((t, actor))

    def actor_busy(self, actor: str, t: float) -> bool:
        q = self.actor.get(actor)
        if q is None:
            return False
        while q and q[0] < t - 3600:
            q.popleft()
        return len(q) >= _BG_PER_ACTOR_60MIN

    def add_actor(self, actor: str, t: float) -> None:
        self.actor.setdefault(actor, deque()).append(t)


# ---------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------


#: Every planter, in the order they run (rule, method); a seed gives the same rows only
#: in this order.
PLANTERS: tuple[tuple[str, Callable[[_Generator, _Groups], None]], ...] = (
        ("LOG-01", _Generator._plant_log01),
        ("PUR-01", _Generator._plant_pur01),
        ("PUR-02", _Generator._plant_pur02),
        ("PRO-01", _Generator._plant_pro01),
        ("PRO-02", _Generator._plant_pro02),
        ("PRO-03", _Generator._plant_pro03),
        ("PRO-04", _Generator._plant_pro04),
        ("SPC-01", _Generator._plant_spc01),
        ("TRF-01", _Generator._plant_trf01),
        ("TRF-02", _Generator._plant_trf02),
        ("TRF-03", _Generator._plant_trf03),
        ("INT-01 / INT-02 / INT-03", _Generator._plant_int01),
        ("AUT-01", _Generator._plant_aut01),
        ("AUT-02", _Generator._plant_aut02),
        ("AUT-03", _Generator._plant_aut03),
        ("AUT-04", _Generator._plant_aut04),
        ("XB-01", _Generator._plant_xb01),
        ("LOG-01 boundary", _Generator._plant_log01_boundary),
    ("DQ-01..DQ-05", _Generator._plant_log_quality),
)


def generate(out_dir: Path, operations: int = 50_000, seed: int = 20261128) -> DemoFiles:
    """Write operations.csv, authorisations.csv and cases.jsonl into `out_dir`.

    The same `seed` and `operations` give byte-identical files. `operations` is the exact
    number of rows in operations.csv (planted and boundary records included).
    """
    if operations < _MIN_OPERATIONS:
        raise ValueError(f"operations must be at least {_MIN_OPERATIONS}, got {operations}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = _Generator(seed, operations)
    g.build_world()
    g.plant(g.reserve_group_actors())
    g.assign_auth_ids()
    g.finalize_planted_auth_ids()

    planted_rows = [r for item in g.items for r in item.rows] + g.feed
    drafts = g.drafts(operations - len(planted_rows))

    items: list[tuple[float, int, _Draft | _PRow]] = []
    for i, d in enumerate(drafts):
        items.append((d.dt.timestamp(), i, d))
    for j, r in enumerate(planted_rows):
        items.append((r.dt.timestamp(), len(drafts) + j, r))
    items.sort(key=lambda x: (x[0], x[1]))

    ops_path = out_dir / "operations.csv"
    gaps = _write_operations(g, ops_path, items, _sequence_gaps(items))
    auth_path = out_dir / "authorisations.csv"
    _write_authorisations(g, auth_path)
    cases_path = out_dir / "cases.jsonl"
    _write_cases(g, cases_path)

    order = {r: i for i, r in enumerate(RULE_IDS)}
    planted = [Planted(it.rule_id, tuple(r.record_id for r in it.rows), it.describe(),
                       it.group)
               for it in g.items if not it.boundary] + gaps
    bounds = [Planted(it.rule_id, tuple(r.record_id for r in it.rows), it.describe())
              for it in g.items if it.boundary]
    planted.sort(key=lambda p: order[p.rule_id])
    bounds.sort(key=lambda p: order[p.rule_id])
    return DemoFiles(ops_path, auth_path, cases_path, tuple(planted), tuple(bounds))


def _agency_of(obj: _Draft | _PRow) -> str:
    return obj.fields["agency"] if isinstance(obj, _PRow) else obj.case.agency.code


#: DQ-03: (agency, share of its log after which numbers are skipped, how many).
_SKIPS: Final = (("FR-DCPJ", 0.4, 3), ("NL-NP", 0.7, 1))


def _sequence_gaps(items: list[tuple[float, int, _Draft | _PRow]]) -> dict[str, tuple[int, int]]:
    """Where each planted gap in a log's running numbers goes: agency -> (index of the
    entry after the gap among that agency's entries, numbers skipped). Both neighbours
    are background entries, so they trip nothing else."""
    per: dict[str, list[bool]] = {}
    for _t, _i, obj in items:
        per.setdefault(_agency_of(obj), []).append(isinstance(obj, _Draft))
    out = {}
    for code, share, skip in _SKIPS:
        flags = per.get(code, [])
        k = max(1, int(len(flags) * share))
        while k < len(flags) and not (flags[k - 1] and flags[k]):
            k += 1
        if k < len(flags):
            out[code] = (k, skip)
    return out


def _write_operations(g: _Generator, path: Path,
                      items: list[tuple[float, int, _Draft | _PRow]],
                      skips: dict[str, tuple[int, int]]) -> list[Planted]:
    """Write the log in time order, each agency's entries numbered 1, 2, 3, ... in its
    `sequence` column except where `skips` leaves numbers out; return those gaps."""
    rng = g.rng
    tr = _Trackers()
    seen: dict[str, int] = {}
    numbers: dict[str, int] = {}
    last: dict[str, str] = {}
    gaps: list[Planted] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(OPERATION_FIELDS)
        for n, (t, _i, obj) in enumerate(items, start=1):
            rid = f"OP-{n:07d}"
            code = _agency_of(obj)
            index = seen.get(code, 0)
            seen[code] = index + 1
            number = numbers.get(code, 0) + 1
            skip = skips.get(code)
            if skip is not None and skip[0] == index:
                gaps.append(Planted("DQ-03", (last[code], rid), (
                    f"{code}'s running numbers jump from {number - 1} to {number + skip[1]}: "
                    f"{skip[1]} log {'entries are' if skip[1] > 1 else 'entry is'} missing "
                    "between two ordinary entries.")))
                number += skip[1]
            numbers[code] = number
            last[code] = rid
            if isinstance(obj, _PRow):
                obj.record_id = rid
                obj.fields["record_id"] = rid
                obj.fields["sequence"] = str(number)
                w.writerow([obj.fields[k] for k in OPERATION_FIELDS])
                continue
            d = obj
            case = d.case
            actor = d.actor
            log = d.kind in _LOG_ACTIONS
            if log and tr.actor_busy(actor.id, t):
                free = [a for a in case.team if not tr.actor_busy(a.id, t)]
                if free:
                    actor = rng.choice(free)
            subjects: list[str]
            if d.auth is not None:
                if d.kind == "transfer":
                    subjects = list(d.auth.subjects)
                else:
                    k = rng.randint(1, len(d.auth.subjects))
                    subjects = sorted(rng.sample(d.auth.subjects, k))
            elif log:
                k = 1
                if d.kind == "combine":
                    k = rng.randint(2, 3)
                elif d.kind in ("transfer", "disclose") and rng.random() < 0.2:
                    k = 2
                subjects = _pick_tracked(rng, tr, case.subjects, actor.id, t, k)
            else:
                subjects = [rng.choice(case.subjects)]
            if log:
                for sid in subjects:
                    tr.add(sid, actor.id, t)
                tr.add_actor(actor.id, t)
            dest = d.auth.dest if d.auth is not None else None
            row = g.row(d.kind, case, actor, d.dt, subjects, urgent=d.urgent, auth=d.auth,
                        dest=dest)
            row["record_id"] = rid
            row["sequence"] = str(number)
            w.writerow([row[k] for k in OPERATION_FIELDS])
    return gaps


def _pick_tracked(rng: random.Random, tr: _Trackers, pool: list[str], actor: str, t: float,
                  k: int) -> list[str]:
    chosen: list[str] = []
    for _ in range(60):
        sid = rng.choice(pool)
        if sid not in chosen and tr.subject_ok(sid, actor, t):
            chosen.append(sid)
            if len(chosen) == k:
                return chosen
    rest = [s for s in pool if s not in chosen]
    rng.shuffle(rest)
    for sid in rest:
        if tr.subject_ok(sid, actor, t):
            chosen.append(sid)
            if len(chosen) == k:
                break
    if not chosen:
        raise RuntimeError("demo data: a case's subjects are saturated; lower the size")
    return chosen


def _write_authorisations(g: _Generator, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(AUTHORISATION_FIELDS)
        for a in g.auths:
            w.writerow([
                a.id, a.regime, a.legal_basis, a.issuer_id, a.issuer_role, a.approver_id,
                a.approval, _iso(a.approved_at) if a.approved_at else "",
                "true" if a.urgent else "false", _iso(a.valid_from), _valid_to_text(a.valid_to),
                _iso(a.cancelled_at) if a.cancelled_at else "", a.case.id,
                ";".join(a.subjects), ";".join(a.actions),
            ])


def _write_cases(g: _Generator, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for c in [*g.cases, *([g.feed_case] if g.feed_case is not None else [])]:
            obj = {
                "case_id": c.id,
                "opened_at": _iso(c.opened),
                "closed_at": _iso(c.closed) if c.closed else None,
                "offence": c.offence,
                "max_penalty_months": c.max_penalty,
                "team": [a.id for a in c.team],
                "subject_ids": sorted(c.subjects + c.extra_subjects),
                "unit": c.unit,
            }
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
