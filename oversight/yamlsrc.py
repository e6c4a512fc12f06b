"""YAML loading that remembers where each value came from (for error locations)."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["Located", "load_located"]

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


class _Loader(yaml.SafeLoader):
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


def load_located(text: str, file: str) -> Located:
    """Parse ``text`` safely; raise yaml.YAMLError on syntax errors."""
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
