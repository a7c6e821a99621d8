"""A training loss that undid its training: it shifted up from its lowest level to one at or
above where the untrained model started, and stayed there, with no NaN and no single climb
steep enough to stand out as an excursion.

Excursions (`excursions`) look for a stretch far above a running level on a median over 5%
of the run; in heavy batch noise (a rate ramped far past stability, the loss bouncing 0.3 to
5 from batch to batch) a 3x shift of the level does not clear six sigmas of a 5-point
median, and the run reads as a few spikes. Here the shift is judged over the whole stretch
after it, as a change point: on the progress grid (so per step and per epoch logs agree),
after the lowest level, the split that best separates lower from higher values (binary
segmentation, one split, by ranks: heavy-tailed batch noise and single spikes do not move
a rank statistic as they move a mean), kept when

- the split is significant at 5% family-wise, the level of the engine's trend tests: its
  Mann-Whitney z clears the one-sided 5% point Bonferroni-corrected for the number of
  splits tried (3.1 for 50 grid bins),
- the loss ends (the last tenth of the run) at least 2x above its lowest level and at or
  above the untrained loss (the run's scale): the training undone, not a noisy floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..medians import median
from .excursions import MIN_FACTOR
from .noise import expo, log_of
from .shape import running_median3
from .timescale import grid

MIN_BINS = 10  # a change point needs a few bins on either side
ALPHA = 0.05  # family-wise over the splits tried, as the engine's trend tests (Mann-Kendall at 5%)


@dataclass(frozen=True)
class Undoing:
    step: float  # the first step of the higher level (the change point)
    low: float  # the lowest level before it (loss units)
    end: float  # the level of the last tenth of the run
    z: float  # the split's Mann-Whitney z


def undoing(steps: np.ndarray, values: np.ndarray, scale: float) -> Undoing | None:
    """The change point where a training loss left its lowest level for good, to a level at
    or above the untrained loss (`scale`), or None."""
    u = left_lowest_level(steps, values)
    return u if u is not None and u.end >= scale else None


def left_lowest_level(steps: np.ndarray, values: np.ndarray) -> Undoing | None:
    """The change point where a loss left its lowest level for good, to one at least 2x
    above it by its last tenth, or None (the test of the module docstring, at any level)."""
    y = log_of(values)
    ok = np.isfinite(y)
    if ok.sum() < MIN_BINS or not ok.all():  # a climb into NaN/Inf is the excursions' blow-up
        return None
    gt, gy = grid(steps, y)
    n = gy.size
    if n < MIN_BINS:
        return None
    sm = running_median3(gy)
    i_low = int(np.argmin(sm))
    after = gy[i_low:]
    end = median(gy[-max(3, n // 10):])
    if after.size < 6 or end - sm[i_low] < MIN_FACTOR:
        return None
    k, z = _split(after)
    if z < NormalDist().inv_cdf(1 - ALPHA / (after.size - 3)):
        return None
    # The best split may leave the first bins of the new level on its left (a jump just before
    # it ranks with the earlier part's spread): the shift starts at the first of the bins just
    # before the split that already stand at or above halfway between the two levels.
    mid = (median(after[:k]) + median(after[k:])) / 2
    while k > 1 and after[k - 1] >= mid:
        k -= 1
    return Undoing(_first_step_up(steps, y, gt, i_low + k, mid), expo(float(sm[i_low])), expo(end), z)


def _first_step_up(steps: np.ndarray, y: np.ndarray, gt: np.ndarray, k: int, mid: float) -> float:
    """The logged step where the new level begins: the first point after the previous bin's
    step that stands at or above `mid` (a bin's step is the median of its points' steps, so
    the jump may be logged before it), else the first logged step of bin `k`."""
    lo = gt[k - 1] if k > 0 else -np.inf
    inside = np.flatnonzero((steps > lo) & (steps <= gt[k]) & (y >= mid))
    if inside.size:
        return float(steps[inside[0]])
    return float(steps[min(int(np.searchsorted(steps, gt[k])), steps.size - 1)])


def _split(a: np.ndarray) -> tuple[int, float]:
    """The split of `a` into a[:k] and a[k:] (both >= 2 points) whose later part ranks
    highest against the earlier (Mann-Whitney z, normal approximation), and that z."""
    k, z = split_z(a)
    i = int(np.argmax(z))
    return int(k[i]), float(z[i])


def split_z(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every split of `a` into a[:k] and a[k:] (both >= 2 points), k and how far the later
    part ranks above the earlier: the Mann-Whitney z (normal approximation)."""
    m = a.size
    ranks = np.empty(m)
    ranks[np.argsort(a, kind="stable")] = np.arange(1, m + 1)
    k = np.arange(2, m - 1)
    later = m - k
    u = (ranks.sum() - np.cumsum(ranks)[k - 1]) - later * (later + 1) / 2
    return k, (u - k * later / 2) / np.sqrt(k * later * (m + 1) / 12)
