"""The numeric predicates rules are built from: small pure functions with named parameters.

Each predicate takes a Subject and its parameters and returns evidence (a dict of
numbers, with `step`, `end_step` and `metric` where it has them) when it holds, or None.
Thresholds are scale-free: ratios, relative changes, shares of points, robust z-scores.
The registry at the bottom is the only list of predicates a rule file may name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import medians, signals
from .subject import Curve, Subject

Evidence = dict[str, Any]


def _curve(subj: Subject, slot: str, min_points: int) -> Curve | None:
    c = subj.curve(slot)
    return c if c is not None and c.n >= min_points else None


def nonfinite(subj: Subject, slot: str) -> Evidence | None:
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


def diverges(subj: Subject, slot: str, min_ratio: float, sustain: float, tail: float,
             min_points: int) -> Evidence | None:
    """The curve ends far above its best and stays there (or grows from the start)."""
    c = _curve(subj, slot, min_points)
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


def spike(subj: Subject, slot: str, min_ratio: float, min_z: float, min_height: float,
          window: int, min_points: int, recover_within: int) -> Evidence | None:
    """A sudden jump far above the recent median that comes back down (the largest one).

    `min_height` is the jump's size as a share of the curve's whole range: near a loss of
    0 (a memorised training set), log-scale noise is huge but meaningless.
    """
    c = _curve(subj, slot, min_points)
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


def oscillates(subj: Subject, slot: str, min_points: int, min_swing: float, min_flips: float,
               max_trend: float) -> Evidence | None:
    """Large step-to-step swings that keep changing direction, with no downward trend."""
    c = _curve(subj, slot, min_points)
    if c is None:
        return None
    swing, flips = signals.swing_stats(c.values)
    if swing < min_swing or flips < min_flips or abs(c.trend) > max_trend:
        return None  # a rising swinging curve is overfitting or divergence, a falling one learns
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "swing": swing, "flips": flips, "trend": c.trend,
            "low": float(c.values.min()), "high": float(c.values.max())}


def val_rises(subj: Subject, min_rise: float, min_snr: float, min_after: int,
              min_points: int) -> Evidence | None:
    """Validation loss ends clearly above its best (smoothed) point, by more than its noise."""
    c = _curve(subj, "val_loss", min_points)
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


def train_falls_after_val_best(subj: Subject, min_drop: float) -> Evidence | None:
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


def flat(subj: Subject, slot: str, max_trend: float, max_improvement: float,
         min_points: int) -> Evidence | None:
    """The curve hardly moves: no trend from the first to the last third, and never more
    than `max_improvement` below its smoothed start (an early drop is real learning)."""
    c = _curve(subj, slot, min_points)
    if c is None or abs(c.trend) > max_trend or c.improvement > max_improvement:
        return None
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "start": c.start, "final": c.end, "trend": c.trend}


def trend_between(subj: Subject, slot: str, low: float, high: float,
                  min_points: int) -> Evidence | None:
    """The first-third to last-third relative change lies in [low, high] (negative = falls)."""
    c = _curve(subj, slot, min_points)
    if c is None or not low <= c.trend <= high:
        return None
    return {f"{slot}_trend": c.trend}


def improved_between(subj: Subject, slot: str, low: float, high: float,
                     min_points: int) -> Evidence | None:
    """The smoothed curve got between `low` and `high` (fractions) below its start."""
    c = _curve(subj, slot, min_points)
    if c is None or not low <= c.improvement <= high:
        return None
    return {f"{slot}_improvement": c.improvement}


def fresh_start(subj: Subject, slot: str, max_share: float) -> Evidence | None:
    """The log starts near step 0, not mid-run: a resumed run's first point is not its start."""
    s = subj.series(slot)
    if s is None or not len(s) or s.resumed:
        return None
    first, last = float(s.steps[0]), float(s.steps[-1])
    return {} if last <= 0 or first <= max_share * last else None


def stalled(subj: Subject, slot: str, tolerance: float, min_share: float,
            min_points: int) -> Evidence | None:
    """The smoothed curve has stayed within a narrow band of its best for a final stretch.

    The band is `tolerance` of the best level, widened to twice the smoothed curve's own
    wobble on noisy logs; the stretch starts after the last point outside the band. The
    last half-window is not judged: a centred rolling median rests on a few points there.
    """
    c = _curve(subj, slot, min_points)
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


