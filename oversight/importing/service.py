"""The import service: one file, one batch, one transaction.

Rows that cannot be parsed become rejects (line, column, field, value, reason); the
rest import. Any failure, cancellation or Ctrl-C rolls the whole file back, so the
workspace is exactly as it was. The same functions serve the CLI and the GUI.

Speed: for big files a helper process reads and converts rows while this process
stores the previous chunk, so parsing and storage run on two cores. The helper only
reads the source file and sends converted rows through a pipe; it never touches the
workspace.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import marshal
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # not on Windows: the pipe keeps its size there
    fcntl = None  # type: ignore[assignment]

from db.store import Connection
from oversight.changes import Change, changes
from oversight.errors import AlreadyImported, InputFileError, OversightError
from oversight.importing.convert import RowConverter
from oversight.importing.profile import FieldMapping, MappingProfile, auto_profile, load_profile
from oversight.importing.quality import (
    FLAG_AMBIGUOUS,
    FLAG_DUPLICATE,
    DataWarning,
    QualityTracker,
    all_rows_rejected,
    now_us,
    timestamp_sources,
)
from oversight.importing.readers import RawRow, Source, open_source, unreadable
from oversight.integrity import GROUP, RowDigest, encode_group
from oversight.progress import CancelToken, Progress, no_progress
from oversight.records import NATURAL_KEY, FieldType, Kind, fields_of
from oversight.safefile import open_regular
from oversight.workspace import Permission, Workspace

__all__ = ["ImportResult", "Reject", "already_imported_text", "file_sha256", "import_file",
           "preview"]

CHUNK = GROUP  # rows per chunk: one digest group
_PIPE_SIZE: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
_ONE_US = timedelta(microseconds=1)
#: Files at least this big are converted by a helper process on a second core.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024
PREVIEW_ROWS = 10
PREVIEW_REJECTS = 20


@dataclass(frozen=True)
class Reject:
    line: int
    column: str | None
    field: str | None
    value: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "field": self.field,
                "value": self.value, "reason": self.reason}


@dataclass
class ImportResult:
    file: str
    kind: str
    format: str
    sha256: str
    size: int
    mapping: dict[str, Any]
    extra_columns: list[str]
    batch_id: int | None = None
    dry_run: bool = False
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    rows_digest: str | None = None
    sample_records: list[dict[str, Any]] = field(default_factory=list)
    sample_rejects: list[Reject] = field(default_factory=list)
    resolved_path: str | None = None
    """The real file read when ``file`` is (or passes through) a symbolic link."""
    warnings: list[DataWarning] = field(default_factory=list)
    """What was read but may be wrong or incomplete (quality.CODES)."""
    fields_mapped: list[str] = field(default_factory=list)
    """Canonical fields the mapping fills."""
    fields_empty: list[str] = field(default_factory=list)
    """Canonical fields without a value in any imported record (not mapped, or blank in
    every row)."""
    missing_markers: list[str] = field(default_factory=list)
    """Values read as "no value" in every column, mapped or kept as extra."""
    imported_as: dict[str, Any] | None = None
    """For a dry run of a file already in the workspace: the batch that holds it."""

    @property
    def nothing_imported(self) -> bool:
        return any(w.code == "all_rows_rejected" for w in self.warnings)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "resolved_path": self.resolved_path,
            "kind": self.kind,
            "format": self.format,
            "sha256": self.sha256,
            "size": self.size,
            "batch_id": self.batch_id,
            "dry_run": self.dry_run,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_rejected": self.rows_rejected,
            "rows_digest": self.rows_digest,
            "mapping": self.mapping,
            "extra_columns": self.extra_columns,
            "sample_records": self.sample_records,
            "sample_rejects": [r.to_json() for r in self.sample_rejects],
            "warnings": [w.to_json() for w in self.warnings],
            "fields_mapped": self.fields_mapped,
            "fields_empty": self.fields_empty,
            "missing_markers": self.missing_markers,
            "imported_as": self.imported_as,
        }

    def add_reject(self, reject: Reject) -> None:
        if len(self.sample_rejects) < PREVIEW_REJECTS:
            self.sample_rejects.append(reject)


def file_sha256(path: Path, progress: Progress = no_progress, size: int = 0) -> str:
    fh, _ = open_regular(path)
    return _hash(fh, path, progress, size)


def _hash(fh: BinaryIO, path: Path, progress: Progress, size: int) -> str:
    h = hashlib.sha256()
    done = 0
    try:
        with fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                done += len(chunk)
                progress(done, size, "hashing")
    except OSError as exc:
        raise unreadable(path, exc) from None
    return h.hexdigest()


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 2000 else text[:2000] + "…"


class _Plan:
    """What importing one file needs: its source, profile, converter and columns."""

    def __init__(self, path: Path, kind: Kind | None, profile_path: Path | None) -> None:
        profile = load_profile(profile_path, kind) if profile_path is not None else None
        self.path = path
        #: The real file when ``path`` is or passes a symbolic link (recorded with it).
        self.resolved: Path | None = None
        self.source: Source = open_source(
            path,
            fmt=profile.format if profile else None,
            encoding=profile.encoding if profile else None,
            sheet=profile.sheet if profile else None,
            delimiter=profile.delimiter if profile else None,
        )
        try:
            self.rows: Iterator[RawRow] = iter(self.source)
            columns = list(self.source.columns)
            tabular = self.source.format in ("csv", "xlsx")
            if not tabular:  # JSON: the first object's keys stand for the header
                first = next(self.rows, None)
                if first is None:
                    raise InputFileError(f"{path} holds no records.")
                if isinstance(first[1], dict):
                    columns = list(first[1])
                self.rows = itertools.chain([first], self.rows)
            if profile is None:
                profile = auto_profile(kind or Kind.OPERATIONS, columns)
            self.profile: MappingProfile = profile
            self.kind = profile.kind
            if tabular:
                absent = sorted(profile.mapped_columns() - set(columns))
                if absent:
                    raise InputFileError(
                        f"{path}: the mapping names column(s) {', '.join(map(repr, absent))} "
                        f"that the file does not have; its columns are: {', '.join(columns)}."
                    )
            natural = NATURAL_KEY[self.kind]
            if natural is not None and natural not in profile.fields:
                raise InputFileError(
                    f"{path}: no column maps to {natural}, which every {self.kind.value} record "
                    f"needs; name it in a mapping profile (its columns are: {', '.join(columns)})."
                )
            self.converter = RowConverter(profile, columns if tabular else None,
                                          text_only=self.source.format == "csv")
            #: The file's columns (for JSON: the first record's keys).
            self.source_columns = columns
            self.extra_columns = [c for c in columns if c not in profile.mapped_columns()]
            self.natural_index = None if natural is None else self.converter.columns.index(natural)
            self.key_mapping: FieldMapping | None = profile.record_id or (
                None if natural is None else profile.fields[natural])
            #: Stored columns this batch writes, in order; the rest stay NULL.
            self.columns = ["batch_id", "line", "record_id", *self.converter.columns, "extra"]
        except BaseException:
            self.source.close()
            raise

    def close(self) -> None:
        self.source.close()

    def checks_duplicates(self) -> bool:
        return self.key_mapping is not None

    def duplicate(self, line: int, record_id: str, first_line: int) -> Reject:
        fm = self.key_mapping
        column = ", ".join(fm.columns) if fm is not None else None
        return Reject(line, column, "record_id", record_id,
                      f"duplicate record_id {record_id!r} (first on line {first_line})")

    def tracker(self, imported_us: int) -> QualityTracker:
        return QualityTracker(self.kind, self.columns, self.profile.fields,
                              self.profile.timezone,
                              timestamp_sources(self.kind, self.profile.fields), imported_us)

    def display(self, row: Sequence[Any]) -> dict[str, Any]:
        """A stored row as the user sees it (canonical fields, lists and flags decoded)."""
        specs = fields_of(self.kind)
        out: dict[str, Any] = {"record_id": row[2]}
        for name, value in zip(self.columns[3:], row[3:], strict=True):
            if value is None or name.endswith("_utc"):
                continue
            spec = specs.get(name)
            if name == "extra" or (spec is not None and spec.type is FieldType.LIST):
                out[name] = json.loads(value)
            elif spec is not None and spec.type is FieldType.BOOL:
                out[name] = bool(value)
            else:
                out[name] = value
        return out


def _row_key(values: list[Any] | dict[str, Any]) -> int:
    """A row's identity for spotting repeated rows (64 bits: two different rows of a file
    share it with a chance of about n²/2⁶⁵, 3·10⁻⁸ for a million rows)."""
    if values.__class__ is list:
        try:
            return hash(tuple(values))
        except TypeError:
            pass
    return hash(json.dumps(values, sort_keys=True, ensure_ascii=False, default=str))


def _holder(ws: Workspace, sha: str) -> dict[str, Any] | None:
    """The batch that already holds the file with this SHA-256, if any."""
    row = ws.conn.execute(
        "SELECT batch_id, file_name, imported_by, imported_at FROM batches WHERE sha256 = ?"
        " AND retracted_at IS NULL", (sha,),
    ).fetchone()
    if row is None:
        return None
    return {"batch_id": row[0], "file": row[1], "imported_by": row[2], "imported_at": row[3]}


def _check_not_imported(ws: Workspace, sha: str, path: Path) -> None:
    # Only a live batch blocks: a retracted one (oversight.retraction) may be imported again.
    row = ws.conn.execute(
        "SELECT batch_id, file_name, imported_by, imported_at FROM batches WHERE sha256 = ?"
        " AND retracted_at IS NULL",
        (sha,),
    ).fetchone()
    if row is not None:
        raise AlreadyImported(already_imported_text(path.name, {
            "batch_id": row[0], "file": row[1], "imported_by": row[2],
            "imported_at": row[3]}))


def already_imported_text(name: str, batch: dict[str, Any]) -> str:
    """Why a file is refused (the CLI, "Import file" and the wizard say the same): the
    live batch that holds it, and that retracting that batch lets it be imported again.
    ``batch`` has the keys of ``ImportResult.imported_as``."""
    return (f"{name} is already in this workspace: batch {batch['batch_id']} "
            f"({batch['file']}), imported by {batch['imported_by']} on "
            f"{str(batch['imported_at'])[:10]}; the same file is never imported twice. If "
            f"that import was wrong, an admin or its importer can retract it (the Sources "
            f"page, or `oversight retract WORKSPACE {batch['batch_id']} --reason TEXT`) and "
            f"import the file again.")


def _result(plan: _Plan, sha: str, size: int, dry_run: bool) -> ImportResult:
    return ImportResult(
        file=str(plan.path),
        kind=plan.kind.value,
        format=plan.source.format,
        sha256=sha,
        size=size,
        mapping=plan.profile.describe(),
        extra_columns=plan.extra_columns,
        dry_run=dry_run,
        fields_mapped=[n for n in fields_of(plan.kind) if n in plan.profile.fields],
        missing_markers=list(plan.profile.missing),
    )


def _finish_quality(result: ImportResult, quality: QualityTracker, read: int) -> None:
    """Warnings and field lists once every row has been counted."""
    result.fields_empty = quality.fields_empty()
    result.warnings = quality.warnings(result.rows_imported, result.dry_run)
    if read and not result.rows_imported:
        first = result.sample_rejects[0] if result.sample_rejects else None
        result.warnings.append(all_rows_rejected(
            read, first.line if first else None, first.reason if first else None,
            result.dry_run))


def _start(ws: Workspace, path: Path, progress: Progress, check: bool = True
           ) -> tuple[Path, int, str, Path | None]:
    """Check the file is a regular one (a FIFO, socket or device is refused before
    anything reads it), hash it, and (``check``) refuse it if already imported. Returns
    the path, size, SHA-256 and, when the name given is or passes a symbolic link, the
    real path."""
    path = Path(path)
    fh, info = open_regular(path)
    fh.close()
    sha = file_sha256(path, progress, info.size)  # which refuses a swapped-in FIFO too
    if check:
        _check_not_imported(ws, sha, path)
    return path, info.size, sha, info.resolved if info.via_link else None


def preview(
    ws: Workspace,
    path: Path,
    kind: Kind | None = None,
    profile_path: Path | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ImportResult:
    """What import_file would do: mapping, counts, warnings, first records and rejects.
    Writes nothing. A file already in the workspace is previewed too (so a revised profile
    can be tried on it); ``imported_as`` names the batch that holds it."""
    ws.require(Permission.READ)
    path, size, sha, resolved = _start(ws, path, progress, check=False)
    holder = _holder(ws, sha)
    plan = _Plan(path, kind, profile_path)
    try:
        result = _result(plan, sha, size, dry_run=True)
        result.resolved_path = None if resolved is None else str(resolved)
        result.imported_as = holder
        quality = plan.tracker(now_us())
        seen: dict[str, int] = {}
        dups = plan.checks_duplicates()
        for chunk in _chunks(plan, 0, sha):
            if cancel is not None:
                cancel.check()
            progress(chunk.position, size, "reading")
            result.rows_read += chunk.read
            result.rows_rejected += chunk.rejected
            for r in chunk.rejects:
                result.add_reject(r)
            rows = chunk.rows
            assert isinstance(rows, list)
            repeated: set[int] = set()
            if dups:
                kept = []
                for row in rows:
                    key = hashlib.blake2b(str(row[2]).encode(), digest_size=12).digest().hex()
                    if key in seen:
                        result.rows_rejected += 1
                        result.add_reject(plan.duplicate(row[1], str(row[2]), seen[key]))
                        repeated.add(row[1])
                    else:
                        seen[key] = row[1]
                        kept.append(row)
                rows = kept
            result.rows_imported += len(rows)
            quality.observe(rows)
            quality.flag(chunk.flagged, repeated)
            for row in rows[:PREVIEW_ROWS - len(result.sample_records)]:
                result.sample_records.append(plan.display(row))
        progress(size, size, "reading")
    finally:
        plan.close()
    if result.rows_read == 0:
        raise InputFileError(f"{path} holds a header but no records: nothing to import.")
    _finish_quality(result, quality, result.rows_read)
    return result


@changes(Change.OPERATIONS, Change.BATCHES)
def import_file(
    ws: Workspace,
    path: Path,
    kind: Kind | None = None,
    profile_path: Path | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    parallel: bool | None = None,
) -> ImportResult:
    """Import one file as one batch, in one transaction.

    ``parallel`` forces (True) or forbids (False) the helper process; by default it
    is used for files of PARALLEL_FROM_BYTES and more."""
    ws.require(Permission.IMPORT)
    path, size, sha, resolved = _start(ws, path, progress)
    plan = _Plan(path, kind, profile_path)
    plan.resolved = resolved
    # Every row gets the batch id this transaction has just created, so the per-row
    # foreign-key lookup proves nothing and costs a tenth of the import; it is off for
    # this transaction only (verify checks that every row belongs to a batch).
    ws.conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with ws.write() as conn:
            return _import(ws, conn, plan, profile_path, sha, size, progress, cancel,
                           parallel)
    except _NothingImported as nothing:  # the transaction is rolled back: no batch
        return nothing.result
    finally:
        ws.conn.execute("PRAGMA foreign_keys = ON")
        plan.close()


class _NothingImported(Exception):
    """Every row was rejected: roll the batch back and report all_rows_rejected."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("nothing imported")
        self.result = result


