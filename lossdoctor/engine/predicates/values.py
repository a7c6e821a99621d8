"""Predicates on the values themselves: NaN/Inf and magnitudes."""

from __future__ import annotations

import numpy as np

from .. import readings
from ..params import Number, Slot
from ..subject import Subject
from .core import Evidence, curve_of
from .rates import rate_rise


def nonfinite(subj: Subject, slot: Slot) -> Evidence | None:
    """The series holds NaN or Inf; evidence is the first such step (exact, as logged), and how
    far the logged learning rate rose into it (`rates.rate_rise`)."""
    s = subj.series(slot)
    if s is None:
        return None
    bad_at = np.flatnonzero(~np.isfinite(s.values))
    if not bad_at.size:
        return None
    first = int(bad_at[0])
    bad = s.values[~np.isfinite(s.values)]
    kind = "NaN" if np.isnan(s.values[first]) else ("+Inf" if s.values[first] > 0 else "-Inf")
    before = s.values[:first][np.isfinite(s.values[:first])]
    return {"metric": s.name, "step": float(s.steps[first]), "end_step": float(s.steps[-1]),
            "kind": kind, "count": int(bad.size), "points": len(s),
            "last_finite": float(before[-1]) if before.size else None, **_first_sign(subj, slot, float(s.steps[first])),
            **rate_rise(subj, _course(subj, slot), float(s.steps[first]))}


def _course(subj: Subject, slot: Slot) -> str:
    """The loss whose best a rate's rise into a NaN is read from: the training loss, which the
    rate acts on, when the subject has one (a validation or grad-norm series turning NaN
    with it is the same event, and says the same rise)."""
    return "train_loss" if subj.series("train_loss") is not None else slot


def _first_sign(subj: Subject, slot: Slot, nan_step: float) -> Evidence:
    """The jump that ran into the first NaN/Inf, when the loss showed one (an excursion too
    small to be a blow-up): where it began and how far it rose -- what a reader looks for
    just before the NaN."""
    signs = [e for e in readings.events(subj, slot) if e.kind == "first-sign" and e.step < nan_step]
    if not signs or not signs[-1].base > 0:
        return {}
    e = signs[-1]
    return {"sign_step": e.step, "sign_ratio": e.peak / e.base}


def magnitude(subj: Subject, slot: Slot, final_at_least: Number = 20.0,
              start_at_least: Number = 1e4) -> Evidence | None:
    """The loss is large in absolute terms (unscaled regression targets put it there, or a
    loss summed over the batch: with an accuracy logged beside it, the run is a classifier
    and the evidence names the accuracy)."""
    c = curve_of(subj, slot, 3)
    if c is None or not (c.end >= final_at_least or c.start >= start_at_least):
        return None
    acc = subj.series("val_acc") or subj.series("train_acc")
    return {"metric": c.series.name, "step": c.step_at(0), "end_step": c.step_at(c.n - 1),
            "start": c.start, "final": c.end, **({"accuracy_metric": acc.name} if acc is not None else {})}


