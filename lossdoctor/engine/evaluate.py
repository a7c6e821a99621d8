"""The rule engine: evaluates each rule's `when:` tree over the subjects of a run.

Rules never stamp their own id or severity: the engine does, from the (possibly
overridden) Rule, so a project config can change both without touching rule files.
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..frame import Run
from ..roles import Roles
from .. import numfmt
from ..numbering import Numbering
from .conditions import All, Call, Node, Not
from .predicates import Evidence
from .ruleset import Remedy, Rule
from .subject import Curve, Subject, pair_subjects, series_subjects
from .template import MissingField, render


def evaluate_rules(run: Run, roles: Roles, rules: list[Rule], numbering: Numbering | None = None) -> list[Finding]:
    """Every finding of every rule on every subject of the run, worst first. `numbering`: how
    the run's tool counts (steps or epochs, its checkpoints' names, the configured rate)."""
    numbering = numbering or Numbering()
    pairs = pair_subjects(run, roles)  # the main subject is pairs[0]: one set of answers
    by_kind = {"main": pairs[:1], "pair": pairs, "series": series_subjects(run, roles)}
    findings = []
    # Ratios of extreme logged values (1e300 / 1e-300) overflow to +-inf, which the
    # predicates compare correctly: that is not worth a warning on the user's terminal.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for rule in rules:
            for subj in by_kind[rule.for_each]:
                finding = _reading(rule, subj, numbering)
                if finding is not None:
                    findings.append(finding)
    return sorted(findings)


def _reading(rule: Rule, subj: Subject, numbering: Numbering) -> Finding | None:
    """The rule's finding on the subject: its full reading, else its milder one, else none."""
    evidence = holds(rule.when, subj)
    if evidence is not None:
        return make_finding(rule, subj, evidence, numbering)
    if rule.milder is not None and (evidence := holds(rule.milder.when, subj)) is not None:
        return make_finding(rule.as_milder(), subj, evidence, numbering)
    return None


def holds(node: Node, subj: Subject) -> Evidence | None:
    """Evidence when the condition holds on the subject, None when it does not.

    Predicates are pure, and several rules ask the same question of one subject (is this
    curve diverging? still falling?), so each answer is memoised on the subject.
    """
    if type(node) is Call:
        answers, key = subj.answers, node.key
        if key not in answers:
            answers[key] = node.fn(subj, **node.kwargs)
        return answers[key]
    if type(node) is All:
        merged: Evidence = {}
        for child in node.children:
            ev = holds(child, subj)
            if ev is None:
                return None
            for k, v in ev.items():
                merged.setdefault(k, v)
        return merged
    if type(node) is Not:
        return {} if holds(node.child, subj) is None else None
    return next((ev for ev in (holds(c, subj) for c in node.children) if ev is not None), None)  # Any


def make_finding(rule: Rule, subj: Subject, evidence: Evidence, numbering: Numbering | None = None) -> Finding:
    """Stamp id/severity, add context numbers (lr at the step), fill message and remedies."""
    numbering = numbering or Numbering()
    ev = dict(evidence)
    metric = ev.pop("metric", None) or _default_metric(subj)
    # Steps as the log wrote them: a position the frame spread between two logged steps is not one.
    for k in [k for k, v in ev.items() if _is_step(k) and isinstance(v, (int, float))]:
        ev[k] = numbering.logged_step(ev[k])
    step, end_step = ev.pop("step", None), ev.pop("end_step", None)
    _add_lr(ev, subj, step, numbering)
    values = {**ev, **_words(ev, step, numbering), "metric": metric, "step": step, "end_step": end_step,
              "pair": subj.label}
    message = next((m for m in (_fill(t, values) for t in rule.messages) if m), rule.title)
    remedies = tuple(r for r in (_remedy(rm, values) for rm in rule.remedies) if r)
    summary = (_fill(rule.summary, values) if rule.summary else None) or _summary(rule, metric, step, numbering)
    key = (-int(rule.severity), step if step is not None else float("inf"))
    return Finding(key, rule.id, rule.severity, rule.title, message, metric, step, end_step,
                   ev, remedies, rule.knowledge, summary, numbering.axis)


def _is_step(key: str) -> bool:
    """An evidence field that holds a step (`step`, `best_step`, `lr_since`, ...)."""
    return key == "step" or key.endswith("_step") or key == "lr_since"


def _words(ev: Evidence, step: float | None, numbering: Numbering) -> dict[str, str]:
    """The phrases templates may use besides the numbers (never part of the evidence):
    `{at}` "step 1,000" / "epoch 3", and for every other step field `{X_step}` (and
    `lr_since`) its phrase `{X_at}` (`{best_at}`, `{back_at}` where a blow-up was back near its
    level before it turned NaN/Inf, ...), `{keep}` the checkpoint of the best evaluation as
    the user's tool names it, `{restart}` where to restart from before the event,
    `{lr_said}` the rate to lower (as configured, or the logged peak) with its value at the
    event when that differs."""
    words: dict[str, str] = {}
    if step is not None:
        words["at"], words["restart"] = numbering.at(step), numbering.restart(step)
    for key, value in ev.items():
        if _is_step(key) and key != "end_step" and isinstance(value, (int, float)):
            name = key.removesuffix("_step") + "_at" if key.endswith("_step") else key + "_at"
            if name not in ev:  # a number of that name (`lr_at`, the rate at the event) stays
                words[name] = numbering.at(value)
    best = ev.get("best_step")
    if isinstance(best, (int, float)):
        words["keep"] = numbering.keep(best)
    if "lr" in ev:
        words["lr_said"] = _lr_said(ev, step, numbering)
    return words


