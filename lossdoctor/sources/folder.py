"""A run folder holds one run: read the best of its logs, and say which others it had.

A folder is a run folder when a format of the table finds its log there (`find_in`). When
it holds several (Lightning's CSV and TensorBoard loggers in one `version_N/`; an HF output
dir with `trainer_state.json` and its `runs/` events), they are logs of the same training:
the lowest-ranked is read and the others are named in the notes. A log that cannot be read
gives way to the next, with a note; when none can be read the first one's error is raised.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from .hparams import NAMES as HPARAM_FILES
from .formats import RUN_FORMATS, LogFormat, ReadOptions
from .listing import Listing


def run_logs(listing: Listing) -> list[tuple[LogFormat, Path]]:
    """The logs that make this folder one run, best first (empty: not a run folder)."""
    found = []
    for fmt in RUN_FORMATS:
        where = fmt.find_in(listing)  # type: ignore[misc]
        if where is not None:
            found.append((fmt, Path(where)))
    return found


def run_files(listing: Listing) -> list[str]:
    """Every file the readers of this run folder's logs open (what a store's run fetches)."""
    files: dict[str, None] = {}  # ordered, each once
    for fmt in RUN_FORMATS:
        where = fmt.find_in(listing)  # type: ignore[misc]  (a str: a Path would squash `s3://`)
        if where is not None:
            files.update(dict.fromkeys(fmt.reads(listing, where) if fmt.reads else [where]))
    # the hyper-parameters beside the log: the learning rate the report quotes
    files.update(dict.fromkeys(listing.sub(n) for n in HPARAM_FILES if n in listing.files))
    return list(files)


def read_run_folder(listing: Listing, opts: ReadOptions) -> Run:
    """Read the preferred log of a run folder (falling back past unreadable ones)."""
    logs = run_logs(listing)
    if not logs:
        raise InputError(listing.path, "not a run folder")
    failed: list[tuple[Path, InputError]] = []
    for fmt, path in logs:
        try:
            run = fmt.read(path, opts)
        except InputError as exc:
            failed.append((path, exc))
            continue
        run.notes[:0] = _choice_notes(listing.path, path, fmt, logs, failed)
        return run
    raise failed[0][1]


def _choice_notes(folder: str, chosen: Path, fmt: LogFormat, logs: list[tuple[LogFormat, Path]],
                  failed: list[tuple[Path, InputError]]) -> list[str]:
    """What was read instead of what, and which other logs of the same run were left."""
    rel = lambda p: os.path.relpath(p, folder) if str(p) != folder else "the folder's own files"  # noqa: E731
    # The file that failed, when the log is a folder's (an event file of the folder's own files).
    named = lambda p, exc: rel(exc.path) if exc.path != str(p) and exc.path.startswith(folder) else rel(p)  # noqa: E731
    notes = [f"could not read {named(p, exc)} ({exc.problem}); read {rel(chosen)} instead" for p, exc in failed]
    others = [f"{rel(p)} ({f.name})" for f, p in logs if p != chosen and all(p != q for q, _ in failed)]
    if others:
        notes.append(f"read {rel(chosen)} ({fmt.name}); the same run also wrote {', '.join(others)}")
    return notes
