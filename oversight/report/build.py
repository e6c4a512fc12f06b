"""The PDF of an audit report, laid out by ReportLab from a template in `report_templates/`.

A template is data (`report_templates/<name>/template.yaml`): page, fonts, logo, colours,
section order and every fixed sentence. `build_pdf` turns a `ReportData` into the PDF and
embeds the manifest as `oversight-manifest.json`; the appendix prints the two lines a
verifier checks against it (`Findings in this report: N` and `Manifest SHA-256: <digest>`),
which is why those two lines are fixed here and not in a template.

User text (titles, names, file names, messages, notes) reaches ReportLab markup only through
`escape`, so markup in a note prints as written and can never become a link. ReportLab only
shapes and reorders right-to-left text with optional packages (uharfbuzz, rlbidi) that are
not dependencies; `escape` joins Arabic letters (presentation forms) and puts right-to-left
runs in visual order itself, which is enough for names and short notes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from pypdf import PdfReader, PdfWriter
from reportlab.graphics.charts.barcharts import (  # type: ignore[import-untyped]
    HorizontalBarChart,
    VerticalBarChart,
)
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors, pagesizes  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    LongTable,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from oversight.criteria.pack import SEVERITIES
from oversight.errors import Issue, UsageError, ValidationError
from oversight.progress import CancelToken, Progress
from oversight.report.data import ReportData, manifest, manifest_digest
from oversight.yamlsrc import load_plain

__all__ = [
    "MANIFEST_NAME",
    "BuiltReport",
    "Template",
    "available_templates",
    "build_pdf",
    "canonical_manifest",
    "escape",
    "load_template",
]

MANIFEST_NAME = "oversight-manifest.json"
"""Embedded file holding the manifest's canonical JSON (the name `report.sign` verifies)."""

_PACKAGE = "report_templates"
_TEMPLATE_FILE = "template.yaml"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SECTIONS = ("cover", "scope", "log_quality", "summary", "indicators", "findings",
             "appendix", "signature")


@dataclass(frozen=True)
class BuiltReport:
    """A built (unsigned) report."""

    pdf: bytes
    """The PDF, with the manifest embedded as oversight-manifest.json."""
    pages: int
    """Number of pages."""
    manifest: dict[str, Any]
    """The manifest embedded in the PDF (`oversight.report.data.manifest`)."""
    manifest_digest: str
    """SHA-256 of the manifest's canonical JSON, as printed in the appendix."""
    signature_box: tuple[float, float, float, float]
    """Empty area for a visible signature: x1, y1, x2, y2 in PDF points on the last page."""
    template: str
    """Name of the template the report was built with."""


# -- templates ----------------------------------------------------------------------------

_NUM, _STR, _COLOUR, _PATH = "number", "text", "colour", "file"
_SCHEMA: dict[str, Any] = {
    "description": _STR,
    "page": {"size": ("A4", "A3", "letter", "legal"), "orientation": ("portrait", "landscape"),
             "margin_top_mm": _NUM, "margin_bottom_mm": _NUM, "margin_left_mm": _NUM,
             "margin_right_mm": _NUM},
    "fonts": {"regular": _PATH, "bold": _PATH, "mono": _PATH},
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
        # the Indicators section (_indicators)
        "title_indicators", "indicators_intro", "indicators_basis", "indicators_left_out",
        "indicators_review", "indicators_more", "title_ind_agency", "title_ind_channel",
        "title_ind_rule", "title_ind_month", "col_group", "col_operations", "col_dismissed",
        "col_open", "col_per_1000", "col_decided", "col_rate", "chart_ind_bars",
        "chart_ind_month", "ind_none", "ind_total", "ind_period_all")},
}


@dataclass(frozen=True)
class Template:
    """A loaded, validated template (`extends` already merged)."""

    name: str
    settings: dict[str, Any]

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
        text = escape(self.settings["wording"][key])
        try:
            return text.format_map({k: escape(v) for k, v in values.items()})
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"Report template {self.name!r}: wording.{key} uses a placeholder that is not "
                f"available ({exc}); available: {', '.join(sorted(values)) or 'none'}.") from exc

    def label(self, kind: str, value: str) -> str:
        return str(self.settings["labels"][kind].get(value, value))


def _root() -> Traversable:
    return resources.files(_PACKAGE)


def available_templates() -> list[str]:
    """Names of the templates shipped in `report_templates/`."""
    return sorted(p.name for p in _root().iterdir()
                  if p.is_dir() and _NAME_RE.match(p.name) and (p / _TEMPLATE_FILE).is_file())


def load_template(name: str) -> Template:
    """Load and validate a template; an unknown name lists the available ones."""
    names = available_templates()
    if name not in names:
        raise UsageError(f"Unknown report template {name!r}; available templates: "
                         f"{', '.join(names) or 'none'}.")
    settings = _resolve(name, ())
    issues = _validate(settings, _SCHEMA, "", f"{_PACKAGE}/{name}/{_TEMPLATE_FILE}")
    if issues:
        raise ValidationError(f"Report template {name!r} is not valid.", issues)
    return Template(name, settings)