def _lr_said(ev: Evidence, step: float | None, numbering: Numbering) -> str:
    """`3e-05 (as configured; 2.01e-05 at step 800)`: the rate to change, and the one the
    schedule had reached at the event when that differs."""
    lr, at = ev["lr"], ev.get("lr_at")
    parts = [str(ev["lr_source"])] if ev.get("lr_source") else []
    if at is not None and step is not None and abs(at - lr) > 1e-3 * lr:
        parts.append(f"{numfmt.value(at, '.3g')} at {numbering.at(step)}")
    return numfmt.value(lr, ".3g") + (f" ({'; '.join(parts)})" if parts else "")


def _summary(rule: Rule, metric: str | None, step: float | None, numbering: Numbering) -> str:
    """A rule without its own `summary:`: `train_loss: loss diverges at step 499`."""
    text = f"{metric}: {rule.title[:1].lower()}{rule.title[1:]}" if metric else rule.title
    return text + (f" at {numbering.at(step)}" if step is not None else "")


def _default_metric(subj: Subject) -> str | None:
    for slot in ("series", "train_loss", "val_loss"):
        s = subj.series(slot)
        if s is not None:
            return s.name
    return None


def _add_lr(ev: Evidence, subj: Subject, step: float | None, numbering: Numbering) -> None:
    """`lr`: the rate the user set (their run's config, else the logged peak: a schedule's
    warm-up target), not the decayed value at the event, which `lr_at` keeps."""
    if "lr" in ev:
        return
    lr = subj.curve("lr")
    at = None
    if lr is not None and lr.n:
        at = lr.value_near(step if step is not None else lr.steps[-1])
    configured = numbering.configured_lr
    if configured is not None:
        ev["lr"], ev["lr_source"] = configured, "as configured"
    elif (peak := _peak(lr, numbering, _trained_until(subj, lr, step))) is not None:
        ev["lr"] = peak
        if at is not None and abs(at - peak) > 1e-3 * peak:
            ev["lr_source"] = "its logged peak"
    else:
        return
    ev["lr_low"] = ev["lr"] / 10
    if at is not None and at > 0:
        ev["lr_at"] = at


def _peak(lr: Curve | None, numbering: Numbering, until: float | None = None) -> float | None:
    """The highest logged rate: of the subject's lr curve up to `until` (a schedule that
    went on climbing after the loss turned NaN -- a decay factor typed as 1.8 -- logs rates
    nothing trained at), else the run's (a finding on one loss series on its own still
    concerns the run's optimiser)."""
    values = lr.values if lr is not None else np.zeros(0)
    if lr is not None and until is not None:
        values = lr.values[lr.steps <= until]
    peak = float(np.max(values)) if values.size else numbering.peak_lr
    return peak if peak is not None and np.isfinite(peak) and peak > 0 else None


def _trained_until(subj: Subject, lr: Curve | None, step: float | None) -> float | None:
    """Up to where the logged rates are ones the run trained at, to read a peak from: the first
    NaN/Inf of the training loss (`_dead_from`), and, under a rate that grows to the end of the
    log (a decay factor typed as 1.8, a range test), the event itself: 708 logged after a
    blow-up at 0.34 is not the rate to lower from. A warm-up's peak stays the peak, held or
    decayed from: the rate the user set."""
    until = _dead_from(subj)
    if lr is None or not lr.n or step is None:
        return until
    # Still climbing at the end: the last rate above the one at 90% of the logged span (a
    # warm-up that holds its peak is flat there).
    first, last = float(lr.steps[0]), float(lr.steps[-1])
    growing = lr.n >= 3 and float(lr.values[-1]) > 1.05 * lr.value_near(first + 0.9 * (last - first))
    if growing and last > step:
        until = step if until is None else min(until, step)
    return until


def _dead_from(subj: Subject) -> float | None:
    """The first step at which the training loss is NaN/Inf, after which the run trained nothing."""
    s = subj.series("train_loss")
    if s is None:
        return None
    bad = np.flatnonzero(~np.isfinite(s.values))
    return float(s.steps[bad[0]]) if bad.size else None


def _fill(text: str, values: dict[str, object]) -> str | None:
    try:
        return render(text, values)
    except MissingField:
        return None


def _remedy(remedy: Remedy, values: dict[str, object]) -> str | None:
    text = _fill(remedy.text, values)
    if text is None and remedy.fallback:
        text = _fill(remedy.fallback, values)
    return text
