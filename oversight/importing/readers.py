"""Readers that stream rows out of CSV, JSON Lines, JSON arrays and XLSX files.

Each reader yields ``RawRow``s with the 1-based line (or sheet row) the record starts
on, and reports the share of the file read so far, so memory stays flat whatever the
file size. Whole-file problems (binary data, bad encoding, malformed JSON) raise
InputFileError naming the file and line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from oversight.errors import InputFileError

__all__ = ["FORMATS", "RawRow", "Source", "detect_format", "open_source", "unreadable"]

FORMATS = ("csv", "jsonl", "json", "xlsx")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (",", ";", "\t", "|")


RawRow = tuple[int, "list[Any] | dict[str, Any] | None", "str | None", "str | None"]
"""(line, values, problem, raw): the 1-based line (CSV/JSON) or sheet row (XLSX) where
the record starts; its values in header order (CSV, XLSX) or column -> value (JSON), or
None when the row could not be split into columns, with the reason (``problem``) and
the unparsed text (``raw``). A plain tuple: readers make one per row."""


class _HashingReader(io.RawIOBase):
    """Counts and hashes the bytes as the text layer reads them, so the import knows the
    SHA-256 of exactly what it parsed without reading the file twice."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._h = hashlib.sha256()
        self.position = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._h.update(memoryview(buffer)[:n])
            self.position += n
        else:
            self.eof = True
        return int(n or 0)

    def hexdigest(self) -> str | None:
        return self._h.hexdigest() if self.eof else None

    def close(self) -> None:
        self._fh.close()
        super().close()


class Source:
    """An open source file: its columns and an iterator of rows."""

    def __init__(self, path: Path, fmt: str, columns: list[str], rows: Iterator[RawRow],
                 size: int) -> None:
        self.path = path
        self.format = fmt
        self.columns = columns
        self._rows = rows
        self.size = size
        self._position: Callable[[], int] = lambda: 0
        self._closer: Callable[[], None] = lambda: None
        self._hashing: _HashingReader | None = None

    def __iter__(self) -> Iterator[RawRow]:
        return self._rows

    def bytes_read(self) -> int:
        try:
            return int(self._position())
        except (OSError, ValueError):
            return 0

    def sha256(self) -> str | None:
        """SHA-256 of the bytes parsed, once the whole file has been read (not XLSX)."""
        return None if self._hashing is None else self._hashing.hexdigest()

    def close(self) -> None:
        self._closer()


def unreadable(path: Path, exc: OSError) -> InputFileError:
    """The sentence for a source file that cannot be opened or read."""
    if isinstance(exc, FileNotFoundError):
        return InputFileError(f"{path}: no such file.")
    if isinstance(exc, IsADirectoryError):
        return InputFileError(f"{path} is a folder, not a file.")
    return InputFileError(f"{path} cannot be read: {exc.strerror}.")


