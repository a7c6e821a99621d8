"""Seeded synthetic training logs, written in the shapes real tools write.

Each maker returns the log's path. Curves are built from the shape they are meant to
show (with multiplicative noise), so a test knows where the event happens. The real
logs in tests/data/corpus are the first test data; these cover shapes it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

EPOCHS = 60


def _noise(n: int, scale: float, seed: int) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, scale, n))


def decay(n: int, start: float, floor: float, tau: float) -> np.ndarray:
    """An exponential learning curve from `start` down to `floor`."""
    t = np.arange(n, dtype=float)
    return floor + (start - floor) * np.exp(-t / tau)


def _recon_csv(path: Path, loss: np.ndarray, val: np.ndarray) -> Path:
    """A plain CSV of a reconstruction loss and its validation twin, one row per epoch."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["epoch,recon_loss,val_recon_loss"] + [f"{i},{float(a)!r},{float(b)!r}" for i, (a, b) in enumerate(zip(loss, val))]
    path.write_text("\n".join(rows) + "\n")
    return path


def keras_csv(path: Path, loss: np.ndarray, val: np.ndarray | None = None,
              extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write a Keras CSVLogger file (epoch,loss[,val_loss][,extra columns...])."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    head = "epoch,loss" + (",val_loss" if val is not None else "") + "".join("," + k for k in extra)
    rows = [head]
    for i, x in enumerate(loss):
        cells = [str(i), repr(float(x))] + ([repr(float(val[i]))] if val is not None else [])
        cells += [repr(float(col[i])) for col in extra.values()]
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")
    return path


def hf_state(path: Path, loss: np.ndarray, grad: np.ndarray, every: int = 10) -> Path:
    """Write an HF Trainer trainer_state.json with train entries every `every` steps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hist = [{"epoch": round((i + 1) / len(loss), 4), "grad_norm": float(g), "learning_rate": 2e-5,
             "loss": float(x), "step": (i + 1) * every} for i, (x, g) in enumerate(zip(loss, grad))]
    doc = {"global_step": len(loss) * every, "log_history": hist}
    path.write_text(json.dumps(doc, indent=2))  # json writes NaN as the bare token, as HF does
    return path


def healthy(d: Path) -> Path:
    loss = decay(EPOCHS, 2.3, 0.3, 12) * _noise(EPOCHS, 0.02, 1)
    val = decay(EPOCHS, 2.2, 0.35, 12) * _noise(EPOCHS, 0.02, 2)
    return keras_csv(d / "healthy" / "training_log.csv", loss, val)


def gap_closes(d: Path) -> Path:
    """Heavy dropout early, switched off later: training sits 40% above validation for the
    first 60% of the run, then meets it (an inverted gap that does not last)."""
    val = decay(EPOCHS, 2.2, 0.35, 12) * _noise(EPOCHS, 0.02, 12)
    excess = np.where(np.arange(EPOCHS) < 0.6 * EPOCHS, 1.4, 1.0)
    return keras_csv(d / "gap_closes" / "training_log.csv", val * excess * _noise(EPOCHS, 0.02, 13), val)


def _gap_40(d: Path, name: str, floor: float = 0.35, tau: float = 12,
            extra: dict[str, np.ndarray] | None = None) -> Path:
    """Training 40% above validation throughout (dropout), validation decaying from 2.2 to `floor`."""
    val = decay(EPOCHS, 2.2, floor, tau) * _noise(EPOCHS, 0.02, 14)
    return keras_csv(d / name / "training_log.csv", val * 1.4 * _noise(EPOCHS, 0.02, 15), val, extra)


def gap_stays(d: Path) -> Path:
    """Dropout throughout: training stays 40% above validation to the end."""
    return _gap_40(d, "gap_stays")


def gap_small_val(d: Path, n_val: int = 54, name: str = "gap_small_val") -> Path:
    """gap_stays' curves beside a validation accuracy over `n_val` samples (k/n_val, climbing
    to ~90%): with 54 samples a 40% offset is within three standard errors (1/sqrt(54) = 14%
    of the loss each) of what the draw of that set alone gives; with 600 it is not."""
    acc = _accuracy(0.3 + 0.6 * (1 - np.exp(-np.arange(EPOCHS) / 10)), n_val, 44)
    return _gap_40(d, name, extra={"val_accuracy": acc})


def gap_near_zero(d: Path) -> Path:
    """A memorised task: both losses fall from 2.2 to ~0.01 and training stays 40% above
    validation -- 0.014 against 0.010 at the end, 0.2% of the untrained loss: invisible."""
    return _gap_40(d, "gap_near_zero", floor=0.01, tau=6)


def gap_large_val(d: Path) -> Path:
    """gap_small_val with a validation set of 600 samples."""
    return gap_small_val(d, 600, "gap_large_val")


def _gap_all_right(d: Path, name: str, floor: float, n_val: int) -> Path:
    """A 3-class classifier whose validation set of `n_val` samples is classified all right
    from epoch 20 on, its loss falling from ln 3 to `floor`, the training loss 60% above it
    throughout."""
    val = decay(EPOCHS, np.log(3), floor, 8) * _noise(EPOCHS, 0.02, 48)
    acc = _accuracy(np.minimum(1.0, 0.4 + 0.6 * np.arange(EPOCHS) / 20), n_val, 49)
    return keras_csv(d / name / "training_log.csv", val * 1.6 * _noise(EPOCHS, 0.02, 50), val,
                     {"val_accuracy": acc})


def gap_perfect_val(d: Path) -> Path:
    """Validation all right at 0.06 nats over 150 samples: per-sample losses in [0, ln 3] with
    that mean can spread 4x it, so one standard error of the set's offset is a third of the loss
    and 60% (log 0.47) is well within three (the old spread of 1x the mean put three at 0.24)."""
    return _gap_all_right(d, "gap_perfect_val", 0.06, 150)


def gap_smoothed_val(d: Path) -> Path:
    """Validation all right at 0.4 nats over 600 samples (an under-confident model, as label
    smoothing in training leaves it): the losses can spread 1.3x their mean, three standard
    errors are 16%, and training 60% above is beyond them."""
    return _gap_all_right(d, "gap_smoothed_val", 0.4, 600)


def sampled_batches(d: Path) -> Path:
    """A training loss logged once per evaluation as the last batch's loss (a sample, 30%
    batch noise) beside a converged, steady validation loss: noisy, not oscillating."""
    val = decay(EPOCHS, 2.2, 0.35, 4) * _noise(EPOCHS, 0.005, 16)
    loss = decay(EPOCHS, 2.3, 0.3, 8) * _noise(EPOCHS, 0.3, 17)
    return keras_csv(d / "sampled_batches" / "training_log.csv", loss, val)


def unstable(d: Path) -> Path:
    """A learning rate at the edge of stability: after a first fall the weights swing, and
    both epoch means move by ~20% from one epoch to the next, going nowhere."""
    swing = _noise(EPOCHS, 0.2, 18)
    loss = decay(EPOCHS, 2.3, 0.8, 4) * swing
    val = decay(EPOCHS, 2.2, 0.85, 4) * swing * _noise(EPOCHS, 0.05, 19)
    return keras_csv(d / "unstable" / "training_log.csv", loss, val)


def val_swings(d: Path) -> Path:
    """The training loss falls smoothly while the validation loss only swings, ~20% from one
    epoch to the next around its first level, never better than its first evaluations."""
    loss = decay(EPOCHS, 2.3, 0.3, 12) * _noise(EPOCHS, 0.02, 20)
    val = np.full(EPOCHS, 1.8) * _noise(EPOCHS, 0.2, 21)
    return keras_csv(d / "val_swings" / "training_log.csv", loss, val)


def memorised_bounce(d: Path) -> Path:
    """A binary classifier that memorised its task by epoch 8: per-epoch means of a handful of
    batches bounce ~100% around 0.02 and the validation loss ~30% around 0.03, both from an
    untrained ln 2 -- the validation loss moving 1.5% of its untrained loss: batch and sample
    noise near 0, not swinging weights."""
    loss = decay(EPOCHS, np.log(2), 0.02, 2) * _noise(EPOCHS, 0.6, 53)
    val = decay(EPOCHS, np.log(2), 0.03, 2) * _noise(EPOCHS, 0.3, 54)
    loss[0], val[0] = np.log(2) * 0.98, np.log(2) * 0.97
    return keras_csv(d / "memorised_bounce" / "training_log.csv", loss, val)


def creeping_train(d: Path) -> Path:
    """A model too small for its 4-class task: both losses come down from ln 4, the
    validation loss settles at 1.09 by epoch 20, and the training loss still creeps down
    (4% over the second half, as a decaying rate lets a small model memorise a little),
    6% below the validation loss: nothing of that carries over -- underfitting."""
    t = np.arange(EPOCHS, dtype=float)
    loss = (decay(EPOCHS, 1.38, 1.09, 5) - 0.0015 * t) * _noise(EPOCHS, 0.003, 56)
    val = decay(EPOCHS, 1.37, 1.09, 5) * _noise(EPOCHS, 0.003, 57)
    return keras_csv(d / "creeping_train" / "training_log.csv", loss, val)


def creeping_both(d: Path) -> Path:
    """A 1-unit-bottleneck autoencoder's course (the development set's recipe, reseeded): both
    losses drop fast to ~0.65 and then creep 3-4% over the second half, each surely within 5%
    (well beyond their small noise), the second half bringing a few percent of the first's
    fall: a model at its capacity, not a rate too low (whose second half brings as much)."""
    t = np.arange(EPOCHS, dtype=float)
    loss = (0.6 + 0.7 * np.exp(-t / 4) + 0.05 * (1 - t / EPOCHS)) * _noise(EPOCHS, 0.003, 58)
    val = (0.61 + 0.6 * np.exp(-t / 4) + 0.05 * (1 - t / EPOCHS)) * _noise(EPOCHS, 0.003, 59)
    return _recon_csv(d / "creeping_both" / "metrics.csv", loss, val)


def creeping_straight(d: Path) -> Path:
    """A rate too low, on a smooth curve: both losses fall 3% per half-run in a straight line
    from where they started -- each half surely within 5%, but the second half brings as much
    as the first (a steady pace, not a model at its capacity)."""
    t = np.arange(EPOCHS, dtype=float)
    loss = 1.8 * (1 - 0.06 * t / EPOCHS) * _noise(EPOCHS, 0.002, 60)
    val = 1.79 * (1 - 0.06 * t / EPOCHS) * _noise(EPOCHS, 0.002, 61)
    return keras_csv(d / "creeping_straight" / "training_log.csv", loss, val)


def val_noisy_improving(d: Path) -> Path:
    """A small validation set: the validation loss bounces ~20% per epoch, but it does come
    down (2.2 to 0.6, far beyond its noise) beside a training loss that falls too."""
    loss = decay(EPOCHS, 2.3, 0.3, 12) * _noise(EPOCHS, 0.02, 22)
    val = decay(EPOCHS, 2.2, 0.6, 12) * _noise(EPOCHS, 0.2, 23)
    return keras_csv(d / "val_noisy_improving" / "training_log.csv", loss, val)


def val_swings_up(d: Path) -> Path:
    """The validation loss comes down, swings ~20% per epoch, and from epoch 25 its level
    drifts up, while the training loss has stalled at its floor since epoch 3: a validation
    loss that rises without the training loss going on falling is not overfitting."""
    t = np.arange(EPOCHS, dtype=float)
    loss = decay(EPOCHS, 0.9, 0.35, 0.5) * _noise(EPOCHS, 0.03, 24)
    val = (decay(EPOCHS, 0.8, 0.35, 2) + 0.006 * np.maximum(t - 25, 0)) * _noise(EPOCHS, 0.2, 25)
    return keras_csv(d / "val_swings_up" / "training_log.csv", loss, val)


def unstable_falling(d: Path) -> Path:
    """Both epoch means swing ~15% per epoch; the training loss still drifts down under its
    swings (about 1% per epoch), the validation loss only swings after coming down."""
    t = np.arange(EPOCHS, dtype=float)
    loss = (decay(EPOCHS, 1.6, 0.9, 3) - 0.006 * t) * _noise(EPOCHS, 0.15, 26)
    val = decay(EPOCHS, 1.5, 0.9, 3) * _noise(EPOCHS, 0.2, 27)
    return keras_csv(d / "unstable_falling" / "training_log.csv", loss, val)


def chance_from_above(d: Path) -> Path:
    """Labels that cannot be learnt (3 classes): the initial loss sits 18% above ln 3 and
    comes down to it in two epochs -- the output layer learning a uniform guess -- and
    stays there, inside its noise (6% per epoch: a few batches each); the validation loss
    sits at ln 3 throughout."""
    loss = (np.log(3) + 0.2 * np.exp(-np.arange(EPOCHS) / 1.0)) * _noise(EPOCHS, 0.06, 28)
    val = np.full(EPOCHS, np.log(3)) * _noise(EPOCHS, 0.005, 29)
    return keras_csv(d / "chance_from_above" / "training_log.csv", loss, val)


def _accuracy(p: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Accuracies over a fixed set of n samples: k/n, k binomial around p."""
    return np.random.default_rng(seed).binomial(n, p) / n


