"""Find the runs under some roots: one run per run-shaped folder or loose log file.

Discovery decides from names (one `os.scandir` per folder, no stat of plain files) and
only opens a file when its name is ambiguous (`*.json`, `*.txt`, `*.log`, `*.db`:
64 KB head sniff). The rules are the two tables below, checked in order. A folder that
matches a FOLDER_RULE is one run and its whole subtree belongs to it (an HF output dir's
checkpoints and `runs/` TensorBoard logs, a YOLO run's `weights/`); other folders are
walked and each of their loose log files is a run of its own. Whatever is not a run is
counted by reason in `Discovery.skipped`, never fatal.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .sources.mlflow_db import list_runs, run_ref
from .sources.sniff import sniff

_CHECKPOINT = re.compile(r"checkpoint-\d+")
_SPLIT_DIRS = ("train", "validation", "val", "eval")  # Keras TensorBoard callback sub-runs


@dataclass(frozen=True, order=True)
class RunRef:
    """One run to diagnose: the path `read_run` takes, the rule that found it, and the
    discovery error when it is already known to be unreadable."""

    path: str
    layout: str
    error: str | None = None


@dataclass
class Discovery:
    """The runs found (sorted by path) and what was skipped, counted by reason."""

    runs: list[RunRef] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Listing:
    """One folder's entry names, split into files and folders (symlinks resolved)."""

    path: str
    files: frozenset[str]
    dirs: frozenset[str]


def _hf_output(d: Listing) -> bool:
    """trainer_state.json here, or in a checkpoint-N/ below (read_run picks the newest)."""
    return "trainer_state.json" in d.files or any(
        _CHECKPOINT.fullmatch(n) and os.path.isfile(os.path.join(d.path, n, "trainer_state.json"))
        for n in d.dirs)


def _has_events(d: Listing) -> bool:
    return any("tfevents" in n for n in d.files)


def _split_events(d: Listing) -> bool:
    """Keras: train/ + validation/ folders holding only TensorBoard events: the parent is the run."""
    return any(_classify(_list(os.path.join(d.path, n))) == "tensorboard"
               for n in _SPLIT_DIRS if n in d.dirs)


# Folder rules, checked in order (the same preference `read_run(folder)` applies).
FOLDER_RULES: tuple[tuple[str, Callable[[Listing], bool]], ...] = (
    ("hf_trainer", _hf_output),
    ("lightning", lambda d: "metrics.csv" in d.files),
    ("ultralytics", lambda d: "results.csv" in d.files),
    ("mlflow", lambda d: "meta.yaml" in d.files and "metrics" in d.dirs),
    ("wandb", lambda d: any(n.endswith(".wandb") for n in d.files) or "wandb-history.jsonl" in d.files
     or "wandb-summary.json" in d.files or os.path.isfile(os.path.join(d.path, "files", "wandb-summary.json"))),
    ("tensorboard", _has_events),
    ("tensorboard_splits", _split_events),
)

# Loose files in other folders: name pattern -> action (first match wins; no match = skipped).
FILE_RULES: tuple[tuple[str, str], ...] = (
    ("mlflow.db", "mlflow_db"),  # one run per run_uuid
    ("*.db", "sniff_db"),  # any other SQLite file: an MLflow store only if it has its tables
    ("*.sqlite", "sniff_db"),
    ("*.csv", "log"),
    ("*.tsv", "log"),
    ("*.jsonl", "log"),
    ("*.wandb", "log"),
    ("*.json", "sniff"),  # config.json, tokenizer.json ... are not logs
    ("*.txt", "sniff"),
    ("*.log", "sniff"),
    ("*.out", "sniff"),  # SLURM job output (Megatron, NeMo)
)


def _classify(d: Listing | None) -> str | None:
    """The first folder rule that matches, or None."""
    if d is None:
        return None
    return next((layout for layout, matches in FOLDER_RULES if matches(d)), None)


