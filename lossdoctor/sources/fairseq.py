"""fairseq / metaseq JSON training logs (`--log-format json`) -> Run.

Format `fairseq_log`: lines holding one JSON object of stats, either bare (older fairseq:
`{"epoch": 1, "update": 0.27, "loss": "9.8", ...}`) or after the logging prefix
`2021-03-08 12:31:36 | INFO | train_inner | {...}`, mixed with every other line a training
prints. Values are written as strings ("16.475", "inf", "nan"). Records:
- `train_inner` (or a bare record of unprefixed keys): `loss`, `nll_loss`, `ppl`, `gnorm`,
  `loss_scale`, `lr`, `wps`, ... at step `num_updates` (`update` is the fraction of an
  epoch, not a step);
- `valid` (keys `valid_*`): at `valid_num_updates`, as `valid_loss` ...;
- `train` (keys `train_*`): the epoch averages of the train_inner lines, not read (they
  would repeat the same curve at another resolution).
fairseq skips the update of a batch whose fp16 gradients overflowed ("NOTE: gradient
overflow detected, ignoring gradient, setting loss scale to: ...") without advancing
`num_updates`; the overflow lines since the previous train_inner record become the
series `number of skipped updates` at that record's step (only when there are any).
Content sniff (`sniff_fairseq`): such a line, prefixed, or a bare JSON object holding
`num_updates` / `valid_num_updates`, in the first 64 KB.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder, to_float
from .text import read_text

_PREFIXED = re.compile(r"\| (train_inner|valid|train|[\w.-]+) \| (\{.*\})\s*$")
_STEP_KEYS = {"num_updates": "", "valid_num_updates": "valid_", "train_num_updates": "train_"}
_NOT_SERIES = {"epoch", "update"}
SKIPPED = "number of skipped updates"  # overflowed batches, not counted in num_updates


def sniff_fairseq(text: str, path: Path) -> str | None:
    """`fairseq_log` for a prefixed stats line, or a bare stats object with its step key."""
    for line in text.split("\n", 400)[:400]:
        record = _record(line)
        if record is not None and any(k in record[1] for k in _STEP_KEYS):
            return "fairseq_log"
    return None


def read_fairseq(path: Path) -> Run:
    """The train_inner and valid records of a fairseq / metaseq log."""
    builder = RunBuilder(path, "fairseq_log")
    columns: dict[str, tuple[list[float], list[float]]] = {}
    records = overflows = pending = 0
    skips: tuple[list[float], list[float]] = ([], [])
    for line in read_text(path, builder.notes).split("\n"):
        found = _record(line)
        if found is None:
            hit = "gradient overflow detected" in line
            overflows, pending = overflows + hit, pending + hit
            continue
        tag, record = found
        step_key = next((k for k in _STEP_KEYS if k in record), None)
        if step_key is None or tag == "train" or step_key == "train_num_updates":
            continue  # an epoch summary, or no step to place the record at
        records += 1
        step = to_float(record[step_key])
        if step_key == "num_updates":
            skips[0].append(float("nan") if step is None else step)
            skips[1].append(float(pending))
            pending = 0
        for key, value in record.items():
            number = to_float(value)
            if key not in _NOT_SERIES and key != step_key and number is not None:
                col = columns.setdefault(key, ([], []))
                col[0].append(float("nan") if step is None else step)
                col[1].append(number)
    if not records:
        raise InputError(path, "no fairseq stats records (JSON lines with num_updates) in this log")
    if overflows:
        builder.notes.append(f"{plural(overflows, 'gradient overflow')} noted by fairseq (updates skipped, loss scale lowered)")
    for name, (steps, values) in columns.items():
        builder.add(name, steps, values, "step")
    if overflows:
        builder.add(SKIPPED, skips[0], skips[1], "step")
    return builder.finish()


def _record(line: str) -> tuple[str, dict] | None:
    """(tag, stats) of a line: '... | <tag> | {json}' or a bare '{json}' line ('' tag)."""
    if "{" not in line:
        return None
    match = _PREFIXED.search(line)
    tag, text = (match.group(1), match.group(2)) if match else ("", line.strip())
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return (tag, record) if isinstance(record, dict) else None
