"""MLflow SQLite store (`mlflow.db`): one run per `run_uuid` of its `metrics` table.

MLflow's SQL store keeps every logged point as a row (key, value, timestamp, step,
is_nan, run_uuid). A NaN is stored as value 0 with `is_nan` = 1, and +/-Inf as
+/-1.7976931348623157e308 (the largest double), so both are turned back here: they are
the most important values in a log. One run is addressed as `<db path>#<run_uuid>`.
The database is opened read-only with the stdlib `sqlite3`.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from .columns import RunBuilder
from .text import open_regular

SEPARATOR = "#"
SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX = sys.float_info.max


def split_ref(path: str | Path) -> tuple[Path, str] | None:
    """`store.db#<run_uuid>` -> (store.db, run_uuid) when that file exists, else None."""
    text = str(path)
    db, sep, run_id = text.rpartition(SEPARATOR)
    if not sep or not run_id or Path(text).exists() or not Path(db).is_file():
        return None
    return Path(db), run_id


def run_ref(db: str | Path, run_id: str) -> str:
    """The path form that `read_run` accepts for one run of a store."""
    return f"{db}{SEPARATOR}{run_id}"


def _connect(db: Path) -> sqlite3.Connection:
    """Open read-only (never create or lock a store for writing); InputError when not SQLite."""
    try:
        with open_regular(db) as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise InputError(db, "not an SQLite database")
        return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except OSError as exc:
        raise InputError(db, (exc.strerror or str(exc)).lower()) from None


def list_runs(db: Path) -> tuple[list[str], int]:
    """(run uuids with metrics, how many deleted runs were left out), sorted by uuid."""
    con = _connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "metrics" not in tables:
            raise InputError(db, "SQLite file without an MLflow 'metrics' table")
        ids = [r[0] for r in con.execute("SELECT DISTINCT run_uuid FROM metrics ORDER BY run_uuid")]
        deleted: set[str] = set()
        if "runs" in tables:  # MLflow keeps deleted runs until `mlflow gc`; the UI hides them
            deleted = {r[0] for r in con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage = 'deleted'")}
        return [i for i in ids if i not in deleted], len(deleted & set(ids))
    except sqlite3.Error as exc:
        raise InputError(db, f"cannot read the MLflow store: {exc}") from None
    finally:
        con.close()


def named_runs(db: Path) -> tuple[list[tuple[str, str]], int]:
    """([(reference, name)], deleted count): each run as `read_ref` takes it, named as MLflow's UI
    shows it (`experiment/run name`, else the uuid)."""
    ids, deleted = list_runs(db)
    names = _run_names(db)
    return [(run_ref(db, i), names.get(i, i)) for i in ids], deleted


# Parameters in which trainers that also log to MLflow record where their run folder is
# (Ultralytics' save_dir, HF TrainingArguments' output_dir / logging_dir, Lightning's
# default_root_dir): an MLflow run naming a folder is the same training as that folder.
OUTPUT_DIR_PARAMS = ("save_dir", "output_dir", "logging_dir", "log_dir", "default_root_dir")


def run_folders(db: Path) -> dict[str, list[str]]:
    """run uuid -> the folder paths its parameters name (OUTPUT_DIR_PARAMS), as logged."""
    con = _connect(db)
    marks = ", ".join("?" * len(OUTPUT_DIR_PARAMS))
    try:
        rows = con.execute(f"SELECT run_uuid, value FROM params WHERE key IN ({marks})", OUTPUT_DIR_PARAMS)
        out: dict[str, list[str]] = {}
        for uuid, value in rows:
            if isinstance(uuid, str) and isinstance(value, str):
                out.setdefault(uuid, []).append(value)
        return out
    except sqlite3.Error:
        return {}
    finally:
        con.close()


def _run_names(db: Path) -> dict[str, str]:
    """run uuid -> 'experiment/run name' from the runs and experiments tables, when they have them."""
    con = _connect(db)
    try:
        return {uuid: f"{exp}/{name}" if exp else str(name) for uuid, name, exp in con.execute(
            "SELECT r.run_uuid, r.name, e.name FROM runs r LEFT JOIN experiments e "
            "ON r.experiment_id = e.experiment_id WHERE r.name IS NOT NULL")}
    except sqlite3.Error:
        return {}  # an older or partial schema: the uuid names the run
    finally:
        con.close()


def read_ref(ref: str | Path) -> Run:
    """Read `<db>#<run_uuid>`; InputError when it is not such a reference."""
    parts = split_ref(ref)
    if parts is None:
        raise InputError(ref, "not a run of an MLflow store (expected <mlflow.db>#<run id>)")
    return read_mlflow_db(*parts)


def read_mlflow_db(db: Path, run_id: str) -> Run:
    """Every metric of one run, ordered as MLflow orders a history: by (step, timestamp)."""
    con = _connect(db)
    try:
        rows = con.execute("SELECT key, step, value, is_nan FROM metrics WHERE run_uuid = ? "
                           "ORDER BY key, step, timestamp", (run_id,)).fetchall()
    except sqlite3.Error as exc:
        raise InputError(db, f"cannot read the MLflow store: {exc}") from None
    finally:
        con.close()
    ref = run_ref(db, run_id)
    if not rows:
        raise InputError(ref, "no metric values for this run in the MLflow store")
    builder = RunBuilder(ref, "mlflow")
    by_key: dict[str, list[tuple[int, float, int]]] = {}
    for key, step, value, is_nan in rows:
        by_key.setdefault(key, []).append((step, value, is_nan))
    for key, points in by_key.items():
        steps = np.array([p[0] for p in points], dtype=float)
        builder.add(key, steps, _values(points), "step")
    return builder.finish()


def _values(points: list[tuple[int, float, int]]) -> np.ndarray:
    """Stored values with NaN (is_nan) and the Inf stand-ins restored."""
    values = np.array([float("nan") if is_nan else float(v) for _, v, is_nan in points])
    values[values >= _MAX] = np.inf
    values[values <= -_MAX] = -np.inf
    return values
