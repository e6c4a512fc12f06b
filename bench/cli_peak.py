"""Run the oversight CLI in a child process and read back that process's own peak
resident memory.

The peak is the VmHWM of the child's own address space, read by the child as it exits.
The rusage of a child is not: Linux carries into its maxrss the peak of the address
space it had before exec, and a child forked from a bench process that has just
generated and imported a large log would report the bench's peak instead (a scan of
20M rows was once reported at 18.5 GB that way; its own peak was 2.9 GB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_REPORTING_PEAK = """
import atexit, re, sys
peak_file = sys.argv.pop(1)
def _peak():
    with open("/proc/self/status") as f:
        kb = re.search(r"VmHWM:\\s*(\\d+)", f.read()).group(1)
    with open(peak_file, "w") as f:
        f.write(kb)
atexit.register(_peak)
from oversight.cli import main
sys.argv[0] = "oversight"
main()
"""


def run(args: list[str], env: dict[str, str], peak_file: Path
        ) -> tuple[subprocess.CompletedProcess[str], float]:
    """``oversight ARGS`` with its stdout and stderr; and its peak memory in MB."""
    proc = subprocess.run([sys.executable, "-c", _REPORTING_PEAK, str(peak_file), *args],
                          env=env, capture_output=True, text=True)
    peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    return proc, peak_mb
