"""Build a small workspace with the code of the current checkout, for upgrade tests.

Each earlier schema version keeps one fixture workspace, made by this script with the
code of the commit that wrote that schema, and committed as it came out (the database
is encrypted, so git holds it as binary). Tests open a copy, upgrade it with today's
code and check that nothing recorded was lost.

    git archive COMMIT | tar -x -C /tmp/old     # the code of that schema version
    PYTHONPATH=/tmp/old python tests/data/workspaces/make_fixture.py \
        tests/data/workspaces/schema-N

The fixtures here were made with these commits (each the first to write its schema):
schema-1 9684b29, schema-2 5c84829, schema-3 711a2c3, schema-4 7b2f217, schema-5
842b634, schema-6 f31e0ba, schema-7 242f178, schema-8 702d532, schema-9 384bfd0. Only
schema-5 keeps the demo's signed report (reports/demo-report.pdf), for `verify --against`
tests; the demo's certificate files are not kept (tests make their keys at run time).

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
