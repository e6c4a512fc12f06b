"""The `oversight` command line. Thin: parse, call the service, print.

Passwords never come from the command line: OVERSIGHT_USER / OVERSIGHT_PASSWORD (and
OVERSIGHT_NEW_PASSWORD for a new one) or a prompt. Exit codes: 0 success, 1 problems
found, 2 usage/input/authentication/permission error, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from oversight import __version__, queries, triage
from oversight.criteria.engine import RunSummary, run_detection
from oversight.criteria.pack import SEVERITIES, Pack, default_pack, load_pack
from oversight.criteria.versions import activate, active_pack, list_versions, save_version
from oversight.csvsafe import csv_text
from oversight.errors import OversightError, UsageError, ValidationError
from oversight.exports import export_findings
from oversight.findings import STATUSES, FindingFilters, list_findings, list_runs, open_at_or_above
from oversight.importing import import_file, preview
from oversight.importing.quality import describe_warnings
from oversight.importing.service import ImportResult
from oversight.indicators import (
    GROUP_KEYS,
    STATUS_CHOICES,
    IndicatorQuery,
    Indicators,
    percent_text,
    points_text,
    rate_text,
)
from oversight.indicators import compute as compute_indicators
from oversight.integrity import verify_workspace
from oversight.periods import parse_day, set_timezone, workspace_timezone
from oversight.records import Kind
from oversight.retraction import retract_batch
from oversight.safefile import check_output_path
from oversight.visible import show_directional
from oversight.workspace import Workspace, parse_role

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """User text for the terminal as written: each control character (ESC sequences
    recolour, move the cursor and overwrite lines printed before) as its escape
    (``\\x1b``), each directional override as its code (``oversight.visible``)."""
    return show_directional(_CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


class _Console(Console):
    """rich's console with markup off (a note holding "[/x]" stopped a listing with a
    traceback, "[bold]" changed what it shows) and every string it renders, table
    cells included, passed through `printable`. Styled words go through `_line`."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(printable(text), **kwargs)


def _line(*parts: str | tuple[str, str]) -> Text:
    """One line of plain parts and (text, style) parts, user text printed as written."""
    return Text.assemble(*[(printable(str(p[0])), p[1]) if isinstance(p, tuple)
                           else printable(p) for p in parts])


out = _Console(soft_wrap=True, highlight=False, markup=False)
if not out.is_terminal:
    out = _Console(soft_wrap=True, highlight=False, markup=False, width=200)
err = _Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

KINDS = [k.value for k in Kind]


# -- plumbing ---------------------------------------------------------------------------


def _emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False))


def fail(message: str, code: int = 2, *, json_mode: bool = False, kind: str = "error",
         details: list[str] | None = None) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    for line in details or []:
        click.echo(f"  {line}", err=True)
    if json_mode:
        _emit_json({"ok": False, "error": {"code": kind, "message": message,
                                            "details": details or []}})
    sys.exit(code)


class OversightGroup(click.Group):
    """Maps user-facing errors to one sentence and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            json_mode = bool(ctx.meta.get("json"))
            fail(exc.message, exc.exit_code, json_mode=json_mode, kind=exc.code,
                 details=[str(i) for i in exc.issues])
        except OversightError as exc:
            json_mode = bool(ctx.meta.get("json"))
            fail(exc.message, exc.exit_code, json_mode=json_mode, kind=exc.code)
        except KeyboardInterrupt:
            json_mode = bool(ctx.meta.get("json"))
            fail("Interrupted; the current step was rolled back and nothing of it was written.",
                 130, json_mode=json_mode, kind="interrupted")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask(prompt: str, env: str, *, hide: bool, confirm: bool = False) -> str:
    value = _env(env)
    if value is not None:
        return value
    if not _interactive():
        raise UsageError(f"{prompt} is needed: set {env} or run interactively.")
    return str(click.prompt(prompt, hide_input=hide, confirmation_prompt=confirm, err=True))


def credentials() -> tuple[str, str]:
    user = _ask("User", "OVERSIGHT_USER", hide=False)
    password = _ask(f"Password for {user}", "OVERSIGHT_PASSWORD", hide=True)
    return user, password


def open_ws(folder: Path, **kwargs: Any) -> Workspace:
    user, password = credentials()
    ws = Workspace.open(folder, user, password, **kwargs)
    if ws.read_only_reason is not None:
        # A divergence from the audit chain (or a workspace awaiting its upgrade): say
        # so on every command; every write then fails with the same sentence.
        click.echo(f"warning: {ws.read_only_reason}", err=True)
    return ws


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar on a terminal; silent otherwise (scripts, CI)."""
    if not err.is_terminal:
        yield lambda done, total, stage: None
        return
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int, stage: str) -> None:
            bar.update(task, completed=done, total=total or None,
                       description=f"{label}: {stage}")

        yield update


def _table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    out.print(table)


def _note_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["json"] = True  # so errors are reported as JSON too
    return value


json_option = click.option("--json", "as_json", is_flag=True, callback=_note_json,
                           help="One JSON document on stdout.")
force_option = click.option("--force", is_flag=True,
                            help="Replace the --out file if it exists (never a folder or a "
                                 "symbolic link).")
workspace_arg = click.argument("workspace", type=click.Path(path_type=Path))


# -- commands ---------------------------------------------------------------------------


@click.group(cls=OversightGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oversight")
def main() -> None:
    """Oversight Workstation: encrypted workspaces of operation logs for oversight bodies."""


@main.command()
@workspace_arg
@click.option("--admin", help="Name of the first admin (default: OVERSIGHT_USER or a prompt).")
@json_option
def init(workspace: Path, admin: str | None, as_json: bool) -> None:
    """Create an encrypted workspace with its first admin."""
    name = admin or _ask("Admin user name", "OVERSIGHT_USER", hide=False)
    password = _ask(f"New password for {name}", "OVERSIGHT_PASSWORD", hide=True, confirm=True)
    with Workspace.create(workspace, name, password) as ws:
        doc = {"ok": True, "workspace": str(workspace), "workspace_id": ws.workspace_id,
               "admin": ws.user}
    if as_json:
        _emit_json(doc)
    else:
        out.print(f"Created workspace {workspace} with admin {name}.")


@main.group()
def user() -> None:
    """Manage users (admins only)."""


@user.command("add")
@workspace_arg
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["inspector", "auditor", "admin",
                                                          "viewer"]))
def user_add(workspace: Path, name: str, role: str) -> None:
    """Add a user; the password comes from OVERSIGHT_NEW_PASSWORD or a prompt."""
    with open_ws(workspace) as ws:
        password = _ask(f"New password for {name}", "OVERSIGHT_NEW_PASSWORD", hide=True,
                        confirm=True)
        info = ws.add_user(name, parse_role(role), password)
    out.print(f"Added {info.name} as {info.role.value}.")


@user.command("list")
@workspace_arg
@json_option
def user_list(workspace: Path, as_json: bool) -> None:
    """List users and their roles."""
    with open_ws(workspace) as ws:
        users = ws.users()
    if as_json:
        _emit_json([{"name": u.name, "role": u.role.value, "active": u.active,
                     "created_at": u.created_at, "created_by": u.created_by} for u in users])
        return
    _table(["name", "role", "active", "created", "by"],
           [[u.name, u.role.value, "yes" if u.active else "removed", u.created_at[:19],
             u.created_by] for u in users])


@user.command("remove")
@workspace_arg
@click.argument("name")
def user_remove(workspace: Path, name: str) -> None:
    """Remove a user: their key slot is deleted; their past actions stay attributed."""
    with open_ws(workspace) as ws:
        ws.remove_user(name)
    out.print(f"Removed {name}.")


