"""The Python API: read logs, diagnose a path, a Run or a pandas frame.

    import lossdoctor
    diag = lossdoctor.diagnose("lightning_logs/version_0")   # one run: a Diagnosis
    for f in diag.findings: print(f.rule, f.step, f.message)

`diagnose` judges exactly one run and raises a typed `LossdoctorError` when it cannot (an
unreadable log, no loss series, a path holding several runs: `ManyRuns`, naming them).
`diagnose_all` is what `lossdoctor diagnose PATH` does: every run found under the path,
each a Diagnosis, an unreadable one carrying its `error` instead of raising. Both use the
same rules and config layers as the command line: the packaged rules, the project's
`lossdoctor.yaml` / `[tool.lossdoctor]`, then `config` (a file) on top.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .diagnose import Settings, diagnose_found, diagnose_ref, diagnose_run
from .errors import InputError, ManyRuns
from .findings import Diagnosis, RunError
from .frame import Run
from .sources import discover, no_log_found, read_runs

if TYPE_CHECKING:
    import pandas as pd

PathLike = Union[str, "os.PathLike[str]"]
ConfigArg = Union[PathLike, Settings, None]


def load_settings(config: ConfigArg = None) -> Settings:
    """The rules and role overrides a diagnosis uses: the config layers as the CLI reads them
    (packaged rules <- project file <- `config`), or `config` itself when it is a Settings."""
    if isinstance(config, Settings):
        return config
    from .config import load_config

    layers = load_config(Path(config) if config is not None else None)
    return Settings(tuple(layers.rules), dict(layers.metrics), layers.ignore)


def diagnose(path_or_run: "PathLike | Run | pd.DataFrame", config: ConfigArg = None) -> Diagnosis:
    """Diagnose one run: a log file, a run folder, a Run, or a DataFrame (`Run.from_frame`).

    Raises InputError (unreadable), NothingToDiagnose (no loss series), ManyRuns (the path
    holds several runs: use `diagnose_all`), ConfigError (a bad config file)."""
    settings = load_settings(config)
    if isinstance(path_or_run, Run):
        return diagnose_run(path_or_run, settings)
    if hasattr(path_or_run, "columns") and hasattr(path_or_run, "index"):
        return diagnose_run(Run.from_frame(path_or_run), settings)  # type: ignore[arg-type]
    path = os.fspath(path_or_run)  # type: ignore[arg-type]
    found = discover([path])
    if not found.runs:
        raise no_log_found(path, found)
    if len(found.runs) > 1:
        raise ManyRuns(path, [r.name or r.path for r in found.runs])
    ref = found.runs[0]
    if ref.error:
        raise InputError(ref.path, ref.error)
    return diagnose_found(ref, settings)


def diagnose_all(path: PathLike, config: ConfigArg = None) -> list[Diagnosis]:
    """Every run under a path, diagnosed (sorted by path); a run that cannot be diagnosed is a
    Diagnosis whose `error` says why, and a path with no run at all is one such record."""
    return diagnose_each(os.fspath(path), load_settings(config))


def diagnose_each(path: str, settings: Settings) -> list[Diagnosis]:
    """`diagnose_all` with settings already resolved: what `lossdoctor diagnose` runs per path."""
    found = discover([path])
    if not found.runs:
        return [Diagnosis(path, error=RunError("input", no_log_found(path, found).message), name=path)]
    return [diagnose_ref(ref, settings) for ref in found.runs]


def read(path: PathLike) -> list[Run]:
    """Every run under a path, read (one Run per run found; an unreadable one raises InputError)."""
    return read_runs(os.fspath(path))
