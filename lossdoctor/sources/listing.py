"""One folder's entries, listed once: what discovery and the choice of a run's log look at.

A folder is listed with one `os.scandir` (an audit lists thousands), and plain files are
told from folders without a stat per file where the OS says so. Only regular files can
be logs: a FIFO or a device named like one would block the reader forever, so it is kept
apart (`others`) to be skipped and counted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Listing:
    """A folder's entry names by kind (symlinks resolved): regular files, folders, others."""

    path: str
    files: frozenset[str]
    dirs: frozenset[str]
    others: frozenset[str] = field(default=frozenset())
    links: frozenset[str] = field(default=frozenset())  # entries that are symlinks (either kind)

    def sub(self, name: str) -> str:
        """The path of an entry."""
        return os.path.join(self.path, name)


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


def try_list(path: str) -> Listing | None:
    """The listing, or None when the folder cannot be read (for look-ahead rules)."""
    try:
        return list_folder(path)
    except OSError:
        return None


def is_regular_file(path: str | os.PathLike) -> bool:
    """True for a regular file (following symlinks): the only kind a reader may open."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