@user.command("reset-password")
@workspace_arg
@click.argument("name")
def user_reset_password(workspace: Path, name: str) -> None:
    """Set another user's password (admins); from OVERSIGHT_NEW_PASSWORD or a prompt."""
    with open_ws(workspace) as ws:
        password = _ask(f"New password for {name}", "OVERSIGHT_NEW_PASSWORD", hide=True,
                        confirm=True)
        ws.reset_password(name, password)
    out.print(f"Password of {name} changed.")


@main.command()
@workspace_arg
def passwd(workspace: Path) -> None:
    """Change your own password (rewrites only your key slot)."""
    with open_ws(workspace) as ws:
        password = _ask("New password", "OVERSIGHT_NEW_PASSWORD", hide=True, confirm=True)
        ws.change_password(password)
    out.print("Password changed.")


@main.command("import")
@workspace_arg
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), help="Record kind (default: the profile's, "
              "else operations).")
@click.option("--mapping", "mapping", type=click.Path(path_type=Path),
              help="Mapping profile (YAML).")
@click.option("--dry-run", is_flag=True, help="Show the mapping, first records and rejects; "
              "write nothing.")
@json_option
def import_cmd(workspace: Path, files: tuple[Path, ...], kind: str | None,
               mapping: Path | None, dry_run: bool, as_json: bool) -> None:
    """Import files; each file is one batch in one transaction."""
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    nothing = False
    with open_ws(workspace) as ws:
        for path in files:
            try:
                with progress_bar(path.name) as tick:
                    fn = preview if dry_run else import_file
                    res = fn(ws, path, Kind(kind) if kind else None, mapping, progress=tick)
            except ValidationError:
                raise
            except OversightError as exc:
                if len(files) == 1:
                    raise
                failures.append(exc.message)
                results.append({"file": str(path), "ok": False, "error": exc.message})
                click.echo(f"error: {exc.message}", err=True)
                continue
            results.append({"ok": not res.nothing_imported, **res.to_json()})
            nothing = nothing or res.nothing_imported
            if not as_json:
                _print_import(res)
    if as_json:
        _emit_json(results if len(files) > 1 else results[0])
    if failures:
        sys.exit(2)
    if nothing:  # all_rows_rejected: nothing was (or would be) imported
        sys.exit(1)


def _print_import(res: ImportResult) -> None:
    if res.dry_run:
        out.print(_line((str(res.file), "bold"),
                        f": {res.format}, {res.kind} (dry run: nothing written)"))
        if res.imported_as is not None:
            held = res.imported_as
            out.print(f"This file is already in the workspace as batch {held['batch_id']} "
                      f"({held['file']}, imported by {held['imported_by']} on "
                      f"{str(held['imported_at'])[:10]}); the preview shows what this "
                      "mapping would make of it, and a real import would be refused.",
                      markup=False)
        rows = [[f, ", ".join(m["columns"]) or f"= {m.get('value')!r}",
                 ", ".join(f"{k}: {v}" for k, v in m.items() if k != "columns")]
                for f, m in res.mapping["fields"].items()]
        if res.mapping.get("record_id"):
            rows.insert(0, ["record_id", ", ".join(res.mapping["record_id"]["columns"]), ""])
        _table(["field", "column(s)", "options"], rows,
               title="Mapping" + (" (automatic)" if res.mapping["auto"] else ""))
        if res.extra_columns:
            out.print("Kept as extra: " + ", ".join(res.extra_columns), markup=False)
        out.print(f"Would import {res.rows_imported} of {res.rows_read} rows, "
                  f"reject {res.rows_rejected}.")
        for rec in res.sample_records[:5]:
            out.print(json.dumps(rec, ensure_ascii=False), markup=False)
    elif res.batch_id is None:
        out.print(_line((str(res.file), "bold"), f": {res.kind}: nothing imported of "
                        f"{res.rows_read} rows, rejected {res.rows_rejected}."))
    else:
        out.print(_line((str(res.file), "bold"), f": batch {res.batch_id}, {res.kind}: imported "
                        f"{res.rows_imported} of {res.rows_read} rows, rejected "
                        f"{res.rows_rejected}."))
    if res.resolved_path:
        out.print(f"{res.file} is a symbolic link to {res.resolved_path}; both names are "
                  "recorded.", markup=False)
    _print_fields(res)
    for w in res.warnings:
        lines = f" (lines {', '.join(map(str, w.lines[:10]))}{', …' if w.count > 10 else ''})" \
            if w.lines else ""
        out.print(_line(("warning", "yellow"), f" {w.code}: "), end="")
        out.print(f"{w.message}{lines}", markup=False)
    if res.sample_rejects:
        _table(["line", "column", "field", "value", "reason"],
               [[r.line, r.column, r.field, (r.value or "")[:40], r.reason]
                for r in res.sample_rejects[:10]], title="First rejects")


def _print_fields(res: ImportResult) -> None:
    """Which canonical fields the mapping fills and which stay empty."""
    blank = [f for f in res.fields_mapped if f in res.fields_empty]
    empty = [f for f in res.fields_empty if f not in res.fields_mapped]
    out.print("Fields mapped: " + (", ".join(res.fields_mapped) or "none") + ".", markup=False)
    text = "Fields left empty: " + (", ".join(empty) or "none")
    if blank:
        text += f"; mapped but blank in every row: {', '.join(blank)}"
    out.print(text + ".", markup=False)
    markers = ", ".join(repr(m) for m in res.missing_markers)
    out.print(f"Read as no value in every column: {markers or 'nothing'}.", markup=False)


@main.command()
@workspace_arg
@json_option
def imports(workspace: Path, as_json: bool) -> None:
    """List import batches: file, SHA-256, counts, who and when (and retractions)."""
    with open_ws(workspace) as ws:
        rows = queries.batches(ws, include_retracted=True)
    if as_json:
        _emit_json(rows)
        return
    _table(["batch", "kind", "file", "sha256", "read", "imported", "rejected", "by", "when",
            "warnings", "retracted"],
           [[b["batch_id"], b["kind"], b["file"], b["sha256"][:16] + "…", b["rows_read"],
             b["rows_imported"], b["rows_rejected"], b["imported_by"], b["imported_at"][:19],
             _warning_codes(b["warnings"]),
             "" if b["retracted_at"] is None else
             f"{b['retracted_at'][:10]} by {b['retracted_by']}: {b['retraction_reason']}"]
            for b in rows])
    for b in rows:
        for line in describe_warnings(b["warnings"]) if b["warnings"] != [] else []:
            out.print(f"batch {b['batch_id']}: {line}", markup=False)


def _warning_codes(warnings: list[dict[str, Any]] | None) -> str:
    if warnings is None:
        return "not checked"
    return ", ".join(f"{w['code']} ({w['count']:,})" for w in warnings) or "none"


def _showing(shown: int, total: int, what: str, as_json: bool) -> None:
    """Say when a --limit hides some of what matched (stderr in JSON mode)."""
    if shown >= total:
        return
    text = f"showing {shown:,} of {total:,} {what} (--limit)"
    if as_json:
        click.echo(text, err=True)
    else:
        out.print(text + ".", markup=False)


@main.command()
@workspace_arg
@click.argument("batch", type=int)
@click.option("--reason", required=True, help="Why the batch is retracted (kept in the "
              "audit trail and shown with every finding it affects).")
@json_option
def retract(workspace: Path, batch: int, reason: str, as_json: bool) -> None:
    """Retract an import batch (admins, or its importer): its records leave every query
    and detection run; nothing is deleted; the file may be imported again."""
    with open_ws(workspace) as ws:
        done = retract_batch(ws, batch, reason)
    if as_json:
        _emit_json({"ok": True, **done.to_json()})
        return
    out.print(f"Retracted batch {done.batch_id} ({done.file}, {done.kind}, "
              f"{done.rows_imported} rows): its records leave every query and detection run.")
    if done.findings_labelled:
        out.print(f"{len(done.findings_labelled)} finding(s) rested only on it and are "
                  "labelled source retracted (kept, with their decisions and notes).")
    if done.findings_partly or done.kind != Kind.OPERATIONS.value:
        out.print("Run detection again (`oversight check`): findings that also rest on this "
                  "batch's records or register entries are re-evaluated then.")


