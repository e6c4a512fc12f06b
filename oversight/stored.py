"""Reading back the JSON this program stored in a workspace's columns.

The program writes these columns; a user of the workspace with SQLCipher tools can
write anything into them. What they hold is then shown as unreadable, in the shape the
reader expects (``verify`` names the row that differs), never raised as a crash: not
JSON, nested past Python's stack, or of another shape than was written."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["UNREADABLE", "json_dict", "json_list", "json_value"]

UNREADABLE = "(unreadable: not as this program stored it; run verify)"


class _Unreadable(Exception):
    pass


def _parsed(text: object) -> Any:
    if not isinstance(text, str):
        raise _Unreadable
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Unreadable from exc


def json_value(text: object) -> Any:
    """Any JSON value; None stays None; UNREADABLE for what cannot be read."""
    if text is None:
        return None
    try:
        return _parsed(text)
    except _Unreadable:
        return UNREADABLE


def json_dict(text: object) -> dict[str, Any]:
    """A stored object (facts, details, payloads): {"unreadable": UNREADABLE} when the
    column holds anything else."""
    try:
        value = _parsed(text)
    except _Unreadable:
        value = None
    return value if isinstance(value, dict) else {"unreadable": UNREADABLE}


def json_list(text: object) -> list[Any]:
    """A stored array (record ids, legal references): [UNREADABLE] when the column holds
    anything else."""
    try:
        value = _parsed(text)
    except _Unreadable:
        value = None
    return value if isinstance(value, list) else [UNREADABLE]
