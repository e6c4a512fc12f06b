"""Criteria pack versions kept inside a workspace.

A workspace remembers every pack it has run or saved (table ``packs``, keyed by the
SHA-256 of the YAML text) and which one is *active* (``workspace_meta['active_pack']``):
detection without an explicit pack runs the active one, or the built-in pack when none
was saved. Saving and activating are administrator actions (Permission.CONFIGURE) and
are recorded in the audit trail. ``edit_pack`` turns the changes made in a form into a
new pack text with a bumped version; ``impact`` says, per rule, which findings a change
would add or remove on the current data, without writing anything.

Version bump: ``"1.0.0"`` becomes ``"1.0.0+ws.1"``, ``"1.0.0+ws.1"`` becomes
``"1.0.0+ws.2"`` and so on (the ``+ws.N`` suffix says "edited in a workspace", after
semantic versioning's build metadata), so the published version it came from stays
readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from oversight.changes import Change, changes
from oversight.criteria.engine import preview_hits
from oversight.criteria.pack import Pack, default_pack, parse_pack
from oversight.errors import UsageError
from oversight.progress import CancelToken
from oversight.workspace import Permission, Workspace
from oversight.yamlsrc import load_located

__all__ = ["ACTIVE_KEY", "PackVersion", "RuleImpact", "activate", "active_pack",
           "active_sha256", "bump_version", "edit_pack", "get_version", "impact",
           "list_versions", "save_version"]

ACTIVE_KEY = "active_pack"


@dataclass(frozen=True)
class PackVersion:
    sha256: str
    pack_id: str
    version: str
    title: str
    added_at: str
    added_by: str
    active: bool
    note: str
    """The note given when it was saved ("" for packs only recorded by a run)."""


@dataclass(frozen=True)
class RuleImpact:
    rule_id: str
    title: str
    severity: str
    now: int
    """Findings the current pack would produce."""
    after: int
    """Findings the changed pack would produce."""
    added: frozenset[str]
    removed: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "title": self.title, "severity": self.severity,
                "now": self.now, "after": self.after, "added": len(self.added),
                "removed": len(self.removed)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def active_sha256(ws: Workspace) -> str | None:
    row = ws.conn.execute("SELECT value FROM workspace_meta WHERE key = ?",
                          (ACTIVE_KEY,)).fetchone()
    return str(row[0]) if row else None


def _notes(ws: Workspace) -> dict[str, str]:
    notes: dict[str, str] = {}
    for (payload,) in ws.conn.execute(
            "SELECT payload FROM audit_events WHERE action = 'criteria.save' ORDER BY seq"):
        try:
            doc = json.loads(payload)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("sha256"), str):
            notes[doc["sha256"]] = str(doc.get("note") or "")
    return notes


def list_versions(ws: Workspace) -> list[PackVersion]:
    """Every pack the workspace knows (saved or run), oldest first."""
    ws.require(Permission.READ)
    active = active_sha256(ws)
    notes = _notes(ws)
    return [PackVersion(sha, pack_id, version, title, added_at, added_by, sha == active,
                        notes.get(sha, ""))
            for sha, pack_id, version, title, added_at, added_by in ws.conn.execute(
                "SELECT pack_sha256, pack_id, version, title, added_at, added_by FROM packs"
                " ORDER BY added_at, pack_sha256")]


def _resolve(ws: Workspace, sha256: str) -> tuple[str, str]:
    """(full sha256, source) of a stored pack; a unique prefix of 8+ characters works."""
    key = sha256.strip().lower()
    if len(key) < 8 or not re.fullmatch(r"[0-9a-f]+", key):
        raise UsageError(f"{sha256!r} is not a pack's SHA-256 (give at least 8 hex digits).")
    rows = ws.conn.execute("SELECT pack_sha256, source FROM packs WHERE pack_sha256 LIKE ?",
                           (key + "%",)).fetchall()
    if not rows:
        raise UsageError(f"This workspace has no criteria pack {sha256}; "
                         "list them with `oversight criteria versions`.")
    if len(rows) > 1:
        raise UsageError(f"{sha256} names {len(rows)} packs; give more digits.")
    return str(rows[0][0]), str(rows[0][1])


def get_version(ws: Workspace, sha256: str) -> Pack:
    """A stored pack, parsed again."""
    ws.require(Permission.READ)
    full, source = _resolve(ws, sha256)
    return _parse_stored(ws, full, source)


def _parse_stored(ws: Workspace, sha: str, source: str) -> Pack:
    row = ws.conn.execute("SELECT pack_id, version FROM packs WHERE pack_sha256 = ?",
                          (sha,)).fetchone()
    return parse_pack(source, f"{row[0]} {row[1]} (workspace)")


def active_pack(ws: Workspace) -> Pack:
    """The workspace's active pack, else the built-in one."""
    ws.require(Permission.READ)
    sha = active_sha256(ws)
    if sha is not None:
        row = ws.conn.execute("SELECT source FROM packs WHERE pack_sha256 = ?",
                              (sha,)).fetchone()
        if row is not None:
            return _parse_stored(ws, sha, str(row[0]))
    return default_pack()


