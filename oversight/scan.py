"""Scan: run a criteria pack over log files where they lie, with DuckDB (or Spark).

The files are read by DuckDB (CSV, JSON Lines, Parquet; Hive partitions included), the
mapping profile is compiled to DuckDB expressions and every rule's condition to DuckDB
SQL (window functions for the windowed aggregates), so no Python loop touches every
row. Only the records a rule cites are converted in Python (by the import's own
converter) and written into the workspace, one batch per source file, in one
transaction with the findings. The findings are then computed by the same code as
``oversight check`` over the records brought back, which gives the same ids, messages
and facts, and the two engines' verdicts are compared: if DuckDB and the workspace
disagree on any rule, nothing is written.

The engine sits behind a small interface (`Engine`: read a file, materialise the mapped
rows, ship a table, run a query, return raw rows) and a `Dialect` (the SQL words that
differ); everything else is shared. oversight.scan_spark is the Spark engine (an
optional extra).

Nothing from the workspace is written outside it by us: the registers stay in DuckDB's
memory; the log rows read and mapped go to a DuckDB file (and DuckDB's spill files) in a
folder created here (0700) and removed on every exit path (_duck, docs/security.md).
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb

from oversight.changes import Change, changes
from oversight.criteria import engine as detect
from oversight.criteria.expr import LIST, Binary, Call, FieldRef, Index, ListLit, Node
from oversight.criteria.pack import Aggregate, Pack, Rule
from oversight.criteria.sql import Compiler
from oversight.errors import Cancelled, InputFileError, UsageError
from oversight.importing.convert import _FALSE, _TRUE, BadValue, RowConverter
from oversight.importing.profile import FieldMapping, MappingProfile, auto_profile, load_profile
from oversight.importing.service import file_sha256
from oversight.integrity import RowDigest
from oversight.progress import CancelToken, Progress, no_progress
from oversight.records import NATURAL_KEY, FieldSpec, FieldType, Kind, fields_of
from oversight.workspace import Permission, Workspace

__all__ = ["ScanResult", "resolve_sources", "scan"]

_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
MAX_REJECTS = 100
#: Row ids in DuckDB: file number times this plus the line (unique over the scan).
_RID_STRIDE = 1 << 40
_DAY_US = 86_400_000_000


@dataclass
class ScanFile:
    path: Path
    format: str
    size: int
    mtime: str
    sha256: str | None
    """None with --no-hash."""
    columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0
    cited: int = 0
    batch_id: int | None = None

    @property
    def key(self) -> str:
        """What findings are keyed by: the SHA-256, or (not computed) name, size, time."""
        if self.sha256 is not None:
            return self.sha256
        ident = f"{self.path.resolve()}\x1f{self.size}\x1f{self.mtime}"
        return "unhashed-" + hashlib.sha256(ident.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "format": self.format, "size": self.size,
                "mtime": self.mtime,
                "sha256": self.sha256 if self.sha256 is not None else "not computed",
                "rows_read": self.rows_read, "rows_rejected": self.rows_rejected,
                "records_cited": self.cited, "batch_id": self.batch_id}


@dataclass
class ScanResult:
    engine: str
    engine_version: str
    files: list[ScanFile]
    rejects: list[dict[str, Any]]
    not_evaluated: dict[str, str]
    run: detect.RunSummary | None

    def to_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "engine_version": self.engine_version,
                "files": [f.to_json() for f in self.files],
                "rows_read": sum(f.rows_read for f in self.files),
                "rows_rejected": sum(f.rows_rejected for f in self.files),
                "rejects": self.rejects,
                "not_evaluated": [{"rule_id": k, "reason": v}
                                  for k, v in self.not_evaluated.items()],
                "run": None if self.run is None else self.run.to_json()}


# -- sources ---------------------------------------------------------------------------


def resolve_sources(sources: Sequence[str]) -> list[Path]:
    """Files named, matched by a glob, or found (recursively) in a directory."""
    out: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in _SUFFIXES)
            if not found:
                raise InputFileError(f"{source}: the folder holds no CSV, JSON Lines or "
                                     "Parquet file.")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        elif glob.has_magic(source):
            matched = sorted(Path(p) for p in glob.glob(source, recursive=True)
                             if Path(p).is_file())
            if not matched:
                raise InputFileError(f"{source}: the pattern matches no file.")
            out.extend(matched)
        else:
            raise InputFileError(f"{source}: no such file or folder.")
    for path in out:
        if path.suffix.lower() not in _SUFFIXES:
            raise InputFileError(f"{path}: the scan reads .csv, .jsonl and .parquet files; "
                                 "import other formats with oversight import.")
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    """A SQL literal (text, number or NULL) for values known when compiling."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _in(values: Sequence[str]) -> str:
    return ", ".join(_lit(v) for v in values) or "NULL"


# -- the profile, compiled to DuckDB -----------------------------------------------------

#: Python's str.isspace() characters, as an RE2 class.
_WS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001))
                    if not c.strip()) + "]"

_MACROS = (
    # Local wall time of a UTC instant (microseconds) in zone tz.
    "CREATE MACRO ov_local(tz, u) AS timezone(tz, timezone('UTC', make_timestamp(u)))",
    # A naive local time in zone tz as UTC microseconds; in an autumn overlap the earlier
    # instant (Python's fold=0, as the import does).
    "CREATE MACRO ov_utc1(tz, n) AS epoch_us(timezone(tz, n))",
    "CREATE MACRO ov_hour() AS CAST(3600000000 AS BIGINT)",
    "CREATE MACRO ov_utc(tz, n) AS CASE WHEN ov_local(tz, ov_utc1(tz, n) - ov_hour()) = n"
    " THEN ov_utc1(tz, n) - ov_hour() ELSE ov_utc1(tz, n) END",
    # Whether a naive local time falls in a spring-forward gap (never happened).
    "CREATE MACRO ov_gap(tz, n) AS ov_local(tz, ov_utc1(tz, n)) != n",
    "CREATE MACRO ov_frac(n) AS ((epoch_us(n) % 1000000) + 1000000) % 1000000",
    # datetime.isoformat(): seconds always, microseconds when not zero, offset +HH:MM.
    "CREATE MACRO ov_iso(n, off) AS strftime(n, '%Y-%m-%dT%H:%M:%S')"
    " || CASE WHEN ov_frac(n) != 0 THEN '.' || lpad(CAST(ov_frac(n) AS VARCHAR), 6, '0')"
    " ELSE '' END || CASE WHEN off < 0 THEN '-' ELSE '+' END"
    " || lpad(CAST(abs(off) // 3600 AS VARCHAR), 2, '0') || ':'"
    " || lpad(CAST((abs(off) % 3600) // 60 AS VARCHAR), 2, '0')",
    # str.strip(): most values start and end with a visible ASCII character and are
    # kept as they are; the others lose Python's whitespace at both ends.
    "CREATE MACRO ov_strip(v) AS CASE WHEN ascii(v) BETWEEN 33 AND 126 AND"
    " ascii(right(v, 1)) BETWEEN 33 AND 126 THEN v ELSE regexp_replace(v, '^" + _WS
    + "+|" + _WS + "+$', '', 'g') END",
)

#: ISO 8601 as the scan reads it: date, optional time (fractions), optional offset.
_ISO = (r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?))?"
        r"(Z|[+-]\d{2}:\d{2})?$")


