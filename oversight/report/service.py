"""Producing a report: gather, build, embed the manifest, sign, write, record.

The signature is the last write to the PDF (an incremental update); the file is written
atomically where the user asked for it, and nowhere else. The report's SHA-256 goes into
the audit trail, so the workspace remembers exactly which report it issued.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.keyslots import write_atomic
from oversight.changes import Change, changes
from oversight.errors import UsageError
from oversight.progress import CancelToken, Progress, no_progress
from oversight.report.data import ReportScope, collect
from oversight.safefile import check_output_path
from oversight.workspace import Permission, Workspace

__all__ = ["ReportResult", "SignOptions", "produce_report"]


@dataclass(frozen=True)
class SignOptions:
    p12: Path
    """PKCS#12 file with the signing key and certificate (and chain)."""
    passphrase: bytes | None
    visible: bool = True
    """A visible signature box on the signature page."""
    timestamp_url: str | None = None
    """RFC 3161 time-stamping server: PAdES B-T instead of B-B."""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    report_id: str
    pages: int
    findings: int
    sha256: str
    manifest_digest: str
    signed: bool
    template: str

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "report_id": self.report_id, "pages": self.pages,
                "findings": self.findings, "sha256": self.sha256,
                "manifest_digest": self.manifest_digest, "signed": self.signed,
                "template": self.template}


@changes(Change.AUDIT)
def produce_report(ws: Workspace, out: Path, template: str = "full",
                   scope: ReportScope | None = None, *, title: str | None = None,
                   body: str = "", classification: str = "OFFICIAL-SENSITIVE",
                   sign: SignOptions | None = None, progress: Progress = no_progress,
                   cancel: CancelToken | None = None) -> ReportResult:
    """Build (and sign) a report of the workspace's review; auditors only."""
    from oversight.report.build import build_pdf
    from oversight.report.sign import sign_pdf

    ws.require(Permission.REPORT)
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise UsageError(f"Write the report to a .pdf file, not {out.name!r}.")
    if not out.parent.is_dir():
        raise UsageError(f"The folder {out.parent} does not exist.")
    check_output_path(out, True, "report file")  # a folder or link: before the build
    if sign is not None and not Path(sign.p12).is_file():
        raise UsageError(f"The signing certificate {sign.p12} does not exist.")
    progress(0, 4, "gathering")
    data = collect(ws, scope, title=title, body=body, classification=classification)
    if cancel is not None:
        cancel.check()
    progress(1, 4, "building")
    built = build_pdf(data, template, progress=None, cancel=cancel)
    pdf = built.pdf  # the manifest is already embedded

    if cancel is not None:
        cancel.check()
    if sign is not None:
        progress(2, 4, "signing")
        pdf = sign_pdf(pdf, Path(sign.p12), sign.passphrase, visible=sign.visible,
                       box=built.signature_box, page=-1, timestamp_url=sign.timestamp_url)
    progress(3, 4, "writing")
    digest = hashlib.sha256(pdf).hexdigest()
    result = ReportResult(out, data.report_id, built.pages, len(data.findings), digest,
                          built.manifest_digest, sign is not None, template)
    with ws.write():  # recorded only if the file is written, and the other way round
        ws.record("report.create", {**result.to_json(), "path": out.name,
                                    "chain_head": data.chain_head})
        write_atomic(out, pdf, mode=0o600)
    progress(4, 4, "done")
    return result