@main.command()
@workspace_arg
@click.argument("batch", required=False, type=int)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many.")
@json_option
def rejects(workspace: Path, batch: int | None, limit: int | None, as_json: bool) -> None:
    """List rejected rows: line, column, field, value and reason."""
    with open_ws(workspace) as ws:
        rows = queries.rejects(ws, batch, limit)
        total = queries.count_rejects(ws, batch) if limit is not None else len(rows)
    if as_json:
        _emit_json(rows)
        _showing(len(rows), total, "rejected rows", True)
        return
    _table(["batch", "file", "line", "column", "field", "value", "reason"],
           [[r["batch_id"], r["file"], r["line"], r["column"], r["field"],
             (r["value"] or "")[:40], r["reason"]] for r in rows])
    _showing(len(rows), total, "rejected rows", False)


@main.command()
@workspace_arg
@click.option("--kind", type=click.Choice(KINDS), default="operations", show_default=True)
@click.option("--where", "where", multiple=True, metavar="FIELD=VALUE",
              help="Canonical field or original column; repeat to combine.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True)
@json_option
def records(workspace: Path, kind: str, where: tuple[str, ...], limit: int,
            as_json: bool) -> None:
    """Show stored records with canonical and extra fields."""
    conditions = queries.parse_where(list(where))
    with open_ws(workspace) as ws:
        rows = queries.records(ws, Kind(kind), conditions, limit)
        total = (queries.count_records(ws, Kind(kind), conditions) if len(rows) >= limit
                 else len(rows))
    if as_json:
        _emit_json(rows)
        _showing(len(rows), total, "records", True)
        return
    for r in rows:
        out.print(_line((str(r["record_id"]), "bold"),
                        f" (batch {r['batch_id']}, line {r['line']})"))
        for k, v in r["fields"].items():
            out.print(f"  {k}: {v}")
        for k, v in r["extra"].items():
            out.print(_line("  ", (str(k), "dim"), f": {v}"))
    if len(rows) < total:
        out.print(f"showing {len(rows):,} of {total:,} records (--limit {limit}).",
                  markup=False)
    else:
        out.print(f"{len(rows)} record(s).")


@main.command()
@workspace_arg
@click.option("--against", "reports", multiple=True, type=click.Path(path_type=Path),
              metavar="REPORT.pdf", help="A signed report of this workspace: check that the "
              "audit trail still holds the head it records. Repeat for several.")
@json_option
def verify(workspace: Path, reports: tuple[Path, ...], as_json: bool) -> None:
    """Check cipher integrity, import digests, the audit chain, its seals and every row
    it vouches for (exit 1 on problems)."""
    from oversight.anchors import check_against

    for pdf in reports:
        if not pdf.is_file():
            raise UsageError(f"{pdf}: no such report file.")
    with open_ws(workspace) as ws, progress_bar("verify") as tick:
        report = verify_workspace(ws.conn, tick, helper=ws.helper_access())
        anchors = [check_against(ws.conn, ws.workspace_id, pdf) for pdf in reports]
    for anchor in anchors:
        report.problems.extend(anchor.problems)
    report.ok = not report.problems
    if as_json:
        doc = report.to_json()
        if reports:
            doc["against"] = [a.to_json() for a in anchors]
        _emit_json(doc)
    else:
        chain = report.chain
        if chain is not None:
            out.print(f"Audit trail: {chain.events} events, head {chain.head_seq} "
                      f"{chain.head_hash}")
        signed = report.accountability
        if signed is not None:
            out.print(f"Seals: {signed['seals']}, covering {signed['signed_events']} "
                      "events.")
            if signed["statement"]:
                out.print(signed["statement"], markup=False)
        for anchor in anchors:
            if anchor.ok:
                out.print(f"Report {Path(anchor.report).name}: the audit trail still holds "
                          f"its head, event {anchor.seq} {anchor.hash}.", markup=False)
        out.print(f"Batches checked: {report.batches_checked}")
        for p in report.problems:
            out.print(_line(("PROBLEM", "red"), f" {p}"))
        out.print("OK: the workspace is intact." if report.ok else
                  f"{len(report.problems)} problem(s) found.")
    if not report.ok:
        sys.exit(1)


# -- criteria and detection -------------------------------------------------------------


def _load_pack(path: Path | None) -> Pack:
    return default_pack() if path is None else load_pack(path)


@main.group()
def criteria() -> None:
    """Validate and show criteria packs."""


@criteria.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def criteria_validate(file: Path, as_json: bool) -> None:
    """Check a pack and report every problem with file, line and a fix (exit 2 if any)."""
    pack = load_pack(file)
    if as_json:
        _emit_json({"ok": True, "pack": pack.id, "version": pack.version,
                    "sha256": pack.sha256, "rules": len(pack.rules)})
    else:
        out.print(f"{file}: pack {pack.id} {pack.version}, {len(pack.rules)} rules, valid.")


@criteria.command("show")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@json_option
def criteria_show(file: Path | None, as_json: bool) -> None:
    """Show a pack's rules (default: the built-in led-baseline pack)."""
    pack = _load_pack(file)
    if as_json:
        _emit_json({
            "pack": pack.id, "version": pack.version, "title": pack.title,
            "sha256": pack.sha256, "parameters": pack.parameters,
            "lists": {k: list(v) for k, v in pack.lists.items()},
            "rules": [{"id": r.id, "title": r.title, "severity": r.severity,
                       "legal_refs": list(r.legal_refs), "rationale": r.rationale,
                       "enabled": r.enabled, "status": r.status, "when": r.when_text,
                       "aggregates": [a.label for a in r.aggregates],
                       "reads": sorted(r.needs)} for r in pack.rules]})
        return
    out.print(_line((pack.title, "bold"),
                    f" ({pack.id} {pack.version}, sha256 {pack.sha256[:16]}…)"))
    _table(["id", "severity", "title", "legal references", "enabled"],
           [[r.id, r.severity, r.title, "; ".join(r.legal_refs), "yes" if r.enabled else "no"]
            for r in pack.rules])



@criteria.command("versions")
@workspace_arg
@json_option
def criteria_versions(workspace: Path, as_json: bool) -> None:
    """List the pack versions kept in a workspace; the active one is marked."""
    with open_ws(workspace) as ws:
        found = list_versions(ws)
    if as_json:
        _emit_json([{"sha256": v.sha256, "pack": v.pack_id, "version": v.version,
                     "title": v.title, "added_at": v.added_at, "added_by": v.added_by,
                     "active": v.active, "note": v.note} for v in found])
        return
    _table(["active", "pack", "version", "sha256", "saved by", "saved at", "note"],
           [["*" if v.active else "", v.pack_id, v.version, v.sha256[:16], v.added_by,
             v.added_at[:16], v.note] for v in found])


@criteria.command("activate")
@workspace_arg
@click.argument("sha256")
def criteria_activate(workspace: Path, sha256: str) -> None:
    """Make a stored pack version (SHA-256 or a unique prefix) the active one (admins)."""
    with open_ws(workspace) as ws:
        v = activate(ws, sha256)
    out.print(f"{v.pack_id} {v.version} (sha256 {v.sha256[:16]}…) is now the active pack.")


@criteria.command("save")
@workspace_arg
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--note", default="", help="Why (kept in the audit trail).")
def criteria_save(workspace: Path, file: Path, note: str) -> None:
    """Validate a pack file, keep it in the workspace and make it active (admins)."""
    pack = load_pack(file)
    with open_ws(workspace) as ws:
        v = save_version(ws, pack.source, note, str(file))
    out.print(f"Saved {v.pack_id} {v.version} (sha256 {v.sha256[:16]}…); it is now active.")

@main.command()
@workspace_arg
@click.option("--criteria", "pack_path", type=click.Path(path_type=Path),
              help="Criteria pack (YAML); default: the workspace's active pack version, "
                   "else the built-in led-baseline pack.")
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Run only this rule.")
@click.option("--fail-on", type=click.Choice(list(SEVERITIES)),
              help="Exit 1 if an open finding of this pack (and these rules) at or above "
                   "this severity exists.")
@json_option
def check(workspace: Path, pack_path: Path | None, rules: tuple[str, ...],
          fail_on: str | None, as_json: bool) -> None:
    """Run the criteria over the workspace; record the run and its findings."""
    pack = load_pack(pack_path) if pack_path is not None else None
    with open_ws(workspace) as ws, progress_bar("detection") as tick:
        pack = pack if pack is not None else active_pack(ws)  # the active version
        summary = run_detection(ws, pack, list(rules) or None, progress=tick)
        failing = (open_at_or_above(ws, fail_on, pack.id, list(rules) or None)
                   if fail_on else 0)
    if as_json:
        doc = summary.to_json()
        if fail_on:
            doc["fail_on"] = {"severity": fail_on, "open_findings": failing}
        _emit_json(doc)
    else:
        _print_run(summary)
        if fail_on and failing:
            out.print(f"{failing} open finding(s) at or above {fail_on}.")
    if failing:
        sys.exit(1)


def _print_run(summary: RunSummary) -> None:
    out.print(f"Run {summary.run_id}: {summary.pack_id} {summary.pack_version} "
              f"(sha256 {summary.pack_sha256[:16]}…)")
    _table(["rule", "severity", "evaluated", "hits", "new", "no longer matching", "seconds"],
           [[r.rule_id, r.severity, "yes" if r.evaluated else f"no: {r.reason}", r.hits,
             r.new, r.stale, f"{r.seconds:.2f}"] for r in summary.rules])
    for r in summary.rules:
        if r.note:
            out.print(f"{r.rule_id}: {r.note}.", markup=False)
    total = sum(r.hits for r in summary.rules)
    out.print(f"{total} finding(s), {sum(r.new for r in summary.rules)} new.")


@main.command()
@workspace_arg
@click.argument("sources", nargs=-1, required=True)
@click.option("--mapping", "mapping", type=click.Path(path_type=Path),
              help="Mapping profile (YAML); default: headers matched by name.")
@click.option("--kind", type=click.Choice(["operations"]), default="operations",
              help="Record kind (the scan reads operations logs).")
@click.option("--criteria", "pack_path", type=click.Path(path_type=Path),
              help="Criteria pack (YAML); default: the workspace's active pack version.")
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Run only this rule.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True, help="Engine that reads the files: duckdb (on this "
              "machine) or spark (pip install '.[spark]'; see --spark-master).")
