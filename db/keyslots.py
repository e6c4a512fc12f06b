"""Per-user key slots: the workspace key wrapped under each user's password.

Like LUKS: the database key is 32 random bytes; every user holds a slot with that key
encrypted (AES-256-GCM) under a key derived from their password with Argon2id. The
slot's associated data binds it to the workspace, the user name and the KDF settings,
so a slot cannot be moved to another user or weakened without failing to open. A
SHA-256 checksum per slot tells a damaged slot apart from a wrong password.

Since format version 2 a slot also holds the user's private Ed25519 signing seed: the
encrypted plaintext is the database key followed by the 32-byte seed. Version 1 files
(and version 2 slots written before the user had a signing key) hold the key alone; they
still open, and give no seed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from db.errors import SlotFileError, UnknownUser, WrongPassword

__all__ = [
    "KEY_BYTES",
    "MIN_MEMORY_KIB",
    "KdfParams",
    "SlotFile",
    "SlotKeys",
    "new_database_key",
]

FORMAT = "oversight-keyslots"
FORMAT_VERSION = 2
#: Versions this program reads: 1 (the database key alone), 2 (key and signing seed).
READABLE_VERSIONS = (1, 2)
KEY_BYTES = 32
SEED_BYTES = 32
#: Argon2id memory cost floor in KiB (64 MiB), per the security model.
MIN_MEMORY_KIB = 64 * 1024


@dataclass(frozen=True)
class KdfParams:
    """Argon2id settings stored with each slot."""

    time_cost: int = 3
    """Passes over memory."""
    memory_cost: int = MIN_MEMORY_KIB
    """Memory in KiB; never below MIN_MEMORY_KIB."""
    parallelism: int = 4
    """Lanes."""


@dataclass(frozen=True)
class SlotKeys:
    """What one user's slot unwraps."""

    database_key: bytes
    """The workspace's SQLCipher key (32 bytes)."""
    signing_seed: bytes | None
    """The user's private Ed25519 seed (32 bytes), or None for a slot written before
    the user had a signing key."""


