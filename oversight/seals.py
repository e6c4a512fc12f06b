"""Signing keys and seals: who vouches for each command's events.

Every user holds an Ed25519 key pair. The private half (a 32-byte seed) lives only in
that user's key slot, wrapped with the database key under their password; the public
half is in the audit chain (the event that gave it to them) and, as a copy, in the users
table. A command that appends events to the chain ends with one *seal*: the actor's
signature over the new head, stored in the ``seals`` table under the sequence number of
the command's last event. The head hash covers every event before it, so one signature
vouches for the whole command (a bulk mark of 100,000 findings costs one signature).

Signed bytes: ``oversight-seal/1`` and a newline, then the compact JSON array
``[workspace_id, seq, hash, user]`` (UTF-8). Binding the workspace id keeps a seal from
being replayed into another workspace; binding the user keeps a seal from being
attributed to someone else even where two users held the same key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "Seal",
    "Signer",
    "key_id",
    "new_seed",
    "seal_message",
    "signer_from_seed",
    "valid_public_key",
    "verify_seal",
]

SEAL_CONTEXT = b"oversight-seal/1\n"


@dataclass(frozen=True)
class Seal:
    seq: int
    """The sequence number of the last event of the sealed command."""
    user: str
    """Who sealed it (every event of the command must be theirs)."""
    key_id: str
    """Fingerprint of the public key used (a hint; verification uses the chain's key)."""
    signature: str
    """Base64 Ed25519 signature over ``seal_message``."""


class Signer:
    """A user's private key, held in memory while their workspace is open."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode("ascii")
        """The public key as stored in the chain (base64 of the 32 raw bytes)."""
        self.key_id = key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode("ascii")

    def seal(self, workspace_id: str, seq: int, head_hash: str, user: str) -> Seal:
        return Seal(seq, user, self.key_id,
                    self.sign(seal_message(workspace_id, seq, head_hash, user)))


def new_seed() -> bytes:
    """A fresh private Ed25519 seed (32 random bytes)."""
    return secrets.token_bytes(32)


def signer_from_seed(seed: bytes) -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(seed))


def key_id(public_key: str) -> str:
    """A short fingerprint: the first 16 hex digits of SHA-256 over the raw key."""
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = public_key.encode("utf-8")
    return hashlib.sha256(raw).hexdigest()[:16]


def seal_message(workspace_id: str, seq: int, head_hash: str, user: str) -> bytes:
    body = json.dumps([workspace_id, seq, head_hash, user], separators=(",", ":"),
                      ensure_ascii=False)
    return SEAL_CONTEXT + body.encode("utf-8")


_PUBLIC_CACHE: dict[str, Ed25519PublicKey | None] = {}


def _public(public_key: str) -> Ed25519PublicKey | None:
    found = _PUBLIC_CACHE.get(public_key, False)
    if found is not False:
        return found  # type: ignore[return-value]
    try:
        raw = base64.b64decode(public_key, validate=True)
        key: Ed25519PublicKey | None = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        key = None
    if len(_PUBLIC_CACHE) > 4096:
        _PUBLIC_CACHE.clear()
    _PUBLIC_CACHE[public_key] = key
    return key


def valid_public_key(public_key: object) -> bool:
    return isinstance(public_key, str) and _public(public_key) is not None


def verify_seal(public_key: str, workspace_id: str, seq: int, head_hash: str, user: str,
                signature: str) -> bool:
    """Whether ``signature`` is ``public_key``'s seal of event ``seq`` with ``head_hash``."""
    key = _public(public_key)
    if key is None:
        return False
    try:
        sig = base64.b64decode(signature, validate=True)
        key.verify(sig, seal_message(workspace_id, seq, head_hash, user))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
