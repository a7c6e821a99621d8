"""A training loss's events, named: a blow-up (divergence) or a transient spike.

Every excursion (`excursions`) is one of two things:
- a *blow-up* when it never came back down (still up at the end of the log, or it ran into
  NaN/Inf) and it matters at the scale of the run: the loss climbed at least back to where
  an untrained model started, or by at least half that start. Near a loss of ~0 (a
  memorised training set) log-scale climbs of 1e6-fold can be a move from 1e-7 to 0.1:
  not a blow-up of the run;
- a *spike* when it came back (or is on its way back: the last point is below half the
  excursion's height), at least tripled the loss (the batch noise of small batches makes
  2-2.5x routine), and moved it by at least 5% of the untrained loss (on a plot of the run
  a smaller move is invisible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .excursions import Excursion, level_excursions, point_excursions
from .noise import log_of

SPIKE_FACTOR = math.log(3.0)
SPIKE_RELEVANCE = 0.05  # of the untrained (start) loss
BLOWUP_RELEVANCE = 0.5  # of the start loss: a climb of half the start, or back above it


@dataclass(frozen=True)
class Event:
    """An excursion with its verdict and the numbers a report needs (steps, loss units)."""

    kind: str  # "blow-up" or "spike"
    step: float  # where it started
    end_step: float | None  # where it came back (spikes), or where the log ends / turns NaN
    base: float  # the loss it rose from
    peak: float  # the highest finite loss of it (inf for a climb into NaN/Inf with no finite top)
    final: float  # the last finite loss of the log
    into_nonfinite: bool
    sigmas: float


def events_of(steps: np.ndarray, values: np.ndarray) -> list[Event]:
    """Blow-ups and spikes of a loss curve, in step order; `values` keep their NaN/Inf."""
    y = log_of(values)
    finite = np.isfinite(y)
    if finite.sum() < 5:
        return []
    start = float(np.max(values[np.isfinite(values)][:3]))  # the untrained loss: the run's scale
    last = float(y[finite][-1])
    out = []
    for e in sorted(point_excursions(steps, y) + level_excursions(steps, y), key=lambda e: e.start):
        event = _judge(e, steps, y, start, last)
        if event is not None and not any(_same(event, o) for o in out):
            out.append(event)
    return out


def _judge(e: Excursion, steps: np.ndarray, y: np.ndarray, start: float, last: float) -> Event | None:
    base = math.exp(e.base)
    top = y[e.start : e.peak + 1]
    top = top[np.isfinite(top)]
    peak = math.exp(float(top.max())) if top.size else float("inf")
    end = None if e.end is None else float(steps[e.end])
    if not e.recovered:
        height = math.log(peak) - e.base if math.isfinite(peak) else float("inf")
        on_way_back = not e.nonfinite and (last - e.base) < 0.5 * height
        long_enough = e.nonfinite or int(np.isfinite(y[e.start:]).sum()) >= 3
        matters = peak >= start or peak - base >= BLOWUP_RELEVANCE * start
        if not on_way_back and long_enough and matters:
            return Event("blow-up", float(steps[e.start]), float(steps[-1]), base, peak, math.exp(last),
                         e.nonfinite, e.z)
        if not on_way_back:
            return None
    if math.log(peak) - e.base >= SPIKE_FACTOR and peak - base >= SPIKE_RELEVANCE * start:
        return Event("spike", float(steps[e.start]), end, base, peak, math.exp(last), False, e.z)
    return None


def _same(a: Event, b: Event) -> bool:
    """The point and the level view of one event (they start within each other's span)."""
    if a.kind != b.kind:
        return False
    a_end = a.end_step if a.end_step is not None else float("inf")
    b_end = b.end_step if b.end_step is not None else float("inf")
    return a.step <= b_end and b.step <= a_end
