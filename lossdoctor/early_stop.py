"""Early stopping after the fact: where common stopping rules would have ended a finished run.

For a run with a validation loss, replay the evaluations and find the first one at which
each criterion says stop, then what that would have saved (the share of the run's steps
after the stop) and what it would have given up (the best validation loss seen by then
against the best of the whole run). Pure numpy over arrays; the report layer calls it.

Criteria (an "evaluation" is one logged validation point; non-finite validation values
count as infinitely bad):
- patience p (p = 3, 5, 10; min_delta 0): stop once p evaluations in a row have not
  beaten the best so far (Keras / Lightning `EarlyStopping` semantics).
- GL_alpha (Prechelt 1998, "Early Stopping - But When?"): the generalisation loss
  GL(t) = 100 * (E_va(t) / E_opt(t) - 1), E_opt(t) the lowest validation loss up to t;
  stop at the first t with GL(t) > alpha (alpha = 5).
- PQ_alpha: the training progress over a strip of k evaluations,
  P_k(t) = 1000 * (sum of E_tr over the strip / (k * min of E_tr over the strip) - 1);
  at the end of each strip (t = k, 2k, ...) stop when GL(t) / P_k(t) > alpha (k = 5,
  alpha = 0.5). E_tr at an evaluation is the mean training loss logged since the
  previous evaluation (the epoch's training error), or the last one logged before it.
- UP_s: stop when the validation loss at the end of a strip is higher than at the end of
  the previous strip, s strips in a row (s = 3, k = 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import intervals

PATIENCES = (3, 5, 10)
GL_ALPHA = 5.0
PQ_ALPHA = 0.5
STRIP = 5
UP_STRIPS = 3
MIN_EVALUATIONS = 4  # fewer validation points than this say nothing about when to stop


@dataclass(frozen=True)
class Stop:
    """Where one criterion would have stopped (step None: it never fires on this run)."""

    criterion: str  # machine id: patience_5, GL_5, PQ_0.5, UP_3
    label: str  # as a person says it: "patience 5", "GL > 5"
    step: float | None = None
    evaluation: int | None = None  # index of the stopping evaluation
    saved: float | None = None  # share of the run's steps after the stop
    best_at_stop: float | None = None  # the best validation loss seen by the stop
    given_up: float | None = None  # best_at_stop - the run's best (>= 0)

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "step": self.step, "evaluation": self.evaluation,
                "saved": self.saved, "best_at_stop": self.best_at_stop, "given_up": self.given_up}


@dataclass(frozen=True)
class EarlyStopping:
    """The replay of one run: its validation best and where each criterion stops."""

    evaluations: int
    best_step: float
    best: float
    first_step: float
    last_step: float
    stops: tuple[Stop, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "best_step": self.best_step, "best": self.best,
                "last_step": self.last_step, "stops": [s.to_dict() for s in self.stops]}


def patience_stop(val: np.ndarray, patience: int) -> int | None:
    """Index of the evaluation at which `patience` evaluations without a new best have passed."""
    idx = np.arange(len(val))
    before = np.concatenate(([np.inf], np.minimum.accumulate(val)[:-1]))
    last_best = np.maximum.accumulate(np.where(val < before, idx, 0))
    hits = np.flatnonzero(idx - last_best >= patience)
    return int(hits[0]) if hits.size else None


def generalisation_loss(val: np.ndarray) -> np.ndarray:
    """GL(t) in percent; inf where the best so far is not positive and t is worse than it."""
    best = np.minimum.accumulate(val)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a 1e300 over a 1e-10 best: inf, as it is
        gl = 100.0 * (val / best - 1.0)
    return np.where(val == best, 0.0, np.where(np.isfinite(gl) & (best > 0), gl, np.inf))


def gl_stop(val: np.ndarray, alpha: float = GL_ALPHA) -> int | None:
    """First evaluation with GL > alpha."""
    hits = np.flatnonzero(generalisation_loss(val) > alpha)
    return int(hits[0]) if hits.size else None


def training_progress(train: np.ndarray, t: int, k: int = STRIP) -> float:
    """P_k(t) over the strip of evaluations t-k+1 .. t (per mille; inf for a bad strip)."""
    strip = train[t - k + 1: t + 1]
    low = strip.min()
    if not np.all(np.isfinite(strip)) or low <= 0:
        return np.inf
    with np.errstate(over="ignore"):  # the strip over its lowest, not its sum: 1e308s sum to inf
        return float(1000.0 * (np.mean(strip / low) - 1.0))


def pq_stop(val: np.ndarray, train: np.ndarray, alpha: float = PQ_ALPHA, k: int = STRIP) -> int | None:
    """First strip end t with GL(t) / P_k(t) > alpha."""
    gl = generalisation_loss(val)
    for t in np.flatnonzero(gl[k - 1::k] > 0) * k + k - 1:  # GL = 0 never stops: skip those strips
        progress = training_progress(train, int(t), k)
        if np.isinf(progress):  # a bad strip (NaN/Inf or a non-positive loss) never stops: inf/inf warned
            continue
        if progress == 0 or gl[t] / progress > alpha:
            return int(t)
    return None


def up_stop(val: np.ndarray, s: int = UP_STRIPS, k: int = STRIP) -> int | None:
    """First strip end after which the validation loss rose over s successive strips."""
    ends = val[k - 1::k]
    rose = np.concatenate(([False], ends[1:] > ends[:-1]))
    # length of the run of rises ending at each strip end
    starts = np.maximum.accumulate(np.where(~rose, np.arange(len(rose)), 0))
    hits = np.flatnonzero(np.arange(len(rose)) - starts >= s)
    return int(hits[0]) * k + k - 1 if hits.size else None


def train_at_evaluations(val_steps: np.ndarray, train_steps: np.ndarray, train_values: np.ndarray) -> np.ndarray:
    """E_tr at each evaluation: the mean training loss logged since the previous evaluation
    (at or before this one), else the last training value logged before it (NaN: none). A
    NaN/Inf training value is left out of its mean (it must not poison it); an interval of
    nothing else is inf."""
    ends = np.searchsorted(train_steps, val_steps, side="right")
    starts = np.concatenate(([0], ends[:-1]))
    means = intervals.means(train_values, starts, ends)
    means = np.where(np.isnan(means), np.inf, means)
    last = np.where(ends > 0, train_values[np.maximum(ends - 1, 0)], np.nan)
    return np.where(ends > starts, means, last)


def analyse(val_steps: np.ndarray, val_values: np.ndarray, train_steps: np.ndarray | None = None,
            train_values: np.ndarray | None = None, last_step: float | None = None) -> EarlyStopping | None:
    """Replay the run's evaluations under every criterion; None when there are too few."""
    steps = np.asarray(val_steps, dtype=float)
    val = np.asarray(val_values, dtype=float)
    val = np.where(np.isfinite(val), val, np.inf)
    if len(val) < MIN_EVALUATIONS or not np.isfinite(val).any():
        return None
    first = float(min(steps[0], train_steps[0])) if train_steps is not None and len(train_steps) else float(steps[0])
    last = float(last_step if last_step is not None else steps[-1])
    found: list[tuple[str, str, int | None]] = [
        (f"patience_{p}", f"patience {p}", patience_stop(val, p)) for p in PATIENCES]
    found.append((f"GL_{GL_ALPHA:g}", f"GL > {GL_ALPHA:g}", gl_stop(val)))
    if train_steps is not None and train_values is not None and len(train_steps):
        train = train_at_evaluations(steps, np.asarray(train_steps, float), np.asarray(train_values, float))
        found.append((f"PQ_{PQ_ALPHA:g}", f"PQ > {PQ_ALPHA:g} (strips of {STRIP})", pq_stop(val, train)))
    found.append((f"UP_{UP_STRIPS}", f"UP {UP_STRIPS} (strips of {STRIP})", up_stop(val)))
    best_i = int(np.argmin(val))
    stops = tuple(_stop(cid, label, i, steps, val, first, last) for cid, label, i in found)
    return EarlyStopping(len(val), float(steps[best_i]), float(val[best_i]), first, last, stops)


def _stop(cid: str, label: str, i: int | None, steps: np.ndarray, val: np.ndarray,
          first: float, last: float) -> Stop:
    if i is None:
        return Stop(cid, label)
    at = float(steps[i])
    span = last - first
    saved = (last - at) / span if span > 0 else 0.0
    best_then = float(val[: i + 1].min())
    return Stop(cid, label, at, i, max(0.0, saved), best_then, best_then - float(val.min()))
