"""Diagnose one run: read it, resolve roles, evaluate the rules, collect a Diagnosis.

This is the library entry point the CLI, `audit` and the accuracy benchmark share.
Errors are raised as typed LossdoctorErrors; `diagnose_safely` turns them into an error
record instead, so a batch goes on past a bad run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .engine import evaluate_rules
from .errors import ConfigError, LossdoctorError, NothingToDiagnose
from .findings import Diagnosis
from .frame import Run
from .roles import ROLE_NAMES, needed, resolve
from .ruleset import Rule, default_rules
from .sources import read_run


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


def diagnose_run(run: Run, settings: Settings) -> Diagnosis:
    """Diagnose an already-read run."""
    _check_overrides(run, settings.metrics)
    roles = resolve(run, settings.metrics)
    if not roles.losses:
        names = ", ".join(sorted(run.series)[:8]) or "none"
        raise NothingToDiagnose(run.path, f"no loss series found (metrics: {names}); "
                                "name one with --metric train_loss=NAME")
    rules = [r for r in settings.rules if r.id not in settings.ignore]
    findings = evaluate_rules(run, roles, rules)
    known = {**run.series, **roles.derived}
    _, train, val = roles.pairs[0] if roles.pairs else (None, None, None)
    curves = {role: known[name] for role, name in (("train_loss", train), ("val_loss", val))
              if name in known}
    return Diagnosis(path=run.path, format=run.format, metrics=dict(roles.by_role),
                     points=run.points, findings=findings,
                     notes=run.notes + roles.notes, curves=curves)


def diagnose_safely(path: str | Path, settings: Settings) -> Diagnosis:
    """Like diagnose_path, but a bad run becomes a Diagnosis with an `error` record."""
    try:
        return diagnose_path(path, settings)
    except ConfigError:
        raise  # a usage problem concerns every run, not this one
    except LossdoctorError as exc:
        return Diagnosis(path=str(path), error={"kind": exc.kind, "message": exc.message})


def _check_overrides(run: Run, metrics: dict[str, str]) -> None:
    for role, name in metrics.items():
        if role not in ROLE_NAMES:
            raise ConfigError(f"--metric {role}={name}: unknown role '{role}' "
                              f"(roles: {', '.join(ROLE_NAMES)})")
        if name not in run.series:
            # The mapping may come from --metric or from a config file's `metrics:`.
            raise NothingToDiagnose(run.path, f"metric role {role}={name}: no series named "
                                    f"'{name}' (it has: {', '.join(sorted(run.series)[:8])})")
