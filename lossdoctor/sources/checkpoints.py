"""Checkpoints saved beside a training log, found by the names trainers give them.

| trainer | checkpoint | step |
|---|---|---|
| HuggingFace Trainer | `checkpoint-500/` | 500 |
| Lightning | `checkpoints/epoch=3-step=1200.ckpt` | 1200 |
| NeMo | `...-step=1200-consumed_samples=....ckpt` (file or folder) | 1200 |
| Megatron-LM / NeMo | `iter_0001200/` | 1200 |
| DeepSpeed | `global_step1200/` | 1200 |
| OLMo, torchtitan | `step1200/`, `step1200-unsharded/`, `step-1200/` | 1200 |

Looked for in the log's folder, its parent, and their `checkpoints`-like subfolders (a
run's output folder holds both the log and the checkpoints, or the log sits in `logs/`
beside `checkpoints/`); never deeper, and at most MAX_ENTRIES entries per folder, so a
folder of millions of files costs nothing. Steps a log itself names (Megatron's "saved
checkpoint at iteration N") come without a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .listing import Tree

_PATTERNS = (
    re.compile(r"^checkpoint-(\d+)$"),
    re.compile(r"^iter_(\d+)$"),
    re.compile(r"^global_step(\d+)$"),
    re.compile(r"(?:^|[-_])step=(\d+)(?:[-_.]|$)"),
    re.compile(r"^step[-_]?(\d+)(?:-unsharded|-sharded)?$"),
)
SUBFOLDERS = ("checkpoints", "checkpoint", "ckpt", "ckpts")
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Checkpoint:
    step: float
    path: str | None  # None: named in the log, not found on disk


def step_of(name: str) -> int | None:
    """The step a checkpoint's file or folder name says, or None."""
    for pattern in _PATTERNS:
        match = pattern.search(name)
        if match is not None:
            return int(match.group(1))
    return None


def beside(log: str | Path, named: list[float] = (), tree: "Tree | None" = None) -> list[Checkpoint]:
    """The checkpoints near `log` (a file or a run folder), plus the steps the log names,
    one per step (a found path wins), in step order. `tree`: an object store's listing (its
    folders are known from discovery's one listing: no request is made)."""
    found: dict[float, Checkpoint] = {float(s): Checkpoint(float(s), None) for s in named}
    folders = _folders(Path(log)) if tree is None else _store_folders(str(log), tree)
    for folder in folders:
        for name, path in (_entries(folder) if tree is None else _store_entries(str(folder), tree)):
            step = step_of(name)
            if step is not None and found.get(float(step), Checkpoint(0, None)).path is None:
                found[float(step)] = Checkpoint(float(step), path)
    return [found[s] for s in sorted(found)]


def _folders(log: Path) -> list[Path]:
    try:
        base = log if log.is_dir() else log.parent
    except OSError:
        return []
    out = []
    for folder in (base, base.parent):
        out.append(folder)
        out += [folder / sub for sub in SUBFOLDERS]
    return list(dict.fromkeys(out))


def _store_folders(log: str, tree: "Tree") -> list[str]:
    base = log if tree.kind(log) == "dir" else log.rsplit("/", 1)[0]
    out = []
    for folder in (base, base.rsplit("/", 1)[0]):
        out.append(folder)
        out += [tree.join(folder, sub) for sub in SUBFOLDERS]
    return list(dict.fromkeys(out))


def _store_entries(folder: str, tree: "Tree") -> list[tuple[str, str]]:
    try:
        listing = tree.list(folder)
    except OSError:
        return []
    names = sorted(listing.files | listing.dirs)[:MAX_ENTRIES]
    return [(n, listing.sub(n)) for n in names]


def _entries(folder: Path) -> list[tuple[str, str]]:
    """(name, path) of up to MAX_ENTRIES entries of a folder; none when it cannot be read."""
    out = []
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= MAX_ENTRIES:
                    break
                out.append((entry.name, entry.path))
    except OSError:
        return []
    return out
