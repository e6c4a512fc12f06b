"""The sections of a report, one module each; a template lists which and in what order.

Each section is a function of the build's `Context` returning ReportLab flowables (an
empty list: nothing to show, the section is left out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oversight.report.layout import Context
from oversight.report.sections.appendix import appendix
from oversight.report.sections.cover import cover
from oversight.report.sections.findings import findings
from oversight.report.sections.indicators import indicators
from oversight.report.sections.log_quality import log_quality
from oversight.report.sections.scope import scope
from oversight.report.sections.signature import signature
from oversight.report.sections.summary import summary

__all__ = ["BUILDERS"]

BUILDERS: dict[str, Callable[[Context], list[Any]]] = {
    "cover": cover, "scope": scope, "log_quality": log_quality, "summary": summary,
    "indicators": indicators, "findings": findings, "appendix": appendix,
    "signature": signature,
}
"""Section name (as a template lists it) -> the function that lays it out."""
