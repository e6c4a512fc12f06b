"""Criteria packs: YAML files of rules that oversight staff read, share and change.

`load_pack` validates a whole pack and reports every problem at once, each with its
file, line (and column inside a condition where known) and a fix; a pack with any
problem is never run. See docs/criteria.md for the format.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from oversight.criteria.expr import (
    BOOL,
    LIST,
    NUMBER,
    TEXT,
    TIMESTAMP,
    ExprError,
    FieldRef,
    Node,
    Scope,
    parse,
)
from oversight.criteria.template import Template, TemplateError
from oversight.errors import Issue, ValidationError
from oversight.records import FieldType, Kind, fields_of
from oversight.yamlsrc import Located, load_located, read_yaml_file, yaml_error

__all__ = ["AGG_KINDS", "DEFAULT_PACK", "OTHER_CHANNEL", "SEVERITIES", "Aggregate",
           "Channel", "Pack", "Rule", "default_pack", "load_pack", "parse_pack"]

SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_PACK = "led-baseline"
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_RULE_KEYS = {"id", "title", "severity", "legal_refs", "rationale", "when", "message",
              "aggregates", "enabled", "tags", "status", "false_positives"}
_AGG_KEYS = {"label", "records", "group_by", "window", "count", "more_than", "findings",
             "message", "kind"}
#: Aggregate kinds: the rolling window (the default) and the log-completeness kinds, each
#: with the keys it takes besides label, kind, records and message.
AGG_KINDS: dict[str, frozenset[str]] = {
    "window": frozenset({"group_by", "window", "count", "more_than", "findings"}),
    "empty_days": frozenset({"group_by", "min_daily_volume"}),
    "sequence_gaps": frozenset({"group_by", "field"}),
    "never_logged": frozenset({"group_by", "field", "values"}),
    "fill_rate": frozenset({"group_by", "fields", "min_fill"}),
    "per_batch": frozenset(),
}
_KIND_KEYS = {"min_daily_volume", "field", "values", "fields", "min_fill"}
_PACK_KEYS = {"pack", "version", "title", "description", "parameters", "lists", "rules",
              "channels"}
_UNITS = {"days": 86_400_000_000, "hours": 3_600_000_000, "minutes": 60_000_000}
AGG_NAMES = {"count": NUMBER, "limit": NUMBER, "window": TEXT, "first": TIMESTAMP,
             "last": TIMESTAMP, "records": NUMBER}
#: What a message of each log-completeness kind may name (besides group fields and
#: parameters); never_logged also names its field (the value never logged).
KIND_NAMES: dict[str, dict[str, str]] = {
    "empty_days": {"first_day": TEXT, "last_day": TEXT, "days": NUMBER, "median": NUMBER,
                   "limit": NUMBER, "before": TIMESTAMP, "after": TIMESTAMP},
    "sequence_gaps": {"first_missing": NUMBER, "last_missing": NUMBER, "count": NUMBER,
                      "before": NUMBER, "after": NUMBER},
    "never_logged": {"records": NUMBER, "logged": TEXT},
    "fill_rate": {"field": TEXT, "filled": NUMBER, "total": NUMBER, "rate": NUMBER,
                  "limit": NUMBER, "unfilled": NUMBER},
    "per_batch": {"batch_id": NUMBER, "file": TEXT, "count": NUMBER, "earliest": TIMESTAMP,
                  "latest": TIMESTAMP},
}


@dataclass(frozen=True)
class Aggregate:
    """Counts per group over a rolling time window."""

    label: str
    """Names this alternative inside its rule (part of the finding id)."""
    records: Node | None
    """Which operations count (None: all)."""
    group_by: tuple[FieldRef, ...]
    """Grouping fields; a list field gives one group per element."""
    window_us: int
    window_text: str
    distinct: FieldRef | None
    """Count distinct values of this field instead of records."""
    limit: float
    """A group fires when its count within the window is more than this."""
    per_burst: bool
    """One finding per burst (cluster of overlapping windows) instead of per group."""
    message: Template
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "window"
    """'window' (rolling counts, above) or a log-completeness kind: 'empty_days',
    'sequence_gaps', 'never_logged', 'fill_rate', 'per_batch' (docs/criteria.md)."""
    field: FieldRef | None = None
    """sequence_gaps: the whole-number field; never_logged: the field whose values count."""
    fields: tuple[FieldRef, ...] = ()
    """fill_rate: the fields whose fill is measured."""
    values: tuple[Any, ...] = ()
    """never_logged: the values every group must have logged."""
    threshold: float = 0
    """empty_days: min_daily_volume; fill_rate: min_fill."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    legal_refs: tuple[str, ...]
    rationale: str
    when: Node | None
    when_text: str | None
    message: Template | None
    aggregates: tuple[Aggregate, ...]
    enabled: bool
    tags: tuple[str, ...]
    status: str
    false_positives: str | None
    facts: tuple[FieldRef, ...]
    """Fields the rule reads, whose values each finding records."""
    params: dict[str, Any]
    """Parameters the rule uses, with their values."""
    needs: frozenset[str]
    """Registers it reads: 'authorisations', 'cases'."""
    extra_columns: frozenset[str]
    """Original columns it reads from ``extra``."""
    line: int | None = None


