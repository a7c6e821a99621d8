"""Growing TensorBoard event files read incrementally, with the whole-file reader's parts.

Each event file is read from the offset reached so far: its new bytes are walked as
TFRecord frames (`tfrecord.walk_frames` on a buffer that is not final, so a record still
being written is left for the next poll, not reported as truncated) and decoded by
`tb_groups.decode_segment` into one `Points` per file, kept across polls so a tag's
plugin, named only by its first record, still decides its later tensor values. A run
folder is re-listed at every poll, so event files that appear later (a resumed run, a
validation writer) join it. The Run is assembled as `tensorboard.read_tensorboard` does.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run, make_series
from .tail import MAX_CHUNK
from .tb_groups import decode_segment
from .tb_points import Points, Scalars
from .tb_scalars import WireError
from .tensorboard import _series_names, _streams
from .tfrecord import Buffer, FrameError, walk_frames
from .text import open_regular

_HEADER = 12


class EventFile:
    """One event file: the offset of its first unread record and the points read so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.points = Points()
        self.read: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self.first_wall: float | None = None

    def poll(self) -> bool:
        """Decode the whole records written since the last poll; True when there were any."""
        try:
            size = os.path.getsize(self.path)
            if size - self.offset < _HEADER:
                return False
            with open_regular(self.path) as f:
                buf = Buffer.read(f, self.offset, min(size - self.offset, MAX_CHUNK), final=False)
            frames = walk_frames(buf)
            if not frames.starts.size:
                return False
            decode_segment(buf, frames, False, self.points)
        except OSError:
            return False  # gone or not readable at this moment: try again at the next poll
        except (FrameError, WireError) as e:
            raise InputError(self.path, str(e)) from None
        self.offset += frames.end
        for tag, arrays in self.points.result().items():
            self.read[tag].append(arrays)
            wall = float(arrays[1][0]) if arrays[1].size else None
            if wall is not None and (self.first_wall is None or wall < self.first_wall):
                self.first_wall = wall
        return True

    def scalars(self) -> Scalars:
        """tag -> (steps, wall times, values) of everything read so far."""
        return {tag: tuple(np.concatenate(c) for c in zip(*chunks)) for tag, chunks in self.read.items()}


class TensorboardFollower:
    """An event file, or a run folder of them (sub-writers included)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.files: dict[Path, EventFile] = {}

    def poll(self) -> bool:
        """Pick up new event files and the new records of every file."""
        paths = [self.path] if self.path.is_file() else [f for fs in _streams(self.path).values() for f in fs]
        for p in paths:
            self.files.setdefault(p, EventFile(p))
        return any([f.poll() for f in self.files.values()])  # a list: poll every file

    def run(self) -> Run:
        """The scalars read so far, named and ordered as the whole-file reader does."""
        run = Run(str(self.path), "tensorboard")
        streams: dict[str, list[EventFile]] = defaultdict(list)
        for p, f in self.files.items():
            sub = "" if p == self.path else Path(os.path.relpath(p.parent, self.path)).as_posix().strip(".")
            streams[sub].append(f)
        read = {sub: _merge(files) for sub, files in streams.items()}
        for (sub, tag), name in _series_names(read).items():
            steps, _, values = read[sub][tag]
            run.add(make_series(name, steps, values, axis="step", notes=run.notes))
        if not run.series:
            raise InputError(self.path, "no scalar records yet")
        return run


def _merge(files: list[EventFile]) -> Scalars:
    """One folder's files as one stream, in order of their first wall time."""
    merged: dict[str, list[tuple]] = defaultdict(list)
    for f in sorted((f for f in files if f.read), key=lambda f: (f.first_wall or 0.0, f.path.name)):
        for tag, arrays in f.scalars().items():
            merged[tag].append(arrays)
    return {tag: tuple(np.concatenate(col) for col in zip(*chunks)) for tag, chunks in merged.items()}
