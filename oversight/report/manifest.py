"""The report manifest inside the PDF: its name, its bytes, its digest, embedding, reading.

A report carries its data twice: on the pages, for people, and as a JSON file attached to
the PDF, for programs. The pages print the manifest's SHA-256 (`digest`), so a verifier
can tie what it reads to what it sees. This module is the one place that knows how the
manifest is stored:

- `NAME`: the attachment's file name, ``oversight-manifest.json``.
- `canonical`: its bytes, JSON with sorted keys, no spaces, UTF-8 (not ASCII-escaped).
  Exactly these bytes are attached, so the attachment's SHA-256 *is* the digest.
- `digest`: SHA-256 of `canonical`, printed on the pages.
- `embed`: attach it to a PDF as an incremental update (pyHanko), before signing, so
  the signature covers it. The builder and `oversight.report.sign.embed_manifest` are
  this one function.
- `read`: find it again in a PDF and parse it, saying in sentences what is wrong.

What the manifest *contains* is `oversight.report.data.manifest` (the report's data).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import embed as pdf_embed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader

from oversight.errors import UsageError
from oversight.report.pdfio import is_signed, open_pdf

__all__ = ["NAME", "ReadBack", "canonical", "digest", "embed", "read"]

NAME = "oversight-manifest.json"
"""File name of the attached manifest; verifiers look for exactly this name."""

_DESCRIPTION = ("Oversight report manifest: the report's data as JSON; its SHA-256 is "
                "printed on the report's pages.")


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The manifest's canonical JSON: the bytes attached to the PDF and hashed."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the manifest's canonical JSON; the report prints it on its pages."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def embed(pdf: bytes, doc: Mapping[str, Any]) -> bytes:
    """Attach ``doc`` as ``oversight-manifest.json`` (application/json, canonical bytes).

    Done as an incremental update *before* signing, so that the signature covers the
    manifest. A PDF that already embeds the same manifest (same digest) is returned
    unchanged; one that holds a different manifest is refused (a verifier must find
    exactly one), and so is a signed PDF (the update would fall outside the signature).
    """
    if not isinstance(doc, dict):
        raise UsageError("The manifest must be a JSON object (a dict).")
    reader = open_pdf(pdf, "the report")
    present = _entries_or_none(pdf)
    if present:
        if len(present) == 1 and _digest_of(present[0]) == digest(doc):
            return pdf
        raise UsageError(f"The PDF already holds a different embedded {NAME}.")
    if is_signed(reader):
        raise UsageError("The PDF is already signed; embed the manifest before signing.")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = pdf_embed.EmbeddedFileObject.from_file_data(
        writer, data=canonical(doc), mime_type="application/json",
        params=pdf_embed.EmbeddedFileParams(embed_size=True, embed_checksum=True))
    pdf_embed.embed_file(writer, pdf_embed.FileSpec(
        file_spec_string=NAME, file_name=NAME, embedded_data=stream,
        description=_DESCRIPTION))
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
    return out.getvalue()


@dataclass(frozen=True)
class ReadBack:
    """What a PDF's attached manifest turned out to be."""

    doc: dict[str, Any] | None
    """The parsed manifest; None when there is none that can be used."""
    problems: list[str] = field(default_factory=list)
    """Sentences saying what is wrong (empty when exactly one valid manifest is attached)."""


def read(pdf: bytes | PdfReader) -> ReadBack:
    """Find the attached manifest and parse it; never raises on a damaged file."""
    problems: list[str] = []
    try:
        reader = pdf if isinstance(pdf, PdfReader) else PdfReader(io.BytesIO(pdf))
        entries = reader.attachments.get(NAME)
    except Exception as exc:  # damaged streams (zlib, parse errors) are findings too
        return ReadBack(None, [f"The embedded files cannot be read ({exc})."])
    if not entries:
        return ReadBack(None, [f"The PDF has no embedded {NAME}."])
    if len(entries) > 1:
        problems.append(f"The PDF embeds {NAME} more than once.")
    try:
        doc = json.loads(entries[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ReadBack(None, [*problems, f"The embedded {NAME} is not valid JSON ({exc})."])
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        return ReadBack(None, [*problems, f"The embedded {NAME} is not a report manifest "
                                          "(no list of findings)."])
    return ReadBack(doc, problems)


def _entries_or_none(pdf: bytes) -> list[bytes] | None:
    try:
        return list(PdfReader(io.BytesIO(pdf)).attachments.get(NAME) or [])
    except Exception:  # unreadable attachments count as none; the embedding or the
        return None    # verification that follows reports on the PDF itself


def _digest_of(raw: bytes) -> str | None:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return digest(doc) if isinstance(doc, dict) else None
