"""User text on the report's pages: escaping, scripts, right-to-left lines, paragraphs.

Three rules hold for every piece of user text (titles, names, file names, rule texts,
messages, notes):

- It reaches ReportLab markup only through `escape`, so ``<b>`` or ``<a href=x>`` in a
  note print as written and never become bold text or a link.
- Arabic letters are given their joined forms by `arabic-reshaper` (Arabic Presentation
  Forms, since the PDF is drawn glyph by glyph without a shaping engine).
- Directional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are
  printed as their codes ("[U+202E]") and never obeyed (`oversight.visible`), so no
  text reads otherwise than its letters were written.
- Right-to-left text is put in visual order by the Unicode Bidirectional Algorithm
  (UAX #9, `python-bidi`) *after* lines are broken, line by line, as the algorithm
  requires: `Para` breaks a paragraph in logical order and reorders each line when it is
  drawn, so a right-to-left paragraph that wraps reads top to bottom in the right order.
  Text drawn directly on the canvas (running header, banners, chart labels) is one line
  and goes through `plain`.

`Para` also draws each character its font lacks in a fallback font (`fonts`), and wraps a
paragraph only once per width (tables and keep-together blocks ask several times).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime
from typing import Any

import arabic_reshaper  # type: ignore[import-untyped]
from bidi import algorithm as uax9  # type: ignore[import-untyped]
from bidi import get_base_level, get_display
from reportlab.lib.enums import TA_LEFT, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph  # type: ignore[import-untyped]
from reportlab.platypus.paragraph import FragLine  # type: ignore[import-untyped]

from oversight.report.fonts import fallback_runs
from oversight.visible import show_directional

__all__ = ["Markup", "Para", "day", "escape", "forget_texts", "has_rtl", "integer", "plain",
           "visual", "when"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_RTL = re.compile("[\u0590-\u08ff\u200f\ufb1d-\ufdff\ufe70-\ufefe"
                  "\U00010800-\U00010fff\U0001e800-\U0001efff]")
# Presentation forms the fonts have: lam-alef yes; the "Allah" ligature (U+FDF2) not in
# DejaVu, and harakat are user text too (a name's vowels are kept, never deleted).
_RESHAPER = arabic_reshaper.ArabicReshaper(configuration={
    "delete_harakat": False, "support_ligatures": True, "ARABIC LIGATURE ALLAH": False})


class Markup(str):
    """Text that is already ReportLab markup (the result of `escape`)."""


def escape(value: object) -> str:
    """The one way user text reaches ReportLab markup: it prints literally.

    ``&``, ``<``, ``>`` and ``"`` become entities, so ``<b>`` or ``<a href=x>`` in a note
    print as written and never become bold text or a link; characters XML cannot hold
    become U+FFFD; line breaks are kept; Arabic letters are joined. The text stays in
    logical order (`Para` orders right-to-left lines when it draws them). Escaping twice
    is harmless: the result of `escape` is returned unchanged.
    """
    if isinstance(value, Markup):
        return value
    return _escape_text("" if value is None else str(value))


@functools.lru_cache(maxsize=16384)
def _escape_text(text: str) -> Markup:
    """`escape` of a text; kept for the texts a report repeats (labels, wording, names,
    statuses, dates: a thousand findings escape the same few thousands of times)."""
    lines = _clean(text).split("\n")
    return Markup("<br/>".join(
        line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;") for line in lines))


def _clean(value: object) -> str:
    """User text with controls replaced, line ends unified and Arabic letters joined."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("\ufffd", text)
    text = show_directional(text)
    return _RESHAPER.reshape(text) if _ARABIC.search(text) else text


def has_rtl(text: str) -> bool:
    """Whether ``text`` holds right-to-left letters (or controls)."""
    return _RTL.search(text) is not None


def plain(value: object) -> str:
    """User text for the canvas (no markup): cleaned, each line in visual order."""
    return "\n".join(visual(line) for line in _clean(value).split("\n"))


def visual(line: str) -> str:
    """One line in visual (drawing) order, its direction found from its first letter."""
    if not _RTL.search(line):
        return line
    base = get_base_level(line)
    return "".join(ch for _, ch in _line_order(_resolve(line, base), base))


# -- the bidirectional algorithm, line by line ---------------------------------------------
#
# UAX #9 resolves embedding levels over a whole paragraph (rules P to I) but reorders
# each *line* on its own (rules L1 to L4), after the paragraph is broken into lines.
# python-bidi does both halves: its Rust implementation (current UAX #9, with bracket
# pairs) returns the resolved levels when asked (``debug=True``, "return the calculated
# levels"), and its step-by-step `bidi.algorithm` applies L1, L2 and L4 to one line's
# characters. Only L3 (marks after their letter) is done here.

_LEVEL = re.compile(r"Level\(\s*(\d+),?\s*\)")


