"""Fonts of the report: TrueType files registered once, and fallback fonts per character.

The template names a regular, a bold and a monospace font (DejaVu) and a list of
fallback fonts (Noto Emoji, Noto Sans Symbols 2, ...). A character the font of its run
lacks (an emoji, a rare symbol) is drawn in the first fallback font that has it, so
the page shows what was written instead of an empty box; `fallback_runs` cuts text
into such runs, for paragraphs (`oversight.report.text.Para`) and for lines drawn on
the canvas (`draw_runs`).

ReportLab writes each embedded subset's ToUnicode map with four hex digits per
character, which is wrong for characters beyond U+FFFF: U+1F600 became ``<1F600>``
and text extraction read U+1F60 ("ὠ"). `_to_unicode_cmap` writes those as UTF-16
surrogate pairs, as the PDF specification asks, and leaves every other map as it was.
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from reportlab.pdfbase import pdfmetrics, ttfonts  # type: ignore[import-untyped]

__all__ = ["covers", "draw_runs", "fallback_runs", "register", "runs_width"]

_LOCK = threading.Lock()
_COVERAGE: dict[str, frozenset[int]] = {}


def register(path: str, data: Callable[[], bytes]) -> str:
    """Register a TrueType file once (``data`` reads it); return its ReportLab name."""
    name = "OW-" + re.sub(r"[^A-Za-z0-9-]", "", path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    with _LOCK:
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(ttfonts.TTFont(name, io.BytesIO(data())))
    return name


def _coverage(font: str) -> frozenset[int]:
    have = _COVERAGE.get(font)
    if have is None:
        face = getattr(pdfmetrics.getFont(font), "face", None)
        have = frozenset(getattr(face, "charToGlyph", {}) or ())
        _COVERAGE[font] = have
    return have


def covers(font: str, ch: str) -> bool:
    """Whether the registered TrueType font ``font`` has a glyph for ``ch``."""
    return ord(ch) in _coverage(font)


def fallback_runs(text: str, font: str, fallbacks: Sequence[str]) -> list[tuple[str, str]]:
    """``text`` cut into (text, font) runs: each character in ``font`` when it has it,
    else in the first of ``fallbacks`` that has it. A character no font has stays in
    ``font`` (it keeps its code, so it is still extracted as written); an Arabic
    presentation form the font lacks is replaced by its plain letter, which it has."""
    if text.isascii() or not fallbacks:
        return [(text, font)]
    main = _coverage(font)
    runs: list[tuple[str, str]] = []
    for ch in text:
        use = font
        if _ignorable(ch):
            use = runs[-1][1] if runs else font
        elif ord(ch) not in main:
            use = next((f for f in fallbacks if ord(ch) in _coverage(f)), font)
            if use == font:
                plain = unicodedata.normalize("NFKC", ch)
                if plain != ch and all(ord(c) in main for c in plain):
                    ch = plain
        if runs and runs[-1][1] == use:
            runs[-1] = (runs[-1][0] + ch, use)
        else:
            runs.append((ch, use))
    return runs


def _ignorable(ch: str) -> bool:
    """Joiners, variation selectors and the like: they draw nothing and stay with
    their neighbours' run."""
    return (unicodedata.category(ch) in ("Cf", "Mn") and not unicodedata.combining(ch)) \
        or 0xFE00 <= ord(ch) <= 0xFE0F


def runs_width(runs: Iterable[tuple[str, str]], size: float) -> float:
    return float(sum(pdfmetrics.stringWidth(t, f, size) for t, f in runs))


def draw_runs(canv: Any, x: float, y: float, runs: Iterable[tuple[str, str]],
              size: float, font_set: bool = False) -> None:
    """Draw runs one after the other from ``x`` (the canvas keeps its fill colour);
    ``font_set``: the caller has already set the first run's font."""
    for n, (text, font) in enumerate(runs):
        if n or not font_set:
            canv.setFont(font, size)
        canv.drawString(x, y, text)
        x += pdfmetrics.stringWidth(text, font, size)


_original_cmap: Callable[[str, Sequence[int]], str] = ttfonts.makeToUnicodeCMap


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """ReportLab's ToUnicode CMap, with characters beyond the BMP as surrogate pairs."""
    cmap = _original_cmap(fontname, subset)
    if all(code <= 0xFFFF for code in subset):
        return cmap
    for i, code in enumerate(subset):
        if code > 0xFFFF:
            units = chr(code).encode("utf-16-be").hex().upper()
            cmap = cmap.replace(f"<{i:02X}> <{code:04X}>", f"<{i:02X}> <{units}>", 1)
    return cmap


if getattr(ttfonts.makeToUnicodeCMap, "__name__", "") != _to_unicode_cmap.__name__:
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
