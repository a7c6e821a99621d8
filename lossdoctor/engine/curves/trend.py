"""Is a curve going somewhere? Mann-Kendall's test and the Theil-Sen slope, in numpy.

Both are rank/median statistics, so batch noise, a spike or a heavy tail do not decide
them. They are O(n^2) in the points (time and memory), so callers hand them a curve on the
progress grid (`timescale.grid`, at most 50 bins), not a million raw points; a longer curve
(a raw validation curve: `best_and_after`, `swings`) is thinned to MAX_POINTS evenly spaced
points first, which keeps both statistics' meaning and bounds memory at ~100 MB (10,000
validation points would otherwise take 50M pairs, several GB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Trend:
    """Kendall's tau, the two-sided p-value of "no monotone trend", and the Theil-Sen slope
    (change of y per unit of x) with the total change it implies over the x range."""

    tau: float
    p: float
    slope: float
    change: float
    n: int

    def falling(self, alpha: float = 0.05, noise: float = float("nan")) -> bool:
        """A significant fall. Mann-Kendall decides where its n points can reach `alpha` at
        all; with fewer (a perfectly monotone 4 points has p = 0.09) the curve's own point
        noise (log units) does: the change beyond z(alpha) standard errors of a line's change
        over n points with that noise. An epoch log's last 3 points then count like the
        per-step log of the same training's last 150."""
        if self.slope >= 0:
            return False
        if reachable(self.n, alpha):
            return self.p < alpha
        if self.n < 2 or not (math.isfinite(noise) and noise > 0):
            return False
        return -self.change > _z(alpha) * noise * change_se(self.n)

    def rising(self, alpha: float = 0.05) -> bool:
        return self.n >= 4 and self.p < alpha and self.slope > 0


NO_TREND = Trend(0.0, 1.0, 0.0, 0.0, 0)
MAX_POINTS = 2000


def reachable(n: int, alpha: float) -> bool:
    """Can Mann-Kendall over n tie-free points reach p < alpha (a perfectly monotone curve)?"""
    if n < 3:
        return False
    s = n * (n - 1) / 2
    z = (s - 1) / math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    return math.erfc(z / math.sqrt(2.0)) < alpha


def change_se(n: int) -> float:
    """Standard error of a fitted line's total change over n evenly spaced points, in units
    of the points' noise sigma: sqrt(12 (n - 1) / (n (n + 1))) (sqrt(2) for two points)."""
    return math.sqrt(12.0 * (n - 1) / (n * (n + 1)))


def _z(alpha: float) -> float:
    """The two-sided normal quantile of `alpha` (1.96 for 0.05), as Mann-Kendall's p is."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / 2)


def trend(x: np.ndarray, y: np.ndarray) -> Trend:
    """Mann-Kendall (with the tie correction of its variance) and Theil-Sen over finite points."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size > MAX_POINTS:
        keep = np.linspace(0, x.size - 1, MAX_POINTS).round().astype(np.int64)
        x, y = x[keep], y[keep]
    n = x.size
    if n < 3:
        return NO_TREND
    i, j = np.triu_indices(n, 1)
    s = float(np.sum(np.sign(y[j] - y[i])))
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(counts * (counts - 1) * (2 * counts + 5)))) / 18.0
    z = 0.0 if var <= 0 else (s - np.sign(s)) / math.sqrt(var)
    p = math.erfc(abs(z) / math.sqrt(2.0))
    dx = x[j] - x[i]
    slopes = (y[j] - y[i])[dx != 0] / dx[dx != 0]
    slope = float(np.median(slopes)) if slopes.size else 0.0
    tau = s / (n * (n - 1) / 2)
    return Trend(float(tau), float(p), slope, slope * float(x[-1] - x[0]), n)
