"""Text on the report's pages as a reader gets it back: right-to-left paragraphs that wrap,
emoji and symbols the main font lacks, and templates whose mistakes are named by file,
line and column.

PDFs are read back with poppler's pdftotext (as a reader would); pdftotext puts each
right-to-left line back into logical order, so a paragraph whose lines were reordered
as a whole (instead of line by line) comes back with its lines in the wrong order.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from test_report_build import finding, small_data
from tools import require

from oversight.errors import ValidationError
from oversight.report.build import build_pdf, load_template
from oversight.report.text import visual

# Paragraphs long enough to wrap onto at least three lines in the findings table.
HEBREW = ("הדוח הזה נכתב בשביל הבודקים ומתאר את כל הממצאים שנמצאו ביומן הפעולות של המשטרה "
          "בחודשים האחרונים כולל הערות ותיקונים שנעשו על ידי הצוות המקצועי לאורך כל התקופה "
          "הנבדקת ועד סופה וכן את ההחלטות שהתקבלו בעקבותיהם ואת שמות האנשים שקיבלו אותן "
          "בסוף כל שבוע עבודה")
ARABIC = ("هذا التقرير مكتوب للمفتشين ويصف جميع النتائج التي وجدت في سجل عمليات الشرطة خلال "
          "الأشهر الأخيرة بما في ذلك الملاحظات والتصحيحات التي قام بها الفريق المهني طوال "
          "فترة المراجعة حتى نهايتها وكذلك القرارات التي اتخذت بعدها وأسماء الأشخاص الذين "
          "اتخذوها في نهاية كل أسبوع عمل")
BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdftotext(pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run([require("pdftotext"), "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, check=True).stdout.decode("utf-8")
    # Arabic is drawn in its joined (presentation) forms; NFKC gives back the letters.
    return unicodedata.normalize("NFKC", BIDI_CONTROLS.sub("", out))


@pytest.mark.parametrize("paragraph", [HEBREW, ARABIC], ids=["hebrew", "arabic"])
def test_right_to_left_paragraph_wraps_in_reading_order(tmp_path: Path,
                                                        paragraph: str) -> None:
    report = build_pdf(small_data([finding(1, message=paragraph)]))
    lines = pdftotext(report.pdf, tmp_path, "rtl.pdf").splitlines()
    words = paragraph.split()
    first = next(i for i, line in enumerate(lines) if words[0] in line.split())
    shown: list[str] = []
    for line in lines[first:]:
        if not line.strip():
            break
        shown.append(line.strip())
    # Three or more lines, top to bottom in the paragraph's order, each in logical order:
    # the words come back exactly as written.
    assert len(shown) >= 3, shown
    assert " ".join(shown).split() == words
    assert shown[0].split()[0] == words[0] and shown[-1].split()[-1] == words[-1]


def test_visual_order_of_mixed_lines() -> None:
    # Hand-derived from UAX #9: a right-to-left run inside a left-to-right line is
    # reversed with its brackets mirrored; numbers keep their digit order.
    assert visual("abc שלום (עולם) def") == "abc (םלוע) םולש def"
    assert visual("שלום 123 עולם") == "םלוע 123 םולש"
    assert visual("plain text") == "plain text"


def test_emoji_and_symbols_outside_the_font_are_extracted_as_written(tmp_path: Path) -> None:
    # DejaVu Sans has U+1F600 and the tick; the fox, the police car and officer are only in
    # Noto Emoji, U+2BD1 only in Noto Sans Symbols 2, U+1F700 only in Noto Sans Symbols.
    written = ("Smile \U0001F600 fox \U0001F98A police \U0001F693 \U0001F46E mark \u2BD1 "
               "alchemy \U0001F700 tick \u2713 done")
    data = small_data([finding(1, message=written)], title="Title \U0001F98A \u2713")
    report = build_pdf(data)
    text = pdftotext(report.pdf, tmp_path, "emoji.pdf")
    assert written in text
    assert "\u1F60" not in text  # U+1F600 once came back cut to U+1F60 "ὠ"
    # The running header (drawn on the canvas, not a paragraph) on every page.
    assert text.count("Title \U0001F98A \u2713") >= report.pages - 1
    fonts = subprocess.run([require("pdffonts"), str(tmp_path / "emoji.pdf")],
                           capture_output=True, text=True, check=True).stdout
    for font in ("NotoEmoji", "NotoSansSymbols2", "NotoSansSymbols-", "DejaVuSans"):
        assert f"+{font}" in fonts, (font, fonts)


# -- templates: mistakes named by file, line and column ------------------------------------


def _templates(tmp_path: Path, yaml_text: str) -> Path:
    root = tmp_path / "templates"
    with resources.as_file(resources.files("report_templates")) as shipped:
        shutil.copytree(shipped, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "broken").mkdir()
    (root / "broken" / "template.yaml").write_text(yaml_text, encoding="utf-8")
    return root


def test_template_problems_are_named_by_file_line_and_column(tmp_path: Path) -> None:
    root = _templates(tmp_path, "\n".join([
        "extends: full",                                   # 1
        "description: broken on purpose",                  # 2
        "page:",                                           # 3
        "  size: B7",                                      # 4
        "colour: '#fff'",                                  # 5
        "fonts:",                                          # 6
        "  fallback: [fonts/NoSuchFont.ttf]",              # 7
        "sections: [scope, findings]",                     # 8
    ]) + "\n")
    with pytest.raises(ValidationError) as err:
        load_template("broken", root)
    issues = [str(i) for i in err.value.issues]
    file = str(root / "broken" / "template.yaml")
    assert any(i.startswith(f"{file}:4:9: page.size") for i in issues), issues
    assert any(i.startswith(f"{file}:5:1: colour") and "unknown key" in i
               for i in issues), issues
    assert any(i.startswith(f"{file}:7:") and "NoSuchFont.ttf" in i for i in issues), issues
    assert any(i.startswith(f"{file}:8:") and "signature" in i for i in issues), issues
    assert len(issues) == 4, issues
    # The same folder's good templates load, and what was not overridden came from full.
    assert load_template("summary", root).get("page", "size") == "A4"


def test_template_yaml_error_names_its_line(tmp_path: Path) -> None:
    root = _templates(tmp_path, "extends: full\npage:\n  size: [A4\n")
    with pytest.raises(ValidationError) as err:
        load_template("broken", root)
    text = " ".join([err.value.message, *(str(i) for i in err.value.issues)])
    assert str(root / "broken" / "template.yaml") in text
    assert re.search(r"template\.yaml:[34]:\d+", text), text


def test_only_plain_one_line_cells_skip_the_paragraph() -> None:
    # A key/value cell is drawn as a bare string (fast) only when a paragraph would draw
    # the very same thing; everything else keeps the paragraph's wrapping, markup,
    # fallback fonts and right-to-left ordering.
    from oversight.report.layout import cell_text, context

    ctx = context(load_template("full"), small_data())
    style = ctx.styles["cell"]
    assert cell_text("Open", style, 100) == "Open"
    assert cell_text("a &amp; &lt;b&gt;", style, 200) == "a & <b>"  # prints literally
    assert cell_text("Łukasz Żółć", style, 200) == "Łukasz Żółć"
    assert cell_text("<b>bold</b>", style, 200) is None
    assert cell_text("one<br/>two", style, 200) is None
    assert cell_text("שלום", style, 200) is None
    assert cell_text("fox \U0001F98A", style, 200) is None  # needs the fallback font
    assert cell_text("a  b", style, 200) is None and cell_text(" a", style, 200) is None
    assert cell_text("word " * 40, style, 200) is None  # would wrap


def _cell_attrs(table: Any) -> list[list[dict[str, Any]]]:
    """Each cell's style, but its name (``"(0, 1)"``: a label ReportLab never reads)."""
    return [[{k: v for k, v in vars(cs).items() if k != "name"} for cs in row]
            for row in table._cellStyles]


