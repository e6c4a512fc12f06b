"""The PDF of an audit report, laid out by ReportLab from a template in `report_templates/`.

`build_pdf` turns a `ReportData` into the PDF and embeds the manifest
(`oversight.report.manifest`); the appendix prints the two lines a verifier checks
against it (`Findings in this report: N` and `Manifest SHA-256: <digest>`), which is why
those two lines are fixed in code and not in a template.

Where things live: templates and their validation in `templates`, fonts and fallback
fonts in `fonts`, user text (escaping, Arabic joining, right-to-left lines) in `text`,
page layout in `layout`, charts in `charts`, and one module per section in `sections`.
The names other modules and tests use (`build_pdf`, `load_template`, `escape`, ...)
are importable from here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import Any

from reportlab.platypus import NextPageTemplate, PageBreak  # type: ignore[import-untyped]

from oversight.progress import CancelToken, Progress
from oversight.report import manifest as report_manifest
from oversight.report.data import ReportData, manifest
from oversight.report.layout import PageCanvas, context, document
from oversight.report.sections import BUILDERS
from oversight.report.templates import Template, available_templates, load_template
from oversight.report.text import escape, forget_texts, plain

__all__ = [
    "MANIFEST_NAME",
    "BuiltReport",
    "Template",
    "available_templates",
    "build_pdf",
    "escape",
    "load_template",
]

MANIFEST_NAME = report_manifest.NAME
"""Embedded file holding the manifest's canonical JSON (`oversight.report.manifest.NAME`)."""


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


def build_pdf(data: ReportData, template: str = "full", progress: Progress | None = None,
              cancel: CancelToken | None = None) -> BuiltReport:
    """Lay out the report, embed its manifest and return the PDF (not yet signed)."""
    try:
        return _build(data, template, progress, cancel)
    finally:
        forget_texts()


def _build(data: ReportData, template: str, progress: Progress | None,
           cancel: CancelToken | None) -> BuiltReport:
    t = load_template(template)

    def report(done: int, total: int, stage: str) -> None:
        if cancel is not None:
            cancel.check()
        if progress is not None:
            progress(done, total, stage)

    report(0, 0, "preparing")
    doc_manifest = manifest(data)
    ctx = context(t, data)
    ctx.digest = report_manifest.digest(doc_manifest)
    ctx.report = report
    story: list[Any] = []
    for section in t.get("sections"):
        part = BUILDERS[section](ctx)
        if not part:  # an optional section with nothing to show (indicators)
            continue
        if story:
            story.append(PageBreak())
        story += part
        if section == "cover":
            story.append(NextPageTemplate("body"))

    buf = io.BytesIO()
    doc = document(ctx, buf)
    state = {"total": 0, "last": 0}

    def on_progress(kind: str, value: int) -> None:
        if kind == "SIZE_EST":
            state["total"] = value
        elif kind == "PROGRESS" and value - state["last"] >= 100:
            state["last"] = value
            report(value, state["total"], "laying out pages")

    doc.setProgressCallBack(on_progress)
    page_label = t.settings["wording"]["page_number"]
    suffix = plain(page_label.split("{pages}", 1)[1]) if "{pages}" in page_label else ""
    doc.build(story, canvasmaker=partial(
        PageCanvas, ow_font=ctx.regular, ow_size=t.num("styles", "small_size"),
        ow_suffix=suffix, ow_colour=t.colour("styles", "colours", "muted")))
    pages = int(doc.canv.ow_pages)
    if ctx.signature.get("page") != pages:  # pragma: no cover - the signature page is short
        raise RuntimeError("The signature box did not land on the last page.")
    report(pages, pages, "embedding the manifest")
    pdf = report_manifest.embed(buf.getvalue(), doc_manifest)
    report(1, 1, "done")
    return BuiltReport(pdf=pdf, pages=pages, manifest=doc_manifest, manifest_digest=ctx.digest,
                       signature_box=ctx.signature["box"], template=t.name)
