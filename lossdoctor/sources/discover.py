"""Find the runs under some paths: what both `diagnose` and `audit` read.

A folder in which a format of the table finds its log (`formats.FORMATS[*].find_in`) is one
run, and its whole subtree belongs to it (an HF output dir's checkpoints and `runs/` events,
a YOLO run's `weights/`, Lightning's `checkpoints/`). Other folders are walked: each of their
files that is a training log by its content is a run of its own, and an MLflow store is one
run per run it holds. Nothing is ever merged: two runs are two references.

Folders are listed once each (`listing.list_folder`; an object store's prefix is listed
once as a whole, `store.StoreTree`, and walked by the same rules); a file is opened only
when its name could be a log (64 KB head, fetched ahead in parallel from a store). Whatever is not a run is recorded with its reason in
`Discovery.skipped`, never fatal: hidden entries, files that are not logs, FIFOs and devices,
symlinks that loop or leave the roots, unreadable folders.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .folder import run_files
from .checkpoints import beside
from .formats import BY_NAME, FORMATS, identify
from .listing import LOCAL, Listing, Tree
from .mlflow_db import run_folders, run_id_of, run_ref, split_ref
from .remote import is_url
from .runnames import folder_name, run_name
from .text import HEAD_BYTES
from .splits import pair_splits, split_key

# A file is opened (its head sniffed) only when its name could be a log's.
_LOG_NAME = re.compile(r".*\.(csv|tsv|json|jsonl|txt|log|out|wandb|db|sqlite)|.*tfevents.*",
                       re.IGNORECASE | re.DOTALL)  # .out: SLURM job output (Megatron, NeMo)


@dataclass(frozen=True, order=True)
class RunRef:
    """One run to read: the path `read_run` takes (a folder, a file, `mlflow.db#<run id>`), the
    layout that found it, the name the user knows it by, and an error already known."""

    path: str
    layout: str
    name: str = ""
    error: str | None = None
    parts: tuple[str, ...] = ()  # a run written to several files (train.csv + val.csv): the files
    # A run in an object store: every file its reading opens (fetched to a local copy first).
    files: tuple[str, ...] = ()
    error_kind: str = "input"  # of `error`: `unavailable` when the store kept failing (retried on --resume)
    # A run in an object store: the checkpoints saved beside it, (step, URL), from the listing
    # (its reader's local copy holds the log only; a report still names the checkpoints).
    saved: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A path discovery left out: why (one of a few reasons, for counting), and the detail."""

    path: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


@dataclass
class Discovery:
    """The runs found (sorted by path) and every path left out, with the reason."""

    runs: list[RunRef] = field(default_factory=list)
    skipped_paths: list[Skipped] = field(default_factory=list)

    @property
    def skipped(self) -> Counter[str]:
        """How many paths were left out, by reason."""
        return Counter(s.reason for s in self.skipped_paths)

    def skip(self, path: str, reason: str, detail: str = "") -> None:
        self.skipped_paths.append(Skipped(path, reason, detail))


def discover(roots: Iterable[str | os.PathLike], follow_symlinks: bool = False) -> Discovery:
    """Walk the roots and return every run found, sorted by path, with what was skipped."""
    roots = [os.fspath(r) for r in roots]
    local = [os.path.normpath(r) for r in roots if not is_url(r)]
    found = Discovery()
    if local:
        _walk_into(found, _Walk(local, follow_symlinks))
    for url in filter(is_url, roots):  # one store root at a time: its listing is dropped after its walk
        from .store import open_store  # fsspec is imported for URLs only

        try:
            tree = open_store(url)
        except InputError as exc:  # no such bucket, no credentials, a store that kept failing
            found.runs.append(RunRef(url, "store", url, exc.problem, error_kind=exc.kind))
            continue
        _walk_into(found, _Walk([tree.root], follow_symlinks, tree))
    found.runs = sorted(set(found.runs))
    return found


def _walk_into(found: Discovery, walk: "_Walk") -> None:
    walk.run()
    walk.drop_store_twins()
    found.runs.extend(walk.found.runs)
    found.skipped_paths.extend(walk.found.skipped_paths)


def layout_of(listing: Listing) -> str | None:
    """The layout of a run folder (the best-ranked format that finds its log there), or None."""
    from .folder import run_logs

    logs = run_logs(listing)
    return logs[0][0].layout if logs else None