def _resolve(text: str, base: int) -> list[dict[str, Any]]:
    """The paragraph's characters with their resolved embedding levels, as python-bidi's
    `bidi.algorithm` holds them (``ch``, ``level``, ``orig``: the bidi class) plus ``at``,
    the index in ``text``; ``base`` is the paragraph level (0 left-to-right, 1 right-to-
    left). python-bidi's debug answer lists the levels one per UTF-8 byte."""
    info = str(get_display(text, base_dir="R" if base % 2 else "L", debug=True))
    listed = info.split("levels:", 1)[1].split("paragraphs:", 1)[0] if "levels:" in info else ""
    per_byte = [int(n) for n in _LEVEL.findall(listed)]
    chars: list[dict[str, Any]] = []
    offset = 0
    for at, ch in enumerate(text):
        if offset >= len(per_byte):
            break
        kind = unicodedata.bidirectional(ch)
        chars.append({"ch": ch, "level": per_byte[offset], "type": kind, "orig": kind,
                      "at": at})
        offset += len(ch.encode("utf-8"))
    if len(chars) != len(text) or offset != len(per_byte):  # pragma: no cover - new python-bidi
        raise RuntimeError("python-bidi reported the embedding levels in an unknown form.")
    return chars


def _line_order(chars: list[dict[str, Any]], base: int) -> list[tuple[int, str]]:
    """One line's resolved characters (from `_resolve`) in visual order, as (index,
    character drawn): python-bidi's rules L1 (trailing white space at the base level), L2 (reversing
    runs) and L4 (mirrored brackets), then L3: a right-to-left letter's combining marks
    are drawn after it, as fonts without a shaping engine expect."""
    storage = uax9.get_empty_storage()
    storage["base_level"], storage["base_dir"] = base, ("L", "R")[base % 2]
    storage["chars"] = [dict(char) for char in chars]  # L1 changes levels: per line
    uax9.reorder_resolved_levels(storage, False)
    uax9.apply_mirroring(storage, False)
    order: list[dict[str, Any]] = storage["chars"]
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and unicodedata.combining(order[j]["ch"]) \
                and order[j]["level"] % 2:
            j += 1
        if i < j < len(order):
            order[i:j + 1] = order[i:j + 1][::-1]
            i = j + 1
        else:
            i += 1
    return [(char["at"], char["ch"]) for char in order]


def _visual_lines(lines: list[Any]) -> tuple[list[Any], int]:
    """A paragraph's broken lines (ReportLab's, logical order) in visual order.

    Lines are grouped into bidi paragraphs (a forced line break ends one); each group's
    levels are resolved over its whole text (lines joined by the space the break took),
    then each line is reordered on its own. Returns the lines and the base level of the
    first group (the paragraph's direction, for its alignment)."""
    out: list[Any] = []
    first: int | None = None
    group: list[Any] = []
    for n, line in enumerate(lines):
        group.append(line)
        ends = isinstance(line, FragLine) and getattr(line, "lineBreak", False)
        if ends or n == len(lines) - 1:
            done, base = _visual_group(group)
            out += done
            first = base if first is None else first
            group = []
    return out, first or 0


def _line_units(line: Any) -> list[tuple[str, Any]] | None:
    """(character, fragment) pairs of a line; None when it holds more than text."""
    if isinstance(line, FragLine):
        units: list[tuple[str, Any]] = []
        for frag in line.words:
            if hasattr(frag, "cbDefn") or not isinstance(getattr(frag, "text", None), str):
                return None
            units += [(ch, frag) for ch in frag.text]
        return units
    return [(ch, None) for ch in " ".join(line[1])]


def _visual_group(lines: list[Any]) -> tuple[list[Any], int]:
    units = [_line_units(line) for line in lines]
    text = " ".join("".join(ch for ch, _ in u or ()) for u in units)
    base = get_base_level(text)
    if not _RTL.search(text) or any(u is None for u in units):
        return lines, base
    chars = _resolve(text, base)
    out: list[Any] = []
    start = 0
    for line, line_units in zip(lines, units, strict=True):
        assert line_units is not None
        count = len(line_units)
        own = [c for c in chars if start <= c["at"] < start + count]
        line_order = [(at - start, ch) for at, ch in _line_order(own, base)]
        start += count + 1  # the space the line break took
        if isinstance(line, FragLine):
            frags: list[Any] = []
            for at, ch in line_order:
                frag = line_units[at][1]
                if frags and frags[-1][1] is frag:
                    frags[-1][0].append(ch)
                else:
                    frags.append(([ch], frag))
            copy = FragLine(**line.__dict__)
            copy.words = [frag.clone(text="".join(letters)) for letters, frag in frags]
            out.append(copy)
        else:
            shown = "".join(ch for _, ch in line_order)
            out.append((line[0], shown.split(" ")))
    return out, base


# -- paragraphs -----------------------------------------------------------------------------

