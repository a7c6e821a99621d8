"""A run's steps as its own tool numbers them: the axis word, the checkpoint a step is saved
as, and the learning rate the user configured.

A finding's step is the log's own x value. What a person does with it goes through their
trainer: Keras' CSVLogger counts epochs from 0 while ModelCheckpoint's `{epoch:02d}` counts
from 1 (index 2 is `03`); Lightning logs a validation at step 47 and saves
`epoch=3-step=48.ckpt` (the global step after it); the HF Trainer saves `checkpoint-800`
at step 800; Ultralytics counts epochs from 1 and keeps `weights/best.pt` by its fitness
(mAP), not by a loss. Checkpoints actually found beside the log are named as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from . import numfmt
from .frame import as_logged

# Hyper-parameter keys that hold the learning rate as configured (Lightning's hparams.yaml,
# Ultralytics' args.yaml `lr0`, MMEngine/timm `base_lr`), in order of preference.
LR_KEYS = ("learning_rate", "lr", "lr0", "base_lr", "max_lr", "initial_lr")


@dataclass
class Numbering:
    """How one run counts: its x-axis ("step", "epoch" or "row"), its writer, and (found
    lazily, only when a finding names one) the checkpoints saved beside its log."""

    axis: str = "step"
    writer: str | None = None
    first_step: float | None = None  # the training loss's first logged x value
    find_checkpoints: Callable[[], list[tuple[float, str | None]]] = field(default=lambda: [], repr=False)
    find_hparams: Callable[[], Mapping[str, Any]] = field(default=lambda: {}, repr=False)
    peak_lr: float | None = None  # the highest logged learning rate (a schedule's target)
    # Every step the log holds, sorted, when points that shared a step were spread across it
    # (frame.Series.logged): a finding at a spread position is at the logged step before it.
    logged: np.ndarray | None = field(default=None, repr=False)

    def logged_step(self, step: float) -> float:
        """The step as the log wrote it (frame.as_logged)."""
        return as_logged(step, self.logged)

    @cached_property
    def checkpoints(self) -> list[tuple[float, str | None]]:
        """(step, path) of the checkpoints beside the log, in step order."""
        try:
            return sorted(self.find_checkpoints(), key=lambda c: c[0])
        except OSError:
            return []

    def at(self, step: float) -> str:
        """`step 1,000`, `epoch 3`, `row 12`."""
        return f"{self.axis} {numfmt.step(step)}"

    def keep(self, step: float) -> str:
        """The checkpoint to keep for the state at `step`, named as the user's tool names it."""
        found = [path for s, path in self.checkpoints if path and s in self._saved_as(step)]
        if found:
            return f"{_name(found[0])} ({self.at(step)})"
        name = self._tool_name(step)
        return f"the checkpoint of {self.at(step)}" + (f" ({name})" if name else "")

    def restart(self, step: float) -> str:
        """Where to restart from for an event at `step`: the last checkpoint saved before it,
        or, for an event at the very start, a fresh start (there is no checkpoint before it)."""
        if self.first_step is not None and step <= self.first_step:
            return f"restart from scratch (it began at the first logged {self.axis})"
        before = [(s, path) for s, path in self.checkpoints if path and s < step]
        if before:
            s, path = before[-1]
            return f"restart from {_name(path)} (the last saved before {self.at(step)})"
        return f"restart from the last checkpoint saved before {self.at(step)}"

    def _saved_as(self, step: float) -> tuple[float, ...]:
        """The step numbers a checkpoint of the state at `step` carries in its name."""
        return (step + 1, step) if self.writer == "lightning" else (step,)

    def _tool_name(self, step: float) -> str:
        s = int(step) if float(step).is_integer() else None
        if s is None:
            return ""
        if self.writer == "hf_trainer":
            return f"the Trainer names it checkpoint-{s}"
        if self.writer == "lightning":
            return f"ModelCheckpoint names it epoch=…-step={s + 1}.ckpt"
        if self.writer == "keras" and self.axis == "epoch":
            return f"ModelCheckpoint's {{epoch:02d}} names it {s + 1:02d}: Keras counts epochs from 1"
        if self.writer == "ultralytics":
            return f"weights/epoch{s}.pt with save_period; weights/best.pt is chosen by mAP, not by this loss"
        return ""

    @cached_property
    def configured_lr(self) -> float | None:
        """The learning rate the run's own files say was configured (None when they do not)."""
        try:
            hparams = self.find_hparams()
        except OSError:
            return None
        for key in LR_KEYS:
            value = hparams.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                return float(value)
        return None


def _name(path: str) -> str:
    """A checkpoint's own name (its file or folder), not the whole path."""
    return path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
