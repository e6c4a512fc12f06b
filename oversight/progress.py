"""Progress reporting and cancellation for long work, as plain Python.

The CLI turns progress into a rich bar; the GUI runs the same function on a worker
thread and throttles updates. Cancellation is cooperative: work checks the token at
safe points and raises Cancelled, which rolls back its transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from oversight.errors import Cancelled

__all__ = ["CancelToken", "Progress", "no_progress"]


#: progress(done, total, stage): units done of total (0 = unknown) in a named stage.
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, stage: str) -> None:
    """A progress callback that ignores updates."""


class CancelToken:
    """Set from any thread; checked by the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Block until cancel() is called or ``timeout`` seconds pass; True if cancelled.
        (A worker that must hold still until the user decides, e.g. in tests.)"""
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise Cancelled if cancel() was called."""
        if self._event.is_set():
            raise Cancelled("Cancelled by the user; nothing was written.")
