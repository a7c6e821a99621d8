"""Hugging Face Trainer `trainer_state.json`: the curves live in `log_history`.

Train entries (loss, grad_norm, learning_rate ...) and eval entries (eval_*) are separate
dicts at different steps; each key is its own series. `predict_*` entries carry no step
and are placed at the preceding entry's step. The end-of-training summary entry is left
out: its `train_loss` is an average over the whole run, not a point of the loss curve.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from .columns import RunBuilder
from .jsonl import load_json
from .records import add_records, flatten_all

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
    state = load_json(path, builder.notes)
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError(path, "trainer_state.json has no log_history")
    records = flatten_all([entry for entry in history if isinstance(entry, dict) and not is_summary(entry)])
    add_records(builder, records, axis_key="step")
    return unfilter_nan(builder.finish())


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
