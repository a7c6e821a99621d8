"""Where a validation curve was best, and whether it rose for real after that.

The checkpoint to keep is the earliest evaluation within the noise of the lowest level --
the standard error of a level read off three evaluations, 1.25 sigma / sqrt(3) -- on the
raw curve and on the curve smoothed over three evaluations (so that a lone low draw between
two high ones is not it): as good within that noise, and there first. The rise is judged
after the earliest raw evaluation within one noise sigma of the lowest. A rise counts when the
points after the best carry a significant upward trend (Mann-Kendall, p < 0.05) and the
trend's size (Theil-Sen over those points) clears the noise; a noisy validation curve
that merely wobbles around its floor has no trend, however far one wobble reaches. A
curve that jumps to a higher level after its best and stays there (a fast rise, then a
slow drift) has no trend over all those points, yet it shifted for real: the median of the
points after the best sits above the curve's lowest level (on the 3-point running median:
a lone low draw is not a level) by more than the lowest of n noise draws lies below their
centre (sqrt(2 ln n) sigma) plus two sigma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .noise import level_noise, point_noise
from .shape import running_median3
from .trend import Trend, trend


@dataclass(frozen=True)
class Best:
    """The best evaluation (index), its log-level, the curve's noise, and the rise after it.

    `index` and `keep` count the judged points only (finite and positive: a log-loss), so a
    series with a 0 or a NaN in it is indexed through `judged`, never by its finite values."""

    index: int  # the earliest evaluation within the noise of the lowest: the rise is judged after it
    keep: int  # the checkpoint to keep (see keep_point): what a report names
    level: float
    noise: float
    after: Trend  # the trend of the points after the best
    rise: float  # log units: from the best level to the end of the fitted trend
    first_gain: float  # log units: how far the best is below the first evaluation
    shift: float = 0.0  # log units: the median of the evaluations after the best, above the lowest smoothed level
    # Positions in the series of the judged points: `judged[keep]` is the checkpoint's.
    judged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False, repr=False)

    def shifted_up(self) -> bool:
        """The evaluations after the best sit at a level above it beyond the noise: more than
        the minimum of n draws falls below their centre (sqrt(2 ln n) sigma), plus 2 sigma."""
        n = self.after.n
        return n >= 4 and self.shift > (math.sqrt(2 * math.log(n)) + 2) * self.noise


def best_point(y: np.ndarray) -> int:
    """Earliest index within one noise sigma of the lowest finite value."""
    ok = np.isfinite(y)
    low = float(np.min(y[ok]))
    sigma = point_noise(y)
    band = sigma if np.isfinite(sigma) else 0.0
    return int(np.flatnonzero(ok & (y <= low + band))[0])


def keep_point(y: np.ndarray) -> int:
    """The checkpoint to keep: the earliest index within the noise of the lowest level (the
    standard error of a 3-point level, `level_noise(y, 3)`: the running median it is also
    judged on is such a level) both on the raw curve and on its 3-point running median
    (edge-aware: two points at either end). An isolated low evaluation between two high ones
    is a noise draw, not a place the curve was good; when no point qualifies on both, the
    lowest raw point. `y` is finite; the result is never before `best_point(y)` (its band is
    narrower, and it adds a condition)."""
    noise = level_noise(y, 3)
    band = noise if np.isfinite(noise) else 0.0
    smooth = running_median3(y)
    both = np.flatnonzero((y <= y.min() + band) & (smooth <= smooth.min() + band))
    return int(both[0]) if both.size else int(np.argmin(y))


def best_and_after(steps: np.ndarray, y: np.ndarray) -> Best | None:
    """The best evaluation of a log-loss curve and what came after it (None: too few points)."""
    ok = np.isfinite(y)
    steps, y = steps[ok], y[ok]
    if y.size < 4:
        return None
    judged = np.flatnonzero(ok)
    i = best_point(y)
    sigma = point_noise(y)
    after = trend(steps[i:], y[i:]) if y.size - i >= 4 else Trend(0.0, 1.0, 0.0, 0.0, y.size - i)
    rise = after.change if after.n >= 4 else float(np.median(y[i + 1:]) - y[i]) if y.size > i + 1 else 0.0
    # Against the lowest level of the 3-point running median, not the raw best: a lone low
    # draw between two higher ones (the curve never stood there) must not make a flat tail a shift.
    shift = float(np.median(y[i + 1:]) - np.min(running_median3(y))) if y.size > i + 1 else 0.0
    return Best(i, keep_point(y), float(y[i]), float(sigma) if np.isfinite(sigma) else 0.0, after, float(rise),
                float(y[0] - y[i]), shift, judged)
