"""What a large run's log shows about its stability, read once per run for the reports.

- the spike score of the training loss, of the gradient norm and of both (OLMo-core's
  definition: engine/curves/spike_score.py), and the loss's spike episodes;
- gradient-norm bursts by ZClip's EMA z-score, and how far they run ahead of the loss's
  spikes (engine/curves/grad_spikes.py);
- fp16 loss-scale drops and the share of skipped optimizer steps
  (engine/curves/loss_scaling.py);
- where each attempt of a restarted run begins (frame.py).

These are evidence in the JSON and lines in the report, not rules: the one decision taken
from them, a run that skips most of its steps, is the `skipped_steps` rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine.curves import grad_spikes, loss_scaling
from .engine.curves.episodes import Episode, loss_episodes
from .engine.curves.spike_score import SpikeScore, combined, spike_score, starts_of
from .frame import Run, Series
from .numfmt import json_number, json_step
from .roles import Roles, skips_inside_steps


@dataclass(frozen=True)
class Bursts:
    """The gradient norm's ZClip spikes and their relation to the loss's spike episodes."""

    points: int
    judged: int
    episodes: int
    leads: grad_spikes.Leads

    @property
    def median_lead(self) -> float | None:
        return float(np.median(self.leads.leads)) if self.leads.leads else None

    def to_dict(self) -> dict[str, Any]:
        return {"zclip_points": self.points, "share": self.points / self.judged if self.judged else 0.0,
                "episodes": self.episodes, "hidden": self.leads.hidden, "leads": list(self.leads.leads),
                "median_lead": self.median_lead, "loss_spikes_without_grad_burst": self.leads.unexplained}


@dataclass(frozen=True)
class Stability:
    """The large-run readings of one run (each None when the log has no such series)."""

    loss: str | None
    grad: str | None
    spike_loss: SpikeScore | None
    spike_grad: SpikeScore | None
    spike_any: SpikeScore | None
    episodes: tuple[Episode, ...]
    bursts: Bursts | None
    scale: loss_scaling.Drops | None
    skips: loss_scaling.Skips | None
    attempts: tuple[float, ...]

    @property
    def run_score(self) -> float | None:
        """The run's spike score, as OLMo logs it (`SpikeScore (total)`: loss or grad norm)."""
        return None if self.spike_any is None else self.spike_any.run

    def spike_dict(self) -> dict[str, Any]:
        parts = {"loss": self.spike_loss, "grad_norm": self.spike_grad, "any": self.spike_any}
        return tidy({k: None if v is None else v.to_dict() for k, v in parts.items()})

    def to_dict(self) -> dict[str, Any]:
        return tidy({"loss_series": self.loss, "grad_norm_series": self.grad,
                     "loss_spikes": [e.to_dict() for e in self.episodes],
                     "grad_norm": None if self.bursts is None else self.bursts.to_dict(),
                     "loss_scale": None if self.scale is None else self.scale.to_dict(),
                     "skipped_steps": None if self.skips is None else self.skips.to_dict(),
                     "attempts": list(self.attempts)})


def assess(run: Run, roles: Roles) -> Stability:
    """Read the run's main training loss, gradient norm, loss scale and skip counts."""
    known = {**run.series, **roles.derived}
    train = roles.pairs[0][1] if roles.pairs else None
    loss = known.get(train) if train else None
    grad = run.series.get(roles.by_role.get("grad_norm", ""))
    scale = run.series.get(roles.by_role.get("loss_scale", ""))
    skips = run.series.get(roles.by_role.get("skipped_steps", ""))
    curves = [(s.steps, s.values, s.attempts) for s in (loss, grad) if s is not None and s.axis == "step"]
    episodes = tuple(loss_episodes(loss.steps, loss.values, loss.attempts)) if loss is not None else ()
    return Stability(
        loss=None if loss is None else loss.name, grad=None if grad is None else grad.name,
        spike_loss=None if loss is None else spike_score(loss.steps, loss.values, loss.attempts),
        spike_grad=None if grad is None else spike_score(grad.steps, grad.values, grad.attempts),
        spike_any=combined(curves) if curves else None,
        episodes=episodes, bursts=None if grad is None else _bursts(grad, episodes),
        scale=None if scale is None else loss_scaling.scale_drops(scale.steps, scale.values),
        skips=None if skips is None else skipped(skips),
        attempts=loss.attempts if loss is not None else ())


def skipped(s: Series) -> loss_scaling.Skips | None:
    """The skipped share of a skip-count series (see roles.skips_inside_steps)."""
    return loss_scaling.skipped_steps(s.steps, s.values, inside_steps=skips_inside_steps(s.name))


def _bursts(grad: Series, episodes: tuple[Episode, ...]) -> Bursts:
    ok = np.isfinite(grad.values)
    steps = grad.steps[ok]
    flags = grad_spikes.zclip_flags(grad.values, starts_of(steps, grad.attempts))
    found = grad_spikes.episodes(steps, flags)
    spacing = float(np.median(np.diff(steps))) if steps.size > 1 else 1.0
    leads = grad_spikes.lead_times(found, [(e.onset, e.peak_step) for e in episodes], spacing)
    return Bursts(int(flags.sum()), int(steps.size), len(found), leads)


def tidy(doc: Any, key: str = "") -> Any:
    """JSON-safe numbers all the way down: steps exact, measured values to 7 digits."""
    if isinstance(doc, dict):
        return {k: tidy(v, k) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [tidy(v, key) for v in doc]
    return json_step(doc) if "step" in key or key in ("attempts", "leads") else json_number(doc)