def new_database_key() -> bytes:
    """Return a fresh random 256-bit database key."""
    return secrets.token_bytes(KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str, path: Path) -> bytes:
    if not isinstance(text, str):
        raise SlotFileError(f"The key-slot file {path} is damaged: {what} is not text.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SlotFileError(f"The key-slot file {path} is damaged: {what} is not base64.") from None


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _password_bytes(password: str) -> bytes:
    # NFC so the same password typed on different systems derives the same key.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _derive(password: str, salt: bytes, params: KdfParams) -> bytes:
    return hash_secret_raw(
        secret=_password_bytes(password),
        salt=salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


class SlotFile:
    """The key-slot file of one workspace, read into memory and written atomically."""

    def __init__(self, path: Path, workspace_id: str, slots: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.workspace_id = workspace_id
        self._slots = slots

    # -- reading -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> SlotFile:
        """Read and structurally check the slot file; raise SlotFileError if unusable."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise SlotFileError(
                f"The key-slot file {path} is missing; without it the workspace cannot be "
                "opened. Restore it from a backup."
            ) from None
        except OSError as exc:
            raise SlotFileError(
                f"The key-slot file {path} cannot be read: {exc.strerror}."
            ) from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SlotFileError(
                f"The key-slot file {path} is damaged (not valid JSON: {exc}). "
                "Restore it from a backup."
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise SlotFileError(f"{path} is not an Oversight key-slot file.")
        if doc.get("version") not in READABLE_VERSIONS:
            raise SlotFileError(
                f"The key-slot file {path} has version {doc.get('version')!r}; this program "
                f"reads versions {' and '.join(map(str, READABLE_VERSIONS))}. Use a newer "
                "version of Oversight Workstation."
            )
        workspace_id = doc.get("workspace_id")
        slots = doc.get("slots")
        if not isinstance(workspace_id, str) or not isinstance(slots, dict):
            raise SlotFileError(f"The key-slot file {path} is damaged: its header is incomplete.")
        for name, slot in slots.items():
            if not isinstance(slot, dict):
                raise SlotFileError(f"The key-slot file {path} is damaged: slot {name!r}.")
        return cls(path, workspace_id, slots)

    def users(self) -> list[str]:
        """Names that have a slot, sorted."""
        return sorted(self._slots)

    def has_user(self, user: str) -> bool:
        return user in self._slots

    def unlock(self, user: str, password: str) -> bytes:
        """Return the database key from ``user``'s slot, or raise a clear error."""
        return self.unlock_keys(user, password).database_key

    def unlock_keys(self, user: str, password: str) -> SlotKeys:
        """Return the database key and the signing seed (if the slot has one)."""
        slot = self._slots.get(user)
        if slot is None:
            raise UnknownUser(f"There is no user named {user!r} in this workspace.")
        body = {k: v for k, v in slot.items() if k != "checksum"}
        if slot.get("checksum") != hashlib.sha256(_canonical(body)).hexdigest():
            raise SlotFileError(
                f"The key slot of user {user!r} in {self.path} has been altered or damaged; "
                "restore the file from a backup or ask an admin to reset your password."
            )
        # The workspace id is bound into the wrapped key (AAD), so a changed id would
        # read as a wrong password; the slot records (under its checksum) the id it was
        # made for, which tells the two apart. Slots made before that record nothing.
        made_for = body.get("workspace_id")
        if made_for is not None and made_for != self.workspace_id:
            raise SlotFileError(
                f"The key-slot file {self.path} names workspace {self.workspace_id!r}, but "
                f"the slot of user {user!r} was made for workspace {made_for!r}: the file's "
                "workspace id has been changed, or the slot comes from another workspace. "
                "Restore the key-slot file from a backup."
            )
        try:
            kdf = body["kdf"]
            params = KdfParams(
                time_cost=int(kdf["time_cost"]),
                memory_cost=int(kdf["memory_cost"]),
                parallelism=int(kdf["parallelism"]),
            )
            salt = _unb64(kdf["salt"], "salt", self.path)
            nonce = _unb64(body["nonce"], "nonce", self.path)
            wrapped = _unb64(body["wrapped_key"], "wrapped key", self.path)
            if kdf.get("name") != "argon2id" or body.get("aead") != "aes-256-gcm":
                raise ValueError("unsupported algorithm")
        except (KeyError, TypeError, ValueError):
            raise SlotFileError(
                f"The key slot of user {user!r} in {self.path} is incomplete or uses an "
                "unknown algorithm."
            ) from None
        if params.memory_cost < MIN_MEMORY_KIB:
            raise SlotFileError(
                f"The key slot of user {user!r} uses a weaker password hash than allowed; "
                "an admin must reset the password."
            )
        kek = _derive(password, salt, params)
        try:
            plain = AESGCM(kek).decrypt(nonce, wrapped, self._aad(user, body))
        except InvalidTag:
            raise WrongPassword(f"Wrong password for user {user!r}.") from None
        if len(plain) not in (KEY_BYTES, KEY_BYTES + SEED_BYTES):
            raise SlotFileError(f"The key slot of user {user!r} holds a key of the wrong size.")
        return SlotKeys(plain[:KEY_BYTES], plain[KEY_BYTES:] or None)

    # -- writing -----------------------------------------------------------------------

    def _aad(self, user: str, body: dict[str, Any]) -> bytes:
        bound = {
            "format": FORMAT,
            "workspace_id": self.workspace_id,
            "user": user,
            "kdf": body["kdf"],
            "aead": body["aead"],
        }
        return _canonical(bound)

    def set_slot(
        self, user: str, password: str, key: bytes, params: KdfParams | None = None,
        *, signing_seed: bytes | None = None,
    ) -> None:
        """Create or replace ``user``'s slot in memory; call save() to write the file.
        ``signing_seed`` (the user's private Ed25519 seed) is wrapped with the key."""
        params = params or KdfParams()
        if params.memory_cost < MIN_MEMORY_KIB:
            raise ValueError("Argon2id memory cost below the 64 MiB floor")
        if len(key) != KEY_BYTES:
            raise ValueError("database key must be 32 bytes")
        if signing_seed is not None and len(signing_seed) != SEED_BYTES:
            raise ValueError("signing seed must be 32 bytes")
        salt = secrets.token_bytes(16)
        nonce = secrets.token_bytes(12)
        body: dict[str, Any] = {
            "kdf": {
                "name": "argon2id",
                "time_cost": params.time_cost,
                "memory_cost": params.memory_cost,
                "parallelism": params.parallelism,
                "salt": _b64(salt),
            },
            "aead": "aes-256-gcm",
            "nonce": _b64(nonce),
            "workspace_id": self.workspace_id,  # what the slot was made for (see unlock)
        }
        kek = _derive(password, salt, params)
        plain = key + (signing_seed or b"")
        body["wrapped_key"] = _b64(AESGCM(kek).encrypt(nonce, plain, self._aad(user, body)))
        body["checksum"] = hashlib.sha256(_canonical(body)).hexdigest()
        self._slots[user] = body

    def remove_slot(self, user: str) -> None:
        if user not in self._slots:
            raise UnknownUser(f"There is no user named {user!r} in this workspace.")
        del self._slots[user]

    def save(self) -> None:
        """Write the file atomically: a temp file in the same folder, fsync, rename."""
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "workspace_id": self.workspace_id,
            "slots": self._slots,
        }
        data = json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"
        write_atomic(self.path, data)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
