"""The framing of a W&B transaction log (`run-<id>.wandb`), walked with numpy.

The file is a LevelDB log with a W&B header: 7 bytes `:W&B`, magic 0xBEE1 (little-endian),
version 0; then 32 KiB blocks (the first one 7 bytes short) of chunks. A chunk is a
4-byte checksum, a 2-byte little-endian length, a 1-byte type (1 FULL, 2 FIRST, 3 MIDDLE,
4 LAST) and the payload. W&B's checksum is the standard CRC-32 (zlib's, not LevelDB's
masked CRC-32C) of the type byte and the payload. Chunks never cross a block; fewer than
7 bytes left at the end of a block are zero padding. A record bigger than a block is a
FIRST chunk that fills its block, MIDDLE chunks that fill theirs, and a LAST chunk.

Walking chunks is sequential by nature, so, as for TFRecords (`tfrecord`), every position
that *could* hold a FULL chunk (type 1, payload starting with 0x08 = Record.num, length
fitting its block) is found at once, and runs of such candidates that chain end to start
are taken whole; anything else (a FIRST/MIDDLE/LAST chunk, a record without `num`,
padding, a damaged or unfinished tail) is walked one chunk at a time in Python, which
checks everything, checksum included. A run that starts where a chunk is known to start
holds only real chunks, so a payload that happens to look like a header costs time only.
Checksums of the chunks taken in runs are checked by the caller for the records it uses.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

BLOCK = 32768
HEADER = 7  # both the file header and each chunk header are 7 bytes
MAGIC = b":W&B\xe1\xbe"
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
SEGMENT = 2048 * BLOCK  # 64 MiB read and walked at a time
PAD = 256  # zero bytes after a segment so that fixed-width reads (keys, values) stay in bounds
SEEDS = [zlib.crc32(bytes([t])) for t in range(5)]  # the CRC of each type byte, to continue from


def is_wandb_log(head: bytes) -> bool:
    """True when the bytes start with the W&B transaction-log header."""
    return head[:6] == MAGIC


class LogError(Exception):
    """The framing is broken before the end of the file: `offset` is the bad chunk."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(problem)
        self.offset = offset


@dataclass
class Segment:
    """The whole records of one stretch of the file. `data`: its bytes (zero-padded);
    `starts`/`lengths`: payloads of FULL chunks (local offsets, in file order), `checked`:
    whether each one's checksum was already checked; `big`: records of several chunks, as
    (file offset of their first chunk, payload), checked."""

    data: np.ndarray
    base: int
    starts: np.ndarray
    lengths: np.ndarray
    checked: np.ndarray
    big: list[tuple[int, bytes]] = field(default_factory=list)


