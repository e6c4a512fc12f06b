"""`oversight demo`: a workspace full of synthetic but realistic data to explore."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from oversight import triage
from oversight.criteria.engine import run_detection
from oversight.criteria.pack import default_pack
from oversight.demo_data import Planted, generate
from oversight.errors import UsageError
from oversight.findings import FindingFilters, list_findings
from oversight.importing import import_file
from oversight.records import Kind
from oversight.workspace import Role, Workspace, is_workspace

__all__ = ["build_demo", "run_demo"]

ProgressFactory = Callable[[str], AbstractContextManager[Callable[[int, int, str], None]]]


def build_demo(folder: Path, admin: str, password: str, operations: int, seed: int,
               progress: ProgressFactory | None = None) -> dict[str, Any]:
    """Create the workspace and import the generated files; return a summary."""
    if folder.exists() and (is_workspace(folder) or any(folder.iterdir())):
        raise UsageError(
            f"{folder} already exists; remove it or name another folder for the demo "
            "(oversight demo FOLDER)."
        )
    with tempfile.TemporaryDirectory(prefix="oversight-demo-") as tmp:
        files = generate(Path(tmp), operations=operations, seed=seed)
        with Workspace.create(folder, admin, password) as ws:
            summary: dict[str, Any] = {"workspace": str(folder), "admin": admin, "batches": []}
            for path, kind in ((files.cases, Kind.CASES),
                               (files.authorisations, Kind.AUTHORISATIONS),
                               (files.operations, Kind.OPERATIONS)):
                if progress is None:
                    res = import_file(ws, path, kind)
                else:
                    with progress(f"importing {path.name}") as tick:
                        res = import_file(ws, path, kind, progress=tick)
                summary["batches"].append(res.to_json())
            pack = default_pack()
            if progress is None:
                run = run_detection(ws, pack)
            else:
                with progress("detection") as tick:
                    run = run_detection(ws, pack, progress=tick)
            summary["run"] = run.to_json()
            ws.add_user(INSPECTOR, Role.INSPECTOR, password)
            ws.add_user(AUDITOR, Role.AUDITOR, password)
            summary["users"] = [admin, INSPECTOR, AUDITOR]
            found = list_findings(ws, FindingFilters(matching=True))
            summary["planted"] = [
                {"rule_id": p.rule_id, "record_ids": list(p.record_ids),
                 "description": p.description, "found": _found(p, found)}
                for p in files.planted
            ]
        summary["review"] = review_demo(folder, password)
    summary["report"] = report_demo(folder, password)
    return summary


def _found(p: Planted, found: list[dict[str, Any]]) -> bool:
    """Whether a finding of the planted item's rule covers its records (or, for one that
    cites no record, carries the facts that identify it)."""
    for f in found:
        if f["rule_id"] != p.rule_id:
            continue
        if p.group:
            if all(str(f["facts"].get(k)) == v for k, v in p.group):
                return True
        elif set(p.record_ids) <= set(f["record_ids"]):
            return True
    return False


def report_demo(folder: Path, password: str) -> dict[str, Any]:
    """A signed report of the demo review, with a self-signed certificate and its CA."""
    from oversight.report.service import SignOptions, produce_report
    from oversight.report.sign import create_selfsigned

    out = folder / "reports"
    out.mkdir(exist_ok=True)
    p12 = out / "demo-signer.p12"
    create_selfsigned("Aurelia Novak (demo auditor)", p12, password.encode("utf-8"),
                      with_ca=True)
    with Workspace.open(folder, AUDITOR, password) as ws:
        result = produce_report(
            ws, out / "demo-report.pdf", "full", title="Audit of logged operations (demo)",
            body="Demo Oversight Authority",
            sign=SignOptions(p12, password.encode("utf-8")))
    return {**result.to_json(), "p12": str(p12), "ca": str(p12.with_suffix(".ca.pem"))}


INSPECTOR, AUDITOR = "ines.garcia", "aurelia.novak"


def review_demo(folder: Path, password: str) -> dict[str, Any]:
    """A few realistic decisions, so the workspace shows a review in progress."""
    def first(ws: Workspace, rule: str, n: int = 0) -> str:
        ids = [f["id"] for f in list_findings(ws, FindingFilters(rule=rule))]
        return str(ids[min(n, len(ids) - 1)])

    with Workspace.open(folder, INSPECTOR, password) as ws:
        pro01 = first(ws, "PRO-01")
        triage.mark(ws, [pro01], "confirmed", note=(
            "Pattern matches the PULSE finding: the subject is recorded only as a witness and "
            "no task explains the repeated look-ups. Refer to the force's professional "
            "standards unit."))
        night = first(ws, "PRO-03")
        triage.mark(ws, [night], "dismissed", reason="justified",
                    note="Night-shift rota for that date confirms the officer was on duty.")
        trf = first(ws, "TRF-01")
        triage.mark(ws, [trf], "confirmed", note=(
            "No adequacy decision, safeguards or derogation recorded for this transfer; the "
            "receiving authority is outside the LED area."))
        aut = first(ws, "AUT-01")
        triage.mark(ws, [aut], "confirmed", note=(
            "Interception logged with no warrant reference; the warrant register has no "
            "entry for this subject in the period."))
        triage.assign(ws, [aut], AUDITOR)
        spc = first(ws, "SPC-01")
        triage.mark(ws, [spc], "in_review")
        triage.add_note(ws, spc, "Asked the unit for the legal basis of the health data — "
                        "réponse attendue / Antwort ausstehend.")
        dup = first(ws, "PUR-02")
        sample = triage.draw_sample(ws, 10, by="severity", seed=20261128)
    with Workspace.open(folder, AUDITOR, password) as ws:
        triage.approve(ws, [trf], note="Agreed: no basis under Arts. 36-38.")
        triage.mark(ws, [dup], "escalated", note="Outsider access to a closed case: "
                    "escalating to the data protection officer.")
    return {"confirmed": [pro01, trf], "dismissed": [night], "pending_approval": [aut],
            "in_review": [spc], "escalated": [dup], "sample": sample["statement"]}


def run_demo(folder: Path, operations: int, seed: int, out: Console,
             progress: ProgressFactory) -> None:
    admin = os.environ.get("OVERSIGHT_USER") or "admin"
    password = os.environ.get("OVERSIGHT_PASSWORD")
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(12)
    summary = build_demo(folder, admin, password, operations, seed, progress)
    out.print(Text.assemble("Demo workspace: ", (str(folder), "bold")))
    for b in summary["batches"]:
        out.print(f"  batch {b['batch_id']}: {b['kind']:<15} {Path(b['file']).name:<20} "
                  f"{b['rows_imported']:>7} rows imported, {b['rows_rejected']} rejected")
    rules = sorted({p["rule_id"] for p in summary["planted"]})
    out.print(f"  {len(summary['planted'])} planted irregularities across {len(rules)} rules "
              "(see docs/demo-data.md).")
    run = summary["run"]
    table = Table(title=f"Detection run {run['run_id']}: {run['pack']} {run['version']}")
    for col in ("rule", "severity", "findings", "seconds"):
        table.add_column(col)
    for r in run["rules"]:
        table.add_row(r["rule_id"], r["severity"],
                      str(r["hits"]) if r["evaluated"] else f"not evaluated: {r['reason']}",
                      f"{r['seconds']:.2f}")
    out.print(table)
    found = sum(1 for p in summary["planted"] if p["found"])
    out.print(f"  {run['hits']} findings; {found} of {len(summary['planted'])} planted "
              "irregularities are among them.")
    for p in summary["planted"]:
        if not p["found"]:
            out.print(Text.assemble("  ", ("not found", "red"),
                                    f": {p['rule_id']} {', '.join(p['record_ids'][:3])}"))
    review = summary["review"]
    out.print(f"Review in progress: {len(review['confirmed'])} confirmed (one after four-eyes "
              f"approval), {len(review['dismissed'])} dismissed, {len(review['escalated'])} "
              f"escalated, {len(review['in_review'])} in review, "
              f"{len(review['pending_approval'])} waiting for a second reviewer; "
              f"{review['sample']}.")
    rep = summary["report"]
    out.print(Text.assemble("Signed report: ", (str(rep["path"]), "bold"),
                            f" ({rep['pages']} pages, {rep['findings']} findings)."))
    out.print(f"  Verify it: oversight verify-report {rep['path']} --trust {rep['ca']}")
    out.print(Text.assemble(
        "Users: ", (admin, "bold"), " (admin), ", (INSPECTOR, "bold"), " (inspector), ",
        (AUDITOR, "bold"), " (auditor), all with ",
        *(("password ", (password, "bold"), " (shown once; keep it).") if generated
          else ("the password from OVERSIGHT_PASSWORD.",))))
    out.print("Try:")
    out.print(f"  oversight findings {folder} --severity critical")
    out.print(f"  oversight records {folder} --where action=transfer --limit 3")
    out.print(f"  oversight imports {folder}")
    out.print(f"  oversight verify {folder}")
