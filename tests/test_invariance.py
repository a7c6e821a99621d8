"""The invariance suite (benchmarks/invariance.py) on a small fixed subset of the shipped
sets, as a ratchet, and its transformations themselves."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.frame import Run, Series

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("invariance", ROOT / "benchmarks" / "invariance.py")
inv = importlib.util.module_from_spec(SPEC)
sys.modules["invariance"] = inv  # dataclasses look their module up while defining
SPEC.loader.exec_module(inv)  # type: ignore[union-attr]

GEN, CORPUS = ROOT / "benchmarks" / "sets" / "generated" / "runs", ROOT / "tests" / "data" / "corpus" / "runs"
SUBSET = [GEN / "spike_dirty_batch_lightning_s0", GEN / "divergence_lr_jump_hf_s2",
          GEN / "oscillation_sgd_high_lr_keras_s0", GEN / "not_learning_lr0_hf_s1",
          CORPUS / "lightning-turngpt_noisy_metrics", CORPUS / "yolo-wheat_weed_v8_results",
          CORPUS / "hf_trainer-dnabert2_cls_trainer_state"]
# Measured on 2026-12-01: 46 of the subset's 57 applicable (run, transformation) pairs hold
# (80.7%; on all 197 runs of the devset, generated set and corpus: 91.3%). A ratchet: raise
# it as the detectors become invariant; issue 12's target is >= 95%.
HELD_AT_LEAST, APPLICABLE = 52, 57  # 2026-12-03: a jump into NaN seen on a short thinned log: 52 of 57 (all 197 runs: 92.2%)


def test_subset_invariance_does_not_fall_below_the_ratchet() -> None:
    report = inv.measure([(p.name, p) for p in SUBSET])
    assert not report.unread
    row = report.table()["overall"]
    held = sum(p.holds for p in report.pairs if p.applies)
    assert row["pairs"] == APPLICABLE  # a transformation that stops applying would inflate the share
    assert held >= HELD_AT_LEAST, inv.render(report)


def _run() -> Run:
    steps = np.arange(0, 100, dtype=float)
    evals = np.arange(9, 100, 10, dtype=float)
    return Run("mem", "test", {
        "train_loss": Series("train_loss", steps, 2.0 * np.exp(-steps / 30)),
        "val_loss": Series("val_loss", evals, 2.1 * np.exp(-evals / 30)),
        "lr": Series("lr", steps, np.full(100, 1e-3)),
    })


def test_scaling_touches_only_the_losses() -> None:
    run = _run()
    out = inv.TRANSFORMS["loss x1000"](run, inv.context(run))
    assert np.allclose(out.series["train_loss"].values, run.series["train_loss"].values * 1000)
    assert np.allclose(out.series["val_loss"].values, run.series["val_loss"].values * 1000)
    assert np.array_equal(out.series["lr"].values, run.series["lr"].values)


def test_thinning_keeps_every_kth_step_level_point_and_the_evaluations() -> None:
    run = _run()
    out = inv.TRANSFORMS["every 5th point"](run, inv.context(run))
    assert out.series["train_loss"].steps.tolist() == list(range(4, 100, 5))
    assert len(out.series["val_loss"]) == 10 and len(out.series["lr"]) == 20


def test_epoch_means_average_the_points_up_to_each_evaluation() -> None:
    run = _run()
    out = inv.TRANSFORMS["per-epoch means"](run, inv.context(run))
    tr = out.series["train_loss"]
    assert tr.steps.tolist() == list(range(9, 100, 10))
    assert tr.values[0] == pytest.approx(np.mean(run.series["train_loss"].values[:10]))


def test_offset_axis_and_extra_metric() -> None:
    run = _run()
    ctx = inv.context(run)
    assert inv.TRANSFORMS["step +1e6"](run, ctx).series["val_loss"].steps[0] == 1e6 + 9
    assert {s.axis for s in inv.TRANSFORMS["axis epoch"](run, ctx).series.values()} == {"epoch"}
    assert inv.TRANSFORMS["axis step"](run, ctx) is None  # already named step: not applicable
    extra = inv.TRANSFORMS["extra metric"](run, ctx)
    assert set(extra.series) - set(run.series) == {"throughput/samples_per_second"}


def test_a_changed_rule_set_is_a_failure() -> None:
    before = inv.Outcome(error=None)
    after = inv.Outcome(error="nothing")
    pair = inv.compare("r", "axis epoch", before, after)
    assert not pair.holds and pair.after["loud"] == "<error: nothing>"


def test_an_underfit_model_reads_the_same_from_a_thinned_or_epoch_averaged_log() -> None:
    """A linear model on a sine wave (generated set, Lightning), its per-step training loss
    noisy, its validation loss settled to 0.04%: kept every 2nd point, the training loss's
    own second-half change is 8% by its noise alone (1.4 standard errors), and per-epoch means
    leave 40 points; the validation loss beside it still says the model settled short of a fit."""
    report = inv.measure([("underfit", GEN / "underfit_linear_wave_lightning_s2")])
    pairs = {p.transform: p for p in report.pairs}
    assert "underfitting" in pairs["every 2nd point"].before["all"]
    for name in ("every 2nd point", "per-epoch means"):
        assert pairs[name].applies and pairs[name].holds_all, (name, pairs[name].after)


def test_a_converged_validation_loss_says_the_noisy_training_losss_straight_halves_are_no_low_rate() -> None:
    """A linear model on a sine wave (generated set, HF Trainer): its validation loss converged
    (the second half brought 2% of what the first did), its per-step training loss is batch
    noise around 0.75. Kept every 2nd point, the training loss's tenths read a second half at
    39% of the first's pace -- a straight line, a rate too low, by its batches alone; the
    validation loss, over the whole set, says the progress was front-loaded."""
    report = inv.measure([("underfit", GEN / "underfit_linear_wave_hf_s1")])
    pair = next(p for p in report.pairs if p.transform == "every 2nd point")
    assert pair.applies and "lr_too_low" not in pair.after["all"] and pair.holds_all, pair.after


@pytest.mark.parametrize("name,transforms", [
    ("hf_trainer-medbot_lora_16k_trainer_state", ("every 2nd point",)),
    ("lightning-slm_training_v0_metrics", ("every 2nd point", "every 5th point")),
])
def test_a_loss_that_fell_within_its_first_points_is_not_a_low_rate_when_thinned(name: str, transforms: tuple) -> None:
    """Language models (corpus): an HF LoRA fine-tune whose loss falls 3.91 -> 2.40 within its
    first 125 of 16,058 steps, a Lightning LM whose per-step loss falls from 7.6 in its first
    points, both slowly after that. Thinned, the log opens lower (3.42 for the fine-tune) and
    under half of that start is gone by the end; counted from the start, the second half still
    brought under a tenth of what the first did (6%, 8%, 8%): converging, not a rate too low.
    (The fine-tune every 5th point opens at 2.40, after the fall: 16%, and reads as one.)"""
    report = inv.measure([(name, CORPUS / name)])
    pairs = {p.transform: p for p in report.pairs}
    for t in transforms:
        assert pairs[t].applies and "lr_too_low" not in pairs[t].after["all"], (t, pairs[t].after)
        assert pairs[t].holds_all, (t, pairs[t].before, pairs[t].after)


@pytest.mark.parametrize("name", ["keras_csv-ftc_unet_nan_metric_training_history",
                                  "jsonl-mae_linprobe_core50_s_vits16_log"])
def test_a_val_loss_doubling_from_its_first_evaluation_with_no_class_count_is_overfitting(name: str) -> None:
    """A U-Net (Dice loss, 0.013 -> 0.028) and a linear probe (test loss 3.72 -> 7.85), both
    overfitting from their first epochs (corpus, MANIFEST: overfitting). Kept every 2nd point,
    the one evaluation better than the first is gone: the validation loss never improved on
    its first evaluation and ends at twice it. With no class count there is no uniform guess
    for it to be worse than, and doubling is what overfitting does: not a data problem."""
    report = inv.measure([(name, CORPUS / name)])
    pair = next(p for p in report.pairs if p.transform == "every 2nd point")
    assert pair.applies and "overfitting" in pair.after["loud"]
    assert "data_problem" not in pair.after["all"] and pair.holds_all, pair.after
