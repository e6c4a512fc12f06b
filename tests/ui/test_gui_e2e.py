"""A whole review session on a real X display, driven by real keystrokes (issue 11).

Xvfb and a window manager (openbox) run a 1366x768 screen;
`oversight gui WORKSPACE` runs as a process of its own; xdotool types what a person
types: sign in, triage five findings by keyboard with typed notes (one of them holding
every one-letter triage key), import a police.uk file with the wizard, sign in as a
second user, approve one decision and return another, and write a report. The audit
chain, read afterwards through the core API, must hold exactly the events those steps
make, in order. Every wait is on something observable (a window title, the chain
growing, a file appearing), with a timeout. Screenshots of the real screen are saved in
the test's folder (screen-*.png).
"""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tools
from ui_support import ADMIN, AUDITOR, INSPECTOR, PASSWORD

from oversight import findings, triage
from oversight.integrity import verify_workspace
from oversight.workspace import Workspace

pytest_plugins = ["ui_fixtures"]
pytestmark = pytest.mark.gui_e2e

ROOT = Path(__file__).resolve().parents[2]
POLICE = ROOT / "tests" / "data" / "police-uk" / "2020-01-city-of-london-stop-and-search.csv"
WIDTH, HEIGHT = 1366, 768
#: The note typed in the escalation dialog: spaces and every one-letter triage key.
ESCALATION_NOTE = "Escalating to the DPO c d e r o j k n a and waiting"


def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; fail saying ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class Display:
    """Xvfb at 1366x768 with a window manager, its framebuffer in a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.xvfb = tools.require("Xvfb")
        self.xdotool = tools.require("xdotool")
        # A window manager gives focus back when a dialog closes, as on a desktop; the
        # session waits on the active window it reports.
        openbox = tools.require("openbox")
        fb = folder / "fb"
        fb.mkdir()
        read, write = os.pipe()
        with (folder / "xvfb.log").open("wb") as log:
            self.server = subprocess.Popen(
                [self.xvfb, "-displayfd", str(write), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
                 "-fbdir", str(fb), "-nolisten", "tcp"], pass_fds=(write,),
                stdout=subprocess.DEVNULL, stderr=log)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # Xvfb writes it once it listens
        if not number:
            pytest.fail(f"Xvfb did not start: {(folder / 'xvfb.log').read_text()}")
        self.env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        self.env["DISPLAY"] = f":{number}"
        self.framebuffer = fb / "Xvfb_screen0"
        self.wm = subprocess.Popen([openbox], env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        _until(lambda: self.run("get_num_desktops", check=False).returncode == 0, 20,
               "the window manager (openbox) to manage the screen")

    def run(self, *args: str, check: bool = True, timeout: float = 20
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.xdotool, *args], env=self.env, capture_output=True,
                                text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            pytest.fail(f"xdotool {' '.join(args)}: {result.stderr.strip()}")
        return result

    def key(self, *keys: str) -> None:
        self.run("key", "--clearmodifiers", *keys)

    def type(self, text: str) -> None:
        self.run("type", "--clearmodifiers", "--delay", "12", text)

    def window(self, title: str, timeout: float = 20) -> str | None:
        """The id of a visible window whose title matches ``title`` (a regex)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                found = self.run("search", "--sync", "--onlyvisible", "--name", title,
                                 check=False, timeout=left)
            except subprocess.TimeoutExpired:
                return None
            ids = found.stdout.split()
            if ids:
                return ids[0]
            # xdotool gives up with an X error when a window vanishes while it looks at
            # it (a dialog closing): look again.
        return None

    def wait_window(self, title: str, timeout: float = 20) -> str:
        wid = self.window(title, timeout)
        if wid is None:
            self.screenshot("timeout")
            pytest.fail(f"no window titled {title!r} within {timeout:.0f}s "
                        f"(see {self.folder / 'screen-timeout.png'})")
        return wid

    def active(self, title: str, timeout: float = 20) -> None:
        """Wait until the window with the keyboard focus is titled ``title`` (a regex):
        keys typed before would go to another window."""
        def check() -> bool:
            found = self.run("getactivewindow", "getwindowname", check=False)
            return found.returncode == 0 and re.search(title, found.stdout.strip()) is not None

        _until(check, timeout, f"the window {title!r} to have the keyboard focus")

    def gone(self, title: str) -> bool:
        while True:
            found = self.run("search", "--onlyvisible", "--name", title, check=False)
            if "X Error" not in found.stderr:  # (an X error says nothing either way)
                return not found.stdout.split()

    def geometry(self, wid: str) -> tuple[int, int, int, int]:
        out = self.run("getwindowgeometry", "--shell", wid).stdout
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def screenshot(self, name: str) -> Path:
        """The screen as a PNG (from Xvfb's framebuffer file, an XWD image)."""
        from PIL import Image

        data = self.framebuffer.read_bytes()
        header = struct.unpack(">25I", data[:100])
        size, width, height, per_line, colours = (header[0], header[4], header[5],
                                                  header[12], header[19])
        start = size + colours * 12
        image = Image.frombuffer("RGB", (width, height),
                                 data[start:start + per_line * height], "raw", "BGRX",
                                 per_line, 1)
        path = self.folder / f"screen-{name}.png"
        image.save(path)
        return path

    def close(self) -> None:
        for proc in (self.wm, self.server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def display(tmp_path: Path) -> Iterator[Display]:
    screen = Display(tmp_path)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "from PySide6 import QtWidgets; QtWidgets.QApplication([])"],
            env=screen.env, capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode != 0:
            reason = next((line for line in probe.stderr.splitlines() if "xcb" in line),
                          probe.stderr.strip()[-200:])
            pytest.skip(f"Qt cannot open the X display: {reason} (Debian: apt-get install "
                        "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1; .ci/run installs them)")
        yield screen
    finally:
        screen.close()


