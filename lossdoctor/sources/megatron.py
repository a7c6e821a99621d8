"""Megatron-LM / Megatron-DeepSpeed / NeMo training logs (stdout text) -> Run.

Format `megatron_log`: any text log (a launcher's stdout, `*.log`, `*.out`, `*.txt`) whose
iteration lines read ` iteration  100/  500000 | consumed samples: 12800 | ... | lm loss:
7.123456E+00 | loss scale: 65536.0 | grad norm: 1.234 | number of skipped iterations: 0 |
number of nan iterations: 0 |`, with any prefix (a timestamp, a rank) and mixed with
everything else a training prints. Validation lines ` validation loss at iteration 50 |
lm loss value: 8.88E+00 | lm loss PPL: 7.25E+03 |` become `val <name>` series (`test ...`
on the test set; the PPL is `val ppl`, not a second loss). Content sniff
(`sniff_megatron`): an iteration line with `key: value |` fields in the first 64 KB, or,
for launchers whose preamble is longer, Megatron's argument dump (`---- arguments ----`
with `megatron` named) there.

Series are named as Megatron names the fields (`lm loss`, `grad norm`, `learning rate`,
`loss scale`, `number of skipped iterations`, ...); the x-axis is the iteration. Megatron
leaves a loss out of the line when every iteration of the interval was skipped (an fp16
overflow) or was NaN, while `number of nan iterations` may still say 0. So NaN/skip
evidence is kept as series the rules can see: the skipped and NaN counts as they are, a
`grad norm` of nan as NaN, and a loss missing from an iteration line after that loss
first appeared as a NaN point of its series (the loss of that interval is unknown
because training failed there). Lines before a loss first appears are the fp16 loss-scale
calibration of the first iterations: counted in a note, not NaN. A log in which no
iteration line ever has a loss but iterations were skipped gives an all-NaN `lm loss`.

Checkpoints: `successfully saved checkpoint at iteration N` (or `from iteration N`, newer
Megatron-LM) and `successfully loaded checkpoint from DIR ... at iteration N` name steps
that have a checkpoint (`Run.checkpoints`); a load after iteration lines is a restore
inside the log, and the first iteration logged after it begins a new attempt
(`Run.restores`), whether or not the iteration counter went back.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder, to_float
from .text import read_text

_ITERATION = re.compile(r"\biteration\s+(\d+)\s*/\s*(\d+)\s*\|(.*)")
_VALIDATION = re.compile(r"\bvalidation loss at (?:iteration\s+(\d+))?([^|]*)\|(.*)")
_FIELD = re.compile(r"[A-Za-z][^|:]*:\s*[-+\w.]+\s*\|")
_ARGUMENTS = re.compile(r"-{8,} arguments -{8,}")
_SAVED = re.compile(r"successfully saved checkpoint (?:at|from) iteration\s+(\d+)")
_LOADED = re.compile(r"successfully loaded checkpoint from .* at iteration\s+(\d+)")
SKIPPED = "number of skipped iterations"
NAN_COUNT = "number of nan iterations"


def sniff_megatron(text: str, path: Path) -> str | None:
    """`megatron_log` for text with a Megatron iteration line (or its argument dump)."""
    for match in _ITERATION.finditer(text):
        if _FIELD.search(match.group(3)[:400]):
            return "megatron_log"
    if _ARGUMENTS.search(text) and "megatron" in text.lower():
        return "megatron_log"
    return None


def read_megatron(path: Path) -> Run:
    """Every iteration and validation line of a Megatron log."""
    builder = RunBuilder(path, "megatron_log")
    rows: list[tuple[float, dict[str, float]]] = []
    evals: list[tuple[float, dict[str, float]]] = []
    restored: float | None = None  # the iteration of a checkpoint loaded after iterations were logged
    for line in read_text(path, builder.notes).split("\n"):
        if "iteration" not in line:
            continue
        match = _ITERATION.search(line)
        if match is not None:
            fields = _fields(match.group(3))
            step = fields.pop("global_step", None)  # NeMo 2: `iteration` counts within an epoch
            rows.append((float(match.group(1)) if step is None else step, fields))
            if restored is not None:
                _restore(builder, restored, rows)
                restored = None
            continue
        if "checkpoint" in line:
            loaded = _checkpoint_line(line, builder.run)
            restored = loaded if loaded is not None and rows else restored
            continue
        match = _VALIDATION.search(line)
        if match is not None and match.group(1) is not None:
            prefix = "test " if "test" in match.group(2) else "val "
            evals.append((float(match.group(1)), _eval_fields(match.group(3), prefix)))
    if not rows:
        raise InputError(path, "no Megatron iteration lines ('iteration N/ M | ... |') in this log")
    _add_columns(builder, rows, _losses(builder, rows))
    _add_columns(builder, evals, {})
    return builder.finish()


def _checkpoint_line(line: str, run: Run) -> float | None:
    """Note the step of a saved or loaded checkpoint; the step of a loaded one is returned."""
    for pattern, is_load in ((_SAVED, False), (_LOADED, True)):
        match = pattern.search(line)
        if match is not None:
            run.checkpoints.append(float(match.group(1)))
            return float(match.group(1)) if is_load else None
    return None


def _restore(builder: RunBuilder, loaded: float, rows: list[tuple[float, dict[str, float]]]) -> None:
    """A checkpoint loaded after training had logged (rows[-2]): the iteration just logged
    (rows[-1]) begins an attempt."""
    start, last = rows[-1][0], rows[-2][0]
    builder.run.restores.append(start)
    went = "" if start <= last else "; the iteration counter did not go back"
    builder.notes.append(f"the checkpoint of iteration {loaded:g} was restored after iteration {last:g}: "
                         f"a new attempt starts at iteration {start:g}{went}")


def _fields(text: str) -> dict[str, float]:
    """`key: value |` fields with a numeric value (nan / inf kept); others skipped."""
    out = {}
    for part in text.split("|"):
        key, sep, value = part.partition(":")
        number = to_float(value) if sep else None
        if number is not None and key.strip():
            out[" ".join(key.split())] = number
    return out


def _eval_fields(text: str, prefix: str) -> dict[str, float]:
    """A validation line's fields: `lm loss value` -> `val lm loss`, `lm loss PPL` -> `val ppl`."""
    out: dict[str, float] = {}
    for key, value in _fields(text).items():
        name = prefix + ("ppl" if key.lower().endswith("ppl") else key.removesuffix(" value"))
        out[name if name not in out else prefix + key] = value
    return out


