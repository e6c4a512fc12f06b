"""Turn source values into stored canonical values, or say precisely why not.

A converter is built once per file from the profile (and, for CSV and XLSX, the header
order) and then applied to every row; a bad value raises BadValue naming the field,
the column and the reason. This is the import's hot loop: rows from CSV/XLSX are lists
read by index, vocabulary words are parsed once per distinct value, and JSON text is
produced by the standard library's C encoder.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from json.encoder import encode_basestring
from typing import Any
from zoneinfo import ZoneInfo

from oversight.importing.profile import FieldMapping, MappingProfile
from oversight.records import FieldSpec, FieldType, fields_of

__all__ = ["BadValue", "Row", "RowConverter", "json_value"]

Row = list[Any] | dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_COUNTRY = re.compile(r"[A-Z]{2}")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_END_OF_DAY = time(23, 59, 59, 999999)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_CACHE_LIMIT = 4096


class BadValue(Exception):
    """A value that cannot become its field."""

    def __init__(self, field: str, column: str | None, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.column = column
        self.value = value
        self.reason = reason


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return _encode(value)
    return str(value)


def nfc(text: str) -> str:
    """Text in Unicode's composed form (NFC): "Ö" written as O and a combining diaeresis
    (as some systems write it) is stored as the one character, so identifiers that read
    alike compare alike. ASCII, the usual value, is returned at once."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _id_text(get: Getter) -> Callable[[Row], str | None]:
    def record_id(row: Row) -> str | None:
        raw = get(row)
        return None if raw is None else (nfc(str(raw).strip()) or None)

    return record_id


def json_value(value: Any) -> Any:
    """A source value as it is kept in ``extra`` (JSON-native, dates as ISO text)."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def _cached(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Parse each distinct value once: vocabularies have few distinct values."""
    cache: dict[Any, Any] = {}

    missing = object()

    def lookup(value: Any) -> Any:
        try:
            result = cache.get(value, missing)
        except TypeError:  # unhashable (a JSON list)
            return parse(value)
        if result is missing:
            result = parse(value)  # errors are not cached: each bad row is reported
            if len(cache) < _CACHE_LIMIT:
                cache[value] = result
        return result

    lookup.cache = cache  # type: ignore[attr-defined]  # read by RowConverter._compile
    return lookup


_MISS = object()


Getter = Callable[[Row], Any]
Step = Callable[[Row], Any]


