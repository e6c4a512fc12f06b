"""What the workstation remembers between sessions (QSettings): window geometry,
recent workspaces, the last user per workspace, table column layouts and the idle
time before the screen locks. Never workspace data, never a password."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ui.qt import QtCore

__all__ = ["DEFAULT_IDLE_MINUTES", "MAX_RECENT", "Settings"]

DEFAULT_IDLE_MINUTES = 10
MAX_RECENT = 10
ORGANISATION = "Oversight"
APPLICATION = "Oversight Workstation"


class Settings:
    """Typed access to one QSettings store (tests pass an INI file of their own)."""

    def __init__(self, store: QtCore.QSettings | None = None) -> None:
        self.store = store if store is not None else QtCore.QSettings(ORGANISATION, APPLICATION)

    @classmethod
    def at(cls, path: Path) -> Settings:
        """Settings kept in an INI file (tests, portable installs)."""
        return cls(QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat))

    # -- recent workspaces -------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.store.value("recent/workspaces", [])
        if isinstance(value, str):  # QSettings returns a lone entry as a string
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(v) for v in value if str(v)]

    def add_recent(self, folder: Path) -> None:
        text = str(Path(folder).resolve())
        items = [text, *[r for r in self.recent() if r != text]][:MAX_RECENT]
        self.store.setValue("recent/workspaces", items)

    def remove_recent(self, folder: str) -> None:
        self.store.setValue("recent/workspaces", [r for r in self.recent() if r != folder])

    def last_user(self, folder: Path) -> str:
        return str(self.store.value(f"users/{_key(folder)}", "") or "")

    def set_last_user(self, folder: Path, user: str) -> None:
        self.store.setValue(f"users/{_key(folder)}", user)

    # -- locking -----------------------------------------------------------------------

    def idle_minutes(self) -> int:
        raw = self.store.value("lock/idle_minutes", DEFAULT_IDLE_MINUTES)
        try:
            value = int(str(raw))
        except ValueError:
            value = DEFAULT_IDLE_MINUTES
        return max(1, min(value, 240))

    def set_idle_minutes(self, minutes: int) -> None:
        self.store.setValue("lock/idle_minutes", int(minutes))

    # -- layout ------------------------------------------------------------------------

    def bytes_value(self, key: str) -> QtCore.QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QtCore.QByteArray) and not value.isEmpty() else None

    def set_bytes(self, key: str, value: QtCore.QByteArray) -> None:
        self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()


def _key(folder: Path) -> str:
    # QSettings treats '/' and '\\' as group separators; a hash keeps one flat key.
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]
