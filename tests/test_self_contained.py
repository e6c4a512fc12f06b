"""The suite needs nothing beside the repository: the audit hook in conftest catches a
test that reads a sibling folder, and the police.uk sample files are in the repository
with their published digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import POLICE_UK, ROOT, outside_repository


def test_paths_beside_the_repository_are_caught() -> None:
    sibling = "a-sibling-folder"  # any folder next to the repository
    assert outside_repository(ROOT.parent / sibling / "data" / "x.csv")
    assert outside_repository(str(ROOT.parent / "other"))
    assert outside_repository(ROOT / ".." / sibling)


def test_paths_inside_the_repository_or_elsewhere_are_allowed(tmp_path: Path) -> None:
    assert not outside_repository(ROOT / "tests" / "data")
    assert not outside_repository(ROOT)
    assert not outside_repository(tmp_path / "a.csv")
    assert not outside_repository("/usr/lib/python3")
    assert not outside_repository(3)  # a file descriptor


def test_a_read_beside_the_repository_fails_the_test(tmp_path: Path) -> None:
    # The hook records the attempt even when the file does not exist.
    import conftest

    before = len(conftest._OUTSIDE)
    with pytest.raises(OSError):
        open(ROOT.parent / "no-such-sibling-folder" / "x.csv")  # noqa: SIM115
    assert len(conftest._OUTSIDE) == before + 1
    del conftest._OUTSIDE[before:]  # not a failure of this test


def test_police_uk_files_match_their_published_digests() -> None:
    sums = (POLICE_UK / "SHA256SUMS").read_text().split("\n")
    pairs = [line.split() for line in sums if line.strip()]
    assert len(pairs) == 3
    for digest, name in pairs:
        assert hashlib.sha256((POLICE_UK / name).read_bytes()).hexdigest() == digest
    assert "Open Government Licence v3.0" in (POLICE_UK / "README.md").read_text()
