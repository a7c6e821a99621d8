"""A training loss's events, named: a blow-up (divergence) or a transient spike.

Every excursion (`excursions`) is one of two things:
- a *blow-up* when it never came back down (still up at the end of the log, or it ran into
  NaN/Inf) and it matters at the scale of the run: the loss climbed at least back to where
  an untrained model started, or by at least half that start, or it was still rising at
  every logged point when it turned NaN/Inf (`_climbs_into`). Near a loss of ~0 (a
  memorised training set) log-scale climbs of 1e6-fold can be a move from 1e-7 to 0.1:
  not a blow-up of the run;
- a *spike* when it came back (or is on its way back: the last point is below half the
  excursion's height and not climbing again), at least tripled the loss (the batch noise
  of small batches makes 2-2.5x routine), moved it by at least 5% of the untrained loss
  (on a plot of the run a smaller move is invisible), and cleared the noise's tail
  (`_stands_out`). A spike the loss came back from only to turn NaN/Inf before it had been
  back as long as the spike lasted, having climbed above the untrained loss, is the
  blow-up's first sign (a blow-up into NaN at the spike's onset).
A climb into NaN/Inf that is neither is the NaN's *first sign*: the curve alone cannot tell a
NaN out of the blue (a log of 0) with one high point before it from a blow-up caught early;
the divergence rule reads it with the learning rate beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .excursions import MIN_FACTOR, Excursion, level_excursions, point_excursions
from .noise import expo, log_of, point_noise
from .trend import trend
from .undoing import left_lowest_level, split_z

SPIKE_FACTOR = math.log(3.0)
SPIKE_RELEVANCE = 0.05  # of the untrained (start) loss
BLOWUP_RELEVANCE = 0.5  # of the start loss: a climb of half the start, or back above it
TAIL_POINTS = 20  # the noise's tail a spike must clear: the jumps of the 20 points either side of it
LOCAL_POINTS = 20  # a point's local level: the median of the 20 before it (steady under a heavy tail)
# A level's noise is read off its last LEVEL_POINTS points: the median of ~100 second
# differences is within about 12% of the noise (1.25 / sqrt(100)), and a long log's history
# (its early descent, other regimes) is not the level's.
LEVEL_POINTS = 100
SAME_HEIGHT = math.log(1.5)  # heights within 1.5x are one height (an excursion is back within 1.5x)


@dataclass(frozen=True)
class Event:
    """An excursion with its verdict and the numbers a report needs (steps, loss units)."""

    kind: str  # "blow-up", "spike", or "first-sign" (a climb into NaN/Inf too small to be a blow-up)
    step: float  # where it started
    end_step: float | None  # where it came back (spikes), or where the log ends / turns NaN
    base: float  # the loss it rose from
    peak: float  # the highest finite loss of it (inf for a climb into NaN/Inf with no finite top)
    final: float  # the last finite loss of the log
    into_nonfinite: bool
    sigmas: float
    scale: float = 0.0  # the run's untrained loss, the yardstick of relevance
    back_step: float | None = None  # a blow-up that was back near its level here before turning NaN/Inf


def events_of(steps: np.ndarray, values: np.ndarray, attempts: tuple[float, ...] = ()) -> list[Event]:
    """Blow-ups and spikes of a loss curve, in step order; `values` keep their NaN/Inf."""
    finite = np.isfinite(values)
    if finite.sum() < 5:
        return []
    start = float(np.max(values[finite][:3]))  # the untrained loss: the run's scale
    cuts = [0, *np.searchsorted(steps, attempts, side="left").tolist(), steps.size]
    out: list[Event] = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        found = _attempt_events(steps[a:b], values[a:b], start)
        out += found if b == steps.size else [e for e in (_ended_by_restore(e, steps[b]) for e in found) if e]
    return out


def _ended_by_restore(e: Event, restart: float) -> Event | None:
    """An attempt's blow-up that the next attempt's restore ended: a spike when it is one's
    size, else nothing (a climb into NaN/Inf stays a blow-up: the NaN happened)."""
    if e.kind != "blow-up" or e.into_nonfinite:
        return e
    if math.log(e.peak / e.base) >= SPIKE_FACTOR and e.peak - e.base >= SPIKE_RELEVANCE * e.scale:
        return replace(e, kind="spike", end_step=restart)
    return None


def _attempt_events(steps: np.ndarray, values: np.ndarray, start: float) -> list[Event]:
    """The events of one attempt (or of a run that never restarted)."""
    y = log_of(values)
    finite = np.isfinite(y)
    if finite.sum() < 5:
        return []
    last = float(y[finite][-1])
    whole = point_noise(y)
    out = []
    points = point_excursions(steps, y)
    # Where the points that stood far above their own level are: the noise's tail a spike is
    # judged against is the rest of the run, not the other spikes.
    outliers = np.zeros(y.size, dtype=bool)
    for p in points:
        outliers[p.start:(p.end if p.end is not None else y.size)] = True
    judged = (_judge(e, steps, y, start, last, _climb_start(y, e, whole), outliers)
              for e in points + level_excursions(steps, y))
    # In onset order: when the point and the level view see one event, the view that saw the
    # climb begin earlier (the level's, through heavy noise) names it.
    for event in sorted((j for j in judged if j is not None), key=lambda j: j.step):
        if not any(_same(event, o) for o in out):
            out.append(_left_earlier(event, steps, values) if event.kind == "blow-up" else event)
    return out


def _left_earlier(e: Event, steps: np.ndarray, values: np.ndarray) -> Event:
    """A blow-up that rose from a level the loss had already shifted up to (a rate warmed up
    past stability: the loss at 0.4 settles at 1.3 for a hundred steps, then overflows) left
    its course at that shift, when the shift is a change point of its own (`undoing`'s test on
    the points before the blow-up): the climb starts there, from the lowest level."""
    before = (steps < e.step) & np.isfinite(values)
    u = left_lowest_level(steps[before], values[before])
    if u is None or u.step >= e.step:
        return e
    return replace(e, step=u.step, base=min(e.base, u.low))


def _climb_start(y: np.ndarray, e: Excursion, whole: float) -> int:
    """Where the climb began: just after the last point within the noise (3 sigma) of the level
    it rose from. An excursion is recognised once it is far up; the user needs where it left.
    The noise is the level's own, of the LEVEL_POINTS up to its last point at the level: after
    a blow-up the loss thrashes by factors from batch to batch, and that noise, taken for the
    level's, would hide a climb inside a band several times the level (the whole curve's only
    when fewer than four points came before)."""
    low = _last_at_or_below(y, e.start, e.base)
    before = point_noise(y[max(0, low + 1 - LEVEL_POINTS):low + 1]) if low is not None else float("nan")
    sigma = before if np.isfinite(before) else whole
    band = max(3 * sigma, math.log(1.25))  # a settled loss wobbles by up to a quarter
    i = e.start
    while i > 0 and (not np.isfinite(y[i - 1]) or y[i - 1] > e.base + band):
        i -= 1
    if low is not None and i > low + 1:
        i = _level_shift(y, e, low, i, e.base + band)
    return _past_lone_draws(y, i, e.peak, e.base + band)


def _last_at_or_below(y: np.ndarray, start: int, level: float) -> int | None:
    """The last index before `start` where y is at or below `level`, searched backwards in
    doubling blocks (on a long log it is nearly always close by; a whole-prefix scan for each
    of thousands of excursions would make the work quadratic)."""
    hi, width = start, LEVEL_POINTS
    while hi > 0:
        lo = max(0, hi - width)
        hit = np.flatnonzero(y[lo:hi] <= level)
        if hit.size:
            return int(lo + hit[-1])
        hi, width = lo, width * 2
    return None


def _past_lone_draws(y: np.ndarray, i: int, peak: int, top: float) -> int:
    """The onset moved past points that are only their level's own draws, standing alone.
    Batch noise is heavy-tailed: a MAD's 3 sigma leaves a batch just before a jump outside the
    band now and then (1.8x a level of 0.015 whose batches reach 2x), and the climb would
    start a batch early. A point that rose above its local level (the median of the
    LOCAL_POINTS before it) no more than one of the LEVEL_POINTS before it rose above theirs
    is a draw of the same noise; it is not the climb's start when the next point is back
    inside the band (`top`) or is the jump itself. Draws followed by draws above the band are
    a gradual climb (a rate restarted), and stay. The history is the level's own, the window
    its noise is read from (`_climb_start`): the highest of 20 draws sits near the noise's
    95th percentile, so one batch in 20 before a jump would start it early (2.1x a level of
    0.16 whose batches reach 2x, two steps before a bad shard); of 100, one in 100."""
    j = i
    while j < peak and _draw_of_level(y, j) and (y[j + 1] <= top or not _draw_of_level(y, j + 1)):
        j += 1
    return j


def _draw_of_level(y: np.ndarray, j: int) -> bool:
    height = _local_rise(y, j)
    if height is None:
        return False
    return any((r := _local_rise(y, m)) is not None and r >= height
               for m in range(max(LOCAL_POINTS, j - LEVEL_POINTS), j))


def _local_rise(y: np.ndarray, j: int) -> float | None:
    """How far point j stands above its local level (the median of the finite points among the
    LOCAL_POINTS before it); None when it is not finite or has fewer than 3 such points."""
    if not np.isfinite(y[j]):
        return None
    ref = y[max(0, j - LOCAL_POINTS):j]
    ref = ref[np.isfinite(ref)]
    return float(y[j] - np.median(ref)) if ref.size >= 3 else None


def _level_shift(y: np.ndarray, e: Excursion, low: int, onset: int, top: float) -> int:
    """In heavy noise the climb dips back into the band on its way up, and the walk back stops
    at the last dip; between the last point at the level (`low`) and that dip, the climb began
    where the curve's later points rank highest against its earlier ones (the change point
    of a rank statistic, which a few dips and jumps do not move as they move a mean), at a
    point that had itself left the band (above `top`)."""
    # The levels either side of the stretch in question: as many points again before and
    # after it, and a local level's LOCAL_POINTS more (not the whole history: the work stays
    # linear in the stretch, and an early descent does not weigh on a late shift).
    span = onset - low + LOCAL_POINTS
    a = max(0, low - span)
    stop = min(e.end if e.end is not None else y.size, onset + span)
    idx = a + np.flatnonzero(np.isfinite(y[a:stop]))
    if idx.size < 4:
        return onset
    k, z = split_z(y[idx])
    first = idx[k]  # the curve's index of each split's first later point
    inside = (first > low) & (first <= onset) & (y[first] > top)
    if not inside.any():
        return onset
    return int(first[inside][np.argmax(z[inside])])


def _judge(e: Excursion, steps: np.ndarray, y: np.ndarray, start: float, last: float,
           onset: int, outliers: np.ndarray) -> Event | None:
    base = expo(e.base)
    top = y[e.start : e.peak + 1]
    top = top[np.isfinite(top)]
    peak = expo(float(top.max())) if top.size else float("inf")
    end = None if e.end is None else float(steps[e.end])
    if not e.recovered:
        height = math.log(peak) - e.base if math.isfinite(peak) else float("inf")
        on_way_back = not e.nonfinite and _on_way_back(steps, y, e, height, start)
        # Seen above its base's noise band (from the climb's onset) at 3 logged points or more:
        # one or two high points at the end of a log may still be a spike on its way back.
        long_enough = e.nonfinite or int(np.isfinite(y[onset:]).sum()) >= 3
        # A climb that runs into NaN/Inf is a blow-up when it had undone the training first
        # (back above the untrained loss), or when it was still climbing, point after point,
        # as it overflowed; otherwise the NaN is the event, the rise its first sign.
        matters = (peak >= start or _climbs_into(y, onset, e.base)) if e.nonfinite else _undoes(peak, base, start)
        if not on_way_back and long_enough and matters:
            return Event("blow-up", float(steps[onset]), float(steps[-1]), base, peak, expo(last),
                         e.nonfinite, e.z, start)
        if e.nonfinite:
            # The NaN is the event and the rise its first sign -- unless something outside this
            # curve says otherwise (a learning rate growing into it: the divergence rule's call).
            return Event("first-sign", float(steps[onset]), float(steps[-1]), base, peak, expo(last),
                         True, e.z, start)
        if not on_way_back:
            return None
    if math.log(peak) - e.base >= SPIKE_FACTOR and peak - base >= SPIKE_RELEVANCE * start \
            and _stands_out(y, e, onset, math.log(peak), outliers):
        if e.recovered and _nonfinite_before_settling(y, onset, e.end) and peak >= start:
            # Back down for fewer points than the spike lasted, then NaN/Inf: the run never
            # came back from it; the spike was the blow-up's first sign.
            return Event("blow-up", float(steps[onset]), float(steps[-1]), base, peak, expo(last), True, e.z, start,
                         back_step=float(steps[e.end]))
        return Event("spike", float(steps[onset]), end, base, peak, expo(last), False, e.z, start)
    return None


def _climbs_into(y: np.ndarray, onset: int, base: float) -> bool:
    """The curve climbed into its NaN/Inf: two finite points or more from the climb's onset to
    the first non-finite one, each above the one before, the last at least twice the level
    it left. Weights that grow without bound raise the loss at every step until it overflows;
    a NaN out of the blue (a log of 0, a bad batch) may have one high point before it, not a
    climb (measured: every such NaN in the shipped and 33 regenerated sets had a point that
    came back down on its way, or a single one)."""
    finite = np.flatnonzero(np.isfinite(y[onset:]))
    if finite.size < 2 or finite[-1] != finite.size - 1:  # a gap of NaN/Inf inside: not one climb
        return False
    climb = y[onset:onset + finite.size]
    nan_next = onset + finite.size < y.size and not np.isfinite(y[onset + finite.size])
    return bool(nan_next and np.all(np.diff(climb) > 0) and climb[-1] - base >= MIN_FACTOR)


def _nonfinite_before_settling(y: np.ndarray, onset: int, back: int) -> bool:
    """The curve turns NaN/Inf within as many points after coming back (`back`) as the spike
    took from its onset to then: the time scale of the event itself, not a fixed count."""
    after = ~np.isfinite(y[back : back + (back - onset) + 1])
    return bool(after.any())


def _stands_out(y: np.ndarray, e: Excursion, onset: int, top: float, outliers: np.ndarray) -> bool:
    """The spike clears the noise's tail: a loss whose batches routinely jump that high (a
    memorised loss of ~0.005 with batches of 0.05) has a heavy tail, not a spike. The tail
    is read off the TAIL_POINTS before the onset (the largest of 20 draws sits near the
    noise's 95th percentile) and, for a single point, the TAIL_POINTS after it is back as
    well: the first draw of a heavy tail has no such draw before it, and the ones that follow
    show it (other points that stood out on their own, `outliers`, are other spikes, not the
    noise). A single point must rise above its local level (the median of the LOCAL_POINTS
    before it) by more than any of them rose above theirs; a level, which may stand on a
    rise that began before its onset, must top every one before it -- by more than 1.5x in
    both cases (heights within that are one height, as an excursion within 1.5x of its base
    is back)."""
    window = y[max(0, onset - TAIL_POINTS):onset]
    window = window[np.isfinite(window)]
    if e.kind != "point":
        return not window.size or top > float(window.max()) + SAME_HEIGHT
    before = y[max(0, onset - LOCAL_POINTS):onset]
    before = before[np.isfinite(before)]
    if before.size < 3:
        return True
    height = top - float(np.median(before))
    back = e.end if e.end is not None else y.size
    later = [j for j in range(back + 1, min(y.size, back + 1 + TAIL_POINTS)) if not outliers[j]]
    return not any((r := _local_rise(y, j)) is not None and r + SAME_HEIGHT >= height
                   for j in [*range(max(LOCAL_POINTS, onset - TAIL_POINTS), onset), *later])


def _on_way_back(steps: np.ndarray, y: np.ndarray, e: Excursion, height: float, start: float) -> bool:
    """The log ends while the excursion is coming down: below half its height, or at least a
    third of the way down from its peak and still falling at the last point. One point after
    the peak can show that (a 4.5x climb whose last point is back down 2x: a spike cut off by
    the end of the log, however often the logger wrote). Below half its height only while it
    does not climb again: a loss that fell from a 5e9 overflow to 1.9 and then rose 570x over
    the 11 epochs left is a second climb (a significant upward trend after the peak,
    Mann-Kendall p < 0.05), not a spike on its way back. Or, however far it still has to
    go, on a steady way back (`_coming_down`) to a level that does not settle."""
    ok = np.isfinite(y[e.peak:])
    after, at = y[e.peak:][ok], steps[e.peak:][ok]
    last = float(after[-1])
    if last - e.base < 0.5 * height:
        return not trend(at[1:], after[1:]).rising() and not _settled_undone(at[1:], after[1:], e.base, start)
    if after.size >= 2 and after[-1] < after[-2] and float(after[0]) - last >= height / 3:
        return True
    return _coming_down(at[1:], after[1:]) and not _settled_undone(at[1:], after[1:], e.base, start)


def _coming_down(at: np.ndarray, after: np.ndarray) -> bool:
    """The points after the peak fall (Mann-Kendall, p < 0.05), and so do the last half of
    them (beyond their own noise where they are too few for the test): the log ends while the
    loss is on a steady way back, however far it still has to go. A model knocked back by a
    corrupted batch re-learns at its own pace; a run cut off early in that is a spike. Six
    points at least: the fewest whose test at p < 0.05 still lets one of them be out of order
    (a strictly falling five would say as much as one noisy draw can spoil)."""
    if after.size < 6:
        return False
    h = after.size // 2
    return trend(at, after).falling() and trend(at[h:], after[h:]).falling(noise=point_noise(after))


def _settled_undone(at: np.ndarray, after: np.ndarray, base: float, start: float) -> bool:
    """After its peak the loss came down to a level and stayed there, a level that undoes the
    training by a blow-up's measure (back up by half the untrained loss, or above it): the last
    third of the points after the peak (5 or more) no longer falls (Mann-Kendall) and sits
    there. A loss that fell from 2.7e6 back to the untrained 1.5 and sat there for 20 points
    has arrived (its training undone), not on its way back to 0.12; one that fell from 137 to
    0.04, four times its 0.01 before but far below the untrained 1.44, was dented by a spike."""
    k = after.size // 3
    if k < 5:
        return False
    tail_at, tail = at[-k:], after[-k:]
    return _undoes(expo(float(np.median(tail))), expo(base), start) and not trend(tail_at, tail).falling()


def _undoes(level: float, base: float, start: float) -> bool:
    """A level that matters at the scale of the run (loss units): back at the untrained loss
    `start` or above, or up from `base` by BLOWUP_RELEVANCE of it."""
    return level >= start or level - base >= BLOWUP_RELEVANCE * start


def _same(a: Event, b: Event) -> bool:
    """The point and the level view of one event (they start within each other's span)."""
    if a.kind != b.kind:
        return False
    a_end = a.end_step if a.end_step is not None else float("inf")
    b_end = b.end_step if b.end_step is not None else float("inf")
    return a.step <= b_end and b.step <= a_end