@click.option("--spark-master", metavar="URL", help="Spark master for --engine spark "
              "(default: local[*], or the one spark-submit sets).")
@click.option("--memory-limit", default="4GB", show_default=True,
              help="Most memory DuckDB may use; beyond it, it spills to a private folder.")
@click.option("--threads", type=click.IntRange(min=1), help="DuckDB threads (default: all).")
@click.option("--no-hash", is_flag=True, help="Do not compute the files' SHA-256 (findings "
              "are then keyed by file name, size and time).")
@json_option
def scan(workspace: Path, sources: tuple[str, ...], mapping: Path | None, kind: str,
         pack_path: Path | None, rules: tuple[str, ...], engine: str,
         spark_master: str | None, memory_limit: str, threads: int | None, no_hash: bool,
         as_json: bool) -> None:
    """Run the criteria over log files where they lie (CSV, JSON Lines, Parquet; files,
    globs or folders) and bring back only the findings and the records they cite."""
    import signal

    from oversight.scan import scan as run_scan

    def terminated(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # unwinds like Ctrl-C: DuckDB's spill folder is removed

    pack = load_pack(pack_path) if pack_path is not None else None
    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        with open_ws(workspace) as ws, progress_bar("scan") as tick:
            pack = pack if pack is not None else active_pack(ws)
            result = run_scan(ws, sources, pack, profile_path=mapping, kind=Kind(kind),
                              rule_ids=list(rules) or None, memory_limit=memory_limit,
                              threads=threads, hash_files=not no_hash, progress=tick,
                              engine=engine, spark_master=spark_master)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if as_json:
        _emit_json(result.to_json())
        return
    doc = result.to_json()
    label = {"duckdb": "DuckDB", "spark": "Spark"}.get(result.engine, result.engine)
    out.print(f"Scanned {len(result.files)} file(s), {doc['rows_read']:,} rows, in place by "
              f"{label} {result.engine_version}; hashes: "
              f"{'computed' if not no_hash else 'not computed'}.", markup=False)
    _table(["file", "rows read", "rejected", "records cited", "batch"],
           [[str(f.path), f.rows_read, f.rows_rejected, f.cited, f.batch_id]
            for f in result.files])
    for rule_id, reason in result.not_evaluated.items():
        out.print(f"{rule_id}: not evaluated: {reason}.", markup=False)
    if result.run is not None:
        _print_run(result.run)


@main.command()
@workspace_arg
@click.option("--rule", help="Only this rule.")
@click.option("--severity", type=click.Choice(list(SEVERITIES)))
@click.option("--status", type=click.Choice(list(STATUSES)))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--limit", type=click.IntRange(min=0), help="At most this many.")
def findings(workspace: Path, rule: str | None, severity: str | None, status: str | None,
             fmt: str, limit: int | None) -> None:
    """List findings (those that no longer match are kept and labelled)."""
    with open_ws(workspace) as ws:
        rows = list_findings(ws, FindingFilters(rule=rule, severity=severity, status=status))
    total = len(rows)
    rows = rows if limit is None else rows[:max(limit, 0)]
    if fmt != "table":
        _showing(len(rows), total, "findings", True)
    if fmt == "json":
        _emit_json(rows)
    elif fmt == "csv":
        click.echo(csv_text(
            ["id", "rule_id", "severity", "status", "matching", "message", "record_ids",
             "legal_refs", "first_run", "last_run"],
            [[f["id"], f["rule_id"], f["severity"], f["status"],
              "yes" if f["matching"] else "no", f["message"], ";".join(f["record_ids"]),
              "; ".join(f["legal_refs"]), f["first_run"], f["last_run"]] for f in rows]),
            nl=False)
    else:
        _table(["id", "severity", "status", "message"],
               [[f["id"], f["severity"],
                 f["status"] + ("" if f["matching"] else " (no longer matching)"),
                 f["message"]] for f in rows])
        if len(rows) < total:
            out.print(f"showing {len(rows):,} of {total:,} findings (--limit {limit}).",
                      markup=False)
        else:
            out.print(f"{len(rows)} finding(s).")


@main.command()
@workspace_arg
@json_option
def runs(workspace: Path, as_json: bool) -> None:
    """List detection runs: pack, version, SHA-256, who, when, hits."""
    with open_ws(workspace) as ws:
        rows = list_runs(ws)
    if as_json:
        _emit_json(rows)
        return
    _table(["run", "pack", "version", "sha256", "by", "started", "hits", "new"],
           [[r["run_id"], r["pack"], r["version"], r["pack_sha256"][:16] + "…", r["user"],
             r["started_at"][:19], r["hits"], r["new"]] for r in rows])


# -- triage -----------------------------------------------------------------------------


def _ids_or_filter(ws: Workspace, ids: tuple[str, ...], rule: str | None,
                   severity: str | None, status: str | None) -> list[str]:
    if ids and (rule or severity or status):
        raise UsageError("Give finding ids or a filter, not both.")
    return list(ids) if ids else triage.select_ids(ws, rule, severity, status)


def _print_mark(result: triage.MarkResult, as_json: bool, verb: str) -> None:
    if as_json:
        _emit_json(result.to_json())
        return
    out.print(f"{len(result.changed)} finding(s) {verb}"
              + (f", {len(result.pending)} waiting for a second reviewer's approval"
                 if result.pending else "")
              + (f", {len(result.unchanged)} already so" if result.unchanged else "") + ".")


@main.command()
@workspace_arg
@click.argument("finding_ids", nargs=-1)
@click.option("--status", required=True, type=click.Choice(list(triage.MARKABLE)),
              help="New status; open reopens a finding.")
@click.option("--reason", type=click.Choice(list(triage.REASONS)), help="Why it is dismissed.")
@click.option("--note", help="Why (required to confirm or dismiss).")
@click.option("--filter-rule", "rule", help="Bulk: findings of this rule.")
@click.option("--filter-severity", "severity", type=click.Choice(list(SEVERITIES)))
@click.option("--filter-status", "fstatus", type=click.Choice(list(STATUSES)))
@json_option
def mark(workspace: Path, finding_ids: tuple[str, ...], status: str, reason: str | None,
         note: str | None, rule: str | None, severity: str | None, fstatus: str | None,
         as_json: bool) -> None:
    """Mark findings (by id, or all matching a filter); reports how many changed."""
    with open_ws(workspace) as ws:
        ids = _ids_or_filter(ws, finding_ids, rule, severity, fstatus)
        if not ids:
            raise UsageError("No finding matches that filter.")
        result = triage.mark(ws, ids, status, reason, note)
    _print_mark(result, as_json, status)


@main.command()
@workspace_arg
@click.argument("finding_ids", nargs=-1, required=True)
@click.option("--note", help="Optional note with the approval; required with --return.")
@click.option("--return", "send_back", is_flag=True,
              help="Say no: the decision does not take effect and the finding goes back "
                   "to in review (a note saying why is required).")
@json_option
def approve(workspace: Path, finding_ids: tuple[str, ...], note: str | None,
            send_back: bool, as_json: bool) -> None:
    """Approve decisions waiting for a second reviewer (auditors; not your own), or
    return them with --return --note."""
    with open_ws(workspace) as ws:
        if send_back:
            result = triage.return_decision(ws, list(finding_ids), note or "")
        else:
            result = triage.approve(ws, list(finding_ids), note)
    _print_mark(result, as_json, "returned to in review" if send_back else "approved")


@main.command()
@workspace_arg
@click.argument("finding_id")
@click.option("--text", required=True, help="The note (kept exactly as written).")
@click.option("--refers-to", type=int, help="The note this one corrects.")
def note(workspace: Path, finding_id: str, text: str, refers_to: int | None) -> None:
    """Add a note to a finding. Notes are never edited or deleted."""
    with open_ws(workspace) as ws:
        note_id = triage.add_note(ws, finding_id, text, refers_to)
    out.print(f"Note {note_id} added to {finding_id}.")


@main.command()
@workspace_arg
@click.argument("finding_ids", nargs=-1, required=True)
@click.option("--to", "to", required=True, help="User name; an empty value unassigns.")
def assign(workspace: Path, finding_ids: tuple[str, ...], to: str) -> None:
    """Assign findings to a user."""
    with open_ws(workspace) as ws:
        result = triage.assign(ws, list(finding_ids), to)
    _print_mark(result, False, f"assigned to {to}" if to else "unassigned")


@main.command()
@workspace_arg
@click.argument("finding_id")
@json_option
def show(workspace: Path, finding_id: str, as_json: bool) -> None:
    """A finding with its records, facts, rule, history and notes."""
    with open_ws(workspace) as ws:
        doc = triage.finding_detail(ws, finding_id)
    if as_json:
        _emit_json(doc)
        return
    rule = doc["rule"]
    out.print(_line((str(doc["id"]), "bold"), f" {doc['severity']} {doc['status']}"
                    + ("" if doc["matching"] else f" (no longer matching: "
                       f"{doc['no_longer_matching_reason']})")))
    out.print(doc["message"], markup=False)
    out.print(f"Rule {rule['id']}: {rule.get('title', '')} ({'; '.join(doc['legal_refs'])})")
    out.print(f"Why it matters: {rule.get('rationale', '')}", markup=False)
    out.print("Facts: " + json.dumps(doc["facts"], ensure_ascii=False), markup=False)
    for rec in doc["records"]:
        out.print(f"Record {rec['record_id']} (batch {rec['batch_id']}, line {rec['line']}): "
                  + json.dumps(rec["fields"], ensure_ascii=False), markup=False)
    for n in doc["notes"]:
        ref = f" (corrects note {n['refers_to']})" if n["refers_to"] else ""
        out.print(f"Note {n['note_id']} by {n['user']} at {n['ts'][:19]}{ref}: {n['text']}",
                  markup=False)
    notes = {n["note_id"]: n["text"] for n in doc["notes"]}
    for h in doc["history"]:
        line = (f"#{h['seq']} {h['ts'][:19]} {h['user']} {h['action']} "
                f"{h['from'] or ''}→{h['to'] or ''} {h['reason'] or ''}")
        if h["action"] == "return":  # who returned which decision, and why
            back = h.get("detail") or {}
            line += (f"(returned {(back.get('returned') or {}).get('status')} proposed by "
                     f"{back.get('proposed_by')}: {notes.get(h['note_id'], '')})")
        out.print(line, markup=False)
    _print_origin(doc.get("origin") or [])


def _print_origin(origin: list[dict[str, Any]]) -> None:
    """What other bodies said of a finding (review packages), read-only, attributed."""
    for o in origin:
        trust = "" if o["trusted"] else ", signer NOT trusted"
        out.print(f"{o['label']} {o['attribution']} (signed by {o['signer']}{trust}): "
                  f"{o['status']}{' (' + o['reason'] + ')' if o['reason'] else ''}",
                  markup=False)
        for n in o["notes"]:
            out.print(f"  note by {n['by']} at {str(n['ts'])[:19]}: {n['text']}",
                      markup=False)
        for h in o["history"]:
            out.print(f"  {str(h['ts'])[:19]} {h['by']} {h['action']} "
                      f"{h['from'] or ''}→{h['to'] or ''} {h['reason'] or ''}", markup=False)


@main.command()
@workspace_arg
@click.option("--size", required=True, type=int)
@click.option("--by", type=click.Choice(["rule", "severity"]), help="Stratify.")
@click.option("--seed", type=int, help="Redraw an earlier sample (default: a new seed).")
@click.option("--records", "of_records", is_flag=True, help="Sample records, not findings.")
@click.option("--filter-rule", "rule")
@click.option("--filter-severity", "severity", type=click.Choice(list(SEVERITIES)))
@json_option
def sample(workspace: Path, size: int, by: str | None, seed: int | None, of_records: bool,
           rule: str | None, severity: str | None, as_json: bool) -> None:
    """Draw a reproducible random sample (recorded with its seed)."""
    with open_ws(workspace) as ws:
        doc = triage.draw_sample(ws, size, by, seed, "records" if of_records else "findings",
                                 rule, severity)
    if as_json:
        _emit_json(doc)
        return
    out.print(doc["statement"] + f" (sample {doc['sample_id']}):")
    for item in doc["items"]:
        out.print(f"  {item}")


@main.command()
@workspace_arg
@click.option("--finding", help="Only events about this finding.")
@click.option("--user", "user_name", help="Only events by this user.")
@click.option("--limit", type=click.IntRange(min=0), help="Only the last N events.")
@json_option
def history(workspace: Path, finding: str | None, user_name: str | None, limit: int | None,
            as_json: bool) -> None:
    """The audit trail: who did what, when (hash-chained)."""
    with open_ws(workspace) as ws:
        events = triage.history(ws, finding, user_name, limit)
        total = triage.count_history(ws, finding, user_name) if limit is not None \
            else len(events)
    if as_json:
        _emit_json(events)
        _showing(len(events), total, "events", True)
        return
    _table(["seq", "time", "user", "action", "details"],
           [[e["seq"], e["ts"][:19], e["user"], e["action"],
             json.dumps(e["payload"], ensure_ascii=False)[:120]] for e in events])
    _showing(len(events), total, "events", False)


@main.command()
@workspace_arg
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="FILE.csv or FILE.json")
@click.option("--rule")
@click.option("--severity", type=click.Choice(list(SEVERITIES)))
@click.option("--status", type=click.Choice(list(STATUSES)))
@force_option
def export(workspace: Path, out_path: Path, rule: str | None, severity: str | None,
           status: str | None, force: bool) -> None:
    """Export findings with status, reason, notes and record references."""
    check_output_path(out_path, force, "export file")
    with open_ws(workspace) as ws:
        n = export_findings(ws, out_path, rule, severity, status)
    out.print(f"Wrote {n} finding(s) to {out_path}.")


