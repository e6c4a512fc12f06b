"""Workspace settings that decide accountability, each kept in ``workspace_meta`` under
its name and recorded as a ``settings.<name>`` event ({from, to}) that verify replays.
(The four-eyes policy is in `oversight.triage`.)"""

from __future__ import annotations

from oversight.changes import Change, changes
from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["AUTO_LOCK_RANGE", "auto_lock_minutes", "set_auto_lock_minutes"]

#: Allowed idle minutes before the workstation locks itself.
AUTO_LOCK_RANGE = (1, 240)


def auto_lock_minutes(ws: Workspace) -> int | None:
    """The workspace's idle limit in minutes before the workstation locks (None: not
    set; each user's own preference applies)."""
    row = ws.conn.execute(
        "SELECT value FROM workspace_meta WHERE key = 'auto_lock_minutes'").fetchone()
    try:
        return None if row is None else int(row[0])
    except ValueError:
        return None


@changes(Change.SETTINGS)
def set_auto_lock_minutes(ws: Workspace, minutes: int) -> None:
    """Set the idle limit (admins: Permission.CONFIGURE)."""
    ws.require(Permission.CONFIGURE)
    low, high = AUTO_LOCK_RANGE
    if not low <= minutes <= high:
        raise UsageError(f"Auto-lock takes {low} to {high} minutes, not {minutes}.")
    with ws.write() as conn:
        old = auto_lock_minutes(ws)
        conn.execute("INSERT INTO workspace_meta(key, value) VALUES ('auto_lock_minutes', ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(minutes),))
        ws.record("settings.auto_lock_minutes", {"from": old, "to": minutes})
