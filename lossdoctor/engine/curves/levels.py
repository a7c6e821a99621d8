"""Absolute anchors: the loss of a uniform guess over C classes, and accuracy levels.

A classifier that has learnt nothing has a cross-entropy of ln C and an accuracy of 1/C.
Its initial loss says what C is (a freshly initialised network outputs nearly uniform
probabilities), so chance level is known without being told the number of classes.
"""

from __future__ import annotations

import math

import numpy as np

MAX_CLASSES = 1_000_000  # ln of a million classes is 13.8: above that, no classifier


def classes_from_loss(initial: float, tolerance: float = 0.15) -> int | None:
    """C when an initial loss is within `tolerance` (relative) of ln C for some C >= 2.

    A fresh network's outputs are near-uniform but not exactly: its loss lands a little
    above or below ln C (measured on the development set's classifiers: within 10%). The C
    is the one whose ln C is nearest, measured in the loss's own units (nats): between ln 3
    and ln 4 the boundary is their mean, ln sqrt(12), not ln 3.5 (rounding e^loss), so an
    epoch-mean start of 1.251 nats is 4 classes (9.7% under ln 4), not 3 (13.9% over ln 3)."""
    if not np.isfinite(initial) or initial < math.log(2) * (1 - tolerance) or initial > math.log(MAX_CLASSES):
        return None
    low = max(2, int(math.floor(math.exp(initial))))
    c = min((low, low + 1), key=lambda k: abs(initial - math.log(k)))
    return c if abs(initial - math.log(c)) <= tolerance * math.log(c) else None


# How far a logged accuracy may sit from the fraction it stands for: float32 keeps ~7 digits.
ROUNDING = 1e-6


def classes_from_accuracy(untrained: np.ndarray, tolerance: float = 0.1, most: int = 10) -> int | None:
    """C when every accuracy of an untrained classifier (a few evaluations before it learnt)
    is within `tolerance` (relative) of 1/C, for one 2 <= C <= `most` only: a uniform guess is
    right once in C. 1/C and 1/(C+1) lie 1/(C+1) apart (relative), so a 10% band tells C from
    its neighbours up to 10 classes; beyond, an accuracy cannot say C. The band's edge is in
    it: accuracies are counts over a set written as decimals or float32 (0.275 is 11/40, 10%
    above 1/4, yet 0.275 * 4 - 1 computes to 0.1000000000000001), so the comparison allows
    their rounding (1e-6, float32 holds ~7 digits)."""
    fits = [c for c in range(2, most + 1) if np.all(np.abs(untrained * c - 1) <= tolerance + ROUNDING)]
    return fits[0] if len(fits) == 1 else None


def as_fraction(acc: np.ndarray) -> np.ndarray:
    """Accuracy as a fraction (logged in percent when any value is above 1.5)."""
    finite = acc[np.isfinite(acc)]
    return acc / 100.0 if finite.size and finite.max() > 1.5 else acc


def calibrated_ceiling(accuracy: float, classes: int) -> float:
    """The highest cross-entropy (nats) a calibrated classifier over C classes can have at
    this accuracy: the entropy of a prediction that gives its top class the probability
    `accuracy` and spreads the rest evenly, h(1 - a) + (1 - a) ln(C - 1) (Fano's bound).

    Calibrated, a classifier's expected loss is the mean entropy of its predictions; of all
    predictions with top probability m the even spread has the most, and that entropy is
    concave in m, so the mean is at most its value at the mean top probability, which
    calibration makes the accuracy. A loss above it comes from predictions less (or more)
    sure than they are right. At a = 1/C it is ln C, a uniform guess's."""
    a = min(max(accuracy, 1.0 / classes), 1.0)
    e = 1.0 - a
    return -a * math.log(a) - (e * math.log(e / (classes - 1)) if e > 0 else 0.0)


def bounded_spread(mean: float, top: float) -> float:
    """The largest coefficient of variation values in [0, `top`] with this mean can have:
    sqrt(m (top - m)) / m (the Bhatia-Davis inequality).

    A classifier's per-sample cross-entropies are such values: a sample classified right
    gives its class the top probability, at least 1/C, so its loss is at most ln C -- the
    untrained loss, in whatever units the loss is logged (a misclassified one can go higher,
    but on the near-perfect sets where this matters errors are few). A set of 54 all right at
    0.05 nats over 3 classes can spread 4.5 times its mean (a few samples near ln 3 carry
    it), where the usual reading of "spread about as much as the mean" says 1."""
    if not (math.isfinite(mean) and math.isfinite(top)) or mean <= 0:
        return float("nan")
    return math.sqrt(max(top - mean, 0.0) / mean)
