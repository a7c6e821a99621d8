"""What dynamic loss scaling (fp16) leaves in a log: loss-scale drops and skipped steps.

An fp16 optimizer multiplies the loss by a scale before the backward pass; when a gradient
overflows it skips the optimizer step and halves the scale (Megatron, DeepSpeed, fairseq,
torch's GradScaler), and after a window of clean steps (1,000 in Megatron, 2,000 in
GradScaler) it doubles it again. So a healthy run shows a burst of skips while the scale
calibrates at the start, then about one drop per window; a run whose every step
overflows keeps skipping with the scale at its floor and silently stops training.

- A *drop* is a logged scale at most half the one logged before it.
- Skips come as counts per logged interval. The leading intervals in which every step was
  skipped are the scale's calibration (Megatron starts at 2^32 and halves it per overflow,
  two overflows each with its default hysteresis: some 32 skipped iterations) and are left
  out of the shares, unless the skipping never stops. Megatron's `number of skipped iterations`
  counts iterations inside its iteration counter (a skipped iteration still advances it);
  fairseq does not advance `num_updates` on an overflow, so its skips come on top of the
  updates between two records (`inside_steps=False`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DROP = 0.5  # a scale at most this share of the previous one is a drop


@dataclass(frozen=True)
class Drops:
    count: int
    steps: tuple[float, ...]
    lowest: float
    last: float

    def to_dict(self) -> dict[str, object]:
        return {"drops": self.count, "steps": list(self.steps[:20]), "lowest": self.lowest, "last": self.last}


def scale_drops(steps: np.ndarray, scale: np.ndarray) -> Drops | None:
    """Where the loss scale fell to half or less of its previous logged value."""
    ok = np.isfinite(scale) & (scale > 0)
    s, v = steps[ok], scale[ok]
    if v.size < 2:
        return None
    hit = np.flatnonzero(v[1:] <= DROP * v[:-1]) + 1
    return Drops(int(hit.size), tuple(float(x) for x in s[hit]), float(v.min()), float(v[-1]))


@dataclass(frozen=True)
class Skips:
    """Skipped optimizer steps against the steps attempted, over the run and at its end."""

    skipped: float
    attempted: float
    tail_skipped: float
    tail_attempted: float
    since: float | None  # the step from which every logged interval skipped at least half
    calibration: float = 0.0  # steps skipped while the scale calibrated (left out of the shares)

    @property
    def share(self) -> float:
        return self.skipped / self.attempted if self.attempted > 0 else 0.0

    @property
    def tail_share(self) -> float:
        return self.tail_skipped / self.tail_attempted if self.tail_attempted > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"skipped": self.skipped, "attempted": self.attempted, "share": self.share,
                "tail_share": self.tail_share, "since_step": self.since, "calibration": self.calibration}


def skipped_steps(steps: np.ndarray, counts: np.ndarray, inside_steps: bool = True,
                  tail: float = 0.1) -> Skips | None:
    """Skipped share of the optimizer steps after the calibration, over the run and over its
    last `tail` of the logged intervals (at least 3). The first interval is taken as long
    as the typical one (the log may start after a resume)."""
    ok = np.isfinite(counts) & (counts >= 0)
    s, c = steps[ok], counts[ok]
    if s.size < 2:
        return None
    gaps = np.diff(s)
    width = np.maximum(np.concatenate(([float(np.median(gaps))], gaps)), 1.0)
    skipped = np.minimum(c, width) if inside_steps else c
    attempted = width if inside_steps else width + c
    full = skipped >= attempted
    lead = int(np.argmin(full)) if not full.all() else 0  # the skipping stopped: calibration
    calibration = float(skipped[:lead].sum())
    s, skipped, attempted = s[lead:], skipped[lead:], attempted[lead:]
    k = max(3, int(np.ceil(tail * s.size)))
    mostly = skipped >= 0.5 * attempted
    since = None
    if mostly[-1]:
        since = float(s[s.size - int(np.argmin(mostly[::-1])) if not mostly.all() else 0])
    return Skips(float(skipped.sum()), float(attempted.sum()), float(skipped[-k:].sum()),
                 float(attempted[-k:].sum()), since, calibration)
