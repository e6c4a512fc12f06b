"""Reading PDFs that someone hands us: a report to embed into, sign or verify.

Any parse failure of such a file is a sentence for the user (InputFileError), never a
traceback; these helpers are shared by the manifest (`oversight.report.manifest`) and the
signer (`oversight.report.sign`).
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from oversight.errors import InputFileError

__all__ = ["is_signed", "open_pdf", "page_box"]


def open_pdf(pdf: bytes, what: str) -> PdfFileReader:
    """pyHanko's reader over ``pdf``; ``what`` names the file in the error sentence."""
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except Exception as exc:  # any parse failure of untrusted input means "not a PDF"
        raise InputFileError(f"{what[0].upper()}{what[1:]} is not a readable PDF "
                             f"({exc}).") from exc


def is_signed(reader: PdfFileReader) -> bool:
    """Whether the PDF already carries a signature (its signature fields are filled)."""
    try:
        return len(reader.embedded_signatures) > 0
    except Exception:  # damaged signature fields: pyHanko's signing reports them itself
        return False


def page_box(reader: PdfFileReader | IncrementalPdfFileWriter, page: int
             ) -> tuple[int, tuple[float, float, float, float] | None]:
    """The number of pages and the media box (x1, y1, x2, y2 in points, inherited from
    the page tree when the page has none) of page ``page`` (0-based, negative from the
    end); None when there is no such page. Only the page tree down to that page is read
    (pyHanko keeps what it read, so its signer finds the page again without reparsing)."""
    try:
        count = int(reader.root["/Pages"]["/Count"])
        if not -count <= page < count:
            return count, None
        ref = reader.find_page_for_modification(page % count)[0]  # type: ignore[no-untyped-call]
        node = ref.get_object()
        for _ in range(64):  # an inherited box: up the tree (a loop is a damaged file)
            if "/MediaBox" in node:
                x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
                return count, (x1, y1, x2, y2)
            if "/Parent" not in node:
                break
            node = node["/Parent"]
        raise InputFileError("The report is not a readable PDF (a page has no media box).")
    except (PdfError, KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"The report is not a readable PDF ({exc}).") from exc
