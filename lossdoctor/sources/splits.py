"""Train and validation written to two files of one folder (`train.csv` + `val.csv`,
`train_log.jsonl` + `valid_log.jsonl`): one run, read as one.

Only files whose names differ by nothing but a split word are paired; any other two logs
of a folder are two runs. Series names that both files have get the file's stem in front
(`train/loss`, `val/loss`), which is what the role rules read a split from.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..frame import Run

_SPLIT = re.compile(r"(?<![a-z])(train|training|val|valid|validation|eval|evaluation|dev|test)(?![a-z])",
                    re.IGNORECASE)


def split_key(path: str) -> str | None:
    """The file name with its split word blanked out (None when it has no split word)."""
    name = os.path.basename(path)
    if not _SPLIT.search(name):
        return None
    return _SPLIT.sub("*", name.rsplit(".", 1)[0], count=1)


def pair_splits(paths: list[str]) -> list[list[str]]:
    """Group a folder's log files: files that differ only by their split word go together."""
    groups: dict[str, list[str]] = {}
    alone = []
    for path in paths:
        key = split_key(path)
        (groups.setdefault(key, []) if key else alone).append(path)
    out = [[p] for p in alone]
    for members in groups.values():
        out += [members] if len(members) > 1 else [[members[0]]]
    return sorted(out)


def merge_runs(folder: str, runs: list[tuple[Path, Run]]) -> Run:
    """Several files of one run as one Run; names found in several files get the file stem."""
    counts: dict[str, int] = {}
    for _, run in runs:
        for name in run.series:
            counts[name] = counts.get(name, 0) + 1
    merged = Run(folder, runs[0][1].format)
    merged.notes.append("read " + ", ".join(f"{p.name} ({r.format})" for p, r in runs) + " as one run")
    for path, run in runs:
        merged.notes.extend(f"{path.name}: {note}" for note in run.notes)
        for name, series in run.series.items():
            merged.add(replace(series, name=f"{path.stem}/{name}" if counts[name] > 1 else name))
    return merged


def read_split_files(folder: str, files: tuple[str, ...], read) -> Run:
    """Read each file with `read(path)`; a file that fails is noted, all failing raises the first."""
    runs, failed = [], []
    for file in files:
        try:
            runs.append((Path(file), read(file)))
        except InputError as exc:
            failed.append(exc)
    if not runs:
        raise failed[0]
    merged = merge_runs(folder, runs) if len(runs) > 1 else runs[0][1]
    merged.notes.extend(f"skipped {Path(exc.path).name}: {exc.problem}" for exc in failed)
    return merged
