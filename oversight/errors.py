"""Errors a user reads: one root with a sentence, subclasses by what went wrong.

The root and the store's kinds live in ``db.errors`` (the lowest layer): this module
re-exports them (``OversightError`` is ``db.errors.UserError``) and adds the domain's
kinds. ``code`` is a machine-readable status (used in --json output); ``exit_code`` is
what the CLI returns (2: usage, input, authentication or permission error).
"""

from __future__ import annotations

from dataclasses import dataclass

from db.errors import AuthenticationError, StorageError
from db.errors import UserError as OversightError

__all__ = [
    "AlreadyImported",
    "AuthenticationError",
    "Cancelled",
    "InputFileError",
    "Issue",
    "OversightError",
    "PermissionDenied",
    "StorageError",
    "UsageError",
    "ValidationError",
    "from_store",
]


class UsageError(OversightError):
    """An argument or setting is wrong."""

    code = "usage"


class InputFileError(OversightError):
    """A source or profile file cannot be used as a whole; says where."""

    code = "input"


class AlreadyImported(OversightError):
    """The same file (by SHA-256) is already in the workspace."""

    code = "already_imported"


class PermissionDenied(OversightError):
    """The user's role does not allow the action."""

    code = "permission"


class Cancelled(OversightError):
    """The user cancelled long work; nothing was written."""

    code = "cancelled"
    exit_code = 130


@dataclass(frozen=True)
class Issue:
    """One problem found by validation, with its location."""

    message: str
    """What is wrong and how to fix it."""
    file: str | None = None
    """File the problem is in."""
    line: int | None = None
    """1-based line, when known."""
    column: int | None = None
    """1-based column, when known."""

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where}: {self.message}" if where else self.message


class ValidationError(OversightError):
    """A file failed validation; ``issues`` lists every problem found."""

    code = "validation"

    def __init__(self, message: str, issues: list[Issue]) -> None:
        super().__init__(message)
        self.issues = issues


def from_store(exc: OversightError) -> OversightError:
    """Kept for callers of the time when the store had errors of its own: they are the
    same classes now, so this returns ``exc`` itself."""
    return exc
