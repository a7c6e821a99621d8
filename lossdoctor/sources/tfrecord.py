"""TFRecord framing, walked with numpy: where every record's data starts and how long it is.

A TFRecord frame is: uint64 LE length, uint32 masked CRC32C of those 8 bytes, the data,
uint32 masked CRC32C of the data. Walking frames is sequential by nature, so instead of
reading one header after another we find every position that *could* start a frame
(4 zero high bytes in the length, data starting with 0x09 = Event.wall_time), keep those
whose length checksum matches, and check that they chain from byte 0 to the end. Any
gap in that chain (a record without wall_time, a truncated or corrupt tail) is walked
one header at a time in Python, so the fast path never decides correctness alone.

A file is read in segments of about `SEGMENT` bytes, each starting at a record, so a
multi-GB event file never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

_HEADER = 12  # 8 length bytes + 4 length-checksum bytes
_PAD = 32  # zero bytes after the file so 8-byte reads near the end stay in bounds
_CHUNK = 1024  # long records are checksummed as chunks of this many bytes, then combined
_BLOCK = 1 << 22  # bytes scanned for headers at a time
SEGMENT = 64 << 20  # bytes walked and decoded at a time: bounds memory, big enough to amortise


def _crc_table() -> np.ndarray:
    """The reflected CRC32C (Castagnoli) byte table."""
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    return t


_TABLE = _crc_table()
_TABLE_PY = [int(v) for v in _TABLE]
_MASK_DELTA = 0xA282EAD8


def crc32c_py(raw: bytes) -> int:
    """CRC32C of a short byte string, in plain Python (for single headers)."""
    reg = 0xFFFFFFFF
    for b in raw:
        reg = _TABLE_PY[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg ^ 0xFFFFFFFF


def masked(crc: np.ndarray | int) -> np.ndarray | int:
    """TFRecord's masked checksum: rotate right by 15 and add a constant (mod 2**32)."""
    if isinstance(crc, int):
        return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


