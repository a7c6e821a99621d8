"""Predicates on fp16 loss scaling: a run that skips most of its optimizer steps.

The numbers come from `lossdoctor.curves.loss_scaling` (skip counts per logged interval
against the steps the interval covered); this only decides.
"""

from __future__ import annotations

from typing import Annotated

from .. import readings
from ..params import Fraction
from ..subject import Subject
from .core import Evidence


def skips_steps(subj: Subject,
                share: Annotated[Fraction, "of the optimizer steps, over the run"] = 0.5,
                tail_share: Annotated[Fraction, "of the steps of the last tenth of the log"] = 0.9) -> Evidence | None:
    """The optimizer skipped at least `share` of its steps over the run, or `tail_share` of
    them at the end of the log: fp16 overflows threw the updates away."""
    k = readings.skips(subj)
    if k is None or (k.share < share and k.tail_share < tail_share):
        return None
    s = subj.series("skipped_steps")
    hit = s.values > 0
    first = float(s.steps[hit.argmax()]) if hit.any() else float(s.steps[0])
    drops = readings.scale_drops(subj)
    evidence: Evidence = {"metric": s.name, "step": k.since if k.since is not None else first,
                          "end_step": float(s.steps[-1]), "share": k.share, "tail_share": k.tail_share,
                          "skipped": k.skipped, "attempted": k.attempted}
    if drops is not None:
        evidence["lowest_scale"] = drops.lowest
    return evidence
