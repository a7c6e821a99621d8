"""The development set README's label checks, applied to numbers measured by label_measure.

`check(label, m, facts)` -> (shown, evidence): whether the measured numbers `m` of a run
show the label, by the README's deliberately simple tests, and the evidence text that
quotes them. `facts` are construction facts a log cannot hold (what a sane model or
schedule reaches on the data, the class count, the target's spread).
"""

from __future__ import annotations

import numpy as np


def nonfinite_steps(m: dict) -> list[float]:
    keys = ("first_nonfinite_train_loss_step", "first_nonfinite_train_loss_epoch_step",
            "first_nonfinite_val_loss_step", "first_nonfinite_grad_norm_step", "hidden_nan_step")
    return [m[k] for k in keys if m.get(k) is not None]


def _g(m: dict, key: str, default=None):
    x = m.get(key)
    return default if x is None else x


def _f(m: dict, key: str, spec: str = ".4g") -> str:
    x = m.get(key)
    return format(x, spec) if isinstance(x, float) else str(x)


def check(label: str, m: dict, facts: dict | None = None) -> tuple[bool, str]:
    """(shown by the numbers, evidence text) for one label, by the devset README's checks.

    `facts` are construction facts the log cannot hold: `reference_train_loss` (what the
    same data reaches with a sane model/schedule), `n_classes`, `target_std`."""
    facts = facts or {}
    return CHECKS[label](m, facts)


def _healthy(m: dict, facts: dict) -> tuple[bool, str]:
    nf = nonfinite_steps(m)
    ok = (not nf and _g(m, "train_rel_drop", 0) >= 0.3 and m.get("val_final") is not None
          and m["val_final"] <= 1.05 * m["val_min"] and m["val_final"] < m["val_first"]
          and m.get("divergence_onset_step") is None)
    return ok, (f"train {_f(m, 'train_first')} -> {_f(m, 'train_last')} (drop {_f(m, 'train_rel_drop', '.2f')}); "
                f"val {_f(m, 'val_first')} -> final {_f(m, 'val_final')}, min {_f(m, 'val_min')} at "
                f"{_f(m, 'val_argmin_step', 'g')} (rise {_f(m, 'val_rel_rise_from_min', '.3f')}); all finite: {not nf}")


def _overfitting(m: dict, facts: dict) -> tuple[bool, str]:
    ok = (_g(m, "val_rel_rise_from_min", 0) >= 0.05 and _g(m, "val_argmin_frac", 1) <= 0.85
          and not nonfinite_steps(m) and _g(m, "train_at_end", 0) < _g(m, "train_at_val_min", 0))
    return ok, (f"val min {_f(m, 'val_min')} at {_f(m, 'val_argmin_step', 'g')} ({_f(m, 'val_argmin_frac', '.2f')} of the "
                f"evaluations), final {_f(m, 'val_final')} (+{100 * _g(m, 'val_rel_rise_from_min', 0):.1f}%); train at "
                f"val-min {_f(m, 'train_at_val_min')} -> end {_f(m, 'train_at_end')}; within 2% of min: "
                f"{m.get('val_within_2pct_of_min_steps')}")


def _divergence_check(m: dict, facts: dict) -> tuple[bool, str]:
    nf = nonfinite_steps(m)
    grew = _g(m, "train_max_finite", 0) > 5 * _g(m, "train_min", np.inf)
    ok = m.get("divergence_onset_step") is not None and (grew or bool(nf))
    return ok, (f"train min {_f(m, 'train_min')}, last minimum before the blow-up at "
                f"{_f(m, 'train_argmin_before_divergence_step', 'g')}, finite max {_f(m, 'train_max_finite')} "
                f"({_g(m, 'train_max_finite', 0) / max(_g(m, 'train_min', 1), 1e-300):.3g}x the min); stays >2x the "
                f"running min from {_f(m, 'divergence_onset_step', 'g')}, >10x or non-finite from "
                f"{_f(m, 'train_first_10x_or_nonfinite_step', 'g')}; first non-finite {min(nf) if nf else None}")


