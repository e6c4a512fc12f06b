"""Does a mapping feed the rules? Warnings before an import, for the wizard and scripts.

Rules read canonical fields (``authorisation_id``), register fields
(``authorisation.valid_from``) and original columns kept as extra (`` `Legislation` ``).
A mapping can starve them silently: a field it leaves empty makes ``blank(x)`` true for
every record (and comparisons with it false), and a column it turns into a canonical
field is no longer there under its own header. `mapping_warnings` names each such
field or column once, with the enabled rules of the pack that read it, so that the
person importing can fix the mapping (or knowingly go on) before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from oversight.criteria.expr import Binary, Call, FieldRef, Index, Node, Unary
from oversight.criteria.pack import Pack, Rule
from oversight.importing.profile import MappingProfile
from oversight.records import Kind

__all__ = ["MappingWarning", "mapping_warnings", "rule_reads"]

WarningKind = Literal["consumed", "missing_column", "empty_field"]
#: Which FieldRef source names the fields of each record kind.
_SOURCE = {Kind.OPERATIONS: "record", Kind.AUTHORISATIONS: "authorisation",
           Kind.CASES: "case"}


@dataclass(frozen=True)
class MappingWarning:
    kind: WarningKind
    """consumed: a column rules read is mapped to a field; missing_column: rules read a
    column the files do not have; empty_field: rules read a field the mapping leaves
    empty."""
    name: str
    """The column (consumed, missing_column) or the field (empty_field)."""
    rules: tuple[str, ...]
    """The enabled rules that read it (in a condition if any does, else in a message),
    in pack order."""
    field: str | None = None
    """For consumed: the canonical field the mapping turns the column into."""
    in_condition: bool = True
    """False when the rules only show it in their messages (they still fire)."""
    message: str = ""


def _walk(node: Node | None) -> Iterator[FieldRef]:
    if node is None:
        return
    if isinstance(node, FieldRef):
        yield node
    elif isinstance(node, Binary):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, Unary):
        yield from _walk(node.arg)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _walk(arg)
    elif isinstance(node, Index):
        yield from _walk(node.key)


def rule_reads(rule: Rule) -> tuple[set[FieldRef], set[FieldRef]]:
    """(fields its conditions read, fields only its messages show)."""
    cond: set[FieldRef] = set(_walk(rule.when))
    for agg in rule.aggregates:
        cond.update(_walk(agg.records))
        cond.update(agg.group_by)
        if agg.distinct is not None:
            cond.add(agg.distinct)
    keys = {(r.source, r.name) for r in cond}
    shown = {r for r in rule.facts if (r.source, r.name) not in keys}
    return cond, shown


def _names(ids: Sequence[str]) -> str:
    if len(ids) == 1:
        return ids[0]
    return ", ".join(ids[:-1]) + " and " + ids[-1]


def mapping_warnings(pack: Pack, profile: MappingProfile, columns: Sequence[str]
                     ) -> list[MappingWarning]:
    """What ``profile`` (for files with ``columns``) does to the enabled rules of
    ``pack``: every column they read that it consumes or that is missing, and every
    field they read that it leaves empty. Conditions first, then message-only reads;
    within each, in the order of the pack's rules."""
    kind = profile.kind
    source = _SOURCE[kind]
    mapped = {col: name for name, fm in profile.fields.items() for col in fm.columns}
    if profile.record_id is not None:
        for col in profile.record_id.columns:
            mapped.setdefault(col, "record_id")
    present = set(columns)
    filled = set(profile.fields)
    # (kind, name) -> (rules reading it in a condition, rules only showing it)
    found: dict[tuple[WarningKind, str], tuple[list[str], list[str]]] = {}
    for rule in pack.rules:
        if not rule.enabled:
            continue
        cond, shown = rule_reads(rule)
        for refs, slot in ((cond, 0), (shown, 1)):
            for ref in sorted(refs, key=lambda r: (r.source, r.name)):
                key: tuple[WarningKind, str] | None = None
                if ref.source == "extra" and kind is Kind.OPERATIONS:
                    if ref.name in mapped:
                        key = ("consumed", ref.name)
                    elif ref.name not in present:
                        key = ("missing_column", ref.name)
                elif ref.source == source and ref.name != "found" and ref.name not in filled:
                    key = ("empty_field", ref.name)
                if key is None:
                    continue
                lists = found.setdefault(key, ([], []))
                if rule.id not in lists[0] and rule.id not in lists[slot]:
                    lists[slot].append(rule.id)
    out: list[MappingWarning] = []
    for (what, name), (reading, showing) in found.items():
        in_condition = bool(reading)
        ids = tuple(reading or showing)
        verb = ("reads" if len(ids) == 1 else "read") if in_condition else \
            ("shows" if len(ids) == 1 else "show")
        where = "" if in_condition else " in its message" if len(ids) == 1 \
            else " in their messages"
        label = name if source == "record" or what != "empty_field" else f"{source}.{name}"
        if what == "consumed":
            text = (f"{_names(ids)} {verb} the column '{name}'{where}, which this mapping "
                    f"turns into {mapped[name]}")
        elif what == "missing_column":
            text = (f"{_names(ids)} {verb} the column '{name}'{where}, which these files do "
                    "not have")
        else:
            text = f"{_names(ids)} {verb} {label}{where}, which this mapping leaves empty"
        if in_condition and showing:
            text += (f"; {_names(showing)} also {'shows' if len(showing) == 1 else 'show'} "
                     "it in " + ("its message" if len(showing) == 1 else "their messages"))
        out.append(MappingWarning(what, name, ids, mapped.get(name) if what == "consumed"
                                  else None, in_condition, text))
    out.sort(key=lambda w: (not w.in_condition, _first(pack, w.rules)))
    return out


def _first(pack: Pack, ids: Sequence[str]) -> int:
    order = {r.id: i for i, r in enumerate(pack.rules)}
    return min(order.get(i, len(order)) for i in ids)
