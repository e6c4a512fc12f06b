"""Page layout shared by every section: the build context, styles, tables, headings, the
running header and footer, the page total and the signature box."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from reportlab.lib import pagesizes  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.rl_accel import fp_str  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfgen import textobject  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.pdfgen.textobject import PDFTextObject  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    LongTable,
    PageTemplate,
    Table,
    TableStyle,
)
from reportlab.platypus.tables import LINECOMMANDS, CellStyle  # type: ignore[import-untyped]

from oversight.report import fonts
from oversight.report.data import ReportData
from oversight.report.templates import Template
from oversight.report.text import Para, escape, has_rtl, plain

__all__ = ["Context", "Heading", "KeepTables", "OnceLongTable", "OnceTable", "PageCanvas",
           "SignatureBox", "context", "document", "pagesize", "styled_table"]


@dataclass
class Context:
    """Everything one build shares: template, fonts, styles, data, outline keys, and
    what the sections hand back (the signature box) or need (progress, the digest)."""

    t: Template
    data: ReportData
    regular: str
    bold: str
    mono: str
    fallback: tuple[str, ...]
    styles: dict[str, Any]
    width: float
    logo: bytes
    classification: str
    digest: str = ""
    """The manifest's SHA-256, printed by the appendix."""
    report: Callable[[int, int, str], None] = lambda done, total, stage: None
    """Progress and cancellation (`build_pdf`'s `progress` and `cancel`)."""
    signature: dict[str, Any] = field(default_factory=dict)
    """Where the signature box landed: ``box`` (x1, y1, x2, y2) and ``page``."""
    keys: int = 0
    cells: dict[tuple[str, str, float], str | None] = field(default_factory=dict)
    """`cell_text`'s answers in this build, by markup, style name and width."""
    chrome: _Chrome | None = None
    """The running header's and footer's fixed parts (`_chrome`), once worked out."""

    def key(self) -> str:
        self.keys += 1
        return f"ow{self.keys}"

    def p(self, markup: str, style: str = "body") -> Any:
        return Para(markup, self.styles[style])

    def heading(self, markup: str, title: str, level: int, style: str) -> Any:
        return Heading(markup, self.styles[style], title, level, self.key())

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
        if len(rows) > 60:  # LongTable: faster for many rows
            return OnceLongTable(rows, colWidths=widths, repeatRows=1 if header else 0,
                             splitByRow=1, splitInRow=1 if split_in_row else 0,
                             style=TableStyle(style), hAlign="LEFT")
        return styled_table(rows, style, colWidths=widths, repeatRows=1 if header else 0,
                            splitByRow=1, splitInRow=1 if split_in_row else 0, hAlign="LEFT")

    def head_row(self, *markups: str) -> list[Any]:
        return [self.p(m, "th") for m in markups]

    def kv(self, rows: Sequence[tuple[str, Any]], label_fraction: float = 0.2) -> Any:
        widths = (self.width * label_fraction - 6, self.width * (1 - label_fraction) - 6)
        cells = [[self.cell(label, "label", widths[0]), value if not isinstance(value, str)
                  else self.cell(value, "cell", widths[1])] for label, value in rows]
        extra = [*self.string_style("label", (0, 0), (0, -1)),
                 *self.string_style("cell", (1, 0), (1, -1))]
        return self.table(cells, (label_fraction, 1 - label_fraction), header=False,
                          stripes=False, split_in_row=True, extra=extra)

    def cell(self, markup: str, style: str, width: float) -> Any:
        """A table cell: the text itself when it is one plain line that fits ``width`` in
        the style's own font (ReportLab draws such a cell as a string, several times
        faster than a paragraph; the table's style gives it the same font, size and
        colour), else a paragraph (wrapping, markup, fallback fonts, right-to-left)."""
        key = (markup, style, width)
        if key in self.cells:  # labels, statuses and dates repeat for every finding
            text = self.cells[key]
        else:
            text = self.cells[key] = cell_text(markup, self.styles[style], width)
        return self.p(markup, style) if text is None else text

    def mono_cell(self, value: object, width: float) -> Any:
        """An identifier in a table cell (style ``cell_mono``; its column needs
        `string_style` ``cell_mono``): the text itself when it is a plain line that fits,
        else a ``cell`` paragraph in the monospaced font at the same size."""
        style = self.styles["cell_mono"]
        text = cell_text(escape(value), style, width)
        return self.p(self.mono_markup(value, style.fontSize), "cell") if text is None else text

    def string_style(self, style: str, first: tuple[int, int],
                     last: tuple[int, int]) -> list[tuple[Any, ...]]:
        """TableStyle commands giving the string cells (`cell`) from ``first`` to ``last``
        the font, size, leading and colour of paragraph style ``style``."""
        st = self.styles[style]
        return [("FONT", first, last, st.fontName, st.fontSize, st.leading),
                ("TEXTCOLOR", first, last, st.textColor)]

    def runs(self, text: str, font: str | None = None) -> list[tuple[str, str]]:
        """Canvas text (already `plain`) cut into runs of the font and its fallbacks."""
        return fonts.fallback_runs(text, font or self.regular, self.fallback)


