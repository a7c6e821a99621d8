"""The numeric predicates rules are built from: small pure functions with named parameters.

Each predicate takes a Subject and its parameters and returns evidence (a dict of
numbers, with `step`, `end_step` and `metric` where it has them) when it holds, or None.
Thresholds are scale-free: ratios, relative changes, shares of points, robust z-scores.
Parameters are declared once, in the signature, with a kind from `..params` and a
default (none = required); the list below is the only list of predicates a rule file may
name, each under its function's name. The functions live in modules by theme.
"""

from __future__ import annotations

from .core import Evidence, Predicate, registry
from .facts import axis_is, format_is, has, produced_by
from .gaps import train_above_val, train_falls_after_val_best, train_near_val, val_rises
from .instability import diverges, oscillates, spike
from .trends import fresh_start, flat, flat_tail, improved_between, stalled, still_falling, trend_between
from .values import acc_flat, at_chance, hidden_nonfinite, magnitude, nonfinite

__all__ = ["PREDICATES", "Evidence", "Predicate"]

PREDICATES: dict[str, Predicate] = registry([
    nonfinite, hidden_nonfinite, diverges, spike, oscillates, val_rises, train_falls_after_val_best,
    flat, improved_between, fresh_start, produced_by, trend_between, stalled, flat_tail,
    still_falling, train_above_val, train_near_val, magnitude, at_chance, acc_flat, format_is,
    axis_is, has,
])
