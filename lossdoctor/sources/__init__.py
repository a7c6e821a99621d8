"""Logs in, Runs out: the one door of `sources/` that the rest of lossdoctor uses.

`discover(paths)` finds the runs under files and folders (both `diagnose` and `audit` use
it); `read_run(ref)` reads one of them. Roots may be URLs of object stores (`s3://bucket/runs`,
through fsspec): their runs are copied to a local folder to be read (`staging`). The formats, how each is recognised and where it
sits in a run folder are one table, `formats.FORMATS`. Every failure is an `InputError`
naming the file and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError, PathError
from ..frame import Run
from .discover import Discovery, RunRef, discover
from .folder import read_run_folder, run_logs
from .hparams import hparams_beside
from .formats import BY_NAME, FORMATS, LOOKED_FOR, ReadOptions, identify, sniff
from .listing import is_regular_file, list_folder
from .mlflow_db import split_ref
from .remote import is_url
from .retry import StoreUnavailable
from .splits import read_split_files

__all__ = ["BY_NAME", "FORMATS", "Discovery", "ReadOptions", "RunRef", "detect_format", "discover",
           "read_ref", "read_run", "read_runs", "sniff"]


def detect_format(path: str | Path) -> str | None:
    """The format of a file (by content, then name) or of a run folder; None when unknown."""
    path = Path(path)
    try:
        if path.is_dir():
            logs = run_logs(list_folder(str(path)))
            if logs:
                return logs[0][0].name
            found = discover([path]).runs
            return detect_format(found[0].path) if len(found) == 1 and not found[0].error else None
        return sniff(path)
    except (InputError, OSError):
        return None


def read_run(path: str | Path, verify: bool = False, wanted: Callable[[str], bool] | None = None) -> Run:
    """Read one run: a log file, a run folder, `mlflow.db#<run id>`, or a folder holding
    exactly one run somewhere below. Raises InputError when it cannot. `wanted(name)`: the
    series the caller needs (big binary logs decode only those); default every series."""
    opts = ReadOptions(verify=verify, wanted=wanted)
    if is_url(path):
        return _only_run(str(path), discover([str(path)]), opts)
    if split_ref(path) is not None:
        return BY_NAME["mlflow_db"].read(Path(path), opts)
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, opts)
    if not os.path.lexists(path):
        raise InputError(path, "no such file or directory")
    if not is_regular_file(path):
        raise InputError(path, "not a regular file (a FIFO, socket or device cannot be a log)")
    fmt, _ = identify(path)
    if fmt is None:
        raise InputError(path, "unrecognised log format")
    if fmt.runs_in is not None:
        return _only_run(path, discover([path]), opts)
    return fmt.read(path, opts)


def read_runs(path: str | Path, verify: bool = False) -> list[Run]:
    """Every run under a path, each read on its own (an unreadable one raises)."""
    found = discover([path])
    if not found.runs:
        raise no_log_found(path, found)
    return [read_ref(ref, verify) for ref in found.runs]


def read_ref(ref: RunRef, verify: bool = False, wanted: Callable[[str], bool] | None = None) -> Run:
    """Read one discovered run (an error discovery already knew is raised as it was found)."""
    if ref.error:
        raise (StoreUnavailable if ref.error_kind == StoreUnavailable.kind else InputError)(ref.path, ref.error)
    if ref.files and is_url(ref.path):
        return _read_stored(ref, verify, wanted)
    if ref.parts:
        run = read_split_files(ref.path, ref.parts, lambda f: read_run(f, verify, wanted))
    else:
        run = read_run(ref.path, verify, wanted)
    if ref.saved:
        run.saved = list(ref.saved)
    return run


def _read_stored(ref: RunRef, verify: bool, wanted: Callable[[str], bool] | None = None) -> Run:
    """A run in an object store: its files copied here, read, its paths put back as URLs."""
    from .staging import staged

    with staged([ref]) as stage:
        try:
            run = read_ref(stage.ref(ref), verify, wanted)
        except PathError as exc:
            raise type(exc)(stage.back(exc.path), stage.back(exc.problem)) from None
        run.hparams = hparams_beside(run.path)  # from the copy: beside the URL there is nothing to read
    run.path = stage.back(run.path)
    run.notes[:] = [stage.back(n) for n in run.notes]
    return run


def _read_folder(folder: Path, opts: ReadOptions) -> Run:
    try:
        listing = list_folder(str(folder))
    except OSError as exc:
        raise InputError(folder, (exc.strerror or str(exc)).lower()) from None
    if run_logs(listing):
        return read_run_folder(listing, opts)
    return _only_run(folder, discover([folder]), opts)


def _only_run(where: Path, found: Discovery, opts: ReadOptions) -> Run:
    if not found.runs:
        raise no_log_found(where, found)
    if len(found.runs) > 1:
        names = ", ".join(r.name or r.path for r in found.runs[:3]) + (", ..." if len(found.runs) > 3 else "")
        raise InputError(where, f"holds {len(found.runs)} runs ({names}); read them one by one")
    return read_ref(found.runs[0], opts.verify, opts.wanted)


def no_log_found(where: str | Path, found: Discovery) -> InputError:
    """The error for a path under which no run was found, saying what was looked for and left out."""
    left = found.skipped
    skipped = "; skipped " + ", ".join(f"{n} {why}" for why, n in sorted(left.items())) if left else ""
    return InputError(where, f"no training log found (looked for {LOOKED_FOR}){skipped}")
