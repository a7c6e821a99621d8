"""Scalar records of one segment, decoded by groups: no per-record protobuf decoding in Python.

Records of one length whose bytes match except for wall time, step and value share one
layout, which `tb_scalars.parse_event` reads from the group's first record; numpy then
pulls those fields out of every record of the group as strided views of their bytes.
Groups are found by a hash of the fixed bytes and then checked byte for byte. A record
that fits no group (a tensor with a varint value, an image, a graph, ...) is decoded on
its own by the same wire decoder.
"""

from __future__ import annotations

import numpy as np

from .tb_points import Points
from .tb_scalars import Layout, WireError, parse_event
from .tfrecord import Buffer, FrameError, Frames, first_bad_data, index_groups

MAX_GROUPED = 1024  # longer records (images, graphs) are never scalar-only events
MIN_GROUP = 8  # below this, a length class is cheaper to decode record by record
CHUNK = 1 << 16  # records of one length decoded together: their bytes stay in cache
SCAN_ROUNDS = 16  # groups of one length class found by a pass over its keys, before sorting them


def decode_segment(buf: Buffer, frames: Frames, verify: bool, points: Points) -> None:
    """Every scalar of one segment's records, into `points`."""
    if verify:  # every record's data checksum (the length checksums are always checked)
        bad = first_bad_data(buf, frames)
        if bad is not None:
            raise FrameError(bad, f"corrupt record at byte {bad:,} (data checksum mismatch)")
    # Every length above MAX_GROUPED is one class: those records are decoded one by one anyway.
    for length, idx in index_groups(np.minimum(frames.lengths, MAX_GROUPED + 1).astype(np.uint16)).items():
        if length == 0:
            continue  # an empty record is an empty Event: no scalar (millions of them cost nothing)
        if length > MAX_GROUPED or idx.size < MIN_GROUP:
            for i in idx.tolist():
                points.add_layout(i, _parse(buf, int(frames.starts[i]), int(frames.lengths[i])))
        else:  # in chunks, to bound the memory of the gathered records
            for a in range(0, idx.size, CHUNK):
                _decode_class(buf, frames.starts, idx[a : a + CHUNK], length, points)
    points.end_segment(frames.starts.size)


def _parse(buf: Buffer, start: int, length: int) -> Layout:
    """Decode one record with the wire decoder, naming its byte offset if it is malformed."""
    try:
        return parse_event(buf.data[start : start + length].tobytes())
    except WireError as e:
        raise WireError(f"record at byte {buf.base + start - 12:,} is not a valid event ({e})") from None


