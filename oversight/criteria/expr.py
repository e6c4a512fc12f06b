"""The condition language of criteria packs: a small, typed expression language.

Written for oversight staff, compiled to SQL by `oversight.criteria.sql`; nothing a
pack author writes ever becomes SQL text (values travel as bound parameters, names are
checked against the record catalogue). Example::

    action in log_actions and (blank(actor_id) or blank(justification))
    ts < authorisation.valid_from or ts > authorisation.valid_to
    `Object of search` = "Controlled drugs" and `Legislation` starts_with "Misuse"

Missing values: a missing value equals nothing, is in no list and is neither smaller
nor larger than anything, so ``x != v`` and ``x not in L`` are true when x is missing,
and every comparison with it is false. Conditions are always true or false.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from oversight.criteria.regex import PatternError, compile_pattern
from oversight.records import FieldType, Kind, fields_of

__all__ = [
    "Binary",
    "Call",
    "ExprError",
    "FieldRef",
    "Index",
    "ListLit",
    "Lit",
    "Node",
    "Scope",
    "Unary",
    "parse",
]

MAX_NESTING = 40
"""Brackets, function calls and 'not's inside each other (the parser recurses on them)."""
MAX_DEPTH = 100
"""Levels of the parsed condition, each 'and'/'or' of a chain counting as one: the SQL
compiler recurses on them and SQLite refuses expressions deeper than 1000."""

# -- types --------------------------------------------------------------------------------

TEXT, NUMBER, BOOL, TIMESTAMP, LIST, DURATION, MAP, LOOKUP = (
    "text", "number", "true/false", "date-time", "list", "duration", "mapping",
    "mapping lookup (usable only after 'in' or 'not in')")

_FIELD_TYPES = {
    FieldType.TEXT: TEXT, FieldType.WORD: TEXT, FieldType.COUNTRY: TEXT,
    FieldType.INT: NUMBER, FieldType.BOOL: BOOL, FieldType.TIMESTAMP: TIMESTAMP,
    FieldType.LIST: LIST,
}
REGISTERS = {"authorisation": Kind.AUTHORISATIONS, "case": Kind.CASES}


class ExprError(Exception):
    """A problem in a condition, at a 0-based offset into its text, with a fix."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# -- AST ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    offset: int
    type: str


@dataclass(frozen=True)
class Lit(Node):
    value: Any


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Any, ...]
    name: str | None = None
    """The pack list it came from, if any."""


@dataclass(frozen=True)
class FieldRef(Node):
    source: str
    """'record', 'extra', 'authorisation' or 'case'."""
    name: str
    """Canonical field, original column (extra) or 'found'."""

    @property
    def label(self) -> str:
        if self.source == "record":
            return self.name
        if self.source == "extra":
            return f"`{self.name}`"
        return f"{self.source}.{self.name}"


@dataclass(frozen=True)
class Index(Node):
    mapping: dict[str, tuple[Any, ...]]
    name: str
    key: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str
    arg: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    fn: str
    args: tuple[Node, ...]


# -- the names a condition can use ---------------------------------------------------------


@dataclass
class Scope:
    """What names mean in a pack: record fields, registers, parameters and lists."""

    parameters: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    extra_names: dict[str, Any] = field(default_factory=dict)
    """Extra names, e.g. an aggregate's count; value is the type."""
    used_params: set[str] = field(default_factory=set)
    used_fields: dict[str, FieldRef] = field(default_factory=dict)

    def record_fields(self) -> dict[str, str]:
        return {n: _FIELD_TYPES[s.type] for n, s in fields_of(Kind.OPERATIONS).items()}


FUNCTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    # name: (argument types ('any' = any), result type, help)
    "blank": (("any",), BOOL, "blank(x): x is missing or only spaces (a list: empty)"),
    "present": (("any",), BOOL, "present(x): x has a value"),
    "local_time": ((TIMESTAMP,), TEXT, "local_time(ts): 'HH:MM:SS' as recorded"),
    "local_date": ((TIMESTAMP,), TEXT, "local_date(ts): 'YYYY-MM-DD' as recorded"),
    "count": ((LIST,), NUMBER, "count(list): number of different items"),
    "lower": ((TEXT,), TEXT, "lower(text)"),
    "plausible_time": ((TIMESTAMP,), BOOL, "plausible_time(ts): on or after 1970-01-01 and "
                       "at most one day after the record was imported"),
    "coalesce": (("any", "any"), "same", "coalesce(a, b): a, or b when a is missing"),
    "days": ((NUMBER,), DURATION, "days(n)"),
    "hours": ((NUMBER,), DURATION, "hours(n)"),
    "minutes": ((NUMBER,), DURATION, "minutes(n)"),
}

