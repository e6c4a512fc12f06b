"""User text shown to a reader without characters that change what it appears to say.

Directional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder
the letters after them: a file stored as "ops-" U+202E "txt.csv" reads "ops-vsc.txt",
and a note can be made to read otherwise than it was written. Wherever the program
shows user text (reports; the workstation's tables, finding details and source files),
each of them is shown as its code, ``[U+202E]``, in the place it was written, and never
obeyed. The marks LRM, RLM and ALM (U+200E, U+200F, U+061C) are left alone:
right-to-left writers use them to place punctuation and digits, and they cannot turn
letters around. The stored text is never changed.
"""

from __future__ import annotations

import re

__all__ = ["DIRECTIONAL", "show_directional"]

DIRECTIONAL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _code(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def show_directional(text: str) -> str:
    """``text`` with each directional embedding, override and isolate as its code."""
    return DIRECTIONAL.sub(_code, text) if not text.isascii() else text