class _Walk:
    """Iterative walk (no recursion limit) with symlink and loop bookkeeping."""

    def __init__(self, roots: list[str], follow: bool, tree: Tree = LOCAL) -> None:
        self.tree = tree
        real = list(roots) if tree.remote else [os.path.realpath(r) for r in roots]
        # A root inside another root would be walked twice.
        self.roots = [r for r, rr in zip(roots, real) if not any(rr != o and _inside(rr, o) for o in real)]
        self.real_roots = real
        self.follow = follow
        self.visited: set[str] = set()
        self.found = Discovery()
        self.store_folders: dict[str, list[str]] = {}  # store run ref -> folders its params name
        self.loose: list[tuple[str, str, list[str]]] = []  # (folder, root, files) outside run folders

    def run(self) -> None:
        for root in self.roots:
            kind = self.tree.kind(root)
            if kind == "dir":
                self._walk(root)
            elif kind != "missing":
                self._file(root, root, forced=True)
            elif not self.tree.remote and split_ref(root) is not None:  # one run of a store: `mlflow.db#<run id>`
                self.found.runs.append(RunRef(root, "mlflow_db", root))
            else:
                self.found.runs.append(RunRef(root, "log_file", root, "no such file or directory"))
        self._loose_files()

    def _loose_files(self) -> None:
        """The files of folders that are no run folder, once every folder is listed: a store
        then fetches their heads ahead, many at a time, in the order they are sniffed."""
        self.tree.plan(p for _, _, files in self.loose for p in files if _LOG_NAME.fullmatch(os.path.basename(p)))
        for folder, root, files in self.loose:
            before = len(self.found.runs)
            for path in files:
                self._file(path, root)
            self._pair_splits(folder, root, before)

    def _walk(self, root: str) -> None:
        stack = [root]
        while stack:
            folder = stack.pop()
            if folder != root and _is_mlflow_artifacts(folder):
                self.found.skip(folder, "MLflow artifacts (copies of a run's files; the run is read from its store)")
                continue
            listing = self._scan(folder)
            if listing is None:
                continue
            layout = layout_of(listing)
            if layout is not None:
                self._run_folder(listing, root, layout)
                continue  # the subtree belongs to this run
            self.loose.append((folder, root, [listing.sub(n) for n in sorted(listing.files)]))
            stack.extend(listing.sub(n) for n in sorted(listing.dirs, reverse=True))

    def _pair_splits(self, folder: str, root: str, since: int) -> None:
        """Loose logs of one folder that differ only by a split word (train/val) are one run."""
        mine = [r for r in self.found.runs[since:] if r.layout == "log_file" and not r.error]
        groups = [g for g in pair_splits([r.path for r in mine]) if len(g) > 1]
        if not groups:
            return
        grouped = {p for g in groups for p in g}
        self.found.runs[since:] = [r for r in self.found.runs[since:] if r.path not in grouped]
        for files in groups:
            name = folder_name(folder, root, "split_logs") + "/" + split_key(files[0])
            self.found.runs.append(RunRef(folder, "split_logs", name, parts=tuple(files),
                                          files=tuple(files) if self.tree.remote else ()))

    def _run_folder(self, listing: Listing, root: str, layout: str) -> None:
        folder = listing.path
        name, deleted = run_name(folder, root, layout, self.tree.text)
        if deleted:
            self.found.skip(folder, "deleted MLflow run")
        else:
            files = tuple(run_files(listing)) if self.tree.remote else ()
            saved = tuple((c.step, c.path) for c in beside(folder, tree=self.tree) if c.path) if self.tree.remote else ()
            self.found.runs.append(RunRef(folder, layout, name, files=files, saved=saved))

    def _scan(self, folder: str) -> Listing | None:
        """List a folder without its hidden entries and the symlinks that must not be followed."""
        try:
            listing = self.tree.list(folder)
        except OSError as exc:
            self.found.skip(folder, "unreadable folder", (exc.strerror or str(exc)).lower())
            return None
        drop = set()
        for name in sorted(listing.files | listing.dirs | listing.others):
            path = listing.sub(name)
            if name.startswith("."):
                self.found.skip(path, "hidden file or folder")
                drop.add(name)
            elif name in listing.links and not self._follow(path, folder):
                drop.add(name)
            elif name in listing.others:
                self.found.skip(path, "not a regular file (FIFO, socket, device or broken entry)")
        return Listing(folder, listing.files - drop, listing.dirs - drop, frozenset(), listing.links, self.tree)

    def _follow(self, path: str, folder: str) -> bool:
        """Whether to follow a symlink; every refusal is recorded with its reason."""
        try:
            target = os.path.realpath(path)
        except OSError as exc:  # a link through /proc/<pid>/cwd: resolving it is refused
            self.found.skip(path, "unreadable folder", (exc.strerror or str(exc)).lower())
            return False
        reason = None
        if not os.path.exists(target):
            reason = "broken symlink"
        elif os.path.isdir(target) and (_inside(os.path.realpath(folder), target) or target in self.visited):
            reason = "symlink loop"
        elif any(_inside(target, r) for r in self.real_roots):
            reason = "symlink to a path inside the roots (read there)"
        elif not self.follow:
            reason = "symlink leading out of the roots"
        if reason:
            self.found.skip(path, reason)
            return False
        if os.path.isdir(target):
            self.visited.add(target)
        return True

    def _file(self, path: str, root: str, forced: bool = False) -> None:
        """A file: a run, several runs (an MLflow store), or a skip with its reason.

        A file the user named (`forced`) is always a run: if it cannot be read, the run's
        error says why. A file met in a walk is a run only when its content is a training log.
        """
        name = folder_name(path, root, "log_file")
        if not forced and not _LOG_NAME.fullmatch(os.path.basename(path)):
            self.found.skip(path, "not a log (file name)")
            return
        mine = (path,) if self.tree.remote else ()
        try:
            fmt, head = identify(path, self.tree.head(path, HEAD_BYTES))
        except InputError as exc:
            if exc.kind == "unavailable":  # the store kept failing: a row that says so, never a skip
                self.found.runs.append(RunRef(path, "log_file", name, exc.problem, error_kind=exc.kind))
            elif forced or _says_log(path) or _TABLE_NAME.fullmatch(os.path.basename(path)):
                self.found.runs.append(RunRef(path, "log_file", name, exc.problem, files=mine))
            else:
                self.found.skip(path, "not a log (content)", exc.problem)
            return
        if fmt is not None and fmt.runs_in is not None:
            self._store(path, fmt.name, forced or _says_log(path))
        elif forced or (fmt is not None and (not fmt.generic or head.names_metrics)):
            self.found.runs.append(RunRef(path, "log_file", name, files=mine))
        elif fmt is not None and head.well_formed:
            self.found.skip(path, "not a log (content)", "a table or JSON without metrics (data or config)")
        elif _says_log(path) or _TABLE_NAME.fullmatch(os.path.basename(path)):
            # Named as a log (or a table, JSON lines) that its content is not: a broken log,
            # whose reader says what is wrong with it.
            self.found.runs.append(RunRef(path, "log_file", name, files=mine))
        else:
            self.found.skip(path, "not a log (content)")

    def _store(self, path: str, fmt: str, strict: bool) -> None:
        """One run per run the store holds; an unreadable store named like one is still a row."""
        try:
            local = self.tree.local(path)  # a store's database is read from a local copy
            runs, deleted = BY_NAME[fmt].runs_in(Path(local))  # type: ignore[misc]
        except InputError as exc:
            if strict or exc.kind == "unavailable":
                self.found.runs.append(RunRef(path, BY_NAME[fmt].layout, path, exc.problem, error_kind=exc.kind))
            else:
                self.found.skip(path, "not a log (content)", exc.problem)
            return
        for _ in range(deleted):
            self.found.skip(path, "deleted MLflow run")
        runs = [(run_ref(path, run_id_of(ref, Path(local))), name) for ref, name in runs]  # as found, not the copy
        mine = (path,) if self.tree.remote else ()
        self.found.runs.extend(RunRef(ref, BY_NAME[fmt].layout, name, files=mine) for ref, name in runs)
        if fmt == "mlflow_db":
            folders = run_folders(Path(local))
            self.store_folders.update({ref: folders[run_id_of(ref, path)] for ref, _ in runs
                                       if run_id_of(ref, path) in folders})

    def drop_store_twins(self) -> None:
        """An MLflow run that names a run folder found here (Ultralytics' save_dir, HF's output_dir)
        is the same training logged twice: the folder's log is read, the store's copy is noted."""
        folders = [r for r in self.found.runs if r.layout not in ("mlflow_db", "log_file")]
        keep = []
        for ref in self.found.runs:
            named = self.store_folders.get(ref.path, ())
            # Only store runs name folders: the others skip the scan (it made discovery quadratic).
            twin = next((f for f in folders for n in named if _same_folder(n, f.path)), None) if named else None
            if twin is None:
                keep.append(ref)
            else:
                self.found.skip(ref.path, "the same training as a run folder (read there)", twin.path)
        self.found.runs = keep


