"""Diagnose many runs, in parallel across processes, into one row per run.

Work is handed to a `ProcessPoolExecutor` in chunks (so 10,000 small runs cost a few
hundred round trips, not 10,000); the settings reach each worker once, through the pool
initializer. Rows come back without their curves (only the numbers a table needs) and are
sorted by run path, so the result does not depend on `jobs`. A run that cannot be read is
a row with an `error`, never a failure of the audit. No click, no rich: the command layer
renders and reports progress through a callback.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .diagnose import Settings, diagnose_ref
from .sources import RunRef
from .errors import ConfigError
from .findings import VERDICT_RANK, AuditRow, Diagnosis, RunError  # noqa: F401 - the records live in findings

Progress = Callable[[int], None]
MAX_CHUNK = 64  # runs per task: big enough to amortise IPC, small enough for a quick Ctrl-C


@dataclass
class AuditResult:
    """Rows sorted by path; `interrupted` when Ctrl-C stopped the work early."""

    rows: list[AuditRow]
    interrupted: bool = False


def audit_row(ref: RunRef, settings: Settings) -> AuditRow:
    """Diagnose one run into a row; any failure of this run becomes its error record."""
    try:
        diag = diagnose_ref(ref, settings)
    except ConfigError:
        raise  # concerns every run: the audit stops with exit 2
    except Exception as exc:  # noqa: BLE001
        # A bug on one run of 10,000 must not sink the audit; the row says it is a bug.
        diag = Diagnosis(ref.path, error=RunError("internal", f"{ref.path}: internal error: "
                                                  f"{type(exc).__name__}: {exc} (a bug: please report it)"),
                         name=ref.name or ref.path, layout=ref.layout)
    step, best, final = _val_numbers(diag)
    return AuditRow(ref.path, replace(diag, curves={}), ref.layout, step, best, final)


def _val_numbers(diag: Diagnosis) -> tuple[float | None, float | None, float | None]:
    """(best val step, best val loss, final val loss): the overfitting finding's best_step
    (where early stopping should have stopped) when it fired, else the minimum's step."""
    step = best = final = None
    curve = diag.curves.get("val_loss")
    if curve is not None and len(curve.values):
        values = np.asarray(curve.values, dtype=float)
        final = float(values[-1])
        finite = np.isfinite(values)
        if finite.any():
            i = int(np.argmin(np.where(finite, values, np.inf)))
            step, best = float(curve.steps[i]), float(values[i])
    over = next((f for f in diag.findings if f.rule == "overfitting" and "best_step" in f.evidence), None)
    if over is not None:
        step = float(over.evidence["best_step"])
    return step, best, final


def audit(refs: Sequence[RunRef], settings: Settings, jobs: int = 1,
          progress: Progress | None = None) -> AuditResult:
    """Diagnose every run (in-process when jobs == 1); Ctrl-C keeps what finished."""
    tick = progress or (lambda n: None)
    rows: list[AuditRow] = []
    interrupted = False
    try:
        if jobs <= 1 or len(refs) <= 1:
            for ref in refs:
                rows.append(audit_row(ref, settings))
                tick(1)
        else:
            _in_pool(refs, settings, jobs, rows, tick)
    except KeyboardInterrupt:
        interrupted = True
    rows.sort(key=lambda r: r.path)
    return AuditResult(rows, interrupted)


def chunks(refs: Sequence[RunRef], jobs: int) -> list[list[RunRef]]:
    """About 16 chunks per worker (load balance), at most MAX_CHUNK runs each."""
    size = max(1, min(MAX_CHUNK, math.ceil(len(refs) / (jobs * 16))))
    return [list(refs[i:i + size]) for i in range(0, len(refs), size)]


def _in_pool(refs: Sequence[RunRef], settings: Settings, jobs: int,
             rows: list[AuditRow], tick: Progress) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed  # only audits fork workers

    parts = chunks(refs, jobs)
    with ProcessPoolExecutor(max_workers=min(jobs, len(parts)), initializer=_init_worker,
                             initargs=(settings,)) as pool:
        futures = [pool.submit(_audit_chunk, part) for part in parts]
        try:
            for future in as_completed(futures):
                done = future.result()
                rows.extend(done)
                tick(len(done))
        except BaseException:
            # Drop the queued chunks; the `with` then waits only for the running ones.
            pool.shutdown(wait=False, cancel_futures=True)
            raise


_WORKER_SETTINGS: Settings | None = None


def _init_worker(settings: Settings) -> None:
    """Keep the settings for this process; Ctrl-C is the parent's to handle."""
    global _WORKER_SETTINGS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_SETTINGS = settings


def _audit_chunk(part: list[RunRef]) -> list[AuditRow]:
    assert _WORKER_SETTINGS is not None
    return [audit_row(ref, _WORKER_SETTINGS) for ref in part]
