"""The windowed reads behind the operations browser: fast paths give the same answers
as the plain queries."""

from __future__ import annotations

from pathlib import Path

from conftest import write

from oversight import browse
from oversight.importing import import_file
from oversight.workspace import Workspace


def test_fast_paths_match_plain_queries(admin_ws: Workspace, tmp_path: Path) -> None:
    actions = ["consult", "transfer", "erase", "consult", "alter", "transfer", ""]
    text = "record_id,ts,action\n" + "".join(
        f"R{i},2026-01-0{1 + i % 9}T10:00:00+00:00,{a}\n" for i, a in enumerate(actions))
    import_file(admin_ws, write(tmp_path / "ops.csv", text))
    # values() skips through the action index; it must equal SELECT DISTINCT.
    plain = [r[0] for r in admin_ws.conn.execute(
        "SELECT DISTINCT action FROM operations WHERE action IS NOT NULL ORDER BY action")]
    assert browse.values(admin_ws, "action") == plain == ["alter", "consult", "erase",
                                                          "transfer"]
    # rids() without a filter uses the contiguous range; with one, the query.
    all_ids = [r[0] for r in admin_ws.conn.execute("SELECT rid FROM operations ORDER BY rid")]
    assert browse.rids(admin_ws) == all_ids
    assert browse.rids(admin_ws, descending=True) == all_ids[::-1]
    transfers = browse.rids(admin_ws, browse.Filters(action="transfer"))
    assert [r["record_id"] for r in browse.rows(admin_ws, transfers)] == ["R1", "R5"]
    assert browse.count(admin_ws, browse.Filters(action="transfer")) == 2
