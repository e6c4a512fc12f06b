"""The workspace timezone, and periods (days, months, quarters) read in it.

Indicators count operations per month and take ``--from``/``--to`` as days; both mean
local days and months of one zone, the workspace's: an IANA name kept in
``workspace_meta['timezone']`` (default ``UTC``), changed by an admin with the audit
event ``settings.timezone`` ``{"from", "to"}`` (the chain alone says which zone was in
force when). Month boundaries follow the zone's rules, daylight saving included: March
in Europe/Berlin starts at 23:00 UTC on the last day of February.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from oversight.changes import Change, changes
from oversight.errors import UsageError
from oversight.workspace import Permission, Workspace

__all__ = ["DEFAULT_TIMEZONE", "Period", "day_bounds", "local_month_of", "month_bounds",
           "month_index", "month_label", "month_starts", "parse_day", "parse_period",
           "quarter_label", "set_timezone", "workspace_timezone", "zone"]

DEFAULT_TIMEZONE = "UTC"
_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def workspace_timezone(ws: Workspace) -> str:
    """The workspace's zone name (``UTC`` until an admin sets one)."""
    row = ws.conn.execute("SELECT value FROM workspace_meta WHERE key = 'timezone'").fetchone()
    return str(row[0]) if row else DEFAULT_TIMEZONE


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {DEFAULT_TIMEZONE}


@changes(Change.SETTINGS)
def set_timezone(ws: Workspace, name: str) -> str:
    """Set the workspace timezone (admins); returns the zone now in force."""
    ws.require(Permission.CONFIGURE)
    wanted = name.strip()
    if wanted not in _known_zones():
        raise UsageError(f"{name!r} is not a timezone name; use an IANA name such as "
                         "Europe/Berlin, Europe/London or UTC.")
    old = workspace_timezone(ws)
    if wanted == old:
        return old
    stored = ws.conn.execute("SELECT value FROM workspace_meta WHERE key = 'timezone'"
                             ).fetchone()
    with ws.write() as conn:
        conn.execute("INSERT INTO workspace_meta(key, value) VALUES ('timezone', ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (wanted,))
        # "from" is what was stored (None: never set, so the default was in force), as
        # verify replays settings from the chain (oversight.accountability).
        ws.record("settings.timezone", {"from": None if stored is None else str(stored[0]),
                                        "to": wanted})
    return wanted


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of a stored name (validated when it was set)."""
    try:
        return ZoneInfo(name)
    except (ValueError, OSError):
        raise UsageError(f"The workspace timezone {name!r} is not known on this computer; "
                         "an admin can set another with `oversight timezone`.") from None


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    """UTC microseconds of the first instant of ``day`` in ``tz``. Where midnight falls
    in a daylight-saving gap (clocks jump from 00:00 to 01:00), ``fold=0`` reads it with
    the offset before the jump, which is exactly the instant the day starts; where it
    happens twice, ``fold=0`` is the first time."""
    return _micros(datetime.combine(day, time(0), tz).astimezone(UTC))


def day_bounds(first: date | None, last: date | None, tz: ZoneInfo
               ) -> tuple[int | None, int | None]:
    """[start, end) in UTC microseconds covering local days ``first`` to ``last``
    inclusive (None: open on that side, also for days at the ends of the calendar)."""
    lo = hi = None
    if first is not None:
        try:
            lo = _local_midnight(first, tz)
        except OverflowError:  # 0001-01-01 east of UTC: nothing stored is earlier
            lo = None
    if last is not None:
        try:
            hi = _local_midnight(last + timedelta(days=1), tz)
        except OverflowError:  # 9999-12-31: nothing stored is later
            hi = None
    return lo, hi


def month_index(year: int, month: int) -> int:
    """Months since January of year 0: orders and labels months in one integer."""
    return year * 12 + month - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def quarter_label(index: int) -> str:
    """The quarter of a month index, e.g. ``2025-Q1``."""
    return f"{index // 12:04d}-Q{index % 12 // 3 + 1}"


def month_starts(first_year: int, last_year: int, tz: ZoneInfo) -> list[tuple[int, int]]:
    """(UTC microseconds at which the month starts in ``tz``, month index) for every
    month from January ``first_year`` to January ``last_year + 1`` inclusive."""
    out = []
    for year in range(first_year, last_year + 1):
        for month in range(1, 13):
            out.append((_local_midnight(date(year, month, 1), tz), month_index(year, month)))
    out.append((_local_midnight(date(last_year + 1, 1, 1), tz), month_index(last_year + 1, 1)))
    return out


def month_bounds(index: int, tz: ZoneInfo) -> tuple[int | None, int | None]:
    """[start, end) of a month (by index) in UTC microseconds; None past the calendar."""
    ends: list[int | None] = []
    for i in (index, index + 1):
        year, month0 = divmod(i, 12)
        try:
            ends.append(_local_midnight(date(year, month0 + 1, 1), tz))
        except (ValueError, OverflowError):
            ends.append(None)
    return ends[0], ends[1]


def local_month_of(micros: int, tz: ZoneInfo) -> int | None:
    """The month index of an instant (UTC microseconds) in ``tz`` (None beyond the
    calendar Python can hold)."""
    try:
        moment = (_EPOCH + timedelta(microseconds=micros)).astimezone(tz)
    except (OverflowError, ValueError):
        return None
    return month_index(moment.year, moment.month)


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a date such as 2026-03-31.") from None


class Period:
    """A span of local days, both ends inclusive."""

    def __init__(self, first: date, last: date, text: str) -> None:
        if last < first:
            raise UsageError(f"The period {text!r} ends ({last}) before it starts ({first}).")
        self.first = first
        self.last = last
        self.text = text

    def to_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    def __repr__(self) -> str:
        return f"Period({self.first}, {self.last})"


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")
_RANGE = re.compile(r"(\S+)\s*\.\.\s*(\S+)")


def parse_period(text: str) -> Period:
    """``2025-03``, ``2025-Q1`` or ``2025-01-01..2025-12-31``. (A bare ``2025`` is not a
    period: next to ``--compare-to RUN_ID`` it would read as run 2025.)"""
    raw = text.strip()
    try:
        if m := _MONTH.fullmatch(raw):
            year, month = int(m.group(1)), int(m.group(2))
            first = date(year, month, 1)
            nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return Period(first, nxt - timedelta(days=1), raw)
        if m := _QUARTER.fullmatch(raw):
            year, q = int(m.group(1)), int(m.group(2))
            first = date(year, 3 * q - 2, 1)
            nxt = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
            return Period(first, nxt - timedelta(days=1), raw)
    except ValueError:
        pass  # a month 13, or year 9999's December + 1: said below
    else:
        if m := _RANGE.fullmatch(raw):
            return Period(parse_day(m.group(1), "The first day of the period"),
                          parse_day(m.group(2), "The last day of the period"), raw)
    raise UsageError(f"{text!r} is not a period: give a month (2025-03), a quarter "
                     "(2025-Q1) or two days (2025-01-01..2025-12-31 for a year).")