class OnceTable(Table):  # type: ignore[misc]
    """A table that measures its rows once per width.

    A table inside a keep-together block is wrapped twice (the block measures it, then
    the frame places it), and ReportLab's `Table` recomputes every row height each time.
    A table's row heights and column widths depend on the width only (the available
    height matters to `LongTable`, which stops measuring at the page's end), so a second
    wrap at the same width keeps the first answer. Split parts are new tables."""

    _cellStyles: list[list[Any]]
    _ow_measured_at: float | None = None
    _ow_shared = False
    """Its cell styles are shared with other tables of its kind (`styled_table`)."""

    def _calc(self, availWidth: float, availHeight: float) -> None:
        if availWidth == self._ow_measured_at:
            return
        super()._calc(availWidth, availHeight)
        self._ow_measured_at = availWidth

    def setStyle(self, tblstyle: Any) -> None:
        # ReportLab changes cell styles in place: a table whose styles are shared gets
        # its own copies first
        if self._ow_shared:
            self._cellStyles = [[_copy_style(cs) for cs in row] for row in self._cellStyles]
            self._ow_shared = False
        super().setStyle(tblstyle)


class OnceLongTable(LongTable):  # type: ignore[misc]
    """A long table that measures its rows once per width.

    At the foot of each page the frame measures the rest of a long table, finds it too
    tall and asks it to split at the same width, and ReportLab's split measures the same
    rows again (and where not even the header row fits, both happen again on the next
    page), every time every remaining row: ReportLab's `LongTable` stops measuring at
    the available height only when rows span. A measure that reached every row does not
    depend on the height and is kept for any height at that width; one that stopped
    short is kept only for the same width and height. The parts of a split are new
    tables, measured afresh."""

    _ow_measured_for: tuple[float, float] | None = None
    _ow_complete_at: float | None = None
    """The width of the last measure, when it measured every row."""

    def _calc(self, availWidth: float, availHeight: float) -> None:
        if availWidth == self._ow_complete_at \
                or (availWidth, availHeight) == self._ow_measured_for:
            return
        super()._calc(availWidth, availHeight)
        self._ow_measured_for = (availWidth, availHeight)
        heights: list[float | None] = self._rowHeights
        self._ow_complete_at = availWidth if None not in heights else None


class KeepTables(KeepTogether):  # type: ignore[misc]
    """ReportLab's keep-together block, for tables only.

    While measuring its content, ReportLab's block deep-copies the document's whole
    frame, so that a flowable which adds content to the frame as it is measured (a
    conditional page break) adds it to the copy. A table adds nothing, so a block of
    tables is measured against no frame (ReportLab then makes no copy); the measures are
    the same. Anything else in the block is measured ReportLab's way."""

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:
        doc = getattr(self.canv, "_doctemplate", None)
        if doc is None or not all(isinstance(f, Table) for f in self._content):
            return tuple(super().wrap(aW, aH))
        frame = doc.frame
        doc.frame = None
        try:
            return tuple(super().wrap(aW, aH))
        finally:
            doc.frame = frame


