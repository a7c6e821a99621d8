"""What a rule looks at: one train/val loss pair (or one loss series) with its run's context.

A Subject binds *slots* (train_loss, val_loss, lr, ...) to series; a Curve caches the
features of one series (finite points, smoothed values, levels) so that rules sharing
a signal compute it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from typing import Any

import numpy as np

from . import medians
from ..frame import Run, Series
from ..roles import Roles

SLOTS = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm", "loss_scale", "skipped_steps", "series")
CONTEXT = ("train_acc", "val_acc", "lr", "grad_norm", "loss_scale", "skipped_steps")  # a pair's other series


class Curve:
    """The finite points of a series (the richer readings live in `readings`, on `curves`)."""

    def __init__(self, series: Series) -> None:
        self.series = series
        ok = series.finite
        self.steps = series.steps[ok]
        self.values = series.values[ok]
        self.n = int(self.values.size)

    @cached_property
    def start(self) -> float:
        """Median of the first tenth of the points (at least one): where the curve starts."""
        return medians.median(self.values[: max(1, self.n // 10)]) if self.n else float("nan")

    @cached_property
    def end(self) -> float:
        """Median of the last tenth of the points: where the curve ends."""
        return medians.median(self.values[-max(1, self.n // 10):]) if self.n else float("nan")

    def step_at(self, index: int) -> float:
        """The step of the finite point at `index`."""
        return float(self.steps[index])

    def value_near(self, step: float) -> float | None:
        """The logged value at the finite point nearest to `step` (at or before it)."""
        i = int(np.searchsorted(self.steps, step, side="right")) - 1
        return float(self.values[max(i, 0)]) if self.n else None


@dataclass
class Subject:
    """The series a rule sees, by slot, plus the run's format."""

    label: str
    format: str
    slots: dict[str, Series] = field(default_factory=dict)
    producer: str | None = None
    _curves: dict[str, Curve | None] = field(default_factory=dict, repr=False)
    # Predicate answers by (name, arguments): filled by the engine, read-only for rules.
    answers: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def series(self, slot: str) -> Series | None:
        """The raw series in a slot (NaN/Inf included), or None."""
        return self.slots.get(slot)

    def curve(self, slot: str) -> Curve | None:
        """The cached Curve of a slot, or None when the slot is empty."""
        if slot not in self._curves:
            s = self.slots.get(slot)
            self._curves[slot] = Curve(s) if s is not None else None
        return self._curves[slot]


def pair_subjects(run: Run, roles: Roles) -> list[Subject]:
    """One Subject per train/val loss pair: the main pair first, then the loss terms."""
    known = {**run.series, **roles.derived}
    context = {r: run.series[n] for r, n in roles.by_role.items()
               if r in CONTEXT and n in run.series}
    out = []
    for label, train, val in roles.pairs:
        slots = dict(context)
        if train in known:
            slots["train_loss"] = known[train]
        if val in known:
            slots["val_loss"] = known[val]
        out.append(Subject(label, run.format, slots, roles.producer))
    return out


def series_subjects(run: Run, roles: Roles) -> list[Subject]:
    """One Subject per loss series and for the gradient norm: for per-series checks (NaN)."""
    names = list(roles.losses)
    grad = roles.by_role.get("grad_norm")
    if grad and grad not in names:
        names.append(grad)
    subjects = []
    for name in names:
        if name in run.series:
            slots = {"series": run.series[name]}
            for role in ("train_loss", "grad_norm", "lr"):
                other = roles.by_role.get(role)
                if other in run.series:
                    slots[role] = run.series[other]
            subjects.append(Subject(name, run.format, slots, roles.producer))
    return subjects
