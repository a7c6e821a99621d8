"""The readings of a subject's curves (`lossdoctor.curves`), worked out once per subject.

Several rules ask the same question of one curve (its events, its shape, its best
evaluation); the answers are kept in the subject's memo (`Subject.answers`), beside the
predicates' own, so a diagnosis computes each reading once however many rules read it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .curves import events as ev
from .curves import best as best_mod
from .curves import gap as gap_mod
from .curves import levels, loss_scaling, periodic, schedule, shape as shape_mod, swings as swings_mod
from .curves import counts, undoing as undoing_mod
from .curves.noise import log_of
from .subject import Subject
from ..roles import names_regression, skips_inside_steps


def _memo(subj: Subject, key: tuple, compute: Callable[[], Any]) -> Any:
    key = ("reading",) + key
    if key not in subj.answers:
        subj.answers[key] = compute()
    return subj.answers[key]


def events(subj: Subject, slot: str) -> list[ev.Event]:
    """Blow-ups and spikes of the loss in `slot` (NaN/Inf kept: a climb into them is a blow-up),
    attempt by attempt when the run restarted."""
    s = subj.series(slot)
    return [] if s is None else _memo(subj, ("events", slot), lambda: ev.events_of(s.steps, s.values, s.attempts))


def undoing(subj: Subject) -> undoing_mod.Undoing | None:
    """The training loss's shift up to a level at or above the untrained loss, for good (one
    attempt only: a restored run's attempts are judged by their events)."""
    s, sh = subj.series("train_loss"), shape(subj, "train_loss")
    if s is None or sh is None or s.attempts:
        return None
    return _memo(subj, ("undoing",), lambda: undoing_mod.undoing(s.steps, s.values, sh.scale))


def shape(subj: Subject, slot: str) -> shape_mod.Shape | None:
    s = subj.series(slot)
    return None if s is None else _memo(subj, ("shape", slot), lambda: shape_mod.shape_of(s.steps, s.values))


def best(subj: Subject) -> best_mod.Best | None:
    """The validation loss's best evaluation and what came after it."""
    s = subj.series("val_loss")
    return None if s is None else _memo(subj, ("best",), lambda: best_mod.best_and_after(s.steps, log_of(s.values)))


def comparable(subj: Subject) -> bool:
    """Train and validation are logged on one x-axis over about the same span: a per-step
    training loss beside a per-epoch validation loss (steps 0..4000 vs epochs 0..99) cannot
    be compared point by point."""
    t, v = subj.series("train_loss"), subj.series("val_loss")
    if t is None or v is None or not len(t) or not len(v) or t.axis != v.axis:
        return False
    origin = min(float(t.steps[0]), float(v.steps[0]))  # spans from a common origin: offsets cancel
    t_end, v_end = float(t.steps[-1]) - origin, float(v.steps[-1]) - origin
    return t_end <= 0 or v_end <= 0 or 0.5 <= v_end / t_end <= 2.0


def gap(subj: Subject) -> gap_mod.Gap | None:
    t, v = subj.series("train_loss"), subj.series("val_loss")
    if t is None or v is None or not comparable(subj):
        return None
    return _memo(subj, ("gap",), lambda: gap_mod.aligned_gap(t.steps, t.values, v.steps, v.values))


def swings(subj: Subject, slot: str) -> swings_mod.Swings | None:
    s = subj.series(slot)
    return None if s is None else _memo(subj, ("swings", slot), lambda: swings_mod.swings(s.steps, log_of(s.values)))


def periodic_swing(subj: Subject, slot: str) -> periodic.Periodic | None:
    s = subj.series(slot)
    return None if s is None else _memo(subj, ("periodic", slot),
                                        lambda: periodic.periodic_swing(s.steps, log_of(s.values)))


def collapse(subj: Subject) -> schedule.Collapse | None:
    """The learning rate's collapse, over the span the losses cover."""
    lr = subj.series("lr")
    if lr is None:
        return None
    ends = [float(s.steps[-1]) for s in (subj.series("train_loss"), subj.series("val_loss")) if s is not None and len(s)]
    return _memo(subj, ("collapse",), lambda: schedule.collapse(lr.steps, lr.values, max(ends, default=None)))


def classes(subj: Subject) -> int | None:
    """The number of classes a classifier's initial loss says (ln C), when the run shows it is
    one: an accuracy is logged, or C is 2-4 (whose ln C are far enough apart to tell from a
    loss alone; from 5 on, every loss lies within a few percent of some ln C), and its losses
    are not named as a regression or reconstruction objective."""
    return _memo(subj, ("classes",), lambda: _classes(subj))


