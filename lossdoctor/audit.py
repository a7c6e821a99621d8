"""Diagnose many runs, in parallel across processes, into one row per run.

Work is handed to an engine (`fanout`: a process pool here, or a dask cluster) in
chunks (so 10,000 small runs cost a few hundred round trips, not 10,000); every engine
runs the same `audit_batch`. Rows come back without their curves (only the numbers a table
needs) as batches finish (`audit_stream`), or all of them sorted by run path (`audit`), so
the result does not depend on `jobs` or the engine. A run that cannot be read is a row with
an `error`, never a failure of the audit. No click, no rich: the command layer renders and
reports progress through a callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .diagnose import Settings, diagnose_ref
from .fanout import Engine, EngineOptions, make_engine
from .sources import RunRef
from .errors import ConfigError
from .findings import AuditRow, Diagnosis, RunError

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


def audit_batch(refs: Sequence[RunRef], settings: Settings) -> list[AuditRow]:
    """The function every engine runs, over one task's runs. Runs in an object store are
    fetched together first (many requests in flight), read from the copies, and their rows
    name the stored files again."""
    if not any(r.files for r in refs):  # no run of a store: nothing to fetch
        return [audit_row(ref, settings) for ref in refs]
    from .sources.staging import staged

    with staged(refs) as stage:
        return [_stored_row(audit_row(stage.ref(ref), settings), ref, stage.back) for ref in refs]


def _stored_row(row: AuditRow, ref: RunRef, back: Callable[[str], str]) -> AuditRow:
    d = row.diagnosis
    error = replace(d.error, message=back(d.error.message)) if d.error else None
    diag = replace(d, path=back(d.path), run=ref.path, notes=[back(n) for n in d.notes], error=error)
    return replace(row, run=ref.path, diagnosis=diag)


def failed_row(ref: RunRef, exc: BaseException) -> AuditRow:
    """The row of a run whose task died with its worker: said, not lost."""
    message = f"{ref.path}: the worker diagnosing it died ({type(exc).__name__}: {exc})"
    return AuditRow(ref.path, Diagnosis(ref.path, error=RunError("internal", message), name=ref.name or ref.path,
                                        layout=ref.layout, run=ref.path), ref.layout)


def audit_stream(refs: Sequence[RunRef], settings: Settings, engine: Engine) -> Iterator[list[AuditRow]]:
    """Every run's row, a batch at a time, in the order the batches finish."""
    for batch, result in engine.rows(audit_batch, chunks(refs, engine.workers()), settings):
        if isinstance(result, ConfigError):
            raise result  # concerns every run: the audit stops with exit 2
        yield [failed_row(r, result) for r in batch] if isinstance(result, BaseException) else result


def audit(refs: Sequence[RunRef], settings: Settings, jobs: int = 1,
          progress: Progress | None = None, engine: EngineOptions | None = None) -> AuditResult:
    """Diagnose every run (in-process when jobs == 1) into rows sorted by path; Ctrl-C keeps
    what finished."""
    tick = progress or (lambda n: None)
    rows: list[AuditRow] = []
    interrupted = False
    try:
        with make_engine(engine or EngineOptions("local", jobs if len(refs) > 1 else 1)) as running:
            for done in audit_stream(refs, settings, running):
                rows.extend(done)
                tick(len(done))
    except KeyboardInterrupt:
        interrupted = True
    rows.sort(key=lambda r: r.path)
    return AuditResult(rows, interrupted)


def chunks(refs: Sequence[RunRef], jobs: int) -> Iterator[list[RunRef]]:
    """About 16 chunks per worker (load balance), at most MAX_CHUNK runs each; one run at a
    time in-process (a Ctrl-C keeps every finished row) unless runs are fetched from a store.
    Runs of one stored database (`mlflow.db#<run id>`) fill a chunk together: it is fetched
    once per chunk."""
    if jobs <= 1 and not any(r.files for r in refs[:1]):
        size = 1
    else:
        size = max(1, min(MAX_CHUNK, math.ceil(len(refs) / (max(1, jobs) * 16))))
    batch: list[RunRef] = []
    for ref in refs:
        same_store = bool(ref.files) and batch and batch[-1].files == ref.files and len(batch) < MAX_CHUNK
        if len(batch) >= size and not same_store:
            yield batch
            batch = []
        batch.append(ref)
    if batch:
        yield batch
