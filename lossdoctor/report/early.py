"""Early stopping after the fact, for a report: the replay of a diagnosed run's curves and
the sentences that say what each criterion would have saved and given up."""

from __future__ import annotations

from typing import Any

from .. import numfmt
from ..early_stop import EarlyStopping, analyse
from ..findings import Diagnosis
from ..frame import as_logged


def replay(diag: Diagnosis) -> EarlyStopping | None:
    """The replay of this run's validation curve (None without one, or with too few points)."""
    val = diag.curves.get("val_loss")
    if diag.error or val is None or len(val) == 0:
        return None
    train = diag.curves.get("train_loss")
    last = max(float(as_logged(s.steps[-1], s.logged)) for s in diag.curves.values() if len(s))
    return analyse(val.steps, val.values, None if train is None else train.steps,
                   None if train is None else train.values, last)


def as_json(es: EarlyStopping | None) -> dict[str, Any] | None:
    """The replay as JSON (numbers rounded as every JSON number is)."""
    if es is None:
        return None
    doc = es.to_dict()
    for key in ("best",):
        doc[key] = numfmt.json_number(doc[key])
    doc["best_step"], doc["last_step"] = numfmt.json_step(doc["best_step"]), numfmt.json_step(doc["last_step"])
    for stop in doc["stops"]:
        stop["step"] = numfmt.json_step(stop["step"])
        for key in ("saved", "best_at_stop", "given_up"):
            stop[key] = numfmt.json_number(stop[key])
    return doc


def axis(diag: Diagnosis) -> str:
    """What the validation curve's x counts (step, epoch): the words of the replay."""
    val = diag.curves.get("val_loss")
    return getattr(val, "axis", "step") if val is not None else "step"


def rows(es: EarlyStopping, unit: str = "step") -> list[tuple[str, str, str, str]]:
    """(criterion, where it stops, what it saves, what it gives up) per criterion."""
    out = []
    for s in es.stops:
        if s.step is None:
            out.append((s.label, "would not have stopped", "", ""))
            continue
        given = "nothing" if not s.given_up else \
            f"{numfmt.significant(s.given_up)} (best then {numfmt.significant(s.best_at_stop)})"
        saves = f"{numfmt.percent(s.saved)} of the {unit}s" if s.saved else "nothing (the end of the run)"
        out.append((s.label, f"{unit} {numfmt.step(s.step)}", saves, given))
    return out


def lines(es: EarlyStopping, unit: str = "step") -> list[str]:
    """One line per criterion that stops (`patience 5  step 900: saves 58% of the steps, gives
    up nothing`), then one line naming those that would not have stopped."""
    stopped = [r for r in rows(es, unit) if r[2]]
    width = max((len(r[0]) for r in stopped), default=0)
    out = [f"{label:<{width}}  {at}: saves {saves}, gives up {given}" for label, at, saves, given in stopped]
    never = [r[0] for r in rows(es, unit) if not r[2]]
    return out + ([f"would not have stopped: {', '.join(never)}"] if never else [])


def heading(es: EarlyStopping, unit: str = "step") -> str:
    """`early stopping (best val 0.2317 at step 800, 12 evaluations):`"""
    return (f"early stopping, after the fact (best val {numfmt.significant(es.best)} at {unit} "
            f"{numfmt.step(es.best_step)}, {numfmt.plural(es.evaluations, 'evaluation')}):")
