"""The rule engine: evaluates each rule's `when:` tree over the subjects of a run.

Rules never stamp their own id or severity: the engine does, from the (possibly
overridden) Rule, so a project config can change both without touching rule files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding
from ..frame import Run
from .predicates import PREDICATES, Evidence
from ..roles import Roles
from .ruleset import Rule
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
            when = compiled(rule)
            for subj in by_kind[rule.for_each]:
                evidence = _holds(when, subj)
                if evidence is not None:
                    findings.append(make_finding(rule, subj, evidence))
    return sorted(findings)


# A `when:` tree with its `$param`s filled in and each predicate call's arguments and memo
# key worked out: ("all", [nodes]), ("any", [nodes]), ("not", node) or ("call", fn, kwargs, key).
Node = tuple


def compile_when(node: Any, params: dict[str, Any]) -> Node:
    """Resolve a rule's `when:` tree once, so evaluating it on a subject does no parsing."""
    if isinstance(node, str):
        node = {node: {}}
    (key, arg), = node.items()
    if key in ("all", "any"):
        return key, [compile_when(child, params) for child in arg]
    if key == "not":
        return key, compile_when(arg, params)
    pred = PREDICATES[key]
    kwargs = {k: p.default for k, p in pred.params.items()}
    for k, v in (arg or {}).items():
        kwargs[k] = params[v[1:]] if isinstance(v, str) and v.startswith("$") else v
    return "call", pred.fn, kwargs, (key, repr(sorted(kwargs.items())))


_COMPILED: dict[int, tuple[Rule, Node]] = {}  # by id(rule); holding the rule keeps its id unique


def compiled(rule: Rule) -> Node:
    """The rule's compiled `when:` tree, worked out once per rule per process."""
    hit = _COMPILED.get(id(rule))
    if hit is None or hit[0] is not rule:
        if len(_COMPILED) > 4096:  # rules loaded over and over (tests): start afresh
            _COMPILED.clear()
        hit = _COMPILED[id(rule)] = (rule, compile_when(rule.when, rule.params))
    return hit[1]


def _holds(node: Node, subj: Subject) -> Evidence | None:
    """Evidence when the compiled condition holds on the subject, None when it does not.

    Predicates are pure, and several rules ask the same question of one subject (is this
    curve diverging? still falling?), so each answer is memoised on the subject.
    """
    kind = node[0]
    if kind == "call":
        _, fn, kwargs, key = node
        answers = subj.answers
        if key not in answers:
            answers[key] = fn(subj, **kwargs)
        return answers[key]
    if kind == "all":
        merged: Evidence = {}
        for child in node[1]:
            ev = _holds(child, subj)
            if ev is None:
                return None
            for k, v in ev.items():
                merged.setdefault(k, v)
        return merged
    if kind == "any":
        return next((ev for ev in (_holds(c, subj) for c in node[1]) if ev is not None), None)
    return {} if _holds(node[1], subj) is None else None


def make_finding(rule: Rule, subj: Subject, evidence: Evidence) -> Finding:
    """Stamp id/severity, add context numbers (lr at the step), fill message and remedies."""
    ev = dict(evidence)
    metric = ev.pop("metric", None) or _default_metric(subj)
    step, end_step = ev.pop("step", None), ev.pop("end_step", None)
    _add_lr(ev, subj, step)
    values = {**ev, "metric": metric, "step": step, "end_step": end_step, "pair": subj.label}
    message = next((m for m in (_fill(t, values) for t in rule.messages) if m), rule.title)
    remedies = tuple(r for r in (_remedy(rm, values) for rm in rule.remedies) if r)
    key = (-int(rule.severity), step if step is not None else float("inf"))
    return Finding(key, rule.id, rule.severity, rule.title, message, metric, step, end_step,
                   ev, remedies, rule.knowledge)


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


def _fill(text: str, values: dict[str, Any]) -> str | None:
    try:
        return render(text, values)
    except MissingField:
        return None


def _remedy(remedy: Any, values: dict[str, Any]) -> str | None:
    text = _fill(remedy.text, values)
    if text is None and remedy.fallback:
        text = _fill(remedy.fallback, values)
    return text