def test_tables_of_one_shape_get_the_cell_styles_reportlab_would_give() -> None:
    # A thousand findings make a thousand tables of one shape and style; the cell styles
    # are worked out once and copied. Each copy must be what ReportLab's own TableStyle
    # gives a fresh table, whatever the cell contents, and belong to its table alone.
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.platypus import Table, TableStyle  # type: ignore[import-untyped]

    from oversight.report.layout import styled_table

    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7, 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TEXTCOLOR", (0, 1), (0, -1), colors.red), ("ALIGN", (-1, 0), (-1, 0), "RIGHT"),
        ("LEFTPADDING", (1, 0), (1, -1), 5), ("BACKGROUND", (0, 0), (-1, 0), colors.grey),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.black)]
    made = []
    for n in range(3):
        rows = [[f"row {r} of table {n}", f"value {r}"] for r in range(4)]
        ours = styled_table(rows, commands, colWidths=[100, 80])
        theirs = Table([list(r) for r in rows], colWidths=[100, 80],
                       style=TableStyle(commands))
        assert _cell_attrs(ours) == _cell_attrs(theirs)
        assert ours._bkgrndcmds == theirs._bkgrndcmds
        assert ours._linecmds == theirs._linecmds
        assert ours.wrap(180, 1000) == theirs.wrap(180, 1000)
        made.append(ours)
    # tables of one kind share their cell styles, but a table given another style
    # command gets its own first: changing one table's cells leaves the others alone
    assert made[1]._cellStyles[0][0] is made[2]._cellStyles[0][0]
    made[1].setStyle(TableStyle([("TEXTCOLOR", (0, 0), (-1, -1), colors.blue)]))
    assert made[2]._cellStyles[0][0].color != colors.blue
    assert made[1]._cellStyles[0][0].color == colors.blue
    assert made[0]._cellStyles[0][0].color != colors.blue
    assert styled_table([["a", "b"]] * 4, commands)._cellStyles[0][0].color != colors.blue
    # another shape or another style is worked out afresh
    other = styled_table([["a", "b"]] * 5, commands[:1])
    assert _cell_attrs(other) == _cell_attrs(Table([["a", "b"]] * 5,
                                                   style=TableStyle(commands[:1])))