# Names that say "training log" whatever the bytes: a garbage file of such a name is a run
# that cannot be read (a row with its error), not a file silently skipped.
_SAYS_LOG = re.compile(r"(training([-_](log|history))?|train[-_]log|history|metrics|results|scalars|log)"
                       r"\.(csv|tsv|log|json|jsonl|txt)|train\.log|trainer_state\.json|mlflow\.db|.*tfevents.*",
                       re.IGNORECASE | re.DOTALL)


# A table or JSON-lines file that cannot be read at all is a broken log (a data set's CSV is
# still a readable table, and is left out by its content instead).
_TABLE_NAME = re.compile(r".*\.(csv|tsv|jsonl)", re.IGNORECASE | re.DOTALL)


def _says_log(path: str) -> bool:
    return bool(_SAYS_LOG.fullmatch(os.path.basename(path)))


_RUN_UUID = re.compile(r"[0-9a-f]{32}")


def _is_mlflow_artifacts(folder: str) -> bool:
    """`mlruns/<experiment>/<run uuid>/artifacts/`: what a run saved, not a log of its own."""
    parent = os.path.basename(os.path.dirname(folder))
    return os.path.basename(folder) == "artifacts" and bool(_RUN_UUID.fullmatch(parent))


def _same_folder(named: str, found: str) -> bool:
    """A folder path as a trainer logged it (absolute on another machine, or relative) names
    `found` when their last components agree (up to three: runs/detect/train)."""
    a = [p for p in named.replace("\\", "/").split("/") if p not in ("", ".")]
    b = [p for p in os.path.abspath(found).split(os.sep) if p]
    k = min(3, len(a), len(b))
    return k > 0 and a[-k:] == b[-k:]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


__all__ = ["Discovery", "RunRef", "discover", "layout_of", "FORMATS"]
