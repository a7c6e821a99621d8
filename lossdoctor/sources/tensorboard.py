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
from .tfrecord import Buffer, FrameError, first_bad_data, walk_frames

Scalars = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
_MAX_GROUPED = 1024  # longer records (images, graphs) are never scalar-only events
_MIN_GROUP = 8  # below this, a length class is cheaper to decode record by record
_CHUNK = 1 << 19  # records of one length decoded together (bounds the memory of their words)
_SLOT_BITS = 16  # order key = record index << 16 | value index within the record
_ROLE_DIRS = ("train", "validation", "val", "eval")


def read_event_scalars(path: Path, verify: bool = False, notes: list[str] | None = None) -> Scalars:
    """tag -> (steps int64, wall_times float64, values float64), in file order, every point (NaN/Inf kept)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise InputError(path, "empty file")
        buf = Buffer(path)
    except OSError as e:  # permission, a vanished file, a symlink loop: one line, not a traceback
        raise InputError(path, (e.strerror or str(e)).lower()) from None
    try:
        frames = walk_frames(buf)
    except FrameError as e:
        raise InputError(path, e.problem) from None
    if verify:  # every record's data checksum (the length checksums are always checked)
        bad = first_bad_data(buf, frames)
        if bad is not None:
            raise InputError(path, f"corrupt record at byte {bad:,} (data checksum mismatch)")
    if notes is not None:
        notes.extend(frames.notes)
    points = _Points()
    for length in np.unique(frames.lengths).tolist():
        idx = np.flatnonzero(frames.lengths == length)
        try:
            if length > _MAX_GROUPED or idx.size < _MIN_GROUP:
                for i in idx.tolist():
                    points.add_layout(i, _parse(buf, int(frames.starts[i]), length))
            else:  # in chunks: the words of 5M records at once would be ~1 GB
                for a in range(0, idx.size, _CHUNK):
                    _decode_class(buf, frames.starts, idx[a : a + _CHUNK], length, points)
        except WireError as e:  # raised from _parse with the record's offset
            raise InputError(path, str(e)) from None
    return points.result()


def _parse(buf: Buffer, start: int, length: int) -> Layout:
    """Decode one record with the wire decoder, naming its byte offset if it is malformed."""
    try:
        return parse_event(buf.data[start : start + length].tobytes())
    except WireError as e:
        raise WireError(f"record at byte {start - 12:,} is not a valid event ({e})") from None


def _decode_class(buf: Buffer, starts: np.ndarray, idx: np.ndarray, length: int, points: "_Points") -> None:
    """Decode every record of one length: one layout per group of byte-identical records."""
    s = starts[idx]
    nw = length // 8 + 2  # one spare word so a field can straddle the record's last word
    words = buf.words_at(s, nw)
    pending = np.arange(idx.size)
    while pending.size:
        first = int(pending[0])
        layout = _parse(buf, int(s[first]), length)
        if not layout.slots or not layout.fixed:
            points.add_layout(int(idx[first]), layout)
            pending = pending[1:]
            continue
        mask = _mask(layout, length, nw)
        ref = np.frombuffer(buf.data[s[first] : s[first] + 8 * nw].tobytes(), "<u8") & mask
        match = np.ones(pending.size, bool)
        for w in np.flatnonzero(mask).tolist():
            match &= (words[w][pending] & mask[w]) == ref[w]
        points.add_group(idx[pending[match]], layout, [wd[pending[match]] for wd in words])
        pending = pending[~match]


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


def _field(words: list[np.ndarray], offset: int) -> np.ndarray:
    """The 8 bytes at `offset` of every record, from the records' aligned words."""
    w, r = divmod(offset, 8)
    if r == 0:
        return words[w]
    return (words[w] >> np.uint64(8 * r)) | (words[w + 1] << np.uint64(64 - 8 * r))


def _group_fields(words: list[np.ndarray], layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Steps (int64) and wall times (float64) of a group, read from its fixed positions."""
    n = words[0].size
    walls = _field(words, layout.wall_at).view("<f8") if layout.wall_at is not None else np.zeros(n)
    steps = np.zeros(n, np.uint64)
    if layout.step_at is not None:
        at, count = layout.step_at
        for i in range(count):
            steps |= (_field(words, at + i) & np.uint64(0x7F)) << np.uint64(7 * i)
    return steps.view(np.int64), walls


class _Points:
    """Scalar points collected group by group, merged back into file order per tag."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[tuple]] = defaultdict(list)
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.plugin: dict[str, tuple[int, str]] = {}

    def _metas(self, index: int, layout: Layout) -> None:
        # As TensorBoard does, the first value *with* metadata decides a tag's plugin.
        for tag, plugin in layout.metas:
            if tag not in self.plugin or self.plugin[tag][0] > index:
                self.plugin[tag] = (index, plugin)

    def add_layout(self, index: int, layout: Layout) -> None:
        """One record decoded on its own."""
        self._metas(index, layout)
        for k, slot in enumerate(layout.slots):
            key = (index << _SLOT_BITS) + k
            self.rows[slot.tag].append((key, layout.step, layout.wall_time, slot.value, slot.tensor))

    def add_group(self, index: np.ndarray, layout: Layout, words: list[np.ndarray]) -> None:
        """A group of records sharing `layout` (its first record is index[0])."""
        self._metas(int(index[0]), layout)
        steps, walls = _group_fields(words, layout)
        for k, slot in enumerate(layout.slots):
            raw = _field(words, slot.offset)
            size = np.dtype(slot.dtype).itemsize
            if size < 8:
                raw = raw & np.uint64((1 << (8 * size)) - 1)
            values = raw.astype(f"<u{size}").view(slot.dtype).astype(np.float64)
            keys = (index.astype(np.int64) << _SLOT_BITS) + k
            self.chunks[slot.tag].append((keys, steps, walls, values, slot.tensor))

    def result(self) -> Scalars:
        """tag -> (steps, wall times, values) in file order; tags in order of first point."""
        for tag, rows in self.rows.items():
            for tensor in (False, True):
                sel = [r for r in rows if r[4] is tensor]
                if sel:
                    cols = list(zip(*sel))
                    self.chunks[tag].append((np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                                             np.array(cols[2], np.float64), np.array(cols[3], np.float64), tensor))
        out = {}
        for tag, chunks in self.chunks.items():
            scalars_plugin = self.plugin.get(tag, (0, ""))[1] == "scalars"
            keep = [c for c in chunks if not c[4] or scalars_plugin]
            if keep:
                out[tag] = _merge(keep)
        ordered = sorted(out.items(), key=lambda kv: kv[1][3])
        return {tag: arrays[:3] for tag, arrays in ordered}


def _merge(chunks: list[tuple]) -> tuple:
    """Concatenate chunks and restore file order (chunks arrive grouped, not in order)."""
    keys, steps, walls, values = (np.concatenate([c[i] for c in chunks]) for i in range(4))
    if keys.size > 1 and not np.all(keys[1:] > keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys, steps, walls, values = keys[order], steps[order], walls[order], values[order]
    return steps.astype(np.int64), walls, values, int(keys[0])


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
