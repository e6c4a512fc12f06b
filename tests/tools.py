"""External programs the tests call, and where they are missing a skip with the reason.

Assertions are never dropped silently inside ``if shutil.which(...)``: a test that needs
poppler or the sqlite3 CLI asks ``require()`` for it and is skipped, with the reason in
pytest's summary, on a machine without it. `.ci/run` installs all of them, so CI runs
every test.
"""

from __future__ import annotations

import shutil

import pytest

__all__ = ["PACKAGES", "require"]

#: Debian package that provides each program (for the skip message).
PACKAGES = {
    "pdfsig": "poppler-utils",
    "pdftotext": "poppler-utils",
    "pdffonts": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "sqlite3": "sqlite3",
    "openssl": "openssl",
    "Xvfb": "xvfb",
    "xdotool": "xdotool",
    "openbox": "openbox",
    "java": "openjdk-17-jre-headless",
}


def require(program: str) -> str:
    """The path of ``program``; skip the calling test (with the reason) when missing."""
    path = shutil.which(program)
    if path is None:
        package = PACKAGES.get(program, program)
        pytest.skip(f"{program} is not installed (Debian/Ubuntu: apt-get install {package}); "
                    ".ci/run installs it")
    return path