def capacity_bound(d: Path, acc: float | np.ndarray = 0.44, name: str = "capacity_bound", seed: int = 34) -> Path:
    """A model too small for its 3-class task: the loss comes down 5% from just below ln 3
    and settles, with the validation loss beside it and a validation accuracy of `acc` (per
    epoch, or one level) over 375 samples (0.44 is 4.5 binomial standard errors above chance:
    it learnt a little)."""
    loss = decay(EPOCHS, 1.09, 1.04, 8) * _noise(EPOCHS, 0.002, 32)
    val = decay(EPOCHS, 1.08, 1.05, 8) * _noise(EPOCHS, 0.002, 33)
    p = np.broadcast_to(np.asarray(acc, float), (EPOCHS,))
    return keras_csv(d / name / "training_log.csv", loss, val, {"val_accuracy": _accuracy(p, 375, seed)})


def creeping_accuracy(d: Path) -> Path:
    """capacity_bound's losses beside a validation accuracy that still climbs steadily (0.40
    to 0.55 over 375 samples): a model still learning at a rate too low, not a full one."""
    return capacity_bound(d, np.linspace(0.40, 0.55, EPOCHS), "creeping_accuracy", seed=35)


def majority_class(d: Path) -> Path:
    """Labels that cannot be learnt on unbalanced data (3 classes, 45% in one): the model
    predicts the commonest class from the first evaluation on -- an accuracy of 0.45 over 375
    samples, 5 SEs above 1/3 -- and neither loss moves from its first evaluation."""
    loss = np.full(EPOCHS, 1.07) * _noise(EPOCHS, 0.01, 45)
    val = np.full(EPOCHS, 1.065) * _noise(EPOCHS, 0.002, 46)
    return keras_csv(d / "majority_class" / "training_log.csv", loss, val,
                     {"val_accuracy": _accuracy(np.full(EPOCHS, 0.45), 375, 47)})


