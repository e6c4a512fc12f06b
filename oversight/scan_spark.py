"""The scan's Spark engine: the same profile and rule compilers as DuckDB's, with Spark
SQL's words (oversight.scan.Dialect), on a local Spark or an existing cluster.

Spark is an optional extra (``pip install '.[spark]'``); this module is imported only
for ``--engine spark``. The files are read by Spark's own readers on the executors; the
registers (authorisations, cases) and the batches' import times are shipped from the
workspace as broadcast tables; every rule runs as Spark SQL (window functions for the
windowed aggregates). What comes back to this process is what DuckDB's engine brings
back: counts, the rejects shown, the row ids each rule cites, the rows of the groups
that exceed a windowed limit, and the cited rows themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oversight.criteria.expr import LIST, Binary, FieldRef, Index, ListLit, Node
from oversight.criteria.sql import Compiler
from oversight.errors import InputFileError, UsageError
from oversight.importing.profile import MappingProfile
from oversight.progress import CancelToken
from oversight.scan import (
    _ISO,
    _WS,
    Dialect,
    EngineCompiler,
    ProfileNotCompiled,
    ScanFile,
    _csv_header,
    _first,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SPARK", "SparkCompiler", "SparkEngine", "java_pattern", "spark_engine"]

INSTALL = ("The Spark engine needs pyspark, which is not installed here: "
           "pip install '.[spark]' (Java 17 or later must be installed too).")

#: strftime directives and the Java DateTimeFormatter patterns Spark parses them with.
_DIRECTIVES = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss",
               "f": "SSSSSS", "y": "yy", "b": "MMM", "B": "MMMM", "p": "a", "I": "hh",
               "j": "DDD"}
_HOUR_US = 3_600_000_000


def java_pattern(fmt: str) -> str:
    """A strftime format (the profile's) as a Spark datetime pattern."""
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:  # quoted: Java reserves letters and some signs ([, ], #, {, })
            out.append("'" + "".join(literal).replace("'", "''") + "'")
            literal.clear()

    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            if d == "%":
                literal.append("%")
            elif d in _DIRECTIVES:
                flush()
                out.append(_DIRECTIVES[d])
            else:
                raise ProfileNotCompiled(
                    f"the format {fmt!r} uses %{d}, which the Spark scan does not compile; "
                    "scan it with DuckDB or import the file instead.")
            i += 2
            continue
        literal.append(c)
        i += 1
    flush()
    return "".join(out)


class SparkDialect(Dialect):
    """Spark SQL's words (no macros: the DuckDB macros are written out inline)."""

    name = "spark"
    text = "STRING"

    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def lit(self, value: Any) -> str:
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return super().lit(value)

    def nfc(self, v: str) -> str:
        return f"ov_nfc({v})"  # registered by spark_engine

    def strip(self, v: str) -> str:
        pattern = self.lit(f"^{_WS}+|{_WS}+$")
        return (f"(CASE WHEN ascii({v}) BETWEEN 33 AND 126 AND ascii(right({v}, 1)) "
                f"BETWEEN 33 AND 126 THEN {v} ELSE regexp_replace({v}, {pattern}, '') END)")

    def local(self, tz: str, u: str) -> str:
        """Local wall time of the UTC instant ``u`` (microseconds)."""
        return f"from_utc_timestamp(timestamp_micros({u}), {tz})"

    def utc1(self, tz: str, n: str) -> str:
        return f"unix_micros(to_utc_timestamp({n}, {tz}))"

    def utc(self, tz: str, n: str) -> str:
        one = self.utc1(tz, n)
        earlier = f"({one} - {_HOUR_US})"
        # In an autumn overlap the earlier instant (fold=0), as the import does.
        return (f"(CASE WHEN {self.local(tz, earlier)} = {n} THEN {earlier} "
                f"ELSE {one} END)")

    def gap(self, tz: str, n: str) -> str:
        return f"({self.local(tz, self.utc1(tz, n))} != {n})"

    def iso(self, n: str, off: str) -> str:
        frac = f"pmod(unix_micros({n}), 1000000)"
        seconds = self.lit("yyyy-MM-dd'T'HH:mm:ss")
        return (f"(date_format({n}, {seconds})"
                f" || CASE WHEN {frac} != 0 THEN '.' || lpad(CAST({frac} AS STRING), 6, '0')"
                f" ELSE '' END || CASE WHEN {off} < 0 THEN '-' ELSE '+' END"
                f" || lpad(CAST(abs({off}) div 3600 AS STRING), 2, '0') || ':'"
                f" || lpad(CAST(pmod(abs({off}), 3600) div 60 AS STRING), 2, '0'))")

    def epoch_us(self, n: str) -> str:
        return f"unix_micros({n})"

    def idiv(self, a: str, b: int) -> str:
        return f"(({a}) div {b})"

    def strptime(self, s: str, fmt: str) -> str:
        return f"try_to_timestamp({s}, {self.lit(java_pattern(fmt))})"

    def full_match(self, v: str, pattern: str) -> str:
        whole = self.lit("^(?:" + pattern + ")\\z")
        return f"({v} rlike {whole})"

    def iso_parts(self, v: str) -> str:
        pattern = self.lit(_ISO)
        return (f"named_struct('d', regexp_extract({v}, {pattern}, 1), "
                f"'t', regexp_extract({v}, {pattern}, 2), "
                f"'z', regexp_extract({v}, {pattern}, 3))")

    def split(self, v: str, sep: str) -> str:
        regex = self.lit("\\Q" + sep.replace("\\E", "\\E\\\\E\\Q") + "\\E")
        return (f"filter(transform(split({v}, {regex}), x -> {self.strip('x')}), "
                "x -> x != '')")

    def size(self, v: str) -> str:
        return f"coalesce(size({v}), 0)"

    def strftime(self, n: str, fmt: str) -> str:
        return f"date_format({n}, {self.lit(java_pattern(fmt))})"

    def unnest(self, v: str) -> str:
        return f"explode({v})"


SPARK = SparkDialect()


class SparkCompiler(EngineCompiler):
    """The condition compiler with Spark SQL's words: strict booleans (false/true, not
    0/1), literals written in place, lists as arrays with higher-order functions,
    ``matches`` as Java's regular expressions (rlike)."""

    FALSE = "false"
    TRUE = "true"
    dialect = SPARK

    def __init__(self, extra: dict[str, str]) -> None:
        super().__init__()
        self.extra = extra

    def p(self, value: Any) -> str:
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, list | tuple):
            if not value:
                return "CAST(array() AS ARRAY<STRING>)"
            return f"array({', '.join(self.p(v) for v in value)})"
        if isinstance(value, float) and value != value:  # NaN
            return "CAST('NaN' AS DOUBLE)"
        return SPARK.lit(value)

    def _fieldref(self, node: FieldRef) -> str:
        if node.source == "extra":
            return f"o.{self.extra[node.name]}"
        if node.name == "found":
            alias = {"authorisation": "a", "case": "c"}.get(node.source, "o")
            return f"(CASE WHEN {alias}.rid IS NOT NULL THEN 1 ELSE 0 END)"
        return super()._fieldref(node)

    def _listlit(self, node: ListLit) -> str:
        return self.p(list(node.items))

    def _binary(self, node: Binary) -> str:
        op = node.op
        if op == "intersects":
            inner = self._members(node.right, "jv")
            return (f"coalesce(exists({self.sql(node.left)}, jv -> coalesce({inner}, false)),"
                    " false)")
        if op == "within":
            inner = self._members(node.right, "jv")
            return (f"(NOT coalesce(exists({self.sql(node.left)}, jv -> "
                    f"NOT coalesce({inner}, false)), false))")
        if op == "matches":
            return f"coalesce({self.sql(node.left)} rlike {self.sql(node.right)}, false)"
        return super()._binary(node)

    def _members(self, container: Node, value_sql: str) -> str:
        if isinstance(container, ListLit | Index):
            return super()._members(container, value_sql)
        if container.type == LIST:
            return f"array_contains({self.sql(container)}, {value_sql})"
        raise TypeError(f"not a list: {container!r}")

    def distinct_count(self, value: str) -> str:
        return f"(CASE WHEN {value} IS NULL THEN 0 ELSE size(array_distinct({value})) END)"