_MIRRORED_STYLES: dict[int, Any] = {}
_PARSED: dict[tuple[str, int], tuple[Any, Any, list[Any], bool]] = {}
"""Parsed paragraphs by (markup, id(style)): the style (to check the id still names it),
the parsed style, the fragments (never changed after parsing: ReportLab's line breaking
and splitting clone them) and whether they hold right-to-left text."""
_PARSED_MAX = 4096


def forget_texts() -> None:
    """Drop the texts kept for reuse (escaped texts and parsed paragraphs): they hold
    the report's findings, notes and names, which are not to outlive its build in the
    process (a locked workstation keeps no workspace data)."""
    _PARSED.clear()
    _escape_text.cache_clear()


class Para(Paragraph):  # type: ignore[misc]
    """A ReportLab paragraph that draws right-to-left lines in visual order, draws
    characters its font lacks in the style's fallback fonts (``fallbackFonts``), and
    breaks its lines only once per width."""

    style: Any
    frags: list[Any]
    blPara: Any

    def __init__(self, text: Any, style: Any = None, bulletText: Any = None,
                 frags: Any = None, caseSensitive: int = 1, encoding: str = "utf8") -> None:
        # A report repeats the same markup in the same style thousands of times (labels,
        # statuses, reviewers); it is parsed and cut into font runs once.
        key = (text, id(style)) if frags is None and bulletText is None \
            and isinstance(text, str) and style is not None else None
        hit = _PARSED.get(key) if key is not None else None
        if hit is not None and hit[0] is style:
            super().__init__(text, hit[1], frags=hit[2], caseSensitive=caseSensitive,
                             encoding=encoding)
            self._rtl: bool = hit[3]
        else:
            super().__init__(text, style, bulletText=bulletText, frags=frags,
                             caseSensitive=caseSensitive, encoding=encoding)
            fallbacks = getattr(self.style, "fallbackFonts", ())
            if fallbacks:
                self.frags = _with_fallback(self.frags, fallbacks)
            self._rtl = any(_RTL.search(getattr(f, "text", "") or "") for f in self.frags)
            if key is not None:
                if len(_PARSED) >= _PARSED_MAX:
                    _PARSED.clear()
                _PARSED[key] = (style, self.style, self.frags, self._rtl)
        self._wrapped_at: float | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        # The lines depend on the width only; a table or a keep-together block asks the
        # same paragraph several times.
        if availWidth == self._wrapped_at and getattr(self, "blPara", None) is not None:
            return self.width, self.height
        self._wrapped_at = None
        width, height = super().wrap(availWidth, availHeight)
        self._wrapped_at = availWidth
        return width, height

    def split(self, availWidth: float, availHeight: float) -> list[Any]:
        self._wrapped_at = None  # split may drop or replace the broken lines
        return list(super().split(availWidth, availHeight))

    def drawPara(self, debug: int = 0) -> None:
        if not self._rtl:
            super().drawPara(debug)
            return
        logical, style = self.blPara, self.style
        lines, base = _visual_lines(list(logical.lines))
        shown = logical.clone(lines=lines) if hasattr(logical, "clone") else logical
        if base % 2 and style.alignment in (TA_LEFT, TA_RIGHT):
            self.style = _mirrored(style)
        self.blPara = shown
        try:
            super().drawPara(debug)
        finally:
            self.blPara, self.style = logical, style


def _mirrored(style: Any) -> Any:
    """The style with left and right alignment swapped (a right-to-left paragraph)."""
    got = _MIRRORED_STYLES.get(id(style))
    if got is None or got[0] is not style:
        copy = ParagraphStyle(f"{style.name}-rtl", parent=style,
                              alignment=TA_RIGHT if style.alignment == TA_LEFT else TA_LEFT)
        got = (style, copy)
        _MIRRORED_STYLES[id(style)] = got
    return got[1]


def _with_fallback(frags: list[Any], fallbacks: tuple[str, ...]) -> list[Any]:
    out: list[Any] = []
    changed = False
    for frag in frags:
        text = getattr(frag, "text", None)
        if not isinstance(text, str) or hasattr(frag, "cbDefn") or text.isascii():
            out.append(frag)
            continue
        runs = fallback_runs(text, frag.fontName, fallbacks)
        if len(runs) == 1 and runs[0] == (text, frag.fontName):
            out.append(frag)
            continue
        changed = True
        out += [frag.clone(text=t, fontName=f) for t, f in runs]
    return out if changed else frags


# -- values as text -----------------------------------------------------------------------


def when(ts: object) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM:SS+HH:MM`` (as stored when it is not ISO)."""
    if not ts:
        return ""
    try:
        return datetime.fromisoformat(str(ts)).isoformat(sep=" ", timespec="seconds")
    except ValueError:
        return str(ts)


def day(ts: object) -> str:
    return when(ts)[:10]


def integer(value: object) -> str:
    """A count with thousands separators; anything else as it is ("" for nothing)."""
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))
