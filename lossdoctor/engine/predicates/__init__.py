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
from .course import (acc_stuck, at_chance, converged, came_down, errors_cut, falling_now, gained, high_loss, lags_accuracy, lr_collapsed, no_gain, resumed,
                     settled, slow_decline)
from .events import (blows_up, blows_up_with_train, bounces, climbs_with_rate, per_step, recurring_spikes, repeating_swings, spikes,
                     val_moves_too)
from .facts import axis_is, format_is, has, produced_by
from .scaling import skips_steps
from .validation import (train_above_val, val_best_at_end, train_falls_after_best, train_near_val, val_acc_at_chance,
                         val_acc_beats_chance, val_acc_rising, val_at_chance, val_never_improved, val_rises_after_best, gap_widens_after_best,
                         val_worse_than_chance)
from .values import magnitude, nonfinite

__all__ = ["PREDICATES", "Evidence", "Predicate"]

PREDICATES: dict[str, Predicate] = registry([
    nonfinite, magnitude, blows_up, blows_up_with_train, climbs_with_rate, spikes, recurring_spikes, repeating_swings, bounces, per_step, val_moves_too,
    val_rises_after_best, gap_widens_after_best, train_falls_after_best, val_never_improved, val_worse_than_chance, val_at_chance,
    val_acc_at_chance, val_acc_beats_chance, val_acc_rising, val_best_at_end, train_above_val, train_near_val, no_gain,
    gained, came_down, settled, falling_now,
    at_chance, high_loss, lr_collapsed, acc_stuck, errors_cut, lags_accuracy, converged, slow_decline, resumed, format_is, produced_by, axis_is, has,
    skips_steps,
])
