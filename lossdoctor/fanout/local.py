"""The `local` engine: this machine's cores, as a process pool (or in-process for one job).

The settings reach each worker process once, through the pool's initializer; a batch is
one task. Ctrl-C is the parent's to handle: workers ignore it, and the queued batches are
dropped while the running ones finish.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Union

from . import IN_FLIGHT, Batch, BatchFn


class LocalEngine:
    """`jobs` worker processes; jobs == 1 runs every batch in this process."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.pool: ProcessPoolExecutor | None = None

    def workers(self) -> int:
        return self.jobs

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            # Drop the queued batches; wait only for the running ones.
            self.pool.shutdown(wait=True, cancel_futures=True)

    def rows(self, fn: BatchFn, batches: Iterator[Batch], settings: Any) -> Iterator[tuple[Batch, list | BaseException]]:
        if self.jobs == 1:
            for batch in batches:
                yield batch, fn(batch, settings)
            return
        self.pool = ProcessPoolExecutor(self.jobs, initializer=_init_worker, initargs=(fn, settings))
        pending: dict[Future, Batch] = {}
        for batch in batches:
            pending[self.pool.submit(_run_batch, batch)] = batch
            while len(pending) >= self.jobs * IN_FLIGHT:
                yield from _finished(pending)
        while pending:
            yield from _finished(pending)


def _finished(pending: dict[Future, Batch]) -> Iterator[tuple[Batch, Union[list, BaseException]]]:
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        exc = future.exception()  # a worker that died (BrokenProcessPool): the batch's rows say so
        yield pending.pop(future), exc if exc is not None else future.result()


_WORKER: tuple[BatchFn, Any] | None = None


def _init_worker(fn: BatchFn, settings: Any) -> None:
    """Keep the function and the settings for this process; Ctrl-C is the parent's to handle."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = (fn, settings)


def _run_batch(batch: Batch) -> list:
    assert _WORKER is not None
    fn, settings = _WORKER
    return fn(batch, settings)
