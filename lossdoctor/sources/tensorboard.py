"""TensorBoard event files and run folders -> Run, without tensorboard or protobuf.

A file is read a segment at a time; its TFRecord frames are found with numpy
(`tfrecord`) and its scalar records decoded by groups (`tb_groups`) into points put
back in file order (`tb_points`). A folder is one run: its event files are streams,
concatenated in order of their first wall time; Keras train/validation subfolders
name their series.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run, make_series
from ..numfmt import plural
from .tb_groups import decode_segment
from .tb_points import Points, Scalars
from .tb_scalars import WireError
from .tfrecord import FrameError, segments
from .text import open_regular

_ROLE_DIRS = ("train", "validation", "val", "eval")


def read_event_scalars(path: Path, verify: bool = False, notes: list[str] | None = None,
                       wanted: Callable[[str], bool] | None = None,
                       counted: dict[str, int] | None = None) -> Scalars:
    """tag -> (steps int64, wall_times float64, values float64), in file order, every point (NaN/Inf kept).
    With `wanted`, only the tags it accepts are decoded; the points of the others are added to `counted`."""
    path = Path(path)
    points = Points(wanted)
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise InputError(path, "empty file")
            for buf, frames in segments(f, size):
                decode_segment(buf, frames, verify, points)
                if notes is not None:
                    notes.extend(frames.notes)
    except OSError as e:  # permission, a vanished file, a symlink loop: one line, not a traceback
        raise InputError(path, (e.strerror or str(e)).lower()) from None
    except (FrameError, WireError) as e:
        raise InputError(path, str(e)) from None
    if counted is not None:
        for tag, n in points.not_decoded().items():
            counted[tag] = counted.get(tag, 0) + n
    return points.result()


def read_tensorboard(path: Path, verify: bool = False, wanted: Callable[[str], bool] | None = None) -> Run:
    """One event file OR a run folder (recursive) -> Run(format='tensorboard'). `wanted(tag)`:
    decode this tag's values (default: every tag); the others are counted, and a note says so."""
    path = Path(path)
    run = Run(str(path), "tensorboard")
    streams = {"": [path]} if path.is_file() else _streams(path)
    if not streams:
        raise InputError(path, "no TensorBoard event files (names containing 'tfevents') in this folder")
    failed: list[InputError] = []
    counted: dict[str, int] = {}
    read = {sub: _read_stream(path, files, verify, run.notes, failed, wanted, counted) for sub, files in streams.items()}
    if counted:
        run.notes.append(f"decoded the {plural(len({t for s in read.values() for t in s}), 'tag')} the diagnosis uses; "
                         f"counted, not decoded, {plural(sum(counted.values()), 'point')} of {plural(len(counted), 'other tag')}")
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


def _read_stream(root: Path, files: list[Path], verify: bool, notes: list[str], failed: list[InputError],
                 wanted: Callable[[str], bool] | None = None, counted: dict[str, int] | None = None) -> Scalars:
    """The files of one folder as one stream: ordered by their first wall time, concatenated.

    In a folder, an unreadable event file (a zero-byte file from a run killed at start, a
    corrupt one) is skipped with a note and kept in `failed`; a single file asked for is not.
    """
    parts = []
    for f in files:
        file_notes: list[str] = []
        label = f.name if f == root else f.relative_to(root).as_posix()
        try:
            scalars = read_event_scalars(f, verify, file_notes, _prefixed(wanted, root, f), counted)
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


def _prefixed(wanted: Callable[[str], bool] | None, root: Path, f: Path) -> Callable[[str], bool] | None:
    """`wanted` asked about the series name a tag will get: Keras' train/validation
    subfolders name their tags (`validation/epoch_loss`), so the subfolder is asked too."""
    if wanted is None or f == root:
        return wanted
    sub = f.parent.relative_to(root).as_posix().strip(".")
    if not sub:
        return wanted
    role = sub.rsplit("/", 1)[-1]
    return lambda tag: wanted(tag) or wanted(f"{role}/{tag}") or wanted(f"{sub}/{tag}")


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
