"""Regular expressions of `matches`, run by RE2: time linear in the value, never a stall.

Python's ``re`` backtracks: ``(a+)+$`` against 29 characters took 27 s, four times
longer per two characters more. RE2 (Google's engine, through ``google-re2``) guarantees
time linear in the text for every pattern it accepts, so a rule's result never depends
on how fast the machine is or on a time limit. What it does not accept (backreferences
such as ``\\1``, lookaround such as ``(?=...)``, patterns compiling to more than
MAX_PATTERN_MEMORY) is refused when the pack is validated, with the reason.
"""

from __future__ import annotations

import functools
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = ["MAX_PATTERN_MEMORY", "PatternError", "compile_pattern", "regexp"]

MAX_PATTERN_MEMORY = 8 << 20
"""Bytes RE2 may use for one compiled pattern (its default); more is refused."""


class PatternError(Exception):
    """A pattern RE2 cannot compile; ``reason`` says why, in RE2's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors come back as exceptions, not stderr lines
    options.max_mem = MAX_PATTERN_MEMORY
    return options


_OPTIONS = _options()


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; PatternError if RE2 refuses it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


def regexp(pattern: str, value: Any) -> int:
    """SQLite's REGEXP (``value REGEXP pattern`` calls regexp(pattern, value)): 1 when
    the pattern matches anywhere in the value, 0 otherwise or when it is missing."""
    if value is None:
        return 0
    return 1 if compile_pattern(pattern).search(str(value)) is not None else 0