@main.command("four-eyes")
@workspace_arg
@click.argument("policy", required=False, type=click.Choice([f.value for f in
                                                              triage.FourEyes]))
def four_eyes_cmd(workspace: Path, policy: str | None) -> None:
    """Show or set when a second reviewer must approve (off, critical, high = high+)."""
    with open_ws(workspace) as ws:
        if policy is not None:
            triage.set_four_eyes(ws, policy)
        current = triage.four_eyes(ws)
    out.print(f"Four-eyes approval: {current.value}.")


@main.command("escalation-to")
@workspace_arg
@click.argument("recipient", required=False)
@click.option("--clear", is_flag=True, help="Name nobody.")
def escalation_to_cmd(workspace: Path, recipient: str | None, clear: bool) -> None:
    """Show or set who escalated findings go to (admins set it; the GUI's escalate
    dialog names them)."""
    if clear and recipient is not None:
        raise UsageError("Give a recipient or --clear, not both.")
    with open_ws(workspace) as ws:
        if recipient is not None or clear:
            triage.set_escalation_to(ws, None if clear else recipient)
        current = triage.escalation_to(ws)
    out.print(f"Escalations go to: {current}." if current else
              "No escalation recipient is set.", markup=False)


@main.command("auto-lock")
@workspace_arg
@click.argument("minutes", required=False, type=int)
def auto_lock_cmd(workspace: Path, minutes: int | None) -> None:
    """Show or set (admins) how many idle minutes the workstation waits before it locks
    itself; a user's own preference can only be shorter."""
    from oversight.settings import auto_lock_minutes, set_auto_lock_minutes

    with open_ws(workspace) as ws:
        if minutes is not None:
            set_auto_lock_minutes(ws, minutes)
        current = auto_lock_minutes(ws)
    out.print("Auto-lock: " + (f"after {current} idle minutes." if current is not None
                               else "not set for this workspace (each user's preference)."))


