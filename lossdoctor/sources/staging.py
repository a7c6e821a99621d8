"""Runs in an object store, copied to a local folder so that the readers read them as
they read a disk: exactly the files discovery said each run's reading opens
(`RunRef.files`), many requests in flight at once, each retried (`retry`).

A batch of runs is staged together (a task of an audit: 64 runs fetched by 32 threads),
read from the copies, and the copies are deleted when the batch is done, so a worker's
disk holds one batch at a time. Paths in what was read are put back as the URLs the user
gave (`back`), so a run reads the same, record for record, from a disk or a store.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

from ..errors import InputError
from .discover import RunRef
from .remote import is_url
from .store import THREADS, download, filesystem


def is_stored(ref: RunRef) -> bool:
    """A run discovered in an object store, not yet copied here."""
    return bool(ref.files) and is_url(ref.path)


class Stage:
    """A local folder mirroring the stored files of some runs: `<folder>/<scheme>/<path>`."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.failed: dict[str, InputError] = {}  # URL -> why it could not be fetched
        self._prefixes: dict[str, str] = {}  # local prefix -> URL prefix

    def local(self, url: str) -> str:
        """Where a stored file (or a run, or `mlflow.db#<run id>`) is copied to."""
        scheme, rest = url.split("://", 1)
        local = f"{self.folder}/{scheme}/"
        self._prefixes.setdefault(local, f"{scheme}://" + ("/" if rest.startswith("/") else ""))
        return local + rest.lstrip("/")

    def back(self, text: str) -> str:
        """A text that names the copies, naming the stored files instead."""
        for local, url in self._prefixes.items():
            if local in text:
                text = text.replace(local, url)
        return text

    def fetch(self, refs: Sequence[RunRef]) -> None:
        """Copy every stored file of these runs (each once), THREADS at a time."""
        urls = list(dict.fromkeys(u.split("#")[0] for r in refs for u in r.files))
        with ThreadPoolExecutor(min(THREADS, len(urls)) or 1, thread_name_prefix="lossdoctor-stage") as pool:
            for url, error in zip(urls, pool.map(self._fetch_one, urls)):
                if error is not None:
                    self.failed[url] = error

    def _fetch_one(self, url: str) -> InputError | None:
        try:
            fs, path = filesystem(url)
            download(fs, path, self.local(url), url)
        except InputError as exc:
            return exc
        return None

    def ref(self, ref: RunRef) -> RunRef:
        """The run as read from the copies; a run whose files could not be fetched keeps
        its URL and carries the first failure as its error."""
        if not is_stored(ref):
            return ref
        failure = next((self.failed[u.split("#")[0]] for u in ref.files if u.split("#")[0] in self.failed), None)
        if failure is not None:
            return replace(ref, error=failure.problem if failure.path == ref.path else failure.message,
                           error_kind=failure.kind, files=())
        return replace(ref, path=self.local(ref.path), parts=tuple(self.local(p) for p in ref.parts), files=())


@contextmanager
def staged(refs: Sequence[RunRef]) -> Iterator[Stage]:
    """Stage the stored runs among `refs` in a temporary folder, deleted on exit."""
    stored = [r for r in refs if is_stored(r)]
    folder = tempfile.mkdtemp(prefix="lossdoctor-stage-") if stored else ""
    stage = Stage(folder)
    try:
        if stored:
            stage.fetch(stored)
        yield stage
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
