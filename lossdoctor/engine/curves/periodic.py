"""Swings that repeat: a loss that saw-tooths with a period (data sorted by class and never
shuffled, a schedule restarting every few steps), found on top of whatever trend it has.

The curve's trend is removed with a centred median over 5% of the run; what remains of
batch noise is nearly independent from point to point, so its autocorrelation at every
lag stays within +-2/sqrt(n). A period P shows as a strong autocorrelation at lag P: the
swing explains at least half of the residual's variance there (r >= 0.5), far outside
what independent noise gives, and as a peak, climbing back from a trough at a shorter lag
(noise that wanders, a logged running mean, is correlated at short lags but only decays).
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
    # ... and of the loss minus its trend in the loss's own units: how far the swings move it
    # on a plot of the run (big relative swings of a memorised loss near 0 move it nowhere).
    reach: float


def periodic_swing(steps: np.ndarray, y: np.ndarray) -> Periodic | None:
    """The strongest repeating swing of a log-loss curve, or None when none stands out."""
    ok = np.isfinite(y)
    steps, y = steps[ok], y[ok]
    n = y.size
    if n < 40:
        return None
    w = odd(points_for(steps, 0.05, least=9))
    trend = medians.centred(y, w)
    resid = y - trend
    resid = resid - resid.mean()
    var = float(np.dot(resid, resid))
    if var <= 0:
        return None
    # Every lag up to a quarter of the run (a period repeats at least 4 times in it), not only
    # up to the detrending window: an epoch of class-sorted batches is often longer than 5% of
    # the run, and its saw-tooth survives the median. All lags at once, by FFT: O(n log n).
    lags = np.arange(1, n // 4)  # n >= 40
    spectrum = np.fft.rfft(resid, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[lags] / var
    # A period is a peak: between lag 0 and lag P the autocorrelation falls (to below zero
    # half a period on, for a saw-tooth) and climbs back. Noise that wanders -- a logger's
    # running mean, an EMA -- is correlated at short lags too, but its autocorrelation only
    # decays (0.9, 0.81, ... for AR(1) at 0.9): it must rise by MIN_R from its lowest at a
    # shorter lag, as the swing's share of the variance.
    rise = acf - np.minimum.accumulate(acf)
    floor = 4.0 / np.sqrt(n)  # an autocorrelation's noise is about 1/sqrt(n)
    peaks = np.flatnonzero((lags >= 2) & (rise >= MIN_R) & (acf >= max(MIN_R, floor)))
    if peaks.size == 0:
        return None
    k = int(peaks[np.argmax(acf[peaks])])
    # A period's multiples peak as high, within an autocorrelation's standard error: the
    # period is the shortest lag the highest peak is a multiple of that peaks as high (not a
    # sub-swing within it: the classes of a 60-step epoch peak at 20 or 30 too, lower).
    for j in peaks[(peaks < k) & (acf[peaks] >= acf[k] - 1.0 / np.sqrt(n))]:
        if abs(lags[k] / lags[j] - round(lags[k] / lags[j])) * lags[j] <= 1:  # a multiple, to a step
            k = int(j)
            break
    r = float(acf[k])
    low, high = np.percentile(resid, [10, 90])  # a MAD is 0 when most points sit at one level
    loss_low, loss_high = np.percentile(np.exp(y) - np.exp(trend), [10, 90])
    return Periodic(int(lags[k]), r, float(high - low) / 2, float(loss_high - loss_low) / 2)
