"""Small pure numeric features of one series: smoothing, levels, best point, spikes, swings.

Everything here is vectorised (numpy, and the rolling medians of `medians`) so a
diagnosis stays linear in the number of points. Functions take plain arrays of the
finite points of a series (callers strip NaN/Inf first: non-finite values are a
finding of their own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import medians


def odd_window(n: int, fraction: float, cap: int = 501) -> int:
    """An odd rolling window covering about `fraction` of n points (at least 1)."""
    w = int(round(n * fraction))
    w = max(1, min(w, cap))
    return w if w % 2 else w + 1


def smooth_window(n: int, fraction: float = 0.05) -> int:
    """The rolling-median window `smooth` uses for a curve of n points."""
    return max(odd_window(n, fraction), 5 if n >= 15 else 3 if n >= 7 else 1)


def smooth(values: np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """Centred rolling median: robust to single-step noise and spikes, keeps trends.

    Short curves get a window of at least 3 (from 7 points) or 5 (from 15 points): on
    a 20-point validation curve a 5% window is one point, which smooths nothing.
    """
    n = values.size
    w = smooth_window(n, fraction)
    if w <= 1 or n < 3:
        return values.astype(np.float64, copy=True)
    return medians.centred(values, w)


def edge_count(n: int, fraction: float = 0.1, least: int = 1) -> int:
    """How many points make up the 'start' or 'end' of a series of n points."""
    return max(least, min(n, int(round(n * fraction))))


def start_level(values: np.ndarray, fraction: float = 0.1) -> float:
    """Median of the first points: where the curve starts, robust to one odd value."""
    return medians.median(values[: edge_count(values.size, fraction)])


def end_level(values: np.ndarray, fraction: float = 0.1) -> float:
    """Median of the last points: where the curve ends."""
    return medians.median(values[-edge_count(values.size, fraction) :])


def rel_change(a: float, b: float) -> float:
    """Change from a to b relative to |a| (scale-free); 0 when a is 0 and b is 0."""
    base = abs(a)
    if base == 0.0:
        return 0.0 if b == a else float(np.sign(b - a)) * np.inf
    return (b - a) / base


def first_nonfinite(values: np.ndarray) -> int | None:
    """Index of the first NaN/Inf value, or None."""
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if bad.size else None


@dataclass(frozen=True)
class Spike:
    """A sudden jump above the recent baseline."""

    index: int
    value: float
    baseline: float
    ratio: float
    z: float
    recovered_index: int | None


@dataclass(frozen=True)
class SpikeTable:
    """The spikes of a curve as arrays (one entry per spike), for curves with very many."""

    index: np.ndarray
    value: np.ndarray
    baseline: np.ndarray
    ratio: np.ndarray
    z: np.ndarray
    recovered_index: np.ndarray  # -1 where the curve did not come back down

    def __len__(self) -> int:
        return int(self.index.size)


def spikes(
    values: np.ndarray, window: int, min_ratio: float, min_z: float, recover_within: int
) -> list[Spike]:
    """Points far above the median of the `window` points before them (log scale, robust z).

    Works on positive values only (losses); the z-score uses the MAD of the log residuals
    so per-step batch noise, which is large in log space, does not count as a spike.
    """
    t = spike_table(values, window, min_ratio, min_z, recover_within)
    return [Spike(int(i), float(v), float(b), float(r), float(z), int(k) if k >= 0 else None)
            for i, v, b, r, z, k in zip(t.index, t.value, t.baseline, t.ratio, t.z, t.recovered_index)]


def spike_table(
    values: np.ndarray, window: int, min_ratio: float, min_z: float, recover_within: int
) -> SpikeTable:
    """`spikes` as arrays: no Python object per spike, however many there are."""
    if values.size <= window or np.any(values <= 0):
        return _distinct_spikes(values, values, values, np.zeros(0, np.int64), window, recover_within)
    logv = np.log(values)
    base = medians.trailing(logv, window)
    resid = logv - base
    ok = np.isfinite(resid)
    mad = medians.median(np.abs(resid[ok] - medians.median(resid[ok]))) if ok.any() else 0.0
    scale = max(1.4826 * mad, 1e-12)
    z = np.where(ok, resid / scale, 0.0)
    hits = np.flatnonzero((z >= min_z) & (resid >= np.log(min_ratio)))
    if not hits.size:  # most curves: skip the bookkeeping of collapsing runs of hits
        return SpikeTable(hits, values[hits], values[hits], values[hits], z[hits], hits)
    return _distinct_spikes(values, base, z, hits, window, recover_within)


def _distinct_spikes(
    values: np.ndarray, base: np.ndarray, z: np.ndarray, hits: np.ndarray,
    window: int, recover_within: int,
) -> SpikeTable:
    """Collapse each run of consecutive hit points into one spike at the run's (first)
    highest point, with the run's baseline, and find where it came back down (vectorised)."""
    first = np.diff(hits, prepend=-2) != 1  # where a run of consecutive hits starts
    run = np.cumsum(first) - 1
    v = values[hits]
    top = np.maximum.reduceat(v, np.flatnonzero(first)) if hits.size else v
    at_top = np.flatnonzero(v == top[run])
    peak = hits[at_top[np.unique(run[at_top], return_index=True)[1]]]
    baseline = np.exp(base[hits[first]])
    rec = np.full(peak.size, -1, np.int64)
    level = values[peak] / 1.5
    open_ = np.arange(peak.size)
    for k in range(1, max(recover_within, 0) + 1):  # a few steps after each peak, all peaks at once
        open_ = open_[peak[open_] + k < values.size]
        down = values[peak[open_] + k] <= level[open_]
        rec[open_[down]] = peak[open_[down]] + k
        open_ = open_[~down]
        if not open_.size:
            break
    return SpikeTable(peak, values[peak], baseline, values[peak] / baseline, z[peak], rec)