def capacity_at_chance(d: Path) -> Path:
    """capacity_bound's losses with the validation accuracy at chance (1/3 over 375 samples)."""
    return capacity_bound(d, 1 / 3, "capacity_at_chance")


def recon_underfit(d: Path) -> Path:
    """A 1-unit-bottleneck autoencoder: the reconstruction loss comes down from 1.33 (10% from
    ln 4, by chance) to 0.63 and settles, the validation loss beside it. Named `recon_loss`,
    it is no cross-entropy, so 0.63 is not 'below half of ln 4' but a settled, high error."""
    loss = decay(EPOCHS, 1.33, 0.63, 2) * _noise(EPOCHS, 0.002, 36)
    val = decay(EPOCHS, 0.85, 0.58, 2) * _noise(EPOCHS, 0.002, 37)
    return _recon_csv(d / "recon_underfit" / "metrics.csv", loss, val)


def spike_then_nan(d: Path) -> Path:
    """A recurrent net's gradients explode: at epoch 30 the loss jumps 6x for three epochs,
    is back at its level for two, and turns NaN at 35 -- it never came back from the spike."""
    loss = decay(EPOCHS, 1.4, 1.2, 10) * _noise(EPOCHS, 0.02, 38)
    loss[30:33] *= [2.3, 6.5, 2.0]
    loss[35:] = np.nan
    return keras_csv(d / "spike_then_nan" / "training_log.csv", loss)


