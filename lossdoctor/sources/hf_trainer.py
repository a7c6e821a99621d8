"""Hugging Face Trainer `trainer_state.json`: the curves live in `log_history`.

Train entries (loss, grad_norm, learning_rate ...) and eval entries (eval_*) are separate
dicts at different steps; each key is its own series. `predict_*` entries carry no step
and are placed at the preceding entry's step. The end-of-training summary entry is left
out: its `train_loss` is an average over the whole run, not a point of the loss curve.
"""

from __future__ import annotations

from pathlib import Path

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
    return builder.finish()
