"""Diagnose one run: read it, resolve roles, evaluate the rules, collect a Diagnosis.

This is the library entry point the CLI, `audit` and the accuracy benchmark share.
Errors are raised as typed LossdoctorErrors; `diagnose_safely` turns them into an error
record instead, so a batch goes on past a bad run.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .engine import Rule, default_rules, evaluate_rules
from .engine.curves.shape import MIN_POINTS, course_points
from .errors import ConfigError, LossdoctorError, MetricNotFound, NothingToDiagnose
from .findings import Diagnosis, RunError
from .frame import Run, Series, logged_steps, with_restores
from .rewind import Plan, make_plan
from .roles import ROLE_NAMES, Roles, needed, resolve
from .sources import RunRef, read_ref, read_run
from .numbering import Numbering
from .sources.checkpoints import Checkpoint, beside
from .sources.formats import BY_NAME
from .sources.hparams import hparams_beside
from .stability import Stability, assess


@dataclass(frozen=True)
class Settings:
    """What a diagnosis depends on besides the log: the rules and the role overrides."""

    rules: tuple[Rule, ...] = ()
    metrics: dict[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    verify: bool = False  # check every TensorBoard record's data checksum (costs ~0.3 s per 1M points)

    @classmethod
    def default(cls) -> "Settings":
        """The packaged rules, no overrides."""
        return cls(rules=tuple(default_rules()))


def diagnose_path(path: str | Path, settings: Settings) -> Diagnosis:
    """Read and diagnose one file or run folder; raises LossdoctorError on bad input."""
    # Only the series a role (and so a rule) can use are decoded from big binary logs.
    return diagnose_run(read_run(path, settings.verify, needed(settings.metrics)), settings)


def diagnose_run(run: Run, settings: Settings, in_progress: bool = False) -> Diagnosis:
    """Diagnose an already-read run (`in_progress`: still being written; whole-run rules wait)."""
    _check_overrides(run, settings.metrics)
    run = with_restores(run)  # attempts are known before any rule runs: a restore is not a rise
    roles = resolve(run, settings.metrics)
    if not roles.losses:
        names = ", ".join(sorted(run.series)[:8]) or "none"
        raise NothingToDiagnose(run.path, f"no loss series found (metrics: {names}); "
                                "name one with --metric train_loss=NAME")
    rules = [r for r in settings.rules if r.id not in settings.ignore and not (in_progress and r.whole_run)]
    findings = evaluate_rules(run, roles, rules, numbering_of(run, roles))
    known = {**run.series, **roles.derived}
    _, train, val = roles.pairs[0] if roles.pairs else (None, None, None)
    lr = roles.by_role.get("lr")  # drawn on the picture's second panel
    curves = {role: known[name] for role, name in (("train_loss", train), ("val_loss", val), ("lr", lr))
              if name in known}
    stability = assess(run, roles)
    return Diagnosis(path=run.path, format=run.format, metrics=_judged(roles),
                     points=run.points, findings=findings, notes=run.notes + roles.notes, curves=curves,
                     pairs=[{"label": label, "train": t, "val": v} for label, t, v in roles.pairs],
                     stability=stability, rewind=_rewind(run, roles, stability, findings),
                     short=too_short(curves))


def too_short(curves: dict[str, Series]) -> tuple[str, int] | None:
    """The longest loss curve and its readable points, when no loss curve has the MIN_POINTS a
    course is read from (None when one has, or when there is none)."""
    lengths = {s.name: course_points(s.values) for r in ("train_loss", "val_loss") if (s := curves.get(r)) is not None}
    if not lengths or max(lengths.values()) >= MIN_POINTS:
        return None
    return max(lengths.items(), key=lambda kv: kv[1])


def numbering_of(run: Run, roles: Roles) -> Numbering:
    """How the run's tool counts: the training loss's axis, the writer (from the format
    table), and, looked for only when a finding names one, the checkpoints and hyper-parameters
    saved beside the log."""
    fmt = BY_NAME.get(run.format)
    train = {**run.series, **roles.derived}.get(roles.pairs[0][1] or "") if roles.pairs else None
    first = None
    if train is not None and len(train):
        ok = np.isfinite(train.values)
        first = float(train.steps[ok][0]) if ok.any() else None
    lr = run.series.get(roles.by_role.get("lr", ""))
    peak = float(np.nanmax(np.where(np.isfinite(lr.values), lr.values, np.nan))) \
        if lr is not None and np.isfinite(lr.values).any() else None
    return Numbering(axis=train.axis if train is not None else "step", writer=fmt.writer if fmt else None,
                     first_step=first, peak_lr=peak, logged=logged_steps(run.series.values()),
                     find_checkpoints=lambda: [(c.step, c.path) for c in _checkpoints(run)],
                     find_hparams=lambda: run.hparams if run.hparams is not None else hparams_beside(run.path))


def _rewind(run: Run, roles: Roles, stability: Stability, findings: list) -> Plan | None:
    """The rewind-and-skip plan for the main training loss (checkpoints are looked for only
    when a spike needs one)."""
    loss = {**run.series, **roles.derived}.get(stability.loss or "")
    diverged = [(f.step, _peak_step(loss, f.step)) for f in findings
                if loss is not None and f.rule == "divergence" and f.metric == loss.name and f.step is not None]
    if make_plan(stability.episodes, diverged, []) is None:
        return None
    return make_plan(stability.episodes, diverged, _checkpoints(run))


def _checkpoints(run: Run) -> list[Checkpoint]:
    """The checkpoints beside the run's log (a stored run's, as discovery listed them)."""
    if run.saved is None:
        return beside(run.path, run.checkpoints)
    named = {s: Checkpoint(s, None) for s in run.checkpoints}
    return sorted({**named, **{s: Checkpoint(s, p) for s, p in run.saved}}.values(), key=lambda c: c.step)


def _peak_step(loss: Series, onset: float) -> float:
    """Where a climb from `onset` tops out: its highest finite point, or its first NaN/Inf."""
    after = loss.steps >= onset
    steps, values = loss.steps[after], loss.values[after]
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size and (bad[0] == 0 or not np.isfinite(values[: bad[0]]).any()):
        return float(steps[bad[0]])
    top = values[: bad[0]] if bad.size else values
    return float(steps[int(np.argmax(top))]) if top.size else onset


def _judged(roles: Roles) -> dict[str, str]:
    """The series each role was read from; the main pair's (a derived sum of loss terms when no
    total was logged) fills train_loss / val_loss when no logged series plays them."""
    metrics = dict(roles.by_role)
    if roles.pairs:
        _, train, val = roles.pairs[0]
        for role, name in (("train_loss", train), ("val_loss", val)):
            if name and role not in metrics:
                metrics[role] = name
    return metrics


def diagnose_safely(path: str | Path, settings: Settings) -> Diagnosis:
    """Like diagnose_path, but a bad run becomes a Diagnosis with an `error` record."""
    return _timed(lambda: diagnose_path(path, settings),
                  lambda exc: Diagnosis(path=str(path), error=RunError(exc.kind, exc.message)))


def diagnose_ref(ref: RunRef, settings: Settings) -> Diagnosis:
    """Diagnose one discovered run, named as discovery named it; never raises for the run's data."""
    def failed(exc: LossdoctorError) -> Diagnosis:
        diag = Diagnosis(ref.path, error=RunError(exc.kind, exc.message))
        diag.name, diag.layout, diag.run = ref.name or ref.path, ref.layout, ref.path
        return diag

    return _timed(lambda: diagnose_found(ref, settings), failed)