@dataclass(frozen=True)
class Channel:
    """A channel of cooperation (Interpol notices, EAW, transfers...) for indicators."""

    id: str
    title: str
    when: Node
    """Condition on the operation's own fields (canonical and original columns)."""
    when_text: str
    line: int | None = None


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    title: str
    description: str
    parameters: dict[str, Any]
    lists: dict[str, tuple[Any, ...]]
    rules: tuple[Rule, ...]
    sha256: str
    source: str
    """The YAML text, kept with every run."""
    file: str
    channels: tuple[Channel, ...] = ()
    """How operations are sorted into channels of cooperation (indicators), in order:
    the first whose condition holds is an operation's channel, none: `OTHER_CHANNEL`."""

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def default_pack() -> Pack:
    """The shipped `led-baseline` pack."""
    text = resources.files("oversight.packs").joinpath(f"{DEFAULT_PACK}.yaml").read_text(
        encoding="utf-8")
    return parse_pack(text, f"{DEFAULT_PACK}.yaml (built in)")


def load_pack(path: Path) -> Pack:
    return parse_pack(read_yaml_file(Path(path), "criteria pack"), str(path))


def parse_pack(text: str, name: str) -> Pack:
    """Validate ``text``; raise ValidationError listing every problem found."""
    try:
        doc = load_located(text, name)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, "criteria pack", name, "; check indentation and quotes") from None
    return _Validator(doc, text).run()


