"""Every error the workstation catches is sorted one way: a user error is its sentence,
a cancellation is nothing, and anything else is a bug, shown with a plain sentence (and
details where there is room) and written to the error log with its traceback."""

from __future__ import annotations

import re
from typing import Any

from conftest import ROOT

from oversight.errors import Cancelled, Issue, UsageError, ValidationError
from ui.errors import BUG_SENTENCE, error_box, inline, log_path

pytest_plugins = ["ui_fixtures"]


def _boom() -> None:
    raise RuntimeError("a bug with a distinctive marker 7f3a")


def test_a_user_error_is_its_sentence_and_is_not_logged() -> None:
    before = log_path().read_text() if log_path().exists() else ""
    assert inline(UsageError("The date 2026-13-01 is not a date.")) == \
        "The date 2026-13-01 is not a date."
    bad = ValidationError("p.yaml has 1 problem.", [Issue("unknown field", "p.yaml", 3, 5)])
    assert inline(bad) == "p.yaml has 1 problem.\n• p.yaml:3:5: unknown field"
    assert inline(bad, issues=False) == "p.yaml has 1 problem."
    assert inline(Cancelled("Cancelled by the user.")) == ""
    after = log_path().read_text() if log_path().exists() else ""
    assert after == before


def test_a_bug_is_a_sentence_and_its_traceback_is_logged(qtbot: Any) -> None:
    try:
        _boom()
    except RuntimeError as exc:
        text = inline(exc)
        box = error_box(None, exc)
    assert text.startswith(BUG_SENTENCE.split(" Please report")[0])
    assert str(log_path()) in text and "7f3a" not in text  # no raw exception text
    logged = log_path().read_text()
    assert "RuntimeError: a bug with a distinctive marker 7f3a" in logged
    assert "in _boom" in logged  # the traceback, with where it happened
    assert box.text() == BUG_SENTENCE and "7f3a" in box.detailedText()
    assert oct(log_path().stat().st_mode & 0o777) == "0o600"
    box.deleteLater()


def test_a_failing_read_shows_the_bug_sentence_in_the_page(qtbot: Any, open_window: Any,
                                                           monkeypatch: Any) -> None:
    """A bug while the users list loads: the page says the bug sentence (where the log
    is), not the exception's own words, and the log has the traceback."""
    from ui import users_dialog

    window = open_window("admin")

    def broken(*args: Any, **kwargs: Any) -> Any:
        _boom()

    monkeypatch.setattr(window.session, "read", broken)
    dialog = users_dialog.UsersDialog(window.session, window.prompts, window)
    qtbot.addWidget(dialog)
    assert BUG_SENTENCE.split(" Please report")[0] in dialog.status.text()
    assert "7f3a" not in dialog.status.text()
    assert "marker 7f3a" in log_path().read_text()


def test_every_broad_except_in_the_workstation_sorts_the_error() -> None:
    """A catch-all in ui/ hands the error, within a few lines, to one of the functions
    that sort it (user error, cancellation, bug); nothing is swallowed or shown raw."""
    sorters = re.compile(r"prompts\.error|\binline\(|\bsentence\(|_issues_text\(|"
                         r"_failed\(|fetch_failed\.emit|show_error\(|"
                         # a worker thread hands it to the GUI thread, which sorts it
                         r"_signals\.finished\.emit")
    offenders = []
    for path in sorted((ROOT / "ui").rglob("*.py")):
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            if re.search(r"except (Exception|BaseException)\b", line):
                window = "\n".join(lines[n:n + 4])
                if not sorters.search(window):
                    offenders.append(f"{path.relative_to(ROOT)}:{n + 1}")
    assert offenders == []
