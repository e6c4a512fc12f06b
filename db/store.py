"""SQLCipher connections: keying, pragmas, transactions and error mapping.

Every SQLite error that a user can meet in normal work (locked, read-only, disk full,
not a database) is mapped once, here, to a StoreError with a sentence; anything else
is a bug and propagates unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlcipher3

from db.errors import (
    DatabaseCorrupt,
    DatabaseLocked,
    DatabaseReadOnly,
    StoreError,
)

__all__ = [
    "Connection",
    "DbError",
    "IntegrityError",
    "connect",
    "known_error",
    "owner_only",
    "transaction",
]

Connection = Any  # sqlcipher3 ships no type information
DbError = sqlcipher3.Error

# sqlcipher3 binds None through its slow adaptation path (an attribute lookup that
# fails for every NULL); a registered adapter makes NULL as cheap as any other value.
sqlcipher3.register_adapter(type(None), lambda value: None)


def known_error(exc: BaseException, path: Path) -> StoreError | None:
    """Map an SQLite error to a StoreError with a sentence, or None if it is a bug."""
    if not isinstance(exc, sqlcipher3.Error):
        return None
    if isinstance(exc, sqlcipher3.IntegrityError):
        # A constraint or a trigger's RAISE refused the change (e.g. "the sender's notes
        # are read-only"): never a file that cannot be written.
        return None
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text or "busy" in text:
        return DatabaseLocked(
            f"The workspace database {path} is in use by another program (another Oversight "
            "window or a running import?); try again when it has finished."
        )
    if "readonly" in text or "read-only" in text or "read only" in text:
        return DatabaseReadOnly(
            f"The workspace database {path} cannot be written (read-only file, folder or "
            "medium); copy the workspace somewhere writable to change it."
        )
    if "file is not a database" in text or "file is encrypted" in text:
        return DatabaseCorrupt(
            f"The workspace database {path} cannot be decrypted with this key slot, or it is "
            "damaged; restore it from a backup."
        )
    if "malformed" in text or "corrupt" in text:
        return DatabaseCorrupt(
            f"The workspace database {path} is damaged; restore it from a backup."
        )
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(f"The disk holding {path} is full; free space and try again.")
    if "unable to open" in text:
        return StoreError(f"The workspace database {path} cannot be opened ({exc}).")
    if "disk i/o error" in text:
        return StoreError(f"Reading or writing {path} failed (disk I/O error).")
    return None


@contextmanager
def mapped_errors(path: Path) -> Iterator[None]:
    """Re-raise known SQLite errors as StoreError sentences."""
    try:
        yield
    except sqlcipher3.Error as exc:
        known = known_error(exc, path)
        if known is None:
            raise
        raise known from exc


def connect(
    path: Path,
    key: bytes,
    *,
    read_only: bool = False,
    busy_timeout_ms: int = 5000,
) -> Connection:
    """Open ``path`` with the raw 256-bit ``key``; check the key by reading the schema.

    The connection is in autocommit mode: use ``transaction()`` for writes.
    """
    if len(key) != 32:
        raise ValueError("SQLCipher raw key must be 32 bytes")
    if read_only or (path.exists() and not os.access(path, os.W_OK)):
        target, uri = f"file:{path}?mode=ro", True
    else:
        target, uri = str(path), False
        owner_only(path)
    with mapped_errors(path):
        conn = sqlcipher3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
        try:
            # Page errors become exceptions we map to sentences; no log lines on stderr.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Reading the schema is what proves the key is right.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            if not read_only and not target.startswith("file:"):
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise DatabaseLocked(
                        f"The workspace database {path} could not switch to WAL mode "
                        f"(still {mode}); another program may hold it open."
                    )
                conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
    return conn


def owner_only(path: Path) -> None:
    """Make the database file (creating it empty if new) and its -wal and -shm files
    readable and writable by their owner only (0600). SQLite creates -wal and -shm with
    the database file's own mode, so a database created 0600 keeps all three private;
    files left wider by an older version are narrowed when the workspace is opened."""
    if not path.exists():
        with suppress(OSError):  # exists by now, or cannot be made: SQLite will say so
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = os.stat(name).st_mode & 0o777
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
        except OSError:  # absent, or not ours to change: SQLite reports what matters
            continue


@contextmanager
def transaction(conn: Connection, path: Path, *, immediate: bool = True) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any exception
    (including KeyboardInterrupt), so a failed write leaves nothing behind."""
    with mapped_errors(path):
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        known = known_error(exc, path)
        if known is not None:
            raise known from exc
        raise
    with mapped_errors(path):
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


IntegrityError = sqlcipher3.IntegrityError
