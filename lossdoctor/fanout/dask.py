"""The `dask` engine: a dask.distributed cluster (`--scheduler tcp://host:8786`), or a
LocalCluster of this machine's cores when no address is given.

The settings are scattered to every worker once; each batch is one task (`pure=False`:
two equal batches are still two tasks). Finished tasks are taken with `as_completed`,
their results released at once, and a new batch submitted for each one taken, so the
scheduler and this process hold a few batches per worker, not the whole audit. Workers
need lossdoctor (and its `cloud` extra for stores) installed, and the store's credentials
in their own environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError, MissingExtra
from . import IN_FLIGHT, Batch, BatchFn


class DaskEngine:
    """A client of a scheduler (given) or of a LocalCluster (made here, closed on exit)."""

    def __init__(self, scheduler: str | None, jobs: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise MissingExtra('--engine dask needs dask.distributed: pip install "lossdoctor[dask]"') from None
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout="10s")
            else:
                self.cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                            dashboard_address=":0")
                self.client = Client(self.cluster)
        except OSError as exc:  # timeouts and refused connections
            raise ConfigError(f"--scheduler {scheduler}: cannot reach the dask scheduler ({exc})") from None

    def __enter__(self) -> "DaskEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def rows(self, fn: BatchFn, batches: Iterator[Batch], settings: Any) -> Iterator[tuple[Batch, list | BaseException]]:
        from distributed import as_completed

        shared = self.client.scatter(settings, broadcast=True)
        pending: dict[str, tuple[Any, Batch]] = {}
        done = as_completed()

        def submit() -> bool:
            batch = next(batches, None)
            if batch is not None:
                future = self.client.submit(fn, batch, shared, pure=False)
                pending[future.key] = (future, batch)
                done.add(future)
            return batch is not None

        while len(pending) < self.workers() * IN_FLIGHT and submit():
            pass
        try:
            for future in done:  # more are added while iterating
                _, batch = pending.pop(future.key)
                try:
                    result: list | BaseException = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died (KilledWorker)
                    result = exc
                future.release()
                yield batch, result
                submit()
        finally:
            self.client.cancel([f for f, _ in pending.values()])