def _resolve(name: str, seen: tuple[str, ...]) -> dict[str, Any]:
    where = f"{_PACKAGE}/{name}/{_TEMPLATE_FILE}"
    if name in seen:
        raise UsageError(f"{where}: `extends` forms a loop ({' -> '.join((*seen, name))}).")
    if not _NAME_RE.match(name) or not (_root() / name / _TEMPLATE_FILE).is_file():
        raise UsageError(f"{where}: there is no template named {name!r} to extend.")
    try:
        own = load_plain((_root() / name / _TEMPLATE_FILE).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(own, dict):
        raise UsageError(f"{where} must be a mapping of settings.")
    base_name = own.pop("extends", None)
    if base_name is None:
        return own
    return _merge(_resolve(str(base_name), (*seen, name)), own)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(node: Any, schema: Any, path: str, where: str) -> list[Issue]:
    def bad(message: str) -> list[Issue]:
        return [Issue(f"{path or 'the template'}: {message}", file=where)]

    if isinstance(schema, dict):
        if not isinstance(node, dict):
            return bad("must be a mapping")
        issues: list[Issue] = []
        for key in node:
            if key not in schema:
                issues += bad(f"unknown key {key!r}; known: {', '.join(schema)}")
        for key, sub in schema.items():
            sub_path = f"{path}.{key}" if path else key
            if key not in node:
                issues.append(Issue(f"{sub_path}: missing", file=where))
            else:
                issues += _validate(node[key], sub, sub_path, where)
        return issues
    if isinstance(schema, tuple):
        return [] if node in schema else bad(f"must be one of {', '.join(schema)}")
    if schema == _NUM:
        ok = isinstance(node, (int, float)) and not isinstance(node, bool) and node >= 0
        return [] if ok else bad("must be a number, 0 or more")
    if schema == _STR:
        return [] if isinstance(node, str) else bad("must be text")
    if schema == _COLOUR:
        ok = isinstance(node, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", node) is not None
        return [] if ok else bad('must be a colour like "#1f4e79"')
    if schema == _PATH:
        if not isinstance(node, str) or not node or node.startswith("/") or ".." in node:
            return bad("must be a file path inside the report_templates package")
        target = _root()
        for part in node.split("/"):
            target = target / part
        return [] if target.is_file() else bad(f"there is no file {node!r}")
    if schema == "bool":
        return [] if isinstance(node, bool) else bad("must be true or false")
    if schema == "strings":
        ok = isinstance(node, list) and all(isinstance(x, str) for x in node)
        return [] if ok else bad("must be a list of texts")
    if schema == "mapping":
        ok = isinstance(node, dict) and all(isinstance(v, str) for v in node.values())
        return [] if ok else bad("must be a mapping of texts")
    if schema == "sections":
        if not isinstance(node, list) or any(s not in _SECTIONS for s in node):
            return bad(f"must be a list of sections from {', '.join(_SECTIONS)}")
        if len(set(node)) != len(node):
            return bad("names a section twice")
        if "appendix" not in node or not node or node[-1] != "signature":
            return bad("must include appendix and end with signature")
        if "cover" in node and node[0] != "cover":
            return bad("must start with cover, if it has one")
        return []
    raise AssertionError(schema)  # pragma: no cover - schema typo


def _asset(path: str) -> bytes:
    target = _root()
    for part in path.split("/"):
        target = target / part
    return target.read_bytes()


_FONT_LOCK = threading.Lock()


def _font(path: str) -> str:
    """Register a TrueType file once; return its ReportLab name (embedded as a subset)."""
    name = "OW-" + re.sub(r"[^A-Za-z0-9-]", "", path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    with _FONT_LOCK:
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, io.BytesIO(_asset(path))))
    return name


# -- user text ----------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class _Markup(str):
    """Text that is already ReportLab markup (the result of `escape`)."""


def escape(value: object) -> str:
    """The one way user text reaches ReportLab markup: it prints literally.

    ``&``, ``<`` and ``>`` become entities, so ``<b>`` or ``<a href=x>`` in a note print as
    written and never become bold text or a link; characters XML cannot hold become U+FFFD;
    line breaks are kept; right-to-left runs are put in visual order. Escaping twice is
    harmless: the result of `escape` is returned unchanged.
    """
    if isinstance(value, _Markup):
        return value
    lines = _plain(value).split("\n")
    return _Markup("<br/>".join(
        line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;") for line in lines))


def _plain(value: object) -> str:
    """User text for the canvas (no markup): controls replaced, RTL runs in visual order."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("\ufffd", text)
    return "\n".join(_visual(line) for line in text.split("\n"))


# Arabic letter -> (first presentation form (isolated), number of forms: 1, 2 or 4).
# Forms follow in the order isolated, final, initial, medial (Unicode block FE70-FEFF).
_ARABIC: dict[str, tuple[int, int]] = {chr(c): (f, n) for c, f, n in (
    (0x0621, 0xFE80, 1), (0x0622, 0xFE81, 2), (0x0623, 0xFE83, 2), (0x0624, 0xFE85, 2),
    (0x0625, 0xFE87, 2), (0x0626, 0xFE89, 4), (0x0627, 0xFE8D, 2), (0x0628, 0xFE8F, 4),
    (0x0629, 0xFE93, 2), (0x062A, 0xFE95, 4), (0x062B, 0xFE99, 4), (0x062C, 0xFE9D, 4),
    (0x062D, 0xFEA1, 4), (0x062E, 0xFEA5, 4), (0x062F, 0xFEA9, 2), (0x0630, 0xFEAB, 2),
    (0x0631, 0xFEAD, 2), (0x0632, 0xFEAF, 2), (0x0633, 0xFEB1, 4), (0x0634, 0xFEB5, 4),
    (0x0635, 0xFEB9, 4), (0x0636, 0xFEBD, 4), (0x0637, 0xFEC1, 4), (0x0638, 0xFEC5, 4),
    (0x0639, 0xFEC9, 4), (0x063A, 0xFECD, 4), (0x0641, 0xFED1, 4), (0x0642, 0xFED5, 4),
    (0x0643, 0xFED9, 4), (0x0644, 0xFEDD, 4), (0x0645, 0xFEE1, 4), (0x0646, 0xFEE5, 4),
    (0x0647, 0xFEE9, 4), (0x0648, 0xFEED, 2), (0x0649, 0xFEEF, 2), (0x064A, 0xFEF1, 4))}
_LAM_ALEF = {"\u0622": 0xFEF5, "\u0623": 0xFEF7, "\u0625": 0xFEF9, "\u0627": 0xFEFB}
_TATWEEL = "\u0640"
_MIRROR = dict(zip("()[]{}<>«»", ")(][}{><»«", strict=True))


def _is_rtl(c: str) -> bool:
    o = ord(c)
    return 0x0590 <= o <= 0x08FF or 0xFB1D <= o <= 0xFDFF or 0xFE70 <= o <= 0xFEFC


def _shape_arabic(text: str) -> str:
    """Contextual forms of basic Arabic letters, so they join as they should."""
    n = len(text)

    def neighbour(i: int, step: int) -> str | None:
        j = i + step
        while 0 <= j < n and unicodedata.combining(text[j]):
            j += step
        return text[j] if 0 <= j < n else None

    def joins_next(c: str | None) -> bool:
        return c is not None and (c == _TATWEEL or _ARABIC.get(c, (0, 0))[1] == 4)

    def joins_prev(c: str | None) -> bool:
        return c is not None and (c == _TATWEEL or _ARABIC.get(c, (0, 0))[1] >= 2)

    out: list[str] = []
    i = 0
    while i < n:
        c = text[i]
        form = _ARABIC.get(c)
        if form is None:
            out.append(c)
            i += 1
            continue
        after_link = joins_next(neighbour(i, -1)) and joins_prev(c)
        if c == "\u0644" and i + 1 < n and text[i + 1] in _LAM_ALEF:
            out.append(chr(_LAM_ALEF[text[i + 1]] + (1 if after_link else 0)))
            i += 2
            continue
        before_link = form[1] == 4 and joins_prev(neighbour(i, 1))
        offset = {(True, True): 3, (True, False): 1, (False, True): 2}.get(
            (after_link, before_link), 0)
        out.append(chr(form[0] + offset))
        i += 1
    return "".join(out)


def _visual(line: str) -> str:
    """Right-to-left runs (Hebrew, Arabic) reversed into visual order; digits stay LTR."""
    if not any(_is_rtl(c) for c in line):
        return line
    line = _shape_arabic(line)
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if not _is_rtl(line[i]):
            out.append(line[i])
            i += 1
            continue
        last = j = i
        while j < n and (_is_rtl(line[j]) or unicodedata.bidirectional(line[j]) != "L"):
            if _is_rtl(line[j]):
                last = j
            j += 1
        out.append(_reverse_run(line[i:last + 1]))
        i = last + 1
    return "".join(out)


def _reverse_run(run: str) -> str:
    tokens: list[str] = []
    for m in re.finditer(r"[0-9]+(?:[.,:/][0-9]+)*|.", run, re.S):
        tok = m.group()
        if unicodedata.combining(tok) and tokens:
            tokens[-1] += tok  # keep marks after their letter
        else:
            tokens.append(_MIRROR.get(tok, tok))
    return "".join(reversed(tokens))


def _when(ts: object) -> str:
    if not ts:
        return ""
    try:
        return datetime.fromisoformat(str(ts)).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return str(ts)


def _day(ts: object) -> str:
    return _when(ts)[:10]


# -- layout helpers -----------------------------------------------------------------------


@dataclass
class _Ctx:
    """Everything one build shares: template, fonts, styles, data, outline keys."""

    t: Template
    data: ReportData
    regular: str
    bold: str
    mono: str
    styles: dict[str, Any]
    width: float
    logo: bytes
    classification: str
    keys: int = 0

    def key(self) -> str:
        self.keys += 1
        return f"ow{self.keys}"

    def p(self, markup: str, style: str = "body") -> Any:
        return Paragraph(markup, self.styles[style])

    def heading(self, markup: str, title: str, level: int, style: str) -> Any:
        return _Heading(markup, self.styles[style], title, level, self.key())

    def mono_markup(self, value: object, size: float | None = None) -> str:
        size = size or self.t.num("styles", "mono_size")
        return f'<font name="{self.mono}" size="{size:g}">{escape(value)}</font>'

    def table(self, rows: list[list[Any]], fractions: Sequence[float], header: bool = True,
              extra: Iterable[tuple[Any, ...]] = (), stripes: bool = True,
              split_in_row: bool = False) -> Any:
        widths = [self.width * f for f in fractions]
        style: list[tuple[Any, ...]] = [
            ("FONT", (0, 0), (-1, -1), self.regular), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, self.t.colour("styles", "colours", "rule")),
        ]
        if header:
            style += [("BACKGROUND", (0, 0), (-1, 0),
                       self.t.colour("styles", "colours", "table_header_background"))]
        if stripes:
            stripe = self.t.colour("styles", "colours", "table_stripe")
            for r in range(1 if header else 0, len(rows), 2):
                style.append(("BACKGROUND", (0, r), (-1, r), stripe))
        style += list(extra)
        kind = LongTable if len(rows) > 60 else Table  # LongTable: faster for many rows
        return kind(rows, colWidths=widths, repeatRows=1 if header else 0, splitByRow=1,
                     splitInRow=1 if split_in_row else 0, style=TableStyle(style),
                     hAlign="LEFT")

    def head_row(self, *markups: str) -> list[Any]:
        return [self.p(m, "th") for m in markups]

    def kv(self, rows: Sequence[tuple[str, Any]], label_fraction: float = 0.2) -> Any:
        cells = [[self.p(label, "label"), value if not isinstance(value, str)
                  else self.p(value, "cell")] for label, value in rows]
        return self.table(cells, (label_fraction, 1 - label_fraction), header=False,
                          stripes=False, split_in_row=True)


class _Heading(Paragraph):  # type: ignore[misc]
    """A heading that adds itself to the PDF outline where it is drawn."""

    def __init__(self, markup: str, style: Any, title: str, level: int, key: str) -> None:
        super().__init__(markup, style)
        self._outline = (title, level, key)

    def draw(self) -> None:
        super().draw()
        title, level, key = self._outline
        self.canv.bookmarkHorizontal(key, 0, self.height + 4)
        self.canv.addOutlineEntry(title, key, level=level, closed=level > 0)


class _SignatureBox(Flowable):  # type: ignore[misc]
    """An empty framed area; records where it landed so the signer can place its field."""

    def __init__(self, width: float, height: float, colour: Any, sink: dict[str, Any]) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._colour, self._sink = colour, sink

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x1, y1 = self.canv.absolutePosition(0, 0)
        x2, y2 = self.canv.absolutePosition(self.width, self.height)
        self._sink["box"] = (round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2))
        self._sink["page"] = self.canv.getPageNumber()
        self.canv.saveState()
        self.canv.setStrokeColor(self._colour)
        self.canv.setLineWidth(0.6)
        self.canv.setDash(2, 2)
        self.canv.rect(0, 0, self.width, self.height)
        self.canv.restoreState()


class _Canvas(Canvas):  # type: ignore[misc]
    """Writes the page total ("of Y") once it is known, as a form every page refers to."""

    TOTAL_FORM = "owPageTotal"

    def __init__(self, *args: Any, ow_font: str = "", ow_size: float = 7,
                 ow_suffix: str = "", ow_colour: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ow = (ow_font, ow_size, ow_suffix, ow_colour)
        self.ow_pages = 0

    def showPage(self) -> None:
        self.ow_pages += 1
        super().showPage()

    def save(self) -> None:
        font, size, suffix, colour = self._ow
        self.beginForm(self.TOTAL_FORM)
        self.setFont(font, size)
        self.setFillColor(colour)
        self.drawString(0, 0, f"{self.ow_pages}{suffix}")
        self.endForm()
        super().save()


class _Doc(BaseDocTemplate):  # type: ignore[misc]
    pass


# -- the build ----------------------------------------------------------------------------


def build_pdf(data: ReportData, template: str = "full", progress: Progress | None = None,
              cancel: CancelToken | None = None) -> BuiltReport:
    """Lay out the report, embed its manifest and return the PDF (not yet signed)."""
    t = load_template(template)

    def report(done: int, total: int, stage: str) -> None:
        if cancel is not None:
            cancel.check()
        if progress is not None:
            progress(done, total, stage)

    report(0, 0, "preparing")
    doc_manifest = manifest(data)
    digest = manifest_digest(doc_manifest)
    ctx = _context(t, data)
    sink: dict[str, Any] = {}
    story: list[Any] = []
    builders: dict[str, Callable[[], list[Any]]] = {
        "cover": lambda: _cover(ctx),
        "scope": lambda: _scope(ctx),
        "log_quality": lambda: _log_quality(ctx),
        "summary": lambda: _summary(ctx),
        "indicators": lambda: _indicators(ctx),
        "findings": lambda: _findings(ctx, report),
        "appendix": lambda: _appendix(ctx, digest),
        "signature": lambda: _signature(ctx, sink),
    }
    for section in t.get("sections"):
        part = builders[section]()
        if not part:  # an optional section with nothing to show (indicators)
            continue
        if story:
            story.append(PageBreak())
        story += part
        if section == "cover":
            story.append(NextPageTemplate("body"))

    buf = io.BytesIO()
    doc = _document(ctx, buf)
    state = {"total": 0, "last": 0}

    def on_progress(kind: str, value: int) -> None:
        if kind == "SIZE_EST":
            state["total"] = value
        elif kind == "PROGRESS" and value - state["last"] >= 100:
            state["last"] = value
            report(value, state["total"], "laying out pages")

    doc.setProgressCallBack(on_progress)
    page_label = t.settings["wording"]["page_number"]
    suffix = _plain(page_label.split("{pages}", 1)[1]) if "{pages}" in page_label else ""
    doc.build(story, canvasmaker=partial(
        _Canvas, ow_font=ctx.regular, ow_size=t.num("styles", "small_size"),
        ow_suffix=suffix, ow_colour=t.colour("styles", "colours", "muted")))
    pages = int(doc.canv.ow_pages)
    if sink.get("page") != pages:  # pragma: no cover - the signature page is short
        raise RuntimeError("The signature box did not land on the last page.")
    report(pages, pages, "embedding the manifest")
    pdf = _embed_manifest(buf.getvalue(), doc_manifest)
    report(1, 1, "done")
    return BuiltReport(pdf=pdf, pages=pages, manifest=doc_manifest, manifest_digest=digest,
                       signature_box=sink["box"], template=t.name)


def canonical_manifest(doc: Mapping[str, Any]) -> bytes:
    """The manifest's canonical JSON, the bytes `manifest_digest` hashes."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _embed_manifest(pdf: bytes, doc: dict[str, Any]) -> bytes:
    payload = canonical_manifest(doc)
    if hashlib.sha256(payload).hexdigest() != manifest_digest(doc):  # pragma: no cover
        raise RuntimeError("canonical_manifest no longer matches manifest_digest.")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_attachment(MANIFEST_NAME, payload)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _context(t: Template, data: ReportData) -> _Ctx:
    regular = _font(t.get("fonts", "regular"))
    bold = _font(t.get("fonts", "bold"))
    mono = _font(t.get("fonts", "mono"))
    pdfmetrics.registerFontFamily(regular, normal=regular, bold=bold, italic=regular,
                                  boldItalic=bold)
    size = t.num("styles", "base_size")
    lead = t.num("styles", "leading")
    text = t.colour("styles", "colours", "text")
    muted = t.colour("styles", "colours", "muted")
    accent = t.colour("styles", "colours", "accent")
    small = t.num("styles", "small_size")

    def style(name: str, **kw: Any) -> Any:
        kw.setdefault("fontName", regular)
        kw.setdefault("fontSize", size)
        kw.setdefault("leading", kw["fontSize"] * lead)
        kw.setdefault("textColor", text)
        return ParagraphStyle(f"ow-{name}", **kw)

    styles = {
        "body": style("body", spaceAfter=size * 0.6),
        "muted": style("muted", textColor=muted, spaceAfter=size * 0.6),
        "small": style("small", fontSize=small, textColor=muted),
        "cell": style("cell", fontSize=small + 0.5),
        "label": style("label", fontSize=small + 0.5, fontName=bold, textColor=muted),
        "th": style("th", fontSize=small + 0.5, fontName=bold,
                    textColor=t.colour("styles", "colours", "table_header_text")),
        "title": style("title", fontSize=t.num("styles", "title_size"), fontName=bold,
                       textColor=accent, leading=t.num("styles", "title_size") * 1.2,
                       spaceAfter=8),
        "kicker": style("kicker", fontSize=size + 2, textColor=muted, spaceAfter=6),
        "h1": style("h1", fontSize=t.num("styles", "h1_size"), fontName=bold, textColor=accent,
                    spaceAfter=8, leading=t.num("styles", "h1_size") * 1.25),
        "h2": style("h2", fontSize=t.num("styles", "h2_size"), fontName=bold, textColor=accent,
                    spaceBefore=8, spaceAfter=5, leading=t.num("styles", "h2_size") * 1.25),
        "h3": style("h3", fontSize=t.num("styles", "h3_size"), fontName=bold),
        "h3r": style("h3r", fontSize=t.num("styles", "h3_size"), fontName=bold,
                     alignment=TA_RIGHT),
        "banner": style("banner", fontSize=size + 3, fontName=bold, alignment=TA_CENTER,
                        textColor=t.colour("classification", "text")),
        "verify": style("verify", splitLongWords=0, spaceAfter=2),
    }
    width = (_pagesize(t)[0] - (t.num("page", "margin_left_mm")
                                + t.num("page", "margin_right_mm")) * mm)
    classification = data.classification or t.get("classification", "default")
    return _Ctx(t=t, data=data, regular=regular, bold=bold, mono=mono, styles=styles,
                width=width, logo=_asset(t.get("logo", "file")),
                classification=str(classification))


def _pagesize(t: Template) -> tuple[float, float]:
    size = {"A4": pagesizes.A4, "A3": pagesizes.A3, "letter": pagesizes.LETTER,
            "legal": pagesizes.LEGAL}[t.get("page", "size")]
    if t.get("page", "orientation") == "landscape":
        return tuple(pagesizes.landscape(size))
    return tuple(pagesizes.portrait(size))


def _document(ctx: _Ctx, buf: io.BytesIO) -> Any:
    t, data = ctx.t, ctx.data
    size = _pagesize(t)
    left, right = t.num("page", "margin_left_mm") * mm, t.num("page", "margin_right_mm") * mm
    top, bottom = t.num("page", "margin_top_mm") * mm, t.num("page", "margin_bottom_mm") * mm
    doc = _Doc(buf, pagesize=size, leftMargin=left, rightMargin=right, topMargin=top,
               bottomMargin=bottom, title=data.title, author=data.author,
               subject=f"{data.report_id} ({ctx.classification})", creator=data.generator,
               initialFontName=ctx.regular, initialFontSize=t.num("styles", "base_size"))
    frame = Frame(left, bottom, size[0] - left - right, size[1] - top - bottom, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    logo = ImageReader(io.BytesIO(ctx.logo))
    templates = [
        PageTemplate(id="cover", frames=[frame], onPage=partial(_decorate, ctx, logo, True)),
        PageTemplate(id="body", frames=[frame], onPage=partial(_decorate, ctx, logo, False)),
    ]
    if t.get("sections")[0] != "cover":
        templates.reverse()  # the first page template is the one the first page uses
    doc.addPageTemplates(templates)
    return doc


def _decorate(ctx: _Ctx, logo: Any, cover: bool, canv: Any, doc: Any) -> None:
    """Running header and footer: classification marking top and bottom of every page."""
    t = ctx.t
    page_w, page_h = _pagesize(t)
    left, right = t.num("page", "margin_left_mm") * mm, t.num("page", "margin_right_mm") * mm
    small = t.num("styles", "small_size")
    muted = t.colour("styles", "colours", "muted")
    canv.saveState()
    header_y = page_h - 9 * mm
    banner_w = _banner(ctx, canv, page_w - right, header_y, align="right")
    if not cover:
        logo_h = t.num("logo", "header_height_mm") * mm
        canv.drawImage(logo, left, header_y - logo_h * 0.3, logo_h, logo_h, mask="auto")
        title = _plain(t.settings["wording"]["running_header"].replace(
            "{title}", ctx.data.title).replace("{body}", ctx.data.body))
        avail = page_w - left - right - banner_w - logo_h - 8 * mm
        canv.setFont(ctx.regular, small + 0.5)
        canv.setFillColor(muted)
        canv.drawString(left + logo_h + 2.5 * mm, header_y + 0.5,
                        _fit(title, ctx.regular, small + 0.5, avail))
    canv.setStrokeColor(t.colour("styles", "colours", "rule"))
    canv.setLineWidth(0.5)
    line_y = page_h - t.num("page", "margin_top_mm") * mm + 4 * mm
    canv.line(left, line_y, page_w - right, line_y)
    foot_line = t.num("page", "margin_bottom_mm") * mm - 5 * mm
    canv.line(left, foot_line, page_w - right, foot_line)
    foot_y = foot_line - 5 * mm
    _banner(ctx, canv, page_w / 2, foot_y, align="centre")
    canv.setFont(ctx.regular, small)
    canv.setFillColor(muted)
    label = t.settings["wording"]["page_number"]
    prefix = _plain(label.split("{pages}", 1)[0].replace("{page}", str(canv.getPageNumber())))
    canv.drawString(left, foot_y, prefix)
    canv.saveState()
    canv.translate(left + pdfmetrics.stringWidth(prefix, ctx.regular, small), foot_y)
    canv.doForm(_Canvas.TOTAL_FORM)
    canv.restoreState()
    canv.setFont(ctx.mono, small)
    canv.drawRightString(page_w - right, foot_y, _plain(ctx.data.report_id))
    canv.restoreState()


def _banner(ctx: _Ctx, canv: Any, x: float, y: float, align: str) -> float:
    """The classification marking in a coloured box; returns its width."""
    size = ctx.t.num("styles", "small_size") + 0.5
    text = _fit(_plain(ctx.classification), ctx.bold, size, 90 * mm)
    width = pdfmetrics.stringWidth(text, ctx.bold, size) + 8
    x0 = x - width if align == "right" else x - width / 2
    canv.setFillColor(ctx.t.colour("classification", "background"))
    canv.rect(x0, y - 2.5, width, size + 4.5, stroke=0, fill=1)
    canv.setFillColor(ctx.t.colour("classification", "text"))
    canv.setFont(ctx.bold, size)
    canv.drawString(x0 + 4, y, text)
    return float(width)


def _fit(text: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


# -- sections -----------------------------------------------------------------------------


def _scope_text(ctx: _Ctx) -> str:
    t, scope = ctx.t, ctx.data.scope
    parts = []
    if scope.only_confirmed:
        parts.append(t.words("scope_only_confirmed"))
    if scope.rules:
        parts.append(t.words("scope_rules", rules=", ".join(scope.rules)))
    if scope.severities:
        parts.append(t.words("scope_severities", severities=", ".join(
            t.label("severity", s) for s in scope.severities)))
    if scope.period_from:
        parts.append(t.words("scope_from", date=scope.period_from))
    if scope.period_to:
        parts.append(t.words("scope_to", date=scope.period_to))
    if ctx.data.left_out_untimed:
        parts.append(t.words("scope_left_out", count=f"{ctx.data.left_out_untimed:,}"))
    if not parts:
        return t.words("scope_all")
    return t.words("scope_filtered", filters=_Markup("; ".join(parts)))


def _period(ctx: _Ctx) -> str:
    """The period the findings' records cover, in words that are true when some or all
    of them carry no usable time."""
    d, t = ctx.data, ctx.t
    start, end = d.period
    count = len(d.findings)
    if not count:
        return t.words("period_none")
    if not start or not end:
        key = "period_unusable" if d.any_record_time else "period_untimed"
        return t.words(key, count=f"{count:,}")
    if d.untimed:
        return t.words("period_partly", start=_day(start), end=_day(end),
                       untimed=f"{d.untimed:,}", count=f"{count:,}")
    return t.words("period", start=_day(start), end=_day(end))


def _cover(ctx: _Ctx) -> list[Any]:
    t, d = ctx.t, ctx.data
    logo_w = t.num("logo", "cover_width_mm") * mm
    out: list[Any] = [Spacer(1, 12 * mm),
                      Image(io.BytesIO(ctx.logo), logo_w, logo_w, mask="auto", hAlign="LEFT"),
                      Spacer(1, 10 * mm), ctx.p(t.words("cover_kicker"), "kicker"),
                      ctx.heading(escape(d.title), d.title, 0, "title")]
    if d.body:
        out.append(ctx.p(t.words("cover_issued_by", body=d.body), "kicker"))
    banner = Table([[ctx.p(escape(ctx.classification), "banner")]], colWidths=[ctx.width],
                   style=TableStyle([("FONT", (0, 0), (-1, -1), ctx.regular),
                                     ("BACKGROUND", (0, 0), (-1, -1),
                                      t.colour("classification", "background")),
                                     ("TOPPADDING", (0, 0), (-1, -1), 6),
                                     ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))
    out += [Spacer(1, 6 * mm), banner, Spacer(1, 8 * mm)]
    rows = [(t.words("cover_report_id"), ctx.mono_markup(d.report_id)),
            (t.words("cover_date"), escape(_when(d.created_at))),
            (t.words("cover_author"), escape(d.author)),
            (t.words("cover_period"), _period(ctx)),
            (t.words("cover_scope"), _scope_text(ctx)),
            (t.words("cover_template"), escape(t.name)),
            (t.words("cover_generator"), escape(d.generator))]
    out += [ctx.kv(rows, 0.22), Spacer(1, 10 * mm), ctx.p(t.words("cover_note"), "muted")]
    return out


def _scope(ctx: _Ctx) -> list[Any]:
    t, d = ctx.t, ctx.data
    title = t.settings["wording"]["title_scope"]
    out: list[Any] = [ctx.heading(t.words("title_scope"), title, 0, "h1"),
                      ctx.p(t.words("scope_intro")), ctx.p(_scope_text(ctx))]
    out.append(ctx.heading(t.words("title_sources"), t.settings["wording"]["title_sources"],
                           1, "h2"))
    if not d.sources:
        out.append(ctx.p(t.words("sources_none")))
    else:
        rows = [ctx.head_row(t.words("col_batch"), t.words("col_file"), t.words("col_kind"),
                             t.words("col_read"), t.words("col_imported"),
                             t.words("col_rejected"), t.words("col_imported_by"))]
        extra: list[tuple[Any, ...]] = []
        stripe = t.colour("styles", "colours", "table_stripe")
        for i, s in enumerate(d.sources):
            r = len(rows)
            rows.append([ctx.p(escape(s.get("batch_id")), "cell"),
                         ctx.p(f"<b>{escape(s.get('file'))}</b>", "cell"),
                         ctx.p(escape(s.get("kind")), "cell"),
                         ctx.p(escape(_int(s.get("rows_read"))), "cell"),
                         ctx.p(escape(_int(s.get("rows_imported"))), "cell"),
                         ctx.p(escape(_int(s.get("rows_rejected"))), "cell"),
                         ctx.p(escape(f"{s.get('imported_by') or ''}, "
                                      f"{_when(s.get('imported_at'))}"), "cell")])
            rows.append(["", ctx.p(f"{t.words('label_sha256')} "
                                   f"{ctx.mono_markup(s.get('sha256'))}", "cell"),
                         "", "", "", "", ""])
            extra += [("SPAN", (1, r + 1), (-1, r + 1)), ("NOSPLIT", (0, r), (-1, r + 1)),
                      ("LINEBELOW", (0, r), (-1, r), 0, colors.white)]
            warned = _source_warnings(ctx, s.get("warnings"))
            if warned:
                rows.append(["", ctx.p(warned, "cell"), "", "", "", "", ""])
                extra += [("SPAN", (1, r + 2), (-1, r + 2)), ("NOSPLIT", (0, r), (-1, r + 2)),
                          ("LINEBELOW", (0, r + 1), (-1, r + 1), 0, colors.white)]
            if i % 2:
                extra.append(("BACKGROUND", (0, r), (-1, len(rows) - 1), stripe))
        out.append(ctx.table(rows, (0.07, 0.25, 0.14, 0.09, 0.1, 0.1, 0.25), extra=extra,
                             stripes=False))
    out.append(ctx.heading(t.words("title_pack"), t.settings["wording"]["title_pack"], 1,
                           "h2"))
    if d.pack is None:
        out.append(ctx.p(t.words("pack_none")))
    else:
        runs = "<br/>".join(t.words("run_line", run_id=r.get("run_id"), pack=r.get("pack"),
                                    version=r.get("version"), started_at=_when(
                                        r.get("started_at")), user=r.get("user"),
                                    hits=r.get("hits")) for r in d.runs)
        rows2: list[tuple[str, Any]] = [
            (t.words("label_pack"), escape(d.pack.get("id"))),
            (t.words("label_version"), escape(d.pack.get("version"))),
            (t.words("label_pack_title"), escape(d.pack.get("title"))),
            (t.words("label_sha256"), ctx.mono_markup(d.pack.get("sha256")))]
        if runs:
            rows2.append((t.words("label_runs"), runs))
        out.append(ctx.kv(rows2))
    out.append(ctx.heading(t.words("title_not_evaluated"),
                           t.settings["wording"]["title_not_evaluated"], 1, "h2"))
    if not d.not_evaluated:
        out.append(ctx.p(t.words("not_evaluated_none")))
    else:
        rows3 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_reason"))]
        for ne in d.not_evaluated:
            rule = d.rules.get(ne.get("rule_id", ""), {})
            rows3.append([ctx.p(escape(ne.get("rule_id")), "cell"),
                          ctx.p(escape(rule.get("title", "")), "cell"),
                          ctx.p(escape(ne.get("reason")), "cell")])
        out += [ctx.p(t.words("not_evaluated_intro")),
                ctx.table(rows3, (0.12, 0.4, 0.48))]
    if d.partly_evaluated:
        rows4 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_note"))]
        for pe in d.partly_evaluated:
            rule = d.rules.get(pe.get("rule_id", ""), {})
            rows4.append([ctx.p(escape(pe.get("rule_id")), "cell"),
                          ctx.p(escape(rule.get("title", "")), "cell"),
                          ctx.p(escape(pe.get("note")), "cell")])
        out += [ctx.p(t.words("partly_evaluated_intro")), ctx.table(rows4, (0.12, 0.4, 0.48))]
    out.append(ctx.heading(t.words("title_sample"), t.settings["wording"]["title_sample"], 1,
                           "h2"))
    statement = (d.sample or {}).get("statement")
    out.append(ctx.p(escape(statement) if statement else t.words("sample_none")))
    return out


def _int(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _source_warnings(ctx: _Ctx, warnings: list[dict[str, Any]] | None) -> str:
    """The warnings a source raised at import, for its row in the sources table."""
    t = ctx.t
    if warnings is None:
        return f"{t.words('label_warnings')}: {t.words('warnings_unchecked')}"
    if not warnings:
        return ""
    items = "; ".join(f"{ctx.mono_markup(w.get('code'))} ({escape(_int(w.get('count')))})"
                      for w in warnings)
    return f"{t.words('label_warnings')}: {items}"


def _log_quality(ctx: _Ctx) -> list[Any]:
    """The log itself: warnings raised at import and the log-completeness findings."""
    t, d = ctx.t, ctx.data
    lq = d.log_quality
    title = t.settings["wording"]["title_log_quality"]
    out: list[Any] = [ctx.heading(t.words("title_log_quality"), title, 0, "h1"),
                      ctx.p(t.words("log_quality_intro"))]
    out.append(ctx.heading(t.words("title_import_warnings"),
                           t.settings["wording"]["title_import_warnings"], 1, "h2"))
    rows = [ctx.head_row(t.words("col_batch"), t.words("col_file"), t.words("col_warning"),
                         t.words("col_rows"), t.words("col_meaning"))]
    for b in lq.get("batches", []):
        warnings = b.get("warnings")
        if warnings is None:
            rows.append([ctx.p(escape(b.get("batch_id")), "cell"),
                         ctx.p(escape(b.get("file")), "cell"), ctx.p("–", "cell"), "",
                         ctx.p(t.words("warnings_unchecked"), "cell")])
        for w in warnings or []:
            lines = ", ".join(str(n) for n in (w.get("lines") or [])[:10])
            meaning = escape(w.get("message")) + (
                f" ({escape('lines ' + lines)}{'…' if len(w.get('lines') or []) > 10 else ''})"
                if lines else "")
            rows.append([ctx.p(escape(b.get("batch_id")), "cell"),
                         ctx.p(escape(b.get("file")), "cell"),
                         ctx.p(ctx.mono_markup(w.get("code")), "cell"),
                         ctx.p(escape(_int(w.get("count"))), "cell"), ctx.p(meaning, "cell")])
    if len(rows) == 1:
        out.append(ctx.p(t.words("import_warnings_none")))
    else:
        out.append(ctx.table(rows, (0.06, 0.17, 0.25, 0.07, 0.45)))
    out.append(ctx.heading(t.words("title_dq"), t.settings["wording"]["title_dq"], 1, "h2"))
    if lq.get("run_id") is None:
        out.append(ctx.p(t.words("dq_no_run")))
        return out
    if not lq.get("rules"):
        out.append(ctx.p(t.words("dq_none_in_pack")))
        return out
    rows2 = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_result"))]
    for r in lq["rules"]:
        if r.get("evaluated"):
            n = int(r.get("findings") or 0)
            result = (t.words("dq_result_one") if n == 1
                      else t.words("dq_result_count", count=f"{n:,}") if n
                      else t.words("dq_result_nothing"))
            if r.get("note"):
                result += f"; {escape(r['note'])}"
        else:
            result = t.words("dq_result_not_evaluated", reason=r.get("reason") or "")
        rows2.append([ctx.p(escape(r.get("id")), "cell"), ctx.p(escape(r.get("title")), "cell"),
                      ctx.p(result, "cell")])
    out.append(ctx.table(rows2, (0.1, 0.4, 0.5)))
    found = lq.get("findings", [])
    if found:
        rows3 = [ctx.head_row(t.words("col_rule"), t.words("col_status"), t.words("label_reason"))]
        for f in found:
            rows3.append([ctx.p(escape(f.get("rule_id")), "cell"),
                          ctx.p(escape(t.label("status", str(f.get("status")))), "cell"),
                          ctx.p(escape(f.get("message")), "cell")])
        out += [ctx.p(t.words("dq_findings_intro")), ctx.table(rows3, (0.1, 0.15, 0.75))]
    return out


def _summary(ctx: _Ctx) -> list[Any]:
    t, d = ctx.t, ctx.data
    counts = d.counts()
    sev = counts["severity"]
    out: list[Any] = [ctx.heading(t.words("title_summary"),
                                  t.settings["wording"]["title_summary"], 0, "h1")]
    if not d.findings:
        out.append(ctx.p(t.words("summary_none")))
    out.append(ctx.p(t.words("summary_counts", count=f"{len(d.findings):,}",
                             **{s: f"{sev.get(s, 0):,}" for s in SEVERITIES})))
    if counts["status"]:
        statuses = ", ".join(f"{t.label('status', s)} {n:,}"
                             for s, n in _status_order(counts["status"]))
        out.append(ctx.p(t.words("summary_statuses", statuses=statuses)))
    if not d.findings:
        return out
    charts = _charts(ctx, counts)
    out += charts
    rows = [ctx.head_row(t.words("col_rule"), t.words("col_title"), t.words("col_severity"),
                         t.words("col_findings"), t.words("col_confirmed"))]
    confirmed: dict[str, int] = {}
    for f in d.findings:
        if f["status"] == "confirmed":
            confirmed[f["rule_id"]] = confirmed.get(f["rule_id"], 0) + 1
    for rule_id in _rule_order(ctx, counts["rule"]):
        rule = d.rules.get(rule_id, {})
        rows.append([ctx.p(escape(rule_id), "cell"), ctx.p(escape(rule.get("title")), "cell"),
                     ctx.p(escape(t.label("severity", str(rule.get("severity", "")))), "cell"),
                     ctx.p(f"{counts['rule'][rule_id]:,}", "cell"),
                     ctx.p(f"{confirmed.get(rule_id, 0):,}", "cell")])
    out += [CondPageBreak(40 * mm), ctx.p(t.words("summary_rules_intro")),
            ctx.table(rows, (0.12, 0.54, 0.12, 0.11, 0.11))]
    return out


_STATUS_ORDER = ("open", "in_review", "pending_approval", "confirmed", "escalated", "dismissed")


def _status_order(by_status: Mapping[str, int]) -> list[tuple[str, int]]:
    def rank(s: str) -> tuple[int, str]:
        return (_STATUS_ORDER.index(s) if s in _STATUS_ORDER else len(_STATUS_ORDER), s)
    return [(s, by_status[s]) for s in sorted(by_status, key=rank)]


def _rule_order(ctx: _Ctx, rule_ids: Iterable[str]) -> list[str]:
    """Most severe rule first, then by id."""
    def rank(rule_id: str) -> tuple[int, str]:
        sev = ctx.data.rules.get(rule_id, {}).get("severity")
        return (-(SEVERITIES.index(sev) if sev in SEVERITIES else -1), rule_id)
    return sorted(rule_ids, key=rank)


def _nice_axis(top: float) -> tuple[int, int]:
    """Axis maximum and step for counts up to `top`, about five ticks."""
    top = max(top, 1)
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(int(step), 1)
    return step * math.ceil(top / step), step


def _bar_chart(ctx: _Ctx, title: str, labels: list[str], values: list[int] | list[float],
               fills: list[Any], width: float, height: float, horizontal: bool = False,
               angle: int = 0) -> Any:
    t = ctx.t
    size = t.num("styles", "small_size")
    drawing = Drawing(width, height)
    drawing.initialFontName, drawing.initialFontSize = ctx.regular, size
    drawing.add(String(0, height - size - 2, _plain(title), fontName=ctx.bold,
                       fontSize=size + 1, fillColor=t.colour("styles", "colours", "accent")))
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    label_space = max((pdfmetrics.stringWidth(s, ctx.regular, size) for s in labels),
                      default=0)
    if horizontal:
        chart.x, chart.y = label_space + 8, 14
        chart.width, chart.height = width - label_space - 24, height - size - 24
    else:
        drop = label_space * math.sin(math.radians(angle)) + 4 if angle else size + 6
        chart.x, chart.y = 26, drop + 4
        chart.width, chart.height = width - 34, height - size - drop - 18
    chart.data = [values]
    vmax, step = _nice_axis(max(values, default=0))
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, vmax
    chart.valueAxis.valueStep = step
    chart.valueAxis.labels.fontName = ctx.regular
    chart.valueAxis.labels.fontSize = size
    chart.valueAxis.labelTextFormat = "%d"
    chart.valueAxis.strokeColor = t.colour("styles", "colours", "rule")
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = t.colour("styles", "colours", "rule")
    chart.valueAxis.gridStrokeWidth = 0.25
    chart.categoryAxis.categoryNames = [_plain(s) for s in labels]
    chart.categoryAxis.labels.fontName = ctx.regular
    chart.categoryAxis.labels.fontSize = size
    chart.categoryAxis.strokeColor = t.colour("styles", "colours", "rule")
    if horizontal:
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
    elif angle:
        chart.categoryAxis.labels.angle = angle
        chart.categoryAxis.labels.boxAnchor = "ne"
        chart.categoryAxis.labels.dx, chart.categoryAxis.labels.dy = 3, -3
    chart.barSpacing = 1
    chart.groupSpacing = 3 if len(values) > 12 else 8
    chart.bars.strokeColor = None
    for i, fill in enumerate(fills):
        chart.bars[(0, i)].fillColor = fill
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = ctx.regular
    chart.barLabels.fontSize = size - 0.5
    chart.barLabels.fillColor = t.colour("styles", "colours", "text")
    if horizontal:
        chart.barLabels.boxAnchor, chart.barLabels.dx = "w", 2
    else:
        chart.barLabels.boxAnchor, chart.barLabels.dy = "s", 1
    drawing.add(chart)
    return drawing


def _months(by_month: Mapping[str, int]) -> tuple[list[str], list[int]]:
    """Every month from the first to the last (empty months count 0); years past 5 years."""
    keys = [k for k in by_month if re.fullmatch(r"\d{4}-\d{2}", k)]
    if not keys:
        return [], []
    first, last = min(keys), max(keys)
    y, m = int(first[:4]), int(first[5:])
    months = []
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if len(months) <= 60:
        return months, [by_month.get(k, 0) for k in months]
    years = sorted({k[:4] for k in months})
    return years, [sum(n for k, n in by_month.items() if k[:4] == yr) for yr in years]


def _charts(ctx: _Ctx, counts: Mapping[str, Mapping[str, int]]) -> list[Any]:
    t = ctx.t
    height = t.num("charts", "height_mm") * mm
    half = ctx.width / 2 - 6
    bar = t.colour("styles", "colours", "chart_bar")
    sev = [s for s in reversed(SEVERITIES)]
    by_sev = _bar_chart(ctx, t.settings["wording"]["chart_severity"],
                        [t.label("severity", s) for s in sev],
                        [counts["severity"].get(s, 0) for s in sev],
                        [t.colour("styles", "severity_colours", s) for s in sev], half, height)
    statuses = _status_order(counts["status"])
    by_status = _bar_chart(ctx, t.settings["wording"]["chart_status"],
                           [t.label("status", s) for s, _ in statuses],
                           [n for _, n in statuses], [bar] * len(statuses), half, height,
                           angle=30 if len(statuses) > 3 else 0)
    grid = Table([[by_sev, by_status]], colWidths=[ctx.width / 2] * 2,
                 style=TableStyle([("FONT", (0, 0), (-1, -1), ctx.regular),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    months, per_month = _months(counts["month"])
    shown = [m if i % max(1, math.ceil(len(months) / 24)) == 0 else ""
             for i, m in enumerate(months)]
    out: list[Any] = [Spacer(1, 3 * mm), grid, Spacer(1, 4 * mm)]
    if months:
        out += [_bar_chart(ctx, t.settings["wording"]["chart_month"], shown, per_month,
                           [bar] * len(months), ctx.width, height,
                           angle=45 if len(months) > 8 else 0), Spacer(1, 4 * mm)]
    rules = _rule_order(ctx, counts["rule"])
    if len(rules) > 40:
        rest = sum(counts["rule"][r] for r in rules[39:])
        labels = [*rules[:39], f"+{len(rules) - 39}"]
        values = [*(counts["rule"][r] for r in rules[:39]), rest]
    else:
        labels, values = rules, [counts["rule"][r] for r in rules]
    fills = [t.colour("styles", "severity_colours", ctx.data.rules[r]["severity"])
             if ctx.data.rules.get(r, {}).get("severity") in SEVERITIES else bar
             for r in labels]
    rule_h = len(labels) * t.num("charts", "rule_bar_mm") * mm + 14 * mm
    out.append(_bar_chart(ctx, t.settings["wording"]["chart_rule"], labels[::-1],
                          values[::-1], fills[::-1], ctx.width, rule_h, horizontal=True))
    return out


# -- the Indicators section (oversight.indicators) -----------------------------------------

_IND_TABLES = (("agency", "title_ind_agency"), ("channel", "title_ind_channel"),
               ("rule", "title_ind_rule"), ("month", "title_ind_month"))


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, (int, float)) else ""


def _ind_table(ctx: _Ctx, key: str, table: Mapping[str, Any]) -> list[Any]:
    t = ctx.t
    rows_in = list(table.get("rows") or [])
    cap = int(t.num("indicators", "max_rows"))
    head = ctx.head_row(t.words("col_group"), t.words("col_operations"),
                        t.words("col_findings"), t.words("col_confirmed"),
                        t.words("col_dismissed"), t.words("col_open"),
                        t.words("col_per_1000"), t.words("col_decided"), t.words("col_rate"))
    rows = [head]
    for r in [*rows_in[:cap], table.get("total") or {}]:
        total = r is table.get("total")
        label = t.settings["wording"]["ind_total"] if total else \
            (r.get("group") or {}).get(key) or "–"
        rate = (f"{_pct(r.get('confirmed_rate'))} ({_pct(r.get('ci_low'))}–"
                f"{_pct(r.get('ci_high'))})" if r.get("confirmed_rate") is not None else "–")
        per = r.get("per_1000")
        cells = [label, _int(r.get("operations")), _int(r.get("findings")),
                 _int(r.get("confirmed")), _int(r.get("dismissed")), _int(r.get("open")),
                 "–" if per is None else f"{per:,.2f}", _int(r.get("decided")), rate]
        style = "h3" if total else "cell"
        rows.append([ctx.p(escape(c), style if i == 0 else "cell")
                     for i, c in enumerate(cells)])
    out: list[Any] = [ctx.table(rows, (0.15, 0.12, 0.1, 0.115, 0.115, 0.065, 0.085, 0.095,
                                       0.155))]
    if len(rows_in) > cap:
        out.append(ctx.p(t.words("indicators_more", more=f"{len(rows_in) - cap:,}"), "muted"))
    return out


def _line_chart(ctx: _Ctx, title: str, labels: list[str], values: list[float],
                width: float, height: float) -> Any:
    """Findings per 1,000 operations per month: one line (ReportLab's line chart)."""
    from reportlab.graphics.charts.linecharts import (  # type: ignore[import-untyped]
        HorizontalLineChart,
    )

    t = ctx.t
    size = t.num("styles", "small_size")
    drawing = Drawing(width, height)
    drawing.initialFontName, drawing.initialFontSize = ctx.regular, size
    drawing.add(String(0, height - size - 2, _plain(title), fontName=ctx.bold,
                       fontSize=size + 1, fillColor=t.colour("styles", "colours", "accent")))
    chart = HorizontalLineChart()
    chart.x, chart.y = 30, size + 22
    chart.width, chart.height = width - 40, height - 2 * size - 34
    chart.data = [values]
    top = max(values, default=0.0)
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, max(top * 1.15, 1.0)
    chart.valueAxis.labels.fontName = ctx.regular
    chart.valueAxis.labels.fontSize = size
    chart.valueAxis.labelTextFormat = "%.1f"
    chart.categoryAxis.categoryNames = [_plain(s) for s in labels]
    chart.categoryAxis.labels.fontName = ctx.regular
    chart.categoryAxis.labels.fontSize = size
    chart.categoryAxis.labels.angle = 45 if len(labels) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 8 else "n"
    chart.lines[0].strokeColor = t.colour("styles", "colours", "chart_bar")
    chart.lines[0].strokeWidth = 1.2
    chart.joinedLines = 1
    drawing.add(chart)
    return drawing


def _indicators(ctx: _Ctx) -> list[Any]:
    """Indicators per agency, channel, rule and month, with what they rest on; nothing
    when the template leaves the section out or the data has no indicators."""
    t, d = ctx.t, ctx.data
    ind = d.indicators
    if not t.get("indicators", "include") or not ind:
        return []
    w = t.settings["wording"]
    filters = ind.get("filters") or {}
    period = (t.words("period", start=filters.get("from") or "…", end=filters.get("to") or "…")
              if filters.get("from") or filters.get("to") else t.words("ind_period_all"))
    pack = ind.get("pack") or {}
    out: list[Any] = [ctx.heading(t.words("title_indicators"), w["title_indicators"], 0, "h1"),
                      ctx.p(t.words("indicators_intro")),
                      ctx.p(t.words("indicators_basis", pack=pack.get("id", ""),
                                    version=pack.get("version", ""),
                                    runs=", ".join(str(r) for r in ind.get("runs") or []),
                                    timezone=ind.get("timezone", ""), period=period,
                                    status=filters.get("status", "any")))]
    left = {k: v for k, v in (ind.get("left_out") or {}).items() if v}
    if left:
        out.append(ctx.p(t.words("indicators_left_out", count=f"{sum(left.values()):,}",
                                 detail="; ".join(f"{k.replace('_', ' ')}: {v:,}"
                                                  for k, v in left.items()))))
    review = ind.get("review") or {}
    samples = "; ".join(f"{s.get('size')} of {s.get('population_size')}, seed {s.get('seed')}"
                        for s in ind.get("samples") or []) or "–"
    out.append(ctx.p(t.words("indicators_review", decided=f"{review.get('decided', 0):,}",
                             sampled=f"{review.get('decided_in_a_sample', 0):,}",
                             samples=samples)))
    height = t.num("charts", "height_mm") * mm
    bar = t.colour("styles", "colours", "chart_bar")
    for key, title_key in _IND_TABLES:
        table = (ind.get("tables") or {}).get(key) or {}
        rows = [r for r in table.get("rows") or []]
        out.append(CondPageBreak(60 * mm))
        out.append(ctx.heading(t.words(title_key), w[title_key], 1, "h2"))
        if not rows:
            out.append(ctx.p(t.words("ind_none")))
            continue
        labels = [str((r.get("group") or {}).get(key) or "–") for r in rows]
        values = [float(r.get("per_1000") or 0) for r in rows]
        if key == "month":
            out.append(_line_chart(ctx, t.settings["wording"]["chart_ind_month"], labels,
                                   values, ctx.width, height))
        else:
            shown = labels[:40]
            chart_h = len(shown) * t.num("charts", "rule_bar_mm") * mm + 14 * mm
            drawing = _bar_chart(ctx, w["chart_ind_bars"], shown[::-1], values[:40][::-1],
                                 [bar] * len(shown), ctx.width, chart_h, horizontal=True)
            chart = drawing.contents[-1]  # per 1,000 is not a whole number
            chart.barLabelFormat = "%.1f"
            out.append(drawing)
        out += [Spacer(1, 3 * mm), *_ind_table(ctx, key, table)]
    return out


def _findings(ctx: _Ctx, report: Callable[[int, int, str], None]) -> list[Any]:
    t, d = ctx.t, ctx.data
    title = t.settings["wording"]["title_findings"]
    out: list[Any] = [ctx.heading(t.words("title_findings"), title, 0, "h1"),
                      ctx.p(t.words("findings_intro"))]
    wanted = set(t.get("findings", "statuses"))
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in d.findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    total, done = len(d.findings), 0
    listed_any = False
    for rule_id in _rule_order(ctx, by_rule):
        items = sorted(by_rule[rule_id], key=lambda f: (str(f.get("first_ts") or ""), f["id"]))
        listed = [f for f in items if not wanted or f["status"] in wanted]
        done += len(items)
        report(done, total, "writing findings")
        if not listed:
            continue
        listed_any = True
        rule = d.rules.get(rule_id, {})
        heading = t.settings["wording"]["rule_heading"].replace("{rule_id}", rule_id).replace(
            "{title}", str(rule.get("title", "")))
        severity = str(rule.get("severity", ""))
        head = [CondPageBreak(50 * mm), ctx.heading(
            t.words("rule_heading", rule_id=rule_id, title=rule.get("title", "")), heading, 1,
            "h2")]
        info = ctx.kv([(t.words("label_severity"), escape(t.label("severity", severity))),
                       (t.words("label_legal"), "<br/>".join(
                           escape(r) for r in rule.get("legal_refs") or []) or "–"),
                       (t.words("label_rationale"), escape(rule.get("rationale", "")))])
        count = (t.words("rule_count", count=f"{len(items):,}") if len(listed) == len(items)
                 else t.words("rule_count_listed", count=f"{len(items):,}",
                              listed=f"{len(listed):,}"))
        out += [KeepTogether([*head, info]), Spacer(1, 2 * mm), ctx.p(count, "muted")]
        if t.get("findings", "detail") == "brief":
            out.append(_brief_table(ctx, listed))
        else:
            for f in listed:
                out += _finding_block(ctx, f, severity)
    if not listed_any:
        out.append(ctx.p(t.words("findings_none")))
    return out


def _decision(ctx: _Ctx, f: Mapping[str, Any]) -> str:
    status = ctx.t.label("status", str(f.get("status")))
    if f.get("reason"):
        return ctx.t.words("decision_reason", status=status, reason=f["reason"])
    return escape(status)


def _reviewers(ctx: _Ctx, f: Mapping[str, Any]) -> str:
    t = ctx.t
    parts = []
    if f.get("decided_by"):
        parts.append(t.words("reviewer_decided", user=f["decided_by"],
                             time=_when(f.get("decided_at"))))
    if f.get("approved_by"):
        parts.append(t.words("reviewer_approved", user=f["approved_by"]))
    if f.get("pending_status"):
        parts.append(t.words("reviewer_pending",
                             status=t.label("status", str(f["pending_status"])),
                             user=f.get("pending_by") or ""))
    return "<br/>".join(parts) or t.words("reviewer_none")


def _records(ctx: _Ctx, f: Mapping[str, Any]) -> str:
    ids = [str(r) for r in f.get("record_ids") or []]
    cap = int(ctx.t.num("findings", "max_record_ids"))
    text = escape(", ".join(ids[:cap]))
    if len(ids) > cap:
        text += " " + ctx.t.words("records_more", more=f"{len(ids) - cap:,}")
    return text


def _finding_block(ctx: _Ctx, f: Mapping[str, Any], rule_severity: str) -> list[Any]:
    t = ctx.t
    severity = str(f.get("severity") or rule_severity)
    sev_colour = (t.colour("styles", "severity_colours", severity) if severity in SEVERITIES
                  else t.colour("styles", "colours", "accent"))
    title = Table([[ctx.p(t.words("finding_heading", id=f["id"]), "h3"),
                    ctx.p(escape(f"{t.label('severity', severity)} · "
                                 f"{t.label('status', str(f.get('status')))}"), "h3r")]],
                  colWidths=[ctx.width * 0.62, ctx.width * 0.38],
                  style=TableStyle([
                      ("FONT", (0, 0), (-1, -1), ctx.regular),
                      ("BACKGROUND", (0, 0), (-1, -1),
                       t.colour("styles", "colours", "finding_background")),
                      ("LINEBEFORE", (0, 0), (0, 0), 3, sev_colour),
                      ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                      ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                      ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    rows: list[tuple[str, Any]] = [
        (t.words("label_reason"), escape(f.get("message"))),
        (t.words("label_records"), _records(ctx, f)),
        (t.words("label_first"), escape(_when(f.get("first_ts")))),
        (t.words("label_decision"), _decision(ctx, f)),
        (t.words("label_reviewers"), _reviewers(ctx, f)),
    ]
    if f.get("assignee"):
        rows.append((t.words("label_assignee"), escape(f["assignee"])))
    notes = f.get("notes") or []
    if not notes:
        rows.append((t.words("label_notes"), t.words("notes_none")))
    for i, note in enumerate(notes):
        header = t.words("note_header", user=note.get("user"), time=_when(note.get("ts")))
        if note.get("refers_to"):
            header += " " + t.words("note_correction", ref=note["refers_to"])
        rows.append((t.words("label_notes") if i == 0 else "",
                     [ctx.p(header, "small"), ctx.p(escape(note.get("text")), "cell")]))
    table = ctx.kv(rows)
    return [KeepTogether([title, table]), Spacer(1, 4 * mm)]


def _brief_table(ctx: _Ctx, listed: Sequence[Mapping[str, Any]]) -> Any:
    t = ctx.t
    rows = [ctx.head_row(t.words("col_finding"), t.words("label_reason"),
                         t.words("col_decision"), t.words("col_reviewers"))]
    for f in listed:
        rows.append([ctx.p(ctx.mono_markup(f["id"], t.num("styles", "small_size") - 0.5), "cell"),
                     ctx.p(escape(f.get("message")), "cell"),
                     ctx.p(_decision(ctx, f), "cell"), ctx.p(_reviewers(ctx, f), "cell")])
    return ctx.table(rows, (0.24, 0.4, 0.14, 0.22), split_in_row=True)


def _detail(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry.get("reason"):
        parts.append(str(entry["reason"]))
    detail = entry.get("detail")
    if isinstance(detail, Mapping):
        parts += [f"{k}: {v if v is not None else '–'}" for k, v in detail.items()]
    return "; ".join(parts)


def _appendix(ctx: _Ctx, digest: str) -> list[Any]:
    t, d = ctx.t, ctx.data
    w = t.settings["wording"]
    out: list[Any] = [ctx.heading(t.words("title_appendix"), w["title_appendix"], 0, "h1"),
                      ctx.p(t.words("appendix_intro")),
                      ctx.heading(t.words("title_chain"), w["title_chain"], 1, "h2")]
    head = d.chain_head
    rows: list[tuple[str, Any]] = [
        (t.words("label_chain_seq"), escape(head.get("seq"))),
        (t.words("label_chain_hash"), ctx.mono_markup(head.get("hash")))]
    if head.get("workspace_id"):
        rows.append((t.words("label_workspace"), ctx.mono_markup(head["workspace_id"])))
    out.append(ctx.kv(rows))
    out.append(ctx.heading(t.words("title_decisions"), w["title_decisions"], 1, "h2"))
    decisions = sorted(((h, f["id"]) for f in d.findings for h in f.get("history") or []),
                       key=lambda x: (x[0].get("seq") or 0, x[1]))
    if not decisions:
        out.append(ctx.p(t.words("decisions_none")))
    else:
        cap = int(t.num("findings", "max_decisions"))
        table = [ctx.head_row(t.words("col_seq"), t.words("col_time"), t.words("col_user"),
                              t.words("col_finding"), t.words("col_action"),
                              t.words("col_change"), t.words("col_detail"))]
        for h, fid in decisions[:cap]:
            change = (f"{t.label('status', str(h.get('from') or '–'))} → "
                      f"{t.label('status', str(h['to']))}" if h.get("to") else "")
            table.append([ctx.p(escape(h.get("seq")), "cell"),
                          ctx.p(escape(_when(h.get("ts"))).replace(" ", "<br/>", 1), "cell"),
                          ctx.p(escape(h.get("user")), "cell"),
                          ctx.p(ctx.mono_markup(fid, t.num("styles", "small_size") - 0.5),
                                "cell"),
                          ctx.p(escape(h.get("action")), "cell"),
                          ctx.p(escape(change), "cell"), ctx.p(escape(_detail(h)), "cell")])
        out += [ctx.p(t.words("decisions_intro")),
                ctx.table(table, (0.05, 0.16, 0.13, 0.23, 0.08, 0.17, 0.18))]
        if len(decisions) > cap:
            out.append(ctx.p(t.words("decisions_more", more=f"{len(decisions) - cap:,}")))
    # The two lines a verifier checks: fixed wording, each on one line, the digest one token.
    size = t.num("styles", "base_size")
    label = "Manifest SHA-256: "
    avail = ctx.width - pdfmetrics.stringWidth(label, ctx.regular, size) - 4
    mono_size = min(size, avail / pdfmetrics.stringWidth(digest, ctx.mono, 1))
    out += [ctx.heading(t.words("title_manifest"), w["title_manifest"], 1, "h2"),
            ctx.p(t.words("manifest_intro")),
            KeepTogether([
                ctx.p(f"Findings in this report: {len(d.findings)}", "verify"),
                ctx.p(f"{label}{ctx.mono_markup(digest, round(mono_size - 0.05, 2))}",
                      "verify")])]
    return out


def _signature(ctx: _Ctx, sink: dict[str, Any]) -> list[Any]:
    t, d = ctx.t, ctx.data
    box = _SignatureBox(t.num("signature", "box_width_mm") * mm,
                        t.num("signature", "box_height_mm") * mm,
                        t.colour("styles", "colours", "rule"), sink)
    return [ctx.heading(t.words("title_signature"), t.settings["wording"]["title_signature"],
                        0, "h1"),
            ctx.p(t.words("signature_intro")),
            ctx.kv([(t.words("signature_author"), escape(d.author)),
                    (t.words("signature_date"), escape(_when(d.created_at)))], 0.22),
            Spacer(1, 10 * mm), ctx.p(t.words("signature_caption"), "label"),
            Spacer(1, 1.5 * mm), box]
