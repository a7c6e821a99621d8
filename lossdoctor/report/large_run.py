"""The sentences a report says about a large run's stability (stability.py, rewind.py).

Each line is said only when it has something to say: a spike score above 0, gradient
bursts that ran ahead of loss spikes, loss-scale drops, skipped steps, a rewind plan. A
healthy small run gets none of them.
"""

from __future__ import annotations

from .. import numfmt
from ..findings import Diagnosis

HEADING = "large-run stability:"


def lines(diag: Diagnosis, verbosity: int = 0) -> list[str]:
    """The report's lines for this run (empty when there is nothing to say)."""
    s = diag.stability
    if s is None or diag.error:
        return []
    out = [x for x in (_spike_line(diag), _burst_line(diag, verbosity), _scale_line(diag), _skip_line(diag))
           if x]
    return out + _plan_lines(diag)


def _share(x: float | None) -> str:
    return "n/a" if x is None else numfmt.percent(x, ".2%")


def _spike_line(diag: Diagnosis) -> str | None:
    s = diag.stability
    parts = []
    for label, score in (("loss", s.spike_loss), ("grad norm", s.spike_grad)):
        if score is not None and score.points:
            first = ", ".join(numfmt.step(x) for x in score.steps[:3]) + (", ..." if score.points > 3 else "")
            parts.append(f"{label} {numfmt.plural(score.points, 'point')} (step {first})")
    if not parts:
        return None
    run = s.spike_any
    if run is None:  # no curve is per step (an epoch axis): spiked points, but no score over steps
        return f"spikes (OLMo: above mean + 6 std of the 128 points before): {', '.join(parts)}"
    rolling = f"; highest over 10,000 points {_share(run.max_rolling)}" if run.max_rolling is not None else ""
    return (f"spike score {_share(run.run)} of {numfmt.count(run.judged)} steps (OLMo: above mean + 6 std of the "
            f"128 points before): {', '.join(parts)}{rolling}")


def _burst_line(diag: Diagnosis, verbosity: int) -> str | None:
    b = diag.stability.bursts
    if b is None or not b.points or (not b.leads.leads and verbosity <= 0 and not diag.stability.spike_grad.points):
        return None
    head = f"grad-norm bursts (EMA z-score > 2.5, as ZClip clips): {numfmt.plural(b.episodes, 'burst')}"
    spikes = len(diag.stability.episodes)
    if b.leads.leads:
        lead = numfmt.step(b.median_lead)
        head += (f"; {len(b.leads.leads)} of {numfmt.plural(spikes, 'loss spike')} began during one "
                 f"(the burst ran ahead by a median {lead} steps)")
    if b.leads.hidden:
        head += f"; {b.leads.hidden} while the loss stayed flat"
    return head


def _scale_line(diag: Diagnosis) -> str | None:
    d = diag.stability.scale
    if d is None or not d.count:
        return None
    first = ", ".join(numfmt.step(x) for x in d.steps[:3]) + (", ..." if d.count > 3 else "")
    return (f"loss scale halved (or more) {numfmt.plural(d.count, 'time')} (step {first}); "
            f"lowest {numfmt.significant(d.lowest)}, last {numfmt.significant(d.last)}")


def _skip_line(diag: Diagnosis) -> str | None:
    k = diag.stability.skips
    if k is None or not (k.skipped or k.calibration):
        return None
    calibration = f"; {numfmt.count(k.calibration)} more while the loss scale calibrated" if k.calibration else ""
    return (f"skipped optimizer steps: {numfmt.count(k.skipped)} of {numfmt.count(k.attempted)} "
            f"({numfmt.percent(k.share, '.1%')}; {numfmt.percent(k.tail_share, '.1%')} at the end of the log{calibration})")


def _plan_lines(diag: Diagnosis) -> list[str]:
    plan = diag.rewind
    if plan is None:
        return []
    first = plan.restore
    where = f" ({first.checkpoint})" if first.checkpoint else " (no checkpoint found beside the log)"
    ranges = ", ".join(f"{numfmt.step(a)}-{numfmt.step(b)}" for a, b in plan.ranges)
    # An entry is a spike or a divergence ("diverged"): "excursion" names both.
    why = sorted({e.why for e in plan.entries})
    return [f"rewind plan: restart from step {numfmt.step(first.restore)}{where} and skip batches {ranges} "
            f"({numfmt.plural(len(plan.entries), 'loss excursion')}: {', '.join(why)}); "
            "--rewind-plan DIR writes it for Lightning and Megatron-DeepSpeed"]