_NOT_PER_CELL = frozenset(("BACKGROUND", "ROWBACKGROUNDS", "COLBACKGROUNDS", "SPAN",
                           "NOSPLIT", "ROUNDEDCORNERS", *LINECOMMANDS))
_CELL_STYLES: dict[tuple[int, int, str], tuple[bool, list[list[Any]]]] = {}
"""Each cell's style by table shape and per-cell style commands, as ReportLab worked
them out for the first table of that kind: whether tables of the kind may share them,
and the shared `CellStyle`s (one object for cells of equal style) or, if not, their
attributes to copy."""
_CELL_STYLES_MAX = 256


def _copy_style(cell: Any) -> Any:
    copy = CellStyle.__new__(CellStyle)
    copy.__dict__.update(cell.__dict__)
    return copy


def _shareable(commands: Sequence[tuple[Any, ...]], styles: list[list[Any]]) -> bool:
    """Whether ReportLab leaves a table's cell styles as they are while it lays the table
    out: it changes them in place only for commands on the rows of a split
    (``splitfirst``, ``inrowsplitstart``, ...), applied when the table splits, and for a
    cell aligned to the middle that splits inside its row (`OnceTable.setStyle` copies
    them before a later style command)."""
    return not any(isinstance(c[1][1], str) or isinstance(c[2][1], str)
                   for c in commands if len(c) > 2 and isinstance(c[1], tuple)) \
        and all(cs.valign != "MIDDLE" for row in styles for cs in row)


def _shared_styles(styles: list[list[Any]]) -> list[list[Any]]:
    """Copies of ``styles`` in which cells of equal style share one `CellStyle` (its
    name, which ReportLab never reads, aside): drawing a cell in the style of the cell
    before, ReportLab then skips comparing the two (it sets the font and colour only when
    they differ, so what it writes is the same)."""
    distinct: list[tuple[dict[str, Any], Any]] = []
    out = []
    for row in styles:
        shared = []
        for cs in row:
            attrs = {k: v for k, v in cs.__dict__.items() if k != "name"}
            obj = next((o for seen, o in distinct if seen == attrs), None)
            if obj is None:
                obj = _copy_style(cs)
                distinct.append((attrs, obj))
            shared.append(obj)
        out.append(shared)
    return out


def _per_cell(command: tuple[Any, ...]) -> bool:
    """Whether ReportLab applies a style command to each cell's `CellStyle` at once
    (font, colour, padding, alignment), rather than keeping it for drawing (lines,
    backgrounds, spans) or for a split (the special rows ``splitfirst``/``splitlast``)."""
    return command[0] not in _NOT_PER_CELL and not isinstance(command[1][1], str) \
        and not isinstance(command[2][1], str)


def styled_table(rows: list[list[Any]], commands: Sequence[tuple[Any, ...]],
                 **kwargs: Any) -> OnceTable:
    """An `OnceTable` of ``rows`` styled by ``commands``.

    ReportLab applies the per-cell commands of a table style cell by cell each time a
    table is made (a thousand findings make a thousand tables of the same shape and
    style); here the resulting cell styles are worked out once per shape and style and
    each further table gets them, then only the commands ReportLab keeps for drawing
    (lines, backgrounds) are given as its style. Tables whose cell styles ReportLab never
    changes once made (`_shareable`) share one set; the others get their own copy."""
    per_cell = [c for c in commands if _per_cell(c)]
    key = (len(rows), max(len(r) for r in rows), repr(per_cell))
    proto = _CELL_STYLES.get(key)
    if proto is None:
        table = OnceTable(rows, style=TableStyle(list(commands)), **kwargs)
        if len(_CELL_STYLES) >= _CELL_STYLES_MAX:
            _CELL_STYLES.clear()
        made = table._cellStyles
        _CELL_STYLES[key] = (True, _shared_styles(made)) if _shareable(commands, made) \
            else (False, [[dict(cs.__dict__) for cs in row] for row in made])
        return table
    shared, found = proto
    if shared:
        styles = [list(row) for row in found]
    else:
        styles = []
        for row in found:
            copies = []
            for attrs in row:
                cell = CellStyle.__new__(CellStyle)
                cell.__dict__.update(attrs)
                copies.append(cell)
            styles.append(copies)
    table = OnceTable(rows, style=TableStyle([c for c in commands if not _per_cell(c)]),
                      cellStyles=styles, **kwargs)
    table._ow_shared = shared
    return table


