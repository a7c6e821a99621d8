"""The spike score, as OLMo-core defines it (its `StabilityMonitorCallback`).

A logged value is a *spike* when it lies strictly above mean + 6 standard deviations of
the 128 values logged before it: the plain mean and the population standard deviation
(divided by n, not n - 1) of that window, which holds every earlier value, spikes
included. No point is a spike before 128 values were seen, nor when the window's
standard deviation is below 1e-10 (a constant curve). The score is the share of spike
points: over the whole run (OLMo's `SpikeScore (total)`: counted once 128 points were
logged, over all points, the first 128 included) and over a rolling window of the last
10,000 points (OLMo's `SpikeScore`: only once that window is full). OLMo counts a step
once when the loss or the gradient norm (or both) spiked at it; `combined` does that.

Two differences, on purpose: OLMo appends every value it is given, so one NaN poisons the
mean of the next 128 windows; here non-finite values are left out (the NaN is the
`nan_loss` rule's story, and the spikes around it are still counted). And a restarted run
(`attempts`: the first step of each later attempt) starts a fresh window at each attempt,
as OLMo does without its callback state: the level a restored checkpoint starts from is
not a spike. Windows are in logged points, as OLMo sees them: a log written every 10th
step spans 1,280 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 128  # values before a point that make its reference (OLMo's window_size)
THRESHOLD_STD = 6.0  # standard deviations above the window's mean (threshold_std)
ROLLING = 10_000  # points of the rolling score (rolling_window)
MIN_STD = 1e-10  # a window with less spread than this has no spikes
CHUNK = 1 << 16  # points per chunk of running sums (centred per chunk: few digits lost)
RECHECK = 1e-7  # relative closeness to the threshold at which a point is judged two-pass
RECHECK_BLOCK = 8192  # points judged two-pass at once (8192 x 128 values: 8 MB)


@dataclass(frozen=True)
class SpikeScore:
    """The spike points of one curve (or of two, combined) and their shares."""

    points: int  # spike points
    steps: tuple[float, ...]  # their steps (all of them; reports show the first few)
    judged: int  # points counted (the denominator of `run`)
    run: float | None  # spikes / points over the run (None before 128 points)
    max_rolling: float | None  # highest share over 10,000 consecutive points (None below that)
    last_rolling: float | None  # the share over the last 10,000 points, where the log ends

    def to_dict(self) -> dict[str, object]:
        return {"run": self.run, "max_rolling": self.max_rolling, "last_rolling": self.last_rolling,
                "points": self.points, "judged": self.judged, "steps": list(self.steps[:20])}


def spike_flags(values: np.ndarray, starts: list[int] | tuple[int, ...] = ()) -> np.ndarray:
    """For each value (finite ones only; see the module docstring), whether it is a spike;
    `starts` are the indices (among the finite values) where later attempts begin."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    flags = np.zeros(x.size, dtype=bool)
    bounds = [0, *starts, x.size]
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300-sized values: an inf std, no spike
        for a, b in zip(bounds[:-1], bounds[1:]):
            _flag(x[a:b], flags[a:b])  # a slice of flags is a view: written in place
    return flags


def starts_of(steps: np.ndarray, attempts: tuple[float, ...]) -> list[int]:
    """Indices into `steps` (the finite points' steps) where each later attempt begins."""
    return sorted(set(np.searchsorted(steps, attempts, side="left").tolist()) - {0, steps.size})


