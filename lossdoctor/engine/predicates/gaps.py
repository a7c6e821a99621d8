"""Predicates comparing the train and validation curves: overfitting and inverted gaps."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from .. import medians, signals
from ..params import Count, Fraction, Number
from ..subject import Curve, Subject
from .core import Evidence, curve_of


def val_rises(subj: Subject, min_rise: Fraction = 0.1, min_snr: Annotated[Number, "x the noise"] = 1.5,
              min_after: Annotated[Count, "evaluations"] = 2, min_points: Count = 4) -> Evidence | None:
    """Validation loss ends clearly above its best (smoothed) point, by more than its noise."""
    c = curve_of(subj, "val_loss", min_points)
    if c is None:
        return None
    s = c.smoothed_wide
    best_i = _best_logged_near(c.values, s)  # the step to report: a checkpoint to keep
    level = float(s.min())  # the level to measure the rise from: robust to one lucky dip
    if c.n - 1 - best_i < min_after or level <= 0:
        return None
    final = medians.median(s[-signals.edge_count(c.n, 0.1):])
    rise = signals.rel_change(level, final)
    if rise < min_rise or rise < min_snr * c.swing:
        return None
    return {"metric": c.series.name, "step": c.step_at(best_i), "end_step": c.step_at(c.n - 1),
            "best_step": c.step_at(best_i), "best": float(c.values[best_i]),
            "final": float(c.values[-1]), "rise": rise, "noise": c.swing}


def _comparable(t: Curve, v: Curve) -> bool:
    """Train and validation are logged over the same x-axis and span (not steps vs epochs)."""
    if t.series.axis != v.series.axis or t.n == 0 or v.n == 0:
        return False
    t_end, v_end = float(t.steps[-1]), float(v.steps[-1])
    return t_end <= 0 or v_end <= 0 or 0.5 <= v_end / t_end <= 2.0


def _best_logged_near(values: np.ndarray, smoothed: np.ndarray) -> int:
    """The best logged point around the smoothed minimum: the checkpoint worth keeping.

    The smoothed minimum says where the curve is lowest; the checkpoint to keep is the
    lowest logged value within 2 evaluations of it (early stopping's patience). A wider
    search picks lucky dips: on a noisy 300-point curve, half a 10% window away is 15
    evaluations, and the lowest single value there is noise (measured: 7 points off).
    """
    i = int(np.argmin(smoothed))
    half = min(2, max(signals.odd_window(values.size, 0.1), 3 if values.size >= 7 else 1) // 2)
    lo = max(0, i - half)
    return lo + int(np.argmin(values[lo : i + half + 1]))


def train_falls_after_val_best(subj: Subject, min_drop: Fraction = 0.05) -> Evidence | None:
    """Train loss keeps falling after the step where validation loss was best."""
    t, v = subj.curve("train_loss"), subj.curve("val_loss")
    if t is None or v is None or t.n < 3 or v.n < 2 or not _comparable(t, v):
        return None
    best_step = v.step_at(_best_logged_near(v.values, v.smoothed_wide))
    at_best = float(np.interp(best_step, t.steps, t.smoothed))
    drop = -signals.rel_change(at_best, t.end)
    if drop < min_drop:
        return None
    return {"train_at_best": at_best, "train_final": t.end, "train_drop": drop}


def train_above_val(subj: Subject, min_share: Annotated[Fraction, "share of points"] = 0.9,
                    min_gap: Fraction = 0.05, min_points: Count = 3) -> Evidence | None:
    """Train loss sits above validation loss at (nearly) every validation point."""
    t, v = subj.curve("train_loss"), subj.curve("val_loss")
    if t is None or v is None or v.n < min_points or t.n < 2 or not _comparable(t, v):
        return None
    train_at = signals.interp_at(t.steps, t.smoothed, v.steps)
    ok = np.isfinite(train_at) & (v.values != 0)
    if ok.sum() < min_points:
        return None
    gap = (train_at[ok] - v.values[ok]) / np.abs(v.values[ok])
    share, median = float(np.mean(gap > 0)), medians.median(gap)
    if share < min_share or median < min_gap or gap[-1] <= 0:
        return None
    first = v.steps[ok][0]
    return {"metric": t.series.name, "step": float(first), "end_step": v.step_at(v.n - 1),
            "share": share, "median_gap": median, "train_final": t.end, "val_final": v.end}


def train_near_val(subj: Subject, max_gap: Fraction = 0.1, min_points: Count = 3) -> Evidence | None:
    """Train and validation loss end at about the same level: no generalisation gap."""
    t, v = subj.curve("train_loss"), subj.curve("val_loss")
    if t is None or v is None or v.n < min_points or t.n < min_points or not _comparable(t, v):
        return None
    gap = signals.rel_change(v.end, t.end)
    return {"end_gap": gap, "val_final": v.end} if abs(gap) <= max_gap else None