def _list(path: str) -> Listing | None:
    """A folder's listing (None when unreadable), for look-ahead rules."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return None
    files = frozenset(e.name for e in entries if not _is_dir(e))
    return Listing(path, files, frozenset(e.name for e in entries) - files)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def discover(roots: Iterable[str | os.PathLike], follow_symlinks: bool = False) -> Discovery:
    """Walk the roots and return every run found, sorted by path, with skip counts."""
    walk = _Walk([os.path.normpath(os.fspath(r)) for r in roots], follow_symlinks)
    walk.run()
    walk.found.runs = sorted(set(walk.found.runs))
    return walk.found


class _Walk:
    """Iterative walk (no recursion limit) with symlink and loop bookkeeping."""

    def __init__(self, roots: list[str], follow: bool) -> None:
        real = [os.path.realpath(r) for r in roots]
        # A root inside another root would be walked twice.
        self.roots = [r for r, rr in zip(roots, real)
                      if not any(rr != o and _inside(rr, o) for o in real)]
        self.real_roots = real
        self.follow = follow
        self.visited: set[str] = set()
        self.found = Discovery()

    def run(self) -> None:
        for root in self.roots:
            if os.path.isdir(root):
                self._walk(root)
            else:
                self._file(root, forced=True)

    def _walk(self, root: str) -> None:
        stack = [root]
        while stack:
            folder = stack.pop()
            listing, children = self._scan(folder)
            if listing is None:
                continue
            layout = _classify(listing)
            if layout is not None:
                self.found.runs.append(RunRef(folder, layout))
                continue  # the subtree belongs to this run
            for name in sorted(listing.files):
                self._file(os.path.join(folder, name))
            stack.extend(os.path.join(folder, n) for n in sorted(children, reverse=True))

    def _scan(self, folder: str) -> tuple[Listing | None, list[str]]:
        """List a folder, skipping hidden entries and symlinks that must not be followed."""
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            self.found.skipped["unreadable folder"] += 1
            return None, []
        files, dirs = [], []
        for entry in entries:
            if entry.name.startswith("."):
                self.found.skipped["hidden file or folder"] += 1
            elif entry.is_symlink() and not self._follow(entry, folder):
                continue
            else:
                (dirs if _is_dir(entry) else files).append(entry.name)
        return Listing(folder, frozenset(files), frozenset(dirs)), dirs

    def _follow(self, entry: os.DirEntry, folder: str) -> bool:
        """Whether to follow a symlink; every refusal is counted by its reason."""
        target = os.path.realpath(entry.path)
        reason = None
        if not os.path.exists(target):
            reason = "broken symlink"
        elif os.path.isdir(target) and (_inside(os.path.realpath(folder), target) or target in self.visited):
            reason = "symlink loop"
        elif any(_inside(target, r) for r in self.real_roots):
            reason = "symlink to a path inside the roots (read there)"
        elif not self.follow:
            reason = "symlink leading out of the roots"
        if reason:
            self.found.skipped[reason] += 1
            return False
        if os.path.isdir(target):
            self.visited.add(target)
        return True

    def _file(self, path: str, forced: bool = False) -> None:
        """A loose file: a run, several runs (an MLflow store), or a skip."""
        name = os.path.basename(path).lower()
        action = next((act for pattern, act in FILE_RULES if fnmatch.fnmatchcase(name, pattern)),
                      "log" if forced else None)
        if action is None:
            self.found.skipped["not a log (file name)"] += 1
        else:
            FILE_ACTIONS[action](self.found, path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _log(found: Discovery, path: str) -> None:
    found.runs.append(RunRef(path, "log_file"))


def _sniffed(found: Discovery, path: str) -> None:
    """An ambiguous name: a run only when its first 64 KB look like a known log."""
    try:
        fmt = sniff(Path(path))
    except InputError:
        fmt = None
    if fmt is None:
        found.skipped["not a log (content)"] += 1
    else:
        found.runs.append(RunRef(path, "log_file"))


def _mlflow_db(found: Discovery, path: str, strict: bool = True) -> None:
    """One run per run_uuid; an unreadable `mlflow.db` is still a row (with its error)."""
    try:
        ids, deleted = list_runs(Path(path))
    except InputError as exc:
        if strict:
            found.runs.append(RunRef(path, "mlflow_db", exc.problem))
        else:
            found.skipped["not a log (content)"] += 1
        return
    if deleted:
        found.skipped["deleted MLflow run"] += deleted
    found.runs.extend(RunRef(run_ref(path, i), "mlflow_db") for i in ids)


FILE_ACTIONS: dict[str, Callable[[Discovery, str], None]] = {
    "log": _log,
    "sniff": _sniffed,
    "mlflow_db": _mlflow_db,
    "sniff_db": lambda found, path: _mlflow_db(found, path, strict=False),
}
