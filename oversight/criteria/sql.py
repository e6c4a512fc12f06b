"""Compile condition ASTs to SQLite SQL: one method per node type, values as parameters.

Aliases: ``o`` the operation, ``a`` its authorisation (latest import of that id), ``c``
its case. Every boolean compiles to an expression that is 0 or 1, never NULL, which is
what gives missing values the meaning documented in `expr`.
"""

from __future__ import annotations

import json
from typing import Any

from oversight.criteria.expr import (
    BOOL,
    DURATION,
    LIST,
    TIMESTAMP,
    Binary,
    Call,
    FieldRef,
    Index,
    ListLit,
    Lit,
    Node,
    Unary,
)
from oversight.records import FieldType, fields_of
from oversight.records import Kind as _Kind

__all__ = ["ALIASES", "TOO_COMPLEX", "Compiler", "field_sql"]

ALIASES = {"record": "o", "authorisation": "a", "case": "c"}
#: SQLite's words for a statement beyond its limits (expression depth, bound values...).
TOO_COMPLEX = ("too large", "too many", "too big", "too complex", "stack overflow",
               "user-defined function raised exception")
_US = {"days": 86_400_000_000, "hours": 3_600_000_000, "minutes": 60_000_000}
_KINDS = {"record": _Kind.OPERATIONS, "authorisation": _Kind.AUTHORISATIONS,
          "case": _Kind.CASES}


def field_sql(ref: FieldRef, as_value: bool = False) -> str:
    """SQL for a field: timestamps compare by their UTC column, unless ``as_value``."""
    if ref.source == "extra":
        path = '$."' + ref.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return "json_extract(o.extra, '" + path.replace("'", "''") + "')"
    alias = ALIASES[ref.source]
    if ref.name == "found":
        return f"({alias}.rid IS NOT NULL)"
    spec = fields_of(_KINDS[ref.source])[ref.name]
    if spec.type is FieldType.TIMESTAMP and not as_value:
        return f"{alias}.{ref.name}_utc"
    return f"{alias}.{ref.name}"


