"""An object store's prefix (`s3://bucket/runs`, `gs://...`, `file:///...`) as a `Tree`.

The prefix is listed once, whole (`fsspec` `find`, paginated by the store's library), and
its folders are rebuilt from the keys, so discovery walks it with the same folder rules as
a disk and asks nothing more of the store to tell run folders apart. The only reads while
discovering are the heads of loose files that could be logs (fetched ahead, many at once,
in the order the walk sniffs them), the small files that name MLflow runs (all at once),
and an MLflow database (copied whole). Credentials and endpoints are whatever the store's
library finds in its usual places (`AWS_ENDPOINT_URL`, `AWS_PROFILE`, `~/.aws`, gcloud's
application credentials); lossdoctor never reads or stores them.

fsspec and the store's library are imported here only, for URLs only
(`pip install "lossdoctor[cloud]"`).
"""

from __future__ import annotations

import bisect
import os
import posixpath
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import InputError, MissingExtra
from .listing import Listing
from .retry import with_retries
from .runnames import NAME_FILES

AHEAD = 64  # heads fetched ahead of the walk
THREADS = 32  # requests in flight from one process (the store's latency, not CPU, bounds a run)


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower()


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, its path for the URL); MissingExtra when a library is missing."""
    scheme = scheme_of(url)
    try:
        import fsspec
    except ImportError:
        raise MissingExtra(f'{url}: reading {scheme}:// needs fsspec: pip install "lossdoctor[cloud]"') from None
    try:
        # No listings cache: the walk keeps the one listing it needs, fsspec need not keep another.
        fs = fsspec.filesystem(scheme, use_listings_cache=False)
    except ImportError as exc:
        raise MissingExtra(f'{url}: reading {scheme}:// needs {_missing(exc)}: pip install "lossdoctor[cloud]"') from None
    except ValueError:
        raise InputError(url, f"{scheme}:// is not a kind of storage fsspec knows") from None
    return fs, fs._strip_protocol(url).rstrip("/") or "/"


def _missing(exc: ImportError) -> str:
    return exc.name or str(exc).split("\n")[0]


def download(fs: Any, path: str, target: str, where: str) -> None:
    """Copy one object to a local file (retried; typed errors), creating its folder."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with_retries(lambda: fs.get_file(path, target), where)


class StoreTree:
    """One listed prefix: folders rebuilt from its keys; paths are URLs (`s3://bucket/a/b`)."""

    remote = True

    def __init__(self, url: str, fs: Any, root: str, keys: Iterable[str]) -> None:
        self.fs = fs
        self.prefix = url[:len(url) - len(url.split("://", 1)[1])]  # `s3://`, `file://`
        self.root = self.url(root)
        self.folders: dict[str, tuple[set[str], set[str]]] = {}
        self.files = sorted(self.url(k) for k in keys if not k.endswith("/"))  # `a/` keys: folder marks
        for file in self.files:
            self._add(file)
        self._ahead: dict[str, Future] = {}
        self._plan: Iterable[str] = iter(())
        self._texts: dict[str, str | None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._copies: str | None = None

    def url(self, path: str) -> str:
        return self.prefix + path

    def path(self, url: str) -> str:
        return url[len(self.prefix):]

    def _add(self, file: str) -> None:
        folder, name = file.rsplit("/", 1)
        self.folders.setdefault(folder, (set(), set()))[0].add(name)
        while len(folder) > len(self.root) and "/" in folder[len(self.prefix):]:
            parent, sub = folder.rsplit("/", 1)
            dirs = self.folders.setdefault(parent, (set(), set()))[1]
            if sub in dirs:
                break
            dirs.add(sub)
            folder = parent

    # --- the Tree interface -----------------------------------------------------------

    def list(self, path: str) -> Listing:
        try:
            files, dirs = self.folders[path]
        except KeyError:
            raise FileNotFoundError(path) from None
        return Listing(path, frozenset(files), frozenset(dirs), tree=self)

    def kind(self, path: str) -> str:
        if path in self.folders:
            return "dir"
        folder, _, name = path.rpartition("/")
        return "file" if name in self.folders.get(folder, ((), ()))[0] else "missing"

    def head(self, path: str, size: int) -> bytes:
        self._fetch_ahead()
        future = self._ahead.pop(path, None)
        return future.result() if future is not None else self._head(path, size)

    def text(self, path: str, limit: int) -> str | None:
        if self._texts is None:  # every file that names an MLflow run, in one parallel sweep
            wanted = [f for f in self.files if f.rsplit("/", 1)[1] in NAME_FILES]
            self._texts = dict(zip(wanted, self.pool().map(self._text, wanted)))
        if path in self._texts:
            return self._texts[path]
        return self._text(path) if self.kind(path) == "file" else None

    def files_below(self, path: str) -> list[str]:
        start = bisect.bisect_left(self.files, path + "/")
        end = bisect.bisect_left(self.files, path + "0")  # '0' sorts right after '/'
        return self.files[start:end]

    def local(self, path: str) -> str:
        if self._copies is None:
            self._copies = tempfile.mkdtemp(prefix="lossdoctor-store-")
            weakref.finalize(self, shutil.rmtree, self._copies, True)
        target = os.path.join(self._copies, *self.path(path).strip("/").split("/"))
        if not os.path.exists(target):
            download(self.fs, self.path(path), target, path)
        return target

    def plan(self, paths: Iterable[str]) -> None:
        self._plan = iter(list(paths))

    join = staticmethod(posixpath.join)

    # --- requests -----------------------------------------------------------------------

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="lossdoctor-store")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool

    def _fetch_ahead(self) -> None:
        while len(self._ahead) < AHEAD:
            path = next(self._plan, None)
            if path is None:
                return
            from .text import HEAD_BYTES

            self._ahead[path] = self.pool().submit(self._head, path, HEAD_BYTES)

    def _head(self, path: str, size: int) -> bytes:
        return with_retries(lambda: self.fs.cat_file(self.path(path), start=0, end=size), path)

    def _text(self, path: str) -> str | None:
        try:
            data = with_retries(lambda: self.fs.cat_file(self.path(path), start=0, end=64 * 1024), path)
        except InputError:
            return None  # only a name is lost, as for a broken local meta.yaml
        return data.decode("utf-8", errors="replace")


def open_store(url: str) -> StoreTree:
    """List a store's prefix once; InputError when it cannot be listed or holds nothing."""
    fs, root = filesystem(url)
    keys = with_retries(lambda: fs.find(root, withdirs=False), url.rstrip("/"))
    if not keys:
        raise InputError(url.rstrip("/"), "no such file or folder (nothing is stored under this prefix)")
    return StoreTree(url, fs, root, keys)
