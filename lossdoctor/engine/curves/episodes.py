"""Loss-spike episodes: from a spike point (spike_score) to where the loss is back.

An episode starts at a spike point (above mean + 6 sigma of the 128 values before it) and
lasts until the loss is back within 1.1x of its level before the spike (the window's mean;
or within two of the window's standard deviations, for a curve noisier than 10%). A spike
that comes back is a transient; one still up at the end of the log did not recover.
Spike points before the loss is back belong to the same episode; a spike after it starts
the next one, so an episode that *recurs* is a new episode. In a restarted run an episode
still up when its attempt ended was ended by the restore: it counts as back at the first
step of the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spike_score import WINDOW, spike_flags, starts_of

BACK = 1.1  # back within this factor of the pre-spike level: recovered
BACK_SIGMAS = 2.0  # ...or within this many of the window's standard deviations


@dataclass(frozen=True)
class Episode:
    """One spike of a loss, in steps."""

    onset: float  # the first spike point
    before: float | None  # the last point logged before it (the spike began after it)
    peak_step: float
    peak: float
    base: float  # the mean of the 128 values before the onset
    recovered: float | None  # the first point back (None: still up where the log ends)

    def to_dict(self) -> dict[str, object]:
        return {"onset_step": self.onset, "peak_step": self.peak_step, "peak": self.peak,
                "base": self.base, "recovered_step": self.recovered}


def loss_episodes(steps: np.ndarray, values: np.ndarray, attempts: tuple[float, ...] = ()) -> list[Episode]:
    """Every spike episode of a loss curve (non-finite points left out, as spike_score does)."""
    ok = np.isfinite(values)
    t, y = np.asarray(steps, dtype=np.float64)[ok], np.asarray(values, dtype=np.float64)[ok]
    starts = starts_of(t, attempts)
    hits = np.flatnonzero(spike_flags(y, starts))
    out: list[Episode] = []
    i = 0
    while i < hits.size:
        onset = int(hits[i])
        limit = next((s for s in starts if s > onset), y.size)  # the end of the onset's attempt
        window = y[onset - WINDOW : onset]
        base, spread = float(window.mean()), float(window.std())
        back = np.flatnonzero(y[onset + 1 : limit] <= max(BACK * base, base + BACK_SIGMAS * spread))
        end = onset + 1 + int(back[0]) if back.size else (limit if limit < y.size else None)
        stop = end if end is not None else y.size
        peak = onset + int(np.argmax(y[onset:stop]))
        out.append(Episode(float(t[onset]), float(t[onset - 1]) if onset else None, float(t[peak]),
                           float(y[peak]), base, None if end is None else float(t[end])))
        if end is None:
            break
        i = int(np.searchsorted(hits, end, side="left"))
    return out