def val_jump_then_drift(d: Path) -> Path:
    """A wide net on a tiny set: the training loss collapses, the validation loss is best at
    epoch 2 (0.14), triples by epoch 8 and then drifts slowly down (0.47 -> 0.42): no upward
    trend over the points after the best, but a level far above it."""
    t = np.arange(EPOCHS, dtype=float)
    loss = decay(EPOCHS, 0.7, 1e-5, 1.0) * _noise(EPOCHS, 0.02, 39)
    val = np.where(t < 2, 0.34 - 0.1 * t, 0.47 - 0.05 * (t - 8) / (EPOCHS - 8))
    val[2:8] = np.linspace(0.14, 0.47, 6)
    return keras_csv(d / "val_jump_then_drift" / "training_log.csv", loss, val * _noise(EPOCHS, 0.01, 40))


def momentum_swings(d: Path) -> Path:
    """SGD with a learning rate and momentum too high, logged per epoch: after a fast first
    fall (1.25 to ~0.5 in ten epochs) both losses swing by ~18% from epoch to epoch, together
    (the same weights), while the validation loss drifts down a further 25% over the second
    half -- a trend its swings dwarf."""
    n = 40
    t = np.arange(n, dtype=float)
    swing = _noise(n, 0.18, 41)
    loss = (0.45 + 0.8 * np.exp(-t / 3)) * swing * _noise(n, 0.03, 42)
    val = (0.5 + 0.8 * np.exp(-t / 3) + 0.15 * np.clip((30 - t) / 10, 0, 1)) * swing * _noise(n, 0.03, 43)
    return keras_csv(d / "momentum_swings" / "training_log.csv", loss, val)