class Dialect:
    """The SQL words that differ between engines, for DuckDB (the macros above). The
    profile and rule compilers write everything else once, for both engines."""

    name = "duckdb"
    text = "VARCHAR"

    def q(self, name: str) -> str:
        return _q(name)

    def lit(self, value: Any) -> str:
        return _lit(value)

    def strip(self, v: str) -> str:
        return f"ov_strip({v})"

    def nfc(self, v: str) -> str:
        """Unicode's composed form (NFC) of the text ``v``."""
        return f"nfc_normalize({v})"

    def utc(self, tz: str, n: str) -> str:
        return f"ov_utc({tz}, {n})"

    def gap(self, tz: str, n: str) -> str:
        return f"ov_gap({tz}, {n})"

    def iso(self, n: str, off: str) -> str:
        return f"ov_iso({n}, {off})"

    def epoch_us(self, n: str) -> str:
        return f"epoch_us({n})"

    def idiv(self, a: str, b: int) -> str:
        return f"(({a}) // {b})"

    def try_cast(self, v: str, typ: str) -> str:
        return f"TRY_CAST({v} AS {typ})"

    def strptime(self, s: str, fmt: str) -> str:
        return f"try_strptime({s}, {self.lit(fmt)})"

    def full_match(self, v: str, pattern: str) -> str:
        return f"regexp_full_match({v}, {self.lit(pattern)})"

    def iso_parts(self, v: str) -> str:
        """A struct (d, t, z) of the ISO 8601 parts of ``v`` ('' where absent)."""
        return f"regexp_extract({v}, {self.lit(_ISO)}, ['d', 't', 'z'])"

    def split(self, v: str, sep: str) -> str:
        """The stripped, non-empty items of ``v`` split on ``sep``."""
        return (f"list_filter(list_transform(string_split({v}, {self.lit(sep)}), "
                "lambda x: ov_strip(x)), lambda x: x != '')")

    def size(self, v: str) -> str:
        return f"len({v})"

    def strftime(self, n: str, fmt: str) -> str:
        return f"strftime({n}, {self.lit(fmt)})"

    def unnest(self, v: str) -> str:
        """One row per item of the list ``v`` (in a SELECT list)."""
        return f"unnest({v})"


DUCKDB = Dialect()


_END_OF_DAY = " 23:59:59.999999"


class ProfileNotCompiled(UsageError):
    """A profile feature the scan cannot compile to DuckDB."""


@dataclass
class _FieldSql:
    """DuckDB expressions of one field, in stages (each stage a subquery over the one
    before, so an expression is computed once per row): its stored value(s) and the
    reason a row is refused."""

    stages: list[list[tuple[str, str]]]
    """Per stage 0..3, (column, expression) computed there from earlier stages."""
    values: list[tuple[str, str]]
    """(stored column name, expression) of the last stage."""
    reject: str | None = None
    """An expression that is NULL when the value is fine, else the reason."""


_STAGES = 4


class ProfileCompiler:
    def __init__(self, profile: MappingProfile, dialect: Dialect = DUCKDB) -> None:
        self.profile = profile
        self.d = dialect
        self.missing = sorted(set(profile.missing) | {m.strip() for m in profile.missing})
        self.tz = profile.timezone

    def getter(self, fm: FieldMapping) -> str:
        """The cleaned raw text of the mapping (NULL when missing), as the import's."""
        d = self.d
        lit = d.lit
        if not fm.columns:
            const = None if fm.value is None else _text_const(fm.value)
            return f"CAST({lit(const)} AS {d.text})"

        def cell(col: str) -> str:
            c = f"coalesce(CAST({d.q(col)} AS {d.text}), '')"
            return f"(CASE WHEN {c} IN ({self._in(self.missing)}) THEN NULL ELSE {c} END)"

        if len(fm.columns) == 1:
            v = cell(fm.columns[0])
        else:
            v = (f"nullif(concat_ws({lit(fm.join)}, "
                 f"{', '.join(cell(c) for c in fm.columns)}), '')")
        if fm.map:
            whens = []
            for key in fm.map:
                whens.append(f"WHEN {v} = {lit(key)} THEN {lit(_text_const(fm.map[key]))}")
            for key in fm.map:
                whens.append(f"WHEN {d.strip(v)} = {lit(key)} THEN "
                             f"{lit(_text_const(fm.map[key]))}")
            v = f"(CASE {' '.join(whens)} ELSE {v} END)"
        return v

    def _in(self, values: Sequence[str]) -> str:
        return ", ".join(self.d.lit(v) for v in values) or "NULL"

    def field(self, spec: FieldSpec, fm: FieldMapping) -> _FieldSql:
        d = self.d
        lit, _in = d.lit, self._in
        name = spec.name
        g, s = f"g_{name}", f"s_{name}"
        t = spec.type
        get = self.getter(fm)
        if t in (FieldType.TEXT, FieldType.WORD, FieldType.LIST):
            get = d.nfc(get)  # as the import stores text (convert.nfc)
        stages: list[list[tuple[str, str]]] = [[(g, get)], [], [], []]
        if t is FieldType.TEXT:
            return _FieldSql(stages, [(name, g)])
        stages[1].append((s, d.strip(g)))
        quote = "''''"  # SQL for a single quote
        if t is FieldType.WORD:
            stages[2].append((f"w_{name}",
                              f"nullif(replace(replace(lower({s}), ' ', '_'), '-', '_'), '')"))
            word = f"w_{name}"
            reject = None
            if spec.choices is not None:
                allowed = ", ".join(sorted(spec.choices))
                tail = (f"' is not one of the allowed words ({allowed}); map source values "
                        "to these words in the profile")
                reject = (f"CASE WHEN {word} IS NOT NULL AND {word} NOT IN "
                          f"({_in(sorted(spec.choices))}) THEN {quote} || {word} || "
                          f"{lit(tail)} END")
            return _FieldSql(stages, [(name, word)], reject)
        if t is FieldType.INT:
            dbl = d.try_cast(s, "DOUBLE")
            stages[2].append((f"i_{name}", (
                f"coalesce({d.try_cast(s, 'BIGINT')}, CASE WHEN {dbl} = floor({dbl}) "
                f"THEN {d.try_cast(dbl, 'BIGINT')} END)")))
            num = f"i_{name}"
            reject = (f"CASE WHEN nullif({s}, '') IS NOT NULL AND {num} IS NULL THEN "
                      f"{lit('expected a whole number, found ' + chr(39))} || {s} || "
                      f"{quote} END")
            return _FieldSql(stages, [(name, f"CASE WHEN nullif({s}, '') IS NOT NULL THEN "
                                             f"{num} END")], reject)
        if t is FieldType.BOOL:
            low = f"lower({s})"
            value = (f"CASE WHEN {low} IN ({_in(sorted(_TRUE))}) THEN 1 WHEN {low} IN "
                     f"({_in(sorted(_FALSE))}) THEN 0 END")
            head = "expected true/false (or yes/no, 1/0), found '"
            reject = (f"CASE WHEN nullif({s}, '') IS NOT NULL AND ({value}) IS NULL THEN "
                      f"{lit(head)} || {low} || "
                      f"{lit(chr(39) + '; map other words in the profile')} END")
            return _FieldSql(stages, [(name, value)], reject)
        if t is FieldType.COUNTRY:
            up = f"nullif(upper({s}), '')"
            reject = (f"CASE WHEN {up} IS NOT NULL AND NOT {d.full_match(up, '[A-Z]{2}')}"
                      f" THEN {quote} || {up} || "
                      f"{lit(chr(39) + ' is not an ISO 3166-1 alpha-2 country code')} END")
            return _FieldSql(stages, [(name, f"CASE WHEN {reject} IS NULL THEN {up} END")],
                             reject)
        if t is FieldType.LIST:
            sep = fm.split if fm.split is not None else ";"
            if not sep:
                raise ProfileNotCompiled(f"{name}: an empty split separator is not compiled "
                                         "by the scan; import the file instead.")
            stages[2].append((f"l_{name}", d.split(g, sep)))
            items = f"l_{name}"
            return _FieldSql(stages, [(name, f"CASE WHEN {d.size(items)} > 0 THEN {items} "
                                             "END")])
        return self._timestamp(spec, fm, stages, s)

    def _timestamp(self, spec: FieldSpec, fm: FieldMapping,
                   stages: list[list[tuple[str, str]]], s: str) -> _FieldSql:
        d = self.d
        lit = d.lit
        name = spec.name
        tz = lit(self.tz)
        n, z, u = f"n_{name}", f"z_{name}", f"u_{name}"
        if fm.format is not None:
            fmt = fm.format
            if "%z" in fmt or "%Z" in fmt or spec.end_of_day:
                raise ProfileNotCompiled(
                    f"{name}: the format {fmt!r} (an offset or zone directive, or an "
                    "end-of-day date) is not compiled by the scan; import the file instead.")
            stages[2] += [(n, d.strptime(s, fmt)), (z, "CAST(NULL AS BIGINT)")]
        else:
            stages[1].append((f"m_{name}", d.iso_parts(d.strip(f"g_{name}"))))
            m = f"m_{name}"
            clock = f"replace({m}.t, ',', '.')"
            if spec.end_of_day:
                naive = (f"CASE WHEN nullif({m}.t, '') IS NOT NULL THEN "
                         f"{d.try_cast(f'{m}.d || {lit(chr(32))} || {clock}', 'TIMESTAMP')}"
                         f" ELSE {d.try_cast(f'{m}.d || {lit(_END_OF_DAY)}', 'TIMESTAMP')}"
                         " END")
            else:
                naive = d.try_cast(f"{m}.d || ' ' || coalesce(nullif({clock}, ''), '00:00')",
                                   "TIMESTAMP")
            stages[2].append((n, f"CASE WHEN {m}.d != '' THEN {naive} END"))
            stages[2].append((z, (
                f"CASE WHEN {m}.z = 'Z' THEN 0 WHEN {m}.z != '' THEN "
                f"(CASE WHEN substr({m}.z, 1, 1) = '-' THEN -1 ELSE 1 END) * "
                f"(CAST(substr({m}.z, 2, 2) AS BIGINT) * 3600 + "
                f"CAST(substr({m}.z, 5, 2) AS BIGINT) * 60) END")))
        stages[3].append((u, f"CASE WHEN {z} IS NOT NULL THEN {d.epoch_us(n)} - {z} * "
                             f"CAST(1000000 AS BIGINT) ELSE {d.utc(tz, n)} END"))
        present = f"nullif({s}, '') IS NOT NULL"
        what = ("' is not an ISO 8601 date/time; give its format in the profile"
                if fm.format is None else f"' does not match the format {fm.format!r}")
        gap = d.gap(tz, n) if self.tz != "UTC" else "false"
        gap = f"({z} IS NULL AND {gap})"
        local = d.iso(n, d.idiv(f"{d.epoch_us(n)} - {u}", 1000000))
        reject = (f"CASE WHEN {present} AND {n} IS NULL THEN '''' || {s} || {lit(what)}"
                  f" WHEN {present} AND {gap} THEN 'local time ' || {d.strftime(n, '%H:%M')}"
                  f" || ' does not exist on ' || {d.strftime(n, '%Y-%m-%d')} || "
                  f"{lit(' in ' + self.tz + ' (clocks moved forward)')} END")
        return _FieldSql(stages, [(name, f"CASE WHEN {present} THEN {local} END"),
                                  (f"{name}_utc", f"CASE WHEN {present} THEN {u} END")],
                         reject)