class RowConverter:
    """Converts one source row to the stored column values (storage_columns order)."""

    def __init__(self, profile: MappingProfile, columns: list[str] | None,
                 text_only: bool = False) -> None:
        """``columns`` is the header order when rows are lists; None for dict rows.
        ``text_only`` says every cell is a str (CSV), which shortens the hot loop."""
        self.profile = profile
        self.text_only = text_only
        self.specs = fields_of(profile.kind)
        self.tz: tzinfo = ZoneInfo(profile.timezone)
        #: Fields of the row just converted whose local time was ambiguous (autumn
        #: overlap); the reader takes and clears it after each row.
        self.notes: list[str] = []
        self.missing = frozenset(profile.missing) | frozenset(m.strip() for m in profile.missing)
        self.index = None if columns is None else {c: i for i, c in enumerate(columns)}
        # Only the mapped fields are written (the rest stay NULL), in storage order.
        self.columns: list[str] = []
        self._steps: list[tuple[int, bool, Step]] = []
        for spec in self.specs.values():
            fm = profile.fields.get(spec.name)
            if fm is None:
                continue
            is_ts = spec.type is FieldType.TIMESTAMP
            self._steps.append((len(self.columns), is_ts, self._step(spec, fm)))
            self.columns += [spec.name, f"{spec.name}_utc"] if is_ts else [spec.name]
        self.template: list[Any] = [None] * len(self.columns)
        self.mapped = profile.mapped_columns()
        #: The record id the profile's ``record_id`` mapping gives a row (trimmed, in
        #: the composed form as all text; None when blank), if the profile has one.
        self.record_id_text: Callable[[Row], str | None] | None = (
            None if profile.record_id is None else _id_text(self._getter(profile.record_id))
        )
        self.extra = self._extra_builder(columns)
        #: The compiled equivalent of convert().
        self.fast: Callable[[Row], list[Any]] = self._compile()
        self._keep = None if columns is None else [
            (i, c) for i, c in enumerate(columns) if c not in self.mapped]
        #: Whether fast_row fills the last slot (extra) itself: CSV rows, whose unmapped
        #: cells are text. Otherwise the caller stores ``extra(row)`` there.
        self.row_has_extra = text_only and self._keep is not None
        #: What the import loop calls: the whole stored row as a list, [batch_id, line,
        #: record_id, *fast(row), extra], with the first three left None for the caller
        #: to fill (and extra too unless ``row_has_extra``); raises BadValue as fast does.
        self.fast_row: Callable[[Row], list[Any]] = self._compile(whole_row=True)

    # -- reading a raw value -----------------------------------------------------------

    def _getter(self, fm: FieldMapping) -> Getter:
        missing = self.missing
        mapping = fm.map
        index = self.index
        if not fm.columns:
            const = fm.value
            return lambda row: const

        def clean(v: Any) -> Any:
            if v is None:
                return None
            if v.__class__ is str and v in missing:
                return None
            if mapping is not None:
                key = v if v.__class__ is str else _text(v)
                if key in mapping:
                    return mapping[key]
                if key.strip() in mapping:
                    return mapping[key.strip()]
            return v

        if len(fm.columns) == 1:
            col = fm.columns[0]
            if index is not None:
                i = index[col]
                if mapping is None:
                    def by_index(row: Row) -> Any:
                        v = row[i]  # type: ignore[index]
                        if v is None or (v.__class__ is str and v in missing):
                            return None
                        return v
                    return by_index
                return lambda row: clean(row[i])  # type: ignore[index]
            return lambda row: clean(row.get(col))  # type: ignore[union-attr]
        cols = fm.columns
        joiner = fm.join
        positions = None if index is None else [index[c] for c in cols]

        def many(row: Row) -> Any:
            values = ([row[i] for i in positions] if positions is not None  # type: ignore[index]
                      else [row.get(c) for c in cols])  # type: ignore[union-attr]
            parts = [_text(v) for v in values
                     if v is not None and not (v.__class__ is str and v in missing)]
            if not parts:
                return None
            return clean(joiner.join(parts))

        return many

    # -- per type ----------------------------------------------------------------------

    def _step(self, spec: FieldSpec, fm: FieldMapping) -> Step:
        name = spec.name
        get = self._getter(fm)
        column = ", ".join(fm.columns) if fm.columns else None
        if spec.type is FieldType.TEXT:
            def text_step(row: Row) -> Any:
                raw = get(row)
                return None if raw is None else nfc(raw if raw.__class__ is str else _text(raw))
            return text_step
        parse = self._parser(spec, fm)

        def step(row: Row) -> Any:
            raw = get(row)
            if raw is None:
                return None
            try:
                return parse(raw)
            except (ValueError, TypeError, OverflowError) as exc:
                raise BadValue(name, column, raw, str(exc)) from None

        return step

    def _parser(self, spec: FieldSpec, fm: FieldMapping) -> Callable[[Any], Any]:
        t = spec.type
        if t is FieldType.WORD:
            return _cached(_word_parser(spec))
        if t is FieldType.INT:
            return _int
        if t is FieldType.BOOL:
            return _cached(_bool)
        if t is FieldType.COUNTRY:
            return _cached(_country)
        if t is FieldType.LIST:
            return _cached(_list_parser(fm.split if fm.split is not None else ";"))
        return _timestamp_parser(fm.format, self.tz, spec.end_of_day, self.profile.timezone,
                                 spec.name, self.notes)

    # -- rows --------------------------------------------------------------------------

    def _compile(self, whole_row: bool = False) -> Callable[[Row], list[Any]]:
        """Generate one straight-line function for this profile: the hot loop then makes
        one Python call per row instead of two per field. Same results as the
        step-by-step convert (a test compares them); BadValue makes callers fall back
        to convert_all, which uses the steps to list every bad value of the row.
        ``whole_row``: return the stored row (see fast_row) rather than the fields."""
        env: dict[str, Any] = {"BadValue": BadValue, "_text": _text, "M": self.missing,
                               "MISS": _MISS, "E": encode_basestring,
                               "FROMISO": datetime.fromisoformat, "CANONICAL": _is_canonical,
                               "EPOCH": _EPOCH, "US": _US, "NFC": nfc}
        lines = ["def convert(row):"]
        slots = ["None"] * len(self.template)
        for n, spec in enumerate(self.specs.values()):
            fm = self.profile.fields.get(spec.name)
            if fm is None:
                continue
            pos = self.columns.index(spec.name)
            simple = len(fm.columns) == 1 and fm.map is None
            if simple and self.index is not None:
                fetch = f"row[{self.index[fm.columns[0]]}]"
            elif simple:
                env[f"k{n}"] = fm.columns[0]
                fetch = f"row.get(k{n})"
            else:
                env[f"g{n}"] = self._getter(fm)
                fetch = f"g{n}(row)"
            lines.append(f"    v = {fetch}")
            text = self.text_only and fetch.startswith("row[")  # CSV cells are always text
            if text:
                lines.append("    if v in M:")
            else:
                lines.append("    if v is None or (v.__class__ is str and v in M):")
            is_ts = spec.type is FieldType.TIMESTAMP
            # A timestamp fills two slots: its text as stored and UTC microseconds.
            target = f"f{n}, u{n}" if is_ts else f"f{n}"
            lines.append(f"        {'f{n} = u{n} = None' if is_ts else f'f{n} = None'}"
                         .replace("{n}", str(n)))
            lines.append("    else:")
            if spec.type is FieldType.TEXT:
                lines.append(f"        f{n} = v if v.__class__ is str else _text(v)")
                lines.append(f"        if not f{n}.isascii():")
                lines.append(f"            f{n} = NFC(f{n})")
            elif is_ts and text and fm.format is None:
                # The usual cell, ISO 8601 with an offset exactly as isoformat() writes
                # it, is stored as it is: what _timestamp_parser does, without a call.
                env[f"p{n}"] = self._parser(spec, fm)
                env[f"n{n}"] = spec.name
                env[f"c{n}"] = ", ".join(fm.columns) if fm.columns else None
                lines += [
                    "        try:",
                    "            d = FROMISO(v)",
                    "        except ValueError:",
                    "            d = None",
                    "        if d is not None and d.tzinfo is not None and CANONICAL(v):",
                    f"            f{n} = v",
                    f"            u{n} = (d - EPOCH) // US",
                    "        else:",
                    "            try:",
                    f"                {target} = p{n}(v)",
                    "            except (ValueError, TypeError, OverflowError) as exc:",
                    f"                raise BadValue(n{n}, c{n}, v, str(exc)) from None",
                ]
            else:
                parse = env[f"p{n}"] = self._parser(spec, fm)
                env[f"n{n}"] = spec.name
                env[f"c{n}"] = ", ".join(fm.columns) if fm.columns else None
                cache = getattr(parse, "cache", None)
                indent = "        "
                if cache is not None:
                    # A value parsed before is looked up in the parser's own cache with
                    # one C call; a new one (or an unhashable one) goes to the parser.
                    env[f"q{n}"] = cache.get
                    lines += [
                        "        try:",
                        f"            f{n} = q{n}(v, MISS)",
                        "        except TypeError:",
                        f"            f{n} = MISS",
                        f"        if f{n} is MISS:",
                    ]
                    indent += "    "
                lines += [
                    f"{indent}try:",
                    f"{indent}    {target} = p{n}(v)",
                    f"{indent}except (ValueError, TypeError, OverflowError) as exc:",
                    f"{indent}    raise BadValue(n{n}, c{n}, v, str(exc)) from None",
                ]
            if is_ts:
                slots[pos], slots[pos + 1] = f"f{n}", f"u{n}"
            else:
                slots[pos] = f"f{n}"
        if whole_row:
            extra = "None"
            if self.row_has_extra:
                # The same text as _extra_builder's from_text, as one expression.
                assert self._keep is not None
                parts = []
                for j, (i, name) in enumerate(self._keep):
                    env[f"K{j}"] = ("," if j else "{") + encode_basestring(name) + ":"
                    parts.append(f'K{j} + ("null" if row[{i}] in M else E(row[{i}]))')
                extra = " + ".join(parts) + ' + "}"' if parts else '"{}"'
            slots = ["None", "None", "None", *slots, extra]
        lines.append(f"    return [{', '.join(slots)}]")
        exec(compile("\n".join(lines), f"<convert {self.profile.kind.value}>", "exec"), env)
        fn: Callable[[Row], list[Any]] = env["convert"]
        return fn

    def convert(self, row: Row) -> list[Any]:
        """Values of ``self.columns`` (the mapped fields); raises BadValue.

        The step-by-step reference for ``fast`` (a test checks they agree)."""
        out = self.template.copy()
        for pos, is_ts, step in self._steps:
            if is_ts:
                value = step(row)
                if value is not None:
                    out[pos], out[pos + 1] = value
            else:
                out[pos] = step(row)
        return out

    def convert_all(self, row: Row) -> tuple[list[Any], list[BadValue]]:
        """Like convert, but collects every bad value of the row."""
        try:
            return self.fast(row), []
        except BadValue:
            pass
        out = self.template.copy()
        bad: list[BadValue] = []
        for pos, is_ts, step in self._steps:
            try:
                value = step(row)
            except BadValue as exc:
                bad.append(exc)
                continue
            if is_ts:
                if value is not None:
                    out[pos], out[pos + 1] = value
            else:
                out[pos] = value
        return out, bad

    def _extra_builder(self, columns: list[str] | None) -> Callable[[Row], str]:
        """Columns not mapped, kept under their headers. The profile's missing markers
        apply here too: a marker becomes null, so blank(`Column`) sees it as blank."""
        mapped = self.mapped
        missing = self.missing
        if columns is None:
            def from_dict(row: Row) -> str:
                return _encode({k: (None if v.__class__ is str and v in missing
                                    else json_value(v))
                                for k, v in row.items()  # type: ignore[union-attr]
                                if k not in mapped})
            return from_dict
        keep = [(i, encode_basestring(c) + ":") for i, c in enumerate(columns) if c not in mapped]
        if self.text_only:
            def from_text(row: Row) -> str:
                return "{" + ",".join([
                    key + ("null" if row[i] in missing  # type: ignore[index]
                           else encode_basestring(row[i]))  # type: ignore[index]
                    for i, key in keep]) + "}"
            return from_text

        def from_list(row: Row) -> str:
            parts = []
            for i, key in keep:
                v = row[i]  # type: ignore[index]
                if v.__class__ is str:
                    parts.append(key + ("null" if v in missing else encode_basestring(v)))
                else:
                    parts.append(key + _encode(json_value(v)))
            return "{" + ",".join(parts) + "}"

        return from_list


