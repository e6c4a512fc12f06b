"""Reading PDFs that someone hands us: a report to embed into, sign or verify.

Any parse failure of such a file is a sentence for the user (InputFileError), never a
traceback; these helpers are shared by the manifest (`oversight.report.manifest`) and the
signer (`oversight.report.sign`).
"""

from __future__ import annotations

import io
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError, PdfReadError
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
             ) -> tuple[int, tuple[float, float, float, float] | None, Any]:
    """The number of pages, the media box (x1, y1, x2, y2 in points, inherited from the
    page tree when the page has none) of page ``page`` (0-based, negative from the end;
    None when there is no such page), and what pyHanko's ``find_page_for_modification``
    answers for it (the page's reference and its resources, own or inherited).

    Only the page tree down to that page is read: from the front for a page counted from
    the front, as pyHanko does, and from the back for a page counted from the back (a
    report is signed on its last page, and a walk from the front reads every page of a
    long report first)."""
    try:
        count = int(reader.root["/Pages"]["/Count"])
        if not -count <= page < count:
            return count, None, None
        if page < 0:
            found = _from_the_back(reader, -page - 1)
        else:
            found = reader.find_page_for_modification(page)  # type: ignore[no-untyped-call]
        node = found[0].get_object()  # type: ignore[no-untyped-call]
        for _ in range(64):  # an inherited box: up the tree (a loop is a damaged file)
            if "/MediaBox" in node:
                x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
                return count, (x1, y1, x2, y2), found
            if "/Parent" not in node:
                break
            node = node["/Parent"]
        raise InputFileError("The report is not a readable PDF (a page has no media box).")
    except (PdfError, KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"The report is not a readable PDF ({exc}).") from exc


def _from_the_back(reader: PdfFileReader | IncrementalPdfFileWriter, back: int
                   ) -> tuple[generic.IndirectObject, Any]:
    """pyHanko's page-tree walk (``_walk_page_tree``) for the page ``back`` pages before
    the last (0: the last page), going through each node's kids from the last: the same
    page reference and resources (the nearest node's, own or inherited, raw)."""
    ref = reader.root.raw_get("/Pages")
    node = ref.get_object()
    resources: Any = node["/Resources"] if "/Resources" in node \
        else generic.DictionaryObject()  # type: ignore[no-untyped-call]
    seen = {ref.reference}
    while True:
        if "/Resources" in node:
            resources = node.raw_get("/Resources")
        for kid_ref in reversed(node["/Kids"]):
            if not isinstance(kid_ref, generic.IndirectObject) or kid_ref.reference in seen:
                raise PdfReadError("Page tree node children must be indirect objects, "
                                   "without cycles")
            kid = kid_ref.get_object()  # type: ignore[no-untyped-call]
            if kid["/Type"] == "/Pages":
                below = int(kid["/Count"])
                if back < below:
                    ref, node = kid_ref, kid
                    seen.add(ref.reference)
                    break
                back -= below
            elif kid["/Type"] == "/Page":
                if back == 0:
                    return kid_ref, kid.raw_get("/Resources") if "/Resources" in kid \
                        else resources
                back -= 1
        else:
            raise PdfError("Page not found")
