"""What the learning-rate schedule did: whether it collapsed long before the end.

A rate below 1% of its peak moves the weights a hundred times slower than the training
was set up to: learning has practically stopped. Schedules that anneal to ~0 (cosine,
linear decay) spend only their last few percent there (cosine: the last 6%); a rate that
sits there for a third of the run was cut too early (a step decay mistimed, a per-epoch
decay stepped per batch, reduce-on-plateau with a tiny factor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLLAPSED = 0.01  # of the peak rate
MIN_SHARE = 0.3  # of the run's step span


@dataclass(frozen=True)
class Collapse:
    since: float  # the step from which the rate stayed below COLLAPSED x peak
    share: float  # the share of the run spent there
    peak: float
    last: float


def collapse(steps: np.ndarray, lr: np.ndarray, run_end: float | None = None) -> Collapse | None:
    """The stretch at the end where the rate is below 1% of its peak, when it is >= 30% of the run."""
    ok = np.isfinite(lr)
    steps, lr = steps[ok], lr[ok]
    if lr.size < 3:
        return None
    peak = float(lr.max())
    if peak <= 0:
        return None
    low = lr < COLLAPSED * peak
    if not low[-1]:
        return None
    high = np.flatnonzero(~low)
    first = int(high[-1]) + 1 if high.size else 0
    end = max(float(steps[-1]), run_end or float(steps[-1]))
    span = end - float(steps[0])
    share = (end - float(steps[first])) / span if span > 0 else 0.0
    if share < MIN_SHARE:
        return None
    return Collapse(float(steps[first]), float(share), peak, float(lr[-1]))
