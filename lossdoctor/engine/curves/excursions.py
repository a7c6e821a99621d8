"""Where a loss leaves its own course: spikes, bumps and blow-ups, as one kind of event.

An *excursion* is a stretch where log-loss stands far above its baseline, "far" meaning
both a factor (at least 2x: batch noise rarely doubles a smoothed loss) and a z-score
against the curve's own local noise (6 sigma, the bar OLMo uses for loss spikes: under
normal noise about one point in 10^9, so heavy-tailed batch noise still leaves a margin).
Two scales, one definition:
- *point* excursions: single points above the median of the points before them (a bad
  batch, a gradient burst); the noise is the local point noise, and the last points before
  a terminal NaN/Inf face one test's bar (the NaN names where to look);
- *level* excursions: the smoothed curve (a centred median over 5% of the run) above its
  running minimum (an LR restart, a bad shard that takes many steps to work off); the
  noise is that of a median level.
An excursion that comes back down is a transient; one that is still up at the end of the
log, or that runs into NaN/Inf, is sustained. Non-finite values after a climb are the high
tail of the climb (+inf), not missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import medians
from .noise import MAD_TO_SD, noise_of_differences, point_noise
from .timescale import odd, points_for

SIGMAS = 6.0  # how many noise sigmas an excursion must clear (see the module docstring)
MIN_FACTOR = np.log(2.0)  # ...and by at least this factor (log units)
# One test per curve, at a place the data names rather than one searched for among
# thousands: 3 sigma (p = 0.0013, one-sided). A level above the first point
# (_anchor_is_a_draw); the last points before a log's terminal NaN/Inf (_before_nonfinite).
ONE_TEST_SIGMAS = 3.0
BACK_FACTOR = np.log(1.5)  # back within 1.5x of the baseline (or its noise band): recovered
POINT_BASE_SHARE = 0.02  # the baseline of a point: the median of the previous 2% of the run
# The points before a transient its noise is also read from (_clears_residual_noise): a MAD
# of k values is uncertain by about 1.17/sqrt(k) of itself, 52% for 5, 26% for 20.
NOISE_POINTS = 20
LEVEL_SHARE = 0.05  # the smoothing of a level: a centred median over 5% of the run


@dataclass(frozen=True)
class Excursion:
    """One excursion, by index into the curve it was found on."""

    kind: str  # "point" or "level"
    start: int  # first index above the band
    peak: int  # highest index (the first non-finite one when it ran into NaN/Inf)
    end: int | None  # first index back down; None when it never came back
    base: float  # the log-level it rose from
    height: float  # peak minus base, in log units (inf when it ran into NaN/Inf)
    z: float  # height over the local noise
    nonfinite: bool = False  # it ran into NaN/Inf

    @property
    def recovered(self) -> bool:
        return self.end is not None


def local_noise(y: np.ndarray, window: int) -> np.ndarray:
    """Per point, the noise of the `window` points before it (robust, from second
    differences), falling back to the whole curve's where there are too few before. On a
    curve too short for a window, the whole curve's leaves out the second differences the
    point is in (y[i-1] - 2y[i] + y[i+1] and its neighbours): on a 7-point epoch log a jump's
    own difference is one of four, and would widen the band it is judged against; in a
    window of five or more it is one, and the median passes over it."""
    n = y.size
    signed = np.full(n, np.nan)
    if n >= 3:
        signed[1:-1] = y[:-2] - 2 * y[1:-1] + y[2:]
    d2 = np.abs(signed)
    whole = point_noise(y)
    if n <= window + 2:
        out = np.array([_noise_without(signed, i, whole) for i in range(n)])
    else:
        out = np.full(n, whole)
    if n > window + 2 and window >= 3:
        trail = medians.trailing(np.where(np.isfinite(d2), d2, whole * np.sqrt(6.0) / MAD_TO_SD), window)
        have = np.isfinite(trail)
        out[have] = MAD_TO_SD * trail[have] / np.sqrt(6.0)
    floor = 0.01  # log units: a curve printed to 2-4 digits has at least this much "noise"
    return np.maximum(out, floor)


def _noise_without(d2: np.ndarray, i: int, whole: float) -> float:
    """The whole curve's point noise (`point_noise`'s measure) from the second differences
    `d2` that point i is not in; `whole` when fewer than two are left."""
    keep = np.isfinite(d2)
    keep[max(0, i - 1):i + 2] = False
    d = d2[keep]
    return noise_of_differences(d) if d.size >= 2 else whole


def point_excursions(steps: np.ndarray, y: np.ndarray) -> list[Excursion]:
    """Points far above the median of the points before them; `y` is log-loss with NaN
    where the loss is not finite (an excursion that runs into them is sustained)."""
    finite = np.isfinite(y)
    window = points_for(steps, POINT_BASE_SHARE, least=5)
    # A point needs `window` finite points before it for a baseline; a log whose few finite
    # points end in NaN/Inf (a logger every 5th step over a blow-up) still shows the jump.
    if finite.sum() <= window:
        return []
    idx = np.flatnonzero(finite)
    yf = y[idx]
    base = medians.trailing(yf, window)
    noise = local_noise(yf, window)
    resid = yf - base
    hit = np.isfinite(resid) & (resid >= np.maximum(MIN_FACTOR, SIGMAS * noise))
    if idx[-1] < y.size - 1:
        hit |= _before_nonfinite(resid, noise)
    found = [_close(idx, yf, base, noise, run, "point", y.size) for run in _runs(np.flatnonzero(hit))]
    return [e for e in found if not e.recovered or _clears_residual_noise(e, idx, yf, resid)]


def _before_nonfinite(resid: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The last finite points of a log that ends in NaN/Inf, each far above its baseline
    (2x) and beyond ONE_TEST_SIGMAS of its noise: the NaN names where to look, so the bar is
    one test's, not the scan's 6 sigma. An 8-epoch log (0.905, 0.081, 0.030, 0.025, 0.024,
    0.102, 0.093, NaN) has no noise to read but its fall's curvature, which puts the 4x jump
    under 6 sigma. A NaN out of the blue seldom has such a point before it (one log in about
    a thousand under normal noise), and a jump that stays below the untrained loss is only
    the NaN's first sign, which the divergence rule reads with the learning rate beside it."""
    up = np.isfinite(resid) & (resid >= np.maximum(MIN_FACTOR, ONE_TEST_SIGMAS * noise))
    below = np.flatnonzero(~up)
    out = np.zeros(resid.size, dtype=bool)
    out[(int(below[-1]) + 1 if below.size else 0):] = True
    return out


