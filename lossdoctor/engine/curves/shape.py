"""The overall course of a loss curve on the progress grid: where it started, how far it got,
whether it is still going, how its progress was spread over the run.

Read on `timescale.grid` (<= 50 bins of median log-loss), so the same training logged per
step or per epoch has the same shape. "Start" is the median of the first three logged
points (a loss that drops within its first points has learnt, however long the log goes
on), or the first point itself when it stands above that median beyond the curve's noise
(an epoch-level loss that fell from its first to its second point: the fall is progress);
the improvement is measured from there to the lowest bin. The highest of those three
is the run's loss scale (what an untrained model scores), against which the size of a
swing or a spike is judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..medians import median

from .noise import log_of, point_noise
from .timescale import grid
from .trend import Trend, trend


@dataclass(frozen=True)
class Shape:
    """The course of one loss curve (levels in the loss's own units, changes in log units)."""

    start: float  # median of the first three logged points (or the first, see _start)
    scale: float  # the highest of them: the untrained loss, the scale a move is judged against
    end: float  # median of the last tenth of the grid
    low: float  # the lowest grid bin
    whole: Trend  # Mann-Kendall / Theil-Sen over the whole grid
    tail: Trend  # ... over its second half
    # Loss units, between the levels (medians) of the grid's first tenth, the tenth around its
    # middle and its last tenth: single end bins would let the first logged point (an untrained
    # loss before a steep first epoch, there or not depending on how often the logger wrote)
    # decide the pace.
    first_half_drop: float
    second_half_drop: float
    points: int  # grid bins
    noise: float = float("nan")  # point noise of the grid (log units): small-sample trend tests

    @property
    def gain(self) -> float:
        """How far the curve got below its start, as a share of the start (0 = not at all)."""
        return float(1.0 - self.low / self.start) if self.start > 0 else 0.0

    @property
    def pace(self) -> float:
        """What the second half brought, relative to the first (1: a straight line; a curve
        that converges brings little in its second half)."""
        if self.first_half_drop <= 0:
            return float("nan")
        return float(self.second_half_drop / self.first_half_drop)

    @property
    def pace_from_start(self) -> float:
        """The pace with the first half counted from the start (`start`) instead of the first
        tenth's level: a fall within the first points (a fine-tune adapting in its first
        hundred steps, thinned away or not by the logger) is progress the tenths leave out.
        NaN when the curve did not fall from its start to the middle."""
        middle = self.end + self.second_half_drop
        if self.start <= middle:
            return float("nan")
        return float(self.second_half_drop / (self.start - middle))


# The fewest finite points a course is read from: halves with a trend each, a tenth's median.
MIN_POINTS = 5


def course_points(values: np.ndarray) -> int:
    """How many of the values a course is read from (positive and finite: a log-loss)."""
    return int(np.isfinite(log_of(values)).sum())


def shape_of(steps: np.ndarray, values: np.ndarray) -> Shape | None:
    """The shape of a positive loss curve (non-finite points left out); None under MIN_POINTS."""
    y = log_of(values)
    ok = np.isfinite(y)
    if ok.sum() < MIN_POINTS:
        return None
    gt, gy = grid(steps[ok], y[ok])
    n = gy.size
    k = max(1, n // 10)
    h = n // 2
    # The lowest level reached, on a 3-bin running median: the minimum of noisy bins alone
    # sits below the curve by its noise, and would count noise as progress.
    low = float(np.exp(np.min(running_median3(gy))))
    start = _start(values[ok], y[ok])
    scale = float(np.max(values[ok][:3]))
    first, mid, last = (float(np.exp(median(gy[i:i + k]))) for i in (0, max(0, h - k // 2), n - k))
    return Shape(start, scale, last, low, trend(gt, gy), trend(gt[h:], gy[h:]), first - mid, mid - last, n,
                 point_noise(gy))


def _start(values: np.ndarray, y: np.ndarray) -> float:
    """Where the curve started: the median of its first three points, or the first point when
    it stands above that median beyond the curve's noise (3 sigma of its point noise): then the
    loss fell from it within the first points, and the fall is progress, not noise."""
    return float(values[0]) if falls_at_once(values, y) else median(values[:3])


def falls_at_once(values: np.ndarray, y: np.ndarray) -> bool:
    """The first point stands above the median of the first three beyond the curve's noise (3
    sigma of its point noise): the loss fell within its first points, as an untrained model's
    does (a run resumed from a checkpoint goes on at its slow pace)."""
    if values.size < 3:
        return False
    mid = median(values[:3])
    sigma = point_noise(y)
    return bool(np.isfinite(sigma) and mid > 0 and y[0] - np.log(mid) > 3 * sigma)


def running_median3(g: np.ndarray) -> np.ndarray:
    if g.size < 3:
        return g
    inner = np.median(np.stack([g[:-2], g[1:-1], g[2:]]), axis=0)
    return np.concatenate(([median(g[:2])], inner, [median(g[-2:])]))
