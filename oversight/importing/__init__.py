"""Streaming import of operation logs, authorisation registers and case records."""

from oversight.importing.service import ImportResult, import_file, preview

__all__ = ["ImportResult", "import_file", "preview"]