def slow(d: Path) -> Path:
    """A learning rate far too low: the loss creeps down in a near-straight line, 20% in the run."""
    t = np.arange(EPOCHS, dtype=float)
    loss = (2.3 - 0.46 * t / EPOCHS) * _noise(EPOCHS, 0.005, 9)
    val = (2.32 - 0.45 * t / EPOCHS) * _noise(EPOCHS, 0.005, 10)
    return keras_csv(d / "slow" / "training_log.csv", loss, val)


def slow_but_learning(d: Path) -> Path:
    """A near-straight loss (2.3 to 1.5 in 60 epochs, still falling) beside a validation
    accuracy that climbs from 30% to 85%: the error rate fell by four fifths, so the
    classifier learnt at a useful pace. (Its accuracies are not counts over a set, so whether
    the loss lags them, `lags_accuracy`, cannot be judged: that needs the set's size.)"""
    t = np.arange(EPOCHS, dtype=float)
    loss = (2.3 - 0.8 * t / EPOCHS) * _noise(EPOCHS, 0.005, 30)
    val = (2.32 - 0.78 * t / EPOCHS) * _noise(EPOCHS, 0.005, 31)
    acc = 0.3 + 0.55 * (1 - np.exp(-t / 15))
    return keras_csv(d / "slow_but_learning" / "training_log.csv", loss, val, {"val_accuracy": acc})


def _blobs_too_slow(d: Path, name: str, end: float) -> Path:
    """An 8-class classifier under SGD at a rate far too low (after the third set's blobs run):
    30 epochs, the loss falling in a near-straight line from ln 8 (2.08) to `end`, and a
    validation accuracy over 400 samples climbing from 12% to 56% (52% over the last quarter:
    the error rate cut by 45% from an untrained classifier's 87.5%, within two standard errors
    of half)."""
    n = 30
    t = np.arange(n, dtype=float)
    loss = (2.08 - (2.08 - end) * t / (n - 1)) * _noise(n, 0.004, 60)
    val = (2.06 - (2.06 - end) * t / (n - 1)) * _noise(n, 0.002, 61)
    acc = _accuracy(0.12 + 0.44 * t / (n - 1), 400, 62)
    return keras_csv(d / name / "training_log.csv", loss, val, {"val_accuracy": acc})


def slow_underconfident(d: Path) -> Path:
    """The blobs run as it was logged: the loss ends at 1.85 nats, above the 1.73 a calibrated
    classifier can lose at the low end of 52%'s 95% interval (`levels.calibrated_ceiling`).
    The classes are found, but the predictions are still near a uniform guess's: logits that
    hardly grew, a rate too low."""
    return _blobs_too_slow(d, "slow_underconfident", 1.85)


def slow_calibrated(d: Path) -> Path:
    """The same straight course and accuracy with a loss ending at 1.45 nats, under the
    ceiling: predictions as sure as they are right, a classifier learning at its pace."""
    return _blobs_too_slow(d, "slow_calibrated", 1.45)


def short_but_learning(d: Path) -> Path:
    """A short run of a 4-class classifier (the loss starts at ln 4): 12 epochs, the loss
    falling near-straight from 1.39 to 0.92 beside a validation accuracy of 40% after the
    first epoch and 66% at the end. From the first evaluation the error rate fell by 43%; from
    an untrained classifier's (75%, 1/C right) by 55%: it learnt at a useful pace."""
    n = 12
    t = np.arange(n, dtype=float)
    loss = (1.39 - 0.47 * t / (n - 1) + 0.04 * (t / (n - 1)) ** 2) * _noise(n, 0.004, 40)
    val = (1.33 - 0.42 * t / (n - 1) + 0.03 * (t / (n - 1)) ** 2) * _noise(n, 0.004, 41)
    acc = 0.40 + 0.26 * t / (n - 1)
    return keras_csv(d / "short_but_learning" / "training_log.csv", loss, val, {"val_accuracy": acc})


def val_flat_train_falls(d: Path) -> Path:
    """The validation loss comes down to 0.5 by epoch ~20 and stays there (5% noise, no rise)
    while the training loss goes on falling to 0.05: the first stage of overfitting (P2)."""
    loss = decay(EPOCHS, 2.3, 0.05, 15) * _noise(EPOCHS, 0.02, 50)
    val = decay(EPOCHS, 2.2, 0.5, 5) * _noise(EPOCHS, 0.05, 51)
    return keras_csv(d / "val_flat_train_falls" / "training_log.csv", loss, val)