class Walker:
    """Walks the chunks of one file segment by segment; keeps a record split across
    segments and the notes about the file's tail."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.notes: list[str] = []
        self.pending: tuple[int, list[bytes]] | None = None  # an unfinished FIRST..MIDDLE record

    def segments(self, f: BinaryIO) -> Iterator[Segment]:
        """Every segment's whole records, in file order."""
        head = f.read(HEADER)
        if len(head) < HEADER or not is_wandb_log(head):
            raise LogError(0, "not a W&B run file (no ':W&B' header)")
        if head[6] != 0:
            raise LogError(0, f"unsupported W&B run file version {head[6]}")
        for base in range(0, self.size, SEGMENT):
            n = min(SEGMENT, self.size - base)
            data = np.zeros(n + PAD, np.uint8)
            f.seek(base)
            got = f.readinto(memoryview(data)[:n]) or 0
            if got < n:  # the file shrank while we read it
                self.size, n = base + got, got
            yield self._walk(data, base, n)
            if got < SEGMENT:
                break
        if self.pending is not None:
            self.notes.append(f"ignored a truncated last record at byte {self.pending[0]:,}")

    def _walk(self, data: np.ndarray, base: int, n: int) -> Segment:
        """All chunks of one segment (its start is a block start): runs, then one by one."""
        heads, nxt = _candidates(data, base, n)
        breaks = np.flatnonzero(nxt[:-1] != heads[1:])
        runs: list[np.ndarray] = []
        single: list[int] = []
        seg = Segment(data, base, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool))
        pos = HEADER if base == 0 else 0
        while pos < n:
            j = int(np.searchsorted(heads, pos))
            if self.pending is None and j < heads.size and heads[j] == pos:
                b = int(np.searchsorted(breaks, j))
                k = int(breaks[b]) if b < breaks.size else heads.size - 1
                runs.append(heads[j : k + 1])
                pos = int(nxt[k])
                continue
            pos = self._one(data, base, n, pos, heads, seg, single)
        starts = np.concatenate(runs + [np.array(single, np.int64)]) + HEADER
        order = np.argsort(starts, kind="stable")
        seg.starts = starts[order]
        seg.lengths = (data[seg.starts - 3].astype(np.int64) | (data[seg.starts - 2].astype(np.int64) << 8))
        seg.checked = np.concatenate([np.zeros(starts.size - len(single), bool), np.ones(len(single), bool)])[order]
        return seg

    def _one(self, data: np.ndarray, base: int, n: int, pos: int, heads: np.ndarray,
             seg: Segment, single: list[int]) -> int:
        """Read the chunk at `pos` the careful way; return where the next one starts."""
        at, room = base + pos, BLOCK - (base + pos) % BLOCK
        if room < HEADER:  # block padding
            return pos + room
        if n - pos < HEADER or not data[pos : pos + HEADER].any():
            return self._blank(data, base, n, pos)
        crc = int.from_bytes(data[pos : pos + 4].tobytes(), "little")
        length = int(data[pos + 4]) | int(data[pos + 5]) << 8
        kind = int(data[pos + 6])
        later = bool(heads.size and heads[-1] > pos) or base + n < self.size
        if kind not in (FULL, FIRST, MIDDLE, LAST) or length > room - HEADER:
            return self._bad(at, later, f"corrupt chunk at byte {at:,} (type {kind}, length {length})")
        if pos + HEADER + length > n:
            return self._bad(at, later, f"truncated chunk at byte {at:,}")
        payload = data[pos + HEADER : pos + HEADER + length].tobytes()
        if zlib.crc32(payload, SEEDS[kind]) != crc:
            return self._bad(at, later, f"corrupt record at byte {at:,} (checksum mismatch)")
        self._take(kind, at, pos, payload, seg, single)
        end = pos + HEADER + length
        return end if BLOCK - (base + end) % BLOCK >= HEADER else end + BLOCK - (base + end) % BLOCK

    def _take(self, kind: int, at: int, pos: int, payload: bytes, seg: Segment, single: list[int]) -> None:
        """File one good chunk: a whole record, or a piece of a big one."""
        if (kind in (FULL, FIRST)) != (self.pending is None):
            what = "a record broken off" if self.pending is not None else "a stray continuation chunk"
            raise LogError(at, f"corrupt log at byte {at:,} ({what})")
        if kind == FULL:
            single.append(pos)
        elif kind == FIRST:
            self.pending = (at, [payload])
        else:
            assert self.pending is not None
            self.pending[1].append(payload)
            if kind == LAST:
                seg.big.append((self.pending[0], b"".join(self.pending[1])))
                self.pending = None

    def _blank(self, data: np.ndarray, base: int, n: int, pos: int) -> int:
        """Zero bytes where a chunk should be: the unwritten end of a file still being
        written (a note), or a zeroed rest of a block that later blocks follow."""
        final = base + n >= self.size
        if final and not data[pos:n].any():
            if n - pos >= HEADER:
                self.notes.append(f"the file ends in {n - pos:,} zero bytes from byte {base + pos:,} "
                                  "(a run still being written?)")
            return n
        end_of_block = min(n, pos + BLOCK - (base + pos) % BLOCK)
        if not data[pos:end_of_block].any():
            return end_of_block  # a zeroed block in the middle: LevelDB readers skip it
        if final and n - pos < HEADER:
            self.notes.append(f"ignored a truncated last chunk at byte {base + pos:,}")
            return n
        raise LogError(base + pos, f"corrupt chunk at byte {base + pos:,} (zero header)")

    def _bad(self, at: int, later: bool, problem: str) -> int:
        """A damaged chunk: an error in the middle of the file, a note at its very end."""
        if later:
            raise LogError(at, problem)
        self.notes.append(f"ignored an unreadable last chunk at byte {at:,} ({problem.split(' (')[-1]}")
        return self.size  # past the end: stop walking


def _candidates(data: np.ndarray, base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Local positions that could start a FULL chunk, and where the chunk after each would start."""
    p = np.flatnonzero((data[6 : n - 1] == FULL) & (data[7:n] == 0x08)).astype(np.int64)
    p = p[p >= (HEADER if base == 0 else 0)]
    length = data[p + 4].astype(np.int64) | (data[p + 5].astype(np.int64) << 8)
    off = (base + p) % BLOCK
    ok = (length >= 1) & (off + HEADER + length <= BLOCK) & (p + HEADER + length <= n)
    p, end = p[ok], (p + HEADER + length)[ok]
    left = BLOCK - (base + end) % BLOCK
    return p, np.where(left < HEADER, end + left, end)


def check_crcs(seg: Segment, which: np.ndarray) -> int | None:
    """File offset of the first chunk among `which` (indices into seg.starts) whose checksum is
    wrong, or None. Chunks read one by one were checked already."""
    idx = which[~seg.checked[which]]
    if not idx.size:
        return None
    raw = seg.data.tobytes()
    s = seg.starts[idx] - 1  # from the type byte
    e = seg.starts[idx] + seg.lengths[idx]
    stored = (seg.data[s - 6].astype(np.uint32) | seg.data[s - 5].astype(np.uint32) << 8
              | seg.data[s - 4].astype(np.uint32) << 16 | seg.data[s - 3].astype(np.uint32) << 24)
    got = np.fromiter(map(zlib.crc32, map(raw.__getitem__, map(slice, s.tolist(), e.tolist()))), np.uint32, idx.size)
    bad = np.flatnonzero(got != stored)
    return seg.base + int(s[bad[0]]) - 6 if bad.size else None
