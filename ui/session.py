"""One signed-in user in one workspace: the only holder of the open Workspace.

Views read through ``read()`` and change things through ``write()`` (quick triage
decisions, on the GUI thread) or ``start_job()`` (import, detection, verify, on the
worker thread); both report what changed, so each view decides whether to reload, as
Anki's operations do. Locking closes the Workspace, which drops the database key;
unlocking opens it again with the user's password.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from oversight.changes import EVERYTHING, Change, changes_of
from oversight.progress import CancelToken, Progress
from oversight.workspace import Permission, Workspace, service_errors
from ui.jobs import Job
from ui.prompts import Prompts
from ui.qt import QObject, QtCore, QtWidgets, Signal

__all__ = ["Session", "why_not"]

T = TypeVar("T")

_WHY = {
    Permission.READ: "read this workspace",
    Permission.IMPORT: "import files",
    Permission.DETECT: "run detection",
    Permission.TRIAGE: "mark findings or add notes",
    Permission.APPROVE: "approve decisions as the second reviewer",
    Permission.ASSIGN: "assign findings",
    Permission.CONFIGURE: "change workspace settings",
    Permission.MANAGE_USERS: "manage users",
}


def why_not(role: str, permission: Permission) -> str:
    """The tooltip of a disabled action."""
    return f"Your role ({role}) may not {_WHY[permission]}."


class Session(QObject):
    """The open workspace, its user, and the one background job at a time."""

    changed = Signal(object)  # frozenset[Change]: views reload for the kinds they show
    ready_changed = Signal(bool)  # True: views may read
    locked_changed = Signal(bool)
    job_started = Signal(object)  # Job

    def __init__(self, ws: Workspace, prompts: Prompts, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Resolved: a workspace opened as "." is still named by its folder.
        self.folder: Path = Path(ws.folder).resolve()
        self.user = ws.user
        self.role = ws.role
        self.prompts = prompts
        self._ws: Workspace | None = ws
        self._perms = {p: ws.can(p) for p in Permission}
        self.locked = False
        self.job: Job | None = None
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        #: Last integrity check of this session: None, or the VerifyReport.
        self.last_verify: Any = None
        self._after_unlock: list[Callable[[], None]] = []

    # -- state -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def ready(self) -> bool:
        """Views may read: unlocked and no job holds the connection."""
        return not self.locked and self.job is None and self._ws is not None

    @property
    def ws(self) -> Workspace:
        if self._ws is None or self.locked:
            raise RuntimeError("the workspace is locked")
        return self._ws

    def can(self, permission: Permission) -> bool:
        return self._perms[permission]

    def why_not(self, permission: Permission) -> str:
        return why_not(self.role.value, permission)

    # -- reading and writing -----------------------------------------------------------

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a read-only service call now; callers check ``ready`` first."""
        if not self.ready:
            raise RuntimeError("the workspace is busy or locked; read after it is ready")
        with service_errors(self.ws.db_path):
            return fn(self.ws, *args, **kwargs)

    def write(self, parent: QtWidgets.QWidget | None, op: Callable[..., T], *args: Any,
              **kwargs: Any) -> T | None:
        """Run a quick change (a triage decision: one small transaction) now.

        Errors are shown to the user and give None; on success the views that show
        what ``op`` declares it changes (``oversight.changes``) reload."""
        done, result = self._apply(parent, op, args, kwargs)
        return result if done else None

    def try_write(self, parent: QtWidgets.QWidget | None, op: Callable[..., Any],
                  *args: Any, **kwargs: Any) -> bool:
        """As ``write``, for an operation that returns nothing: whether it was done."""
        return self._apply(parent, op, args, kwargs)[0]

    def _apply(self, parent: QtWidgets.QWidget | None, op: Callable[..., T],
               args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, T | None]:
        kinds = changes_of(op)  # before running: an undeclared operation is a bug
        if not self.ready:
            return False, None
        try:
            with service_errors(self.ws.db_path):
                result = op(self.ws, *args, **kwargs)
        except Exception as exc:  # shown as a sentence or as a bug report
            self.prompts.error(parent, exc)
            return False, None
        self.changed.emit(kinds)
        return True, result

    def start_job(self, title: str, fn: Callable[[Workspace, Progress, CancelToken], Any],
                  changes: frozenset[Change],
                  on_success: Callable[[Any], None] | None = None,
                  parent: QtWidgets.QWidget | None = None) -> Job | None:
        """Run ``fn(ws, progress, cancel)`` on the worker thread. While it runs the
        session is not ready; when it ends the views reload ``changes`` (what the core
        operations ``fn`` runs declare: ``changes_of(run_detection)``)."""
        if not self.ready:
            return None
        ws = self.ws

        def run(progress: Progress, cancel: CancelToken) -> Any:
            with service_errors(ws.db_path):
                return fn(ws, progress, cancel)

        job = Job(title, run, self)
        self.job = job

        def ended() -> None:
            self.job = None
            if self.locked:
                self._release()
            if job.error is not None:
                self.prompts.error(parent, job.error)
            self.ready_changed.emit(self.ready)
            self.changed.emit(changes)
            if job.error is None and on_success is not None:
                if self.locked:  # its summary waits until the user is back
                    self._after_unlock.append(lambda: on_success(job.result))
                else:
                    on_success(job.result)

        job.ended.connect(ended)
        self.ready_changed.emit(False)
        self.job_started.emit(job)
        job.start(self.pool)
        return job

    # -- locking -----------------------------------------------------------------------

    def lock(self) -> None:
        """Hide everything and drop the key; a running job finishes first, then the
        workspace closes."""
        if self.locked:
            return
        self.locked = True
        if self.job is None:
            self._release()
        self.locked_changed.emit(True)
        self.ready_changed.emit(False)

    def unlock(self, password: str) -> None:
        """Open the workspace again as the same user; raises AuthenticationError."""
        if not self.locked:
            return
        fresh = Workspace.open(self.folder, self.user, password)
        if self._ws is not None:  # still open for a running job: the password is proven
            fresh.close()
        else:
            self._ws = fresh
            self._perms = {p: fresh.can(p) for p in Permission}
            self.role = fresh.role
        self.locked = False
        self.locked_changed.emit(False)
        self.ready_changed.emit(self.ready)
        self.changed.emit(EVERYTHING)
        waiting, self._after_unlock = self._after_unlock, []
        for callback in waiting:
            callback()

    def close(self) -> None:
        """End the session: cancel a running job, wait for it, close the workspace."""
        self.locked = True
        if self.job is not None:
            self.job.cancel()
            job = self.job
            self.pool.waitForDone()
            # Deliver the job's last (queued) signals now, while everything still exists.
            QtCore.QCoreApplication.sendPostedEvents(job)
        self.job = None
        self._after_unlock.clear()
        self._release()

    def _release(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

