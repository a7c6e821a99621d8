"""Predicates on the course of a loss over the run: did it learn, has it settled, at what
level, how fast, and what the learning-rate schedule did meanwhile.

Read on the progress grid (`curves.shape`: <= 50 bins of median log-loss), so the same
training logged per step or per epoch gets the same answers.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from ..curves import counts, levels
from ..curves.noise import expo, log_of, point_noise
from ..curves.timescale import grid
from ..curves.trend import change_se, reachable
from .. import readings
from ..params import Count, Fraction, Number, Slot
from ..subject import Subject
from .core import Evidence


def _middle(s) -> float:
    """The first logged step of the second half (a finding's step is always a logged one)."""
    half = float(s.steps[0] + (s.steps[-1] - s.steps[0]) / 2)
    return float(s.steps[min(int(np.searchsorted(s.steps, half)), len(s) - 1)])


def _end(values: np.ndarray) -> float:
    """Where a logged curve (an accuracy, a loss) ends: the median of its last quarter, so one
    evaluation's draw does not stand for the level."""
    return float(np.median(values[-max(1, values.size // 4):]))


def _named(subj: Subject, slot: str) -> dict:
    s = subj.series(slot)
    return {"metric": s.name, "step": float(s.steps[0]), "end_step": float(s.steps[-1])}


def no_gain(subj: Subject, slot: Slot, max_gain: Annotated[Fraction, "of the initial loss"] = 0.05) -> Evidence | None:
    """The curve never got `max_gain` below where it started: it learnt nothing that shows."""
    sh = readings.shape(subj, slot)
    if sh is None or sh.gain >= max_gain:
        return None
    # a curve that only rose has a negative gain: "never below its start" is then 0%
    return {**_named(subj, slot), "start": sh.start, "final": sh.end, "gain": max(sh.gain, 0.0)}


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
    return {"drop": expo(drop) - 1} if drop >= 3 * se else None


def settled(subj: Subject, slot: Slot, max_change: Annotated[Fraction, "over the last half"] = 0.02,
            sigmas: Annotated[Number, "standard errors of that change"] = 0.0,
            no_trend: Annotated[Fraction, "p-value"] = 0.0) -> Evidence | None:
    """Over the second half of the run the curve moved by at most `max_change` (Theil-Sen):
    doubling the training would buy at most about that much. With `sigmas`, the change plus
    that many of its standard errors (a line's change over the half's grid points, at the
    grid's point noise) stays within it: an equivalence test, so a short or noisy tail cannot
    pass for settled by its noise alone. With `no_trend`, a half in which Mann-Kendall finds
    no trend at that level (on enough points for it to find one) counts as settled too,
    whatever its estimated change: for a curve whose learning rate collapsed the weights no
    longer move, and only a significant trend says the curve still does (a frozen per-step
    loss under 10% batch noise estimates a change past 2% in half of 12 draws, and the
    development set's per-batch decay recipe did at 2 of 11 reseeds)."""
    sh = readings.shape(subj, slot)
    if sh is None:
        return None
    spread = sigmas * sh.noise * change_se(sh.tail.n) if sigmas else 0.0
    flat = no_trend > 0 and reachable(sh.tail.n, no_trend) and sh.tail.p >= no_trend
    if not flat and (not math.isfinite(spread) or abs(sh.tail.change) + spread > math.log(1 + max_change)):
        return None
    s = subj.series(slot)
    found = {"metric": s.name, "step": _middle(s), "end_step": float(s.steps[-1]), "level": sh.end,
             "tail_change": expo(sh.tail.change) - 1}
    if flat and abs(sh.tail.change) > math.log(1 + max_change):
        found["noise_change"] = found["tail_change"]  # settled by the trend test alone: say so
    return found


def falling_now(subj: Subject, slot: Slot, alpha: Annotated[Fraction, "p-value"] = 0.05,
                min_drop: Annotated[Fraction, "over the second half"] = 0.02) -> Evidence | None:
    """The curve still falls over its second half: a significant trend (Mann-Kendall, p <
    alpha; on too few points for it, a fall beyond the curve's noise) of at least `min_drop`
    (Theil-Sen)."""
    sh = readings.shape(subj, slot)
    if sh is None or not sh.tail.falling(alpha, sh.noise) or sh.tail.change > math.log(1 - min_drop):
        return None
    s = subj.series(slot)
    return {"metric": s.name, "step": _middle(s), "end_step": float(s.steps[-1]),
            "recent_drop": 1 - expo(sh.tail.change)}


def at_chance(subj: Subject, tolerance: Annotated[Fraction, "of ln C"] = 0.05,
              margin: Annotated[Fraction, "of 1/C"] = 0.5) -> Evidence | None:
    """The loss (validation when logged) ends at ln C, a uniform guess over the C classes the
    initial loss shows, and a logged accuracy stays near 1/C: no better than chance. When the
    loss shows no C (summed over a batch, or in other units) but an untrained accuracy does,
    the accuracy alone decides."""
    c = readings.classes(subj)
    slot = "val_loss" if subj.series("val_loss") is not None else "train_loss"
    sh = readings.shape(subj, slot)
    acc_slot = readings.accuracy_slot(subj)
    acc = subj.series(acc_slot)
    a = np.zeros(0) if acc is None else levels.as_fraction(acc.values[np.isfinite(acc.values)])
    if sh is None:
        return None
    if c is None:
        # No loss to agree with: the accuracy must be at chance within its binomial noise (3
        # standard errors, as val_acc_beats_chance) on a set whose size it shows.
        c = readings.chance_classes(subj)
        n = None if c is None or acc is None else readings.evaluated_on(subj, acc_slot)
        if not n or not a.size:
            return None
        level = _end(a)
        return None if counts.above_chance(level, c, n) else \
            {**_named(subj, slot), "classes": c, "accuracy": level, "chance_acc": 1 / c, "accuracy_metric": acc.name}
    ev = {**_named(subj, slot), "level": sh.end, "classes": c, "chance": math.log(c)}
    if not a.size:
        return ev if abs(sh.end - math.log(c)) <= tolerance * math.log(c) else None
    # With an accuracy, it decides; the loss need only not be far below ln C (C read off a
    # loss is uncertain by a class or two from 5 classes on: ln 10 and ln 11 are 4% apart).
    level = _end(a)
    near = abs(level - 1 / c) <= margin / c and sh.end >= (1 - 2 * tolerance) * math.log(c)
    return {**ev, "accuracy": level, "chance_acc": 1 / c} if near else None


def high_loss(subj: Subject, slot: Slot, share: Annotated[Fraction, "of ln C"] = 0.5) -> Evidence | None:
    """The loss ends at `share` of the chance level or above: a classifier there has removed
    less than half of a uniform guess's uncertainty. Without a class count: at a third of the
    untrained loss or above."""
    c, sh = readings.classes(subj), readings.shape(subj, slot)
    if sh is None:
        return None
    if c is None:  # no chance level: still above a third of the untrained loss when it settled
        return {} if sh.end >= sh.scale / 3 else None
    return {} if sh.end >= share * math.log(c) else None


def errors_cut(subj: Subject, share: Annotated[Fraction, "of an untrained classifier's error rate"] = 0.5,
               min_points: Count = 3,
               sigmas: Annotated[Number, "binomial standard errors of the final accuracy"] = 0.0) -> Evidence | None:
    """The logged accuracy (validation when logged, else training) cut its error rate
    (1 - accuracy) by at least `share` from an untrained model's to its end (the median of
    its last quarter): the classifier learnt at a useful pace, whatever its loss's course.
    The untrained error rate is 1 - 1/C when the loss shows C classes (the loss's gain is
    measured from the untrained loss too: a first evaluation after an epoch has learnt part
    of it already), else the first evaluation's. On a set whose size the accuracies show,
    an end within `sigmas` binomial standard errors of that cut (Wilson's interval,
    `counts.lowest_likely`) reaches it: a rule that
    claims the cut fell short must be sure of it (a 62.3% on 300 samples is 0.2% short of
    halving a 75% error rate, and uncertain by 2.8%)."""
    acc_slot = readings.accuracy_slot(subj)
    acc = subj.series(acc_slot)
    a = np.zeros(0) if acc is None else acc.values[np.isfinite(acc.values)]
    if a.size < min_points:
        return None
    a = levels.as_fraction(a)
    c = readings.chance_classes(subj)
    first, end = float(a[0]), _end(a)
    if c is not None:
        first = min(first, 1 / c)
    if first >= 1:
        return None
    error, needed = 1 - end, (1 - share) * (1 - first)
    if error > needed and sigmas > 0:
        n = readings.evaluated_on(subj, acc_slot)
        if n:
            error = counts.lowest_likely(error, n, sigmas)  # the interval lags_accuracy reads
    if error > needed:
        return None
    return {"metric": acc.name, "acc_first": first, "acc_end": end}


def lags_accuracy(subj: Subject,
                  sigmas: Annotated[Number, "binomial standard errors of the final accuracy"] = 1.96) -> Evidence | None:
    """The loss ends above the most a calibrated classifier can lose at the accuracy beside it
    (`levels.calibrated_ceiling`, on the same evaluations: the validation loss with the
    validation accuracy, else the training pair): its predictions are not as sure as they are
    right, or surer. Overfitting's confident mistakes are the second (a validation loss rising
    while the accuracy holds: on the development set most overfit recipes end 1.2-2.3x above
    the ceiling, most healthy ones at 0.6-0.9x of it); beside a loss still falling slowly from
    ln C (lr_too_low reads it after `slow_decline`) it is the first: the accuracy says the
    classifier found the classes, the loss that its probabilities are still near a uniform
    guess's, logits that have hardly grown. Both are the medians of their last quarter. The
    ceiling falls as the accuracy rises, so the loss must clear it at the low end of the
    accuracy's 95% interval (Wilson's, `sigmas` standard errors: `counts.lowest_likely`), on a
    set whose size the accuracies show, else this cannot judge. C is the loss's own (an
    untrained loss at ln C), so the loss is a cross-entropy in nats."""
    c, acc_slot = readings.classes(subj), readings.accuracy_slot(subj)
    loss, acc = subj.series("val_loss" if acc_slot == "val_acc" else "train_loss"), subj.series(acc_slot)
    n = None if c is None or acc is None or loss is None else readings.evaluated_on(subj, acc_slot)
    if not n:
        return None
    a = levels.as_fraction(acc.values[np.isfinite(acc.values)])
    m = loss.values[np.isfinite(loss.values)]
    if not (a.size and m.size):
        return None
    end, level = _end(a), _end(m)
    low = counts.lowest_likely(end, n, sigmas)
    ceiling = levels.calibrated_ceiling(low, c)
    return {"loss_metric": loss.name, "accuracy_metric": acc.name, "level": level, "accuracy": end,
            "accuracy_low": low, "ceiling": ceiling} if level > ceiling else None


def lr_collapsed(subj: Subject) -> Evidence | None:
    """The learning rate fell below 1% of its peak and stayed there for the last third of the
    run or more (a schedule annealing to ~0 spends only its last few percent there)."""
    c = readings.collapse(subj)
    if c is None:
        return None
    return {"lr_since": c.since, "lr_share": c.share, "lr_peak": c.peak, "lr_last": c.last}


def slow_decline(subj: Subject, max_gain: Annotated[Fraction, "of the initial loss"] = 0.5,
                 min_pace: Annotated[Fraction, "second half vs first"] = 0.3,
                 converged_pace: Annotated[Fraction, "second half vs first, from the start"] = 0.1) -> Evidence | None:
    """The loss falls steadily but slowly: significantly over the run (on either curve), still
    at the end (on the validation curve when one is logged), less than `max_gain` of its start
    by then, and with the second half bringing at least `min_pace` of what the first did (a
    sane learning rate front-loads the progress; a too-low one gives a near-straight line). The
    pace is the training curve's, or the validation curve's (six evaluations or more, and no
    more than 1/`min_pace`: a fall that began late is no steady pace either): an average over
    the whole set shows the model's course where a thinned or noisy training loss may bend by
    its batches (50 detectron2 points at 0.28 beside evaluations at 0.33), or show no fall in
    its first half to compare with (batch noise over a small drop). Counted from the curve's
    start (`Shape.pace_from_start`) the second half must also bring more than `converged_pace`
    of the first: at a tenth or less from there the curve converges (`converged`'s measure),
    its progress front-loaded into a fall within the first points."""
    t, v = readings.shape(subj, "train_loss"), readings.shape(subj, "val_loss")
    # A validation curve with six evaluations or more shows the course on its own.
    v6 = v if v is not None and v.points >= 6 else None
    # Falling significantly over the run: the training loss, or the validation loss beside it
    # where batch noise leaves a small fall short of significance.
    if t is None or t.gain >= max_gain or not (t.whole.falling() or (v6 is not None and v6.whole.falling())):
        return None
    still = v6.tail.falling() if v6 is not None else t.tail.falling()
    # The validation curve's pace steady both ways: within min_pace of a straight line's 1 on
    # either side (a second half bringing 7x its first is a fall that began late, not a pace).
    paced = (math.isfinite(t.pace) and t.pace >= min_pace) or \
        (v6 is not None and min_pace <= v6.pace <= 1 / min_pace)
    if not still or not paced or (v is not None and v.gain >= max_gain):
        return None
    # A curve that fell fast within its first points and slowly after them front-loaded its
    # progress, whatever the tenths after that fall show.
    if t.pace_from_start <= converged_pace:
        return None
    # So did one whose validation loss converged (the same measure): an average over the whole
    # set, it shows the model's course where a per-step training loss's tenths show its batches.
    if converged(subj, "val_loss", converged_pace) is not None:
        return None
    # The message says whose pace it was.
    by_val = not (math.isfinite(t.pace) and t.pace >= min_pace)
    return {**_named(subj, "train_loss"), "gain": t.gain, "pace": v.pace if by_val else t.pace,
            "pace_of": subj.series("val_loss" if by_val else "train_loss").name, "start": t.start, "final": t.end}


def acc_stuck(subj: Subject, max_range: Annotated[Fraction, "accuracy points"] = 0.03,
              max_level: Annotated[Fraction, "accuracy"] = 0.95) -> Evidence | None:
    """Every logged accuracy stays within `max_range` over the whole run, below `max_level`
    (a saturated, finished model is flat too): the classifier is stuck."""
    ranges = {}
    for slot in ("train_acc", "val_acc"):
        s = subj.series(slot)
        a = np.zeros(0) if s is None else s.values[np.isfinite(s.values)]
        if a.size >= 5:
            a = levels.as_fraction(a)
            if float(np.median(a)) > max_level:
                return None
            ranges[slot] = float(np.ptp(a))
    if "val_acc" not in ranges or max(ranges.values()) > max_range:
        return None
    return {"metric": subj.series("val_acc").name, **{f"{k}_range": v for k, v in ranges.items()}}


def converged(subj: Subject, slot: Slot, max_pace: Annotated[Fraction, "second half vs first"] = 0.1) -> Evidence | None:
    """The curve has flattened out: its second half brought at most `max_pace` of what the
    first half did (an effect size, not a p-value: thinning a log does not flip it)."""
    sh = readings.shape(subj, slot)
    if sh is None or not (math.isfinite(sh.pace) and sh.pace <= max_pace):
        return None
    s = subj.series(slot)
    # A second half that went back up brought nothing: within the same band that is flat (0%),
    # beyond it the message says how far it climbed -- as a share of the first half's fall,
    # or, past all of it (a first half that hardly fell: "25337% of what it brought"), as a
    # share of the level it climbed from.
    if sh.pace >= -max_pace:
        moved = {"pace": max(sh.pace, 0.0)}
    elif sh.pace >= -1:
        moved = {"climbed_back": -sh.pace}
    else:
        middle = sh.end + sh.second_half_drop
        moved = {"rose": -sh.second_half_drop / middle if middle > 0 else float("inf")}
    return {"metric": s.name, "step": _middle(s), "end_step": float(s.steps[-1]), "level": sh.end, **moved}


def resumed(subj: Subject, slot: Slot) -> Evidence | None:
    """The log of this curve starts where an earlier segment left off (a resumed run): its
    first point is not an untrained model's. Also a log that begins after more steps than it
    covers and does not start as an untrained model does (at ln C, or falling within its
    first points): a run resumed from a checkpoint whose earlier log is not there."""
    return {} if readings.resumed(subj, slot) else None