class Heading(Para):
    """A heading that adds itself to the PDF outline where it is drawn."""

    def __init__(self, markup: str, style: Any, title: str, level: int, key: str) -> None:
        super().__init__(markup, style)
        self._outline = (title, level, key)

    def draw(self) -> None:
        super().draw()
        title, level, key = self._outline
        self.canv.bookmarkHorizontal(key, 0, self.height + 4)
        self.canv.addOutlineEntry(title, key, level=level, closed=level > 0)


class SignatureBox(Flowable):  # type: ignore[misc]
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


class _Text(PDFTextObject):  # type: ignore[misc]
    """ReportLab's text object, whose text operators for a piece of text are worked out
    once per document and font state (`PageCanvas`)."""

    _curSubset: int

    def _formatText(self, text: Any) -> str:
        memo: dict[tuple[Any, ...], tuple[str, int]] | None = getattr(
            self._canvas, "ow_text_memo", None)
        if memo is None or type(text) is not str:  # shaped text carries its glyph data
            return str(super()._formatText(text))
        key = (text, self._fontname, self._fontsize, self._leading, self._curSubset,
               self._rise)
        hit = memo.get(key)
        if hit is not None:
            self._curSubset = hit[1]
            return hit[0]
        code = str(super()._formatText(text))
        if len(memo) >= _TEXT_MEMO_MAX:
            memo.clear()
        memo[key] = (code, self._curSubset)
        return code


_TEXT_MEMO_MAX = 100_000


