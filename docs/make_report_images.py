"""Render the report pictures in docs/images/ from a freshly built demo workspace.

    .venv/bin/python docs/make_report_images.py

Builds the demo workspace (3,000 operations, seed 20261128) in a temporary folder, builds
the full report and renders its first page and the first page of findings with notes to
PNG (pdftoppm from poppler-utils, 60 dpi). Everything but the PNGs is deleted afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oversight.demo import build_demo  # noqa: E402
from oversight.report.build import build_pdf  # noqa: E402
from oversight.report.data import collect  # noqa: E402
from oversight.workspace import Workspace  # noqa: E402

OUT = ROOT / "docs" / "images"
PASSWORD = "admin-password"


def page_text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def render(pdf: Path, page: int, target: Path) -> None:
    stem = target.parent / f".{target.stem}"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", "-f", str(page),
                    "-l", str(page), str(pdf), str(stem)], check=True)
    stem.with_suffix(".png").replace(target)
    print(f"{target.relative_to(ROOT)}: page {page}, {target.stat().st_size // 1024} KB")


def main() -> None:
    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm is missing: install poppler-utils.")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oversight-report-images-") as tmp:
        folder = Path(tmp) / "ws"
        build_demo(folder, "admin", PASSWORD, 3000, 20261128)
        with Workspace.open(folder, "admin", PASSWORD) as ws:
            data = collect(ws, body="Commissioner for Oversight of Police Data")
        report = build_pdf(data, "full")
        pdf = Path(tmp) / "report.pdf"
        pdf.write_bytes(report.pdf)
        print(f"full report: {report.pages} pages, manifest SHA-256 {report.manifest_digest}")
        render(pdf, 1, OUT / "report-page-1.png")
        findings = next(p for p in range(2, report.pages + 1)
                        if "Finding " in (text := page_text(pdf, p)) and "ines.garcia, " in text)
        render(pdf, findings, OUT / "report-findings.png")


if __name__ == "__main__":
    main()