# -- indicators -------------------------------------------------------------------------


@main.command()
@workspace_arg
@click.option("--by", "by", multiple=True, type=click.Choice(list(GROUP_KEYS)),
              help="Group by this; repeat for several (e.g. --by agency --by month).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD",
              help="Operations from this local day (workspace timezone).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Operations up to this local day.")
@click.option("--status", type=click.Choice(list(STATUS_CHOICES)), default="any",
              show_default=True, help="Which findings the findings and per-1,000 columns "
              "count.")
@click.option("--compare-to", "compare_to", metavar="RUN_ID|PERIOD",
              help="Change against an earlier detection run, or a period (2025-03, "
                   "2025-Q1, 2025-01-01..2025-12-31).")
@click.option("--csv", "as_csv", is_flag=True, help="The rows as CSV.")
@json_option
def indicators(workspace: Path, by: tuple[str, ...], date_from: str | None,
               date_to: str | None, status: str, compare_to: str | None, as_csv: bool,
               as_json: bool) -> None:
    """Compliance indicators: operations, findings, decisions, findings per 1,000
    operations and the confirmed rate (Wilson 95% interval) per group and period."""
    if as_csv and as_json:
        raise UsageError("Give --json or --csv, not both.")
    query = IndicatorQuery(
        tuple(by), parse_day(date_from, "--from") if date_from else None,
        parse_day(date_to, "--to") if date_to else None, status, compare_to)
    with open_ws(workspace) as ws:
        result = compute_indicators(ws, query)
    if as_json:
        _emit_json(result.to_json())
    elif as_csv:
        click.echo(result.csv(), nl=False)
    else:
        _print_indicators(result)


def _print_indicators(result: Indicators) -> None:
    doc = result.to_json()
    compare = doc["compare_to"] is not None
    columns = [*result.by, "operations", "findings", "confirmed", "dismissed", "open",
               "per 1,000", "decided", "confirmed rate (95% CI)"]
    if compare:
        columns += ["Δ per 1,000", "Δ rate", "CIs overlap"]
    rows = []
    for r in [*result.rows, *([result.total] if result.by else [])]:
        line: list[Any] = [r.group.get(k) or ("(all)" if r is result.total else "(none)")
                           for k in result.by]
        line += [f"{r.operations:,}", f"{r.findings:,}", f"{r.confirmed:,}",
                 f"{r.dismissed:,}", f"{r.open:,}",
                 "" if r.per_1000 is None else rate_text(r.per_1000), f"{r.decided:,}",
                 "" if r.confirmed_rate is None else
                 f"{percent_text(r.confirmed_rate)} ({percent_text(r.ci_low)}–"
                 f"{percent_text(r.ci_high)})"]
        if compare:
            ch = r.change or {}
            line += ["" if ch.get("per_1000") is None else rate_text(ch["per_1000"], sign=True),
                     "" if ch.get("confirmed_rate") is None else
                     points_text(ch["confirmed_rate"]),
                     {True: "yes", False: "no", None: ""}[ch.get("intervals_overlap")]]
        rows.append(line)
    _table(columns, rows)
    pack = doc["pack"]
    out.print(f"Findings of {pack['id']} {pack['version']} still matching, runs "
              f"{', '.join(map(str, doc['runs']))}; months and days in {doc['timezone']}.",
              markup=False)
    left = {k: v for k, v in doc["left_out"].items() if v}
    if left:
        out.print("Left out: " + ", ".join(f"{v:,} {k.replace('_', ' ')}"
                                           for k, v in left.items()) + ".", markup=False)
    review = doc["review"]
    seeds = ", ".join(f"{s['size']} of {s['population_size']} (seed {s['seed']})"
                      for s in doc["samples"])
    out.print(f"Confirmed rate: confirmed of the {review['decided']:,} decided findings "
              f"({review['decided_in_a_sample']:,} of them in a drawn sample"
              + (f": {seeds}" if seeds else "") + ").", markup=False)
    if compare:
        c = doc["compare_to"]
        against = (f"run {c['run_id']} (runs {', '.join(map(str, c['runs']))})"
                   if c["kind"] == "run" else f"{c['from']} to {c['to']}")
        out.print(f"Changes are against {against}.", markup=False)


@main.command("timezone")
@workspace_arg
@click.argument("zone_name", required=False, metavar="ZONE")
def timezone_cmd(workspace: Path, zone_name: str | None) -> None:
    """Show or set (admins) the workspace timezone: the days and months of indicators
    (an IANA name such as Europe/Berlin; default UTC)."""
    with open_ws(workspace) as ws:
        if zone_name is not None:
            set_timezone(ws, zone_name)
        current = workspace_timezone(ws)
    out.print(f"Workspace timezone: {current}.")


# -- reports ----------------------------------------------------------------------------


