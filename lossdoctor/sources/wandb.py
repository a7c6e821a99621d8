"""W&B runs read without wandb: the transaction log, the legacy history, the summary.

Formats (names as in the reader table):
- `wandb`: `run-<id>.wandb`, the transaction log every run writes, online or offline, in
  `wandb/run-<date>-<id>/` or `wandb/offline-run-<date>-<id>/`; or that run folder.
  Content sniff: the file starts with `:W&B` and the magic 0xBEE1 (`is_wandb_log`).
  Framing in `wandb_log`, history rows in `wandb_history`.
- `wandb_history`: the legacy `wandb-history.jsonl` (wandb before 0.10): one JSON object per
  row with `_step`. Content sniff (`sniff_wandb_history`): JSON lines whose first object has
  `_step` and `_runtime` or `_timestamp`.
- `wandb_summary`: `files/wandb-summary.json` (or `wandb-summary.json`): the last value of each
  key, a summary, not a history; read only when a run folder has nothing else, and said so.
  Content sniff: a JSON object with `_wandb` or `_runtime` named `wandb-summary.json`.

In a run folder the `.wandb` file is read, else `wandb-history.jsonl`, else the summary.
Axis: `_step`. NaN and Infinity (wandb writes `NaN`, `Infinity`) are kept as values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder, looks_like_metric, to_float
from .jsonl import _parse_line
from .records import flatten
from .text import read_text, open_regular
from .wandb_history import INTERNAL, History, HistoryError
from .wandb_log import LogError, Walker, is_wandb_log

KeyFilter = Callable[[str], bool]
__all__ = ["is_wandb_log", "read_wandb", "sniff_wandb_history", "is_wandb_folder", "wandb_summary_of"]


def is_wandb_folder(folder: Path) -> bool:
    """A W&B run folder with a history: a `*.wandb` file or the legacy `wandb-history.jsonl`."""
    return bool(_logs(folder)) or any((folder / p).is_file() for p in _LEGACY)


def wandb_summary_of(folder: Path) -> Path | None:
    """The run folder's `wandb-summary.json`, if it has one."""
    return next((folder / p for p in _SUMMARY if (folder / p).is_file()), None)


_LEGACY = ("wandb-history.jsonl", "files/wandb-history.jsonl")
_SUMMARY = ("files/wandb-summary.json", "wandb-summary.json")


def _logs(folder: Path) -> list[Path]:
    try:
        return sorted(folder / n for n in os.listdir(folder) if n.endswith(".wandb") and (folder / n).is_file())
    except OSError:
        return []


def read_wandb(path: Path, verify: bool = False, wanted: KeyFilter | None = None) -> Run:
    """A `.wandb` file, a legacy history, a summary, or a run folder -> Run(format='wandb').
    `wanted(name)`: decode the values of this key (default: all); `verify`: check the
    checksum of every chunk, not only of the records whose contents are read."""
    path = Path(path)
    if not path.is_dir():
        if path.name.endswith("wandb-summary.json"):
            return read_wandb_summary(path)
        if path.suffix == ".jsonl":
            return read_wandb_history(path)
        return _read_log(path, verify, wanted)
    logs = _logs(path)
    if logs:
        run = _read_log(logs[-1], verify, wanted)
        if len(logs) > 1:
            run.notes.append(f"read {logs[-1].name}; also found {', '.join(p.name for p in logs[:-1])}")
        return run
    for rel in _LEGACY:
        if (path / rel).is_file():
            return read_wandb_history(path / rel)
    for rel in _SUMMARY:
        if (path / rel).is_file():
            return read_wandb_summary(path / rel)
    raise InputError(path, "no W&B run files (run-*.wandb, wandb-history.jsonl, wandb-summary.json) in this folder")


def _read_log(path: Path, verify: bool, wanted: KeyFilter | None) -> Run:
    """Every history row of one transaction log."""
    builder = RunBuilder(path, "wandb")
    history = History(wanted, verify)
    try:
        with open_regular(path) as f:
            walker = Walker(os.fstat(f.fileno()).st_size)
            if walker.size == 0:
                raise InputError(path, "empty file")
            for seg in walker.segments(f):
                history.add_segment(seg)
    except OSError as e:
        raise InputError(path, (e.strerror or str(e)).lower()) from None
    except (LogError, HistoryError) as e:
        raise InputError(path, str(e)) from None
    builder.notes.extend(walker.notes)
    if not history.rows:
        raise InputError(path, "no history rows in this W&B run file (nothing was logged with wandb.log?)")
    for name, (steps, values) in history.result().items():
        builder.add(name, steps, values, "step")
    skipped = history.not_decoded()
    if skipped:
        builder.notes.append(f"decoded the keys the diagnosis uses; counted, not decoded, {plural(sum(skipped.values()), 'value')} "
                             f"of {plural(len(skipped), 'other key')}")
    for name, count in history.non_numeric.items():
        if looks_like_metric(name) or name in builder.run.series:
            builder.notes.append(f"{name}: {plural(count, 'non-numeric value')} skipped")
    return builder.finish()


def read_wandb_history(path: Path) -> Run:
    """The legacy `wandb-history.jsonl`: one row per line, `_step` as the axis."""
    builder = RunBuilder(path, "wandb_history")
    rows, bad = [], 0
    for line in read_text(path, builder.notes).split("\n"):
        if line.strip():
            record = _parse_line(line)
            bad += record is None
            if record is not None:
                rows.append(record)
    if not rows:
        raise InputError(path, "no history rows (no JSON objects)")
    if bad:
        builder.notes.append(f"skipped {plural(bad, 'line')} holding no JSON object")
    columns: dict[str, tuple[list, list]] = {}
    for i, row in enumerate(rows):
        step = to_float(row.get("_step", i))
        for key, value in flatten({k: v for k, v in row.items() if not _internal(k)}).items():
            number = to_float(value)
            if number is not None:
                col = columns.setdefault(key, ([], []))
                col[0].append(np.nan if step is None else step)
                col[1].append(number)
    for name, (steps, values) in columns.items():
        builder.add(name, steps, values, "step")
    return builder.finish()


def read_wandb_summary(path: Path) -> Run:
    """`wandb-summary.json`: one point per numeric key, at the summary's `_step`."""
    builder = RunBuilder(path, "wandb_summary")
    try:
        summary = json.loads(read_text(path, builder.notes))
    except (ValueError, RecursionError):
        raise InputError(path, "invalid JSON") from None
    if not isinstance(summary, dict):
        raise InputError(path, "not a W&B summary (a JSON object)")
    step = to_float(summary.get("_step", 0)) or 0.0
    for key, value in flatten({k: v for k, v in summary.items() if not _internal(k)}).items():
        number = to_float(value)
        if number is not None and not key.endswith("_type"):
            builder.add(key, [step], [number], "step")
    builder.notes.append("only a W&B summary (the last value of each metric, no history): one point per metric")
    return builder.finish()


def _internal(key: str) -> bool:
    return key in INTERNAL or key.startswith("_wandb")


def sniff_wandb_history(text: str, path: Path) -> str | None:
    """`wandb_history` / `wandb_summary` from the first lines of a JSON text."""
    first = text.lstrip().split("\n", 1)[0]
    if path.name == "wandb-summary.json" and first.startswith("{") and ('"_wandb"' in text or '"_runtime"' in text):
        return "wandb_summary"
    record = _parse_line(first) if first.startswith("{") else None
    if record is not None and "_step" in record and ("_runtime" in record or "_timestamp" in record):
        return "wandb_history"
    return None
