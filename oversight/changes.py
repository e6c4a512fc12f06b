"""What an operation changes, declared by the operation itself (as Anki's OpChanges).

Each core operation that writes carries its ``Change`` kinds (``@changes(...)``); a
front end asks ``changes_of(operation)`` after running it and reloads only the views
that show those kinds. The kinds are typed, so a view cannot listen for a kind that
does not exist, and a caller cannot forget or misspell what an operation touched.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["EVERYTHING", "NOTHING", "Change", "changes", "changes_of"]

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__oversight_changes__"


class Change(enum.Enum):
    """A kind of thing an operation can change."""

    FINDINGS = "findings"  # findings and their triage state (decisions, notes, assignees)
    OPERATIONS = "operations"  # imported records of any kind
    BATCHES = "batches"  # import batches (added, retracted)
    RUNS = "runs"  # detection runs
    CRITERIA = "criteria"  # stored criteria pack versions, the active one
    USERS = "users"  # users, roles, passwords
    SETTINGS = "settings"  # workspace settings (four-eyes, escalations, auto-lock...)
    AUDIT = "audit"  # audit events only (a report produced, a sample drawn)
    VERIFY = "verify"  # the result of an integrity check


NOTHING: frozenset[Change] = frozenset()
EVERYTHING: frozenset[Change] = frozenset(Change)


def changes(*kinds: Change) -> Callable[[F], F]:
    """Declare what the decorated operation changes (every write also adds audit
    events, so AUDIT is implied)."""
    declared = frozenset((*kinds, Change.AUDIT))

    def mark(fn: F) -> F:
        setattr(fn, _ATTRIBUTE, declared)
        return fn

    return mark


def changes_of(*operations: Callable[..., Any]) -> frozenset[Change]:
    """What the operations change together; an operation that declares nothing is a
    programming error (TypeError), never "nothing changed"."""
    out: set[Change] = set()
    for op in operations:
        declared = getattr(op, _ATTRIBUTE, None)
        if declared is None:
            name = getattr(op, "__qualname__", repr(op))
            raise TypeError(f"{name} does not declare what it changes (@changes)")
        out |= declared
    return frozenset(out)