def both_flat(d: Path) -> Path:
    """Both losses reach their floors by epoch ~20 and stay there (converged, P11): the
    validation loss is flat, but so is the training loss, so the gap does not grow."""
    loss = decay(EPOCHS, 2.3, 0.3, 4) * _noise(EPOCHS, 0.02, 52)
    val = decay(EPOCHS, 2.2, 0.35, 4) * _noise(EPOCHS, 0.05, 53)
    return keras_csv(d / "both_flat" / "training_log.csv", loss, val)


def overfit(d: Path) -> Path:
    loss = decay(EPOCHS, 2.3, 0.05, 10) * _noise(EPOCHS, 0.02, 3)
    t = np.arange(EPOCHS)
    val = (decay(EPOCHS, 2.2, 0.5, 6) + 0.012 * np.clip(t - 20, 0, None)) * _noise(EPOCHS, 0.01, 4)
    return keras_csv(d / "overfit" / "training_log.csv", loss, val)


def diverge(d: Path) -> Path:
    loss = decay(EPOCHS, 2.3, 0.4, 8) * _noise(EPOCHS, 0.02, 5)
    loss[36:] = 6.0 * _noise(EPOCHS - 36, 0.05, 6)  # blows up at epoch 36 and stays up
    val = decay(EPOCHS, 2.2, 0.45, 8) * _noise(EPOCHS, 0.02, 7)
    val[36:] = 6.5 * _noise(EPOCHS - 36, 0.05, 8)
    return keras_csv(d / "diverge" / "training_log.csv", loss, val)


def diverge_first_step(d: Path) -> Path:
    """A rate that blows the model up in its first step: ln(16) at step 0, ~3e4 from then on
    (the HF Trainer at lr=30 on a 16-token model, the callbacks' test, logs this shape)."""
    loss = 3e4 * _noise(EPOCHS, 0.3, 17)
    loss[0] = 2.77
    return keras_csv(d / "diverge_first_step" / "training_log.csv", loss)


def _rate_grows(d: Path, name: str, train_jump: float, val_jump: float, factor: float = 1.8) -> Path:
    """A learning rate that grows `factor`x every epoch (a schedule's factor above 1; 1: a
    constant rate): both losses fall to a memorised level by epoch 6; at epoch 7 they jump to
    `train_jump` and `val_jump`; from epoch 8 both are NaN."""
    t = np.arange(20, dtype=float)
    loss = decay(20, 0.78, 0.001, 1.2)
    val = decay(20, 0.07, 0.002, 1.0)
    loss[7], val[7] = train_jump, val_jump
    loss[8:] = val[8:] = np.nan
    return keras_csv(d / name / "training.log", loss, val, {"learning_rate": 0.01 * factor ** t})


def rate_grows_into_nan(d: Path) -> Path:
    """The jump: training 0.28 (240x its memorised level, below its untrained 0.78), validation
    9.5 (far above its untrained 0.07), then NaN: the run diverged as a whole."""
    return _rate_grows(d, "rate_grows_into_nan", 0.28, 9.5)


def nan_after_a_first_sign(d: Path) -> Path:
    """At a constant rate, the jump stays below both untrained losses (training 0.2, validation
    0.05) before the NaN: the NaN is the event and the rise its first sign, not a blow-up."""
    return _rate_grows(d, "nan_after_a_first_sign", 0.2, 0.05, factor=1.0)


def schedule_grows_into_nan(d: Path) -> Path:
    """The same jump (training 200x its memorised level, then NaN) under a rate grown 1.8x per
    epoch, 61x by then: the schedule blew the model up."""
    return _rate_grows(d, "schedule_grows_into_nan", 0.2, 0.05)


def climbs_into_nan(d: Path) -> Path:
    """The same schedule, the loss still climbing when it overflows: from its memorised level at
    epoch 4 (0.03) it rises at every epoch (0.036, 0.07, 0.25: below the untrained 0.78) and is
    NaN from epoch 8. Weights growing without bound, not a NaN out of the blue."""
    t = np.arange(20, dtype=float)
    loss = decay(20, 0.78, 0.02, 0.8) * _noise(20, 0.01, 41)
    val = decay(20, 0.5, 0.015, 0.8) * _noise(20, 0.01, 42)
    loss[5:8], val[5:8] = [0.036, 0.07, 0.25], [0.03, 0.06, 0.2]
    loss[8:] = val[8:] = np.nan
    return keras_csv(d / "climbs_into_nan" / "training.log", loss, val, {"learning_rate": 0.01 * 1.8 ** t})


