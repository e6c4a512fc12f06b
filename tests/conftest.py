"""Shared fixtures: an encrypted template workspace built once, copied per test."""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from tools import require

from db import keyslots
from oversight.report import build as _report_build
from oversight.workspace import Role, Workspace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Bugs the workstation meets are written to its error log: in the tests, a folder of
# their own (never the user's log folder).
os.environ.setdefault("OVERSIGHT_LOG_DIR", tempfile.mkdtemp(prefix="oversight-test-log-"))

ADMIN, ADMIN_PW = "alice", "alice-password"
INSPECTOR, INSPECTOR_PW = "ines", "ines-password"
VIEWER, VIEWER_PW = "victor", "victor-password"
ROOT = Path(__file__).resolve().parents[1]
#: Real published police records (Open Government Licence v3.0), kept in the repository.
POLICE_UK = ROOT / "tests" / "data" / "police-uk"


# -- the repository is self-contained -------------------------------------------------------
# A clean clone has nothing beside it, so no test may read a file next to the repository
# (a sibling folder of data exists only on developers' machines). Python's audit
# hooks see every open, listing and glob; one outside the repository but under its parent
# folder fails the test that made it.

_OUTSIDE: list[str] = []
_EVENTS = {"open", "os.listdir", "os.scandir", "glob.glob", "os.chdir"}


def outside_repository(path: object, root: Path = ROOT) -> bool:
    """Whether ``path`` lies beside the repository (under its parent, not inside it)."""
    if isinstance(path, int) or path is None:
        return False
    try:
        text = os.fsdecode(path)  # type: ignore[arg-type]
    except TypeError:
        return False
    full = os.path.abspath(text)
    parent = str(root.parent)
    inside = full == str(root) or full.startswith(str(root) + os.sep)
    return not inside and full.startswith(parent + os.sep)


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in _EVENTS and args and outside_repository(args[0]):
        _OUTSIDE.append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _self_contained() -> Iterator[None]:
    before = len(_OUTSIDE)
    yield
    found = _OUTSIDE[before:]
    if found:
        del _OUTSIDE[before:]
        pytest.fail("the test read outside the repository (a clean clone has nothing "
                    f"beside it): {'; '.join(found[:5])}")


# -- Argon2id once per input ----------------------------------------------------------------
# Every sign-in derives a key-slot key with Argon2id at the product's settings (64 MiB,
# three passes: a quarter of a second here), and the suite signs in to copies of the same
# few workspaces thousands of times. The derivation is a pure function of the password,
# the slot's salt and its settings, so the suite remembers each result: a new input (a
# wrong password, a new slot, edited settings) is still derived by Argon2id itself.
# Programs the tests start as processes derive every key.

_argon2id = keyslots._derive
keyslots._derive = functools.lru_cache(maxsize=None)(_argon2id)


# -- every report the suite builds tells the truth about its findings -----------------------
# A signed report once said "Period covered: no findings, so no period" while its summary
# counted 4,439 findings. Every PDF any test builds (build_pdf is wrapped here, before
# any test module imports it) is read back as text; one that says "no findings" while
# its manifest counts findings fails the test that built it.

BUILT_REPORTS: list[Any] = []
_build_pdf = _report_build.build_pdf


def _recording_build_pdf(*args: Any, **kwargs: Any) -> Any:
    built = _build_pdf(*args, **kwargs)
    BUILT_REPORTS.append(built)
    return built


_report_build.build_pdf = _recording_build_pdf  # type: ignore[assignment]


def says_no_findings_falsely(pdf: bytes, manifest: dict[str, Any]) -> bool:
    """Whether a report's text says "no findings" although its manifest counts some."""
    if not sum(manifest["counts"]["severity"].values()):
        return False
    return "no findings" in " ".join(_pdf_text(pdf).split()).lower()


def _pdf_text(pdf: bytes) -> str:
    """The text a reader sees: poppler's pdftotext where installed (a 1,000-page report
    in a second; pypdf takes 25), else pypdf (so the check runs on every machine)."""
    tool = shutil.which("pdftotext")
    if tool is not None:
        done = subprocess.run([tool, "-q", "-", "-"], input=pdf, capture_output=True,
                              check=True)
        return done.stdout.decode("utf-8")
    return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(autouse=True)
def _reports_tell_the_truth() -> Iterator[None]:
    before = len(BUILT_REPORTS)
    yield
    built = BUILT_REPORTS[before:]
    del BUILT_REPORTS[before:]
    for report in built:
        if says_no_findings_falsely(report.pdf, report.manifest):
            counted = sum(report.manifest["counts"]["severity"].values())
            pytest.fail(f"a report built by this test says \"no findings\" although its "
                        f"manifest counts {counted} findings")


@pytest.fixture(scope="session")
def template_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "ws"
    with Workspace.create(folder, ADMIN, ADMIN_PW) as ws:
        ws.add_user(INSPECTOR, Role.INSPECTOR, INSPECTOR_PW)
        ws.add_user(VIEWER, Role.VIEWER, VIEWER_PW)
    return folder


@pytest.fixture
def ws_path(template_ws: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(template_ws, target)
    return target


@pytest.fixture
def admin_ws(ws_path: Path) -> Iterator[Workspace]:
    with Workspace.open(ws_path, ADMIN, ADMIN_PW) as ws:
        yield ws


@pytest.fixture
def inspector_ws(ws_path: Path) -> Iterator[Workspace]:
    with Workspace.open(ws_path, INSPECTOR, INSPECTOR_PW) as ws:
        yield ws


def counts(ws: Workspace) -> dict[str, int]:
    """Row counts of every table that an import or user change touches."""
    out = {}
    for table in ("batches", "rejects", "operations", "authorisations", "cases",
                  "audit_events", "users"):
        out[table] = ws.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return out


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


# -- Spark (tests marked spark) ---------------------------------------------------------------


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark for the whole run (its JVM takes seconds to start): two cores,
    small shuffles, no UI, quiet. The scan's Spark engine finds it running and works in
    a session of its own on it."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    if not os.environ.get("JAVA_HOME"):
        require("java")  # Spark runs on a JVM (17 or later)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("oversight-tests")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.default.parallelism", "2")
             .getOrCreate())
    spark.sparkContext.setLogLevel("OFF")  # a bad file's task failure is expected here
    yield spark
    spark.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> str:
    """The scan engine, each in turn; Spark's tests are marked spark."""
    name: str = request.param
    if name == "spark":
        request.getfixturevalue("spark_session")
    return name
