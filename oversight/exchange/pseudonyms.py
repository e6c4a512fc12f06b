"""Keyed pseudonyms: identifiers of data subjects and actors replaced where they leave.

A pseudonym is ``PS-`` and the first 10 hex digits of HMAC-SHA-256 over the identifier
(UTF-8) under a secret of this workspace: 32 random bytes kept in its encrypted
database (workspace_meta ``pseudonym_secret``), made the first time something is
pseudonymised (audit event ``pseudonym_key.create``, which records the secret's SHA-256,
never the secret). The same identifier gets the same pseudonym in every package and
report of the workspace, so a recipient can correlate without identifying; another
workspace, with another secret, gives other pseudonyms. Finding ids (which hash the
values a finding groups by) become ``<rule>-PS<16 hex>``.

Every pseudonym given out is kept (table ``pseudonyms``, audit event ``pseudonym.assign``
with their count and a digest), so ``reveal`` maps one back; revealing needs a reason
and writes ``pseudonym.reveal``. Two identifiers whose first 10 hex digits agree (one
chance in 10^12 per pair) are told apart by a longer pseudonym for the later one.

Where identifiers are replaced: whole values of the identifier fields (subjects:
``subject_ids`` of every kind; actors: ``actor_id``, ``issuer_id``, ``approver_id``,
``team``), and, as whole words, every other text of the package or report: messages,
facts, group keys, notes, the other record fields and the columns kept in ``extra``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from db.store import Connection
from oversight.accountability import row_line
from oversight.changes import changes
from oversight.errors import PermissionDenied, StorageError, UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["ACTOR_FIELDS", "KINDS", "SUBJECT_FIELDS", "Pseudonymiser", "Replacer",
           "mentioned", "parse_kinds", "pseudonymise_report", "reveal",
           "workspace_identifiers"]

KINDS = ("subjects", "actors")
SECRET_KEY = "pseudonym_secret"
PREFIX = "PS-"
#: Hex digits of a pseudonym, and the longer forms used when one is already taken.
LENGTHS = (10, 16, 24, 64)
FINDING_LENGTHS = (16, 24, 64)
#: Identifier fields per record kind: subjects and actors.
SUBJECT_FIELDS = {"operations": ("subject_ids",), "authorisations": ("subject_ids",),
                  "cases": ("subject_ids",)}
ACTOR_FIELDS = {"operations": ("actor_id",), "authorisations": ("issuer_id", "approver_id"),
                "cases": ("team",)}
_WORD = re.compile(r"\w+")


def parse_kinds(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``subjects,actors`` (or a list) as the kinds to pseudonymise, checked."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in items:
        word = item.strip().lower()
        if not word:
            continue
        if word not in KINDS:
            raise UsageError(f"--pseudonymise takes subjects, actors or both "
                             f"(subjects,actors), not {item.strip()!r}.")
        if word not in out:
            out.append(word)
    return tuple(k for k in KINDS if k in out)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def secret_of(conn: Connection) -> bytes | None:
    row = conn.execute("SELECT value FROM workspace_meta WHERE key = ?", (SECRET_KEY,)
                       ).fetchone()
    if row is None:
        return None
    try:
        return bytes.fromhex(str(row[0]))
    except ValueError:
        return None


def mac(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def finding_material(finding_id: str) -> str:
    """What a finding id's pseudonym is keyed on (apart from identifiers)."""
    return "finding\x1f" + finding_id


def candidates(secret: bytes, value: str, kind: str) -> list[str]:
    """The pseudonyms ``value`` may get, shortest first."""
    if kind == "finding":
        rule = value.rsplit("-", 1)[0]
        digest = mac(secret, finding_material(value))
        return [f"{rule}-PS{digest[:n]}" for n in FINDING_LENGTHS]
    digest = mac(secret, value)
    return [PREFIX + digest[:n] for n in LENGTHS]


def rows_digest(rows: Iterable[tuple[str, str, str]]) -> str:
    """Digest of (pseudonym, value, kind) rows, sorted (what an assign event records)."""
    h = hashlib.sha256()
    for row in sorted(rows):
        h.update(row_line(row))
    return h.hexdigest()


