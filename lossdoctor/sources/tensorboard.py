"""TensorBoard event files -> Run, without tensorboard or protobuf and without a per-record loop.

The whole file is read at once, its TFRecord frames are found with numpy (`tfrecord`),
and records are decoded in groups: records of one length whose bytes match except for
wall time, step and value share one layout, which `tb_scalars.parse_event` reads from
the group's first record; numpy then pulls those fields out of every record of the group.
A record that fits no group (a tensor with a varint value, an image, a graph, ...) is
decoded on its own by the same wire decoder.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run, make_series
from .tb_scalars import Layout, WireError, parse_event
from .tfrecord import Buffer, FrameError, Frames, first_bad_data, segments

Scalars = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
_MAX_GROUPED = 1024  # longer records (images, graphs) are never scalar-only events
_MIN_GROUP = 8  # below this, a length class is cheaper to decode record by record
_CHUNK = 1 << 16  # records of one length decoded together: their bytes stay in cache
_SCAN_ROUNDS = 16  # groups of one length class found by a pass over its keys, before sorting them
_SLOT_BITS = 16  # order key = record index << 16 | value index within the record
_ROLE_DIRS = ("train", "validation", "val", "eval")


def read_event_scalars(path: Path, verify: bool = False, notes: list[str] | None = None) -> Scalars:
    """tag -> (steps int64, wall_times float64, values float64), in file order, every point (NaN/Inf kept)."""
    path = Path(path)
    points = _Points()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise InputError(path, "empty file")
            for buf, frames in segments(f, size):
                _decode_segment(buf, frames, verify, points)
                if notes is not None:
                    notes.extend(frames.notes)
    except OSError as e:  # permission, a vanished file, a symlink loop: one line, not a traceback
        raise InputError(path, (e.strerror or str(e)).lower()) from None
    except (FrameError, WireError) as e:
        raise InputError(path, str(e)) from None
    return points.result()


def _decode_segment(buf: Buffer, frames: Frames, verify: bool, points: "_Points") -> None:
    """Every scalar of one segment's records, into `points`."""
    if verify:  # every record's data checksum (the length checksums are always checked)
        bad = first_bad_data(buf, frames)
        if bad is not None:
            raise FrameError(bad, f"corrupt record at byte {bad:,} (data checksum mismatch)")
    for length, idx in _length_classes(frames.lengths):
        if length > _MAX_GROUPED or idx.size < _MIN_GROUP:
            for i in idx.tolist():
                points.add_layout(i, _parse(buf, int(frames.starts[i]), int(frames.lengths[i])))
        else:  # in chunks, to bound the memory of the gathered records
            for a in range(0, idx.size, _CHUNK):
                _decode_class(buf, frames.starts, idx[a : a + _CHUNK], length, points)
    points.end_segment(frames.starts.size)


