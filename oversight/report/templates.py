"""Report templates: loading, `extends`, and validation that says where a problem is.

A template is data (`report_templates/<name>/template.yaml`): page, fonts, logo, colours,
section order and every fixed sentence (docs/reports.md lists the keys). It is loaded
with `importlib.resources`, its `extends` chain merged (mappings key by key, anything
else replaces), and checked against `SCHEMA` before anything is built. Like a criteria
pack, every problem is an `Issue` with the file, line and column of the key or value at
fault, all of them at once in one `ValidationError`; the file is the one that set the
value (a template or the one it extends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from reportlab.lib import colors  # type: ignore[import-untyped]

from oversight.criteria.pack import SEVERITIES
from oversight.errors import Issue, UsageError, ValidationError
from oversight.yamlsrc import Located, load_located, yaml_error

__all__ = ["SCHEMA", "SECTIONS", "Template", "asset", "available_templates",
           "load_template"]

_PACKAGE = "report_templates"
_TEMPLATE_FILE = "template.yaml"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

SECTIONS = ("cover", "scope", "log_quality", "summary", "indicators", "findings",
            "appendix", "signature")
"""Every section a template may list in `sections`."""

_NUM, _STR, _COLOUR, _PATH = "number", "text", "colour", "file"
SCHEMA: dict[str, Any] = {
    "description": _STR,
    "page": {"size": ("A4", "A3", "letter", "legal"), "orientation": ("portrait", "landscape"),
             "margin_top_mm": _NUM, "margin_bottom_mm": _NUM, "margin_left_mm": _NUM,
             "margin_right_mm": _NUM},
    "fonts": {"regular": _PATH, "bold": _PATH, "mono": _PATH, "fallback": "files"},
    "logo": {"file": _PATH, "cover_width_mm": _NUM, "header_height_mm": _NUM},
    "classification": {"default": _STR, "background": _COLOUR, "text": _COLOUR},
    "styles": {"base_size": _NUM, "leading": _NUM, "small_size": _NUM, "mono_size": _NUM,
               "title_size": _NUM, "h1_size": _NUM, "h2_size": _NUM, "h3_size": _NUM,
               "colours": {k: _COLOUR for k in (
                   "text", "muted", "accent", "rule", "table_header_background",
                   "table_header_text", "table_stripe", "finding_background", "chart_bar")},
               "severity_colours": {s: _COLOUR for s in SEVERITIES}},
    "charts": {"height_mm": _NUM, "rule_bar_mm": _NUM},
    "sections": "sections",
    "findings": {"detail": ("full", "brief"), "statuses": "strings",
                 "max_record_ids": _NUM, "max_decisions": _NUM},
    "indicators": {"include": "bool", "max_rows": _NUM},
    "signature": {"box_width_mm": _NUM, "box_height_mm": _NUM},
    "labels": {"severity": {s: _STR for s in SEVERITIES}, "status": "mapping"},
    "wording": {k: _STR for k in (
        "running_header", "page_number", "cover_kicker", "cover_issued_by", "cover_report_id",
        "cover_date", "cover_author", "cover_period", "cover_scope", "cover_template",
        "cover_generator", "cover_note", "period", "period_none", "scope_all", "scope_filtered",
        "scope_only_confirmed", "scope_rules", "scope_severities", "scope_from", "scope_to",
        "title_scope", "title_summary", "title_findings", "title_appendix", "title_signature",
        "scope_intro", "title_sources", "sources_none", "col_batch", "col_file", "col_kind",
        "col_read", "col_imported", "col_rejected", "col_imported_by", "label_sha256",
        "kind_scanned", "scan_line", "scan_line_one_file", "hashes_computed",
        "hashes_not_computed", "hashes_partly", "sha256_not_computed", "scan_not_evaluated",
        "title_pack", "pack_none", "label_pack", "label_version", "label_pack_title",
        "label_runs", "run_line", "title_not_evaluated", "not_evaluated_none",
        "not_evaluated_intro", "col_rule", "col_reason", "title_sample", "sample_none",
        "summary_counts", "summary_statuses", "summary_none", "summary_rules_intro", "col_title",
        "col_severity", "col_findings", "col_confirmed", "chart_severity", "chart_status",
        "chart_rule", "chart_month", "findings_intro", "findings_none",
        "rule_heading", "label_severity", "label_legal", "label_rationale", "rule_count",
        "rule_count_listed", "finding_heading", "label_reason", "label_records", "label_first",
        "label_decision", "label_reviewers", "label_assignee", "label_notes", "records_more",
        "decision_reason", "reviewer_decided", "reviewer_approved", "reviewer_pending",
        "reviewer_none", "notes_none", "note_header", "note_correction", "col_finding",
        "col_decision", "col_reviewers", "appendix_intro", "title_chain", "label_chain_seq",
        "label_chain_hash", "label_workspace", "title_decisions", "decisions_intro",
        "decisions_none", "decisions_more", "col_seq", "col_time", "col_user", "col_action",
        "col_change", "col_detail", "title_manifest", "manifest_intro", "signature_intro",
        "signature_author", "signature_date", "signature_caption",
        # data quality: the period in true words, import warnings, the log itself
        "period_untimed", "period_unusable", "period_partly", "scope_left_out",
        "label_warnings", "warnings_unchecked", "partly_evaluated_intro", "col_note",
        "title_log_quality", "log_quality_intro", "title_import_warnings",
        "import_warnings_none", "col_warning", "col_rows", "col_meaning", "title_dq",
        "dq_none_in_pack", "dq_no_run", "col_result", "dq_result_count", "dq_result_one",
        "dq_result_nothing", "dq_result_not_evaluated", "dq_findings_intro", "col_status",
        # the Indicators section (sections/indicators.py)
        "title_indicators", "indicators_intro", "indicators_basis", "indicators_left_out",
        "indicators_review", "indicators_more", "title_ind_agency", "title_ind_channel",
        "title_ind_rule", "title_ind_month", "col_group", "col_operations", "col_dismissed",
        "col_open", "col_per_1000", "col_decided", "col_rate", "chart_ind_bars",
        "chart_ind_month", "ind_none", "ind_total", "ind_period_all")},
}
"""Every key a template must have (after `extends`), and what its value must be."""

Key = tuple[str | int, ...]
Where = tuple[str, int | None, int | None]
"""File, line and column (1-based) of a key or value."""


@dataclass(frozen=True)
class Origins:
    """Where each key and value of a merged template was written."""

    keys: dict[Key, Where] = field(default_factory=dict)
    values: dict[Key, Where] = field(default_factory=dict)

    def key(self, path: Key, fallback: Where) -> Where:
        """The key at ``path`` or, for a missing one, the nearest mapping holding it."""
        p = path
        while p:
            if p in self.keys:
                return self.keys[p]
            p = p[:-1]
        return fallback

    def value(self, path: Key, fallback: Where) -> Where:
        return self.values.get(path) or self.key(path, fallback)


@dataclass(frozen=True)
class Template:
    """A loaded, validated template (`extends` already merged)."""

    name: str
    settings: dict[str, Any]
    origins: Origins = field(default_factory=Origins)
    """Where each setting was written (for messages naming file, line and column)."""
    root: Traversable | None = None
    """Folder its paths are relative to; None: the `report_templates` package."""

    def get(self, *path: str) -> Any:
        node: Any = self.settings
        for key in path:
            node = node[key]
        return node

    def num(self, *path: str) -> float:
        return float(self.get(*path))

    def colour(self, *path: str) -> Any:
        return colors.HexColor(str(self.get(*path)))

    def words(self, key: str, **values: object) -> str:
        """A sentence of the template as markup, placeholders filled with escaped values."""
        from oversight.report.text import escape

        text = escape(self.settings["wording"][key])
        try:
            return text.format_map({k: escape(v) for k, v in values.items()})
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            file, line, column = self.origins.value(("wording", key), (self.name, None, None))
            where = ":".join(str(p) for p in (file, line, column) if p is not None)
            raise UsageError(
                f"{where}: report template {self.name!r}: wording.{key} uses a placeholder "
                f"that is not available ({exc}); available: "
                f"{', '.join(sorted(values)) or 'none'}.") from exc

    def label(self, kind: str, value: str) -> str:
        return str(self.settings["labels"][kind].get(value, value))

    def asset(self, path: str) -> bytes:
        """The bytes of a file the template names (font, logo)."""
        return asset(path, self.root)


def _root(root: Traversable | None = None) -> Traversable:
    return root if root is not None else resources.files(_PACKAGE)


def asset(path: str, root: Traversable | None = None) -> bytes:
    """A file of the templates folder, by its path relative to that folder."""
    target = _root(root)
    for part in path.split("/"):
        target = target / part
    return target.read_bytes()


def available_templates(root: Traversable | None = None) -> list[str]:
    """Names of the templates shipped in `report_templates/` (or in ``root``)."""
    base = _root(root)
    return sorted(p.name for p in base.iterdir()
                  if p.is_dir() and _NAME_RE.match(p.name) and (p / _TEMPLATE_FILE).is_file())


def load_template(name: str, root: Traversable | None = None) -> Template:
    """Load and validate a template; an unknown name lists the available ones.

    ``root`` is the folder holding the templates (by default the `report_templates`
    package); every problem of the template is reported at once, each with the file,
    line and column it is at.
    """
    base = _root(root)
    names = available_templates(base)
    if name not in names:
        raise UsageError(f"Unknown report template {name!r}; available templates: "
                         f"{', '.join(names) or 'none'}.")
    settings, origins = _resolve(base, name, (), root is None)
    file = _file_name(base, name, root is None)
    issues = _validate(settings, SCHEMA, (), origins, (file, 1, 1), base)
    if issues:
        raise ValidationError(f"Report template {name!r} is not valid.", issues)
    return Template(name, settings, origins, None if root is None else base)


def _file_name(base: Traversable, name: str, packaged: bool) -> str:
    if packaged:
        return f"{_PACKAGE}/{name}/{_TEMPLATE_FILE}"
    return str(base / name / _TEMPLATE_FILE)


def _resolve(base: Traversable, name: str, seen: tuple[str, ...], packaged: bool,
             ) -> tuple[dict[str, Any], Origins]:
    file = _file_name(base, name, packaged)
    try:
        text = (base / name / _TEMPLATE_FILE).read_text(encoding="utf-8")
        doc = load_located(text, file)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, "report template", file, "; check indentation and quotes") \
            from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"The report template {file} is not UTF-8 text.",
                              [Issue(f"not UTF-8 text ({exc.reason})", file)]) from None
    own = doc.data
    if not isinstance(own, dict):
        raise ValidationError(f"The report template {file} is not a YAML mapping.",
                              [Issue("start with description:, page:, fonts: ... or "
                                     "extends:", file, 1, 1)])
    origins = _origins(doc)
    parent = own.pop("extends", None)
    if parent is None:
        return own, origins
    where = origins.value(("extends",), (file, 1, 1))
    if not isinstance(parent, str) or not _NAME_RE.match(parent) \
            or not (base / parent / _TEMPLATE_FILE).is_file():
        raise ValidationError(f"Report template {name!r} is not valid.", [Issue(
            f"extends: there is no template named {parent!r} to extend; available: "
            f"{', '.join(available_templates(base)) or 'none'}", *where)])
    if parent in (*seen, name):
        raise ValidationError(f"Report template {name!r} is not valid.", [Issue(
            f"extends: the templates extend each other in a loop "
            f"({' -> '.join((*seen, name, parent))})", *where)])
    base_settings, base_origins = _resolve(base, parent, (*seen, name), packaged)
    return _merge(base_settings, own), _merge_origins(base_origins, origins, base_settings,
                                                      own)


def _origins(doc: Located) -> Origins:
    """Key and value positions of one loaded file."""
    keys: dict[Key, Where] = {}
    for path, line in doc.lines.items():
        if not path:
            continue
        keys[path] = (doc.file, line, _key_column(doc, line, path[-1]))
    values: dict[Key, Where] = {
        path: (doc.file, line, column + (1 if style in ("'", '"') else 0))
        for path, (line, column, style) in doc.scalars.items() if path}
    return Origins(keys, values)


def _key_column(doc: Located, line: int, key: str | int) -> int | None:
    """Column of a key (or list item) on its line: where its text starts."""
    if not 0 < line <= len(doc.source_lines):
        return None
    text = doc.source_lines[line - 1]
    if isinstance(key, str):
        at = text.find(key)
        if at >= 0:
            return at + 1
    stripped = text.lstrip(" ")
    column = len(text) - len(stripped)
    if stripped.startswith("- "):
        column += 2
    return column + 1


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _merge_origins(base: Origins, own: Origins, base_settings: Mapping[str, Any],
                   over: Mapping[str, Any]) -> Origins:
    """Where each merged setting comes from: what `over` replaces comes from its file."""
    replaced: list[Key] = []

    def walk(b: Any, o: Mapping[str, Any], path: Key) -> None:
        for key, value in o.items():
            sub = (*path, key)
            if isinstance(value, Mapping) and isinstance(b, Mapping) \
                    and isinstance(b.get(key), dict):
                walk(b[key], value, sub)
            else:
                replaced.append(sub)

    walk(base_settings, over, ())

    def keep(path: Key) -> bool:
        return not any(len(path) > len(r) and path[:len(r)] == r for r in replaced)

    keys = {p: w for p, w in base.keys.items() if keep(p)}
    values = {p: w for p, w in base.values.items() if keep(p)}
    keys.update(own.keys)
    values.update(own.values)
    return Origins(keys, values)


def _validate(node: Any, schema: Any, path: Key, origins: Origins, top: Where,
              root: Traversable) -> list[Issue]:
    name = ".".join(str(p) for p in path) or "the template"

    def bad(message: str, at: Key = path) -> list[Issue]:
        return [Issue(f"{name}: {message}", *origins.value(at, top))]

    if isinstance(schema, dict):
        if not isinstance(node, dict):
            return bad("must be a mapping")
        issues: list[Issue] = []
        for key in node:
            if key not in schema:
                issues.append(Issue(f"{'.'.join(str(p) for p in (*path, key))}: unknown key; "
                                    f"known here: {', '.join(schema)}",
                                    *origins.key((*path, key), top)))
        for key, sub in schema.items():
            sub_path = (*path, key)
            if key not in node:
                issues.append(Issue(f"{'.'.join(str(p) for p in sub_path)}: missing; add it "
                                    f"under {name if path else 'the top level'}",
                                    *origins.key(sub_path, top)))
            else:
                issues += _validate(node[key], sub, sub_path, origins, top, root)
        return issues
    if isinstance(schema, tuple):
        return [] if node in schema else bad(f"must be one of {', '.join(schema)}, "
                                             f"not {node!r}")
    if schema == _NUM:
        ok = isinstance(node, (int, float)) and not isinstance(node, bool) and node >= 0
        return [] if ok else bad(f"must be a number, 0 or more, not {node!r}")
    if schema == _STR:
        return [] if isinstance(node, str) else bad("must be text")
    if schema == _COLOUR:
        ok = isinstance(node, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", node) is not None
        return [] if ok else bad(f'must be a colour like "#1f4e79", not {node!r}')
    if schema == _PATH:
        problem = _path_problem(node, root)
        return bad(problem) if problem else []
    if schema == "files":
        if not isinstance(node, list):
            return bad("must be a list of file paths (possibly empty)")
        found: list[Issue] = []
        for n, item in enumerate(node):
            problem = _path_problem(item, root)
            if problem:
                found += bad(problem, (*path, n))
        return found
    if schema == "bool":
        return [] if isinstance(node, bool) else bad("must be true or false")
    if schema == "strings":
        ok = isinstance(node, list) and all(isinstance(x, str) for x in node)
        return [] if ok else bad("must be a list of texts")
    if schema == "mapping":
        ok = isinstance(node, dict) and all(isinstance(v, str) for v in node.values())
        return [] if ok else bad("must be a mapping of texts")
    if schema == "sections":
        return _sections_problems(node, path, bad)
    raise AssertionError(schema)  # pragma: no cover - schema typo


def _path_problem(node: object, root: Traversable) -> str | None:
    if not isinstance(node, str) or not node or node.startswith("/") or ".." in node:
        return "must be a file path inside the templates folder (report_templates)"
    target = root
    for part in node.split("/"):
        target = target / part
    return None if target.is_file() else f"there is no file {node!r}"


def _sections_problems(node: object, path: Key, bad: Any) -> list[Issue]:
    if not isinstance(node, list):
        return list(bad(f"must be a list of sections from {', '.join(SECTIONS)}"))
    unknown = [(n, s) for n, s in enumerate(node) if s not in SECTIONS]
    if unknown:
        return [i for n, s in unknown for i in bad(
            f"{s!r} is not a section; use {', '.join(SECTIONS)}", (*path, n))]
    if len(set(node)) != len(node):
        return list(bad("names a section twice"))
    if "appendix" not in node or not node or node[-1] != "signature":
        return list(bad("must include appendix and end with signature"))
    if "cover" in node and node[0] != "cover":
        return list(bad("must start with cover, if it has one"))
    return []
