"""Training progress as the unit of time: spans, windows in steps, curves on a progress grid.

A window is a share of the run's step span turned into points by the curve's own logging
density, so the same training logged every step, every 10 steps or every epoch is judged
on the same time scale. Dense curves are summarised on a grid of progress bins (each bin
a median of log-loss, or a mean of raw loss where means are compared with means).
"""

from __future__ import annotations

import numpy as np

from ... import intervals
from ..medians import median

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
    spacing = median(np.diff(steps)) if n > 1 else 1.0
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
    starts, ends, t_sorted = _groups(which, t)
    bt = _group_medians(starts, ends, t_sorted)
    if how == "median":
        bv = _group_medians(starts, ends, _groups(which, v)[2])
    else:
        order = np.argsort(which, kind="stable")
        vo = v[order]
        bv = np.array([np.mean(vo[a:b]) for a, b in zip(starts, ends)])
    return bt, bv


def _groups(which: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each bin's run starts and ends once x is sorted by (bin, value)."""
    order = np.lexsort((x, which))
    w = which[order]
    starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
    return starts, np.r_[starts[1:], w.size], x[order]


def _group_medians(starts: np.ndarray, ends: np.ndarray, x_sorted: np.ndarray) -> np.ndarray:
    """Each bin's median from values sorted within bins: the mean of the two middle values,
    as np.median computes it (one numpy pass instead of one np.median call per bin: the
    per-call overhead was most of an audit's rule time)."""
    n = ends - starts
    lo, hi = x_sorted[starts + (n - 1) // 2], x_sorted[starts + n // 2]
    return (lo + hi) / 2.0


def interval_means(t_steps: np.ndarray, t_values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Mean of the train values logged in each interval (at[k-1], at[k]], for k >= 1.

    That is what an epoch-averaged training loss is; a per-step curve aggregated this way is
    compared with validation like with like. NaN where an interval holds no train point.
    """
    ok = np.isfinite(t_values)
    ts, tv = t_steps[ok], t_values[ok]
    lo = np.searchsorted(ts, at[:-1], side="right")
    hi = np.searchsorted(ts, at[1:], side="right")
    return intervals.means(tv, lo, hi)