def _length_classes(lengths: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(length, ascending record indices) per record length; every length above
    _MAX_GROUPED is one class (their records are decoded one by one anyway)."""
    capped = np.minimum(lengths, _MAX_GROUPED + 1).astype(np.uint16)
    order = np.argsort(capped, kind="stable")  # a radix sort for 16-bit keys
    counts = np.bincount(capped)
    ends = np.cumsum(counts)
    return [(length, order[ends[length] - counts[length] : ends[length]]) for length in np.flatnonzero(counts).tolist()]


def _parse(buf: Buffer, start: int, length: int) -> Layout:
    """Decode one record with the wire decoder, naming its byte offset if it is malformed."""
    try:
        return parse_event(buf.data[start : start + length].tobytes())
    except WireError as e:
        raise WireError(f"record at byte {buf.base + start - 12:,} is not a valid event ({e})") from None


def _decode_class(buf: Buffer, starts: np.ndarray, idx: np.ndarray, length: int, points: "_Points") -> None:
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
        if rounds < _SCAN_ROUNDS:  # few groups (the usual case): one pass over the keys each
            members = np.flatnonzero((keys == keys[first]) & ~done)
        else:  # many same-length tags: sort the keys once rather than pass over them per group
            runs = runs if runs is not None else _runs(keys)
            members = runs[int(keys[first])]
            members = members[~done[members]]
        members = members[_matches(words, members, first, mask)]
        whole = members.size == idx.size
        points.add_group(idx[members], layout, rows if whole else rows[members], width)
        done[members] = True
        rounds += 1
        first = _next_pending(done, first)


def _next_pending(done: np.ndarray, after: int) -> int:
    """The first index > `after` not done yet (len(done) if none)."""
    rest = done[after + 1 :]
    j = int(rest.argmin()) if rest.size else 0
    return after + 1 + j if rest.size and not rest[j] else done.size


def _runs(keys: np.ndarray) -> dict[int, np.ndarray]:
    """key -> ascending indices of the rows with that key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return dict(zip(ordered[np.r_[0, cuts]].tolist(), np.split(order, cuts)))


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


class _Points:
    """Scalar points collected group by group, put back into file order segment by segment."""

    def __init__(self) -> None:
        self.offset = 0  # records before the current segment
        self.chunks: dict[str, list[tuple]] = defaultdict(list)  # this segment's, by group
        self.rows: dict[str, list[tuple]] = defaultdict(list)  # this segment's, one by one
        self.parts: dict[str, list[tuple]] = defaultdict(list)  # finished segments, in file order
        self.first: dict[tuple[str, bool], int] = {}  # (tag, tensor) -> key of its first point
        self.plugin: dict[str, tuple[int, str]] = {}

    def _metas(self, index: int, layout: Layout) -> None:
        # As TensorBoard does, the first value *with* metadata decides a tag's plugin.
        for tag, plugin in layout.metas:
            if tag not in self.plugin or self.plugin[tag][0] > index:
                self.plugin[tag] = (index, plugin)

    def add_layout(self, index: int, layout: Layout) -> None:
        """One record decoded on its own (`index` within the segment)."""
        index += self.offset
        self._metas(index, layout)
        for k, slot in enumerate(layout.slots):
            key = (index << _SLOT_BITS) + k
            self.rows[slot.tag].append((key, layout.step, layout.wall_time, slot.value, slot.tensor))

    def add_group(self, index: np.ndarray, layout: Layout, rows: np.ndarray, width: int) -> None:
        """A group of records sharing `layout` (its first record is index[0]); `rows` their bytes."""
        index = index.astype(np.int64) + self.offset
        self._metas(int(index[0]), layout)
        steps, walls = _group_fields(rows, layout)
        for k, slot in enumerate(layout.slots):
            values = _column(rows, slot.offset, slot.dtype).astype(np.float64)
            self.chunks[slot.tag].append(((index << _SLOT_BITS) + k, steps, walls, values, slot.tensor))

    def end_segment(self, records: int) -> None:
        """Put this segment's points of each tag into file order and set them aside."""
        for tag, rows in self.rows.items():
            for tensor in (False, True):
                sel = [r for r in rows if r[4] is tensor]
                if sel:
                    cols = list(zip(*sel))
                    self.chunks[tag].append((np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                                             np.array(cols[2], np.float64), np.array(cols[3], np.float64), tensor))
        for tag, chunks in self.chunks.items():
            for tensor in (False, True):
                keys = [c[0].min() for c in chunks if c[4] is tensor]
                if keys and (tag, tensor) not in self.first:
                    self.first[(tag, tensor)] = int(min(keys))
            self.parts[tag].append(_merge(chunks))
        self.chunks.clear()
        self.rows.clear()
        self.offset += records

    def result(self) -> Scalars:
        """tag -> (steps, wall times, values) in file order; tags in order of first point.
        A tensor point counts only when its tag's plugin is "scalars"."""
        out = {}
        for tag in list(self.parts):
            parts = self.parts.pop(tag)  # freed tag by tag: the file's points are never held twice
            steps, walls, values, tensor = (np.concatenate([p[i] for p in parts]) for i in range(4))
            firsts = [self.first.get((tag, False))]
            if self.plugin.get(tag, (0, ""))[1] == "scalars":
                firsts.append(self.first.get((tag, True)))
            elif tensor.any():
                keep = ~tensor
                steps, walls, values = steps[keep], walls[keep], values[keep]
            if steps.size:
                out[tag] = (min(f for f in firsts if f is not None), (steps, walls, values))
        return {tag: arrays for tag, (_, arrays) in sorted(out.items(), key=lambda kv: kv[1][0])}


def _merge(chunks: list[tuple]) -> tuple:
    """Concatenate chunks and restore file order (chunks arrive grouped, not in order)."""
    keys, steps, walls, values = (np.concatenate([c[i] for c in chunks]) for i in range(4))
    tensor = np.concatenate([np.full(c[0].size, c[4]) for c in chunks])
    if keys.size > 1 and not np.all(keys[1:] > keys[:-1]):
        order = np.argsort(keys, kind="stable")
        steps, walls, values, tensor = steps[order], walls[order], values[order], tensor[order]
    return steps.astype(np.int64), walls, values, tensor


def read_tensorboard(path: Path, verify: bool = False) -> Run:
    """One event file OR a run folder (recursive) -> Run(format='tensorboard')."""
    path = Path(path)
    run = Run(str(path), "tensorboard")
    streams = {"": [path]} if path.is_file() else _streams(path)
    if not streams:
        raise InputError(path, "no TensorBoard event files (names containing 'tfevents') in this folder")
    failed: list[InputError] = []
    read = {sub: _read_stream(path, files, verify, run.notes, failed) for sub, files in streams.items()}
    if failed and not any(read.values()):
        raise failed[0]  # nothing readable: say why the first file is not
    for (sub, tag), name in _series_names(read).items():
        steps, _, values = read[sub][tag]
        run.add(make_series(name, steps, values, axis="step", notes=run.notes))
    return run


def _streams(root: Path) -> dict[str, list[Path]]:
    """Event files by subfolder (relative, '' for the root); symlinks leaving root are skipped."""
    top = root.resolve()
    found: dict[str, list[Path]] = defaultdict(list)
    for folder, dirs, files in os.walk(root):  # does not descend into symlinked folders
        dirs.sort()
        for name in sorted(files):
            f = Path(folder) / name
            if "tfevents" in name and f.resolve().is_relative_to(top) and f.is_file():
                found[Path(folder).relative_to(root).as_posix().strip(".")].append(f)
    return dict(found)


def _read_stream(root: Path, files: list[Path], verify: bool, notes: list[str],
                 failed: list[InputError]) -> Scalars:
    """The files of one folder as one stream: ordered by their first wall time, concatenated.

    In a folder, an unreadable event file (a zero-byte file from a run killed at start, a
    corrupt one) is skipped with a note and kept in `failed`; a single file asked for is not.
    """
    parts = []
    for f in files:
        file_notes: list[str] = []
        label = f.name if f == root else f.relative_to(root).as_posix()
        try:
            scalars = read_event_scalars(f, verify, file_notes)
        except InputError as e:
            if f == root:
                raise
            failed.append(e)
            notes.append(f"skipped {label}: {e.problem}")
            continue
        notes.extend(f"{label}: {n}" for n in file_notes)
        if scalars:
            first = min(float(w[0]) for _, w, _ in scalars.values())
            parts.append((first, f.name, scalars))
    merged: dict[str, list[tuple]] = defaultdict(list)
    for _, _, scalars in sorted(parts, key=lambda p: (p[0], p[1])):
        for tag, arrays in scalars.items():
            merged[tag].append(arrays)
    return {tag: tuple(np.concatenate(col) for col in zip(*chunks)) for tag, chunks in merged.items()}


def _series_names(read: dict[str, Scalars]) -> dict[tuple[str, str], str]:
    """Series name per (subfolder, tag): Keras train/validation folders become prefixes;
    other subfolders prefix a tag only when two of them share it."""
    wanted: dict[tuple[str, str], str] = {}
    for sub, scalars in read.items():
        role = sub.rsplit("/", 1)[-1]
        for tag in scalars:
            wanted[(sub, tag)] = f"{role}/{tag}" if role in _ROLE_DIRS else tag
    count: dict[str, int] = defaultdict(int)
    for name in wanted.values():
        count[name] += 1
    return {(sub, tag): (f"{sub}/{tag}" if count[name] > 1 and sub else name)
            for (sub, tag), name in wanted.items()}