class PageCanvas(Canvas):  # type: ignore[misc]
    """Writes the page total ("of Y") once it is known, as a form every page refers to,
    and works out the text operators of a piece of text once.

    A report draws the same text thousands of times (labels, statuses, reviewers, dates)
    and ReportLab encodes it character by character into the embedded font subsets on
    each draw. Once a text's characters have their codes in this document's subsets the
    encoding never changes, so the operators ReportLab wrote the first time (for the same
    font, size, leading and current subset) are the ones it would write again: they are
    kept by text and reused (``ow_text_memo``; a new canvas, a new document, starts
    empty)."""

    TOTAL_FORM = "owPageTotal"

    def __init__(self, *args: Any, ow_font: str = "", ow_size: float = 7,
                 ow_suffix: str = "", ow_colour: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ow = (ow_font, ow_size, ow_suffix, ow_colour)
        self.ow_pages = 0
        self.ow_text_memo: dict[tuple[Any, ...], tuple[str, int]] = {}

    def beginText(self, x: float = 0, y: float = 0, direction: Any = None) -> Any:
        return _Text(self, x, y, direction=direction)

    def drawString(self, x: float, y: float, text: Any, mode: Any = None,
                   charSpace: float = 0, direction: Any = None, wordSpace: Any = None,
                   shaping: bool = False) -> None:
        # A text drawn before in the same font state: the operators ReportLab's
        # drawString writes (a text object at x, y holding the text's line), without
        # making the text object again. Anything else goes through ReportLab.
        memo = self.ow_text_memo
        if memo is not None and type(text) is str and mode is None and not charSpace \
                and direction is None and not wordSpace and not shaping and self.bottomup \
                and not textobject.rtlSupport:
            hit = memo.get((text, self._fontname, self._fontsize, self._leading, -1, 0))
            if hit is not None:
                self._code.append(f"BT 1 0 0 1 {fp_str(x, y)} Tm {hit[0]} T* ET")
                return
        super().drawString(x, y, text, mode, charSpace, direction, wordSpace, shaping)

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


def context(t: Template, data: ReportData) -> Context:
    """Register the template's fonts and make its paragraph styles."""
    regular = fonts.register(t.get("fonts", "regular"), partial(t.asset, t.get("fonts",
                                                                               "regular")))
    bold = fonts.register(t.get("fonts", "bold"), partial(t.asset, t.get("fonts", "bold")))
    mono = fonts.register(t.get("fonts", "mono"), partial(t.asset, t.get("fonts", "mono")))
    fallback = tuple(fonts.register(path, partial(t.asset, path))
                     for path in t.get("fonts", "fallback"))
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
        return ParagraphStyle(f"ow-{name}", fallbackFonts=fallback, **kw)

    styles = {
        "body": style("body", spaceAfter=size * 0.6),
        "muted": style("muted", textColor=muted, spaceAfter=size * 0.6),
        "small": style("small", fontSize=small, textColor=muted),
        "cell": style("cell", fontSize=small + 0.5),
        # an identifier in a table cell: the cell's line height, monospaced and smaller
        "cell_mono": style("cell_mono", fontSize=small - 0.5, fontName=mono,
                           leading=(small + 0.5) * lead),
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
    width = (pagesize(t)[0] - (t.num("page", "margin_left_mm")
                               + t.num("page", "margin_right_mm")) * mm)
    classification = data.classification or t.get("classification", "default")
    return Context(t=t, data=data, regular=regular, bold=bold, mono=mono, fallback=fallback,
                   styles=styles, width=width, logo=t.asset(t.get("logo", "file")),
                   classification=str(classification))


def cell_text(markup: str, style: Any, width: float) -> str | None:
    """``markup`` as a plain string when a string cell draws it exactly as a paragraph
    of ``style`` would: no tags, one line, every character in the style's font, no
    right-to-left text, and narrower than ``width``; else None."""
    if "<" in markup or not markup or markup.isspace():
        return None
    text = html.unescape(markup) if "&" in markup else markup
    font = style.fontName
    if text != text.strip() or "  " in text or has_rtl(text) \
            or not all(fonts.covers(font, ch) for ch in text if not ch.isascii()):
        return None
    if pdfmetrics.stringWidth(text, font, style.fontSize) > width:
        return None
    return text


def pagesize(t: Template) -> tuple[float, float]:
    size = {"A4": pagesizes.A4, "A3": pagesizes.A3, "letter": pagesizes.LETTER,
            "legal": pagesizes.LEGAL}[t.get("page", "size")]
    if t.get("page", "orientation") == "landscape":
        return tuple(pagesizes.landscape(size))
    return tuple(pagesizes.portrait(size))


def document(ctx: Context, buf: io.BytesIO) -> Any:
    t, data = ctx.t, ctx.data
    size = pagesize(t)
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


@dataclass(frozen=True)
class _Chrome:
    """What the running header and footer draw on every page, worked out once a build."""

    page_w: float
    page_h: float
    left: float
    right: float
    small: float
    muted: Any
    rule: Any
    header_y: float
    logo_h: float
    title_runs: list[tuple[str, str]]
    banner_runs: list[tuple[str, str]]
    banner_w: float
    line_y: float
    foot_line: float
    foot_y: float
    page_label: str
    report_id: str


LOGO_FORM = "owLogo"
"""The header's logo, drawn once into a form that every page shows (ReportLab would
otherwise hash the image's pixels again on each page to find it)."""


def _chrome(ctx: Context) -> _Chrome:
    got = ctx.chrome
    if got is not None:
        return got
    t = ctx.t
    page_w, page_h = pagesize(t)
    left, right = t.num("page", "margin_left_mm") * mm, t.num("page", "margin_right_mm") * mm
    small = t.num("styles", "small_size")
    header_y = page_h - 9 * mm
    logo_h = t.num("logo", "header_height_mm") * mm
    size = small + 0.5
    banner_runs = ctx.runs(_fit(ctx, plain(ctx.classification), ctx.bold, size, 90 * mm),
                           ctx.bold)
    banner_w = fonts.runs_width(banner_runs, size) + 8
    title = plain(t.settings["wording"]["running_header"].replace(
        "{title}", ctx.data.title).replace("{body}", ctx.data.body))
    avail = page_w - left - right - banner_w - logo_h - 8 * mm
    foot_line = t.num("page", "margin_bottom_mm") * mm - 5 * mm
    ctx.chrome = _Chrome(
        page_w=page_w, page_h=page_h, left=left, right=right, small=small,
        muted=t.colour("styles", "colours", "muted"),
        rule=t.colour("styles", "colours", "rule"), header_y=header_y, logo_h=logo_h,
        title_runs=ctx.runs(_fit(ctx, title, ctx.regular, size, avail)),
        banner_runs=banner_runs, banner_w=banner_w,
        line_y=page_h - t.num("page", "margin_top_mm") * mm + 4 * mm,
        foot_line=foot_line, foot_y=foot_line - 5 * mm,
        page_label=t.settings["wording"]["page_number"],
        report_id=plain(ctx.data.report_id))
    return ctx.chrome


def _decorate(ctx: Context, logo: Any, cover: bool, canv: Any, doc: Any) -> None:
    """Running header and footer: classification marking top and bottom of every page."""
    c = _chrome(ctx)
    small, muted = c.small, c.muted
    canv.saveState()
    _banner(ctx, canv, c.page_w - c.right, c.header_y, align="right")
    if not cover:
        if not getattr(canv, "ow_logo_form", False):
            canv.beginForm(LOGO_FORM)
            canv.drawImage(logo, c.left, c.header_y - c.logo_h * 0.3, c.logo_h, c.logo_h,
                           mask="auto")
            canv.endForm()
            canv.ow_logo_form = True
        canv.doForm(LOGO_FORM)
        runs = c.title_runs
        canv.setFont(runs[0][1], small + 0.5)
        canv.setFillColor(muted)
        fonts.draw_runs(canv, c.left + c.logo_h + 2.5 * mm, c.header_y + 0.5, runs,
                        small + 0.5, font_set=True)
    canv.setStrokeColor(c.rule)
    canv.setLineWidth(0.5)
    canv.line(c.left, c.line_y, c.page_w - c.right, c.line_y)
    canv.line(c.left, c.foot_line, c.page_w - c.right, c.foot_line)
    _banner(ctx, canv, c.page_w / 2, c.foot_y, align="centre")
    canv.setFont(ctx.regular, small)
    canv.setFillColor(muted)
    prefix = plain(c.page_label.split("{pages}", 1)[0].replace(
        "{page}", str(canv.getPageNumber())))
    canv.drawString(c.left, c.foot_y, prefix)
    canv.saveState()
    canv.translate(c.left + pdfmetrics.stringWidth(prefix, ctx.regular, small), c.foot_y)
    canv.doForm(PageCanvas.TOTAL_FORM)
    canv.restoreState()
    canv.setFont(ctx.mono, small)
    canv.drawRightString(c.page_w - c.right, c.foot_y, c.report_id)
    canv.restoreState()


def _banner(ctx: Context, canv: Any, x: float, y: float, align: str) -> float:
    """The classification marking in a coloured box; returns its width."""
    c = _chrome(ctx)
    size = c.small + 0.5
    width = c.banner_w
    x0 = x - width if align == "right" else x - width / 2
    canv.setFillColor(ctx.t.colour("classification", "background"))
    canv.rect(x0, y - 2.5, width, size + 4.5, stroke=0, fill=1)
    canv.setFillColor(ctx.t.colour("classification", "text"))
    fonts.draw_runs(canv, x0 + 4, y, c.banner_runs, size)
    return float(width)


def _fit(ctx: Context, text: str, font: str, size: float, width: float) -> str:
    def measure(s: str) -> float:
        return fonts.runs_width(ctx.runs(s, font), size)

    if measure(text) <= width:
        return text
    while text and measure(text + "…") > width:
        text = text[:-1]
    return text + "…"

