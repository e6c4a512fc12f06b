"""The core is typed and lint-clean, and never imports Qt."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT


def test_mypy_strict_core_and_gui() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy", "oversight", "db", "ui"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_clean() -> None:
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_core_has_no_qt() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|shiboken6)", re.M)
    offenders = [str(p.relative_to(ROOT)) for pkg in ("oversight", "db")
                 for p in (ROOT / pkg).rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_db_does_not_import_oversight() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+oversight\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "db").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_gui_writes_no_sql() -> None:
    """ui/ talks to the core's service API: no SQL statement, no database connection."""
    pattern = re.compile(r"\b(SELECT\s+\S.*\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|"
                         r"DELETE\s+FROM)\b|\.execute\(|\.conn\b", re.I)
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "ui").rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
