"""nanoGPT / torchtitan-style step lines in a text log -> Run.

Format `step_log`: a training's stdout with lines like
- nanoGPT's evaluations `step 2000: train loss 1.0435, val loss 1.0934` (series `train
  loss`, `val loss`) and iterations `iter 100: loss 4.2310, time 30.10ms, mfu 1.23%`
  (series `loss`, `time` in ms, `mfu` in %, units dropped);
- torchtitan's `step:  1  loss:  8.1661  grad_norm:  3.6855  memory:  2.47GiB(3.12%)  tps:
  3,502  tflops: 1.90  mfu: 0.19%` after any prefix (`[rank0]:[titan] <time> - root -
  INFO - `), colour codes stripped, thousands separators read.
Other lines are ignored. Content sniff (`sniff_step_log`): two such lines in the first
64 KB (one, when the whole file is that short). A value that is not a number (`loss
nan` is one: NaN) is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from .columns import RunBuilder, to_float
from .text import read_text

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NANOGPT = re.compile(r"^(step|iter) (\d+): ([A-Za-z][\w ]*? [-+\w.]+%?(?:, [A-Za-z][\w ]*? [-+\w.]+%?)*)\s*$")
_TITAN = re.compile(r"\bstep:\s*(\d+)\s+((?:[A-Za-z_][\w/ ]*:\s*\S+\s*)+)$")
_TITAN_PAIR = re.compile(r"([A-Za-z_][\w/]*):\s*(\S+)")
_NUMBER = re.compile(r"^[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|nan|inf)", re.IGNORECASE)


def sniff_step_log(text: str, path: Path) -> str | None:
    """`step_log` when enough lines are nanoGPT / torchtitan step lines."""
    lines = text.split("\n")
    found = sum(1 for line in lines[:2000] if _parse(line) is not None)
    return "step_log" if found >= 2 or (found == 1 and len(lines) < 20) else None


def read_step_log(path: Path) -> Run:
    """Every step line of the log, one series per field name."""
    builder = RunBuilder(path, "step_log")
    columns: dict[str, tuple[list[float], list[float]]] = {}
    for line in read_text(path, builder.notes).split("\n"):
        parsed = _parse(line)
        if parsed is None:
            continue
        step, fields = parsed
        for name, value in fields.items():
            col = columns.setdefault(name, ([], []))
            col[0].append(step)
            col[1].append(value)
    if not columns:
        raise InputError(path, "no step lines ('step N: train loss X' / 'iter N: loss X' / 'step: N  loss: X')")
    for name, (steps, values) in columns.items():
        builder.add(name, steps, values, "step")
    return builder.finish()


def _parse(line: str) -> tuple[float, dict[str, float]] | None:
    """(step, fields) of a step line, or None."""
    if "step" not in line and "iter" not in line:
        return None
    line = _ANSI.sub("", line).rstrip()
    match = _NANOGPT.match(line)
    if match is not None:
        return float(match.group(2)), _fields(match.group(3).split(", "))
    match = _TITAN.search(line)
    if match is not None:
        return float(match.group(1)), _fields([f"{k}:{v}" for k, v in _TITAN_PAIR.findall(match.group(2))])
    return None


def _fields(parts: list[str]) -> dict[str, float]:
    """`name value` / `name: value` pairs whose value starts with a number (units dropped)."""
    out = {}
    for part in parts:
        name, _, value = part.strip().rpartition(":" if ":" in part else " ")
        number = _NUMBER.match(value.strip())
        if name and number is not None:
            parsed = to_float(number.group(0).replace(",", ""))
            if parsed is not None:
                out[name.strip()] = parsed
    return out