def swing_stats(values: np.ndarray) -> tuple[float, float]:
    """(median |relative step change|, share of direction reversals) of a curve."""
    d = np.diff(values)
    if d.size < 2:
        return 0.0, 0.0
    level = np.abs(values[:-1])
    rel = np.abs(d) / np.where(level > 0, level, np.nan)
    signs = np.sign(d[d != 0])
    flips = float(np.mean(signs[1:] != signs[:-1])) if signs.size > 1 else 0.0
    med = medians.median(rel[~np.isnan(rel)]) if np.isfinite(rel).any() else 0.0  # = np.nanmedian(rel)
    return med, flips


def interp_at(steps: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Values of a curve at other steps (linear), NaN outside the curve's step range."""
    out = np.interp(at, steps, values)
    out[(at < steps[0]) | (at > steps[-1])] = np.nan
    return out


def thirds_trend(values: np.ndarray) -> float:
    """Relative change from the median of the first third to the median of the last third.

    Medians of thirds judge a noisy curve's direction without being moved by single points.
    """
    n = values.size
    if n < 3:
        return 0.0
    k = n // 3
    return rel_change(medians.median(values[:k]), medians.median(values[-k:]))


def improvement(values: np.ndarray, smoothed: np.ndarray) -> float:
    """How far the smoothed curve got below where the log starts, relative to that start.

    The start is the median of the first three logged points, not a smoothed or 10%
    level: a loss that drops within its first few points has learnt, however long the
    log goes on after that.
    """
    if smoothed.size == 0:
        return 0.0
    return -rel_change(medians.median(values[:3]), float(np.min(smoothed)))


def noise_band(values: np.ndarray, smoothed: np.ndarray, fraction: float = 0.05) -> float:
    """How much the smoothed curve itself still wobbles: the residual spread over sqrt(window)."""
    resid = values - smoothed
    spread = 1.4826 * medians.median(np.abs(resid - medians.median(resid))) if resid.size else 0.0
    w = max(odd_window(values.size, fraction), 1)
    return spread / np.sqrt(w)
