"""Predicates on a loss's events: blow-ups, spikes, repeating swings and bouncing curves.

The numbers come from `lossdoctor.curves` (excursions on log-loss against the curve's own
noise); these functions only decide and put the evidence in a rule's words.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from ...frame import Series
from .. import readings
from ..curves.events import Event
from ..curves.noise import expo
from ..params import Count, Fraction, Ratio, Slot
from ..subject import Subject
from .core import Evidence
from .rates import RATE_RISE, rate_rise
from .values import nonfinite


def blows_up(subj: Subject, slot: Slot) -> Evidence | None:
    """The loss climbed far off its course and never came back (or ran into NaN/Inf); for
    the training loss also a level that shifted up for good to the untrained loss or above
    (a validation loss that rises above its start after a fall is overfitting's shape)."""
    blow = [e for e in readings.events(subj, slot) if e.kind == "blow-up"]
    if not blow:
        u = readings.undoing(subj) if slot == "train_loss" else None
        if u is None:
            return None
        # The level it shifted to is what it "climbed to" (a spike inside that level is not the climb).
        s = subj.series(slot)
        return {"metric": s.name, "step": u.step, "end_step": float(s.steps[-1]), "best": u.low,
                "peak": u.end, "final": float(s.values[-1]), "ratio": u.end / u.low, "into_nan": False}
    e = blow[0]
    ev = {**_climb_evidence(subj.series(slot), e), **rate_rise(subj, slot, e.step)}
    return ev if e.back_step is None else {**ev, "back_step": e.back_step}


def _climb_evidence(s: Series, e: Event) -> Evidence:
    """A climb's evidence: where it started, from what to what, where it ended up. "To what"
    is the highest finite value from the climb's onset on: a loss that jumped to 27.8, fell
    back to 1.9 and climbed on to 932 climbed to 932 (the event's own peak is where its
    points first stood out)."""
    after = s.values[s.steps >= e.step]
    after = after[np.isfinite(after)]
    peak = max(e.peak, float(after.max())) if after.size else e.peak
    return {"metric": s.name, "step": e.step, "end_step": e.end_step, "best": e.base, "peak": peak,
            "final": e.final, "ratio": peak / e.base if e.base > 0 else math.inf, "into_nan": e.into_nonfinite}


def blows_up_with_train(subj: Subject) -> Evidence | None:
    """The validation loss blew up at or after an event of the training loss: the run went off
    course as a whole, even when the training loss it logged afterwards looks recovered
    (fp16 overflow logs zeros and stray values). Or it blew up and the training loss ran into
    NaN/Inf after its climb had begun: a training loss that jumped 240x from a memorised
    0.001 to 0.28 and then turned NaN, beside a validation loss that climbed past its
    untrained level, diverged with it (its own climb, below the untrained loss, is not a
    blow-up on its own: a NaN out of the blue has such a first sign too)."""
    val = blows_up(subj, "val_loss")
    if val is None:
        return None
    train = [e for e in readings.events(subj, "train_loss") if e.kind in ("blow-up", "spike")]
    if train and train[0].step <= val["step"]:
        return {**val, "step": train[0].step, "val_step": val["step"]}  # the run left its course there
    nan = nonfinite(subj, "train_loss")
    return val if val["into_nan"] and nan is not None and nan["step"] >= val["step"] else None


def climbs_with_rate(subj: Subject, slot: Slot,
                     min_growth: Annotated[Ratio, "the rate at the NaN over the lowest since the loss's best"] = RATE_RISE) -> Evidence | None:
    """The loss jumped far above its level (an excursion: 6 sigma and 2x) and ran into NaN/Inf
    while the logged learning rate grew: at the last point before the NaN it was at least
    `min_growth` times the lowest it had been since the loss was at its best (`rates.rate_rise`,
    read into the NaN). A rate that doubles is a schedule climbing (a warm-up, a decay factor
    typed above 1, a restart), never a decay or a constant one's wobble; a loss that leaves
    its level and overflows under it was blown up by the step size, even when one point is all
    the log shows of the climb."""
    sign = [e for e in readings.events(subj, slot) if e.kind == "first-sign"]
    s = subj.series(slot)
    if not sign or s is None:
        return None
    e = sign[0]
    after = s.steps[~np.isfinite(s.values) & (s.steps >= e.step)]
    if not after.size:
        return None  # what the events read as non-finite was a logged 0 (its log is -inf), no NaN
    rise = rate_rise(subj, slot, float(after[0]), min_growth)
    if not rise:
        return None
    # `lr_from`/`lr_to` pick the message of a jump into NaN under a growing rate (a blow-up's
    # evidence names a rise too, and keeps its own message).
    return {**_climb_evidence(s, e), **rise, "lr_from": rise["lr_before"], "lr_to": rise["lr_onset"]}


def spikes(subj: Subject, slot: Slot) -> Evidence | None:
    """The loss jumped at least 3x above its course, clearly beyond its noise, and came back."""
    found = [e for e in readings.events(subj, slot) if e.kind == "spike"]
    if not found:
        return None
    top = max(found, key=lambda e: e.peak / e.base)
    ev = {"metric": subj.series(slot).name, "step": top.step, "end_step": top.end_step,
          "value": top.peak, "baseline": top.base, "ratio": top.peak / top.base, "count": len(found)}
    if top.end_step is None:
        # The log ended while the loss was still on its way back: say where it got to.
        ev = {**ev, "final": top.final, "final_ratio": top.final / top.base}
    ev.update(rate_rise(subj, slot, top.step))
    # `spikes` only when there are several: the message that names it says "the largest of".
    return {**ev, "spikes": len(found)} if len(found) > 1 else ev


def recurring_spikes(subj: Subject, slot: Slot, min_count: Count = 4,
                     share: Annotated[Fraction, "of the spikes"] = 0.75) -> Evidence | None:
    """Spikes that recur at a fixed interval: at least `min_count` of them, and `share` with
    another one period away (within one logging interval; the period is the commonest gap
    between two spikes). Random bad batches land one period from another rarely (8 spikes in
    600 steps: ~7% each); batches that repeat in the same order (data sorted by class and
    never shuffled) spike at the same place every epoch."""
    found = [e for e in readings.events(subj, slot) if e.kind == "spike"]
    s = subj.series(slot)
    if len(found) < min_count or s is None or len(s) < 2:
        return None
    at = np.array([e.step for e in found])
    tol = float(np.median(np.diff(s.steps)))
    if not (tol > 0 and np.isfinite(tol)):
        return None
    gaps = np.round((at[None, :] - at[:, None])[np.triu_indices(at.size, 1)] / tol)
    gaps = gaps[gaps >= 2]
    if not gaps.size:
        return None
    values, counts = np.unique(gaps, return_counts=True)
    period = float(values[int(np.argmax(counts))]) * tol
    apart = np.abs(np.abs(at[None, :] - at[:, None]) - period) <= tol
    partnered = float(np.mean(apart.any(axis=1)))
    if partnered < share:
        return None
    ratios = [e.peak / e.base for e in found if e.base > 0]
    return {"metric": s.name, "step": float(at[0]), "end_step": float(at[-1]), "period": period,
            "count": len(found), "partnered": partnered, "swing": float(np.median(ratios)) - 1 if ratios else 0.0}


def repeating_swings(subj: Subject, slot: Slot,
                     min_amplitude: Annotated[Ratio, "x between the swing's low and high"] = 1.25,
                     relevance: Annotated[Fraction, "of the untrained loss"] = 0.02) -> Evidence | None:
    """The loss saw-tooths with a period, on top of its trend (autocorrelation of the detrended
    log-loss at the period of at least 0.5): batches that repeat in the same order. The swings
    must also move the loss visibly on a plot of the run (`relevance` of its untrained loss,
    in the loss's units over the whole run): a class-sorted loader shows while the loss is
    high even when the loss ends memorised, and swings of a loss already near 0 never show."""
    p = readings.periodic_swing(subj, slot)
    sh = readings.shape(subj, slot)
    if p is None or sh is None or p.amplitude < math.log(min_amplitude):
        return None
    if p.reach < relevance * sh.scale:
        return None  # swings of a memorised loss near 0: large in log terms, invisible on the run
    s = subj.series(slot)
    spacing = float(s.steps[-1] - s.steps[0]) / max(len(s) - 1, 1)
    return {"metric": s.name, "step": float(s.steps[0]), "end_step": float(s.steps[-1]),
            "period": p.period * spacing, "r": p.r, "swing": expo(p.amplitude) - 1}


def bounces(subj: Subject, slot: Slot, min_swing: Annotated[Ratio, "x from one point to the next"] = 1.1,
            relevance: Annotated[Fraction, "of the untrained loss"] = 0.02) -> Evidence | None:
    """Over its second half the curve moves by `min_swing` from point to point, up about as
    often as down, by a visible amount (`relevance` of where it started), and with no trend
    left -- or with one the swings dwarf: a median move of three times the trend's step per
    point goes up and down far more than it goes anywhere (a converging curve's moves are
    about its trend's step)."""
    sw = readings.swings(subj, slot)
    sh = readings.shape(subj, slot)
    if sw is None or sh is None or sw.swing < math.log(min_swing) or sw.up_share < 1 / 3:
        return None
    if sw.tail.falling() and sw.swing < 3 * abs(sw.tail.change) / max(sw.points - 1, 1):
        return None
    s = subj.series(slot)
    moved = sh.end * (expo(sw.swing) - 1)
    if moved < relevance * sh.scale:
        return None
    return {"metric": s.name, "step": float(s.steps[0]), "end_step": float(s.steps[-1]),
            "swing": expo(sw.swing) - 1, "up_share": sw.up_share, "tail_p": sw.tail.p,
            "tail_change": expo(sw.tail.change) - 1}


def val_moves_too(subj: Subject, share: Annotated[Fraction, "of the training loss's swing"] = 0.25,
                  relevance: Annotated[Fraction, "of the untrained loss"] = 0.02) -> Evidence | None:
    """The validation loss moves from point to point by at least `share` of what the training
    loss moves (median relative moves over the second halves), by a visible amount (`relevance`
    of its untrained loss, as `bounces` asks of the training loss), or there is too little
    validation to tell. Weights that swing move both curves (ratios of 0.5 to 6 measured on
    the labeled oscillations); a training curve that is a sample of batches bounces beside
    a validation loss that barely moves (0.00 to 0.05 of the training's swing on healthy
    runs thinned or epoch-averaged): a quarter lies between, by a factor of 2 on either side.
    Near a memorised loss the relative moves of both say nothing: a validation loss of 0.03
    moving 20% per evaluation moves 1% of its untrained 0.69, which no swinging weights do."""
    t, v = readings.swings(subj, "train_loss"), readings.swings(subj, "val_loss")
    if t is None:
        return None
    if v is None:
        return {}
    if v.swing < share * t.swing:
        return None
    sh = readings.shape(subj, "val_loss")
    if sh is not None and sh.end * (expo(v.swing) - 1) < relevance * sh.scale:
        return None
    return {"val_swing": expo(v.swing) - 1}


def per_step(subj: Subject) -> Evidence | None:
    """The training loss is a sample of batches (logged more often than the evaluations), not
    an epoch mean: its point-to-point noise is batch noise, which is normal (P23)."""
    return {} if readings.per_step(subj) else None