def _word_parser(spec: FieldSpec) -> Callable[[Any], str | None]:
    choices = spec.choices

    def word(value: Any) -> str | None:
        text = nfc(_text(value)).strip().lower().replace(" ", "_").replace("-", "_")
        if not text:
            return None
        if choices is not None and text not in choices:
            allowed = ", ".join(sorted(choices))
            raise ValueError(
                f"{text!r} is not one of the allowed words ({allowed}); "
                "map source values to these words in the profile"
            )
        return text

    return word


def _int(value: Any) -> int | None:
    if value.__class__ is str:
        try:
            return int(value)  # the common case: a plain number in a CSV cell
        except ValueError:
            pass
    elif value.__class__ is int:
        return int(value)
    if isinstance(value, bool):
        raise ValueError("expected a whole number, found true/false")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected a whole number, found {value}")
    text = _text(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise ValueError(f"expected a whole number, found {text!r}") from None
        if f.is_integer():
            return int(f)
        raise ValueError(f"expected a whole number, found {text!r}") from None


def _bool(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    text = _text(value).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    raise ValueError(
        f"expected true/false (or yes/no, 1/0), found {text!r}; map other words in the profile"
    )


def _country(value: Any) -> str | None:
    text = _text(value).strip().upper()
    if not text:
        return None
    if not _COUNTRY.fullmatch(text):
        hint = " (use GB for the United Kingdom)" if text == "UK" else ""
        raise ValueError(f"{text!r} is not an ISO 3166-1 alpha-2 country code{hint}")
    return text


def _list_parser(sep: str) -> Callable[[Any], str | None]:
    """Lists are split, trimmed and stored as JSON arrays. Plain lists (no blanks, no
    characters JSON must escape) take a fast path of two C-level string calls."""
    if not sep:
        return lambda v: _list(v, sep)
    s = re.escape(sep)
    careful = re.compile(rf'[\\"\x00-\x1f]|^\s|\s$|\s{s}|{s}\s|^{s}|{s}$|{s}{s}')
    quoted = '","'
    if len(sep) == 1:
        # The same test for the usual one-character separator, with the two ends looked
        # at directly: a pattern that has no alternative anchored at ^ or $ is searched
        # much faster (a test compares both with the careful path on any text).
        inner = re.compile(rf'[\\"\x00-\x1f]|\s{s}|{s}[\s{s}]').search

        def parse_one(value: Any) -> str | None:
            if value.__class__ is str and not value.isascii():
                value = nfc(value)
            if (value.__class__ is str and value and not inner(value)
                    and not value[0].isspace() and not value[-1].isspace()
                    and value[0] != sep and value[-1] != sep):
                return '["' + value.replace(sep, quoted) + '"]'
            return _list(value, sep)

        return parse_one

    def parse(value: Any) -> str | None:
        if value.__class__ is str and not value.isascii():
            value = nfc(value)
        if value.__class__ is str and value and not careful.search(value):
            return '["' + value.replace(sep, quoted) + '"]'
        return _list(value, sep)

    return parse


def _list(value: Any, sep: str) -> str | None:
    if isinstance(value, list):
        items = [_text(v).strip() for v in value if v is not None]
    elif sep and sep in value:
        items = [p.strip() for p in _text(value).split(sep)]
    else:
        items = [_text(value).strip()]
    items = [nfc(i) for i in items if i]
    if not items:
        return None
    return "[" + ",".join(map(encode_basestring, items)) + "]"


def _is_canonical(text: str) -> bool:
    """True for 'YYYY-MM-DDTHH:MM:SS+HH:MM' and the same with '.ffffff' seconds: the
    exact form datetime.isoformat() writes, so the text can be stored as it is."""
    n = len(text)
    if n == 25:
        return text[10] == "T" and text[19] in "+-" and text[22] == ":"
    if n == 32:
        return text[10] == "T" and text[19] == "." and text[26] in "+-" and text[29] == ":"
    return False


_LONG_FRACTION = re.compile(r"(?<=[.,])(\d{6})\d+")


def _localise(tz: tzinfo, tz_name: str, field: str, notes: list[str]
              ) -> Callable[[datetime], datetime]:
    """Give a naive local time its zone: a time inside a spring-forward gap never
    happened (ValueError, so the row is rejected); one inside an autumn overlap happened
    twice and takes the earlier offset (fold 0), noted in ``notes`` for the warning."""
    def localise(dt: datetime) -> datetime:
        aware = dt.replace(tzinfo=tz, fold=0)
        first = aware.utcoffset()
        if first == aware.replace(fold=1).utcoffset():
            return aware  # the usual case: one offset, nothing to say
        back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0)
        if back != dt.replace(fold=0):
            clock = f"{dt:%H:%M}" if not (dt.second or dt.microsecond) else f"{dt:%H:%M:%S}"
            raise ValueError(f"local time {clock} does not exist on {dt:%Y-%m-%d} in "
                             f"{tz_name} (clocks moved forward)")
        notes.append(field)
        return aware

    return localise


def _timestamp_parser(
    fmt: str | None, tz: tzinfo, end_of_day: bool, tz_name: str = "UTC", field: str = "",
    notes: list[str] | None = None,
) -> Callable[[Any], tuple[str, int]]:
    fmt_has_time = fmt is not None and any(
        d in fmt for d in ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R"))
    localise = _localise(tz, tz_name, field, notes if notes is not None else [])
    fraction = fmt is not None and "%f" in fmt

    def finish(dt: datetime) -> tuple[str, int]:
        if dt.tzinfo is None:
            dt = localise(dt)
        return dt.isoformat(), (dt - _EPOCH) // _US

    def strptime(text: str) -> datetime:
        assert fmt is not None
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
        # %f reads at most 6 digits; SQL Server's datetime2 writes 7. Cut the digits
        # beyond the microsecond (never round: 59.9999999 stays in its second).
        if fraction:
            cut = _LONG_FRACTION.sub(r"\1", text)
            if cut != text:
                try:
                    return datetime.strptime(cut, fmt)
                except ValueError:
                    pass
        hint = ""
        try:
            datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            hint = ("; it looks like ISO 8601, which the import reads by itself: leave "
                    "format out of the profile")
        raise ValueError(f"{text!r} does not match the format {fmt!r}{hint}")

    def parse(value: Any) -> tuple[str, int]:
        if isinstance(value, datetime):
            return finish(value)
        if isinstance(value, date):
            return finish(datetime.combine(value, _END_OF_DAY if end_of_day else time()))
        text = _text(value).strip()
        if fmt is not None:
            dt = strptime(text)
            if end_of_day and not fmt_has_time:
                dt = datetime.combine(dt.date(), _END_OF_DAY, dt.tzinfo)
            return finish(dt)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not an ISO 8601 date/time; give its format in the profile "
                "(for example format: \"%d.%m.%Y %H:%M\")"
            ) from None
        if _is_canonical(text) and dt.tzinfo is not None:
            return text, (dt - _EPOCH) // _US  # already what isoformat() would write
        if end_of_day and len(text) <= 10:
            dt = datetime.combine(dt.date(), _END_OF_DAY)
        return finish(dt)

    return parse
