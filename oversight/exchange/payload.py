"""The encrypted payload: a ZIP of ``package.json`` and JSON Lines, and its checks.

A package's payload holds (docs/exchange.md gives every field)::

    package.json     format and version, kind, sender, recipients, scope, note, criteria
                     packs, chain head at export, what was pseudonymised, counts
    findings.jsonl   one finding per line: its content as stored (facts, legal
                     references and record ids as the stored JSON text), status and
                     decision fields, the records it rests on, its notes and history
    records.jsonl    one stored record per line: kind, source batch, line, record id,
                     every column its batch wrote (extra as stored), row digest
    sources.jsonl    one source batch per line: file, size, SHA-256, rows digest, ...
    packs.jsonl      the criteria packs the findings came from, with their text

A reply's payload holds ``package.json`` and ``decisions.jsonl`` (the receiving body's
status, notes and history of each finding it received).

Everything here comes from another body: every line is checked for the fields and
types it must have before anything is written, and a problem is one sentence naming
the entry, the line and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from oversight.criteria.pack import SEVERITIES
from oversight.exchange.container import FORMAT, PackageError, check_format_version, read_zip
from oversight.findings import STATUSES
from oversight.records import Kind, storage_columns

__all__ = ["ENTRIES", "Payload", "jsonl", "parse_payload", "row_digest"]

ENTRIES = {"package": ("package.json", "findings.jsonl", "records.jsonl", "sources.jsonl",
                       "packs.jsonl"),
           "reply": ("package.json", "decisions.jsonl")}
MAX_PAYLOAD = 1 << 30
MAX_LINE = 64 << 20
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_FINDING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,159}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STATUSES = frozenset(STATUSES)


def jsonl(docs: Sequence[dict[str, Any]]) -> bytes:
    """JSON Lines: one compact object per line, UTF-8 as is."""
    return b"".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                    + b"\n" for d in docs)


def row_digest(line: int, record_id: str, values: Sequence[Any]) -> str:
    """SHA-256 of one stored row: [line, record_id, *columns] as compact JSON."""
    text = json.dumps([line, record_id, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Payload:
    """A payload read and checked."""

    kind: str
    package: dict[str, Any]
    package_json: str
    """package.json exactly as received (kept with the received package)."""
    findings: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    packs: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


class _Where:
    def __init__(self, what: str, entry: str, line: int | None = None) -> None:
        self.text = f"{what}: {entry}" + (f" line {line}" if line is not None else "")

    def fail(self, message: str) -> PackageError:
        return PackageError(f"{self.text}: {message}")


# -- field checks ---------------------------------------------------------------------------


def _get(doc: dict[str, Any], key: str, where: _Where, *types: type,
         optional: bool = False) -> Any:
    if key not in doc:
        if optional:
            return None
        raise where.fail(f"the field {key!r} is missing.")
    value = doc[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in types:
        raise where.fail(f"the field {key!r} must be {_names(types)}, not true/false.")
    if not isinstance(value, types):
        raise where.fail(f"the field {key!r} must be {_names(types)}, not "
                         f"{type(value).__name__}.")
    return value


def _names(types: tuple[type, ...]) -> str:
    words = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
             dict: "an object"}
    return " or ".join(words.get(t, t.__name__) for t in types)


def _text(doc: dict[str, Any], key: str, where: _Where, optional: bool = False,
          pattern: re.Pattern[str] | None = None, choices: Sequence[str] | None = None
          ) -> str | None:
    value = _get(doc, key, where, str, optional=optional)
    if value is None:
        return None
    if pattern is not None and not pattern.fullmatch(value):
        raise where.fail(f"the field {key!r} is {value[:80]!r}, which is not a valid value.")
    if choices is not None and value not in choices:
        raise where.fail(f"the field {key!r} is {value[:80]!r}, not one of "
                         f"{', '.join(choices)}.")
    return str(value)


def _json_text(doc: dict[str, Any], key: str, where: _Where, shape: type,
               optional: bool = False) -> str | None:
    """A field holding stored JSON text (e.g. a finding's facts)."""
    value = _text(doc, key, where, optional=optional)
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        raise where.fail(f"the field {key!r} is not JSON text.") from None
    if not isinstance(parsed, shape):
        raise where.fail(f"the field {key!r} must hold {_names((shape,))}.")
    return value


def _objects(doc: dict[str, Any], key: str, where: _Where) -> list[dict[str, Any]]:
    items = _get(doc, key, where, list)
    for item in items:
        if not isinstance(item, dict):
            raise where.fail(f"every item of {key!r} must be an object.")
    return list(items)


def _lines(data: bytes, what: str, entry: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        where = _Where(what, entry, n)
        if len(raw) > MAX_LINE:
            raise where.fail("the line is too long.")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise where.fail("the line is not UTF-8.") from None
        except (ValueError, RecursionError):
            raise where.fail("the line is not a JSON object.") from None
        if not isinstance(doc, dict):
            raise where.fail("the line is not a JSON object.")
        out.append((n, doc))
    return out


# -- the entries ----------------------------------------------------------------------------


def _package(data: bytes, kind: str, what: str) -> tuple[dict[str, Any], str]:
    where = _Where(what, "package.json")
    try:
        text = data.decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise where.fail("it is not JSON.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise where.fail(f"it names no format {FORMAT!r}.")
    check_format_version(doc.get("format_version"), f"{what}: its payload (package.json)")
    _text(doc, "kind", where, choices=(kind,))
    _text(doc, "package_id", where, pattern=re.compile(r"[0-9a-f]{32}"))
    _text(doc, "created", where)
    sender = _get(doc, "sender", where, dict)
    for key in ("body", "user", "workspace_id"):
        _text(sender, key, _Where(what, "package.json sender"))
    _objects(doc, "recipients", where)
    _get(doc, "pseudonymised", where, list)
    if kind == "reply":
        reply = _get(doc, "in_reply_to", where, dict)
        _text(reply, "package_id", _Where(what, "package.json in_reply_to"),
              pattern=re.compile(r"[0-9a-f]{32}"))
        _text(reply, "sha256", _Where(what, "package.json in_reply_to"), pattern=_HEX64)
    return doc, text


def _finding(doc: dict[str, Any], where: _Where, reply: bool) -> dict[str, Any]:
    _text(doc, "id", where, pattern=_FINDING_ID)
    for key in ("status", "pending_status"):
        _text(doc, key, where, optional=key != "status", choices=STATUSES)
    for key in ("reason", "assignee", "decided_by", "decided_at", "approved_by",
                "pending_reason", "pending_by"):
        _text(doc, key, where, optional=True)
    for i, note in enumerate(_objects(doc, "notes", where), 1):
        w = _Where(where.text, f"note {i}")
        _get(note, "note_id", w, int)
        _text(note, "user", w)
        _text(note, "ts", w)
        _text(note, "text", w)
        _get(note, "refers_to", w, int, optional=True)
    for i, h in enumerate(_objects(doc, "history", where), 1):
        w = _Where(where.text, f"history entry {i}")
        _get(h, "seq", w, int, optional=True)
        _text(h, "ts", w)
        _text(h, "user", w)
        _text(h, "action", w)
        for key in ("from", "to", "reason", "detail"):
            _text(h, key, w, optional=True)
        _get(h, "note_id", w, int, optional=True)
    if reply:
        return doc
    pack = _get(doc, "pack", where, dict, optional=True)
    if pack is not None:
        _text(pack, "sha256", _Where(where.text, "pack"), pattern=_HEX64)
        _text(pack, "id", _Where(where.text, "pack"), pattern=_ID)
    _text(doc, "pack_id", where, pattern=_ID)
    _text(doc, "rule_id", where, pattern=_ID)
    _text(doc, "part", where)
    _text(doc, "group_key", where, optional=True)
    _text(doc, "severity", where, choices=SEVERITIES)
    _text(doc, "message", where)
    _json_text(doc, "facts", where, dict)
    _json_text(doc, "legal_refs", where, list)
    _json_text(doc, "record_ids", where, list)
    _get(doc, "first_ts_utc", where, int, optional=True)
    _get(doc, "matching", where, bool)
    _text(doc, "stale_reason", where, optional=True)
    for i, ref in enumerate(_objects(doc, "records", where), 1):
        w = _Where(where.text, f"record {i}")
        _get(ref, "source", w, int)
        _get(ref, "line", w, int)
        _text(ref, "record_id", w)
    return doc


def _source(doc: dict[str, Any], where: _Where) -> dict[str, Any]:
    _get(doc, "batch_id", where, int)
    kind = _text(doc, "kind", where, choices=[k.value for k in Kind])
    _text(doc, "file", where)
    _text(doc, "sha256", where, pattern=_HEX64)
    _text(doc, "rows_digest", where)
    for key in ("size", "rows_read", "rows_imported", "rows_rejected"):
        _get(doc, key, where, int)
    columns = _get(doc, "columns", where, list)
    known = {"batch_id", "line", "record_id", *storage_columns(Kind(str(kind)))}
    if columns[:3] != ["batch_id", "line", "record_id"] or not all(
            isinstance(c, str) and c in known for c in columns) or len(set(columns)) != len(
            columns):
        raise where.fail(f"its columns {columns!r} are not columns of {kind} records this "
                         "program knows.")
    return doc


def _record(doc: dict[str, Any], where: _Where, sources: dict[int, dict[str, Any]]
            ) -> dict[str, Any]:
    kind = _text(doc, "kind", where, choices=[k.value for k in Kind])
    source = _get(doc, "source", where, int)
    line = _get(doc, "line", where, int)
    record_id = _text(doc, "record_id", where)
    columns = _get(doc, "columns", where, dict)
    digest = _text(doc, "row_digest", where, pattern=_HEX64)
    batch = sources.get(source)
    if batch is None:
        raise where.fail(f"it comes from source batch {source}, which sources.jsonl does "
                         "not describe.")
    if batch["kind"] != kind:
        raise where.fail(f"it is a {kind} record of source batch {source}, which holds "
                         f"{batch['kind']}.")
    names = batch["columns"][3:]
    if list(columns) != names:
        raise where.fail(f"its columns are not those its source batch wrote "
                         f"({', '.join(names)}).")
    for name, value in columns.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, type(None))):
            raise where.fail(f"the column {name!r} holds {type(value).__name__}, not text or "
                             "a whole number.")
    if row_digest(int(line), str(record_id), list(columns.values())) != digest:
        raise where.fail("the record does not match its row digest.")
    return doc


def _pack(doc: dict[str, Any], where: _Where) -> dict[str, Any]:
    _text(doc, "id", where, pattern=_ID)
    _text(doc, "version", where)
    sha = _text(doc, "sha256", where, pattern=_HEX64)
    source = _text(doc, "source", where, optional=True)
    if source is not None and hashlib.sha256(source.encode("utf-8")).hexdigest() != sha:
        raise where.fail("the pack's text does not have the SHA-256 it is given.")
    return doc


def parse_payload(data: bytes, kind: str, what: str) -> Payload:
    """Check and read a decrypted payload of ``kind`` (package or reply)."""
    entries = read_zip(data, ENTRIES[kind], f"{what} (its decrypted payload)",
                       {"package.json": 1 << 20})
    package, text = _package(entries["package.json"], kind, what)
    out = Payload(kind, package, text)
    if kind == "reply":
        out.decisions = _each(entries["decisions.jsonl"], what, "decisions.jsonl",
                              lambda d, w: _finding(d, w, reply=True))
        _unique(out.decisions, "id", what, "decisions.jsonl")
        _unique_notes(out.decisions, what, "decisions.jsonl")
        return out
    out.sources = _each(entries["sources.jsonl"], what, "sources.jsonl", _source)
    _unique(out.sources, "batch_id", what, "sources.jsonl")
    by_id = {s["batch_id"]: s for s in out.sources}
    out.records = _each(entries["records.jsonl"], what, "records.jsonl",
                        lambda d, w: _record(d, w, by_id))
    seen: set[tuple[Any, ...]] = set()
    for n, r in enumerate(out.records, 1):
        key = (r["source"], r["record_id"])
        if key in seen:
            raise _Where(what, "records.jsonl", n).fail(
                f"record {r['record_id']!r} of source batch {r['source']} comes twice.")
        seen.add(key)
    out.packs = _each(entries["packs.jsonl"], what, "packs.jsonl", _pack)
    _unique(out.packs, "sha256", what, "packs.jsonl")
    out.findings = _each(entries["findings.jsonl"], what, "findings.jsonl",
                         lambda d, w: _finding(d, w, reply=False))
    _unique(out.findings, "id", what, "findings.jsonl")
    packs = {p["sha256"] for p in out.packs}
    lines = {(r["source"], r["line"], r["record_id"]) for r in out.records
             if r["kind"] == Kind.OPERATIONS.value}
    for n, f in enumerate(out.findings, 1):
        where = _Where(what, "findings.jsonl", n)
        if f.get("pack") is not None and f["pack"]["sha256"] not in packs:
            raise where.fail("its criteria pack is not in packs.jsonl.")
        for ref in f["records"]:
            if (ref["source"], ref["line"], ref["record_id"]) not in lines:
                raise where.fail(f"it rests on record {ref['record_id']!r} (source batch "
                                 f"{ref['source']}, line {ref['line']}), which records.jsonl "
                                 "does not hold as an operation.")
    _unique_notes(out.findings, what, "findings.jsonl")
    return out


def _unique_notes(docs: list[dict[str, Any]], what: str, entry: str) -> None:
    seen: set[int] = set()
    for n, d in enumerate(docs, 1):
        for note in d["notes"]:
            if note["note_id"] in seen:
                raise _Where(what, entry, n).fail(f"note {note['note_id']} comes twice in "
                                                  "the package.")
            seen.add(note["note_id"])


def _each(data: bytes, what: str, entry: str,
          check: Callable[[dict[str, Any], _Where], dict[str, Any]]) -> list[dict[str, Any]]:
    return [check(doc, _Where(what, entry, n)) for n, doc in _lines(data, what, entry)]


def _unique(docs: list[dict[str, Any]], key: str, what: str, entry: str) -> None:
    seen: set[Any] = set()
    for n, d in enumerate(docs, 1):
        if d[key] in seen:
            raise _Where(what, entry, n).fail(f"{key} {d[key]!r} comes twice.")
        seen.add(d[key])