@main.command()
@workspace_arg
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="The PDF to write.")
@click.option("--template", default="full", show_default=True, help="full or summary.")
@click.option("--only-confirmed", is_flag=True, help="Only confirmed findings.")
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Only these rules.")
@click.option("--severity", "severities", multiple=True, type=click.Choice(list(SEVERITIES)))
@click.option("--from", "period_from", metavar="YYYY-MM-DD", help="Findings from this day.")
@click.option("--to", "period_to", metavar="YYYY-MM-DD", help="Findings up to this day.")
@click.option("--title", help="Report title.")
@click.option("--body", default="", help="The oversight body issuing the report.")
@click.option("--classification", default="OFFICIAL-SENSITIVE", show_default=True)
@click.option("--sign", "p12", type=click.Path(path_type=Path),
              help="Sign with this PKCS#12 file (passphrase: OVERSIGHT_P12_PASSWORD or a "
                   "prompt).")
@click.option("--sign-field-visible/--sign-field-invisible", default=True, show_default=True,
              help="A visible signature box on the signature page.")
@click.option("--timestamp-url", help="RFC 3161 time-stamp server (PAdES B-T).")
@click.option("--pseudonymise", "pseudonymise", metavar="subjects,actors",
              help="Replace these identifiers by keyed pseudonyms (docs/exchange.md).")
@force_option
@json_option
def report(workspace: Path, out_path: Path, template: str, only_confirmed: bool,
           rules: tuple[str, ...], severities: tuple[str, ...], period_from: str | None,
           period_to: str | None, title: str | None, body: str, classification: str,
           p12: Path | None, sign_field_visible: bool, timestamp_url: str | None,
           pseudonymise: str | None, force: bool, as_json: bool) -> None:
    """Write a PDF audit report (auditors), signed with PAdES when --sign is given."""
    from oversight.exchange.pseudonyms import parse_kinds
    from oversight.report.data import ReportScope
    from oversight.report.service import SignOptions, produce_report

    check_output_path(out_path, force, "report file")
    kinds = parse_kinds(pseudonymise)

    scope = ReportScope(only_confirmed, tuple(rules), tuple(severities), period_from,
                        period_to)
    with open_ws(workspace) as ws:
        sign = None
        if p12 is not None:
            phrase = _ask(f"Passphrase of {p12.name}", "OVERSIGHT_P12_PASSWORD", hide=True)
            sign = SignOptions(p12, phrase.encode("utf-8"), sign_field_visible, timestamp_url)
        with progress_bar("report") as tick:
            result = produce_report(ws, out_path, template, scope, title=title, body=body,
                                    classification=classification, sign=sign, progress=tick,
                                    pseudonymise=kinds)
    if as_json:
        _emit_json(result.to_json())
        return
    out.print(f"Wrote {result.path}: {result.pages} pages, {result.findings} findings, "
              f"{'signed' if result.signed else 'not signed'}; SHA-256 {result.sha256}.")
    if result.signed:
        out.print(f"Verify it with: oversight verify-report {result.path} --trust CA.pem")


@main.group()
def keys() -> None:
    """Signing certificates for reports."""


@keys.command("create-selfsigned")
@click.option("--name", required=True, help="The signer's name (certificate common name).")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="The PKCS#12 file to write.")
@click.option("--with-ca", is_flag=True, help="Also make a tiny CA that issues the "
              "certificate, and write its certificate as OUT.ca.pem for --trust.")
@click.option("--email", help="E-mail address in the certificate.")
def keys_create(name: str, out_path: Path, with_ca: bool, email: str | None) -> None:
    """Create a self-signed signing certificate to try signing (passphrase:
    OVERSIGHT_P12_PASSWORD or a prompt)."""
    from oversight.report.sign import create_selfsigned

    if out_path.exists():
        raise UsageError(f"{out_path} already exists; choose another file name.")
    check_output_path(out_path, False, "certificate file")  # a folder, link or FIFO
    phrase = _ask(f"Passphrase for {out_path.name}", "OVERSIGHT_P12_PASSWORD", hide=True,
                  confirm=True)
    made = create_selfsigned(name, out_path, phrase.encode("utf-8"), with_ca=with_ca,
                             email=email)
    files = made if isinstance(made, tuple) else (made,)
    out.print("Wrote " + ", ".join(str(f) for f in files) + ".")


@main.command("verify-report")
@click.argument("pdf", type=click.Path(path_type=Path))
@click.option("--trust", "trust", multiple=True, type=click.Path(path_type=Path),
              help="A trusted root certificate (PEM or DER); repeat for several.")
@json_option
def verify_report_cmd(pdf: Path, trust: tuple[Path, ...], as_json: bool) -> None:
    """Check a signed report: signature, no change since signing, signer, trust, manifest.
    Exit 0 valid, 1 invalid."""
    from oversight.report.sign import verify_report

    if not pdf.is_file():
        raise UsageError(f"{pdf}: no such file.")
    for t in trust:
        if not t.is_file():
            raise UsageError(f"Trust root {t}: no such file.")
    result = verify_report(pdf, list(trust) or None)
    if as_json:
        _emit_json(result.to_json())
    else:
        out.print(f"File: {pdf}", markup=False)
        for check, value in result.checks():  # the same lines the workstation shows
            out.print(f"{check}: {value}", markup=False)
        for p in result.problems:
            out.print(f"PROBLEM {p}", markup=False)
        out.print("VALID" if result.ok else "INVALID")
    if not result.ok:
        sys.exit(1)


@main.command()
@click.argument("workspace", required=False, type=click.Path(path_type=Path))
@click.option("--no-gui", is_flag=True, help="Do not open the desktop window.")
@click.option("--operations", "n_ops", type=int, default=50_000, show_default=True)
@click.option("--seed", type=int, default=20261128, show_default=True)
def demo(workspace: Path | None, no_gui: bool, n_ops: int, seed: int) -> None:
    """Build a demo workspace with synthetic data and planted irregularities, review it,
    write a signed report, and open the workstation when a display is available."""
    from oversight.demo import run_demo

    folder = workspace or Path("oversight-demo")
    run_demo(folder, n_ops, seed, out, progress_bar)
    if no_gui or not _display_available():
        out.print(f"Open it in the workstation with: oversight gui {folder}")
        return
    out.print("Opening the workstation…")
    _open_gui([str(folder)])


def _display_available() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open_gui(argv: list[str]) -> None:
    from ui.app import main as gui_main  # the only place the CLI reaches into ui/

    code = gui_main(argv)
    if code:
        sys.exit(code)


@main.command()
@click.argument("workspace", required=False, type=click.Path(path_type=Path))
def gui(workspace: Path | None) -> None:
    """Open the desktop workstation (optionally on WORKSPACE)."""
    _open_gui([str(workspace)] if workspace else [])


# -- review packages between oversight bodies (oversight.exchange) -------------------------


def _identity(p12: Path, what: str) -> Any:
    from oversight.exchange.keys import load_identity

    phrase = _ask(f"Passphrase of {p12.name} ({what})", "OVERSIGHT_P12_PASSWORD", hide=True)
    return load_identity(p12, phrase.encode("utf-8"))


def _recipients(paths: tuple[Path, ...]) -> list[Any]:
    from oversight.exchange.export import Recipient
    from oversight.exchange.keys import load_certificates

    return [Recipient(cert, str(p)) for p in paths
            for cert in load_certificates(p, "recipient certificate")]


def _print_lines(lines: list[tuple[str, str]]) -> None:
    for label, value in lines:
        out.print(f"{label}: {value}", markup=False)


@main.group()
def package() -> None:
    """Signed, encrypted review packages between oversight bodies (docs/exchange.md)."""


@package.command("export")
@workspace_arg
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="The package to write (FILE.ovp).")
@click.option("--sign", "p12", required=True, type=click.Path(path_type=Path),
              help="Your PKCS#12 (passphrase: OVERSIGHT_P12_PASSWORD or a prompt).")