def flat_tail(subj: Subject, slot: str, share: float, max_change: float,
              min_points: int) -> Evidence | None:
    """Over its last `share` of points the curve no longer moves: the median of that
    stretch's first third and of its last third differ by at most `max_change`."""
    c = _curve(subj, slot, min_points)
    if c is None:
        return None
    k = signals.edge_count(c.n, share, least=6)
    change = signals.thirds_trend(c.values[-k:])
    if abs(change) > max_change:
        return None
    return {"metric": c.series.name, "step": c.step_at(c.n - k), "end_step": c.step_at(c.n - 1),
            "level": medians.median(c.values[-k:]), "share": k / c.n, "tail_change": change}


def still_falling(subj: Subject, slot: str, tail: float, min_drop: float,
                  min_points: int) -> Evidence | None:
    """Over the last part of the run the smoothed curve is still going down."""
    c = _curve(subj, slot, min_points)
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


def train_above_val(subj: Subject, min_share: float, min_gap: float,
                    min_points: int) -> Evidence | None:
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


def train_near_val(subj: Subject, max_gap: float, min_points: int) -> Evidence | None:
    """Train and validation loss end at about the same level: no generalisation gap."""
    t, v = subj.curve("train_loss"), subj.curve("val_loss")
    if t is None or v is None or v.n < min_points or t.n < min_points or not _comparable(t, v):
        return None
    gap = signals.rel_change(v.end, t.end)
    return {"end_gap": gap, "val_final": v.end} if abs(gap) <= max_gap else None


def magnitude(subj: Subject, slot: str, final_at_least: float,
              start_at_least: float) -> Evidence | None:
    """The loss is large in absolute terms (unscaled regression targets put it there)."""
    c = _curve(subj, slot, 3)
    if c is None or not (c.end >= final_at_least or c.start >= start_at_least):
        return None
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "start": c.start, "final": c.end}


def at_chance(subj: Subject, slot: str, tolerance: float, acc_factor: float,
              strict_tolerance: float, strict_classes: int, strict_max_swing: float,
              min_points: int) -> Evidence | None:
    """The loss ends at ln(C), the cross-entropy of a uniform guess over C classes.

    With a logged accuracy, it must also sit near 1/C (two independent signs of guessing);
    without one, only few classes, a much tighter match and the near-constant curve of a
    model that outputs the same guess count, since any noisy loss lands near some ln(C).
    """
    c = _curve(subj, slot, min_points)
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


def acc_flat(subj: Subject, max_range: float, max_level: float,
             min_points: int) -> Evidence | None:
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


def format_is(subj: Subject, formats: list[str]) -> Evidence | None:
    """The run's log format is one of `formats`."""
    return {} if subj.format in formats else None


def produced_by(subj: Subject, tools: list[str]) -> Evidence | None:
    """The log follows the naming conventions of one of `tools` (ultralytics, detectron2)."""
    return {} if subj.producer in tools else None


def axis_is(subj: Subject, slot: str, axes: list[str]) -> Evidence | None:
    """The series in `slot` is indexed by one of `axes` (step, epoch, row)."""
    s = subj.series(slot)
    return {} if s is not None and s.axis in axes else None


def has(subj: Subject, slot: str, min_points: int) -> Evidence | None:
    """The slot holds a series with at least `min_points` finite points."""
    return {} if _curve(subj, slot, min_points) is not None else None


@dataclass(frozen=True)
class Param:
    """A predicate parameter: its kind (checked when a rule file is loaded) and default."""

    kind: str  # fraction | ratio | count | number | slot | names
    default: Any = None


@dataclass(frozen=True)
class Predicate:
    """A registered predicate: the function and its declared parameters."""

    fn: Callable[..., Evidence | None]
    params: dict[str, Param]


def _p(kind: str, default: Any = None) -> Param:
    return Param(kind, default)