def _set_active(ws: Workspace, sha: str) -> str | None:
    old = active_sha256(ws)
    ws.conn.execute("INSERT INTO workspace_meta(key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (ACTIVE_KEY, sha))
    return old


@changes(Change.CRITERIA)
def save_version(ws: Workspace, pack_text: str, note: str, name: str = "pack") -> PackVersion:
    """Validate ``pack_text`` (a failing pack raises ValidationError with every issue),
    keep it and make it the active pack. Administrators only."""
    ws.require(Permission.CONFIGURE)
    pack = parse_pack(pack_text, name)
    added_at = _now()
    with ws.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO packs(pack_sha256, pack_id, version, title, source,"
            " added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (pack.sha256, pack.id, pack.version, pack.title, pack.source, added_at, ws.user))
        previous = _set_active(ws, pack.sha256)
        ws.record("criteria.save", {"pack": pack.id, "version": pack.version,
                                    "sha256": pack.sha256, "note": note,
                                    "previous_active": previous})
    return next(v for v in list_versions(ws) if v.sha256 == pack.sha256)


@changes(Change.CRITERIA)
def activate(ws: Workspace, sha256: str) -> PackVersion:
    """Make a stored pack the active one. Administrators only."""
    ws.require(Permission.CONFIGURE)
    full, source = _resolve(ws, sha256)
    pack = _parse_stored(ws, full, source)  # never activate a pack that no longer parses
    with ws.write():
        previous = _set_active(ws, full)
        ws.record("criteria.activate", {"pack": pack.id, "version": pack.version,
                                        "sha256": full, "previous_active": previous})
    return next(v for v in list_versions(ws) if v.sha256 == full)


# -- editing ---------------------------------------------------------------------------


def bump_version(version: str) -> str:
    """``1.0.0`` -> ``1.0.0+ws.1``; ``1.0.0+ws.N`` -> ``1.0.0+ws.N+1``."""
    m = re.fullmatch(r"(.*)\+ws\.(\d+)", version)
    if m:
        return f"{m.group(1)}+ws.{int(m.group(2)) + 1}"
    return f"{version}+ws.1"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.rstrip("\n") else None
    if style is None and len(value) > 80 and value.endswith("\n"):
        style = ">"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _same_kind(old: Any, new: Any) -> Any:
    """Keep whole numbers whole when the original was an integer."""
    if isinstance(old, int) and not isinstance(old, bool) and isinstance(new, float) \
            and new.is_integer():
        return int(new)
    return new


def edit_pack(pack: Pack, enabled: Mapping[str, bool] | None = None,
              parameters: Mapping[str, Any] | None = None,
              lists: Mapping[str, Sequence[Any]] | None = None) -> str:
    """New YAML text of ``pack`` with rules enabled/disabled, parameter values and list
    values replaced, and the version bumped. The text is validated before it is
    returned (ValidationError lists every issue); unknown names are a UsageError.

    The YAML is regenerated: rule order, rationales, legal references, descriptions and
    the pack's leading comment block are kept; other comments are not."""
    # The pack loader's YAML (only true/false are booleans: NO stays Norway).
    doc = load_located(pack.source, pack.file).data
    if not isinstance(doc, dict):
        raise UsageError(f"The pack {pack.id} is not a YAML mapping.")
    rules = {str(r.get("id")): r for r in doc.get("rules") or [] if isinstance(r, dict)}
    for rule_id, on in (enabled or {}).items():
        if rule_id not in rules:
            raise UsageError(f"Pack {pack.id} has no rule {rule_id}.")
        raw = rules[rule_id]
        if bool(on) != bool(raw.get("enabled", True)):
            raw["enabled"] = bool(on)
    raw_params = doc.get("parameters") or {}
    for name, value in (parameters or {}).items():
        if name not in raw_params:
            raise UsageError(f"Pack {pack.id} has no parameter {name}.")
        current = raw_params[name]
        if isinstance(current, dict) and "value" in current:
            current["value"] = _same_kind(current["value"], value)
        else:
            raw_params[name] = _same_kind(current, value)
    raw_lists = doc.get("lists") or {}
    for name, values in (lists or {}).items():
        if name not in raw_lists:
            raise UsageError(f"Pack {pack.id} has no list {name}.")
        current = raw_lists[name]
        if isinstance(current, dict) and "values" in current:
            current["values"] = list(values)
        else:
            raw_lists[name] = list(values)
    doc["version"] = bump_version(str(doc.get("version", pack.version)))
    header = []
    for line in pack.source.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    header.append(f"# Edited in a workspace from {pack.id} {pack.version} "
                  f"(sha256 {pack.sha256[:16]}).")
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88,
                     default_flow_style=None)
    text = "\n".join(header) + "\n" + body
    parse_pack(text, f"{pack.id} {doc['version']} (edited)")
    return text


# -- impact ----------------------------------------------------------------------------


def impact(ws: Workspace, old: Pack, new: Pack, cancel: CancelToken | None = None
           ) -> list[RuleImpact]:
    """Per rule (of either pack): how many findings a full run of ``old`` and of
    ``new`` would produce on the current data, and which finding ids the change adds
    or removes. Writes nothing."""
    ws.require(Permission.READ)
    before = preview_hits(ws, old, cancel=cancel)
    after = preview_hits(ws, new, cancel=cancel)
    out: list[RuleImpact] = []
    seen: set[str] = set()
    for rule in (*new.rules, *old.rules):
        if rule.id in seen:
            continue
        seen.add(rule.id)
        a = before.get(rule.id, set())
        b = after.get(rule.id, set())
        out.append(RuleImpact(rule.id, rule.title, rule.severity, len(a), len(b),
                              frozenset(b - a), frozenset(a - b)))
    return out
