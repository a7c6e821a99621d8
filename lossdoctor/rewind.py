"""A rewind-and-skip plan: where to restart a run from, and which batches to leave out.

PaLM (Chowdhery et al. 2022, section 5.1) met ~20 loss spikes that did not come back on
their own; each time it "re-started training from a checkpoint roughly 100 steps before
the spike started, and skipped roughly 200-500 data batches", and the spike did not
recur. The plan here does that for every spike that did not recover, and for every
spike of a run where spikes recur (a lone spike that came back costs nothing to keep):

- restore: the last checkpoint at least LOOKBACK steps before the onset (from the
  checkpoints found beside the log or named in it); failing that, the last one before
  the onset; failing that, the step LOOKBACK before the onset (no checkpoint known);
- skip: from the first step after the last normal logged point to the first logged point
  back within 1.1x of the pre-spike level (episodes.py); for a spike that never came back
  (or a divergence), to its peak.

The whole run's plan restores from the first entry's checkpoint and skips every range
(overlapping ranges merged). Steps are the log's steps, one batch each: with gradient
accumulation, or Lightning's `batch_idx` that restarts every epoch, map them first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engine.curves.episodes import Episode
from .sources.checkpoints import Checkpoint

LOOKBACK = 100  # steps before the onset to restart from (PaLM's "roughly 100 steps")


@dataclass(frozen=True)
class Entry:
    """One spike to rewind past."""

    onset: float
    peak_step: float
    recovered: float | None
    why: str  # "did not recover", "recurred", "diverged"
    restore: float  # the step to restart from
    checkpoint: str | None  # the checkpoint's path, when one was found at that step
    skip: tuple[int, int]  # first and last batch (step) to skip, inclusive

    def to_dict(self) -> dict[str, Any]:
        return {"onset_step": self.onset, "peak_step": self.peak_step, "recovered_step": self.recovered,
                "why": self.why, "restore_step": self.restore, "checkpoint": self.checkpoint,
                "skip": list(self.skip), "batches": self.skip[1] - self.skip[0] + 1}


@dataclass(frozen=True)
class Plan:
    entries: tuple[Entry, ...]
    checkpoints_found: int

    @property
    def restore(self) -> Entry:
        return self.entries[0]

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """The skip ranges, sorted, overlapping or touching ones merged."""
        out: list[list[int]] = []
        for a, b in sorted(e.skip for e in self.entries):
            if out and a <= out[-1][1] + 1:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        return [(a, b) for a, b in out]

    def skip_batches(self) -> list[int]:
        """Lightning's `skip_batches.json`: the list of batch indices to skip."""
        return [i for a, b in self.ranges for i in range(a, b + 1)]

    def megatron_args(self) -> list[str]:
        """Megatron-DeepSpeed's spellings: `--train-range-to-skip A B C D` (pairs, inclusive;
        microsoft / argonne-lcf) and `--skip-train-iteration-range A-B C-D` (bigscience)."""
        pairs = " ".join(f"{a} {b}" for a, b in self.ranges)
        dashed = " ".join(f"{a}-{b}" for a, b in self.ranges)
        return [f"--train-range-to-skip {pairs}", f"--skip-train-iteration-range {dashed}"]

    def to_dict(self) -> dict[str, Any]:
        first = self.restore
        return {"unit": "step", "lookback": LOOKBACK, "restore_step": first.restore,
                "checkpoint": first.checkpoint, "checkpoints_found": self.checkpoints_found,
                "skip_ranges": [list(r) for r in self.ranges], "spikes": [e.to_dict() for e in self.entries],
                "megatron_args": self.megatron_args()}


def to_rewind(episodes: tuple[Episode, ...],
              divergences: list[tuple[float, float]]) -> list[tuple[Episode | None, float, str]]:
    """The spikes a plan covers: (episode or None, onset, why), in step order. A divergence
    (onset, peak step) that no chosen episode covers is an entry of its own."""
    recurring = len(episodes) >= 2
    chosen: list[tuple[Episode | None, float, str]] = [
        (e, e.onset, "did not recover" if e.recovered is None else "recurred")
        for e in episodes if e.recovered is None or recurring]
    picked = [e for e, _, _ in chosen if e is not None]
    for step, _ in divergences:
        if not any(_covers(e, step) for e in picked):
            chosen.append((None, step, "diverged"))
    return sorted(chosen, key=lambda c: c[1])


def _covers(e: Episode, step: float) -> bool:
    """The divergence starting at `step` is this episode: inside it, or (the climb starts
    before its first 6-sigma point) an unrecovered episode that begins after it."""
    end = e.recovered if e.recovered is not None else float("inf")
    return e.onset <= step <= end or (e.recovered is None and e.onset >= step)


def make_plan(episodes: tuple[Episode, ...], divergences: list[tuple[float, float]],
              checkpoints: list[Checkpoint]) -> Plan | None:
    """The plan, or None when no spike needs one."""
    chosen = to_rewind(episodes, divergences)
    if not chosen:
        return None
    peaks = dict(divergences)
    entries = []
    for episode, onset, why in chosen:
        restore, path = restore_point(onset, checkpoints)
        if episode is None:
            peak, recovered, first = peaks[onset], None, onset
        else:
            peak, recovered = episode.peak_step, episode.recovered
            first = episode.before + 1 if episode.before is not None else onset
        last = recovered if recovered is not None else peak
        entries.append(Entry(onset, peak, recovered, why, restore, path, (int(first), int(max(first, last)))))
    return Plan(tuple(entries), len(checkpoints))


def restore_point(onset: float, checkpoints: list[Checkpoint]) -> tuple[float, str | None]:
    """The checkpoint to restart from for a spike at `onset` (see the module docstring)."""
    before = [c for c in checkpoints if c.step < onset]
    early = [c for c in before if c.step <= onset - LOOKBACK]
    pick = max(early or before, key=lambda c: c.step, default=None)
    if pick is None:
        return max(0.0, onset - LOOKBACK), None
    return pick.step, pick.path