def _text_const(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- rules, compiled to DuckDB -----------------------------------------------------------


class EngineCompiler(Compiler):
    """What the scan's engines compile alike where SQLite differs (lists are the
    engine's own, not JSON text); ``dialect`` and ``distinct_count`` are the engine's
    words."""

    dialect: Dialect = DUCKDB

    def distinct_count(self, value: str) -> str:
        raise NotImplementedError

    def _call(self, node: Call) -> str:
        fn, args = node.fn, node.args
        if fn == "count":
            return self.distinct_count(self.sql(args[0]))
        if fn == "plausible_time":
            arg = args[0]
            alias = {"record": "o", "authorisation": "a", "case": "c"}.get(
                arg.source, "o") if isinstance(arg, FieldRef) else "o"
            value = self.sql(arg)
            # max(): one row per batch, but a scalar subquery must say so to Spark.
            return (f"coalesce({value} >= 0 AND {value} <= (SELECT max(bt.latest_us) FROM "
                    f"batch_times bt WHERE bt.batch_id = {alias}.batch_id), false)")
        return super()._call(node)

    def _blank(self, arg: Node) -> str:
        if arg.type == LIST:
            value = self.sql(arg)
            return f"({value} IS NULL OR {self.dialect.size(value)} = 0)"
        return super()._blank(arg)


class DuckCompiler(EngineCompiler):
    """The condition compiler with DuckDB's words where SQLite's differ: lists are
    DuckDB lists (not JSON text), `matches` is RE2's regexp_matches (the same engine),
    extra columns are columns of the scanned view."""

    def __init__(self, extra: dict[str, str]) -> None:
        super().__init__()
        self.extra = extra

    def p(self, value: Any) -> str:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, tuple):
            value = list(value)
        self.params.append(value)
        return f"${len(self.params)}"

    def _fieldref(self, node: FieldRef) -> str:
        if node.source == "extra":
            return f"o.{self.extra[node.name]}"
        return super()._fieldref(node)

    def _listlit(self, node: ListLit) -> str:
        return f"CAST({self.p(list(node.items))} AS VARCHAR[])"

    def _binary(self, node: Binary) -> str:
        op = node.op
        if op == "intersects":
            inner = self._members(node.right, "jv")
            return (f"coalesce(len(list_filter({self.sql(node.left)}, lambda jv: "
                    f"coalesce({inner}, false))) > 0, false)")
        if op == "within":
            inner = self._members(node.right, "jv")
            return (f"(NOT coalesce(len(list_filter({self.sql(node.left)}, lambda jv: "
                    f"NOT coalesce({inner}, false))) > 0, false))")
        if op == "matches":
            return (f"coalesce(regexp_matches({self.sql(node.left)}, "
                    f"{self.sql(node.right)}), false)")
        return super()._binary(node)

    def _members(self, container: Node, value_sql: str) -> str:
        if isinstance(container, ListLit | Index):
            return super()._members(container, value_sql)
        if container.type == LIST:
            return f"list_contains({self.sql(container)}, {value_sql})"
        raise TypeError(f"not a list: {container!r}")

    def distinct_count(self, value: str) -> str:
        return f"coalesce(len(list_distinct({value})), 0)"


