"""The numeric predicates rules are built from: small pure functions with named parameters.

Each predicate takes a Subject and its parameters and returns evidence (a dict of
numbers, with `step`, `end_step` and `metric` where it has them) when it holds, or None.
Thresholds are scale-free: ratios, relative changes, shares of points, robust z-scores.
The registry below is the only list of predicates a rule file may name; the functions
live in modules by theme.
"""

from __future__ import annotations

from typing import Any

from .core import Evidence, Param, Predicate
from .facts import axis_is, format_is, has, produced_by
from .gaps import train_above_val, train_falls_after_val_best, train_near_val, val_rises
from .instability import diverges, oscillates, spike
from .trends import fresh_start, flat, flat_tail, improved_between, stalled, still_falling, trend_between
from .values import acc_flat, at_chance, hidden_nonfinite, magnitude, nonfinite

__all__ = ["PREDICATES", "Evidence", "Param", "Predicate"]


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
