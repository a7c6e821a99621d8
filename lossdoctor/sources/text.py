"""Reading a log's bytes and text: every OS, size or decoding problem becomes an InputError.

All text readers go through `read_text`, so a zero-byte file, a binary file with a log's
name, a permission problem or a non-UTF-8 file is reported the same way for every format.
Every reader of a log, text or binary, opens it with `open_regular`: only a regular file
is ever read, so a FIFO, socket or device named like a log is an error, never a hang.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

HEAD_BYTES = 64 * 1024  # how much content sniffing looks at

# Bytes that occur in text logs: printable ASCII, common whitespace, and anything >= 0x80
# (UTF-8 or Latin-1). Whatever is left after deleting them is a control byte.
_TEXT_BYTES = bytes([7, 8, 9, 10, 12, 13, 27]) + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


# What a file that is not regular is, as errors name it (lower case: readers lower strerror).
_KINDS = ((stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"))


class NotRegularFile(OSError):
    """A FIFO, socket or device where a log was expected: an OSError, so that every reader's
    `except OSError` reports it as it reports a permission problem."""

    def __init__(self, path: str | os.PathLike, mode: int) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "special file")
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", os.fspath(path))


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a file for reading in binary, only if it is a regular file (after symlinks).

    The open itself must not block: opening a FIFO for reading waits for a writer, so it is
    opened non-blocking, checked with fstat (no race with a swapped path), and only a
    regular file is handed on, switched back to blocking reads. A folder raises
    IsADirectoryError, anything else NotRegularFile.
    """
    mode = os.stat(path).st_mode  # a socket cannot even be opened (ENXIO): name it first
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise NotRegularFile(path, mode)
    nonblock = getattr(os, "O_NONBLOCK", 0)  # Windows has no FIFOs to wait on
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, mode)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def refuse_special(path: str | os.PathLike) -> None:
    """InputError when `path` exists but is neither a regular file nor a folder (a FIFO, a
    socket, a device): what a command that waits for a file to appear checks first."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreachable: the reader says so when it gets there
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputError(path, NotRegularFile(path, mode).strerror)


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read a file's bytes (all, or the first `limit`), turning OS errors into InputError."""
    try:
        with open_regular(path) as handle:
            return handle.read() if limit is None else handle.read(limit)
    except FileNotFoundError:
        raise InputError(path, "no such file or directory") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(path, (exc.strerror or str(exc)).lower()) from None


def looks_binary(head: bytes) -> bool:
    """True for content that is not a text log: NUL bytes or many control bytes."""
    if head.startswith(_UTF16_BOMS):
        return False  # UTF-16 text has NULs in every other byte
    if b"\x00" in head:
        return True
    control = len(head.translate(None, _TEXT_BYTES))
    return control > max(1, len(head) // 20)


def decode(data: bytes, notes: list[str] | None = None) -> str:
    """Decode UTF-8 (BOM stripped) or UTF-16 with BOM; fall back to Latin-1 with a note.

    Latin-1 decodes every byte, so an old Windows log with accented column names is still
    read; the note tells the user where the first non-UTF-8 byte was.
    """
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if notes is not None:
            notes.append(f"not UTF-8 text at byte {exc.start:,}; read as Latin-1")
        return data.decode("latin-1")


def decode_head(head: bytes) -> str:
    """Decode the first bytes of a file for sniffing (a cut multi-byte char is harmless)."""
    if head.startswith(_UTF16_BOMS):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8-sig", errors="replace")


def read_text(path: Path, notes: list[str] | None = None) -> str:
    """Read a whole text log with newlines normalised to '\\n'.

    Raises InputError for an empty or binary file. '\\r\\r\\n' (seen in real Keras logs
    written on Windows) becomes a blank line, which every reader skips.
    """
    data = read_bytes(path)
    if not data:
        raise InputError(path, "empty file")
    if looks_binary(data[:HEAD_BYTES]):
        raise InputError(path, "not a text log (binary content)")
    text = decode(data, notes)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