def _refs(node: object, out: set[FieldRef]) -> None:
    """Every field reference inside ``node`` (a condition, an aggregate, a tuple of
    them): walked over the dataclass fields, so a new kind of node is never missed."""
    if isinstance(node, FieldRef):
        out.add(node)
    elif isinstance(node, tuple | list):
        for item in node:
            _refs(item, out)
    elif isinstance(node, Node | Aggregate):
        for f in dc_fields(node):
            _refs(getattr(node, f.name), out)


def _rule_refs(rules: Sequence[Rule]) -> set[FieldRef]:
    out: set[FieldRef] = set()
    for r in rules:
        _refs((r.when, r.aggregates, r.facts), out)
    return out


_JOINS = {"authorisation": "LEFT JOIN reg_authorisations a ON a.authorisation_id = "
          "o.authorisation_id", "case": "LEFT JOIN reg_cases c ON c.case_id = o.case_id"}


def _joins(refs: Sequence[FieldRef]) -> str:
    sources = {r.source for r in refs}
    return " ".join(_JOINS[s] for s in ("authorisation", "case") if s in sources)


# -- engines ---------------------------------------------------------------------------


class Engine(Protocol):
    """What the scan asks of an engine; everything else (compiling the profile and the
    rules, converting and storing the cited rows, comparing verdicts) is shared."""

    name: str
    """'duckdb' or 'spark', as stored in the scan batch."""
    label: str
    """The engine's name for people ('DuckDB', 'Spark')."""
    version: str
    dialect: Dialect
    errors: tuple[type[BaseException], ...]
    """The exceptions the engine raises for a query it cannot run."""

    def compiler(self, extra: dict[str, str]) -> Compiler:
        """The rule condition compiler for this engine."""
        ...

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        ...

    def open_file(self, n: int, f: ScanFile, profile: MappingProfile) -> None:
        """A table raw_n over the file with its line numbers (ov_line); its columns
        into ``f.columns``."""
        ...

    def materialise(self, sql: str) -> None:
        """Table o_all from ``sql`` (every row of every file, mapped), view o over its
        rows that convert (ov_reject IS NULL)."""
        ...

    def table(self, name: str, columns: Sequence[str], types: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
        """A table of rows known in Python (registers; types BIGINT, VARCHAR, VARCHAR[]),
        read from ``rows`` once, in order. A VARCHAR[] value is the JSON text of a list
        of strings (as the workspace stores it) or None."""
        ...

    def raw_rows(self, n: int, f: ScanFile, lines: list[int]
                 ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The file's rows at ``lines``, as read (ov_line first), and the column names."""
        ...


class DuckEngine:
    name = "duckdb"
    label = "DuckDB"
    version = duckdb.__version__
    dialect = DUCKDB
    errors: tuple[type[BaseException], ...] = (duckdb.Error,)

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def compiler(self, extra: dict[str, str]) -> Compiler:
        return DuckCompiler(extra)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def open_file(self, n: int, f: ScanFile, profile: MappingProfile) -> None:
        _open_file(self.con, n, f, profile)

    def materialise(self, sql: str) -> None:
        try:
            # The mapped rows, in the attached file database (see _duck).
            self.con.execute(f"CREATE TABLE logs.o_all AS {sql}")
        except duckdb.Error as exc:
            raise _folder_full(exc) or InputFileError(
                f"The scan cannot read the files with the profile: {_first(exc)}") from None
        self.con.execute("CREATE VIEW o_all AS SELECT * FROM logs.o_all")
        self.con.execute("CREATE VIEW o AS SELECT * FROM o_all WHERE ov_reject IS NULL")

    def table(self, name: str, columns: Sequence[str], types: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
        decl = ", ".join(f"{_q(n)} {t}" for n, t in zip(columns, types, strict=True))
        self.con.execute(f"CREATE OR REPLACE TABLE {name} ({decl})")
        # In slices: one JSON text of a whole register (and DuckDB's parse of it) took
        # over a gigabyte for 124k authorisations and 82k cases; a slice, a few MB.
        it = iter(rows)
        while chunk := list(itertools.islice(it, _INSERT_ROWS)):
            _insert(self.con, name, types, chunk)

    def raw_rows(self, n: int, f: ScanFile, lines: list[int]
                 ) -> tuple[list[str], list[tuple[Any, ...]]]:
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE want (line BIGINT)")
        _insert(con, "want", ["BIGINT"], [(x,) for x in lines])
        cur = con.execute(f"SELECT r.* FROM raw_{n} r JOIN want w ON w.line = r.ov_line "
                          "ORDER BY r.ov_line")
        names = [d[0] for d in cur.description or []]
        return names, cur.fetchall()


@contextmanager
def _engine(engine: str, memory_limit: str, threads: int | None, spark_master: str | None,
            token: CancelToken) -> Iterator[Engine]:
    if engine == "duckdb":
        with _duck(memory_limit, threads) as con, _cancel_stops_queries(con, token):
            yield DuckEngine(con)
    elif engine == "spark":
        from oversight.scan_spark import spark_engine

        with spark_engine(spark_master, token) as eng:
            yield eng
    else:
        raise UsageError(f"Unknown scan engine {engine!r}: use duckdb or spark.")


# -- DuckDB session --------------------------------------------------------------------


@contextmanager
def _duck(memory_limit: str, threads: int | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB in memory (the registers shipped from the workspace stay there) with
    a database ``logs`` attached from a file in a folder of ours (0700), which also
    takes DuckDB's spill files; the folder is removed afterwards. ``logs`` holds only
    what the log files hold (their rows read and mapped), so that DuckDB can evict
    them to disk under ``memory_limit``: tables of an in-memory database stay in
    memory (measured at 2M rows: peak 1,087 MB all in memory, 612 MB with the file,
    and a third less time). docs/security.md says what that folder exposes."""
    tmp = tempfile.mkdtemp(prefix="oversight-scan-")  # mode 0700
    os.chmod(tmp, 0o700)
    con: duckdb.DuckDBPyConnection | None = None
    try:
        config: dict[str, Any] = {"memory_limit": memory_limit, "temp_directory": tmp}
        if threads:
            config["threads"] = int(threads)
        try:
            con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise UsageError(f"DuckDB refuses the settings (--memory-limit "
                             f"{memory_limit!r}, --threads {threads}): {_first(exc)}") from None
        con.execute("SET enable_progress_bar = false")  # never on our stdout (--json)
        con.execute(f"ATTACH {_lit(os.path.join(tmp, 'logs.duckdb'))} AS logs")
        for macro in _MACROS:
            con.execute(macro)
        yield con
    except RuntimeError as exc:
        # DuckDB turns a Ctrl-C or SIGTERM that arrives mid-query into this RuntimeError;
        # it is still the user stopping the scan, not a fault.
        if str(exc).startswith("Query interrupted"):
            raise KeyboardInterrupt from None
        raise
    except duckdb.Error as exc:
        full = _folder_full(exc)
        if full is not None:
            raise full from None
        raise
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _folder_full(exc: BaseException) -> UsageError | None:
    """The sentence for DuckDB failing to write into the scan's folder (disk full, or a
    file size limit), which would otherwise read as a fault of the files or the rules."""
    text = str(exc)
    if "oversight-scan-" not in text or not any(
            why in text for why in ("No space left", "File too large", "Disk quota")):
        return None
    return UsageError(
        f"DuckDB could not write to the scan's working folder in {tempfile.gettempdir()} "
        f"({_first(exc)}); the scan keeps the mapped log rows there (about 1.4 times the "
        "size of Parquet sources): free space there, or set TMPDIR to a folder on a "
        "larger disk.")


#: What a scan cancelled by the user ends with (nothing is written before the end).
SCAN_CANCELLED = "Scan cancelled; nothing was written."


@contextmanager
def _cancel_stops_queries(con: duckdb.DuckDBPyConnection, token: CancelToken
                          ) -> Iterator[None]:
    """A Cancel stops the DuckDB query that is running, not only the next stage: a
    watcher thread polls the token and calls ``con.interrupt()``. Whatever the
    interrupted query then raises (DuckDB's InterruptException, or the sentence a stage
    made of it) ends the scan as Cancelled when the token was cancelled."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if token.wait(0.1):
                if not stop.is_set():
                    con.interrupt()  # harmless when no query is running
                return

    watcher = threading.Thread(target=watch, name="oversight-scan-cancel", daemon=True)
    watcher.start()
    try:
        yield
    except Exception:
        if token.cancelled:
            raise Cancelled(SCAN_CANCELLED) from None
        raise
    finally:
        stop.set()
        watcher.join()  # before _duck closes the connection


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _reader(f: ScanFile, profile: MappingProfile) -> str:
    path = _lit(str(f.path))
    if f.format == "csv":
        delim = profile.delimiter or ","
        enc = (profile.encoding or "utf-8").lower().replace("_", "-")
        enc_opt = "" if enc in ("utf-8", "utf8", "utf-8-sig") else f", encoding={_lit(enc)}"
        return (f"read_csv({path}, header=true, all_varchar=true, delim={_lit(delim)}, "
                f"quote='\"', escape='\"', auto_detect=false{enc_opt}, "
                f"columns=$cols, strict_mode=true, null_padding=false)")
    if f.format == "jsonl":
        return f"read_json({path}, format='newline_delimited')"
    return f"read_parquet({path}, hive_partitioning=true)"


def _csv_header(f: ScanFile, profile: MappingProfile) -> list[str]:
    import csv

    enc = profile.encoding or "utf-8-sig"
    try:
        with open(f.path, encoding="utf-8-sig" if enc.lower() in ("utf-8", "utf8") else enc,
                  newline="") as fh:
            header = next(csv.reader(fh, delimiter=profile.delimiter or ","), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError(f"{f.path}: cannot read its header ({_first(exc)}).") from None
    if not header:
        raise InputFileError(f"{f.path}: the file is empty (no header line).")
    return header


def _open_file(con: duckdb.DuckDBPyConnection, n: int, f: ScanFile,
               profile: MappingProfile) -> None:
    """A view raw_n over the file with a line number; its columns into ``f.columns``."""
    try:
        if f.format == "csv":
            header = _csv_header(f, profile)
            cols = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in header) + "}"
            reader = _reader(f, profile).replace("$cols", cols)
            # Line numbers as the import counts them (header is line 1), for rows
            # without line breaks inside quoted cells.
            con.execute(f"CREATE TABLE logs.raw_{n} AS SELECT row_number() OVER () + 1 AS "
                        f"ov_line, * FROM {reader}")
        elif f.format == "jsonl":
            # Every value as text, as the import's JSON reader sees strings (DuckDB
            # would otherwise make ISO dates TIMESTAMPs and lose their offsets).
            keys = [str(r[0]) for r in con.execute(
                f"DESCRIBE SELECT * FROM {_reader(f, profile)}").fetchall()]
            cols = "{" + ", ".join(f"{_lit(k)}: 'VARCHAR'" for k in keys) + "}"
            con.execute(f"CREATE TABLE logs.raw_{n} AS SELECT row_number() OVER () AS ov_line, *"
                        f" FROM read_json({_lit(str(f.path))}, format='newline_delimited',"
                        f" columns={cols})")
        else:
            # The row's place in the file, from the Parquet reader itself.
            con.execute(f"CREATE VIEW raw_{n} AS SELECT * EXCLUDE (file_row_number) "
                        "REPLACE (file_row_number + 1 AS ov_line) FROM (SELECT "
                        "file_row_number AS ov_line, * FROM read_parquet("
                        f"{_lit(str(f.path))}, hive_partitioning=true, "
                        "file_row_number=true))")
        if f.format != "parquet":  # the copy lives in the attached file database
            con.execute(f"CREATE VIEW raw_{n} AS SELECT * FROM logs.raw_{n}")
        described = con.execute(f"DESCRIBE raw_{n}").fetchall()
    except duckdb.Error as exc:
        raise InputFileError(f"{f.path}: DuckDB cannot read it as {f.format.upper()}: "
                             f"{_first(exc)}") from None
    f.columns = [str(r[0]) for r in described if r[0] != "ov_line"]


# -- the scan ----------------------------------------------------------------------------


@changes(Change.OPERATIONS, Change.BATCHES, Change.FINDINGS, Change.RUNS)
def scan(ws: Workspace, sources: Sequence[str], pack: Pack, *,
         profile_path: Path | None = None, kind: Kind = Kind.OPERATIONS,
         rule_ids: Sequence[str] | None = None, memory_limit: str = "4GB",
         threads: int | None = None, hash_files: bool = True,
         progress: Progress = no_progress, cancel: CancelToken | None = None,
         engine: str = "duckdb", spark_master: str | None = None) -> ScanResult:
    """Scan ``sources`` with ``pack``; bring back the findings and the records they cite.

    ``engine`` is "duckdb" (in memory, ``memory_limit`` and ``threads``) or "spark" (the
    cluster ``spark_master``, default local[*])."""
    ws.require(Permission.IMPORT)
    ws.require(Permission.DETECT)
    if kind is not Kind.OPERATIONS:
        raise UsageError("The scan reads operations logs; import registers (authorisations, "
                         "cases) with oversight import.")
    token = cancel or CancelToken()
    paths = resolve_sources(sources)
    profile = load_profile(profile_path, kind) if profile_path is not None else None
    if profile is not None and profile.kind is not Kind.OPERATIONS:
        raise UsageError("The scan reads operations logs; the profile is for "
                         f"{profile.kind.value}.")
    files = [_describe(p, hash_files, progress) for p in paths]
    selected = detect._select(pack, rule_ids)
    with _engine(engine, memory_limit, threads, spark_master, token) as eng:
        for n, f in enumerate(files):
            token.check()
            progress(n, len(files), f"reading {f.path.name}")
            eng.open_file(n, f, profile or auto_profile(kind, []))
        if profile is None:
            profile = auto_profile(kind, files[0].columns)
        _check_columns(files, profile)
        token.check()
        plan = _build(eng, files, profile, selected)
        token.check()
        _ship_registers(eng, ws, len(files))
        progress(0, len(selected), "rules")
        cited, not_evaluated, verdicts = _evaluate(eng, pack, selected, plan, token,
                                                   progress)
        token.check()
        rejects = _rejects(eng, files)
        rows = _cited_rows(eng, files, profile, cited)
        name, version = eng.name, eng.version
    evaluated = [r for r in selected if r.id not in not_evaluated]
    return _store(ws, files, profile, profile_path, pack, evaluated, not_evaluated, rows,
                  rejects, verdicts, rule_ids is None, token, progress, (name, version))


def _describe(path: Path, hash_files: bool, progress: Progress) -> ScanFile:
    st = path.stat()
    mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat(timespec="microseconds")
    sha = file_sha256(path, progress, st.st_size) if hash_files else None
    return ScanFile(path, _SUFFIXES[path.suffix.lower()], st.st_size, mtime, sha)


def _check_columns(files: list[ScanFile], profile: MappingProfile) -> None:
    natural = NATURAL_KEY[profile.kind]
    if natural is not None and natural not in profile.fields:
        raise InputFileError(f"{files[0].path}: no column maps to {natural}, which every "
                             f"{profile.kind.value} record needs; name it in a mapping profile.")
    wanted = profile.mapped_columns()
    first = files[0].columns
    for f in files:
        if f.format == "parquet" and set(f.columns) != set(first) and files[0].format == "parquet":
            raise InputFileError(
                f"{f.path}: its columns ({', '.join(f.columns)}) differ from those of "
                f"{files[0].path} ({', '.join(first)}); scan files of one schema together.")
        absent = sorted(wanted - set(f.columns))
        if absent:
            raise InputFileError(
                f"{f.path}: the mapping names column(s) {', '.join(map(repr, absent))} that "
                f"the file does not have; its columns are: {', '.join(f.columns)}.")


@dataclass
class _Plan:
    extra: dict[str, str]
    """Extra column name -> column of view o."""


def _build(eng: Engine, files: list[ScanFile], profile: MappingProfile,
           rules: list[Rule]) -> _Plan:
    """Table o_all: every row of every file, mapped; view o: the rows that convert."""
    d = eng.dialect
    comp = ProfileCompiler(profile, d)
    refs = _rule_refs(rules)
    extras = {ref.name for ref in refs if ref.source == "extra"}
    for r in rules:
        extras |= set(r.extra_columns)
    extra = {name: f"x{i}" for i, name in enumerate(sorted(extras))}
    # Only the columns the rules read are kept (with the reason a row is refused,
    # which needs every field); the cited rows are read again from the files.
    wanted = {ref.name for ref in refs if ref.source == "record"}
    if any(ref.source == "authorisation" for ref in refs):
        wanted.add("authorisation_id")
    if any(ref.source == "case" for ref in refs):
        wanted.add("case_id")
    specs = fields_of(profile.kind)
    # A time is compared by its UTC column, shown by its local text; windows order by ts.
    wanted |= {f"{name}_utc" for name in wanted
               if name in specs and specs[name].type is FieldType.TIMESTAMP} | {"ts_utc"}
    fields: list[_FieldSql] = []
    for spec in specs.values():
        fm = profile.fields.get(spec.name)
        if fm is not None:
            fields.append(comp.field(spec, fm))
    natural = NATURAL_KEY[profile.kind]
    key_fm = profile.record_id or (None if natural is None else profile.fields[natural])
    selects = []
    for n, f in enumerate(files):
        have = set(f.columns)
        first = ["ov_line"]
        if key_fm is not None:
            key = d.strip(f"CAST({comp.getter(key_fm)} AS {d.text})")
            first.append(f"nullif({key}, '') AS ov_record_id")
        else:  # as the import names records without an id: file digest and line
            first.append(f"{d.lit(f.key[:16] + ':')} || lpad(CAST(ov_line AS {d.text}), 9, "
                         "'0') AS ov_record_id")
        for name, col in extra.items():
            if name in have:
                c = f"CAST({d.q(name)} AS {d.text})"
                first.append(f"CASE WHEN {c} IN ({comp._in(comp.missing)}) THEN NULL ELSE {c}"
                             f" END AS {col}")
            else:
                first.append(f"CAST(NULL AS {d.text}) AS {col}")
        first += [f"{expr} AS {col}" for fs in fields for col, expr in fs.stages[0]]
        query = f"SELECT {', '.join(first)} FROM raw_{n}"
        for stage in range(1, _STAGES):
            added = [f"{expr} AS {col}" for fs in fields for col, expr in fs.stages[stage]]
            if added:
                query = f"SELECT *, {', '.join(added)} FROM ({query})"
        cols = [f"{-(n + 1)} AS batch_id", "ov_line AS line",
                f"{n} * {_RID_STRIDE} + ov_line AS rid", "ov_record_id AS record_id"]
        for fs in fields:
            cols += [f"{expr} AS {d.q(name)}" for name, expr in fs.values
                     if name in wanted]
        cols += list(extra.values())
        reasons = [fs.reject for fs in fields if fs.reject is not None]
        reasons.append("CASE WHEN ov_record_id IS NULL THEN 'record_id is missing' END")
        cols.append(f"coalesce({', '.join(reasons)}) AS ov_reject")
        selects.append(f"SELECT {', '.join(cols)} FROM ({query})")
    eng.materialise(" UNION ALL ".join(selects))
    counts = {int(b): (int(r), int(x)) for b, r, x in eng.fetch(
        "SELECT batch_id, count(*), count(ov_reject) FROM o_all GROUP BY batch_id")}
    for n, f in enumerate(files):
        read, bad = counts.get(-(n + 1), (0, 0))
        f.rows_read, f.rows_rejected = read, bad
        if not read:
            raise InputFileError(f"{f.path} holds no records.")
    return _Plan(extra)


def _ship_registers(eng: Engine, ws: Workspace, n_files: int) -> None:
    """The registers as of their latest import, and the batches' import times."""
    conn = ws.conn
    for kind, key in (("authorisations", "authorisation_id"), ("cases", "case_id")):
        specs = fields_of(Kind(kind))
        names = [r[1] for r in conn.execute(f"PRAGMA table_info({kind})")]
        types = []
        for name in names:
            base = name[:-4] if name.endswith("_utc") else name
            spec = specs.get(base)
            if name.endswith("_utc") or name in ("rid", "batch_id", "line") or (
                    spec is not None and spec.type in (FieldType.INT, FieldType.BOOL)):
                types.append("BIGINT")
            elif spec is not None and spec.type is FieldType.LIST:
                types.append("VARCHAR[]")
            else:
                types.append("VARCHAR")
        # The cursor streams the rows; list columns stay JSON text (Engine.table).
        eng.table(f"reg_{kind}", names, types, conn.execute(
            f"SELECT * FROM live_{kind} WHERE rid IN (SELECT max(rid) FROM live_{kind} GROUP BY "
            f"{key})"))
    times = []
    for batch_id, at in conn.execute("SELECT batch_id, imported_at FROM batches"):
        moment = datetime.fromisoformat(at)
        times.append((batch_id, (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _US + _DAY_US))
    now = (datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // _US + _DAY_US
    times += [(-(n + 1), now) for n in range(n_files)]
    eng.table("batch_times", ["batch_id", "latest_us"], ["BIGINT", "BIGINT"], times)


_INSERT_ROWS = 5_000
"""Rows per INSERT when a table is shipped from Python (DuckEngine.table)."""


def _insert(con: duckdb.DuckDBPyConnection, table: str, types: Sequence[str],
            rows: Sequence[Sequence[Any]]) -> None:
    """Rows into a DuckDB table in one statement: one JSON text (an array per row)
    taken apart by DuckDB (binding values one by one costs seconds for a large
    register). A VARCHAR[] value is given as the JSON text of its list, as the
    workspace stores it, and DuckDB parses it (not Python: a case's subjects are
    many)."""
    if not rows:
        return
    text = json.dumps(rows, ensure_ascii=False, default=str)
    paths = ", ".join(f"'$[{i}]'" for i in range(len(types)))  # one parse of each row
    cols = ", ".join(
        f"from_json(nullif(x[{i + 1}], ''), '[\"VARCHAR\"]')" if t == "VARCHAR[]" else
        f"CAST(x[{i + 1}] AS {t})" for i, t in enumerate(types))
    con.execute(f"INSERT INTO {table} SELECT {cols} FROM (SELECT json_extract_string(r, "
                f"[{paths}]) AS x FROM (SELECT unnest(CAST(? AS JSON[])) AS r))", [text])


_US = timedelta(microseconds=1)


def _one(eng: Engine, sql: str) -> Any:
    return eng.fetch(sql)[0][0]


def _evaluate(eng: Engine, pack: Pack, rules: list[Rule], plan: _Plan, token: CancelToken,
              progress: Progress) -> tuple[set[int], dict[str, str], dict[str, set[int]]]:
    """Run each rule in the engine: the rows cited, the rules not evaluated (with why), and
    per rule the rows it cites (to compare with the workspace's verdicts)."""
    available = {
        "operations": 1,
        "authorisations": int(_one(eng, "SELECT count(*) FROM reg_authorisations") > 0),
        "cases": int(_one(eng, "SELECT count(*) FROM reg_cases") > 0),
    }
    refused: tuple[type[BaseException], ...] = (*eng.errors, TypeError, KeyError,
                                                 RecursionError)
    cited: set[int] = set()
    skipped: dict[str, str] = {}
    verdicts: dict[str, set[int]] = {}
    for n, rule in enumerate(rules):
        token.check()
        progress(n, len(rules), rule.id)
        reason = _why_not(eng, rule, available, plan)
        if reason is not None:
            skipped[rule.id] = reason
            continue
        try:
            rows = _rule_rows(eng, rule, plan.extra)
        except refused as exc:
            token.check()  # a job stopped by Cancel is no fault of the rule
            full = _folder_full(exc)  # nor is a full disk: the scan stops, says so
            if full is not None:
                raise full from None
            skipped[rule.id] = f"{eng.label} cannot run its condition ({_first(exc)})"
            continue
        verdicts[rule.id] = rows
        cited |= rows
    progress(len(rules), len(rules), "rules")
    return cited, skipped, verdicts


def _why_not(eng: Engine, rule: Rule, available: dict[str, int],
             plan: _Plan) -> str | None:
    for need in sorted(rule.needs):
        if not available[need]:
            return f"it reads {detect._NEEDS_TEXT[need]}, and none is imported"
    for agg in rule.aggregates:
        if agg.kind != "window":
            return (f"its {agg.kind.replace('_', ' ')} aggregate (log completeness) is not "
                    "compiled for the scan; import the log and run oversight check")
    for column in sorted(rule.extra_columns):
        col = plan.extra.get(column)
        if col is None or not eng.fetch(f"SELECT 1 FROM o WHERE {col} IS NOT NULL LIMIT 1"):
            return f"no scanned operation has a column {column!r}"
    return None


def _rule_rows(eng: Engine, rule: Rule, extra: dict[str, str]) -> set[int]:
    rows: set[int] = set()
    if rule.when is not None and rule.message is not None:
        comp = eng.compiler(extra)
        cond = comp.cond(rule.when)
        sql = f"SELECT o.rid FROM o {_joins(rule.facts)} WHERE ({cond})"
        rows |= {int(r[0]) for r in eng.fetch(sql, comp.params)}
    for agg in rule.aggregates:
        rows |= _window_rows(eng, rule, agg, extra)
    return rows


def _window_rows(eng: Engine, rule: Rule, agg: Aggregate, extra: dict[str, str]
                 ) -> set[int]:
    comp = eng.compiler(extra)
    where = comp.cond(agg.records) if agg.records is not None else "true"
    refs = [ref for ref in rule.facts if ref.source in ("authorisation", "case")]
    froms = f"o {_joins(refs)}"
    groups = []
    unnests = []
    for i, ref in enumerate(agg.group_by):
        if ref.type == LIST:
            unnests.append(f"{eng.dialect.unnest(f'o.{ref.name}')} AS g{i}")
            groups.append(f"g{i}")
        else:
            groups.append(f"o.{ref.name}")
    gcols = [f"g{i}" for i in range(len(groups))]
    distinct = f"o.{agg.distinct.name}" if agg.distinct is not None else "NULL"
    inner_cols = [f"{g} AS {c}" for g, c in zip(groups, gcols, strict=True)
                  if not g.startswith("g")]
    base0 = (f"SELECT o.rid AS rid, o.ts_utc AS t, "
             f"{distinct} AS d{''.join(', ' + c for c in inner_cols)}"
             f"{''.join(', ' + u for u in unnests)} FROM {froms} "
             f"WHERE {where} AND o.ts_utc IS NOT NULL")
    not_blank = " AND ".join(f"{c} IS NOT NULL AND trim({c}) != ''" for c in gcols)
    if agg.distinct is not None:
        not_blank += " AND d IS NOT NULL AND trim(d) != ''"
    sql = (
        f"WITH base AS (SELECT DISTINCT * FROM ({base0}) WHERE {not_blank}), "
        f"win AS (SELECT *, count(*) OVER (PARTITION BY {', '.join(gcols)} ORDER BY t "
        f"RANGE BETWEEN {int(agg.window_us)} PRECEDING AND CURRENT ROW) AS n FROM base), "
        f"hot AS (SELECT DISTINCT {', '.join(gcols)} FROM win WHERE n > {_lit(agg.limit)}) "
        f"SELECT {', '.join(gcols)}, rid, t, d FROM base JOIN hot USING "
        f"({', '.join(gcols)}) ORDER BY {', '.join(gcols)}, t, rid"
    )
    result = eng.fetch(sql, comp.params)
    width = len(gcols)
    out: set[int] = set()
    start = 0
    while start < len(result):
        key = result[start][:width]
        end = start
        while end < len(result) and result[end][:width] == key:
            end += 1
        members = [r[width:] for r in result[start:end]]  # (rid, ts_utc, distinct value)
        for cluster, _count in detect._windows(members, agg):
            out |= {int(m[0]) for m in cluster}
        start = end
    return out


def _rejects(eng: Engine, files: list[ScanFile]) -> list[dict[str, Any]]:
    rows = eng.fetch(
        f"SELECT batch_id, line, ov_reject FROM o_all WHERE ov_reject IS NOT NULL "
        f"ORDER BY batch_id DESC, line LIMIT {MAX_REJECTS}")
    return [{"file": str(files[-int(b) - 1].path), "batch": int(b), "line": int(line),
             "reason": str(reason)} for b, line, reason in rows]


def _cited_rows(eng: Engine, files: list[ScanFile],
                profile: MappingProfile, cited: set[int]
                ) -> dict[int, list[tuple[int, str, list[Any], str]]]:
    """Per file, the cited rows converted by the import's converter: (line, record_id,
    stored values, extra)."""
    out: dict[int, list[tuple[int, str, list[Any], str]]] = {}
    for n, f in enumerate(files):
        lines = sorted(r - n * _RID_STRIDE for r in cited if r // _RID_STRIDE == n)
        if not lines:
            out[n] = []
            continue
        names, raws = eng.raw_rows(n, f, lines)
        conv = RowConverter(profile, names[1:] if f.format == "csv" else None,
                            text_only=f.format == "csv")
        converted = []
        for raw in raws:
            line = int(raw[0])
            if f.format == "csv":
                values: Any = ["" if v is None else v for v in raw[1:]]
            else:
                values = {k: _json_value(v) for k, v in zip(names[1:], raw[1:], strict=True)}
            try:
                stored = conv.convert(values)
            except BadValue as exc:
                raise InputFileError(
                    f"{f.path}, line {line}: {eng.label} read {exc.field} but the import's "
                    f"converter refuses it ({exc.reason}); nothing was written.") from None
            natural = NATURAL_KEY[profile.kind]
            if conv.record_id_text is not None:
                key: Any = conv.record_id_text(values)
            elif natural is not None:
                key = stored[conv.columns.index(natural)]
            else:
                key = f"{f.key[:16]}:{line:09d}"
            if key is None:  # the engine kept the row, the import would refuse it
                raise InputFileError(
                    f"{f.path}, line {line}: {eng.label} read a record id but the import's "
                    "converter finds it blank; nothing was written.")
            converted.append((line, str(key), stored, conv.extra(values)))
        conv.notes.clear()
        f.cited = len(converted)
        out[n] = converted
    return out


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _store(ws: Workspace, files: list[ScanFile], profile: MappingProfile,
           profile_path: Path | None, pack: Pack, evaluated: list[Rule],
           not_evaluated: dict[str, str],
           rows: dict[int, list[tuple[int, str, list[Any], str]]],
           rejects: list[dict[str, Any]], verdicts: dict[str, set[int]], full: bool,
           token: CancelToken, progress: Progress, engine: tuple[str, str]) -> ScanResult:
    conn = ws.conn
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    conv_columns = RowConverter(profile, None).columns
    columns = ["batch_id", "line", "record_id", *conv_columns, "extra"]
    mapping = json.dumps(profile.describe(), ensure_ascii=False, sort_keys=True)
    name, version = engine
    run: detect.RunSummary | None = None
    rid_of: dict[int, int] = {}
    with ws.write():
        for n, f in enumerate(files):
            token.check()
            key = f.key
            # A live batch of the same file (a retracted one may be scanned again).
            held = conn.execute("SELECT batch_id, kind FROM batches WHERE sha256 = ? AND"
                                " retracted_at IS NULL", (key,)).fetchone()
            if held is not None:
                f.batch_id = int(held[0])
                known = dict(conn.execute(
                    "SELECT record_id, rid FROM live_operations WHERE batch_id = ?",
                    (f.batch_id,)).fetchall())
                for line, record_id, _stored, _extra in rows[n]:
                    if record_id not in known:
                        raise InputFileError(
                            f"{f.path} is already batch {f.batch_id} of the workspace, "
                            f"which lacks record {record_id!r} that this scan cites; "
                            "retract that batch first, then scan again.")
                    rid_of[n * _RID_STRIDE + line] = int(known[record_id])
                continue
            cur = conn.execute(
                "INSERT INTO batches(kind, file_name, file_size, sha256, format, profile,"
                " profile_sha256, mapping, columns, source_columns, rows_read, rows_imported,"
                " rows_rejected, rows_digest, imported_by, imported_at, warnings,"
                " missing_markers) VALUES ('operations', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?,"
                " '', ?, ?, '[]', ?)",
                (f.path.name, f.size, key, f.format, profile.source_text, profile.sha256,
                 mapping, json.dumps(columns), json.dumps(f.columns, ensure_ascii=False),
                 f.rows_read, f.rows_rejected, ws.user, now,
                 json.dumps(list(profile.missing), ensure_ascii=False)))
            f.batch_id = batch_id = int(cur.lastrowid)
            digest = RowDigest()
            insert = (f"INSERT INTO operations({', '.join(columns)}) VALUES "
                      f"({', '.join('?' * len(columns))}) RETURNING rid")
            for line, record_id, stored, extra in rows[n]:
                row = (batch_id, line, record_id, *stored, extra)
                got = conn.execute(insert, row).fetchone()
                rid_of[n * _RID_STRIDE + line] = int(got[0])
                digest.update_many([row])
            rows_digest = digest.hexdigest()
            for rej in [r for r in rejects if r["batch"] == -(n + 1)]:
                conn.execute("INSERT INTO rejects(batch_id, line, column_name, field, value,"
                             " reason) VALUES (?, ?, NULL, NULL, NULL, ?)",
                             (batch_id, rej["line"], rej["reason"]))
            conn.execute("UPDATE batches SET rows_imported = ?, rows_digest = ? WHERE "
                         "batch_id = ?", (digest.count, rows_digest, batch_id))
            ws.record("import", {
                "batch_id": batch_id, "kind": "operations", "file": f.path.name,
                "resolved_path": None, "size": f.size, "sha256": key, "format": f.format,
                "profile_sha256": profile.sha256, "columns": columns,
                "rows_read": f.rows_read, "rows_imported": digest.count,
                "rows_rejected": f.rows_rejected, "rows_digest": rows_digest,
                "warnings": [], "missing_markers": list(profile.missing),
                "fields_mapped": sorted(profile.fields), "fields_empty": [],
                "scanned": True,
            })
        result = ScanResult(name, version, files, rejects, not_evaluated, None)
        ws.record("batch.scan", {
            "engine": name, "engine_version": version,
            "pack": pack.id, "version": pack.version, "pack_sha256": pack.sha256,
            "profile_sha256": profile.sha256,
            "profile_file": None if profile_path is None else str(profile_path),
            "files": [f.to_json() for f in files],
            "rejects_shown": len(rejects),
            "rules_evaluated": [r.id for r in evaluated],
            "not_evaluated": not_evaluated,
        })
        if evaluated:
            with detect._interruptible(conn, token, "Scan cancelled; nothing was written."):
                run = detect._run(ws, conn, pack, evaluated, full and not not_evaluated, now,
                                  progress, token)
            _compare(conn, pack, evaluated, verdicts, rid_of, run, name)
        result.run = run
    return result


def _compare(conn: Any, pack: Pack, rules: list[Rule], verdicts: dict[str, set[int]],
             rid_of: dict[int, int], run: detect.RunSummary, engine: str) -> None:
    """The workspace's verdicts over the records brought back must be the engine's: any
    difference (a profile or rule compiled differently) stops the scan unwritten."""
    scanned = set(rid_of.values())
    for rule in rules:
        want = {rid_of[r] for r in verdicts.get(rule.id, set())}
        got = {int(r[0]) for r in conn.execute(
            "SELECT DISTINCT rf.rid FROM run_findings rf JOIN findings f USING (finding_id)"
            " WHERE rf.run_id = ? AND f.pack_id = ? AND f.rule_id = ?",
            (run.run_id, pack.id, rule.id))} & scanned
        # An aggregate may also gather records the workspace held before (an earlier
        # scan or import) with these: more is then right, fewer never.
        if not want <= got or (not rule.aggregates and want != got):
            raise InputFileError(
                f"Rule {rule.id}: {engine} cites {len(want)} scanned record(s) but the "
                f"workspace's own evaluation of them cites {len(got)}; the scan engine and "
                "the workspace disagree, so nothing was written (please report this).")