def _flag(x: np.ndarray, flags: np.ndarray) -> None:
    """Flag the spikes of one attempt. Window sums come from running sums of the values
    centred on each chunk (O(n)); the few points whose verdict those sums could get wrong
    (within RECHECK of the threshold) are judged again with OLMo's two-pass mean and
    variance of their own window, so the answer is the two-pass one."""
    for lo in range(WINDOW, x.size, CHUNK):
        hi = min(x.size, lo + CHUNK)
        seg = x[lo - WINDOW : hi]
        d = seg - seg[:WINDOW].mean()
        c1 = np.concatenate(([0.0], np.cumsum(d)))
        c2 = np.concatenate(([0.0], np.cumsum(d * d)))
        s1 = (c1[WINDOW:-1] - c1[: -WINDOW - 1]) / WINDOW  # window i: seg[i : i + WINDOW]
        var = np.maximum((c2[WINDOW:-1] - c2[: -WINDOW - 1]) / WINDOW - s1 * s1, 0.0)
        mean, std = seg[:WINDOW].mean() + s1, np.sqrt(var)
        limit = mean + THRESHOLD_STD * std
        value = x[lo:hi]
        flags[lo:hi] = (std >= MIN_STD) & (value > limit)
        # How far the running sums can be off: a generous multiple of the rounding of the
        # largest sum of squares in the chunk (a flat stretch after a noisy one keeps a residue).
        slack = np.sqrt(1e-12 * c2[-1] / WINDOW)
        near = np.abs(value - limit) <= RECHECK * (np.abs(mean) + THRESHOLD_STD * std) + THRESHOLD_STD * slack
        close = np.flatnonzero(near | (std <= MIN_STD + slack) | ~np.isfinite(limit))
        flags[lo + close] = _two_pass(x, lo + close)


def _two_pass(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """OLMo's verdict at the indices `at` (each >= WINDOW): the two-pass mean and population
    standard deviation of the WINDOW values before each. Rows of a sliding view, a block at a
    time: a flat stretch (every point close to its threshold) of a million points is judged in
    vectorised blocks, not point by point, with the same row sums as a one-window call."""
    out = np.zeros(at.size, dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(x, WINDOW)  # row i: x[i : i + WINDOW]
    for a in range(0, at.size, RECHECK_BLOCK):
        idx = at[a : a + RECHECK_BLOCK]
        w = windows[idx - WINDOW]
        mean = w.mean(axis=1)
        std = np.sqrt(((w - mean[:, None]) ** 2).mean(axis=1))
        out[a : a + idx.size] = (std >= MIN_STD) & (x[idx] > mean + THRESHOLD_STD * std)
    return out


def spike_score(steps: np.ndarray, values: np.ndarray, attempts: tuple[float, ...] = ()) -> SpikeScore:
    """The spike score of one curve (NaN/Inf left out), attempt by attempt."""
    t = np.asarray(steps, dtype=np.float64)[np.isfinite(values)]
    return score_of(t, spike_flags(values, starts_of(t, attempts)))


def combined(curves: list[tuple[np.ndarray, np.ndarray, tuple[float, ...]]]) -> SpikeScore:
    """OLMo's own score over several curves (steps, values, attempts): a logged step counts
    once, as a spike when any curve spiked at it; the steps are those where any was logged."""
    parts = []
    for s, v, attempts in curves:
        t = np.asarray(s, dtype=np.float64)[np.isfinite(v)]
        parts.append((t, spike_flags(v, starts_of(t, attempts))))
    parts = [(s, f) for s, f in parts if s.size]
    if not parts:
        return score_of(np.zeros(0), np.zeros(0, dtype=bool))
    steps = np.unique(np.concatenate([s for s, _ in parts]))
    flags = np.zeros(steps.size, dtype=bool)
    for s, f in parts:
        flags[np.searchsorted(steps, s[f])] = True
    return score_of(steps, flags)


def score_of(steps: np.ndarray, flags: np.ndarray) -> SpikeScore:
    """Shares of the flagged points: over the run (from 128 points on) and rolling."""
    n = int(flags.size)
    count = int(flags.sum())
    run = count / n if n >= WINDOW else None
    max_rolling = last_rolling = None
    if n >= ROLLING:
        csum = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
        window = csum[ROLLING:] - csum[:-ROLLING]
        max_rolling, last_rolling = float(window.max()) / ROLLING, float(window[-1]) / ROLLING
    return SpikeScore(count, tuple(float(s) for s in steps[flags]), n, run, max_rolling, last_rolling)
