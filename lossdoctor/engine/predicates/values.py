"""Predicates on the values themselves: NaN/Inf, magnitudes, chance-level and flat accuracy."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from .. import medians, signals
from ..params import Count, Fraction, Number, Slot
from ..subject import Subject
from .core import Evidence, curve_of


def nonfinite(subj: Subject, slot: Slot) -> Evidence | None:
    """The series holds NaN or Inf; evidence is the first such step (exact, as logged)."""
    s = subj.series(slot)
    if s is None:
        return None
    first = signals.first_nonfinite(s.values)
    if first is None:
        return None
    bad = s.values[~np.isfinite(s.values)]
    kind = "NaN" if np.isnan(s.values[first]) else ("+Inf" if s.values[first] > 0 else "-Inf")
    before = s.values[:first][np.isfinite(s.values[:first])]
    return {"metric": s.name, "step": float(s.steps[first]), "end_step": float(s.steps[-1]),
            "kind": kind, "count": int(bad.size), "points": len(s),
            "last_finite": float(before[-1]) if before.size else None}


def hidden_nonfinite(subj: Subject) -> Evidence | None:
    """grad_norm is NaN/Inf at steps where the logged train loss is finite (HF's NaN filter)."""
    g, loss = subj.series("grad_norm"), subj.series("train_loss")
    if g is None or loss is None:
        return None
    bad_steps = g.steps[~np.isfinite(g.values)]
    hidden = bad_steps[np.isin(bad_steps, loss.steps[np.isfinite(loss.values)])]
    if hidden.size == 0:
        return None
    return {"metric": g.name, "step": float(hidden[0]), "end_step": float(hidden[-1]),
            "count": int(hidden.size), "loss_metric": loss.name}


def magnitude(subj: Subject, slot: Slot, final_at_least: Number = 20.0,
              start_at_least: Number = 1e4) -> Evidence | None:
    """The loss is large in absolute terms (unscaled regression targets put it there)."""
    c = curve_of(subj, slot, 3)
    if c is None or not (c.end >= final_at_least or c.start >= start_at_least):
        return None
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "start": c.start, "final": c.end}


def at_chance(subj: Subject, slot: Slot, tolerance: Fraction = 0.05, acc_factor: Annotated[Number, "x"] = 1.5,
              strict_tolerance: Fraction = 0.01, strict_classes: Annotated[Count, "classes"] = 10,
              strict_max_swing: Fraction = 0.02, min_points: Count = 5) -> Evidence | None:
    """The loss ends at ln(C), the cross-entropy of a uniform guess over C classes.

    With a logged accuracy, it must also sit near 1/C (two independent signs of guessing);
    without one, only few classes, a much tighter match and the near-constant curve of a
    model that outputs the same guess count, since any noisy loss lands near some ln(C).
    """
    c = curve_of(subj, slot, min_points)
    # ln 2 = 0.69 is the lowest chance level; ln of a million classes (13.8) the highest sane one.
    if c is None or not 0.5 < c.end < 14.0:
        return None
    classes = int(round(float(np.exp(c.end))))
    chance = float(np.log(classes)) if classes >= 2 else 0.0
    if classes < 2 or abs(c.end - chance) > tolerance * chance:
        return None
    acc = subj.curve("val_acc") or subj.curve("train_acc")
    ev = {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
          "level": c.end, "classes": classes, "chance": chance}
    if acc is not None and acc.n:
        level = acc.end / (100.0 if acc.values.max() > 1.5 else 1.0)
        near = 1 / (acc_factor * classes) <= level <= acc_factor / classes
        return {**ev, "accuracy": level} if near else None
    strict = (classes <= strict_classes and abs(c.end - chance) <= strict_tolerance * chance
              and c.swing <= strict_max_swing)
    return ev if strict else None


def acc_flat(subj: Subject, max_range: Fraction = 0.03, max_level: Fraction = 0.95,
             min_points: Count = 5) -> Evidence | None:
    """Every logged accuracy stays within a narrow band, below near-perfect: it is stuck."""
    ranges, levels = {}, []
    for slot in ("train_acc", "val_acc"):
        c = subj.curve(slot)
        if c is not None and c.n >= min_points:
            scale = 100.0 if c.values.max() > 1.5 else 1.0  # accuracy logged in percent
            ranges[slot] = float(np.ptp(c.values)) / scale
            levels.append(medians.median(c.values) / scale)
    # Validation accuracy is the evidence; a train accuracy alone may be a metric that
    # means nothing for the task (Keras logs 'accuracy' for regressions too).
    if "val_acc" not in ranges or max(ranges.values()) > max_range or max(levels) > max_level:
        return None
    shown = subj.series("val_acc") or subj.series("train_acc")
    return {"metric": shown.name, **{f"{k}_range": v for k, v in ranges.items()}}
