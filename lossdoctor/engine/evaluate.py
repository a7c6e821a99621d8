"""The rule engine: evaluates each rule's `when:` tree over the subjects of a run.

Rules never stamp their own id or severity: the engine does, from the (possibly
overridden) Rule, so a project config can change both without touching rule files.
"""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..frame import Run
from ..roles import Roles
from .conditions import All, Call, Node, Not
from .predicates import Evidence
from .ruleset import Remedy, Rule
from .subject import Subject, pair_subjects, series_subjects
from .template import MissingField, render


def evaluate_rules(run: Run, roles: Roles, rules: list[Rule]) -> list[Finding]:
    """Every finding of every rule on every subject of the run, worst first."""
    pairs = pair_subjects(run, roles)  # the main subject is pairs[0]: one set of answers
    by_kind = {"main": pairs[:1], "pair": pairs, "series": series_subjects(run, roles)}
    findings = []
    # Ratios of extreme logged values (1e300 / 1e-300) overflow to +-inf, which the
    # predicates compare correctly: that is not worth a warning on the user's terminal.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for rule in rules:
            for subj in by_kind[rule.for_each]:
                evidence = holds(rule.when, subj)
                if evidence is not None:
                    findings.append(make_finding(rule, subj, evidence))
    return sorted(findings)


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


def make_finding(rule: Rule, subj: Subject, evidence: Evidence) -> Finding:
    """Stamp id/severity, add context numbers (lr at the step), fill message and remedies."""
    ev = dict(evidence)
    metric = ev.pop("metric", None) or _default_metric(subj)
    step, end_step = ev.pop("step", None), ev.pop("end_step", None)
    _add_lr(ev, subj, step)
    values = {**ev, "metric": metric, "step": step, "end_step": end_step, "pair": subj.label}
    message = next((m for m in (_fill(t, values) for t in rule.messages) if m), rule.title)
    remedies = tuple(r for r in (_remedy(rm, values) for rm in rule.remedies) if r)
    summary = (_fill(rule.summary, values) if rule.summary else None) or _summary(rule, metric, step)
    key = (-int(rule.severity), step if step is not None else float("inf"))
    return Finding(key, rule.id, rule.severity, rule.title, message, metric, step, end_step,
                   ev, remedies, rule.knowledge, summary)


def _summary(rule: Rule, metric: str | None, step: float | None) -> str:
    """A rule without its own `summary:`: `train_loss: loss diverges at step 499`."""
    text = f"{metric}: {rule.title[:1].lower()}{rule.title[1:]}" if metric else rule.title
    return text + (f" at step {render('{step}', {'step': step})}" if step is not None else "")


def _default_metric(subj: Subject) -> str | None:
    for slot in ("series", "train_loss", "val_loss"):
        s = subj.series(slot)
        if s is not None:
            return s.name
    return None


def _add_lr(ev: Evidence, subj: Subject, step: float | None) -> None:
    lr = subj.curve("lr")
    if lr is None or lr.n == 0 or "lr" in ev:
        return
    at = lr.value_near(step if step is not None else lr.steps[-1])
    if at is not None and at > 0:
        ev["lr"], ev["lr_low"] = at, at / 10


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
