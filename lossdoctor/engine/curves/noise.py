"""How noisy a curve is, measured on log-loss (relative noise: a loss of 0.01 wobbling by
0.005 is as noisy as a loss of 1 wobbling by 0.5).

The point noise comes from second differences: for independent noise e, e[i-1] - 2e[i] +
e[i+1] has variance 6 sigma^2, and a smooth trend (a line, a slow decay) nearly cancels
out of them. The median absolute value makes one spike or a few NaN-adjacent jumps
irrelevant. No window to choose, so it works on a 6-point validation curve and on a
1M-point per-step log alike.
"""

from __future__ import annotations

import numpy as np

from ..medians import median

# MAD -> standard deviation for normal noise.
MAD_TO_SD = 1.4826


def log_of(values: np.ndarray) -> np.ndarray:
    """log of the positive values; NaN where a value is 0, negative or not finite."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v) & (v > 0)
    out[ok] = np.log(v[ok])
    return out


def point_noise(y: np.ndarray) -> float:
    """Robust standard deviation of the point-to-point noise of y (finite values only)."""
    y = y[np.isfinite(y)]
    if y.size < 4:
        return float("nan")
    return noise_of_differences(y[:-2] - 2 * y[1:-1] + y[2:])


def noise_of_differences(d2: np.ndarray) -> float:
    """The point noise that second differences `d2` say (their MAD over sqrt(6))."""
    return float(MAD_TO_SD * median(np.abs(d2 - median(d2))) / np.sqrt(6.0))


def level_noise(y: np.ndarray, points: int) -> float:
    """The standard error of a level measured as the median of `points` consecutive points.

    A median of k normal points has a standard error of about 1.25 sigma / sqrt(k).
    """
    sigma = point_noise(y)
    return float(1.2533 * sigma / np.sqrt(max(points, 1))) if np.isfinite(sigma) else float("nan")


def robust_scale(x: np.ndarray) -> float:
    """MAD-based standard deviation of a sample (0 when it has no spread)."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    return float(MAD_TO_SD * np.median(np.abs(x - np.median(x))))


def expo(x: float) -> float:
    """exp(x) as a float, inf beyond the float range (log-loss of 1e300 climbs is real data)."""
    with np.errstate(over="ignore"):
        return float(np.exp(x))
