"""External anchors: a signed report carries the audit chain's head as it was when the
report was written (sequence number and hash, in its embedded manifest). The chain is
hash-linked, so if the workspace still holds that hash at that sequence number, nothing
up to the report has been rewritten since, whoever holds the database key; a chain
rewritten from an earlier event (with every later seal forged or re-made) no longer
does. `oversight verify WORKSPACE --against REPORT.pdf`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.store import Connection

__all__ = ["AnchorCheck", "check_against"]


@dataclass
class AnchorCheck:
    report: str
    seq: int | None = None
    hash: str | None = None
    report_id: str | None = None
    created_at: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"report": self.report, "report_id": self.report_id,
                "created_at": self.created_at, "seq": self.seq, "hash": self.hash,
                "ok": self.ok, "problems": list(self.problems)}


def check_against(conn: Connection, workspace_id: str, pdf: Path) -> AnchorCheck:
    """Whether the workspace's chain still holds the head a signed report recorded."""
    from oversight.report.sign import verify_report

    name = pdf.name
    result = AnchorCheck(str(pdf))
    checked = verify_report(pdf)
    if not checked.ok:
        result.problems.append(f"The report {name} is not an intact signed report, so it "
                               f"anchors nothing: {checked.problems[0]}")
        return result
    manifest = checked.manifest or {}
    head = manifest.get("chain_head")
    result.report_id = manifest.get("report_id")
    result.created_at = manifest.get("created_at")
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int) \
            or not isinstance(head.get("hash"), str):
        result.problems.append(f"The report {name} records no audit-trail head.")
        return result
    result.seq, result.hash = int(head["seq"]), str(head["hash"])
    if head.get("workspace_id") not in (None, workspace_id):
        result.problems.append(f"The report {name} is of another workspace "
                               f"({head.get('workspace_id')}), not of this one "
                               f"({workspace_id}).")
        return result
    row = conn.execute("SELECT hash FROM audit_events WHERE seq = ?", (result.seq,)).fetchone()
    when = f" (written {result.created_at})" if result.created_at else ""
    if row is None:
        result.problems.append(f"The audit trail no longer has event {result.seq}, which the "
                               f"report {name}{when} records as its head: events were cut "
                               "off since.")
    elif row[0] != result.hash:
        result.problems.append(f"Audit event {result.seq} is not the one the report "
                               f"{name}{when} records as the head of the audit trail: the "
                               "trail up to that event was rewritten since.")
    return result
