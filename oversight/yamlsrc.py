"""YAML loading that remembers where each value came from (for error locations).

Packs, profiles and templates may come from anyone, so loading is bounded before any
value is built: a document is at most MAX_YAML_BYTES, aliases and anchors (``&a`` /
``*a``, the "billion laughs" expansion) are refused, and so is nesting deeper than
MAX_YAML_DEPTH; each refusal names the line and column. libyaml parses when present
(every PyYAML wheel has it): the pure-Python parser takes seconds per megabyte.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from oversight.errors import Issue, ValidationError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "Located", "YamlRefused", "load_located",
           "load_plain", "read_yaml_file", "yaml_error"]

MAX_YAML_BYTES = 1 << 20
"""1 MiB: fifty times the built-in pack, and parsed in well under a second."""
MAX_YAML_DEPTH = 50
"""Mappings and lists inside each other; the formats need fewer than ten."""

Path_ = tuple[str | int, ...]


class Located:
    """A loaded YAML document plus the 1-based line of every key and item."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str,
                 scalars: dict[Path_, tuple[int, int, str | None]] | None = None,
                 source: str = "") -> None:
        self.data = data
        self.lines = lines
        self.file = file
        self.source_lines = source.splitlines()
        self.scalars = scalars or {}
        """Where each scalar value starts: (line, column, style), 1-based."""

    def position(self, path: Path_, offset: int, text: str) -> tuple[int | None, int | None]:
        """Line and column of character ``offset`` inside the scalar at ``path``."""
        start = self.scalars.get(path)
        if start is None:
            return self.line(*path), None
        line, col, style = start
        if style in ("|", ">"):  # block scalar: the text starts on the next line
            return self._in_block(line, offset, style)
        if style in ("'", '"'):
            col += 1
        before = text[:offset]
        if "\n" in before:
            return line + before.count("\n"), None
        return line, col + offset

    def _in_block(self, header_line: int, offset: int, style: str
                  ) -> tuple[int | None, int | None]:
        """Walk the block's source lines: a literal block keeps its line breaks, a folded
        one joins its lines with one space, so each line adds its text plus one."""
        consumed = 0
        base: int | None = None  # the block's indentation, set by its first line
        number = header_line  # 1-based line of the block header
        while number < len(self.source_lines):
            raw = self.source_lines[number].rstrip()  # the next line (0-based = number)
            number += 1
            if not raw.strip():
                if style == ">":
                    continue
                consumed += 1
                continue
            if base is None:
                base = len(raw) - len(raw.lstrip())
            content = raw[base:]  # deeper indentation is part of the text
            if offset <= consumed + len(content):
                return number, base + (offset - consumed) + 1
            consumed += len(content) + 1
        return header_line + 1, None

    def line(self, *path: str | int) -> int | None:
        """Line of the deepest known prefix of ``path``."""
        p: Path_ = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans: only true/false, so a map key such as
    ``no`` or ``on`` stays the text it looks like."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class YamlRefused(yaml.MarkedYAMLError):
    """Well-formed YAML this program will not load (size, aliases, depth)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _check_limits(text: str) -> None:
    """Walk the parse events (libyaml, no values built): refuse aliases, anchors and deep
    nesting at their line and column before anything is composed or constructed."""
    if not isinstance(text, str):  # a stored pack's source edited to a BLOB or a number
        raise YamlRefused(f"the document is not text (a {type(text).__name__})")
    if len(text) > MAX_YAML_BYTES or len(text.encode("utf-8")) > MAX_YAML_BYTES:
        raise YamlRefused(f"the document is larger than {MAX_YAML_BYTES // (1 << 20)} MiB "
                          f"({MAX_YAML_BYTES:,} bytes), the most this program reads")
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                raise YamlRefused(f"an alias (*{event.anchor}) refers to another part of the "
                                  "document; aliases and anchors are not accepted, write the "
                                  "value out in full", event.start_mark)
            if getattr(event, "anchor", None) is not None:
                raise YamlRefused(f"an anchor (&{event.anchor}) marks a value for reuse; "
                                  "aliases and anchors are not accepted, remove it",
                                  event.start_mark)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise YamlRefused(f"lists and mappings are nested more than "
                                      f"{MAX_YAML_DEPTH} deep", event.start_mark)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    finally:
        loader.dispose()


def yaml_error(exc: yaml.YAMLError, what: str, name: str, hint: str = "") -> ValidationError:
    """The sentence for a YAML document that cannot be loaded: a syntax error (with
    ``hint``) or a refused one (the limit it broke), with its line and column."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    if isinstance(exc, YamlRefused):
        return ValidationError(f"The {what} {name} is refused: {exc.problem}.",
                               [Issue(str(exc.problem), name, line, column)])
    return ValidationError(f"The {what} {name} is not valid YAML.", [Issue(
        f"YAML syntax error: {getattr(exc, 'problem', None) or exc}{hint}", name, line, column)])


def read_yaml_file(path: Path, what: str) -> str:
    """The text of a YAML file a user names: a regular file of at most MAX_YAML_BYTES,
    in UTF-8; anything else is an InputFileError sentence."""
    from oversight.errors import InputFileError
    from oversight.safefile import read_capped

    data = read_capped(path, MAX_YAML_BYTES, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputFileError(f"The {what} {path} cannot be read: line {line} is not UTF-8 "
                             f"text ({exc.reason}).") from None


def load_plain(text: str) -> Any:
    """Load ``text`` (within the same limits as load_located) into plain values."""
    _check_limits(text)
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_located(text: str, file: str) -> Located:
    """Parse ``text`` safely; raise yaml.YAMLError on syntax errors and YamlRefused on a
    document beyond the limits."""
    _check_limits(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(None, {}, file)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {(): node.start_mark.line + 1}
    scalars: dict[Path_, tuple[int, int, str | None]] = {}
    _walk(node, (), lines, scalars)
    return Located(data, lines, file, scalars, text)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int],
          scalars: dict[Path_, tuple[int, int, str | None]]) -> None:
    if isinstance(node, yaml.ScalarNode):
        scalars[path] = (node.start_mark.line + 1, node.start_mark.column + 1, node.style)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            sub = (*path, key)
            lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, lines, scalars)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*path, index)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, scalars)