def test_tables_sharing_cell_styles_draw_what_reportlab_draws() -> None:
    # Tables of one kind share one set of cell styles (cells of equal style one object).
    # Drawn, split between pages and split inside a row, they write the same bytes as
    # ReportLab's own tables; tables whose cell styles ReportLab changes while laying
    # them out (a middle-aligned cell split in its row, commands on the rows of a split)
    # get copies, and a split leaves the next table of the kind as it was.
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
    from reportlab.platypus import Paragraph, Table, TableStyle

    from oversight.report.layout import styled_table

    para = ParagraphStyle("p", fontName="Helvetica", fontSize=7, leading=9)

    def rows(n: int) -> list[list[Any]]:
        # tall rows (even) can split inside: their string cells are empty
        return [["" if r % 2 == 0 else f"label {r}",
                 Paragraph(f"value {r} of {n} " + "word " * (5 + 30 * (1 - r % 2)), para),
                 "" if r % 2 == 0 else "x"] for r in range(5)]

    kinds: list[list[tuple[Any, ...]]] = [
        [("FONT", (0, 0), (0, -1), "Helvetica-Bold", 7, 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
         ("TEXTCOLOR", (0, 0), (0, -1), colors.grey), ("TEXTCOLOR", (2, 0), (2, -1), colors.red),
         ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.black)],
        [("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("FONT", (0, 0), (-1, -1), "Courier", 6),
         ("BACKGROUND", (0, 0), (-1, 0), colors.yellow)],
        [("VALIGN", (0, 0), (-1, -1), "TOP"),
         ("TEXTCOLOR", (0, "splitlast"), (-1, "splitlast"), colors.blue),
         ("LINEBELOW", (0, "splitfirst"), (-1, "splitfirst"), 1, colors.green)],
    ]

    def draw(make: Any, commands: list[tuple[Any, ...]]) -> bytes:
        buf = io.BytesIO()
        canv = Canvas(buf, pageCompression=0, invariant=1)
        for n in range(4):
            table = make(rows(n), commands)
            _, height = table.wrapOn(canv, 180, 1000)
            table.drawOn(canv, 20, 800 - height)
            canv.showPage()
            for cut in (0.15, 0.25, 0.45, 0.62):  # inside the first row, or between rows
                parts = table.split(180, height * cut)
                assert len(parts) == 2
                for x, part in zip((20, 220), parts, strict=True):
                    _, h = part.wrapOn(canv, 180, 1000)
                    part.drawOn(canv, x, 800 - h)
                canv.showPage()
        canv.save()
        return buf.getvalue()

    def ours(data: list[list[Any]], commands: list[tuple[Any, ...]]) -> Any:
        return styled_table(data, commands, colWidths=[40, 110, 30], splitByRow=1,
                            splitInRow=1)

    def theirs(data: list[list[Any]], commands: list[tuple[Any, ...]]) -> Any:
        return Table(data, colWidths=[40, 110, 30], splitByRow=1, splitInRow=1,
                     style=TableStyle(commands))

    for commands in kinds:
        assert draw(ours, commands) == draw(theirs, commands)
    first, second = ours(rows(1), kinds[0]), ours(rows(2), kinds[0])
    assert first._cellStyles[0][0] is second._cellStyles[1][0]  # shared, and deduplicated
    for commands in kinds[1:]:  # ReportLab changes these in place: each table its own
        one, two = ours(rows(1), commands), ours(rows(2), commands)
        assert not any(a is b for ra, rb in zip(one._cellStyles, two._cellStyles, strict=True)
                       for a, b in zip(ra, rb, strict=True))


def test_a_long_table_laid_out_over_pages_writes_what_reportlab_writes() -> None:
    # A long table (the appendix's decisions) measures its rows once per width: the
    # frame's measure at the foot of a page and ReportLab's split right after it ask the
    # same question, and ReportLab measured every remaining row each time. Laid out over
    # many pages in a document, starting where not even its header fits, with a repeated
    # header, stripes and rows that wrap, it writes ReportLab's own bytes, with a quarter
    # of the measures; a table whose rows span (ReportLab then stops measuring at the
    # foot of the page) too.
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import (
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    from oversight.report.layout import OnceLongTable

    para = ParagraphStyle("p", fontName="Helvetica", fontSize=7, leading=9)
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7, 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.grey),
        *[("BACKGROUND", (0, r), (-1, r), colors.lightgrey) for r in range(1, 400, 2)],
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.black)]
    measured: list[str] = []

    def layout(cls: Any) -> bytes:
        data: list[list[Any]] = [["Seq", "Text", "When"]]
        data += [[str(r), Paragraph("word " * (1 + (r * 7) % 60), para),
                  Paragraph(f"2026-11-{1 + r % 28:02d}<br/>10:00", para)] for r in range(400)]
        buf = io.BytesIO()
        doc = SimpleDocTemplate(buf, pageCompression=0, invariant=1)
        # the table starts at the foot of a page, where not even its header fits: it is
        # measured there, then again on the next page at the full height
        doc.build([Spacer(1, doc.height - 12 - 8),  # the frame pads 6 pt top and bottom
                   cls(data, colWidths=[40, 300, 80], repeatRows=1, splitByRow=1,
                       splitInRow=1, style=TableStyle(commands))])
        return buf.getvalue()

    real_calc = LongTable._calc

    def counted(self: Any, width: float, height: float) -> None:
        measured.append(type(self).__name__)
        real_calc(self, width, height)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LongTable, "_calc", counted)
        theirs = layout(LongTable)
        ours = layout(OnceLongTable)
    assert ours == theirs
    assert len(re.findall(rb"/Type /Page\b(?!s)", theirs)) > 10
    assert 0 < measured.count("OnceLongTable") * 2 < measured.count("LongTable")
    commands.append(("SPAN", (0, 5), (0, 7)))
    measured.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LongTable, "_calc", counted)
        assert layout(OnceLongTable) == layout(LongTable)


