"""Where an audit's runs are diagnosed: one small interface, one registry of engines.

An engine is handed batches of runs and a function that turns one batch into its rows
(`audit.audit_batch`, the same everywhere) and yields each batch's rows as soon as they are
done, in whatever order they finish; it never gathers them at the end. It keeps only a few
batches in flight, so the coordinator's memory does not grow with the number of runs.
`local` is a process pool on this machine (the default), `dask` a dask.distributed cluster
(a scheduler's address, or a LocalCluster). Another engine (Ray, ...) is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Batch = Sequence[Any]  # runs (RunRef) of one task
BatchFn = Callable[[Batch, Any], list]  # (runs, settings) -> their rows


@dataclass(frozen=True)
class EngineOptions:
    """What `--engine`, `--scheduler` and `--jobs` asked for."""

    name: str = "local"
    jobs: int = 1  # local: worker processes; dask LocalCluster: workers
    scheduler: str | None = None  # dask: tcp://host:8786 (None: a LocalCluster on this machine)


class Engine(Protocol):
    """Runs `fn` over batches somewhere; a context manager that releases its workers."""

    def rows(self, fn: BatchFn, batches: Iterator[Batch], settings: Any) -> Iterator[tuple[Batch, list | BaseException]]:
        """Yield (batch, its rows) as tasks finish; instead of the rows, the exception that
        ended a task (a worker that died) when the task failed."""

    def workers(self) -> int:
        """How many batches run at once (chunk sizes follow it)."""

    def __enter__(self) -> "Engine": ...

    def __exit__(self, *exc: object) -> None: ...


def _local(opts: EngineOptions) -> Engine:
    from .local import LocalEngine
    return LocalEngine(opts.jobs)


def _dask(opts: EngineOptions) -> Engine:
    from .dask import DaskEngine  # dask is imported only when asked for
    return DaskEngine(opts.scheduler, opts.jobs)


ENGINES: dict[str, Callable[[EngineOptions], Engine]] = {"local": _local, "dask": _dask}


def make_engine(opts: EngineOptions) -> Engine:
    """The engine named by the options (the CLI restricts names to ENGINES)."""
    return ENGINES[opts.name](opts)


IN_FLIGHT = 4  # batches queued per worker: enough to keep it busy, few enough to stay small