def _is_loss(key: str) -> bool:
    words = key.lower().replace("_", " ").split()
    return any(w == "loss" or w.endswith("loss") for w in words) and "scale" not in words


def _losses(builder: RunBuilder, rows: list[tuple[float, dict[str, float]]]) -> dict[str, np.ndarray]:
    """NaN points for losses missing from iteration lines (see the module docstring)."""
    keys = {k for _, fields in rows for k in fields if _is_loss(k)}
    skipped = np.array([fields.get(SKIPPED, 0.0) for _, fields in rows])
    if not keys:
        if np.any(skipped > 0):
            builder.notes.append(f"no iteration line has a loss: {plural(int(np.sum(skipped > 0)), 'line')} "
                                 "with skipped iterations; lm loss read as NaN at each")
            return {"lm loss": np.ones(len(rows), bool)}
        return {}
    missing: dict[str, np.ndarray] = {}
    for key in sorted(keys):
        has = np.array([key in fields for _, fields in rows])
        first = int(np.argmax(has))
        gap = ~has
        gap[:first] = False
        if first:
            builder.notes.append(f"{key}: absent from the first {plural(first, 'iteration line')} "
                                 f"(loss-scale calibration: {int(skipped[:first].sum())} skipped iterations); not read as NaN")
        if gap.any():
            builder.notes.append(f"{key}: missing from {plural(int(gap.sum()), 'iteration line')} after it first appeared "
                                 f"(from iteration {int(rows[int(np.argmax(gap))][0])}); read as NaN")
            missing[key] = gap
    return missing


def _add_columns(builder: RunBuilder, rows: list[tuple[float, dict[str, float]]],
                 missing: dict[str, np.ndarray]) -> None:
    """One series per field name, in order of first appearance; NaN where `missing` says."""
    names = dict.fromkeys(k for _, fields in rows for k in fields)
    names.update(dict.fromkeys(missing))
    steps = np.array([step for step, _ in rows])
    for name in names:
        gap = missing.get(name, np.zeros(len(rows), bool))
        keep = np.array([name in fields for _, fields in rows]) | gap
        values = np.array([fields.get(name, np.nan) for _, fields in rows])
        builder.add(name, steps[keep], values[keep], "step")
