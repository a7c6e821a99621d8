"""Train against validation, like with like.

A training loss averaged over an epoch (Keras `loss`, Lightning `*_epoch`, Ultralytics,
an HF logging window, or a per-step curve averaged here over each evaluation interval)
describes the model at the middle of that interval; a validation loss describes it at the
end. On a falling curve the first is higher for that reason alone (measured on the healthy
runs of the development set: +10% median). So each interval's mean training loss is
compared with the validation loss interpolated (log-linearly) at the interval's middle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .timescale import interval_means


@dataclass(frozen=True)
class Gap:
    """log(train / val) per evaluation interval, aligned in time (one value per interval)."""

    steps: np.ndarray  # the step at the end of each interval (the later evaluation)
    log_ratio: np.ndarray  # log(mean train over the interval / val at its middle)
    diff: np.ndarray  # mean train minus val at its middle, in loss units

    @property
    def n(self) -> int:
        return int(self.log_ratio.size)

    def median(self) -> float:
        return float(np.median(self.log_ratio)) if self.n else float("nan")

    def share_above(self) -> float:
        return float(np.mean(self.log_ratio > 0)) if self.n else float("nan")


def aligned_gap(t_steps: np.ndarray, t_values: np.ndarray, v_steps: np.ndarray,
                v_values: np.ndarray) -> Gap:
    """The time-aligned train/val log ratio over every evaluation interval both cover."""
    ok = np.isfinite(v_values) & (v_values > 0)
    vs, vv = v_steps[ok], v_values[ok]
    if vs.size < 2:
        return Gap(np.zeros(0), np.zeros(0), np.zeros(0))
    train = _interval_train(t_steps, t_values, vs)
    middle = np.sqrt(vv[:-1] * vv[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(train) - np.log(middle)
    keep = np.isfinite(ratio)
    return Gap(vs[1:][keep], ratio[keep], (train - middle)[keep])


def _interval_train(t_steps: np.ndarray, t_values: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """Mean train loss per evaluation interval; a train curve logged once per evaluation (an
    epoch mean at the evaluation's step) is that mean already."""
    means = interval_means(t_steps, t_values, vs)
    return np.where(means > 0, means, np.nan)


EXACT_SIGN_TEST = 1000  # points up to which the binomial tail is summed exactly (then: normal)


def sign_test_p(x: np.ndarray) -> float:
    """One-sided binomial p-value that positive values are no more likely than negative ones."""
    x = x[x != 0]
    n, k = x.size, int(np.sum(x > 0))
    if n == 0:
        return 1.0
    if n > EXACT_SIGN_TEST:  # 2.0 ** n overflows past 1023, and the exact sum grows as n^2
        return 0.5 * math.erfc((k - 0.5 - n / 2) / math.sqrt(n / 4) / math.sqrt(2.0))
    return float(sum(math.comb(n, j) for j in range(k, n + 1)) / (1 << n))
