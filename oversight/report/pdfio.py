"""Reading PDFs that someone hands us: a report to embed into, sign or verify.

Any parse failure of such a file is a sentence for the user (InputFileError), never a
traceback; these helpers are shared by the manifest (`oversight.report.manifest`) and the
signer (`oversight.report.sign`).
"""

from __future__ import annotations

import io

from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader
from pypdf.errors import PdfReadError as PypdfReadError

from oversight.errors import InputFileError

__all__ = ["is_signed", "open_pdf", "page_boxes"]


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


def page_boxes(pdf: bytes) -> list[tuple[float, float, float, float]]:
    """Each page's media box: x1, y1, x2, y2 in points."""
    try:
        reader = PdfReader(io.BytesIO(pdf))
        return [(float(p.mediabox.left), float(p.mediabox.bottom), float(p.mediabox.right),
                 float(p.mediabox.top)) for p in reader.pages]
    except (PypdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(f"The report is not a readable PDF ({exc}).") from exc
