"""Opening files a user names, without being stalled or misled by what they are.

A FIFO blocks ``open()`` until some writer appears, a device never ends, a socket
cannot be read: so a path is opened without blocking (``O_NONBLOCK``), and only then,
on the open file itself, checked to be a regular file. A symbolic link is followed,
and the caller is told the real path so it can record both names.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from oversight.errors import InputFileError, UsageError

__all__ = ["RegularFile", "check_output_path", "kind_of", "open_regular", "read_capped",
           "size_text"]

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _not_regular(shown: str, mode: int) -> InputFileError:
    return InputFileError(f"{shown} is {kind_of(mode)}, not a regular file; only regular "
                          "files are read (copy the data into a file first).")


@dataclass(frozen=True)
class RegularFile:
    """A path checked to be a regular file, with the file it really is."""

    path: Path
    """The name as given."""
    resolved: Path
    """The real path (symbolic links followed); equal to the absolute ``path`` if none."""
    size: int

    @property
    def via_link(self) -> bool:
        """The name given is, or passes through, a symbolic link."""
        return self.resolved != Path(os.path.abspath(self.path))


def open_regular(path: Path, what: str = "") -> tuple[BinaryIO, RegularFile]:
    """Open ``path`` for reading if it is a regular file; else a sentence saying what it is.

    ``what`` names the file in messages (e.g. "The criteria pack "); the path follows.
    Never blocks: a FIFO with no writer is opened non-blocking and refused."""
    path = Path(path)
    shown = f"{what}{path}"
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _BINARY)
    except FileNotFoundError:
        raise InputFileError(f"{shown}: no such file.") from None
    except IsADirectoryError:
        raise InputFileError(f"{shown} is a folder, not a file.") from None
    except OSError as exc:
        try:  # a socket cannot be opened at all (ENXIO): say what it is
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise _not_regular(shown, mode) from None
        raise InputFileError(f"{shown} cannot be read: {exc.strerror}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(shown, st.st_mode)
        if _NONBLOCK:
            import fcntl  # POSIX only, like O_NONBLOCK itself

            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~_NONBLOCK)
        info = RegularFile(path, Path(os.path.realpath(path)), st.st_size)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return fh, info


def read_capped(path: Path, limit: int, what: str) -> bytes:
    """The bytes of regular file ``path``, refused with a sentence above ``limit`` bytes.

    ``what`` is the kind of file in words ("criteria pack"); messages say which cap."""
    fh, info = open_regular(path, f"The {what} ")
    with fh:
        if info.size > limit:
            raise InputFileError(
                f"The {what} {path} is {info.size:,} bytes; a {what} may be at most "
                f"{size_text(limit)} ({limit:,} bytes).")
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew since fstat
        raise InputFileError(f"The {what} {path} is larger than {size_text(limit)}, the most a "
                             f"{what} may be.")
    return data


def size_text(n: int) -> str:
    """A byte count in words: '1 MiB', else with thousands separators."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"


def check_output_path(path: Path, force: bool, what: str = "file") -> None:
    """Refuse, before any work starts, an output path that names a folder, a symbolic
    link or something other than a regular file, or an existing file without ``force``.

    The file is later written by an atomic rename, which replaces the name and never
    follows a link; refusing links here means nobody is surprised by that."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"The {what} {path} cannot be checked: {exc.strerror}.") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise UsageError(
                f"The {what} {path} is a symbolic link; name the real file "
                f"({os.path.realpath(path)}) or a new one, so that nothing is written "
                "somewhere you did not name.")
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"The {what} {path} is a folder; name a file to write, for "
                             f"example {path / ('out' + path.suffix if path.suffix else 'out')}.")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"The {what} {path} is {kind_of(st.st_mode)}; name a regular "
                             "file to write.")
        if not force:
            raise UsageError(f"The {what} {path} already exists; give --force to replace "
                             "it, or choose another name.")
    if not path.parent.is_dir():
        raise UsageError(f"The folder {path.parent} does not exist.")