def _timed(diagnose: Callable[[], Diagnosis], failed: Callable[[LossdoctorError], Diagnosis]) -> Diagnosis:
    """One run's diagnosis and its wall time (JUnit reports it as the run's test time); the
    run's own bad data becomes its `error` record, a usage problem concerns every run and
    is raised."""
    start = time.perf_counter()
    try:
        diag = diagnose()
    except ConfigError:
        raise
    except LossdoctorError as exc:
        diag = failed(exc)
    diag.seconds = time.perf_counter() - start
    return diag


def diagnose_found(ref: RunRef, settings: Settings) -> Diagnosis:
    """Read and diagnose one discovered run, named as discovery named it; raises LossdoctorError."""
    diag = diagnose_run(read_ref(ref, settings.verify, needed(settings.metrics)), settings)
    diag.name, diag.layout, diag.run = ref.name or ref.path, ref.layout, ref.path
    return diag


def _check_overrides(run: Run, metrics: dict[str, str]) -> None:
    for role, name in metrics.items():
        if role not in ROLE_NAMES:
            raise ConfigError(f"--metric {role}={name}: unknown role '{role}' "
                              f"(roles: {', '.join(ROLE_NAMES)})")
        if name not in run.series:
            # The mapping may come from --metric or from a config file's `metrics:`.
            raise MetricNotFound(run.path, f"metric role {role}={name}: no series named "
                                    f"'{name}' (it has: {', '.join(sorted(run.series)[:8])})")


class _CallableModule(types.ModuleType):
    """`lossdoctor.diagnose(path)` is the API's function, but `lossdoctor.diagnose` is also this
    module's name: once the module is imported, Python binds the name to the module. Making
    the module callable keeps `lossdoctor.diagnose(...)` the API whichever was imported first."""

    def __call__(self, path_or_run: object, config: object = None) -> Diagnosis:
        from .api import diagnose
        return diagnose(path_or_run, config)  # type: ignore[arg-type]


sys.modules[__name__].__class__ = _CallableModule
