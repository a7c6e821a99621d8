"""Runs named as their user knows them: the path below what was pointed at, Lightning's
`name/version_N`, MLflow's `experiment/run name` (from its meta.yaml files, not its uuids)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .text import open_regular

_VERSION = re.compile(r"version_\d+")
_META_LINE = re.compile(r"^(\w+):\s*(.*?)\s*$")


def folder_name(path: str, root: str, layout: str) -> str:
    """The run's path relative to the root pointed at (its own name when it is the root);
    a Lightning `version_N` keeps its logger's name in front of it."""
    rel = os.path.relpath(path, root)
    if rel == ".":
        rel = os.path.basename(os.path.abspath(path)) or path
    rel = rel.replace(os.sep, "/")
    if "/" not in rel and _VERSION.fullmatch(rel):
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        rel = f"{parent}/{rel}" if parent else rel
    return rel


def run_name(folder: str, root: str, layout: str, read: "Read | None" = None) -> tuple[str, bool]:
    """(name, deleted) of a run folder; MLflow runs are named by their meta.yaml files.
    `read(path, limit)`: a small text file or None (a store's tree reads its objects)."""
    if layout != "mlflow":
        return folder_name(folder, root, layout), False
    read = read or _read_local
    meta = read_meta(os.path.join(folder, "meta.yaml"), read)
    experiment = read_meta(os.path.join(os.path.dirname(folder), "meta.yaml"), read).get("name")
    tag = (read(os.path.join(folder, "tags", "mlflow.runName"), 1024) or "").strip()
    run = meta.get("run_name") or tag or os.path.basename(folder)
    name = f"{experiment}/{run}" if experiment else run
    return name, meta.get("lifecycle_stage") == "deleted"


Read = Callable[[str, int], "str | None"]
# The files run_name reads (a store's tree fetches them all at once).
NAME_FILES = ("meta.yaml", "mlflow.runName")


def read_meta(path: str, read: Read | None = None) -> dict[str, str]:
    """The top-level `key: value` lines of an MLflow meta.yaml (a few lines; no YAML parser
    needed for them, and a broken one only costs the name)."""
    text = (read or _read_local)(path, 64 * 1024)
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _META_LINE.match(line)
        if match and match.group(2):
            out[match.group(1)] = match.group(2).strip("'\"")
    return out


def _read_local(path: str, limit: int) -> str | None:
    try:
        with open_regular(path) as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None