@dataclass
class _Chunk:
    """Converted rows of one stretch of the source (one digest group)."""

    rows: list[list[Any]] | bytes
    """The rows, or (from the helper process) the same marshalled: the cheapest way
    between two Python processes for lists of str, int and None."""
    rejects: list[Reject]
    read: int
    """Source rows in this stretch."""
    rejected: int
    """Source rows rejected here."""
    position: int
    """Bytes of the source read so far."""
    sha256: str | None = None
    """On the last chunk: SHA-256 of the bytes parsed (None for XLSX)."""
    flagged: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)
    """Rows kept with something to say: (line, quality flags, ambiguous fields)."""
    encoded: bytes | None = None
    """From the helper process: the rows as the batch digest hashes them (one group,
    integrity.encode_group), so the process storing them only feeds the hash."""


def _chunks(plan: _Plan, batch_id: int, sha: str, packed: bool = False) -> Iterator[_Chunk]:
    """Converted rows in chunks of one digest group each; ``packed`` marshals the rows
    for the trip from the helper process.

    This is the import's hot loop (one pass per source row, in the helper process for
    big files): a kept row becomes the stored row, a list from the converter; a rejected
    one becomes its rejects (every bad value of the row); a row identical to an earlier
    one is kept and flagged, as is one whose local time was ambiguous."""
    conv = plan.converter
    convert, extra, notes = conv.fast_row, conv.extra, conv.notes
    extra_here = not conv.row_has_extra
    prefix = sha[:16]
    rid_text = conv.record_id_text
    # The natural key's place in a stored row (after batch_id, line, record_id).
    natural = None if plan.natural_index is None else plan.natural_index + 3
    # Rows seen so far, by hash: a row identical to an earlier one is kept and counted.
    seen: set[int] = set()
    remember = seen.add
    text_only = conv.text_only  # CSV: every row is a list of str, hashable as a tuple
    rows: list[list[Any]] = []
    rejects: list[Reject] = []
    flagged: list[tuple[int, int, tuple[str, ...]]] = []
    read = rejected = 0
    for line, values, problem, raw in plan.rows:
        read += 1
        if values is None:
            rejected += 1
            rejects.append(Reject(line, None, None, raw, problem or "bad row"))
            continue
        try:
            out = convert(values)
            bad = []
        except Exception:  # BadValue: collect every bad value of the row
            fields, found = conv.convert_all(values)
            out = [None, None, None, *fields, None]
            bad = [Reject(line, b.column, b.field, _raw_text(b.value), b.reason)
                   for b in found]
        if rid_text is not None:
            record_id = rid_text(values)
            if record_id is None:
                fm = plan.key_mapping
                bad.append(Reject(line, ", ".join(fm.columns) if fm else None, "record_id",
                                  None, "record_id is missing"))
        elif natural is not None:
            record_id = out[natural]
            if record_id is None and not bad:
                fm = plan.key_mapping
                assert fm is not None
                bad.append(Reject(line, ", ".join(fm.columns), fm.field, None,
                                  f"{fm.field} is missing"))
        else:
            record_id = f"{prefix}:{line:09d}"
        if bad:
            notes.clear()
            rejected += 1
            rejects.extend(bad)
            continue
        out[0] = batch_id
        out[1] = line
        out[2] = record_id
        if extra_here:
            out[-1] = extra(values)
        rows.append(out)
        size = len(seen)
        remember(hash(tuple(values)) if text_only else _row_key(values))
        if notes:
            flagged.append((line, (FLAG_DUPLICATE if len(seen) == size else 0) | FLAG_AMBIGUOUS,
                            tuple(dict.fromkeys(notes))))
            notes.clear()
        elif len(seen) == size:
            flagged.append((line, FLAG_DUPLICATE, ()))
        if len(rows) == CHUNK:
            yield _Chunk(marshal.dumps(rows) if packed else rows, rejects, read, rejected,
                         plan.source.bytes_read(), flagged=flagged,
                         encoded=encode_group(rows) if packed else None)
            rows, rejects, flagged, read, rejected = [], [], [], 0, 0
    yield _Chunk(marshal.dumps(rows) if packed else rows, rejects, read, rejected,
                 plan.source.bytes_read(), plan.source.sha256(), flagged=flagged,
                 encoded=encode_group(rows) if packed and rows else None)