class Buffer:
    """A stretch of a file from byte `base`, in a zero-padded uint8 array, with its uint32
    views at the 4 byte alignments. `final`: the stretch runs to the end of the file."""

    def __init__(self, data: np.ndarray, base: int = 0, final: bool = True, file_size: int | None = None) -> None:
        self.data, self.base, self.final = data, base, final
        self.file_size = file_size  # the whole file's, when known (not for a file still growing)
        self.size = data.size - _PAD
        self.u32 = [np.frombuffer(data, "<u4", max(self.size - k, 0) // 4, k) for k in range(4)]

    @classmethod
    def read(cls, f: BinaryIO, base: int, size: int, final: bool, file_size: int | None = None) -> "Buffer":
        """`size` bytes of `f` from `base` (fewer, and final, if the file shrank meanwhile)."""
        data = np.empty(size + _PAD, np.uint8)  # not zero-filled: readinto writes every byte
        f.seek(base)
        got = f.readinto(memoryview(data)[:size]) or 0
        if got < size:
            data, final = data[: got + _PAD], True
        data[got:] = 0
        return cls(data, base, final, file_size)

    def u32_at(self, pos: np.ndarray) -> np.ndarray:
        """The little-endian uint32 at every byte position in `pos` (any alignment)."""
        b = [self.data[pos + j].astype(np.uint32) for j in range(4)]
        return b[0] | (b[1] << np.uint32(8)) | (b[2] << np.uint32(16)) | (b[3] << np.uint32(24))


def _length_tables() -> list[np.ndarray]:
    """CRC32C of 8 bytes whose high 4 are zero is affine in the low 4: crc(0) ^ sum of 4 lookups."""
    zero = crc32c_py(bytes(8))
    return [np.array([crc32c_py((v << 8 * j).to_bytes(8, "little")) ^ zero for v in range(256)], np.uint32)
            for j in range(4)] + [np.uint32(zero)]


_LENGTH_TABLES = _length_tables()
_EMPTY_DATA_CRC0 = masked(crc32c_py(b"")) & 0xFF  # first byte of an empty record's data checksum


def masked_length_crc(low: np.ndarray) -> np.ndarray:
    """Masked CRC32C of 8-byte lengths < 2**32, given as their low uint32 half."""
    t0, t1, t2, t3, zero = _LENGTH_TABLES
    crc = t0[low & 0xFF] ^ t1[(low >> 8) & 0xFF] ^ t2[(low >> 16) & 0xFF] ^ t3[low >> 24] ^ zero
    return masked(crc)


def _registers(data: np.ndarray, starts: np.ndarray, length: int, reg: np.ndarray) -> np.ndarray:
    """Run the raw CRC32C register over `length` bytes from every start (one round per byte)."""
    for j in range(length):
        reg = _TABLE[(reg ^ data[starts + j]) & np.uint32(0xFF)] ^ (reg >> np.uint32(8))
    return reg


def _shift_tables(zeros: int) -> list[list[int]]:
    """Tables for the (linear) map 'run the register over `zeros` zero bytes'."""
    basis = _registers(np.zeros(zeros + 1, np.uint8), np.zeros(32, np.int64), zeros,
                       (np.uint32(1) << np.arange(32, dtype=np.uint32)))
    tables = []
    for byte in range(4):
        row = [0] * 256
        for v in range(1, 256):
            low = v & -v
            row[v] = row[v ^ low] ^ int(basis[8 * byte + low.bit_length() - 1])
        tables.append(row)
    return tables


_SHIFT: list[list[int]] = []


def crc32c_rows(buf: Buffer, starts: np.ndarray, length: int) -> np.ndarray:
    """CRC32C (unmasked) of `length` bytes at every start."""
    full = np.full(starts.shape, 0xFFFFFFFF, np.uint32)
    if length <= 4 * _CHUNK or starts.size * _CHUNK >= length:
        return _registers(buf.data, starts, length, full) ^ np.uint32(0xFFFFFFFF)
    # A long record: checksum its chunks side by side, then fold them in order, using
    # crc(A + B) = shift(crc(A), len(B)) ^ crc0(B) (the register update is linear).
    if not _SHIFT:
        _SHIFT.extend(_shift_tables(_CHUNK))
    t0, t1, t2, t3 = _SHIFT
    out = np.empty(starts.shape, np.uint32)
    head, count = length % _CHUNK, length // _CHUNK
    for i, s in enumerate(starts):
        reg = int(_registers(buf.data, np.array([s]), head, full[:1])[0])
        chunks = s + head + _CHUNK * np.arange(count)
        for c in _registers(buf.data, chunks, _CHUNK, np.zeros(count, np.uint32)).tolist():
            reg = t0[reg & 255] ^ t1[(reg >> 8) & 255] ^ t2[(reg >> 16) & 255] ^ t3[reg >> 24] ^ c
        out[i] = reg ^ 0xFFFFFFFF
    return out


class FrameError(Exception):
    """The framing is broken before the end of the file: `offset` is the bad record."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(problem)
        self.offset = offset
        self.problem = problem


@dataclass
class Frames:
    """Record data positions (`starts`, at the data, not the header) and `lengths`, local to
    the buffer. `end`: where the walk stopped; `need`: bytes the next segment must hold from
    `end` (0 when the walk reached the end of the file)."""

    starts: np.ndarray
    lengths: np.ndarray
    notes: list[str] = field(default_factory=list)
    end: int = 0
    need: int = 0


def _candidates(buf: Buffer) -> tuple[np.ndarray, np.ndarray]:
    """Sorted header positions whose length checksum matches and whose record fits the buffer.

    Scanned in blocks of `_BLOCK` bytes: the temporaries stay in cache and are reused
    instead of page-faulted in fresh (that, not arithmetic, dominated a whole-buffer scan)."""
    heads, lengths = [], []
    for lo in range(0, buf.size, _BLOCK):
        for k in range(4):
            h, n = _candidates_in(buf, k, lo, min(lo + _BLOCK, buf.size))
            heads.append(h)
            lengths.append(n)
    q = np.concatenate(heads)
    order = np.argsort(q, kind="stable")  # merges sorted runs: cheap
    return q[order], np.concatenate(lengths)[order]


def _candidates_in(buf: Buffer, k: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate headers whose length's high half is a u32 of alignment `k` in bytes [lo, hi)."""
    u32 = buf.u32[k]
    # u32[i] is the length's high half: i >= 1 (a low half before it), i + 2 < size (checksum after)
    first, last = max(1, (lo - k + 3) // 4), min(u32.size - 2, (hi - k + 3) // 4)
    if first >= last:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i = np.flatnonzero(u32[first:last] == 0) + first
    q = 4 * i + (k - 4)
    # An empty record is a candidate too (after its header comes the data checksum of b"",
    # first byte 0xD8): a file of millions of them would otherwise be walked one header at a
    # time in Python. The length checksum below is checked for every candidate alike.
    after = buf.data[q + _HEADER]
    sel = (after == 0x09) | (after == _EMPTY_DATA_CRC0)
    i, q = i[sel], q[sel]
    low = u32[i - 1]
    ok = (low <= buf.size - q - 16) & (masked_length_crc(low) == u32[i + 1])
    return q[ok], low[ok].astype(np.int64)


def walk_frames(buf: Buffer) -> Frames:
    """Every whole record of the buffer in order; raises FrameError on a corrupt middle."""
    if buf.base == 0 and (buf.size < _HEADER or not _header_ok(buf, 0)):
        raise FrameError(0, "not a TensorBoard event file")
    heads, lengths = _candidates(buf)
    ends = heads + lengths + 16
    breaks = np.flatnonzero(ends[:-1] != heads[1:])  # where a run of chained records stops
    pieces_h, pieces_l, notes = [], [], []
    pos = need = 0
    while pos < buf.size:
        j = int(np.searchsorted(heads, pos))
        if j < heads.size and heads[j] == pos:  # jump over a whole chained run at once
            b = int(np.searchsorted(breaks, j))
            k = int(breaks[b]) if b < breaks.size else heads.size - 1
            pieces_h.append(heads[j : k + 1])
            pieces_l.append(lengths[j : k + 1])
            pos = int(ends[k])
            continue
        length, need = _read_one(buf, pos, heads, notes)
        if length is None:
            break
        pieces_h.append(np.array([pos], np.int64))
        pieces_l.append(np.array([length], np.int64))
        pos += length + 16
    if pos >= buf.size and not buf.final:
        need = _HEADER  # the segment ended on a record boundary: go on from there
    if not pieces_h:  # e.g. a file cut inside its very first record holds no whole record
        empty = np.zeros(0, np.int64)
        return Frames(empty, empty, notes, pos, need)
    starts = np.concatenate(pieces_h) + _HEADER
    return Frames(starts, np.concatenate(pieces_l), notes, pos, need)


def segments(f: BinaryIO, size: int) -> Iterator[tuple[Buffer, Frames]]:
    """The whole records of a file of `size` bytes, about `SEGMENT` bytes at a time."""
    base, need = 0, SEGMENT
    while base < size:
        n = min(max(SEGMENT, need), size - base)
        buf = Buffer.read(f, base, n, final=base + n >= size, file_size=size)
        frames = walk_frames(buf)
        yield buf, frames
        if not frames.need:
            return
        base, need = base + frames.end, frames.need


def _header_ok(buf: Buffer, pos: int) -> bool:
    """Whether the length checksum of the header at `pos` matches."""
    raw = bytes(buf.data[pos : pos + 8])
    return masked(crc32c_py(raw)) == int.from_bytes(bytes(buf.data[pos + 8 : pos + 12]), "little")


def _read_one(buf: Buffer, pos: int, heads: np.ndarray, notes: list[str]) -> tuple[int | None, int]:
    """Read one header the slow way: (its data length, 0), or (None, bytes the next segment
    needs from `pos`) when the walk must stop here; a damaged last record gets a note."""
    at = buf.base + pos
    if buf.size - pos < _HEADER:
        if not buf.final:
            return None, _HEADER
        notes.append(f"ignored a truncated last record at byte {at:,}")
        return None, 0
    if not _header_ok(buf, pos):
        if heads.size and heads[-1] > pos:  # a good record follows: damage in the middle
            raise FrameError(at, f"corrupt record at byte {at:,} (length checksum mismatch)")
        if not buf.final:  # nothing good after it in this segment: look further
            return None, 2 * (buf.size - pos)
        notes.append(f"ignored an unreadable last record at byte {at:,} (length checksum mismatch)")
        return None, 0
    length = int.from_bytes(bytes(buf.data[pos : pos + 8]), "little")
    if pos + 16 + length > buf.size:
        # A length past the end of the file is a cut-off last record only if nothing follows:
        # with a good record after it, the length itself is damaged (a bit flip can keep its
        # checksum valid) and the records after it would be dropped unseen.
        past_end = buf.file_size is not None and at + 16 + length > buf.file_size
        if past_end and heads.size and heads[-1] > pos:
            raise FrameError(at, f"corrupt record at byte {at:,} (its length, {length:,} bytes, runs past "
                                 "the end of the file, and records follow it)")
        if not buf.final:  # past the end: look for a record after it in a longer segment
            return None, 2 * (buf.size - pos) if past_end else length + 16
        notes.append(f"ignored a truncated last record at byte {at:,}")
        return None, 0
    return length, 0


def index_groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """key -> ascending indices of the elements with that key, keys in ascending order
    (one stable sort: a radix sort for 16-bit keys)."""
    if not keys.size:
        return {}
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return dict(zip(ordered[np.r_[0, cuts]].tolist(), np.split(order, cuts)))


def first_bad_data(buf: Buffer, frames: Frames) -> int | None:
    """File offset of the header of the first record whose data checksum is wrong, or None."""
    bad = []
    for length, idx in index_groups(frames.lengths).items():
        s = frames.starts[idx]
        stored = buf.u32_at(s + length)
        wrong = masked(crc32c_rows(buf, s, length)) != stored
        if wrong.any():
            bad.append(int(s[wrong].min()) - _HEADER)
    return buf.base + min(bad) if bad else None
