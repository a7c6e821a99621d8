"""What every framework callback shares: collect logged numbers, judge them now and then,
say what is new, decide whether to stop.

A callback hands `record(step, logs)` whatever its framework logged (the numbers a log file
would have held) and asks `due(step)` whether to judge now. A judgement builds a Run from
everything recorded and diagnoses it with the same Settings as the command line
(`lossdoctor.load_settings(config)`), then reports the findings that appeared or resolved
since the last one (`watch.tracker`). `stop_for(changes)` names the new finding that
`stop_on` says must end training.

How often to judge: every `every` steps when given. By default (`every=None`) the
callback keeps its own cost under `budget` of the training's wall time: a judgement
that took d seconds is followed by the next one no sooner than d / budget seconds later
(0.25% by default: with the per-step recording, about 2 us, the overhead stays under 1%
of the step time even for a model whose step takes a millisecond or two; see
benchmarks/bench_watch.py). A NaN is then seen within d / budget seconds of training:
a judgement takes 1-3 ms up to a few thousand points, so within about a second. Frameworks that train on several processes must decide to stop
together, so they judge every `every` steps, a count all processes agree on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..diagnose import diagnose_run
from ..errors import LossdoctorError
from ..findings import Diagnosis, Finding, Severity
from ..frame import Run, make_series
from ..sources.columns import is_counter
from ..watch.tracker import Changes, Tracker

BUDGET = 0.0025  # share of the wall time the judgements may take when `every` is not given
FIRST_AFTER = 8  # steps recorded before the first judgement: the rules need that many points
DISTRIBUTED_EVERY = 100  # steps between judgements when several processes must agree


class Judged:
    """A callback's live findings and diagnosis, read from its LiveJudge (`self.judge`)."""

    judge: "LiveJudge"

    @property
    def findings(self) -> list:
        return self.judge.findings

    @property
    def diagnosis(self) -> Any:
        return self.judge.diagnosis


def parse_stop_on(stop_on: str | Iterable[str] | None, known: set[str]) -> tuple[Severity | None, frozenset[str]]:
    """`"error"`/`"warning"`/`"info"`, rule ids (a list or `"a,b"`), or None/`"never"` (never stop)."""
    if stop_on is None or stop_on == "never":
        return None, frozenset()
    if isinstance(stop_on, str):
        try:
            return Severity.parse(stop_on), frozenset()
        except ValueError:
            stop_on = [s.strip() for s in stop_on.split(",") if s.strip()]
    ids = frozenset(stop_on)
    unknown = sorted(ids - known)
    if unknown or not ids:
        raise ValueError(f"stop_on={unknown[0] if unknown else stop_on!r}: neither a severity "
                         "(info, warning, error, never) nor a rule id")
    return None, ids


def as_float(value: Any) -> float | None:
    """A logged value as a float (Python and numpy numbers, 0-d tensors); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):  # strings, arrays of several values
        return None


class LiveJudge:
    """The numbers a training run logged so far, and the findings standing on them."""

    def __init__(self, config: Any = None, every: int | None = None, stop_on: Any = None,
                 budget: float = BUDGET, name: str = "<training>", fmt: str = "live") -> None:
        from ..api import load_settings  # the config layers, as the CLI reads them

        self.settings = load_settings(config)
        self.every, self.budget, self.name, self.fmt = every, budget, name, fmt
        self.threshold, self.rules = parse_stop_on(stop_on, {r.id for r in self.settings.rules})
        self.points: dict[str, tuple[list[float], list[float]]] = {}
        self.tracker = Tracker()
        self.diagnosis: Diagnosis | None = None
        self.judged_at: float | None = None  # the step of the last judgement
        self.judgements: list[tuple[float, frozenset[str]]] = []  # (step, rules found) of each one
        self._next_time = 0.0
        self._counters: set[str] = set()  # keys that are the axis (epoch, step), not metrics
        self._recorded = 0  # log calls recorded
        self._judged_records = -1  # ... when the last judgement was made

    def record(self, step: float, logs: Mapping[str, Any] | None) -> None:
        """Keep the numbers of one log call (counters such as `epoch` are the axis, not metrics)."""
        if not logs:
            return
        points = self.points
        for key, value in logs.items():
            number = as_float(value)
            if number is None:
                continue
            series = points.get(key)
            if series is None:
                if key in self._counters or is_counter(key):
                    self._counters.add(key)
                    continue
                series = points[key] = ([], [])
            series[0].append(step)
            series[1].append(number)
        self._recorded += 1

    def due(self, step: float) -> bool:
        """Whether to judge at this step."""
        if self._recorded < FIRST_AFTER or self._recorded == self._judged_records:
            return False  # too little to judge, or nothing new since the last judgement
        if self.every is not None:
            return self.judged_at is None or step - self.judged_at >= self.every
        return time.perf_counter() >= self._next_time

    def run(self) -> Run:
        """Everything recorded, as a Run (the series a log file would have held)."""
        run = Run(self.name, self.fmt)
        for key, (steps, values) in self.points.items():
            run.add(make_series(key, steps, values, "step", run.notes))
        return run

    def judge(self, step: float, run: Run | None = None, ended: bool = False) -> Changes:
        """Diagnose what was recorded; the findings that appeared and resolved since last time.

        Until the training has `ended`, the rules about the whole course of the run wait."""
        start = time.perf_counter()
        self.judged_at, self._judged_records = step, self._recorded
        try:
            diag = diagnose_run(run if run is not None else self.run(), self.settings, in_progress=not ended)
        except LossdoctorError:  # no loss logged yet, a --metric series not logged yet
            return Changes()
        finally:
            cost = time.perf_counter() - start
            self._next_time = time.perf_counter() + cost / self.budget
        diag.name = self.name
        self.diagnosis = diag
        self.judgements.append((step, frozenset(f.rule for f in diag.findings)))
        return self.tracker.update(diag.findings)

    def stop_for(self, changes: Changes) -> Finding | None:
        """The first new finding that `stop_on` says ends the training, if any."""
        for f in sorted(changes.new):
            if (self.threshold is not None and f.severity >= self.threshold) or f.rule in self.rules:
                return f
        return None

    @property
    def findings(self) -> list[Finding]:
        """The findings of the last judgement."""
        return list(self.diagnosis.findings) if self.diagnosis else []


def report_lines(changes: Changes, verbose: int) -> list[str]:
    """The lines to log for one judgement's changes: warnings and errors at verbose=1, info
    findings too at 2 (an info such as `still_improving` comes and goes as a run trains)."""
    if verbose <= 0:
        return []
    shown = lambda f: verbose > 1 or f.severity >= Severity.WARNING  # noqa: E731
    return [describe(f, resolved=True) for f in changes.resolved if shown(f)] + \
        [describe(f) for f in sorted(changes.new) if shown(f)]


def describe(finding: Finding, resolved: bool = False) -> str:
    """The one line a framework's logger prints for a finding (data text escaped)."""
    from ..report.escape import text as safe

    step = "-" if finding.step is None or not math.isfinite(finding.step) else f"{finding.step:,.0f}"
    if resolved:
        return f"lossdoctor: resolved: {safe(finding.rule)} on {safe(finding.metric or '-')} no longer holds"
    return f"lossdoctor: step {step}: {finding.severity.label} {safe(finding.rule)}: {safe(finding.message)}"