@dataclass
class Pseudonymiser:
    """Pseudonyms of this workspace, with those given out for the first time pending
    until ``store`` writes them (inside the caller's ``ws.write()``)."""

    ws: Workspace
    secret: bytes
    new_secret: bool
    pending: dict[str, tuple[str, str]] = field(default_factory=dict)
    """value -> (pseudonym, kind), given out now for the first time."""
    _known: dict[str, str] = field(default_factory=dict)
    _taken: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, ws: Workspace) -> Pseudonymiser:
        secret = secret_of(ws.conn)
        if secret is None:
            return cls(ws, secrets.token_bytes(32), True)
        return cls(ws, secret, False)

    def pseudonym(self, value: str, kind: str) -> str:
        known = self._known.get(value)
        if known is not None:
            return known
        row = self.ws.conn.execute("SELECT pseudonym FROM pseudonyms WHERE value = ?",
                                   (value,)).fetchone()
        if row is not None:
            self._known[value] = str(row[0])
            return str(row[0])
        for option in candidates(self.secret, value, kind):
            holder = self._taken.get(option)
            if holder is None:
                found = self.ws.conn.execute(
                    "SELECT value FROM pseudonyms WHERE pseudonym = ?", (option,)).fetchone()
                holder = None if found is None else str(found[0])
            if holder is None or holder == value:
                self._known[value] = option
                self._taken[option] = value
                self.pending[value] = (option, kind)
                return option
        raise StorageError("Two identifiers share a whole pseudonym; this cannot happen "
                           "with an intact workspace (run `oversight verify`).")

    def mapping(self, values: dict[str, str]) -> dict[str, str]:
        """identifier -> pseudonym for ``values`` (identifier -> kind)."""
        return {v: self.pseudonym(v, k) for v, k in values.items()}

    def store(self, conn: Connection, purpose: str) -> int:
        """Write the secret (the first time) and the pseudonyms given out for the first
        time, each with its audit event; inside ``ws.write()``. Returns how many."""
        ws = self.ws
        if self.new_secret:
            if secret_of(conn) is not None:
                raise StorageError("Another session made this workspace's pseudonym key "
                                   "just now; try again.")
            conn.execute("INSERT INTO workspace_meta(key, value) VALUES (?, ?)",
                         (SECRET_KEY, self.secret.hex()))
            ws.record("pseudonym_key.create",
                      {"sha256": hashlib.sha256(self.secret).hexdigest()})
            self.new_secret = False
        if not self.pending:
            return 0
        rows = [(p, v, k) for v, (p, k) in self.pending.items()]
        event = ws.record("pseudonym.assign", {"count": len(rows), "digest": rows_digest(rows),
                                               "for": purpose})
        conn.executemany("INSERT INTO pseudonyms(pseudonym, value, kind, seq)"
                         " VALUES (?, ?, ?, ?)", [(*r, event.seq) for r in rows])
        count = len(rows)
        self.pending = {}
        return count


# -- replacing ----------------------------------------------------------------------------