def detect_format(path: Path, head: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".xlsx":
        return "xlsx"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix == ".json":
        return "json" if text.startswith(b"[") else "jsonl"
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def open_source(
    path: Path,
    fmt: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
) -> Source:
    """Open ``path`` for streaming; check it is non-empty text (or a workbook)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise unreadable(path, exc) from None
    if size == 0:
        raise InputFileError(f"{path} is empty: there is nothing to import.")
    fmt = fmt or detect_format(path, head)
    if fmt not in FORMATS:
        raise InputFileError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if fmt == "xlsx":
        return _open_xlsx(path, size, sheet)
    encoding = encoding or "utf-8-sig"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(
            f"The encoding {encoding!r} is unknown; name one Python knows, such as utf-8, "
            "cp1252 or latin-1."
        ) from None
    utf8 = encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")
    if utf8 and b"\x00" in head:
        offset = head.index(b"\x00")
        line = head[:offset].count(b"\n") + 1
        raise InputFileError(
            f"{path} is not a text file (a NUL byte at byte {offset + 1}, line {line}); "
            "import CSV, JSON Lines, JSON or XLSX files."
        )
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    hashing = _HashingReader(path.open("rb"))
    text = io.TextIOWrapper(io.BufferedReader(hashing, 1 << 16), encoding=encoding,
                            newline="", errors="strict")
    try:
        if fmt == "csv":
            src = _open_csv(path, text, delimiter, encoding, size)
        elif fmt == "jsonl":
            src = Source(path, fmt, [], _jsonl_rows(path, text, encoding), size)
        else:
            src = Source(path, fmt, [], _json_array_rows(path, text, encoding), size)
    except BaseException:
        text.close()
        raise
    src._hashing = hashing
    src._position = lambda: hashing.position
    src._closer = text.close
    return src


def _decode_error(path: Path, line: int, encoding: str, exc: UnicodeDecodeError) -> InputFileError:
    """Say exactly where the first undecodable byte is (text is decoded in chunks, so
    the line the reader was on is only a lower bound)."""
    where = _locate_bad_bytes(path, encoding) or (line, None)
    shown = "utf-8" if encoding == "utf-8-sig" else encoding
    hint = (
        "name the file's encoding in a mapping profile (for example `encoding: cp1252`)"
        if shown.startswith("utf") else "check the profile's `encoding`"
    )
    column = f", column {where[1]}" if where[1] is not None else ""
    return InputFileError(
        f"{path}, line {where[0]}{column}: the bytes are not valid {shown} ({exc.reason}); "
        f"{hint}."
    )


def _locate_bad_bytes(path: Path, encoding: str) -> tuple[int, int] | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    line, line_start, offset = 1, 0, 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad = exc.start
                    # Bytes held back from the previous chunk shift the position.
                    start = min(bad, len(chunk))
                    line += chunk.count(b"\n", 0, start)
                    nl = chunk.rfind(b"\n", 0, start)
                    col = start - nl if nl >= 0 else offset + start - line_start + 1
                    return line, col
                line += chunk.count(b"\n")
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    line_start = offset + nl + 1
                offset += len(chunk)
    except OSError:
        return None
    return None


def _open_csv(path: Path, text: IO[str], delimiter: str | None, encoding: str,
              size: int) -> Source:
    try:
        header_line = text.readline()
    except UnicodeDecodeError as exc:
        raise _decode_error(path, 1, encoding, exc) from None
    if not header_line.strip():
        raise InputFileError(f"{path}, line 1: the header row is empty.")
    if delimiter is None:
        counts = {d: header_line.count(d) for d in _DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    header = next(csv.reader([header_line], delimiter=delimiter))
    columns = [h.strip() for h in header]
    seen: set[str] = set()
    for number, name in enumerate(columns, start=1):
        if not name:
            raise InputFileError(f"{path}, line 1, column {number}: the header is empty.")
        if name in seen:
            raise InputFileError(f"{path}, line 1, column {number}: the header {name!r} repeats.")
        seen.add(name)
    return Source(path, "csv", columns, _csv_rows(path, text, columns, delimiter, encoding),
                  size)


def _csv_rows(
    path: Path, text: IO[str], columns: list[str], delimiter: str, encoding: str
) -> Iterator[RawRow]:
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    width = len(columns)
    last = 1  # lines consumed so far (the header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise _decode_error(path, last + 1, encoding, exc) from None
        except csv.Error as exc:
            raise InputFileError(f"{path}, line {last + 1}: {exc}.") from None
        start = last + 1
        last = reader.line_num + 1
        if not row or (len(row) == 1 and not row[0]):
            continue  # blank line
        if len(row) != width:
            yield (start, None, f"the row has {len(row)} fields but the header has {width}",
                   delimiter.join(row)[:1000])
            continue
        yield (start, row, None, None)


def _jsonl_rows(path: Path, text: IO[str], encoding: str) -> Iterator[RawRow]:
    number = 0
    while True:
        try:
            line = text.readline()
        except UnicodeDecodeError as exc:
            raise _decode_error(path, number + 1, encoding, exc) from None
        if not line:
            return
        number += 1
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield (number, None, f"not valid JSON at column {exc.colno}: {exc.msg}",
                   line.rstrip("\r\n")[:1000])
            continue
        if not isinstance(obj, dict):
            yield (number, None, "the line holds JSON but not an object",
                   line.rstrip("\r\n")[:1000])
            continue
        yield (number, obj, None, None)


def _json_array_rows(path: Path, text: IO[str], encoding: str) -> Iterator[RawRow]:
    """Stream the objects of a top-level JSON array without loading the whole file."""
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    line = 1  # line number at buf[pos]
    eof = False

    def fill() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        try:
            chunk = text.read(1 << 20)
        except UnicodeDecodeError as exc:
            raise _decode_error(path, line, encoding, exc) from None
        if not chunk:
            eof = True
            return False
        buf = buf[pos:] + chunk
        pos = 0
        return True

    def skip_ws() -> None:
        nonlocal pos, line
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                if buf[pos] == "\n":
                    line += 1
                pos += 1
            if pos < len(buf) or not fill():
                return

    def expected(what: str) -> InputFileError:
        found = repr(buf[pos]) if pos < len(buf) else "the end of the file"
        return InputFileError(f"{path}, line {line}: expected {what} but found {found}.")

    fill()
    skip_ws()
    if pos >= len(buf) or buf[pos] != "[":
        raise expected("a JSON array '[' of objects")
    pos += 1
    first = True
    while True:
        skip_ws()
        if pos >= len(buf):
            raise expected("',' or ']'")
        if buf[pos] == "]":
            pos += 1
            skip_ws()
            if pos < len(buf):
                raise InputFileError(f"{path}, line {line}: text follows the closing ']'.")
            return
        if not first:
            if buf[pos] != ",":
                raise expected("',' or ']'")
            pos += 1
            skip_ws()
        first = False
        while True:
            try:
                obj, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                runs_on = exc.pos >= len(buf) - 1 or exc.msg.startswith("Unterminated")
                if runs_on and fill():
                    continue  # the value runs past the buffer: read more
                err_line = line + buf.count("\n", pos, exc.pos)
                raise InputFileError(f"{path}, line {err_line}: invalid JSON: {exc.msg}.") from None
        start = line
        line += buf.count("\n", pos, end)
        pos = end
        if isinstance(obj, dict):
            yield (start, obj, None, None)
        else:
            yield (start, None, "the array item is not an object", json.dumps(obj)[:1000])


def _open_xlsx(path: Path, size: int, sheet: str | None) -> Source:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputFileError(f"{path} is not a readable XLSX workbook ({exc}).") from None
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise InputFileError(
                    f"{path} has no sheet named {sheet!r}; it has: {', '.join(wb.sheetnames)}."
                )
            ws = wb[sheet]
        else:
            ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None or all(h is None for h in header):
            raise InputFileError(f"{path}: the first row of sheet {ws.title!r} is empty.")
        while header and header[-1] is None:
            header = header[:-1]
        columns: list[str] = []
        for number, name in enumerate(header, start=1):
            text = "" if name is None else str(name).strip()
            if not text:
                raise InputFileError(f"{path}, row 1, column {number}: the header is empty.")
            if text in columns:
                raise InputFileError(
                    f"{path}, row 1, column {number}: the header {text!r} repeats."
                )
            columns.append(text)
    except BaseException:
        wb.close()
        raise
    state = {"row": 1}

    def gen() -> Iterator[RawRow]:
        width = len(columns)
        for number, values in enumerate(rows, start=2):
            state["row"] = number
            if values is None or all(v is None or v == "" for v in values):
                continue
            extra = values[width:]
            if any(v is not None and v != "" for v in extra):
                yield (number, None, f"the row has values beyond the {width} headed columns",
                       repr(values)[:1000])
                continue
            cells = list(values[:width]) + [None] * (width - len(values))
            yield (number, cells, None, None)

    total_rows = max(ws.max_row or 1, 1)
    src = Source(path, "xlsx", columns, gen(), size)
    src._position = lambda: size * min(state["row"], total_rows) // total_rows
    src._closer = wb.close
    return src