class Compiler:
    """Collects parameters while compiling; ``sql(node)`` returns the SQL text."""

    #: A condition's false and true (SQLite's 0 and 1; an engine with a strict boolean
    #: type, such as Spark, says false and true).
    FALSE = "0"
    TRUE = "1"

    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        """A numbered placeholder (?N), so fragments can be built in any order."""
        if isinstance(value, bool):
            value = int(value)
        self.params.append(value)
        return f"?{len(self.params)}"

    def sql(self, node: Node) -> str:
        method = getattr(self, f"_{type(node).__name__.lower()}")
        result: str = method(node)
        return result

    def cond(self, node: Node) -> str:
        """A condition as 0/1."""
        if isinstance(node, FieldRef | Lit) and node.type == BOOL:
            return f"(coalesce({self.sql(node)}, 0) = 1)"
        return self.sql(node)

    # -- leaves ------------------------------------------------------------------------

    def _lit(self, node: Lit) -> str:
        return self.p(node.value)

    def _fieldref(self, node: FieldRef) -> str:
        return field_sql(node)

    def _listlit(self, node: ListLit) -> str:
        return self.p(json.dumps(list(node.items), ensure_ascii=False))

    def _index(self, node: Index) -> str:  # pragma: no cover - only used under 'in'
        raise TypeError("a mapping lookup is only valid on the right of 'in'")

    # -- operators ---------------------------------------------------------------------

    def _unary(self, node: Unary) -> str:
        return f"(NOT {self.cond(node.arg)})"

    def _binary(self, node: Binary) -> str:
        op = node.op
        if op in ("and", "or"):
            return f"({self.cond(node.left)} {op.upper()} {self.cond(node.right)})"
        if op in ("+", "-"):
            return f"({self.sql(node.left)} {op} {self.sql(node.right)})"
        if op == "in":
            return self._in(node.left, node.right)
        if op == "intersects":
            inner = self._members(node.right, "j.value")
            return (f"coalesce(EXISTS (SELECT 1 FROM json_each({self.sql(node.left)}) j "
                    f"WHERE {inner}), 0)")
        if op == "within":
            inner = self._members(node.right, "j.value")
            return (f"(NOT EXISTS (SELECT 1 FROM json_each({self.sql(node.left)}) j "
                    f"WHERE NOT coalesce({inner}, 0)))")
        if op == "starts_with":
            prefix = node.right.value if isinstance(node.right, Lit) else ""
            return (f"coalesce(substr({self.sql(node.left)}, 1, {self.p(len(prefix))}) = "
                    f"{self.p(prefix)}, {self.FALSE})")
        if op == "matches":
            return f"coalesce({self.sql(node.left)} REGEXP {self.sql(node.right)}, 0)"
        left, right = self.sql(node.left), self.sql(node.right)
        if node.left.type == BOOL:
            left, right = f"coalesce({left}, 0)", f"coalesce({right}, 0)"
        if op == "!=":
            return f"coalesce({left} != {right}, {self.TRUE})"
        return f"coalesce({left} {op} {right}, {self.FALSE})"

    def _in(self, item: Node, container: Node) -> str:
        return f"coalesce({self._members(container, self.sql(item))}, {self.FALSE})"

    def _members(self, container: Node, value_sql: str) -> str:
        """SQL testing that ``value_sql`` is a member of ``container`` (may be NULL)."""
        if isinstance(container, ListLit):
            if not container.items:
                return self.FALSE
            marks = ", ".join(self.p(v) for v in container.items)
            return f"{value_sql} IN ({marks})"
        if isinstance(container, Index):
            key = self.sql(container.key)
            whens = []
            for k, values in container.mapping.items():
                when = self.p(k)
                marks = ", ".join(self.p(v) for v in values) or "NULL"
                whens.append(f"WHEN {when} THEN {value_sql} IN ({marks})")
            return f"(CASE {key} {' '.join(whens)} ELSE {self.FALSE} END)"
        if container.type == LIST:
            return (f"EXISTS (SELECT 1 FROM json_each({self.sql(container)}) m "
                    f"WHERE m.value = {value_sql})")
        raise TypeError(f"not a list: {container!r}")

    # -- functions ---------------------------------------------------------------------

    def _call(self, node: Call) -> str:
        fn, args = node.fn, node.args
        if fn in ("blank", "present"):
            blank = self._blank(args[0])
            return blank if fn == "blank" else f"(NOT {blank})"
        if fn in ("days", "hours", "minutes"):
            return f"({self.sql(args[0])} * {_US[fn]})"
        if fn in ("local_time", "local_date"):
            arg = args[0]
            value = field_sql(arg, as_value=True) if isinstance(arg, FieldRef) \
                else self.sql(arg)
            return f"substr({value}, 12, 8)" if fn == "local_time" else f"substr({value}, 1, 10)"
        if fn == "count":
            # Distinct items: a list naming someone twice still names one person.
            return f"(SELECT count(DISTINCT value) FROM json_each({self.sql(args[0])}))"
        if fn == "lower":
            return f"lower({self.sql(args[0])})"
        if fn == "plausible_time":
            # Against the import time of the record's own batch (the run's temp table
            # batch_times, one row per batch, holds that time plus one day).
            arg = args[0]
            alias = ALIASES.get(arg.source, "o") if isinstance(arg, FieldRef) else "o"
            value = self.sql(arg)
            return (f"coalesce({value} >= 0 AND {value} <= (SELECT bt.latest_us FROM "
                    f"temp.batch_times bt WHERE bt.batch_id = {alias}.batch_id), 0)")
        if fn == "coalesce":
            return f"coalesce({self.sql(args[0])}, {self.sql(args[1])})"
        raise TypeError(f"unknown function {fn}")  # pragma: no cover - parser checks

    def _blank(self, arg: Node) -> str:
        value = self.sql(arg)
        if arg.type == LIST:
            return f"({value} IS NULL OR coalesce(json_array_length({value}), 0) = 0)"
        if arg.type in (BOOL, TIMESTAMP, DURATION) or arg.type == "number":
            return f"({value} IS NULL)"
        return f"({value} IS NULL OR trim({value}) = '')"