def _nfc(text: str) -> str:
    """``text`` in Unicode's composed form (NFC): "É" as one character, never an E and
    a combining accent (NFD), so an identifier is found whichever form a text uses."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


class Replacer:
    """Replaces identifiers by their pseudonyms: whole values, and whole words in text
    (an identifier is replaced where neither side touches a letter, digit or _).

    Identifiers and texts are compared in NFC: "SUBJ-ÉVA" typed with a combining accent
    is the same identifier to a reader, and must not leave in clear. A text in which
    something is replaced comes out in NFC; a text with nothing to replace is kept as
    written."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = {k: v for k, v in mapping.items() if k}
        self._search: dict[str, str] = {}
        for k, v in self.mapping.items():
            self._search.setdefault(_nfc(k), v)
        self._first: dict[str, list[str]] = {}
        self._odd: list[str] = []
        for ident in sorted(self._search, key=len, reverse=True):
            m = _WORD.match(ident)
            if m is not None:
                self._first.setdefault(m.group(), []).append(ident)
            else:
                self._odd.append(ident)

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def value(self, value: Any) -> Any:
        """A whole value: an identifier becomes its pseudonym; other text is searched."""
        if not isinstance(value, str):
            return value
        found = self.mapping.get(value)
        return found if found is not None else self.text(value)

    def text(self, text: str) -> str:
        if not self.mapping or not text:
            return text
        original, text = text, _nfc(text)
        spans: list[tuple[int, int, str]] = []
        for m in _WORD.finditer(text):
            for ident in self._first.get(m.group(), ()):
                if self._fits(text, m.start(), ident):
                    spans.append((m.start(), m.start() + len(ident), self._search[ident]))
                    break
        for ident in self._odd:
            start = text.find(ident)
            while start >= 0:
                if self._fits(text, start, ident):
                    spans.append((start, start + len(ident), self._search[ident]))
                start = text.find(ident, start + 1)
        if not spans:
            return original
        spans.sort()
        out: list[str] = []
        last = 0
        for start, end, repl in spans:
            if start < last:
                continue  # inside a longer identifier already replaced
            out.append(text[last:start])
            out.append(repl)
            last = end
        out.append(text[last:])
        return "".join(out)

    @staticmethod
    def _fits(text: str, start: int, ident: str) -> bool:
        if not text.startswith(ident, start):
            return False
        end = start + len(ident)
        # As a regex word boundary: an edge of the identifier that is itself no letter,
        # digit or _ (``#7``) may touch anything.
        before = text[start - 1] if start > 0 and _WORD.match(ident[0]) else ""
        after = text[end] if end < len(text) and _WORD.match(ident[-1]) else ""
        return not (before and _WORD.match(before)) and not (after and _WORD.match(after))

    def deep(self, value: Any) -> Any:
        """A JSON value with every string (and object key) replaced."""
        if isinstance(value, str):
            return self.value(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, dict):
            return {self.value(k): self.deep(v) for k, v in value.items()}
        return value

    def json_text(self, text: str | None) -> str | None:
        """Stored JSON text with every string replaced, written back the way it was
        written (compact or spaced, keys sorted or not)."""
        if text is None or not self.mapping:
            return text
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return self.text(text)
        new = self.deep(value)
        return _dump_like(text, value, new)


def _dump_like(original: str, parsed: Any, new: Any) -> str:
    for separators in ((",", ":"), (", ", ": ")):
        for sort in (False, True):
            if json.dumps(parsed, ensure_ascii=False, separators=separators,
                          sort_keys=sort) == original:
                return json.dumps(new, ensure_ascii=False, separators=separators,
                                  sort_keys=sort)
    return json.dumps(new, ensure_ascii=False)


def identifiers(kind: str, columns: dict[str, Any], which: tuple[str, ...]
                ) -> dict[str, str]:
    """The identifiers (value -> "subject" or "actor") in one stored record's columns."""
    out: dict[str, str] = {}
    for label, table in (("subject", SUBJECT_FIELDS), ("actor", ACTOR_FIELDS)):
        if f"{label}s" not in which:
            continue
        for name in table.get(kind, ()):
            raw = columns.get(name)
            if raw is None:
                continue
            values = _list(raw)
            for v in values:
                if isinstance(v, str) and v.strip():
                    out.setdefault(v, label)
    return out


def workspace_identifiers(conn: Connection, which: tuple[str, ...]) -> dict[str, str]:
    """Every identifier (value -> "subject" or "actor") in the identifier fields of any
    record of the workspace, retracted ones included: a record that is not sent may
    still name, in its free text, someone another record identifies."""
    out: dict[str, str] = {}
    for kind in SUBJECT_FIELDS:
        names = [*(SUBJECT_FIELDS[kind] if "subjects" in which else ()),
                 *(ACTOR_FIELDS[kind] if "actors" in which else ())]
        if not names:
            continue
        for row in conn.execute(f"SELECT DISTINCT {', '.join(names)} FROM {kind}"):
            for value, label in identifiers(kind, dict(zip(names, row, strict=True)),
                                            which).items():
                out.setdefault(value, label)
    return out


