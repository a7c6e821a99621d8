"""Following a run that is being written: `follower(ref)` for every run discovery finds.

A follower has `poll() -> bool` (read what is new; True when the run changed) and `run()
-> Run` (the run as read so far; InputError while nothing readable has arrived). Which
follower reads a log is one table by format name, `FOLLOWERS`: append-only logs are read
incrementally from their offset (CSV tables, JSON lines, TensorBoard event files); logs
that are rewritten whole (trainer_state.json at each checkpoint, a JSON document) or kept
by a database (mlflow.db) are read again whole when their size or time stamp changes.
A run folder re-checks at every poll which of its logs is the one to read (Lightning
writes its event file before its metrics.csv), and switches when that changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import InputError
from ..frame import Run
from .discover import RunRef
from .folder import run_logs
from .formats import ReadOptions, identify
from .listing import list_folder
from .splits import merge_runs


class Follower(Protocol):
    def poll(self) -> bool: ...

    def run(self) -> Run: ...


def _csv(path: str, fmt: str) -> Follower:
    from .follow_text import CsvFollower
    return CsvFollower(path, fmt)


def _jsonl(path: str, fmt: str) -> Follower:
    from .follow_text import JsonlFollower
    return JsonlFollower(path, fmt)


def _tensorboard(path: str, fmt: str) -> Follower:
    from .follow_tb import TensorboardFollower
    return TensorboardFollower(path)


# format name -> incremental follower of one of its logs; any other format is read again whole.
FOLLOWERS: dict[str, Callable[[str, str], Follower]] = {
    "csv": _csv, "keras_csv": _csv, "lightning_csv": _csv, "ultralytics_csv": _csv,
    "jsonl": _jsonl,
    "tensorboard": _tensorboard,
}


class Reread:
    """A log read again whole, by its format's reader, whenever its size or time stamp changes.
    A read that fails (a file caught half-written) keeps the last good run."""

    def __init__(self, path: str, read: Callable[[], Run], watched: Callable[[], list[str]]) -> None:
        self.path, self._read, self._watched = path, read, watched
        self._stamp: tuple | None = None
        self._run: Run | None = None
        self._error: InputError | None = None

    def poll(self) -> bool:
        stamp = tuple(_stamp(p) for p in self._watched())
        if stamp == self._stamp:
            return False
        try:
            self._run, self._error = self._read(), None
        except InputError as exc:
            self._error = exc  # torn, or not yet a log: the stamp is kept so a finished write is read
            return False
        finally:
            self._stamp = stamp
        return True

    def run(self) -> Run:
        if self._run is None:
            raise self._error or InputError(self.path, "nothing read yet")
        return self._run


def _stamp(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_size, st.st_mtime_ns)


class FileFollower:
    """One log file: its format is decided by its content once it has some (a log is often
    created empty), then its follower from the table (or a whole re-read) takes over."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._inner: Follower | None = None

    def poll(self) -> bool:
        if self._inner is None:
            try:
                fmt, _ = identify(Path(self.path))
            except InputError:
                return False  # empty, or not there yet
            if fmt is None:
                return False
            path, reader = Path(self.path), fmt.read
            self._inner = FOLLOWERS[fmt.name](self.path, fmt.name) if fmt.name in FOLLOWERS else \
                Reread(self.path, lambda: reader(path, ReadOptions()), lambda: [self.path])
        return self._inner.poll()

    def run(self) -> Run:
        if self._inner is None:
            raise InputError(self.path, "not a recognised log yet")
        return self._inner.run()


def file_follower(path: str) -> Follower:
    """The follower of one log file."""
    return FileFollower(path)


class FolderFollower:
    """A run folder: follows the log the folder's rules choose, re-chosen at every poll."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._chosen: tuple[str, str] | None = None
        self._inner: Follower | None = None

    def poll(self) -> bool:
        try:
            logs = run_logs(list_folder(self.path))
        except OSError:
            return False
        if not logs:
            return False
        fmt, log = logs[0]
        chosen = (fmt.name, str(log))
        if chosen != self._chosen:
            self._chosen = chosen
            if fmt.name == "tensorboard":  # the folder is the run: its event files, sub-writers too
                self._inner = FOLLOWERS["tensorboard"](self.path, fmt.name)
            elif fmt.name in FOLLOWERS:
                self._inner = FOLLOWERS[fmt.name](str(log), fmt.name)
            else:
                self._inner = Reread(str(log), lambda: fmt.read(log, ReadOptions()), lambda: [str(log)])
            self._inner.poll()
            return True
        return self._inner.poll() if self._inner is not None else False

    def run(self) -> Run:
        if self._inner is None:
            raise InputError(self.path, "no log in this run folder yet")
        return self._inner.run()


class SplitFollower:
    """A run written to several files (train.csv + val.csv): each followed, merged as one."""

    def __init__(self, ref: RunRef) -> None:
        self.path = ref.path
        self.parts = {p: file_follower(p) for p in ref.parts}

    def poll(self) -> bool:
        return any([f.poll() for f in self.parts.values()])

    def run(self) -> Run:
        runs = []
        for path, f in self.parts.items():
            try:
                runs.append((Path(path), f.run()))
            except InputError:
                continue
        if not runs:
            raise InputError(self.path, "nothing read yet")
        return merge_runs(self.path, runs) if len(runs) > 1 else runs[0][1]


def follower(ref: RunRef) -> Follower:
    """The follower of one discovered run."""
    from .mlflow_db import split_ref
    from . import read_ref

    if ref.parts:
        return SplitFollower(ref)
    if split_ref(ref.path) is not None:  # one run of an MLflow SQLite store
        db = str(split_ref(ref.path)[0])  # type: ignore[index]
        return Reread(ref.path, lambda: read_ref(ref), lambda: [db, db + "-wal"])
    if os.path.isdir(ref.path):
        if ref.layout == "mlflow":  # a run folder of the file store: each metric file's stamp
            return Reread(ref.path, lambda: read_ref(ref), lambda: _files_below(Path(ref.path) / "metrics"))
        return FolderFollower(ref.path)
    return file_follower(ref.path)


def _files_below(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
