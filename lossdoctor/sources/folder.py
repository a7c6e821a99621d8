"""A run folder is one run: choose which of its files to read.

One preference table decides: trainer_state.json (top level, else the newest
checkpoint-*/) > Lightning metrics.csv > Ultralytics results.csv > an MLflow run
(meta.yaml + metrics/) > a W&B run (run-*.wandb) > TensorBoard event files anywhere below > every remaining loose
log file, merged into one Run. The choice is noted in `Run.notes` when there was one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from .mlflow import is_run_folder
from .wandb import is_wandb_folder, wandb_summary_of

Reader = Callable[[Path], Run]
Sniffer = Callable[[Path], "str | None"]

PREFERENCE = ("hf_trainer_state", "lightning_csv", "ultralytics_csv", "mlflow", "wandb", "tensorboard")
PREFERRED_NAMES = {"hf_trainer_state": "trainer_state.json", "lightning_csv": "metrics.csv", "ultralytics_csv": "results.csv"}
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
LOG_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".txt", ".log", ".out")
LOOKED_FOR = (
    "trainer_state.json, metrics.csv, results.csv, an MLflow meta.yaml + metrics/, "
    "*tfevents* files, run-*.wandb, *.csv/*.tsv/*.json/*.jsonl/*.txt/*.log/*.out"
)


@dataclass
class Plan:
    """What a folder holds, by format: the paths each reader would be given."""

    found: dict[str, list[Path]] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)

    def choice(self) -> list[tuple[str, Path]]:
        """[(format, path)]: the one preferred log, else every loose log (to be merged)."""
        for fmt in PREFERENCE:
            paths = self.found.get(fmt)
            if paths:
                named = [p for p in paths if p.name == PREFERRED_NAMES.get(fmt)]
                return [(fmt, (named or paths)[0])]
        return sorted(((fmt, p) for fmt, paths in self.found.items() for p in paths), key=lambda fp: fp[1])


def plan_folder(folder: Path, sniff: Sniffer) -> Plan:
    """Sniff the folder's top-level logs and look for the folder-shaped formats."""
    plan = Plan()
    # One scandir instead of pathlib's iterdir/glob/rglob: an audit plans thousands of folders.
    with os.scandir(folder) as it:
        entries = list(it)
    for name in sorted(e.name for e in entries
                       if os.path.splitext(e.name)[1].lower() in LOG_SUFFIXES and _is(e, "file")):
        _sniff_into(plan, folder / name, sniff)
    if not plan.found.get("hf_trainer_state"):
        checkpoint = _newest_checkpoint_state(folder, entries)
        if checkpoint is not None:
            _sniff_into(plan, checkpoint, sniff)
    if is_run_folder(folder):
        plan.found["mlflow"] = [folder]
    if any(_quiet_sniff(p, sniff) == "tensorboard" for p in _event_files(folder, entries)):
        plan.found["tensorboard"] = [folder]
    if is_wandb_folder(folder):
        plan.found["wandb"] = [folder]
    elif not plan.found and wandb_summary_of(folder):  # a summary only when there is nothing else
        plan.found["wandb_summary"] = [wandb_summary_of(folder)]
    return plan


def _is(entry: os.DirEntry, kind: str, follow_symlinks: bool = True) -> bool:
    """`entry.is_file()` or `entry.is_dir()` (kind "file" / "dir"); False when it cannot be stat'ed."""
    try:
        test = entry.is_file if kind == "file" else entry.is_dir
        return test(follow_symlinks=follow_symlinks)
    except OSError:
        return False


def _event_files(folder: Path, entries: list[os.DirEntry]) -> Iterator[Path]:
    """Files named *tfevents* anywhere below the folder (as `rglob`: symlinked folders not entered)."""
    stack = [(folder, entries)]
    while stack:
        where, listing = stack.pop()
        subdirs = []
        for entry in listing:
            if "tfevents" in entry.name and _is(entry, "file"):
                yield where / entry.name
            if _is(entry, "dir", follow_symlinks=False):
                subdirs.append(where / entry.name)
        for sub in reversed(subdirs):
            try:
                with os.scandir(sub) as it:
                    stack.append((sub, list(it)))
            except OSError:
                pass  # an unreadable sub-folder holds no events we can read


def _sniff_into(plan: Plan, file: Path, sniff: Sniffer) -> None:
    """Record the file under its format; unreadable files are remembered, not fatal."""
    try:
        fmt = sniff(file)
    except InputError as exc:
        plan.errors.append(exc)
        return
    if fmt is not None:
        plan.found.setdefault(fmt, []).append(file)


def _quiet_sniff(file: Path, sniff: Sniffer) -> str | None:
    """Sniff, treating an unreadable file (e.g. a zero-byte event file) as no log."""
    try:
        return sniff(file)
    except InputError:
        return None


def _newest_checkpoint_state(folder: Path, entries: list[os.DirEntry]) -> Path | None:
    """checkpoint-<N>/trainer_state.json with the largest N (the latest global step)."""
    numbered = []
    for entry in entries:
        match = _CHECKPOINT.fullmatch(entry.name)
        if match and _is(entry, "dir"):
            state = folder / entry.name / "trainer_state.json"
            if state.exists():
                numbered.append((int(match.group(1)), state))
    return max(numbered)[1] if numbered else None


def read_folder(folder: Path, readers: Mapping[str, Reader], sniff: Sniffer) -> Run:
    """Read the one run a folder holds, by the preference table."""
    plan = plan_folder(folder, sniff)
    choice = plan.choice()
    if not choice:
        if plan.errors:
            raise plan.errors[0]
        raise InputError(folder, f"no training log found (looked for {LOOKED_FOR})")
    if len(choice) > 1:
        runs, skipped = _read_loose(choice, readers)
        merged = _merge(folder, runs)
        merged.notes.extend(skipped)
        return merged
    fmt, path = choice[0]
    run = readers[fmt](path)
    others = [p.name for ps in plan.found.values() for p in ps if p != path]
    if others:
        run.notes.append(f"read {path.name} ({fmt}); also found {', '.join(others)}")
    return run


def _read_loose(
    choice: list[tuple[str, Path]], readers: Mapping[str, Reader]
) -> tuple[list[tuple[Path, Run]], list[str]]:
    """Read every loose log: (runs, notes on the ones skipped); raise if none can be read."""
    runs, failed = [], []
    for fmt, path in choice:
        try:
            runs.append((path, readers[fmt](path)))
        except InputError as exc:
            failed.append(exc)
    if not runs:
        raise failed[0]
    return runs, [f"skipped {Path(exc.path).name}: {exc.problem}" for exc in failed]


def _merge(folder: Path, runs: list[tuple[Path, Run]]) -> Run:
    """Several loose logs as one Run; names found in several files get the file stem."""
    if len(runs) == 1:
        return runs[0][1]
    counts: dict[str, int] = {}
    for _, run in runs:
        for name in run.series:
            counts[name] = counts.get(name, 0) + 1
    merged = Run(str(folder), runs[0][1].format)
    merged.notes.append("read " + ", ".join(f"{p.name} ({r.format})" for p, r in runs) + " as one run")
    for path, run in runs:
        merged.notes.extend(f"{path.name}: {note}" for note in run.notes)
        for name, series in run.series.items():
            merged.add(replace(series, name=f"{path.stem}/{name}" if counts[name] > 1 else name))
    return merged
