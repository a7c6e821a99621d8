"""One folder's entries, listed once: what discovery and the choice of a run's log look at.

A folder is listed with one `os.scandir` (an audit lists thousands), and plain files are
told from folders without a stat per file where the OS says so. Only regular files can
be logs: a FIFO or a device named like one would block the reader forever, so it is kept
apart (`others`) to be skipped and counted.

A listing belongs to a `Tree`: this machine's disk (`LOCAL`), or an object store listed
once (`store.StoreTree`). The folder rules (`formats.FORMATS[*].find_in`) and discovery ask
the tree, never `os` directly, so one set of layout rules serves both.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .text import open_regular, read_bytes


@dataclass(frozen=True)
class Listing:
    """A folder's entry names by kind (symlinks resolved): regular files, folders, others."""

    path: str
    files: frozenset[str]
    dirs: frozenset[str]
    others: frozenset[str] = field(default=frozenset())
    links: frozenset[str] = field(default=frozenset())  # entries that are symlinks (either kind)
    tree: "Tree" = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.tree is None:
            object.__setattr__(self, "tree", LOCAL)

    def sub(self, name: str) -> str:
        """The path of an entry."""
        return self.tree.join(self.path, name)


class Tree(Protocol):
    """Where folders are listed and files are read: the local disk or an object store."""

    remote: bool

    def list(self, path: str) -> Listing:
        """A folder's entries (OSError when it cannot be listed)."""

    def kind(self, path: str) -> str:
        """'file', 'dir', 'other' or 'missing'."""

    def head(self, path: str, size: int) -> bytes:
        """The first bytes of a file (InputError when it cannot be read)."""

    def text(self, path: str, limit: int) -> str | None:
        """A small text file (an MLflow meta.yaml), or None when it cannot be read."""

    def files_below(self, path: str) -> list[str]:
        """Every file below a folder, sorted (the files a folder-reading format opens)."""

    def local(self, path: str) -> str:
        """A path on this machine holding the file (a store's copy for an MLflow database)."""

    def plan(self, paths: Iterable[str]) -> None:
        """The files whose heads will be asked for next, in order (a store fetches ahead)."""

    def join(self, folder: str, name: str) -> str:
        """The path of an entry of a folder."""


class LocalTree:
    """This machine's disk: os.scandir listings, files read where they are."""

    remote = False

    def list(self, path: str) -> Listing:
        return list_folder(path)

    def kind(self, path: str) -> str:
        if os.path.isdir(path):
            return "dir"
        return "file" if os.path.isfile(path) else "other" if os.path.lexists(path) else "missing"

    def head(self, path: str, size: int) -> bytes:
        return read_bytes(Path(path), size)

    def text(self, path: str, limit: int) -> str | None:
        try:
            with open_regular(path) as handle:
                return handle.read(limit).decode("utf-8", errors="replace")
        except OSError:
            return None

    def files_below(self, path: str) -> list[str]:
        return sorted(os.path.join(d, f) for d, _, files in os.walk(path) for f in files)

    def local(self, path: str) -> str:
        return path

    def plan(self, paths: Iterable[str]) -> None:
        """Local heads are read when asked: nothing to fetch ahead."""

    join = staticmethod(os.path.join)


LOCAL = LocalTree()


def kind_of(entry: os.DirEntry, follow: bool = True) -> str:
    """'file' (regular), 'dir', 'other' (FIFO, socket, device) or 'missing' (broken link, no access)."""
    try:
        if entry.is_dir(follow_symlinks=follow):
            return "dir"
        if entry.is_file(follow_symlinks=follow):
            return "file"
        mode = entry.stat(follow_symlinks=follow).st_mode
    except OSError:
        return "missing"
    return "file" if stat.S_ISREG(mode) else "other"


def list_folder(path: str, hidden: bool = True) -> Listing:
    """List a folder (raises OSError when it cannot be read); `hidden=False` leaves out dot-entries."""
    with os.scandir(path) as it:
        entries = [e for e in it if hidden or not e.name.startswith(".")]
    kinds: dict[str, list[str]] = {"file": [], "dir": [], "other": [], "missing": []}
    links = []
    for entry in entries:
        kinds[kind_of(entry)].append(entry.name)
        if entry.is_symlink():
            links.append(entry.name)
    return Listing(path, frozenset(kinds["file"]), frozenset(kinds["dir"]),
                   frozenset(kinds["other"] + kinds["missing"]), frozenset(links))


def try_list(path: str, tree: Tree = LOCAL) -> Listing | None:
    """The listing, or None when the folder cannot be read (for look-ahead rules)."""
    try:
        return tree.list(path)
    except OSError:
        return None


def is_regular_file(path: str | os.PathLike) -> bool:
    """True for a regular file (following symlinks): the only kind a reader may open."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
