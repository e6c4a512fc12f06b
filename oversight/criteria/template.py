"""Message templates: plain language with the record's values.

``"Transfer to {recipient_country} on {ts:%Y-%m-%d} has no recorded legal basis"``.
A placeholder names a field as conditions do (``ts``, ``authorisation.valid_to``,
```Object of search```, a parameter, or an aggregate's ``count``, ``first``...), with an
optional strftime format for date-times. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Template", "TemplateError"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}:]+)(?::([^{}]*))?\}|\{|\}")
BLANK = "(blank)"


class TemplateError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Template:
    text: str
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, known: Callable[[str], bool]) -> Template:
        names: list[str] = []
        for m in _PLACEHOLDER.finditer(text):
            whole = m.group()
            if whole in ("{{", "}}"):
                continue
            if m.group(1) is None:
                raise TemplateError(f"a lone {whole!r}: write {whole * 2} for a brace, or "
                                    "{field} for a value", m.start())
            name = m.group(1).strip()
            if not known(name):
                raise TemplateError(f"the message names {{{name}}}, which the rule cannot "
                                    "fill; use a field, parameter or aggregate value",
                                    m.start())
            fmt = m.group(2)
            if fmt is not None and "%" in fmt:
                try:
                    datetime(2026, 1, 2, 3, 4, 5).strftime(fmt)
                except ValueError as exc:
                    raise TemplateError(f"bad date format {fmt!r}: {exc}", m.start()) from None
            names.append(name)
        return cls(text, tuple(dict.fromkeys(names)))

    def render(self, values: Mapping[str, Any]) -> str:
        def repl(m: re.Match[str]) -> str:
            whole = m.group()
            if whole == "{{":
                return "{"
            if whole == "}}":
                return "}"
            return _show(values.get(m.group(1).strip()), m.group(2))

        return _PLACEHOLDER.sub(repl, self.text)


def _show(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return BLANK
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else BLANK
    if isinstance(value, bool):
        return "yes" if value else "no"
    if fmt:
        if "%" in fmt and isinstance(value, str):
            try:
                return datetime.fromisoformat(value).strftime(fmt)
            except ValueError:
                return value
        try:
            return format(value, fmt)
        except (ValueError, TypeError):
            return str(value)
    return str(value)