class Session:
    """The running workstation and the audit chain it writes."""

    def __init__(self, screen: Display, workspace: Path, home: Path) -> None:
        self.screen = screen
        self.workspace = workspace
        home.mkdir()
        env = {**screen.env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "PYTHONFAULTHANDLER": "1"}  # a crash or SIGABRT prints every thread's stack
        self.log_path = home / "gui.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "oversight.cli", "gui",
                                      str(workspace)], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        # A reader of the chain beside the workstation (WAL: it never blocks a write).
        self.reader = Workspace.open(workspace, ADMIN, PASSWORD)
        self.base = len(self.events())
        self.title = f"^{re.escape(workspace.name)} — Oversight Workstation$"

    def events(self) -> list[dict[str, Any]]:
        return triage.history(self.reader)

    def wait_events(self, count: int, what: str, timeout: float = 30) -> None:
        _until(lambda: len(self.events()) >= self.base + count, timeout,
               f"{what} in the audit chain (event {count} of this session)")

    def sign_in(self, user: str, replace_user: bool) -> None:
        s = self.screen
        wid = s.wait_window("^Sign in$")
        s.run("windowactivate", "--sync", wid)
        if replace_user:  # the last user's name is filled in; the cursor is on the password
            s.key("shift+Tab", "ctrl+a")
        s.type(user)
        s.key("Tab")
        s.type(PASSWORD)
        s.key("Return")
        s.wait_window(self.title, timeout=60)

    def press_for_dialog(self, key: str, title: str, subject: str | None = None,
                         attempts: int = 8) -> str | None:
        """Press ``key`` in the findings list until its dialog (``title``) opens: for a
        moment after a dialog closes the list ignores one-letter keys, on purpose. With
        ``subject``, a dialog about another finding is cancelled and None returned."""
        for _ in range(attempts):
            self.screen.key(key)
            wid = self.screen.window(f"^{title}", timeout=1.5)
            if wid is None:
                continue
            name = self.screen.run("getwindowname", wid).stdout.strip()
            # (the window manager may show the application's name after the title)
            if subject is None or re.fullmatch(
                    f"{re.escape(title)} — {re.escape(subject)}( — Oversight Workstation)?",
                    name):
                return wid
            self.screen.key("Escape")  # the search did not land: nothing is recorded
            _until(lambda: self.screen.gone(f"^{title}"), 10, f"{name!r} to close")
            return None
        self.screen.screenshot("no-dialog")
        pytest.fail(f"pressing {key!r} never opened {title!r}")

    def decide(self, finding_id: str, key: str, title: str, note: str, count: int,
               shot: str | None = None) -> None:
        """Find the finding (Ctrl+F, its id, Enter), press the key, type the note in the
        dialog that names the finding, submit with Ctrl+Enter."""
        s = self.screen
        for _ in range(5):
            s.active(self.title)  # the main window has the keys again (a dialog closed)
            s.key("ctrl+f")
            # In capitals (the search ignores case): should the search box miss the
            # keys, shifted letters in the list decide nothing.
            s.type(finding_id.upper())
            s.key("Return")
            if self.press_for_dialog(key, title, finding_id) is not None:
                break
        else:
            pytest.fail(f"could not open {title!r} for {finding_id}")
        s.type(note)
        if shot:
            s.screenshot(shot)
        s.key("ctrl+Return")
        self.wait_events(count, f"the decision on {finding_id}")

    def quit(self) -> None:
        self.screen.key("ctrl+q")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("the workstation did not quit on Ctrl+Q")

    def post_mortem(self) -> str:
        """What the workstation was doing when the session failed: its exit status, or
        the stacks of its threads (SIGABRT with faulthandler on), and its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            state = "it was still running (stacks below)"
        else:
            state = f"it had exited with status {self.proc.returncode}"
        self.log.flush()
        return f"{state}:\n{self.log_path.read_text(errors='replace')[-6000:]}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.close()
        self.log.close()


def _chain_grew(session: Session, count: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if len(session.events()) >= session.base + count:
            return True
        time.sleep(0.05)
    return False


def test_a_review_session_on_a_real_screen(display: Display, demo_ws: Path,
                                           tmp_path: Path) -> None:
    s = display
    session = Session(s, demo_ws, tmp_path / "home")
    try:
        _review(session, tmp_path)
    except BaseException:
        print("The workstation:", session.post_mortem())  # shown with the failure
        raise
    finally:
        session.close()


def _review(session: Session, tmp_path: Path) -> None:
    s = session.screen
    reader = session.reader
    open_ids = [str(f["id"]) for f in findings.list_findings(
        reader, findings.FindingFilters(status="open"))][:5]
    assert len(open_ids) == 5

    # -- sign in: the dialog alone, in the middle of the screen ----------------------------
    login = s.wait_window("^Sign in$", timeout=60)
    x, y, w, h = s.geometry(login)
    assert abs(x + w / 2 - WIDTH / 2) <= 40 and abs(y + h / 2 - HEIGHT / 2) <= 40, (x, y, w, h)
    s.screenshot("1-sign-in")
    session.sign_in(INSPECTOR, replace_user=False)
    s.screenshot("2-dashboard")

    # -- triage five findings by keyboard, with typed notes --------------------------------
    s.key("ctrl+2")
    plan = [(open_ids[0], "c", "Confirm", "No warrant on file; the register was checked."),
            (open_ids[1], "e", "Escalate", ESCALATION_NOTE),
            (open_ids[2], "d", "Dismiss finding", "Rota confirms the duty; see file 12."),
            (open_ids[3], "n", "Add note", "Asked the unit for the terminal log."),
            (open_ids[4], "c", "Confirm", "Same pattern as the first one.")]
    for n, (fid, key, title, note) in enumerate(plan, start=1):
        session.decide(fid, key, title, note, n, shot="3-escalation-note" if key == "e"
                       else None)
    s.screenshot("4-after-triage")

    # -- import a police.uk file with the wizard -------------------------------------------
    s.active(session.title)
    s.key("ctrl+shift+i")
    s.wait_window("^Import wizard$")
    s.active("^Import wizard")
    s.key("alt+a")
    s.wait_window("^Files to import$")
    s.type(str(POLICE))
    s.key("Return")
    _until(lambda: s.gone("^Files to import$"), 20, "the file dialog to close")
    s.active("^Import wizard")
    # Next (files -> mapping -> preview), then Import: keys typed while the wizard is
    # taking the focus back from the file dialog can be lost, so press until the import
    # is in the chain. Each press moves one page at most; Import exists on the preview.
    for _ in range(12):
        s.key("alt+n")
        s.key("alt+i")
        if s.window("^Import wizard$", timeout=0.5) and _chain_grew(session, 6, 3.0):
            break
    session.wait_events(6, "the import", timeout=60)
    s.screenshot("5-wizard-imported")
    for _ in range(40):  # Finish is enabled once the job has ended in the window
        s.key("alt+f")
        if s.gone("^Import wizard$"):
            break
        time.sleep(0.25)
    assert s.gone("^Import wizard$")

    # -- a second user approves one decision and returns another ---------------------------
    s.active(session.title)
    s.key("ctrl+w")
    s.wait_window("^Oversight Workstation$")  # the start screen
    s.active("^Oversight Workstation$")
    s.key("Return")  # opens the selected recent workspace
    session.sign_in(AUDITOR, replace_user=True)
    pending = [str(f["id"]) for f in findings.list_findings(
        reader, findings.FindingFilters(pending_for=AUDITOR))]
    assert len(pending) >= 2
    s.active(session.title)
    s.key("ctrl+3")
    session.press_for_dialog("p", "Approve", pending[0])
    s.screenshot("6-approve")
    s.type("Agreed p r n")
    s.key("ctrl+Return")
    session.wait_events(7, "the approval")
    s.active(session.title)
    session.press_for_dialog("r", "Return to review", pending[1])
    s.type("Which warrant covers it? r p")
    s.key("ctrl+Return")
    session.wait_events(8, "the return")

    # -- a report --------------------------------------------------------------------------
    s.active(session.title)
    s.key("ctrl+r")
    s.wait_window("^Produce a report$")
    s.active("^Produce a report")
    s.key("Return")  # Produce report (unsigned), into the workspace's reports folder
    session.wait_events(9, "the report", timeout=120)
    reports = _until(lambda: list((session.workspace / "reports").glob(
        f"{session.workspace.name}-report-*.pdf")), 30, "the report file")
    s.screenshot("7-report")
    s.key("Escape")
    session.quit()

    # -- the audit chain holds exactly what was done ---------------------------------------
    new = session.events()[session.base:]
    got = [(e["user"], e["action"], e["payload"].get("finding_id")) for e in new]
    assert got == [
        (INSPECTOR, "finding.mark", open_ids[0]),
        (INSPECTOR, "finding.mark", open_ids[1]),
        (INSPECTOR, "finding.mark", open_ids[2]),
        (INSPECTOR, "finding.note", open_ids[3]),
        (INSPECTOR, "finding.mark", open_ids[4]),
        (INSPECTOR, "import", None),
        (AUDITOR, "finding.approve", pending[0]),
        (AUDITOR, "finding.return", pending[1]),
        (AUDITOR, "report.create", None),
    ], got
    notes = [e["payload"].get("note") for e in new[:5]]
    assert notes == [note for _, _, _, note in plan]
    assert new[1]["payload"]["to"] == "escalated"
    assert new[5]["payload"]["file"].endswith(POLICE.name)
    assert new[7]["payload"]["returned"]["status"] in ("confirmed", "dismissed")
    assert new[8]["payload"]["path"] == reports[0].name
    assert verify_workspace(session.reader.conn).ok
