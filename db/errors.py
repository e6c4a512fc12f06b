"""The workstation's one error hierarchy, rooted here because the store is its lowest
layer: every error meant for a user is a ``UserError`` with one sentence.

``oversight.errors`` re-exports this root as ``OversightError`` and adds the domain's
own kinds (usage, input files, permissions, validation, cancellation); the store's
kinds below are the same classes everywhere, so nothing translates one error into
another. ``code`` is a machine-readable status (``--json`` output); ``exit_code`` is
what the command line returns (2: the user can act on it). Anything that is not a
``UserError`` is a bug.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "DatabaseCorrupt",
    "DatabaseLocked",
    "DatabaseReadOnly",
    "NotAWorkspace",
    "SchemaTooNew",
    "SlotFileError",
    "StorageError",
    "StoreError",
    "UnknownUser",
    "UserError",
    "WrongPassword",
]


class UserError(Exception):
    """Root of every error meant for the user; ``message`` is a full sentence."""

    code = "error"
    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageError(UserError):
    """The workspace cannot be opened or written (locked, read-only, damaged...)."""

    code = "storage"


#: The store's name for StorageError (the same class).
StoreError = StorageError


class NotAWorkspace(StorageError):
    """The folder is not a workspace (no database or key-slot file)."""

    code = "not_a_workspace"


class SlotFileError(StorageError):
    """The key-slot file is missing, unreadable, malformed or tampered with."""

    code = "slot_file"


class DatabaseLocked(StorageError):
    """Another process holds a write lock on the database."""

    code = "locked"


class DatabaseReadOnly(StorageError):
    """The database file or its folder cannot be written."""

    code = "read_only"


class DatabaseCorrupt(StorageError):
    """The database cannot be decrypted with the key or is damaged."""

    code = "corrupt"


class SchemaTooNew(StorageError):
    """The workspace was written by a newer version of the program."""

    code = "schema_too_new"


class AuthenticationError(UserError):
    """Unknown user or wrong password."""

    code = "authentication"


class UnknownUser(AuthenticationError):
    """No key slot exists for this user name."""

    code = "unknown_user"


class WrongPassword(AuthenticationError):
    """The password does not open this user's key slot."""

    code = "wrong_password"
