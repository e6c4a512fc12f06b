"""Build a small workspace with the code of the current checkout, for upgrade tests.

Each earlier schema version keeps one fixture workspace, made by this script with the
code of the commit that wrote that schema, and committed as it came out (the database
is encrypted, so git holds it as binary). Tests open a copy, upgrade it with today's
code and check that nothing recorded was lost.

    python tests/data/workspaces/make_fixture.py tests/data/workspaces/schema-5

The fixture: the demo with 2,000 operations (cases, authorisations, operations, a
detection run, a review by an inspector and an auditor with one decision waiting for
four-eyes), plus a viewer. Every user's password is PASSWORD below.
"""

from __future__ import annotations

import sys
from pathlib import Path

PASSWORD = "fixture-password"
USERS = {"admin": "admin", "ines.garcia": "inspector", "aurelia.novak": "auditor",
         "victor": "viewer"}


def main(folder: Path) -> None:
    from db.migrations import SCHEMA_VERSION
    from oversight.demo import build_demo
    from oversight.workspace import Role, Workspace

    build_demo(folder, "admin", PASSWORD, 2000, 20261130)
    with Workspace.open(folder, "admin", PASSWORD) as ws:
        ws.add_user("victor", Role.VIEWER, PASSWORD)
    (folder / "SCHEMA").write_text(f"{SCHEMA_VERSION}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