def child_main(argv: list[str]) -> int:
    """Entry of the helper process: read and convert the file, write pickled chunks to
    stdout. Run as ``python -m oversight.importing.helper_process ARGS_JSON``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    out = sys.stdout.buffer
    args = json.loads(argv[0])
    try:
        plan = _Plan(Path(args["path"]), Kind(args["kind"]),
                     None if args["profile"] is None else Path(args["profile"]))
        try:
            for chunk in _chunks(plan, int(args["batch_id"]), str(args["sha"]), packed=True):
                pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            plan.close()
        pickle.dump(None, out)
    except OversightError as exc:
        pickle.dump(("error", exc.message), out)
    except BaseException as exc:  # a bug: the parent reports it with this text
        pickle.dump(("bug", f"{type(exc).__name__}: {exc}"), out)
    out.flush()
    return 0


#: Bytes the pipe from the helper holds (Linux): two chunks or so, so the helper goes on
#: converting while this process stores, instead of waiting at every 64 KiB for it.
PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    if _PIPE_SIZE is None:
        return
    with suppress(OSError):  # above /proc/sys/fs/pipe-max-size: the pipe stays as it is
        fcntl.fcntl(fd, _PIPE_SIZE, PIPE_BYTES)


def _chunks_from_child(plan: _Plan, profile_path: Path | None, batch_id: int, sha: str
                       ) -> Iterator[_Chunk]:
    """The same chunks as _chunks(), converted on a second core by a helper process.
    Only converted rows move between the two, through a pipe, never a file."""
    args = json.dumps({"path": str(plan.path), "kind": plan.kind.value,
                       "profile": None if profile_path is None else str(profile_path),
                       "batch_id": batch_id, "sha": sha})
    proc = subprocess.Popen(
        [sys.executable, "-m", "oversight.importing.helper_process", args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    _widen_pipe(proc.stdout.fileno())
    try:
        while True:
            try:
                msg = pickle.load(proc.stdout)
            except (EOFError, pickle.UnpicklingError):
                raise InputFileError(
                    f"Reading {plan.path} stopped unexpectedly (the reader process ended)."
                ) from None
            if msg is None:
                return
            if isinstance(msg, tuple):
                if msg[0] == "error":
                    raise InputFileError(msg[1])
                raise RuntimeError(f"import reader failed: {msg[1]}")
            yield msg
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.wait()


def _import(
    ws: Workspace,
    conn: Connection,
    plan: _Plan,
    profile_path: Path | None,
    sha: str,
    size: int,
    progress: Progress,
    cancel: CancelToken | None,
    parallel: bool | None,
) -> ImportResult:
    kind = plan.kind
    profile = plan.profile
    moment = datetime.now(UTC)
    now = moment.isoformat(timespec="microseconds")
    quality = plan.tracker((moment - datetime(1970, 1, 1, tzinfo=UTC)) // _ONE_US)
    cur = conn.execute(
        "INSERT INTO batches(kind, file_name, file_size, sha256, format, profile, profile_sha256,"
        " mapping, columns, source_columns, rows_read, rows_imported, rows_rejected,"
        " rows_digest, imported_by, imported_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '', ?, ?)",
        (kind.value, plan.path.name, size, sha, plan.source.format, profile.source_text,
         profile.sha256, json.dumps(profile.describe(), ensure_ascii=False, sort_keys=True),
         json.dumps(plan.columns), json.dumps(plan.source_columns, ensure_ascii=False),
         ws.user, now),
    )
    batch_id = int(cur.lastrowid)
    result = _result(plan, sha, size, dry_run=False)
    result.batch_id = batch_id
    result.resolved_path = None if plan.resolved is None else str(plan.resolved)
    insert_new = (f"INSERT OR IGNORE INTO {kind.value}({', '.join(plan.columns)}) "
                  f"VALUES ({', '.join('?' * len(plan.columns))})")
    insert_reject = ("INSERT INTO rejects(batch_id, line, column_name, field, value, reason)"
                     " VALUES (?, ?, ?, ?, ?, ?)")
    rejected = 0
    digest = RowDigest()

    def store_rejects(rejects: list[Reject]) -> None:
        conn.executemany(insert_reject, [
            (batch_id, r.line, r.column, r.field, r.value, r.reason) for r in rejects])

    def store_rows(rows: list[Any], encoded: bytes | None) -> set[int]:
        """Store the rows; return the lines rejected for a repeated record_id.
        ``encoded``: the same rows as the digest hashes them, if at hand.

        A row whose record_id the batch already holds is skipped by the insert itself
        (OR IGNORE, the first row with an id is kept), so a chunk needs no savepoint
        (which made SQLCipher encrypt a copy of every page a chunk touched first)."""
        nonlocal rejected
        before = conn.total_changes
        conn.executemany(insert_new, rows)
        if conn.total_changes - before == len(rows):
            if encoded is None or not digest.add_encoded(encoded, len(rows)):
                digest.update_many(rows)
            quality.observe(rows)
            return set()
        # A record_id repeated in this batch: the row stored with each id says which
        # rows were skipped, and the line they repeat.
        repeated: set[int] = set()
        stored = []
        for row in rows:
            first = conn.execute(
                f"SELECT line FROM {kind.value} WHERE batch_id = ? AND record_id = ?",
                (batch_id, row[2]),
            ).fetchone()
            if first is None:
                # OR IGNORE skips a row for any constraint, not only a repeated id: a row
                # the file did not cause to be skipped is a bug, never a quiet loss.
                raise RuntimeError(f"line {row[1]} was not stored in {kind.value} (a "
                                   "constraint other than the record id refused it)")
            if first[0] == row[1]:
                digest.update_many([row])
                stored.append(row)
                continue
            rej = plan.duplicate(row[1], row[2], first[0])
            store_rejects([rej])
            result.add_reject(rej)
            rejected += 1
            repeated.add(row[1])
        quality.observe(stored)
        return repeated

    if parallel is None:
        parallel = size >= PARALLEL_FROM_BYTES and not getattr(sys, "frozen", False)
    use_child = parallel
    chunks = (_chunks_from_child(plan, profile_path, batch_id, sha) if use_child
              else _chunks(plan, batch_id, sha))
    read = 0
    parsed_sha: str | None = None
    for chunk in chunks:
        if cancel is not None:
            cancel.check()
        read += chunk.read
        rejected += chunk.rejected
        if chunk.rejects:
            store_rejects(chunk.rejects)
            for r in chunk.rejects:
                result.add_reject(r)
        rows = marshal.loads(chunk.rows) if isinstance(chunk.rows, bytes) else chunk.rows
        if rows:
            repeated = store_rows(rows, chunk.encoded)
            if chunk.flagged:
                quality.flag(chunk.flagged, repeated)
            for row in rows[:PREVIEW_ROWS - len(result.sample_records)]:
                result.sample_records.append(plan.display(row))
        progress(chunk.position, size, "importing")
        parsed_sha = chunk.sha256
    if cancel is not None:
        cancel.check()
    if parsed_sha is None and plan.source.format == "xlsx":
        parsed_sha = file_sha256(plan.path)
    if parsed_sha != sha:
        raise InputFileError(
            f"{plan.path} changed while it was being imported, so nothing was written; "
            "import a copy that is not being written to."
        )
    rows_digest = digest.hexdigest()  # flushes the last group, so count is final
    imported = digest.count
    if read == 0:
        raise InputFileError(f"{plan.path} holds a header but no records: nothing to import.")
    result.rows_read, result.rows_imported, result.rows_rejected = read, imported, rejected
    _finish_quality(result, quality, read)
    if imported == 0:
        result.batch_id = None
        raise _NothingImported(result)
    result.rows_digest = rows_digest
    warnings = [w.to_json() for w in result.warnings]
    conn.execute(
        "UPDATE batches SET rows_read = ?, rows_imported = ?, rows_rejected = ?, rows_digest = ?,"
        " warnings = ?, missing_markers = ? WHERE batch_id = ?",
        (read, imported, rejected, rows_digest, json.dumps(warnings, ensure_ascii=False),
         json.dumps(result.missing_markers, ensure_ascii=False), batch_id),
    )
    ws.record("import", {
        "batch_id": batch_id,
        "kind": kind.value,
        "file": plan.path.name,
        # The file really read, when the name given was a symbolic link (else None).
        "resolved_path": result.resolved_path,
        "size": size,
        "sha256": sha,
        "format": plan.source.format,
        "profile_sha256": profile.sha256,
        "columns": plan.columns,
        "rows_read": read,
        "rows_imported": imported,
        "rows_rejected": rejected,
        "rows_digest": rows_digest,
        "warnings": warnings,
        "missing_markers": result.missing_markers,
        "fields_mapped": result.fields_mapped,
        "fields_empty": result.fields_empty,
    })
    progress(size, size, "importing")
    return result