SLOT = _p("slot")
PREDICATES: dict[str, Predicate] = {
    "nonfinite": Predicate(nonfinite, {"slot": SLOT}),
    "hidden_nonfinite": Predicate(hidden_nonfinite, {}),
    "diverges": Predicate(diverges, {"slot": SLOT, "min_ratio": _p("ratio", 2.0),
                                     "sustain": _p("fraction", 0.8), "tail": _p("fraction", 0.15),
                                     "min_points": _p("count", 8)}),
    "spike": Predicate(spike, {"slot": SLOT, "min_ratio": _p("ratio", 2.0),
                               "min_z": _p("number", 4.5), "min_height": _p("fraction", 0.05),
                               "window": _p("count", 5),
                               "min_points": _p("count", 20), "recover_within": _p("count", 10)}),
    "oscillates": Predicate(oscillates, {"slot": SLOT, "min_points": _p("count", 8),
                                         "min_swing": _p("fraction", 0.08),
                                         "min_flips": _p("fraction", 0.5),
                                         "max_trend": _p("fraction", 0.1)}),
    "val_rises": Predicate(val_rises, {"min_rise": _p("fraction", 0.1), "min_snr": _p("number", 1.5),
                                       "min_after": _p("count", 2),
                                       "min_points": _p("count", 4)}),
    "train_falls_after_val_best": Predicate(train_falls_after_val_best,
                                            {"min_drop": _p("fraction", 0.05)}),
    "flat": Predicate(flat, {"slot": SLOT, "max_trend": _p("fraction", 0.05),
                             "max_improvement": _p("fraction", 0.1),
                             "min_points": _p("count", 5)}),
    "improved_between": Predicate(improved_between, {"slot": SLOT, "low": _p("number"),
                                                     "high": _p("number"),
                                                     "min_points": _p("count", 5)}),
    "fresh_start": Predicate(fresh_start, {"slot": SLOT, "max_share": _p("fraction", 0.1)}),
    "produced_by": Predicate(produced_by, {"tools": _p("names")}),
    "trend_between": Predicate(trend_between, {"slot": SLOT, "low": _p("number"),
                                               "high": _p("number"), "min_points": _p("count", 5)}),
    "stalled": Predicate(stalled, {"slot": SLOT, "tolerance": _p("fraction", 0.02),
                                   "min_share": _p("fraction", 0.3), "min_points": _p("count", 10)}),
    "flat_tail": Predicate(flat_tail, {"slot": SLOT, "share": _p("fraction", 0.5),
                                       "max_change": _p("fraction", 0.03),
                                       "min_points": _p("count", 10)}),
    "still_falling": Predicate(still_falling, {"slot": SLOT, "tail": _p("fraction", 0.25),
                                               "min_drop": _p("fraction", 0.02),
                                               "min_points": _p("count", 6)}),
    "train_above_val": Predicate(train_above_val, {"min_share": _p("fraction", 0.9),
                                                   "min_gap": _p("fraction", 0.05),
                                                   "min_points": _p("count", 3)}),
    "train_near_val": Predicate(train_near_val, {"max_gap": _p("fraction", 0.1),
                                                 "min_points": _p("count", 3)}),
    "magnitude": Predicate(magnitude, {"slot": SLOT, "final_at_least": _p("number", 20.0),
                                       "start_at_least": _p("number", 1e4)}),
    "at_chance": Predicate(at_chance, {"slot": SLOT, "tolerance": _p("fraction", 0.05),
                                       "acc_factor": _p("number", 1.5),
                                       "strict_tolerance": _p("fraction", 0.01),
                                       "strict_classes": _p("count", 10),
                                       "strict_max_swing": _p("fraction", 0.02),
                                       "min_points": _p("count", 5)}),
    "acc_flat": Predicate(acc_flat, {"max_range": _p("fraction", 0.03),
                                     "max_level": _p("fraction", 0.95),
                                     "min_points": _p("count", 5)}),
    "format_is": Predicate(format_is, {"formats": _p("names")}),
    "axis_is": Predicate(axis_is, {"slot": SLOT, "axes": _p("names")}),
    "has": Predicate(has, {"slot": SLOT, "min_points": _p("count", 1)}),
}