def _hive_base(path: Path) -> Path:
    """The folder above the Hive partitions (``year=2026/month=03/``) a file lies in."""
    base = path.parent
    while "=" in base.name and base.parent != base:
        base = base.parent
    return base


class SparkEngine:
    name = "spark"
    label = "Spark"
    dialect: Dialect = SPARK

    def __init__(self, spark: SparkSession, token: CancelToken, group: str) -> None:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        self.spark = spark
        self.version = str(spark.version)
        self.token = token
        self.group = group
        self.errors: tuple[type[BaseException], ...] = (PySparkException, Py4JError)
        self._views: list[str] = []
        self._cached: list[DataFrame] = []

    def _guard(self) -> None:
        """Jobs of this thread belong to the scan's group (which Cancel stops)."""
        self.spark.sparkContext.setJobGroup(self.group, "oversight scan", True)

    def compiler(self, extra: dict[str, str]) -> Compiler:
        return SparkCompiler(extra)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if params:  # pragma: no cover - SparkCompiler writes literals in place
            raise TypeError("Spark SQL is written with its literals")
        self._guard()
        try:
            return [tuple(r) for r in self.spark.sql(sql).collect()]
        except self.errors:
            self.token.check()  # a job Cancel stopped
            raise

    def _view(self, df: DataFrame, name: str) -> None:
        df.createOrReplaceTempView(name)
        self._views.append(name)

    def open_file(self, n: int, f: ScanFile, profile: MappingProfile) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType, StructField, StructType

        self._guard()
        reader = self.spark.read
        first = 1
        try:
            if f.format == "csv":
                header = _csv_header(f, profile)
                if len(set(header)) != len(header):
                    raise InputFileError(f"{f.path}: its header names a column twice; "
                                         "Spark cannot scan it (scan it with DuckDB).")
                enc = (profile.encoding or "utf-8").lower().replace("_", "-")
                schema = StructType([StructField(c, StringType()) for c in header])
                df = (reader.schema(schema).option("header", True)
                      .option("sep", profile.delimiter or ",").option("quote", '"')
                      .option("escape", '"').option("mode", "FAILFAST")
                      .option("encoding", "utf-8" if enc == "utf-8-sig" else enc)
                      .option("multiLine", False).csv(str(f.path)))
                columns = header
                first = 2  # the header is line 1
            elif f.format == "jsonl":
                # Every value as text, as the import's JSON reader sees strings.
                df = (reader.option("primitivesAsString", True).option("mode", "FAILFAST")
                      .json(str(f.path)))
                columns = df.columns
            else:
                df = reader.option("basePath", str(_hive_base(f.path))).parquet(str(f.path))
                columns = df.columns
            # The row's place in the file: Spark numbers rows within each split of the
            # file, in order; one pass counts the rows of each split, so the line is that
            # split's offset plus the row's place in it.
            mid = F.monotonically_increasing_id()
            df = df.withColumn("ov_mid", mid)
            counts = sorted((int(p), int(c)) for p, c in df.groupBy(
                F.shiftright("ov_mid", 33).alias("p")).count().collect())
        except self.errors as exc:
            self.token.check()
            raise InputFileError(f"{f.path}: Spark cannot read it as {f.format.upper()}: "
                                 f"{_first(exc)}") from None
        offsets: dict[int, int] = {}
        total = 0
        for split, count in counts:
            offsets[split] = total
            total += count
        split_of = F.shiftright("ov_mid", 33)
        offset = F.lit(0)
        for split, at in offsets.items():
            offset = F.when(split_of == F.lit(split), F.lit(at)).otherwise(offset)
        line = (offset + (F.col("ov_mid") - F.shiftleft(split_of, 33)) + first).cast("bigint")
        self._view(df.select(line.alias("ov_line"), *[F.col(f"`{c}`") for c in columns]),
                   f"raw_{n}")
        f.columns = [str(c) for c in columns]

    def materialise(self, sql: str) -> None:
        from pyspark import StorageLevel

        self._guard()
        try:
            # The files are read here (a row Spark cannot parse stops it), once: the
            # rules read the mapped rows from the executors' block stores, without the
            # long plan of the profile's expressions.
            df = self.spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
            self._cached.append(df)
            df.count()
            self._view(df, "o_all")
        except self.errors as exc:
            self.token.check()
            raise InputFileError(f"The scan cannot read the files with the profile: "
                                 f"{_first(exc)}") from None
        self._view(self.spark.sql("SELECT * FROM o_all WHERE ov_reject IS NULL"), "o")

    def table(self, name: str, columns: Sequence[str], types: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql.types import (
            ArrayType,
            DataType,
            LongType,
            StringType,
            StructField,
            StructType,
        )

        kinds: list[DataType] = [LongType() if t == "BIGINT" else ArrayType(StringType())
                                 if t == "VARCHAR[]" else StringType() for t in types]
        schema = StructType([StructField(c, k) for c, k in zip(columns, kinds, strict=True)])

        def cell(v: Any, t: str) -> Any:
            if v is None:
                return None
            if t == "BIGINT":
                return int(v)
            if t == "VARCHAR[]":  # the JSON text of a list (Engine.table)
                items = (json.loads(v) if v else None) if isinstance(v, str) else v
                return None if items is None else [None if x is None else str(x)
                                                   for x in items]
            return str(v)

        data = [tuple(cell(v, t) for v, t in zip(r, types, strict=True)) for r in rows]
        # Broadcast: every executor gets the whole (small) table once.
        self._view(F.broadcast(self.spark.createDataFrame(data, schema)), name)

    def raw_rows(self, n: int, f: ScanFile, lines: list[int]
                 ) -> tuple[list[str], list[tuple[Any, ...]]]:
        from pyspark.sql import functions as F

        self._guard()
        want = self.spark.createDataFrame([(x,) for x in lines], "ov_want BIGINT")
        raw = self.spark.table(f"raw_{n}")
        try:
            rows = (raw.join(F.broadcast(want), raw["ov_line"] == want["ov_want"])
                    .drop("ov_want").orderBy("ov_line").collect())
        except self.errors as exc:
            self.token.check()
            raise InputFileError(f"{f.path}: Spark cannot read it as {f.format.upper()}: "
                                 f"{_first(exc)}") from None
        return list(raw.columns), [tuple(r) for r in rows]

    def close(self) -> None:
        """Our views dropped, the mapped rows unpersisted (from memory and disk)."""
        with suppress(*self.errors):
            for name in self._views:
                self.spark.catalog.dropTempView(name)
            for df in self._cached:
                df.unpersist()


def _register_nfc(spark: SparkSession) -> None:
    """ov_nfc(text): Unicode's composed form (NFC), as the import stores text. Spark
    before 4.4 has no such function (SQL's normalize() came in 4.4); a Python function
    defined here is shipped to the workers with the job, so a cluster needs nothing of
    ours installed. It runs in Spark's Python workers: slower than a built-in."""

    def ov_nfc(text: str | None) -> str | None:
        import unicodedata

        if text is None or text.isascii():
            return text
        return unicodedata.normalize("NFC", text)

    spark.udf.register("ov_nfc", ov_nfc, "string")


@contextmanager
def spark_engine(master: str | None, token: CancelToken) -> Iterator[SparkEngine]:
    """A Spark session on ``master``: the one this process already runs (its SQL settings
    and tables kept apart), else a new one, stopped at the end. Without ``master``, the
    one spark-submit names, else local[*]. Cancel stops the scan's jobs (their job
    group) while they run."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(INSTALL) from None
    tmp = tempfile.mkdtemp(prefix="oversight-spark-")  # mode 0700: Spark's spill folder
    os.chmod(tmp, 0o700)
    base = SparkSession.getActiveSession()  # this process's Spark, if it runs one
    started = base is None
    stop = threading.Event()
    watcher: threading.Thread | None = None
    engine: SparkEngine | None = None
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[*]"  # not under spark-submit, which names the master itself
    where = master or "the master spark-submit names"
    try:
        try:
            builder = SparkSession.builder if master is None else \
                SparkSession.builder.master(master)
            base = base or (builder.appName("oversight-scan")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.local.dir", tmp)
                    .getOrCreate())
        except Exception as exc:  # Java missing, a master that does not answer, ...
            raise UsageError(f"Spark cannot start on {where}: {_first(exc)}") from None
        if started:  # the JVM's own log (stack traces of failed tasks) is not the user's
            base.sparkContext.setLogLevel("OFF")
        spark = base.newSession()  # our SQL settings and temporary views only
        for key, value in (("spark.sql.session.timeZone", "UTC"),
                           ("spark.sql.ansi.enabled", "false"),
                           ("spark.sql.caseSensitive", "true"),
                           # Every CSV row is parsed whole when the file is first read,
                           # so a malformed one stops the scan there, whatever the rules
                           # read of it.
                           ("spark.sql.csv.parser.columnPruning.enabled", "false"),
                           ("spark.sql.legacy.timeParserPolicy", "CORRECTED"),
                           ("spark.sql.sources.partitionColumnTypeInference.enabled",
                            "false")):
            spark.conf.set(key, value)
        _register_nfc(spark)
        group = f"oversight-scan-{uuid.uuid4().hex}"
        sc = spark.sparkContext

        def watch() -> None:
            while not stop.wait(0.2):
                if token.cancelled:
                    sc.cancelJobGroup(group)
                    return

        watcher = threading.Thread(target=watch, name="spark-cancel", daemon=True)
        watcher.start()
        engine = SparkEngine(spark, token, group)
        yield engine
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
        if engine is not None:
            engine.close()
        if started and base is not None:
            base.stop()
        shutil.rmtree(tmp, ignore_errors=True)
