"""Predicates on the validation curve against the training curve: overfitting, broken
validation data, a training loss that sits above the validation loss."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from ..curves import counts, levels
from ..curves.gap import sign_test_p
from ..curves.trend import trend
from ..curves.noise import expo, log_of
from .. import readings
from ..params import Count, Fraction, Number, Ratio
from ..subject import Subject
from .core import Evidence


def val_rises_after_best(subj: Subject, min_rise: Annotated[Ratio, "x the best"] = 1.05,
                         alpha: Annotated[Fraction, "p-value"] = 0.05) -> Evidence | None:
    """After its best evaluation the validation loss rose for real: a significant upward trend
    (Mann-Kendall over the evaluations after the best) of at least `min_rise` and twice the
    curve's own noise, or a shift up to a level that far above the best, beyond the noise
    (`Best.shifted_up`: a fast rise, then a plateau or a slow drift, has no trend overall)."""
    b = readings.best(subj)
    s = subj.series("val_loss")
    if b is None:
        return None
    least = max(math.log(min_rise), 2 * b.noise)
    trended = b.after.rising(alpha) and b.rise >= least
    if not trended and not (b.shifted_up() and b.shift >= least):
        return None
    steps, values = s.steps[b.judged], s.values[b.judged]
    ev = {"metric": s.name, "step": float(steps[b.keep]), "end_step": float(steps[-1]),
          "best_step": float(steps[b.keep]), "best": float(values[b.keep]), "final": float(values[-1]),
          "noise": expo(b.noise) - 1, **_lowest(steps, values, b.keep)}
    if trended:
        return {**ev, "rise": expo(b.rise) - 1, "p": b.after.p}
    return {**ev, "rise": expo(b.shift) - 1, "after": expo(b.level + b.shift)}


def train_falls_after_best(subj: Subject, min_drop: Annotated[Fraction, "of the loss at the best step"] = 0.05) -> Evidence | None:
    """The training loss went on falling after the validation loss's best evaluation."""
    b, t, v = readings.best(subj), subj.series("train_loss"), subj.series("val_loss")
    if b is None or t is None or not readings.comparable(subj):
        return None
    ty = log_of(t.values)
    ok = np.isfinite(ty)
    if ok.sum() < 3:
        return None
    best_step = float(v.steps[b.judged[b.index]])
    steps, y = t.steps[ok], ty[ok]
    # Like with like: the level at the best is the median of as many points around it as the
    # end's level is of the last ones (one batch's loss against a median would read the
    # batch noise as a fall or as none; the median of a monotone stretch is its middle).
    k = max(3, y.size // 10)
    i = int(np.clip(np.searchsorted(steps, best_step) - k // 2, 0, max(0, y.size - k)))
    at_best = float(np.median(y[i:i + k]))
    end = float(np.median(y[-k:]))
    drop = 1 - expo(end - at_best)
    return {"train_at_best": expo(at_best), "train_final": expo(end), "train_drop": drop} \
        if drop >= min_drop else None


def gap_widens_after_best(subj: Subject, min_rise: Annotated[Ratio, "x the gap at the best"] = 1.05,
                          alpha: Annotated[Fraction, "p-value"] = 0.05) -> Evidence | None:
    """After its best the validation loss stayed put while training went on fitting: the
    validation loss over the training loss, each evaluation against the training mean of its
    interval (like with like), carries a significant upward trend (Mann-Kendall over the
    evaluations from the checkpoint to keep on) of at least `min_rise` and twice the
    validation loss's point noise. The knowledge base's "train falling, val flat: overfitting
    has begun" (P2), before any rise. "Flat" needs no test of its own: the checkpoint is
    within the noise of the lowest level, so after it the curve can fall by no more than
    that noise. The validation loss must have come down to that best first (a
    significant fall up to the checkpoint): one that only swings around its first level never
    fitted anything that could stop carrying over (P3: check the validation data). The step
    reported is the checkpoint to keep."""
    b, g, v = readings.best(subj), readings.gap(subj), subj.series("val_loss")
    if b is None or g is None:
        return None
    steps, values = v.steps[b.judged], v.values[b.judged]
    if not trend(steps[:b.keep + 1], log_of(values[:b.keep + 1])).falling(alpha, b.noise):
        return None
    # From the interval that ends at the checkpoint on, as a rise is judged from the best on.
    later = g.steps >= steps[b.keep]
    widening = -g.log_ratio[later]  # log(val / train) per interval
    if widening.size < 4:
        return None
    t = trend(g.steps[later], widening)
    # The floor is the validation loss's own noise, as for a rise: the training means are
    # averages over an interval (usually far smoother), and the ratio's own second differences
    # would count its curvature as noise (25x per point on a log thinned to every 5th point).
    least = max(math.log(min_rise), 2 * b.noise)
    if not (t.rising(alpha) and t.change >= least):
        return None
    return {"metric": v.name, "step": float(steps[b.keep]), "end_step": float(steps[-1]),
            "best_step": float(steps[b.keep]), "best": float(values[b.keep]), "final": float(values[-1]),
            "widen": expo(t.change) - 1, "gap_p": t.p, **_lowest(steps, values, b.keep),
            # Ten-fold and more (a training loss near 0 drives the ratio up) reads as a factor,
            # not "grew 40334%".
            **({"widen_x": expo(t.change)} if t.change >= math.log(10) else {})}


def _lowest(steps: np.ndarray, values: np.ndarray, keep: int) -> Evidence:
    """The lowest evaluation when it is not the checkpoint named (an earlier one within the
    noise of it is): the report says both, or a reader who sees the lower value later in
    the log takes the checkpoint for a mistake. Not when the two agree to the 4 significant
    digits the message shows them in: "1.228; its lowest value, 1.228" reads as a typo."""
    low = int(np.argmin(values))
    if values[low] >= values[keep] or f"{values[low]:.4g}" == f"{values[keep]:.4g}":
        return {}
    return {"min_step": float(steps[low]), "min": float(values[low])}


def val_best_at_end(subj: Subject) -> Evidence | None:
    """The validation loss's lowest evaluation is its last: it was still improving when the run
    stopped (on a short curve a trend test has no power, the position of the minimum does)."""
    v = subj.series("val_loss")
    if v is None:
        return None
    finite = v.values[np.isfinite(v.values)]
    return {} if finite.size >= 3 and int(np.argmin(finite)) == finite.size - 1 else None


def val_never_improved(subj: Subject) -> Evidence | None:
    """The validation loss was never better than at its first evaluation, beyond its noise."""
    b = readings.best(subj)
    if b is None or b.first_gain > b.noise:
        return None
    s = subj.series("val_loss")
    return {"metric": s.name, "step": float(s.steps[0]), "val_first": float(s.values[0])}


def val_worse_than_chance(subj: Subject, factor: Annotated[Ratio, "x the chance-level loss"] = 1.5) -> Evidence | None:
    """The validation loss ends well above a uniform guess's (ln C): the model is confidently
    wrong on data it should know. Without a class count there is no such guess to be worse
    than: a validation loss that doubles from its first evaluation is what a model overfitting
    from its first epoch shows too (0.013 -> 0.028 on a segmentation set, 3.7 -> 7.8 on a linear
    probe), so it says nothing about the validation data."""
    v = subj.series("val_loss")
    c = readings.classes(subj)
    if v is None or c is None:
        return None
    finite = v.values[np.isfinite(v.values)]
    if finite.size < 3:
        return None
    end = float(np.median(finite[-3:]))
    return {"val_final": end, "chance": math.log(c)} if end >= factor * math.log(c) else None


def val_at_chance(subj: Subject, tolerance: Fraction = 0.05, max_gain: Fraction = 0.05) -> Evidence | None:
    """The validation loss never moved from a uniform guess's (within `tolerance` of ln C)."""
    c, sh = readings.classes(subj), readings.shape(subj, "val_loss")
    if c is None or sh is None or sh.gain >= max_gain or abs(sh.end - math.log(c)) > tolerance * math.log(c):
        return None
    return {"metric": subj.series("val_loss").name, "step": float(subj.series("val_loss").steps[0]),
            "level": sh.end, "classes": c, "chance": math.log(c)}


def val_acc_at_chance(subj: Subject, margin: Annotated[Fraction, "of 1/C above chance"] = 0.5,
                      sigmas: Annotated[Number, "binomial standard errors"] = 2.0,
                      min_points: Count = 3) -> Evidence | None:
    """The validation accuracy never rose above chance (1/C, within `margin` of it). When the
    accuracies show the set's size n, its typical evaluation (the median over the run) must
    also be within `sigmas` binomial standard errors of 1/C: consistent with chance at the
    usual 95% two-sided level. Beating chance takes three (`val_acc_beats_chance`); between
    the two the accuracy says neither (0.31 over 300 samples on 4 classes, 2.4 standard
    errors up: a model that learnt a little is not shown to be at chance)."""
    c, acc = readings.chance_classes(subj), subj.series("val_acc")
    if c is None or acc is None:
        return None
    a = acc.values[np.isfinite(acc.values)]
    a = levels.as_fraction(a)
    if a.size < min_points or a.max() > (1 + margin) / c:
        return None
    n = readings.evaluated_on(subj, "val_acc")  # the binomial noise, when the set's size shows
    if n is not None and counts.above_chance(float(np.median(a)), c, n, sigmas):
        return None
    return {"metric": acc.name, "step": float(acc.steps[0]), "accuracy": float(np.median(a[-max(1, a.size // 3):])),
            "classes": c, "chance_acc": 1 / c}


def val_acc_beats_chance(subj: Subject, sigmas: Annotated[Number, "binomial standard errors"] = 3.0,
                         min_points: Count = 3) -> Evidence | None:
    """The validation accuracy, in its typical evaluation (the median over the run), is more
    than `sigmas` binomial standard errors above chance (1/C) on a set whose size the
    accuracies show: the classifier learnt something that carries over, however little its
    loss moved. Three standard errors: a chance-level classifier gets there in about one run
    in 700."""
    c, acc = readings.chance_classes(subj), subj.series("val_acc")
    if c is None or acc is None:
        return None
    a = acc.values[np.isfinite(acc.values)]
    a = levels.as_fraction(a)
    if a.size < min_points or float(np.median(a)) <= 1 / c:
        return None
    n = readings.evaluated_on(subj, "val_acc")
    if n is None or not counts.above_chance(float(np.median(a)), c, n, sigmas):
        return None
    return {"metric": acc.name, "accuracy": float(np.median(a)), "classes": c, "chance_acc": 1 / c, "evaluated_on": n}


def val_acc_rising(subj: Subject, alpha: Annotated[Fraction, "p-value"] = 0.05) -> Evidence | None:
    """The validation accuracy still climbs over the second half of its evaluations: a
    significant upward trend (Mann-Kendall, p < alpha). A model still learning, however
    little its loss moved."""
    acc = subj.series("val_acc")
    if acc is None:
        return None
    ok = np.isfinite(acc.values)
    x, y = acc.steps[ok], acc.values[ok]
    h = x.size // 2
    t = trend(x[h:], y[h:])
    return {"metric": acc.name, "p": t.p} if t.rising(alpha) else None


def train_above_val(subj: Subject, min_ratio: Annotated[Ratio, "x the validation loss"] = 1.15,
                    alpha: Annotated[Fraction, "p-value"] = 0.05, min_points: Count = 4,
                    tail: Annotated[Fraction, "of the evaluation intervals, at the end"] = 1 / 3,
                    sigmas: Annotated[Number, "standard errors of a finite validation set"] = 3.0,
                    relevance: Annotated[Fraction, "of the untrained loss"] = 0.02) -> Evidence | None:
    """Over the evaluation intervals the mean training loss sits above the validation loss at the
    interval's middle (time-aligned, like with like) by a median of `min_ratio`, at a share of
    intervals a sign test calls significant, and still by `min_ratio` over the last `tail` of the
    intervals: a gap that closes by the end was a transient of early training, not the state the
    run ends in (and nothing to act on). The gap over the last intervals must also be visible
    on a plot of the run: `relevance` of the untrained loss in loss units (a memorised
    training loss of 1e-7 beside a validation loss of 1e-9 is 100x, and nothing).

    A validation set of n samples, the same ones at every evaluation, is off its distribution's
    mean by a fixed amount: with per-sample losses spread at least as much as their mean (a
    trained classifier's cross-entropies: most near 0, the misclassified at several nats, a
    coefficient of variation of 1 or more), one standard error is 1/sqrt(n) of the loss. A sign
    test over evaluations cannot see that offset (it is the same every time), so when the
    accuracies show n (`curves.counts`), the gap over the last intervals must also exceed
    `sigmas` such errors: a wine set of 54 samples can sit 40% below the training loss by the
    draw of its samples alone. For a classifier the spread is the most its level leaves
    possible under the untrained loss (`_val_spread`), if larger: a set classified all right at
    a small loss owes its mean to a few samples near ln C."""
    g = readings.gap(subj)
    if g is None or g.n < min_points or g.median() < math.log(min_ratio) or sign_test_p(g.log_ratio) >= alpha:
        return None
    k = max(1, math.ceil(g.n * tail))
    last = float(np.median(g.log_ratio[-k:]))
    if last < math.log(min_ratio):
        return None
    sh = readings.shape(subj, "train_loss")
    if sh is not None and float(np.median(g.diff[-k:])) < relevance * sh.scale:
        return None
    # The offset is the state the run ends in: judged on the last intervals, where an early
    # transient no longer dilutes it. (n last: reading it off the accuracies is the dear part.)
    n = readings.evaluated_on(subj, "val_acc")
    if n and last < sigmas * _val_spread(subj, k) / math.sqrt(n):
        return None
    train = subj.series("train_loss")
    return {"metric": train.name, "step": _logged_step(train.steps, g.steps[0]),
            "end_step": _logged_step(train.steps, g.steps[-1]),
            "share": g.share_above(), "median_gap": expo(g.median()) - 1}


def _val_spread(subj: Subject, k: int) -> float:
    """The coefficient of variation of the validation set's per-sample losses over its last `k`
    evaluations: 1 (the least a trained classifier's cross-entropies spread), or, for a
    classifier (an accuracy is logged; no regression by name), the most that losses bounded
    by the untrained loss can have at that level (`levels.bounded_spread`), if more. The
    untrained loss is the higher start of the two curves; the accuracy, not a loss at ln C,
    says it is a classifier, so a loss in other units reads the same."""
    loss, acc = subj.series("val_loss"), subj.series("val_acc")
    if loss is None or acc is None or readings.is_regression(subj):
        return 1.0
    m = loss.values[np.isfinite(loss.values)]
    starts = [sh.scale for sh in (readings.shape(subj, "train_loss"), readings.shape(subj, "val_loss")) if sh]
    if not (m.size and starts):
        return 1.0
    cv = levels.bounded_spread(float(np.median(m[-k:])), max(starts))
    return max(1.0, cv) if math.isfinite(cv) else 1.0


def _logged_step(steps: np.ndarray, at: float) -> float:
    """The training curve's own step nearest to `at` (a gap is measured at evaluation steps,
    which the training log need not have: the finding names the training curve)."""
    i = int(np.clip(np.searchsorted(steps, at), 1, steps.size - 1)) if steps.size > 1 else 0
    return float(steps[i - 1] if steps.size > 1 and at - steps[i - 1] <= steps[i] - at else steps[i])


def train_near_val(subj: Subject, max_gap: Annotated[Fraction, "of the validation loss"] = 0.1,
                   min_points: Count = 3) -> Evidence | None:
    """Time-aligned, the training and validation losses are within `max_gap` of each other
    (the median over the evaluation intervals): no generalisation gap. `gap` is the training
    loss's offset from the validation loss (negative: below it)."""
    g = readings.gap(subj)
    if g is None or g.n < min_points or abs(g.median()) > math.log(1 + max_gap):
        return None
    return {"gap": expo(g.median()) - 1}
