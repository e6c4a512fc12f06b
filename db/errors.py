"""Errors raised by the store, each with one sentence a user can act on."""

from __future__ import annotations

__all__ = [
    "DatabaseCorrupt",
    "DatabaseLocked",
    "DatabaseReadOnly",
    "NotAWorkspace",
    "SchemaTooNew",
    "SlotFileError",
    "StoreError",
    "UnknownUser",
    "WrongPassword",
]


class StoreError(Exception):
    """Root of store errors; ``message`` is a full sentence for the user."""

    code = "store"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAWorkspace(StoreError):
    """The folder is not a workspace (no database or key-slot file)."""

    code = "not_a_workspace"


class SlotFileError(StoreError):
    """The key-slot file is missing, unreadable, malformed or tampered with."""

    code = "slot_file"


class UnknownUser(StoreError):
    """No key slot exists for this user name."""

    code = "unknown_user"


class WrongPassword(StoreError):
    """The password does not open this user's key slot."""

    code = "wrong_password"


class DatabaseLocked(StoreError):
    """Another process holds a write lock on the database."""

    code = "locked"


class DatabaseReadOnly(StoreError):
    """The database file or its folder cannot be written."""

    code = "read_only"


class DatabaseCorrupt(StoreError):
    """The database cannot be decrypted with the key or is damaged."""

    code = "corrupt"


class SchemaTooNew(StoreError):
    """The workspace was written by a newer version of the program."""

    code = "schema_too_new"