KEYWORDS = {"and", "or", "not", "in", "true", "false", "contains", "intersects", "within",
            "starts_with", "matches"}

# -- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<column>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<op><=|>=|!=|==|=|<|>|\(|\)|,|\[|\]|\+|-)
""", re.X)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    offset: int


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = ""
            if ch in "\"'":
                hint = "; a text value needs its closing quote"
            elif ch == "`":
                hint = "; a column name needs its closing backtick"
            raise ExprError(f"unexpected character {ch!r}{hint}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(Tok("end", "", len(text)))
    return toks


def _unquote(s: str) -> str:
    """Only \\", \\' and \\\\ are escapes; any other backslash stays, so a regular
    expression such as "\\d+" is written as it is."""
    return re.sub(r"\\([\\\"'])", r"\1", s[1:-1])


# -- parser -------------------------------------------------------------------------------

_COMPARE = {"=", "==", "!=", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.scope = scope
        self.nesting = 0

    def enter(self, offset: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExprError(f"the condition nests brackets, function calls or 'not' more "
                            f"than {MAX_NESTING} deep here; split it into simpler "
                            "conditions", offset)

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> Tok | None:
        tok = self.peek()
        if tok.text == text and tok.kind in ("name", "op"):
            self.i += 1
            return tok
        return None

    def expect(self, text: str, what: str) -> Tok:
        tok = self.accept(text)
        if tok is None:
            found = self.peek()
            shown = "the end" if found.kind == "end" else repr(found.text)
            raise ExprError(f"expected {what} but found {shown}", found.offset)
        return tok

    # expr := or
    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise ExprError(
                f"unexpected {tok.text!r}; join conditions with 'and' or 'or'", tok.offset)
        return node

    def or_(self) -> Node:
        self.enter(self.peek().offset)
        node = self.and_()
        while (tok := self.accept("or")) is not None:
            right = self.and_()
            node = self.boolean("or", node, right, tok.offset)
        self.nesting -= 1
        return node

    def and_(self) -> Node:
        node = self.not_()
        while (tok := self.accept("and")) is not None:
            right = self.not_()
            node = self.boolean("and", node, right, tok.offset)
        return node

    def boolean(self, op: str, left: Node, right: Node, offset: int) -> Node:
        for side in (left, right):
            _want(side, BOOL, f"both sides of '{op}' must be conditions")
        return Binary(offset, BOOL, op, left, right)

    def not_(self) -> Node:
        tok = self.accept("not")
        if tok is not None:
            self.enter(tok.offset)
            arg = self.not_()
            self.nesting -= 1
            _want(arg, BOOL, "'not' applies to a condition")
            return Unary(tok.offset, BOOL, "not", arg)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum_()
        tok = self.peek()
        op = tok.text
        if tok.kind == "op" and op in _COMPARE:
            self.take()
            right = self.sum_()
            return _compare(op.replace("==", "="), left, right, tok.offset)
        if tok.kind == "name" and op == "not" and self.peek(1).text == "in":
            self.take()
            self.take()
            right = self.sum_()
            node = _membership(left, right, tok.offset)
            return Unary(tok.offset, BOOL, "not", node)
        if tok.kind == "name" and op in ("in", "contains", "intersects", "within",
                                         "starts_with", "matches"):
            self.take()
            right = self.sum_()
            if op == "in":
                return _membership(left, right, tok.offset)
            if op == "contains":
                return _membership(right, left, tok.offset)
            if op in ("intersects", "within"):
                _want(left, LIST, f"'{op}' compares two lists")
                _want(right, LIST, f"'{op}' compares two lists")
                return Binary(tok.offset, BOOL, op, left, right)
            _want(left, TEXT, f"'{op}' applies to text")
            if not isinstance(right, Lit) or right.type != TEXT:
                raise ExprError(f"'{op}' needs a text value in quotes on its right",
                                right.offset)
            if op == "matches":
                try:
                    compile_pattern(right.value)
                except PatternError as exc:
                    raise ExprError(f"bad regular expression {right.value!r}: {exc.reason}; "
                                    "check brackets and escapes (RE2 syntax: no "
                                    "backreferences or lookaround)", right.offset) from None
            return Binary(tok.offset, BOOL, op, left, right)
        return left

    def sum_(self) -> Node:
        node = self.atom()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            tok = self.take()
            right = self.atom()
            if node.type == TIMESTAMP and right.type == DURATION:
                node = Binary(tok.offset, TIMESTAMP, tok.text, node, right)
            elif node.type == NUMBER and right.type == NUMBER:
                node = Binary(tok.offset, NUMBER, tok.text, node, right)
            else:
                raise ExprError(
                    f"cannot use '{tok.text}' between {node.type} and {right.type}; "
                    "add days(n), hours(n) or minutes(n) to a date-time, or numbers to numbers",
                    tok.offset)
        return node

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            value: Any = float(tok.text) if "." in tok.text else int(tok.text)
            return Lit(tok.offset, NUMBER, value)
        if tok.kind == "string":
            return Lit(tok.offset, TEXT, _unquote(tok.text))
        if tok.kind == "column":
            ref = FieldRef(tok.offset, TEXT, "extra", tok.text[1:-1])
            self.scope.used_fields[ref.label] = ref
            return ref
        if tok.kind == "op" and tok.text == "(":
            if self.peek().kind in ("string", "number") and self.peek(1).text == ",":
                return self.list_literal(tok)
            node = self.or_()
            self.expect(")", "')'")
            return node
        if tok.kind == "op" and tok.text == "-" and self.peek().kind == "number":
            num = self.take()
            return Lit(tok.offset, NUMBER, -(float(num.text) if "." in num.text
                                             else int(num.text)))
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return Lit(tok.offset, BOOL, tok.text == "true")
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(tok)
            return self.name(tok)
        shown = "the end" if tok.kind == "end" else repr(tok.text)
        raise ExprError(f"expected a field, value or '(' but found {shown}", tok.offset)

    def list_literal(self, open_tok: Tok) -> Node:
        items: list[Any] = []
        while True:
            tok = self.take()
            if tok.kind == "string":
                items.append(_unquote(tok.text))
            elif tok.kind == "number":
                items.append(float(tok.text) if "." in tok.text else int(tok.text))
            else:
                raise ExprError("a list in brackets holds quoted values or numbers, "
                                "e.g. (\"disclose\", \"transfer\")", tok.offset)
            if self.accept(")"):
                break
            self.expect(",", "',' or ')'")
        return ListLit(open_tok.offset, LIST, tuple(items))

    def call(self, tok: Tok) -> Node:
        fn = tok.text
        if fn not in FUNCTIONS:
            raise ExprError(f"unknown function {fn}(); functions are: "
                            f"{', '.join(sorted(FUNCTIONS))}", tok.offset)
        self.expect("(", "'('")
        args: list[Node] = []
        if not self.accept(")"):
            while True:
                args.append(self.or_())
                if self.accept(")"):
                    break
                self.expect(",", "',' or ')'")
        want, result, usage = FUNCTIONS[fn]
        for arg in args:
            if arg.type == LOOKUP:
                raise ExprError(_LOOKUP_ONLY, arg.offset)
        if len(args) != len(want):
            raise ExprError(f"{fn}() takes {len(want)} value(s): {usage}", tok.offset)
        for arg, w in zip(args, want, strict=True):
            if w != "any":
                _want(arg, w, usage)
        if fn == "coalesce" and args[0].type != args[1].type:
            raise ExprError(f"coalesce() needs two values of the same type, not "
                            f"{args[0].type} and {args[1].type}", tok.offset)
        rtype = args[0].type if result == "same" else result
        return Call(tok.offset, rtype, fn, tuple(args))

    def name(self, tok: Tok) -> Node:
        text = tok.text
        scope = self.scope
        if "." in text:
            reg, _, fname = text.partition(".")
            if reg not in REGISTERS:
                raise ExprError(f"unknown name {text!r}; registers are authorisation.<field> "
                                "and case.<field>", tok.offset)
            specs = fields_of(REGISTERS[reg])
            if fname == "found":
                ref = FieldRef(tok.offset, BOOL, reg, "found")
            elif fname in specs:
                ref = FieldRef(tok.offset, _FIELD_TYPES[specs[fname].type], reg, fname)
            else:
                raise ExprError(f"{reg} has no field {fname!r}{_suggest(fname, specs)}; "
                                f"use {reg}.found to test that it is in the register",
                                tok.offset)
            scope.used_fields[ref.label] = ref
            return ref
        fields = scope.record_fields()
        if text in fields:
            ref = FieldRef(tok.offset, fields[text], "record", text)
            scope.used_fields[ref.label] = ref
            return ref
        if text in scope.extra_names:
            return FieldRef(tok.offset, scope.extra_names[text], "computed", text)
        if text in scope.lists:
            return ListLit(tok.offset, LIST, scope.lists[text], text)
        if text in scope.parameters:
            scope.used_params.add(text)
            value = scope.parameters[text]
            if isinstance(value, dict):
                self.expect("[", f"'[' after the mapping parameter {text}")
                key = self.or_()
                self.expect("]", "']'")
                _want(key, TEXT, f"{text}[...] is looked up by a text value")
                mapping = {str(k): tuple(v) if isinstance(v, list) else (v,)
                           for k, v in value.items()}
                return Index(tok.offset, LOOKUP, mapping, text, key)
            return _param_lit(tok.offset, value)
        if text in KEYWORDS:
            raise ExprError(f"'{text}' cannot stand here", tok.offset)
        known = list(fields) + list(scope.parameters) + list(scope.lists)
        raise ExprError(
            f"unknown field, parameter or list {text!r}{_suggest(text, known)}; for an "
            "imported column that is not a canonical field, write its header in backticks, "
            "e.g. `Object of search`", tok.offset)


def _param_lit(offset: int, value: Any) -> Node:
    if isinstance(value, bool):
        return Lit(offset, BOOL, value)
    if isinstance(value, (int, float)):
        return Lit(offset, NUMBER, value)
    if isinstance(value, list):
        return ListLit(offset, LIST, tuple(value))
    return Lit(offset, TEXT, str(value))


def _suggest(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


_LOOKUP_ONLY = "a mapping lookup such as name[key] can only follow 'in' or 'not in'"


def _want(node: Node, type_: str, why: str) -> None:
    if node.type == LOOKUP:
        raise ExprError(_LOOKUP_ONLY, node.offset)
    if node.type != type_:
        what = node.label if isinstance(node, FieldRef) else f"this {node.type}"
        raise ExprError(f"type mismatch: {what} is {node.type}, but {why}", node.offset)


def _compare(op: str, left: Node, right: Node, offset: int) -> Node:
    lt, rt = left.type, right.type
    for side in (left, right):
        if side.type == LOOKUP:
            raise ExprError(_LOOKUP_ONLY, side.offset)
    if lt != rt:
        raise ExprError(
            f"type mismatch: cannot compare {lt} with {rt}"
            + (" (put numbers without quotes)" if {lt, rt} == {TEXT, NUMBER} else ""),
            offset)
    if lt in (LIST, DURATION, MAP):
        raise ExprError(f"cannot compare a {lt} with '{op}'; use in, contains, intersects "
                        "or within for lists", offset)
    if lt == BOOL and op not in ("=", "!="):
        raise ExprError("true/false values can only be compared with = or !=", offset)
    return Binary(offset, BOOL, op, left, right)


def _membership(item: Node, container: Node, offset: int) -> Node:
    if container.type not in (LIST, LOOKUP):
        raise ExprError(f"type mismatch: 'in' needs a list on its right, not {container.type}",
                        container.offset)
    if item.type not in (TEXT, NUMBER):
        raise ExprError(f"type mismatch: 'in' tests a text or number value, not {item.type}",
                        item.offset)
    return Binary(offset, BOOL, "in", item, container)


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly inside ``node``."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.arg,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Index):
        return (node.key,)
    return ()


def tree_depth(node: Node) -> tuple[int, Node]:
    """Levels of ``node`` and the deepest node, without recursion (any depth)."""
    best = (1, node)
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > best[0]:
            best = (depth, current)
        stack.extend((child, depth + 1) for child in children(current))
    return best


def parse(text: str, scope: Scope, want: str = BOOL) -> Node:
    """Parse and type-check ``text``; raise ExprError with an offset and a fix."""
    if not text or not text.strip():
        raise ExprError("the condition is empty", 0)
    node = _Parser(text, scope).parse()
    depth, deepest = tree_depth(node)
    if depth > MAX_DEPTH:
        raise ExprError(f"the condition is {depth} levels deep (each 'and'/'or' of a chain "
                        f"counts as one), more than the {MAX_DEPTH} allowed; put the values in "
                        "a list and test with 'in', or split the rule", deepest.offset)
    if want == BOOL and node.type != BOOL:
        raise ExprError(f"a condition must be true or false, but this is a {node.type}; "
                        "compare it with something (e.g. = \"value\") or use blank(...)", 0)
    return node