@click.option("--to", "to", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A recipient's certificate (PEM or DER); repeat for several.")
@click.option("--finding", "finding_ids", multiple=True, metavar="ID",
              help="A finding to send; repeat for several.")
@click.option("--filter-rule", "rule", help="Or: the findings of this rule.")
@click.option("--filter-status", "fstatus", type=click.Choice(list(STATUSES)))
@click.option("--filter-severity", "severity", type=click.Choice(list(SEVERITIES)))
@click.option("--pseudonymise", "pseudonymise", metavar="subjects,actors",
              help="Replace these identifiers by keyed pseudonyms.")
@click.option("--note", help="A note to the recipients (inside the encryption).")
@click.option("--body", help="Your oversight body (default: your certificate's organisation).")
@force_option
@json_option
def package_export(workspace: Path, out_path: Path, p12: Path, to: tuple[Path, ...],
                   finding_ids: tuple[str, ...], rule: str | None, fstatus: str | None,
                   severity: str | None, pseudonymise: str | None, note: str | None,
                   body: str | None, force: bool, as_json: bool) -> None:
    """Send findings with their records, decisions and provenance to other bodies
    (auditors)."""
    from oversight.exchange.export import export_package
    from oversight.exchange.pseudonyms import parse_kinds

    check_output_path(out_path, force, "package file")
    kinds = parse_kinds(pseudonymise)
    recipients = _recipients(to)
    with open_ws(workspace) as ws:
        identity = _identity(p12, "signing key")
        with progress_bar("package") as tick:
            result = export_package(ws, out_path, identity, recipients,
                                    finding_ids=list(finding_ids), rule=rule, status=fstatus,
                                    severity=severity, pseudonymise=kinds, note=note,
                                    body=body, progress=tick)
    if as_json:
        _emit_json({"ok": True, **result.to_json()})
        return
    entries = "entry" if result.register_entries == 1 else "entries"
    out.print(f"Wrote {result.path}: {result.findings} finding(s), {result.records} record(s), "
              f"{result.register_entries} register {entries}, {result.notes} note(s), "
              f"{result.sources} source batch(es); for "
              f"{'; '.join(result.recipients)}; SHA-256 {result.sha256}.", markup=False)
    if result.pseudonymised:
        out.print(f"Pseudonymised: {', '.join(result.pseudonymised)} "
                  f"({result.pseudonyms_new} new pseudonym(s)).")


@package.command("inspect")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--trust", "trust", multiple=True, type=click.Path(path_type=Path),
              help="A trusted CA certificate; repeat for several.")
@json_option
def package_inspect(file: Path, trust: tuple[Path, ...], as_json: bool) -> None:
    """What a package says outside its encryption, and its signature (no key needed)."""
    from oversight.exchange.receive import inspect_package

    result = inspect_package(file, list(trust))
    if as_json:
        _emit_json({"ok": True, **result.to_json()})
        return
    _print_lines(result.lines())


@package.command("import")
@workspace_arg
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--key", "p12", required=True, type=click.Path(path_type=Path),
              help="Your PKCS#12 (the recipient's key; passphrase: OVERSIGHT_P12_PASSWORD).")
@click.option("--trust", "trust", multiple=True, type=click.Path(path_type=Path),
              help="The sender's CA certificate; repeat for several.")
@click.option("--accept-untrusted", is_flag=True,
              help="Import although the sender's certificate is not trusted (recorded).")
@json_option
def package_import(workspace: Path, file: Path, p12: Path, trust: tuple[Path, ...],
                   accept_untrusted: bool, as_json: bool) -> None:
    """Verify a package (or a reply) and import it (inspectors and auditors)."""
    from oversight.exchange.receive import import_package

    with open_ws(workspace) as ws:
        identity = _identity(p12, "decryption key")
        with progress_bar("package") as tick:
            result = import_package(ws, file, identity, list(trust), accept_untrusted,
                                    progress=tick)
    if as_json:
        _emit_json({"ok": True, **result.to_json()})
        return
    if result.kind == "reply":
        out.print(f"Imported reply {result.label} from {result.sender}: decisions on "
                  f"{len(result.findings)} finding(s) of this workspace, {result.notes} "
                  "note(s), beside your own.", markup=False)
    else:
        out.print(f"Imported package {result.label} from {result.sender} (signed by "
                  f"{result.signer}, {'trusted' if result.trusted else 'NOT trusted, accepted'}"
                  f"): {len(result.findings)} finding(s) to triage, {result.records} "
                  f"record(s), {result.register_entries} register entr"
                  f"{'y' if result.register_entries == 1 else 'ies'} in batch(es) "
                  f"{', '.join(map(str, result.batches)) or 'none'}.", markup=False)


@package.command("reply")
@workspace_arg
@click.option("--to-package", "to_package", required=True, type=click.Path(path_type=Path),
              help="The package this answers (imported here before).")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="The reply to write (FILE.ovp).")
@click.option("--sign", "p12", required=True, type=click.Path(path_type=Path),
              help="Your PKCS#12 (passphrase: OVERSIGHT_P12_PASSWORD or a prompt).")
@click.option("--to", "to", multiple=True, type=click.Path(path_type=Path),
              help="Recipient certificate(s) (default: the certificate that signed the "
                   "package).")
@click.option("--note", help="A note to the recipients (inside the encryption).")
@click.option("--body", help="Your oversight body (default: your certificate's organisation).")
@force_option
@json_option
def package_reply(workspace: Path, to_package: Path, out_path: Path, p12: Path,
                  to: tuple[Path, ...], note: str | None, body: str | None, force: bool,
                  as_json: bool) -> None:
    """Answer a received package with this body's decisions on its findings (auditors)."""
    from oversight.exchange.export import reply_package

    check_output_path(out_path, force, "package file")
    recipients = _recipients(to)
    with open_ws(workspace) as ws:
        identity = _identity(p12, "signing key")
        result = reply_package(ws, to_package, out_path, identity, recipients, note=note,
                               body=body)
    if as_json:
        _emit_json({"ok": True, **result.to_json()})
        return
    out.print(f"Wrote reply {result.path}: decisions on {result.findings} finding(s), "
              f"{result.notes} note(s); for {'; '.join(result.recipients)}; SHA-256 "
              f"{result.sha256}.", markup=False)


@package.command("list")
@workspace_arg
@json_option
def package_list(workspace: Path, as_json: bool) -> None:
    """Packages and replies received: sender, signer, trust, batches, findings."""
    from oversight.exchange.store import received_packages

    with open_ws(workspace, read_only=True) as ws:
        rows = received_packages(ws)
    if as_json:
        _emit_json(rows)
        return
    _table(["package", "kind", "file", "from", "signed by", "trust", "batches", "findings",
            "imported"],
           [[r["label"], r["kind"], r["file_name"], f"{r['sender_body']}/{r['sender_user']}",
             r["signer_subject"], "trusted" if r["trusted"] else "untrusted (accepted)",
             ", ".join(map(str, r["batches"])), r["findings"],
             f"{r['imported_by']} {str(r['imported_at'])[:10]}"] for r in rows])


@main.command()
@workspace_arg
@click.argument("pseudonym")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@json_option
def reveal(workspace: Path, pseudonym: str, reason: str, as_json: bool) -> None:
    """The identifier behind a pseudonym this workspace gave out (auditors; logged)."""
    from oversight.exchange.pseudonyms import reveal as reveal_pseudonym

    with open_ws(workspace) as ws:
        result = reveal_pseudonym(ws, pseudonym, reason)
    if as_json:
        _emit_json({"ok": True, **result.to_json()})
        return
    out.print(f"{result.pseudonym} is {result.kind} {result.value}", markup=False)


if __name__ == "__main__":
    main()
