"""Predicates of an unstable curve: divergence, spikes, oscillation."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from .. import medians, signals
from ..params import Count, Fraction, Number, Ratio, Slot
from ..subject import Subject
from .core import Evidence, curve_of


def diverges(subj: Subject, slot: Slot, min_ratio: Ratio = 2.0,
             sustain: Annotated[Fraction, "share of tail points"] = 0.8,
             tail: Annotated[Fraction, "share of points"] = 0.15, min_points: Count = 8) -> Evidence | None:
    """The curve ends far above its best and stays there (or grows from the start)."""
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    k = signals.edge_count(c.n, tail, least=2)
    s = c.smoothed
    best_i = int(np.argmin(s[: c.n - k]))
    best, tail_vals = float(s[best_i]), c.values[-k:]
    final = medians.median(tail_vals)
    if best <= 0 or final < best * min_ratio or final - best < 0.25 * (c.start - best):
        return None
    held = float(np.mean(tail_vals > best * (1 + (min_ratio - 1) / 2)))
    if held < sustain:
        return None
    cross = best_i + int(np.argmax(s[best_i:] >= best + 0.5 * (final - best)))
    onset = _left_best_at(s, best_i, cross, best * (1 + (min_ratio - 1) / 4))
    return {"metric": c.series.name, "step": c.step_at(onset), "end_step": c.step_at(c.n - 1),
            "best": best, "best_step": c.step_at(best_i), "final": final,
            "ratio": final / best, "start": c.start}


def _left_best_at(s: np.ndarray, best_i: int, cross: int, near: float) -> int:
    """The first index of the climb that reaches `cross`: just after the curve was last near its best."""
    still_near = np.flatnonzero(s[best_i:cross] <= near)
    return best_i + int(still_near[-1]) + 1 if still_near.size else best_i + 1


def spike(subj: Subject, slot: Slot, min_ratio: Ratio = 2.0, min_z: Annotated[Number, "robust z"] = 4.5,
          min_height: Annotated[Fraction, "share of the range"] = 0.05, window: Count = 5,
          min_points: Count = 20, recover_within: Count = 10) -> Evidence | None:
    """A sudden jump far above the recent median that comes back down (the largest one).

    `min_height` is the jump's size as a share of the curve's whole range: near a loss of
    0 (a memorised training set), log-scale noise is huge but meaningless.
    """
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    w = max(window, signals.odd_window(c.n, 0.02))
    span = float(np.ptp(c.smoothed))
    t = signals.spike_table(c.values, w, min_ratio, min_z, recover_within)  # arrays: a curve may have 1M spikes
    found = np.flatnonzero((t.recovered_index >= 0) & (t.value - t.baseline >= min_height * span))
    if not found.size:
        return None
    top = int(found[np.argmax(t.ratio[found])])  # the first of the largest, as max() picks
    return {"metric": c.series.name, "step": c.step_at(int(t.index[top])),
            "end_step": c.step_at(int(t.recovered_index[top])), "value": float(t.value[top]),
            "baseline": float(t.baseline[top]), "ratio": float(t.ratio[top]), "z": float(t.z[top]),
            "count": int(found.size)}


def oscillates(subj: Subject, slot: Slot, min_points: Count = 8, min_swing: Fraction = 0.08,
               min_flips: Annotated[Fraction, "share of points"] = 0.5,
               max_trend: Fraction = 0.1) -> Evidence | None:
    """Large step-to-step swings that keep changing direction, with no downward trend."""
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    swing, flips = signals.swing_stats(c.values)
    if swing < min_swing or flips < min_flips or abs(c.trend) > max_trend:
        return None  # a rising swinging curve is overfitting or divergence, a falling one learns
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "swing": swing, "flips": flips, "trend": c.trend,
            "low": float(c.values.min()), "high": float(c.values.max())}