def _nan(m: dict, facts: dict) -> tuple[bool, str]:
    nf = nonfinite_steps(m)
    hidden = ("" if m.get("hidden_nan_step") is None else
              f"; hidden by the HF Trainer's NaN filter from {_f(m, 'hidden_nan_step', 'g')} (the last logged step "
              f"finite beyond doubt + 1), first visible at {_f(m, 'hidden_nan_visible_step', 'g')}")
    return bool(nf), (f"first non-finite: train {_f(m, 'first_nonfinite_train_loss_step', 'g')}, train epoch mean "
                      f"{_f(m, 'first_nonfinite_train_loss_epoch_step', 'g')}, val "
                      f"{_f(m, 'first_nonfinite_val_loss_step', 'g')}, grad_norm "
                      f"{_f(m, 'first_nonfinite_grad_norm_step', 'g')}" + hidden)


def _spike(m: dict, facts: dict) -> tuple[bool, str]:
    ok = (_g(m, "spike_peak_ratio", 0) >= 3 and _g(m, "spike_peak", 0) >= 1.5 * _g(m, "spike_pre_window_max", np.inf)
          and m.get("spike_recovered_step") is not None and not nonfinite_steps(m))
    return ok, (f"baseline {_f(m, 'spike_base')} (max {_f(m, 'spike_pre_window_max')}) over the 80 steps before "
                f"{_f(m, 'spike_fault_step', 'g')}, peak {_f(m, 'spike_peak')} at {_f(m, 'spike_peak_step', 'g')} "
                f"(x{_g(m, 'spike_peak_ratio', 0):.1f}), >2x base from {_f(m, 'spike_onset_step', 'g')}, 5-point rolling "
                f"median back to <= {_f(m, 'spike_recovery_level')} at {_f(m, 'spike_recovered_step', 'g')}")


def _oscillation(m: dict, facts: dict) -> tuple[bool, str]:
    a = _g(m, "train_2nd_half_median_abs_step_rel", 0) >= 0.25 and _g(m, "train_2nd_half_frac_up", 0) >= 0.35
    b = _g(m, "val_frac_up_moves", 0) >= 0.35 and _g(m, "val_median_abs_rel_change", 0) >= 0.1
    return (a or b) and not nonfinite_steps(m), (
        f"train 2nd half: median |step change| {_f(m, 'train_2nd_half_median_abs_step_rel', '.3f')} of its level, "
        f"up-moves {_f(m, 'train_2nd_half_frac_up', '.2f')} (>=0.25 and >=0.35); val: up-moves "
        f"{_f(m, 'val_frac_up_moves', '.2f')}, median |rel change| {_f(m, 'val_median_abs_rel_change', '.3f')} "
        f"(>=0.35 and >=0.10); train drop {_f(m, 'train_rel_drop', '.2f')}")


def _not_learning(m: dict, facts: dict) -> tuple[bool, str]:
    vchg = abs(1 - _g(m, "val_final", 0) / _g(m, "val_first", 1)) if m.get("val_first") else 0.0
    ok = abs(_g(m, "train_rel_drop", 1)) < 0.05 and vchg < 0.05 and not nonfinite_steps(m)
    return ok, (f"train {_f(m, 'train_first')} -> {_f(m, 'train_last')} (change {_f(m, 'train_rel_drop', '.3f')}); "
                f"val {_f(m, 'val_first')} -> {_f(m, 'val_final')} (change {vchg:.3f}); both must be <0.05; "
                f"val acc {_f(m, 'val_acc_first', '.3f')} -> {_f(m, 'val_acc_final', '.3f')}")


def _underfitting(m: dict, facts: dict) -> tuple[bool, str]:
    ref = facts.get("reference_train_loss")
    flat = abs(_g(m, "train_rel_change_last_half", 1)) < 0.1
    gap = m.get("median_train_over_val")
    ok = (flat and ref is not None and m["train_last"] >= 2 * ref and (gap is None or 0.7 <= gap <= 1.5)
          and not nonfinite_steps(m))
    return ok, (f"train ends at {_f(m, 'train_last')} (last-half change {_f(m, 'train_rel_change_last_half', '.3f')}, "
                f"flat means <0.1); train/val {_f(m, 'median_train_over_val', '.2f')}; reachable on this data: "
                f"{'?' if ref is None else format(ref, '.4g')} ({facts.get('reference_what', '')})")