def strings(value: Any) -> Iterable[str]:
    """Every string (and object key) in a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)


def mentioned(candidates: dict[str, str], texts: Iterable[str]) -> dict[str, str]:
    """Those of ``candidates`` that occur in ``texts`` (as substrings: the replacer
    then decides where they are whole words)."""
    blob = _nfc("\n".join(texts))
    words = set(_WORD.findall(blob))
    return {v: k for v, k in candidates.items()
            if all(w in words for w in _WORD.findall(_nfc(v))) and _nfc(v) in blob}


def _list(raw: Any) -> list[Any]:
    if isinstance(raw, str) and raw.startswith("["):
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return [raw]
        return value if isinstance(value, list) else [raw]
    return [raw]


def replace_record(kind: str, columns: dict[str, Any], rep: Replacer,
                   which: tuple[str, ...]) -> dict[str, Any]:
    """A stored record's columns with identifiers replaced: identifier fields as whole
    values, ``extra`` and other text as words; times and numbers untouched."""
    fields = {*(SUBJECT_FIELDS.get(kind, ()) if "subjects" in which else ()),
              *(ACTOR_FIELDS.get(kind, ()) if "actors" in which else ())}
    out: dict[str, Any] = {}
    for name, value in columns.items():
        if not isinstance(value, str) or name.endswith("_utc") or _is_time(kind, name):
            out[name] = value
        elif name == "extra" or value.startswith(("[", "{")):
            out[name] = rep.json_text(value)
        elif name in fields:
            out[name] = rep.value(value)
        else:
            out[name] = rep.text(value)
    return out


def _is_time(kind: str, name: str) -> bool:
    from oversight.records import FieldType, Kind, fields_of

    spec = fields_of(Kind(kind)).get(name)
    return spec is not None and spec.type is FieldType.TIMESTAMP


# -- reports ------------------------------------------------------------------------------


def pseudonymise_report(ws: Workspace, data: Any, which: tuple[str, ...]
                        ) -> tuple[Any, Pseudonymiser]:
    """A report's data (oversight.report.data.ReportData) with identifiers replaced in
    its findings (ids included), sample, sources and log-quality sections, for a report
    that leaves the body; the pseudonymiser's new pseudonyms are pending until
    ``store`` (inside the report's ``ws.write()``)."""
    import dataclasses

    pseudo = Pseudonymiser.of(ws)
    parts = {"findings": data.findings, "sample": data.sample, "sources": data.sources,
             "log_quality": data.log_quality}
    found = mentioned(workspace_identifiers(ws.conn, which), strings(list(parts.values())))
    mapping = pseudo.mapping(found)
    for f in data.findings:
        fid = str(f["id"])
        mapping[fid] = pseudo.pseudonym(fid, "finding")
    rep = Replacer(mapping)
    return dataclasses.replace(data, **{k: rep.deep(v) for k, v in parts.items()}), pseudo


# -- revealing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Revealed:
    pseudonym: str
    value: str
    kind: str
    """subject, actor or finding."""
    given_at_event: int

    def to_json(self) -> dict[str, Any]:
        return {"pseudonym": self.pseudonym, "value": self.value, "kind": self.kind,
                "given_at_event": self.given_at_event}


@changes()
def reveal(ws: Workspace, pseudonym: str, reason: str) -> Revealed:
    """The identifier behind one of this workspace's pseudonyms; auditors, with a
    reason, which the audit trail keeps (event ``pseudonym.reveal``)."""
    if ws.read_only_reason is None and not ws.can(Permission.REPORT):
        raise PermissionDenied(f"User {ws.user!r} has the {ws.role.value} role; only an "
                               "auditor may reveal a pseudonym.")
    ws.require(Permission.REPORT)
    text = (reason or "").strip()
    if not text:
        raise UsageError("Give the reason for revealing the pseudonym (--reason): it is kept "
                         "in the audit trail.")
    name = (pseudonym or "").strip()
    row = ws.conn.execute("SELECT value, kind, seq FROM pseudonyms WHERE pseudonym = ?",
                          (name,)).fetchone()
    if row is None:
        raise UsageError(f"No identifier of this workspace has the pseudonym {name!r}: it was "
                         "not given out here (a pseudonym can be revealed only by the "
                         "workspace that made it).")
    with ws.write():
        ws.record("pseudonym.reveal", {"pseudonym": name, "kind": row[1], "reason": text,
                                       "at": _now()})
    return Revealed(name, str(row[0]), str(row[1]), int(row[2]))
