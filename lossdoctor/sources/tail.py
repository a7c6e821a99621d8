"""The new bytes of a file that is being written, from where the last read stopped.

`watch` follows logs that grow while it reads them. An append-only log is read from the
byte offset reached so far; the reader takes only whole records (lines, TFRecord frames)
and leaves a torn last one for the next poll. A file that is rewritten instead (a new
inode, a shorter file, or different bytes just before the offset, as when Lightning
rewrites metrics.csv under a new header) is read again from byte 0: `Chunk.fresh` says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .text import open_regular

MAX_CHUNK = 64 << 20  # bytes read per poll: a huge backlog is taken in pieces, memory stays bounded
_PROBE = 64  # bytes before the offset compared at each poll to notice a rewrite


@dataclass(frozen=True)
class Chunk:
    """Bytes from `start`; `fresh`: the file was (re)started, forget what was read from it."""

    data: bytes
    start: int
    fresh: bool


class Tail:
    """One file's read position and the bytes just before it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self._probe = b""
        self._ident: tuple[int, int] | None = None

    def read(self) -> Chunk | None:
        """What is new since the last `advance` (None when nothing is, or the file is gone)."""
        try:
            with open_regular(self.path) as f:
                st = os.fstat(f.fileno())
                ident = (st.st_dev, st.st_ino)
                fresh = self._ident is not None and (ident != self._ident or st.st_size < self.offset
                                                     or not self._same_probe(f))
                if fresh or self._ident is None:
                    self.offset, self._probe, self._ident = 0, b"", ident
                    fresh = True
                if st.st_size <= self.offset:
                    return None
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, MAX_CHUNK))
        except OSError:
            return None  # not there (yet), or between a delete and a rewrite: try again later
        return Chunk(data, self.offset, fresh)

    def advance(self, chunk: Chunk, used: int) -> None:
        """`used` bytes of `chunk` were whole records: the next read starts after them."""
        if used <= 0:
            return
        self.offset = chunk.start + used
        self._probe = (self._probe + chunk.data[:used])[-_PROBE:]

    def _same_probe(self, f) -> bool:  # noqa: ANN001 - an open binary file
        if not self._probe:
            return True
        f.seek(self.offset - len(self._probe))
        return f.read(len(self._probe)) == self._probe
