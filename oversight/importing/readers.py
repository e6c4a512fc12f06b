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
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from oversight.errors import InputFileError
from oversight.safefile import open_regular, size_text

__all__ = ["FORMATS", "MAX_JSON_DEPTH", "MAX_XLSX_RATIO", "MAX_XLSX_UNCOMPRESSED", "RawRow",
           "Source", "detect_format", "open_source", "unreadable"]

FORMATS = ("csv", "jsonl", "json", "xlsx")
MAX_JSON_DEPTH = 64
"""Objects and arrays inside each other in one JSON record; deeper records are rejected.
(Python's own JSON decoder gives up near 1000 levels, with a RecursionError.)"""
MAX_XLSX_UNCOMPRESSED = 1 << 30
"""1 GiB: the most a workbook may hold once decompressed, checked before parsing (a full
sheet of 1,048,576 rows of 15 columns is about 0.6 GiB)."""
MAX_XLSX_RATIO = 200
"""How much a part of a workbook may grow when decompressed (parts above 1 MiB): real
sheets grow 5 to 50 times; a decompression bomb grows a thousand times and more."""
MAX_XLSX_SHARED_STRINGS = 256 << 20
"""256 MiB: the shared-strings part is held in memory whole while the sheet is read."""
_NUL = "\x00"
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
    fh, info = open_regular(path)  # a FIFO, socket or device is refused, never opened
    try:
        with fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise unreadable(path, exc) from None
    size = info.size
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
        if _NUL in "".join(row):
            yield (start, None, _nul_problem(row, columns), delimiter.join(row)[:1000]
                   .replace(_NUL, "\\x00"))
            continue
        yield (start, row, None, None)


def _nul_problem(row: list[str], columns: list[str]) -> str:
    """Where the NUL character is: column (1-based), its header, its place in the value."""
    number, value = next((i, v) for i, v in enumerate(row, start=1) if _NUL in v)
    return (f"column {number} ({columns[number - 1]!r}) holds a NUL byte at character "
            f"{value.index(_NUL) + 1} of its value; binary data is not imported")


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
        except RecursionError:
            yield (number, None, _TOO_DEEP, line.rstrip("\r\n")[:1000])
            continue
        if not isinstance(obj, dict):
            yield (number, None, "the line holds JSON but not an object",
                   line.rstrip("\r\n")[:1000])
            continue
        if _too_deep(obj):
            yield (number, None, _TOO_DEEP, line.rstrip("\r\n")[:1000])
            continue
        yield (number, obj, None, None)


_TOO_DEEP = (f"the record nests objects and arrays more than {MAX_JSON_DEPTH} levels deep; "
             "flatten it before importing")


def _too_deep(obj: dict[str, Any]) -> bool:
    """Whether ``obj`` nests deeper than MAX_JSON_DEPTH (flat records cost one pass over
    their values; only containers are walked, without recursion)."""
    stack: list[tuple[Any, int]] = [(v, 2) for v in obj.values() if isinstance(v, (dict, list))]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        items = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in items if isinstance(v, (dict, list)))
    return False


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
                err_col = exc.pos - buf.rfind("\n", 0, exc.pos)
                raise InputFileError(f"{path}, line {err_line}, column {err_col}: invalid "
                                     f"JSON: {exc.msg}.") from None
            except RecursionError:
                raise InputFileError(
                    f"{path}, line {line}: the item starting here nests objects and arrays "
                    f"more than {MAX_JSON_DEPTH} levels deep (far more: the reader cannot "
                    "follow it); flatten it before importing.") from None
        start = line
        line += buf.count("\n", pos, end)
        item = buf[pos:min(end, pos + 1000)]
        pos = end
        if isinstance(obj, dict) and _too_deep(obj):
            yield (start, None, _TOO_DEEP, item)
        elif isinstance(obj, dict):
            yield (start, obj, None, None)
        else:
            yield (start, None, "the array item is not an object", item)


def _check_workbook_sizes(path: Path) -> None:
    """Refuse a workbook whose parts decompress to more than the caps, before any XML is
    parsed. The sizes checked are the ones the archive declares, which are also the most
    Python's zipfile will ever decompress (it stops there and checks the CRC)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputFileError(f"{path} is not a readable XLSX workbook ({exc}).") from None
    for part in parts:
        if part.file_size > (1 << 20) and part.file_size > MAX_XLSX_RATIO * max(
                part.compress_size, 1):
            raise InputFileError(
                f"{path}: the part {part.filename} grows from {part.compress_size:,} to "
                f"{part.file_size:,} bytes when decompressed, more than {MAX_XLSX_RATIO} "
                "times (a decompression bomb?); it is not read. Export the data as CSV.")
        if part.filename.lower().endswith("sharedstrings.xml") and (
                part.file_size > MAX_XLSX_SHARED_STRINGS):
            raise InputFileError(
                f"{path}: its shared strings take {part.file_size:,} bytes, more than the "
                f"{MAX_XLSX_SHARED_STRINGS >> 20} MiB this program holds in memory; export "
                "the data as CSV.")
    total = sum(p.file_size for p in parts)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise InputFileError(
            f"{path} decompresses to {total:,} bytes, more than the "
            f"{size_text(MAX_XLSX_UNCOMPRESSED)} a workbook may hold; split it or export it "
            "as CSV.")


def _broken(path: Path, exc: BaseException, where: str = "") -> InputFileError:
    """The sentence for a workbook openpyxl cannot read: damaged zip, malformed XML..."""
    detail = str(exc).strip() or type(exc).__name__
    return InputFileError(f"{path} is not a readable XLSX workbook{where} ({detail[:300]}); "
                          "open it in a spreadsheet program and save it again, or export "
                          "it as CSV.")


_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")


def _uncached_formulas(archive: Any, part: str) -> dict[int, list[tuple[int, str]]]:
    """Cells of the sheet ``part`` holding a formula with no saved result, by row:
    row -> [(column, formula)]. openpyxl's values-only reading shows those cells as
    empty, which would drop what the file holds; the import rejects their rows instead."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    with archive.open(part) as fh:  # a cheap byte scan first: most logs have no formula
        tail = b""
        while chunk := fh.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                break
            tail = chunk[-64:]
        else:
            return {}
    found: dict[int, list[tuple[int, str]]] = {}
    row_number = column = 0
    with archive.open(part) as fh:
        for event, element in iterparse(fh, events=("start", "end")):
            name = element.tag.rpartition("}")[2]
            if event == "start":
                if name == "row":
                    row_number = int(element.get("r") or row_number + 1)
                    column = 0
                continue
            if name == "c":
                ref = element.get("r")
                if ref:
                    row_number, column = coordinate_to_tuple(ref)
                else:
                    column += 1
                children = {child.tag.rpartition("}")[2]: child for child in element}
                formula, value = children.get("f"), children.get("v")
                # No <v>, or an empty one that is not a text result (openpyxl and other
                # writers that do not calculate leave <v></v> behind a formula).
                if formula is not None and (value is None or (
                        not value.text and element.get("t") not in ("str", "s"))):
                    found.setdefault(row_number, []).append(
                        (column, "=" + (formula.text or "")[:200]))
                element.clear()
            elif name == "row":
                element.clear()
    return found


def _open_xlsx(path: Path, size: int, sheet: str | None) -> Source:
    from openpyxl import load_workbook
    from openpyxl.utils.cell import get_column_letter

    _check_workbook_sizes(path)
    # Our own handle, so it is closed even when openpyxl fails half-way through opening.
    fh, _ = open_regular(path)
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl's parsers raise many kinds on damaged files
        fh.close()
        raise _broken(path, exc) from None

    def close() -> None:
        try:
            wb.close()
        finally:
            fh.close()

    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise InputFileError(
                    f"{path} has no sheet named {sheet!r}; it has: {', '.join(wb.sheetnames)}."
                )
            ws = wb[sheet]
        elif not wb.worksheets:
            raise InputFileError(f"{path} holds no worksheet.")
        else:
            ws = wb.worksheets[0]
        try:
            uncached = _uncached_formulas(wb._archive, ws._worksheet_path)
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
        except Exception as exc:
            raise _broken(path, exc, f" (sheet {ws.title!r})") from None
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
        if 1 in uncached:
            raise InputFileError(f"{path}, row 1: a header cell holds a formula with no "
                                 "saved result; recalculate and save the workbook.")
    except BaseException:
        close()
        raise
    state = {"row": 1}
    title = ws.title

    def gen() -> Iterator[RawRow]:
        width = len(columns)
        number = 1
        while True:
            try:
                values = next(rows, None)
            except Exception as exc:
                raise _broken(path, exc, f" (sheet {title!r}, after row {number})") from None
            if values is None:
                return
            number += 1
            state["row"] = number
            if number in uncached:
                col, formula = min(uncached[number])
                head = f" ({columns[col - 1]!r})" if col <= width else ""
                yield (number, None,
                       f"cell {get_column_letter(col)}{number}{head} holds a formula with no "
                       "saved result, so its value is unknown; open the workbook in a "
                       "spreadsheet program, let it recalculate, save it and import again",
                       formula)
                continue
            if all(v is None or v == "" for v in values):
                continue
            extra = values[width:]
            if any(v is not None and v != "" for v in extra):
                yield (number, None, f"the row has values beyond the {width} headed columns",
                       repr(values)[:1000])
                continue
            cells_ = list(values[:width]) + [None] * (width - len(values))
            yield (number, cells_, None, None)

    total_rows = max(ws.max_row or 1, 1)
    src = Source(path, "xlsx", columns, gen(), size)
    src._position = lambda: size * min(state["row"], total_rows) // total_rows
    src._closer = close
    return src
