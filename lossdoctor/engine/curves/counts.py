"""How many samples an accuracy was measured on, read off the accuracies themselves.

An accuracy over a fixed validation set of n samples is a fraction k/n at every evaluation;
the smallest n for which every logged value is such a fraction (to the precision it was
written with: float32 in TensorBoard, about 7 digits) is the set's size, or a divisor of
it. With n known, "at chance" is a binomial question: an accuracy within three standard
errors of 1/C (sqrt(p(1 - p) / n) at p = 1/C) is chance, one beyond is a classifier that
learnt something, however small the margin looks. Accuracies averaged over batches of
unequal size, or smoothed, are not such fractions: then no n is found and the caller keeps
its fixed margin.
"""

from __future__ import annotations

import math

import numpy as np

from .levels import as_fraction

MAX_COUNT = 100_000  # beyond this a float32 accuracy no longer pins its denominator
MIN_DISTINCT = 3  # a few distinct values, or a small n fits by chance (0.25 and 0.5: n = 4)
REL_PRECISION = 2e-6  # float32 keeps ~7 significant digits; a CSV of full doubles, more


def evaluated_on(values: np.ndarray) -> int | None:
    """The smallest n for which every finite accuracy in [0, 1] is k/n, or None."""
    a = values[np.isfinite(values)]
    a = as_fraction(a)
    a = np.unique(a[(a > 0) & (a < 1)])
    if a.size < MIN_DISTINCT:
        return None
    # Candidates from the smallest gap between two values: n is at least 1 / gap (two fractions
    # k/n differ by a multiple of 1/n); scanning every n up to MAX_COUNT in blocks keeps it cheap.
    least = max(2, int(1.0 / max(float(np.diff(a).min()), 1.0 / MAX_COUNT)) - 1)
    probe = a[:: max(1, a.size // 32)]  # search on a few dozen values, then check them all
    for lo in range(least, MAX_COUNT + 1, 4096):
        n = np.arange(lo, min(lo + 4096, MAX_COUNT + 1), dtype=np.float64)[:, None]
        for cand in n[_fits(probe[None, :] * n)][:, 0]:
            if _fits(a[None, :] * cand)[0]:
                return int(cand)
    return None


def _fits(x: np.ndarray) -> np.ndarray:
    """Per row: every value is a whole number, to the precision it was written with."""
    return np.all(np.abs(x - np.round(x)) <= REL_PRECISION * x + 1e-9, axis=1)


def above_chance(level: float, classes: int, n: int, sigmas: float = 3.0) -> bool:
    """The accuracy `level` over n samples is more than `sigmas` binomial standard errors
    above 1/C."""
    p = 1.0 / classes
    return level - p > sigmas * math.sqrt(p * (1 - p) / n)


def lowest_likely(level: float, n: int, sigmas: float = 1.96) -> float:
    """The low end of the Wilson score interval of an accuracy `level` over n samples, at
    `sigmas` standard errors: what the set's true accuracy is, at the least, that likely. The
    Wald interval (level minus sigmas * sqrt(p(1 - p) / n)) has no width at 100% (a set all
    right would prove the accuracy exactly 1); Wilson's gives 1 - 3.8/n there and agrees with
    it away from the edges (52% over 400: 47.1% by either)."""
    z2 = sigmas * sigmas
    p = min(max(level, 0.0), 1.0)
    centre = p + z2 / (2 * n)
    spread = sigmas * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))
