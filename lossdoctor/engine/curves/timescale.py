"""Training progress as the unit of time: spans, windows in steps, curves on a progress grid.

A window is a share of the run's step span turned into points by the curve's own logging
density, so the same training logged every step, every 10 steps or every epoch is judged
on the same time scale. Dense curves are summarised on a grid of progress bins (each bin
a median of log-loss, or a mean of raw loss where means are compared with means).
"""

from __future__ import annotations

import numpy as np

# Trend, flatness and plateau decisions look at the run on a grid of 50 progress bins (2%
# of the run each): finer than any phenomenon judged (a plateau is >= 30% of a run, a
# trend is read over thirds), coarse enough that a per-step log gets tens of batches per
# bin to average its batch noise.
GRID_BINS = 50


def points_for(steps: np.ndarray, share: float, least: int = 1) -> int:
    """How many consecutive points cover `share` of the curve's step span (at least `least`)."""
    n = steps.size
    if n < 2:
        return max(least, 1)
    span = float(steps[-1] - steps[0])
    spacing = float(np.median(np.diff(steps))) if n > 1 else 1.0
    if not (span > 0 and spacing > 0 and np.isfinite(span / spacing)):  # steps of 1e308 spread into inf
        return max(least, int(round(n * share)))
    return int(max(least, min(n, round(share * span / spacing))))


def odd(k: int) -> int:
    """k, or k + 1 when even (a centred window needs a middle point)."""
    return k if k % 2 else k + 1


def grid(steps: np.ndarray, y: np.ndarray, bins: int = GRID_BINS,
         how: str = "median") -> tuple[np.ndarray, np.ndarray]:
    """(bin step, bin value) of finite y on equal step bins; sparse curves come back as they are.

    A curve with no more points than bins is already on the progress time scale.
    """
    ok = np.isfinite(y)
    t, v = steps[ok], y[ok]
    if t.size <= bins or t[-1] <= t[0]:
        return t, v
    edges = np.linspace(t[0], t[-1], bins + 1)
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    order = np.argsort(which, kind="stable")
    which, t, v = which[order], t[order], v[order]
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    ends = np.r_[starts[1:], which.size]
    reduce = np.median if how == "median" else np.mean
    bt = np.array([np.median(t[a:b]) for a, b in zip(starts, ends)])
    bv = np.array([reduce(v[a:b]) for a, b in zip(starts, ends)])
    return bt, bv


def interval_means(t_steps: np.ndarray, t_values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Mean of the train values logged in each interval (at[k-1], at[k]], for k >= 1.

    That is what an epoch-averaged training loss is; a per-step curve aggregated this way is
    compared with validation like with like. NaN where an interval holds no train point.
    """
    ok = np.isfinite(t_values)
    ts, tv = t_steps[ok], t_values[ok]
    lo = np.searchsorted(ts, at[:-1], side="right")
    hi = np.searchsorted(ts, at[1:], side="right")
    csum = np.r_[0.0, np.cumsum(tv)]
    count = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)
