"""The workspace service: create and open encrypted workspaces, users and roles.

A workspace is a folder holding ``workspace.db`` (SQLCipher 4) and ``keyslots.json``.
Every method checks the acting user's role before it touches anything, and every
change is recorded in the audit trail inside the same transaction.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from db import migrations, store
from db.errors import NotAWorkspace, StoreError, UnknownUser
from db.keyslots import KdfParams, SlotFile, new_database_key
from oversight import audit
from oversight.errors import (
    AuthenticationError,
    PermissionDenied,
    StorageError,
    UsageError,
    from_store,
)

__all__ = [
    "DB_NAME",
    "SLOTS_NAME",
    "Permission",
    "Role",
    "UserInfo",
    "Workspace",
    "service_errors",
]

DB_NAME = "workspace.db"
SLOTS_NAME = "keyslots.json"
MIN_PASSWORD_LENGTH = 8


class Role(StrEnum):
    ADMIN = "admin"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    IMPORT = "import"
    DETECT = "detect"
    TRIAGE = "triage"
    APPROVE = "approve"
    ASSIGN = "assign"
    REPORT = "report"
    MANAGE_USERS = "manage users"
    CONFIGURE = "configure"


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                           Permission.ASSIGN, Permission.MANAGE_USERS, Permission.CONFIGURE}),
    Role.INSPECTOR: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                               Permission.TRIAGE, Permission.ASSIGN}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                             Permission.TRIAGE, Permission.ASSIGN, Permission.APPROVE,
                             Permission.REPORT}),
    Role.VIEWER: frozenset({Permission.READ}),
}

_WHY: dict[Permission, str] = {
    Permission.READ: "read this workspace",
    Permission.IMPORT: "import files",
    Permission.DETECT: "run detection",
    Permission.TRIAGE: "mark findings or add notes",
    Permission.APPROVE: "approve decisions (four-eyes)",
    Permission.ASSIGN: "assign findings",
    Permission.REPORT: "write reports",
    Permission.CONFIGURE: "change workspace settings",
    Permission.MANAGE_USERS: "manage users",
}


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    active: bool
    created_at: str
    created_by: str | None


@contextmanager
def service_errors(db_path: Path | None = None) -> Iterator[None]:
    """Turn store errors, and the SQLite errors a user can meet (locked, read-only,
    damaged), into user-facing OversightErrors; other SQLite errors are bugs."""
    try:
        yield
    except StoreError as exc:
        raise from_store(exc) from exc
    except store.DbError as exc:
        known = store.known_error(exc, db_path or Path(DB_NAME))
        if known is None:
            raise
        raise from_store(known) from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_user_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("A user name cannot be empty.")
    if len(name) > 64:
        raise UsageError("A user name can have at most 64 characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise UsageError(f"The user name {name!r} contains control characters.")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise UsageError(f"Unknown role {text!r}; use one of: {allowed}.") from None


class Workspace:
    """An open, unlocked workspace and the user acting in it."""

    def __init__(
        self,
        folder: Path,
        conn: store.Connection,
        slots: SlotFile,
        key: bytes,
        user: str,
        role: Role,
        read_only: bool,
    ) -> None:
        self.folder = folder
        self.conn = conn
        self._slots = slots
        self._key = key
        self.user = user
        self.role = role
        self.read_only = read_only

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def workspace_id(self) -> str:
        return self._slots.workspace_id

    @classmethod
    def create(
        cls,
        folder: Path,
        admin: str,
        password: str,
        *,
        kdf: KdfParams | None = None,
    ) -> Workspace:
        """Make a new workspace whose first admin is ``admin``; return it opened."""
        admin = check_user_name(admin)
        check_password(password)
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise UsageError(
                f"{folder} already exists and is not an empty folder; choose a new folder "
                "for the workspace."
            )
        created_folder = not folder.exists()
        key = new_database_key()
        workspace_id = uuid.uuid4().hex
        db_path = folder / DB_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            with service_errors():
                conn = store.connect(db_path, key)
                try:
                    migrations.migrate(conn, db_path)
                    with store.transaction(conn, db_path):
                        now = _now()
                        conn.executemany(
                            "INSERT INTO workspace_meta(key, value) VALUES (?, ?)",
                            [("workspace_id", workspace_id), ("created_at", now),
                             ("created_by", admin)],
                        )
                        conn.execute(
                            "INSERT INTO users(name, role, active, created_at, created_by)"
                            " VALUES (?, 'admin', 1, ?, NULL)",
                            (admin, now),
                        )
                        audit.append(conn, admin, "workspace.create", {
                            "workspace_id": workspace_id,
                            "admin": admin,
                            "schema_version": migrations.SCHEMA_VERSION,
                        })
                        audit.append(conn, admin, "user.add", {"name": admin, "role": "admin"})
                    slots = SlotFile(folder / SLOTS_NAME, workspace_id, {})
                    slots.set_slot(admin, password, key, kdf)
                    slots.save()
                except BaseException:
                    conn.close()
                    raise
        except BaseException:
            # Nothing half-made is left behind.
            if created_folder:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                for name in os.listdir(folder):
                    target = folder / name
                    if target.is_dir():
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        target.unlink(missing_ok=True)
            raise
        return cls(folder, conn, slots, key, admin, Role.ADMIN, read_only=False)

    @classmethod
    def open(
        cls,
        folder: Path,
        user: str,
        password: str,
        *,
        read_only: bool = False,
        busy_timeout_ms: int = 5000,
    ) -> Workspace:
        """Unlock ``folder`` as ``user``; raise a clear error and change nothing on failure."""
        folder = Path(folder)
        db_path = folder / DB_NAME
        with service_errors(db_path):
            if not folder.is_dir():
                raise NotAWorkspace(f"{folder} is not a folder, so it is not a workspace.")
            has_db = db_path.is_file()
            has_slots = (folder / SLOTS_NAME).is_file()
            if not has_db and not has_slots:
                raise NotAWorkspace(
                    f"{folder} is not an Oversight workspace (it holds neither {DB_NAME} nor "
                    f"{SLOTS_NAME})."
                )
            if not has_db:
                raise NotAWorkspace(
                    f"The workspace database {db_path} is missing; restore it from a backup."
                )
            slots = SlotFile.load(folder / SLOTS_NAME)
            name = unicodedata.normalize("NFC", user.strip())
            key = slots.unlock(name, password)
            conn = store.connect(db_path, key, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
            try:
                version = migrations.schema_version(conn)
                if version < migrations.SCHEMA_VERSION and read_only:
                    raise StorageError(
                        f"The workspace {folder} needs a schema upgrade, which a read-only "
                        "session cannot do; open it once with write access."
                    )
                migrations.migrate(conn, db_path)  # refuses a newer schema
                row = conn.execute(
                    "SELECT role, active FROM users WHERE name = ?", (name,)
                ).fetchone()
                meta = conn.execute(
                    "SELECT value FROM workspace_meta WHERE key = 'workspace_id'"
                ).fetchone()
            except BaseException:
                conn.close()
                raise
        if meta is None or meta[0] != slots.workspace_id:
            conn.close()
            raise StorageError(
                f"The key-slot file in {folder} belongs to a different workspace than its "
                "database."
            )
        if row is None or not row[1]:
            conn.close()
            raise AuthenticationError(f"User {name!r} has been removed from this workspace.")
        return cls(folder, conn, slots, key, name, Role(row[0]), read_only)

    def close(self) -> None:
        self.conn.close()
        self._key = b""

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- permissions and transactions ---------------------------------------------------

    def can(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(
                f"User {self.user!r} has the {self.role.value} role, which may not "
                f"{_WHY[permission]}."
            )

    @contextmanager
    def write(self) -> Iterator[store.Connection]:
        """A write transaction with store errors mapped to sentences."""
        if self.read_only:
            raise StorageError(
                f"The workspace {self.folder} is open read-only; nothing can be changed."
            )
        with service_errors(self.db_path), store.transaction(self.conn, self.db_path) as conn:
            yield conn

    def record(self, action: str, payload: dict[str, Any]) -> audit.AuditEvent:
        """Append an audit event by the acting user (inside write())."""
        return audit.append(self.conn, self.user, action, payload)

    # -- users -------------------------------------------------------------------------

    def users(self) -> list[UserInfo]:
        self.require(Permission.READ)
        rows = self.conn.execute(
            "SELECT name, role, active, created_at, created_by FROM users ORDER BY name"
        ).fetchall()
        return [UserInfo(r[0], Role(r[1]), bool(r[2]), r[3], r[4]) for r in rows]

    def add_user(self, name: str, role: Role, password: str) -> UserInfo:
        self.require(Permission.MANAGE_USERS)
        name = check_user_name(name)
        check_password(password)
        existing = self.conn.execute(
            "SELECT active FROM users WHERE name = ?", (name,)
        ).fetchone()
        if existing is not None and existing[0]:
            raise UsageError(f"A user named {name!r} already exists.")
        now = _now()
        with self.write() as conn:
            if existing is None:
                conn.execute(
                    "INSERT INTO users(name, role, active, created_at, created_by)"
                    " VALUES (?, ?, 1, ?, ?)",
                    (name, role.value, now, self.user),
                )
            else:
                conn.execute(
                    "UPDATE users SET role = ?, active = 1 WHERE name = ?", (role.value, name)
                )
            self.record("user.add", {"name": name, "role": role.value})
            self._save_slot(name, password)
        return UserInfo(name, role, True, now, self.user)

    def remove_user(self, name: str) -> None:
        self.require(Permission.MANAGE_USERS)
        name = check_user_name(name)
        row = self.conn.execute("SELECT role, active FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or not row[1]:
            raise UsageError(f"There is no user named {name!r} in this workspace.")
        if name == self.user:
            raise UsageError("You cannot remove yourself; ask another admin.")
        if row[0] == Role.ADMIN.value:
            admins = self.conn.execute(
                "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"
            ).fetchone()[0]
            if admins <= 1:
                raise UsageError("The last admin of a workspace cannot be removed.")
        with self.write() as conn:
            # The row stays (inactive) so earlier actions remain attributed.
            conn.execute("UPDATE users SET active = 0 WHERE name = ?", (name,))
            self.record("user.remove", {"name": name})
            with suppress(UnknownUser):
                self._slots.remove_slot(name)
            self._slots.save()

    def change_password(self, new_password: str) -> None:
        """Change the acting user's own password: rewrites only their slot."""
        self.require(Permission.READ)
        check_password(new_password)
        with self.write():
            self.record("user.passwd", {"name": self.user})
            self._save_slot(self.user, new_password)

    def reset_password(self, name: str, new_password: str) -> None:
        """An admin sets another user's password (e.g. after a forgotten one)."""
        self.require(Permission.MANAGE_USERS)
        name = check_user_name(name)
        check_password(new_password)
        row = self.conn.execute("SELECT active FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or not row[0]:
            raise UsageError(f"There is no user named {name!r} in this workspace.")
        with self.write():
            self.record("user.reset_password", {"name": name})
            self._save_slot(name, new_password)

    def _save_slot(self, name: str, password: str) -> None:
        # Called last inside the transaction: if writing the slot file fails, the
        # database change rolls back with it.
        try:
            self._slots.set_slot(name, password, self._key)
            self._slots.save()
        except OSError as exc:
            raise StorageError(
                f"The key-slot file {self._slots.path} could not be written: {exc.strerror}."
            ) from exc

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM workspace_meta").fetchall())


def is_workspace(folder: Path) -> bool:
    return (Path(folder) / DB_NAME).is_file() or (Path(folder) / SLOTS_NAME).is_file()


