"""Shared fixtures: an encrypted template workspace built once, copied per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from oversight.workspace import Role, Workspace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ADMIN, ADMIN_PW = "alice", "alice-password"
INSPECTOR, INSPECTOR_PW = "ines", "ines-password"
VIEWER, VIEWER_PW = "victor", "victor-password"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "police-uk-stop-and-search"
ROOT = Path(__file__).resolve().parents[1]


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
