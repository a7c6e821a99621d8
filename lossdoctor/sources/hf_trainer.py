"""Hugging Face Trainer `trainer_state.json`: the curves live in `log_history`.

Train entries (loss, grad_norm, learning_rate ...) and eval entries (eval_*) are separate
dicts at different steps; each key is its own series. `predict_*` entries carry no step
and are placed at the preceding entry's step. The end-of-training summary entry is left
out: its `train_loss` is an average over the whole run, not a point of the loss curve.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from .columns import RunBuilder
from .jsonl import BATCH_CHARS, parse_json
from .records import Columns, add_columns, flatten_all
from .text import read_text

# Keys only the final summary entry has; their presence marks that entry.
SUMMARY_KEYS = frozenset(
    {"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"}
)


def is_summary(entry: dict) -> bool:
    """True for the end-of-training summary entry (train_runtime, total_flos, train_loss)."""
    return not SUMMARY_KEYS.isdisjoint(entry)


def read_hf_trainer_state(path: Path) -> Run:
    """Read the log_history of a trainer_state.json into a Run on the step axis."""
    builder = RunBuilder(path, "hf_trainer_state")
    text = read_text(path, builder.notes)
    columns = _stream_history(text) if len(text) > BATCH_CHARS else None
    if columns is None:  # a small state, or one not laid out as expected: parsed whole
        state = parse_json(path, text)
        history = state.get("log_history") if isinstance(state, dict) else None
        if not isinstance(history, list):
            raise InputError(path, "trainer_state.json has no log_history")
        columns = Columns()
        columns.add(_entries(history))
    add_columns(builder, columns, axis_key="step")
    return unfilter_nan(builder.finish())


def _entries(history: list) -> list[dict]:
    """The log_history entries that are points of the curves, flattened."""
    return flatten_all([entry for entry in history if isinstance(entry, dict) and not is_summary(entry)])


_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
_SPACE = re.compile(r"\s*")


def _stream_history(text: str) -> Columns | None:
    """log_history gathered a batch of entries at a time (whole, a 10^7-entry state took 10x
    its size in dicts), or None when that cannot be done (then the whole document is parsed,
    which also words any error). The document minus the array is parsed too: it must be a
    JSON object whose one log_history is the array that was read."""
    found = _HISTORY.search(text)
    if found is None:
        return None
    columns, pos = Columns(), found.end()
    try:
        while True:
            entries, pos, ended = _batch(text, pos)
            columns.add(_entries(entries))
            if ended:
                break
        # pairs, not a dict: a second log_history key (json keeps the last) must not pass
        rest = json.loads(text[: found.end() - 1] + "[]" + text[pos:], object_pairs_hook=list)
    except (ValueError, RecursionError, IndexError):
        return None
    top = rest if isinstance(rest, list) and all(isinstance(p, tuple) for p in rest) else []
    return columns if [v for k, v in top if k == "log_history"] == [[]] else None


def _batch(text: str, pos: int) -> tuple[list, int, bool]:
    """(entries, position after them, whether the array ended) from `pos` (after '[' or ','):
    about BATCH_CHARS of entries parsed as one JSON array when the cut after a '}' holds,
    else entry by entry up to that point."""
    cut = text.find("}", pos + BATCH_CHARS)
    while cut >= 0:
        after = _SPACE.match(text, cut + 1).end()
        if text[after:after + 1] in (",", "]"):
            try:
                entries = json.loads("[" + text[pos:cut + 1] + "]")
            except ValueError:
                break  # the '}' closed a nested object or sat in a string
            return entries, after + 1, text[after] == "]"
        cut = text.find("}", cut + 1)
    return _one_by_one(text, pos, pos + BATCH_CHARS)


_DECODER = json.JSONDecoder()


def _one_by_one(text: str, pos: int, stop: int) -> tuple[list, int, bool]:
    """Entries parsed one at a time from `pos` until past `stop` or the array's end."""
    entries: list = []
    pos = _SPACE.match(text, pos).end()
    if text[pos] == "]":
        return entries, pos + 1, True
    while pos < stop:
        entry, pos = _DECODER.raw_decode(text, _SPACE.match(text, pos).end())
        entries.append(entry)
        pos = _SPACE.match(text, pos).end()
        if text[pos] == "]":
            return entries, pos + 1, True
        if text[pos] != ",":
            raise ValueError("not a JSON array")
        pos += 1
    return entries, pos, False


def unfilter_nan(run: Run) -> Run:
    """Undo the Trainer's NaN filter where it left its mark: a `loss` that ends in exact
    zeros while the gradient norm or an evaluation loss is NaN/Inf at or after the first
    zero. The filter (`logging_nan_inf_filter`, on by default) logs a non-finite step's loss
    as the running mean so far, which is 0.0 once every step of a window is non-finite;
    the zeros are read as NaN from the first one, so the NaN is seen where it started."""
    loss = run.series.get("loss")
    if loss is None or loss.values.size < 2 or loss.values[-1] != 0.0:
        return run
    nonzero = np.flatnonzero(loss.values != 0.0)
    first = int(nonzero[-1]) + 1 if nonzero.size else 0
    at = loss.steps[first]
    witnesses = [s for name, s in run.series.items()
                 if (name == "grad_norm" or (name.startswith("eval_") and name.endswith("loss")))
                 and np.any(~np.isfinite(s.values[s.steps >= at]))]
    if not witnesses:
        return run
    values = loss.values.copy()
    values[first:] = np.nan
    run.series["loss"] = replace(loss, values=values)
    run.notes.append(f"loss: logged as 0.0 from step {at:g} on while {witnesses[0].name} is not finite: "
                     "the Trainer's NaN filter hides non-finite losses that way; read as NaN")
    return run