def _clears_residual_noise(e: Excursion, idx: np.ndarray, yf: np.ndarray, resid: np.ndarray) -> bool:
    """A transient rests on its few points alone, so the noise it clears must be known well:
    the MAD of the 5 second differences a short baseline window holds is uncertain by about
    half (among thousands of windows some read a calm stretch far below the batch noise). It
    must also clear SIGMAS times the noise of the NOISE_POINTS points before it, read two
    ways that agree on independent noise and each overstate it in one way: from second
    differences (a heavy tail's routine outlier spoils three of them) and from residuals
    about the baseline (a slow wander of the level widens them). The lower is taken. A
    sustained excursion is confirmed by every point after it and is not asked: a longer
    window would reach into a climb's own thrashing."""
    i = int(np.searchsorted(idx, e.start))
    lo = i - NOISE_POINTS
    # Too short a history (the first points have no baseline): the whole curve's noise, from
    # its second differences.
    if lo < 0 or not np.all(np.isfinite(resid[lo:i])):
        return e.height >= SIGMAS * max(point_noise(yf), 0.01)
    before = resid[lo:i]
    spread = MAD_TO_SD * float(np.median(np.abs(before - np.median(before))))
    d2 = np.diff(yf[lo:i], 2)
    noise = min(spread, noise_of_differences(d2))
    return e.height >= SIGMAS * max(noise, 0.01)


