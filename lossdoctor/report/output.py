"""Where a report is written: standard output or `--output FILE`, as a stream whose every
write error is an OutputError naming it (exit 6), never a traceback.

A full disk (ENOSPC, `/dev/full`), an I/O error, a closed stdout or a `--output` whose
folder is missing all end the same way: one line on stderr, exit code OUTPUT. A reader
that went away (EPIPE: `lossdoctor ... | head`) is left a BrokenPipeError, which the CLI
answers quietly with 141.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO

from ..errors import OutputError

STDOUT = "standard output"


class GuardedStream(io.TextIOBase):
    """A text stream (or None: a closed stdout) whose OSErrors become OutputErrors."""

    def __init__(self, inner: TextIO | None, where: str) -> None:
        super().__init__()
        self.inner = inner
        self.where = where

    def _call(self, name: str, *args: Any) -> Any:
        if self.inner is None:
            raise OutputError(self.where, "cannot write the report: it is closed")
        try:
            return getattr(self.inner, name)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError.of(self.where, exc) from None

    def write(self, text: str) -> int:  # type: ignore[override]
        return self._call("write", text)

    def flush(self) -> None:
        if self.inner is not None and not self.inner.closed:
            self._call("flush")

    def close(self) -> None:
        try:
            if self.inner is not None and not self.inner.closed:
                self._call("close")  # flushes: a full disk may say so only here
        finally:
            super().close()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner is not None and self.inner.isatty()

    def fileno(self) -> int:
        if self.inner is None:
            raise io.UnsupportedOperation("closed standard output")
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)


def open_output(path: str) -> GuardedStream:
    """`--output PATH` opened for the report (`-`: standard output); OutputError when it cannot be."""
    if path == "-":
        return GuardedStream(sys.stdout, STDOUT)
    where = f"--output {path}"
    try:
        return GuardedStream(open(path, "w", encoding="utf-8"), where)
    except OSError as exc:
        raise OutputError(where, f"cannot write the report: {(exc.strerror or str(exc)).lower()}") from None


def silence_stdout() -> None:
    """Point fd 1 at /dev/null, so that the interpreter's final flush of what could not be
    written does not fail again (and turn the exit code into 120)."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass
