"""Gradient-norm spikes as ZClip detects them, and how far they run ahead of loss spikes.

ZClip (Kumar et al. 2025, "ZClip: Adaptive Spike Mitigation for LLM Pre-Training") keeps an
exponential moving average of the gradient norm's mean and variance (alpha 0.97, started
from the plain mean and population variance of the first 25 norms) and calls a norm whose
z-score (g - mean) / (std + 1e-6) exceeds 2.5 a spike. It then clips the norm to
mean + 2.5^2 std / z and feeds the clipped value, not the spike, into the averages, so one
burst does not inflate the reference it is judged against. The same recursion is run here
over the logged norms (non-finite ones left out).

A gradient burst often shows before the loss moves: the optimizer takes a bad step, and
the loss logged after it rises. `lead_times` pairs each loss-spike episode with the
gradient episode under way when it began (the lead is the number of steps from the
gradient episode's first spike to the loss episode's first), and counts the gradient
episodes that no loss spike followed: instability the loss curve does not show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALPHA = 0.97  # ZClip's EMA factor
Z_THRESH = 2.5  # ZClip's z-score threshold
WARMUP = 25  # norms that start the averages (ZClip's warmup_steps)
EPS = 1e-6
GAP = 3  # logged points: spikes closer than this are one episode
HORIZON = 32  # logged points after a gradient episode within which a loss spike counts as following it


def zclip_flags(values: np.ndarray, starts: list[int] | tuple[int, ...] = ()) -> np.ndarray:
    """For each finite norm, whether ZClip's z-score test calls it a spike; the averages
    start afresh at each later attempt (`starts`: indices among the finite norms)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    flags = np.zeros(x.size, dtype=bool)
    bounds = [0, *starts, x.size]
    for a, b in zip(bounds[:-1], bounds[1:]):
        flags[a:b] = _zclip(x[a:b].tolist())  # a plain loop: the clipped value feeds the next step
    return flags


def _zclip(norms: list[float]) -> np.ndarray:
    flags = np.zeros(len(norms), dtype=bool)
    if len(norms) <= WARMUP:
        return flags
    first = norms[:WARMUP]
    mean = sum(first) / WARMUP
    var = sum((g - mean) * (g - mean) for g in first) / WARMUP  # x * x: inf, where x ** 2 raises
    for i in range(WARMUP, len(norms)):
        g = norms[i]
        std = var ** 0.5
        z = (g - mean) / (std + EPS)
        if z > Z_THRESH:
            flags[i] = True
            g = mean + Z_THRESH * Z_THRESH * std / z  # ZClip's adaptive clip, fed back
        mean = ALPHA * mean + (1 - ALPHA) * g
        var = ALPHA * var + (1 - ALPHA) * (g - mean) * (g - mean)
    return flags


def episodes(steps: np.ndarray, flags: np.ndarray, gap: int = GAP) -> list[tuple[float, float]]:
    """(first step, last step) of each run of flagged points, runs less than `gap` points
    apart merged."""
    hits = np.flatnonzero(flags)
    if hits.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(hits) > gap) + 1
    return [(float(steps[run[0]]), float(steps[run[-1]])) for run in np.split(hits, cuts)]


@dataclass(frozen=True)
class Leads:
    """How gradient episodes relate to loss-spike episodes."""

    leads: tuple[float, ...]  # per loss episode that a gradient episode was under way at: steps of lead
    unexplained: int  # loss episodes with no gradient episode under way
    hidden: int  # gradient episodes no loss spike followed


def lead_times(grad: list[tuple[float, float]], loss: list[tuple[float, float]],
               spacing: float) -> Leads:
    """Pair loss episodes with the gradient episode under way at their start (it began at or
    before it and ended at most GAP points before it); `spacing` is the grad norm's logging
    interval in steps."""
    tol, horizon = GAP * spacing, HORIZON * spacing
    leads, unexplained = [], 0
    for onset, _ in loss:
        under_way = [g for g in grad if g[0] <= onset and g[1] >= onset - tol]
        if under_way:
            leads.append(onset - min(g[0] for g in under_way))
        else:
            unexplained += 1
    hidden = sum(1 for start, end in grad if not any(start <= s <= end + horizon for s, _ in loss))
    return Leads(tuple(leads), unexplained, hidden)