def level_excursions(steps: np.ndarray, y: np.ndarray) -> list[Excursion]:
    """Stretches where the smoothed log-loss stands far above its running minimum."""
    finite = np.isfinite(y)
    idx = np.flatnonzero(finite)
    if idx.size < 10:
        return []
    yf = y[idx]
    w = odd(points_for(steps[idx], LEVEL_SHARE, least=5))
    s = medians.centred(yf, w)
    # The running minimum starts at the first logged point: the truncated medians of the first
    # half-window already stand on a climb that began at the second point (a rate that blows the
    # model up in its first step), which a floor of medians alone would take for the baseline.
    # The medians of the first half-window are of fewer points (a window cut short by the
    # log's start), noisier than the band allows for: they do not set the floor.
    full = s.copy()
    full[:min(w // 2, s.size)] = np.inf
    floor = np.minimum.accumulate(np.concatenate((yf[:1], full)))[1:]
    point_sigma = point_noise(yf)
    sigma = 1.2533 * max(point_sigma, 0.01) / np.sqrt(w)
    band = max(MIN_FACTOR, SIGMAS * sigma)
    above = (s - floor) >= band
    above[0] = False  # the first point is the floor's anchor, not part of a climb
    if _anchor_is_a_draw(yf, s, floor, above, sigma, point_sigma):
        floor = np.minimum.accumulate(full)
        above = (s - floor) >= band
    events = []
    for run in _runs(np.flatnonzero(above)):
        start = int(run[0])
        base = float(floor[start])
        back = np.flatnonzero(s[start:] <= base + band / 2)
        end = start + int(back[0]) if back.size else None
        stop = end if end is not None else yf.size
        peak = start + int(np.argmax(yf[start:stop]))
        # A centred median rises up to half a window before a jump: the climb starts at the
        # first logged point up to the peak that has itself left the floor -- beyond the band
        # and beyond its own point noise (3 sigma: one batch of heavy-tailed noise is not a climb).
        left = np.flatnonzero(yf[start:peak + 1] >= base + max(band, 3 * point_sigma))
        start = start + int(left[0]) if left.size else start
        events.append(_event("level", idx, start, peak, end, base, float(yf[peak]) - base, sigma, y.size))
    return _merge_overlaps(events)


def _anchor_is_a_draw(yf: np.ndarray, s: np.ndarray, floor: np.ndarray, above: np.ndarray,
                      sigma: float, point_sigma: float) -> bool:
    """The first point anchors the floor, yet it is one draw of the point noise, not a
    median: the levels above it must stand beyond the noise of the difference of the two
    (per-step noise of 0.8 in log units and a first batch 1.7 sigma low put a median's 2x
    band under the whole run). One test per curve, not one per point: 3 sigma (p = 0.001,
    one-sided) needs none of the allowance for thousands of points that the 6 sigma is."""
    hits = np.flatnonzero(above)
    anchored = hits[floor[hits] == yf[0]]
    if anchored.size == 0:
        return False
    height = float(np.median(s[anchored])) - float(yf[0])  # the stretch's level: not its highest of many
    return height < ONE_TEST_SIGMAS * float(np.hypot(sigma, max(point_sigma, 0.01)))


def _runs(hits: np.ndarray) -> list[np.ndarray]:
    """Consecutive indices grouped."""
    if hits.size == 0:
        return []
    return np.split(hits, np.flatnonzero(np.diff(hits) != 1) + 1)


def _close(idx: np.ndarray, yf: np.ndarray, base: np.ndarray, noise: np.ndarray,
           run: np.ndarray, kind: str, n_all: int) -> Excursion:
    """A run of hit points -> one excursion, with where it came back down."""
    start = int(run[0])
    b = float(base[start])
    peak = start + int(np.argmax(yf[start : run[-1] + 1]))
    back_level = b + max(BACK_FACTOR, 2 * float(noise[start]))
    back = np.flatnonzero(yf[run[-1] + 1 :] <= back_level)
    end = int(run[-1]) + 1 + int(back[0]) if back.size else None
    return _event(kind, idx, start, peak, end, b, float(yf[peak]) - b, float(noise[start]), n_all)


def _event(kind: str, idx: np.ndarray, start: int, peak: int, end: int | None, base: float,
           height: float, sigma: float, n_all: int) -> Excursion:
    """Map finite-point indices back to the curve's own; an excursion still up at the last
    finite point that the curve continues with NaN/Inf ran into them."""
    runs_into_nan = end is None and idx[-1] < n_all - 1
    if runs_into_nan:
        return Excursion(kind, int(idx[start]), int(idx[-1]) + 1, None, base, float("inf"), float("inf"), True)
    return Excursion(kind, int(idx[start]), int(idx[peak]), None if end is None else int(idx[end]),
                     base, height, height / sigma if sigma > 0 else float("inf"))


def _merge_overlaps(events: list[Excursion]) -> list[Excursion]:
    """Level excursions whose spans overlap are one (a bump that dips and rises again)."""
    out: list[Excursion] = []
    for e in events:
        if out and (out[-1].end is None or e.start <= out[-1].end):
            if out[-1].end is None:
                continue
        out.append(e)
    return out