def thrashes_into_nan(d: Path) -> Path:
    """A rate warmed up past stability (the shape of a momentum-SGD warm-up to lr 1.0): the
    loss falls to ~0.3, then from epoch 11 thrashes around ~1 by up to 2.5x either way --
    dipping back near its old level now and then -- and overflows into NaN at epoch 44.
    The climb began at epoch 11, not at the last dip before the overflow."""
    rng = np.random.default_rng(7)
    t = np.arange(50, dtype=float)
    loss = np.where(t < 11, 0.3 + 0.9 * np.exp(-t / 2), 1.3) * np.exp(rng.uniform(-0.25, 0.25, t.size))
    loss[11:44] *= np.exp(rng.uniform(-0.7, 0.7, 33))
    loss[11], loss[12], loss[43] = 1.5, 0.4, 30.0
    loss[44:] = np.nan
    return keras_csv(d / "thrashes_into_nan" / "training.log", loss)


def undone(d: Path) -> Path:
    """A rate ramped past stability: the loss falls from 1.0 towards 0.45, then from epoch 20
    sits at 1.15 (above where it started) in heavy noise (up to 1.8x either way from epoch
    to epoch), no NaN: no single climb clears an excursion's bar, the level's shift does."""
    rng = np.random.default_rng(3)
    t = np.arange(80, dtype=float)
    loss = np.where(t < 20, 0.45 + 0.55 * np.exp(-t / 3), 1.15) * np.exp(rng.uniform(-0.6, 0.6, t.size))
    loss[:3] = [1.0, 0.8, 0.62]
    return keras_csv(d / "undone" / "training_log.csv", loss)


def epoch_spikes(d: Path) -> Path:
    """An unshuffled loader: the first batch of every epoch (60 steps) is one class the model
    has just drifted away from, 12x the level, while the loss falls under 20% batch noise."""
    n = 600
    loss = decay(n, 2.3, 0.05, 40) * _noise(n, 0.2, 34)
    loss[60::60] *= 12.0
    return hf_state(d / "epoch_spikes" / "trainer_state.json", loss, np.full(n, 1.0), every=1)


def overfit_small_val(d: Path) -> Path:
    """4 classes, 300 validation samples: the training loss falls from ln 4 to ~0 while the
    validation loss climbs past a uniform guess's, and the validation accuracy sits at
    100-106 of 300 (33-35%): wrong with confidence, yet right well beyond chance (25%, three
    standard errors are 7.5 points) -- overfitting, not a broken validation set."""
    t = np.arange(EPOCHS, dtype=float)
    loss = decay(EPOCHS, np.log(4), 0.01, 6) * _noise(EPOCHS, 0.02, 35)
    val = (1.3 + 0.05 * t) * _noise(EPOCHS, 0.02, 36)
    acc = (100 + np.random.default_rng(37).integers(0, 7, EPOCHS)) / 300
    return keras_csv(d / "overfit_small_val" / "training_log.csv", loss, val, {"val_accuracy": acc})


def overfit_weak_val(d: Path) -> Path:
    """overfit_small_val's losses with a validation accuracy of 88-98 of 300 (29-33%, median
    30.7%): 2.3 binomial standard errors above chance (25%), short of the three that
    show it beat chance, and beyond the two within which it is consistent with chance: the
    accuracy says neither, so it does not make the overfit run a broken validation set."""
    t = np.arange(EPOCHS, dtype=float)
    loss = decay(EPOCHS, np.log(4), 0.01, 6) * _noise(EPOCHS, 0.02, 35)
    val = (1.3 + 0.05 * t) * _noise(EPOCHS, 0.02, 36)
    acc = (88 + np.random.default_rng(38).integers(0, 11, EPOCHS)) / 300
    return keras_csv(d / "overfit_weak_val" / "training_log.csv", loss, val, {"val_accuracy": acc})


def nan(d: Path) -> Path:
    loss = decay(EPOCHS, 2.3, 0.3, 12) * _noise(EPOCHS, 0.02, 9)
    loss[41:] = np.nan
    return keras_csv(d / "nan" / "training_log.csv", loss)


def not_learning(d: Path) -> Path:
    loss = np.full(EPOCHS, np.log(10)) * _noise(EPOCHS, 0.01, 10)
    val = np.full(EPOCHS, np.log(10)) * _noise(EPOCHS, 0.01, 11)
    return keras_csv(d / "not_learning" / "training_log.csv", loss, val)


def underfit(d: Path) -> Path:
    loss = decay(EPOCHS, 1.2, 1.0, 4) * _noise(EPOCHS, 0.005, 12)  # 17% better, then flat
    val = decay(EPOCHS, 1.18, 1.02, 4) * _noise(EPOCHS, 0.005, 17)  # no gap: same level
    return keras_csv(d / "underfit" / "training_log.csv", loss, val)


