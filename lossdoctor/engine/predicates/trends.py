"""Predicates on where a curve is going: flat, improving, stalled, still falling."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from .. import medians, signals
from ..params import Count, Fraction, Number, Slot
from ..subject import Subject
from .core import Evidence, curve_of


def flat(subj: Subject, slot: Slot, max_trend: Fraction = 0.05, max_improvement: Fraction = 0.1,
         min_points: Count = 5) -> Evidence | None:
    """The curve hardly moves: no trend from the first to the last third, and never more
    than `max_improvement` below its smoothed start (an early drop is real learning)."""
    c = curve_of(subj, slot, min_points)
    if c is None or abs(c.trend) > max_trend or c.improvement > max_improvement:
        return None
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "start": c.start, "final": c.end, "trend": c.trend}


def trend_between(subj: Subject, slot: Slot, low: Number, high: Number,
                  min_points: Count = 5) -> Evidence | None:
    """The first-third to last-third relative change lies in [low, high] (negative = falls)."""
    c = curve_of(subj, slot, min_points)
    if c is None or not low <= c.trend <= high:
        return None
    return {f"{slot}_trend": c.trend}


def improved_between(subj: Subject, slot: Slot, low: Number, high: Number,
                     min_points: Count = 5) -> Evidence | None:
    """The smoothed curve got between `low` and `high` (fractions) below its start."""
    c = curve_of(subj, slot, min_points)
    if c is None or not low <= c.improvement <= high:
        return None
    return {f"{slot}_improvement": c.improvement}


def fresh_start(subj: Subject, slot: Slot,
                max_share: Annotated[Fraction, "share of the last step"] = 0.1) -> Evidence | None:
    """The log starts near step 0, not mid-run: a resumed run's first point is not its start."""
    s = subj.series(slot)
    if s is None or not len(s) or s.resumed:
        return None
    first, last = float(s.steps[0]), float(s.steps[-1])
    return {} if last <= 0 or first <= max_share * last else None


def stalled(subj: Subject, slot: Slot, tolerance: Fraction = 0.02,
            min_share: Annotated[Fraction, "share of steps"] = 0.3, min_points: Count = 10) -> Evidence | None:
    """The smoothed curve has stayed within a narrow band of its best for a final stretch.

    The band is `tolerance` of the best level, widened to twice the smoothed curve's own
    wobble on noisy logs; the stretch starts after the last point outside the band. The
    last half-window is not judged: a centred rolling median rests on a few points there.
    """
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    s = c.smoothed
    level = float(s.min())
    band = max(tolerance * abs(level), 2 * signals.noise_band(c.values, s))
    edge = signals.smooth_window(c.n) // 2
    outside = np.flatnonzero(s[: c.n - edge] > level + band)
    since = int(outside[-1]) + 1 if outside.size else 0
    if since >= c.n:
        return None
    span = c.steps[-1] - c.steps[0]
    share = (c.steps[-1] - c.steps[since]) / span if span > 0 else 0.0
    if share < min_share:
        return None
    return {"metric": c.series.name, "step": c.step_at(since), "end_step": c.step_at(c.n - 1),
            "level": level, "share": float(share), "start": c.start}


def flat_tail(subj: Subject, slot: Slot, share: Annotated[Fraction, "share of points"] = 0.5,
              max_change: Fraction = 0.03, min_points: Count = 10) -> Evidence | None:
    """Over its last `share` of points the curve no longer moves: the median of that
    stretch's first third and of its last third differ by at most `max_change`."""
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    k = signals.edge_count(c.n, share, least=6)
    change = signals.thirds_trend(c.values[-k:])
    if abs(change) > max_change:
        return None
    return {"metric": c.series.name, "step": c.step_at(c.n - k), "end_step": c.step_at(c.n - 1),
            "level": medians.median(c.values[-k:]), "share": k / c.n, "tail_change": change}


def still_falling(subj: Subject, slot: Slot, tail: Annotated[Fraction, "share of points"] = 0.25,
                  min_drop: Fraction = 0.02, min_points: Count = 6) -> Evidence | None:
    """Over the last part of the run the smoothed curve is still going down."""
    c = curve_of(subj, slot, min_points)
    if c is None:
        return None
    k = signals.edge_count(c.n, tail, least=3)
    seg = c.smoothed[-k:]
    drop = -signals.rel_change(float(seg[0]), float(seg[-1]))
    # "Still going down": the tail fell by min_drop and ends in the lowest quarter of that
    # fall (a noisy tail need not end exactly at its minimum, a turned one does not end low).
    if drop < min_drop or seg[-1] - seg.min() > 0.25 * (seg[0] - seg.min()):
        return None
    return {"metric": c.series.name, "step": c.step_at(c.n - k), "end_step": c.step_at(c.n - 1),
            "recent_drop": drop}
