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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from db import migrations, store
from db.errors import NotAWorkspace, StoreError, UnknownUser
from db.keyslots import KdfParams, SlotFile, new_database_key
from oversight import audit, chainstate
from oversight.changes import Change, changes
from oversight.errors import (
    AuthenticationError,
    OversightError,
    PermissionDenied,
    StorageError,
    UsageError,
)
from oversight.roles import GRANTS, WHY, Permission, Role
from oversight.seals import Signer, new_seed, signer_from_seed

__all__ = [
    "DB_NAME",
    "SLOTS_NAME",
    "Permission",
    "Role",
    "UserInfo",
    "Workspace",
    "service_errors",
    "user_name",
]

DB_NAME = "workspace.db"
SLOTS_NAME = "keyslots.json"
MIN_PASSWORD_LENGTH = 8


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
    except store.DbError as exc:
        known = store.known_error(exc, db_path or Path(DB_NAME))
        if known is None:
            raise
        raise known from exc


def user_name(name: str) -> str:
    """A user name as typed, in the form users are stored and signed under: stripped and
    in Unicode's composed form (NFC), so "José" typed as an e and a combining accent
    names the same user. Every lookup of a user by a typed name goes through it."""
    return unicodedata.normalize("NFC", name.strip())


def _folded(name: str) -> str:
    """A user name as a reader may take it: capitals and compatibility forms (full-width
    letters, ligatures) folded (Unicode's NFKC_Casefold, closely). Two users whose names
    fold alike would read as one person in reports and the audit trail."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def check_user_name(name: str) -> str:
    name = user_name(name)
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
        *,
        signer: Signer | None = None,
        divergence: str | None = None,
        read_only_reason: str | None = None,
    ) -> None:
        self.folder = folder
        self.conn = conn
        self._slots = slots
        self._key = key
        self.user = user
        self.role = role
        self.read_only = read_only or read_only_reason is not None
        self._signer = signer
        self.divergence = divergence
        """The first way the tables disagree with the audit chain, found on opening
        (a sentence), or None. A divergent workspace opens read-only."""
        self.read_only_reason = read_only_reason
        """Why this session may not write although the user asked to (a divergence, or a
        workspace awaiting its upgrade to signed events), or None."""
        self._after_seal: list[Callable[[], None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    def helper_access(self) -> tuple[Path, bytes]:
        """The database and its raw key, for a helper process of this program that reads
        the same workspace on another core (oversight.verify_worker); handed over a
        pipe, never written anywhere."""
        return self.db_path, self._key

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
                    seed = new_seed()
                    signer = signer_from_seed(seed)
                    with store.transaction(conn, db_path):
                        # The root of the chain: the first admin and the public key
                        # whose seal vouches for this very command.
                        created = audit.append(conn, admin, "workspace.create", {
                            "workspace_id": workspace_id,
                            "admin": admin,
                            "schema_version": migrations.SCHEMA_VERSION,
                            "public_key": signer.public_key,
                        })
                        conn.executemany(
                            "INSERT INTO workspace_meta(key, value) VALUES (?, ?)",
                            [("workspace_id", workspace_id), ("created_at", created.ts),
                             ("created_by", admin)],
                        )
                        conn.execute(
                            "INSERT INTO users(name, role, active, created_at, created_by,"
                            " public_key) VALUES (?, 'admin', 1, ?, NULL, ?)",
                            (admin, created.ts, signer.public_key),
                        )
                        audit.append(conn, admin, "user.add", {
                            "name": admin, "role": "admin", "public_key": signer.public_key})
                        chainstate.seal_command(conn, workspace_id, admin, signer, 0)
                    slots = SlotFile(folder / SLOTS_NAME, workspace_id, {})
                    slots.set_slot(admin, password, key, kdf, signing_seed=seed)
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
        return cls(folder, conn, slots, key, admin, Role.ADMIN, read_only=False, signer=signer)

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
            name = user_name(user)
            keys = slots.unlock_keys(name, password)
            key = keys.database_key
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
                access = chainstate.access_state(conn)
            except BaseException:
                conn.close()
                raise
        if meta is None or meta[0] != slots.workspace_id:
            conn.close()
            raise StorageError(
                f"The key-slot file in {folder} belongs to a different workspace than its "
                "database."
            )
        try:
            ws = cls._admit(folder, conn, slots, key, name, row, access, keys.signing_seed,
                            read_only)
            with service_errors(db_path):
                ws._start_signing(password, keys.signing_seed, access)
        except BaseException:
            conn.close()
            raise
        return ws

    @classmethod
    def _admit(cls, folder: Path, conn: store.Connection, slots: SlotFile, key: bytes,
               name: str, row: Any, access: chainstate.Access, seed: bytes | None,
               read_only: bool) -> Workspace:
        """Who the user is according to the audit chain, and whether they may write."""
        derived = access.derived
        held = derived.users.get(name)
        divergence = access.divergence
        if held is None and derived.users:
            if row is not None and row[1]:
                raise AuthenticationError(
                    f"User {name!r} is in the users table, but no event of the audit trail "
                    "adds them: the workspace was edited outside Oversight (an admin can run "
                    "`oversight verify`).")
            raise AuthenticationError(f"User {name!r} has been removed from this workspace.")
        if held is not None and not held.active:
            raise AuthenticationError(f"User {name!r} has been removed from this workspace.")
        if held is None:  # the chain itself is damaged: read-only, as the table says
            if row is None or not row[1]:
                raise AuthenticationError(
                    f"User {name!r} has been removed from this workspace.")
            role = Role(row[0])
        else:
            role = held.role
        signer = signer_from_seed(seed) if seed is not None else None
        if divergence is None and held is not None and held.key is not None and (
                signer is None or signer.public_key != held.key):
            divergence = (f"The signing key in the key slot of {name} is not the one the "
                          f"audit trail gives them (event {held.key_seq}); an admin must "
                          "reset their password.")
        elif divergence is None and held is not None and held.key is None \
                and signer is not None:
            divergence = (f"The key slot of {name} holds a signing key, but the audit trail "
                          "gives them none: the trail may have been rewritten.")
        reason = None
        if divergence is not None:
            reason = (f"{divergence} Until that is resolved the workspace opens read-only "
                      "(`oversight verify` lists what differs).")
        elif access.awaiting_upgrade and (read_only or role is not Role.ADMIN):
            reason = ("This workspace was written before audit events were signed; an admin "
                      "must open it once with write access to vouch for its history. Until "
                      "then it opens read-only.")
        elif held is not None and held.key is None and not held.pending \
                and not access.awaiting_upgrade:
            reason = (f"User {name!r} holds no signing key in this workspace; an admin must "
                      "reset their password.")
        if read_only and divergence is None:
            reason = None  # asked for: the usual sentence
        return cls(folder, conn, slots, key, name, role, read_only, signer=signer,
                   divergence=divergence, read_only_reason=reason)

    def _start_signing(self, password: str, seed: bytes | None,
                       access: chainstate.Access) -> None:
        """The first write-enabled sign-in after the upgrade gives the user a key; an
        admin's first one upgrades a workspace written before signing."""
        if self.read_only:
            return
        if access.awaiting_upgrade:
            self._upgrade(password)
            return
        held = access.derived.users.get(self.user)
        if held is not None and held.pending and held.key is None and seed is None:
            self._enrol(password)

    def _enrol(self, password: str) -> None:
        seed = new_seed()
        self._signer = signer_from_seed(seed)
        try:
            with self.write() as conn:
                if chainstate.access_event(conn, "user.enrol", self.user):
                    raise _Raced("This user enrolled in another session just now")
                self.record("user.enrol", {"name": self.user,
                                           "public_key": self._signer.public_key})
                conn.execute("UPDATE users SET public_key = ? WHERE name = ?",
                             (self._signer.public_key, self.user))
                self._save_slot(self.user, password, seed)
        except _Raced as why:
            self._raced(why)
        except BaseException:
            self._signer = None
            raise

    def _raced(self, why: OversightError) -> None:
        self._signer = None
        self.read_only = True
        self.read_only_reason = f"{why.message}; open the workspace again to work in it."

    def _upgrade(self, password: str) -> None:
        """Vouch, as this admin, for the events written before signing existed."""
        seed = new_seed()
        signer = signer_from_seed(seed)
        self._signer = signer
        try:
            with self.write() as conn:
                if chainstate.access_event(conn, "workspace.upgrade"):
                    raise _Raced("Another admin upgraded this workspace just now")
                problems = chainstate.legacy_problems(conn)
                if problems:
                    raise _NotUpgraded(problems[0])
                findings = chainstate.finding_digests(conn)
                payload = chainstate.upgrade_payload(conn, self.user, signer.public_key,
                                                     findings, migrations.SCHEMA_VERSION)
                conn.executemany("UPDATE findings SET content_digest = ? WHERE finding_id = ?",
                                 [(v[3], fid) for fid, v in findings.items()])
                conn.execute("UPDATE users SET public_key = ? WHERE name = ?",
                             (signer.public_key, self.user))
                self.record("workspace.upgrade", payload)
                self._save_slot(self.user, password, seed)
        except _Raced as why:
            self._raced(why)
        except _NotUpgraded as why:
            self._signer = None
            self.divergence = why.message
            self.read_only = True
            self.read_only_reason = (
                f"This workspace was written before audit events were signed, and it cannot "
                f"be upgraded: {why.message} It opens read-only.")
        except BaseException:
            self._signer = None
            raise

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
        if self.read_only_reason is not None and permission is not Permission.READ:
            return False
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if self.read_only_reason is not None and permission is not Permission.READ:
            raise PermissionDenied(self.read_only_reason)
        if not self.can(permission):
            raise PermissionDenied(
                f"User {self.user!r} has the {self.role.value} role, which may not "
                f"{WHY[permission]}."
            )

    @contextmanager
    def write(self) -> Iterator[store.Connection]:
        """A write transaction with store errors mapped to sentences.

        The events the transaction appends are sealed before it commits: the acting
        user's signature over the new head, in the same transaction, so a command's
        events are never left unsealed."""
        if self.read_only:
            raise StorageError(self.read_only_reason or (
                f"The workspace {self.folder} is open read-only; nothing can be changed."))
        self._after_seal = []
        try:
            with service_errors(self.db_path), \
                    store.transaction(self.conn, self.db_path) as conn:
                start = audit.head(conn)[0]
                yield conn
                self._seal(conn, start)
                for step in self._after_seal:
                    step()
        finally:
            self._after_seal = []

    def _seal(self, conn: store.Connection, start: int) -> None:
        if self._signer is not None:
            chainstate.seal_command(conn, self.workspace_id, self.user, self._signer, start)
        elif audit.head(conn)[0] != start:
            raise StorageError(f"User {self.user!r} holds no signing key, so nothing they "
                               "do can be recorded; an admin must reset their password.")

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

    @changes(Change.USERS)
    def add_user(self, name: str, role: Role, password: str) -> UserInfo:
        self.require(Permission.MANAGE_USERS)
        name = check_user_name(name)
        check_password(password)
        existing = self.conn.execute(
            "SELECT active FROM users WHERE name = ?", (name,)
        ).fetchone()
        if existing is not None and existing[0]:
            raise UsageError(f"A user named {name!r} already exists.")
        folded = _folded(name)
        for (other,) in self.conn.execute("SELECT name FROM users WHERE name != ?", (name,)):
            if isinstance(other, str) and _folded(other) == folded:
                raise UsageError(f"The user name {name!r} differs from the existing user "
                                 f"{other!r} only by capitals or character width; choose a "
                                 "name that reads differently.")
        seed = new_seed()
        public_key = signer_from_seed(seed).public_key
        with self.write() as conn:
            added = self.record("user.add", {"name": name, "role": role.value,
                                             "public_key": public_key})
            if existing is None:
                conn.execute(
                    "INSERT INTO users(name, role, active, created_at, created_by, public_key)"
                    " VALUES (?, ?, 1, ?, ?, ?)",
                    (name, role.value, added.ts, self.user, public_key),
                )
            else:
                conn.execute(
                    "UPDATE users SET role = ?, active = 1, public_key = ? WHERE name = ?",
                    (role.value, public_key, name)
                )
            self._save_slot(name, password, seed)
        return UserInfo(name, role, True, added.ts, self.user)

    @changes(Change.USERS)
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

            def drop_slot() -> None:
                with suppress(UnknownUser):
                    self._slots.remove_slot(name)
                self._write_slots()
            self._after_seal.append(drop_slot)

    def change_password(self, new_password: str) -> None:
        """Change the acting user's own password: rewrites only their slot, with a new
        signing key (so whoever set the old password, an admin, no longer holds it)."""
        self.require(Permission.READ)
        check_password(new_password)
        seed = new_seed()
        signer = signer_from_seed(seed)
        with self.write() as conn:  # sealed with the key held until now
            self.record("user.passwd", {"name": self.user, "public_key": signer.public_key})
            conn.execute("UPDATE users SET public_key = ? WHERE name = ?",
                         (signer.public_key, self.user))
            self._save_slot(self.user, new_password, seed)
        self._signer = signer

    @changes(Change.USERS)
    def reset_password(self, name: str, new_password: str) -> None:
        """An admin sets another user's password (e.g. after a forgotten one), with a new
        signing key for them."""
        self.require(Permission.MANAGE_USERS)
        name = check_user_name(name)
        check_password(new_password)
        row = self.conn.execute("SELECT active FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or not row[0]:
            raise UsageError(f"There is no user named {name!r} in this workspace.")
        seed = new_seed()
        public_key = signer_from_seed(seed).public_key
        with self.write() as conn:
            self.record("user.reset_password", {"name": name, "public_key": public_key})
            conn.execute("UPDATE users SET public_key = ? WHERE name = ?", (public_key, name))
            self._save_slot(name, new_password, seed)

    def _save_slot(self, name: str, password: str, seed: bytes) -> None:
        """Rewrite ``name``'s slot (with their signing seed) as the last step of the
        current write(), after its seal: if writing the slot file fails, the database
        change rolls back with it."""
        def save() -> None:
            self._slots.set_slot(name, password, self._key, signing_seed=seed)
            self._write_slots()
        self._after_seal.append(save)

    def _write_slots(self) -> None:
        try:
            self._slots.save()
        except OSError as exc:
            # What is in memory must stay what is on disk: the change rolls back.
            with suppress(StoreError):
                self._slots = SlotFile.load(self._slots.path)
            raise StorageError(
                f"The key-slot file {self._slots.path} could not be written: "
                f"{exc.strerror}.") from exc

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM workspace_meta").fetchall())


class _Raced(OversightError):
    """Another session enrolled or upgraded between opening and writing."""


class _NotUpgraded(OversightError):
    """The events before signing disagree with the tables: nobody vouches for them."""


def is_workspace(folder: Path) -> bool:
    return (Path(folder) / DB_NAME).is_file() or (Path(folder) / SLOTS_NAME).is_file()