def test_a_table_measured_again_at_another_width_is_measured_anew() -> None:
    # A table measures its rows once per width; asked again at the same width it keeps
    # its answer, at a new width it measures again: the same answers, in the same order
    # of questions, as ReportLab's own Table (a paragraph that wraps differently in a
    # narrower column changes the row's height).
    from reportlab.platypus import Table

    from oversight.report.layout import OnceTable, context

    ctx = context(load_template("full"), small_data())
    text = "words that wrap when the column is narrow " * 3

    def rows() -> list[list[Any]]:
        return [["label", ctx.p(text, "cell")], ["label", "plain"]]

    widths = ["25%", "75%"]  # columns as shares of the available width
    ours, theirs = OnceTable(rows(), colWidths=widths), Table(rows(), colWidths=widths)
    asked = [(400, 1000), (400, 60), (150, 1000), (150, 1000), (400, 1000)]
    answers = [ours.wrap(*a) for a in asked]
    assert answers == [theirs.wrap(*a) for a in asked]
    assert answers[2][1] > answers[0][1]  # narrower: the paragraph takes more lines


def test_text_operators_kept_per_document_are_the_ones_reportlab_writes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The canvas keeps the text operators ReportLab wrote for a text and reuses them when
    # the same text is drawn again in the same font state. The pages must be byte for
    # byte what ReportLab writes without that (ReportLab's invariant mode fixes dates and
    # ids), on a report of right-to-left paragraphs, emoji in the fallback font, markup
    # and repeated labels, in several fonts and sizes.
    from reportlab import rl_config  # type: ignore[import-untyped]

    from oversight.report import layout

    monkeypatch.setattr(rl_config, "invariant", 1)
    texts = [HEBREW, ARABIC, "fox \U0001F98A and \U0001F600 grin ✓", "<b>&amp; literal",
             "Łukasz Żółć", "mixed English עם עברית and العربية 123"]
    findings = [finding(i, rule=f"R-0{i % 3}", message=texts[i % len(texts)],
                        decided_by=texts[(i + 1) % len(texts)][:12],
                        decided_at="2026-11-28T10:00:00+00:00",
                        notes=[{"note_id": i, "user": "ines", "ts": "2026-11-28T10:00:00Z",
                                "text": texts[(i + 2) % len(texts)], "refers_to": None}],
                        history=[{"seq": i, "ts": "2026-11-28T10:00:00+00:00",
                                  "user": "ines", "action": "mark", "from": "open",
                                  "to": "confirmed", "reason": None, "note_id": i,
                                  "detail": None}])
                for i in range(24)]
    data = small_data(findings, title="Report \U0001F98A " + HEBREW[:20])

    def pages() -> bytes:
        pdf = build_pdf(data, "full").pdf
        return pdf[:pdf.index(b"%%EOF")]  # ReportLab's file, before the manifest update

    kept = pages()
    memo: list[int] = []
    real_init = layout.PageCanvas.__init__

    def without_memo(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        memo.append(len(self.ow_text_memo))
        self.ow_text_memo = None

    monkeypatch.setattr(layout.PageCanvas, "__init__", without_memo)
    assert pages() == kept
    assert memo == [0]


def test_text_operators_kept_per_font_size_and_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same text in other fonts at the same size, and text whose characters spill
    # into a second font subset (a subset holds 256 characters), drawn on the report's
    # canvas with and without the kept operators: the same bytes.
    import io

    from reportlab import rl_config
    from reportlab.lib import colors

    from oversight.report import layout

    monkeypatch.setattr(rl_config, "invariant", 1)
    ctx = layout.context(load_template("full"), small_data())
    greek = "".join(chr(c) for c in range(0x391, 0x3CA) if c != 0x3A2)
    cyrillic = "".join(chr(c) for c in range(0x410, 0x450))
    extended = "".join(chr(c) for c in range(0x100, 0x180))
    texts = ["Reason", "Records", greek, cyrillic, extended, "Reason " + greek[:5],
             "Records"]

    def draw(memo: bool) -> bytes:
        buf = io.BytesIO()
        canv = layout.PageCanvas(buf, ow_font=ctx.regular, ow_colour=colors.black)
        if not memo:
            canv.ow_text_memo = None  # type: ignore[assignment]
        for _ in range(2):
            for font in (ctx.regular, ctx.bold, ctx.mono, ctx.regular):
                for size in (7.5, 9):
                    canv.setFont(font, size)
                    for n, text in enumerate(texts):
                        canv.drawString(20, 20 + 12 * n, text)
                        canv.drawRightString(500, 20 + 12 * n, text)
                    # pieces one after the other, as a paragraph's line draws them: a
                    # piece starts in the subset the one before it ended in
                    line = canv.beginText(20, 200)
                    for text in texts:
                        line.textOut(text)
                    canv.drawText(line)
                canv.showPage()
        canv.save()
        return buf.getvalue()

    assert draw(memo=True) == draw(memo=False)


def test_findings_kept_together_break_pages_as_reportlabs_blocks_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Each finding's two tables are kept together on a page by a block that measures
    # them without copying the document's frame. The pages must be byte for byte those
    # ReportLab's own keep-together block gives (findings of different heights, so that
    # blocks move to the next page at many places).
    import importlib

    from reportlab import rl_config
    from reportlab.platypus import KeepTogether

    section = importlib.import_module("oversight.report.sections.findings")

    monkeypatch.setattr(rl_config, "invariant", 1)
    data = small_data([finding(i, message="a finding that takes some room " * (1 + i % 7),
                               notes=[{"note_id": n, "user": "ines",
                                       "ts": "2026-11-28T10:00:00+00:00",
                                       "text": "note " * (5 + 20 * n), "refers_to": None}
                                      for n in range(i % 4)])
                       for i in range(40)])

    def pages() -> bytes:
        pdf = build_pdf(data, "full").pdf
        return pdf[:pdf.index(b"%%EOF")]

    ours = pages()
    monkeypatch.setattr(section, "KeepTables", KeepTogether)
    assert pages() == ours


def test_a_build_keeps_no_report_text_after_it() -> None:
    """The escaped texts and parsed paragraphs a build reuses hold the findings' words;
    they are dropped once the build ends (a locked workstation keeps no workspace data),
    and when a build fails too."""
    from oversight.report import text

    secret = "informant Zephyrine Okonkwo-Lindqvist met the handler"
    build_pdf(small_data([finding(1, message=secret)]))
    assert text._escape_text.cache_info().currsize == 0
    assert not any(secret in key[0] for key in text._PARSED)
    assert not text._PARSED

    def stop_after_layout(done: int, total: int, stage: str) -> None:
        if stage == "embedding the manifest":  # the pages are laid out: texts were kept
            assert text._PARSED
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        build_pdf(small_data([finding(2, message=secret)]), progress=stop_after_layout)
    assert text._escape_text.cache_info().currsize == 0 and not text._PARSED


# -- characters that reorder what is shown ---------------------------------------------------

#: U+202E (RIGHT-TO-LEFT OVERRIDE) draws the letters after it right to left: "txt.csv"
#: written after it is seen as "vsc.txt".
RLO = "\u202e"


def test_direction_overrides_in_user_text_are_shown_not_obeyed(ws_path: Path,
                                                               tmp_path: Path) -> None:
    """A file name or a note holding a directional override or embedding (U+202A-U+202E)
    or isolate (U+2066-U+2069) once printed in the report reordered by it: a source
    file stored as "ops-<RLO>txt.csv" read "ops-vsc.txt", a note "geprüft <RLO>nie" read
    "geprüft ein". A report is evidence: each such control is printed as its code, in
    the place it was written, and the letters around it stay in the order they were
    written; right-to-left letters are still ordered as their script reads."""
    from click.testing import CliRunner
    from conftest import ADMIN, ADMIN_PW, INSPECTOR, INSPECTOR_PW, write
    from test_triage import OPS

    from oversight.cli import main
    from oversight.workspace import Role, Workspace

    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        ws.add_user("aurelia", Role.AUDITOR, "aurelia-password")

    def cli(args: list[str], user: str, password: str) -> str:
        res = CliRunner().invoke(main, args, env={"OVERSIGHT_USER": user,
                                                  "OVERSIGHT_PASSWORD": password})
        assert res.exit_code == 0, res.output
        return str(res.stdout)

    src = write(tmp_path / f"ops-{RLO}txt.csv", OPS)
    cli(["import", str(ws_path), str(src)], INSPECTOR, INSPECTOR_PW)
    cli(["check", str(ws_path)], INSPECTOR, INSPECTOR_PW)
    fid = next(line.split(",")[0] for line in
               cli(["findings", str(ws_path), "--rule", "TRF-01", "--format", "csv"],
                   INSPECTOR, INSPECTOR_PW).splitlines()[1:])
    cli(["note", str(ws_path), fid, "--text", f"geprüft {RLO}nie, שלום \u2067עולם\u2069"],
        INSPECTOR, INSPECTOR_PW)
    out = tmp_path / "report.pdf"
    cli(["report", str(ws_path), "--out", str(out)], "aurelia", "aurelia-password")
    text = pdftotext(out.read_bytes(), tmp_path, "read.pdf")
    joined = "".join(text.split())
    assert "ops-[U+202E]txt.csv" in joined
    assert "geprüft[U+202E]nie," in joined
    # pdftotext guesses which right-to-left run the brackets around a code belong to;
    # the codes and the Hebrew words (in their reading order) are what it gives back.
    assert all(part in joined for part in ("U+2067", "U+2069", "שלום", "עולם"))
    assert "vsc.txt" not in joined
