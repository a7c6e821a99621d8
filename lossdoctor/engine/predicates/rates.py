"""How the logged learning rate moved into an event: the evidence a spike, a blow-up or a
NaN names when a schedule climbed into it."""

from __future__ import annotations

import numpy as np

from ..curves.excursions import LEVEL_SHARE
from ..subject import Subject
from .core import Evidence

# A rate that at least doubles is a schedule climbing (a warm-up, a decay factor typed above
# 1, a restart), never a decay or a constant rate's wobble: climbs_with_rate reads a NaN by
# it, and an event's evidence names such a rise (`rate_rise`).
RATE_RISE = 2.0


def rate_rise(subj: Subject, slot: str, onset: float, factor: float = RATE_RISE) -> Evidence:
    """How far the logged learning rate rose into an event: the rate at its onset over the
    lowest one since the loss was at its best before it, or over the 5% of the run before the
    onset if that reaches further back (a level's time scale, `excursions.LEVEL_SHARE`: a
    noisy loss near 0 has its lowest point anywhere, and a loss answers a restarted rate some
    steps later, as the optimiser's moments build up). A rate that decays or holds never
    rises; a warm restart or a schedule climbing into the event does. Empty when it did not
    rise `factor`-fold (at least double, by default)."""
    lr, s = subj.series("lr"), subj.series(slot)
    if lr is None or s is None or len(s) < 2:
        return {}
    before = np.isfinite(s.values) & (s.steps < onset)
    if not before.any():
        return {}
    best = float(s.steps[before][np.argmin(s.values[before])])
    since = min(best, onset - LEVEL_SHARE * float(s.steps[-1] - s.steps[0]))
    ok = np.isfinite(lr.values) & (lr.values > 0)
    # The rate in force at `since` (the last one logged at or before it) and every one after.
    first = np.flatnonzero(ok & (lr.steps <= since))
    window = ok & (lr.steps <= onset) & (lr.steps > since)
    if first.size:
        window[first[-1]] = True
    if not window.any():
        return {}
    steps, values = lr.steps[window], lr.values[window]
    low = int(np.argmin(values))
    if values[-1] < factor * values[low]:
        return {}
    # Where it rose: the first logged rate after the low point that is `factor` times it.
    up = low + int(np.flatnonzero(values[low:] >= factor * values[low])[0])
    return {"lr_before": float(values[low]), "lr_onset": float(values[-1]),
            "lr_rise": float(values[-1] / values[low]), "lr_rise_step": float(steps[up])}