def _classes(subj: Subject) -> int | None:
    train, val = subj.series("train_loss"), subj.series("val_loss")
    main = train or val
    if main is None or is_regression(subj):
        return None
    finite = main.values[np.isfinite(main.values)]
    if finite.size < 3:
        return None
    start = float(np.max(finite[:3]))  # the untrained model's loss: the highest of the first points
    accuracy = subj.series("val_acc") is not None or subj.series("train_acc") is not None
    c = levels.classes_from_loss(start, tolerance=0.1)
    if c is not None and (accuracy or c <= 4):
        return c
    # A start off ln C (an initialisation that does not output uniform probabilities) can
    # still end exactly at ln C: within 1%, for C up to 10 with an accuracy, up to 4 without.
    end = float(np.median(finite[-max(3, finite.size // 10):]))
    c = levels.classes_from_loss(end, tolerance=0.01)
    return c if c is not None and c <= (10 if accuracy else 4) else None


def chance_classes(subj: Subject) -> int | None:
    """The number of classes an accuracy is at chance against (1/C): the loss's (`classes`),
    else the one an untrained classifier's accuracy shows: its first three evaluations
    (validation, else training) each within 10% of one 1/C (`levels.classes_from_accuracy`),
    a model that had not started to learn. (One low first value is not enough: an evaluation
    after some learning can sit near 1/C' for a smaller C', and climbs from there. The 10% is
    tighter than the binomial noise of a few hundred samples: a noisy start reads "cannot
    say" rather than a wrong C.) The accuracy's C says nothing of the loss's units (a loss
    summed over a batch, or logged in other units, is not at ln C): it anchors accuracies only."""
    return _memo(subj, ("chance_classes",), lambda: _chance_classes(subj))


def _chance_classes(subj: Subject) -> int | None:
    c = classes(subj)
    if c is not None:
        return c
    acc = subj.series(accuracy_slot(subj))
    if acc is None or is_regression(subj):
        return None
    a = levels.as_fraction(acc.values[np.isfinite(acc.values)])[:3]
    return levels.classes_from_accuracy(a) if a.size == 3 else None


def accuracy_slot(subj: Subject) -> str:
    """The accuracy a chance reading looks at: the validation one, else the training one."""
    return "val_acc" if subj.series("val_acc") is not None else "train_acc"


def is_regression(subj: Subject) -> bool:
    """A loss of the subject is named as a regression or reconstruction objective: no classes."""
    return any(s is not None and names_regression(s.name) for s in (subj.series("train_loss"), subj.series("val_loss")))



def evaluated_on(subj: Subject, slot: str) -> int | None:
    """How many samples the accuracy in `slot` was measured on (see curves.counts), or None."""
    s = subj.series(slot)
    return None if s is None else _memo(subj, ("evaluated_on", slot), lambda: counts.evaluated_on(s.values))


def resumed(subj: Subject, slot: str) -> bool:
    """The log of `slot` does not start at an untrained model: a restart was seen inside it,
    or it begins after more steps than it covers (a run resumed from a checkpoint) and not as
    an untrained model does: at a classifier's untrained loss, or falling within its first
    points, or never moving at all (frozen weights train nothing to resume)."""
    s = subj.series(slot)
    if s is None or not len(s):
        return False
    if s.resumed:
        return True
    first, span = float(s.steps[0]), float(s.steps[-1] - s.steps[0])
    if not (span > 0 and first > span):
        return False
    # A log that starts late but at a classifier's untrained loss (ln C), or with the first
    # drop of an untrained model, did start fresh: the step counter was offset, not the
    # training resumed.
    y = log_of(s.values)
    ok = np.isfinite(y)
    if shape_mod.falls_at_once(s.values[ok], y[ok]) or _frozen(s.values[ok]):
        return False
    return classes(subj) is None


# A loss that moves by less than this share of itself over its whole log never moved: float32
# sums of one epoch's batch losses taken in another order differ by ~1e-6 at 10^4 batches,
# while a model that trains moves its loss by its batch noise (1e-3 and more) even when converged.
FROZEN = 1e-5


def _frozen(values: np.ndarray) -> bool:
    """Every point of the log is one value (up to float rounding): the weights never moved,
    whatever step the log starts at -- nothing was resumed because nothing trained."""
    if values.size < 2:
        return False
    level = float(np.median(np.abs(values)))
    return level > 0 and float(np.ptp(values)) <= FROZEN * level


def per_step(subj: Subject) -> bool:
    """The training loss is a sample of batches (logged more often than evaluations, or with
    no evaluations at all), not an epoch mean. Without evaluations nothing in the numbers
    tells a batch sample from an epoch mean (the x-axis's name is the logger's choice: the
    same log read with its axis named `epoch` or with none must read the same), and with no
    validation curve to move with it a bouncing training loss is taken as a sample (P23)."""
    t, v = subj.series("train_loss"), subj.series("val_loss")
    if t is None:
        return False
    if v is None or len(v) < 2:
        return True
    return len(t) >= 1.25 * len(v)  # an epoch mean comes once per evaluation, a batch sample more often


def skips(subj: Subject) -> loss_scaling.Skips | None:
    """The share of optimizer steps skipped (fp16 overflows), from the skip counter."""
    s = subj.series("skipped_steps")
    if s is None:
        return None
    return _memo(subj, ("skips",), lambda: loss_scaling.skipped_steps(s.steps, s.values, skips_inside_steps(s.name)))


def scale_drops(subj: Subject) -> loss_scaling.Drops | None:
    """Where the fp16 loss scale halved (or worse)."""
    s = subj.series("loss_scale")
    return None if s is None else _memo(subj, ("scale",), lambda: loss_scaling.scale_drops(s.steps, s.values))
