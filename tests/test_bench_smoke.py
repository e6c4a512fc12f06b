"""The benchmarks still run (at a size that proves nothing about speed): each asserts
what it measures is correct (bench/triage_speed.py: verify finds no problem in the
workspace it built), so a change that breaks that shows here, not in the next timing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_triage_speed_runs_and_its_workspace_verifies_clean() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "triage_speed.py"), "--findings", "300",
         "--events", "3000", "--commands", "20"],
        capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("verify events/s: ") and int(last.split(": ")[1]) > 0