def _decode_class(buf: Buffer, starts: np.ndarray, idx: np.ndarray, length: int, points: Points) -> None:
    """Decode records of one length: one layout per group of records whose bytes match except
    for wall time, step and values. Groups are found by a hash of the fixed bytes, then
    checked byte for byte, so a hash collision costs time, never a wrong value."""
    s = starts[idx]
    width = -(-length // 8) * 8  # whole uint64 words; reads past a record stay in the padding
    rows = _gather(buf, s, width)
    words = rows.view("<u8").reshape(idx.size, width // 8)
    done = np.zeros(idx.size, bool)
    hashed: np.ndarray | None = None
    runs: dict[int, np.ndarray] | None = None
    rounds, first = 0, 0
    while first < idx.size:
        layout = _parse(buf, int(s[first]), length)
        if not layout.slots or not layout.fixed:  # nothing to share: this record alone
            points.add_layout(int(idx[first]), layout)
            done[first] = True
            first = _next_pending(done, first)
            continue
        mask = _mask(layout, length, width // 8)
        if hashed is None or not np.array_equal(mask, hashed):
            hashed, keys, runs = mask, _hash(words, mask), None
        if rounds < SCAN_ROUNDS:  # few groups (the usual case): one pass over the keys each
            members = np.flatnonzero((keys == keys[first]) & ~done)
        else:  # many same-length tags: sort the keys once rather than pass over them per group
            runs = runs if runs is not None else index_groups(keys)
            members = runs[int(keys[first])]
            members = members[~done[members]]
        members = members[_matches(words, members, first, mask)]
        whole = members.size == idx.size
        _add_group(points, idx[members], layout, rows if whole else rows[members])
        done[members] = True
        rounds += 1
        first = _next_pending(done, first)


def _add_group(points: Points, index: np.ndarray, layout: Layout, rows: np.ndarray) -> None:
    """Pull a group's steps, wall times and values out of its records' bytes (or only count
    them, when no tag of the group is wanted)."""
    if points.count(int(index[0]), layout, index.size):
        return
    steps, walls = _group_fields(rows, layout)
    values = [_column(rows, slot.offset, slot.dtype).astype(np.float64) if points.wants(slot.tag) else None
              for slot in layout.slots]
    points.add_group(index, layout, steps, walls, values)


def _next_pending(done: np.ndarray, after: int) -> int:
    """The first index > `after` not done yet (len(done) if none)."""
    rest = done[after + 1 :]
    j = int(rest.argmin()) if rest.size else 0
    return after + 1 + j if rest.size and not rest[j] else done.size


def _gather(buf: Buffer, starts: np.ndarray, width: int) -> np.ndarray:
    """`width` bytes from every start, as one row per start: an (n, width) uint8 array."""
    count = buf.data.size - width + 1
    windows = np.ndarray((count,), np.dtype((np.void, width)), buffer=buf.data, strides=(1,))
    return windows[starts].view(np.uint8).reshape(starts.size, width)


def _hash(words: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A uint64 hash per row of the masked words (equal rows hash equal)."""
    out = np.zeros(words.shape[0], np.uint64)
    for w in np.flatnonzero(mask).tolist():
        out += (words[:, w] & mask[w]) * np.uint64(0x9E3779B97F4A7C15 + 2 * w)
    return out


def _matches(words: np.ndarray, members: np.ndarray, first: int, mask: np.ndarray) -> np.ndarray:
    """Which of `members` equal row `first` on every masked byte."""
    ok = np.ones(members.size, bool)
    ref = words[first] & mask
    rows = words if members.size == words.shape[0] else words[members]
    for w in np.flatnonzero(mask).tolist():
        ok &= (rows[:, w] & mask[w]) == ref[w]
    return ok


def _mask(layout: Layout, length: int, nw: int) -> np.ndarray:
    """uint64 words with 0xFF on every byte that must equal the group's first record."""
    m = np.zeros(8 * nw, np.uint8)
    m[:length] = 0xFF
    if layout.wall_at is not None:
        m[layout.wall_at : layout.wall_at + 8] = 0
    if layout.step_at is not None:  # the continuation bits fix the varint's length
        m[layout.step_at[0] : sum(layout.step_at)] = 0x80
    for slot in layout.slots:
        m[slot.offset : slot.offset + np.dtype(slot.dtype).itemsize] = 0
    return m.view("<u8")


def _column(rows: np.ndarray, offset: int, dtype: str) -> np.ndarray:
    """The `dtype` field at byte `offset` of every row, as a (strided, unaligned) view."""
    return np.ndarray((rows.shape[0],), dtype, buffer=rows, offset=offset, strides=(rows.shape[1],))


def _group_fields(rows: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Steps (int64) and wall times (float64) of a group, read from its fixed positions."""
    n = rows.shape[0]
    walls = _column(rows, layout.wall_at, "<f8").copy() if layout.wall_at is not None else np.zeros(n)
    steps = np.zeros(n, np.uint64)
    if layout.step_at is not None:
        at, count = layout.step_at
        for i in range(count):
            steps |= (rows[:, at + i] & np.uint8(0x7F)).astype(np.uint64) << np.uint64(7 * i)
    return steps.view(np.int64), walls
