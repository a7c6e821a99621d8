"""A curve that swings from one point to the next without going anywhere (an epoch-level
loss bouncing with a learning rate at the edge of stability).

Judged over the second half of the curve (where a healthy run has settled): the median
move between consecutive points, in log units (a relative move); whether the moves reverse
(a random walk goes up about half the time, a converging curve rarely); and whether a
trend is left (Mann-Kendall on that half).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .trend import Trend, trend

MIN_SWING = np.log(1.1)  # 10% between consecutive points: more than a settled curve moves
# "No trend left" is the absence of a significant Mann-Kendall trend over the second half;
# with 4-5 points that test cannot find even a steady fall (n = 5: p = 0.027 at best, and
# most orderings of a noisy fall stay above 0.05), so the absence means nothing. At 8 points
# in the half a monotone fall gives p = 0.001 and a noisy one usually p < 0.05.
MIN_POINTS = 16


@dataclass(frozen=True)
class Swings:
    swing: float  # median |log change| per point over the second half
    up_share: float  # share of moves that go up
    tail: Trend
    points: int


def swings(steps: np.ndarray, y: np.ndarray) -> Swings | None:
    """Swing statistics of the second half of a log-loss curve (None under MIN_POINTS)."""
    ok = np.isfinite(y)
    steps, y = steps[ok], y[ok]
    if y.size < MIN_POINTS:
        return None
    h = y.size // 2
    d = np.diff(y[h:])
    return Swings(float(np.median(np.abs(d))), float(np.mean(d > 0)), trend(steps[h:], y[h:]), int(y.size - h))
