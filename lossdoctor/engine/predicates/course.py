"""Predicates on the course of a loss over the run: did it learn, has it settled, at what
level, how fast, and what the learning-rate schedule did meanwhile.

Read on the progress grid (`curves.shape`: <= 50 bins of median log-loss), so the same
training logged per step or per epoch gets the same answers.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from ..curves.noise import log_of, point_noise
from ..curves.timescale import grid
from .. import readings
from ..params import Fraction, Slot
from ..subject import Subject
from .core import Evidence


def _named(subj: Subject, slot: str) -> dict:
    s = subj.series(slot)
    return {"metric": s.name, "step": float(s.steps[0]), "end_step": float(s.steps[-1])}


def no_gain(subj: Subject, slot: Slot, max_gain: Annotated[Fraction, "of the initial loss"] = 0.05) -> Evidence | None:
    """The curve never got `max_gain` below where it started: it learnt nothing that shows."""
    sh = readings.shape(subj, slot)
    if sh is None or sh.gain >= max_gain:
        return None
    return {**_named(subj, slot), "start": sh.start, "final": sh.end, "gain": sh.gain}


def gained(subj: Subject, slot: Slot, min_gain: Annotated[Fraction, "of the initial loss"] = 0.05) -> Evidence | None:
    """The curve got at least `min_gain` below where it started."""
    sh = readings.shape(subj, slot)
    return None if sh is None or sh.gain < min_gain else {f"{slot}_gain": sh.gain}


def came_down(subj: Subject, slot: Slot) -> Evidence | None:
    """The loss fell from its first tenth to its second half by more than three standard
    errors of those levels: a real drop, however small."""
    s = subj.series(slot)
    if s is None:
        return None
    y = log_of(s.values)
    ok = np.isfinite(y)
    if ok.sum() < 6:
        return None
    _, g = grid(s.steps[ok], y[ok])
    k, h = max(2, g.size // 10), g.size // 2
    drop = float(np.median(g[:k]) - np.median(g[h:]))
    se = 1.2533 * max(point_noise(g), 0.001) * math.sqrt(1 / k + 1 / (g.size - h))
    return {"drop": math.exp(drop) - 1} if drop >= 3 * se else None


def settled(subj: Subject, slot: Slot, max_change: Annotated[Fraction, "over the last half"] = 0.02) -> Evidence | None:
    """Over the second half of the run the curve moved by at most `max_change` (Theil-Sen):
    doubling the training would buy at most about that much."""
    sh = readings.shape(subj, slot)
    if sh is None or abs(sh.tail.change) > math.log(1 + max_change):
        return None
    s = subj.series(slot)
    half = float(s.steps[0] + (s.steps[-1] - s.steps[0]) / 2)
    return {"metric": s.name, "step": half, "end_step": float(s.steps[-1]), "level": sh.end,
            "tail_change": math.exp(sh.tail.change) - 1}


def falling_now(subj: Subject, slot: Slot, alpha: Annotated[Fraction, "p-value"] = 0.05) -> Evidence | None:
    """The curve still falls over its second half (Mann-Kendall, p < alpha)."""
    sh = readings.shape(subj, slot)
    if sh is None or not sh.tail.falling(alpha):
        return None
    s = subj.series(slot)
    return {"metric": s.name, "step": float(s.steps[0] + (s.steps[-1] - s.steps[0]) / 2),
            "end_step": float(s.steps[-1]), "recent_drop": 1 - math.exp(sh.tail.change)}


def at_chance(subj: Subject, tolerance: Annotated[Fraction, "of ln C"] = 0.05,
              margin: Annotated[Fraction, "of 1/C"] = 0.5) -> Evidence | None:
    """The loss (validation when logged) ends at ln C, a uniform guess over the C classes the
    initial loss shows, and a logged accuracy stays near 1/C: no better than chance."""
    c = readings.classes(subj)
    slot = "val_loss" if subj.series("val_loss") is not None else "train_loss"
    sh = readings.shape(subj, slot)
    if c is None or sh is None or abs(sh.end - math.log(c)) > tolerance * math.log(c):
        return None
    acc = subj.series("val_acc") or subj.series("train_acc")
    ev = {**_named(subj, slot), "level": sh.end, "classes": c, "chance": math.log(c)}
    if acc is None:
        return ev
    a = acc.values[np.isfinite(acc.values)]
    a = a / 100.0 if a.size and a.max() > 1.5 else a
    if not a.size:
        return ev
    level = float(np.median(a[-max(1, a.size // 4):]))
    return {**ev, "accuracy": level} if abs(level - 1 / c) <= margin / c else None


def high_loss(subj: Subject, slot: Slot, share: Annotated[Fraction, "of ln C"] = 0.5) -> Evidence | None:
    """The loss ends at `share` of the chance level or above (always, when no class count is known):
    a classifier there has removed less than half of a uniform guess's uncertainty."""
    c, sh = readings.classes(subj), readings.shape(subj, slot)
    if sh is None:
        return None
    return {} if c is None or sh.end >= share * math.log(c) else None


def lr_collapsed(subj: Subject) -> Evidence | None:
    """The learning rate fell below 1% of its peak and stayed there for the last third of the
    run or more (a schedule annealing to ~0 spends only its last few percent there)."""
    c = readings.collapse(subj)
    if c is None:
        return None
    return {"lr_since": c.since, "lr_share": c.share, "lr_peak": c.peak, "lr_last": c.last}


def slow_decline(subj: Subject, max_gain: Annotated[Fraction, "of the initial loss"] = 0.5,
                 min_pace: Annotated[Fraction, "second half vs first"] = 0.3) -> Evidence | None:
    """The loss falls steadily but slowly: significantly over the run, still at the end (on the
    validation curve when one is logged), less than `max_gain` of its start by then, and with
    the second half bringing at least `min_pace` of what the first did (a sane learning rate
    front-loads the progress; a too-low one gives a near-straight line)."""
    t, v = readings.shape(subj, "train_loss"), readings.shape(subj, "val_loss")
    if t is None or not t.whole.falling() or t.gain >= max_gain:
        return None
    still = v.tail.falling() if v is not None and v.points >= 6 else t.tail.falling()
    paced = t.pace >= min_pace or (v is not None and v.pace >= min_pace)
    if not still or not paced or (v is not None and v.gain >= max_gain):
        return None
    return {**_named(subj, "train_loss"), "gain": t.gain, "pace": t.pace, "start": t.start, "final": t.end}


def resumed(subj: Subject, slot: Slot) -> Evidence | None:
    """The log of this curve starts where an earlier segment left off (a resumed run): its
    first point is not an untrained model's."""
    s = subj.series(slot)
    return {} if s is not None and s.resumed else None