def hidden_nan(d: Path) -> Path:
    n = 80
    loss = decay(n, 2.0, 0.6, 15) * _noise(n, 0.03, 13)
    grad = 1.0 * _noise(n, 0.2, 14)
    grad[[50, 51, 60]] = [np.nan, np.inf, np.nan]  # steps 510, 520, 610
    return hf_state(d / "hidden_nan" / "trainer_state.json", loss, grad)


def hf_clean(d: Path) -> Path:
    n = 80
    loss = decay(n, 2.0, 0.6, 15) * _noise(n, 0.03, 15)
    return hf_state(d / "hf_clean" / "trainer_state.json", loss, _noise(n, 0.2, 16))


def _megatron():
    """benchmarks/spiky_megatron.py: Megatron's iteration lines, spelled as Megatron prints them."""
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / "spiky_megatron.py"
    spec = importlib.util.spec_from_file_location("spiky_megatron", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def megatron_fp16(d: Path, skipped_from: int | None = None, name: str = "megatron_fp16") -> Path:
    """An fp16 Megatron run of 2,000 iterations logged every 10: the loss scale calibrates over
    the first 32 iterations (all skipped, no loss printed), then one overflow per ~1,000
    iterations; from `skipped_from` on, every iteration overflows (no loss, scale at 1)."""
    mg = _megatron()
    its = np.arange(10, 2001, 10)
    loss = decay(its.size, 10.5, 3.0, 40) * _noise(its.size, 0.01, 17)
    lines, scale = [], 2.0 ** 32
    for i, it in enumerate(its):
        skipped = 10 if it <= 30 else 2 if it == 40 else 1 if it % 1000 == 0 else 0
        if skipped_from is not None and it >= skipped_from:
            skipped = 10
        scale = max(1.0, scale / 2 ** skipped) if skipped else min(scale * (2 if it % 1000 == 500 else 1), 2.0 ** 16)
        shown = None if skipped == 10 else float(loss[i])
        lines.append(mg.iteration_line(int(it), 2000, shown, 0.8, scale=scale, skipped=skipped))
    path = d / name / "train.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def megatron_stuck(d: Path) -> Path:
    """The fp16 run whose every iteration overflows from iteration 600 on: not training."""
    return megatron_fp16(d, skipped_from=600, name="megatron_stuck")


MAKERS: dict[str, Callable[[Path], Path]] = {
    "healthy": healthy, "slow": slow, "gap_closes": gap_closes, "gap_stays": gap_stays, "sampled_batches": sampled_batches, "unstable": unstable, "val_swings": val_swings, "val_swings_up": val_swings_up, "unstable_falling": unstable_falling, "chance_from_above": chance_from_above, "capacity_bound": capacity_bound, "gap_small_val": gap_small_val, "gap_large_val": gap_large_val, "gap_near_zero": gap_near_zero, "gap_perfect_val": gap_perfect_val, "gap_smoothed_val": gap_smoothed_val, "momentum_swings": momentum_swings, "val_jump_then_drift": val_jump_then_drift, "spike_then_nan": spike_then_nan, "recon_underfit": recon_underfit, "capacity_at_chance": capacity_at_chance, "majority_class": majority_class, "creeping_accuracy": creeping_accuracy, "slow_but_learning": slow_but_learning, "slow_underconfident": slow_underconfident, "slow_calibrated": slow_calibrated, "short_but_learning": short_but_learning, "undone": undone, "epoch_spikes": epoch_spikes, "overfit_small_val": overfit_small_val, "rate_grows_into_nan": rate_grows_into_nan, "nan_after_a_first_sign": nan_after_a_first_sign, "schedule_grows_into_nan": schedule_grows_into_nan, "climbs_into_nan": climbs_into_nan, "thrashes_into_nan": thrashes_into_nan, "overfit_weak_val": overfit_weak_val, "val_noisy_improving": val_noisy_improving, "memorised_bounce": memorised_bounce, "creeping_train": creeping_train, "creeping_both": creeping_both, "creeping_straight": creeping_straight,
    "overfit": overfit, "diverge": diverge, "val_flat_train_falls": val_flat_train_falls, "both_flat": both_flat,
    "diverge_first_step": diverge_first_step, "nan": nan,
    "not_learning": not_learning, "underfit": underfit, "hidden_nan": hidden_nan,
    "hf_clean": hf_clean, "megatron_fp16": megatron_fp16, "megatron_stuck": megatron_stuck,
}
