"""Swings that repeat: a loss that saw-tooths with a period (data sorted by class and never
shuffled, a schedule restarting every few steps), found on top of whatever trend it has.

The curve's trend is removed with a centred median over 5% of the run; what remains of
batch noise is nearly independent from point to point, so its autocorrelation at every
lag stays within +-2/sqrt(n). A period P shows as a strong autocorrelation at lag P: the
swing explains at least half of the residual's variance there (r >= 0.5), far outside
what independent noise gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import medians
from .timescale import odd, points_for

MIN_R = 0.5  # the autocorrelation at the period: the swing is at least half the residual's variance


@dataclass(frozen=True)
class Periodic:
    period: int  # in points
    r: float  # autocorrelation at that lag
    amplitude: float  # half the 10-90% range of the detrended log-loss (log units)


def periodic_swing(steps: np.ndarray, y: np.ndarray) -> Periodic | None:
    """The strongest repeating swing of a log-loss curve, or None when none stands out."""
    ok = np.isfinite(y)
    steps, y = steps[ok], y[ok]
    n = y.size
    if n < 40:
        return None
    w = odd(points_for(steps, 0.05, least=9))
    resid = y - medians.centred(y, w)
    resid = resid - resid.mean()
    var = float(np.dot(resid, resid))
    if var <= 0:
        return None
    # Every lag up to a quarter of the run (a period repeats at least 4 times in it), not only
    # up to the detrending window: an epoch of class-sorted batches is often longer than 5% of
    # the run, and its saw-tooth survives the median. All lags at once, by FFT: O(n log n).
    lags = np.arange(2, n // 4)  # n >= 40
    spectrum = np.fft.rfft(resid, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[lags] / var
    k = int(np.argmax(acf))
    r = float(acf[k])
    if r < max(MIN_R, 4.0 / np.sqrt(n)):
        return None
    low, high = np.percentile(resid, [10, 90])  # a MAD is 0 when most points sit at one level
    return Periodic(int(lags[k]), r, float(high - low) / 2)