def _lr_too_low(m: dict, facts: dict) -> tuple[bool, str]:
    ok = _g(m, "train_rel_drop", 1) < 0.5 and _g(m, "train_rel_change_last_half", 0) > 0.01 and not nonfinite_steps(m)
    return ok, (f"train {_f(m, 'train_first')} -> {_f(m, 'train_last')} (drop {_f(m, 'train_rel_drop', '.3f')}, "
                f"<0.5), last-half change {_f(m, 'train_rel_change_last_half', '.3f')} (>0.01)")


def _inverted(m: dict, facts: dict) -> tuple[bool, str]:
    ok = _g(m, "frac_train_above_val", 0) >= 0.8 and _g(m, "median_train_over_val", 0) >= 1.15
    return ok, (f"epoch-level train above val at {_f(m, 'frac_train_above_val', '.2f')} of the evaluations (>=0.8), "
                f"median train/val {_f(m, 'median_train_over_val', '.3f')} (>=1.15)")


def _data_problem(m: dict, facts: dict) -> tuple[bool, str]:
    drop = _g(m, "train_rel_drop", 0)
    a = _g(m, "val_rel_rise_from_min", 0) >= 0.3 and drop >= 0.3
    k = facts.get("n_classes")
    b = k is not None and m.get("val_acc_final") is not None and m["val_acc_final"] <= 1 / k + 0.1 and drop >= 0.3
    c = _g(m, "median_train_over_val", 0) >= 1.5
    return (a or b or c), (f"train drop {drop:.2f}; val {_f(m, 'val_first')} -> {_f(m, 'val_final')} (rise from min "
                           f"{_f(m, 'val_rel_rise_from_min', '.2f')}); val acc {_f(m, 'val_acc_final', '.3f')} "
                           f"(chance {'?' if not k else format(1 / k, '.3f')}); median train/val "
                           f"{_f(m, 'median_train_over_val', '.2f')}")


def _unscaled(m: dict, facts: dict) -> tuple[bool, str]:
    ok = _g(m, "train_first", 0) >= 100 and _g(facts, "target_std", 1e9) >= 30
    return ok, (f"train loss starts at {_f(m, 'train_first')}, ends at {_f(m, 'train_last')}; target std "
                f"{facts.get('target_std')}")


def _plateau_late(m: dict, facts: dict) -> tuple[bool, str]:
    ref = facts.get("reference_train_loss")
    ok = (abs(_g(m, "train_rel_change_last_half", 1)) <= 0.05 and _g(m, "train_rel_drop", 0) >= 0.05
          and ref is not None and m["train_last"] >= 1.5 * ref)
    return ok, (f"train {_f(m, 'train_first')} -> {_f(m, 'train_last')} (drop {_f(m, 'train_rel_drop', '.2f')}), change "
                f"over the last half {_f(m, 'train_rel_change_last_half', '.4f')} (<=0.05); lr {_f(m, 'lr_first')} -> "
                f"{_f(m, 'lr_last')}; reachable with a sane schedule: {'?' if ref is None else format(ref, '.4g')} "
                f"({facts.get('reference_what', '')}; plateau_late needs >=1.5x)")


CHECKS = {"healthy": _healthy, "overfitting": _overfitting, "early_stopping_point": _overfitting,
          "divergence": _divergence_check, "nan_loss": _nan, "loss_spike": _spike, "oscillation": _oscillation,
          "not_learning": _not_learning, "underfitting": _underfitting, "lr_too_low": _lr_too_low,
          "train_val_gap_inverted": _inverted, "data_problem": _data_problem, "unscaled_targets": _unscaled,
          "plateau_late": _plateau_late}