class _Validator:
    def __init__(self, doc: Located, text: str) -> None:
        self.doc = doc
        self.text = text
        self.issues: list[Issue] = []

    def issue(self, message: str, *path: str | int, offset: int | None = None,
              source: str | None = None) -> None:
        if offset is not None and source is not None:
            line, col = self.doc.position(tuple(path), offset, source)
        else:
            line, col = self.doc.line(*path), None
        self.issues.append(Issue(message, self.doc.file, line, col))

    def run(self) -> Pack:
        data = self.doc.data
        if not isinstance(data, dict):
            raise ValidationError(f"The criteria pack {self.doc.file} is not a YAML mapping.",
                                  [Issue("start with pack:, version:, title: and rules:",
                                         self.doc.file, 1)])
        for key in data:
            if key not in _PACK_KEYS:
                self.issue(f"unknown key {key!r}; a pack has {', '.join(sorted(_PACK_KEYS))}",
                           key)
        pack_id = self.text_field(data, "pack", required=True)
        if pack_id and not _ID.fullmatch(pack_id):
            self.issue(f"pack id {pack_id!r}: use letters, digits, '-', '_' or '.'", "pack")
        version = self.text_field(data, "version", required=True)
        title = self.text_field(data, "title", required=True)
        description = self.text_field(data, "description") or ""
        params = self.parameters(data.get("parameters"))
        lists = self.lists(data.get("lists"))
        for clash in sorted(set(params) & set(lists)):
            self.issue(f"{clash!r} is both a parameter and a list; rename one", "lists", clash)
        for name in sorted((set(params) | set(lists)) & set(fields_of(Kind.OPERATIONS))):
            where = "parameters" if name in params else "lists"
            self.issue(f"{name!r} is the name of a record field; rename the {where[:-1]}",
                       where, name)
        rules: list[Rule] = []
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            self.issue("rules must be a non-empty list of rules (each starting with - id:)",
                       "rules")
            raw_rules = []
        seen: dict[str, int | None] = {}
        for i, raw in enumerate(raw_rules):
            rule = self.rule(i, raw, params, lists)
            if rule is None:
                continue
            if rule.id in seen:
                self.issue(f"duplicate rule id {rule.id!r} (first on line {seen[rule.id]}); "
                           "rule ids must be unique", "rules", i, "id")
                continue
            seen[rule.id] = rule.line
            rules.append(rule)
        channels = _channels(self, data.get("channels"), params, lists)
        if self.issues:
            raise ValidationError(
                f"The criteria pack {self.doc.file} has {len(self.issues)} problem(s); "
                "it will not be run until they are fixed.", self.issues)
        return Pack(pack_id or "", version or "", title or "", description, params, lists,
                    tuple(rules), hashlib.sha256(self.text.encode("utf-8")).hexdigest(),
                    self.text, self.doc.file, channels)

    # -- header ------------------------------------------------------------------------

    def text_field(self, data: dict[str, Any], key: str, *path: str | int,
                   required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.issue(f"{key}: is missing", *path, key)
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.issue(f"{key} must be text", *path, key)
            return None
        return value.strip()

    def parameters(self, raw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.issue("parameters must map names to values", "parameters")
            return out
        for name, value in raw.items():
            if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                self.issue(f"parameter name {name!r}: use lower case letters, digits and _",
                           "parameters", name)
                continue
            if isinstance(value, dict) and "value" in value:
                value = value["value"]  # {value: ..., description: ...}
            if isinstance(value, dict):
                bad = [k for k, v in value.items()
                       if not isinstance(v, list) or not all(isinstance(x, str) for x in v)]
                if bad:
                    self.issue(f"parameter {name}: a mapping maps words to lists of words "
                               f"(check {bad[0]!r})", "parameters", name)
                    continue
            elif not isinstance(value, (bool, int, float, str, list)):
                self.issue(f"parameter {name}: give a number, true/false, text or a list",
                           "parameters", name)
                continue
            out[name] = value
        return out

    def lists(self, raw: Any) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.issue("lists must map names to lists of values", "lists")
            return out
        for name, value in raw.items():
            if isinstance(value, dict) and "values" in value:
                value = value["values"]
            if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                self.issue(f"list name {name!r}: use lower case letters, digits and _",
                           "lists", name)
            elif not isinstance(value, list) or not all(
                    isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
                self.issue(f"list {name}: give a list of values, e.g. [AT, BE]", "lists", name)
            else:
                out[name] = tuple(value)
        return out

    # -- rules -------------------------------------------------------------------------

    def rule(self, i: int, raw: Any, params: dict[str, Any],
             lists: dict[str, tuple[Any, ...]]) -> Rule | None:
        at = ("rules", i)
        if not isinstance(raw, dict):
            self.issue("each rule is a mapping starting with id:", *at)
            return None
        before = len(self.issues)
        for key in raw:
            if key not in _RULE_KEYS:
                self.issue(f"unknown key {key!r} in a rule; rules have "
                           f"{', '.join(sorted(_RULE_KEYS))}", *at, key)
        rule_id = self.text_field(raw, "id", *at, required=True) or f"#{i + 1}"
        if not _ID.fullmatch(rule_id):
            self.issue(f"rule id {rule_id!r}: use letters, digits, '-', '_' or '.'", *at, "id")
        title = self.text_field(raw, "title", *at, required=True) or ""
        severity = str(raw.get("severity", "")).strip().lower()
        if severity not in SEVERITIES:
            self.issue(f"severity {raw.get('severity')!r} of {rule_id}: use one of "
                       f"{', '.join(SEVERITIES)}", *at, "severity")
        refs = raw.get("legal_refs")
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            self.issue(f"{rule_id}: legal_refs must be a non-empty list of citations", *at,
                       "legal_refs")
            refs = []
        rationale = self.text_field(raw, "rationale", *at, required=True) or ""
        status = str(raw.get("status", "stable"))
        if status not in ("stable", "test"):
            self.issue(f"{rule_id}: status is stable or test", *at, "status")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            self.issue(f"{rule_id}: enabled is true or false", *at, "enabled")
            enabled = True
        tags = raw.get("tags", [])
        if not isinstance(tags, list):
            self.issue(f"{rule_id}: tags must be a list", *at, "tags")
            tags = []
        scope = Scope(parameters=params, lists=lists)
        when = when_text = message = None
        if "when" in raw:
            when_text = raw["when"] if isinstance(raw["when"], str) else None
            if when_text is None:
                self.issue(f"{rule_id}: when must be a condition in text", *at, "when")
            else:
                when = self.condition(when_text, scope, *at, "when")
            message = self.template(raw.get("message"), scope, None, *at, "message",
                                    required=True)
        aggregates = []
        raw_aggs = raw.get("aggregates", [])
        if not isinstance(raw_aggs, list):
            self.issue(f"{rule_id}: aggregates must be a list", *at, "aggregates")
            raw_aggs = []
        for j, agg_raw in enumerate(raw_aggs):
            agg = self.aggregate(rule_id, j, agg_raw, scope, (*at, "aggregates", j))
            if agg is not None:
                aggregates.append(agg)
        labels = [a.label for a in aggregates]
        if len(set(labels)) != len(labels):
            self.issue(f"{rule_id}: aggregate labels must differ", *at, "aggregates")
        if "when" not in raw and not raw_aggs:
            self.issue(f"{rule_id} has no condition: give when: and/or aggregates:", *at)
        if len(self.issues) != before:
            return None
        fact_refs = [ref for ref in scope.used_fields.values() if ref.source != "computed"]
        return Rule(
            id=rule_id, title=title, severity=severity, legal_refs=tuple(refs),
            rationale=rationale, when=when, when_text=when_text, message=message,
            aggregates=tuple(aggregates), enabled=enabled, tags=tuple(map(str, tags)),
            status=status, false_positives=raw.get("false_positives"),
            facts=tuple(fact_refs),
            params={p: params[p] for p in sorted(scope.used_params)},
            needs=frozenset({"authorisations" if r.source == "authorisation" else "cases"
                             for r in fact_refs if r.source in ("authorisation", "case")}),
            extra_columns=frozenset(r.name for r in fact_refs if r.source == "extra"),
            line=self.doc.line(*at),
        )

    def condition(self, text: str, scope: Scope, *path: str | int) -> Node | None:
        try:
            return parse(text, scope, BOOL)
        except ExprError as exc:
            self.issue(exc.message, *path, offset=exc.offset, source=text)
            return None

    def template(self, raw: Any, scope: Scope, extra: dict[str, str] | None,
                 *path: str | int, required: bool = False) -> Template | None:
        if raw is None:
            if required:
                self.issue("message: is missing: say in plain words why a hit matters, "
                           "e.g. \"Transfer to {recipient_country} has no legal basis\"", *path)
            return None
        if not isinstance(raw, str):
            self.issue("message must be text", *path)
            return None
        try:
            return Template.parse(raw, _known(scope, extra))
        except TemplateError as exc:
            self.issue(exc.message, *path, offset=exc.offset, source=raw)
            return None

    def aggregate(self, rule_id: str, j: int, raw: Any, scope: Scope,
                  at: tuple[str | int, ...]) -> Aggregate | None:
        if not isinstance(raw, dict):
            self.issue(f"{rule_id}: each aggregate is a mapping", *at)
            return None
        before = len(self.issues)
        kind = str(raw.get("kind", "window"))
        if kind not in AGG_KINDS:
            self.issue(f"aggregate kind {kind!r} is unknown; kinds are "
                       f"{', '.join(AGG_KINDS)}", *at, "kind")
            return None
        allowed = AGG_KINDS[kind] | {"label", "kind", "records", "message"}
        for key in raw:
            if key not in _AGG_KEYS | _KIND_KEYS:
                self.issue(f"unknown key {key!r} in an aggregate; aggregates have "
                           f"{', '.join(sorted(_AGG_KEYS | _KIND_KEYS))}", *at, key)
            elif key not in allowed:
                self.issue(f"{key!r} does not apply to an aggregate of kind {kind}; it takes "
                           f"{', '.join(sorted(allowed))}", *at, key)
        label = str(raw.get("label", f"a{j + 1}"))
        records = None
        if "records" in raw:
            if isinstance(raw["records"], str):
                records = self.condition(raw["records"], scope, *at, "records")
            else:
                self.issue("records must be a condition in text", *at, "records")
        specs = fields_of(Kind.OPERATIONS)
        group_by: list[FieldRef] = []
        if "group_by" in AGG_KINDS[kind]:
            raw_group = raw.get("group_by")
            if not isinstance(raw_group, list) or not raw_group:
                self.issue("group_by must list the fields that form a group, e.g. "
                           "[subject_ids, actor_id]", *at, "group_by")
                raw_group = []
            for name in raw_group:
                if not isinstance(name, str) or name not in specs:
                    self.issue(f"group_by: {name!r} is not a field of operations", *at,
                               "group_by")
                    continue
                is_list = specs[name].type is FieldType.LIST
                if is_list and kind != "window":
                    self.issue(f"group_by: {name} is a list; an aggregate of kind {kind} "
                               "groups by single values such as agency", *at, "group_by")
                    continue
                ref = FieldRef(0, LIST if is_list else TEXT, "record", name)
                scope.used_fields[name] = ref
                group_by.append(ref)
        if kind != "window":
            return self.completeness(kind, raw, scope, at, label, records, group_by, before)
        window_us, window_text = self.window(raw.get("window"), scope, *at, "window")
        distinct = None
        count = raw.get("count", "records")
        if count != "records":
            m = re.fullmatch(r"distinct\s+([a-z_]+)", str(count))
            if m is None or m.group(1) not in specs:
                self.issue("count is 'records' or 'distinct <field>', e.g. distinct actor_id",
                           *at, "count")
            else:
                distinct = FieldRef(0, TEXT, "record", m.group(1))
                scope.used_fields[m.group(1)] = distinct
        limit = self.number(raw.get("more_than"), scope, *at, "more_than")
        findings = raw.get("findings", "per_group")
        if findings not in ("per_group", "per_burst"):
            self.issue("findings is per_group or per_burst", *at, "findings")
        names = {ref.name: ref.type for ref in group_by} | AGG_NAMES
        message = self.template(raw.get("message"), scope, names, *at, "message",
                                required=True)
        if len(self.issues) != before or message is None:
            return None
        return Aggregate(label, records, tuple(group_by), window_us, window_text, distinct,
                         limit, findings == "per_burst", message)

    def completeness(self, kind: str, raw: dict[str, Any], scope: Scope,
                     at: tuple[str | int, ...], label: str, records: Node | None,
                     group_by: list[FieldRef], before: int) -> Aggregate | None:
        """An aggregate of a log-completeness kind (docs/criteria.md, "Log completeness")."""
        specs = fields_of(Kind.OPERATIONS)
        names = {ref.name: ref.type for ref in group_by} | KIND_NAMES[kind]
        one: FieldRef | None = None
        many: list[FieldRef] = []
        values: tuple[Any, ...] = ()
        threshold: float = 0
        if kind in ("sequence_gaps", "never_logged"):
            name = raw.get("field")
            spec = specs.get(name) if isinstance(name, str) else None
            want_int = kind == "sequence_gaps"
            if spec is None or (want_int and spec.type is not FieldType.INT) or (
                    not want_int and spec.type is FieldType.LIST):
                what = "a whole-number field such as sequence" if want_int else \
                    "a field of operations with single values, such as action"
                self.issue(f"field: give {what}", *at, "field")
            else:
                one = FieldRef(0, NUMBER if want_int else TEXT, "record", spec.name)
                scope.used_fields[spec.name] = one
                if kind == "never_logged":
                    names[spec.name] = TEXT
        if kind == "never_logged":
            values = self.values(raw.get("values"), scope, *at, "values")
        if kind == "fill_rate":
            raw_fields = raw.get("fields")
            if not isinstance(raw_fields, list) or not raw_fields:
                self.issue("fields must list the fields whose fill is measured, e.g. "
                           "[ts, actor_id, justification]", *at, "fields")
                raw_fields = []
            for name in raw_fields:
                if not isinstance(name, str) or name not in specs:
                    self.issue(f"fields: {name!r} is not a field of operations", *at, "fields")
                    continue
                ref = FieldRef(0, {FieldType.LIST: LIST, FieldType.INT: NUMBER,
                                   FieldType.BOOL: BOOL, FieldType.TIMESTAMP: TIMESTAMP
                                   }.get(specs[name].type, TEXT), "record", name)
                scope.used_fields[name] = ref
                many.append(ref)
            threshold = self.number(raw.get("min_fill"), scope, *at, "min_fill")
            if not 0 <= threshold <= 1:
                self.issue("min_fill is a share between 0 and 1, e.g. 0.95", *at, "min_fill")
        if kind == "empty_days":
            threshold = self.number(raw.get("min_daily_volume"), scope, *at,
                                    "min_daily_volume")
            if threshold < 0:
                self.issue("min_daily_volume cannot be below zero", *at, "min_daily_volume")
        message = self.template(raw.get("message"), scope, names, *at, "message",
                                required=True)
        if len(self.issues) != before or message is None:
            return None
        return Aggregate(label, records, tuple(group_by), 0, "", None, 0, False, message,
                         kind=kind, field=one, fields=tuple(many), values=values,
                         threshold=threshold)

    def values(self, raw: Any, scope: Scope, *path: str | int) -> tuple[Any, ...]:
        """A list given in place, or the name of a list parameter or pack list."""
        if isinstance(raw, str) and raw in scope.parameters:
            scope.used_params.add(raw)
            raw = scope.parameters[raw]
        elif isinstance(raw, str) and raw in scope.lists:
            return tuple(scope.lists[raw])
        if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
            self.issue("values: give a list of words, or the name of a list parameter", *path)
            return ()
        return tuple(raw)

    def number(self, raw: Any, scope: Scope, *path: str | int) -> float:
        if isinstance(raw, str) and raw in scope.parameters:
            scope.used_params.add(raw)
            raw = scope.parameters[raw]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            self.issue("give a number or the name of a number parameter", *path)
            return 0
        return raw

    def window(self, raw: Any, scope: Scope, *path: str | int) -> tuple[int, str]:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in _UNITS:
            self.issue("window is {days: N}, {hours: N} or {minutes: N} (N a number or "
                       "parameter)", *path)
            return 0, ""
        unit, amount = next(iter(raw.items()))
        n = self.number(amount, scope, *path, unit)
        if n <= 0:
            self.issue("the window must be longer than zero", *path)
        shown = int(n) if float(n).is_integer() else n
        return int(n * _UNITS[unit]), f"{shown} {unit if shown != 1 else unit[:-1]}"


def _known(scope: Scope, extra: dict[str, str] | None) -> Callable[[str], bool]:
    """Names a message may use: for a record rule, anything a condition may read and the
    record's ``record_id``; for an aggregate (``extra`` given), only its group fields, its
    own values and parameters."""
    def known(name: str) -> bool:
        if extra is not None:
            if name in scope.parameters:
                scope.used_params.add(name)
                return True
            return name in extra
        if name == "record_id":  # the record's own id, as the source file gave it
            return True
        if name.startswith("`") and name.endswith("`"):
            scope.used_fields[name] = FieldRef(0, TEXT, "extra", name[1:-1])
            return True
        probe = Scope(parameters=scope.parameters, lists=scope.lists)
        try:
            node = parse(name, probe, want="any")
        except ExprError:
            return False
        if not isinstance(node, (FieldRef,)) and name not in scope.parameters:
            return False
        scope.used_fields.update(probe.used_fields)
        scope.used_params.update(probe.used_params)
        return True

    return known




# -- channels (indicators) ------------------------------------------------------------------

#: The channel of an operation no channel of the pack claims.
OTHER_CHANNEL = "other"
_CHANNEL_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CHANNEL_KEYS = {"id", "title", "when"}


def _channels(v: _Validator, raw: Any, params: dict[str, Any],
              lists: dict[str, tuple[Any, ...]]) -> tuple[Channel, ...]:
    """``channels:``, a list of ``{id, title, when}`` in the order they are tried. A
    condition reads only the operation itself (an operation's channel must not change
    when a register is re-imported), so ``authorisation.`` and ``case.`` are refused."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        v.issue("channels must be a list of channels (each starting with - id:)", "channels")
        return ()
    out: list[Channel] = []
    seen: dict[str, int | None] = {}
    for i, item in enumerate(raw):
        at = ("channels", i)
        if not isinstance(item, dict):
            v.issue("each channel is a mapping: - id: eaw, title: ..., when: <condition>", *at)
            continue
        before = len(v.issues)
        for key in item:
            if key not in _CHANNEL_KEYS:
                v.issue(f"unknown key {key!r} in a channel; channels have id, title and when",
                        *at, key)
        cid = v.text_field(item, "id", *at, required=True) or ""
        if cid and not _CHANNEL_ID.fullmatch(cid):
            v.issue(f"channel id {cid!r}: use lower case letters, digits and _ "
                    "(starting with a letter)", *at, "id")
        elif cid == OTHER_CHANNEL:
            v.issue(f"{OTHER_CHANNEL!r} is the channel of operations no channel claims; "
                    "choose another id", *at, "id")
        elif cid in seen:
            v.issue(f"duplicate channel id {cid!r} (first on line {seen[cid]})", *at, "id")
        title = v.text_field(item, "title", *at) or cid
        text = item.get("when")
        node = None
        if not isinstance(text, str) or not text.strip():
            v.issue(f"channel {cid or i + 1}: when: must be a condition in text, e.g. "
                    'action = "eaw_issue"', *at, "when")
        else:
            scope = Scope(parameters=params, lists=lists)
            node = v.condition(text, scope, *at, "when")
            registers = sorted({r.source for r in scope.used_fields.values()
                                if r.source in ("authorisation", "case")})
            if node is not None and registers:
                v.issue(f"channel {cid}: a channel reads the operation's own fields, not "
                        f"{' or '.join(r + '.' for r in registers)}", *at, "when")
        if len(v.issues) == before and node is not None and isinstance(text, str):
            seen[cid] = v.doc.line(*at)
            out.append(Channel(cid, title, node, text.strip(), seen[cid]))
    return tuple(out)
